//! The offline commands a user runs before deploying: test-pattern, simulate, and lint in validate.

use std::process::Command;

use crate::common::{root, secmon_offline as secmon, text};

const EVENTS: &str = "tests/fixtures/seed-004-test-events.json";

#[test]
fn test_pattern_exits_like_grep() {
    let out = secmon(&["test-pattern", "--pattern", "{ $.eventName = \"GetSecretValue\" }", "--events", EVENTS]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("4 of 20 events matched"));
    let out = secmon(&["test-pattern", "--pattern", "{ $.eventName = \"BatchGetSecretValue\" }", "--events", EVENTS]);
    assert_eq!(out.status.code(), Some(1), "no match: 1");
    let out = secmon(&["test-pattern", "--pattern", "{ $.eventName = }", "--events", EVENTS]);
    assert_eq!(out.status.code(), Some(2), "syntax error: 2");
    assert!(text(&out.stderr).contains("column 17"), "{}", text(&out.stderr));
    let out = secmon(&["test-pattern", "--pattern", "x", "--events", "no/such/file"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 26, finding 20: `| head -1` ends test-pattern as it ends grep, and a full disk is an
/// error that says so; never a panic (exit 101).
#[test]
fn finding_20_a_closed_or_full_stdout_is_not_a_panic() {
    use std::io::{BufRead, Write};
    let scratch = tempfile::tempdir().unwrap();
    let events = scratch.path().join("many.jsonl");
    let mut f = std::fs::File::create(&events).unwrap();
    for i in 0..20_000 {
        writeln!(f, r#"{{"eventName": "GetSecretValue", "requestParameters": {{"secretId": "s-{i}"}}}}"#).unwrap();
    }
    drop(f);
    let mut child = Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(["test-pattern", "--pattern", "{ $.eventName = \"GetSecretValue\" }", "--events"])
        .arg(&events)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "as a shell reports grep | head: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let out = Command::new(env!("CARGO_BIN_EXE_secmon")).arg("schema").stdout(full).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("cannot write the output") && err.contains("No space left on device") && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn test_pattern_takes_a_monitor_of_a_spec_and_explains_near_misses() {
    let out = secmon(&["test-pattern", "-f", "specs/seed.yaml", "--monitor", "Secret is accessed", "--events", EVENTS, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["matched"], 4);
    assert_eq!(v["events"], 20);
    let miss = &v["near_misses"][0];
    assert_eq!(miss["failed"][0], "$.eventName = \"GetSecretValue\": $.eventName is \"GetResourcePolicy\"");
}

#[test]
fn test_pattern_reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(["test-pattern", "--pattern", "?ERROR ?WARN", "--events", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"ERROR one\nINFO two\nWARN three\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("2 of 3 events matched"));
}

#[test]
fn simulate_shows_average_silent_and_sum_firing() {
    let out = secmon(&["simulate", "-f", "tests/fixtures/seed-scenario.yaml", "--events", EVENTS]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("alarm \"Secret is accessed (tutorial)\": Average over 300 s >= 1 — never fires"), "{s}");
    assert!(s.contains("alarm \"Secret is accessed\": Sum over 60 s >= 1 — FIRES (4 notification(s))"), "{s}");
    assert!(s.contains("2025-03-19T10:17:00Z  OK -> ALARM: 1 out of the last 1 datapoints [1] crossed the threshold: Sum >= 1"), "{s}");
    assert!(s.contains("2025-03-19T10:17:00Z  → notification to SecurityAlarms"), "{s}");
    assert!(s.contains("fired on 2025-03-19T10:16:39Z GetSecretValue 8948ce7e-42bc-4f01-848d-09439980b454"), "{s}");
    let out = secmon(&["simulate", "-f", "tests/fixtures/seed-scenario.yaml", "--events", EVENTS, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["monitors"][0]["fired"], false);
    assert_eq!(v["monitors"][1]["fired"], true);
    assert_eq!(v["monitors"][1]["notifications"].as_array().unwrap().len(), 4);
}

#[test]
fn validate_lints_what_the_seeds_learned_the_hard_way() {
    let out = secmon(&["validate", "-f", "tests/fixtures/lint-everything.yaml", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "warnings do not make a spec invalid");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<String> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{} {} {}", w["field"].as_str().unwrap(), w["message"].as_str().unwrap(), w["hint"].as_str().unwrap_or("")))
        .collect();
    let has = |field: &str, needle: &str| {
        assert!(
            warnings.iter().any(|w| w.starts_with(field) && w.contains(needle)),
            "missing {field} / {needle} in:\n{}",
            warnings.join("\n")
        );
    };
    has("monitors[0].alarm.statistic", "use `statistic: Sum`");
    has("monitors[0].alarm.period", "up to 5 minutes after");
    has("monitors[0].notify", "has no subscribers");
    has("monitors[1].pattern", "did you mean `GetSecretValue`?");
    has("monitors[1].pattern", "read-only event and the trail records WriteOnly");
    has("monitors[2].pattern", "the trail excludes it");
    has("monitors[2].pattern", "remove kms.amazonaws.com from trail.management_events.exclude_sources");
    has("monitors[3].alarm.threshold", "can never be crossed");
    has("monitors[4].pattern", "S3 object-level API");
    has("monitors[5].pattern", "did you mean `$.eventName`?");
    has("monitors[6].pattern", "contradict each other");
}

#[test]
fn a_pattern_aws_would_refuse_makes_the_spec_invalid() {
    let scratch = tempfile::Builder::new().prefix("secmon-lint-").tempdir().unwrap();
    let dir = scratch.path();
    let spec = dir.join("bad.yaml");
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    std::fs::write(&spec, seed.replace("($.eventName = \"GetSecretValue\") }", "($.eventName = ) }")).unwrap();
    let out = secmon(&["validate", "-f", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("monitors[0].pattern: filter pattern syntax error at column"), "{err}");
    assert!(err.contains("bad.yaml:38:14"), "points at the pattern: {err}");
}

/// Issue 12: a text log whose lines begin with `[` is text (it used to be "not valid CloudTrail
/// JSON", exit 2); `--count` prints only the number of matches, like grep -c.
#[test]
fn test_pattern_reads_bracketed_text_logs_and_counts() {
    let scratch = tempfile::Builder::new().prefix("secmon-cli-text-").tempdir().unwrap();
    let dir = scratch.path();
    let log = dir.join("app.log");
    std::fs::write(&log, "[ERROR 400] BAD REQUEST\n[ERROR 419] MISSING ARGUMENTS\n[INFO] fine\n").unwrap();
    let log = log.to_str().unwrap();
    let out = secmon(&["test-pattern", "--pattern", "ERROR -ARGUMENTS", "--events", log]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 of 3 events matched"), "{}", text(&out.stdout));
    let out = secmon(&["test-pattern", "--count", "--pattern", "ERROR", "--events", log, EVENTS]);
    assert_eq!(text(&out.stdout).trim(), "2");
    let out =
        secmon(&["test-pattern", "-c", "--pattern", "{ $.eventName = \"GetSecretValue\" }", "--events", log, EVENTS, "--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["events"].as_u64(), v["matched"].as_u64()), (Some(23), Some(4)));
    let out = secmon(&["test-pattern", "--pattern", "ERROR", "--events", log, "--format", "json-lines"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("app.log:1:"), "{}", text(&out.stderr));
}

/// Issue 12: `--events DIR` reads what `aws s3 sync` of a trail bucket gives: every log file
/// under it, gzipped, in nested date directories, but not the digest files, hidden files or
/// anything that is not an events file; a directory without events is an error.
#[test]
fn test_pattern_and_simulate_read_a_synced_trail_bucket() {
    use std::io::Write;
    let scratch = tempfile::Builder::new().prefix("secmon-cli-tree-").tempdir().unwrap();
    let root_dir = scratch.path().join("AWSLogs/123456789012");
    let day = root_dir.join("CloudTrail/us-east-1/2025/03/19");
    let digest = root_dir.join("CloudTrail-Digest/us-east-1/2025/03/19");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::create_dir_all(&digest).unwrap();
    let fixture = std::fs::read(root().join(EVENTS)).unwrap();
    let gz = |path: &std::path::Path, bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
    };
    gz(&day.join("123456789012_CloudTrail_us-east-1_20250319T1840Z_a.json.gz"), &fixture);
    gz(&day.join("123456789012_CloudTrail_us-east-1_20250319T1845Z_b.json.gz"), &fixture);
    // What is not events: a digest (one JSON object), a hidden file, a note.
    gz(&digest.join("123456789012_CloudTrail-Digest_us-east-1_20250319T1900Z.json.gz"), br#"{"digestStartTime":"x","logFiles":[]}"#);
    std::fs::write(day.join(".partial.json"), &fixture).unwrap();
    std::fs::write(scratch.path().join("README.md"), "synced with aws s3 sync\n").unwrap();
    let tree = scratch.path().to_str().unwrap();

    let out = secmon(&["test-pattern", "-c", "--pattern", "{ $.eventName = \"GetSecretValue\" }", "--events", tree, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["events"].as_u64(), v["matched"].as_u64()), (Some(40), Some(8)), "two log files of 20 events, 4 reads each");
    let out = secmon(&["simulate", "-f", "specs/seed.yaml", "--events", tree, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 40);

    let empty = scratch.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = secmon(&["test-pattern", "-c", "--pattern", "x", "--events", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no events file"), "{}", text(&out.stderr));
}

/// Issue 10: hostile event files and patterns are refused clearly and with bounded memory: a
/// 17 MiB single line (more than any record secmon reads), a pattern longer than AWS allows.
#[test]
fn test_pattern_bounds_its_input() {
    let scratch = tempfile::Builder::new().prefix("secmon-hostile-events-").tempdir().unwrap();
    let dir = scratch.path();
    let huge = dir.join("one-line.log");
    std::fs::write(&huge, vec![b'a'; 17 << 20]).unwrap();
    let out = secmon(&["test-pattern", "--pattern", "ERROR", "--events", huge.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("longer than 16 MiB"), "{}", text(&out.stderr));
    let long = "x".repeat(1025);
    let out = secmon(&["test-pattern", "--pattern", &long, "--events", EVENTS]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("CloudWatch Logs allows 1024"), "{}", text(&out.stderr));
}

/// Issue 26, item 2: a mistyped flag is a usage error, exit 64, never 2 ("plan has changes",
/// "verify: warnings only"), so a CI step cannot take a typo for a change.
#[test]
fn a_mistyped_flag_exits_64_not_a_documented_result_code() {
    let out = secmon(&["plan", "-f", "specs/seed.yaml", "--detailed-exitcod"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--detailed-exitcode"), "clap's did-you-mean stays: {}", text(&out.stderr));
    let out = secmon(&["verify"]);
    assert_ne!(out.status.code(), Some(2));
    let help = secmon(&["--help"]);
    assert_eq!(help.status.code(), Some(0), "help is no error");
    assert_eq!(secmon(&["--version"]).status.code(), Some(0));
}

/// Issue 26, item 7: an endpoint nothing answers fails at once, each call made once, with a
/// hint, instead of 83 s of retries and a raw error.
#[test]
fn an_unreachable_endpoint_fails_at_once_with_a_hint() {
    let out = Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(["plan", "-f", "specs/seed.yaml", "--stats"])
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hint: nothing answers at that address"), "{err}");
    assert_eq!(crate::common::calls(&err, "GetCallerIdentity"), 1, "not retried: {err}");
}

/// Issue 24, item 1: `simulate` shows, for a spec with `alert_context`, the exact notification a
/// responder receives for each matching event, so that a pull request can show it; the same text
/// as the reviewed golden file of the sim crate.
#[test]
fn issue_24_simulate_prints_the_alert_context_of_each_matching_event() {
    let scratch = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let spec = scratch.path().join("context.yaml");
    std::fs::write(&spec, seed.replacen("name: secrets-monitoring\n", "name: secrets-monitoring\nalert_context: true\n", 1)).unwrap();
    let events = root().join("tests/fixtures/stratus-red-team/aws.credential-access.secretsmanager-retrieve-secrets.json");
    let out = secmon(&["simulate", "-f", spec.to_str().unwrap(), "--events", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("alert context of event").count(), 20, "one per secret read: {stdout}");
    let golden = std::fs::read_to_string(root().join("crates/sim/tests/golden/notifications.txt")).unwrap();
    let first = golden.split("\n\n").next().unwrap().lines().skip(1).collect::<Vec<_>>();
    for line in &first {
        assert!(stdout.contains(&format!("      {line}\n")), "the golden text, line for line: {line}\n{stdout}");
    }
    // Without alert_context, no rule: nothing is claimed.
    let plain = secmon(&["simulate", "-f", "specs/seed.yaml", "--events", events.to_str().unwrap()]);
    assert!(!text(&plain.stdout).contains("alert context"), "{}", text(&plain.stdout));
}

/// Issue 25, item 5: `secmon coverage` says which techniques the spec's alarms see, from their
/// records, and writes an ATT&CK Navigator layer of the techniques covered.
#[test]
fn issue_25_coverage_reports_techniques_and_writes_a_navigator_layer() {
    let scratch = tempfile::tempdir().unwrap();
    let layer = scratch.path().join("layer.json");
    let out = secmon(&[
        "coverage",
        "-f",
        "specs/all-packs.yaml",
        "--techniques",
        "tests/fixtures/stratus-red-team",
        "--navigator",
        layer.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("✓ credential-access.secretsmanager-retrieve-secrets  SECRET-READ-SecretValueRead"), "{stdout}");
    assert!(stdout.contains("✗ defense-evasion.cloudtrail-event-selectors"), "what nothing fires on is said: {stdout}");
    let layer: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&layer).unwrap()).unwrap();
    assert_eq!(layer["domain"], "enterprise-attack");
    assert!(layer["techniques"].as_array().unwrap().iter().any(|t| t["techniqueID"] == "T1555.006" && t["score"] == 1), "{layer}");
    let json = secmon(&["coverage", "-f", "specs/seed.yaml", "--output", "json"]);
    let c: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        c["events"].as_array().unwrap().iter().any(|e| e["name"] == "GetSecretValue" && e["monitors"][0] == "Secret is accessed"),
        "{c}"
    );
}

/// Issue 25, item 1: `simulate` replays a contributor as its Contributor Insights rule counts,
/// and names each period's top contributor: the principal a responder looks for first.
#[test]
fn issue_25_simulate_counts_per_principal_and_names_the_top_contributor() {
    let out = secmon(&[
        "simulate",
        "-f",
        "specs/all-packs.yaml",
        "--events",
        "tests/fixtures/stratus-red-team/aws.credential-access.secretsmanager-retrieve-secrets.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("20 event(s) counted per $.userIdentity.arn by Contributor Insights rule \"SECRET-READS-BY-PRINCIPAL\""),
        "{stdout}"
    );
    assert!(stdout.contains("MaxContributorValue = 20, top contributor arn:aws:iam::903144391865:user/christophe"), "{stdout}");
    assert!(stdout.contains("alarm \"SECRET-READ-SPREAD\": UniqueContributors over 300 s >= 20 — FIRES"), "{stdout}");
}
