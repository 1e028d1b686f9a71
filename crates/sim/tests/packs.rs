//! Rule packs against real attack records (Stratus Red Team), and the CIS texts auditors compare.

use std::path::PathBuf;

use secmon_sim::simulate::simulate;
use secmon_sim::Pattern;
use secmon_spec::{packs, Spec};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A management event record by mallory, in the shape of AWS's CloudTrail record contents.
fn record(source: &str, name: &str, params: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.09", "eventTime": "2026-12-01T10:00:00Z", "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012"},
        "requestParameters": params, "responseElements": null, "readOnly": false, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "123456789012"
    })
}

/// The alarms a replay of the one CloudTrail record `r` fires under `state`.
fn fired_on(state: &secmon_spec::DesiredState, r: &serde_json::Value) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("record.json");
    std::fs::write(&file, serde_json::json!({"Records": [r]}).to_string()).unwrap();
    let report = simulate(state, &[file.display().to_string()]).unwrap();
    report.monitors.iter().filter(|m| m.run.fired).map(|m| m.alarm.clone()).collect()
}

fn technique(name: &str) -> String {
    root().join("tests/fixtures/stratus-red-team").join(format!("aws.{name}.json")).display().to_string()
}

fn fired(spec: &Spec, files: &[String]) -> Vec<String> {
    let report = simulate(&spec.state, files).unwrap();
    report.monitors.iter().filter(|m| m.run.fired).map(|m| m.alarm.clone()).collect()
}

/// The techniques and the alarms each fires, as docs/rules.md's coverage table states them: the
/// table is the expectation, so the docs cannot drift from what the packs do.
fn documented_matrix() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    let table = doc.split("| technique | alarms fired |").nth(1).expect("docs/rules.md has the coverage table");
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let alarms = if cells[1] == "—" { Vec::new() } else { cells[1].split(", ").map(str::to_string).collect() };
            (cells[0].trim_matches('`').to_string(), alarms)
        })
        .collect()
}

#[test]
fn every_technique_fires_exactly_the_alarms_docs_rules_md_says() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/stratus-red-team"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| Some(n.strip_prefix("aws.")?.strip_suffix(".json")?.to_string()))
        .collect();
    files.sort();
    let matrix = documented_matrix();
    let documented: Vec<&String> = matrix.iter().map(|(name, _)| name).collect();
    assert_eq!(documented, files.iter().collect::<Vec<_>>(), "the table covers every technique file, in order");
    let mut wrong = Vec::new();
    for (name, expected) in &matrix {
        let got = fired(&spec, &[technique(name)]);
        if got != *expected {
            wrong.push(format!("{name}: docs/rules.md says {expected:?}, fired {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The same attacks against the secmon trail: self-protection fires, CIS 4.5 too; against another
/// trail only CIS 4.5 does. PutEventSelectors is caught only by self-protection.
#[test]
fn self_protection_fires_when_the_attack_targets_the_secmon_trail() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let scratch = tempfile::Builder::new().prefix("secmon-packs-").tempdir().unwrap();
    let dir = scratch.path();
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
        // The default benchmark (3.0.0) differs from 1.4.0 in 4.13 only.
        let text = if id == "CIS-4.13" { packs::CIS_4_13_V3 } else { text };
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
        .replace("    read_write: All\n", "    read_write: All\n    exclude_sources: [kms.amazonaws.com, rdsdata.amazonaws.com]\n");
    let spec = Spec::parse(&text, "all-packs.yaml").unwrap();
    let lint = secmon_sim::lint::lint(&spec);
    let w =
        lint.iter().find(|d| d.message.contains("kms.amazonaws.com") && d.message.contains("the trail excludes it")).expect("CIS 4.7 lint");
    assert!(w.hint.as_deref().unwrap().contains("add CIS-4.7 to the pack's `disable` list"), "{w:?}");
    assert!(w.line > 1, "points at the pack entry: {w:?}");
    let disabled = text.replace("  - name: cis-aws-foundations\n", "  - name: cis-aws-foundations\n    disable: [CIS-4.7]\n");
    let spec = Spec::parse(&disabled, "all-packs.yaml").unwrap();
    // CIS 4.7 is silent; self-protection's GUARD-KEY, which watches KMS too, still says so.
    let lint = secmon_sim::lint::lint(&spec);
    assert!(!lint.iter().any(|d| d.message.contains("the trail excludes it") && d.field.contains("CIS-4.7")), "{lint:?}");
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

/// Prowler's CIS monitoring checks, as its source writes them (prowler-cloud/prowler 5.40,
/// `providers/aws/services/cloudwatch/lib/metric_filters.py` and the 15 check modules): every
/// required clause is a regular expression searched in the filter pattern text.
mod prowler {
    use regex::Regex;

    /// `build_metric_filter_pattern`: `$.eventSource = SOURCE`, then `$.eventName = NAME\b` for
    /// every name, then `$.FIELD OP VALUE`, each anywhere in the text (`.?` allows a quote).
    fn built(source: Option<&str>, names: &[&str], extra: &[(&str, &str, &str)]) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = source {
            out.push(format!(r"\$\.eventSource\s*=\s*.?{}", regex::escape(s)));
        }
        for n in names {
            out.push(format!(r"\$\.eventName\s*=\s*.?{}\b", regex::escape(n)));
        }
        for (field, op, value) in extra {
            let op = if *op == "!=" { r"\s*!=\s*" } else { r"\s*=\s*" };
            out.push(format!(r"\$\.{}{op}.?{}", regex::escape(field), regex::escape(value)));
        }
        out
    }

    /// The check that covers a CIS rule id, and the clauses it requires.
    pub fn clauses(rule: &str) -> (&'static str, Vec<String>) {
        match rule {
            "CIS-4.1" => (
                "cloudwatch_log_metric_filter_unauthorized_api_calls",
                vec![r"\$\.errorCode\s*=\s*.?\*UnauthorizedOperation.+\$\.errorCode\s*=\s*.?AccessDenied\*.?".into()],
            ),
            "CIS-4.2" => {
                ("cloudwatch_log_metric_filter_sign_in_without_mfa", built(None, &["ConsoleLogin"], &[("additionalEventData.MFAUsed", "!=", "Yes")]))
            }
            "CIS-4.3" => (
                "cloudwatch_log_metric_filter_root_usage",
                vec![r"\$\.userIdentity\.type\s*=\s*.?Root.+\$\.userIdentity\.invokedBy NOT EXISTS.+\$\.eventType\s*!=\s*.?AwsServiceEvent.?".into()],
            ),
            "CIS-4.4" => (
                "cloudwatch_log_metric_filter_policy_changes",
                built(
                    None,
                    &[
                        "DeleteGroupPolicy",
                        "DeleteRolePolicy",
                        "DeleteUserPolicy",
                        "PutGroupPolicy",
                        "PutRolePolicy",
                        "PutUserPolicy",
                        "CreatePolicy",
                        "DeletePolicy",
                        "CreatePolicyVersion",
                        "DeletePolicyVersion",
                        "AttachRolePolicy",
                        "DetachRolePolicy",
                        "AttachUserPolicy",
                        "DetachUserPolicy",
                        "AttachGroupPolicy",
                        "DetachGroupPolicy",
                    ],
                    &[],
                ),
            ),
            "CIS-4.5" => (
                "cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled",
                built(None, &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"], &[]),
            ),
            "CIS-4.6" => (
                "cloudwatch_log_metric_filter_authentication_failures",
                built(None, &["ConsoleLogin"], &[("errorMessage", "=", "Failed authentication")]),
            ),
            "CIS-4.7" => (
                "cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk",
                built(Some("kms.amazonaws.com"), &["DisableKey", "ScheduleKeyDeletion"], &[]),
            ),
            "CIS-4.8" => (
                "cloudwatch_log_metric_filter_for_s3_bucket_policy_changes",
                built(
                    Some("s3.amazonaws.com"),
                    &[
                        "PutBucketAcl",
                        "PutBucketPolicy",
                        "PutBucketCors",
                        "PutBucketLifecycle",
                        "PutBucketReplication",
                        "DeleteBucketPolicy",
                        "DeleteBucketCors",
                        "DeleteBucketLifecycle",
                        "DeleteBucketReplication",
                    ],
                    &[],
                ),
            ),
            "CIS-4.9" => (
                "cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled",
                built(
                    Some("config.amazonaws.com"),
                    &["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"],
                    &[],
                ),
            ),
            "CIS-4.10" => (
                "cloudwatch_log_metric_filter_security_group_changes",
                built(
                    None,
                    &[
                        "AuthorizeSecurityGroupIngress",
                        "AuthorizeSecurityGroupEgress",
                        "RevokeSecurityGroupIngress",
                        "RevokeSecurityGroupEgress",
                        "CreateSecurityGroup",
                        "DeleteSecurityGroup",
                    ],
                    &[],
                ),
            ),
            "CIS-4.11" => (
                "cloudwatch_changes_to_network_acls_alarm_configured",
                built(
                    None,
                    &[
                        "CreateNetworkAcl",
                        "CreateNetworkAclEntry",
                        "DeleteNetworkAcl",
                        "DeleteNetworkAclEntry",
                        "ReplaceNetworkAclEntry",
                        "ReplaceNetworkAclAssociation",
                    ],
                    &[],
                ),
            ),
            "CIS-4.12" => (
                "cloudwatch_changes_to_network_gateways_alarm_configured",
                built(
                    None,
                    &[
                        "CreateCustomerGateway",
                        "DeleteCustomerGateway",
                        "AttachInternetGateway",
                        "CreateInternetGateway",
                        "DeleteInternetGateway",
                        "DetachInternetGateway",
                    ],
                    &[],
                ),
            ),
            "CIS-4.13" => (
                "cloudwatch_changes_to_network_route_tables_alarm_configured",
                built(
                    Some("ec2.amazonaws.com"),
                    &[
                        "CreateRoute",
                        "CreateRouteTable",
                        "ReplaceRoute",
                        "ReplaceRouteTableAssociation",
                        "DeleteRouteTable",
                        "DeleteRoute",
                        "DisassociateRouteTable",
                    ],
                    &[],
                ),
            ),
            "CIS-4.14" => (
                "cloudwatch_changes_to_vpcs_alarm_configured",
                built(
                    None,
                    &[
                        "CreateVpc",
                        "DeleteVpc",
                        "ModifyVpcAttribute",
                        "AcceptVpcPeeringConnection",
                        "CreateVpcPeeringConnection",
                        "DeleteVpcPeeringConnection",
                        "RejectVpcPeeringConnection",
                        "AttachClassicLinkVpc",
                        "DetachClassicLinkVpc",
                        "DisableVpcClassicLink",
                        "EnableVpcClassicLink",
                    ],
                    &[],
                ),
            ),
            "CIS-4.15" => (
                "cloudwatch_log_metric_filter_aws_organizations_changes",
                built(
                    Some("organizations.amazonaws.com"),
                    &[
                        "AcceptHandshake",
                        "AttachPolicy",
                        "CancelHandshake",
                        "CreateAccount",
                        "CreateOrganization",
                        "CreateOrganizationalUnit",
                        "CreatePolicy",
                        "DeclineHandshake",
                        "DeleteOrganization",
                        "DeleteOrganizationalUnit",
                        "DeletePolicy",
                        "EnableAllFeatures",
                        "EnablePolicyType",
                        "InviteAccountToOrganization",
                        "LeaveOrganization",
                        "DetachPolicy",
                        "DisablePolicyType",
                        "MoveAccount",
                        "RemoveAccountFromOrganization",
                        "UpdateOrganizationalUnit",
                        "UpdatePolicy",
                    ],
                    &[],
                ),
            ),
            other => panic!("no Prowler check for {other}"),
        }
    }

    /// Whether Prowler's check accepts this filter pattern text (re.search with DOTALL).
    pub fn accepts(rule: &str, pattern: &str) -> Result<(), String> {
        let (check, clauses) = clauses(rule);
        for c in clauses {
            if !Regex::new(&format!("(?s){c}")).unwrap().is_match(pattern) {
                return Err(format!("{check}: no match for {c}"));
            }
        }
        Ok(())
    }
}

/// The CIS pack's monitors in specs/all-packs.yaml, with `benchmark` set when given.
fn cis_rules(benchmark: Option<&str>) -> Vec<(String, String)> {
    let mut text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap();
    if let Some(b) = benchmark {
        text = text.replace("  - name: cis-aws-foundations\n", &format!("  - name: cis-aws-foundations\n    benchmark: \"{b}\"\n"));
    }
    let spec = Spec::parse(&text, "all-packs.yaml").unwrap_or_else(|e| panic!("{e}"));
    let out: Vec<(String, String)> = spec
        .state
        .monitors
        .iter()
        .filter_map(|m| m.rule.clone().filter(|r| r.starts_with("CIS-")).map(|r| (r, m.pattern.clone())))
        .collect();
    assert_eq!(out.len(), 15);
    out
}

/// Issue 12: the default texts pass all 15 of Prowler's CIS monitoring checks; the 1.4.0
/// texts pass 14 (4.13 lacks the EC2 event source Prowler wants) and are byte for byte what
/// Security Hub's CloudWatch.1–14 compare. Each text also parses and matches its own example.
#[test]
fn cis_texts_pass_the_checks_of_prowler_and_security_hub() {
    let current = cis_rules(None);
    assert_eq!(current, cis_rules(Some("3.0.0")));
    for (id, pattern) in &current {
        prowler::accepts(id, pattern).unwrap_or_else(|e| panic!("{id}: {e}\n{pattern}"));
        Pattern::parse(pattern).unwrap();
    }
    let v14 = cis_rules(Some("1.4.0"));
    let refused: Vec<&str> = v14.iter().filter(|(id, p)| prowler::accepts(id, p).is_err()).map(|(id, _)| id.as_str()).collect();
    assert_eq!(refused, ["CIS-4.13"]);
    // Security Hub compares the 1.4.0 texts exactly: 14 controls with benchmark 1.4.0, and every
    // one but CloudWatch.13 with the default.
    let with_control: Vec<(&str, &str)> = packs::CIS.iter().filter_map(|(id, _, _, c, p)| c.map(|_| (*id, *p))).collect();
    assert_eq!(with_control.len(), 14);
    for (id, text) in &with_control {
        assert_eq!(v14.iter().find(|(r, _)| r == id).unwrap().1, *text);
        let same = current.iter().find(|(r, _)| r == id).unwrap().1 == *text;
        assert_eq!(same, *id != "CIS-4.13", "{id}");
    }
}

#[test]
fn the_two_route_table_texts_match_the_same_route_table_calls() {
    let (v3, v14) = (Pattern::parse(packs::CIS_4_13_V3).unwrap(), Pattern::parse(packs::CIS[12].4).unwrap());
    for name in ["CreateRoute", "DeleteRouteTable", "DisassociateRouteTable", "DescribeRouteTables"] {
        let doc = serde_json::json!({"eventSource": "ec2.amazonaws.com", "eventName": name});
        let m = doc.to_string();
        let ev = secmon_sim::Event { message: &m, json: Some(&doc) };
        assert_eq!(v3.matches(&ev), v14.matches(&ev), "{name}");
    }
}

#[test]
fn an_unknown_benchmark_version_is_an_error_at_its_line() {
    let e = Spec::parse("version: 1\nname: cis\npacks:\n  - name: cis-aws-foundations\n    benchmark: \"2.0\"\n", "cis.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cis.yaml:5") && e.contains("unknown CIS benchmark version") && e.contains("3.0.0, 1.4.0"), "{e}");
    let e =
        Spec::parse("version: 1\nname: s\npacks:\n  - name: secret-access\n    benchmark: \"1.4.0\"\n", "s.yaml").unwrap_err().to_string();
    assert!(e.contains("applies only to the cis-aws-foundations pack"), "{e}");
}

/// Issue 13, item 7: a pack rule's findings are named by its rule id and point at its override
/// (or at the pack entry), not at `monitors[16]` on the `packs:` line.
#[test]
fn pack_rule_findings_are_named_by_rule_id() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap();
    let text = text.replace("CIS-4.1: { alarm: { threshold: 3 } }", "CIS-4.1: { alarm: { threshold: 3, statistic: Average } }");
    let line = text.lines().position(|l| l.contains("statistic: Average")).unwrap() + 1;
    let spec = Spec::parse(&text, "all-packs.yaml").unwrap();
    let lint = secmon_sim::lint::lint(&spec);
    let d = lint.iter().find(|d| d.field.ends_with(".alarm.statistic")).unwrap_or_else(|| panic!("{lint:?}"));
    assert!(d.field.starts_with("packs[") && d.field.contains(".rules.CIS-4.1."), "{}", d.field);
    assert_eq!(d.line, line, "at the rule's override");
}

/// Issue 24, item 4: every pack rule carries a runbook (what it means, three things to check, the
/// ATT&CK technique or tactic) at the end of its alarm description, within CloudWatch's 1,024
/// characters; docs/rules.md lists each one as it is.
#[test]
fn issue_24_every_pack_rule_ends_its_alarm_description_with_its_runbook() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let docs = std::fs::read_to_string(root().join("docs/rules.md")).unwrap();
    // Monitors and the per-principal Contributor Insights rules (issue 25, item 1) alike.
    let monitors = spec.state.monitors.iter().filter_map(|m| Some((m.rule.as_deref()?, m.description.as_deref()?)));
    let contributors = spec.state.contributors.iter().filter_map(|c| Some((c.rule.as_deref()?, c.description.as_deref()?)));
    let pack_rules: Vec<_> = monitors.chain(contributors).collect();
    assert_eq!(pack_rules.len(), packs::RUNBOOKS.len(), "one runbook per rule of the packs");
    for (id, description) in pack_rules {
        let runbook = packs::runbook(id);
        assert!(runbook.starts_with("What: ") && runbook.contains(" Check: 1) ") && runbook.contains("ATT&CK T"), "{id}: {runbook}");
        assert!(description.ends_with(runbook.as_str()), "{id}: {description}");
        assert!(description.chars().count() <= 1024, "{id}: {} characters", description.chars().count());
        assert!(docs.contains(runbook.as_str()), "docs/rules.md lists the runbook of {id}");
    }
}

/// Issue 25, item 2: the pipeline's whole tamper surface. No Stratus technique touches these
/// resources, so the records are hand-made in the shape AWS documents for each call ("Logging
/// Amazon S3 API calls using AWS CloudTrail", "Logging IAM and AWS STS API calls with AWS
/// CloudTrail", "Logging Amazon CloudWatch Logs API calls with AWS CloudTrail"): each fires its
/// guard on the spec's resources, and nothing on someone else's.
#[test]
fn issue_25_the_pipelines_buckets_role_and_log_group_are_guarded() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
    let ours = "secmon-packs-trail-123456789012";
    let cases = [
        (
            record(
                "s3.amazonaws.com",
                "PutBucketVersioning",
                serde_json::json!({"bucketName": ours, "Host": format!("{ours}.s3.us-east-1.amazonaws.com"), "versioning": "", "VersioningConfiguration": {"Status": "Suspended", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}),
            ),
            "GUARD-BUCKETS-GuardBuckets",
        ),
        (
            record(
                "s3.amazonaws.com",
                "PutBucketLogging",
                serde_json::json!({"bucketName": ours, "logging": "", "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}),
            ),
            "GUARD-BUCKETS-GuardBuckets",
        ),
        (
            record("s3.amazonaws.com", "DeleteBucket", serde_json::json!({"bucketName": format!("{ours}-access-logs")})),
            "GUARD-BUCKETS-GuardBuckets",
        ),
        (
            record(
                "iam.amazonaws.com",
                "PutRolePolicy",
                serde_json::json!({"roleName": "secmon-secrets-monitoring-packs-cloudtrail-logs", "policyName": "x", "policyDocument": "{}"}),
            ),
            "GUARD-ROLE-GuardDeliveryRole",
        ),
        (
            record(
                "logs.amazonaws.com",
                "PutSubscriptionFilter",
                serde_json::json!({"logGroupName": "secmon-packs-loggroup", "filterName": "out", "filterPattern": "", "destinationArn": "arn:aws:kinesis:us-east-1:444455556666:stream/elsewhere"}),
            ),
            "GUARD-LOGS-GuardLogGroup",
        ),
        (
            record(
                "logs.amazonaws.com",
                "CreateExportTask",
                serde_json::json!({"logGroupName": "secmon-packs-loggroup", "from": 0, "to": 1, "destination": "exfil-bucket"}),
            ),
            "GUARD-LOGS-GuardLogGroup",
        ),
    ];
    for (r, guard) in &cases {
        for (theirs, expect) in [(false, true), (true, false)] {
            let mut r = r.clone();
            if theirs {
                // The same call on a resource of someone else's: not this pipeline's guard.
                for k in ["bucketName", "roleName", "logGroupName"] {
                    if r["requestParameters"].get(k).is_some() {
                        r["requestParameters"][k] = serde_json::json!("someone-elses");
                    }
                }
            }
            let fired = fired_on(&state, &r);
            assert_eq!(
                fired.iter().any(|f| f == guard),
                expect,
                "{} {}: fired {fired:?}",
                r["eventName"],
                if theirs { "on another's" } else { "on ours" }
            );
        }
    }
}

/// Issue 25, item 1: secret access beyond every read. No Stratus technique is refused a secret
/// or reads a decoy, so the records are hand-made in the shape of the Secrets Manager CloudTrail
/// entries AWS documents ("Log AWS Secrets Manager events with AWS CloudTrail": `GetSecretValue`
/// with `requestParameters.secretId`; a refused call carries `errorCode` `AccessDenied` and its
/// `errorMessage`). A refused read fires SECRET-READ-DENIED and not a successful one; a read of
/// the decoy fires DECOY-READ and a read of another secret does not.
#[test]
fn issue_25_refused_reads_and_decoy_reads_fire_their_rules_and_nothing_else_does() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
    let read = |secret: &str, error: Option<&str>| {
        let mut r = serde_json::json!({
            "eventVersion": "1.09", "eventTime": "2026-12-01T10:00:00Z", "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ci/mallory", "accountId": "123456789012"},
            "requestParameters": {"secretId": secret}, "responseElements": null, "readOnly": true, "eventType": "AwsApiCall",
            "managementEvent": true, "recipientAccountId": "123456789012", "eventCategory": "Management"
        });
        if let Some(code) = error {
            r["errorCode"] = code.into();
            r["errorMessage"] = format!("User: arn:aws:sts::123456789012:assumed-role/ci/mallory is not authorized to perform: secretsmanager:GetSecretValue on resource: {secret}").into();
        }
        r
    };
    let fired = |_: &str, r: serde_json::Value| fired_on(&state, &r);
    let denied = fired("denied", read("prod/db", Some("AccessDenied")));
    assert!(denied.contains(&"SECRET-READ-DENIED-SecretReadDenied".to_string()), "{denied:?}");
    assert!(!fired("ok", read("prod/db", None)).contains(&"SECRET-READ-DENIED-SecretReadDenied".to_string()));
    let decoy = fired("decoy", read("prod/payments-admin-password", None));
    assert!(decoy.contains(&"DECOY-READ-DecoySecretRead".to_string()), "{decoy:?}");
    let by_arn = fired("decoy-arn", read("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments-admin-password-AbCdEf", None));
    assert!(by_arn.contains(&"DECOY-READ-DecoySecretRead".to_string()), "by ARN too: {by_arn:?}");
    assert!(!fired("other", read("prod/db", None)).contains(&"DECOY-READ-DecoySecretRead".to_string()));
    // The decoy pages at the highest severity; nothing in Stratus's own reads touches it.
    let m = state.monitors.iter().find(|m| m.rule.as_deref() == Some("DECOY-READ")).unwrap();
    assert_eq!(m.severity, Some(secmon_spec::AlarmSeverity::Critical));
}

/// Issue 25, item 5: `secmon coverage` computes what the deployed monitors see. Its replay of the
/// Stratus techniques is docs/rules.md's coverage table; and its ATT&CK ids follow the trail's
/// selection, not a hand-kept list: a trail recording write events only cannot see a secret
/// read, so T1555.006 leaves the coverage and GetSecretValue is named as blind.
#[test]
fn issue_25_coverage_is_computed_from_the_deployed_patterns_and_the_trails_selection() {
    use secmon_sim::coverage::{coverage, navigator_layer};
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/stratus-red-team"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".json"))
        .collect();
    files.sort();
    let c = coverage(&spec.state, &files).unwrap();
    let computed: Vec<(String, Vec<String>)> = c.techniques.iter().map(|t| (t.technique.clone(), t.fired.clone())).collect();
    assert_eq!(computed, documented_matrix(), "the coverage command and docs/rules.md agree");
    assert!(c.attack.contains_key("T1555.006") && c.attack.contains_key("T1562.008"), "{:?}", c.attack.keys());
    assert!(c.watched().any(|e| e.name == "GetSecretValue"));
    let layer = navigator_layer(&spec.state.name, &c);
    let ids: Vec<&str> = layer["techniques"].as_array().unwrap().iter().map(|t| t["techniqueID"].as_str().unwrap()).collect();
    assert!(ids.contains(&"T1555.006") && !ids.iter().any(|id| id.starts_with("TA")), "{ids:?}");

    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap().replace("read_write: All", "read_write: WriteOnly");
    let write_only = Spec::parse(&text, "write-only.yaml").unwrap();
    let c = coverage(&write_only.state, &[]).unwrap();
    assert!(!c.attack.contains_key("T1555.006"), "no rule that can fire carries it: {:?}", c.attack);
    let blind = c.events.iter().find(|e| e.name == "GetSecretValue").unwrap();
    assert!(blind.not_recorded.as_deref().is_some_and(|w| w.contains("WriteOnly")), "{blind:?}");
    assert!(c.attack.contains_key("T1562.008"), "the tamper rules watch write events, which it records");
}

/// Issue 25, item 2: the pipeline's key, the account's other detectors, and (with alert context)
/// the pipeline's EventBridge rules. No Stratus technique touches them; the records are hand-made
/// in the shape of the KMS, GuardDuty, Security Hub and EventBridge CloudTrail entries AWS
/// documents (request parameters as each API reference names them). Each fires its guard, and
/// the same call on something that is not the pipeline's does not.
#[test]
fn issue_25_key_detector_and_event_rule_tampering_fire_their_guards() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap().replacen(
        "region: us-east-1\n",
        "region: us-east-1\nalert_context: true\n",
        1,
    );
    let spec = Spec::parse(&text, "all-packs.yaml").unwrap();
    let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
    let alias = format!("alias/secmon/{}", state.name);
    let rule = format!("secmon-{}-SECRET-READ-SecretValueRead", state.name);
    let cases = [
        (
            record(
                "kms.amazonaws.com",
                "PutKeyPolicy",
                serde_json::json!({"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "policyName": "default", "policy": "{}"}),
            ),
            "GUARD-KEY-GuardKey",
            true,
        ),
        (
            record("kms.amazonaws.com", "UpdateAlias", serde_json::json!({"aliasName": alias, "targetKeyId": "another"})),
            "GUARD-KEY-GuardKey",
            true,
        ),
        (
            record("kms.amazonaws.com", "UpdateAlias", serde_json::json!({"aliasName": "alias/someone-elses", "targetKeyId": "k"})),
            "GUARD-KEY-GuardKey",
            false,
        ),
        (
            record("guardduty.amazonaws.com", "DeleteDetector", serde_json::json!({"detectorId": "12abc34d567e8fa901bc2d34e56789f0"})),
            "GUARD-DETECTORS-GuardDetectors",
            true,
        ),
        (
            record("guardduty.amazonaws.com", "UpdateDetector", serde_json::json!({"detectorId": "12abc34d", "enable": false})),
            "GUARD-DETECTORS-GuardDetectors",
            true,
        ),
        (
            record("guardduty.amazonaws.com", "UpdateDetector", serde_json::json!({"detectorId": "12abc34d", "enable": true})),
            "GUARD-DETECTORS-GuardDetectors",
            false,
        ),
        (record("securityhub.amazonaws.com", "DisableSecurityHub", serde_json::json!({})), "GUARD-DETECTORS-GuardDetectors", true),
        (
            record(
                "config.amazonaws.com",
                "DeleteConfigRule",
                serde_json::json!({"configRuleName": "securityhub-s3-bucket-logging-enabled-3ae1f2"}),
            ),
            "GUARD-DETECTORS-GuardDetectors",
            true,
        ),
        (
            {
                // Security Hub removes the Config rule of a control it disables, through its role.
                let mut r = record("config.amazonaws.com", "DeleteConfigRule", serde_json::json!({"configRuleName": "securityhub-x"}));
                r["userIdentity"]["invokedBy"] = serde_json::json!("securityhub.amazonaws.com");
                r
            },
            "GUARD-DETECTORS-GuardDetectors",
            false,
        ),
        (record("events.amazonaws.com", "DisableRule", serde_json::json!({"name": rule})), "GUARD-ALARMS-GuardAlarms", true),
        (
            record("events.amazonaws.com", "RemoveTargets", serde_json::json!({"rule": rule, "ids": ["SecurityAlarms"]})),
            "GUARD-ALARMS-GuardAlarms",
            true,
        ),
        (
            record("events.amazonaws.com", "DisableRule", serde_json::json!({"name": "someone-elses-rule"})),
            "GUARD-ALARMS-GuardAlarms",
            false,
        ),
        // Issue 25, item 2: the rules all-packs names in `watch_event_rules` (EventBridge API
        // reference: DisableRule and DeleteRule name the rule `name`, RemoveTargets `rule`).
        (
            record("events.amazonaws.com", "DisableRule", serde_json::json!({"name": "guardduty-findings-to-security"})),
            "GUARD-EVENT-RULES-GuardEventRules",
            true,
        ),
        (
            record("events.amazonaws.com", "RemoveTargets", serde_json::json!({"rule": "guardduty-findings-to-security", "ids": ["sns"]})),
            "GUARD-EVENT-RULES-GuardEventRules",
            true,
        ),
        (
            record("events.amazonaws.com", "DeleteRule", serde_json::json!({"name": "nightly-report"})),
            "GUARD-EVENT-RULES-GuardEventRules",
            false,
        ),
        (
            record("events.amazonaws.com", "DescribeRule", serde_json::json!({"name": "guardduty-findings-to-security"})),
            "GUARD-EVENT-RULES-GuardEventRules",
            false,
        ),
    ];
    for (r, guard, expect) in &cases {
        let fired = fired_on(&state, r);
        assert_eq!(fired.iter().any(|f| f == guard), *expect, "{} {}: fired {fired:?}", r["eventName"], r["requestParameters"]);
    }
}

/// Issue 24, item 3: the heartbeat's parts are guarded as the pipeline's are. Records hand-made
/// in the shapes of the Step Functions, EventBridge and IAM API references (request parameters
/// `stateMachineArn`, `name`/`rule`, `roleName`).
#[test]
fn issue_24_tampering_with_the_heartbeat_fires_the_guards() {
    let text = std::fs::read_to_string(root().join("specs/all-packs.yaml")).unwrap();
    let text = format!("{text}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\n");
    let state = Spec::parse(&text, "all-packs.yaml").unwrap().state.resolve("123456789012", "us-east-1").unwrap();
    let n = state.heartbeat_names().unwrap();
    let machine = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{}", n.state_machine);
    let schedule = format!("secmon-{}-heartbeat-schedule", state.name);
    let cases = [
        (
            record("states.amazonaws.com", "DeleteStateMachine", serde_json::json!({"stateMachineArn": machine})),
            "GUARD-ALARMS-GuardAlarms",
            true,
        ),
        (
            record(
                "states.amazonaws.com",
                "UpdateStateMachine",
                serde_json::json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:orders"}),
            ),
            "GUARD-ALARMS-GuardAlarms",
            false,
        ),
        (record("events.amazonaws.com", "DisableRule", serde_json::json!({"name": schedule})), "GUARD-ALARMS-GuardAlarms", true),
        (
            record("iam.amazonaws.com", "PutRolePolicy", serde_json::json!({"roleName": n.reader_role, "policyName": "p"})),
            "GUARD-ROLE-GuardDeliveryRole",
            true,
        ),
        (record("iam.amazonaws.com", "DeleteRole", serde_json::json!({"roleName": n.starter_role})), "GUARD-ROLE-GuardDeliveryRole", true),
        (
            record("iam.amazonaws.com", "DeleteRole", serde_json::json!({"roleName": "someone-elses"})),
            "GUARD-ROLE-GuardDeliveryRole",
            false,
        ),
    ];
    for (r, guard, expect) in &cases {
        let fired = fired_on(&state, r);
        assert_eq!(fired.iter().any(|f| f == guard), *expect, "{} {}: fired {fired:?}", r["eventName"], r["requestParameters"]);
    }
}

/// Issue 25, item 1: reads by a principal outside a secret's `readers`. The records are hand-made
/// in the shapes of CloudTrail's userIdentity element reference: a role session (the role in
/// `sessionContext.sessionIssuer.arn`) and an IAM user (no session issuer at all).
#[test]
fn issue_25_a_read_outside_the_secrets_readers_fires_and_a_readers_does_not() {
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
    let read = |identity: serde_json::Value| {
        let mut r = record("secretsmanager.amazonaws.com", "GetSecretValue", serde_json::json!({"secretId": "TopSecretInfo"}));
        r["userIdentity"] = identity;
        r["readOnly"] = true.into();
        r
    };
    let session = |role: &str| {
        serde_json::json!({"type": "AssumedRole", "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/i-0abc"),
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::123456789012:role/{role}"), "userName": role}}})
    };
    let user = serde_json::json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "accountId": "123456789012"});
    let unexpected =
        |_: &str, r: serde_json::Value| fired_on(&state, &r).iter().any(|a| a == "SECRET-READ-UNEXPECTED-SecretReadUnexpected");
    assert!(!unexpected("reader", read(session("payments-app"))), "the reader's session reads it");
    assert!(unexpected("other-role", read(session("ci-runner"))), "another role's session");
    assert!(unexpected("user", read(user)), "an IAM user, whose record has no session issuer");
    let mut other_secret = read(session("ci-runner"));
    other_secret["requestParameters"]["secretId"] = "prod/db".into();
    assert!(!unexpected("other-secret", other_secret), "a secret without readers is SECRET-READ's alone");
}

/// Issue 25, item 1: the per-principal rules' Contributor Insights filters select exactly what
/// their patterns match, on every record of every Stratus technique (and on refused reads, made
/// by hand as Secrets Manager logs them), and the Stratus secret sweeps are counted per principal:
/// each technique's reads come from one principal, many secrets at once.
#[test]
fn issue_25_per_principal_rules_count_exactly_what_their_patterns_match_on_real_attacks() {
    use secmon_sim::contributors::{definition, filters_match, report};
    let spec = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    assert_eq!(spec.state.contributors.len(), 4, "all-packs counts per principal");
    let mut records: Vec<serde_json::Value> = Vec::new();
    for entry in std::fs::read_dir(root().join("tests/fixtures/stratus-red-team")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            // A technique's file is a JSON array of records.
            records.extend(doc.as_array().or(doc["Records"].as_array()).cloned().unwrap_or_default());
        }
    }
    let mut refused = record("secretsmanager.amazonaws.com", "GetSecretValue", serde_json::json!({"secretId": "prod/db"}));
    refused["errorCode"] = "AccessDenied".into();
    records.extend(std::iter::repeat_n(refused, 6));
    for c in &spec.state.contributors {
        let pattern = Pattern::parse(&c.pattern).unwrap();
        let d = definition("lg", &c.keys, &pattern).unwrap();
        let filters = d["Contribution"]["Filters"].as_array().unwrap();
        let mut matched = 0;
        for r in &records {
            let text = r.to_string();
            let by_pattern = pattern.matches(&secmon_sim::Event { message: &text, json: Some(r) });
            assert_eq!(filters_match(filters, r), by_pattern, "{}: {text}", c.name);
            matched += usize::from(by_pattern);
        }
        assert!(matched > 0, "{} matches something", c.name);
    }
    // The batch sweep: one principal, every secret in one period.
    let timed: Vec<(i64, serde_json::Value)> = records.iter().map(|r| (0, r.clone())).collect();
    let spread = spec.state.contributors.iter().find(|c| c.name == "SECRET-READ-SPREAD").unwrap();
    let reports = report(&Pattern::parse(&spread.pattern).unwrap(), &spread.keys, &timed, 300);
    assert!(reports[0].unique_contributors >= 2.0, "{reports:?}");
    let denials = spec.state.contributors.iter().find(|c| c.name == "SECRET-DENIALS-BY-PRINCIPAL").unwrap();
    let reports = report(&Pattern::parse(&denials.pattern).unwrap(), &denials.keys, &timed, 300);
    assert_eq!(reports[0].top, vec!["arn:aws:iam::123456789012:user/mallory".to_string()]);
    assert!(reports[0].max_contributor_value >= denials.alarm.threshold, "six refusals by mallory page: {reports:?}");
}
