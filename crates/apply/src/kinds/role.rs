//! IAM role CloudTrail assumes to deliver to CloudWatch Logs, with its inline policy.

use secmon_aws::error_code;
use secmon_aws::iam::types::Tag;
use secmon_diff::desired::{OWNER_TAG, ROLE_PATH, ROLE_POLICY_NAME};
use secmon_diff::{Action, Resource, Step};

use super::{after, before, changed, fail, json_text};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let iam = &ctx.aws.iam;
    match step.action {
        Action::Create | Action::Replace => {
            let r = after(step);
            iam.create_role()
                .role_name(&r.name)
                .path(ROLE_PATH)
                .description("CloudTrail delivers the trail's events to its CloudWatch Logs log group (managed by secmon)")
                .assume_role_policy_document(json_text(r, "trust_policy"))
                .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag"))
                .send()
                .await
                .map_err(fail(step, "CreateRole"))?;
            put_logs_policy(ctx, step, r).await?;
        }
        Action::Update => {
            let r = after(step);
            let c = changed(step);
            if c.contains("trust_policy") {
                iam.update_assume_role_policy()
                    .role_name(&r.name)
                    .policy_document(json_text(r, "trust_policy"))
                    .send()
                    .await
                    .map_err(fail(step, "UpdateAssumeRolePolicy"))?;
            }
            if c.contains("policy") {
                put_logs_policy(ctx, step, r).await?;
            }
        }
        Action::Delete => {
            let name = &before(step).name;
            match iam.delete_role_policy().role_name(name).policy_name(ROLE_POLICY_NAME).send().await {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some("NoSuchEntity") => {}
                Err(e) => return Err(fail(step, "DeleteRolePolicy")(e)),
            }
            iam.delete_role().role_name(name).send().await.map_err(fail(step, "DeleteRole"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}

/// The inline policy letting CloudTrail write to the log group (same call on create and update).
async fn put_logs_policy(ctx: &Ctx, step: &Step, r: &Resource) -> Result<(), ApplyError> {
    ctx.aws
        .iam
        .put_role_policy()
        .role_name(&r.name)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(json_text(r, "policy"))
        .send()
        .await
        .map_err(fail(step, "PutRolePolicy"))?;
    Ok(())
}
