//! What a kind contributes to `secmon verify`: checks of one link of the pipeline, as pure
//! functions over the live state ([`ResourceKind::verify`](crate::ResourceKind::verify)).
//!
//! Everything a check needs is gathered before it runs ([`VerifyCtx`]): the live state of the
//! same read round `plan` uses, what that round observed besides compared attributes (delivery
//! status, alarm state; [`LiveResource::observed`]), and the verdicts of the filter engine on
//! canonical events ([`FilterEvidence`]). So each check is unit-tested from an in-memory state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{LiveResource, LiveState, Resource, Target};
use secmon_spec::DesiredState;

/// How a check came out, from best to worst (the order is the severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Observed to work.
    Ok,
    /// Cannot be observed on this endpoint (a local emulator).
    NotObservable,
    /// Works, but not as the spec says or not as well as it should.
    Warning,
    /// Waits for a person: an e-mail subscription the recipient has not confirmed yet, as right
    /// after a first apply. Not a failure for a deploy; SNS deletes an unconfirmed subscription
    /// after 48 hours, and the link then fails.
    Pending,
    /// Broken: events do not get through.
    Failed,
}

impl Status {
    /// The word the report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotObservable => "not observable",
            Status::Warning => "warning",
            Status::Pending => "pending",
            Status::Failed => "FAILED",
        }
    }
}

/// One link of the pipeline, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id, e.g. `trail.logging`, `alarm.can_fire`.
    pub id: String,
    /// The resource checked, e.g. `trail secrets-manager-trail`.
    pub subject: String,
    /// How it came out.
    pub status: Status,
    /// What was observed, in words.
    pub evidence: String,
    /// What to do, for a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Builders: `Check::failed(id, subject, evidence).fix("what to do")` reads as the finding it
/// states (issue 23, item 5).
impl Check {
    /// A check of `status` (computed by the caller); prefer the named builders.
    pub fn new(status: Status, id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check { id: id.into(), subject: subject.into(), status, evidence: evidence.into(), fix: None }
    }
    /// Observed to work.
    pub fn ok(id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check::new(Status::Ok, id, subject, evidence)
    }
    /// Works, but not as the spec says or as well as it should.
    pub fn warning(id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check::new(Status::Warning, id, subject, evidence)
    }
    /// Waits for a person (a confirmation).
    pub fn pending(id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check::new(Status::Pending, id, subject, evidence)
    }
    /// Broken.
    pub fn failed(id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check::new(Status::Failed, id, subject, evidence)
    }
    /// Cannot be observed on this endpoint.
    pub fn not_observable(id: &str, subject: impl Into<String>, evidence: impl Into<String>) -> Check {
        Check::new(Status::NotObservable, id, subject, evidence)
    }
    /// Ok with `evidence` when `holds`, else `otherwise` (a failure or a warning, with its fix):
    /// the shape of most checks that compare what is with what the spec says.
    pub fn holds(holds: bool, id: &str, subject: &str, evidence: impl Into<String>, otherwise: impl FnOnce(&str, &str) -> Check) -> Check {
        if holds {
            Check::ok(id, subject, evidence)
        } else {
            otherwise(id, subject)
        }
    }
    /// What to do about it.
    pub fn fix(self, fix: impl Into<String>) -> Check {
        Check { fix: Some(fix.into()), ..self }
    }
    /// What to do about it, when there is something.
    pub fn fix_opt(self, fix: Option<&str>) -> Check {
        Check { fix: fix.map(str::to_string), ..self }
    }
}

/// The evidence of a link a local emulator cannot show.
pub const NOT_OBSERVABLE: &str =
    "not observable on this endpoint: the local emulator delivers no log files, records no CloudTrail events and emits no metrics";

/// Older than this, a delivery or an event is stale (CloudTrail delivers every few minutes).
pub const STALE_SECS: i64 = 3600;

/// What the filter engine said about canonical events, computed before the checks run (by AWS
/// `TestMetricFilter` where the endpoint has it, else by the offline engine; `engine` says which).
#[derive(Debug, Clone, Default)]
pub struct FilterEvidence {
    /// Which engine answered, in words.
    pub engine: String,
    /// Per metric filter name: the kind of event its pattern names, and whether an example of
    /// that kind matches (or why it could not be tested). Absent: the pattern names no event.
    pub example: BTreeMap<String, (String, Result<bool, String>)>,
    /// Per watched resource (by address): each way a read may name it, with the filters a
    /// canonical read naming it so matches ([`ResourceKind::read_ids`](crate::ResourceKind::read_ids)).
    pub reads: BTreeMap<crate::Address, Vec<ReadForm>>,
    /// Where the filters are when they are not in this target ([`secmon_spec::WatchedFrom`]):
    /// the home target's, judged over the spec's patterns.
    pub watched_from: Option<String>,
}

/// One way a read may name a watched resource (by name, by ARN...), and what the filters said
/// of a canonical read naming it so.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadForm {
    /// How the read names it: "name", "ARN", "partial ARN".
    pub how: String,
    /// The filters that match the read.
    pub caught_by: Vec<String>,
    /// Filters that could not be tested, with why.
    pub errors: Vec<String>,
}

/// Everything the checks read.
pub struct VerifyCtx<'a> {
    /// The spec, resolved for the target.
    pub spec: &'a DesiredState,
    /// The account and region verified.
    pub target: &'a Target,
    /// What was read, with what verify observed.
    pub live: &'a LiveState,
    /// The endpoint is a local emulator: it delivers no logs and emits no metrics, so those
    /// stages are "not observable", never passed or failed.
    pub local_endpoint: bool,
    /// Seconds since the epoch when the state was read.
    pub now: i64,
    /// What the filter engine said about canonical events.
    pub filters: &'a FilterEvidence,
    /// Policies of resources the spec uses but does not own (a key brought by ARN), by ARN;
    /// None when they may not be read.
    pub unowned_policies: &'a BTreeMap<String, Option<serde_json::Value>>,
}

impl VerifyCtx<'_> {
    /// The live resource at the desired resource's address.
    pub fn live_of(&self, desired: &Resource) -> Option<&LiveResource> {
        self.live.resources.get(&desired.address())
    }

    /// The check every kind starts with, failed: the resource does not exist.
    pub fn missing(&self, id: &str, subject: &str, what: &str) -> Vec<Check> {
        vec![Check::failed(id, subject, what).fix("run `secmon apply` (it creates what is missing)")]
    }

    /// How fresh the latest delivery (or event) `what` is: failed with an error, not observable
    /// on an emulator, ok within [`STALE_SECS`], else a warning; `never` (status, evidence, fix)
    /// when there was none yet.
    pub fn freshness(
        &self,
        id: &str,
        subject: &str,
        what: &str,
        error: Option<&str>,
        time: Option<i64>,
        never: (Status, &str, &str),
    ) -> Check {
        if let Some(e) = error.filter(|e| !e.is_empty()) {
            return Check::failed(id, subject, format!("latest {what} failed: {e}"))
                .fix("check the bucket policy / role (`secmon plan` shows drift)");
        }
        if self.local_endpoint {
            return Check::not_observable(id, subject, NOT_OBSERVABLE);
        }
        match time {
            Some(t) if self.now - t <= STALE_SECS => Check::ok(id, subject, format!("latest {what} {} s ago", self.now - t)),
            Some(t) => Check::warning(id, subject, format!("latest {what} was {} minutes ago", (self.now - t) / 60))
                .fix("CloudTrail delivers every few minutes while the account is active"),
            None => Check::new(never.0, id, subject, never.1).fix(never.2),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small world for the kinds' check tests: a resolved spec, its target, a live state.

    use super::*;
    use crate::{desired_resources, Kind};

    pub const ACCOUNT: &str = "123456789012";
    pub const REGION: &str = "us-east-1";

    pub fn target() -> Target {
        Target { account_id: ACCOUNT.into(), region: REGION.into() }
    }

    /// The seed spec, resolved for the test account.
    pub fn seed() -> DesiredState {
        let spec = secmon_spec::Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").expect("seed spec parses");
        spec.state.resolve(ACCOUNT, REGION).expect("resolves")
    }

    /// A live state in which every desired resource exists exactly as desired, owned.
    pub fn converged(spec: &DesiredState) -> LiveState {
        let mut live = LiveState { account_id: ACCOUNT.into(), region: REGION.into(), ..Default::default() };
        for r in desired_resources(spec, &target()) {
            live.insert(LiveResource::new(r, true));
        }
        live
    }

    /// The seed spec, and a live state in which it is converged.
    pub fn world() -> (DesiredState, LiveState) {
        let spec = seed();
        let live = converged(&spec);
        (spec, live)
    }

    /// The first live resource of `kind`.
    pub fn first(live: &mut LiveState, kind: Kind) -> &mut LiveResource {
        live.resources.values_mut().find(|l| l.resource.kind == kind).expect("a live resource of the kind")
    }

    /// Gives the first live resource of `kind` other attributes.
    pub fn set_attrs<A: serde::Serialize>(live: &mut LiveState, kind: Kind, attrs: &A) {
        let l = first(live, kind);
        l.resource = Resource::new(kind, &l.resource.name, l.resource.arn.clone(), attrs);
    }

    pub fn desired(spec: &DesiredState, kind: Kind) -> Vec<Resource> {
        desired_resources(spec, &target()).into_iter().filter(|r| r.kind == kind).collect()
    }

    pub fn run(spec: &DesiredState, live: &LiveState, filters: &FilterEvidence, kind: Kind) -> Vec<Check> {
        let t = target();
        let ctx =
            VerifyCtx { spec, target: &t, live, local_endpoint: false, now: 1_000_000, filters, unowned_policies: &Default::default() };
        desired(spec, kind).iter().flat_map(|d| kind.def().verify(&ctx, d)).collect()
    }

    /// The status of check `id` of the kind's checks over `live`, without filter evidence.
    pub fn verdict(spec: &DesiredState, live: &LiveState, kind: Kind, id: &str) -> Status {
        status(&run(spec, live, &FilterEvidence::default(), kind), id)
    }

    /// The status of the first check with `id`.
    pub fn status(checks: &[Check], id: &str) -> Status {
        checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no check {id} in {checks:#?}")).status
    }
}
