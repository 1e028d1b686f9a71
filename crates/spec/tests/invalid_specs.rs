//! Every file in `tests/invalid/` is a spec with one mistake and a header saying which error it
//! must produce: `# expect: FIELD @ line N: MESSAGE`. The spec must be rejected with a diagnostic
//! for exactly that field, on that line, whose message or hint contains MESSAGE.

use std::path::PathBuf;

use secmon_spec::{Severity, Spec};

fn invalid_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/invalid")
}

#[test]
fn every_invalid_spec_is_rejected_with_its_error() {
    let mut files: Vec<_> = std::fs::read_dir(invalid_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 40, "expected at least 40 invalid specs, found {}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let header = text.lines().next().unwrap().strip_prefix("# expect: ").expect("header");
        let (field, rest) = header.split_once(" @ line ").unwrap();
        let (line, message) = rest.split_once(": ").unwrap();
        let line: usize = line.parse().unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match Spec::parse(&text, &name) {
            Ok(_) => failures.push(format!("{name}: accepted, expected {field} @ {line}: {message}")),
            Err(e) => {
                let diags = e.diagnostics();
                let hit = diags.iter().any(|d| {
                    d.severity == Severity::Error
                        && d.field == field
                        && d.line == line
                        && d.file == name
                        && (d.message.contains(message) || d.hint.as_deref().is_some_and(|h| h.contains(message)))
                });
                if !hit {
                    let got: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
                    failures.push(format!("{name}: expected {field} @ {line}: {message}\n  got:\n    {}", got.join("\n    ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} specs wrong:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = "version: 1\nname: t\ntopics:\n  - name: \"bad name\"\n    email: [nope]\nmonitors:\n  - name: M\n    pattern: x\n    metric: { name: M }\n    alarm: { statistic: Average, period: 45 }\n    notify: [Nope]\n";
    let err = Spec::parse(text, "multi.yaml").unwrap_err();
    let fields: Vec<String> = err.diagnostics().iter().filter(|d| d.severity == Severity::Error).map(|d| d.field.clone()).collect();
    for f in ["topics[0].name", "topics[0].email[0]", "monitors[0].alarm.period", "monitors[0].notify[0]", "monitors"] {
        assert!(fields.iter().any(|x| x == f), "missing error for {f}: {fields:?}");
    }
}

#[test]
fn a_literal_secret_value_is_never_echoed_in_errors() {
    let text = "version: 1\nname: t\nsecrets:\n  - name: S\n    value: correct-horse-battery-staple\n";
    let err = Spec::parse(text, "leak.yaml").unwrap_err();
    assert!(!err.to_string().contains("correct-horse"), "{err}");
    let text = "version: 1\nname: t\nsecrets:\n  - name: S\n    value: { plaintext: correct-horse-battery-staple }\n";
    let err = Spec::parse(text, "leak.yaml").unwrap_err();
    assert!(!err.to_string().contains("correct-horse"), "{err}");
    assert!(err.to_string().contains("literal secret value"), "{err}");
}

#[test]
fn more_monitors_than_a_log_group_holds_filters_is_refused() {
    // Regression (issue 11, item 9): CloudWatch Logs allows 100 metric filters per log group.
    let mut text = String::from(
        "version: 1\nname: t\ntrail:\n  name: trail-a\n  bucket: { name: bucket-a }\n  cloudwatch_logs: { log_group: lg }\ntopics:\n  - name: T\nmonitors:\n",
    );
    for i in 0..101 {
        text.push_str(&format!("  - {{ name: m{i}, pattern: '{{ $.eventName = \"E{i}\" }}', metric: {{ name: M{i} }}, notify: [T] }}\n"));
    }
    let e = Spec::parse(&text, "many.yaml").unwrap_err();
    let hit = e.diagnostics().into_iter().find(|d| d.field == "monitors").expect("a diagnostic on monitors");
    assert!(hit.message.contains("at most 100"), "{}", hit.message);
    assert_eq!(hit.line, 10, "the monitors list");
}

/// Issue 16: hardening is on by default; each opt-out is accepted, and warned, naming the control
/// the spec then fails, on the line of the opt-out.
#[test]
fn every_hardening_opt_out_is_warned_with_its_control() {
    let text = "version: 1\nname: t\ntrail:\n  name: trail-a\n  bucket:\n    name: bucket-a\n    access_logging: false\nencryption:\n  key: none\n  trail: false\n  bucket: false\n  log_group: false\n  topics: false\n";
    let spec = Spec::parse(text, "soft.yaml").unwrap();
    let warned = |field: &str, control: &str| {
        spec.warnings.iter().any(|d| d.severity == Severity::Warning && d.field == field && d.message.contains(control))
    };
    assert!(warned("trail.bucket.access_logging", "CloudTrail.7"), "{:?}", spec.warnings);
    assert!(warned("encryption.key", "CloudTrail.2"), "{:?}", spec.warnings);
    assert!(warned("encryption.trail", "CloudTrail.2"));
    assert!(warned("encryption.bucket", "s3_bucket_kms_encryption"));
    assert!(warned("encryption.log_group", "cloudwatch_log_group_kms_encryption_enabled"));
    assert!(warned("encryption.topics", "SNS.1"));
    let hardened = Spec::parse("version: 1\nname: t\ntrail: { name: trail-a, bucket: { name: bucket-a } }\n", "hard.yaml").unwrap();
    assert!(hardened.warnings.is_empty(), "{:?}", hardened.warnings);
    assert_eq!(hardened.state.key_alias().as_deref(), Some("alias/secmon/t"));
    assert_eq!(hardened.state.trail.unwrap().bucket.access_log_bucket_name().as_deref(), Some("bucket-a-access-logs"));
}
