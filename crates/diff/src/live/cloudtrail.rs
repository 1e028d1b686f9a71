//! CloudTrail: the trail's settings, logging status and event selectors, read concurrently.

use secmon_aws::{error_code, Aws, AwsError};
use serde_json::{json, Value};

use super::{bare, live, normalize_arn, Ctx};
use crate::compare::LiveResource;
use crate::desired::OWNER_TAG;
use crate::plan::Kind;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let mut out = Vec::new();
    for d in ctx.names(Kind::Trail) {
        let name = d.name.as_str();
        let (desc, status, selectors) = tokio::join!(
            aws.cloudtrail
                .describe_trails()
                .trail_name_list(name)
                .include_shadow_trails(false)
                .send(),
            aws.cloudtrail.get_trail_status().name(name).send(),
            aws.cloudtrail.get_event_selectors().trail_name(name).send(),
        );
        let desc = desc.map_err(|e| AwsError::call("DescribeTrails", e))?;
        let Some(t) = desc.trail_list().iter().find(|t| t.name() == Some(name)) else {
            continue;
        };
        let logging = match status {
            Ok(s) => s.is_logging().unwrap_or(false),
            Err(e) if error_code(&e) == Some("TrailNotFoundException") => continue,
            Err(e) => return Err(AwsError::call("GetTrailStatus", e).into()),
        };
        let selectors = selectors.map_err(|e| AwsError::call("GetEventSelectors", e))?;
        // CloudTrail answers tags for up to 20 trails per call; one trail, one call.
        let arn = t.trail_arn().unwrap_or_default();
        let tags = aws
            .cloudtrail
            .list_tags()
            .resource_id_list(arn)
            .send()
            .await
            .map_err(|e| AwsError::call("ListTags", e))?;
        let owned = tags
            .resource_tag_list()
            .iter()
            .flat_map(|r| r.tags_list())
            .any(|t| t.key() == OWNER_TAG && t.value() == Some(ctx.spec));
        let sel = selectors.event_selectors().first();
        let mut excludes: Vec<String> = sel.map(|s| s.exclude_management_event_sources().to_vec()).unwrap_or_default();
        excludes.sort();
        let read_write = sel
            .and_then(|s| s.read_write_type())
            .map(|r| r.as_str().to_string())
            .unwrap_or_else(|| "All".into());
        let topic = t.sns_topic_arn().map(|a| a.rsplit(':').next().unwrap_or(a).to_string());
        let mut r = bare(Kind::Trail, name, t.trail_arn().map(str::to_string));
        r.attrs = json!({
            "bucket": t.s3_bucket_name(),
            "multi_region": t.is_multi_region_trail().unwrap_or(false),
            "log_file_validation": t.log_file_validation_enabled().unwrap_or(false),
            "cloudwatch_logs_group_arn": t.cloud_watch_logs_log_group_arn().map(normalize_arn).map(Value::from).unwrap_or(Value::Null),
            "cloudwatch_logs_role_arn": t.cloud_watch_logs_role_arn(),
            "sns_topic": topic,
            "read_write": read_write,
            "exclude_sources": excludes,
            "logging": logging,
        })
        .as_object()
        .expect("object")
        .clone()
        .into_iter()
        .collect();
        out.push(live(r, owned));
    }
    Ok(out)
}
