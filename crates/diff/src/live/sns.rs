//! SNS: each topic's policy, and every subscription from one paged ListSubscriptions call.

use secmon_aws::{error_code, Aws, AwsError};
use serde_json::{json, Value};

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::plan::Kind;
use crate::policy;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<(Vec<LiveResource>, Vec<LiveResource>), DiffError> {
    let wanted = ctx.names(Kind::Topic);
    let (attrs, subs) = tokio::join!(
        futures::future::join_all(
            wanted
                .iter()
                .map(|d| { aws.sns.get_topic_attributes().topic_arn(d.arn.clone().unwrap_or_default()).send() })
        ),
        list_subscriptions(aws),
    );
    let mut topics = Vec::new();
    for (d, a) in wanted.iter().zip(attrs) {
        let a = match a {
            Ok(a) => a,
            Err(e) if error_code(&e) == Some("NotFound") => continue,
            Err(e) => {
                return Err(DiffError::Read {
                    address: d.address(),
                    source: AwsError::call("GetTopicAttributes", e),
                })
            }
        };
        let pol = a
            .attributes()
            .and_then(|m| m.get("Policy"))
            .and_then(|p| policy::parse(p))
            .unwrap_or(Value::Null);
        let mut r = bare(Kind::Topic, &d.name, d.arn.clone());
        r.attrs.insert("policy".into(), pol);
        topics.push(live(r, false));
    }
    let mut subscriptions = Vec::new();
    for s in subs? {
        let topic_arn = s.topic_arn().unwrap_or_default();
        let topic = topic_arn.rsplit(':').next().unwrap_or_default();
        if s.protocol() != Some("email") || !topics.iter().any(|t| t.resource.name == topic) {
            continue;
        }
        let endpoint = s.endpoint().unwrap_or_default().to_lowercase();
        let sub_arn = s.subscription_arn().unwrap_or_default();
        let pending = sub_arn == "PendingConfirmation";
        let mut r = bare(
            Kind::Subscription,
            &format!("{topic}/{endpoint}"),
            (!pending).then(|| sub_arn.to_string()),
        );
        r.attrs = json!({"topic": topic, "protocol": "email", "endpoint": endpoint})
            .as_object()
            .expect("object")
            .clone()
            .into_iter()
            .collect();
        r.meta.insert("topic_arn".into(), json!(topic_arn));
        let mut l = live(r, false);
        l.pending = pending;
        subscriptions.push(l);
    }
    Ok((topics, subscriptions))
}

async fn list_subscriptions(aws: &Aws) -> Result<Vec<secmon_aws::sns::types::Subscription>, DiffError> {
    let mut out = Vec::new();
    let mut pages = aws.sns.list_subscriptions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListSubscriptions", e))?;
        out.extend(page.subscriptions().iter().cloned());
    }
    Ok(out)
}
