//! # secmon-diff: live state, comparison, plan
//!
//! Reads live AWS state into the same model as the spec ([`LiveState`], one adapter module per
//! resource kind under [`live`]), compares it with the desired resources ([`desired::resources`])
//! and produces a [`Plan`]: data (`format_version`, `steps`), each [`Step`] with `address`,
//! [`Action`], `before`, `after`, `depends_on` and a human `reason`, in a deterministic order.
//!
//! Comparison is semantic so that nothing diffs forever: policies are normalised
//! ([`policy::normalize`]), filter pattern whitespace is collapsed, ARN forms and AWS's omitted
//! defaults are mapped to one form when read.
//!
//! What this crate does not do: change anything in AWS (that is `secmon-apply`), render plans
//! (that is the CLI), or read a secret's value (reading it would fire the very alarm secmon
//! deploys: `GetSecretValue` is never called).

pub mod compare;
pub mod desired;
pub mod live;
pub mod plan;
pub mod policy;

pub use compare::{plan, LiveResource, LiveState, PlanOptions};
pub use desired::Target;
pub use plan::{Action, Kind, Plan, Resource, Step, FORMAT_VERSION};
pub use secmon_spec::DesiredState;

/// Errors of planning, each naming the resource and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(
        "{} not owned by spec `{spec}` (no `secmon:spec={spec}` tag): {}\n  hint: secmon never changes resources it does not own; rename them in the spec, or take them over with `secmon import -f SPEC ADDRESS...`",
        if .addresses.len() == 1 { "a resource the spec describes already exists, and it is" } else { "resources the spec describes already exist, and they are" },
        .addresses.join(", ")
    )]
    NotOwned { spec: String, addresses: Vec<String> },
    #[error("reading {address}: {source}")]
    Read {
        address: String,
        #[source]
        source: secmon_aws::AwsError,
    },
    #[error(transparent)]
    Aws(#[from] secmon_aws::AwsError),
}
