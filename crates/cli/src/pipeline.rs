//! plan, apply, destroy, import and verify on the terminal: arguments in, the engine's work
//! (`secmon-engine`), rendering and confirmation out. Nothing here decides what AWS should become.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use secmon_apply::{ApplyOptions, Event};
use secmon_aws::Aws;
use secmon_diff::{Action, Plan, PlanOptions};
use secmon_engine::Session;
use secmon_spec::Spec;

use crate::output::Style;
use crate::{print_diagnostics, CliError, Common, Format, Outcome, PlanFormat};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("tokio runtime")
}

/// The spec read against live AWS; the call counts are printed (with `--stats`) even when
/// reading fails, to show what was called and prove nothing was changed.
fn open(common: &Common, connected: Option<(Spec, Aws)>) -> Result<Session, CliError> {
    let spec = Spec::from_file(&common.file)?;
    secmon_engine::refuse_invalid_patterns(&spec)?;
    runtime().block_on(async {
        let (spec, aws) = match connected {
            Some(c) => c,
            None => connect(common, spec).await?,
        };
        let session = Session::open(spec, &aws).await.inspect_err(|_| {
            if common.stats {
                print_stats(&aws)
            }
        })?;
        if let Some(path) = &common.live_out {
            session.write_live(path)?;
        }
        Ok(session)
    })
}

fn print_stats(aws: &Aws) {
    let (calls, lock) = (aws.stats.snapshot(), aws.lock_stats.snapshot());
    // Columns as wide as their longest entry, so the table stays aligned whatever the names.
    let service = calls.iter().chain(&lock).map(|c| c.service.len()).max().unwrap_or(0);
    let operation = calls.iter().chain(&lock).map(|c| c.operation.len()).max().unwrap_or(0);
    let row = |c: &secmon_aws::CallCount| eprintln!("  {:<service$}  {:<operation$}  {:>5}", c.service, c.operation, c.calls);
    eprintln!("API calls: {} total, {} mutating", aws.stats.total(), aws.stats.mutating());
    calls.iter().for_each(row);
    if aws.lock_stats.total() > 0 {
        eprintln!("Apply lock: {} calls, {} mutating", aws.lock_stats.total(), aws.lock_stats.mutating());
        lock.iter().for_each(row);
    }
}

/// The connection a single-target command works through, and the spec as that target deploys
/// it: the configured account and region; for a spec with `targets`, the one target that
/// `--account` selects (verify, import, force-unlock work on one target at a time).
async fn connect(common: &Common, spec: Spec) -> Result<(Spec, Aws), CliError> {
    let Some(targets) = spec.state.targets.clone() else {
        let aws = Aws::connect_with(spec.state.region.as_deref(), common.endpoint_url.as_deref(), common.max_attempts).await?;
        return Ok((spec, aws));
    };
    let home = targets.regions.first().cloned().or_else(|| spec.state.region.clone());
    let base = Aws::connect_with(home.as_deref(), common.endpoint_url.as_deref(), common.max_attempts).await?;
    let ids = secmon_engine::fanout::targets(&base, &spec, &common.accounts).await.map_err(secmon_engine::EngineError::from)?;
    let [t] = &ids[..] else {
        let names: Vec<String> = ids.iter().map(ToString::to_string).collect();
        return Err(CliError::Refused(format!(
            "this command works on one target of a spec with `targets`: name it with --account ACCOUNT/REGION (targets: {})",
            names.join(", ")
        )));
    };
    let caller = base.account_id().await?;
    let accounts = secmon_engine::fanout::accounts(&base, &caller, &ids, &targets).await;
    let aws = secmon_engine::fanout::connect(&accounts[&t.account], t, &targets).await.map_err(secmon_engine::EngineError::from)?;
    Ok((secmon_engine::fanout::spec_for(&spec, t), aws))
}

/// Runs `command` on the spec read against AWS, then prints the call counts when asked,
/// whatever the outcome.
fn in_session(common: &Common, command: impl FnOnce(&Session) -> Result<Outcome, CliError>) -> Result<Outcome, CliError> {
    let s = open(common, None)?;
    let result = command(&s);
    with_stats(common, &s.aws, result)
}

/// [`in_session`] under the spec's apply lock, taken before the live state is read and released
/// whatever the outcome: two applies of one spec never interleave their writes.
fn in_locked_session(common: &Common, command: impl FnOnce(&Session) -> Result<Outcome, CliError>) -> Result<Outcome, CliError> {
    in_locked_session_then(common, false, command)
}

/// [`in_locked_session`]; with `remove_lock`, a command that succeeded also removes the spec's
/// lock group (`destroy`: nothing of the spec is left behind, issue 22 item 5).
fn in_locked_session_then(
    common: &Common,
    remove_lock: bool,
    command: impl FnOnce(&Session) -> Result<Outcome, CliError>,
) -> Result<Outcome, CliError> {
    let rt = runtime();
    let (spec, aws) = rt.block_on(connect(common, Spec::from_file(&common.file)?))?;
    let (name, timeout) = (&spec.state.name, common.lock_timeout);
    crate::interrupt::watch();
    let waiting = secmon_engine::lock::Lock::acquire_waiting(&aws, name, std::time::Duration::from_secs(timeout), |holder| {
        eprintln!("Waiting for the lock of spec `{name}`, held by {holder} (up to {timeout} s)...")
    });
    let lock = match rt.block_on(crate::interrupt::unless_interrupted(waiting)) {
        Some(lock) => lock.map_err(CliError::from),
        // A lock taken in the meantime is released by its drop (its lease stops being renewed).
        None => Err(CliError::Interrupted("while waiting for the lock; nothing was changed".into())),
    };
    let lock = with_stats_on_error(common, &aws, lock)?;
    if let Some(dead) = &lock.took_over {
        eprintln!("Took over the lock of spec `{name}` from {dead}: that apply stopped renewing its lease (killed or crashed); this run converges what it left.");
    }
    let mut spec = spec.clone();
    spec.state.recovering_since = lock.took_over_since;
    let opened = open(common, Some((spec, aws.clone())));
    // A failed read printed the call counts already (`open`); otherwise they follow the release.
    let read_failed = opened.is_err();
    let result = opened.and_then(|s| command(&s));
    let released = if remove_lock && matches!(result, Ok(Outcome::Done)) {
        rt.block_on(lock.release_and_remove())
    } else {
        rt.block_on(lock.release())
    };
    if common.stats && !read_failed {
        print_stats(&aws);
    }
    let outcome = result?;
    released?;
    Ok(outcome)
}

/// Prints the call counts when asked and `result` is an error (a command that ends here).
fn with_stats_on_error<T>(common: &Common, aws: &Aws, result: Result<T, CliError>) -> Result<T, CliError> {
    if result.is_err() && common.stats {
        print_stats(aws);
    }
    result
}

/// `secmon force-unlock`: breaks the lock of a crashed apply, named by the id its refusal gave.
pub fn force_unlock_cmd(common: &Common, id: &str, style: Style) -> Result<Outcome, CliError> {
    let rt = runtime();
    let (spec, aws) = rt.block_on(connect(common, Spec::from_file(&common.file)?))?;
    rt.block_on(secmon_engine::lock::force_unlock(&aws, &spec.state.name, id))?;
    println!("{} the lock of spec `{}` is released.", style.green("Unlocked:"), spec.state.name);
    Ok(Outcome::Done)
}

/// Prints the spec's warnings and lint; with `--strict`, refuses to go on when there are any.
pub(crate) fn lint_gate(common: &Common, spec: &secmon_spec::Spec, style: Style) -> Result<(), CliError> {
    let mut diags = spec.warnings.clone();
    diags.extend(secmon_sim::lint::lint(spec));
    print_diagnostics(&diags, style);
    if common.strict && !diags.is_empty() {
        return Err(CliError::Refused(format!(
            "--strict: the spec has {} warning(s) (above); nothing was changed. Fix them, or run without --strict",
            diags.len()
        )));
    }
    Ok(())
}

/// Prints the call counts when asked, whatever the command's outcome.
fn with_stats<T>(common: &Common, aws: &Aws, result: Result<T, CliError>) -> Result<T, CliError> {
    if common.stats {
        print_stats(aws);
    }
    result
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

pub fn plan_cmd(
    common: &Common,
    output: PlanFormat,
    out: Option<&Path>,
    (detailed, destroy): (bool, bool),
    targets: &[String],
    style: Style,
) -> Result<Outcome, CliError> {
    in_session(common, |s| {
        lint_gate(common, &s.spec, style)?;
        let plan = narrowed(s.plan(PlanOptions { destroy, delete_logs: false })?, targets, style)?;
        print_diagnostics(&secmon_engine::unconfirmed(&s.spec, &plan), style);
        let json = serde_json::to_string_pretty(&plan).expect("plan json");
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
                common.file.display(),
                path.display()
            );
        }
        Ok(if detailed && plan.has_changes() { Outcome::PlanHasChanges } else { Outcome::Done })
    })
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
        Err(CliError::Refused(format!("{what}: cancelled")))
    }
}

/// What a step is doing (as it starts) and what completed (as it ends), terraform's words.
pub(crate) fn verbs(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("Creating...", "Creation"),
        Action::Update => ("Modifying...", "Modifications"),
        Action::Replace => ("Replacing...", "Replacement"),
        Action::Delete => ("Destroying...", "Destruction"),
        Action::NoOp => ("Checking...", "Check"),
    }
}

/// Prints each step of an apply as it starts, ends, fails or is skipped.
fn progress(style: Style) -> Arc<dyn Fn(&Event) + Send + Sync> {
    Arc::new(move |e: &Event| match e {
        Event::Started { .. } | Event::Done { .. } if style.quiet => {}
        Event::Started { address, action } => println!("{address}: {}", verbs(*action).0),
        Event::Done { address, action, seconds } => {
            println!("{address}: {} after {seconds:.1}s", style.green(&format!("{} complete", verbs(*action).1)));
        }
        Event::Failed { error, .. } => eprintln!("{} {error}", style.red("Error:")),
        Event::Skipped { address, because } => {
            println!("{address}: skipped (depends on failed {because})")
        }
    })
}

fn run_apply(s: &Session, plan: &Plan, opts: ApplyOptions, style: Style) -> Result<Outcome, CliError> {
    secmon_engine::preflight(plan, &opts)?;
    if !plan.has_changes() {
        println!("{} Nothing to do.", style.green("No changes."));
        return Ok(Outcome::Done);
    }
    let opts = ApplyOptions { interrupt: Some(crate::interrupt::watch()), ..opts };
    let report = runtime().block_on(secmon_apply::apply(Arc::new(s.cloud()), plan, opts, progress(style)));
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

pub(crate) fn apply_options(common: &Common, recovery_window_days: i64, fail_after_steps: Option<usize>) -> ApplyOptions {
    ApplyOptions {
        spec_dir: common.file.parent().map(Path::to_path_buf).unwrap_or_default(),
        recovery_window_days,
        fail_after_steps,
        ..ApplyOptions::default()
    }
}

pub fn apply_cmd(
    common: &Common,
    plan_file: Option<&Path>,
    auto_approve: bool,
    (targets, fail_after_steps): (&[String], Option<usize>),
    style: Style,
) -> Result<Outcome, CliError> {
    let opts = apply_options(common, 7, fail_after_steps);
    in_locked_session(common, |s| {
        // Apply says what lint says, every time: an alarm that cannot fire is not deployed
        // silently (and not at all with --strict).
        lint_gate(common, &s.spec, style)?;
        let fresh = s.plan(PlanOptions::default())?;
        if let Some(path) = plan_file {
            // The saved plan was reviewed: apply it without asking again, if it still holds.
            let saved = secmon_engine::load_plan(path)?;
            let fresh = if saved.targets.is_empty() { fresh } else { fresh.targeted(&saved.targets).map_err(CliError::Refused)? };
            secmon_engine::check_reviewed(&saved, &fresh, path)?;
            return run_apply(s, &saved, opts, style);
        }
        let fresh = narrowed(fresh, targets, style)?;
        print!("{}", crate::render::plan_text(&fresh, style));
        // Ask only when the apply could run: a missing value source fails before the question.
        secmon_engine::preflight(&fresh, &opts)?;
        if fresh.has_changes() {
            confirm(auto_approve, "perform these actions")?;
        }
        run_apply(s, &fresh, opts, style)
    })
}

pub fn destroy_cmd(
    common: &Common,
    auto_approve: bool,
    recovery_window_days: i64,
    delete_logs: bool,
    style: Style,
) -> Result<Outcome, CliError> {
    in_locked_session_then(common, true, |s| {
        let plan = s.plan(PlanOptions { destroy: true, delete_logs })?;
        print!("{}", crate::render::plan_text(&plan, style));
        if plan.has_changes() {
            confirm(auto_approve, "destroy these resources")?;
        }
        run_apply(s, &plan, apply_options(common, recovery_window_days, None), style)
    })
}

pub fn verify_cmd(common: &Common, output: Format, opts: secmon_verify::Options, style: Style) -> Result<Outcome, CliError> {
    use secmon_verify::Status;
    let spec = Spec::from_file(&common.file)?;
    if opts.trigger.is_some() {
        if let Some(s) = spec.state.secrets.first() {
            eprintln!("{} --trigger reads secret {} once: this fires its alarm and notifies its topics.", style.yellow("Note:"), s.name);
        }
    }
    let rt = runtime();
    let (spec, aws) = rt.block_on(connect(common, spec))?;
    let report = with_stats(common, &aws, rt.block_on(secmon_engine::verify(&spec, &aws, &opts)).map_err(CliError::from))?;
    let outcome = match report.worst() {
        Status::Failed => Outcome::LinkBroken,
        Status::Warning => Outcome::WarningsOnly,
        _ => Outcome::Done,
    };
    match output {
        Format::Json => {
            let v = serde_json::json!({"status": report.worst(), "exit_code": outcome.code(), "checks": report.checks});
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => print!("{}", crate::render::verify_text(&report, style)),
    }
    Ok(outcome)
}

pub fn import_cmd(common: &Common, addresses: &[String], (auto_approve, force): (bool, bool), style: Style) -> Result<Outcome, CliError> {
    in_session(common, |s| {
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
        let rt = runtime();
        for (l, d) in &selection.take {
            rt.block_on(secmon_apply::adopt(&s.cloud(), &s.state.name, l, d))?;
            println!("{}: {}", l.address(), style.green("imported"));
        }
        println!("Run `secmon plan` to see what `apply` will change in them.");
        Ok(Outcome::Done)
    })
}

/// A backtest report, as text.
pub(crate) fn print_backtest(spec_name: &str, report: &secmon_engine::backtest::BacktestReport, style: Style) {
    println!(
        "Backtest of `{}` over {} to {} (log group {}):\n",
        spec_name,
        secmon_sim::events::format_time(report.since),
        secmon_sim::events::format_time(report.until),
        report.log_group
    );
    for m in &report.monitors {
        println!("{} event(s) returned by CloudWatch Logs for this monitor's pattern", m.returned);
        crate::offline::render_monitor(&m.report, style);
        for d in &m.disagreements {
            println!("  {} AWS matched it, secmon's engine does not: {d}", style.red("engine disagreement:"));
        }
    }
    if !report.pushed_down {
        println!("{} a local emulator applies term patterns only; secmon's engine judged every event it returned.", style.yellow("Note:"));
    }
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

pub fn backtest_cmd(common: &Common, (since, until): (&str, Option<&str>), output: Format, style: Style) -> Result<Outcome, CliError> {
    let spec = Spec::from_file(&common.file)?;
    secmon_engine::refuse_invalid_patterns(&spec)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let window = (moment(since, now)?, until.map(|u| moment(u, now)).transpose()?.unwrap_or(now));
    if window.0 >= window.1 {
        return Err(CliError::Refused(format!("the window is empty: --since {since} is not before --until")));
    }
    if spec.state.targets.is_some() && !crate::fanout::names_one_target(common) {
        return crate::fanout::backtest_all(common, &spec, window, output, style);
    }
    let quiet = style.quiet;
    runtime().block_on(async {
        let (spec, aws) = connect(common, spec).await?;
        let progress = move |m: &str| {
            if !quiet {
                eprintln!("{m}")
            }
        };
        let report = secmon_engine::backtest::backtest_aws(&spec, &aws, window, &progress).await;
        if common.stats {
            print_stats(&aws);
        }
        let report = report?;
        match output {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report).expect("json")),
            Format::Text => print_backtest(&spec.state.name, &report, style),
        }
        Ok(Outcome::Done)
    })
}
