//! The `secmon` command: validate, plan, apply and destroy a secrets-monitoring pipeline.
//! Every error becomes a message and an exit code here, in one place.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use secmon_spec::{Diagnostic, Severity, Spec, SpecError};

use output::Style;

#[derive(Parser)]
#[command(
    name = "secmon",
    version,
    about = "Declarative AWS secret-access monitoring: validate, plan, apply."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spec file: syntax, fields, AWS naming rules, references. Exit 0 valid, 1 invalid.
    Validate {
        /// The spec file.
        #[arg(short = 'f', long = "file", default_value = "secmon.yaml")]
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        output: Format,
    },
    /// Print the JSON Schema of the spec format (for editors: yaml-language-server, IDEs).
    Schema,
}

/// Errors that end a command, each with its exit code.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Spec(#[from] SpecError),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        1
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::detect();
    match run(cli, style) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{} {e}", style.red("Error:"));
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli, style: Style) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Validate { file, output } => Ok(validate(&file, output, style)),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&secmon_spec::json_schema()).expect("schema")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic], style: Style) {
    for d in diags {
        let sev = match d.severity {
            Severity::Error => style.red("error"),
            Severity::Warning => style.yellow("warning"),
        };
        let loc = style.bold(&format!("{}:{}:{}", d.file, d.line, d.column));
        let field = if d.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", d.field)
        };
        eprintln!("{loc}: {sev}: {field}{}", d.message);
        if let Some(h) = &d.hint {
            eprintln!("  {} {h}", style.cyan("hint:"));
        }
    }
}

fn validate(file: &std::path::Path, output: Format, style: Style) -> ExitCode {
    let (valid, diags) = match Spec::from_file(file) {
        Ok(spec) => (true, spec.warnings.clone()),
        Err(e) => (false, e.diagnostics()),
    };
    match output {
        Format::Json => {
            let (errors, warnings): (Vec<_>, Vec<_>) =
                diags.iter().partition(|d| d.severity == Severity::Error);
            let out = serde_json::json!({
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
                let n = diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count();
                eprintln!("{} {} has {n} error(s)", style.red("✗"), file.display());
            }
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
