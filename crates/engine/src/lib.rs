//! # secmon-engine: the commands' work, without a terminal
//!
//! What `secmon plan`, `apply`, `destroy`, `import` and `verify` do between parsing their
//! arguments and printing their result, as library calls over the [`Cloud`] seam:
//!
//! - [`Session::open`]: refuse a spec whose patterns AWS would refuse (before any call), learn
//!   the account, resolve the spec for it, and read the live state in one round.
//! - [`Session::plan`]: compare, and [`unconfirmed`], the lint that needs live state.
//! - [`planfile`] and [`check_reviewed`]: saved plans, of one target or many, written and
//!   read in one place; one is applied only if it is still exactly what a fresh plan would
//!   do, for the same spec, account and region.
//! - [`run`]: one path for one target or many: connect ([`secmon_kinds::Connector`]), lock,
//!   read, plan and apply each target, at most `--parallelism` at once, typed per-target
//!   results.
//! - [`Session::import_selection`]: what `secmon import` may take over, and why not.
//! - [`verify`]: the checks of the live pipeline.
//! - [`lock::Lock`]: one apply of a spec at a time per account and region; `plan` takes none.
//! - [`fanout`]: the accounts and regions a spec with `targets` applies to, and a connection
//!   to each (AssumeRole).
//!
//! Main types: [`Session`], [`EngineError`] (every refusal, with the file or address it is
//! about and what to do). What this crate does not do: print, ask for confirmation, or decide
//! exit codes (the CLI does, in one table); compare (`secmon-diff`) or walk a plan
//! (`secmon-apply`).

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

pub mod backtest;
pub mod fanout;
pub mod lock;
pub mod permissions;
pub mod planfile;
pub mod run;

use std::path::Path;

use std::sync::Arc;

pub use planfile::{load_plan, write};
use secmon_aws::AwsError;
use secmon_diff::{DiffError, Plan, PlanOptions};
/// The seam a run works through, for the CLI to connect it (the SDK) and to count its calls.
pub use secmon_kinds::{CallCounts, Cloud, Connector, SdkConnector};
use secmon_kinds::{KindError, LiveState, Resource, Target};
use secmon_spec::{DesiredState, Diagnostic, Severity, Spec, SpecError};

/// Why a command stops. Each names what it is about and, where there is one, the way out.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The spec file cannot be read or is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A call outside any kind failed (STS, the configuration).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A kind's read or change failed.
    #[error(transparent)]
    Kind(#[from] KindError),
    /// The plan cannot be made (a resource the spec describes belongs to no spec, or another).
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// The targets of `targets:` cannot be resolved.
    #[error(transparent)]
    Targets(#[from] fanout::TargetsError),
    /// One target cannot be reached.
    #[error(transparent)]
    Target(#[from] fanout::TargetError),
    #[error("this command works on one target of a spec with `targets`: name it with --account ACCOUNT/REGION (targets: {0})")]
    /// A command that acts (trigger, import...) needs one target named; the targets listed.
    OneTarget(String),
    #[error("the credentials' own account cannot be read, so no target can be reached: {0}")]
    /// The credentials' own account cannot be read; why.
    Unreachable(String),
    #[error("backtest: {0}")]
    /// The backtest cannot run; why.
    Backtest(String),
    #[error("{path}: {message}")]
    /// A file (a saved plan) cannot be read or written.
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    #[error("{path}: plan format {found} is not {expected}; make the plan again with this secmon")]
    /// A saved plan of another format.
    PlanFormat {
        /// The saved plan.
        path: String,
        /// Its format version.
        found: u32,
        /// This secmon's.
        expected: u32,
    },
    #[error("{path}: this plan was made for {what} {saved}, not {current}; nothing was applied")]
    /// A saved plan made for another spec, account or region.
    PlanForOther {
        /// The saved plan.
        path: String,
        /// What differs: "spec", "account" or "region".
        what: &'static str,
        /// What the plan was made for.
        saved: String,
        /// What this run acts on.
        current: String,
    },
    #[error(
        "{path}: live state or the spec changed since this plan was made ({}); nothing was applied. Run `secmon plan` again and review it (after an apply that stopped half-way too: the new plan holds what is left)",
        .moved.join(", ")
    )]
    /// A saved plan that a fresh plan would no longer make.
    StalePlan {
        /// The saved plan.
        path: String,
        /// What a fresh plan would do differently, by address: "X: planned create, now none".
        moved: Vec<String>,
    },
    #[error("{}\nnothing was changed", .0.join("\n"))]
    /// Local inputs an apply needs cannot be read (a value source); each, by address.
    Inputs(Vec<String>),
    #[error("{address}: the spec describes no such resource (addresses: {known})")]
    /// An address the spec does not describe.
    UnknownAddress {
        /// The address given.
        address: String,
        /// The addresses the spec describes.
        known: String,
    },
    #[error("{address} does not exist in AWS: `secmon apply` creates it, nothing to import")]
    /// An address to import that does not exist in AWS.
    NotInAws {
        /// The address.
        address: String,
    },
    #[error("{0}; nothing was changed")]
    /// The plan would exceed an AWS limit (filters per log group); which.
    Quota(String),
    #[error("{address} cannot be imported: {reason}")]
    /// A resource its kind refuses to take over.
    CannotImport {
        /// The address.
        address: String,
        /// Why not.
        reason: String,
    },
    #[error(
        "{address} belongs to spec `{owner}`: importing it into `{spec}` would leave two specs managing it, each apply undoing the other's; nothing was changed.\n  hint: give the resource another name in `{spec}`, or remove it from `{owner}` first; `secmon import --force` takes it anyway"
    )]
    /// A resource another spec owns.
    OwnedByAnotherSpec {
        /// The address.
        address: String,
        /// The spec that owns it.
        owner: String,
        /// The spec importing it.
        spec: String,
    },
    #[error(
        "another apply of spec `{spec}` holds its lock ({holder}); nothing was changed. Wait for it to finish, or, if it crashed, break the lock with: secmon force-unlock -f SPEC {id}"
    )]
    /// Another apply holds the spec's lock.
    Locked {
        /// The spec.
        spec: String,
        /// Who holds it, since when, last heard.
        holder: String,
        /// The holder's id, the one `force-unlock` takes.
        id: String,
    },
}

/// A spec read against live AWS: everything plan, apply, destroy and import start from.
pub struct Session {
    /// The spec, as read from its file.
    pub spec: Spec,
    /// The connection the spec was read through, and its changes are made through.
    pub cloud: Arc<dyn Cloud>,
    /// The spec resolved for the account and region (`${account_id}` expanded).
    pub state: DesiredState,
    /// The account and region acted in.
    pub target: Target,
    /// Every resource the spec implies there, in full.
    pub desired: Vec<Resource>,
    /// What is live, ownership resolved.
    pub live: LiveState,
}

/// A pattern AWS would refuse is a spec error: it stops the command before any AWS call.
pub fn refuse_invalid_patterns(spec: &Spec) -> Result<(), EngineError> {
    let errors: Vec<Diagnostic> = secmon_sim::lint::lint(spec).into_iter().filter(|d| d.severity == Severity::Error).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SpecError::Invalid(errors).into())
    }
}

/// The account the credentials act in and the spec resolved for it.
async fn resolve(spec: &Spec, cloud: &dyn Cloud) -> Result<(DesiredState, Target), EngineError> {
    let account_id = cloud.account_id().await?;
    let mut state = spec.state.resolve(&account_id, cloud.region())?;
    secmon_kinds::cloud::resolve_external(cloud, &mut state).await?;
    let target = Target { account_id, region: cloud.region().to_string() };
    Ok((state, target))
}

impl Session {
    /// Reads the live state of `spec` (its patterns already judged: [`run::Run::new`]) through
    /// `cloud`.
    pub async fn open(spec: Spec, cloud: Arc<dyn Cloud>) -> Result<Session, EngineError> {
        let read = cloud.read_spec(&spec.state).await?;
        Ok(Session { spec, cloud, state: read.state, target: read.target, desired: read.desired, live: read.live })
    }

    /// Writes the live state as JSON (golden fixtures, bug reports).
    pub fn write_live(&self, path: &Path) -> Result<(), EngineError> {
        write(path, &serde_json::to_string_pretty(&self.live).expect("live state json"))
    }

    /// The plan, refused when applying it would break a quota AWS enforces on the whole log
    /// group, whatever put the other filters there.
    pub fn plan(&self, opts: PlanOptions) -> Result<Plan, EngineError> {
        let mut plan = secmon_diff::plan(&self.state.name, &self.desired, &self.live, opts)?;
        check_limits(&plan, &self.live)?;
        plan.notes.extend(secmon_kinds::Kind::ALL.iter().flat_map(|k| k.def().spec_notes(&self.state)));
        Ok(plan)
    }

    /// Adds to `plan`'s notes each changed resource's cost estimate from the account's own usage
    /// ([`secmon_kinds::ResourceKind::estimate`]: S3 data events turned on); a failed estimate
    /// is a note too, never a failed plan.
    pub async fn estimate(&self, plan: &mut Plan) {
        let changes: Vec<(Option<&Resource>, &Resource)> =
            plan.steps.iter().filter(|s| s.action.is_change()).filter_map(|s| Some((s.before.as_ref(), s.after.as_ref()?))).collect();
        let notes = futures::future::join_all(changes.into_iter().map(|(before, after)| self.cloud.estimate(before, after))).await;
        let notes: Vec<String> =
            notes.into_iter().filter_map(|n| n.unwrap_or_else(|e| Some(format!("cost estimate failed: {e}")))).collect();
        plan.notes.extend(notes);
    }

    /// What `secmon import ADDRESS...` takes over: (live, desired) pairs, and the addresses
    /// already owned by this spec. Refuses an address the spec does not describe or that does
    /// not exist.
    pub fn import_selection(&self, addresses: &[String], force: bool) -> Result<ImportSelection, EngineError> {
        let mut out = ImportSelection::default();
        for a in addresses {
            let Some(d) = self.desired.iter().find(|r| &r.address() == a) else {
                let known: Vec<String> = self.desired.iter().map(|r| r.address().to_string()).collect();
                return Err(EngineError::UnknownAddress { address: a.clone(), known: known.join(", ") });
            };
            match self.live.resources.get(a.as_str()) {
                None => return Err(EngineError::NotInAws { address: a.clone() }),
                Some(l) if l.owned => out.already_owned.push(a.clone()),
                Some(l) => {
                    if let Some(reason) = l.resource.kind.def().refuse_import(&l.resource) {
                        return Err(EngineError::CannotImport { address: a.clone(), reason });
                    }
                    // Issue 13, item 3: another spec's resource is not taken silently.
                    if let Some(owner) = l.owner.as_ref().filter(|_| !force) {
                        return Err(EngineError::OwnedByAnotherSpec {
                            address: a.clone(),
                            owner: owner.clone(),
                            spec: self.spec.state.name.clone(),
                        });
                    }
                    out.take.push((l.resource.clone(), d.clone()))
                }
            }
        }
        Ok(out)
    }
}

/// AWS's limits per container (metric filters per log group, other tools' included), as each
/// kind declares them ([`secmon_kinds::ResourceKind::check_limits`]), over what the containers
/// hold once the plan is applied.
fn check_limits(plan: &Plan, live: &LiveState) -> Result<(), EngineError> {
    let in_plan: std::collections::BTreeSet<&str> = plan.steps.iter().map(|s| s.address.as_str()).collect();
    for &kind in secmon_kinds::Kind::ALL {
        let kept: Vec<&Resource> = plan
            .steps
            .iter()
            .filter(|s| s.kind() == kind && s.action != secmon_diff::Action::Delete)
            .filter_map(|s| s.after.as_ref())
            .collect();
        let others: Vec<&Resource> =
            live.resources.values().map(|l| &l.resource).filter(|r| r.kind == kind && !in_plan.contains(r.address().as_str())).collect();
        kind.def().check_limits(&kept, &others).map_err(EngineError::Quota)?;
    }
    Ok(())
}

/// What an import takes over.
#[derive(Debug, Default)]
pub struct ImportSelection {
    /// Addresses this spec owns already: nothing to do.
    pub already_owned: Vec<String>,
    /// (live, desired) pairs to tag as owned.
    pub take: Vec<(Resource, Resource)>,
}

/// The checks of the live pipeline, and the active tests `opts` asks for.
pub async fn verify(spec: &Spec, cloud: &dyn Cloud, opts: &secmon_verify::Options) -> Result<secmon_verify::Report, EngineError> {
    let (state, target) = resolve(spec, cloud).await?;
    let mut report = secmon_verify::verify(cloud, &state, &target, opts).await?;
    report.checks.extend(secmon_verify::exercise(cloud, &state, &target.account_id, opts).await);
    Ok(report)
}

/// Lint that needs live state: monitors whose topics have no confirmed e-mail subscriber yet.
/// One warning per set of topics, naming its monitors, located at the first of them: a fresh
/// all-packs plan used to repeat the same warning for each of its 21 monitors (issue 13, item 7).
pub fn unconfirmed(spec: &Spec, plan: &Plan) -> Vec<Diagnostic> {
    // (sorted topics, [(monitor index, monitor name)])
    type Group<'a> = (Vec<String>, Vec<(usize, &'a str)>);
    let mut groups: Vec<Group> = Vec::new();
    for (i, m) in spec.state.monitors.iter().enumerate() {
        if m.notify.is_empty() || plan.notifies_someone(m.alarm_name()) {
            continue;
        }
        let mut topics = m.notify.clone();
        topics.sort();
        match groups.iter_mut().find(|(t, _)| *t == topics) {
            Some((_, monitors)) => monitors.push((i, m.name.as_str())),
            None => groups.push((topics, vec![(i, m.name.as_str())])),
        }
    }
    groups
        .into_iter()
        .map(|(topics, monitors)| {
            let names: Vec<&str> = monitors.iter().map(|(_, n)| *n).collect();
            // A long list says how many more (issue 26, finding 25: a first plan named 16).
            let listed = match names.len() {
                0..=3 => names.join(", "),
                n => format!("{} and {} more", names[..3].join(", "), n - 3),
            };
            let whose = if names.len() == 1 { format!("monitor {listed}") } else { format!("{} monitors ({listed})", names.len()) };
            let first = &spec.state.monitors[monitors[0].0];
            let message = if plan.asks_confirmation(first.alarm_name()) {
                format!(
                    "this plan subscribes the e-mail addresses of {} ({whose}): until a recipient clicks the link in the confirmation e-mail, their alarms notify nobody",
                    topics.join(", ")
                )
            } else {
                format!("no topic of {whose} ({}) has a confirmed e-mail subscriber: its alarms would notify nobody", topics.join(", "))
            };
            spec.diagnostic(
                Severity::Warning,
                &format!("monitors[{}].notify", monitors[0].0),
                message,
                Some("confirm from the \"AWS Notification - Subscription Confirmation\" e-mail; `secmon verify --resend-confirmation` sends it again".into()),
            )
        })
        .collect()
}

/// Bad local input (a value source that cannot be read) stops an apply before anything changes.
pub fn preflight(plan: &Plan, opts: &secmon_apply::ApplyOptions) -> Result<(), EngineError> {
    let errors = secmon_apply::preflight(plan, opts);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Inputs(errors.iter().map(ToString::to_string).collect()))
    }
}

/// A reviewed plan is applied only when a fresh plan would do exactly the same changes, for the
/// same spec, account and region (reasons, being for humans, may differ).
pub fn check_reviewed(saved: &Plan, fresh: &Plan, path: &Path) -> Result<(), EngineError> {
    let path = path.display().to_string();
    for (what, s, f) in
        [("spec", &saved.spec, &fresh.spec), ("account", &saved.account_id, &fresh.account_id), ("region", &saved.region, &fresh.region)]
    {
        if s != f {
            return Err(EngineError::PlanForOther { path, what, saved: s.clone(), current: f.clone() });
        }
    }
    if saved.change_set() != fresh.change_set() {
        return Err(EngineError::StalePlan { path, moved: moved(saved, fresh) });
    }
    Ok(())
}

/// Each address whose planned change a fresh plan no longer makes the same way (issue 26,
/// finding 18: the refusal says what moved).
fn moved(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let word = |p: &Plan, address: &str| {
        p.changes().find(|s| s.address == address).map(|s| format!("{:?}", s.action).to_lowercase()).unwrap_or_else(|| "none".into())
    };
    let mut addresses: Vec<&str> = saved.changes().chain(fresh.changes()).map(|s| s.address.as_str()).collect();
    addresses.sort();
    addresses.dedup();
    let saved_set = saved.change_set();
    let fresh_set = fresh.change_set();
    let of = |set: &Vec<(secmon_kinds::Address, secmon_diff::Action, Option<Resource>, Option<Resource>)>, a: &str| {
        set.iter().find(|c| c.0 == a).cloned()
    };
    addresses
        .into_iter()
        .filter(|a| of(&saved_set, a) != of(&fresh_set, a))
        .map(|a| {
            let (before, now) = (word(saved, a), word(fresh, a));
            if before == now {
                format!("{a}: {before}, with other values")
            } else {
                format!("{a}: planned {before}, now {now}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secmon_diff::{Action, Step, FORMAT_VERSION};

    fn plan(spec: &str, account: &str, steps: Vec<Step>) -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            spec: spec.into(),
            account_id: account.into(),
            region: "us-east-1".into(),
            steps,
            notes: vec![],
            pending_subscriptions: vec![],
            targets: vec![],
        }
    }

    fn create(address: &str, reason: &str) -> Step {
        let address: secmon_kinds::Address = address.parse().unwrap();
        Step {
            action: Action::Create,
            before: None,
            after: Some(Resource::bare(address.kind(), address.name(), None)),
            address,
            depends_on: vec![],
            reason: reason.into(),
        }
    }

    #[test]
    fn a_reviewed_plan_applies_only_while_it_is_what_a_fresh_plan_would_do() {
        let path = Path::new("plan.json");
        let saved = plan("s", "1", vec![create("topic.T", "new")]);
        // Reasons are for humans: a rewording is the same plan.
        assert!(check_reviewed(&saved, &plan("s", "1", vec![create("topic.T", "reworded")]), path).is_ok());
        let stale = check_reviewed(&saved, &plan("s", "1", vec![]), path).unwrap_err();
        assert!(matches!(stale, EngineError::StalePlan { .. }), "{stale}");
        // Issue 26, finding 18: the refusal says what moved.
        assert!(stale.to_string().contains("(topic.T: planned create, now none)"), "{stale}");
        let mut other = create("topic.T", "new");
        other.after.as_mut().unwrap().attrs.insert("display_name".into(), "x".into());
        let stale = check_reviewed(&saved, &plan("s", "1", vec![other, create("alarm.A", "")]), path).unwrap_err().to_string();
        assert!(stale.contains("alarm.A: planned none, now create, topic.T: create, with other values"), "{stale}");
    }

    #[test]
    fn a_plan_for_another_spec_or_account_says_so() {
        // Regression (issue 13 item 8): a saved plan for another spec got the generic "stale".
        let path = Path::new("plan.json");
        let saved = plan("other-spec", "1", vec![]);
        let e = check_reviewed(&saved, &plan("s", "1", vec![]), path).unwrap_err().to_string();
        assert!(e.contains("made for spec other-spec, not s"), "{e}");
        let e = check_reviewed(&plan("s", "2", vec![]), &plan("s", "1", vec![]), path).unwrap_err().to_string();
        assert!(e.contains("account 2, not 1"), "{e}");
    }

    #[test]
    fn a_saved_plan_of_another_format_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        let mut old = serde_json::to_value(plan("s", "1", vec![])).unwrap();
        old["format_version"] = 0.into();
        std::fs::write(&path, old.to_string()).unwrap();
        let e = load_plan(&path).unwrap_err().to_string();
        assert!(e.contains("old.json") && e.contains("plan format 0"), "{e}");
        std::fs::write(&path, "{").unwrap();
        assert!(load_plan(&path).unwrap_err().to_string().contains("not a secmon plan"));
    }

    /// The engine asks each kind for its limits over what the plan leaves (the metric filter
    /// kind's own tests cover the limits themselves).
    #[test]
    fn a_plan_that_would_overfill_the_log_group_is_refused() {
        let mut live = LiveState::default();
        for i in 0..100 {
            let name = format!("other-{i}");
            let step = create(&format!("metric_filter.{name}"), "");
            live.insert(secmon_kinds::LiveResource::new(step.after.unwrap(), false));
        }
        let mut step = create("metric_filter.mine", "new");
        let e = check_limits(&plan("s", "1", vec![step.clone()]), &live).unwrap_err().to_string();
        assert!(e.contains("101 metric filters") && e.contains("100 put there by others"), "{e}");
        step.action = secmon_diff::Action::Delete;
        assert!(check_limits(&plan("s", "1", vec![step]), &live).is_ok());
    }

    #[test]
    fn one_warning_per_set_of_unconfirmed_topics_not_one_per_monitor() {
        // Regression (issue 13, item 7): a fresh all-packs plan printed the same warning 21 times.
        let spec = Spec::parse(include_str!("../../../specs/all-packs.yaml"), "all-packs.yaml").unwrap();
        let warnings = unconfirmed(&spec, &plan("s", "1", vec![]));
        assert!(spec.state.monitors.len() > 10);
        let mut sets: Vec<Vec<String>> = spec
            .state
            .monitors
            .iter()
            .map(|m| {
                let mut t = m.notify.clone();
                t.sort();
                t
            })
            .collect();
        sets.sort();
        sets.dedup();
        assert_eq!(warnings.len(), sets.len(), "{warnings:#?}");
        assert!(warnings[0].message.contains("monitors ("), "{}", warnings[0].message);
    }

    #[test]
    fn unconfirmed_names_monitors_whose_topics_nobody_confirmed() {
        let spec = Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let warnings = unconfirmed(&spec, &plan("s", "1", vec![]));
        assert_eq!(warnings.len(), spec.state.monitors.len());
        assert!(warnings[0].field.ends_with(".notify"));
    }
}
