//! Rule packs against real attack records (Stratus Red Team), and the CIS texts auditors compare.

use std::path::PathBuf;

use secmon_sim::simulate::simulate;
use secmon_sim::Pattern;
use secmon_spec::{packs, Spec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn technique(name: &str) -> String {
    root().join("tests/fixtures/stratus-red-team").join(format!("aws.{name}.json")).display().to_string()
}

fn fired(spec: &Spec, files: &[String]) -> Vec<String> {
    let report = simulate(&spec.state, files).unwrap();
    report.monitors.iter().filter(|m| m.run.fired).map(|m| m.alarm.clone()).collect()
}

/// Technique → alarms the packs of specs/all-packs.yaml fire on its records. Techniques mapped
/// to nothing are the ones these packs do not claim to cover (docs/rules.md says so too).
const MATRIX: &[(&str, &[&str])] = &[
    ("credential-access.ec2-get-password-data", &["CIS-4.1-UnauthorizedAPICalls"]),
    ("credential-access.ec2-steal-instance-credentials", &[]),
    ("credential-access.secretsmanager-batch-retrieve-secrets", &["SECRET-READ-SecretValueRead"]),
    ("credential-access.secretsmanager-retrieve-secrets", &["SECRET-READ-SecretValueRead"]),
    ("credential-access.ssm-retrieve-securestring-parameters", &[]),
    ("defense-evasion.cloudtrail-delete", &["CIS-4.5-CloudTrailChanges"]),
    ("defense-evasion.cloudtrail-event-selectors", &[]),
    ("defense-evasion.cloudtrail-stop", &["CIS-4.5-CloudTrailChanges"]),
    ("defense-evasion.dns-delete-logs", &[]),
    ("defense-evasion.organizations-leave", &["CIS-4.15-OrganizationsChanges"]),
    ("defense-evasion.vpc-remove-flow-logs", &[]),
    ("discovery.ec2-download-user-data", &["CIS-4.1-UnauthorizedAPICalls"]),
    ("execution.ec2-launch-unusual-instances", &[]),
    ("execution.ec2-user-data", &[]),
    ("execution.ssm-send-command", &[]),
    ("execution.ssm-start-session", &[]),
    ("exfiltration.ec2-security-group-open-port-22-ingress", &["CIS-4.10-SecurityGroupChanges"]),
    ("exfiltration.ec2-share-ami", &[]),
    ("exfiltration.ec2-share-ebs-snapshot", &[]),
    ("exfiltration.rds-share-snapshot", &[]),
    ("impact.bedrock-invoke-model", &[]),
    ("initial-access.console-login-without-mfa", &["CIS-4.2-ConsoleSigninWithoutMFA"]),
    ("lateral-movement.ec2-instance-connect", &[]),
    ("lateral-movement.ec2-serial-console-send-ssh-public-key", &[]),
    ("persistence.iam-backdoor-role", &[]),
    ("persistence.iam-backdoor-user", &[]),
    ("persistence.iam-create-admin-user", &["CIS-4.4-IAMPolicyChanges"]),
    ("persistence.iam-create-backdoor-role", &["CIS-4.4-IAMPolicyChanges"]),
    ("persistence.iam-create-user-login-profile", &[]),
    ("persistence.lambda-backdoor-function", &[]),
    ("persistence.lambda-layer-extension", &[]),
    ("persistence.lambda-overwrite-code", &[]),
    ("persistence.rolesanywhere-create-trust-anchor", &[]),
    ("persistence.sts-federation-token", &[]),
    ("privilege-escalation.iam-update-user-login-profile", &[]),
];

#[test]
fn every_technique_fires_exactly_the_intended_alarms() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let files: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/stratus-red-team"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), MATRIX.len(), "the matrix covers every technique file");
    let mut wrong = Vec::new();
    for (name, expected) in MATRIX {
        let got = fired(&spec, &[technique(name)]);
        if got != *expected {
            wrong.push(format!("{name}: expected {expected:?}, fired {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_matrix_is_documented_in_docs_rules_md() {
    let doc = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    for (name, expected) in MATRIX {
        let line = format!("| `{name}` | {} |", if expected.is_empty() { "—".to_string() } else { expected.join(", ") });
        assert!(doc.contains(&line), "docs/rules.md lacks the row: {line}");
    }
}

/// The same attacks against the secmon trail: self-protection fires, CIS 4.5 too; against another
/// trail only CIS 4.5 does. PutEventSelectors is caught only by self-protection.
#[test]
fn self_protection_fires_when_the_attack_targets_the_secmon_trail() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let dir = std::env::temp_dir().join(format!("secmon-packs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, also) in [
        ("defense-evasion.cloudtrail-stop", Some("CIS-4.5-CloudTrailChanges")),
        ("defense-evasion.cloudtrail-delete", Some("CIS-4.5-CloudTrailChanges")),
        ("defense-evasion.cloudtrail-event-selectors", None),
    ] {
        let text = std::fs::read_to_string(technique(name)).unwrap();
        let mut records: serde_json::Value = serde_json::from_str(&text).unwrap();
        for r in records.as_array_mut().unwrap() {
            let p = &mut r["requestParameters"];
            for k in ["name", "trailName"] {
                if p.get(k).is_some() {
                    p[k] = "secrets-manager-trail".into();
                }
            }
        }
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, records.to_string()).unwrap();
        let got = fired(&spec, &[file.display().to_string()]);
        let mut expected = vec!["GUARD-TRAIL-GuardTrail".to_string()];
        expected.extend(also.map(str::to_string));
        expected.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, expected, "{name}");
    }
}

#[test]
fn cis_patterns_are_the_canonical_text_and_parse() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let cis: Vec<_> = spec.state.monitors.iter().filter(|m| m.rule.as_deref().is_some_and(|r| r.starts_with("CIS-"))).collect();
    assert_eq!(cis.len(), 15);
    for (id, _, _, _, text) in packs::CIS {
        let m = cis.iter().find(|m| m.rule.as_deref() == Some(id)).unwrap();
        assert_eq!(m.pattern, text, "{id} must be byte for byte the canonical text");
        Pattern::parse(text).unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    // Security Hub CloudWatch.1, verbatim from its documentation.
    assert_eq!(
        packs::CIS[2].4,
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#
    );
    assert_eq!(cis[0].alarm.threshold, 3.0, "the per-rule override applies");
    assert_eq!(cis[1].alarm.threshold, 1.0);
}

#[test]
fn cis_4_7_with_kms_excluded_is_linted_with_the_fix() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml"))
        .unwrap()
        .replace("exclude_sources: [rdsdata.amazonaws.com]", "exclude_sources: [kms.amazonaws.com, rdsdata.amazonaws.com]");
    let spec = Spec::parse(&text, "all-packs.yaml").unwrap();
    let lint = secmon_sim::lint::lint(&spec);
    let w =
        lint.iter().find(|d| d.message.contains("kms.amazonaws.com") && d.message.contains("the trail excludes it")).expect("CIS 4.7 lint");
    assert!(w.hint.as_deref().unwrap().contains("add CIS-4.7 to the pack's `disable` list"), "{w:?}");
    assert!(w.line > 1, "points at the pack entry: {w:?}");
    let disabled = text.replace("  - name: cis-aws-foundations\n", "  - name: cis-aws-foundations\n    disable: [CIS-4.7]\n");
    let spec = Spec::parse(&disabled, "all-packs.yaml").unwrap();
    assert!(!secmon_sim::lint::lint(&spec).iter().any(|d| d.message.contains("the trail excludes it")));
}

#[test]
fn secret_access_can_watch_only_the_spec_secrets_and_spare_expected_readers() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap().replace(
        "    only_spec_secrets: false\n",
        "    only_spec_secrets: true\n    exclude_principals: [\"arn:aws:iam::*:user/IAM-Admin\"]\n",
    );
    let spec = Spec::parse(&text.replace("TopSecretInfo", "stratus-red-team-retrieve-secret-3"), "s.yaml").unwrap();
    let report = simulate(&spec.state, &[technique("credential-access.secretsmanager-retrieve-secrets")]).unwrap();
    let m = report.monitors.iter().find(|m| m.alarm == "SECRET-READ-SecretValueRead").unwrap();
    assert_eq!(m.matched.len(), 1, "only the spec's secret, by ARN: {:?}", m.matched);
    // The seed's own reader is excluded: reads by IAM-Admin do not count.
    let spec = Spec::parse(&text, "s.yaml").unwrap();
    let report = simulate(&spec.state, &[root().join("tests/fixtures/seed-004-test-events.json").display().to_string()]).unwrap();
    let m = report.monitors.iter().find(|m| m.alarm == "SECRET-READ-SecretValueRead").unwrap();
    assert!(m.matched.is_empty(), "{:?}", m.matched);
}

#[test]
fn a_rule_can_be_renamed_and_its_metric_changed() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap().replace(
        "      CIS-4.1: { alarm: { threshold: 3 } }",
        "      CIS-4.1: { alarm: { threshold: 3 } }\n      CIS-4.3: { name: CIS-1.7-RootAccountUsage, metric: RootUsage, notify: [SecurityAlarms] }",
    );
    let spec = Spec::parse(&text, "renamed.yaml").unwrap();
    let m = spec.state.monitors.iter().find(|m| m.rule.as_deref() == Some("CIS-4.3")).unwrap();
    assert_eq!(m.name, "CIS-1.7-RootAccountUsage");
    assert_eq!(m.alarm_name(), "CIS-1.7-RootAccountUsage");
    assert_eq!(m.metric.name, "RootUsage");
    assert_eq!(m.pattern, packs::CIS[2].4, "the canonical text stays");
}

#[test]
fn every_pack_rule_can_match_something() {
    for spec in ["specs/all-packs.yaml", "examples/app-team.yaml"] {
        let spec = Spec::from_file(&root().join(spec)).unwrap();
        let lint = secmon_sim::lint::lint(&spec);
        assert!(!lint.iter().any(|d| d.message.contains("contradict")), "{lint:?}");
    }
}
