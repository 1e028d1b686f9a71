//! `--trigger`: the seeds' end-to-end test, and `--notify-test`: the seeds' delivery test.

use std::time::{Duration, Instant};

use secmon_kinds::Cloud;
use secmon_spec::DesiredState;

use crate::{Check, NotifyTest, NOT_OBSERVABLE};

/// Between two SetAlarmState calls: CloudWatch accepts about 3 alarm writes a second per
/// account (issue 11, item 3).
const SET_ALARM_STATE_SPACING: Duration = Duration::from_millis(350);

/// Polls `probe` every 5 s until it answers or `timeout` passes.
async fn wait_for<F, Fut>(timeout: Duration, mut probe: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(5).min(timeout)).await;
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Reads the first secret that is not a decoy once (this fires the alarm: that is the point),
/// then follows the
/// event through CloudTrail, the log group, the metric and the alarm.
pub(crate) async fn run(cloud: &dyn Cloud, state: &DesiredState, timeout: Duration, progress: Option<&crate::Progress>) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(secret) = state.trigger_secret() else {
        out.push(Check::failed("trigger.read", "pipeline", "the spec has no secret to read"));
        return out;
    };
    let subject = format!("secret {}", secret.name);
    let since = now_ms();
    // The value is dropped unread: secmon never prints or keeps a secret value.
    match cloud.read_secret_once(&secret.name).await {
        Ok(()) => out.push(Check::ok("trigger.read", &subject, "read the secret once (GetSecretValue); its value was discarded")),
        Err(e) => {
            out.push(Check::failed("trigger.read", &subject, e.to_string()));
            return out;
        }
    }
    if cloud.local_endpoint() {
        for id in ["trigger.cloudtrail_event", "trigger.log_event", "trigger.datapoint", "trigger.alarm"] {
            out.push(Check::not_observable(id, &subject, NOT_OBSERVABLE));
        }
        return out;
    }
    let Some(lg) = state.log_group().map(str::to_string) else {
        return out;
    };
    let stages: [(&str, &str); 4] = [
        ("trigger.cloudtrail_event", "CloudTrail recorded the GetSecretValue"),
        ("trigger.log_event", "the event reached the log group"),
        ("trigger.datapoint", "the metric has a datapoint"),
        ("trigger.alarm", "an alarm is in ALARM"),
    ];
    // DescribeAlarms takes at most 100 names per call (issue 11, item 9).
    let names: Vec<String> = state.monitors.iter().map(|m| m.alarm_name().to_string()).collect();
    for (i, (id, what)) in stages.iter().enumerate() {
        if let Some(p) = progress {
            p(&format!("waiting until {what} (at most {} s)...", timeout.as_secs()));
        }
        // A failed look is "not yet": the stage is retried until the timeout.
        let took = match i {
            0 => wait_for(timeout, || async { cloud.trail_recorded("GetSecretValue", since).await.unwrap_or(false) }).await,
            1 => {
                let pattern = "{ $.eventName = \"GetSecretValue\" }";
                wait_for(timeout, || async { cloud.log_group_received(&lg, pattern, since).await.unwrap_or(false) }).await
            }
            2 => {
                wait_for(timeout, || async {
                    let mut any = false;
                    for m in &state.monitors {
                        any |= cloud.metric_counted(&m.metric.namespace, &m.metric.name, since).await.unwrap_or(false);
                    }
                    any
                })
                .await
            }
            _ => {
                wait_for(timeout, || async {
                    for chunk in names.chunks(100) {
                        if cloud.any_in_alarm(chunk).await.unwrap_or(false) {
                            return true;
                        }
                    }
                    false
                })
                .await
            }
        };
        match took {
            Some(d) => out.push(Check::ok(id, &subject, format!("{what} after {:.0} s", d.as_secs_f64()))),
            None => {
                out.push(Check::failed(id, &subject, format!("stopped here: {what} did not happen within {} s", timeout.as_secs())));
                break;
            }
        }
    }
    out
}

/// How long `--notify-test alarm` waits for the alarm's history to record its actions.
const ACTION_HISTORY_PATIENCE: Duration = Duration::from_secs(30);

/// What CloudWatch recorded of the alarm's actions since `since`: a notification CloudWatch could
/// not deliver (a topic whose key policy does not admit it, a topic policy that refuses it)
/// shows only there, as "Failed to execute action" (AWS re:Post, "Why didn't I receive an SNS
/// notification for my CloudWatch alarm trigger?"). So the check reads ok only when every topic's
/// action is recorded as executed (issue 22, finding 6). DescribeAlarmHistory is limited to about
/// 3 calls a second: polled every 2 s.
async fn alarm_actions_outcome(cloud: &dyn Cloud, alarm: &str, topics: &[String], since: i64) -> Check {
    let subject = format!("alarm {alarm}");
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let items = match cloud.alarm_actions(alarm, since).await {
            Ok(items) => items,
            Err(e) => {
                return Check::not_observable(
                    "notify_test.alarm",
                    subject,
                    format!("set to ALARM and back to OK, but its history could not be read: {e}"),
                )
                .fix("allow cloudwatch:DescribeAlarmHistory to let verify see whether the topics were notified");
            }
        };
        let failed: Vec<&String> = items.iter().filter(|s| s.starts_with("Failed to execute action")).collect();
        if !failed.is_empty() {
            let what = failed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ");
            return Check::failed("notify_test.alarm", subject, format!("set to ALARM, but CloudWatch could not notify: {what}")).fix("an encrypted topic's key must admit cloudwatch.amazonaws.com (kms:GenerateDataKey*, kms:Decrypt), and its policy SNS:Publish: `secmon verify` names which");
        }
        let done = topics.iter().all(|t| items.iter().any(|s| s.starts_with("Successfully executed action") && s.contains(t.as_str())));
        if done {
            return Check::ok(
                "notify_test.alarm",
                subject,
                format!("set to ALARM and back to OK: CloudWatch recorded notifying {}", topics.join(", ")),
            );
        }
        if start.elapsed() >= ACTION_HISTORY_PATIENCE {
            return Check::warning(
                "notify_test.alarm",
                subject,
                format!(
                    "set to ALARM and back to OK, but CloudWatch recorded no outcome of notifying {} within {} s",
                    topics.join(", "),
                    ACTION_HISTORY_PATIENCE.as_secs()
                ),
            )
            .fix("check the alarm's history in the CloudWatch console (Action items) and the topics' subscriptions");
        }
    }
}

pub(crate) async fn notify_test(cloud: &dyn Cloud, state: &DesiredState, account_id: &str, kind: NotifyTest) -> Vec<Check> {
    let mut out = Vec::new();
    let region = cloud.region();
    match kind {
        NotifyTest::Topic => {
            let message = format!(
                "This is a test message from `secmon verify --notify-test` for spec {}. If you read it, delivery works.",
                state.name
            );
            const TITLE: &str = "secmon verify: test notification";
            for t in &state.topics {
                let arn = format!("arn:aws:sns:{region}:{account_id}:{}", t.name);
                let subject = format!("topic {}", t.name);
                // AWS Chatbot posts AWS services' notifications and custom notifications, never a
                // plain message ("Custom notifications", its administrator guide).
                let (body, look) = if t.posts_to_chat_only() {
                    let custom =
                        serde_json::json!({"version": "1.0", "source": "custom", "content": {"title": TITLE, "description": message}});
                    (custom.to_string(), "check its chat channels")
                } else if t.posts_to_chat() {
                    (
                        message.clone(),
                        "check the subscribers' inboxes; its chat channels do not post a plain message (AWS Chatbot posts only AWS services' notifications and custom notifications): `--notify-test alarm` reaches them",
                    )
                } else {
                    (message.clone(), "check the subscribers' inboxes")
                };
                out.push(match cloud.publish(&arn, TITLE, &body).await {
                    Ok(id) => Check::ok("notify_test.topic", subject, format!("published message {id}: {look}")),
                    Err(e) => Check::failed("notify_test.topic", subject, e.to_string()),
                });
            }
        }
        NotifyTest::Alarm => {
            for m in &state.monitors {
                let name = m.alarm_name();
                let mut ok = true;
                let since = now_ms() - 1000;
                for (alarm_state, reason) in [
                    (true, "secmon verify --notify-test: testing notification delivery"),
                    (false, "secmon verify --notify-test: back to OK after the test"),
                ] {
                    // SetAlarmState is limited like the other alarm writes: about 3 a second.
                    tokio::time::sleep(SET_ALARM_STATE_SPACING).await;
                    if let Err(e) = cloud.set_alarm_state(name, alarm_state, reason).await {
                        out.push(Check::failed("notify_test.alarm", format!("alarm {name}"), e.to_string()));
                        ok = false;
                        break;
                    }
                }
                if ok {
                    let topics: Vec<String> = m.notify.iter().map(|t| format!("arn:aws:sns:{region}:{account_id}:{t}")).collect();
                    out.push(alarm_actions_outcome(cloud, name, &topics, since).await);
                }
            }
        }
    }
    out
}
