//! IAM role CloudTrail assumes to deliver to CloudWatch Logs, with its inline policy.

use secmon_aws::error_code;
use secmon_aws::iam::types::Tag;
use secmon_diff::desired::{OWNER_TAG, ROLE_PATH, ROLE_POLICY_NAME};
use secmon_diff::{Action, Step};

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
            iam.put_role_policy()
                .role_name(&r.name)
                .policy_name(ROLE_POLICY_NAME)
                .policy_document(json_text(r, "policy"))
                .send()
                .await
                .map_err(fail(step, "PutRolePolicy"))?;
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
                iam.put_role_policy()
                    .role_name(&r.name)
                    .policy_name(ROLE_POLICY_NAME)
                    .policy_document(json_text(r, "policy"))
                    .send()
                    .await
                    .map_err(fail(step, "PutRolePolicy"))?;
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
