//! The seam between secmon and AWS: read the live state, execute one change, take over a
//! resource. [`SdkCloud`] is the AWS SDK behind it (dispatching to the kinds' modules);
//! [`FakeCloud`](crate::FakeCloud) an in-memory account, so apply ordering, failure handling,
//! retries and verify checks are unit-tested without a network.

use std::path::PathBuf;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{Aws, Fut, KindError, LiveState, Resource, Target};

/// What a change does to one resource. A replacement is a delete then a create, two changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// One change to execute: the resource as it is (`before`) and as it must become (`after`).
#[derive(Debug, Clone)]
pub struct Change {
    pub address: String,
    pub op: Op,
    pub before: Option<Resource>,
    pub after: Option<Resource>,
}

impl Change {
    /// The resource as it must become (create and update carry it).
    pub fn after(&self) -> &Resource {
        self.after.as_ref().expect("create and update changes carry the desired resource")
    }
    /// The resource as it is (update and delete carry it).
    pub fn before(&self) -> &Resource {
        self.before.as_ref().expect("delete changes carry the live resource")
    }
    /// The typed attributes before and after (defaults where a side is absent).
    pub fn attrs<A: serde::de::DeserializeOwned + Default>(&self) -> (A, A) {
        (
            self.before.as_ref().map(Resource::attrs).unwrap_or_default(),
            self.after.as_ref().map(Resource::attrs).unwrap_or_default(),
        )
    }
}

/// What every change needs to know besides the resource.
#[derive(Debug, Clone, Default)]
pub struct ExecCtx {
    pub spec: String,
    pub account_id: String,
    pub region: String,
    /// Directory of the spec file: `from_file` secret values are relative to it.
    pub spec_dir: PathBuf,
    /// Recovery window for deleted secrets, in days (7-30).
    pub recovery_window_days: i64,
}

impl ExecCtx {
    pub fn target(&self) -> Target {
        Target {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
        }
    }
}

/// Reading live state and executing changes: everything secmon asks of AWS while planning and
/// applying.
pub trait Cloud: Send + Sync {
    fn region(&self) -> &str;

    /// The account the credentials act in.
    fn account_id(&self) -> BoxFuture<'_, Result<String, KindError>>;

    /// Everything in AWS that `desired` maps to, plus every other resource owned by `spec`,
    /// in one concurrent round.
    fn read<'a>(&'a self, spec: &'a str, target: &'a Target, desired: &'a [Resource]) -> BoxFuture<'a, Result<LiveState, KindError>>;

    /// Executes one change.
    fn execute<'a>(&'a self, ctx: &'a ExecCtx, change: &'a Change) -> BoxFuture<'a, Result<(), KindError>>;

    /// Tags `live` as owned by `spec` (secmon import).
    fn adopt<'a>(&'a self, spec: &'a str, live: &'a Resource, desired: &'a Resource) -> BoxFuture<'a, Result<(), KindError>>;
}

/// The AWS SDK behind the seam.
#[derive(Clone, Debug)]
pub struct SdkCloud {
    pub aws: Aws,
}

impl SdkCloud {
    pub fn new(aws: Aws) -> SdkCloud {
        SdkCloud { aws }
    }
}

impl Cloud for SdkCloud {
    fn region(&self) -> &str {
        &self.aws.region
    }

    fn account_id(&self) -> BoxFuture<'_, Result<String, KindError>> {
        Box::pin(async move { Ok(self.aws.account_id().await?) })
    }

    fn read<'a>(&'a self, spec: &'a str, target: &'a Target, desired: &'a [Resource]) -> BoxFuture<'a, Result<LiveState, KindError>> {
        Box::pin(crate::read::read(&self.aws, spec, target, desired))
    }

    fn execute<'a>(&'a self, ctx: &'a ExecCtx, change: &'a Change) -> Fut<'a, ()> {
        let kind = change
            .after
            .as_ref()
            .or(change.before.as_ref())
            .expect("a change has a resource")
            .kind;
        kind.def().execute(&self.aws, ctx, change)
    }

    fn adopt<'a>(&'a self, spec: &'a str, live: &'a Resource, desired: &'a Resource) -> Fut<'a, ()> {
        let mut r = desired.clone();
        if live.arn.is_some() {
            r.arn = live.arn.clone();
        }
        Box::pin(async move { live.kind.def().adopt(&self.aws, spec, &r).await })
    }
}
