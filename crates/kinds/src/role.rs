//! IAM role CloudTrail assumes to deliver to CloudWatch Logs, with its inline policy. Roles
//! secmon creates live under the path `/secmon/`.

use secmon_aws::error_code;
use secmon_aws::iam::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, policy_text, read_fail, send};
use crate::{
    policy, Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target,
    OWNER_TAG, ROLE_PATH,
};
use secmon_spec::DesiredState;

/// Name of the inline policy on the CloudTrail → CloudWatch Logs role.
pub const POLICY_NAME: &str = "secmon-cloudwatch-logs";

/// The role's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// Who may assume it: CloudTrail, for this trail.
    pub trust_policy: Value,
    /// The inline policy [`POLICY_NAME`].
    pub policy: Value,
}

/// The role's trust policy: CloudTrail may assume it. Deliberately without `aws:SourceArn` /
/// `aws:SourceAccount`: the CloudTrail guide ("Role policy document for CloudTrail to use
/// CloudWatch Logs for monitoring") says confused-deputy conditions are not supported for this
/// role, and CloudTrail then refuses it (`InvalidCloudWatchLogsRoleArnException`). The role's
/// reach is bounded instead by its inline policy: two actions on one log group's streams.
pub fn role_trust_policy() -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudTrailAssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    }))
}

/// The role's permissions: writing the trail's events into `log_group`, nothing else.
pub fn role_logs_policy(t: &Target, log_group: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudTrailWritesToItsLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("{}:log-stream:*", t.log_group_arn(log_group))
        }]
    }))
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[],
    step: 2,
    iam: crate::Iam {
        read: &["iam:GetRole", "iam:GetRolePolicy", "iam:ListRoles"],
        write: &[
            "iam:CreateRole",
            "iam:TagRole",
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
        ],
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// CloudTrail assumes the role, then creates its stream in the log group and puts events
    /// (an organization trail's streams are named `<o-id>_<account>_CloudTrail_<region>`).
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        use crate::contract::Link;
        let Some(cw) = state.cloudwatch_logs() else { return Vec::new() };
        const TRUST: &str =
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html";
        let role_arn = r.arn.clone().unwrap_or_default();
        let assume = Link::request(
            "CloudTrail → STS: AssumeRole (the delivery role)",
            TRUST,
            "cloudtrail.amazonaws.com",
            "sts:AssumeRole",
            &role_arn,
            t,
        )
        .judged_by_resource(r, "trust_policy");
        let mut out = vec![assume];
        let organization = state.organization_id.as_deref().filter(|_| state.trail.as_ref().is_some_and(|tr| tr.organization));
        let mut streams = vec![format!("{}_CloudTrail_{}", t.account_id, t.region)];
        if let Some(org) = organization {
            streams.push(format!("{org}_{}_CloudTrail_{}", crate::contract::OTHER_ACCOUNT, t.region));
        }
        for stream in streams {
            for (row, action) in [
                ("CloudTrail (the delivery role) → CloudWatch Logs: CreateLogStream", "logs:CreateLogStream"),
                ("CloudTrail (the delivery role) → CloudWatch Logs: PutLogEvents", "logs:PutLogEvents"),
            ] {
                let resource = format!("{}:log-stream:{stream}", t.log_group_arn(&cw.log_group));
                let call = Link::request(row, TRUST, &role_arn, action, &resource, t).judged_by_identity(r, "policy");
                out.push(call.refused("another log group", |l| {
                    l.resource = format!("{}:log-stream:{stream}", t.log_group_arn("another-log-group"));
                }));
                out.push(call);
            }
        }
        out
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(cw) = state.cloudwatch_logs() else { return Vec::new() };
        let role = state.trail_role_name().expect("cloudwatch_logs implies a role");
        let attrs = Attrs { trust_policy: role_trust_policy(), policy: role_logs_policy(t, &cw.log_group) };
        vec![Resource::new(Kind::Role, &role, Some(t.role_arn(&role)), &attrs)]
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let wanted = ctx.desired_of(Kind::Role);
            // Every page of roles under /secmon/ (issue 11, item 14: one page hid the rest).
            let list_all = async {
                if !ctx.global {
                    return Ok(Vec::new());
                }
                let pages = aws.iam.list_roles().path_prefix(ROLE_PATH).into_paginator().send();
                pages.collect::<Vec<_>>().await.into_iter().collect::<Result<Vec<_>, _>>()
            };
            let (listed, desired) =
                tokio::join!(list_all, futures::future::join_all(wanted.iter().map(|d| read_role(aws, ctx.spec, &d.name))));
            for r in desired {
                out.extend(r?);
            }
            // Roles under /secmon/ that the spec no longer names: owned ones are deleted.
            let listed = listed.map_err(|e| AwsError::call("ListRoles", e))?;
            for role in listed.iter().flat_map(|page| page.roles()) {
                if wanted.iter().any(|d| d.name == role.role_name()) {
                    continue;
                }
                if let Some(r) = read_role(aws, ctx.spec, role.role_name()).await? {
                    if r.owned {
                        out.push(r);
                    }
                }
            }
            Ok(out)
        })
    }

    /// CloudTrail may assume the role, and the role may write to the trail's log group.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("role {}", desired.name);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing(
                "role.exists",
                &subject,
                "the role CloudTrail uses to write to CloudWatch Logs does not exist: no event reaches the log group",
            );
        };
        let a: Attrs = live.resource.attrs();
        if !a.trust_policy.to_string().contains("cloudtrail.amazonaws.com") {
            return vec![
                Check::failed("role.trust", &subject, "the role does not trust cloudtrail.amazonaws.com").fix("run `secmon apply`")
            ];
        }
        let group = ctx.spec.cloudwatch_logs().map(|c| c.log_group.as_str());
        let doc = a.policy.to_string();
        if doc.contains("logs:PutLogEvents") && group.is_none_or(|g| doc.contains(&format!("log-group:{g}:"))) {
            vec![Check::ok("role.permissions", &subject, "trusted by CloudTrail, may write to the log group")]
        } else {
            vec![Check::failed("role.permissions", &subject, "the role may not write to the trail's log group (logs:PutLogEvents)")
                .fix("run `secmon apply`")]
        }
    }

    /// The trail is pointed at `role/secmon/NAME` and IAM cannot move a role to another path:
    /// a role elsewhere would leave the trail pointing at nothing (issue 11, item 4).
    fn refuse_import(&self, live: &Resource) -> Option<String> {
        let arn = live.arn.as_deref().unwrap_or_default();
        (!arn.contains(&format!(":role{ROLE_PATH}"))).then(|| {
            format!(
                "{arn} is not under the path {ROLE_PATH}, where secmon keeps the roles it points trails at, and IAM cannot move a role; \
                 give the spec's trail another role name (`trail.cloudwatch_logs.role_name`) and secmon creates it"
            )
        })
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let owner = Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag");
            let request = aws
                .iam
                .create_role()
                .role_name(&r.name)
                .path(ROLE_PATH)
                .description("CloudTrail delivers the trail's events to its CloudWatch Logs log group (managed by secmon)")
                .assume_role_policy_document(policy_text(&r.attrs::<Attrs>().trust_policy))
                .tags(owner);
            send("CreateRole", request.send()).await?;
            put_logs_policy(aws, r).await
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, before: &'a Resource, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let (before, after): (Attrs, Attrs) = (before.attrs(), r.attrs());
            if before.trust_policy != after.trust_policy {
                let request = aws.iam.update_assume_role_policy().role_name(&r.name);
                send("UpdateAssumeRolePolicy", request.policy_document(policy_text(&after.trust_policy)).send()).await?;
            }
            if before.policy != after.policy {
                put_logs_policy(aws, r).await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let iam = &aws.iam;
            match iam.delete_role_policy().role_name(&r.name).policy_name(POLICY_NAME).send().await {
                Ok(_) => {}
                Err(e) if error_code(&e) == Some("NoSuchEntity") => {}
                Err(e) => return Err(fail("DeleteRolePolicy")(e)),
            }
            send("DeleteRole", iam.delete_role().role_name(&r.name).send()).await
        })
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
        Box::pin(send("TagRole", aws.iam.tag_role().role_name(&r.name).set_tags(Some(tags)).send()))
    }
}

/// The inline policy letting CloudTrail write to the log group (same call on create and update).
async fn put_logs_policy(aws: &Aws, r: &Resource) -> Result<(), KindError> {
    send(
        "PutRolePolicy",
        aws.iam
            .put_role_policy()
            .role_name(&r.name)
            .policy_name(POLICY_NAME)
            .policy_document(policy_text(&r.attrs::<Attrs>().policy))
            .send(),
    )
    .await?;
    Ok(())
}

async fn read_role(aws: &Aws, spec: &str, name: &str) -> Result<Option<LiveResource>, KindError> {
    let (role, inline) =
        tokio::join!(aws.iam.get_role().role_name(name).send(), aws.iam.get_role_policy().role_name(name).policy_name(POLICY_NAME).send(),);
    let role = match role {
        Ok(r) => r,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(read_fail(crate::Address::new(Kind::Role, name), "GetRole")(e)),
    };
    let Some(role) = role.role() else {
        return Ok(None);
    };
    let attrs = Attrs {
        trust_policy: role.assume_role_policy_document().and_then(policy::parse).unwrap_or(Value::Null),
        policy: inline.ok().and_then(|p| policy::parse(p.policy_document())).unwrap_or(Value::Null),
    };
    let tag = |k: &str| role.tags().iter().find(|t| t.key() == k).map(|t| t.value());
    Ok(Some(LiveResource::tagged(Resource::new(Kind::Role, name, Some(role.arn().to_string()), &attrs), spec, tag)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    #[test]
    fn the_logs_policy_is_scoped_to_the_log_groups_streams() {
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let r = role_logs_policy(&t, "lg").to_string();
        assert!(r.contains("log-group:lg:log-stream:*") && !r.contains("\"*\""));
    }

    #[test]
    fn the_trust_policy_has_no_confused_deputy_conditions_cloudtrail_would_refuse() {
        // Regression (issue 11, item 1): aws:SourceArn/aws:SourceAccount in this trust policy make
        // CreateTrail/UpdateTrail fail with InvalidCloudWatchLogsRoleArnException on real AWS.
        let p = &role_trust_policy()["Statement"][0];
        assert_eq!(p["Principal"]["Service"], "cloudtrail.amazonaws.com");
        assert_eq!(p["Action"], "sts:AssumeRole");
        assert!(p.get("Condition").is_none(), "{p}");
    }

    #[test]
    fn verify_names_a_role_that_may_not_write_or_is_not_trusted() {
        use crate::check::testing::*;
        let (spec, mut live) = world();
        assert_eq!(verdict(&spec, &live, Kind::Role, "role.permissions"), Status::Ok);
        let mut a: Attrs = first(&mut live, Kind::Role).resource.attrs();
        a.policy = json!({"Version": "2012-10-17", "Statement": []});
        set_attrs(&mut live, Kind::Role, &a);
        assert_eq!(verdict(&spec, &live, Kind::Role, "role.permissions"), Status::Failed);
        a.trust_policy = json!({});
        set_attrs(&mut live, Kind::Role, &a);
        assert_eq!(verdict(&spec, &live, Kind::Role, "role.trust"), Status::Failed);
    }

    #[test]
    fn a_role_outside_the_secmon_path_cannot_be_imported() {
        let at = |arn: &str| Resource::bare(Kind::Role, "R", Some(arn.into()));
        assert!(Def.refuse_import(&at("arn:aws:iam::123456789012:role/secmon/R")).is_none());
        let refused = Def.refuse_import(&at("arn:aws:iam::123456789012:role/R")).expect("refused");
        assert!(refused.contains("not under the path /secmon/"), "{refused}");
    }
}
