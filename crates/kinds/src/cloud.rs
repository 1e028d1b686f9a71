//! The seam between secmon and AWS: read the live state, execute one change, take over a
//! resource. [`SdkCloud`] is the AWS SDK behind it (dispatching to the kinds' modules);
//! [`FakeCloud`](crate::FakeCloud) an in-memory account, so apply ordering, failure handling,
//! retries and verify checks are unit-tested without a network.

use std::path::PathBuf;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::{Aws, Fut, Kind, KindError, LiveResource, LiveState, Resource, Target};
use secmon_spec::DesiredState;

/// Policies of resources the spec uses without owning them, by ARN; None for one the caller
/// may not read ([`Cloud::brought_policies`]).
pub type BroughtPolicies = std::collections::BTreeMap<String, Option<serde_json::Value>>;

/// What a change does to one resource. A replacement is a delete then a create, two changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Create the resource.
    Create,
    /// Change it in place.
    Update,
    /// Delete it.
    Delete,
}

/// One change to execute: the resource as it is (`before`) and as it must become (`after`).
#[derive(Debug, Clone)]
pub struct Change {
    /// The resource's address.
    pub address: crate::Address,
    /// What to do.
    pub op: Op,
    /// The resource as it is (update, delete).
    pub before: Option<Resource>,
    /// The resource as it must become (create, update).
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
        (self.before.as_ref().map(Resource::attrs).unwrap_or_default(), self.after.as_ref().map(Resource::attrs).unwrap_or_default())
    }
}

/// What every change needs to know besides the resource.
#[derive(Debug, Clone, Default)]
pub struct ExecCtx {
    /// The spec's name (the ownership tag's value).
    pub spec: String,
    /// The account acted in.
    pub account_id: String,
    /// The region acted in.
    pub region: String,
    /// Directory of the spec file: `from_file` secret values are relative to it.
    pub spec_dir: PathBuf,
    /// Recovery window for deleted secrets, in days (7-30).
    pub recovery_window_days: i64,
}

impl ExecCtx {
    /// The account and region as a [`Target`].
    pub fn target(&self) -> Target {
        Target { account_id: self.account_id.clone(), region: self.region.clone() }
    }
}

/// A spec read against live AWS: the account and region, the spec resolved for them, its
/// resources, and what AWS holds of them.
#[derive(Debug, Clone)]
pub struct SpecRead {
    /// The account and region read.
    pub target: Target,
    /// The spec resolved for them.
    pub state: secmon_spec::DesiredState,
    /// Every resource the spec implies there.
    pub desired: Vec<Resource>,
    /// What AWS holds of them, ownership resolved.
    pub live: LiveState,
}

/// Which events [`Cloud::filter_events`] asks for: those of `log_group` that `pattern` matches,
/// from `window_ms.0` to `window_ms.1` (epoch milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct EventQuery<'a> {
    /// The log group scanned.
    pub log_group: &'a str,
    /// The filter pattern AWS's own engine applies.
    pub pattern: &'a str,
    /// From and to, in epoch milliseconds.
    pub window_ms: (i64, i64),
}

/// `trail.external.prefix` (issue 25, item 4): `state` with the one log group whose name starts
/// with the prefix; an error naming what was found when there is none or several, before
/// anything is read or changed.
pub async fn resolve_external(cloud: &dyn Cloud, state: &mut DesiredState) -> Result<(), KindError> {
    let Some(e) = state.external_trail.as_mut().filter(|e| e.log_group.is_none()) else { return Ok(()) };
    let prefix = e.prefix.clone().unwrap_or_default();
    e.log_group = Some(one_log_group(&prefix, cloud.log_groups_starting(&prefix).await?, cloud.region())?);
    Ok(())
}

/// The one name of `found`, or why not.
pub(crate) fn one_log_group(prefix: &str, found: Vec<String>, region: &str) -> Result<String, KindError> {
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(KindError::Input(format!(
            "trail.external.prefix: no log group in {region} starts with {prefix:?}; is the spec's region the one of the trail's log group?"
        ))),
        many => Err(KindError::Input(format!(
            "trail.external.prefix: {} log groups in {region} start with {prefix:?} ({}); name the one with `log_group`",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// What receives each event [`Cloud::filter_events`] returns: (timestamp in ms, message).
pub type EachEvent<'a> = &'a mut (dyn FnMut(i64, String) + Send);

/// Reading live state and executing changes: everything secmon asks of AWS while planning and
/// applying.
pub trait Cloud: crate::LockStore + crate::Exercise + Send + Sync {
    /// The region acted in.
    fn region(&self) -> &str;

    /// The account the credentials act in.
    fn account_id(&self) -> BoxFuture<'_, Result<String, KindError>>;

    /// Everything in AWS that `desired` maps to, plus every other resource owned by `spec`,
    /// in one concurrent round.
    fn read<'a>(&'a self, spec: &'a str, target: &'a Target, desired: &'a [Resource]) -> BoxFuture<'a, Result<LiveState, KindError>>;

    /// Learns the account, resolves `unresolved` for it and reads its live state. By default
    /// in sequence; the SDK adapter overlaps the account lookup with the reads that do not need it.
    fn read_spec<'a>(&'a self, unresolved: &'a secmon_spec::DesiredState) -> BoxFuture<'a, Result<SpecRead, KindError>> {
        Box::pin(async move {
            let account_id = self.account_id().await?;
            let target = Target { account_id, region: self.region().to_string() };
            let state = unresolved.resolve(&target.account_id, &target.region).map_err(|e| KindError::Input(e.to_string()))?;
            let desired = crate::desired_resources(&state, &target);
            let live = self.read(&state.name, &target, &desired).await?;
            Ok(SpecRead { target, state, desired, live })
        })
    }

    /// The live resource `desired` names, if it exists, with its ownership: the read-back of a
    /// create whose reply was lost.
    fn read_one<'a>(
        &'a self,
        spec: &'a str,
        target: &'a Target,
        desired: &'a Resource,
    ) -> BoxFuture<'a, Result<Option<LiveResource>, KindError>> {
        Box::pin(async move {
            let live = self.read(spec, target, std::slice::from_ref(desired)).await?;
            Ok(live.resources.get(&desired.address()).cloned())
        })
    }

    /// Fills in, for verify, what each live resource's kind observes beyond the read round
    /// ([`ResourceKind::observe`](crate::ResourceKind::observe)), concurrently.
    fn observe<'a>(&'a self, live: &'a mut LiveState) -> BoxFuture<'a, Result<(), KindError>>;

    /// Whether `pattern` matches each of `messages` by AWS's own engine (`TestMetricFilter`);
    /// None where the endpoint does not have it (a local emulator).
    fn test_filter<'a>(&'a self, pattern: &'a str, messages: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<bool>>, KindError>>;

    /// A local emulator: it delivers no logs, records no events and emits no metrics.
    fn local_endpoint(&self) -> bool;

    /// The policies of what the spec uses without owning it (a key brought by ARN), by ARN, for
    /// verify to judge; None for one the caller may not read.
    fn brought_policies<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Result<BroughtPolicies, KindError>>;

    /// The events of `log_group` from `start_ms` to `end_ms` (epoch milliseconds) that AWS's own
    /// engine matches with `pattern` (`FilterLogEvents`, every page), each handed to `each` as
    /// (timestamp in ms, message); returns how many. The scan runs where the logs are. A local
    /// emulator applies term patterns only: for a JSON pattern it returns every event.
    fn filter_events<'a>(&'a self, query: EventQuery<'a>, each: EachEvent<'a>) -> BoxFuture<'a, Result<u64, KindError>>;

    /// The bytes `log_group` stores (what a backtest's scan covers at most), if it exists.
    fn stored_bytes<'a>(&'a self, log_group: &'a str) -> BoxFuture<'a, Result<Option<i64>, KindError>>;

    /// The names of the log groups whose names start with `prefix`, every page
    /// (`trail.external.prefix`, [`resolve_external`]).
    fn log_groups_starting<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KindError>>;

    /// Deletes several live resources of one kind in one call where the kind has such a call.
    fn delete_many<'a>(&'a self, ctx: &'a ExecCtx, resources: &'a [Resource]) -> BoxFuture<'a, Result<(), KindError>>;

    /// The kind's cost estimate for one change ([`crate::ResourceKind::estimate`]); none where
    /// there is no account to ask (the in-memory fake).
    fn estimate<'a>(&'a self, _before: Option<&'a Resource>, _after: &'a Resource) -> BoxFuture<'a, Result<Option<String>, KindError>> {
        Box::pin(async { Ok(None) })
    }

    /// Executes one change.
    fn execute<'a>(&'a self, ctx: &'a ExecCtx, change: &'a Change) -> BoxFuture<'a, Result<(), KindError>>;

    /// Tags `live` as owned by `spec` (secmon import).
    fn adopt<'a>(&'a self, spec: &'a str, live: &'a Resource, desired: &'a Resource) -> BoxFuture<'a, Result<(), KindError>>;

    /// The calls made through this connection so far, for `--stats`; none where nothing is
    /// counted.
    fn call_counts(&self) -> CallCounts {
        CallCounts::default()
    }
}

/// The calls one connection made: the pipeline's, and the apply lock's apart.
#[derive(Debug, Clone, Default)]
pub struct CallCounts {
    /// The pipeline's calls, per operation.
    pub calls: Vec<secmon_aws::CallCount>,
    /// How many in all.
    pub total: u64,
    /// How many could change AWS.
    pub mutating: u64,
    /// The apply lock's calls, per operation.
    pub lock: Vec<secmon_aws::CallCount>,
    /// How many in all.
    pub lock_total: u64,
    /// How many could change AWS.
    pub lock_mutating: u64,
}

/// Tags a taggable resource with the digest of what was just written (`secmon:applied`), so
/// that a later plan can tell drift from an edit of the spec, and with the ownership tag again
/// (a bucket taken back from a killed apply has none yet, issue 22). Best effort: without the
/// digest the plan only says "changed outside the spec or in it", so a failure here fails nothing.
async fn remember_applied(aws: &Aws, spec: &str, r: &Resource) {
    if matches!(r.kind.facts().ownership, crate::Ownership::Container(_)) {
        return;
    }
    let tags = vec![(crate::OWNER_TAG.to_string(), spec.to_string()), (crate::APPLIED_TAG.to_string(), r.digest())];
    if let Err(e) = r.kind.def().tag(aws, r, tags).await {
        tracing::debug!("{}: the secmon:applied tag was not written: {e}", r.address());
    }
}

/// The AWS SDK behind the seam.
#[derive(Clone, Debug)]
pub struct SdkCloud {
    /// The SDK clients.
    pub aws: Aws,
}

impl SdkCloud {
    /// The seam over `aws`.
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

    fn read_spec<'a>(&'a self, unresolved: &'a secmon_spec::DesiredState) -> BoxFuture<'a, Result<SpecRead, KindError>> {
        Box::pin(crate::read::read_spec(&self.aws, unresolved))
    }

    fn read_one<'a>(
        &'a self,
        spec: &'a str,
        _target: &'a Target,
        desired: &'a Resource,
    ) -> BoxFuture<'a, Result<Option<LiveResource>, KindError>> {
        Box::pin(crate::read::read_one(&self.aws, spec, desired))
    }

    fn observe<'a>(&'a self, live: &'a mut LiveState) -> BoxFuture<'a, Result<(), KindError>> {
        Box::pin(async move {
            let aws = &self.aws;
            let seen = futures::future::join_all(
                live.resources.iter().map(|(address, l)| async move { (address.clone(), l.resource.kind.def().observe(aws, l).await) }),
            )
            .await;
            for (address, observed) in seen {
                if let (Some(serde_json::Value::Object(m)), Some(l)) = (observed?, live.resources.get_mut(&address)) {
                    l.observed.extend(m);
                }
            }
            Ok(())
        })
    }

    fn test_filter<'a>(&'a self, pattern: &'a str, messages: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<bool>>, KindError>> {
        Box::pin(async move {
            if self.local_endpoint() {
                // Emulators do not implement TestMetricFilter (moto answers an error).
                return Ok(None);
            }
            let out = self
                .aws
                .logs
                .test_metric_filter()
                .filter_pattern(pattern)
                .set_log_event_messages(Some(messages.to_vec()))
                .send()
                .await
                .map_err(crate::sdk::fail("TestMetricFilter"))?;
            // Matches name the 1-based event numbers that matched.
            let matched: Vec<i64> = out.matches().iter().map(|m| m.event_number()).collect();
            Ok(Some((1..=messages.len() as i64).map(|n| matched.contains(&n)).collect()))
        })
    }

    fn local_endpoint(&self) -> bool {
        self.aws.endpoint_override.is_some()
    }

    fn brought_policies<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Result<BroughtPolicies, KindError>> {
        Box::pin(async move {
            let read = futures::future::try_join_all(Kind::ALL.iter().map(|k| k.def().read_brought_policies(&self.aws, state))).await?;
            Ok(read.into_iter().flatten().collect())
        })
    }

    fn filter_events<'a>(&'a self, query: EventQuery<'a>, each: EachEvent<'a>) -> BoxFuture<'a, Result<u64, KindError>> {
        let EventQuery { log_group, pattern, window_ms: (start_ms, end_ms) } = query;
        Box::pin(async move {
            let request =
                self.aws.logs.filter_log_events().log_group_name(log_group).filter_pattern(pattern).start_time(start_ms).end_time(end_ms);
            let mut pages = request.into_paginator().send();
            let mut n = 0;
            while let Some(page) = pages.next().await {
                let page = page.map_err(crate::sdk::fail("FilterLogEvents"))?;
                for e in page.events() {
                    each(e.timestamp().unwrap_or_default(), e.message().unwrap_or_default().to_string());
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    fn log_groups_starting<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KindError>> {
        Box::pin(crate::read::log_groups_starting(&self.aws, prefix))
    }

    fn stored_bytes<'a>(&'a self, log_group: &'a str) -> BoxFuture<'a, Result<Option<i64>, KindError>> {
        Box::pin(async move {
            let request = self.aws.logs.describe_log_groups().log_group_name_prefix(log_group);
            let out = request.send().await.map_err(crate::sdk::fail("DescribeLogGroups"))?;
            Ok(out.log_groups().iter().find(|g| g.log_group_name() == Some(log_group)).map(|g| g.stored_bytes().unwrap_or(0)))
        })
    }

    fn estimate<'a>(&'a self, before: Option<&'a Resource>, after: &'a Resource) -> BoxFuture<'a, Result<Option<String>, KindError>> {
        after.kind.def().estimate(&self.aws, before, after)
    }

    fn delete_many<'a>(&'a self, ctx: &'a ExecCtx, resources: &'a [Resource]) -> Fut<'a, ()> {
        match resources.first() {
            Some(r) => r.kind.def().delete_many(&self.aws, ctx, resources),
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn execute<'a>(&'a self, ctx: &'a ExecCtx, change: &'a Change) -> Fut<'a, ()> {
        let aws = &self.aws;
        match change.op {
            Op::Create => Box::pin(async move {
                change.after().kind.def().create(aws, ctx, change.after()).await?;
                remember_applied(aws, &ctx.spec, change.after()).await;
                Ok(())
            }),
            Op::Update => Box::pin(async move {
                change.after().kind.def().update(aws, ctx, change.before(), change.after()).await?;
                remember_applied(aws, &ctx.spec, change.after()).await;
                Ok(())
            }),
            Op::Delete => change.before().kind.def().delete(aws, ctx, change.before()),
        }
    }

    fn call_counts(&self) -> CallCounts {
        let (stats, lock) = (&self.aws.stats, &self.aws.lock_stats);
        CallCounts {
            calls: stats.snapshot(),
            total: stats.total(),
            mutating: stats.mutating(),
            lock: lock.snapshot(),
            lock_total: lock.total(),
            lock_mutating: lock.mutating(),
        }
    }

    fn adopt<'a>(&'a self, spec: &'a str, live: &'a Resource, desired: &'a Resource) -> Fut<'a, ()> {
        let mut r = desired.clone();
        if live.arn.is_some() {
            r.arn = live.arn.clone();
        }
        Box::pin(async move { live.kind.def().adopt(&self.aws, spec, &r).await })
    }
}
