//! Diagnostics: what is wrong, where (file, line, column, field) and how to fix it.

use serde::Serialize;
use std::fmt;

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// The position of `field` in `locations`, or of its nearest enclosing field that has one
/// (`monitors[3].alarm.period` → `monitors[3].alarm` → `monitors[3]` → `monitors`).
pub(crate) fn nearest(locations: &std::collections::BTreeMap<String, Pos>, field: &str) -> Option<Pos> {
    let mut f = field;
    loop {
        if let Some(p) = locations.get(f) {
            return Some(*p);
        }
        f = &f[..f.rfind(['.', '['])?];
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The spec is invalid: nothing runs.
    Error,
    /// Worth acting on (`--strict` makes it an error).
    Warning,
}

/// One finding about a spec: an error that makes it invalid, or a warning worth acting on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The spec file, as named on the command line.
    pub file: String,
    /// 1-based line; 0 for a finding about the whole file.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Path of the field, e.g. `monitors[0].alarm.period`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// `file:line:column`, or the file alone for a finding about the whole file (line 0: it
    /// cannot be read), never `file:0:0` (issue 26, finding 31).
    pub fn locator(&self) -> String {
        match self.line {
            0 => self.file.clone(),
            _ => format!("{}:{}:{}", self.file, self.line, self.column),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let field = if self.field.is_empty() { String::new() } else { format!("{}: ", self.field) };
        write!(f, "{}: {sev}: {field}{}", self.locator(), self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Errors of the spec crate. `Invalid` carries every problem found, not only the first.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read spec: {source}{}", match source.kind() {
        std::io::ErrorKind::NotFound => "\n  hint: name the spec with -f FILE (the default is secmon.yaml in the current directory)",
        _ => "",
    })]
    /// The spec file cannot be read.
    Io {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The spec is invalid: every error found, with the warnings.
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// `${...}` cannot be expanded.
    #[error("{field}: {message}")]
    Interpolation {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
}

impl SpecError {
    /// Every diagnostic this error carries (one for I/O and interpolation errors).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            SpecError::Invalid(d) => d.clone(),
            SpecError::Io { file, source } => vec![Diagnostic {
                severity: Severity::Error,
                file: file.clone(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read spec: {source}"),
                hint: (source.kind() == std::io::ErrorKind::NotFound)
                    .then(|| "name the spec with -f FILE (the default is secmon.yaml in the current directory)".to_string()),
            }],
            SpecError::Interpolation { field, message } => vec![Diagnostic {
                severity: Severity::Error,
                file: String::new(),
                line: 0,
                column: 0,
                field: field.clone(),
                message: message.clone(),
                hint: None,
            }],
        }
    }
}

fn render_all(d: &[Diagnostic]) -> String {
    let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
    let mut s: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    s.push(format!("{errors} error(s)"));
    s.join("\n")
}

/// The closest candidate within edit distance 3, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= 3.min(c.len() / 2 + 1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `s` as one word of a POSIX shell command line, quoted when it must be: paths and names a
/// message suggests to type again are never split or expanded by the shell.
pub fn shell_word(s: &str) -> String {
    // Only a NUL byte cannot be quoted; no path or name secmon prints holds one.
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| shell_word(&s.replace('\0', "")))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn suggests_the_nearest_field() {
        assert_eq!(did_you_mean("evaluation_period", &["period", "evaluation_periods"]), Some("evaluation_periods"));
        assert_eq!(did_you_mean("zzzzzz", &["period"]), None);
    }
}
