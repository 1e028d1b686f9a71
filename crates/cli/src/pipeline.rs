//! plan, apply and destroy: spec → live state → plan → (confirmation) → apply.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use secmon_apply::{ApplyOptions, Event};
use secmon_aws::Aws;
use secmon_diff::{Action, DesiredState, LiveState, Plan, PlanOptions, Resource, Target};
use secmon_kinds::{Cloud, SdkCloud};
use secmon_spec::Spec;

use crate::output::Style;
use crate::{print_diagnostics, CliError, Common, Format};

struct Prepared {
    spec: Spec,
    aws: Aws,
    plan: Plan,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn prepare(common: &Common, opts: PlanOptions) -> Result<Prepared, CliError> {
    let spec = Spec::from_file(&common.file)?;
    // A pattern AWS would refuse is a spec error: stop before calling AWS.
    let lint_errors: Vec<_> = secmon_sim::lint::lint(&spec)
        .into_iter()
        .filter(|d| d.severity == secmon_spec::Severity::Error)
        .collect();
    if !lint_errors.is_empty() {
        return Err(secmon_spec::SpecError::Invalid(lint_errors).into());
    }
    let aws = Aws::connect(spec.state.region.as_deref(), common.endpoint_url.as_deref()).await?;
    match plan_with(&spec, &aws, opts, common.live_out.as_deref()).await {
        Ok(plan) => Ok(Prepared { spec, aws, plan }),
        Err(e) => {
            // Show what was called even when planning fails (and prove nothing was changed).
            if common.stats {
                print_stats(&aws);
            }
            Err(e)
        }
    }
}

/// The resolved desired state, its resources, and what AWS holds of them.
async fn read_state(spec: &Spec, aws: &Aws, live_out: Option<&Path>) -> Result<(DesiredState, Vec<Resource>, LiveState), CliError> {
    let account_id = aws.account_id().await?;
    let state = spec.state.resolve(&account_id, &aws.region)?;
    let target = Target {
        account_id,
        region: aws.region.clone(),
    };
    let wanted = secmon_diff::desired_resources(&state, &target);
    let live = SdkCloud::new(aws.clone()).read(&state.name, &target, &wanted).await?;
    if let Some(path) = live_out {
        std::fs::write(path, serde_json::to_string_pretty(&live).expect("live state json")).map_err(|e| CliError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok((state, wanted, live))
}

async fn plan_with(spec: &Spec, aws: &Aws, opts: PlanOptions, live_out: Option<&Path>) -> Result<Plan, CliError> {
    let (state, wanted, live) = read_state(spec, aws, live_out).await?;
    Ok(secmon_diff::plan(&state.name, &wanted, &live, opts)?)
}

/// Lint that needs live state: monitors whose topics have no confirmed e-mail subscriber yet.
fn unconfirmed(p: &Prepared) -> Vec<secmon_spec::Diagnostic> {
    let mut out = Vec::new();
    for (i, m) in p.spec.state.monitors.iter().enumerate() {
        if !m.notify.is_empty() && !m.notify.iter().any(|t| p.plan.topic_has_confirmed_subscriber(t)) {
            out.push(p.spec.diagnostic(
                secmon_spec::Severity::Warning,
                &format!("monitors[{i}].notify"),
                format!(
                    "no topic of this monitor ({}) has a confirmed e-mail subscriber: its alarm would notify nobody",
                    m.notify.join(", ")
                ),
                Some("confirm the subscription from the \"AWS Notification - Subscription Confirmation\" e-mail".into()),
            ));
        }
    }
    out
}

fn print_stats(aws: &Aws) {
    let snap = aws.stats.snapshot();
    eprintln!("API calls: {} total, {} mutating", aws.stats.total(), aws.stats.mutating());
    for c in snap {
        eprintln!("  {:<16} {:<36} {}", c.service, c.operation, c.calls);
    }
}

pub fn plan_cmd(
    common: &Common,
    output: Format,
    out: Option<&Path>,
    detailed: bool,
    destroy: bool,
    style: Style,
) -> Result<ExitCode, CliError> {
    let p = runtime().block_on(prepare(
        common,
        PlanOptions {
            destroy,
            delete_logs: false,
        },
    ))?;
    print_diagnostics(&p.spec.warnings, style);
    print_diagnostics(&secmon_sim::lint::lint(&p.spec), style);
    print_diagnostics(&unconfirmed(&p), style);
    match output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&p.plan).expect("plan json")),
        Format::Text => print!("{}", crate::render::plan_text(&p.plan, style)),
    }
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(&p.plan).expect("plan json");
        std::fs::write(path, text).map_err(|e| CliError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        eprintln!(
            "Saved the plan to {}; apply exactly it with: secmon apply -f {} {}",
            path.display(),
            common.file.display(),
            path.display()
        );
    }
    if common.stats {
        print_stats(&p.aws);
    }
    Ok(if detailed && p.plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn confirm(auto_approve: bool, what: &str) -> Result<(), CliError> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Refused(format!(
            "refusing to {what} without confirmation: no terminal to ask on; pass --auto-approve"
        )));
    }
    print!("\nDo you want to {what}? Only 'yes' will be accepted: ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::Refused(format!("{what}: cancelled")))
    }
}

/// Bad input (a value source that cannot be read) stops the apply before anything changes.
fn check_inputs(plan: &Plan, opts: &ApplyOptions) -> Result<(), CliError> {
    let errors = secmon_apply::preflight(plan, opts);
    if errors.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    Err(CliError::Refused(format!("{}\nnothing was changed", list.join("\n"))))
}

fn run_apply(p: &Prepared, common: &Common, opts: ApplyOptions, style: Style) -> Result<ExitCode, CliError> {
    check_inputs(&p.plan, &opts)?;
    if !p.plan.has_changes() {
        println!("{} Nothing to do.", style.green("No changes."));
        if common.stats {
            print_stats(&p.aws);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress: Arc<dyn Fn(&Event) + Send + Sync> = Arc::new(move |e: &Event| match e {
        Event::Started { address, action } => {
            let verb = match action {
                Action::Create => "Creating...",
                Action::Update => "Modifying...",
                Action::Replace => "Replacing...",
                Action::Delete => "Destroying...",
                Action::NoOp => "Checking...",
            };
            println!("{address}: {verb}");
        }
        Event::Done { address, action, seconds } => {
            let verb = match action {
                Action::Create => "Creation",
                Action::Update => "Modifications",
                Action::Replace => "Replacement",
                Action::Delete => "Destruction",
                Action::NoOp => "Check",
            };
            println!("{address}: {} after {seconds:.1}s", style.green(&format!("{verb} complete")));
        }
        Event::Failed { error, .. } => eprintln!("{} {error}", style.red("Error:")),
        Event::Skipped { address, because } => {
            println!("{address}: skipped (depends on failed {because})")
        }
    });
    let report = runtime().block_on(secmon_apply::apply(Arc::new(SdkCloud::new(p.aws.clone())), &p.plan, opts, progress));
    if common.stats {
        print_stats(&p.aws);
    }
    let failed = report.failed();
    if failed.is_empty() {
        println!(
            "\n{} {} added, {} changed, {} destroyed.",
            style.green("Apply complete!"),
            p.plan.count(Action::Create),
            p.plan.count(Action::Update) + p.plan.count(Action::Replace),
            p.plan.count(Action::Delete)
        );
        Ok(ExitCode::SUCCESS)
    } else {
        let skipped = report.outcomes.len() - report.done() - failed.len();
        let roots: Vec<String> = failed.iter().map(|(a, _)| a.to_string()).collect();
        Err(CliError::Apply(format!(
            "{} step(s) failed ({}), {skipped} skipped; {} done. Run `secmon apply` again once fixed: it converges from here.",
            failed.len(),
            roots.join(", "),
            report.done()
        )))
    }
}

fn apply_options(common: &Common, recovery_window_days: i64, fail_after_steps: Option<usize>) -> ApplyOptions {
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
    fail_after_steps: Option<usize>,
    style: Style,
) -> Result<ExitCode, CliError> {
    let p = runtime().block_on(prepare(common, PlanOptions::default()))?;
    print_diagnostics(&p.spec.warnings, style);
    if let Some(path) = plan_file {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let saved: Plan = serde_json::from_str(&text).map_err(|e| CliError::File {
            path: path.display().to_string(),
            message: format!("not a secmon plan: {e}"),
        })?;
        if saved.format_version != secmon_diff::FORMAT_VERSION {
            return Err(CliError::Refused(format!(
                "{}: plan format {} is not {}",
                path.display(),
                saved.format_version,
                secmon_diff::FORMAT_VERSION
            )));
        }
        if saved.change_set() != p.plan.change_set() {
            return Err(CliError::Refused(format!(
                "{}: live state or the spec changed since this plan was made; nothing was applied. Run `secmon plan` again.",
                path.display()
            )));
        }
        // The saved plan was reviewed: apply it without asking again.
        let reviewed = Prepared {
            spec: p.spec,
            aws: p.aws,
            plan: saved,
        };
        return run_apply(&reviewed, common, apply_options(common, 7, fail_after_steps), style);
    }
    print!("{}", crate::render::plan_text(&p.plan, style));
    // Ask only when the apply could run: a missing value source fails before the question.
    check_inputs(&p.plan, &apply_options(common, 7, fail_after_steps)).inspect_err(|_| {
        if common.stats {
            print_stats(&p.aws)
        }
    })?;
    if p.plan.has_changes() {
        confirm(auto_approve, "perform these actions").inspect_err(|_| {
            if common.stats {
                print_stats(&p.aws)
            }
        })?;
    }
    run_apply(&p, common, apply_options(common, 7, fail_after_steps), style)
}

pub fn destroy_cmd(
    common: &Common,
    auto_approve: bool,
    recovery_window_days: i64,
    delete_logs: bool,
    style: Style,
) -> Result<ExitCode, CliError> {
    let p = runtime().block_on(prepare(
        common,
        PlanOptions {
            destroy: true,
            delete_logs,
        },
    ))?;
    print!("{}", crate::render::plan_text(&p.plan, style));
    if p.plan.has_changes() {
        confirm(auto_approve, "destroy these resources")?;
    }
    run_apply(&p, common, apply_options(common, recovery_window_days, None), style)
}

pub fn verify_cmd(common: &Common, output: Format, opts: secmon_verify::Options, style: Style) -> Result<ExitCode, CliError> {
    let spec = Spec::from_file(&common.file)?;
    if opts.trigger.is_some() {
        if let Some(s) = spec.state.secrets.first() {
            eprintln!(
                "{} --trigger reads secret {} once: this fires its alarm and notifies its topics.",
                style.yellow("Note:"),
                s.name
            );
        }
    }
    let rt = runtime();
    let (report, aws) = rt.block_on(async {
        let aws = Aws::connect(spec.state.region.as_deref(), common.endpoint_url.as_deref()).await?;
        let account_id = aws.account_id().await?;
        let state = spec.state.resolve(&account_id, &aws.region)?;
        let target = Target {
            account_id: account_id.clone(),
            region: aws.region.clone(),
        };
        let mut report = secmon_verify::verify(&SdkCloud::new(aws.clone()), &state, &target, &opts).await?;
        report
            .checks
            .extend(secmon_verify::exercise(&aws, &state, &account_id, &opts).await);
        Ok::<_, CliError>((report, aws))
    })?;
    match output {
        Format::Json => {
            let v = serde_json::json!({"status": report.worst(), "exit_code": report.exit_code(), "checks": report.checks});
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => {
            for c in &report.checks {
                let status = match c.status {
                    secmon_verify::Status::Ok => style.green("ok"),
                    secmon_verify::Status::NotObservable => style.dim("n/a"),
                    secmon_verify::Status::Warning => style.yellow("warning"),
                    secmon_verify::Status::Failed => style.red("FAILED"),
                };
                println!("{status:<8} {:<32} {:<40} {}", c.id, c.subject, c.evidence);
                if let Some(f) = &c.fix {
                    if c.status >= secmon_verify::Status::Warning {
                        println!("{:<8} {} {f}", "", style.cyan("fix:"));
                    }
                }
            }
            let count = |s| report.checks.iter().filter(|c| c.status == s).count();
            println!(
                "\n{} ok, {} not observable, {} warning(s), {} failed",
                count(secmon_verify::Status::Ok),
                count(secmon_verify::Status::NotObservable),
                count(secmon_verify::Status::Warning),
                count(secmon_verify::Status::Failed)
            );
        }
    }
    if common.stats {
        print_stats(&aws);
    }
    Ok(ExitCode::from(report.exit_code()))
}

pub fn import_cmd(common: &Common, addresses: &[String], auto_approve: bool, style: Style) -> Result<ExitCode, CliError> {
    let spec = Spec::from_file(&common.file)?;
    let rt = runtime();
    let (aws, state, wanted, live) = rt.block_on(async {
        let aws = Aws::connect(spec.state.region.as_deref(), common.endpoint_url.as_deref()).await?;
        let (state, wanted, live) = read_state(&spec, &aws, common.live_out.as_deref()).await?;
        Ok::<_, CliError>((aws, state, wanted, live))
    })?;
    let mut todo = Vec::new();
    for a in addresses {
        let Some(d) = wanted.iter().find(|r| &r.address() == a) else {
            let known: Vec<String> = wanted.iter().map(|r| r.address()).collect();
            return Err(CliError::Refused(format!(
                "{a}: the spec describes no such resource (addresses: {})",
                known.join(", ")
            )));
        };
        match live.resources.get(a) {
            None => {
                return Err(CliError::Refused(format!(
                    "{a} does not exist in AWS: `secmon apply` creates it, nothing to import"
                )))
            }
            Some(l) if l.owned => println!("{a}: already owned by spec `{}`", state.name),
            Some(l) => todo.push((l.resource.clone(), d.clone())),
        }
    }
    if todo.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for (l, _) in &todo {
        println!("{} {} will be tagged secmon:spec={}", style.yellow("~"), l.address(), state.name);
    }
    confirm(auto_approve, "take these resources over")?;
    for (l, d) in &todo {
        rt.block_on(secmon_apply::adopt(&SdkCloud::new(aws.clone()), &state.name, l, d))?;
        println!("{}: {}", l.address(), style.green("imported"));
    }
    println!("Run `secmon plan` to see what `apply` will change in them.");
    if common.stats {
        print_stats(&aws);
    }
    Ok(ExitCode::SUCCESS)
}
