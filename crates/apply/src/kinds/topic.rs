//! SNS topic and its access policy.

use secmon_aws::sns::types::Tag;
use secmon_diff::desired::OWNER_TAG;
use secmon_diff::{Action, Step};

use super::{after, before, fail, json_text};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let sns = &ctx.aws.sns;
    match step.action {
        Action::Create | Action::Replace => {
            let r = after(step);
            sns.create_topic()
                .name(&r.name)
                .attributes("Policy", json_text(r, "policy"))
                .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag"))
                .send()
                .await
                .map_err(fail(step, "CreateTopic"))?;
        }
        Action::Update => {
            let r = after(step);
            sns.set_topic_attributes()
                .topic_arn(r.arn.clone().unwrap_or_default())
                .attribute_name("Policy")
                .attribute_value(json_text(r, "policy"))
                .send()
                .await
                .map_err(fail(step, "SetTopicAttributes"))?;
        }
        Action::Delete => {
            sns.delete_topic()
                .topic_arn(before(step).arn.clone().unwrap_or_default())
                .send()
                .await
                .map_err(fail(step, "DeleteTopic"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}
