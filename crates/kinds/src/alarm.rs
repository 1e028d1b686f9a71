//! CloudWatch metric alarm on a monitor's metric. PutMetricAlarm creates and replaces in one
//! call; DescribeAlarms reads up to 100 alarms by name per call.

use std::collections::BTreeMap;

use secmon_aws::cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use serde::{Deserialize, Serialize};

use crate::sdk::fail;
use crate::{Aws, AwsError, Change, ExecCtx, Fut, Kind, LiveResource, Op, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_spec::DesiredState;

/// An alarm's compared attributes. AWS leaves `datapoints_to_alarm` and `treat_missing_data`
/// out when they hold their defaults; the reader fills them in so that nothing diffs forever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    pub description: Option<String>,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub statistic: Option<String>,
    pub period: Option<i32>,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub treat_missing_data: TreatMissing,
    pub alarm_actions: Vec<String>,
    pub dimensions: BTreeMap<String, String>,
}

/// `TreatMissingData`, whose AWS default (when the field is absent) is `missing`: one default,
/// for reading and writing alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TreatMissing(pub String);

impl Default for TreatMissing {
    fn default() -> Self {
        TreatMissing("missing".into())
    }
}

pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        state
            .monitors
            .iter()
            .map(|m| {
                let mut actions: Vec<String> = m.notify.iter().map(|n| t.topic_arn(n)).collect();
                actions.sort();
                actions.dedup();
                let a = &m.alarm;
                let attrs = Attrs {
                    description: m.description.clone(),
                    namespace: Some(m.metric.namespace.clone()),
                    metric_name: Some(m.metric.name.clone()),
                    statistic: Some(a.statistic.clone()),
                    period: Some(a.period as i32),
                    evaluation_periods: a.evaluation_periods as i32,
                    datapoints_to_alarm: a.datapoints_to_alarm.unwrap_or(a.evaluation_periods) as i32,
                    threshold: Some(a.threshold),
                    comparison: Some(a.comparison.as_str().to_string()),
                    treat_missing_data: TreatMissing(a.treat_missing_data.as_str().to_string()),
                    alarm_actions: actions,
                    dimensions: a.dimensions.clone(),
                };
                Resource::new(Kind::Alarm, m.alarm_name(), Some(t.alarm_arn(m.alarm_name())), &attrs)
            })
            .collect()
    }

    fn refers_to(&self) -> &'static [Kind] {
        &[Kind::Topic]
    }

    fn references(&self, r: &Resource) -> Vec<String> {
        r.attrs::<Attrs>()
            .alarm_actions
            .iter()
            .filter_map(|arn| crate::model::arn_resource(arn, "sns"))
            .map(|topic| format!("topic.{topic}"))
            .collect()
    }

    fn ownership(&self) -> Ownership {
        Ownership::TaggingApi
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_resource(arn, "cloudwatch")?
            .strip_prefix("alarm:")
            .map(str::to_string)
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let names: Vec<String> = ctx.desired_of(Kind::Alarm).iter().map(|r| r.name.clone()).collect();
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
                        out.push(LiveResource::new(from_sdk(a), false));
                    }
                }
            }
            Ok(out)
        })
    }

    fn execute<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, change: &'a Change) -> Fut<'a, ()> {
        Box::pin(async move {
            let cw = &aws.cloudwatch;
            match change.op {
                Op::Create | Op::Update => {
                    let r = change.after();
                    let a: Attrs = r.attrs();
                    let statistic = a.statistic.as_deref().unwrap_or("Sum");
                    let mut req = cw
                        .put_metric_alarm()
                        .alarm_name(&r.name)
                        .set_alarm_description(a.description.clone())
                        .set_namespace(a.namespace.clone())
                        .set_metric_name(a.metric_name.clone())
                        .set_period(a.period)
                        .evaluation_periods(a.evaluation_periods)
                        .datapoints_to_alarm(a.datapoints_to_alarm)
                        .set_threshold(a.threshold)
                        .set_comparison_operator(a.comparison.as_deref().map(ComparisonOperator::from))
                        .treat_missing_data(&a.treat_missing_data.0)
                        .actions_enabled(true)
                        .set_alarm_actions(Some(a.alarm_actions.clone()))
                        .set_dimensions(Some(
                            a.dimensions
                                .iter()
                                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                                .collect(),
                        ))
                        .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build());
                    req = if statistic.starts_with('p') {
                        req.extended_statistic(statistic)
                    } else {
                        req.statistic(Statistic::from(statistic))
                    };
                    req.send().await.map_err(fail("PutMetricAlarm"))?;
                }
                Op::Delete => {
                    cw.delete_alarms()
                        .alarm_names(&change.before().name)
                        .send()
                        .await
                        .map_err(fail("DeleteAlarms"))?;
                }
            }
            Ok(())
        })
    }

    fn adopt<'a>(&'a self, aws: &'a Aws, spec: &'a str, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            aws.cloudwatch
                .tag_resource()
                .resource_arn(r.arn.clone().unwrap_or_default())
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build())
                .send()
                .await
                .map_err(fail("TagResource"))?;
            Ok(())
        })
    }
}

/// An alarm as DescribeAlarms returns it, in the model.
fn from_sdk(a: &secmon_aws::cloudwatch::types::MetricAlarm) -> Resource {
    let evaluation_periods = a.evaluation_periods().unwrap_or(1);
    let mut actions: Vec<String> = a.alarm_actions().to_vec();
    actions.sort();
    let attrs = Attrs {
        description: a.alarm_description().map(str::to_string),
        namespace: a.namespace().map(str::to_string),
        metric_name: a.metric_name().map(str::to_string),
        statistic: a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(str::to_string)),
        period: a.period(),
        evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm().unwrap_or(evaluation_periods),
        threshold: a.threshold(),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
        treat_missing_data: a.treat_missing_data().map(|t| TreatMissing(t.to_string())).unwrap_or_default(),
        alarm_actions: actions,
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect(),
    };
    Resource::new(
        Kind::Alarm,
        a.alarm_name().unwrap_or_default(),
        a.alarm_arn().map(str::to_string),
        &attrs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_treat_missing_data_reads_and_writes_as_missing() {
        // Regression (issue 14): the reader fell back to `missing`, the writer to `notBreaching`.
        let r = Resource::bare(Kind::Alarm, "a", None);
        assert_eq!(r.attrs::<Attrs>().treat_missing_data.0, "missing");
    }

    #[test]
    fn references_are_the_topics_it_notifies() {
        let r = Resource::new(
            Kind::Alarm,
            "a",
            None,
            &Attrs {
                alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:T".into()],
                ..Default::default()
            },
        );
        assert_eq!(Def.references(&r), vec!["topic.T"]);
    }
}
