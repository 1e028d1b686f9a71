//! CloudWatch Logs log group and its retention.

use secmon_diff::desired::OWNER_TAG;
use secmon_diff::{Action, Step};
use serde_json::Value;

use super::{after, before, fail};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let logs = &ctx.aws.logs;
    match step.action {
        Action::Create | Action::Replace | Action::Update => {
            let r = after(step);
            if step.action != Action::Update {
                logs.create_log_group()
                    .log_group_name(&r.name)
                    .tags(OWNER_TAG, &ctx.spec)
                    .send()
                    .await
                    .map_err(fail(step, "CreateLogGroup"))?;
            }
            match r.attrs.get("retention_days").and_then(Value::as_i64) {
                Some(d) => {
                    logs.put_retention_policy()
                        .log_group_name(&r.name)
                        .retention_in_days(d as i32)
                        .send()
                        .await
                        .map_err(fail(step, "PutRetentionPolicy"))?;
                }
                None if step.action == Action::Update => {
                    logs.delete_retention_policy()
                        .log_group_name(&r.name)
                        .send()
                        .await
                        .map_err(fail(step, "DeleteRetentionPolicy"))?;
                }
                None => {}
            }
        }
        Action::Delete => {
            logs.delete_log_group()
                .log_group_name(&before(step).name)
                .send()
                .await
                .map_err(fail(step, "DeleteLogGroup"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}
