//! A topic's subscription: e-mail, HTTPS webhook, SQS queue or Lambda function. Confirmation is
//! the recipient's job (an e-mail click; a webhook fetching the SubscribeURL, as PagerDuty's and
//! Opsgenie's CloudWatch integrations do); secmon only subscribes. Subscriptions cannot be
//! tagged: they belong to whoever owns their topic.
//!
//! A webhook's URL carries its integration key: it is read from the environment at plan and
//! apply time, and shown only as its host and a digest ([`shown_url`]), in plans, logs and
//! errors alike.

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
    /// `email`, `https`, `sqs` or `lambda`.
    pub protocol: String,
    /// An e-mail address lower-cased (AWS compares them without case), a queue's or function's
    /// ARN, or a webhook as [`shown_url`] shows it.
    pub endpoint: String,
}

/// The protocols secmon subscribes; others on the topic are someone else's and left alone.
const PROTOCOLS: [&str; 4] = ["email", "https", "sqs", "lambda"];

/// A webhook URL as secmon shows it: scheme and host, then the first 8 bytes of its SHA-256 in
/// hex; its path and query (where integration keys live) and any user info never appear.
pub fn shown_url(url: &str) -> String {
    format!("https://{}/… sha256:{}", crate::model::url_host(url), crate::model::sha256_hex(url, 8))
}

/// Whether an HTTPS endpoint is AWS Chatbot's own (`https://global.sns-api.chatbot.amazonaws.com`).
fn chatbot_subscription(endpoint: &str) -> bool {
    // The endpoint the Chatbot user guide's topic subscriptions show; the chat channel kind's
    // verify looks for the same host.
    crate::model::url_host(endpoint) == "global.sns-api.chatbot.amazonaws.com"
}

/// The resource name of a subscription: `TOPIC/ENDPOINT`, the endpoint as compared (an
/// address, a webhook as shown, a queue's or function's ARN).
fn name(topic: &str, endpoint: &str) -> String {
    format!("{topic}/{endpoint}")
}

/// What the live reader keeps for humans (the topic's ARN, for the resend command), and where
/// a webhook's URL comes from (never the URL).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    /// The topic's ARN, as read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_arn: Option<String>,
    /// The environment variable holding a webhook's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
}

/// A webhook's URL from its environment variable, or why it cannot be used (naming the
/// variable, never the value).
fn url_from_env(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(url) if url.starts_with("https://") => Ok(url),
        Ok(_) => Err(format!("environment variable {var} does not hold an https:// URL")),
        Err(_) => Err(format!("environment variable {var} is not set: it holds the webhook's URL")),
    }
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::Container(Kind::Topic),
    refers_to: &[Kind::Topic],
    step: 8,
    iam: crate::Iam {
        read: &["sns:ListSubscriptions", "sns:ListSubscriptionsByTopic"],
        write: &["sns:Subscribe", "sns:Unsubscribe"],
        writes_on: None,
    },
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
            let mut add = |protocol: &str, endpoint: String, meta: Meta| {
                let attrs = Attrs { topic: topic.name.clone(), protocol: protocol.into(), endpoint: endpoint.clone() };
                out.push(Resource::new(Kind::Subscription, &name(&topic.name, &endpoint), None, &attrs).with_meta(&meta));
            };
            for email in &topic.email {
                add("email", email.to_lowercase(), Meta::default());
            }
            for h in &topic.https {
                // Unset, the plan still shows the subscription; apply refuses before any change.
                let endpoint = url_from_env(&h.env).map(|u| shown_url(&u)).unwrap_or_else(|_| format!("${{{}}}", h.env));
                add("https", endpoint, Meta { url_env: Some(h.env.clone()), ..Meta::default() });
            }
            for arn in &topic.sqs {
                add("sqs", arn.clone(), Meta::default());
            }
            for arn in &topic.lambda {
                add("lambda", arn.clone(), Meta::default());
            }
        }
        out
    }

    /// A webhook's URL must be at hand before anything changes.
    fn check_inputs(&self, change: &crate::Change, _spec_dir: &std::path::Path) -> Result<(), crate::KindError> {
        let Some(after) = change.after.as_ref().filter(|_| change.op == crate::Op::Create) else { return Ok(()) };
        match after.meta::<Meta>().url_env {
            Some(var) => url_from_env(&var).map(drop).map_err(crate::KindError::Input),
            None => Ok(()),
        }
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
        let a: Attrs = desired.attrs();
        let how = match a.protocol.as_str() {
            "email" => format!("{} must click the link in the \"AWS Notification - Subscription Confirmation\" e-mail", a.endpoint),
            "https" => format!("the webhook {} must confirm it (fetch the SubscribeURL SNS posted to it)", a.endpoint),
            _ => format!("the owner of {} must confirm it (a queue or function in another account)", a.endpoint),
        };
        live.pending.then(|| {
            format!(
                "{}: subscription pending confirmation; {how} (SNS deletes it unconfirmed after 48 hours). \
                 To send it again: secmon verify --resend-confirmation",
                live.resource.address(),
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
                    let protocol = s.protocol().unwrap_or_default();
                    if !PROTOCOLS.contains(&protocol) || !topics.contains(&topic) {
                        continue;
                    }
                    // AWS Chatbot subscribes each topic of a channel configuration itself; the
                    // subscription is the configuration's, which the chat channel kind manages.
                    if protocol == "https" && chatbot_subscription(s.endpoint().unwrap_or_default()) {
                        continue;
                    }
                    let endpoint = match protocol {
                        "email" => s.endpoint().unwrap_or_default().to_lowercase(),
                        "https" => shown_url(s.endpoint().unwrap_or_default()),
                        _ => s.endpoint().unwrap_or_default().to_string(),
                    };
                    let sub_arn = s.subscription_arn().unwrap_or_default();
                    let Some(pending) = state(sub_arn) else { continue };
                    let attrs = Attrs { topic: topic.to_string(), protocol: protocol.into(), endpoint: endpoint.clone() };
                    let name = name(topic, &endpoint);
                    let r = Resource::new(Kind::Subscription, &name, (!pending).then(|| sub_arn.to_string()), &attrs)
                        .with_meta(&Meta { topic_arn: Some(topic_arn.to_string()), ..Meta::default() });
                    let mut l = LiveResource::new(r, false);
                    l.pending = pending;
                    out.push(l);
                }
            }
            Ok(out)
        })
    }

    /// Subscribe is idempotent; for a pending endpoint it sends the confirmation again.
    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let endpoint = match r.meta::<Meta>().url_env {
                Some(var) => url_from_env(&var).map_err(crate::KindError::Input)?,
                None => a.endpoint.clone(),
            };
            let request = aws.sns.subscribe().topic_arn(ctx.target().topic_arn(&a.topic));
            send("Subscribe", request.protocol(&a.protocol).endpoint(endpoint).send()).await
        })
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
    fn a_webhook_is_shown_by_its_host_and_a_digest_never_its_key() {
        let url = "https://user:pw@events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue";
        let shown = shown_url(url);
        assert!(shown.starts_with("https://events.pagerduty.com/… sha256:"), "{shown}");
        assert!(!shown.contains("0123456789abcdef") && !shown.contains("pw"), "{shown}");
        assert_eq!(shown, shown_url(url), "stable, so that desired and live compare");
        assert_ne!(shown, shown_url(&url.replace("0123", "9999")), "another key is another subscription");
    }

    #[test]
    fn chatbots_own_subscription_is_the_chat_channels_not_the_topics() {
        assert!(chatbot_subscription("https://global.sns-api.chatbot.amazonaws.com"));
        assert!(!chatbot_subscription("https://global.sns-api.chatbot.amazonaws.com.evil.example/hook"));
        assert!(!chatbot_subscription("https://events.pagerduty.com/integration/x/enqueue"));
    }

    #[test]
    fn an_unsubscribed_address_is_absent_not_confirmed() {
        assert_eq!(state("PendingConfirmation"), Some(true));
        assert_eq!(state("arn:aws:sns:us-east-1:123456789012:T:0f1e2d3c-aaaa-bbbb-cccc-111122223333"), Some(false));
        assert_eq!(state("Deleted"), None);
    }
}
