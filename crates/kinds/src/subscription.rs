//! E-mail subscription to a topic. Confirmation is the recipient's job; secmon only subscribes.
//! Subscriptions cannot be tagged: they belong to whoever owns their topic.

use serde::{Deserialize, Serialize};

use crate::sdk::send;
use crate::{Aws, AwsError, ExecCtx, Facts, Fut, Kind, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target};
use secmon_spec::DesiredState;

/// The subscription, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The topic's name.
    pub topic: String,
    /// `email`, ...
    pub protocol: String,
    /// Lower-cased: AWS compares e-mail endpoints without case.
    pub endpoint: String,
}

/// What the live reader keeps for humans: the topic's ARN, for the resend command.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    /// The topic's ARN, as read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::Container(Kind::Topic),
    refers_to: &[Kind::Topic],
    step: 8,
    iam: crate::Iam { read: &["sns:ListSubscriptions", "sns:ListSubscriptionsByTopic"], write: &["sns:Subscribe", "sns:Unsubscribe"] },
};
/// What a listed subscription's `SubscriptionArn` says: `Some(true)` waiting for confirmation,
/// `Some(false)` confirmed (an ARN), `None` as good as absent: `Deleted` after the recipient
/// unsubscribed, which must not pass for confirmed (issue 11, item 10). Apply then subscribes the
/// address again, which sends a new confirmation e-mail.
fn state(subscription_arn: &str) -> Option<bool> {
    match subscription_arn {
        "PendingConfirmation" => Some(true),
        arn if arn.starts_with("arn:") => Some(false),
        _ => None,
    }
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// Subscribing a pending endpoint again sends the confirmation message again (SNS
    /// Subscribe); for e-mail, the seeds' "resend the confirmation".
    fn resend_confirmation(&self, desired: &Resource) -> Option<(String, String)> {
        let a: Attrs = desired.attrs();
        Some((format!("topic {}", a.topic), format!("{}:{}", a.protocol, a.endpoint)))
    }

    fn desired(&self, state: &DesiredState, _t: &Target) -> Vec<Resource> {
        let mut out = Vec::new();
        for topic in &state.topics {
            for email in &topic.email {
                let endpoint = email.to_lowercase();
                let attrs = Attrs { topic: topic.name.clone(), protocol: "email".into(), endpoint: endpoint.clone() };
                out.push(Resource::new(Kind::Subscription, &format!("{}/{endpoint}", topic.name), None, &attrs));
            }
        }
        out
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        vec![crate::Address::new(Kind::Topic, &r.attrs::<Attrs>().topic)]
    }

    fn container(&self, r: &Resource) -> Option<crate::Address> {
        Some(crate::Address::new(Kind::Topic, &r.attrs::<Attrs>().topic))
    }

    fn keep_instead_of_delete(&self, live: &LiveResource, _delete_logs: bool) -> Option<String> {
        live.pending.then(|| {
            format!(
                "{}: pending subscriptions cannot be deleted; SNS deletes unconfirmed subscriptions after 48 hours",
                live.resource.address()
            )
        })
    }

    fn pending_note(&self, live: &LiveResource, desired: &Resource) -> Option<String> {
        live.pending.then(|| {
            format!(
                "{}: subscription pending confirmation; {} must click the link in the \
                 \"AWS Notification - Subscription Confirmation\" e-mail (SNS deletes it unconfirmed after 48 hours). \
                 To send it again: secmon verify --resend-confirmation",
                live.resource.address(),
                desired.attrs::<Attrs>().endpoint
            )
        })
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let topics: Vec<&str> = ctx.desired_of(Kind::Topic).iter().map(|t| t.name.as_str()).collect();
            if topics.is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            let mut pages = aws.sns.list_subscriptions().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::call("ListSubscriptions", e))?;
                for s in page.subscriptions() {
                    let topic_arn = s.topic_arn().unwrap_or_default();
                    let topic = topic_arn.rsplit(':').next().unwrap_or_default();
                    if s.protocol() != Some("email") || !topics.contains(&topic) {
                        continue;
                    }
                    let endpoint = s.endpoint().unwrap_or_default().to_lowercase();
                    let sub_arn = s.subscription_arn().unwrap_or_default();
                    let Some(pending) = state(sub_arn) else { continue };
                    let attrs = Attrs { topic: topic.to_string(), protocol: "email".into(), endpoint: endpoint.clone() };
                    let r =
                        Resource::new(Kind::Subscription, &format!("{topic}/{endpoint}"), (!pending).then(|| sub_arn.to_string()), &attrs)
                            .with_meta(&Meta { topic_arn: Some(topic_arn.to_string()) });
                    let mut l = LiveResource::new(r, false);
                    l.pending = pending;
                    out.push(l);
                }
            }
            Ok(out)
        })
    }

    /// Subscribe is idempotent; for a pending address it sends the confirmation again.
    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let a: Attrs = r.attrs();
        let request = aws.sns.subscribe().topic_arn(ctx.target().topic_arn(&a.topic));
        Box::pin(send("Subscribe", request.protocol("email").endpoint(&a.endpoint).send()))
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            match r.arn.clone() {
                Some(arn) => send("Unsubscribe", aws.sns.unsubscribe().subscription_arn(arn).send()).await,
                None => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribed_address_is_absent_not_confirmed() {
        assert_eq!(state("PendingConfirmation"), Some(true));
        assert_eq!(state("arn:aws:sns:us-east-1:123456789012:T:0f1e2d3c-aaaa-bbbb-cccc-111122223333"), Some(false));
        assert_eq!(state("Deleted"), None);
    }
}
