//! plan, apply, destroy, import, verify, backtest and force-unlock on the terminal: the
//! arguments become one [`Run`] (the spec read and linted once, one configuration), the engine
//! does the work over one target or many (`secmon_engine::run`), and this module asks for
//! confirmation and renders. Nothing here calls AWS or decides what AWS should become.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use secmon_apply::{ApplyOptions, Event};
use secmon_diff::{Action, Plan, PlanOptions};
use secmon_engine::fanout::TargetId;
use secmon_engine::run::{self, OnWait, Opened, PerTarget, Ready, Run, RunConfig};
use secmon_engine::{CallCounts, Cloud, Session};
use secmon_spec::{Diagnostic, Spec};

use crate::output::{shell_word, Style};
use crate::report::{self, Row};
use crate::{print_diagnostics, CliError, Common, Format, Outcome, PlanFormat};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("tokio runtime")
}

/// The run a command works through: the spec (read once by the caller) linted once, one
/// configuration, and the connection to the home region (the first of `targets.regions`, or
/// the spec's region). No AWS call is made yet.
pub(crate) fn start(common: &Common, spec: Spec) -> Result<(tokio::runtime::Runtime, Run), CliError> {
    let rt = runtime();
    let home = spec.state.targets.as_ref().and_then(|t| t.regions.first().cloned()).or_else(|| spec.state.region.clone());
    let aws = rt.block_on(secmon_aws::Aws::connect_with(home.as_deref(), common.endpoint_url.as_deref(), common.max_attempts))?;
    let config = RunConfig {
        accounts: common.accounts.clone(),
        parallelism: common.parallelism as usize,
        lock_timeout: std::time::Duration::from_secs(common.lock_timeout),
    };
    let run = Run::new(spec, Arc::new(secmon_engine::SdkConnector::new(aws)), config)?;
    if common.stats {
        eprintln!("Spec: read {} time(s), linted {} time(s)", secmon_spec::reads(), secmon_sim::lint::runs());
    }
    Ok((rt, run))
}

fn print_stats(counts: &CallCounts) {
    let (calls, lock) = (&counts.calls, &counts.lock);
    // Columns as wide as their longest entry, so the table stays aligned whatever the names.
    let service = calls.iter().chain(lock).map(|c| c.service.len()).max().unwrap_or(0);
    let operation = calls.iter().chain(lock).map(|c| c.operation.len()).max().unwrap_or(0);
    let row = |c: &secmon_aws::CallCount| eprintln!("  {:<service$}  {:<operation$}  {:>5}", c.service, c.operation, c.calls);
    eprintln!("API calls: {} total, {} mutating", counts.total, counts.mutating);
    calls.iter().for_each(row);
    if counts.lock_total > 0 {
        eprintln!("Apply lock: {} calls, {} mutating", counts.lock_total, counts.lock_mutating);
        lock.iter().for_each(row);
    }
}

/// The calls of every target's connection, summed.
fn print_fleet_stats(clouds: &[Arc<dyn Cloud>], targets: usize) {
    let counts: Vec<CallCounts> = clouds.iter().map(|c| c.call_counts()).collect();
    let total: u64 = counts.iter().map(|c| c.total).sum();
    let mutating: u64 = counts.iter().map(|c| c.mutating).sum();
    eprintln!("API calls: {total} total, {mutating} mutating, over {targets} target(s)");
}

/// Prints the spec's warnings and lint (computed once, by [`Run::new`]); with `--strict`,
/// refuses to go on when there are any.
pub(crate) fn lint_gate(common: &Common, run: &Run, style: Style) -> Result<(), CliError> {
    let mut diags = run.spec.warnings.clone();
    diags.extend(run.lint.iter().cloned());
    print_diagnostics(&diags, style);
    if common.strict && !diags.is_empty() {
        return Err(CliError::Refused(format!(
            "--strict: the spec has {} warning(s) (above); nothing was changed. Fix them, or run without --strict",
            diags.len()
        )));
    }
    Ok(())
}

/// The plan narrowed to `targets`, with terraform's warning, or the plan itself.
fn narrowed(plan: Plan, targets: &[String], style: Style) -> Result<Plan, CliError> {
    if targets.is_empty() {
        return Ok(plan);
    }
    eprintln!(
        "{} only {} and what they depend on: AWS will not match the whole spec until an apply without --target. Targeting is for exceptions (a repair), not routine changes.",
        style.yellow("Warning: --target:"),
        targets.join(", ")
    );
    plan.targeted(targets).map_err(CliError::Refused)
}

pub(crate) fn confirm(auto_approve: bool, what: &str) -> Result<(), CliError> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(format!("refusing to {what} without confirmation: no terminal to ask on; pass --auto-approve")));
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    std::io::stdout().flush().ok();
    // An interrupt at the prompt is "no" (terraform's behaviour): nothing was changed.
    let Some(answer) = crate::interrupt::read_line() else {
        return Err(CliError::Interrupted(format!("{what}: cancelled at the prompt; nothing was changed")));
    };
    if answer.trim() == "yes" {
        Ok(())
    } else {
        // terraform: "Apply cancelled." (issue 26, finding 29).
        Err(CliError::Refused(format!("cancelled: only 'yes' would {what}; nothing was changed")))
    }
}

/// What a step is doing (as it starts) and what completed (as it ends), terraform's words.
fn verbs(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("Creating...", "Creation"),
        Action::Update => ("Modifying...", "Modifications"),
        Action::Replace => ("Replacing...", "Replacement"),
        Action::Delete => ("Destroying...", "Destruction"),
        Action::NoOp => ("Checking...", "Check"),
    }
}

/// Prints each step of an apply as it starts, ends, fails or is skipped; in a run over
/// targets, each line starts with its target.
fn progress(target: Option<&TargetId>, style: Style) -> Arc<dyn Fn(&Event) + Send + Sync> {
    let prefix = target.map(|t| format!("{t}: ")).unwrap_or_default();
    Arc::new(move |e: &Event| match e {
        Event::Started { .. } | Event::Done { .. } if style.quiet => {}
        Event::Started { address, action } => println!("{prefix}{address}: {}", verbs(*action).0),
        Event::Done { address, action, seconds } => {
            println!("{prefix}{address}: {} after {seconds:.1}s", style.green(&format!("{} complete", verbs(*action).1)));
        }
        Event::Failed { error, .. } => eprintln!("{prefix}{} {error}", style.red("Error:")),
        Event::Skipped { address, because } => println!("{prefix}{address}: skipped (depends on failed {because})"),
    })
}

fn apply_options(common: &Common, recovery_window_days: i64, fail_after_steps: Option<usize>) -> ApplyOptions {
    ApplyOptions {
        spec_dir: common.file.parent().map(Path::to_path_buf).unwrap_or_default(),
        recovery_window_days,
        fail_after_steps,
        ..ApplyOptions::default()
    }
}

/// One target opened: for a spec without `targets`, or the one `--account` names. With
/// `lock`, under the spec's apply lock (an interrupt while waiting for it changes nothing).
/// The call counts are printed when reading fails, to show that nothing was changed.
fn open_one(common: &Common, rt: &tokio::runtime::Runtime, run: &Run, plan: Option<PlanOptions>, lock: bool) -> Result<Opened, CliError> {
    let target = rt.block_on(run.single())?;
    let cloud = target.cloud.clone();
    let name = run.spec.state.name.clone();
    let timeout = common.lock_timeout;
    let on_wait: Option<OnWait> = lock.then(|| {
        Arc::new(move |_: &TargetId, holder: &str| {
            eprintln!("Waiting for the lock of spec `{name}`, held by {holder} (up to {timeout} s)...")
        }) as OnWait
    });
    if lock {
        crate::interrupt::watch();
    }
    let opening = run::open(target, plan, on_wait, run.config.lock_timeout);
    let opened = match rt.block_on(crate::interrupt::unless_interrupted(opening)) {
        Some(opened) => opened.map_err(CliError::from),
        // A lock taken in the meantime is released by its drop (its lease stops being renewed).
        None => Err(CliError::Interrupted("while waiting for the lock; nothing was changed".into())),
    };
    if opened.is_err() && common.stats {
        print_stats(&cloud.call_counts());
    }
    let opened = opened?;
    if let Some(dead) = opened.lock.as_ref().and_then(|l| l.took_over.as_ref()) {
        eprintln!(
            "Took over the lock of spec `{}` from {dead}: that apply stopped renewing its lease (killed or crashed); this run converges what it left.",
            run.spec.state.name
        );
    }
    if let Some(path) = &common.live_out {
        opened.session.write_live(path)?;
    }
    Ok(opened)
}

/// Runs `command` on one opened target, then releases its lock (removing the lock group when
/// `remove_lock` and the command finished) and prints the call counts when asked, whatever
/// the outcome.
fn with_opened(
    common: &Common,
    rt: &tokio::runtime::Runtime,
    opened: Opened,
    remove_lock: bool,
    command: impl FnOnce(&Session, Option<Plan>) -> Result<Outcome, CliError>,
) -> Result<Outcome, CliError> {
    let Opened { session, plan, lock } = opened;
    let result = command(&session, plan);
    let released = rt.block_on(run::release(lock, remove_lock && matches!(result, Ok(Outcome::Done))));
    if common.stats {
        print_stats(&session.cloud.call_counts());
    }
    let outcome = result?;
    released?;
    Ok(outcome)
}

/// `secmon force-unlock`: breaks the lock of a crashed apply, named by the id its refusal gave.
pub fn force_unlock_cmd(common: &Common, spec: Spec, id: &str, style: Style) -> Result<Outcome, CliError> {
    let (rt, run) = start(common, spec)?;
    let target = rt.block_on(run.single())?;
    match rt.block_on(secmon_engine::lock::force_unlock(&*target.cloud, &run.spec.state.name, id))? {
        true => println!("{} the lock of spec `{}` is released.", style.green("Unlocked:"), run.spec.state.name),
        false => println!("No lock is held for spec `{}`: nothing to unlock.", run.spec.state.name),
    }
    Ok(Outcome::Done)
}

pub fn plan_cmd(
    common: &Common,
    spec: Spec,
    output: PlanFormat,
    out: Option<&Path>,
    (detailed, destroy): (bool, bool),
    targets: &[String],
    style: Style,
) -> Result<Outcome, CliError> {
    if let Some(path) = out {
        writable(path)?;
    }
    let (rt, run) = start(common, spec)?;
    let opts = PlanOptions { destroy, delete_logs: false };
    // plan, apply and destroy of a spec with `targets` report per target even when
    // `--account` narrows them to one.
    if run.spec.state.targets.is_some() {
        if !targets.is_empty() {
            return Err(CliError::Refused(crate::TARGET_WITH_TARGETS.into()));
        }
        return plan_fleet(common, &rt, &run, output, out, (detailed, opts), style);
    }
    lint_gate(common, &run, style)?;
    let opened = open_one(common, &rt, &run, Some(opts), false)?;
    with_opened(common, &rt, opened, false, |s, plan| {
        let plan = narrowed(plan.expect("planned"), targets, style)?;
        let unconfirmed = secmon_engine::unconfirmed(&s.spec, &plan);
        print_diagnostics(&unconfirmed, style);
        // What apply would stop on before changing anything (a value source not set) is said
        // now, in the pull request, not first at merge (issue 26, finding 28).
        if let Err(e) = secmon_engine::preflight(&plan, &apply_options(common, 7, None)) {
            eprintln!("{} apply of this plan would stop before changing anything: {e}", style.yellow("Warning:"));
        }
        let warnings: Vec<Diagnostic> = run.spec.warnings.iter().chain(&run.lint).chain(&unconfirmed).cloned().collect();
        let json = plan_json(&plan, &warnings);
        match output {
            PlanFormat::Json => println!("{json}"),
            PlanFormat::Text => print!("{}", crate::render::plan_text(&plan, style)),
            PlanFormat::Markdown => print!("{}", crate::markdown::plan_markdown(&plan)),
        }
        if let Some(path) = out {
            secmon_engine::write(path, &json)?;
            eprintln!(
                "Saved the plan to {}; apply exactly it with: secmon apply -f {} {}",
                path.display(),
                shell_word(&common.file.display().to_string()),
                shell_word(&path.display().to_string())
            );
        }
        Ok(if detailed && plan.has_changes() { Outcome::PlanHasChanges } else { Outcome::Done })
    })
}

/// The plan as JSON for tools: the plan itself (what `apply` reads back from a saved plan), with
/// its counts and the spec's warnings beside it, so a pipeline need not parse the prose
/// (issue 26, finding 17).
fn plan_json(plan: &Plan, warnings: &[Diagnostic]) -> String {
    let mut v = serde_json::to_value(plan).expect("plan json");
    v["summary"] = serde_json::json!({
        "add": plan.count(Action::Create),
        "change": plan.count(Action::Update),
        "replace": plan.count(Action::Replace),
        "destroy": plan.count(Action::Delete),
        "changes": plan.has_changes(),
    });
    v["warnings"] = serde_json::to_value(warnings).expect("diagnostics json");
    serde_json::to_string_pretty(&v).expect("plan json")
}

/// Refuses, before AWS is read, a path a plan could not be saved to (issue 26, finding 28).
fn writable(path: &Path) -> Result<(), CliError> {
    let refuse = |why: &str| Err(CliError::Refused(format!("-o {}: {why}; nothing was read or changed", path.display())));
    if path.is_dir() {
        return refuse("is a directory");
    }
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => refuse(&format!("the directory {} does not exist", dir.display())),
        _ => Ok(()),
    }
}

/// Applies `plan` through the session, saying what was done, what failed and what did not
/// start.
fn apply_one(s: &Session, plan: &Plan, opts: ApplyOptions, destroying: bool, style: Style) -> Result<Outcome, CliError> {
    secmon_engine::preflight(plan, &opts)?;
    if !plan.has_changes() {
        println!("{} Nothing to do.", style.green("No changes."));
        return Ok(Outcome::Done);
    }
    let opts = ApplyOptions { interrupt: Some(crate::interrupt::watch()), ..opts };
    let report = runtime().block_on(secmon_apply::apply(s.cloud.clone(), plan, opts, progress(None, style)));
    let failed = report.failed();
    let not_started = report.not_started();
    if !not_started.is_empty() {
        return Err(CliError::Interrupted(format!(
            "{} step(s) done, {} failed, {} not started ({}). Run `secmon apply` again: it converges from here.",
            report.done(),
            failed.len(),
            not_started.len(),
            not_started.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if failed.is_empty() && destroying {
        // terraform's words (issue 26, finding 29).
        println!("\n{} Resources: {} destroyed.", style.green("Destroy complete!"), plan.count(Action::Delete));
        return Ok(Outcome::Done);
    }
    if failed.is_empty() {
        println!(
            "\n{} {} added, {} changed, {} destroyed.",
            style.green("Apply complete!"),
            plan.count(Action::Create),
            plan.count(Action::Update) + plan.count(Action::Replace),
            plan.count(Action::Delete)
        );
        return Ok(Outcome::Done);
    }
    let skipped = report.outcomes.len() - report.done() - failed.len();
    let roots: Vec<String> = failed.iter().map(|(a, _)| a.to_string()).collect();
    Err(CliError::Apply(format!(
        "{} step(s) failed ({}), {skipped} skipped; {} done. Run `secmon apply` again once fixed: it converges from here.",
        failed.len(),
        roots.join(", "),
        report.done()
    )))
}

pub fn apply_cmd(
    common: &Common,
    spec: Spec,
    plan_file: Option<&Path>,
    auto_approve: bool,
    (targets, fail_after_steps): (&[String], Option<usize>),
    style: Style,
) -> Result<Outcome, CliError> {
    let (rt, run) = start(common, spec)?;
    if run.spec.state.targets.is_some() {
        if !targets.is_empty() {
            return Err(CliError::Refused(crate::TARGET_WITH_TARGETS.into()));
        }
        return apply_fleet(common, &rt, &run, (auto_approve, plan_file), None, fail_after_steps, style);
    }
    let opts = apply_options(common, 7, fail_after_steps);
    // Apply says what lint says, every time: an alarm that cannot fire is not deployed
    // silently (and not at all with --strict).
    lint_gate(common, &run, style)?;
    let opened = open_one(common, &rt, &run, Some(PlanOptions::default()), true)?;
    with_opened(common, &rt, opened, false, |s, fresh| {
        let fresh = fresh.expect("planned");
        if let Some(path) = plan_file {
            // The saved plan was reviewed: apply it without asking again, if it still holds.
            let saved = secmon_engine::load_plan(path)?;
            let fresh = if saved.targets.is_empty() { fresh } else { fresh.targeted(&saved.targets).map_err(CliError::Refused)? };
            secmon_engine::check_reviewed(&saved, &fresh, path)?;
            return apply_one(s, &saved, opts, false, style);
        }
        let fresh = narrowed(fresh, targets, style)?;
        // A missing value source fails before the plan is shown and the question asked
        // (issue 26, finding 28).
        secmon_engine::preflight(&fresh, &opts)?;
        print!("{}", crate::render::plan_text(&fresh, style));
        if fresh.has_changes() {
            confirm(auto_approve, "perform these actions")?;
        }
        apply_one(s, &fresh, opts, false, style)
    })
}

pub fn destroy_cmd(
    common: &Common,
    spec: Spec,
    auto_approve: bool,
    recovery_window_days: i64,
    delete_logs: bool,
    style: Style,
) -> Result<Outcome, CliError> {
    let (rt, run) = start(common, spec)?;
    if run.spec.state.targets.is_some() {
        return apply_fleet(common, &rt, &run, (auto_approve, None), Some((delete_logs, recovery_window_days)), None, style);
    }
    let opened = open_one(common, &rt, &run, Some(PlanOptions { destroy: true, delete_logs }), true)?;
    // A finished destroy removes the spec's lock group too (issue 22, item 5).
    with_opened(common, &rt, opened, true, |s, plan| {
        let plan = plan.expect("planned");
        print!("{}", crate::render::plan_text(&plan, style));
        if plan.has_changes() {
            confirm(auto_approve, "destroy these resources")?;
        }
        apply_one(s, &plan, apply_options(common, recovery_window_days, None), true, style)
    })
}

fn verify_outcome(worst: secmon_verify::Status) -> Outcome {
    match worst {
        secmon_verify::Status::Failed => Outcome::LinkBroken,
        secmon_verify::Status::Pending => Outcome::AwaitingConfirmation,
        secmon_verify::Status::Warning => Outcome::WarningsOnly,
        _ => Outcome::Done,
    }
}

pub fn verify_cmd(common: &Common, spec: Spec, output: Format, opts: secmon_verify::Options, style: Style) -> Result<Outcome, CliError> {
    let (rt, run) = start(common, spec)?;
    if run.fleet() {
        return verify_fleet(&rt, &run, output, opts, style);
    }
    if opts.trigger.is_some() {
        if let Some(s) = run.spec.state.trigger_secret() {
            eprintln!("{} --trigger reads secret {} once: this fires its alarm and notifies its topics.", style.yellow("Note:"), s.name);
        }
    }
    let target = rt.block_on(run.single())?;
    let report = rt.block_on(secmon_engine::verify(&target.spec, &*target.cloud, &opts));
    if common.stats {
        print_stats(&target.cloud.call_counts());
    }
    let report = report?;
    let outcome = verify_outcome(report.worst());
    match output {
        Format::Json => {
            let v = serde_json::json!({
                "format_version": crate::output::JSON_FORMAT_VERSION,
                "spec": run.spec.state.name,
                // Known since the read (STS's answer is remembered: no call).
                "account": rt.block_on(target.cloud.account_id()).ok(),
                "region": target.cloud.region(),
                "status": report.worst(),
                "exit_code": outcome.code(),
                "checks": report.checks,
            });
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => print!("{}", crate::render::verify_text(&report, style)),
    }
    Ok(outcome)
}

pub fn import_cmd(
    common: &Common,
    spec: Spec,
    addresses: &[String],
    (auto_approve, force): (bool, bool),
    style: Style,
) -> Result<Outcome, CliError> {
    let (rt, run) = start(common, spec)?;
    if run.fleet() {
        return import_fleet(&rt, &run, addresses, (auto_approve, force), style);
    }
    let opened = open_one(common, &rt, &run, None, false)?;
    with_opened(common, &rt, opened, false, |s, _| {
        let selection = s.import_selection(addresses, force)?;
        for a in &selection.already_owned {
            println!("{a}: already owned by spec `{}`", s.state.name);
        }
        if selection.take.is_empty() {
            return Ok(Outcome::Done);
        }
        for (l, _) in &selection.take {
            println!("{} {} will be tagged secmon:spec={}", style.yellow("~"), l.address(), s.state.name);
        }
        confirm(auto_approve, "take these resources over")?;
        for (l, d) in &selection.take {
            rt.block_on(secmon_apply::adopt(&*s.cloud, &s.state.name, l, d))?;
            println!("{}: {}", l.address(), style.green("imported"));
        }
        println!("Run `secmon plan` to see what `apply` will change in them.");
        Ok(Outcome::Done)
    })
}

/// `30d`, `12h`, `90m`, `45s`, `2w` back from `now`, or a time like `2026-11-01T00:00:00Z`;
/// epoch seconds.
fn moment(text: &str, now: i64) -> Result<i64, CliError> {
    if let Some(t) = secmon_sim::events::parse_time(text) {
        return Ok(t);
    }
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    match n.parse::<i64>() {
        Ok(n) if seconds > 0 && n >= 0 => Ok(now - n * seconds),
        _ => Err(CliError::Refused(format!("`{text}` is not a duration (30d, 12h, 90m) nor a time (2026-11-01T00:00:00Z)"))),
    }
}

pub fn backtest_cmd(
    common: &Common,
    spec: Spec,
    (since, until): (&str, Option<&str>),
    output: Format,
    style: Style,
) -> Result<Outcome, CliError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let window = (moment(since, now)?, until.map(|u| moment(u, now)).transpose()?.unwrap_or(now));
    if window.0 >= window.1 {
        return Err(CliError::Refused(format!("the window is empty: --since {since} is not before --until")));
    }
    let (rt, run) = start(common, spec)?;
    if run.fleet() {
        return backtest_fleet(&rt, &run, window, output, style);
    }
    let quiet = style.quiet;
    let progress = move |m: &str| {
        if !quiet {
            eprintln!("{m}")
        }
    };
    let target = rt.block_on(run.single())?;
    let report = rt.block_on(secmon_engine::backtest::backtest(&target.spec, &*target.cloud, window, &progress));
    if common.stats {
        print_stats(&target.cloud.call_counts());
    }
    let report = report?;
    match output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).expect("json")),
        Format::Text => report::print_backtest(&run.spec.state.name, &report, style),
    }
    Ok(Outcome::Done)
}

// ---- runs over the targets of a spec with `targets` (issue 15) -----------------------------

/// The targets, or the error that stops the whole run (an OU that cannot be listed).
fn fleet_ids(rt: &tokio::runtime::Runtime, run: &Run) -> Result<Vec<TargetId>, CliError> {
    Ok(rt.block_on(run.target_ids())?)
}

/// The plans of a run (or why a target has none), for rendering.
fn planned_refs(planned: &PerTarget<Opened>) -> Vec<(TargetId, Result<&Plan, String>)> {
    planned.iter().map(|(t, r)| (t.clone(), r.as_ref().map(|o| o.plan.as_ref().expect("planned")).map_err(ToString::to_string))).collect()
}

fn plan_fleet(
    common: &Common,
    rt: &tokio::runtime::Runtime,
    run: &Run,
    output: PlanFormat,
    out: Option<&Path>,
    (detailed, opts): (bool, PlanOptions),
    style: Style,
) -> Result<Outcome, CliError> {
    lint_gate(common, run, style)?;
    let ids = fleet_ids(rt, run)?;
    let planned = rt.block_on(run.open_each(ids, Some(opts), None));
    let refs = planned_refs(&planned);
    let rows = report::plan_rows(&refs);
    let grouped = secmon_engine::planfile::grouped(&run.spec.state.name, &refs);
    match output {
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&grouped).expect("json")),
        PlanFormat::Markdown => print!("{}", crate::markdown::fleet_plan_markdown(&run.spec.state.name, &refs)),
        PlanFormat::Text => {
            report::print_plan_sections(&refs, style);
            report::print_summary(&rows, style);
        }
    }
    if let Some(path) = out {
        secmon_engine::write(path, &serde_json::to_string_pretty(&grouped).expect("json"))?;
        let (file, saved) = (shell_word(&common.file.display().to_string()), shell_word(&path.display().to_string()));
        let failed = planned.iter().filter(|(_, r)| r.is_err()).count();
        if failed == 0 {
            eprintln!(
                "Saved the plans of {} targets to {}; apply exactly them with: secmon apply -f {file} {saved}",
                planned.len(),
                path.display()
            );
        } else {
            // Issue 26, finding 24: a file with a target that has no plan is refused whole.
            eprintln!(
                "Saved the plans of {} targets to {}, but {failed} target(s) failed and have no plan: `secmon apply -f {file} {saved}` refuses the file until every target plans. Plan the reachable ones alone with --account ACCOUNT[/REGION] (one per target) and apply that file",
                planned.len(),
                path.display()
            );
        }
    }
    if common.stats {
        let clouds: Vec<Arc<dyn Cloud>> = planned.iter().filter_map(|(_, r)| r.as_ref().ok().map(|o| o.session.cloud.clone())).collect();
        print_fleet_stats(&clouds, planned.len());
    }
    let changes = refs.iter().any(|(_, p)| p.as_ref().is_ok_and(|plan| plan.has_changes()));
    report::finish(&rows, if detailed && changes { Outcome::PlanHasChanges } else { Outcome::Done })
}

/// `secmon apply` (or `destroy`, with `destroy: Some((delete_logs, recovery days))`) of a spec
/// with targets: every target planned under its lock, one confirmation, then every target
/// applied and its lock released.
fn apply_fleet(
    common: &Common,
    rt: &tokio::runtime::Runtime,
    run: &Run,
    (auto_approve, saved): (bool, Option<&Path>),
    destroy: Option<(bool, i64)>,
    fail_after_steps: Option<usize>,
    style: Style,
) -> Result<Outcome, CliError> {
    if destroy.is_none() {
        lint_gate(common, run, style)?;
    }
    let mut ids = fleet_ids(rt, run)?;
    // Plans saved by `plan --out`: exactly the targets they name are applied, and only if a
    // fresh plan of each would do exactly what was reviewed.
    let reviewed = saved.map(|path| secmon_engine::planfile::load_grouped(path, &run.spec.state.name)).transpose()?;
    if let (Some(reviewed), Some(path)) = (&reviewed, saved) {
        let known: Vec<String> = ids.iter().map(ToString::to_string).collect();
        if let Some((t, _)) = reviewed.iter().find(|(t, _)| !known.contains(t)) {
            return Err(CliError::Refused(format!(
                "{}: the plan names target {t}, which the spec no longer has; nothing was applied",
                path.display()
            )));
        }
        ids.retain(|t| reviewed.iter().any(|(name, _)| name == &t.to_string()));
    }
    let opts = match destroy {
        Some((delete_logs, _)) => PlanOptions { destroy: true, delete_logs },
        None => PlanOptions::default(),
    };
    let name = run.spec.state.name.clone();
    let on_wait: OnWait =
        Arc::new(move |t: &TargetId, holder: &str| eprintln!("{t}: waiting for the lock of spec `{name}`, held by {holder}..."));
    let mut planned = rt.block_on(run.open_each(ids, Some(opts), Some(on_wait)));
    if let (Some(reviewed), Some(path)) = (&reviewed, saved) {
        let mut stale = Vec::new();
        for (t, r) in &mut planned {
            let Ok(opened) = r else { continue };
            let fresh = opened.plan.as_mut().expect("planned");
            let saved_plan = &reviewed.iter().find(|(name, _)| name == &t.to_string()).expect("retained").1;
            match secmon_engine::check_reviewed(saved_plan, fresh, path) {
                Ok(()) => *fresh = saved_plan.clone(),
                Err(e) => stale.push(format!("{t}: {e}")),
            }
        }
        if !stale.is_empty() {
            for (_, r) in planned {
                if let Ok(o) = r {
                    let _ = rt.block_on(run::release(o.lock, false));
                }
            }
            return Err(CliError::Refused(stale.join("\n")));
        }
    }
    let refs = planned_refs(&planned);
    report::print_plan_sections(&refs, style);
    let mut rows = report::plan_rows(&refs);
    let recovery = destroy.map(|(_, days)| days).unwrap_or(7);
    let apply_opts = ApplyOptions { interrupt: Some(crate::interrupt::watch()), ..apply_options(common, recovery, fail_after_steps) };
    // Each target's plan, and why it must not be applied (a value source that cannot be read).
    let mut ready = Vec::new();
    let mut refused = Vec::new();
    for (id, r) in planned {
        let Ok(Opened { session, plan, lock }) = r else { continue };
        let plan = plan.expect("planned");
        match secmon_engine::preflight(&plan, &apply_opts) {
            Ok(()) => ready.push(Ready { id, session, plan, lock }),
            Err(e) => refused.push((id, e, lock)),
        }
    }
    let clouds: Vec<Arc<dyn Cloud>> = ready.iter().map(|r| r.session.cloud.clone()).collect();
    let any_changes = ready.iter().any(|r| r.plan.has_changes());
    let what =
        if destroy.is_some() { "destroy these resources in every target above" } else { "perform these actions in every target above" };
    // A saved plan was reviewed: it is applied without asking again.
    let confirmed = if any_changes { confirm(auto_approve || reviewed.is_some(), what) } else { Ok(()) };
    for (id, e, lock) in refused {
        let _ = rt.block_on(run::release(lock, false));
        report::set_status(&mut rows, &id, Err(e.to_string()));
    }
    if confirmed.is_err() {
        for r in ready {
            let _ = rt.block_on(run::release(r.lock, false));
            let status = if r.plan.has_changes() { "not applied" } else { "no changes" };
            report::set_status(&mut rows, &r.id, Ok(status.to_string()));
        }
    } else {
        let changed: Vec<(TargetId, bool)> = ready.iter().map(|r| (r.id.clone(), r.plan.has_changes())).collect();
        let progress = |t: &TargetId| progress(Some(t), style);
        let applied = rt.block_on(run::apply_each(ready, &apply_opts, run.config.parallelism, destroy.is_some(), &progress));
        for (id, a) in applied {
            let had_changes = changed.iter().any(|(t, c)| t == &id && *c);
            report::set_status(&mut rows, &id, report::applied_status(&a.report, had_changes, destroy.is_some()));
        }
    }
    println!();
    report::print_summary(&rows, style);
    if common.stats {
        print_fleet_stats(&clouds, rows.len());
    }
    confirmed?;
    report::finish(&rows, Outcome::Done)
}

/// `secmon verify` of a spec with targets: every target's checks, one section each, then a
/// summary. What acts (`--trigger` reads a secret, `--notify-test` publishes,
/// `--resend-confirmation` subscribes) runs in one target only, chosen with `--account`.
fn verify_fleet(
    rt: &tokio::runtime::Runtime,
    run: &Run,
    output: Format,
    opts: secmon_verify::Options,
    style: Style,
) -> Result<Outcome, CliError> {
    use secmon_verify::Status;
    if opts.trigger.is_some() || opts.notify_test.is_some() || opts.resend_confirmation {
        return Err(CliError::Refused(
            "--trigger, --notify-test and --resend-confirmation act in one target of a spec with `targets`: name it with --account ACCOUNT/REGION".into(),
        ));
    }
    let ids = fleet_ids(rt, run)?;
    let opts = &opts;
    let reports = rt.block_on(run.each(ids, |t| async move { secmon_engine::verify(&t.spec, &*t.cloud, opts).await }));
    let worst = reports.iter().filter_map(|(_, r)| r.as_ref().ok()).map(|r| r.worst()).max().unwrap_or(Status::Ok);
    let outcome = verify_outcome(worst);
    let rows = report::status_rows(&reports, |report: &secmon_verify::Report| {
        let n = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
        format!("{} ok, {} warning, {} pending, {} failed", n(Status::Ok), n(Status::Warning), n(Status::Pending), n(Status::Failed))
    });
    match output {
        Format::Json => {
            let targets: Vec<serde_json::Value> = reports
                .iter()
                .map(|(t, r)| match r {
                    Ok(report) => serde_json::json!({"account": t.account, "region": t.region, "home": t.home, "status": report.worst(), "checks": report.checks}),
                    Err(e) => serde_json::json!({"account": t.account, "region": t.region, "home": t.home, "status": "unreachable", "error": e.to_string()}),
                })
                .collect();
            let v = serde_json::json!({
                "format_version": crate::output::JSON_FORMAT_VERSION,
                "spec": run.spec.state.name,
                "status": worst,
                "exit_code": outcome.code(),
                "targets": targets,
            });
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => report::print_report_sections(&reports, &rows, style, |_, r| print!("{}", crate::render::verify_text(r, style))),
    }
    report::finish(&rows, outcome)
}

/// `secmon import` of a spec with targets: the addresses are taken over in every target whose
/// part of the spec describes them (a secondary region describes the secrets only); one
/// confirmation covers them all. A target where an address does not exist, or belongs to
/// another spec, fails alone.
fn import_fleet(
    rt: &tokio::runtime::Runtime,
    run: &Run,
    addresses: &[String],
    (auto_approve, force): (bool, bool),
    style: Style,
) -> Result<Outcome, CliError> {
    let ids = fleet_ids(rt, run)?;
    let opened = rt.block_on(run.open_each(ids, None, None));
    let mut rows = Vec::new();
    let mut takes = Vec::new();
    for (target, result) in opened {
        let s = match result {
            Ok(found) => found.session,
            Err(e) => {
                rows.push(Row::failed(target, &e.to_string()));
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
        confirm(auto_approve, "take these resources over in every target above")?;
    }
    for (t, s, selection) in &takes {
        let row = rows.iter_mut().find(|r| &r.target == t).expect("a row per target");
        for (l, d) in &selection.take {
            match rt.block_on(secmon_apply::adopt(&*s.cloud, &s.state.name, l, d)) {
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
    report::print_summary(&rows, style);
    report::finish(&rows, Outcome::Done)
}

/// `secmon backtest` of a spec with targets: every home region (where the monitors and the log
/// group are), concurrently; one section each. A target that cannot be reached fails alone.
fn backtest_fleet(rt: &tokio::runtime::Runtime, run: &Run, window: (i64, i64), output: Format, style: Style) -> Result<Outcome, CliError> {
    let ids: Vec<TargetId> = fleet_ids(rt, run)?.into_iter().filter(|t| t.home).collect();
    let quiet = style.quiet;
    let reports = rt.block_on(run.each(ids, |t| async move {
        let id = t.id.clone();
        let progress = move |m: &str| {
            if !quiet {
                eprintln!("{id}: {m}")
            }
        };
        secmon_engine::backtest::backtest(&t.spec, &*t.cloud, window, &progress).await
    }));
    let rows = report::status_rows(&reports, |report: &secmon_engine::backtest::BacktestReport| {
        let matched: u64 = report.monitors.iter().map(|m| m.returned).sum();
        format!("{matched} event(s) returned over {} monitor(s)", report.monitors.len())
    });
    let spec = &run.spec.state.name;
    match output {
        Format::Json => {
            let targets: Vec<serde_json::Value> = reports
                .iter()
                .map(|(t, r)| match r {
                    Ok(report) => serde_json::json!({"account": t.account, "region": t.region, "status": "ok", "report": report}),
                    Err(e) => serde_json::json!({"account": t.account, "region": t.region, "status": "failed", "error": e.to_string()}),
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({"spec": spec, "targets": targets})).expect("json"));
        }
        Format::Text => report::print_report_sections(&reports, &rows, style, |_, r| report::print_backtest(spec, r, style)),
    }
    report::finish(&rows, Outcome::Done)
}
