//! The `secmon` command: validate, plan, apply and destroy a secrets-monitoring pipeline.
//! Every error becomes a message and an exit code here, in one place.

mod commands;
mod interrupt;
mod markdown;
mod offline;
mod output;
mod render;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secmon_spec::{Diagnostic, Severity, SpecError};

use output::Style;

#[derive(Parser)]
#[command(name = "secmon", version, about = "Declarative AWS secret-access monitoring: validate, plan, apply.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colours: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// No progress lines: only errors, warnings and results.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NotifyTestArg {
    Topic,
    Alarm,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// How `plan` prints the plan.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlanFormat {
    /// For people, in terraform's conventions.
    Text,
    /// The plan as data (what `-o FILE` saves).
    Json,
    /// A pull-request comment: a summary table and a collapsible section per resource.
    Markdown,
}

/// `secmon permissions --for`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PermissionsFor {
    /// `plan`: read-only.
    Plan,
    /// `verify` and `backtest`: read-only.
    Verify,
    /// `verify --trigger` and `--notify-test`.
    Exercise,
    /// `apply` and `import`.
    Apply,
    /// `destroy`.
    Destroy,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spec file: syntax, fields, AWS naming rules, references. Exit 0 valid, 1 invalid.
    Validate {
        /// The spec file.
        #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
        file: PathBuf,
        /// Treat lint warnings as errors (exit 1): for CI, so that an alarm that cannot fire
        /// never merges.
        #[arg(long)]
        strict: bool,
        /// text for people, json for tools.
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Print the JSON Schema of the spec format (for editors: yaml-language-server, IDEs).
    Schema,
    /// Print the least-privilege IAM policy the identity running secmon needs for a spec
    /// (offline): read-only for plan and verify.
    Permissions {
        /// The spec file.
        #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
        file: PathBuf,
        /// The command the policy is for.
        #[arg(long = "for", value_enum, default_value = "apply")]
        phase: PermissionsFor,
    },
    /// Which events a filter pattern matches, and why near misses do not (offline; like grep:
    /// exit 0 when an event matched, 1 when none did, 2 on error).
    TestPattern {
        /// The filter pattern.
        #[arg(long, conflicts_with_all = ["file", "monitor"])]
        pattern: Option<String>,
        /// Take the pattern of a monitor of this spec (with --monitor).
        #[arg(short = 'f', long = "file", requires = "monitor")]
        file: Option<PathBuf>,
        /// The monitor (its `name`) whose pattern to test, with -f.
        #[arg(long, requires = "file")]
        monitor: Option<String>,
        #[command(flatten)]
        events: EventsArgs,
        /// text for people, json for tools.
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
        /// Explain every non-matching event, not only near misses.
        #[arg(long, conflicts_with = "count")]
        all: bool,
        /// Print only the number of matching events (like grep -c); the fastest mode: events
        /// that cannot match are not parsed.
        #[arg(short = 'c', long)]
        count: bool,
    },
    /// Replay events through every monitor of a spec: datapoints, alarm states, notifications.
    Simulate {
        /// The spec file.
        #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
        file: PathBuf,
        #[command(flatten)]
        events: EventsArgs,
        /// text for people, json for tools (CI).
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
    },
    /// What the spec's monitors can see, computed from their patterns and the trail's selection:
    /// event names watched or not recorded, the alarms each attack technique's records fire, and
    /// the ATT&CK ids covered (optionally as an ATT&CK Navigator layer). Offline.
    Coverage {
        /// The spec file.
        #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
        file: PathBuf,
        /// Attack techniques, each a file of its CloudTrail records (the Stratus Red Team
        /// detonation logs: one `aws.TACTIC.NAME.json` per technique), or directories of them.
        #[arg(long = "techniques", num_args = 1..)]
        techniques: Vec<String>,
        /// Write an ATT&CK Navigator layer (JSON) of the techniques covered to this file.
        #[arg(long = "navigator", value_name = "FILE")]
        navigator: Option<PathBuf>,
        /// text for people, json for tools (CI).
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Read live AWS state and show what apply would change. Never reads a secret's value.
    #[command(mut_arg("lock_timeout", |a| a.hide(true)))]
    Plan {
        #[command(flatten)]
        common: Common,
        /// text for people (terraform's conventions), json for tools (the plan as data),
        /// markdown for a pull-request comment.
        #[arg(long, value_enum, default_value = "text")]
        output: PlanFormat,
        /// Also write the plan as JSON to this file, for `secmon apply FILE`.
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of every resource the spec owns.
        #[arg(long)]
        destroy: bool,
        /// Plan only this resource (and what it depends on), e.g. `alarm.Secret is accessed`;
        /// repeatable. For exceptions (a repair), not routine changes: the rest of the spec is
        /// not applied.
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
    },
    /// Make AWS match the spec (or apply a saved plan, refused if live state moved since).
    Apply {
        /// A plan saved by `secmon plan -o FILE`.
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Apply only this resource (and what it depends on); repeatable. For exceptions: the
        /// rest of the spec is not applied. A saved plan carries its own targets.
        #[arg(long = "target", value_name = "ADDRESS", conflicts_with = "plan_file")]
        targets: Vec<String>,
        #[arg(long, hide = true)]
        fail_after_steps: Option<usize>,
    },
    /// Check the live pipeline link by link (the seeds' troubleshooting): exit 0 healthy,
    /// 1 a link is broken, 2 warnings only, 3 a subscription awaits its confirmation.
    #[command(mut_arg("lock_timeout", |a| a.hide(true)))]
    #[command(mut_arg("strict", |a| a.hide(true)))]
    Verify {
        #[command(flatten)]
        common: Common,
        /// text for people, json for tools.
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
        /// Send the confirmation e-mail again to pending subscriptions.
        #[arg(long)]
        resend_confirmation: bool,
        /// Read the secret once (this fires the alarm) and follow the event through each stage.
        #[arg(long)]
        trigger: bool,
        /// Seconds to wait for each stage of --trigger.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Send a test message to each topic (`topic`), or set each alarm to ALARM and back (`alarm`).
        #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "topic")]
        notify_test: Option<NotifyTestArg>,
    },
    /// Take over existing resources the spec describes, by tagging them as owned by the spec
    /// (a secret's value is kept); the next `plan` shows what `apply` would change in them.
    #[command(mut_arg("strict", |a| a.hide(true)))]
    Import {
        #[command(flatten)]
        common: Common,
        /// Addresses as `plan` shows them, e.g. `topic.SecurityAlarms`.
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Take resources that another spec owns too (that spec then no longer manages them).
        #[arg(long)]
        force: bool,
    },
    /// Break the apply lock of a spec whose apply crashed (the id is the one the refusal names).
    #[command(mut_arg("lock_timeout", |a| a.hide(true)))]
    #[command(mut_arg("strict", |a| a.hide(true)))]
    #[command(mut_arg("parallelism", |a| a.hide(true)))]
    ForceUnlock {
        #[command(flatten)]
        common: Common,
        /// The lock id the refusal named.
        id: String,
    },
    /// Delete every resource the spec owns, in reverse dependency order.
    #[command(mut_arg("strict", |a| a.hide(true)))]
    Destroy {
        #[command(flatten)]
        common: Common,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Days a deleted secret can still be restored (7-30).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(i64).range(7..=30))]
        recovery_window_days: i64,
        /// Also delete what holds audit evidence: the trail's bucket with its log files, the log
        /// group with the trail's events, and schedule the deletion of the spec's KMS key (after
        /// KMS's waiting period) without which the kept logs cannot be read.
        #[arg(long)]
        delete_logs: bool,
    },
    /// How often each alarm would have fired over the history the trail's log group holds: each
    /// monitor's pattern is run in CloudWatch Logs (FilterLogEvents, nothing downloaded in bulk),
    /// and the events it returns go through secmon's alarm evaluator.
    #[command(mut_arg("lock_timeout", |a| a.hide(true)))]
    #[command(mut_arg("strict", |a| a.hide(true)))]
    Backtest {
        #[command(flatten)]
        common: Common,
        /// Start of the window: a duration back from now (`30d`, `12h`, `90m`) or a time
        /// (`2026-11-01T00:00:00Z`).
        #[arg(long, default_value = "30d")]
        since: String,
        /// End of the window, in the same forms; default now.
        #[arg(long)]
        until: Option<String>,
        /// text for people, json for tools.
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Print a shell completion script: `secmon completions bash > /etc/bash_completion.d/secmon`
    /// (zsh, fish, powershell and elvish too).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Options shared by the commands that talk to AWS.
/// The events files `test-pattern` and `simulate` read.
#[derive(Args, Clone)]
struct EventsArgs {
    /// CloudTrail log files (gzipped or not), JSON arrays, JSON lines or text lines; `-` is
    /// stdin; a directory is every events file under it (`aws s3 sync` of a trail bucket).
    #[arg(long = "events", required = true, num_args = 1..)]
    events: Vec<String>,
    /// How to read the events files: auto (per file, from its first line), cloudtrail,
    /// json-lines or text.
    #[arg(long = "format", default_value = "auto", value_name = "FORMAT")]
    format: secmon_sim::events::Format,
}

#[derive(Args, Clone)]
struct Common {
    /// The spec file.
    #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
    file: PathBuf,
    /// AWS endpoint override (a local emulator); AWS_ENDPOINT_URL works too.
    #[arg(long, env = "SECMON_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Print the AWS API calls made, per operation.
    #[arg(long)]
    stats: bool,
    /// Attempts per AWS call before giving up (adaptive retries: backoff with jitter, slowing
    /// down when AWS throttles). Default 10, or AWS_MAX_ATTEMPTS / AWS_RETRY_MODE when set.
    #[arg(long, env = "SECMON_MAX_ATTEMPTS", value_parser = clap::value_parser!(u32).range(1..=50))]
    max_attempts: Option<u32>,
    /// Also write the live state read from AWS, as JSON (golden fixtures, bug reports).
    #[arg(long, hide = true)]
    live_out: Option<PathBuf>,
    /// Treat the spec's lint warnings as errors: plan and apply stop before showing or changing
    /// anything (exit 1). Warnings about live state (unconfirmed subscriptions) stay warnings.
    #[arg(long)]
    strict: bool,
    /// When another apply of the spec holds its lock, wait up to this many seconds for it
    /// (apply, destroy, import) instead of refusing at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    lock_timeout: u64,
    /// For a spec with `targets`: only this account, or this account in this region
    /// (ACCOUNT or ACCOUNT/REGION); repeat for several.
    #[arg(long = "account", value_name = "ACCOUNT[/REGION]")]
    accounts: Vec<String>,
    /// For a spec with `targets`: how many targets are read, planned and applied at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    parallelism: u64,
}

/// How a command ended. Every exit status secmon uses is decided here, in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Success: a valid spec, a plan without changes, a healthy pipeline, an event matched.
    Done,
    /// `plan --detailed-exitcode`: the plan has changes (Terraform's 2).
    PlanHasChanges,
    /// `verify`: a link of the pipeline is broken.
    LinkBroken,
    /// `verify`: warnings only.
    WarningsOnly,
    /// `verify`: nothing broken, but a subscription waits for its recipient's confirmation (as
    /// after a first apply): a deploy job passes with a warning, a scheduled job alerts.
    AwaitingConfirmation,
    /// `validate`: the spec has errors.
    Invalid,
    /// `test-pattern`: no event matched (grep's 1).
    NoMatch,
    /// `test-pattern`: the pattern or events could not be read (grep's 2).
    PatternError,
    /// Any error that ends a command ([`CliError`]).
    Error,
    /// An interrupt (Ctrl-C, SIGTERM) stopped the run; what was done is said (`interrupt`).
    Interrupted,
}

impl Outcome {
    fn code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::PlanHasChanges | Outcome::WarningsOnly | Outcome::PatternError => 2,
            Outcome::LinkBroken | Outcome::Invalid | Outcome::NoMatch | Outcome::Error => 1,
            Outcome::AwaitingConfirmation => 3,
            Outcome::Interrupted => interrupt::EXIT_INTERRUPTED,
        }
    }
}

/// Errors that end a command ([`Outcome::Error`]).
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Aws(#[from] secmon_aws::AwsError),
    #[error(transparent)]
    Step(#[from] secmon_apply::ApplyError),
    #[error(transparent)]
    Engine(#[from] secmon_engine::EngineError),
    #[error("{0}")]
    Refused(String),
    #[error("apply failed: {0}")]
    Apply(String),
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl CliError {
    /// What the user is told: the error, with the commands it suggests naming the spec file the
    /// user passed, quoted for the shell (issue 26, finding 19).
    fn message(&self, spec_file: Option<&Path>) -> String {
        match (self, spec_file) {
            // The engine's message, its `-f SPEC` placeholder made the file the user passed.
            (CliError::Engine(e @ secmon_engine::EngineError::Locked { .. }), Some(file)) => e.to_string().replacen(
                "force-unlock -f SPEC ",
                &format!("force-unlock -f {} ", output::shell_word(&file.display().to_string())),
                1,
            ),
            _ => self.to_string(),
        }
    }
}

impl Command {
    /// The spec file the command reads, if it reads one.
    fn spec_file(&self) -> Option<PathBuf> {
        match self {
            Command::Validate { file, .. }
            | Command::Permissions { file, .. }
            | Command::Simulate { file, .. }
            | Command::Coverage { file, .. } => Some(file.clone()),
            Command::TestPattern { file, .. } => file.clone(),
            Command::Backtest { common, .. }
            | Command::Verify { common, .. }
            | Command::Import { common, .. }
            | Command::Plan { common, .. }
            | Command::Apply { common, .. }
            | Command::ForceUnlock { common, .. }
            | Command::Destroy { common, .. } => Some(common.file.clone()),
            Command::Completions { .. } | Command::Schema => None,
        }
    }
}

/// Exit code of a usage error (a mistyped flag, a missing argument): BSD's `EX_USAGE`, apart
/// from 2, which means "changes" or "warnings only" (issue 26, item 2).
const EXIT_USAGE: u8 = 64;

/// Exit code when stdout was closed by its reader (`secmon test-pattern … | head -1`): what a
/// shell reports for a program SIGPIPE ends (128 + 13), as it does for grep.
const EXIT_CLOSED_PIPE: i32 = 141;

/// `print!` panics when stdout cannot be written; the hook turns exactly that panic into an
/// exit: quietly with [`EXIT_CLOSED_PIPE`] when the reader went away, with an error naming the
/// cause otherwise (a full disk), never a panic's backtrace and exit 101 (issue 26, finding 20).
fn exit_on_output_errors() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or_else(|| payload.downcast_ref::<&str>().copied());
        if let Some(why) = message.and_then(|m| m.strip_prefix("failed printing to stdout: ")) {
            if why.starts_with("Broken pipe") {
                std::process::exit(EXIT_CLOSED_PIPE);
            }
            eprintln!("Error: cannot write the output: {why}");
            std::process::exit(i32::from(Outcome::Error.code()));
        }
        default(info)
    }));
}

fn main() -> ExitCode {
    exit_on_output_errors();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output and are no error.
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let style = match cli.color {
        ColorChoice::Auto => Style { quiet: cli.quiet, ..Style::detect() },
        ColorChoice::Always => Style { color: true, quiet: cli.quiet },
        ColorChoice::Never => Style { color: false, quiet: cli.quiet },
    };
    let spec_file = cli.command.spec_file();
    let outcome = run(cli, style).unwrap_or_else(|e| {
        eprintln!("{} {}", style.red("Error:"), e.message(spec_file.as_deref()));
        match e {
            CliError::Interrupted(_) => Outcome::Interrupted,
            _ => Outcome::Error,
        }
    });
    ExitCode::from(outcome.code())
}

fn run(cli: Cli, style: Style) -> Result<Outcome, CliError> {
    match cli.command {
        Command::Validate { file, strict, output } => Ok(validate(&file, strict, output, style)),
        Command::Backtest { common, since, until, output } => {
            commands::backtest_cmd(&common, secmon_sim::heartbeat::load_spec(&common.file)?, (&since, until.as_deref()), output, style)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "secmon", &mut script);
            print!("{}", String::from_utf8_lossy(&script));
            Ok(Outcome::Done)
        }
        Command::Permissions { file, phase } => {
            let spec = secmon_sim::heartbeat::load_spec(&file)?;
            let phase = match phase {
                PermissionsFor::Plan => secmon_engine::permissions::Phase::Plan,
                PermissionsFor::Verify => secmon_engine::permissions::Phase::Verify,
                PermissionsFor::Exercise => secmon_engine::permissions::Phase::Exercise,
                PermissionsFor::Apply => secmon_engine::permissions::Phase::Apply,
                PermissionsFor::Destroy => secmon_engine::permissions::Phase::Destroy,
            };
            println!("{}", serde_json::to_string_pretty(&secmon_engine::permissions::policy(&spec, phase)).expect("policy"));
            Ok(Outcome::Done)
        }
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&secmon_spec::json_schema()).expect("schema"));
            Ok(Outcome::Done)
        }
        Command::TestPattern { pattern, file, monitor, events, output, all, count } => {
            Ok(offline::test_pattern(pattern, file, monitor, (events.events, events.format), output, (all, count), style))
        }
        Command::Simulate { file, events, output } => Ok(offline::simulate_cmd(file, (events.events, events.format), output, style)),
        Command::Coverage { file, techniques, navigator, output } => Ok(offline::coverage_cmd(file, &techniques, navigator, output, style)),
        Command::Verify { common, output, resend_confirmation, trigger, timeout, notify_test } => {
            let opts = secmon_verify::Options {
                resend_confirmation,
                trigger: trigger.then(|| std::time::Duration::from_secs(timeout)),
                notify_test: notify_test.map(|n| match n {
                    NotifyTestArg::Topic => secmon_verify::NotifyTest::Topic,
                    NotifyTestArg::Alarm => secmon_verify::NotifyTest::Alarm,
                }),
                progress: (!style.quiet)
                    .then(|| std::sync::Arc::new(|m: &str| eprintln!("{m}")) as std::sync::Arc<dyn Fn(&str) + Send + Sync>),
            };
            commands::verify_cmd(&common, secmon_sim::heartbeat::load_spec(&common.file)?, output, opts, style)
        }
        Command::Import { common, addresses, auto_approve, force } => {
            commands::import_cmd(&common, secmon_sim::heartbeat::load_spec(&common.file)?, &addresses, (auto_approve, force), style)
        }
        Command::Plan { common, output, out, detailed_exitcode, destroy, targets } => {
            let spec = secmon_sim::heartbeat::load_spec(&common.file)?;
            commands::plan_cmd(&common, spec, output, out.as_deref(), (detailed_exitcode, destroy), &targets, style)
        }
        Command::Apply { plan_file, common, auto_approve, targets, fail_after_steps } => {
            let spec = secmon_sim::heartbeat::load_spec(&common.file)?;
            commands::apply_cmd(&common, spec, plan_file.as_deref(), auto_approve, (&targets, fail_after_steps), style)
        }
        Command::ForceUnlock { common, id } => {
            commands::force_unlock_cmd(&common, secmon_sim::heartbeat::load_spec(&common.file)?, &id, style)
        }
        Command::Destroy { common, auto_approve, recovery_window_days, delete_logs } => {
            let spec = secmon_sim::heartbeat::load_spec(&common.file)?;
            commands::destroy_cmd(&common, spec, auto_approve, recovery_window_days, delete_logs, style)
        }
    }
}

/// Why `--target ADDRESS` is refused for a spec with `targets`.
const TARGET_WITH_TARGETS: &str =
    "--target ADDRESS is not supported with a spec with `targets` yet: narrow the run to accounts with --account ACCOUNT[/REGION]";

fn print_diagnostics(diags: &[Diagnostic], style: Style) {
    for d in diags {
        let sev = match d.severity {
            Severity::Error => style.red("error"),
            Severity::Warning => style.yellow("warning"),
        };
        let loc = style.bold(&d.locator());
        let field = if d.field.is_empty() { String::new() } else { format!("{}: ", d.field) };
        eprintln!("{loc}: {sev}: {field}{}", d.message);
        if let Some(h) = &d.hint {
            eprintln!("  {} {h}", style.cyan("hint:"));
        }
    }
}

fn validate(file: &std::path::Path, strict: bool, output: Format, style: Style) -> Outcome {
    // Every stage in one run: fields, references, then pattern syntax and lint on whatever part
    // of the spec could be read.
    let (spec, mut d) = secmon_sim::heartbeat::load_spec_partial(file);
    if let Some(spec) = &spec {
        d.extend(secmon_sim::lint::lint(spec));
        // Detection as code: each monitor's tests, over their events files (issue 25, item 5).
        d.extend(secmon_sim::lint::monitor_tests(spec));
    }
    d.sort_by_key(|x| (x.line, x.column));
    if strict {
        for x in &mut d {
            x.severity = Severity::Error;
        }
    }
    let (valid, diags) = (!d.iter().any(|x| x.severity == Severity::Error), d);
    match output {
        Format::Json => {
            let (errors, warnings): (Vec<_>, Vec<_>) = diags.iter().partition(|d| d.severity == Severity::Error);
            let out = serde_json::json!({
                "format_version": output::JSON_FORMAT_VERSION,
                "valid": valid,
                "file": file.display().to_string(),
                "errors": errors,
                "warnings": warnings,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        Format::Text => {
            print_diagnostics(&diags, style);
            if valid {
                println!("{} {} is valid", style.green("✓"), file.display());
            } else {
                let n = diags.iter().filter(|d| d.severity == Severity::Error).count();
                eprintln!("{} {} has {n} error(s)", style.red("✗"), file.display());
            }
        }
    }
    if valid {
        Outcome::Done
    } else {
        Outcome::Invalid
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Issue 13, item 10: every flag of every command says what it does in `--help`.
    #[test]
    fn every_argument_has_help() {
        let mut missing = Vec::new();
        let cli = Cli::command();
        for cmd in std::iter::once(&cli).chain(cli.get_subcommands()) {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !["help", "version"].contains(&a.get_id().as_str())) {
                if arg.get_help().is_none() {
                    missing.push(format!("{} --{}", cmd.get_name(), arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
