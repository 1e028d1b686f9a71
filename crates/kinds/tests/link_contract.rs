//! Issue 22, item 2: the link contract, checked by an IAM evaluator that is not secmon's code.
//!
//! For every spec variant (each `encryption` switch off, a key brought by ARN, `key: none`,
//! `notify_topic`, `alert_context`, `heartbeat`, an organization trail, a target account), the policies secmon would deploy
//! are generated and every request of the contract (`secmon_kinds::contract`, one row per
//! documented request in docs/link-contract.md) is evaluated by `@cloud-copilot/iam-simulate`
//! (scripts/iam-eval): the pipeline's requests must be allowed; their confused-deputy and
//! plain-HTTP variants denied. A case whose context keys the evaluator ignored fails: it was
//! not evaluated.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use secmon_kinds::contract::{links, Link};
use secmon_kinds::Target;
use serde_json::{json, Value};

const SEED: &str = include_str!("../../../specs/seed.yaml");
const ACCOUNT: &str = "123456789012";

fn evaluator() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    if let Some(path) = std::env::var_os("SECMON_IAM_EVAL") {
        return Some(PathBuf::from(path));
    }
    let default = root.join("scripts/iam-eval/evaluate.mjs");
    if root.join("scripts/iam-eval/node_modules/@cloud-copilot/iam-simulate").exists() {
        return Some(default);
    }
    eprintln!("skipped: the IAM evaluator is not installed (scripts/test installs it)");
    None
}

/// Evaluates the cases; `{id: result}`.
fn evaluate(script: &PathBuf, cases: &[Value]) -> BTreeMap<String, (String, Vec<String>)> {
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (Node.js is needed by the tests: README)");
    child.stdin.take().unwrap().write_all(serde_json::to_string(cases).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the evaluator failed: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .map(|r| {
            let ignored = r["ignored"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
            (r["id"].as_str().unwrap().to_string(), (r["result"].as_str().unwrap().to_string(), ignored))
        })
        .collect()
}

fn case(id: &str, l: &Link) -> Value {
    let mut c = json!({
        "id": id,
        "principal": l.principal,
        "action": l.action,
        "resource": l.resource,
        "resourceAccount": l.resource_account,
        "context": l.context,
    });
    if let Some(p) = &l.resource_policy {
        c["resourcePolicy"] = p.clone();
    }
    if let Some(p) = &l.identity_policy {
        c["identityPolicies"] = json!([p]);
    }
    c
}

/// A variant of the seed spec: its text edited, and the organization id a read would find.
struct Variant {
    name: &'static str,
    yaml: String,
    organization: Option<&'static str>,
    account: &'static str,
}

fn variants() -> Vec<Variant> {
    let v = |name, yaml: String| Variant { name, yaml, organization: None, account: ACCOUNT };
    let with = |extra: &str| format!("{SEED}\n{extra}\n");
    vec![
        v("seed (every encryption switch on)", SEED.to_string()),
        v("encryption.trail: false", with("encryption: {key: managed, trail: false}")),
        v("encryption.bucket: false", with("encryption: {key: managed, bucket: false}")),
        v("encryption.log_group: false", with("encryption: {key: managed, log_group: false}")),
        v("encryption.topics: false", with("encryption: {key: managed, topics: false}")),
        v(
            "a key brought by ARN",
            with("encryption: {key: \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"}"),
        ),
        v("key: none", with("encryption: {key: none}")),
        v("notify_topic", SEED.replace("notify_topic: null", "notify_topic: SecurityAlarms")),
        v("alert_context (issue 24)", with("alert_context: true")),
        v("heartbeat (issue 24)", with("heartbeat: {every: 5m, notify: [SecurityAlarms]}")),
        v(
            "chat channels (issue 24)",
            SEED.replace(
                "    email: [security@example.com]\n",
                "    email: [security@example.com]\n    slack:\n      - { workspace: T0123ABCD, channel: C0123ABCD }\n",
            ),
        ),
        Variant {
            name: "trail.organization",
            yaml: SEED.replace("multi_region: true", "multi_region: true\n  organization: true"),
            organization: Some("o-a1b2c3d4e5"),
            account: ACCOUNT,
        },
        Variant {
            name: "targets (the pipeline in a target account)",
            yaml: with("targets: {accounts: [\"111111111111\", \"222222222222\"], role_name: SecmonDeploy}"),
            organization: None,
            account: "222222222222",
        },
    ]
}

fn contract_of(v: &Variant) -> Vec<Link> {
    let spec = secmon_spec::Spec::parse(&v.yaml, v.name).unwrap_or_else(|e| panic!("{}: {e}", v.name));
    let mut state = spec.state.resolve(v.account, "us-east-1").unwrap();
    state.organization_id = v.organization.map(str::to_string);
    let t = Target { account_id: v.account.into(), region: "us-east-1".into() };
    links(&state, &t)
}

#[test]
fn every_link_of_every_variant_is_decided_as_the_contract_says_by_an_independent_evaluator() {
    let Some(script) = evaluator() else { return };
    // The evaluator first proves it reads KMS encryption-context conditions (the released
    // version ignores them; scripts/iam-eval/patch.mjs): a known-good and a known-bad request.
    let known = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b"}}}]});
    let probe = |id: &str, bucket: &str| {
        json!({"id": id, "principal": "cloudtrail.amazonaws.com", "action": "kms:GenerateDataKey",
               "resource": "arn:aws:kms:us-east-1:123456789012:key/k", "resourceAccount": ACCOUNT,
               "context": {"kms:EncryptionContext:aws:s3:arn": bucket}, "resourcePolicy": known})
    };
    let r = evaluate(&script, &[probe("good", "arn:aws:s3:::b"), probe("bad", "arn:aws:s3:::other")]);
    assert_eq!(r["good"].0, "Allowed", "the evaluator must read kms:EncryptionContext:* keys: {r:?}");
    assert_eq!(r["bad"].0, "ImplicitlyDenied", "{r:?}");

    let mut cases = Vec::new();
    let mut expected = BTreeMap::new();
    for v in variants() {
        let contract = contract_of(&v);
        assert!(!contract.is_empty(), "{}: no links", v.name);
        for (i, l) in contract.iter().enumerate() {
            let id = format!("{} #{i}", v.name);
            cases.push(case(&id, l));
            expected.insert(id, (v.name, l.clone()));
        }
    }
    let results = evaluate(&script, &cases);
    let mut wrong = Vec::new();
    for (id, (variant, l)) in &expected {
        let (result, ignored) = &results[id];
        let relied_on: Vec<&String> = ignored.iter().filter(|k| l.context.contains_key(*k)).collect();
        let ok = if !relied_on.is_empty() || result.starts_with("Error") { false } else { (result == "Allowed") == l.allowed };
        // verify judges policies it does not write (a key brought by ARN) with secmon's own
        // evaluator: it must agree with the independent one on every service-principal case.
        if let (Some(policy), true) = (&l.resource_policy, l.principal.ends_with(".amazonaws.com")) {
            let ours = secmon_kinds::policy::decide(policy, &l.principal, &l.action, &l.resource, &l.context);
            let theirs = if result == "Allowed" { secmon_kinds::policy::Decision::Allowed } else { secmon_kinds::policy::Decision::Denied };
            if ours != theirs {
                wrong
                    .push(format!("[{variant}] {} ({}): secmon's evaluator says {ours:?}, the independent one {result}", l.row, l.variant));
            }
        }
        if !ok {
            wrong.push(format!(
                "[{variant}] {} ({}) judged by {}: {result} (want {}), ignored keys {relied_on:?}\n    {} {} on {} with {:?}",
                l.row,
                l.variant,
                l.judged_by,
                if l.allowed { "Allowed" } else { "denied" },
                l.principal,
                l.action,
                l.resource,
                l.context
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} links decided wrongly:\n{}", wrong.len(), expected.len(), wrong.join("\n"));
}

/// The variants exercise what they name: each switch removes exactly its links.
#[test]
fn each_variant_has_the_links_its_spec_implies() {
    let rows = |name: &str| -> BTreeSet<&'static str> {
        let v = variants().into_iter().find(|v| v.name == name).unwrap();
        contract_of(&v).iter().filter(|l| l.allowed).map(|l| l.row).collect()
    };
    let seed = rows("seed (every encryption switch on)");
    for row in [
        "CloudTrail → S3: GetBucketAcl",
        "CloudTrail → S3: PutObject",
        "CloudTrail → KMS: DescribeKey",
        "CloudTrail → KMS: GenerateDataKey (the trail's log files)",
        "CloudTrail → KMS: GenerateDataKey (the bucket's S3 Bucket Key)",
        "CloudTrail → KMS: Decrypt (the bucket's S3 Bucket Key)",
        "CloudTrail → STS: AssumeRole (the delivery role)",
        "CloudTrail (the delivery role) → CloudWatch Logs: CreateLogStream",
        "CloudTrail (the delivery role) → CloudWatch Logs: PutLogEvents",
        "CloudWatch Logs → KMS: the log group's data keys",
        "CloudWatch alarms → SNS: Publish",
        "CloudWatch alarms → KMS: an encrypted topic's data keys",
        "S3 server access logging → access-log bucket: PutObject",
    ] {
        assert!(seed.contains(row), "the seed lacks {row}: {seed:?}");
    }
    // Issue 22, finding 2: without trail encryption, CloudTrail still uses the bucket's key.
    let no_trail = rows("encryption.trail: false");
    assert!(!no_trail.contains("CloudTrail → KMS: GenerateDataKey (the trail's log files)"));
    assert!(no_trail.contains("CloudTrail → KMS: GenerateDataKey (the bucket's S3 Bucket Key)"));
    assert!(no_trail.contains("CloudTrail → KMS: Decrypt (the bucket's S3 Bucket Key)"));
    assert!(!rows("encryption.bucket: false").contains("CloudTrail → KMS: Decrypt (the bucket's S3 Bucket Key)"));
    assert!(!rows("encryption.log_group: false").contains("CloudWatch Logs → KMS: the log group's data keys"));
    assert!(!rows("encryption.topics: false").contains("CloudWatch alarms → KMS: an encrypted topic's data keys"));
    assert!(rows("key: none").iter().all(|r| !r.contains("KMS")));
    assert!(rows("a key brought by ARN").iter().all(|r| !r.contains("KMS")), "a brought key's policy is the user's: verify checks it");
    let notify = rows("notify_topic");
    assert!(notify.contains("CloudTrail → SNS: Publish (notify_topic)"));
    assert!(notify.contains("CloudTrail → KMS: an encrypted topic's data keys (notify_topic)"));
    assert!(rows("trail.organization").contains("CloudTrail → S3: PutObject (organization trail)"));
    let context = rows("alert_context (issue 24)");
    assert!(context.contains("EventBridge rule → SNS: Publish (alert_context)"));
    assert!(context.contains("EventBridge → KMS: an encrypted topic's data keys (alert_context)"));
    assert!(!rows("seed (every encryption switch on)").iter().any(|r| r.contains("EventBridge")), "no rule, no grant");
    let heartbeat = rows("heartbeat (issue 24)");
    let missing: Vec<&str> = [
        "EventBridge → STS: AssumeRole (the heartbeat's starter role)",
        "The heartbeat's schedule (its starter role) → Step Functions: StartExecution",
        "Step Functions → STS: AssumeRole (the heartbeat's reader role)",
        "The heartbeat (its reader role) → Secrets Manager: GetSecretValue",
    ]
    .into_iter()
    .filter(|row| !heartbeat.contains(row))
    .collect();
    assert!(missing.is_empty(), "the heartbeat lacks {missing:?}: {heartbeat:?}");
    let chat = rows("chat channels (issue 24)");
    assert!(chat.contains("AWS Chatbot → STS: AssumeRole (the channel role)"), "{chat:?}");
    assert!(chat.contains("AWS Chatbot (the channel role) → CloudWatch: DescribeAlarms"), "{chat:?}");
    assert!(!seed.iter().any(|r| r.contains("Chatbot")), "no channel, no role");
}

/// docs/link-contract.md lists exactly the rows the code states, each with its source page.
#[test]
fn the_documented_table_is_the_contract() {
    let doc = include_str!("../../../docs/link-contract.md");
    let mut stated = BTreeMap::new();
    for v in variants() {
        for l in contract_of(&v) {
            stated.insert(l.row, l.source);
        }
    }
    for (row, source) in &stated {
        let line = doc
            .lines()
            .find(|line| line.contains(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("docs/link-contract.md lacks the row {row}"));
        assert!(line.contains(source), "docs/link-contract.md: the row {row} must cite {source}");
    }
    let documented = doc.lines().filter(|l| l.starts_with("| ") && l.contains(" → ")).count();
    assert_eq!(documented, stated.len(), "docs/link-contract.md has rows the code does not state");
}
