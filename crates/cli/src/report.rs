//! How a run over the targets of a spec with `targets` is shown: one section per target, then
//! a summary table (account, region, counts, status); and a backtest report. Rendering only.

use secmon_diff::{Action, Plan};
use secmon_engine::fanout::TargetId;
use secmon_engine::EngineError;

use crate::output::Style;
use crate::{CliError, Outcome};

/// What happened to one target, for the summary table.
pub struct Row {
    pub target: TargetId,
    pub counts: Option<(usize, usize, usize)>,
    pub status: String,
    pub failed: bool,
}

impl Row {
    pub fn status(target: TargetId, status: String) -> Row {
        Row { target, counts: None, status, failed: false }
    }

    /// A target that failed, with the first line of why (without the target, already in the row).
    pub fn failed(target: TargetId, error: &str) -> Row {
        let e = first_line(error);
        let e = e.strip_prefix(&format!("{target}: ")).unwrap_or(e).to_string();
        Row { target, counts: None, status: format!("failed: {e}"), failed: true }
    }
}

fn first_line(e: &str) -> &str {
    e.lines().next().unwrap_or(e)
}

fn counts(p: &Plan) -> (usize, usize, usize) {
    (p.count(Action::Create) + p.count(Action::Replace), p.count(Action::Update), p.count(Action::Delete) + p.count(Action::Replace))
}

/// A row per planned target: its counts and whether it has changes, or why it has no plan.
pub fn plan_rows(planned: &[(TargetId, Result<&Plan, String>)]) -> Vec<Row> {
    planned
        .iter()
        .map(|(t, p)| match p {
            Ok(plan) => Row {
                target: t.clone(),
                counts: Some(counts(plan)),
                status: if plan.has_changes() { "changes".into() } else { "no changes".into() },
                failed: false,
            },
            Err(e) => Row::failed(t.clone(), e),
        })
        .collect()
}

/// Sets the status of `target`'s row (a row already failed keeps its failure).
pub fn set_status(rows: &mut [Row], target: &TargetId, status: Result<String, String>) {
    if let Some(row) = rows.iter_mut().find(|r| &r.target == target && !r.failed) {
        match status {
            Ok(s) => row.status = s,
            Err(e) => {
                row.status = format!("failed: {e}");
                row.failed = true;
            }
        }
    }
}

/// One target's apply (or destroy) in words: applied (destroyed), interrupted, failed, or nothing to do.
pub fn applied_status(report: &secmon_apply::Report, had_changes: bool, destroying: bool) -> Result<String, String> {
    let failed = report.failed();
    if !had_changes {
        Ok("no changes".to_string())
    } else if !report.not_started().is_empty() {
        Err(format!("interrupted: {} done, {} not started", report.done(), report.not_started().len()))
    } else if failed.is_empty() {
        Ok(format!("{} ({} done)", if destroying { "destroyed" } else { "applied" }, report.done()))
    } else {
        let roots: Vec<String> = failed.iter().map(|(a, _)| a.to_string()).collect();
        Err(format!("{} step(s) failed ({})", failed.len(), roots.join(", ")))
    }
}

fn section_title(t: &TargetId) -> String {
    format!("── target {t} {}", if t.home { "(home region)" } else { "(secrets only)" })
}

pub fn print_plan_sections(planned: &[(TargetId, Result<&Plan, String>)], style: Style) {
    for (t, p) in planned {
        println!("{}", style.bold(&section_title(t)));
        match p {
            Ok(plan) => print!("{}", crate::render::plan_text(plan, style)),
            Err(e) => println!("{} {e}", style.red("Error:")),
        }
        println!();
    }
}

pub fn print_summary(rows: &[Row], style: Style) {
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

/// The run's outcome: failed targets make it an error, saying how many.
pub fn finish(rows: &[Row], changes_outcome: Outcome) -> Result<Outcome, CliError> {
    let failed = rows.iter().filter(|r| r.failed).count();
    if failed > 0 {
        return Err(CliError::Refused(format!("{failed} of {} targets failed (above); the others ran", rows.len())));
    }
    Ok(changes_outcome)
}

/// A summary row per target: `ok` says what a report holds.
pub fn status_rows<T>(reports: &[(TargetId, Result<T, EngineError>)], ok: impl Fn(&T) -> String) -> Vec<Row> {
    reports
        .iter()
        .map(|(t, r)| match r {
            Ok(report) => Row::status(t.clone(), ok(report)),
            Err(e) => Row::failed(t.clone(), &e.to_string()),
        })
        .collect()
}

/// One section per target (`render` prints a report), then the summary of `rows`.
pub fn print_report_sections<T>(
    reports: &[(TargetId, Result<T, EngineError>)],
    rows: &[Row],
    style: Style,
    render: impl Fn(&TargetId, &T),
) {
    for (t, r) in reports {
        println!("{}", style.bold(&section_title(t)));
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

/// A backtest report, as text.
pub fn print_backtest(spec_name: &str, report: &secmon_engine::backtest::BacktestReport, style: Style) {
    println!(
        "Backtest of `{}` over {} to {} (log group {}):\n",
        spec_name,
        secmon_sim::events::format_time(report.since),
        secmon_sim::events::format_time(report.until),
        report.log_group
    );
    // An empty log group proves nothing about the alarms (issue 26, finding 30).
    if report.stored_bytes == 0 && report.monitors.iter().all(|m| m.returned == 0) {
        println!(
            "{} no event was returned and the log group reports nothing stored (the log group holds no events yet, or its count lags behind fresh ones): there was nothing to replay, so \"never fires\" below says nothing about the alarms.\n",
            style.yellow("Note:")
        );
    }
    for m in &report.monitors {
        println!("{} event(s) returned by CloudWatch Logs for this monitor's pattern", m.returned);
        crate::offline::render_monitor(&m.report, style);
        for d in &m.disagreements {
            println!("  {} AWS matched it, secmon's engine does not: {d}", style.red("engine disagreement:"));
        }
    }
    for r in report.readers.iter().filter(|r| !r.principals.is_empty()) {
        println!("{} of secret {} over the window:", style.bold("Readers"), r.secret);
        for (who, n) in &r.principals {
            let mark = if r.unexpected.contains(who) { style.red(" (not in readers: SECRET-READ-UNEXPECTED)") } else { String::new() };
            println!("  {who}  {n} read(s){mark}");
        }
        let quoted: Vec<String> = r.principals.keys().map(|p| format!("{p:?}")).collect();
        println!("  as the spec's list: readers: [{}]\n", quoted.join(", "));
    }
    if !report.pushed_down {
        println!("{} a local emulator applies term patterns only; secmon's engine judged every event it returned.", style.yellow("Note:"));
    }
}
