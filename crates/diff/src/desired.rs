//! DesiredState → the resources it implies, with every generated policy written out in full.
//! Generated policies are least privilege: scoped ARNs and `aws:SourceArn`/`aws:SourceAccount`.

use std::collections::BTreeMap;

use secmon_spec::{DesiredState, ValueSource};
use serde_json::{json, Value};

use crate::plan::{Kind, Resource};
use crate::policy;

/// Where the pipeline lives: the ARNs of its parts follow from these.
#[derive(Debug, Clone)]
pub struct Target {
    pub account_id: String,
    pub region: String,
}

/// Path under which secmon creates IAM roles.
pub const ROLE_PATH: &str = "/secmon/";
/// Name of the inline policy on the CloudTrail → CloudWatch Logs role.
pub const ROLE_POLICY_NAME: &str = "secmon-cloudwatch-logs";
/// Tag key marking ownership; its value is the spec name.
pub const OWNER_TAG: &str = "secmon:spec";
/// Tag key holding the secret value's version (the value itself is never read back).
pub const VALUE_VERSION_TAG: &str = "secmon:value-version";

impl Target {
    pub fn trail_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudtrail:{}:{}:trail/{name}", self.region, self.account_id)
    }
    pub fn log_group_arn(&self, name: &str) -> String {
        format!("arn:aws:logs:{}:{}:log-group:{name}", self.region, self.account_id)
    }
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role{ROLE_PATH}{name}", self.account_id)
    }
    pub fn topic_arn(&self, name: &str) -> String {
        format!("arn:aws:sns:{}:{}:{name}", self.region, self.account_id)
    }
    pub fn alarm_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.region, self.account_id)
    }
}

fn res(kind: Kind, name: &str, arn: Option<String>, attrs: Value) -> Resource {
    let attrs: BTreeMap<String, Value> = match attrs {
        Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    Resource {
        kind,
        name: name.to_string(),
        arn,
        attrs,
        meta: BTreeMap::new(),
    }
}

/// Collapses whitespace outside quoted strings: AWS may store a pattern reformatted.
pub fn normalize_pattern(p: &str) -> String {
    let mut out = String::new();
    let mut in_quote = false;
    let mut prev_space = false;
    for c in p.trim().chars() {
        if c == '"' {
            in_quote = !in_quote;
        }
        if c.is_whitespace() && !in_quote {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

pub fn bucket_policy(t: &Target, bucket: &str, trail: &str) -> Value {
    let b = format!("arn:aws:s3:::{bucket}");
    let trail_arn = t.trail_arn(trail);
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": b,
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("{b}/AWSLogs/{}/*", t.account_id),
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}}
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [b.clone(), format!("{b}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }
        ]
    }))
}

pub fn role_trust_policy(t: &Target, trail: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudTrailAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceArn": t.trail_arn(trail), "aws:SourceAccount": t.account_id}}
        }]
    }))
}

pub fn role_logs_policy(t: &Target, log_group: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudTrailWritesToItsLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{}:log-stream:*", t.log_group_arn(log_group))
        }]
    }))
}

pub fn topic_policy(t: &Target, topic: &str, trail_publishes: Option<&str>) -> Value {
    let arn = t.topic_arn(topic);
    let mut statements = vec![
        json!({
            "Sid": "OwnerManagesTopic",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", t.account_id)},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                       "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn
        }),
        json!({
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": t.account_id},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:cloudwatch:{}:{}:alarm:*", t.region, t.account_id)}
            }
        }),
    ];
    if let Some(trail) = trail_publishes {
        statements.push(json!({
            "Sid": "CloudTrailPublishes",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceArn": t.trail_arn(trail)}}
        }));
    }
    policy::normalize(&json!({"Version": "2012-10-17", "Statement": statements}))
}

/// Every resource the desired state implies, in a deterministic order.
pub fn resources(state: &DesiredState, t: &Target) -> Vec<Resource> {
    let mut out = Vec::new();
    for s in &state.secrets {
        let source = match s.value.source() {
            ValueSource::FromEnv(v) => json!({"from_env": v}),
            ValueSource::FromFile(f) => json!({"from_file": f}),
            ValueSource::Generate {
                length,
                exclude_punctuation,
            } => {
                json!({"generate": {"length": length, "exclude_punctuation": exclude_punctuation}})
            }
        };
        let mut r = res(
            Kind::Secret,
            &s.name,
            None,
            json!({
                "description": s.description,
                "kms_key_id": s.kms_key_id,
                "tags": s.tags,
                "value_version": s.value.version,
                "pending_deletion": false,
            }),
        );
        // Where apply reads the value; never the value itself.
        r.meta.insert("value_source".into(), source);
        out.push(r);
    }
    if let Some(trail) = &state.trail {
        out.push(res(
            Kind::Bucket,
            &trail.bucket.name,
            Some(format!("arn:aws:s3:::{}", trail.bucket.name)),
            json!({
                "policy": bucket_policy(t, &trail.bucket.name, &trail.name),
                "block_public_access": true,
                "encryption": "AES256",
                "expire_logs_after_days": trail.bucket.expire_logs_after_days,
            }),
        ));
        let mut cw_group = Value::Null;
        let mut cw_role = Value::Null;
        if let Some(cw) = &trail.cloudwatch_logs {
            out.push(res(
                Kind::LogGroup,
                &cw.log_group,
                Some(t.log_group_arn(&cw.log_group)),
                json!({"retention_days": cw.retention_days}),
            ));
            let role = state.trail_role_name().expect("cloudwatch_logs implies a role");
            out.push(res(
                Kind::Role,
                &role,
                Some(t.role_arn(&role)),
                json!({
                    "trust_policy": role_trust_policy(t, &trail.name),
                    "policy": role_logs_policy(t, &cw.log_group),
                }),
            ));
            cw_group = json!(t.log_group_arn(&cw.log_group));
            cw_role = json!(t.role_arn(&role));
        }
        let mut excludes = trail.management_events.exclude_sources.clone();
        excludes.sort();
        excludes.dedup();
        out.push(res(
            Kind::Trail,
            &trail.name,
            Some(t.trail_arn(&trail.name)),
            json!({
                "bucket": trail.bucket.name,
                "multi_region": trail.multi_region,
                "log_file_validation": trail.log_file_validation,
                "cloudwatch_logs_group_arn": cw_group,
                "cloudwatch_logs_role_arn": cw_role,
                "sns_topic": trail.notify_topic,
                "read_write": trail.management_events.read_write.as_str(),
                "exclude_sources": excludes,
                "logging": true,
            }),
        ));
    }
    let trail_topic = state
        .trail
        .as_ref()
        .and_then(|tr| tr.notify_topic.as_deref().map(|n| (n, tr.name.as_str())));
    for topic in &state.topics {
        let publisher = trail_topic.filter(|(n, _)| *n == topic.name).map(|(_, trail)| trail);
        out.push(res(
            Kind::Topic,
            &topic.name,
            Some(t.topic_arn(&topic.name)),
            json!({"policy": topic_policy(t, &topic.name, publisher)}),
        ));
        for email in &topic.email {
            out.push(res(
                Kind::Subscription,
                &format!("{}/{}", topic.name, email.to_lowercase()),
                None,
                json!({"topic": topic.name, "protocol": "email", "endpoint": email.to_lowercase()}),
            ));
        }
    }
    if let Some(cw) = state.trail.as_ref().and_then(|tr| tr.cloudwatch_logs.as_ref()) {
        for m in &state.monitors {
            let mut r = res(
                Kind::MetricFilter,
                m.filter_name(),
                None,
                json!({
                    "log_group": cw.log_group,
                    "pattern": normalize_pattern(&m.pattern),
                    "metric_namespace": m.metric.namespace,
                    "metric_name": m.metric.name,
                    "metric_value": m.metric.value,
                    "default_value": m.metric.default,
                    "dimensions": m.metric.dimensions,
                }),
            );
            // Sent exactly as written: auditors (Security Hub, CIS) compare the text byte for byte.
            r.meta.insert("pattern_text".into(), json!(m.pattern));
            out.push(r);
        }
    }
    for m in &state.monitors {
        let mut actions: Vec<String> = m.notify.iter().map(|n| t.topic_arn(n)).collect();
        actions.sort();
        actions.dedup();
        let a = &m.alarm;
        out.push(res(
            Kind::Alarm,
            m.alarm_name(),
            Some(t.alarm_arn(m.alarm_name())),
            json!({
                "description": m.description,
                "namespace": m.metric.namespace,
                "metric_name": m.metric.name,
                "statistic": a.statistic,
                "period": a.period,
                "evaluation_periods": a.evaluation_periods,
                "datapoints_to_alarm": a.datapoints_to_alarm.unwrap_or(a.evaluation_periods),
                "threshold": a.threshold,
                "comparison": a.comparison.as_str(),
                "treat_missing_data": a.treat_missing_data.as_str(),
                "alarm_actions": actions,
                "dimensions": a.dimensions,
            }),
        ));
    }
    out
}

/// Addresses a resource refers to: it can only be created once they exist.
pub fn references(r: &Resource) -> Vec<String> {
    let s = |k: &str| r.attr_str(k).map(str::to_string);
    match r.kind {
        Kind::Trail => {
            let mut v = vec![format!("bucket.{}", s("bucket").unwrap_or_default())];
            if let Some(arn) = s("cloudwatch_logs_group_arn") {
                v.push(format!("log_group.{}", arn.rsplit("log-group:").next().unwrap_or_default()));
            }
            if let Some(arn) = s("cloudwatch_logs_role_arn") {
                v.push(format!("role.{}", arn.rsplit('/').next().unwrap_or_default()));
            }
            if let Some(t) = s("sns_topic") {
                v.push(format!("topic.{t}"));
            }
            v
        }
        Kind::Subscription => vec![format!("topic.{}", s("topic").unwrap_or_default())],
        Kind::MetricFilter => vec![format!("log_group.{}", s("log_group").unwrap_or_default())],
        Kind::Alarm => r
            .attrs
            .get("alarm_actions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|arn| format!("topic.{}", arn.rsplit(':').next().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_whitespace_outside_quotes_is_not_a_change() {
        assert_eq!(
            normalize_pattern("{ ($.eventSource = \"secretsmanager.amazonaws.com\")   &&\n ($.eventName = \"Get  Secret\") }"),
            "{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"Get  Secret\") }"
        );
    }

    #[test]
    fn generated_policies_are_scoped() {
        let t = Target {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        let p = bucket_policy(&t, "b", "tr").to_string();
        assert!(p.contains("arn:aws:cloudtrail:us-east-1:123456789012:trail/tr"));
        assert!(p.contains("arn:aws:s3:::b/AWSLogs/123456789012/*"));
        assert!(p.contains("aws:SecureTransport"));
        let r = role_logs_policy(&t, "lg").to_string();
        assert!(r.contains("log-group:lg:log-stream:*") && !r.contains("\"*\""));
        let tp = topic_policy(&t, "T", None).to_string();
        assert!(tp.contains("aws:SourceAccount") && !tp.contains("cloudtrail"));
    }
}
