//! IAM roles, each with one inline policy, under the path `/secmon/`: the role CloudTrail
//! assumes to deliver to CloudWatch Logs, and, with a heartbeat (issue 24, item 3), the role
//! the heartbeat's state machine reads the canary with and the role EventBridge starts it with.

use secmon_aws::error_code;
use secmon_aws::iam::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, policy_text, read_fail, send};
use crate::{
    policy, Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target,
    OWNER_TAG, ROLE_ARNS, ROLE_PATH,
};
use secmon_spec::DesiredState;

/// Name of the inline policy on the CloudTrail → CloudWatch Logs role.
pub const POLICY_NAME: &str = "secmon-cloudwatch-logs";
/// Name of the inline policy on the heartbeat's reader role.
pub const READ_CANARY_POLICY: &str = "secmon-heartbeat-read-canary";
/// Name of the inline policy on the heartbeat's starter role.
pub const START_HEARTBEAT_POLICY: &str = "secmon-heartbeat-start";

/// Name of the inline policy on the AWS Chatbot channel role.
pub const CHATBOT_POLICY: &str = "secmon-chatbot-read-cloudwatch";

/// The AWS Chatbot channel role's trust policy: Chatbot may assume it. Without `aws:SourceArn`
/// / `aws:SourceAccount`: Chatbot's guide documents neither for this role (its "Configuring an
/// IAM role" gives the trust without conditions), and a condition on a key the service does not
/// send would refuse every assumption. Its reach is bounded instead: the inline policy reads
/// CloudWatch only, and the configuration's guardrail caps it again (docs/aws-rules.md).
pub fn chatbot_trust_policy() -> Value {
    assumed_by("ChatbotAssumeRole", "chatbot.amazonaws.com")
}

/// A trust policy letting `service` assume the role, without confused-deputy conditions (for
/// the services that send none the guides document; each caller says why).
fn assumed_by(sid: &str, service: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": sid, "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    }))
}

/// Its permissions: the guide's "notification permissions" (CloudWatch reads, for the charts
/// and details of alarm messages), nothing else.
pub fn chatbot_policy() -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ChatbotReadsAlarms",
            "Effect": "Allow",
            "Action": ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"],
            "Resource": "*"
        }]
    }))
}

/// The role's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// Who may assume it: CloudTrail, for this trail.
    pub trust_policy: Value,
    /// The inline policy.
    pub policy: Value,
    /// The inline policy's name: [`POLICY_NAME`] on the delivery role, where it is left
    /// unwritten (as before the heartbeat's roles, so that plans of the delivery role keep
    /// their shape).
    #[serde(default = "delivery_policy", skip_serializing_if = "is_delivery_policy")]
    pub policy_name: String,
}

fn delivery_policy() -> String {
    POLICY_NAME.into()
}

fn is_delivery_policy(name: &String) -> bool {
    name == POLICY_NAME
}

/// The role's trust policy: CloudTrail may assume it. Deliberately without `aws:SourceArn` /
/// `aws:SourceAccount`: the CloudTrail guide ("Role policy document for CloudTrail to use
/// CloudWatch Logs for monitoring") says confused-deputy conditions are not supported for this
/// role, and CloudTrail then refuses it (`InvalidCloudWatchLogsRoleArnException`). The role's
/// reach is bounded instead by its inline policy: two actions on one log group's streams.
pub fn role_trust_policy() -> Value {
    assumed_by("CloudTrailAssumeRole", "cloudtrail.amazonaws.com")
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

/// The heartbeat's reader role: Step Functions may assume it for the heartbeat's state machine
/// only (`aws:SourceArn`, `aws:SourceAccount`: Step Functions developer guide, "Creating an IAM
/// role for your state machine", "Prevent cross-service confused deputy issue").
pub fn reader_trust_policy(t: &Target, state_machine: &str) -> Value {
    service_trust("StepFunctionsAssumeRole", "states.amazonaws.com", t, &t.arn("states", &format!("stateMachine:{state_machine}")))
}

/// It may read the canary secret, nothing else (the secret's ARN ends with `-` and six random
/// characters, hence the `??????`).
pub fn reader_policy(t: &Target, secret: &str) -> Value {
    only("ReadTheCanary", "secretsmanager:GetSecretValue", &t.arn("secretsmanager", &format!("secret:{secret}-??????")))
}

/// A policy allowing one action on one resource.
fn only(sid: &str, action: &str, resource: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}]
    }))
}

/// The heartbeat's starter role: EventBridge may assume it for the heartbeat's schedule rule
/// only (EventBridge user guide, "Cross-service confused deputy prevention").
pub fn starter_trust_policy(t: &Target, rule: &str) -> Value {
    service_trust("EventBridgeAssumeRole", "events.amazonaws.com", t, &t.arn("events", &format!("rule/{rule}")))
}

/// It may start the heartbeat's state machine, nothing else.
pub fn starter_policy(t: &Target, state_machine: &str) -> Value {
    only("StartTheHeartbeat", "states:StartExecution", &t.arn("states", &format!("stateMachine:{state_machine}")))
}

fn service_trust(sid: &str, service: &str, t: &Target, source_arn: &str) -> Value {
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": t.account_id},
                "ArnLike": {"aws:SourceArn": source_arn}
            }
        }]
    }))
}

/// The heartbeat's roles, reader then starter, when the spec has a heartbeat; `schedule_rule`
/// names the rule that starts it (the event rule kind's name for it).
pub fn heartbeat_roles(state: &DesiredState, t: &Target, schedule_rule: &str) -> Vec<Resource> {
    let Some(n) = state.heartbeat_names() else { return Vec::new() };
    let role = |name: &str, trust_policy: Value, policy: Value, policy_name: &str| {
        let attrs = Attrs { trust_policy, policy, policy_name: policy_name.into() };
        Resource::new(Kind::Role, name, Some(t.role_arn(name)), &attrs)
    };
    vec![
        role(&n.reader_role, reader_trust_policy(t, &n.state_machine), reader_policy(t, &n.secret), READ_CANARY_POLICY),
        role(&n.starter_role, starter_trust_policy(t, schedule_rule), starter_policy(t, &n.state_machine), START_HEARTBEAT_POLICY),
    ]
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[],
    step: 2,
    iam: crate::Iam {
        read: &["iam:GetRole", "iam:GetRolePolicy", "iam:ListRoles", "iam:ListRolePolicies"],
        write: &[
            "iam:CreateRole",
            "iam:TagRole",
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
        ],
        // Every role of secmon's is under its path (a role elsewhere is refused at import): the
        // deployer can change those and no other role, so it cannot write itself an
        // administrator's policy onto a role it may assume (IAM's `role` resource type).
        writes_on: Some(crate::WritesOn { sid: "SecmonWritesItsOwnRoles", resources: &[ROLE_ARNS] }),
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// CloudTrail assumes the role, then creates its stream in the log group and puts events
    /// (an organization trail's streams are named `<o-id>_<account>_CloudTrail_<region>`).
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        use crate::contract::Link;
        match r.attrs::<Attrs>().policy_name.as_str() {
            POLICY_NAME => {}
            CHATBOT_POLICY => return chatbot_links(t, r),
            _ => return heartbeat_links(state, t, r),
        }
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
        let mut out = Vec::new();
        if let Some(cw) = state.cloudwatch_logs() {
            let role = state.trail_role_name().expect("cloudwatch_logs implies a role");
            let attrs =
                Attrs { trust_policy: role_trust_policy(), policy: role_logs_policy(t, &cw.log_group), policy_name: POLICY_NAME.into() };
            out.push(Resource::new(Kind::Role, &role, Some(t.role_arn(&role)), &attrs));
        }
        out.extend(heartbeat_roles(state, t, &crate::event_rule::heartbeat_rule_name(&state.name)));
        if crate::chat_channel::wanted(state) {
            let name = crate::chat_channel::role_name(&state.name);
            let attrs = Attrs { trust_policy: chatbot_trust_policy(), policy: chatbot_policy(), policy_name: CHATBOT_POLICY.into() };
            out.push(Resource::new(Kind::Role, &name, Some(t.role_arn(&name)), &attrs));
        }
        out
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
            let read_wanted =
                wanted.iter().map(|d| async move { read_role(aws, ctx.spec, &d.name, &d.attrs::<Attrs>().policy_name).await });
            let (listed, desired) = tokio::join!(list_all, futures::future::join_all(read_wanted));
            for r in desired {
                out.extend(r?);
            }
            // Roles under /secmon/ that the spec no longer names: owned ones are deleted.
            let listed = listed.map_err(|e| AwsError::call("ListRoles", e))?;
            for role in listed.iter().flat_map(|page| page.roles()) {
                if wanted.iter().any(|d| d.name == role.role_name()) {
                    continue;
                }
                // Only its owner tag matters: an owned role no longer wanted is deleted.
                if let Some(r) = read_role(aws, ctx.spec, role.role_name(), POLICY_NAME).await? {
                    if r.owned {
                        out.push(r);
                    }
                }
            }
            Ok(out)
        })
    }

    /// CloudTrail may assume the role, and the role may write to the trail's log group; a
    /// heartbeat role is trusted by its service and holds exactly its one permission.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("role {}", desired.name);
        let want: Attrs = desired.attrs();
        if want.policy_name != POLICY_NAME {
            return verify_service_role(ctx, desired, &subject);
        }
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
                .description(match r.attrs::<Attrs>().policy_name.as_str() {
                    READ_CANARY_POLICY => "The heartbeat's state machine reads the canary secret (managed by secmon)",
                    START_HEARTBEAT_POLICY => "EventBridge starts the heartbeat's state machine (managed by secmon)",
                    CHATBOT_POLICY => "AWS Chatbot reads CloudWatch for the alarm messages it posts to chat channels (managed by secmon)",
                    _ => "CloudTrail delivers the trail's events to its CloudWatch Logs log group (managed by secmon)",
                })
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
            if before.policy != after.policy || before.policy_name != after.policy_name {
                put_logs_policy(aws, r).await?;
            }
            Ok(())
        })
    }

    /// IAM refuses to delete a role that still has inline policies (DeleteConflict): each one
    /// is deleted first, whatever its name (a role found by its tag alone has no known policy).
    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let iam = &aws.iam;
            let names = match iam.list_role_policies().role_name(&r.name).send().await {
                Ok(l) => l.policy_names().to_vec(),
                Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(()),
                Err(e) => return Err(fail("ListRolePolicies")(e)),
            };
            for name in names {
                match iam.delete_role_policy().role_name(&r.name).policy_name(&name).send().await {
                    Ok(_) => {}
                    Err(e) if error_code(&e) == Some("NoSuchEntity") => {}
                    Err(e) => return Err(fail("DeleteRolePolicy")(e)),
                }
            }
            send("DeleteRole", iam.delete_role().role_name(&r.name).send()).await
        })
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
        Box::pin(send("TagRole", aws.iam.tag_role().role_name(&r.name).set_tags(Some(tags)).send()))
    }
}

/// The role's inline policy (same call on create and update).
async fn put_logs_policy(aws: &Aws, r: &Resource) -> Result<(), KindError> {
    let a: Attrs = r.attrs();
    let request = aws.iam.put_role_policy().role_name(&r.name).policy_name(&a.policy_name).policy_document(policy_text(&a.policy));
    send("PutRolePolicy", request.send()).await?;
    Ok(())
}

/// The requests the Chatbot channel role must admit and refuse: AWS Chatbot assuming it (no
/// other service), and reading an alarm for the message it posts; never a write.
fn chatbot_links(t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
    use crate::contract::Link;
    const POLICIES: &str = "https://docs.aws.amazon.com/chatbot/latest/adminguide/security_iam_service-with-iam-id-based-policies.html";
    let role_arn = r.arn.clone().unwrap_or_default();
    let assume = Link::request(
        "AWS Chatbot → STS: AssumeRole (the channel role)",
        POLICIES,
        "chatbot.amazonaws.com",
        "sts:AssumeRole",
        &role_arn,
        t,
    )
    .judged_by_resource(r, "trust_policy");
    let read = Link::request(
        "AWS Chatbot (the channel role) → CloudWatch: DescribeAlarms",
        POLICIES,
        &role_arn,
        "cloudwatch:DescribeAlarms",
        &t.alarm_arn("Secret is accessed"),
        t,
    )
    .judged_by_identity(r, "policy");
    let other_service = assume.refused("another service", |l| l.principal = "lambda.amazonaws.com".into());
    let write = read.refused("a write", |l| l.action = "cloudwatch:DeleteAlarms".into());
    let secret = read.refused("another service's data", |l| {
        l.action = "secretsmanager:GetSecretValue".into();
        l.resource = t.arn("secretsmanager", "secret:production/db-password-AbC123");
    });
    vec![other_service, assume, write, secret, read]
}

/// The requests the heartbeat's roles must admit and refuse: Step Functions assuming the reader
/// role for the heartbeat's state machine, the reader reading the canary; EventBridge assuming
/// the starter role for the heartbeat's rule, the starter starting the state machine.
fn heartbeat_links(state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
    use crate::contract::Link;
    const SFN_TRUST: &str = "https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html";
    const SFN_SDK: &str = "https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html";
    const EVENTS_TRUST: &str = "https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html";
    const EVENTS_SFN: &str = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html";
    let Some(n) = state.heartbeat_names() else { return Vec::new() };
    let role_arn = r.arn.clone().unwrap_or_default();
    let machine = t.arn("states", &format!("stateMachine:{}", n.state_machine));
    let rule = t.arn("events", &format!("rule/{}", crate::event_rule::heartbeat_rule_name(&state.name)));
    // (row, page, service, on behalf of) of the role's assumption; (row, page, action, resource)
    // of its one call.
    let ((assume_row, trust_page, service, source), (call_row, call_page, action, resource)) = match r.attrs::<Attrs>().policy_name.as_str()
    {
        READ_CANARY_POLICY => (
            ("Step Functions → STS: AssumeRole (the heartbeat's reader role)", SFN_TRUST, "states.amazonaws.com", machine.clone()),
            (
                "The heartbeat (its reader role) → Secrets Manager: GetSecretValue",
                SFN_SDK,
                "secretsmanager:GetSecretValue",
                t.arn("secretsmanager", &format!("secret:{}-AbC123", n.secret)),
            ),
        ),
        START_HEARTBEAT_POLICY => (
            ("EventBridge → STS: AssumeRole (the heartbeat's starter role)", EVENTS_TRUST, "events.amazonaws.com", rule),
            ("The heartbeat's schedule (its starter role) → Step Functions: StartExecution", EVENTS_SFN, "states:StartExecution", machine),
        ),
        _ => return Vec::new(),
    };
    let assume = Link::request(assume_row, trust_page, service, "sts:AssumeRole", &role_arn, t)
        .on_behalf_of(&source, t)
        .judged_by_resource(r, "trust_policy");
    let call = Link::request(call_row, call_page, &role_arn, action, &resource, t).judged_by_identity(r, "policy");
    let other_source = assume.refused("another source of the account", |l| {
        if let Some(v) = l.context.get_mut("aws:SourceArn") {
            *v = format!("{}-other", *v);
        }
    });
    let other_resource = call.refused("another resource of the account", |l| {
        l.resource = l.resource.replace(&n.secret, "production/db-password").replace(&n.state_machine, "another-state-machine");
    });
    vec![assume.from_another_account(), other_source, assume, other_resource, call]
}

/// A heartbeat role or the Chatbot channel role: it exists, its service may assume it (for the
/// heartbeat alone), and it may do exactly what secmon gave it. Compared with the spec's
/// policies: any difference is a failure, since either its service stops or the role may do
/// more than secmon gave it.
fn verify_service_role(ctx: &VerifyCtx, desired: &Resource, subject: &str) -> Vec<Check> {
    let chatbot = desired.attrs::<Attrs>().policy_name == CHATBOT_POLICY;
    let Some(live) = ctx.live_of(desired) else {
        let what = match chatbot {
            true => "the Chatbot channel role does not exist: chat messages lose their alarm details",
            false => "the heartbeat's role does not exist: the canary is never read, and the heartbeat pages",
        };
        return ctx.missing("role.exists", subject, what);
    };
    let (want, got): (Attrs, Attrs) = (desired.attrs(), live.resource.attrs());
    let not_secmons = |what: String| move |id: &str, s: &str| Check::failed(id, s, what).fix("run `secmon apply`");
    let (trusted, untrusted) = match chatbot {
        true => ("trusted by AWS Chatbot alone", "its trust policy is not secmon's: Chatbot may not use it, or others may assume it"),
        false => (
            "trusted by its service, for the heartbeat alone",
            "its trust policy is not secmon's: the heartbeat may stop, or others may assume it",
        ),
    };
    vec![
        Check::holds(got.trust_policy == want.trust_policy, "role.trust", subject, trusted, not_secmons(untrusted.into())),
        Check::holds(
            got.policy == want.policy,
            "role.permissions",
            subject,
            match chatbot {
                true => format!("may read CloudWatch, nothing else ({})", want.policy_name),
                false => format!("may do exactly one thing ({})", want.policy_name),
            },
            not_secmons(format!("its inline policy {} is not secmon's", want.policy_name)),
        ),
    ]
}

async fn read_role(aws: &Aws, spec: &str, name: &str, policy_name: &str) -> Result<Option<LiveResource>, KindError> {
    let (role, inline) =
        tokio::join!(aws.iam.get_role().role_name(name).send(), aws.iam.get_role_policy().role_name(name).policy_name(policy_name).send(),);
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
        policy_name: policy_name.to_string(),
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
