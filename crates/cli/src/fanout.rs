//! plan, apply and destroy of a spec with `targets`, over every account and region it names
//! (issue 15): each target is read and planned concurrently (at most `--parallelism` at once),
//! one confirmation covers them all, and each applies under its own lock. A target that fails
//! (its role cannot be assumed, its apply stops) is reported and the others go on; the run's
//! exit code then says that some failed. Output: one section per target, then a summary table;
//! `--output json` groups the plans by target.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use secmon_apply::Event;
use secmon_aws::Aws;
use secmon_diff::{Action, Plan, PlanOptions};
use secmon_engine::fanout::{self, TargetId};
use secmon_engine::lock::Lock;
use secmon_engine::{EngineError, Session};
use secmon_spec::Spec;
use serde_json::json;

use crate::output::Style;
use crate::{CliError, Common, Outcome, PlanFormat};

/// Whether the spec at `common.file` names targets (the fan-out path).
pub fn has_targets(common: &Common) -> Result<bool, CliError> {
    Ok(Spec::from_file(&common.file)?.state.targets.is_some())
}

/// Whether `--account` names exactly one target (`ACCOUNT/REGION`): the commands that can run
/// over every target then run in that one only.
pub fn names_one_target(common: &Common) -> bool {
    common.accounts.iter().filter(|a| a.contains('/')).count() == 1
}

/// One target's plan, or why it has none.
struct Planned {
    target: TargetId,
    result: Result<(Session, Plan, Option<Lock>), String>,
}

/// What happened to one target, for the summary table.
struct Row {
    target: TargetId,
    counts: Option<(usize, usize, usize)>,
    status: String,
    failed: bool,
}

impl Row {
    fn status(target: TargetId, status: String) -> Row {
        Row { target, counts: None, status, failed: false }
    }

    /// A target that failed, with the first line of why.
    fn failed(target: TargetId, error: &str) -> Row {
        Row { target, counts: None, status: format!("failed: {}", first_line(error)), failed: true }
    }
}

fn counts(p: &Plan) -> (usize, usize, usize) {
    (p.count(Action::Create) + p.count(Action::Replace), p.count(Action::Update), p.count(Action::Delete) + p.count(Action::Replace))
}

/// Connects to each target, takes its lock when `lock`, reads it and plans it: at most
/// `parallelism` targets at once; results in target order.
async fn plan_targets(
    base: &Aws,
    spec: &Spec,
    ids: Vec<TargetId>,
    opts: PlanOptions,
    lock: Option<u64>,
    parallelism: usize,
) -> Vec<Planned> {
    let opened = open_targets(base, spec, ids, Some(opts), lock, parallelism).await;
    opened.into_iter().map(|(target, r)| Planned { target, result: r.map(|(s, p, l)| (s, p.expect("planned"), l)) }).collect()
}

/// A target's session, its plan when asked for, and its lock when taken; or why not.
type Opened = Result<(Session, Option<Plan>, Option<Lock>), String>;

/// [`plan_targets`], planning only when `opts` is given (import reads without planning: a
/// resource to import is exactly what a plan refuses).
async fn open_targets(
    base: &Aws,
    spec: &Spec,
    ids: Vec<TargetId>,
    opts: Option<PlanOptions>,
    lock: Option<u64>,
    parallelism: usize,
) -> Vec<(TargetId, Opened)> {
    let caller = match base.account_id().await {
        Ok(a) => a,
        Err(e) => return ids.into_iter().map(|t| (t, Err(e.to_string()))).collect(),
    };
    let targets_spec = spec.state.targets.clone().expect("a spec with targets");
    let accounts = fanout::accounts(base, &caller, &ids, &targets_spec).await;
    let one = |t: TargetId| {
        let (targets_spec, account) = (targets_spec.clone(), accounts[&t.account].clone());
        async move {
            let result = async {
                let aws = fanout::connect(&account, &t, &targets_spec).await.map_err(EngineError::from)?;
                let held = match lock {
                    Some(secs) => Some(
                        Lock::acquire_waiting(&aws, &spec.state.name, std::time::Duration::from_secs(secs), |holder| {
                            eprintln!("{t}: waiting for the lock of spec `{}`, held by {holder}...", spec.state.name)
                        })
                        .await?,
                    ),
                    None => None,
                };
                let opened = async {
                    let mut target_spec = fanout::spec_for(spec, &t);
                    target_spec.state.recovering_since = held.as_ref().and_then(|l| l.took_over_since);
                    let s = Session::open(target_spec, &aws).await?;
                    let p = opts.map(|o| s.plan(o)).transpose()?;
                    Ok::<_, EngineError>((s, p))
                }
                .await;
                match (opened, held) {
                    (Ok((s, p)), held) => Ok((s, p, held)),
                    (Err(e), Some(l)) => {
                        let _ = l.release().await;
                        Err(e)
                    }
                    (Err(e), None) => Err(e),
                }
            }
            .await;
            (t, result.map_err(|e: EngineError| e.to_string()))
        }
    };
    futures::stream::iter(ids).map(one).buffered(parallelism.max(1)).collect().await
}

/// The base connection (the credentials' own account, the home region) and the targets.
fn connect_base(rt: &tokio::runtime::Runtime, common: &Common, spec: &Spec) -> Result<(Aws, Vec<TargetId>), CliError> {
    let home = spec.state.targets.as_ref().and_then(|t| t.regions.first().cloned()).or_else(|| spec.state.region.clone());
    let base = rt.block_on(Aws::connect_with(home.as_deref(), common.endpoint_url.as_deref(), common.max_attempts))?;
    let ids = rt.block_on(fanout::targets(&base, spec, &common.accounts)).map_err(EngineError::from)?;
    Ok((base, ids))
}

fn print_sections(planned: &[Planned], style: Style) {
    for p in planned {
        println!("{}", style.bold(&format!("── target {} {}", p.target, if p.target.home { "(home region)" } else { "(secrets only)" })));
        match &p.result {
            Ok((_, plan, _)) => print!("{}", crate::render::plan_text(plan, style)),
            Err(e) => println!("{} {e}", style.red("Error:")),
        }
        println!();
    }
}

fn print_summary(rows: &[Row], style: Style) {
    let account = rows.iter().map(|r| r.target.account.len()).max().unwrap_or(7).max(7);
    let region = rows.iter().map(|r| r.target.region.len()).max().unwrap_or(6).max(6);
    println!("{}", style.bold("Summary:"));
    println!("  {:<account$}  {:<region$}  {:>3}  {:>6}  {:>7}  status", "account", "region", "add", "change", "destroy");
    for r in rows {
        let (a, c, d) = match r.counts {
            Some((a, c, d)) => (a.to_string(), c.to_string(), d.to_string()),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let status = if r.failed { style.red(&r.status) } else { r.status.clone() };
        println!("  {:<account$}  {:<region$}  {a:>3}  {c:>6}  {d:>7}  {status}", r.target.account, r.target.region);
    }
}

fn plan_rows(planned: &[Planned]) -> Vec<Row> {
    planned
        .iter()
        .map(|p| match &p.result {
            Ok((_, plan, _)) => Row {
                target: p.target.clone(),
                counts: Some(counts(plan)),
                status: if plan.has_changes() { "changes".into() } else { "no changes".into() },
                failed: false,
            },
            Err(e) => {
                // The target is in the row already.
                let e = first_line(e).strip_prefix(&format!("{}: ", p.target)).unwrap_or(first_line(e));
                Row { target: p.target.clone(), counts: None, status: format!("failed: {e}"), failed: true }
            }
        })
        .collect()
}

fn first_line(e: &str) -> &str {
    e.lines().next().unwrap_or(e)
}

/// The run's outcome: failed targets make it an error, saying how many.
fn finish(rows: &[Row], changes_outcome: Outcome) -> Result<Outcome, CliError> {
    let failed = rows.iter().filter(|r| r.failed).count();
    if failed > 0 {
        return Err(CliError::Refused(format!("{failed} of {} targets failed (above); the others ran", rows.len())));
    }
    Ok(changes_outcome)
}

/// The plans saved by `plan --out` for a spec with targets, by target name (`ACCOUNT/REGION`).
fn load_saved(path: &Path, spec: &Spec) -> Result<Vec<(String, Plan)>, CliError> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Refused(format!("{file}: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| CliError::Refused(format!("{file}: not a secmon plan: {e}")))?;
    let Some(targets) = v.get("targets").and_then(|t| t.as_array()) else {
        return Err(CliError::Refused(format!(
            "{file}: a plan of one target, not of a spec with `targets`: make it again with `secmon plan --out`"
        )));
    };
    if v["format_version"] != secmon_diff::FORMAT_VERSION || v["spec"] != spec.state.name.as_str() {
        return Err(CliError::Refused(format!(
            "{file}: made by another secmon or for another spec than `{}`; nothing was applied",
            spec.state.name
        )));
    }
    let mut out = Vec::new();
    for t in targets {
        let name = format!("{}/{}", t["account"].as_str().unwrap_or_default(), t["region"].as_str().unwrap_or_default());
        let Some(plan) = t.get("plan") else {
            return Err(CliError::Refused(format!(
                "{file}: target {name} had no plan (it failed when planned); plan again once it is fixed; nothing was applied"
            )));
        };
        let plan: Plan = serde_json::from_value(plan.clone()).map_err(|e| CliError::Refused(format!("{file}: {name}: {e}")))?;
        out.push((name, plan));
    }
    Ok(out)
}

/// `secmon plan` of a spec with targets; with `out`, the plans are also saved (as `--output
/// json` prints them) for `secmon apply -f SPEC FILE`.
pub fn plan_all(
    common: &Common,
    output: PlanFormat,
    out: Option<&Path>,
    (detailed, destroy): (bool, bool),
    style: Style,
) -> Result<Outcome, CliError> {
    let spec = Spec::from_file(&common.file)?;
    crate::pipeline::lint_gate(common, &spec, style)?;
    let rt = crate::pipeline::runtime();
    let (base, ids) = connect_base(&rt, common, &spec)?;
    let planned =
        rt.block_on(plan_targets(&base, &spec, ids, PlanOptions { destroy, delete_logs: false }, None, common.parallelism as usize));
    let rows = plan_rows(&planned);
    match output {
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&grouped(&spec, &planned)).expect("json")),
        PlanFormat::Text | PlanFormat::Markdown => {
            print_sections(&planned, style);
            print_summary(&rows, style);
        }
    }
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(&grouped(&spec, &planned)).expect("json");
        secmon_engine::write(path, &text)?;
        eprintln!(
            "Saved the plans of {} targets to {}; apply exactly them with: secmon apply -f {} {}",
            planned.len(),
            path.display(),
            common.file.display(),
            path.display()
        );
    }
    if common.stats {
        stats(&planned);
    }
    let changes = planned.iter().any(|p| p.result.as_ref().is_ok_and(|(_, plan, _)| plan.has_changes()));
    finish(&rows, if detailed && changes { Outcome::PlanHasChanges } else { Outcome::Done })
}

/// The plans of a run grouped by target, as data.
fn grouped(spec: &Spec, planned: &[Planned]) -> serde_json::Value {
    let targets: Vec<serde_json::Value> = planned
        .iter()
        .map(|p| match &p.result {
            Ok((_, plan, _)) => {
                json!({"account": p.target.account, "region": p.target.region, "home": p.target.home, "status": "ok", "plan": plan})
            }
            Err(e) => {
                json!({"account": p.target.account, "region": p.target.region, "home": p.target.home, "status": "failed", "error": e})
            }
        })
        .collect();
    json!({"format_version": secmon_diff::FORMAT_VERSION, "spec": spec.state.name, "targets": targets})
}

fn stats(planned: &[Planned]) {
    let sessions: Vec<&Aws> = planned.iter().filter_map(|p| p.result.as_ref().ok().map(|(s, _, _)| &s.aws)).collect();
    print_stats(&sessions, planned.len());
}

/// The calls of every target's session, summed (the stats are shared with the clients, so
/// the sum made after an apply counts its writes).
fn print_stats(sessions: &[&Aws], targets: usize) {
    let total: u64 = sessions.iter().map(|a| a.stats.total()).sum();
    let mutating: u64 = sessions.iter().map(|a| a.stats.mutating()).sum();
    eprintln!("API calls: {total} total, {mutating} mutating, over {targets} target(s)");
}

/// `secmon apply` (or `destroy`, with `destroy: Some(delete_logs)`) of a spec with targets:
/// every target planned under its lock, one confirmation, then every target applied.
pub fn apply_all(
    common: &Common,
    (auto_approve, saved): (bool, Option<&Path>),
    destroy: Option<(bool, i64)>,
    fail_after_steps: Option<usize>,
    style: Style,
) -> Result<Outcome, CliError> {
    let spec = Spec::from_file(&common.file)?;
    if destroy.is_none() {
        crate::pipeline::lint_gate(common, &spec, style)?;
    }
    let rt = crate::pipeline::runtime();
    let (base, mut ids) = connect_base(&rt, common, &spec)?;
    // Plans saved by `plan --out`: exactly the targets they name are applied, and only if a
    // fresh plan of each would do exactly what was reviewed.
    let reviewed = saved.map(|path| load_saved(path, &spec)).transpose()?;
    if let Some(reviewed) = &reviewed {
        let known: Vec<String> = ids.iter().map(ToString::to_string).collect();
        if let Some((t, _)) = reviewed.iter().find(|(t, _)| !known.contains(t)) {
            return Err(CliError::Refused(format!(
                "{}: the plan names target {t}, which the spec no longer has; nothing was applied",
                saved.unwrap_or(Path::new("")).display()
            )));
        }
        ids.retain(|t| reviewed.iter().any(|(name, _)| name == &t.to_string()));
    }
    let opts = match destroy {
        Some((delete_logs, _)) => PlanOptions { destroy: true, delete_logs },
        None => PlanOptions::default(),
    };
    let mut planned = rt.block_on(plan_targets(&base, &spec, ids, opts, Some(common.lock_timeout), common.parallelism as usize));
    if let (Some(reviewed), Some(path)) = (&reviewed, saved) {
        let mut stale = Vec::new();
        for p in &mut planned {
            let Ok((_, fresh, _)) = &mut p.result else { continue };
            let saved_plan = &reviewed.iter().find(|(t, _)| t == &p.target.to_string()).expect("retained").1;
            match secmon_engine::check_reviewed(saved_plan, fresh, path) {
                Ok(()) => *fresh = saved_plan.clone(),
                Err(e) => stale.push(format!("{}: {e}", p.target)),
            }
        }
        if !stale.is_empty() {
            for p in planned {
                if let Ok((_, _, Some(lock))) = p.result {
                    let _ = rt.block_on(lock.release());
                }
            }
            return Err(CliError::Refused(stale.join("\n")));
        }
    }
    print_sections(&planned, style);
    let mut rows = plan_rows(&planned);
    let recovery = destroy.map(|(_, days)| days).unwrap_or(7);
    let apply_opts = secmon_apply::ApplyOptions {
        interrupt: Some(crate::interrupt::watch()),
        ..crate::pipeline::apply_options(common, recovery, fail_after_steps)
    };
    // Each target's plan, and why it must not be applied (a value source that cannot be read).
    let mut checked = Vec::new();
    for p in planned {
        if let Ok((s, plan, lock)) = p.result {
            let refused = secmon_engine::preflight(&plan, &apply_opts).err().map(|e| e.to_string());
            checked.push((p.target, s, plan, lock, refused));
        }
    }
    let sessions: Vec<Aws> = checked.iter().map(|(_, s, _, _, _)| s.aws.clone()).collect();
    let any_changes = checked.iter().any(|(_, _, plan, _, refused)| plan.has_changes() && refused.is_none());
    let what =
        if destroy.is_some() { "destroy these resources in every target above" } else { "perform these actions in every target above" };
    // A saved plan was reviewed: it is applied without asking again.
    let confirmed = if any_changes { crate::pipeline::confirm(auto_approve || reviewed.is_some(), what) } else { Ok(()) };
    let results = rt.block_on(async {
        let one = |(t, s, plan, lock, refused): (TargetId, Session, Plan, Option<Lock>, Option<String>)| {
            let apply_opts = apply_opts.clone();
            let go = confirmed.is_ok();
            async move {
                let destroying = destroy.is_some();
                let outcome = if let Some(e) = refused {
                    Err(e)
                } else if go && plan.has_changes() {
                    let report = secmon_apply::apply(Arc::new(s.cloud()), &plan, apply_opts, progress(&t, style)).await;
                    let failed = report.failed();
                    if !report.not_started().is_empty() {
                        Err(format!("interrupted: {} done, {} not started", report.done(), report.not_started().len()))
                    } else if failed.is_empty() {
                        Ok(format!("applied ({} done)", report.done()))
                    } else {
                        let roots: Vec<String> = failed.iter().map(|(a, _)| a.to_string()).collect();
                        Err(format!("{} step(s) failed ({})", failed.len(), roots.join(", ")))
                    }
                } else if plan.has_changes() {
                    Ok("not applied".to_string())
                } else {
                    Ok("no changes".to_string())
                };
                if let Some(l) = lock {
                    // A finished destroy leaves no lock group behind (issue 22, item 5).
                    let _ = if destroying && outcome.is_ok() && go { l.release_and_remove().await } else { l.release().await };
                }
                (t, outcome)
            }
        };
        futures::stream::iter(checked).map(one).buffered((common.parallelism as usize).max(1)).collect::<Vec<_>>().await
    });
    for (t, outcome) in results {
        if let Some(row) = rows.iter_mut().find(|r| r.target == t && !r.failed) {
            match outcome {
                Ok(status) => row.status = status,
                Err(e) => {
                    row.status = format!("failed: {e}");
                    row.failed = true;
                }
            }
        }
    }
    println!();
    print_summary(&rows, style);
    if common.stats {
        print_stats(&sessions.iter().collect::<Vec<_>>(), rows.len());
    }
    confirmed?;
    finish(&rows, Outcome::Done)
}

/// Each step's progress, prefixed with its target.
fn progress(t: &TargetId, style: Style) -> Arc<dyn Fn(&Event) + Send + Sync> {
    let prefix = t.to_string();
    Arc::new(move |e: &Event| match e {
        Event::Started { .. } | Event::Done { .. } if style.quiet => {}
        Event::Started { address, action } => println!("{prefix}: {address}: {}", crate::pipeline::verbs(*action).0),
        Event::Done { address, action, seconds } => {
            println!("{prefix}: {address}: {} after {seconds:.1}s", style.green(&format!("{} complete", crate::pipeline::verbs(*action).1)))
        }
        Event::Failed { error, .. } => eprintln!("{prefix}: {} {error}", style.red("Error:")),
        Event::Skipped { address, because } => println!("{prefix}: {address}: skipped (depends on failed {because})"),
    })
}

/// Each target's result, or why it has none.
type PerTarget<T> = Vec<(TargetId, Result<T, String>)>;

/// Runs `work` in every target (its connection and its part of the spec), at most
/// `parallelism` at once; each target's result or why not, in target order. For the read-only
/// commands: no lock, no plan.
fn each_target<T, F, Fut>(
    rt: &tokio::runtime::Runtime,
    base: &Aws,
    spec: &Spec,
    ids: Vec<TargetId>,
    parallelism: u64,
    work: F,
) -> Result<PerTarget<T>, CliError>
where
    F: Fn(TargetId, Spec, Aws) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let targets_spec = spec.state.targets.clone().expect("a spec with targets");
    let caller = rt.block_on(base.account_id())?;
    let accounts = rt.block_on(fanout::accounts(base, &caller, &ids, &targets_spec));
    let work = &work;
    Ok(rt.block_on(async {
        let one = |t: TargetId| {
            let (targets_spec, account) = (targets_spec.clone(), accounts[&t.account].clone());
            async move {
                let result = match fanout::connect(&account, &t, &targets_spec).await {
                    Ok(aws) => work(t.clone(), fanout::spec_for(spec, &t), aws).await,
                    Err(e) => Err(e.to_string()),
                };
                (t, result)
            }
        };
        futures::stream::iter(ids).map(one).buffered((parallelism as usize).max(1)).collect().await
    }))
}

/// A summary row per target: `ok` says what a report holds.
fn status_rows<T>(reports: &[(TargetId, Result<T, String>)], ok: impl Fn(&T) -> String) -> Vec<Row> {
    reports
        .iter()
        .map(|(t, r)| match r {
            Ok(report) => Row::status(t.clone(), ok(report)),
            Err(e) => Row::failed(t.clone(), e),
        })
        .collect()
}

/// One section per target (`render` prints a report), then the summary of `rows`.
fn print_report_sections<T>(reports: &[(TargetId, Result<T, String>)], rows: &[Row], style: Style, render: impl Fn(&TargetId, &T)) {
    for (t, r) in reports {
        println!("{}", style.bold(&format!("── target {t} {}", if t.home { "(home region)" } else { "(secrets only)" })));
        match r {
            Ok(report) => render(t, report),
            Err(e) => println!("{} {e}", style.red("Error:")),
        }
        println!();
    }
    println!("{}", style.bold("Summary:"));
    for r in rows {
        let status = if r.failed { style.red(&r.status) } else { r.status.clone() };
        println!("  {}  {:<14}  {status}", r.target.account, r.target.region);
    }
}

/// `secmon verify` of a spec with targets: every target's checks, one section each, then a
/// summary. What acts (`--trigger` reads a secret, `--notify-test` publishes, `--resend-confirmation`
/// subscribes) runs in one target only, chosen with `--account ACCOUNT/REGION`.
pub fn verify_all(common: &Common, output: crate::Format, opts: secmon_verify::Options, style: Style) -> Result<Outcome, CliError> {
    use secmon_verify::Status;
    if opts.trigger.is_some() || opts.notify_test.is_some() || opts.resend_confirmation {
        return Err(CliError::Refused(
            "--trigger, --notify-test and --resend-confirmation act in one target of a spec with `targets`: name it with --account ACCOUNT/REGION".into(),
        ));
    }
    let spec = Spec::from_file(&common.file)?;
    let rt = crate::pipeline::runtime();
    let (base, ids) = connect_base(&rt, common, &spec)?;
    let opts = &opts;
    let reports = each_target(&rt, &base, &spec, ids, common.parallelism, |_, spec, aws| async move {
        secmon_engine::verify(&spec, &aws, opts).await.map_err(|e| e.to_string())
    })?;
    let worst = reports.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|r| r.worst()).max().unwrap_or(Status::Ok);
    let outcome = match worst {
        Status::Failed => Outcome::LinkBroken,
        Status::Warning => Outcome::WarningsOnly,
        _ => Outcome::Done,
    };
    let rows = status_rows(&reports, |report: &secmon_verify::Report| {
        let n = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
        format!("{} ok, {} warning, {} failed", n(Status::Ok), n(Status::Warning), n(Status::Failed))
    });
    match output {
        crate::Format::Json => {
            let targets: Vec<serde_json::Value> = reports
                .iter()
                .map(|(t, r)| match r {
                    Ok(report) => {
                        json!({"account": t.account, "region": t.region, "home": t.home, "status": report.worst(), "checks": report.checks})
                    }
                    Err(e) => json!({"account": t.account, "region": t.region, "home": t.home, "status": "unreachable", "error": e}),
                })
                .collect();
            let v = json!({"status": worst, "exit_code": outcome.code(), "targets": targets});
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        crate::Format::Text => {
            print_report_sections(&reports, &rows, style, |_, report| print!("{}", crate::render::verify_text(report, style)))
        }
    }
    finish(&rows, outcome)
}

/// `secmon import` of a spec with targets: the addresses are taken over in every target whose
/// part of the spec describes them (a secondary region describes the secrets only); one
/// confirmation covers them all. A target where an address does not exist, or belongs to
/// another spec, fails alone.
pub fn import_all(common: &Common, addresses: &[String], (auto_approve, force): (bool, bool), style: Style) -> Result<Outcome, CliError> {
    let spec = Spec::from_file(&common.file)?;
    let rt = crate::pipeline::runtime();
    let (base, ids) = connect_base(&rt, common, &spec)?;
    let opened = rt.block_on(open_targets(&base, &spec, ids, None, None, common.parallelism as usize));
    let mut rows = Vec::new();
    let mut takes = Vec::new();
    for (target, result) in opened {
        let (s, _, _) = match result {
            Ok(found) => found,
            Err(e) => {
                rows.push(Row::failed(target, &e));
                continue;
            }
        };
        let here: Vec<String> = addresses.iter().filter(|a| s.desired.iter().any(|d| &d.address() == *a)).cloned().collect();
        println!("{}", style.bold(&format!("── target {}", target)));
        if here.is_empty() {
            println!("nothing to import: this target's part of the spec describes none of these addresses\n");
            rows.push(Row::status(target, "nothing to import".into()));
            continue;
        }
        match s.import_selection(&here, force) {
            Ok(selection) => {
                for a in &selection.already_owned {
                    println!("{a}: already owned by spec `{}`", s.state.name);
                }
                for (l, _) in &selection.take {
                    println!("{} {} will be tagged secmon:spec={}", style.yellow("~"), l.address(), s.state.name);
                }
                println!();
                rows.push(Row::status(target.clone(), format!("{} to import", selection.take.len())));
                takes.push((target, s, selection));
            }
            Err(e) => {
                println!("{} {e}\n", style.red("Error:"));
                rows.push(Row::failed(target, &e.to_string()));
            }
        }
    }
    if takes.iter().any(|(_, _, sel)| !sel.take.is_empty()) {
        crate::pipeline::confirm(auto_approve, "take these resources over in every target above")?;
    }
    for (t, s, selection) in &takes {
        let row = rows.iter_mut().find(|r| &r.target == t).expect("a row per target");
        for (l, d) in &selection.take {
            match rt.block_on(secmon_apply::adopt(&s.cloud(), &s.state.name, l, d)) {
                Ok(()) => println!("{t}: {}: {}", l.address(), style.green("imported")),
                Err(e) => {
                    println!("{t}: {} {e}", style.red("Error:"));
                    row.status = format!("failed: {e}");
                    row.failed = true;
                }
            }
        }
        if !row.failed {
            row.status = format!("{} imported", selection.take.len());
        }
    }
    println!();
    print_summary(&rows, style);
    finish(&rows, Outcome::Done)
}

/// `secmon backtest` of a spec with targets: every home region (where the monitors and the log
/// group are), concurrently; one section each. A target that cannot be reached fails alone.
pub fn backtest_all(common: &Common, spec: &Spec, window: (i64, i64), output: crate::Format, style: Style) -> Result<Outcome, CliError> {
    let rt = crate::pipeline::runtime();
    let (base, ids) = connect_base(&rt, common, spec)?;
    let ids: Vec<TargetId> = ids.into_iter().filter(|t| t.home).collect();
    let quiet = style.quiet;
    let reports = each_target(&rt, &base, spec, ids, common.parallelism, |t, spec, aws| async move {
        let progress = |m: &str| {
            if !quiet {
                eprintln!("{t}: {m}")
            }
        };
        secmon_engine::backtest::backtest_aws(&spec, &aws, window, &progress).await.map_err(|e| e.to_string())
    })?;
    let rows = status_rows(&reports, |report: &secmon_engine::backtest::BacktestReport| {
        let matched: u64 = report.monitors.iter().map(|m| m.returned).sum();
        format!("{matched} event(s) returned over {} monitor(s)", report.monitors.len())
    });
    match output {
        crate::Format::Json => {
            let targets: Vec<serde_json::Value> = reports
                .iter()
                .map(|(t, r)| match r {
                    Ok(report) => json!({"account": t.account, "region": t.region, "status": "ok", "report": report}),
                    Err(e) => json!({"account": t.account, "region": t.region, "status": "failed", "error": e}),
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"spec": spec.state.name, "targets": targets})).expect("json"));
        }
        crate::Format::Text => {
            print_report_sections(&reports, &rows, style, |_, report| crate::pipeline::print_backtest(&spec.state.name, report, style))
        }
    }
    finish(&rows, Outcome::Done)
}
