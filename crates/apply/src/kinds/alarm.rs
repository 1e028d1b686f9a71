//! CloudWatch metric alarm. PutMetricAlarm creates and replaces in one call.

use secmon_aws::cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use secmon_diff::desired::OWNER_TAG;
use secmon_diff::{Action, Step};
use serde_json::Value;

use super::{after, before, fail, s};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let cw = &ctx.aws.cloudwatch;
    match step.action {
        Action::Create | Action::Replace | Action::Update => {
            let r = after(step);
            let statistic = s(r, "statistic").unwrap_or("Sum");
            let int = |k: &str| r.attrs.get(k).and_then(Value::as_i64).map(|v| v as i32);
            let actions: Vec<String> = r
                .attrs
                .get("alarm_actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let mut req = cw
                .put_metric_alarm()
                .alarm_name(&r.name)
                .set_alarm_description(s(r, "description").map(str::to_string))
                .namespace(s(r, "namespace").unwrap_or_default())
                .metric_name(s(r, "metric_name").unwrap_or_default())
                .set_period(int("period"))
                .set_evaluation_periods(int("evaluation_periods"))
                .set_datapoints_to_alarm(int("datapoints_to_alarm"))
                .threshold(r.attrs.get("threshold").and_then(Value::as_f64).unwrap_or(1.0))
                .comparison_operator(ComparisonOperator::from(
                    s(r, "comparison").unwrap_or("GreaterThanOrEqualToThreshold"),
                ))
                .treat_missing_data(s(r, "treat_missing_data").unwrap_or("notBreaching"))
                .actions_enabled(true)
                .set_alarm_actions(Some(actions))
                .set_dimensions(r.attrs.get("dimensions").and_then(Value::as_object).map(|m| {
                    m.iter()
                        .map(|(k, v)| Dimension::builder().name(k).value(v.as_str().unwrap_or_default()).build())
                        .collect()
                }))
                .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build());
            req = if statistic.starts_with('p') {
                req.extended_statistic(statistic)
            } else {
                req.statistic(Statistic::from(statistic))
            };
            req.send().await.map_err(fail(step, "PutMetricAlarm"))?;
        }
        Action::Delete => {
            cw.delete_alarms()
                .alarm_names(&before(step).name)
                .send()
                .await
                .map_err(fail(step, "DeleteAlarms"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}
