//! `--trigger`: the seeds' end-to-end test, and `--notify-test`: the seeds' delivery test.

use std::time::{Duration, Instant};

use secmon_aws::Aws;
use secmon_spec::DesiredState;

use crate::{check, Check, NotifyTest, Status, NOT_OBSERVABLE};

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

/// Reads the first secret once (this fires the alarm: that is the point), then follows the
/// event through CloudTrail, the log group, the metric and the alarm.
pub(crate) async fn run(aws: &Aws, state: &DesiredState, timeout: Duration, progress: Option<&crate::Progress>) -> Vec<Check> {
    let mut out = Vec::new();
    let Some(secret) = state.secrets.first() else {
        out.push(check("trigger.read", "pipeline", Status::Failed, "the spec has no secret to read", None));
        return out;
    };
    let subject = format!("secret {}", secret.name);
    let started = std::time::SystemTime::now();
    // The value is dropped unread: secmon never prints or keeps a secret value.
    match aws.secretsmanager.get_secret_value().secret_id(&secret.name).send().await {
        Ok(_) => {
            out.push(check("trigger.read", &subject, Status::Ok, "read the secret once (GetSecretValue); its value was discarded", None))
        }
        Err(e) => {
            out.push(check("trigger.read", &subject, Status::Failed, secmon_aws::AwsError::call("GetSecretValue", e).to_string(), None));
            return out;
        }
    }
    if aws.endpoint_override.is_some() {
        for id in ["trigger.cloudtrail_event", "trigger.log_event", "trigger.datapoint", "trigger.alarm"] {
            out.push(check(id, &subject, Status::NotObservable, NOT_OBSERVABLE, None));
        }
        return out;
    }
    let since = secmon_aws::DateTime::from(started);
    let Some(lg) = state.cloudwatch_logs().map(|c| c.log_group.clone()) else {
        return out;
    };
    let stages: [(&str, &str); 4] = [
        ("trigger.cloudtrail_event", "CloudTrail recorded the GetSecretValue"),
        ("trigger.log_event", "the event reached the log group"),
        ("trigger.datapoint", "the metric has a datapoint"),
        ("trigger.alarm", "an alarm is in ALARM"),
    ];
    for (i, (id, what)) in stages.iter().enumerate() {
        if let Some(p) = progress {
            p(&format!("waiting until {what} (at most {} s)...", timeout.as_secs()));
        }
        let took = match i {
            0 => {
                use secmon_aws::cloudtrail::types::{LookupAttribute, LookupAttributeKey};
                let by_name = LookupAttribute::builder().attribute_key(LookupAttributeKey::EventName).attribute_value("GetSecretValue");
                let request = aws.cloudtrail.lookup_events().lookup_attributes(by_name.build().expect("attribute")).start_time(since);
                wait_for(timeout, || async { request.clone().send().await.is_ok_and(|r| !r.events().is_empty()) }).await
            }
            1 => {
                let request = aws.logs.filter_log_events().log_group_name(&lg).filter_pattern("{ $.eventName = \"GetSecretValue\" }");
                let request = request.start_time(since.secs() * 1000);
                // "This operation can return empty results while there are more log events
                // available through the token" (FilterLogEvents API reference): a busy log group
                // (an organization trail's) rarely has the event on the first page, so every
                // page is read until one holds it (issue 22, finding 9).
                wait_for(timeout, || async {
                    let mut pages = request.clone().into_paginator().send();
                    while let Some(page) = pages.next().await {
                        match page {
                            Ok(p) if !p.events().is_empty() => return true,
                            Ok(_) => {}
                            Err(_) => return false,
                        }
                    }
                    false
                })
                .await
            }
            2 => {
                wait_for(timeout, || async {
                    let mut any = false;
                    for m in &state.monitors {
                        let r = aws
                            .cloudwatch
                            .get_metric_statistics()
                            .namespace(&m.metric.namespace)
                            .metric_name(&m.metric.name)
                            .start_time(since)
                            .end_time(secmon_aws::DateTime::from(std::time::SystemTime::now()))
                            .period(60)
                            .statistics(secmon_aws::cloudwatch::types::Statistic::Sum)
                            .send()
                            .await;
                        any |= r.is_ok_and(|r| r.datapoints().iter().any(|d| d.sum().unwrap_or(0.0) > 0.0));
                    }
                    any
                })
                .await
            }
            _ => {
                // DescribeAlarms takes at most 100 names per call (issue 11, item 9).
                let names: Vec<String> = state.monitors.iter().map(|m| m.alarm_name().to_string()).collect();
                wait_for(timeout, || async {
                    for chunk in names.chunks(100) {
                        let alarming = aws.cloudwatch.describe_alarms().set_alarm_names(Some(chunk.to_vec()));
                        let r = alarming.state_value(secmon_aws::cloudwatch::types::StateValue::Alarm).send().await;
                        if r.is_ok_and(|r| !r.metric_alarms().is_empty()) {
                            return true;
                        }
                    }
                    false
                })
                .await
            }
        };
        match took {
            Some(d) => out.push(check(id, &subject, Status::Ok, format!("{what} after {:.0} s", d.as_secs_f64()), None)),
            None => {
                out.push(check(
                    id,
                    &subject,
                    Status::Failed,
                    format!("stopped here: {what} did not happen within {} s", timeout.as_secs()),
                    None,
                ));
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
async fn alarm_actions_outcome(aws: &Aws, alarm: &str, topics: &[String], since: secmon_aws::DateTime) -> Check {
    use secmon_aws::cloudwatch::types::HistoryItemType;
    let subject = format!("alarm {alarm}");
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let history = aws
            .cloudwatch
            .describe_alarm_history()
            .alarm_name(alarm)
            .history_item_type(HistoryItemType::Action)
            .start_date(since)
            .send()
            .await;
        let items = match history {
            Ok(h) => h.alarm_history_items().iter().filter_map(|i| i.history_summary().map(str::to_string)).collect::<Vec<_>>(),
            Err(e) => {
                return check(
                    "notify_test.alarm",
                    subject,
                    Status::NotObservable,
                    format!(
                        "set to ALARM and back to OK, but its history could not be read: {}",
                        secmon_aws::AwsError::call("DescribeAlarmHistory", e)
                    ),
                    Some("allow cloudwatch:DescribeAlarmHistory to let verify see whether the topics were notified"),
                );
            }
        };
        let failed: Vec<&String> = items.iter().filter(|s| s.starts_with("Failed to execute action")).collect();
        if !failed.is_empty() {
            let what = failed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ");
            return check(
                "notify_test.alarm",
                subject,
                Status::Failed,
                format!("set to ALARM, but CloudWatch could not notify: {what}"),
                Some("an encrypted topic's key must admit cloudwatch.amazonaws.com (kms:GenerateDataKey*, kms:Decrypt), and its policy SNS:Publish: `secmon verify` names which"),
            );
        }
        let done = topics.iter().all(|t| items.iter().any(|s| s.starts_with("Successfully executed action") && s.contains(t.as_str())));
        if done {
            return check(
                "notify_test.alarm",
                subject,
                Status::Ok,
                format!("set to ALARM and back to OK: CloudWatch recorded notifying {}", topics.join(", ")),
                None,
            );
        }
        if start.elapsed() >= ACTION_HISTORY_PATIENCE {
            return check(
                "notify_test.alarm",
                subject,
                Status::Warning,
                format!(
                    "set to ALARM and back to OK, but CloudWatch recorded no outcome of notifying {} within {} s",
                    topics.join(", "),
                    ACTION_HISTORY_PATIENCE.as_secs()
                ),
                Some("check the alarm's history in the CloudWatch console (Action items) and the topics' subscriptions"),
            );
        }
    }
}

pub(crate) async fn notify_test(aws: &Aws, state: &DesiredState, account_id: &str, kind: NotifyTest) -> Vec<Check> {
    let mut out = Vec::new();
    match kind {
        NotifyTest::Topic => {
            for t in &state.topics {
                let arn = format!("arn:aws:sns:{}:{account_id}:{}", aws.region, t.name);
                let r = aws
                    .sns
                    .publish()
                    .topic_arn(&arn)
                    .subject("secmon verify: test notification")
                    .message(format!(
                        "This is a test message from `secmon verify --notify-test` for spec {}. If you read it, delivery works.",
                        state.name
                    ))
                    .send()
                    .await;
                out.push(match r {
                    Ok(m) => check(
                        "notify_test.topic",
                        format!("topic {}", t.name),
                        Status::Ok,
                        format!("published message {}: check the subscribers' inboxes", m.message_id().unwrap_or("?")),
                        None,
                    ),
                    Err(e) => check(
                        "notify_test.topic",
                        format!("topic {}", t.name),
                        Status::Failed,
                        secmon_aws::AwsError::call("Publish", e).to_string(),
                        None,
                    ),
                });
            }
        }
        NotifyTest::Alarm => {
            for m in &state.monitors {
                let name = m.alarm_name();
                let mut ok = true;
                let since = secmon_aws::DateTime::from(std::time::SystemTime::now() - Duration::from_secs(1));
                for (value, reason) in [
                    (secmon_aws::cloudwatch::types::StateValue::Alarm, "secmon verify --notify-test: testing notification delivery"),
                    (secmon_aws::cloudwatch::types::StateValue::Ok, "secmon verify --notify-test: back to OK after the test"),
                ] {
                    // SetAlarmState is limited like the other alarm writes: about 3 a second.
                    tokio::time::sleep(SET_ALARM_STATE_SPACING).await;
                    if let Err(e) = aws.cloudwatch.set_alarm_state().alarm_name(name).state_value(value).state_reason(reason).send().await {
                        out.push(check(
                            "notify_test.alarm",
                            format!("alarm {name}"),
                            Status::Failed,
                            secmon_aws::AwsError::call("SetAlarmState", e).to_string(),
                            None,
                        ));
                        ok = false;
                        break;
                    }
                }
                if ok {
                    let topics: Vec<String> = m.notify.iter().map(|t| format!("arn:aws:sns:{}:{account_id}:{t}", aws.region)).collect();
                    out.push(alarm_actions_outcome(aws, name, &topics, since).await);
                }
            }
        }
    }
    out
}
