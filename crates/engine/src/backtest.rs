//! `secmon backtest`: how often each alarm would have fired over the history the trail's log
//! group already holds, without downloading it.
//!
//! Each monitor's own pattern is pushed down to CloudWatch Logs (`FilterLogEvents` takes the
//! metric filter's syntax, so AWS's engine does the scan, where the logs are); the events it
//! returns go through secmon's engine and alarm evaluator, which turn them into datapoints,
//! state changes and notifications, with their reasons. On AWS, an event that AWS matched and
//! secmon's engine does not is an engine disagreement, reported (a free conformance check
//! against the real service). A local emulator applies term patterns only and returns every
//! event for a JSON pattern: there, secmon's engine decides, and nothing is called a
//! disagreement.

use serde::Serialize;

use secmon_kinds::{Cloud, EventQuery};
use secmon_sim::simulate::{replay_contributor_log_events, replay_log_events, MonitorReport};
use secmon_spec::Spec;

use crate::EngineError;

/// A backtest's result, monitor by monitor.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    /// The log group the trail delivers to, whose events were scanned.
    pub log_group: String,
    /// The window, in epoch seconds.
    pub since: i64,
    /// The window's end, in epoch seconds.
    pub until: i64,
    /// What the log group stores: the most the scans cover.
    pub stored_bytes: i64,
    /// Whether AWS's engine filtered (false on a local emulator, which returns everything for
    /// JSON patterns).
    pub pushed_down: bool,
    /// Each monitor's result.
    pub monitors: Vec<BacktestMonitor>,
    /// Who read each of the spec's secrets over the window: what its `readers:` would list.
    pub readers: Vec<SecretReaders>,
}

/// The principals that read one secret's value over the window (issue 25, item 1): a role's
/// sessions counted as the role, as `readers:` names them.
#[derive(Debug, Clone, Serialize)]
pub struct SecretReaders {
    /// The secret.
    pub secret: String,
    /// Each principal (role or user ARN) and how many reads it made.
    pub principals: std::collections::BTreeMap<String, u64>,
    /// Those the spec's `readers` does not list (when it lists any): each would have fired
    /// `SECRET-READ-UNEXPECTED`.
    pub unexpected: Vec<String>,
}

/// The secret of the spec a read names, by name or ARN (`…:secret:NAME-XXXXXX`).
fn secret_read<'a>(state: &'a secmon_spec::DesiredState, id: &str) -> Option<&'a secmon_spec::Secret> {
    state.secrets.iter().find(|s| id == s.name || (id.starts_with("arn:") && id.contains(&format!(":secret:{}-", s.name))))
}

/// The principal of a read as `readers:` names it: the role of a role session, else the caller.
fn reader_of(record: &serde_json::Value) -> String {
    let who = &record["userIdentity"];
    who["sessionContext"]["sessionIssuer"]["arn"]
        .as_str()
        .or_else(|| who["arn"].as_str())
        .unwrap_or("(no principal in the record)")
        .to_string()
}

/// Who read each secret of `state` among `messages` (CloudTrail records).
fn readers(state: &secmon_spec::DesiredState, messages: &[String]) -> Vec<SecretReaders> {
    let mut out: Vec<SecretReaders> = state
        .secrets
        .iter()
        .map(|s| SecretReaders { secret: s.name.clone(), principals: Default::default(), unexpected: Vec::new() })
        .collect();
    for m in messages {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(m) else { continue };
        if record["eventName"] != "GetSecretValue" {
            continue;
        }
        let Some(secret) = record["requestParameters"]["secretId"].as_str().and_then(|id| secret_read(state, id)) else { continue };
        let entry = out.iter_mut().find(|r| r.secret == secret.name).expect("one entry per secret");
        *entry.principals.entry(reader_of(&record)).or_default() += 1;
    }
    for (r, s) in out.iter_mut().zip(&state.secrets) {
        if !s.readers.is_empty() {
            r.unexpected = r.principals.keys().filter(|p| !s.readers.contains(p)).cloned().collect();
        }
    }
    out
}

/// One monitor's backtest: what AWS returned for its pattern, and what secmon's alarm
/// evaluator made of it.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestMonitor {
    /// Events CloudWatch Logs returned for the monitor's pattern.
    pub returned: u64,
    /// Events AWS matched that secmon's engine does not (first few, shortened): each one is a
    /// difference between the two engines, worth a bug report. Always empty on an emulator.
    pub disagreements: Vec<String>,
    /// The replay: matched events, datapoints, alarm states and notifications.
    #[serde(flatten)]
    pub report: MonitorReport,
}

/// Runs every monitor of `spec` over the log group's events from `since` to `until` (epoch
/// seconds); `progress` hears each scan as it starts and ends.
pub async fn backtest(
    spec: &Spec,
    cloud: &dyn Cloud,
    (since, until): (i64, i64),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<BacktestReport, EngineError> {
    let account = cloud.account_id().await?;
    let mut state = spec.state.resolve(&account, cloud.region())?;
    secmon_kinds::cloud::resolve_external(cloud, &mut state).await?;
    let Some(log_group) = state.log_group().map(str::to_string) else {
        return Err(EngineError::Backtest(
            "the spec's trail delivers to no log group (trail.cloudwatch_logs): there is no history to scan".into(),
        ));
    };
    let Some(stored_bytes) = cloud.stored_bytes(&log_group).await? else {
        return Err(EngineError::Backtest(format!(
            "log group {log_group} does not exist: apply the spec first, then let the trail deliver"
        )));
    };
    let pushed_down = !cloud.local_endpoint();
    progress(&format!(
        "Scanning log group {log_group} ({:.1} MiB stored) in CloudWatch Logs, once per monitor: FilterLogEvents bills no data scanned (Logs Insights would, at $0.005/GB).",
        stored_bytes as f64 / (1 << 20) as f64
    ));
    let window_ms = (since * 1000, until * 1000);
    // Each monitor, then each contributor (issue 25, item 1, counted as its rule counts), over
    // the same history: one scan of the log group per pattern.
    let monitors_then_contributors = state
        .monitors
        .iter()
        .map(|m| (m.name.as_str(), m.pattern.as_str(), Watcher::Monitor(m)))
        .chain(state.contributors.iter().map(|c| (c.name.as_str(), c.pattern.as_str(), Watcher::Contributor(c))));
    let mut monitors = Vec::new();
    for (name, pattern, watcher) in monitors_then_contributors {
        let mut events = Vec::new();
        let returned =
            cloud.filter_events(EventQuery { log_group: &log_group, pattern, window_ms }, &mut |t, msg| events.push((t, msg))).await?;
        let (what, replayed) = match watcher {
            Watcher::Monitor(m) => ("monitor", replay_log_events(m, since, events)),
            Watcher::Contributor(c) => ("contributor", replay_contributor_log_events(c, since, events)),
        };
        let (report, unmatched) = replayed.map_err(|e| EngineError::Backtest(format!("{what} {name:?}: {e}")))?;
        progress(&format!("  {name}: {returned} event(s) returned, {} matched, {}", report.matched.len(), fired(&report)));
        let disagreements =
            if pushed_down { unmatched.iter().take(5).map(|m| m.chars().take(300).collect()).collect() } else { Vec::new() };
        monitors.push(BacktestMonitor { returned, disagreements, report });
    }
    // One scan more for the secrets' readers: every GetSecretValue of the window.
    let mut reads = Vec::new();
    let pattern = r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#;
    if !state.secrets.is_empty() {
        cloud.filter_events(EventQuery { log_group: &log_group, pattern, window_ms }, &mut |_, msg| reads.push(msg)).await?;
    }
    let readers = readers(&state, &reads);
    Ok(BacktestReport { log_group, since, until, stored_bytes, pushed_down, monitors, readers })
}

/// What a backtest replays a scan through.
enum Watcher<'a> {
    Monitor(&'a secmon_spec::Monitor),
    Contributor(&'a secmon_spec::Contributor),
}

fn fired(r: &MonitorReport) -> String {
    match r.run.notifications.len() {
        0 => "never fired".into(),
        n => format!("fired {n} time(s)"),
    }
}

#[cfg(test)]
mod tests {
    use secmon_kinds::FakeCloud;

    use super::*;

    fn record(name: &str, t: &str) -> String {
        serde_json::json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": name, "eventTime": t, "eventID": name}).to_string()
    }

    #[test]
    fn a_backtest_replays_the_log_groups_events_through_each_alarm() {
        let spec = Spec::from_file(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/seed.yaml")).unwrap();
        let cloud = FakeCloud::new("123456789012", "us-east-1");
        let group = "secmon-secretsmanager-loggroup";
        let t0 = 1_767_225_600_000i64; // 2026-01-01T00:00:00Z
        cloud.put_event(group, t0 + 5_000, &record("GetSecretValue", "2026-01-01T00:00:05Z"));
        cloud.put_event(group, t0 + 7_000, &record("DescribeSecret", "2026-01-01T00:00:07Z"));
        cloud.put_event(group, t0 + 3_600_000, &record("GetSecretValue", "2026-01-01T01:00:00Z"));
        cloud.put_event(group, t0 - 1, &record("GetSecretValue", "before the window"));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let report = rt.block_on(backtest(&spec, &cloud, (t0 / 1000, t0 / 1000 + 7200), &|_| {})).unwrap();
        let m = &report.monitors[0];
        assert_eq!(m.returned, 3, "the window bounds the scan");
        assert_eq!(m.report.matched.len(), 2, "secmon's engine keeps the GetSecretValue calls");
        assert_eq!(m.report.run.notifications.len(), 2, "two separate minutes, two notifications");
        assert!(
            m.disagreements.len() == 1 && m.disagreements[0].contains("DescribeSecret"),
            "AWS returned it, the engine does not match it"
        );
        let mut local = FakeCloud::new("123456789012", "us-east-1");
        local.local_endpoint = true;
        local.put_event(group, t0 + 7_000, &record("DescribeSecret", "2026-01-01T00:00:07Z"));
        let report = rt.block_on(backtest(&spec, &local, (t0 / 1000, t0 / 1000 + 7200), &|_| {})).unwrap();
        assert!(!report.pushed_down && report.monitors[0].disagreements.is_empty(), "an emulator returns everything: no disagreement");
        assert_eq!(report.readers.len(), 1, "one entry per secret of the spec");

        // Issue 25, item 1: who read each secret, a role's sessions as the role.
        let by = |who: serde_json::Value, secret: &str| {
            serde_json::json!({"eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue", "eventTime": "2026-01-01T00:00:05Z",
                "userIdentity": who, "requestParameters": {"secretId": secret}}).to_string()
        };
        let role = serde_json::json!({"arn": "arn:aws:sts::123456789012:assumed-role/app/i-1",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/app"}}});
        let user = serde_json::json!({"arn": "arn:aws:iam::123456789012:user/mallory"});
        let read = FakeCloud::new("123456789012", "us-east-1");
        read.put_event(group, t0 + 1_000, &by(role.clone(), "TopSecretInfo"));
        read.put_event(group, t0 + 2_000, &by(role, "arn:aws:secretsmanager:us-east-1:123456789012:secret:TopSecretInfo-AbCdEf"));
        read.put_event(group, t0 + 3_000, &by(user, "TopSecretInfo"));
        let report = rt.block_on(backtest(&spec, &read, (t0 / 1000, t0 / 1000 + 7200), &|_| {})).unwrap();
        let r = &report.readers[0];
        assert_eq!(r.secret, "TopSecretInfo");
        assert_eq!(r.principals.get("arn:aws:iam::123456789012:role/app"), Some(&2), "by name and by ARN, as the role: {r:?}");
        assert_eq!(r.principals.get("arn:aws:iam::123456789012:user/mallory"), Some(&1));
        assert!(r.unexpected.is_empty(), "the seed names no readers: nothing is unexpected");
        let empty = FakeCloud::new("123456789012", "us-east-1");
        let err = rt.block_on(backtest(&spec, &empty, (0, 1), &|_| {})).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
