//! Issue 22, item 4: `secmon permissions` is derived from what secmon calls. Every API call that
//! plan, apply, verify, the notify tests and destroy make on the emulator (counted by the SDK
//! interceptor, `--stats`) needs IAM actions the printed policy for that command grants.

use std::collections::BTreeSet;

use crate::common::*;

/// (service, operation) of every row of `--stats` tables (the pipeline's and the lock's).
fn called(stderr: &str) -> BTreeSet<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.len() >= 3 && t[t.len() - 1].parse::<u64>().is_ok()).then(|| (t[..t.len() - 2].join(" "), t[t.len() - 2].to_string()))
        })
        .collect()
}

fn granted(w: &World, spec: &str, phase: &str) -> BTreeSet<String> {
    let out = w.secmon(&["permissions", "-f", spec, "--for", phase]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    secmon_engine::permissions::actions(&policy)
}

fn assert_covered(w: &World, spec: &str, phase: &str, stderr: &str) {
    let calls = called(stderr);
    assert!(!calls.is_empty(), "no --stats table: {stderr}");
    let policy = granted(w, spec, phase);
    let missing: Vec<String> = calls
        .iter()
        .flat_map(|(s, o)| secmon_aws::iam_actions(s, o).into_iter().map(move |a| (a, format!("{s} {o}"))))
        .filter(|(a, _)| !policy.contains(a) && a != "sts:GetCallerIdentity")
        .map(|(a, call)| format!("{a} (for {call})"))
        .collect();
    assert!(missing.is_empty(), "`secmon permissions --for {phase}` lacks: {missing:?}");
}

#[test]
fn the_printed_policy_covers_every_call_of_plan_apply_verify_and_destroy() {
    let Some(w) = World::new() else { return };
    let out = w.secmon(&["plan", "-f", SEED, "--stats"]);
    assert_covered(&w, SEED, "plan", &text(&out.stderr));
    let out = w.apply();
    assert_covered(&w, SEED, "apply", &text(&out.stderr));
    let out = w.secmon(&["verify", "-f", SEED, "--stats"]);
    assert_covered(&w, SEED, "verify", &text(&out.stderr));
    for test in ["topic", "alarm"] {
        let out = w.secmon(&["verify", "-f", SEED, "--notify-test", test, "--stats"]);
        assert_covered(&w, SEED, "exercise", &text(&out.stderr));
    }
    let out = w.secmon(&["destroy", "-f", SEED, "--auto-approve", "--delete-logs", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_covered(&w, SEED, "destroy", &text(&out.stderr));
}

#[test]
fn every_pack_is_covered_too() {
    let Some(w) = World::new() else { return };
    let spec = "specs/all-packs.yaml";
    let out = w.secmon(&["apply", "-f", spec, "--auto-approve", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_covered(&w, spec, "apply", &text(&out.stderr));
    let out = w.secmon(&["destroy", "-f", spec, "--auto-approve", "--stats"]);
    assert_covered(&w, spec, "destroy", &text(&out.stderr));
}

/// A user of the emulator with IAM enforcement on, holding exactly `policy`: its credentials.
async fn user(aws: &secmon_aws::Aws, name: &str, policy: &str) -> (String, String) {
    aws.iam.create_user().user_name(name).send().await.unwrap();
    let key = aws.iam.create_access_key().user_name(name).send().await.unwrap();
    let key = key.access_key().unwrap();
    aws.iam.put_user_policy().user_name(name).policy_name("secmon").policy_document(policy).send().await.unwrap();
    (key.access_key_id().to_string(), key.secret_access_key().to_string())
}

fn as_user(emu: &secmon_testkit::Emulator, (key, secret): &(String, String), args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(args)
        .current_dir(root())
        .envs(emu.env())
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("TOP_SECRET_VALUE", "s3cr3t-value-never-printed")
        .output()
        .unwrap()
}

fn printed_policy(spec: &str, phase: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(["permissions", "-f", spec, "--for", phase])
        .current_dir(root())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An emulator with IAM enforcement on, and users holding the given policies (three free calls
/// each: CreateUser, CreateAccessKey, PutUserPolicy).
fn enforcing(test: &str, policies: &[&serde_json::Value]) -> Option<(secmon_testkit::Emulator, Vec<(String, String)>)> {
    let emu = secmon_testkit::Emulator::start_enforcing_iam_or_skip(test, 3 * policies.len() as u32)?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (k, v) in emu.env() {
        if k.starts_with("AWS_") && k != "AWS_ENDPOINT_URL" {
            std::env::set_var(k, v);
        }
    }
    let admin = rt.block_on(secmon_aws::Aws::connect(Some("us-east-1"), Some(&emu.endpoint))).unwrap();
    let users = policies.iter().enumerate().map(|(i, p)| rt.block_on(user(&admin, &format!("deployer-{i}"), &p.to_string()))).collect();
    Some((emu, users))
}

/// `policy` with `service` taken out of the services its `iam:PassRole` may pass roles to.
fn without_passing_to(policy: &serde_json::Value, service: &str) -> serde_json::Value {
    let mut narrowed = policy.clone();
    let statement = narrowed["Statement"].as_array_mut().unwrap().iter_mut().find(|s| s["Sid"] == "SecmonPassesItsOwnRoles");
    let services =
        statement.expect("a statement passing roles")["Condition"]["StringEquals"]["iam:PassedToService"].as_array_mut().unwrap();
    let before = services.len();
    services.retain(|s| s != service);
    assert_eq!(services.len() + 1, before, "{service} was among the services: {policy}");
    if services.is_empty() {
        services.push("ec2.amazonaws.com".into());
    }
    narrowed
}

/// Plan, apply, plan (no changes), destroy, as `who`.
fn life_cycle(emu: &secmon_testkit::Emulator, who: &(String, String), spec: &str) {
    let plan = as_user(emu, who, &["plan", "-f", spec, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{spec}: {}", text(&plan.stderr));
    let apply = as_user(emu, who, &["apply", "-f", spec, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{spec}: {}", text(&apply.stderr));
    let again = as_user(emu, who, &["plan", "-f", spec, "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{spec}: {}{}", text(&again.stdout), text(&again.stderr));
    let destroy = as_user(emu, who, &["destroy", "-f", spec, "--auto-approve"]);
    assert_eq!(destroy.status.code(), Some(0), "{spec}: {}", text(&destroy.stderr));
}

/// Item 4's proof on the emulator with moto's IAM enforcement on: a user holding exactly the
/// printed policy plans, applies and destroys the seed; without one action, apply fails at
/// once, naming it.
#[test]
fn a_user_holding_exactly_the_printed_policy_plans_applies_and_destroys_the_seed() {
    let policy = printed_policy(SEED, "apply");
    let mut lacking = policy.clone();
    for st in lacking["Statement"].as_array_mut().unwrap() {
        st["Action"].as_array_mut().unwrap().retain(|a| a != "logs:PutMetricFilter");
    }
    let read_only = printed_policy(SEED, "plan");
    let not_to_cloudtrail = without_passing_to(&policy, "cloudtrail.amazonaws.com");
    let mut roles_elsewhere = policy.clone();
    for st in roles_elsewhere["Statement"].as_array_mut().unwrap().iter_mut().filter(|s| s["Sid"] == "SecmonWritesItsOwnRoles") {
        st["Resource"] = serde_json::json!(["arn:aws:iam::*:role/elsewhere/*"]);
    }
    let Some((emu, users)) = enforcing(module_path!(), &[&policy, &lacking, &read_only, &not_to_cloudtrail, &roles_elsewhere]) else {
        return;
    };
    // Role writes are judged on the role, as AWS judges them: granted on other roles, refused.
    let apply = as_user(&emu, &users[4], &["apply", "-f", SEED, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply.stderr));
    assert!(text(&apply.stderr).contains("not authorized to perform: iam:CreateRole"), "{}", text(&apply.stderr));
    // CreateTrail hands CloudTrail the delivery role: refused without the grant to pass it.
    let apply = as_user(&emu, &users[3], &["apply", "-f", SEED, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply.stderr));
    assert!(text(&apply.stderr).contains("not authorized to perform: iam:PassRole"), "{}", text(&apply.stderr));
    // The read-only policy plans, and can change nothing.
    let plan = as_user(&emu, &users[2], &["plan", "-f", SEED, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
    let apply = as_user(&emu, &users[2], &["apply", "-f", SEED, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply.stderr));
    assert!(text(&apply.stderr).contains("not authorized to perform"), "{}", text(&apply.stderr));
    life_cycle(&emu, &users[0], SEED);
    let out = as_user(&emu, &users[1], &["apply", "-f", SEED, "--auto-approve", "--stats"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not authorized to perform: logs:PutMetricFilter"), "the missing action is named: {err}");
    assert_eq!(calls(err.split("Apply lock:").next().unwrap(), "PutMetricFilter"), 1, "an AccessDenied is not retried: {err}");
}

/// The same for the spec with every rule pack.
#[test]
fn a_user_holding_exactly_the_printed_policy_plans_applies_and_destroys_all_packs() {
    let spec = "specs/all-packs.yaml";
    let Some((emu, users)) = enforcing(module_path!(), &[&printed_policy(spec, "apply")]) else { return };
    life_cycle(&emu, &users[0], spec);
}

/// Issue 24: the paging example (alert context's EventBridge rules, routes, a webhook, a queue,
/// a heartbeat)
/// with exactly its printed policy, under IAM enforcement.
#[test]
fn issue_24_a_user_holding_exactly_the_printed_policy_runs_the_paging_example() {
    std::env::set_var("PAGERDUTY_CLOUDWATCH_URL", "https://events.pagerduty.com/integration/k/enqueue");
    let spec = "examples/paging.yaml";
    let policy = printed_policy(spec, "apply");
    assert!(policy.to_string().contains("events:PutTargets"), "the rules' actions are granted: {policy}");
    assert!(policy.to_string().contains("states:CreateStateMachine"), "the heartbeat's actions are granted: {policy}");
    let Some((emu, users)) = enforcing(module_path!(), &[&policy]) else { return };
    life_cycle(&emu, &users[0], spec);
}

/// Issue 24: a feature turned off is removed with the new spec's own policy. The paging example
/// (heartbeat, alert context) is applied with its policy; then a user holding only the policy
/// printed for the same spec without them applies it, and the heartbeat's state machine, roles
/// and rules go.
#[test]
fn issue_24_turning_the_heartbeat_and_alert_context_off_needs_only_the_new_specs_policy() {
    std::env::set_var("PAGERDUTY_CLOUDWATCH_URL", "https://events.pagerduty.com/integration/k/enqueue");
    let full = "examples/paging.yaml";
    let written = std::fs::read_to_string(root().join(full)).unwrap();
    let plain =
        written.replace("alert_context: true\n", "").replace("heartbeat: { every: 5m }         # pages the critical route below\n", "");
    assert!(!plain.contains("heartbeat:") && !plain.contains("alert_context"), "{plain}");
    let dir = tempfile::tempdir().unwrap();
    let off = dir.path().join("paging-off.yaml");
    std::fs::write(&off, plain).unwrap();
    let off = off.to_str().unwrap();
    let (before, after) = (printed_policy(full, "apply"), printed_policy(off, "apply"));
    assert!(!after.to_string().contains("states:CreateStateMachine"), "the new policy creates no state machine: {after}");
    let Some((emu, users)) = enforcing(module_path!(), &[&before, &after]) else { return };
    let apply = as_user(&emu, &users[0], &["apply", "-f", full, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let apply = as_user(&emu, &users[1], &["apply", "-f", off, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let again = as_user(&emu, &users[1], &["plan", "-f", off, "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}{}", text(&again.stdout), text(&again.stderr));
}

/// `iam:PassRole` is granted only for secmon's own roles and only to the services that take
/// them, judged by the independent IAM evaluator (scripts/iam-eval, as the link contract is):
/// the deployer can hand CloudTrail its delivery role, and cannot hand an administrator role to
/// anything, nor secmon's role to a service that has no use for it: EC2, nor Step Functions to a
/// spec without a heartbeat. Nor can it write a policy onto any role but secmon's.
#[test]
fn apply_passes_only_secmons_own_roles_to_the_services_that_take_them() {
    let script = root().join("scripts/iam-eval/evaluate.mjs");
    if !root().join("scripts/iam-eval/node_modules/@cloud-copilot/iam-simulate").exists() {
        eprintln!("skipped: the IAM evaluator is not installed (scripts/test installs it)");
        return;
    }
    let out = secmon_offline(&["permissions", "-f", "specs/all-packs.yaml", "--for", "apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = |id: &str, role: &str, service: &str| {
        serde_json::json!({"id": id, "principal": "arn:aws:iam::123456789012:user/deployer", "action": "iam:PassRole",
            "resource": format!("arn:aws:iam::123456789012:role/{role}"), "resourceAccount": "123456789012",
            "context": {"iam:PassedToService": service}, "identityPolicies": [policy]})
    };
    let write = |id: &str, role: &str| {
        serde_json::json!({"id": id, "principal": "arn:aws:iam::123456789012:user/deployer", "action": "iam:PutRolePolicy",
            "resource": format!("arn:aws:iam::123456789012:role/{role}"), "resourceAccount": "123456789012",
            "context": {}, "identityPolicies": [policy]})
    };
    let cases = serde_json::json!([
        case("delivery role to CloudTrail", "secmon/CloudTrailRoleForCloudWatchLogs_secrets-manager-trail", "cloudtrail.amazonaws.com"),
        case("a role to Step Functions, without a heartbeat", "secmon/secmon-x-heartbeat-reader", "states.amazonaws.com"),
        case("an administrator role to CloudTrail", "OrganizationAccountAccessRole", "cloudtrail.amazonaws.com"),
        case("secmon's role to EC2", "secmon/CloudTrailRoleForCloudWatchLogs_secrets-manager-trail", "ec2.amazonaws.com"),
        write("a policy onto secmon's role", "secmon/CloudTrailRoleForCloudWatchLogs_secrets-manager-trail"),
        write("a policy onto an administrator role", "OrganizationAccountAccessRole"),
    ]);
    let mut child = std::process::Command::new("node")
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), cases.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let result = |id: &str| {
        let r = results.iter().find(|r| r["id"] == id).unwrap();
        assert!(r["ignored"].as_array().unwrap().is_empty(), "{id}: the evaluator ignored {}", r["ignored"]);
        r["result"].as_str().unwrap().to_string()
    };
    assert_eq!(result("delivery role to CloudTrail"), "Allowed");
    assert_eq!(result("a role to Step Functions, without a heartbeat"), "ImplicitlyDenied");
    assert_eq!(result("an administrator role to CloudTrail"), "ImplicitlyDenied");
    assert_eq!(result("secmon's role to EC2"), "ImplicitlyDenied");
    assert_eq!(result("a policy onto secmon's role"), "Allowed");
    assert_eq!(result("a policy onto an administrator role"), "ImplicitlyDenied", "role writes are granted on secmon's roles only");
}

/// Issue 24: the chat channels example (AWS Chatbot for Slack and Teams) with exactly its printed
/// policy, under IAM enforcement, the emulator judging Chatbot's calls as moto judges the rest;
/// without `chatbot:CreateSlackChannelConfiguration`, the apply stops there, naming it.
#[test]
fn issue_24_a_user_holding_exactly_the_printed_policy_runs_the_chat_channels_example() {
    let spec = "examples/chat-channels.yaml";
    let policy = printed_policy(spec, "apply");
    assert!(policy.to_string().contains("chatbot:CreateSlackChannelConfiguration"), "{policy}");
    let mut lacking = policy.clone();
    for st in lacking["Statement"].as_array_mut().unwrap() {
        st["Action"].as_array_mut().unwrap().retain(|a| a != "chatbot:CreateSlackChannelConfiguration");
    }
    // Creating a configuration hands Chatbot the channel role: a real account refuses it to a
    // deployer who may not pass the role to Chatbot, and so does the emulator.
    let not_to_chatbot = without_passing_to(&policy, "chatbot.amazonaws.com");
    let Some((emu, users)) = enforcing(module_path!(), &[&policy, &lacking, &not_to_chatbot]) else { return };
    emu.authorize_chat_clients(
        &[("T0123ABCD", "Acme")],
        &[("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "11111111-2222-3333-4444-555555555555", "Security")],
    );
    let out = as_user(&emu, &users[1], &["apply", "-f", spec, "--auto-approve"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not authorized to perform: chatbot:CreateSlackChannelConfiguration"), "{err}");
    let out = as_user(&emu, &users[2], &["apply", "-f", spec, "--auto-approve"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/secmon/"), "{err}");
    life_cycle(&emu, &users[0], spec);
}

/// Issue 24: chat channels dropped from a spec are found by the plan holding only the new spec's
/// plan policy (a GitOps pull request), and removed by apply holding the new spec's apply policy.
#[test]
fn issue_24_dropping_the_chat_channels_needs_only_the_new_specs_policies() {
    let full = "examples/chat-channels.yaml";
    let written = std::fs::read_to_string(root().join(full)).unwrap();
    let plain: String = written
        .lines()
        .filter(|l| {
            !l.contains("slack")
                && !l.contains("teams")
                && !l.contains("{ workspace")
                && !l.contains("tenant:")
                && !l.contains("team:")
                && !l.contains("channel:")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let plain = plain.replace("  - name: security\n", "  - name: security\n    email: [security@example.com]\n");
    assert!(!plain.contains("slack") && !plain.contains("thread.tacv2"), "{plain}");
    let dir = tempfile::tempdir().unwrap();
    let off = dir.path().join("chat-off.yaml");
    std::fs::write(&off, plain).unwrap();
    let off = off.to_str().unwrap();
    let (before, plan_after, apply_after) = (printed_policy(full, "apply"), printed_policy(off, "plan"), printed_policy(off, "apply"));
    assert!(!apply_after.to_string().contains("chatbot:CreateSlackChannelConfiguration"), "{apply_after}");
    let Some((emu, users)) = enforcing(module_path!(), &[&before, &plan_after, &apply_after]) else { return };
    emu.authorize_chat_clients(
        &[("T0123ABCD", "Acme")],
        &[("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "11111111-2222-3333-4444-555555555555", "Security")],
    );
    let apply = as_user(&emu, &users[0], &["apply", "-f", full, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let plan = as_user(&emu, &users[1], &["plan", "-f", off, "--detailed-exitcode"]);
    let out = text(&plan.stdout);
    assert_eq!(plan.status.code(), Some(2), "{out}{}", text(&plan.stderr));
    assert!(
        out.contains("- chat_channel \"secmon-chat-channels-slack-C0123ABCD\"") && out.contains("- role \"secmon-chat-channels-chatbot\""),
        "{out}"
    );
    let apply = as_user(&emu, &users[2], &["apply", "-f", off, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    let again = as_user(&emu, &users[2], &["plan", "-f", off, "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}{}", text(&again.stdout), text(&again.stderr));
}
