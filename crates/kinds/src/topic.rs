//! SNS topic the alarms (and optionally the trail) notify, with its access policy.

use secmon_aws::error_code;
use secmon_aws::sns::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{Check, Status, VerifyCtx};
use crate::sdk::{fail, policy_text, read_fail, send};
use crate::{policy, Aws, ExecCtx, Facts, Fut, Kind, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_spec::DesiredState;

/// The topic's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The access policy, normalised ([`policy::normalize`]).
    pub policy: Value,
    /// The KMS key the topic is encrypted with (`KmsMasterKeyId`): the spec's key by its alias,
    /// or a key ARN (issue 16, SNS.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// The topic's access policy: the owner account manages it; CloudWatch alarms of this account
/// and region publish (`aws:SourceAccount`, `aws:SourceArn`); the trail publishes when it
/// notifies this topic; EventBridge publishes for exactly `rules` (the monitors' alert context,
/// `aws:SourceArn` as the SNS developer guide's EventBridge example conditions it).
pub fn topic_policy(t: &Target, topic: &str, trail_publishes: Option<&str>, rules: &[String]) -> Value {
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
                "ArnLike": {"aws:SourceArn": t.alarm_arn("*")}
            }
        }),
    ];
    // "Enforce encryption of data in transit": publishing over plain HTTP is refused to everyone
    // (SNS developer guide, "Amazon SNS security best practices"). Service deliveries carry no
    // `aws:SecureTransport` key, which a `Bool` condition does not match: they are not refused.
    statements.push(json!({
        "Sid": "DenyPublishWithoutTls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "SNS:Publish",
        "Resource": arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }));
    // A service publishing on the pipeline's behalf, under its condition.
    let publishes = |sid: &str, service: &str, condition: Value| json!({"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": "SNS:Publish", "Resource": arn, "Condition": condition});
    if let Some(trail) = trail_publishes {
        let condition = json!({"StringEquals": {"aws:SourceArn": t.trail_arn(trail)}});
        statements.push(publishes("CloudTrailPublishes", "cloudtrail.amazonaws.com", condition));
    }
    if !rules.is_empty() {
        let condition = json!({"StringEquals": {"aws:SourceAccount": t.account_id}, "ArnEquals": {"aws:SourceArn": rules}});
        statements.push(publishes("EventBridgeRulesPublish", "events.amazonaws.com", condition));
    }
    policy::normalize(&json!({"Version": "2012-10-17", "Statement": statements}))
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::TaggingApi,
    refers_to: &[Kind::Key],
    step: 7,
    iam: crate::Iam {
        read: &["sns:GetTopicAttributes", "sns:ListTagsForResource"],
        write: &["sns:CreateTopic", "sns:SetTopicAttributes", "sns:TagResource", "sns:DeleteTopic"],
        writes_on: None,
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

/// What the read sees of the topic besides its policy (GetTopicAttributes), for verify: every
/// subscription, of any protocol, not only the e-mail ones the spec manages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// Confirmed subscriptions of any protocol, as SNS counts them.
    pub subscriptions_confirmed: Option<u64>,
    /// The KMS key the topic is encrypted with (`KmsMasterKeyId`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// Whether `key` names the AWS managed key for SNS, whose policy no one can change: CloudWatch
/// cannot use it, so alarms cannot publish to a topic encrypted with it.
fn is_aws_managed_sns_key(key: &str) -> bool {
    key == "alias/aws/sns" || key.ends_with(":alias/aws/sns")
}

/// An encrypted topic receives alarms only if CloudWatch may use its key (issue 16's trap).
fn encryption(ctx: &VerifyCtx, subject: &str, seen: &Observed) -> Check {
    // The spec's own key, live: its policy is checked link by link under `key.policy_admits`.
    // A key brought by ARN: its policy is read and judged under `key.policy_admits` too.
    let own_key = |k: &str| {
        ctx.unowned_policies.contains_key(k)
            || ctx.live.resources.values().any(|l| {
                l.resource.kind == Kind::Key && (l.resource.arn.as_deref() == Some(k) || l.resource.attrs::<crate::key::Attrs>().alias == k)
            })
    };
    match seen.kms_key.as_deref() {
        Some(k) if own_key(k) => Check::ok("topic.encryption", subject, format!("encrypted with the spec's key {k}: whether CloudWatch may use it is checked under key.policy_admits")),
        None => Check::ok("topic.encryption", subject, "not encrypted: CloudWatch can publish"),
        Some(k) if is_aws_managed_sns_key(k) => Check::failed("topic.encryption", subject, format!("encrypted with {k}, the AWS managed key, whose policy does not let CloudWatch use it: alarms fail to notify, silently")).fix("encrypt with a customer managed key whose policy allows cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt, or remove the encryption"),
        Some(k) => Check::not_observable("topic.encryption", subject, format!("encrypted with {k}: CloudWatch publishes only if the key policy allows cloudwatch.amazonaws.com kms:GenerateDataKey* and kms:Decrypt (not read)")),
    }
}

/// Who receives the topic's messages: confirmed and pending e-mail subscriptions (live), and
/// how many confirmed subscriptions of other protocols AWS counts.
fn subscriptions(ctx: &VerifyCtx, subject: &str, topic: &str, seen: &Observed) -> Check {
    let mut confirmed = Vec::new();
    let mut pending = Vec::new();
    for l in ctx.live.resources.values().filter(|l| l.resource.kind == Kind::Subscription) {
        let a: crate::subscription::Attrs = l.resource.attrs();
        if a.topic == topic {
            let who = format!("{}:{}", a.protocol, a.endpoint);
            if l.pending {
                pending.push(who)
            } else {
                confirmed.push(who)
            }
        }
    }
    // The spec's addresses with no subscription at all (deleted, or never applied): only apply
    // subscribes them; resending a confirmation cannot reach them.
    // Every subscription the spec asks of this topic (e-mail, webhook, queue, function) as its
    // kind names it, webhooks by host and digest.
    let unsubscribed: Vec<String> = Kind::Subscription
        .def()
        .desired(ctx.spec, ctx.target)
        .into_iter()
        .map(|d| d.attrs::<crate::subscription::Attrs>())
        .filter(|a| a.topic == topic)
        .map(|a| format!("{}:{}", a.protocol, a.endpoint))
        .filter(|who| !confirmed.iter().chain(&pending).any(|w| w.eq_ignore_ascii_case(who)))
        .collect();
    let others = seen.subscriptions_confirmed.unwrap_or(0).saturating_sub(confirmed.len() as u64);
    if others > 0 {
        confirmed.push(format!("{others} subscription(s) of other protocols"));
    }
    if !unsubscribed.is_empty() && (!confirmed.is_empty() || !pending.is_empty()) {
        let status = if confirmed.is_empty() { Status::Failed } else { Status::Warning };
        return Check::new(
            status,
            "topic.subscriptions",
            subject,
            format!(
                "not subscribed: {}; confirmed: {}; pending: {}",
                unsubscribed.join(", "),
                if confirmed.is_empty() { "none".to_string() } else { confirmed.join(", ") },
                if pending.is_empty() { "none".to_string() } else { pending.join(", ") }
            ),
        )
        .fix("run `secmon apply` to subscribe them again, then confirm (from the e-mail; a webhook confirms itself)");
    }
    if confirmed.is_empty() && pending.is_empty() {
        // Nothing to confirm or resend: only apply subscribes the spec's addresses (issue 13, item 9).
        let fix = "run `secmon apply` (it subscribes the spec's e-mail addresses), then confirm from the e-mail";
        Check::failed("topic.subscriptions", subject, "the topic has no subscription: nobody receives its alarms").fix(fix)
    } else if confirmed.is_empty() {
        // Right after a first apply, always so: the recipient has not clicked yet (issue 26,
        // item 6). SNS deletes it unconfirmed after 48 hours, and the check then fails.
        Check::pending("topic.subscriptions", subject, format!("no confirmed subscription yet; pending: {}", pending.join(", "))).fix("confirm from the \"AWS Notification - Subscription Confirmation\" e-mail; `secmon verify --resend-confirmation` sends it again")
    } else if !pending.is_empty() {
        Check::warning("topic.subscriptions", subject, format!("confirmed: {}; pending: {}", confirmed.join(", "), pending.join(", ")))
            .fix("`secmon verify --resend-confirmation` sends the confirmation again")
    } else {
        Check::ok("topic.subscriptions", subject, format!("confirmed: {}", confirmed.join(", ")))
    }
}

/// The topic's ARN: as read, else as the target implies.
fn topic_arn(ctx: &ExecCtx, r: &Resource) -> String {
    r.arn.clone().unwrap_or_else(|| ctx.target().topic_arn(&r.name))
}

impl ResourceKind for Def {
    /// CloudWatch alarms of this account publish to the topic, and the trail when it notifies it.
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        use crate::contract::Link;
        const ALARMS: &str =
            "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html#source-account-versus-source-owner";
        const TRAIL: &str = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-permissions-for-sns-notifications.html";
        let topic_arn = r.arn.clone().unwrap_or_else(|| t.topic_arn(&r.name));
        let alarm = state
            .monitors
            .iter()
            .find(|m| m.notify.contains(&r.name))
            .map(|m| m.alarm_name().to_string())
            .unwrap_or_else(|| "an-alarm".into());
        let publish = Link::request("CloudWatch alarms → SNS: Publish", ALARMS, "cloudwatch.amazonaws.com", "sns:Publish", &topic_arn, t)
            .on_behalf_of(&t.alarm_arn(&alarm), t)
            .judged_by_resource(r, "policy");
        let mut out = vec![publish.from_another_account(), publish.over_plain_http(), publish];
        if let Some(trail) = state.trail.as_ref().filter(|tr| tr.notify_topic.as_deref() == Some(r.name.as_str())) {
            let publish =
                Link::request("CloudTrail → SNS: Publish (notify_topic)", TRAIL, "cloudtrail.amazonaws.com", "sns:Publish", &topic_arn, t)
                    .on_behalf_of(&t.trail_arn(&trail.name), t)
                    .judged_by_resource(r, "policy");
            out.push(publish.from_another_account());
            out.push(publish);
        }
        const RULES: &str = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions";
        for rule in crate::event_rule::rules_publishing_to(state, t, &r.name) {
            let publish = Link::request(
                "EventBridge rule → SNS: Publish (alert_context)",
                RULES,
                "events.amazonaws.com",
                "sns:Publish",
                &topic_arn,
                t,
            )
            .on_behalf_of(&rule, t)
            .judged_by_resource(r, "policy");
            out.push(publish.refused("another rule of the account", |l| {
                l.context.insert("aws:SourceArn".into(), t.arn("events", "rule/not-secmons"));
            }));
            out.push(publish.from_another_account());
            out.push(publish);
        }
        out
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let trail_topic = state.trail.as_ref().and_then(|tr| tr.notify_topic.as_deref().map(|n| (n, tr.name.as_str())));
        state
            .topics
            .iter()
            .map(|topic| {
                let publisher = trail_topic.filter(|(n, _)| *n == topic.name).map(|(_, trail)| trail);
                let kms_key = state.key_ref().filter(|_| state.encryption.topics);
                let rules = crate::event_rule::rules_publishing_to(state, t, &topic.name);
                let attrs = Attrs { policy: topic_policy(t, &topic.name, publisher, &rules), kms_key };
                Resource::new(Kind::Topic, &topic.name, Some(t.topic_arn(&topic.name)), &attrs)
            })
            .collect()
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "sns", "")
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        crate::key::reference(&r.attrs::<Attrs>().kms_key).into_iter().collect()
    }

    /// GetTopicAttributes takes the topic's ARN, which holds the account id.
    fn needs_account(&self) -> bool {
        true
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let wanted = ctx.desired_of(Kind::Topic);
            let answers = futures::future::join_all(
                wanted.iter().map(|d| aws.sns.get_topic_attributes().topic_arn(d.arn.clone().unwrap_or_default()).send()),
            )
            .await;
            let mut out = Vec::new();
            for (d, a) in wanted.iter().zip(answers) {
                let a = match a {
                    Ok(a) => a,
                    Err(e) if error_code(&e) == Some("NotFound") => continue,
                    Err(e) => return Err(read_fail(d.address(), "GetTopicAttributes")(e)),
                };
                let attrs = Attrs {
                    policy: a.attributes().and_then(|m| m.get("Policy")).and_then(|p| policy::parse(p)).unwrap_or(Value::Null),
                    kms_key: a.attributes().and_then(|m| m.get("KmsMasterKeyId")).filter(|k| !k.is_empty()).cloned(),
                };
                let observed = Observed {
                    subscriptions_confirmed: a.attributes().and_then(|m| m.get("SubscriptionsConfirmed")).and_then(|n| n.parse().ok()),
                    kms_key: a.attributes().and_then(|m| m.get("KmsMasterKeyId")).filter(|k| !k.is_empty()).cloned(),
                };
                let r = Resource::new(Kind::Topic, &d.name, d.arn.clone(), &attrs);
                out.push(LiveResource::new(r, false).with_observed(&observed));
            }
            Ok(out)
        })
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let arn = r.arn.clone().unwrap_or_default();
            let tags = aws.sns.list_tags_for_resource().resource_arn(arn).send().await.map_err(fail("ListTagsForResource"))?;
            Ok(tags.tags().iter().find(|t| t.key() == OWNER_TAG).map(|t| t.value().to_string()))
        })
    }

    /// CloudWatch (and the trail, when it notifies this topic) may publish; someone confirmed
    /// a subscription.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("topic {}", desired.name);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("topic.exists", &subject, "the topic does not exist") };
        // The live policy judged against the requests AWS makes on the pipeline's behalf (the
        // kind's link-contract rows), conditions included: a policy that admits CloudWatch only
        // for another account's alarms drops every notification as surely as none.
        let mut out: Vec<Check> = self
            .links(ctx.spec, ctx.target, &live.resource)
            .into_iter()
            .filter(|l| l.allowed)
            .map(|l| {
                let svc = &l.principal;
                match policy::decide(l.resource_policy.as_ref().unwrap_or(&Value::Null), svc, &l.action, &l.resource, &l.context) {
                    policy::Decision::Allowed => Check::ok("topic.policy", &subject, format!("{svc} may publish")),
                    policy::Decision::Denied => Check::failed(
                        "topic.policy",
                        &subject,
                        format!("the topic policy does not let {svc} publish: notifications are dropped"),
                    )
                    .fix("run `secmon apply` (it restores the policy)"),
                    policy::Decision::Unknown => Check::not_observable(
                        "topic.policy",
                        &subject,
                        format!("whether {svc} may publish is not known: the topic policy uses elements secmon does not evaluate"),
                    ),
                }
            })
            .collect();
        let seen = live.observed();
        out.push(subscriptions(ctx, &subject, &desired.name, &seen));
        out.push(encryption(ctx, &subject, &seen));
        out
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let owner = Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag");
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let mut request = aws.sns.create_topic().name(&r.name).tags(owner).attributes("Policy", policy_text(&a.policy));
            if let Some(k) = &a.kms_key {
                // The key's ARN, as the trail and the log group are given it: SNS keeps what it is given.
                request = request.attributes("KmsMasterKeyId", crate::key::key_arn(aws, k).await?);
            }
            send("CreateTopic", request.send()).await
        })
    }

    /// One SetTopicAttributes per attribute that differs (the call sets one attribute).
    fn update<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, before: &'a Resource, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let (was, want): (Attrs, Attrs) = (before.attrs(), r.attrs());
            let arn = topic_arn(ctx, r);
            if want.policy != was.policy {
                let request = aws.sns.set_topic_attributes().topic_arn(&arn).attribute_name("Policy");
                send("SetTopicAttributes", request.attribute_value(policy_text(&want.policy)).send()).await?;
            }
            if want.kms_key != was.kms_key {
                // An empty value turns the encryption off.
                let request = aws.sns.set_topic_attributes().topic_arn(&arn).attribute_name("KmsMasterKeyId");
                let value = match &want.kms_key {
                    Some(k) => crate::key::key_arn(aws, k).await?,
                    None => String::new(),
                };
                send("SetTopicAttributes", request.attribute_value(value).send()).await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(send("DeleteTopic", aws.sns.delete_topic().topic_arn(topic_arn(ctx, r)).send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
        let request = aws.sns.tag_resource().resource_arn(r.arn.clone().unwrap_or_default()).set_tags(Some(tags));
        Box::pin(send("TagResource", request.send()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_policy_admits_this_accounts_alarms_and_only_the_named_trail() {
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let tp = topic_policy(&t, "T", None, &[]).to_string();
        assert!(tp.contains("aws:SourceAccount") && !tp.contains("cloudtrail"));
        assert!(tp.contains("arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"));
        let tp = topic_policy(&t, "T", Some("tr"), &[]).to_string();
        assert!(tp.contains("arn:aws:cloudtrail:us-east-1:123456789012:trail/tr"));
    }

    #[test]
    fn verify_wants_a_publishable_topic_with_a_confirmed_subscriber() {
        use crate::check::testing::*;
        let (spec, mut live) = world();
        assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.policy"), Status::Ok);
        assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.subscriptions"), Status::Ok);
        for l in live.resources.values_mut().filter(|l| l.resource.kind == Kind::Subscription) {
            l.pending = true;
        }
        assert_eq!(
            verdict(&spec, &live, Kind::Topic, "topic.subscriptions"),
            Status::Pending,
            "awaiting a click is not broken (issue 26, item 6)"
        );
        // Deleted subscriptions: nothing to resend, only apply helps.
        let mut gone = live.clone();
        gone.resources.retain(|_, l| l.resource.kind != Kind::Subscription);
        let checks = run(&spec, &gone, &Default::default(), Kind::Topic);
        let subs = checks.iter().find(|c| c.id == "topic.subscriptions").unwrap();
        assert!(subs.fix.as_deref().unwrap_or_default().contains("secmon apply"), "{subs:?}");
        // A confirmed subscription of another protocol (an SQS queue, a chat webhook) receives.
        set_attrs(&mut live, Kind::Topic, &Attrs { policy: json!({}), kms_key: None });
        let topic = first(&mut live, Kind::Topic);
        *topic = topic.clone().with_observed(&Observed { subscriptions_confirmed: Some(1), kms_key: None });
        assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.subscriptions"), Status::Warning);
        assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.policy"), Status::Failed);
        // Issue 13, item 9: the spec's address lost its subscription while another receiver
        // remains: said, and only apply helps (not --resend-confirmation).
        let mut partly = gone.clone();
        let topic = first(&mut partly, Kind::Topic);
        *topic = topic.clone().with_observed(&Observed { subscriptions_confirmed: Some(1), kms_key: None });
        let checks = run(&spec, &partly, &Default::default(), Kind::Topic);
        let subs = checks.iter().find(|c| c.id == "topic.subscriptions").unwrap();
        assert_eq!(subs.status, Status::Warning, "{subs:?}");
        assert!(subs.evidence.contains("not subscribed: ") && subs.fix.as_deref().unwrap_or_default().contains("secmon apply"), "{subs:?}");
    }

    /// Issue 16: a topic encrypted with the AWS managed key `alias/aws/sns` never receives
    /// CloudWatch alarms, silently; verify names it.
    #[test]
    fn verify_names_a_topic_encrypted_with_the_aws_managed_key() {
        use crate::check::testing::*;
        let (spec, mut live) = world();
        assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.encryption"), Status::Ok);
        for (key, want) in [
            ("alias/aws/sns", Status::Failed),
            ("arn:aws:kms:us-east-1:123456789012:alias/aws/sns", Status::Failed),
            ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", Status::NotObservable),
        ] {
            let topic = first(&mut live, Kind::Topic);
            *topic = topic.clone().with_observed(&Observed { subscriptions_confirmed: None, kms_key: Some(key.into()) });
            assert_eq!(verdict(&spec, &live, Kind::Topic, "topic.encryption"), want, "{key}");
        }
    }
}
