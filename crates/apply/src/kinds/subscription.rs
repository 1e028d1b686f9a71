//! E-mail subscription to a topic. Confirmation is the recipient's job; secmon only subscribes.

use secmon_diff::{Action, Step};

use super::{after, before, fail, s};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let sns = &ctx.aws.sns;
    match step.action {
        Action::Create | Action::Replace | Action::Update => {
            let r = after(step);
            let topic_arn = format!(
                "arn:aws:sns:{}:{}:{}",
                ctx.region,
                ctx.account_id,
                s(r, "topic").unwrap_or_default()
            );
            sns.subscribe()
                .topic_arn(topic_arn)
                .protocol("email")
                .endpoint(s(r, "endpoint").unwrap_or_default())
                .send()
                .await
                .map_err(fail(step, "Subscribe"))?;
        }
        Action::Delete => {
            if let Some(arn) = before(step).arn.clone() {
                sns.unsubscribe()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .map_err(fail(step, "Unsubscribe"))?;
            }
        }
        Action::NoOp => {}
    }
    Ok(())
}
