//! # secmon-spec: the desired state
//!
//! Parses and validates a secmon spec (YAML) into a [`Spec`]: the typed [`DesiredState`] plus
//! where each field sits in the file, so that every later finding (lint, plan errors) can point
//! at `file:line:column`.
//!
//! Main types: [`Spec`], [`DesiredState`] and its parts ([`Secret`], [`Trail`], [`Topic`],
//! [`Monitor`]), [`Diagnostic`], [`SpecError`].
//!
//! Validation reports *all* problems at once: unknown keys (with "did you mean"), wrong types,
//! AWS naming and range rules, dangling topic references, duplicates and literal secret values.
//!
//! What this crate does not do: it never calls AWS and never reads a secret's value (the value
//! source is only described here; `apply` reads it).

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

pub mod bounds;
mod diag;
mod interp;
mod load;
mod model;
pub mod packs;
pub mod rules;

use std::collections::BTreeMap;
use std::path::Path;

pub use diag::{did_you_mean, shell_word, Diagnostic, Pos, Severity, SpecError};
pub use interp::expand;
pub use load::MAX_FILTERS_PER_LOG_GROUP;
pub use model::*;
pub use packs::{PackEntry, PackRef, RuleOverride};

/// A validated spec: the desired state and the source position of each field.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What the spec asks for.
    pub state: DesiredState,
    /// The file name used in diagnostics.
    pub file: String,
    /// Field path (`monitors[0].alarm.period`) → position of its value.
    pub locations: BTreeMap<String, Pos>,
    /// Non-fatal findings of validation.
    pub warnings: Vec<Diagnostic>,
}

/// A spec file's text, reading at most one byte past the bound whatever the file's size (a
/// pipe, /dev/zero).
fn read_bounded(path: &Path) -> Result<String, SpecError> {
    let file = path.display().to_string();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(path).map_err(|source| SpecError::Io { file: file.clone(), source })?,
            bounds::MAX_SPEC_BYTES + 1,
        ),
        &mut text,
    )
    .map_err(|source| SpecError::Io { file, source })?;
    Ok(text)
}

/// How many times this process has read a spec (text parsed and validated): `--stats` shows
/// it, so that a test can hold a command to reading its spec once (issue 23, item 1).
static READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many specs this process has read so far ([`Spec::parse`], [`Spec::parse_partial`]).
pub fn reads() -> usize {
    READS.load(std::sync::atomic::Ordering::Relaxed)
}

impl Spec {
    /// Parses and validates spec text; `file` names the source in diagnostics.
    pub fn parse(text: &str, file: &str) -> Result<Spec, SpecError> {
        READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        load::Loader::new(file).load(text)
    }

    /// Reads and validates a spec file.
    pub fn from_file(path: &Path) -> Result<Spec, SpecError> {
        Spec::parse(&read_bounded(path)?, &path.display().to_string())
    }

    /// Every diagnostic of spec text, and the spec as far as it could be read (invalid parts
    /// left out), for `validate`, which reports the errors of every stage in one run.
    pub fn parse_partial(text: &str, file: &str) -> (Option<Spec>, Vec<Diagnostic>) {
        READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        load::Loader::new(file).load_partial(text)
    }

    /// Reads a spec file, as [`Spec::parse_partial`] does.
    pub fn from_file_partial(path: &Path) -> (Option<Spec>, Vec<Diagnostic>) {
        match read_bounded(path) {
            Ok(text) => Spec::parse_partial(&text, &path.display().to_string()),
            Err(e) => (None, e.diagnostics()),
        }
    }

    /// Position of a field, or of its nearest enclosing field that has one.
    pub fn locate(&self, field: &str) -> Pos {
        diag::nearest(&self.locations, field).unwrap_or(Pos { line: 1, column: 1 })
    }

    /// A diagnostic located at `field`.
    pub fn diagnostic(&self, severity: Severity, field: &str, message: String, hint: Option<String>) -> Diagnostic {
        let p = self.locate(field);
        Diagnostic { severity, file: self.file.clone(), line: p.line, column: p.column, field: field.into(), message, hint }
    }
}

impl DesiredState {
    /// The state with `${account_id}` and `${region}` expanded everywhere.
    pub fn resolve(&self, account_id: &str, region: &str) -> Result<DesiredState, SpecError> {
        let mut v = serde_json::to_value(self).expect("the desired state serialises");
        interp::expand_json(&mut v, account_id, region).map_err(|message| SpecError::Interpolation { field: "(spec)".into(), message })?;
        let state: DesiredState = serde_json::from_value(v).expect("expanding strings keeps the shape");
        Ok(DesiredState {
            secondary_region: self.secondary_region,
            organization_id: self.organization_id.clone(),
            recovering_since: self.recovering_since,
            watched_from: self.watched_from.clone(),
            external_trail: self.external_trail.clone(),
            ..state
        })
    }

    /// Sets `trail.external` apart as [`DesiredState::external_trail`] (the loader's form):
    /// `trail` is then only a trail secmon manages.
    pub fn normalize_trail(&mut self) {
        if let Some(external) = self.trail.as_mut().and_then(|t| t.external.take()) {
            self.external_trail = Some(external);
            self.trail = None;
        }
    }

    /// The log group the monitors' metric filters live on: the managed trail's, or the external
    /// trail's.
    pub fn log_group(&self) -> Option<&str> {
        match (&self.external_trail, self.cloudwatch_logs()) {
            (Some(e), _) => e.log_group.as_deref(),
            (None, Some(cw)) => Some(&cw.log_group),
            (None, None) => None,
        }
    }

    /// Whether the spec has a log group for its filters, found by name or, for
    /// `trail.external.prefix`, at run time.
    pub fn has_log_group(&self) -> bool {
        self.external_trail.is_some() || self.cloudwatch_logs().is_some()
    }

    /// The log group's name as a filter pattern compares it: the name, or `prefix*` while an
    /// external trail's log group is known by its prefix only.
    pub fn log_group_pattern(&self) -> Option<String> {
        match (self.log_group(), self.external_trail.as_ref().and_then(|e| e.prefix.as_deref())) {
            (Some(name), _) => Some(name.to_string()),
            (None, Some(prefix)) => Some(format!("{prefix}*")),
            (None, None) => None,
        }
    }

    /// The secret `verify --trigger` reads: the first that is not a decoy (a decoy's read pages
    /// at critical severity), else the first.
    pub fn trigger_secret(&self) -> Option<&Secret> {
        self.secrets.iter().find(|s| !s.decoy).or(self.secrets.first())
    }

    /// The trail's delivery to CloudWatch Logs, when the spec has one.
    pub fn cloudwatch_logs(&self) -> Option<&CloudWatchLogs> {
        self.trail.as_ref().and_then(|t| t.cloudwatch_logs.as_ref())
    }

    /// The spec as deployed in a target region: the home region gets all of it; another region
    /// only the secrets, whose reads the home region's multi-region trail records and monitors.
    pub fn for_region(&self, home: bool) -> DesiredState {
        if home {
            return self.clone();
        }
        let watched_from = WatchedFrom {
            region: self.targets.as_ref().and_then(|t| t.regions.first().cloned()),
            organization: self.trail.as_ref().is_some_and(|t| t.organization),
            filters: self.monitors.iter().map(|m| (m.filter_name().to_string(), m.pattern.clone())).collect(),
        };
        DesiredState {
            watched_from: Some(watched_from),
            trail: None,
            topics: Vec::new(),
            monitors: Vec::new(),
            packs: Vec::new(),
            heartbeat: None,
            external_trail: None,
            encryption: Encryption { key: "none".into(), ..self.encryption.clone() },
            secondary_region: true,
            ..self.clone()
        }
    }

    /// The alias of the key secmon creates and owns when `encryption.key` is `managed`.
    pub fn key_alias(&self) -> Option<String> {
        (self.encryption.key_choice() == KeyChoice::Managed).then(|| format!("alias/secmon/{}", self.name))
    }

    /// The key the spec brings by ARN (`encryption.key: arn:...`): not secmon's, so it is
    /// checked and its policy judged, never written.
    pub fn brought_key(&self) -> Option<String> {
        match self.encryption.key_choice() {
            KeyChoice::Existing(arn) => Some(arn),
            _ => None,
        }
    }

    /// The key the parts of the pipeline use, as they name it (the managed key by its alias).
    pub fn key_ref(&self) -> Option<String> {
        match self.encryption.key_choice() {
            KeyChoice::Managed => self.key_alias(),
            KeyChoice::Existing(arn) => Some(arn),
            KeyChoice::None => None,
        }
    }

    /// Name of the IAM role CloudTrail uses to write to CloudWatch Logs.
    pub fn trail_role_name(&self) -> Option<String> {
        let cw = self.trail.as_ref()?.cloudwatch_logs.as_ref()?;
        Some(cw.role_name.clone().unwrap_or_else(|| format!("secmon-{}-cloudtrail-logs", self.name)))
    }
}

/// JSON Schema of the spec format, for editors (`secmon schema`).
pub fn json_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(DesiredState)).expect("schema serialises");
    s["$id"] = "https://github.com/secmon/secmon/spec-v1.schema.json".into();
    s
}
