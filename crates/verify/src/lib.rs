//! # secmon-verify: the seeds' troubleshooting, automated
//!
//! [`verify`] walks the live pipeline the way the seeds' authors did by hand, link by link, and
//! reports each link as ok, warning, failed, or not observable (with the evidence and the fix):
//! the trail exists, logs and delivers; the role lets CloudTrail write; the log group receives
//! events; every metric filter exists and a canonical `GetSecretValue` of each secret matches one
//! (AWS `TestMetricFilter` when the endpoint has it, else the offline engine, saying which); every
//! alarm can fire, notifies existing topics and is in a known state; every topic lets CloudWatch
//! (and CloudTrail) publish; every e-mail subscription is confirmed.
//!
//! Options follow the seeds further: `trigger` reads the secret once and follows the event through
//! CloudTrail, the log group, the metric and the alarm; `notify_test` sends a test message to
//! each topic, or sets each alarm to ALARM and back.
//!
//! Local emulators (an endpoint override) deliver no log files, emit no metrics and record no
//! CloudTrail events: those stages are reported "not observable on this endpoint", never passed
//! or failed. What this crate does not do: change the pipeline (only `resend_confirmation`,
//! `trigger` and `notify_test`, each asked for explicitly, call anything but reads).

mod checks;
mod trigger;

use std::time::Duration;

use serde::Serialize;

use secmon_aws::Aws;
use secmon_spec::DesiredState;

pub use checks::canonical_get_secret_value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    NotObservable,
    Warning,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotObservable => "not observable",
            Status::Warning => "warning",
            Status::Failed => "FAILED",
        }
    }
}

/// One link of the pipeline, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id, e.g. `trail.logging`, `alarm.can_fire`.
    pub id: String,
    /// The resource checked, e.g. `trail secrets-manager-trail`.
    pub subject: String,
    pub status: Status,
    pub evidence: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn worst(&self) -> Status {
        self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok)
    }
    /// 0 healthy, 1 a link is broken, 2 warnings only: a scheduled job alerts on non-zero.
    pub fn exit_code(&self) -> u8 {
        match self.worst() {
            Status::Failed => 1,
            Status::Warning => 2,
            _ => 0,
        }
    }
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyTest {
    /// Publish a test message to each topic.
    Topic,
    /// Set each alarm to ALARM, then back to OK (the seeds' `set-alarm-state`).
    Alarm,
}

/// Progress messages for long waits (`--trigger` stages).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone, Default)]
pub struct Options {
    pub resend_confirmation: bool,
    /// Read the secret once and follow the event, waiting at most this long per stage.
    pub trigger: Option<Duration>,
    pub notify_test: Option<NotifyTest>,
    pub progress: Option<Progress>,
}

/// Runs every check against the live pipeline described by `state` (already resolved).
pub async fn verify(aws: &Aws, state: &DesiredState, account_id: &str, opts: &Options) -> Report {
    let mut checks = checks::run(aws, state, account_id, opts).await;
    if let Some(timeout) = opts.trigger {
        checks.extend(trigger::run(aws, state, timeout, opts.progress.as_ref()).await);
    }
    if let Some(kind) = opts.notify_test {
        checks.extend(trigger::notify_test(aws, state, account_id, kind).await);
    }
    Report { checks }
}

pub(crate) fn check(id: &str, subject: impl Into<String>, status: Status, evidence: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        id: id.into(),
        subject: subject.into(),
        status,
        evidence: evidence.into(),
        fix: fix.map(str::to_string),
    }
}

pub(crate) const NOT_OBSERVABLE: &str =
    "not observable on this endpoint: the local emulator delivers no log files, records no CloudTrail events and emits no metrics";
