//! # secmon-apply: executing a plan
//!
//! [`apply`] runs the steps of a [`Plan`] in dependency order (`depends_on`), independent steps
//! concurrently, each through the seam ([`Cloud::execute`], which hands it to the kind's
//! module). When a step fails, the steps that depend on it are skipped and only the root cause is
//! reported. A [`Action::Replace`] runs as a delete, then a create.
//!
//! ## The reconcile contract
//! - Every step is idempotent: re-running it against the state it produced changes nothing.
//! - Tags are set in the create call itself wherever AWS allows it (all kinds but the S3 bucket,
//!   which is tagged in the call right after CreateBucket), so a crash leaves no untagged orphan
//!   that a re-run could not recognise as its own.
//! - An apply that stops half-way (error, crash) is converged by the next `plan` + `apply`.
//! - AWS's eventual consistency (a new IAM role or bucket policy is refused by CloudTrail for
//!   seconds) is retried here with backoff, for the error codes each kind declares
//!   ([`ResourceKind::eventually_consistent`](secmon_kinds::ResourceKind::eventually_consistent));
//!   throttling is retried by the SDK.
//!
//! What this crate does not do: decide what to change (that is `secmon-diff`), talk to AWS
//! directly (the seam does), or print anything (progress goes to the caller through [`Event`]s).
//! Secret values are read from their source by the secret kind, sent to Secrets Manager, and
//! never logged or returned.

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secmon_diff::{Action, Plan, Resource, Step};
use secmon_kinds::{Address, Change, Cloud, ExecCtx, KindError, Op, Patience};

/// Errors of one step, naming the resource and, where it helps, the fix.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The change of one resource failed, for good or after its retries.
    #[error("{address}: {source}")]
    Step {
        /// The resource's address.
        address: Address,
        /// What the kind's call said, with its hint.
        #[source]
        source: KindError,
    },
    /// A failure injected by `--fail-after-steps` (the crash-convergence tests).
    #[error("{address}: injected failure (--fail-after-steps)")]
    Injected {
        /// The step that was made to fail.
        address: Address,
    },
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Directory of the spec file: `from_file` secret values are relative to it.
    pub spec_dir: PathBuf,
    /// Recovery window for deleted secrets, in days (7-30).
    pub recovery_window_days: i64,
    /// Testing aid: fail every step after this many completed steps (crash-convergence tests).
    pub fail_after_steps: Option<usize>,
    /// Attempts at a change refused for eventual consistency, and the first backoff delay
    /// (doubled each time, at most 8 s).
    pub consistency_attempts: u32,
    /// The first backoff delay of those attempts.
    pub consistency_delay: Duration,
    /// Space the writes of kinds AWS limits to a few per second ([`Pacer`]).
    pub pacing: bool,
    /// Set when the user interrupts (Ctrl-C, SIGTERM): no step starts after it; the steps in
    /// flight finish, the rest are reported not started, as terraform does.
    pub interrupt: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            spec_dir: PathBuf::new(),
            recovery_window_days: 7,
            fail_after_steps: None,
            // About 2 minutes in all (0.5 + 1 + 2 + 4 + 8 × 15 s), the window the Terraform AWS
            // provider gives IAM propagation: a new role is usually accepted within seconds, but
            // AWS documents no bound (issue 11, item 8).
            consistency_attempts: 19,
            consistency_delay: Duration::from_millis(500),
            pacing: true,
            interrupt: None,
        }
    }
}

/// Progress, reported as steps start and end.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // The fields say what they are: the step's address, action, error, cause.
pub enum Event {
    /// A step started.
    Started { address: Address, action: Action },
    /// A step completed, after `seconds`.
    Done { address: Address, action: Action, seconds: f64 },
    /// A step failed for good.
    Failed { address: Address, error: String },
    /// A step did not run, `because` a step it depends on failed (or the apply was interrupted).
    Skipped { address: Address, because: String },
}

/// How one changing step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done,
    /// Failed, with the error.
    Failed(String),
    /// Not run, and why: the root cause's address, or [`INTERRUPTED`].
    Skipped {
        /// The address of the failed step it depends on, or [`INTERRUPTED`].
        because: String,
    },
}

/// Why a step did not start when the user interrupted the apply ([`ApplyOptions::interrupt`]).
pub const INTERRUPTED: &str = "the apply was interrupted";

/// What happened to each changing step.
#[derive(Debug, Default)]
pub struct Report {
    /// Each changing step's outcome, by address.
    pub outcomes: BTreeMap<Address, Outcome>,
}

impl Report {
    /// The failed steps, with their errors.
    pub fn failed(&self) -> Vec<(&Address, &String)> {
        self.outcomes.iter().filter_map(|(a, o)| if let Outcome::Failed(e) = o { Some((a, e)) } else { None }).collect()
    }
    /// Whether every changing step was done.
    pub fn ok(&self) -> bool {
        self.outcomes.values().all(|o| *o == Outcome::Done)
    }
    /// How many steps were done.
    pub fn done(&self) -> usize {
        self.outcomes.values().filter(|o| **o == Outcome::Done).count()
    }
    /// The steps the interrupt kept from starting.
    pub fn not_started(&self) -> Vec<&Address> {
        self.outcomes.iter().filter(|(_, o)| matches!(o, Outcome::Skipped { because } if because == INTERRUPTED)).map(|(a, _)| a).collect()
    }
}

/// The changes a step makes: one, or two for a replacement (delete, then create).
pub fn changes(step: &Step) -> Vec<Change> {
    let change = |op| Change { address: step.address.clone(), op, before: step.before.clone(), after: step.after.clone() };
    match step.action {
        Action::NoOp => vec![],
        Action::Create => vec![change(Op::Create)],
        Action::Update => vec![change(Op::Update)],
        Action::Delete => vec![change(Op::Delete)],
        Action::Replace => {
            let mut delete = change(Op::Delete);
            delete.after = None;
            let mut create = change(Op::Create);
            create.before = None;
            vec![delete, create]
        }
    }
}

/// Checks, before anything changes, that every secret value the plan writes can be read from its
/// source (environment variable set, file readable): bad input changes nothing in AWS.
pub fn preflight(plan: &Plan, opts: &ApplyOptions) -> Vec<ApplyError> {
    plan.changes()
        .flat_map(|s| changes(s).into_iter().map(move |c| (s.kind(), c)))
        .filter_map(|(kind, c)| {
            kind.def().check_inputs(&c, &opts.spec_dir).err().map(|source| ApplyError::Step { address: c.address.clone(), source })
        })
        .collect()
}

/// Spaces the calls of kinds whose write APIs AWS limits to a few per second per account
/// ([`ResourceKind::writes_per_second`](secmon_kinds::ResourceKind::writes_per_second)), so that a
/// large apply does not throttle itself: each change of such a kind gets the next free slot.
#[derive(Debug, Default)]
pub struct Pacer {
    next: std::sync::Mutex<BTreeMap<secmon_kinds::Kind, std::time::Instant>>,
}

impl Pacer {
    /// When a change of `kind` may start, `now` being now; reserves that slot.
    pub fn slot(&self, kind: secmon_kinds::Kind, now: std::time::Instant) -> std::time::Instant {
        let Some(per_second) = kind.def().writes_per_second() else { return now };
        let mut next = self.next.lock().expect("pacer lock");
        let slot = next.get(&kind).copied().filter(|t| *t > now).unwrap_or(now);
        next.insert(kind, slot + Duration::from_secs(1) / per_second);
        slot
    }

    async fn wait(&self, kind: secmon_kinds::Kind) {
        let slot = self.slot(kind, std::time::Instant::now());
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// Runs one step: its changes in order, each retried while AWS answers "not yet".
async fn run_step(cloud: &dyn Cloud, ctx: &ExecCtx, opts: &ApplyOptions, pacer: &Pacer, step: &Step) -> Result<(), ApplyError> {
    let kind = step.kind().def();
    for change in changes(step) {
        let mut delay = opts.consistency_delay;
        let mut attempt = 1;
        loop {
            if opts.pacing {
                pacer.wait(step.kind()).await;
            }
            match cloud.execute(ctx, &change).await {
                Ok(()) => break,
                // Already gone: a stale Resource Groups Tagging API entry (it lists "tagged or
                // previously tagged" resources for minutes), or a delete whose reply was lost.
                Err(e) if change.op == Op::Delete && e.code().is_some_and(secmon_kinds::not_found) => {
                    tracing::debug!(address = %step.address, error = %e, "already deleted");
                    break;
                }
                // The resource is there: our earlier attempt (its reply lost), or someone else's.
                Err(e) if change.op == Op::Create && e.code().is_some_and(secmon_kinds::already_exists) => {
                    converge_existing(cloud, ctx, step, &change, e).await?;
                    break;
                }
                Err(e) if attempt < attempts_allowed(kind.patience(&e), opts) => {
                    tracing::debug!(address = %step.address, error = %e, attempt, "not yet consistent; retrying after {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                    attempt += 1;
                }
                Err(source) => {
                    let source = match kind.hint(&source) {
                        Some(hint) => KindError::Hinted { source: Box::new(source), hint },
                        None => source,
                    };
                    return Err(ApplyError::Step { address: step.address.clone(), source });
                }
            }
        }
    }
    Ok(())
}

/// Attempts at one change that the kind's [`Patience`] for its error allows.
fn attempts_allowed(patience: Patience, opts: &ApplyOptions) -> u32 {
    match patience {
        Patience::None => 0,
        Patience::Brief => opts.consistency_attempts.min(secmon_kinds::BRIEF_ATTEMPTS),
        Patience::Propagation => opts.consistency_attempts,
    }
}

/// A create found its resource already there. Read it back: when it is ours (the ownership
/// tag) and as desired, the create is done; when it is ours but differs, it is updated; when it
/// is not ours, the original error stands, with what was found.
async fn converge_existing(cloud: &dyn Cloud, ctx: &ExecCtx, step: &Step, change: &Change, error: KindError) -> Result<(), ApplyError> {
    let fail = |source| ApplyError::Step { address: step.address.clone(), source };
    let desired = change.after();
    let live = cloud.read_one(&ctx.spec, &ctx.target(), desired).await.map_err(fail)?;
    match live {
        Some(l) if l.owned && l.resource.attrs == desired.attrs => Ok(()),
        Some(l) if l.owned => {
            let update = Change { address: change.address.clone(), op: Op::Update, before: Some(l.resource), after: Some(desired.clone()) };
            cloud.execute(ctx, &update).await.map_err(fail)
        }
        _ => Err(fail(error)),
    }
}

/// The ready steps, grouped: deletions of a kind that deletes in batches go together (up to its
/// batch size), every other step alone.
fn batches<'a>(ready: impl Iterator<Item = &'a Step>) -> Vec<Vec<Step>> {
    let mut groups: Vec<Vec<Step>> = Vec::new();
    let mut open: BTreeMap<secmon_kinds::Kind, usize> = BTreeMap::new();
    for step in ready {
        let batch = if step.action == Action::Delete { step.kind().def().delete_batch() } else { None };
        match batch {
            Some(size) => match open.get(&step.kind()).copied().filter(|i| groups[*i].len() < size) {
                Some(i) => groups[i].push(step.clone()),
                None => {
                    open.insert(step.kind(), groups.len());
                    groups.push(vec![step.clone()]);
                }
            },
            None => groups.push(vec![step.clone()]),
        }
    }
    groups
}

/// Runs a group of steps: a single step as itself; a batch of deletions in one call, and one by
/// one when that call fails (so that each step gets its own outcome, and a resource already gone
/// counts as deleted).
async fn run_group(
    cloud: &dyn Cloud,
    ctx: &ExecCtx,
    opts: &ApplyOptions,
    pacer: &Pacer,
    group: &[Step],
) -> Vec<(Address, Result<(), ApplyError>)> {
    if let [step] = group {
        return vec![(step.address.clone(), run_step(cloud, ctx, opts, pacer, step).await)];
    }
    let resources: Vec<Resource> = group.iter().filter_map(|s| s.before.clone()).collect();
    if opts.pacing {
        pacer.wait(group[0].kind()).await;
    }
    if let Err(e) = cloud.delete_many(ctx, &resources).await {
        tracing::debug!(error = %e, "batch delete failed; deleting one by one");
        let mut results = Vec::new();
        for step in group {
            results.push((step.address.clone(), run_step(cloud, ctx, opts, pacer, step).await));
        }
        return results;
    }
    group.iter().map(|s| (s.address.clone(), Ok(()))).collect()
}

/// Tags `live` (found in AWS, described by `desired`) as owned by `spec` (secmon import).
pub async fn adopt(cloud: &dyn Cloud, spec: &str, live: &Resource, desired: &Resource) -> Result<(), ApplyError> {
    cloud.adopt(spec, live, desired).await.map_err(|source| ApplyError::Step { address: live.address(), source })
}

/// Runs every changing step of `plan`, each once its dependencies are done.
pub async fn apply(cloud: Arc<dyn Cloud>, plan: &Plan, opts: ApplyOptions, progress: Arc<dyn Fn(&Event) + Send + Sync>) -> Report {
    let ctx = Arc::new(ExecCtx {
        spec: plan.spec.clone(),
        account_id: plan.account_id.clone(),
        region: plan.region.clone(),
        spec_dir: opts.spec_dir.clone(),
        recovery_window_days: opts.recovery_window_days,
    });
    let opts = Arc::new(opts);
    let pacer = Arc::new(Pacer::default());
    let steps: BTreeMap<Address, Step> = plan.changes().map(|s| (s.address.clone(), s.clone())).collect();
    let mut report = Report::default();
    let mut waiting: BTreeSet<Address> = steps.keys().cloned().collect();
    let completed = Arc::new(AtomicUsize::new(0));
    let mut running = tokio::task::JoinSet::new();
    loop {
        // Skip everything downstream of a failure: only the root cause is an error.
        let mut changed = true;
        while changed {
            changed = false;
            for addr in waiting.clone() {
                let step = &steps[&addr];
                if let Some(bad) = step
                    .depends_on
                    .iter()
                    .find(|d| matches!(report.outcomes.get(*d), Some(Outcome::Failed(_)) | Some(Outcome::Skipped { .. })))
                {
                    let root = match &report.outcomes[bad] {
                        Outcome::Skipped { because } => because.clone(),
                        _ => bad.to_string(),
                    };
                    progress(&Event::Skipped { address: addr.clone(), because: root.clone() });
                    report.outcomes.insert(addr.clone(), Outcome::Skipped { because: root });
                    waiting.remove(&addr);
                    changed = true;
                }
            }
        }
        if opts.interrupt.as_ref().is_some_and(|i| i.load(Ordering::SeqCst)) {
            // Interrupted: what runs finishes, nothing else starts.
            for addr in std::mem::take(&mut waiting) {
                progress(&Event::Skipped { address: addr.clone(), because: INTERRUPTED.into() });
                report.outcomes.insert(addr, Outcome::Skipped { because: INTERRUPTED.into() });
            }
        }
        let ready: Vec<Address> = waiting
            .iter()
            .filter(|a| steps[*a].depends_on.iter().all(|d| !steps.contains_key(d) || report.outcomes.get(d) == Some(&Outcome::Done)))
            .cloned()
            .collect();
        for group in batches(ready.iter().map(|a| &steps[a])) {
            for step in &group {
                waiting.remove(&step.address);
            }
            let ctx = ctx.clone();
            let opts = opts.clone();
            let cloud = cloud.clone();
            let progress = progress.clone();
            let completed = completed.clone();
            let pacer = pacer.clone();
            running.spawn(async move {
                for step in &group {
                    progress(&Event::Started { address: step.address.clone(), action: step.action });
                }
                let started = std::time::Instant::now();
                let results = match opts.fail_after_steps {
                    Some(k) if completed.load(Ordering::SeqCst) >= k => {
                        group.iter().map(|s| (s.address.clone(), Err(ApplyError::Injected { address: s.address.clone() }))).collect()
                    }
                    _ => run_group(cloud.as_ref(), &ctx, &opts, &pacer, &group).await,
                };
                for ((address, result), step) in results.iter().zip(&group) {
                    match result {
                        Ok(()) => {
                            completed.fetch_add(1, Ordering::SeqCst);
                            let seconds = started.elapsed().as_secs_f64();
                            progress(&Event::Done { address: address.clone(), action: step.action, seconds });
                        }
                        Err(e) => progress(&Event::Failed { address: address.clone(), error: e.to_string() }),
                    }
                }
                results
            });
        }
        match running.join_next().await {
            Some(Ok(results)) => {
                for (addr, result) in results {
                    let outcome = match result {
                        Ok(()) => Outcome::Done,
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    report.outcomes.insert(addr, outcome);
                }
            }
            Some(Err(join)) => panic!("an apply step panicked: {join}"),
            None if waiting.is_empty() => break,
            None => {
                // Nothing running, nothing ready: a dependency outside the plan never completes.
                for addr in std::mem::take(&mut waiting) {
                    report.outcomes.insert(addr, Outcome::Skipped { because: "unsatisfiable dependency".into() });
                }
                break;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    //! Apply's walk over the plan, against the in-memory account: ordering, skip-on-failure,
    //! retries of eventual consistency, replacements. No emulator, no network.

    use std::sync::Mutex;

    use secmon_diff::{plan, LiveResource, PlanOptions, Target};
    use secmon_kinds::fake::Timing;
    use secmon_kinds::{Cloud, FakeCloud};
    use secmon_spec::Spec;

    use super::*;
    use secmon_diff::Kind;

    const ACCOUNT: &str = "123456789012";

    fn seed() -> Vec<Resource> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/seed.yaml");
        let spec = Spec::from_file(&path).unwrap();
        let state = spec.state.resolve(ACCOUNT, "us-east-1").unwrap();
        secmon_diff::desired_resources(&state, &target())
    }

    fn target() -> Target {
        Target { account_id: ACCOUNT.into(), region: "us-east-1".into() }
    }

    fn fast() -> ApplyOptions {
        // The pacer's schedule has a test of its own; here it would only make the tests slow.
        ApplyOptions { consistency_delay: Duration::from_millis(1), pacing: false, ..ApplyOptions::default() }
    }

    async fn plan_against(cloud: &FakeCloud, desired: &[Resource], opts: PlanOptions) -> Plan {
        let live = cloud.read("secrets-monitoring", &target(), desired).await.unwrap();
        plan("secrets-monitoring", desired, &live, opts).unwrap()
    }

    /// Runs `plan` on `cloud`, returning the report and the progress events in order.
    async fn run(cloud: Arc<FakeCloud>, plan: &Plan, opts: ApplyOptions) -> (Report, Vec<Event>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let report = apply(cloud, plan, opts, Arc::new(move |e: &Event| sink.lock().unwrap().push(e.clone()))).await;
        let events = events.lock().unwrap().clone();
        (report, events)
    }

    /// A plan of `steps` for the test account.
    fn plan_of(steps: Vec<Step>) -> Plan {
        Plan {
            format_version: secmon_diff::FORMAT_VERSION,
            spec: "secrets-monitoring".into(),
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            steps,
            notes: vec![],
            pending_subscriptions: vec![],
            targets: vec![],
        }
    }

    /// Builds `desired` in an empty fake account, then destroys it: the account and the report.
    async fn built_then_destroyed(desired: &[Resource]) -> (Arc<FakeCloud>, Report) {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        let p = plan_against(&cloud, desired, PlanOptions::default()).await;
        assert!(run(cloud.clone(), &p, fast()).await.0.ok());
        let destroy = plan_against(&cloud, desired, PlanOptions { destroy: true, delete_logs: true }).await;
        let (report, _) = run(cloud.clone(), &destroy, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        (cloud, report)
    }

    fn position(calls: &[String], call: &str) -> usize {
        calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("{call} not in {calls:?}"))
    }

    #[tokio::test]
    async fn an_empty_account_is_built_in_dependency_order_and_then_converged() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        let desired = seed();
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        let calls = cloud.calls();
        let trail = position(&calls, "create trail.secrets-manager-trail");
        for dep in [
            "create bucket.secmon-secrets-manager-trail-123456789012",
            "create log_group.secmon-secretsmanager-loggroup",
            "create role.CloudTrailRoleForCloudWatchLogs_secrets-manager-trail",
        ] {
            assert!(position(&calls, dep) < trail, "{dep} after the trail: {calls:?}");
        }
        assert!(position(&calls, "create topic.SecurityAlarms") < position(&calls, "create alarm.Secret is accessed"));
        let again = plan_against(&cloud, &desired, PlanOptions::default()).await;
        assert!(!again.has_changes(), "{:?}", again.change_set());
    }

    #[test]
    fn alarm_writes_are_spaced_to_what_cloudwatch_allows_and_others_are_not() {
        // Regression (issue 11, item 3): all-packs started 21 PutMetricAlarm at once; CloudWatch
        // allows about 3 alarm writes a second per account.
        use secmon_kinds::Kind;
        let pacer = Pacer::default();
        let t0 = std::time::Instant::now();
        let slots: Vec<Duration> = (0..4).map(|_| pacer.slot(Kind::Alarm, t0) - t0).collect();
        assert_eq!(slots, [0, 333_333_333, 666_666_666, 999_999_999].map(Duration::from_nanos));
        assert_eq!(pacer.slot(Kind::Topic, t0), t0, "topics are not paced");
        // A quiet period frees the slots again.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.slot(Kind::Alarm, later), later);
    }

    #[tokio::test]
    async fn every_kind_converges_when_the_reply_of_its_create_is_lost() {
        // Regression (issue 10): a create whose reply was lost was retried by the SDK and failed
        // with "already exists" (CreateLogGroup: ResourceAlreadyExistsException), stopping the apply.
        let desired = seed();
        for target in &desired {
            let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
            cloud.fail(target.address().as_str(), "", Timing::LostReply, 1);
            let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
            let (report, _) = run(cloud.clone(), &p, fast()).await;
            assert!(report.ok(), "{}: {:?}", target.address(), report.outcomes);
            let again = plan_against(&cloud, &desired, PlanOptions::default()).await;
            assert!(!again.has_changes(), "{}: {:?}", target.address(), again.change_set());
        }
    }

    #[tokio::test]
    async fn a_create_that_finds_someone_elses_resource_fails_and_one_of_ours_that_differs_is_updated() {
        let desired = seed();
        let topic = desired.iter().find(|r| r.address() == "topic.SecurityAlarms").unwrap().clone();
        let step = Step {
            address: topic.address(),
            action: Action::Create,
            before: None,
            after: Some(topic.clone()),
            depends_on: vec![],
            reason: "new".into(),
        };
        let p = plan_of(vec![step]);
        // Someone else's topic of that name: the create's error stands.
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        cloud.insert(secmon_kinds::LiveResource::new(Resource::bare(topic.kind, &topic.name, topic.arn.clone()), false));
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(
            matches!(&report.outcomes["topic.SecurityAlarms"], Outcome::Failed(e) if e.contains("AlreadyExists")),
            "{:?}",
            report.outcomes
        );
        // Ours, with another policy: updated to the spec.
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        cloud.insert(secmon_kinds::LiveResource::new(Resource::bare(topic.kind, &topic.name, topic.arn.clone()), true));
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        assert_eq!(cloud.calls(), ["create topic.SecurityAlarms", "update topic.SecurityAlarms"]);
        assert_eq!(cloud.resources()["topic.SecurityAlarms"].resource.attrs, topic.attrs);
    }

    #[tokio::test]
    async fn alarms_are_deleted_a_hundred_names_per_call() {
        // Regression (issue 11, item 3): a destroy of the all-packs spec made one DeleteAlarms call
        // per alarm, at about 3 calls a second.
        let spec = secmon_spec::Spec::parse(include_str!("../../../specs/all-packs.yaml"), "all-packs.yaml").unwrap();
        let desired = secmon_diff::desired_resources(&spec.state.resolve(ACCOUNT, "us-east-1").unwrap(), &target());
        let alarms = desired.iter().filter(|r| r.kind == secmon_kinds::Kind::Alarm).count();
        assert!(alarms > 1);
        let (cloud, _) = built_then_destroyed(&desired).await;
        let calls = cloud.calls();
        let batched: Vec<&String> = calls.iter().filter(|c| c.starts_with("delete_many alarm.")).collect();
        assert_eq!(batched.len(), 1, "{calls:?}");
        assert_eq!(batched[0].matches("alarm.").count(), alarms);
        assert!(!calls.iter().any(|c| c.starts_with("delete alarm.")), "{calls:?}");
        assert!(cloud.resources().is_empty());
    }

    #[tokio::test]
    async fn a_batch_with_an_alarm_already_gone_falls_back_to_one_by_one() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        let alarm = |name: &str| Resource::bare(secmon_kinds::Kind::Alarm, name, None);
        cloud.insert(secmon_kinds::LiveResource::new(alarm("A"), true));
        let step = |name: &str| Step {
            address: Address::new(secmon_kinds::Kind::Alarm, name),
            action: Action::Delete,
            before: Some(alarm(name)),
            after: None,
            depends_on: vec![],
            reason: String::new(),
        };
        let p = plan_of(vec![step("A"), step("Gone")]);
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        assert_eq!(cloud.calls(), ["delete_many alarm.A, alarm.Gone", "delete alarm.A", "delete alarm.Gone"]);
    }

    #[tokio::test]
    async fn a_delete_of_what_is_already_gone_counts_as_done() {
        // Regression (issue 11, item 6): the tagging API lists deleted resources for minutes;
        // a delete planned from such an entry failed on NotFound and stopped the apply.
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        let stale = Resource::bare(secmon_kinds::Kind::Topic, "Gone", Some(format!("arn:aws:sns:us-east-1:{ACCOUNT}:Gone")));
        let gone = Step {
            address: "topic.Gone".parse().unwrap(),
            action: Action::Delete,
            before: Some(stale),
            after: None,
            depends_on: vec![],
            reason: "owned, no longer in the spec".into(),
        };
        let p = plan_of(vec![gone]);
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        assert_eq!(cloud.calls(), ["delete topic.Gone"]);
    }

    #[tokio::test]
    async fn a_failed_step_skips_its_dependents_and_reports_only_the_root_cause() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        cloud.fail("topic.SecurityAlarms", "AuthorizationError", Timing::Before, 1);
        let desired = seed();
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let (report, events) = run(cloud.clone(), &p, fast()).await;
        let failed: Vec<&Address> = report.failed().into_iter().map(|(a, _)| a).collect();
        assert_eq!(failed, ["topic.SecurityAlarms"]);
        for dependent in ["alarm.Secret is accessed", "subscription.SecurityAlarms/security@example.com"] {
            assert_eq!(report.outcomes[dependent], Outcome::Skipped { because: "topic.SecurityAlarms".into() });
            assert!(!cloud.calls().iter().any(|c| c.ends_with(dependent)), "{dependent} was attempted");
        }
        // Independent steps went ahead.
        assert_eq!(report.outcomes["trail.secrets-manager-trail"], Outcome::Done);
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Failed { .. })).count(), 1);
        // The next apply converges from there.
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        assert!(!plan_against(&cloud, &desired, PlanOptions::default()).await.has_changes());
    }

    #[tokio::test]
    async fn eventual_consistency_errors_the_kind_declares_are_retried_others_are_not() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        cloud.fail("trail.secrets-manager-trail", "InvalidCloudWatchLogsRoleArnException", Timing::Before, 2);
        cloud.fail("alarm.Secret is accessed", "InvalidCloudWatchLogsRoleArnException", Timing::Before, 1);
        let desired = seed();
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        let attempts = |a: &str| cloud.calls().iter().filter(|c| c.ends_with(a)).count();
        assert_eq!(report.outcomes["trail.secrets-manager-trail"], Outcome::Done);
        assert_eq!(attempts("trail.secrets-manager-trail"), 3);
        // The code means "not yet" only for the trail: the alarm fails at once.
        assert!(matches!(report.outcomes["alarm.Secret is accessed"], Outcome::Failed(_)));
        assert_eq!(attempts("alarm.Secret is accessed"), 1);
    }

    #[tokio::test]
    async fn retries_stop_after_the_configured_attempts_with_the_error() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        cloud.fail("trail.secrets-manager-trail", "InsufficientS3BucketPolicyException", Timing::Before, 100);
        let p = plan_against(&cloud, &seed(), PlanOptions::default()).await;
        let opts = ApplyOptions { consistency_attempts: 4, ..fast() };
        let (report, _) = run(cloud.clone(), &p, opts).await;
        match &report.outcomes["trail.secrets-manager-trail"] {
            Outcome::Failed(e) => assert!(e.contains("InsufficientS3BucketPolicyException"), "{e}"),
            o => panic!("{o:?}"),
        }
        assert_eq!(cloud.calls().iter().filter(|c| c.ends_with("trail.secrets-manager-trail")).count(), 4);
    }

    #[tokio::test]
    async fn deletions_wait_for_the_resources_that_refer_to_them() {
        let (cloud, _) = built_then_destroyed(&seed()).await;
        let calls = cloud.calls();
        let topic = position(&calls, "delete topic.SecurityAlarms");
        assert!(position(&calls, "delete alarm.Secret is accessed") < topic);
        assert!(position(&calls, "delete subscription.SecurityAlarms/security@example.com") < topic);
        assert!(
            position(&calls, "delete trail.secrets-manager-trail") < position(&calls, "delete log_group.secmon-secretsmanager-loggroup")
        );
        assert!(cloud.resources().is_empty(), "{:?}", cloud.resources().keys());
    }

    #[tokio::test]
    async fn a_replacement_deletes_then_creates() {
        // Regression (issue 14): a metric filter moved to another log group was "updated" with
        // one PutMetricFilter on the new group, leaving the old filter behind.
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        let desired = seed();
        let filter = desired.iter().find(|r| r.kind == Kind::MetricFilter).unwrap();
        let mut elsewhere = filter.clone();
        elsewhere.attrs.insert("log_group".into(), serde_json::json!("old-group"));
        cloud.insert(LiveResource::new(elsewhere, true));
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let step = p.steps.iter().find(|s| s.address == filter.address()).unwrap();
        assert_eq!(step.action, Action::Replace);
        assert!(step.reason.contains("log_group"), "{}", step.reason);
        let (report, _) = run(cloud.clone(), &p, fast()).await;
        assert!(report.ok(), "{:?}", report.outcomes);
        let calls = cloud.calls();
        let address = filter.address();
        assert!(position(&calls, &format!("delete {address}")) < position(&calls, &format!("create {address}")));
        assert!(!plan_against(&cloud, &desired, PlanOptions::default()).await.has_changes());
    }

    #[tokio::test]
    async fn a_bad_value_source_is_found_before_any_change() {
        let cloud = Arc::new(FakeCloud::new(ACCOUNT, "us-east-1"));
        std::env::remove_var("TOP_SECRET_VALUE_UNSET_IN_THIS_TEST");
        let mut desired = seed();
        let secret = desired.iter_mut().find(|r| r.kind == Kind::Secret).unwrap();
        secret.meta.insert("value_source".into(), serde_json::json!({"from_env": "TOP_SECRET_VALUE_UNSET_IN_THIS_TEST"}));
        let p = plan_against(&cloud, &desired, PlanOptions::default()).await;
        let errors = preflight(&p, &fast());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("TOP_SECRET_VALUE_UNSET_IN_THIS_TEST"));
        assert!(cloud.calls().is_empty());
    }
}
