//! The read-only checks, one link of the pipeline each.

use std::collections::BTreeMap;

use secmon_aws::{error_code, Aws};
use secmon_kinds::policy;
use secmon_kinds::role::POLICY_NAME as ROLE_POLICY_NAME;
use secmon_sim::lint::{alarm_problems, Impact};
use secmon_sim::Pattern;
use secmon_spec::{Alarm, Comparison, DesiredState, Metric, TreatMissingData};
use serde_json::{json, Value};

use crate::{check, Check, Options, Status, NOT_OBSERVABLE};

const STALE_SECS: i64 = 3600;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A `GetSecretValue` record as CloudTrail writes it for `secret_id`.
pub fn canonical_get_secret_value(secret_id: &str, account_id: &str, region: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account_id}:user/secmon-verify"), "accountId": account_id, "userName": "secmon-verify"},
        "eventTime": secmon_sim::events::format_time(now()),
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "secmon-verify",
        "requestParameters": {"secretId": secret_id},
        "responseElements": null,
        "requestID": "00000000-0000-4000-8000-000000000000",
        "eventID": "00000000-0000-4000-8000-000000000001",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account_id,
        "eventCategory": "Management"
    })
}

/// Which engine decides whether a filter matches an event.
enum Engine {
    Aws,
    Offline,
}

async fn filter_matches(aws: &Aws, engine: &mut Option<Engine>, pattern: &str, event: &Value) -> Result<bool, String> {
    let message = event.to_string();
    if !matches!(engine, Some(Engine::Offline)) {
        match aws
            .logs
            .test_metric_filter()
            .filter_pattern(pattern)
            .log_event_messages(&message)
            .send()
            .await
        {
            Ok(out) => {
                *engine = Some(Engine::Aws);
                return Ok(!out.matches().is_empty());
            }
            Err(e) if matches!(engine, Some(Engine::Aws)) => return Err(secmon_aws::AwsError::call("TestMetricFilter", e).to_string()),
            Err(_) => *engine = Some(Engine::Offline),
        }
    }
    let p = Pattern::parse(pattern).map_err(|e| format!("pattern syntax error at {e}"))?;
    Ok(p.matches(&secmon_sim::Event {
        message: &message,
        json: Some(event),
    }))
}

fn engine_name(engine: &Option<Engine>) -> &'static str {
    match engine {
        Some(Engine::Aws) => "AWS TestMetricFilter",
        _ => "secmon's offline engine (TestMetricFilter is not available on this endpoint)",
    }
}

/// Whether a topic policy lets `service` publish.
fn allows_publish(policy: &Value, service: &str) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => vec![],
    };
    let as_list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.to_lowercase()],
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_lowercase)).collect(),
            _ => vec![],
        }
    };
    statements.iter().any(|s| {
        let allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let action = as_list(s.get("Action"))
            .iter()
            .any(|a| a == "sns:publish" || a == "sns:*" || a == "*");
        let p = s.get("Principal");
        let principal = p.and_then(Value::as_str) == Some("*")
            || p.and_then(|p| p.get("AWS"))
                .is_some_and(|a| as_list(Some(a)).iter().any(|x| x == "*"))
            || p.and_then(|p| p.get("Service"))
                .is_some_and(|v| as_list(Some(v)).iter().any(|x| x == service));
        allow && action && principal
    })
}

fn live_alarm(a: &secmon_aws::cloudwatch::types::MetricAlarm) -> Alarm {
    let evaluation_periods = a.evaluation_periods().unwrap_or(1).max(1) as u32;
    Alarm {
        name: a.alarm_name().map(str::to_string),
        statistic: a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(str::to_string))
            .unwrap_or_default(),
        period: a.period().unwrap_or(60).max(1) as u32,
        evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm().map(|d| d as u32),
        threshold: a.threshold().unwrap_or(0.0),
        comparison: a
            .comparison_operator()
            .and_then(|c| Comparison::parse(c.as_str()))
            .unwrap_or_default(),
        treat_missing_data: a
            .treat_missing_data()
            .and_then(TreatMissingData::parse)
            .unwrap_or(TreatMissingData::Missing),
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect(),
    }
}

pub(crate) async fn run(aws: &Aws, state: &DesiredState, account_id: &str, opts: &Options) -> Vec<Check> {
    let mut out = Vec::new();
    let emulator = aws.endpoint_override.is_some();
    let mut log_group: Option<String> = None;

    // The trail: exists, logs, delivers.
    if let Some(t) = &state.trail {
        let subject = format!("trail {}", t.name);
        let desc = aws
            .cloudtrail
            .describe_trails()
            .trail_name_list(&t.name)
            .include_shadow_trails(false)
            .send()
            .await;
        let trail = desc
            .ok()
            .and_then(|d| d.trail_list().iter().find(|x| x.name() == Some(t.name.as_str())).cloned());
        match trail {
            None => out.push(check(
                "trail.exists",
                &subject,
                Status::Failed,
                "the trail does not exist",
                Some("run `secmon apply`"),
            )),
            Some(trail) => {
                out.push(check(
                    "trail.exists",
                    &subject,
                    Status::Ok,
                    format!("bucket {}", trail.s3_bucket_name().unwrap_or("?")),
                    None,
                ));
                match aws.cloudtrail.get_trail_status().name(&t.name).send().await {
                    Err(e) => out.push(check(
                        "trail.logging",
                        &subject,
                        Status::Failed,
                        secmon_aws::AwsError::call("GetTrailStatus", e).to_string(),
                        None,
                    )),
                    Ok(s) => {
                        if s.is_logging() == Some(true) {
                            out.push(check("trail.logging", &subject, Status::Ok, "logging", None));
                        } else {
                            out.push(check(
                                "trail.logging",
                                &subject,
                                Status::Failed,
                                "logging is stopped: no event is recorded, nothing can fire",
                                Some("run `secmon apply` (it starts logging), and find out who stopped it: the self-protection pack alarms on StopLogging"),
                            ));
                        }
                        let delivery =
                            |id: &str, err: Option<&str>, time: Option<&secmon_aws::DateTime>, what: &str, out: &mut Vec<Check>| {
                                if let Some(e) = err.filter(|e| !e.is_empty()) {
                                    out.push(check(
                                        id,
                                        &subject,
                                        Status::Failed,
                                        format!("latest {what} delivery failed: {e}"),
                                        Some("check the bucket policy / role (`secmon plan` shows drift)"),
                                    ));
                                } else if emulator {
                                    out.push(check(id, &subject, Status::NotObservable, NOT_OBSERVABLE, None));
                                } else {
                                    match time.map(|t| t.secs()) {
                                        Some(t) if now() - t <= STALE_SECS => out.push(check(
                                            id,
                                            &subject,
                                            Status::Ok,
                                            format!("latest {what} delivery {} s ago", now() - t),
                                            None,
                                        )),
                                        Some(t) => out.push(check(
                                            id,
                                            &subject,
                                            Status::Warning,
                                            format!("latest {what} delivery was {} minutes ago", (now() - t) / 60),
                                            Some("CloudTrail delivers every few minutes while the account is active"),
                                        )),
                                        None => out.push(check(
                                            id,
                                            &subject,
                                            Status::Warning,
                                            format!("no {what} delivery yet"),
                                            Some("wait a few minutes after apply"),
                                        )),
                                    }
                                }
                            };
                        delivery(
                            "trail.s3_delivery",
                            s.latest_delivery_error(),
                            s.latest_delivery_time(),
                            "S3",
                            &mut out,
                        );
                        let cw_group = trail.cloud_watch_logs_log_group_arn().map(secmon_kinds::normalize_arn);
                        let role = trail.cloud_watch_logs_role_arn();
                        match (&cw_group, role, &t.cloudwatch_logs) {
                            (Some(g), Some(_), Some(want)) if g.ends_with(&format!(":log-group:{}", want.log_group)) => {
                                out.push(check("trail.cloudwatch_logs", &subject, Status::Ok, format!("delivers to {}", want.log_group), None));
                                log_group = Some(want.log_group.clone());
                                delivery(
                                    "trail.cloudwatch_logs_delivery",
                                    s.latest_cloud_watch_logs_delivery_error(),
                                    s.latest_cloud_watch_logs_delivery_time(),
                                    "CloudWatch Logs",
                                    &mut out,
                                );
                            }
                            (_, _, Some(_)) => out.push(check(
                                "trail.cloudwatch_logs",
                                &subject,
                                Status::Failed,
                                format!(
                                    "CloudWatch Logs delivery is not configured as the spec says (log group {}, role {}): no event reaches the metric filters",
                                    cw_group.as_deref().unwrap_or("none"),
                                    role.unwrap_or("none")
                                ),
                                Some("run `secmon apply`"),
                            )),
                            (_, _, None) => out.push(check("trail.cloudwatch_logs", &subject, Status::Warning, "the spec has no trail.cloudwatch_logs: monitors cannot work", None)),
                        }
                        if let Some(role_arn) = role {
                            out.push(check_role(aws, role_arn, log_group.as_deref()).await);
                        }
                    }
                }
            }
        }
    }

    // The log group and its metric filters.
    let mut filters = Vec::new();
    if let Some(lg) = state
        .trail
        .as_ref()
        .and_then(|t| t.cloudwatch_logs.as_ref())
        .map(|c| c.log_group.clone())
    {
        let subject = format!("log group {lg}");
        let groups = aws.logs.describe_log_groups().log_group_name_prefix(&lg).send().await;
        if !groups
            .ok()
            .is_some_and(|g| g.log_groups().iter().any(|x| x.log_group_name() == Some(lg.as_str())))
        {
            out.push(check(
                "log_group.exists",
                &subject,
                Status::Failed,
                "the log group does not exist",
                Some("run `secmon apply`"),
            ));
        } else if emulator {
            out.push(check(
                "log_group.receives_events",
                &subject,
                Status::NotObservable,
                NOT_OBSERVABLE,
                None,
            ));
        } else {
            let streams = aws
                .logs
                .describe_log_streams()
                .log_group_name(&lg)
                .order_by(secmon_aws::logs::types::OrderBy::LastEventTime)
                .descending(true)
                .limit(1)
                .send()
                .await;
            let last = streams
                .ok()
                .and_then(|s| s.log_streams().first().and_then(|x| x.last_event_timestamp()))
                .map(|ms| ms / 1000);
            match last {
                Some(t) if now() - t <= STALE_SECS => out.push(check(
                    "log_group.receives_events",
                    &subject,
                    Status::Ok,
                    format!("latest event {} s ago", now() - t),
                    None,
                )),
                Some(t) => out.push(check(
                    "log_group.receives_events",
                    &subject,
                    Status::Warning,
                    format!("latest event {} minutes ago", (now() - t) / 60),
                    Some("check trail.cloudwatch_logs_delivery"),
                )),
                None => out.push(check(
                    "log_group.receives_events",
                    &subject,
                    Status::Failed,
                    "the log group has never received an event",
                    Some("check the trail's CloudWatch Logs delivery and its role"),
                )),
            }
        }
        let mut pages = aws.logs.describe_metric_filters().log_group_name(&lg).into_paginator().send();
        while let Some(Ok(page)) = pages.next().await {
            filters.extend(page.metric_filters().iter().cloned());
        }
    }

    // Each monitor: its filter exists and can match; its alarm can fire and notifies existing topics.
    let mut engine: Option<Engine> = None;
    let names: Vec<String> = state.monitors.iter().map(|m| m.alarm_name().to_string()).collect();
    let mut alarms = BTreeMap::new();
    for chunk in names.chunks(100) {
        if let Ok(a) = aws.cloudwatch.describe_alarms().set_alarm_names(Some(chunk.to_vec())).send().await {
            for x in a.metric_alarms() {
                alarms.insert(x.alarm_name().unwrap_or_default().to_string(), x.clone());
            }
        }
    }
    let mut topic_exists: BTreeMap<String, bool> = BTreeMap::new();
    for m in &state.monitors {
        let fname = m.filter_name();
        let subject = format!("metric filter {fname}");
        let live = filters.iter().find(|f| f.filter_name() == Some(fname));
        let Some(f) = live else {
            out.push(check(
                "filter.exists",
                &subject,
                Status::Failed,
                "the metric filter does not exist: matching events are counted nowhere",
                Some("run `secmon apply`"),
            ));
            continue;
        };
        let pattern = f.filter_pattern().unwrap_or_default().to_string();
        match Pattern::parse(&pattern) {
            Err(e) => out.push(check(
                "filter.pattern",
                &subject,
                Status::Failed,
                format!("pattern syntax error at {e}"),
                None,
            )),
            Ok(p) => {
                // A canonical event of the kind the filter names must match it.
                let base = canonical_get_secret_value("example", account_id, &aws.region);
                if let Some(example) = p.example_event(&base) {
                    let kind = format!(
                        "{} {}",
                        example.get("eventSource").and_then(Value::as_str).unwrap_or("?"),
                        example.get("eventName").and_then(Value::as_str).unwrap_or("?")
                    );
                    match filter_matches(aws, &mut engine, &pattern, &example).await {
                        Ok(true) => out.push(check(
                            "filter.matches",
                            &subject,
                            Status::Ok,
                            format!("matches a canonical {kind} event (by {})", engine_name(&engine)),
                            None,
                        )),
                        Ok(false) => out.push(check(
                            "filter.matches",
                            &subject,
                            Status::Failed,
                            format!(
                                "matches no event of the kind it names ({kind}): its conditions contradict each other (by {})",
                                engine_name(&engine)
                            ),
                            Some("fix the pattern; `secmon test-pattern` explains which condition fails"),
                        )),
                        Err(e) => out.push(check("filter.matches", &subject, Status::Failed, e, None)),
                    }
                }
            }
        }
        let t = f.metric_transformations().first();
        let metric = Metric {
            namespace: t.map(|t| t.metric_namespace().to_string()).unwrap_or_default(),
            name: t.map(|t| t.metric_name().to_string()).unwrap_or_default(),
            value: t.map(|t| t.metric_value().to_string()).unwrap_or_else(|| "1".into()),
            default: t.and_then(|t| t.default_value()),
            dimensions: t.and_then(|t| t.dimensions()).cloned().unwrap_or_default().into_iter().collect(),
        };
        // The alarm.
        let asubject = format!("alarm {}", m.alarm_name());
        let Some(a) = alarms.get(m.alarm_name()) else {
            out.push(check(
                "alarm.exists",
                &asubject,
                Status::Failed,
                "the alarm does not exist: the metric is counted but nobody is told",
                Some("run `secmon apply`"),
            ));
            continue;
        };
        if a.namespace() != Some(metric.namespace.as_str()) || a.metric_name() != Some(metric.name.as_str()) {
            out.push(check(
                "alarm.metric",
                &asubject,
                Status::Failed,
                format!(
                    "the alarm watches {}/{}, but filter {fname} publishes {}/{}",
                    a.namespace().unwrap_or("?"),
                    a.metric_name().unwrap_or("?"),
                    metric.namespace,
                    metric.name
                ),
                Some("run `secmon apply`"),
            ));
        }
        let live = live_alarm(a);
        let problems = alarm_problems(&live, &metric);
        if problems.is_empty() {
            out.push(check(
                "alarm.can_fire",
                &asubject,
                Status::Ok,
                format!(
                    "{} over {} s {} {}",
                    live.statistic,
                    live.period,
                    live.comparison.as_str(),
                    live.threshold
                ),
                None,
            ));
        }
        for p in problems {
            let status = if p.impact == Impact::CannotFire {
                Status::Failed
            } else {
                Status::Warning
            };
            out.push(check(
                "alarm.can_fire",
                &asubject,
                status,
                format!("{}: {}", p.field, p.message),
                Some(p.hint),
            ));
        }
        if a.actions_enabled() == Some(false) {
            out.push(check(
                "alarm.actions",
                &asubject,
                Status::Failed,
                "alarm actions are disabled",
                Some("run `secmon apply`"),
            ));
        }
        if a.alarm_actions().is_empty() {
            out.push(check(
                "alarm.actions",
                &asubject,
                Status::Failed,
                "the alarm has no action: nobody is notified",
                Some("add topics to the monitor's `notify`"),
            ));
        }
        for arn in a.alarm_actions() {
            if !arn.starts_with("arn:aws:sns:") {
                continue;
            }
            let exists = match topic_exists.get(arn) {
                Some(e) => *e,
                None => {
                    let e = match aws.sns.get_topic_attributes().topic_arn(arn).send().await {
                        Ok(_) => true,
                        Err(e) => error_code(&e) != Some("NotFound"),
                    };
                    topic_exists.insert(arn.clone(), e);
                    e
                }
            };
            if exists {
                out.push(check("alarm.actions", &asubject, Status::Ok, format!("notifies {arn}"), None));
            } else {
                out.push(check(
                    "alarm.actions",
                    &asubject,
                    Status::Failed,
                    format!("the alarm notifies {arn}, which does not exist"),
                    Some("run `secmon apply` (it recreates the topic and points the alarm at it)"),
                ));
            }
        }
        let state_value = a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default();
        match state_value.as_str() {
            "OK" | "ALARM" => out.push(check("alarm.state", &asubject, Status::Ok, format!("state {state_value}"), None)),
            _ if emulator => out.push(check(
                "alarm.state",
                &asubject,
                Status::NotObservable,
                format!("state {state_value}: {NOT_OBSERVABLE}"),
                None,
            )),
            _ => out.push(check(
                "alarm.state",
                &asubject,
                Status::Warning,
                format!("state {state_value}: the alarm has not received data"),
                Some("a metric default value (0) makes quiet periods visible; check the log group receives events"),
            )),
        }
    }

    // Each secret: a canonical read of it matches a metric filter.
    for s in &state.secrets {
        let subject = format!("secret {}", s.name);
        let id = match aws.secretsmanager.describe_secret().secret_id(&s.name).send().await {
            Ok(d) => d.arn().unwrap_or(&s.name).to_string(),
            Err(_) => {
                out.push(check(
                    "secret.exists",
                    &subject,
                    Status::Failed,
                    "the secret does not exist",
                    Some("run `secmon apply`"),
                ));
                continue;
            }
        };
        let mut caught = Vec::new();
        let mut errors = Vec::new();
        for ev in [
            canonical_get_secret_value(&id, account_id, &aws.region),
            canonical_get_secret_value(&s.name, account_id, &aws.region),
        ] {
            for f in &filters {
                match filter_matches(aws, &mut engine, f.filter_pattern().unwrap_or_default(), &ev).await {
                    Ok(true) => caught.push(f.filter_name().unwrap_or_default().to_string()),
                    Ok(false) => {}
                    Err(e) => errors.push(format!("{}: {e}", f.filter_name().unwrap_or_default())),
                }
            }
        }
        caught.sort();
        caught.dedup();
        if caught.is_empty() {
            out.push(check(
                "secret.watched",
                &subject,
                Status::Failed,
                format!("no metric filter matches a GetSecretValue of this secret (by {}){}", engine_name(&engine), if errors.is_empty() { String::new() } else { format!("; {}", errors.join("; ")) }),
                Some("use a pattern like { ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") }, or the secret-access pack"),
            ));
        } else {
            out.push(check(
                "secret.watched",
                &subject,
                Status::Ok,
                format!("a GetSecretValue matches {} (by {})", caught.join(", "), engine_name(&engine)),
                None,
            ));
        }
    }

    // Topics: CloudWatch (and CloudTrail) may publish; someone confirmed a subscription.
    let trail_topic = state.trail.as_ref().and_then(|t| t.notify_topic.clone());
    for t in &state.topics {
        let subject = format!("topic {}", t.name);
        let arn = format!("arn:aws:sns:{}:{account_id}:{}", aws.region, t.name);
        let attrs = match aws.sns.get_topic_attributes().topic_arn(&arn).send().await {
            Ok(a) => a,
            Err(_) => {
                out.push(check(
                    "topic.exists",
                    &subject,
                    Status::Failed,
                    "the topic does not exist",
                    Some("run `secmon apply`"),
                ));
                continue;
            }
        };
        let pol = attrs
            .attributes()
            .and_then(|a| a.get("Policy"))
            .and_then(|p| policy::parse(p))
            .unwrap_or(Value::Null);
        let mut services = vec!["cloudwatch.amazonaws.com"];
        if trail_topic.as_deref() == Some(t.name.as_str()) {
            services.push("cloudtrail.amazonaws.com");
        }
        for svc in services {
            if allows_publish(&pol, svc) {
                out.push(check("topic.policy", &subject, Status::Ok, format!("{svc} may publish"), None));
            } else {
                out.push(check(
                    "topic.policy",
                    &subject,
                    Status::Failed,
                    format!("the topic policy does not let {svc} publish: notifications are dropped"),
                    Some("run `secmon apply` (it restores the policy)"),
                ));
            }
        }
        let mut confirmed = Vec::new();
        let mut pending = Vec::new();
        let mut pages = aws.sns.list_subscriptions_by_topic().topic_arn(&arn).into_paginator().send();
        while let Some(Ok(page)) = pages.next().await {
            for s in page.subscriptions() {
                let who = format!("{}:{}", s.protocol().unwrap_or("?"), s.endpoint().unwrap_or("?"));
                if s.subscription_arn() == Some("PendingConfirmation") {
                    pending.push((
                        s.protocol().unwrap_or_default().to_string(),
                        s.endpoint().unwrap_or_default().to_string(),
                        who,
                    ));
                } else {
                    confirmed.push(who);
                }
            }
        }
        if opts.resend_confirmation {
            for (protocol, endpoint, who) in &pending {
                let r = aws
                    .sns
                    .subscribe()
                    .topic_arn(&arn)
                    .protocol(protocol)
                    .endpoint(endpoint)
                    .send()
                    .await;
                let (status, evidence) = match r {
                    Ok(_) => (Status::Ok, format!("confirmation e-mail sent again to {who}")),
                    Err(e) => (Status::Failed, secmon_aws::AwsError::call("Subscribe", e).to_string()),
                };
                out.push(check("subscription.resend", &subject, status, evidence, None));
            }
        }
        let pending_list: Vec<&str> = pending.iter().map(|(_, _, w)| w.as_str()).collect();
        if confirmed.is_empty() {
            out.push(check(
                "topic.subscriptions",
                &subject,
                Status::Failed,
                if pending.is_empty() { "the topic has no subscription: nobody receives its alarms".to_string() } else { format!("no confirmed subscription; pending: {}", pending_list.join(", ")) },
                Some("confirm from the \"AWS Notification - Subscription Confirmation\" e-mail; `secmon verify --resend-confirmation` sends it again"),
            ));
        } else if !pending.is_empty() {
            out.push(check(
                "topic.subscriptions",
                &subject,
                Status::Warning,
                format!("confirmed: {}; pending: {}", confirmed.join(", "), pending_list.join(", ")),
                Some("`secmon verify --resend-confirmation` sends the confirmation again"),
            ));
        } else {
            out.push(check(
                "topic.subscriptions",
                &subject,
                Status::Ok,
                format!("confirmed: {}", confirmed.join(", ")),
                None,
            ));
        }
    }
    out
}

async fn check_role(aws: &Aws, role_arn: &str, log_group: Option<&str>) -> Check {
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let subject = format!("role {name}");
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(r) => r,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => {
            return check(
                "role.exists",
                &subject,
                Status::Failed,
                "the role CloudTrail uses to write to CloudWatch Logs does not exist: no event reaches the log group",
                Some("run `secmon apply` (it recreates the role)"),
            )
        }
        Err(e) => {
            return check(
                "role.exists",
                &subject,
                Status::Failed,
                secmon_aws::AwsError::call("GetRole", e).to_string(),
                None,
            )
        }
    };
    let trust = role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .and_then(policy::parse)
        .unwrap_or(Value::Null);
    if !trust.to_string().contains("cloudtrail.amazonaws.com") {
        return check(
            "role.trust",
            &subject,
            Status::Failed,
            "the role does not trust cloudtrail.amazonaws.com",
            Some("run `secmon apply`"),
        );
    }
    // secmon's inline policy, or any inline policy of a role set up by hand (the console names it differently).
    let mut names = vec![ROLE_POLICY_NAME.to_string()];
    if let Ok(list) = aws.iam.list_role_policies().role_name(name).send().await {
        names.extend(list.policy_names().iter().filter(|n| n.as_str() != ROLE_POLICY_NAME).cloned());
    }
    let mut doc = String::new();
    for n in names {
        if let Ok(p) = aws.iam.get_role_policy().role_name(name).policy_name(&n).send().await {
            doc.push_str(&policy::parse(p.policy_document()).unwrap_or(Value::Null).to_string());
        }
    }
    let writes = doc.contains("logs:PutLogEvents") && log_group.is_none_or(|g| doc.contains(&format!("log-group:{g}:")));
    if writes {
        check(
            "role.permissions",
            &subject,
            Status::Ok,
            "trusted by CloudTrail, may write to the log group",
            None,
        )
    } else {
        check(
            "role.permissions",
            &subject,
            Status::Failed,
            "the role may not write to the trail's log group (logs:PutLogEvents)",
            Some("run `secmon apply`"),
        )
    }
}
