//! Terminal conventions: colours only on a TTY and never under `NO_COLOR`.

use std::io::IsTerminal;

/// The version of the JSON that `verify` and `validate` print (`format_version`): a field
/// removed or changed in meaning bumps it; fields may be added (issue 26, finding 17).
pub const JSON_FORMAT_VERSION: u32 = 1;

pub use secmon_spec::shell_word;

#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// `--quiet`: no progress lines (errors, warnings and results are still printed).
    pub quiet: bool,
}

impl Style {
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style { color: !no_color && std::io::stdout().is_terminal(), quiet: false }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// One method per SGR colour code.
macro_rules! colours {
    ($($name:ident => $code:literal),* $(,)?) => {
        impl Style {
            $(pub fn $name(&self, s: &str) -> String {
                self.paint($code, s)
            })*
        }
    };
}

colours! { green => "32", yellow => "33", red => "31", cyan => "36", dim => "2", bold => "1" }
