//! CloudWatch Logs: the log group (retention) and every metric filter on it (one paged call).

use secmon_aws::{Aws, AwsError};
use serde_json::json;

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::desired::normalize_pattern;
use crate::plan::Kind;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<(Vec<LiveResource>, Vec<LiveResource>), DiffError> {
    let mut groups = Vec::new();
    let mut filters = Vec::new();
    for d in ctx.names(Kind::LogGroup) {
        let name = d.name.as_str();
        let (desc, mf) = tokio::join!(
            aws.logs.describe_log_groups().log_group_name_prefix(name).send(),
            read_filters(aws, name),
        );
        let desc = desc.map_err(|e| AwsError::call("DescribeLogGroups", e))?;
        let Some(g) = desc.log_groups().iter().find(|g| g.log_group_name() == Some(name)) else {
            continue;
        };
        let mut r = bare(Kind::LogGroup, name, d.arn.clone());
        r.attrs.insert("retention_days".into(), json!(g.retention_in_days()));
        groups.push(live(r, false));
        filters.extend(mf?);
    }
    Ok((groups, filters))
}

async fn read_filters(aws: &Aws, group: &str) -> Result<Vec<LiveResource>, DiffError> {
    let mut out = Vec::new();
    let mut pages = aws.logs.describe_metric_filters().log_group_name(group).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if secmon_aws::error_code(&e) == Some("ResourceNotFoundException") => return Ok(out),
            Err(e) => return Err(AwsError::call("DescribeMetricFilters", e).into()),
        };
        for f in page.metric_filters() {
            let t = f.metric_transformations().first();
            let mut r = bare(Kind::MetricFilter, f.filter_name().unwrap_or_default(), None);
            let default = t.and_then(|t| t.default_value());
            r.attrs = json!({
                "log_group": group,
                "pattern": normalize_pattern(f.filter_pattern().unwrap_or_default()),
                "metric_namespace": t.map(|t| t.metric_namespace()),
                "metric_name": t.map(|t| t.metric_name()),
                "metric_value": t.map(|t| t.metric_value()),
                "default_value": default,
                "dimensions": t.and_then(|t| t.dimensions()).cloned().unwrap_or_default().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            })
            .as_object()
            .expect("object")
            .clone()
            .into_iter()
            .collect();
            out.push(live(r, false));
        }
    }
    Ok(out)
}
