//! CloudTrail trail: settings, management event selectors, logging (started last).

use std::time::Duration;

use secmon_aws::cloudtrail::types::{EventSelector, ReadWriteType, Tag};
use secmon_aws::{retry, AwsError};
use secmon_diff::desired::OWNER_TAG;
use secmon_diff::{Action, Resource, Step};
use serde_json::Value;

use super::{after, before, changed, s, wrap};
use crate::{ApplyError, Ctx};

/// Errors CloudTrail returns for seconds after a bucket policy, role or topic policy was written.
fn eventually_consistent(e: &AwsError) -> bool {
    matches!(
        e.code(),
        Some(
            "InsufficientS3BucketPolicyException"
                | "InvalidCloudWatchLogsRoleArnException"
                | "InvalidCloudWatchLogsLogGroupArnException"
                | "InsufficientSnsTopicPolicyException"
                | "InsufficientDependencyServiceAccessPermissionException"
                | "S3BucketDoesNotExistException"
        )
    )
}

fn b(r: &Resource, k: &str) -> bool {
    r.attrs.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// CloudTrail wants the log group ARN in its `:*` form.
fn group_arn(r: &Resource) -> Option<String> {
    s(r, "cloudwatch_logs_group_arn").map(|a| format!("{a}:*"))
}

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let ct = &ctx.aws.cloudtrail;
    let patience = (8, Duration::from_millis(500));
    match step.action {
        Action::Create | Action::Replace => {
            let r = after(step);
            retry(patience.0, patience.1, eventually_consistent, || async {
                ct.create_trail()
                    .name(&r.name)
                    .s3_bucket_name(s(r, "bucket").unwrap_or_default())
                    .is_multi_region_trail(b(r, "multi_region"))
                    .enable_log_file_validation(b(r, "log_file_validation"))
                    .include_global_service_events(true)
                    .set_cloud_watch_logs_log_group_arn(group_arn(r))
                    .set_cloud_watch_logs_role_arn(s(r, "cloudwatch_logs_role_arn").map(str::to_string))
                    .set_sns_topic_name(s(r, "sns_topic").map(str::to_string))
                    .tags_list(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag"))
                    .send()
                    .await
                    .map_err(|e| AwsError::call("CreateTrail", e))
            })
            .await
            .map_err(wrap(step))?;
            put_selectors(ctx, step, r).await?;
            start_logging(ctx, step, r).await?;
        }
        Action::Update => {
            let r = after(step);
            let c = changed(step);
            let settings = [
                "bucket",
                "multi_region",
                "log_file_validation",
                "cloudwatch_logs_group_arn",
                "cloudwatch_logs_role_arn",
                "sns_topic",
            ];
            if settings.iter().any(|k| c.contains(*k)) {
                retry(patience.0, patience.1, eventually_consistent, || async {
                    ct.update_trail()
                        .name(&r.name)
                        .s3_bucket_name(s(r, "bucket").unwrap_or_default())
                        .is_multi_region_trail(b(r, "multi_region"))
                        .enable_log_file_validation(b(r, "log_file_validation"))
                        // Empty strings remove a delivery, as UpdateTrail documents.
                        .cloud_watch_logs_log_group_arn(group_arn(r).unwrap_or_default())
                        .cloud_watch_logs_role_arn(s(r, "cloudwatch_logs_role_arn").unwrap_or_default())
                        .sns_topic_name(s(r, "sns_topic").unwrap_or_default())
                        .send()
                        .await
                        .map_err(|e| AwsError::call("UpdateTrail", e))
                })
                .await
                .map_err(wrap(step))?;
            }
            if c.contains("read_write") || c.contains("exclude_sources") {
                put_selectors(ctx, step, r).await?;
            }
            if c.contains("logging") {
                start_logging(ctx, step, r).await?;
            }
        }
        Action::Delete => {
            let r = before(step);
            // By name: the trail lives in this region (moto also ignores ARNs here).
            ct.delete_trail()
                .name(&r.name)
                .send()
                .await
                .map_err(|e| wrap(step)(AwsError::call("DeleteTrail", e)))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}

async fn put_selectors(ctx: &Ctx, step: &Step, r: &Resource) -> Result<(), ApplyError> {
    let excludes: Vec<String> = r
        .attrs
        .get("exclude_sources")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let selector = EventSelector::builder()
        .read_write_type(ReadWriteType::from(s(r, "read_write").unwrap_or("All")))
        .include_management_events(true)
        .set_exclude_management_event_sources(Some(excludes))
        .build();
    ctx.aws
        .cloudtrail
        .put_event_selectors()
        .trail_name(&r.name)
        .event_selectors(selector)
        .send()
        .await
        .map_err(|e| wrap(step)(AwsError::call("PutEventSelectors", e)))?;
    Ok(())
}

async fn start_logging(ctx: &Ctx, step: &Step, r: &Resource) -> Result<(), ApplyError> {
    ctx.aws
        .cloudtrail
        .start_logging()
        .name(&r.name)
        .send()
        .await
        .map_err(|e| wrap(step)(AwsError::call("StartLogging", e)))?;
    Ok(())
}
