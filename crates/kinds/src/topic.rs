//! SNS topic the alarms (and optionally the trail) notify, with its access policy.

use secmon_aws::error_code;
use secmon_aws::sns::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sdk::{fail, policy_text, read_fail};
use crate::{policy, Aws, Change, ExecCtx, Fut, Kind, LiveResource, Op, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_spec::DesiredState;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The access policy, normalised ([`policy::normalize`]).
    pub policy: Value,
}

/// The topic's access policy: the owner account manages it; CloudWatch alarms of this account
/// and region publish (`aws:SourceAccount`, `aws:SourceArn`); the trail publishes when it
/// notifies this topic.
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
                "ArnLike": {"aws:SourceArn": t.alarm_arn("*")}
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

pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let trail_topic = state
            .trail
            .as_ref()
            .and_then(|tr| tr.notify_topic.as_deref().map(|n| (n, tr.name.as_str())));
        state
            .topics
            .iter()
            .map(|topic| {
                let publisher = trail_topic.filter(|(n, _)| *n == topic.name).map(|(_, trail)| trail);
                let attrs = Attrs {
                    policy: topic_policy(t, &topic.name, publisher),
                };
                Resource::new(Kind::Topic, &topic.name, Some(t.topic_arn(&topic.name)), &attrs)
            })
            .collect()
    }

    fn ownership(&self) -> Ownership {
        Ownership::TaggingApi
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_resource(arn, "sns").map(str::to_string)
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let wanted = ctx.desired_of(Kind::Topic);
            let answers = futures::future::join_all(
                wanted
                    .iter()
                    .map(|d| aws.sns.get_topic_attributes().topic_arn(d.arn.clone().unwrap_or_default()).send()),
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
                    policy: a
                        .attributes()
                        .and_then(|m| m.get("Policy"))
                        .and_then(|p| policy::parse(p))
                        .unwrap_or(Value::Null),
                };
                out.push(LiveResource::new(Resource::new(Kind::Topic, &d.name, d.arn.clone(), &attrs), false));
            }
            Ok(out)
        })
    }

    fn execute<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, change: &'a Change) -> Fut<'a, ()> {
        Box::pin(async move {
            let sns = &aws.sns;
            match change.op {
                Op::Create => {
                    let r = change.after();
                    sns.create_topic()
                        .name(&r.name)
                        .attributes("Policy", policy_text(&r.attrs::<Attrs>().policy))
                        .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag"))
                        .send()
                        .await
                        .map_err(fail("CreateTopic"))?;
                }
                Op::Update => {
                    let r = change.after();
                    sns.set_topic_attributes()
                        .topic_arn(r.arn.clone().unwrap_or_else(|| ctx.target().topic_arn(&r.name)))
                        .attribute_name("Policy")
                        .attribute_value(policy_text(&r.attrs::<Attrs>().policy))
                        .send()
                        .await
                        .map_err(fail("SetTopicAttributes"))?;
                }
                Op::Delete => {
                    let r = change.before();
                    sns.delete_topic()
                        .topic_arn(r.arn.clone().unwrap_or_else(|| ctx.target().topic_arn(&r.name)))
                        .send()
                        .await
                        .map_err(fail("DeleteTopic"))?;
                }
            }
            Ok(())
        })
    }

    fn adopt<'a>(&'a self, aws: &'a Aws, spec: &'a str, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            aws.sns
                .tag_resource()
                .resource_arn(r.arn.clone().unwrap_or_default())
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build().expect("tag"))
                .send()
                .await
                .map_err(fail("TagResource"))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_policy_admits_this_accounts_alarms_and_only_the_named_trail() {
        let t = Target {
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        let tp = topic_policy(&t, "T", None).to_string();
        assert!(tp.contains("aws:SourceAccount") && !tp.contains("cloudtrail"));
        assert!(tp.contains("arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"));
        let tp = topic_policy(&t, "T", Some("tr")).to_string();
        assert!(tp.contains("arn:aws:cloudtrail:us-east-1:123456789012:trail/tr"));
    }
}
