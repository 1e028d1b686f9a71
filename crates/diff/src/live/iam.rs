//! IAM: the role CloudTrail assumes to write to CloudWatch Logs, its trust policy and its inline
//! policy. Roles secmon creates live under the path `/secmon/`.

use secmon_aws::{error_code, Aws, AwsError};
use serde_json::Value;

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::desired::{OWNER_TAG, ROLE_PATH, ROLE_POLICY_NAME};
use crate::plan::Kind;
use crate::policy;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let mut out = Vec::new();
    let wanted = ctx.names(Kind::Role);
    let (listed, desired) = tokio::join!(
        aws.iam.list_roles().path_prefix(ROLE_PATH).send(),
        futures::future::join_all(wanted.iter().map(|d| read_role(aws, ctx, &d.name))),
    );
    for r in desired {
        out.extend(r?);
    }
    // Roles under /secmon/ that the spec no longer names: owned ones are deleted.
    let listed = listed.map_err(|e| AwsError::call("ListRoles", e))?;
    for role in listed.roles() {
        if wanted.iter().any(|d| d.name == role.role_name()) {
            continue;
        }
        if let Some(r) = read_role(aws, ctx, role.role_name()).await? {
            if r.owned {
                out.push(r);
            }
        }
    }
    Ok(out)
}

async fn read_role(aws: &Aws, ctx: &Ctx<'_>, name: &str) -> Result<Option<LiveResource>, DiffError> {
    let (role, inline) = tokio::join!(
        aws.iam.get_role().role_name(name).send(),
        aws.iam.get_role_policy().role_name(name).policy_name(ROLE_POLICY_NAME).send(),
    );
    let role = match role {
        Ok(r) => r,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => {
            return Err(DiffError::Read {
                address: format!("role.{name}"),
                source: AwsError::call("GetRole", e),
            })
        }
    };
    let Some(role) = role.role() else {
        return Ok(None);
    };
    let owned = role.tags().iter().any(|t| t.key() == OWNER_TAG && t.value() == ctx.spec);
    let trust = role.assume_role_policy_document().and_then(policy::parse).unwrap_or(Value::Null);
    let inline = inline.ok().and_then(|p| policy::parse(p.policy_document())).unwrap_or(Value::Null);
    let mut r = bare(Kind::Role, name, Some(role.arn().to_string()));
    r.attrs.insert("trust_policy".into(), trust);
    r.attrs.insert("policy".into(), inline);
    Ok(Some(live(r, owned)))
}
