//! One path for one target or many (issue 23, item 1): a spec without `targets` is a run over
//! one target, a spec with `targets` a run over each of them, at most `parallelism` at once.
//!
//! [`Run`] holds the spec (read and linted once: [`Run::new`]), the [`Connector`] and the
//! run's options. It resolves the targets ([`Run::target_ids`], [`Run::single`]), connects to
//! each and runs a piece of work there ([`Run::each`]), opens each under its apply lock
//! ([`Run::open_each`]: lock, read, plan; the lock released again when reading fails), and
//! applies opened targets ([`apply_each`]), releasing each lock whatever happened. Results are
//! typed and per target ([`PerTarget`]); a target that fails does not stop the others.
//!
//! What this module does not do: print, ask, or choose an exit code (the CLI does), or decide
//! what a target deploys of the spec ([`fanout::spec_for`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use secmon_apply::{ApplyOptions, Event, Report as ApplyReport};
use secmon_diff::{Plan, PlanOptions};
use secmon_kinds::{Cloud, Connector};
use secmon_spec::{Diagnostic, Severity, Spec, SpecError};

use crate::fanout::{self, TargetId};
use crate::lock::Lock;
use crate::{EngineError, Session};

/// The run's options, built once from the command line.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `--account` filters: `ACCOUNT` or `ACCOUNT/REGION`.
    pub accounts: Vec<String>,
    /// Targets worked on at once.
    pub parallelism: usize,
    /// How long to wait for a held apply lock.
    pub lock_timeout: Duration,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig { accounts: Vec::new(), parallelism: 8, lock_timeout: Duration::ZERO }
    }
}

/// Each target's result, in target order.
pub type PerTarget<T> = Vec<(TargetId, Result<T, EngineError>)>;

/// Where one piece of work runs: the target, its part of the spec, a connection acting there.
#[derive(Clone)]
pub struct Target {
    /// Which target.
    pub id: TargetId,
    /// What it deploys of the spec ([`crate::fanout::spec_for`]).
    pub spec: Spec,
    /// The connection acting there.
    pub cloud: Arc<dyn Cloud>,
}

/// A target read (and planned, when asked) under its lock (when asked).
pub struct Opened {
    /// The live state read.
    pub session: Session,
    /// The plan, when one was asked for.
    pub plan: Option<Plan>,
    /// The target's lock, when the work changes AWS.
    pub lock: Option<Lock>,
}

/// Hears an apply's steps as they start, end, fail or are skipped.
pub type Progress = Arc<dyn Fn(&Event) + Send + Sync>;

/// Hears who holds a lock the run waits for (once per target).
pub type OnWait = Arc<dyn Fn(&TargetId, &str) + Send + Sync>;

/// A spec, its connections, and the run's options.
pub struct Run {
    /// The spec, read once.
    pub spec: Spec,
    /// The spec's lint, computed once: the CLI prints it, the run refuses its errors.
    pub lint: Vec<Diagnostic>,
    connector: Arc<dyn Connector>,
    /// The run's options.
    pub config: RunConfig,
}

impl Run {
    /// A run of `spec`. A pattern AWS would refuse stops it here, before any AWS call; the
    /// spec is linted once for the whole command.
    pub fn new(spec: Spec, connector: Arc<dyn Connector>, config: RunConfig) -> Result<Run, EngineError> {
        let lint = secmon_sim::lint::lint(&spec);
        let errors: Vec<Diagnostic> = lint.iter().filter(|d| d.severity == Severity::Error).cloned().collect();
        if !errors.is_empty() {
            return Err(SpecError::Invalid(errors).into());
        }
        Ok(Run { spec, lint, connector, config })
    }

    /// Whether the spec names `targets` and `--account` does not narrow them to one: the
    /// commands then report per target.
    pub fn fleet(&self) -> bool {
        self.spec.state.targets.is_some() && self.config.accounts.iter().filter(|a| a.contains('/')).count() != 1
    }

    /// The spec's targets, narrowed by `--account`, in order.
    pub async fn target_ids(&self) -> Result<Vec<TargetId>, EngineError> {
        Ok(fanout::targets(&*self.connector, &self.spec, &self.config.accounts).await?)
    }

    /// The one target a single-target command works on: the configured account and region for
    /// a spec without `targets`; otherwise the one `--account ACCOUNT/REGION` names.
    pub async fn single(&self) -> Result<Target, EngineError> {
        if self.spec.state.targets.is_none() {
            let cloud = self.connector.home();
            let id = TargetId { account: String::new(), region: cloud.region().to_string(), home: true, first_region: true };
            return Ok(Target { id, spec: self.spec.clone(), cloud });
        }
        let ids = self.target_ids().await?;
        let [_] = &ids[..] else {
            let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
            return Err(EngineError::OneTarget(names.join(", ")));
        };
        let caller = self.connector.home().account_id().await?;
        self.connect(&caller, ids.into_iter().next().expect("one")).await
    }

    async fn connect(&self, caller: &str, id: TargetId) -> Result<Target, EngineError> {
        let targets = self.spec.state.targets.as_ref().expect("a spec with targets");
        let cloud = fanout::connect(&*self.connector, caller, &id, targets).await?;
        Ok(Target { spec: fanout::spec_for(&self.spec, &id), id, cloud })
    }

    /// Runs `work` in each of `ids` (connected first), at most `parallelism` at once. A target
    /// that cannot be reached, or whose work fails, fails alone.
    pub async fn each<T, F, Fut>(&self, ids: Vec<TargetId>, work: F) -> PerTarget<T>
    where
        F: Fn(Target) -> Fut,
        Fut: std::future::Future<Output = Result<T, EngineError>>,
    {
        let caller = match self.connector.home().account_id().await {
            Ok(a) => a,
            Err(e) => {
                let message = e.to_string();
                return ids.into_iter().map(|t| (t, Err(EngineError::Unreachable(message.clone())))).collect();
            }
        };
        let (caller, work) = (&caller, &work);
        let one = |id: TargetId| async move {
            let result = match self.connect(caller, id.clone()).await {
                Ok(target) => work(target).await,
                Err(e) => Err(e),
            };
            (id, result)
        };
        futures::stream::iter(ids).map(one).buffered(self.config.parallelism.max(1)).collect().await
    }

    /// Opens each of `ids`: takes its lock when `on_wait` is given (waiting up to the lock
    /// timeout), reads it, and plans it when `plan` is given. A target whose read or plan fails
    /// releases its lock before it reports.
    pub async fn open_each(&self, ids: Vec<TargetId>, plan: Option<PlanOptions>, on_wait: Option<OnWait>) -> PerTarget<Opened> {
        let timeout = self.config.lock_timeout;
        self.each(ids, |target| {
            let on_wait = on_wait.clone();
            async move { open(target, plan, on_wait, timeout).await }
        })
        .await
    }
}

/// Opens one target: its lock when `on_wait` is given, its live state, its plan when asked.
pub async fn open(target: Target, plan: Option<PlanOptions>, on_wait: Option<OnWait>, timeout: Duration) -> Result<Opened, EngineError> {
    let Target { id, mut spec, cloud } = target;
    let lock = match on_wait {
        Some(heard) => {
            let name = spec.state.name.clone();
            Some(Lock::acquire_waiting(cloud.clone(), &name, timeout, |holder| heard(&id, holder)).await?)
        }
        None => None,
    };
    // What a dead holder created since it took the lock may lack the ownership tag.
    spec.state.recovering_since = lock.as_ref().and_then(|l| l.took_over_since);
    let opened = async {
        let session = Session::open(spec, cloud).await?;
        let mut plan = plan.map(|o| session.plan(o)).transpose()?;
        if let Some(p) = &mut plan {
            session.estimate(p).await;
        }
        Ok::<_, EngineError>((session, plan))
    }
    .await;
    match opened {
        Ok((session, plan)) => Ok(Opened { session, plan, lock }),
        Err(e) => {
            if let Some(l) = lock {
                let _ = l.release().await;
            }
            Err(e)
        }
    }
}

/// What became of one target's apply.
pub struct Applied {
    /// Each step's outcome.
    pub report: ApplyReport,
    /// Releasing the lock failed (the apply itself is in `report`).
    pub release: Result<(), EngineError>,
}

/// One target ready to apply: its session, the plan to apply, its lock.
pub struct Ready {
    /// Which target.
    pub id: TargetId,
    /// Its live state.
    pub session: Session,
    /// The plan to apply (reviewed, or just made).
    pub plan: Plan,
    /// Its lock, released after the apply.
    pub lock: Option<Lock>,
}

/// Applies each target's plan (at most `parallelism` at once), then releases its lock; with
/// `remove_lock`, a target whose apply completed removes its lock group (`destroy` leaves
/// nothing behind, issue 22 item 5). `progress` makes each target's event listener.
pub async fn apply_each(
    ready: Vec<Ready>,
    opts: &ApplyOptions,
    parallelism: usize,
    remove_lock: bool,
    progress: &(dyn Fn(&TargetId) -> Progress + Sync),
) -> Vec<(TargetId, Applied)> {
    let one = |r: Ready| async move {
        let report = if r.plan.has_changes() {
            secmon_apply::apply(r.session.cloud.clone(), &r.plan, opts.clone(), progress(&r.id)).await
        } else {
            ApplyReport::default()
        };
        let release = release(r.lock, remove_lock && report.ok()).await;
        (r.id, Applied { report, release })
    };
    futures::stream::iter(ready).map(one).buffered(parallelism.max(1)).collect().await
}

/// Releases `lock` (when held); with `remove`, removes the lock group as well.
pub async fn release(lock: Option<Lock>, remove: bool) -> Result<(), EngineError> {
    match lock {
        Some(l) if remove => l.release_and_remove().await,
        Some(l) => l.release().await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secmon_kinds::FakeConnector;

    const CALLER: &str = "111111111111";

    fn fleet_spec() -> Spec {
        let text = format!(
            "{}\ntargets:\n  accounts: [\"{CALLER}\", \"222222222222\", \"333333333333\"]\n  role_name: OrganizationAccountAccessRole\n  regions: [us-east-1]\n",
            include_str!("../../../specs/seed.yaml")
        );
        Spec::parse(&text, "fleet.yaml").unwrap()
    }

    fn quiet_progress(_: &TargetId) -> Arc<dyn Fn(&Event) + Send + Sync> {
        Arc::new(|_: &Event| {})
    }

    /// Issue 23, item 2: the fan-out, offline. A target whose role cannot be assumed fails
    /// alone; the others are planned and applied under their own locks, which are released.
    #[tokio::test]
    async fn a_target_that_cannot_be_reached_fails_alone_and_every_lock_is_released() {
        let mut connector = FakeConnector::new(CALLER, "us-east-1");
        connector.refused.insert("222222222222".into(), "AccessDenied".into());
        let connector = Arc::new(connector);
        let run = Run::new(fleet_spec(), connector.clone(), RunConfig { parallelism: 2, ..RunConfig::default() }).unwrap();
        let ids = run.target_ids().await.unwrap();
        assert_eq!(
            ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["111111111111/us-east-1", "222222222222/us-east-1", "333333333333/us-east-1"]
        );
        let on_wait: OnWait = Arc::new(|_, _| {});
        let opened = run.open_each(ids, Some(PlanOptions::default()), Some(on_wait)).await;
        let mut ready = Vec::new();
        for (id, r) in opened {
            match r {
                Ok(o) => {
                    assert!(o.lock.is_some() && o.plan.as_ref().is_some_and(Plan::has_changes), "{id}");
                    ready.push(Ready { id, session: o.session, plan: o.plan.unwrap(), lock: o.lock });
                }
                Err(e) => {
                    assert_eq!(id.account, "222222222222");
                    let e = e.to_string();
                    assert!(e.contains("cannot act through role arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"), "{e}");
                }
            }
        }
        assert_eq!(ready.len(), 2);
        let applied = apply_each(ready, &ApplyOptions::default(), 2, false, &quiet_progress).await;
        for (id, a) in &applied {
            assert!(a.report.ok() && a.report.done() > 0, "{id}: {:?}", a.report.failed());
            assert!(a.release.is_ok());
            let cloud = connector.cloud(&id.account, &id.region);
            assert!(cloud.resources().values().all(|l| l.owned), "{id}");
            let group = &cloud.lock_groups()["/secmon/locks/secrets-monitoring"];
            assert!(group.streams.is_empty(), "{id}: the lock is released");
        }
        let connects = connector.connects();
        assert!(connects.contains(&"111111111111/us-east-1 direct".to_string()), "{connects:?}");
        assert!(connects.contains(&"333333333333/us-east-1 via OrganizationAccountAccessRole".to_string()), "{connects:?}");
    }

    #[tokio::test]
    async fn a_spec_without_targets_is_a_run_over_one_target_and_several_need_a_choice() {
        let connector = Arc::new(FakeConnector::new(CALLER, "eu-west-1"));
        let seed = Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let run = Run::new(seed, connector.clone(), RunConfig::default()).unwrap();
        assert!(!run.fleet());
        let one = run.single().await.unwrap();
        assert_eq!(one.cloud.region(), "eu-west-1");
        let run = Run::new(fleet_spec(), connector, RunConfig::default()).unwrap();
        assert!(run.fleet());
        let e = run.single().await.err().expect("three targets").to_string();
        assert!(e.contains("name it with --account ACCOUNT/REGION") && e.contains("333333333333/us-east-1"), "{e}");
    }
}
