//! Metric filter on the trail's log group. Steps on one log group are chained by the planner.

use secmon_aws::logs::types::MetricTransformation;
use secmon_diff::{Action, Step};
use serde_json::Value;

use super::{after, before, fail, s};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let logs = &ctx.aws.logs;
    match step.action {
        Action::Create | Action::Replace | Action::Update => {
            let r = after(step);
            let t = MetricTransformation::builder()
                .metric_namespace(s(r, "metric_namespace").unwrap_or_default())
                .metric_name(s(r, "metric_name").unwrap_or_default())
                .metric_value(s(r, "metric_value").unwrap_or("1"))
                .set_default_value(r.attrs.get("default_value").and_then(Value::as_f64))
                .set_dimensions(
                    r.attrs
                        .get("dimensions")
                        .and_then(Value::as_object)
                        .filter(|m| !m.is_empty())
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                                .collect()
                        }),
                )
                .build()
                .expect("transformation");
            logs.put_metric_filter()
                .log_group_name(s(r, "log_group").unwrap_or_default())
                .filter_name(&r.name)
                .filter_pattern(
                    r.meta
                        .get("pattern_text")
                        .and_then(Value::as_str)
                        .or(s(r, "pattern"))
                        .unwrap_or_default(),
                )
                .metric_transformations(t)
                .send()
                .await
                .map_err(fail(step, "PutMetricFilter"))?;
        }
        Action::Delete => {
            let r = before(step);
            logs.delete_metric_filter()
                .log_group_name(s(r, "log_group").unwrap_or_default())
                .filter_name(&r.name)
                .send()
                .await
                .map_err(fail(step, "DeleteMetricFilter"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}
