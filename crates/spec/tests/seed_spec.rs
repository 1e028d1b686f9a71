//! The seeds' pipeline as a spec: it validates, and the defaults are the ones that fire.

use std::path::PathBuf;

use secmon_spec::{Comparison, Spec, TreatMissingData, ValueSource};

fn seed() -> Spec {
    Spec::from_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/seed.yaml")).unwrap()
}

#[test]
fn seed_spec_is_valid_and_keeps_the_seed_names() {
    let s = seed().state;
    assert_eq!(s.secrets[0].name, "TopSecretInfo");
    assert_eq!(s.trail.as_ref().unwrap().name, "secrets-manager-trail");
    assert_eq!(s.topics[0].name, "SecurityAlarms");
    assert_eq!(s.monitors[0].name, "Secret is accessed");
    assert_eq!(s.secrets[0].value.source(), ValueSource::FromEnv("TOP_SECRET_VALUE"));
    // A year, as CloudWatch.16 and Prowler ask (issue 22: audit-prowler passes on the seed).
    assert_eq!(s.trail.as_ref().unwrap().cloudwatch_logs.as_ref().unwrap().retention_days, Some(365));
}

#[test]
fn defaults_are_the_seeds_fixes_not_console_defaults() {
    let text = "version: 1\nname: d\ntrail:\n  name: trail-d\n  bucket: { name: bucket-d }\n  cloudwatch_logs: { log_group: lg }\ntopics: [{ name: T }]\nmonitors:\n  - name: M\n    pattern: GetSecretValue\n    metric: { name: M }\n    notify: [T]\n";
    let s = Spec::parse(text, "d.yaml").unwrap().state;
    let a = &s.monitors[0].alarm;
    assert_eq!(a.statistic, "Sum");
    assert_eq!(a.period, 60);
    assert_eq!(a.evaluation_periods, 1);
    assert_eq!(a.threshold, 1.0);
    assert_eq!(a.comparison, Comparison::GreaterThanOrEqualToThreshold);
    assert_eq!(a.treat_missing_data, TreatMissingData::NotBreaching);
    assert_eq!(s.monitors[0].metric.default, Some(0.0));
    assert_eq!(s.monitors[0].metric.namespace, "SecurityMetrics");
    let t = s.trail.unwrap();
    assert!(t.multi_region && t.log_file_validation);
    // Issue 25, item 3: every management event source, so that Security Hub CloudTrail.1 passes.
    assert!(t.management_events.exclude_sources.is_empty());
    assert_eq!(t.cloudwatch_logs.unwrap().retention_days, Some(90));
    assert_eq!(t.bucket.expire_logs_after_days, Some(365));
}

#[test]
fn account_and_region_are_interpolated() {
    let s = seed().state.resolve("123456789012", "eu-west-1").unwrap();
    assert_eq!(s.trail.unwrap().bucket.name, "secmon-secrets-manager-trail-123456789012");
}

#[test]
fn schema_describes_every_top_level_field() {
    let schema = secmon_spec::json_schema();
    let props = schema["properties"].as_object().unwrap();
    for f in ["version", "name", "region", "secrets", "trail", "topics", "monitors"] {
        assert!(props.contains_key(f), "{f} missing from schema");
    }
    assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false));
}

/// Issue 25, item 3: AWS Config's multi-region-cloudtrail-enabled (Security Hub CloudTrail.1, CIS
/// 3.1) is NON_COMPLIANT when a trail excludes any management event source. The default passes;
/// excluding is an opt-out, said like the others, with where its saving is weighed.
#[test]
fn issue_25_excluding_management_event_sources_is_an_opt_out_naming_cloudtrail_1() {
    let base = "version: 1\nname: d\ntrail:\n  name: trail-d\n  bucket: { name: bucket-d }\n";
    let quiet = Spec::parse(base, "d.yaml").unwrap();
    assert!(quiet.warnings.iter().all(|w| !w.message.contains("CloudTrail.1")), "{:?}", quiet.warnings);

    let opted_out = format!("{base}  management_events: {{ exclude_sources: [kms.amazonaws.com, rdsdata.amazonaws.com] }}\n");
    let spec = Spec::parse(&opted_out, "d.yaml").unwrap();
    let w = spec.warnings.iter().find(|w| w.message.contains("CloudTrail.1")).expect("a warning naming CloudTrail.1");
    assert_eq!((w.field.as_str(), w.line), ("trail.management_events.exclude_sources", 6));
    assert!(w.message.contains("kms.amazonaws.com and rdsdata.amazonaws.com") && w.message.contains("CIS 3.1"), "{w:?}");
    assert!(w.hint.as_deref().is_some_and(|h| h.contains("docs/hardening.md")), "{w:?}");
}

/// Issue 24, item 4: a hand-written monitor carries a runbook, which ends its alarm's
/// description in the form of the pack rules' runbooks; a malformed one is refused at its field.
#[test]
fn issue_24_a_monitors_runbook_ends_its_alarm_description() {
    let base = "version: 1\nname: d\ntrail:\n  name: trail-d\n  bucket: { name: bucket-d }\n  cloudwatch_logs: { log_group: lg }\ntopics: [{ name: T }]\nmonitors:\n  - name: M\n    description: Payments secret read.\n    pattern: GetSecretValue\n    metric: { name: M }\n    notify: [T]\n";
    let text = format!("{base}    runbook:\n      meaning: a payments secret was read.\n      check: [the caller and its source IP, whether it is the payments app, rotate the secret if not.]\n      attack: T1555.006\n");
    let m = Spec::parse(&text, "d.yaml").unwrap().state.monitors.remove(0);
    assert_eq!(
        m.alarm_description().as_deref(),
        Some("Payments secret read. What: a payments secret was read. Check: 1) the caller and its source IP; 2) whether it is the payments app; 3) rotate the secret if not. ATT&CK T1555.006.")
    );

    let bad = format!("{base}    runbook:\n      meaning: x\n      check: [a, b, c, d]\n      attack: T15\n");
    let err = Spec::parse(&bad, "d.yaml").unwrap_err().to_string();
    assert!(err.contains("monitors[0].runbook.check: a runbook lists one to three checks, not 4"), "{err}");
    assert!(err.contains("monitors[0].runbook.attack: \"T15\" is not an ATT&CK id"), "{err}");
}

/// `verify --trigger` reads a secret to prove the pipeline: never a decoy while another secret
/// exists (a decoy's read pages at critical severity).
#[test]
fn the_trigger_reads_the_first_secret_that_is_not_a_decoy() {
    let trail = "trail:\n  name: trail-t\n  bucket: { name: bucket-t }\n  cloudwatch_logs: { log_group: lg }\ntopics: [{ name: T, email: [a@example.com] }]\n";
    let text = format!("version: 1\nname: t\n{trail}secrets:\n  - {{ name: bait, value: {{ generate: {{}} }}, decoy: true }}\n  - {{ name: real, value: {{ generate: {{}} }} }}\n");
    let spec = secmon_spec::Spec::parse(&text, "t.yaml").unwrap();
    assert_eq!(spec.state.trigger_secret().map(|s| s.name.as_str()), Some("real"));
    let only_bait = format!("version: 1\nname: t\n{trail}secrets:\n  - {{ name: bait, value: {{ generate: {{}} }}, decoy: true }}\n");
    assert_eq!(secmon_spec::Spec::parse(&only_bait, "t.yaml").unwrap().state.trigger_secret().map(|s| s.name.as_str()), Some("bait"));
    // Without a log group there is nothing to watch a decoy with: said at the decoy.
    let untrailed = "version: 1\nname: t\nsecrets:\n  - name: bait\n    value: { generate: {} }\n    decoy: true\n";
    let err = secmon_spec::Spec::parse(untrailed, "t.yaml").unwrap_err().to_string();
    assert!(err.contains("secrets[0].decoy") && err.contains("a decoy is watched by a metric filter"), "{err}");
}
