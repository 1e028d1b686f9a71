//! CloudWatch Logs log group the trail delivers to, and its retention.

use serde::{Deserialize, Serialize};

use crate::check::{Check, Status, VerifyCtx};
use crate::sdk::{fail, read_each, send};
use crate::{
    Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// None: never expire.
    pub retention_days: Option<i32>,
    /// The KMS key that encrypts the group's events: the spec's key by its alias, or a key ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// What verify observes: the latest event the group received (DescribeLogStreams).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// Seconds since the epoch.
    pub last_event: Option<i64>,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`](crate::Facts)).
pub const FACTS: Facts = Facts { ownership: Ownership::TaggingApi, refers_to: &[Kind::Key], step: 3 };
pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(cw) = state.cloudwatch_logs() else { return Vec::new() };
        let kms_key = state.key_ref().filter(|_| state.encryption.log_group);
        let attrs = Attrs { retention_days: cw.retention_days.map(|d| d as i32), kms_key };
        vec![Resource::new(Kind::LogGroup, &cw.log_group, Some(t.log_group_arn(&cw.log_group)), &attrs)]
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "logs", "log-group:")
    }

    fn references(&self, r: &Resource) -> Vec<String> {
        crate::key::reference(&r.attrs::<Attrs>().kms_key).into_iter().collect()
    }

    /// CloudWatch Logs checks the key policy when a key is associated; KMS takes a moment to
    /// answer for a key policy just written.
    fn eventually_consistent(&self, code: &str) -> bool {
        code == "AccessDeniedException"
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(read_each(ctx.desired_of(Kind::LogGroup), |d| read_group(aws, d)))
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let arn = r.arn.clone().unwrap_or_default();
            let tags = aws.logs.list_tags_for_resource().resource_arn(arn).send().await.map_err(fail("ListTagsForResource"))?;
            Ok(tags.tags().and_then(|t| t.get(OWNER_TAG)).cloned())
        })
    }

    fn observe<'a>(&'a self, aws: &'a Aws, live: &'a LiveResource) -> Fut<'a, Option<serde_json::Value>> {
        Box::pin(async move {
            let streams = aws
                .logs
                .describe_log_streams()
                .log_group_name(&live.resource.name)
                .order_by(secmon_aws::logs::types::OrderBy::LastEventTime)
                .descending(true)
                .limit(1)
                .send()
                .await
                .map_err(fail("DescribeLogStreams"))?;
            let last_event = streams.log_streams().first().and_then(|s| s.last_event_timestamp()).map(|ms| ms / 1000);
            Ok(Some(serde_json::to_value(Observed { last_event }).expect("serialises")))
        })
    }

    /// The group exists and receives the trail's events.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("log group {}", desired.name);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("log_group.exists", &subject, "the log group does not exist") };
        let never =
            (Status::Failed, "the log group has never received an event", "check the trail's CloudWatch Logs delivery and its role");
        let mut c = ctx.freshness("log_group.receives_events", &subject, "event", None, live.observed::<Observed>().last_event, never);
        if c.status == Status::Warning {
            c.fix = Some("check trail.cloudwatch_logs_delivery".into());
        }
        vec![c]
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut request = aws.logs.create_log_group().log_group_name(&r.name).tags(OWNER_TAG, &ctx.spec);
            if let Some(k) = &r.attrs::<Attrs>().kms_key {
                request = request.kms_key_id(crate::key::key_arn(aws, k).await?);
            }
            send("CreateLogGroup", request.send()).await?;
            put_retention(aws, r, false).await
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, before: &'a Resource, after: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let (was, want): (Attrs, Attrs) = (before.attrs(), after.attrs());
            if want.retention_days != was.retention_days {
                put_retention(aws, after, true).await?;
            }
            if want.kms_key != was.kms_key {
                match &want.kms_key {
                    Some(k) => {
                        let request = aws.logs.associate_kms_key().log_group_name(&after.name);
                        send("AssociateKmsKey", request.kms_key_id(crate::key::key_arn(aws, k).await?).send()).await?;
                    }
                    None => send("DisassociateKmsKey", aws.logs.disassociate_kms_key().log_group_name(&after.name).send()).await?,
                }
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(send("DeleteLogGroup", aws.logs.delete_log_group().log_group_name(&r.name).send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let request = aws.logs.tag_resource().resource_arn(r.arn.clone().unwrap_or_default()).set_tags(Some(tags.into_iter().collect()));
        Box::pin(send("TagResource", request.send()))
    }
}

/// Sets the retention the spec asks for; none means never expire (an existing policy is
/// removed when `existing`).
async fn put_retention(aws: &Aws, r: &Resource, existing: bool) -> Result<(), KindError> {
    let logs = &aws.logs;
    match r.attrs::<Attrs>().retention_days {
        Some(d) => send("PutRetentionPolicy", logs.put_retention_policy().log_group_name(&r.name).retention_in_days(d).send()).await,
        None if existing => send("DeleteRetentionPolicy", logs.delete_retention_policy().log_group_name(&r.name).send()).await,
        None => Ok(()),
    }
}

async fn read_group(aws: &Aws, d: &Resource) -> Result<Option<LiveResource>, KindError> {
    let desc =
        aws.logs.describe_log_groups().log_group_name_prefix(&d.name).send().await.map_err(|e| AwsError::call("DescribeLogGroups", e))?;
    let Some(g) = desc.log_groups().iter().find(|g| g.log_group_name() == Some(d.name.as_str())) else {
        return Ok(None);
    };
    let attrs = Attrs { retention_days: g.retention_in_days(), kms_key: g.kms_key_id().map(str::to_string) };
    // The ARN as AWS answers it (without the `:*` it may carry), not the desired one: the read
    // may run before the account is known.
    let arn = g.arn().map(crate::normalize_arn).or_else(|| d.arn.clone());
    Ok(Some(LiveResource::new(Resource::new(Kind::LogGroup, &d.name, arn, &attrs), false)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    #[test]
    fn a_group_without_events_fails_and_a_fresh_one_passes() {
        let (spec, mut live) = world();
        assert_eq!(verdict(&spec, &live, Kind::LogGroup, "log_group.receives_events"), Status::Failed);
        let group = first(&mut live, Kind::LogGroup);
        *group = group.clone().with_observed(&Observed { last_event: Some(999_995) });
        assert_eq!(verdict(&spec, &live, Kind::LogGroup, "log_group.receives_events"), Status::Ok);
        assert_eq!(verdict(&spec, &Default::default(), Kind::LogGroup, "log_group.exists"), Status::Failed);
    }
}
