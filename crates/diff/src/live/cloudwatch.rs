//! CloudWatch: the spec's alarms by name, up to 100 per DescribeAlarms call.

use secmon_aws::{Aws, AwsError};
use serde_json::json;

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::plan::Kind;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let names: Vec<String> = ctx.names(Kind::Alarm).iter().map(|r| r.name.clone()).collect();
    let mut out = Vec::new();
    for chunk in names.chunks(100) {
        let mut pages = aws
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::call("DescribeAlarms", e))?;
            for a in page.metric_alarms() {
                let name = a.alarm_name().unwrap_or_default();
                let statistic = a
                    .statistic()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| a.extended_statistic().map(str::to_string));
                let evaluation_periods = a.evaluation_periods().unwrap_or(1);
                let mut actions: Vec<String> = a.alarm_actions().to_vec();
                actions.sort();
                let mut r = bare(Kind::Alarm, name, a.alarm_arn().map(str::to_string));
                r.attrs = json!({
                    "description": a.alarm_description(),
                    "namespace": a.namespace(),
                    "metric_name": a.metric_name(),
                    "statistic": statistic,
                    "period": a.period(),
                    "evaluation_periods": evaluation_periods,
                    // AWS leaves these out when they hold their defaults.
                    "datapoints_to_alarm": a.datapoints_to_alarm().unwrap_or(evaluation_periods),
                    "threshold": a.threshold(),
                    "comparison": a.comparison_operator().map(|c| c.as_str().to_string()),
                    "treat_missing_data": a.treat_missing_data().unwrap_or("missing"),
                    "alarm_actions": actions,
                    "dimensions": a.dimensions().iter().map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string())).collect::<std::collections::BTreeMap<_, _>>(),
                })
                .as_object()
                .expect("object")
                .clone()
                .into_iter()
                .collect();
                out.push(live(r, false));
            }
        }
    }
    Ok(out)
}
