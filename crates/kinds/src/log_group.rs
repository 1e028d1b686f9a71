//! CloudWatch Logs log group the trail delivers to, and its retention.

use serde::{Deserialize, Serialize};

use crate::check::{Check, Status, VerifyCtx};
use crate::sdk::{fail, read_each, send};
use crate::{
    Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

/// The log group's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// None: never expire.
    pub retention_days: Option<i32>,
    /// The KMS key that encrypts the group's events: the spec's key by its alias, or a key ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// What verify observes: the latest event the group received, and when it was created.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// Seconds since the epoch.
    pub last_event: Option<i64>,
    /// Seconds since the epoch: a group younger than [`TIMESTAMP_LAG_SECS`] may have received
    /// events that DescribeLogStreams does not show yet.
    pub created: Option<i64>,
}

/// "`lastEventTimestamp` updates on an eventual consistency basis. It typically updates in less
/// than an hour from ingestion" (DescribeLogStreams API reference; issue 22, finding 10).
pub const TIMESTAMP_LAG_SECS: i64 = 3600;

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::TaggingApi,
    refers_to: &[Kind::Key],
    step: 3,
    iam: crate::Iam {
        read: &["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:DescribeLogStreams", "logs:FilterLogEvents"],
        write: &[
            "logs:CreateLogGroup",
            "logs:TagResource",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:DeleteLogGroup",
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
        ],
        writes_on: None,
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
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

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        crate::key::reference(&r.attrs::<Attrs>().kms_key).into_iter().collect()
    }

    /// CloudWatch Logs checks the key when a key is associated; KMS takes a moment to answer
    /// for a key or key policy just written. Only those refusals are waited for (issue 22,
    /// findings 4 and 7):
    /// - `AccessDeniedException: The specified KMS key does not exist or is not allowed to be
    ///   used with Arn ...` is the key policy's answer (terraform-provider-aws#29282), possibly
    ///   not yet propagated;
    /// - `InvalidParameterException` naming a KMS key that does not exist: a key created a
    ///   moment ago ("If you attempt to associate a KMS key with the log group but the KMS key
    ///   does not exist or the KMS key is disabled, you receive an InvalidParameterException",
    ///   AssociateKmsKey API reference).
    ///
    /// `AccessDeniedException: ... is not authorized to perform: kms:...` is the caller's own
    /// IAM policy (CloudWatch Logs checks that the caller may use the key, "kms:ViaService",
    /// encrypt-log-data-kms.html): no wait fixes it, so it fails at once with [`Self::hint`].
    fn patience(&self, e: &KindError) -> crate::Patience {
        let message = e.message();
        match e.code() {
            Some("AccessDeniedException") if key_policy_refusal(&message) => crate::Patience::Propagation,
            Some("InvalidParameterException") if message.contains("KMS key") && message.contains("does not exist") => {
                crate::Patience::Brief
            }
            _ => crate::Patience::None,
        }
    }

    fn hint(&self, e: &KindError) -> Option<String> {
        let message = e.message();
        if e.code() == Some("AccessDeniedException") && message.contains("not authorized to perform") {
            return Some(
                "the identity running secmon lacks KMS permissions on the key: CloudWatch Logs uses the key on the caller's behalf \
                 (kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey); `secmon permissions -f SPEC` prints the policy it needs"
                    .into(),
            );
        }
        if e.code() == Some("AccessDeniedException") && key_policy_refusal(&message) {
            return Some(
                "the key policy does not admit logs.<region>.amazonaws.com for this log group: run `secmon verify` (key.policy_admits)"
                    .into(),
            );
        }
        None
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(read_each(ctx.desired_of(Kind::LogGroup), |d| read_group(aws, d)))
    }

    /// The trail's events are audit evidence, like the buckets' log files: a group that holds
    /// events is kept by `destroy` and by a plan that no longer wants it, unless `--delete-logs`
    /// (issue 26, item 8).
    fn keep_instead_of_delete(&self, live: &LiveResource, delete_logs: bool) -> Option<String> {
        (live.holds_data && !delete_logs).then(|| {
            format!(
                "{}: kept because it holds the trail's events (audit evidence); pass --delete-logs to delete it with them",
                live.resource.address()
            )
        })
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let arn = r.arn.clone().unwrap_or_default();
            let tags = aws.logs.list_tags_for_resource().resource_arn(arn).send().await.map_err(fail("ListTagsForResource"))?;
            Ok(tags.tags().and_then(|t| t.get(OWNER_TAG)).cloned())
        })
    }

    /// The latest event: one event of the last hour found by FilterLogEvents (pages followed:
    /// "can return empty results while there are more log events available through the token"),
    /// else DescribeLogStreams' `lastEventTimestamp`, which lags up to an hour (issue 22,
    /// finding 10); and the group's creation time, to tell "too new to say" from "nothing".
    fn observe<'a>(&'a self, aws: &'a Aws, live: &'a LiveResource) -> Fut<'a, Option<serde_json::Value>> {
        Box::pin(async move {
            let group = &live.resource.name;
            let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            let recent = aws.logs.filter_log_events().log_group_name(group).start_time(now_ms - TIMESTAMP_LAG_SECS * 1000).limit(1);
            let mut pages = recent.into_paginator().page_size(1).send();
            let mut last_event = None;
            for _ in 0..20 {
                let Some(page) = pages.next().await else { break };
                if let Some(e) = page.map_err(fail("FilterLogEvents"))?.events().first() {
                    last_event = e.timestamp().map(|ms| ms / 1000);
                    break;
                }
            }
            let (streams, groups) = tokio::join!(
                aws.logs
                    .describe_log_streams()
                    .log_group_name(group)
                    .order_by(secmon_aws::logs::types::OrderBy::LastEventTime)
                    .descending(true)
                    .limit(1)
                    .send(),
                aws.logs.describe_log_groups().log_group_name_prefix(group).limit(1).send(),
            );
            let listed = streams
                .map_err(fail("DescribeLogStreams"))?
                .log_streams()
                .first()
                .and_then(|s| s.last_event_timestamp())
                .map(|ms| ms / 1000);
            let created = groups
                .map_err(fail("DescribeLogGroups"))?
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(group.as_str()))
                .and_then(|g| g.creation_time())
                .map(|ms| ms / 1000);
            let last_event = last_event.max(listed);
            Ok(Some(serde_json::to_value(Observed { last_event, created }).expect("serialises")))
        })
    }

    /// The group exists and receives the trail's events.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("log group {}", desired.name);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("log_group.exists", &subject, "the log group does not exist") };
        let seen: Observed = live.observed();
        let young = seen.created.is_some_and(|c| ctx.now - c <= TIMESTAMP_LAG_SECS);
        let never = if young {
            (
                Status::Warning,
                "no event seen yet: the log group is less than an hour old, and CloudWatch Logs reports stream timestamps up to an hour late",
                "see trail.cloudwatch_logs_delivery, which CloudTrail reports at once",
            )
        } else {
            (
                Status::Failed,
                "the log group has received no event (none in the last hour, none recorded)",
                "check the trail's CloudWatch Logs delivery and its role",
            )
        };
        let mut c = ctx.freshness("log_group.receives_events", &subject, "event", None, seen.last_event, never);
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
    let mut l = LiveResource::new(Resource::new(Kind::LogGroup, &d.name, arn, &attrs), false);
    // Events are audit evidence: a group that holds some (or may: AWS did not say) is kept.
    l.holds_data = g.stored_bytes().is_none_or(|b| b > 0);
    Ok(Some(l))
}

/// The key policy's refusal of CloudWatch Logs (not the caller's IAM policy).
fn key_policy_refusal(message: &str) -> bool {
    message.contains("is not allowed to be used with") || (message.contains("KMS key") && message.contains("does not exist"))
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
        *group = group.clone().with_observed(&Observed { last_event: Some(999_995), created: None });
        assert_eq!(verdict(&spec, &live, Kind::LogGroup, "log_group.receives_events"), Status::Ok);
        assert_eq!(verdict(&spec, &Default::default(), Kind::LogGroup, "log_group.exists"), Status::Failed);
    }

    /// Issue 22, finding 10: right after apply, no event is listed yet (AWS updates
    /// `lastEventTimestamp` within an hour): that is a warning, not a failure.
    #[test]
    fn finding_10_a_young_group_without_listed_events_is_not_failed() {
        let (spec, mut live) = world();
        let group = first(&mut live, Kind::LogGroup);
        *group = group.clone().with_observed(&Observed { last_event: None, created: Some(1_000_000 - 600) });
        assert_eq!(verdict(&spec, &live, Kind::LogGroup, "log_group.receives_events"), Status::Warning);
        let group = first(&mut live, Kind::LogGroup);
        *group = group.clone().with_observed(&Observed { last_event: None, created: Some(1_000_000 - 2 * TIMESTAMP_LAG_SECS) });
        assert_eq!(verdict(&spec, &live, Kind::LogGroup, "log_group.receives_events"), Status::Failed);
    }

    /// Issue 22, finding 7: the caller's missing KMS permission is not propagation; it fails at
    /// once and says which actions the caller needs. The key policy's refusal is still waited for.
    #[test]
    fn finding_7_access_denied_by_the_callers_iam_is_not_retried_as_propagation() {
        let iam = refused(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:123456789012:key/k because no identity-based policy allows the kms:Encrypt action",
        );
        assert_eq!(Def.patience(&iam), crate::Patience::None);
        let hint = Def.hint(&iam).expect("a hint");
        assert!(hint.contains("kms:Encrypt") && hint.contains("secmon permissions"), "{hint}");
        let key_policy = refused(
            "AccessDeniedException",
            "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-1:123456789012:log-group:lg'",
        );
        assert_eq!(Def.patience(&key_policy), crate::Patience::Propagation);
    }

    /// Issue 22, finding 4: a key created a moment ago is not yet known to CloudWatch Logs.
    #[test]
    fn finding_4_a_key_not_yet_visible_is_waited_for_briefly() {
        let fresh = refused("InvalidParameterException", "The specified KMS key does not exist: arn:aws:kms:us-east-1:123456789012:key/k");
        assert_eq!(Def.patience(&fresh), crate::Patience::Brief);
        assert_eq!(Def.patience(&refused("InvalidParameterException", "retention must be one of ...")), crate::Patience::None);
    }

    fn refused(code: &str, message: &str) -> KindError {
        KindError::Aws(secmon_aws::AwsError::Call {
            operation: "CreateLogGroup".into(),
            code: Some(code.into()),
            message: format!("{code}: {message}"),
        })
    }
}
