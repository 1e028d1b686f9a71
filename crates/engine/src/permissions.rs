//! `secmon permissions`: the least-privilege IAM policy the identity running secmon needs for one
//! spec and one command (issue 22, item 4), derived from what the kinds declare their calls need
//! ([`secmon_kinds::Iam`]) and what the engine itself calls (the session, the lock, fan-out,
//! verify's observations). `crates/cli/tests/permissions.rs` proves the result covers every
//! call that plan, apply, verify and destroy make.

use std::collections::{BTreeMap, BTreeSet};

use secmon_kinds::{Kind, Target};
use secmon_spec::Spec;
use serde_json::{json, Value};

/// The command the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `plan` (and `validate` against AWS): read-only.
    Plan,
    /// `verify` and `backtest`: read-only.
    Verify,
    /// `verify --trigger` / `--notify-test`: reads a secret once, publishes, sets alarm states.
    Exercise,
    /// `apply` and `import`.
    Apply,
    /// `destroy`.
    Destroy,
}

/// Every session reads the account id and the owned resources' tags.
const SESSION: &[&str] = &["sts:GetCallerIdentity", "tag:GetResources"];
/// The apply lock ([`crate::lock`]): its log group, lease streams, and the spec's key to encrypt
/// the group (CloudWatch Logs uses the key as the caller).
const LOCK: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:TagResource",
    "logs:PutRetentionPolicy",
    "logs:DescribeLogGroups",
    "logs:AssociateKmsKey",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:DeleteLogStream",
    "logs:DeleteLogGroup",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];
/// What verify observes beyond the kinds' reads: AWS's own filter engine, a brought key's
/// policy, the heartbeat's delivery (its canary's events and metric).
const VERIFY: &[&str] = &["logs:TestMetricFilter", "logs:FilterLogEvents", "kms:GetKeyPolicy", "cloudwatch:GetMetricStatistics"];
/// `verify --trigger` and `--notify-test`.
const EXERCISE: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "cloudtrail:LookupEvents",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:SetAlarmState",
    "cloudwatch:DescribeAlarmHistory",
    "sns:Publish",
    "kms:GenerateDataKey",
    "kms:Decrypt",
];
/// An organization trail: its preconditions are read at plan time; creating it needs what
/// CloudTrail's guide lists ("Prepare for creating a trail for your organization").
const ORGANIZATION_READ: &[&str] = &["organizations:DescribeOrganization", "organizations:ListAWSServiceAccessForOrganization"];
const ORGANIZATION_WRITE: &[&str] = &["iam:CreateServiceLinkedRole", "organizations:ListAccounts"];
/// `targets:`: organizational units are enumerated; each target is reached by AssumeRole.
const TARGETS_READ: &[&str] = &["organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent", "sts:AssumeRole"];

/// The policy document for `spec` and `phase`.
pub fn policy(spec: &Spec, phase: Phase) -> Value {
    let state =
        spec.state.resolve("123456789012", spec.state.region.as_deref().unwrap_or("us-east-1")).unwrap_or_else(|_| spec.state.clone());
    let target = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
    let desired = secmon_kinds::desired_resources(&state, &target);
    let used: BTreeSet<Kind> =
        desired.iter().map(|r| r.kind).chain(Kind::ALL.iter().copied().filter(|k| k.def().reads_when_unused())).collect();
    let mut read: BTreeSet<&str> = SESSION.iter().copied().collect();
    let mut write: BTreeSet<&str> = BTreeSet::new();
    // The services the desired resources' creates and updates hand secmon's roles to (an alert
    // context's rule targets a topic and passes none, the heartbeat's passes its starter role).
    let passed_to: BTreeSet<&str> = match phase {
        Phase::Apply | Phase::Destroy => desired.iter().filter_map(|r| r.kind.def().passes_role_to(r)).collect(),
        _ => BTreeSet::new(),
    };
    // The writes granted on the resources the kinds name ([`secmon_kinds::WritesOn`]), by Sid.
    let mut scoped: BTreeMap<&str, (&[&str], BTreeSet<&str>)> = BTreeMap::new();
    let mut grant =
        |write: &mut BTreeSet<&'static str>, kind: &Kind, actions: &mut dyn Iterator<Item = &'static str>| match kind.facts().iam.writes_on
        {
            Some(on) => scoped.entry(on.sid).or_insert((on.resources, BTreeSet::new())).1.extend(actions),
            None => write.extend(actions),
        };
    for k in &used {
        read.extend(k.facts().iam.read);
        if matches!(phase, Phase::Apply | Phase::Destroy) {
            grant(&mut write, k, &mut k.facts().iam.write.iter().copied());
        }
    }
    // A feature turned off (a heartbeat, alert context, chat channels) leaves resources of kinds
    // the spec no longer uses, which the plan finds (by their owner tag, or by their kind's own
    // read) and apply deletes: the policy of the new spec must let the plan read them, and apply
    // remove them, and nothing else of those kinds.
    if matches!(phase, Phase::Plan | Phase::Apply | Phase::Destroy) {
        for k in Kind::ALL.iter().filter(|k| !used.contains(k)) {
            read.extend(k.facts().iam.read);
            if phase != Phase::Plan {
                grant(&mut write, k, &mut k.facts().iam.write.iter().copied().filter(|a| removes(a)));
            }
        }
    }
    let organization = state.trail.as_ref().is_some_and(|t| t.organization);
    if organization {
        read.extend(ORGANIZATION_READ);
    }
    if state.targets.is_some() {
        read.extend(TARGETS_READ);
    }
    // S3 data events: the plan that turns them on estimates their cost from the account's S3
    // request counts (issue 25, item 3); without the grant it says it could not.
    if state.trail.as_ref().is_some_and(|t| t.s3_data_events.is_some()) && matches!(phase, Phase::Plan | Phase::Apply) {
        read.insert("ce:GetCostAndUsage");
    }
    match phase {
        Phase::Plan => {}
        Phase::Verify => read.extend(VERIFY),
        Phase::Exercise => {
            read.extend(VERIFY);
            write.extend(EXERCISE);
        }
        Phase::Apply | Phase::Destroy => {
            write.extend(LOCK);
            if organization {
                write.extend(ORGANIZATION_WRITE);
            }
        }
    }
    let write: BTreeSet<&str> = write.difference(&read).copied().collect();
    // An action granted on every resource needs no narrower grant besides.
    for (_, actions) in scoped.values_mut() {
        actions.retain(|a| !read.contains(a) && !write.contains(a));
    }
    // Passing a role is how a principal lends its permissions to a service: only secmon's own
    // roles (all under its path), only to the services the spec's kinds hand them to (CloudTrail
    // the delivery role, EventBridge and Step Functions the heartbeat's, Chatbot the channel
    // role), never any role to anything.
    let mut statements = vec![json!({"Sid": "SecmonReads", "Effect": "Allow", "Action": read, "Resource": "*"})];
    if !write.is_empty() {
        statements.push(json!({"Sid": "SecmonWrites", "Effect": "Allow", "Action": write, "Resource": "*"}));
    }
    for (sid, (resources, actions)) in scoped.iter().filter(|(_, (_, actions))| !actions.is_empty()) {
        statements.push(json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}));
    }
    if !passed_to.is_empty() {
        statements.push(json!({
            "Sid": "SecmonPassesItsOwnRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": secmon_kinds::ROLE_ARNS,
            "Condition": {"StringEquals": {"iam:PassedToService": passed_to}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Whether `action` removes what it acts on (or detaches a part of it before removal).
fn removes(action: &str) -> bool {
    let op = action.split_once(':').map(|(_, op)| op).unwrap_or(action);
    ["Delete", "Remove", "Unsubscribe", "ScheduleKeyDeletion"].iter().any(|p| op.starts_with(p))
}

/// Every action of a policy from [`policy`].
pub fn actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Spec {
        Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap()
    }

    #[test]
    fn plan_and_verify_are_read_only() {
        for phase in [Phase::Plan, Phase::Verify] {
            let p = policy(&seed(), phase);
            assert_eq!(p["Statement"].as_array().unwrap().len(), 1, "{p}");
            let mutating =
                ["Create", "Put", "Delete", "Update", "Tag", "Set", "Enable", "Disable", "Schedule", "Associate", "Start", "Add"];
            for a in actions(&p) {
                let op = a.split(':').nth(1).unwrap();
                assert!(!mutating.iter().any(|m| op.starts_with(m)), "{phase:?} must be read-only: {a}");
            }
        }
    }

    #[test]
    fn apply_adds_the_writes_and_the_lock_and_only_the_removal_of_kinds_the_spec_does_not_use() {
        let p = actions(&policy(&seed(), Phase::Apply));
        for a in
            ["kms:CreateKey", "kms:PutKeyPolicy", "cloudtrail:CreateTrail", "iam:PassRole", "logs:PutLogEvents", "logs:CreateLogStream"]
        {
            assert!(p.contains(a), "{a}: {p:?}");
        }
        assert!(!p.contains("organizations:DescribeOrganization"), "no organization trail in the seed");
        // A heartbeat turned off is removed with the seed's own policy, and nothing else of it.
        assert!(p.contains("states:DeleteStateMachine") && p.contains("states:DescribeStateMachine"), "{p:?}");
        assert!(p.contains("events:DeleteRule") && p.contains("events:RemoveTargets"), "{p:?}");
        assert!(!p.contains("states:CreateStateMachine") && !p.contains("events:PutRule"), "{p:?}");
        assert!(!p.contains("secretsmanager:GetSecretValue"), "apply never reads a secret's value");
    }

    /// Issue 24: the plan of a spec that dropped its chat channels (or heartbeat) must read what
    /// apply will remove, with the new spec's own plan policy, as GitOps plans each pull request.
    #[test]
    fn the_plan_reads_what_a_feature_turned_off_left_behind() {
        let p = actions(&policy(&seed(), Phase::Plan));
        for a in
            ["chatbot:DescribeSlackChannelConfigurations", "chatbot:ListMicrosoftTeamsChannelConfigurations", "states:DescribeStateMachine"]
        {
            assert!(p.contains(a), "{a}: {p:?}");
        }
        assert!(!p.contains("chatbot:DeleteSlackChannelConfiguration"), "the plan changes nothing");
    }

    /// The services named in the policy's `iam:PassedToService` condition.
    fn passed_to(p: &Value) -> Vec<String> {
        let statement = p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "SecmonPassesItsOwnRoles");
        statement.map_or(vec![], |s| serde_json::from_value(s["Condition"]["StringEquals"]["iam:PassedToService"].clone()).unwrap())
    }

    /// A real account refuses a Chatbot configuration whose creator may not pass the channel role
    /// to Chatbot ("is not authorized to perform: iam:PassRole"), which the emulator showed only
    /// once it judged role passing too.
    #[test]
    fn roles_are_passed_only_to_the_services_of_the_specs_kinds() {
        assert_eq!(passed_to(&policy(&seed(), Phase::Apply)), ["cloudtrail.amazonaws.com"]);
        let chat = Spec::parse(include_str!("../../../examples/chat-channels.yaml"), "chat-channels.yaml").unwrap();
        // The chat example's alert context adds EventBridge rules, whose targets are topics: no
        // role is passed to EventBridge without a heartbeat.
        assert_eq!(passed_to(&policy(&chat, Phase::Apply)), ["chatbot.amazonaws.com", "cloudtrail.amazonaws.com"]);
        let paging = Spec::parse(include_str!("../../../examples/paging.yaml"), "paging.yaml").unwrap();
        assert_eq!(
            passed_to(&policy(&paging, Phase::Apply)),
            ["cloudtrail.amazonaws.com", "events.amazonaws.com", "states.amazonaws.com"],
            "the heartbeat's rule passes its starter role, its state machine its reader role"
        );
        assert!(passed_to(&policy(&chat, Phase::Plan)).is_empty(), "a plan passes no role");
    }

    /// A deployer free to write any role's policy could write itself an administrator's onto a
    /// role it may assume: role writes are granted on secmon's roles only.
    #[test]
    fn role_writes_are_granted_on_secmons_roles_only() {
        for phase in [Phase::Apply, Phase::Destroy] {
            let p = policy(&seed(), phase);
            let statements = p["Statement"].as_array().unwrap();
            let everywhere = statements.iter().find(|s| s["Sid"] == "SecmonWrites").unwrap();
            assert!(!everywhere["Action"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().starts_with("iam:")), "{p}");
            let roles = statements.iter().find(|s| s["Sid"] == "SecmonWritesItsOwnRoles").unwrap();
            assert_eq!(roles["Resource"], json!([secmon_kinds::ROLE_ARNS]));
            let actions: Vec<&str> = roles["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            assert!(actions.contains(&"iam:PutRolePolicy") && actions.contains(&"iam:DeleteRole"), "{phase:?}: {actions:?}");
        }
    }
}
