//! The seeds' own test data and scenario (seed 004: "Test pattern" events; the Average vs Sum
//! troubleshooting), plus real attack records from the Stratus Red Team dataset.

use std::path::PathBuf;

use secmon_sim::events::{self, LogEvent};
use secmon_sim::simulate::simulate;
use secmon_sim::Pattern;
use secmon_spec::Spec;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> String {
    root().join("tests/fixtures").join(name).display().to_string()
}

fn load(path: &str) -> Vec<LogEvent> {
    let mut out = Vec::new();
    events::for_each(path, &mut |e| out.push(e)).unwrap();
    out
}

fn names_matching(pattern: &str, evs: &[LogEvent]) -> Vec<String> {
    let p = Pattern::parse(pattern).unwrap();
    evs.iter().filter(|e| p.matches(&e.as_event())).map(|e| e.json.as_ref().unwrap()["eventName"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_seed_test_events_match_only_get_secret_value() {
    let evs = load(&fixture("seed-004-test-events.json"));
    assert_eq!(evs.len(), 20);
    // The console pattern of the seed, and the spec's JSON pattern: the same four events.
    for p in [
        "\"GetSecretValue\"",
        "GetSecretValue",
        r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#,
    ] {
        assert_eq!(names_matching(p, &evs), ["GetSecretValue"; 4], "{p}");
    }
}

#[test]
fn near_misses_say_why() {
    let evs = load(&fixture("seed-004-test-events.json"));
    let p = Pattern::parse(r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#).unwrap();
    let describe = evs.iter().find(|e| e.json.as_ref().unwrap()["eventName"] == "DescribeSecret").unwrap();
    let ex = p.explain(&describe.as_event()).unwrap();
    assert!(ex.is_near_miss());
    assert_eq!(ex.failed, [r#"$.eventName = "GetSecretValue": $.eventName is "DescribeSecret""#]);
}

#[test]
fn average_never_reaches_1_but_sum_fires() {
    let spec = Spec::from_file(&root().join("tests/fixtures/seed-scenario.yaml")).unwrap();
    let report = simulate(&spec.state, &[fixture("seed-004-test-events.json")]).unwrap();
    assert_eq!(report.events, 20);
    let tutorial = &report.monitors[0];
    let fixed = &report.monitors[1];
    assert_eq!(tutorial.matched.len(), 4);
    assert_eq!(fixed.matched.len(), 4);
    assert!(!tutorial.run.fired, "Average of 1s and 0s over 5 minutes stays below 1");
    assert!(tutorial.run.notifications.is_empty());
    let best = tutorial.run.datapoints.iter().filter_map(|d| d.value).fold(0.0, f64::max);
    assert!(best < 1.0 && best > 0.0, "{best}");
    assert!(tutorial.run.transitions.iter().all(|t| t.reason.contains("did not cross the threshold: Average >= 1")));
    assert!(fixed.run.fired);
    // Four reads in four different minutes: four notifications, each with the reason.
    assert_eq!(fixed.run.notifications.len(), 4);
    assert_eq!(fixed.run.notifications[0].topics, ["SecurityAlarms"]);
    assert_eq!(
        fixed.run.notifications[0].events,
        ["2025-03-17T23:21:57Z GetSecretValue c4c54144-834e-4b61-afba-58107f102e82"],
        "what it fired on"
    );
    assert!(fixed.run.transitions.iter().any(|t| t.reason.contains("1 out of the last 1 datapoints [1] crossed the threshold: Sum >= 1")));
}

fn stratus(name: &str) -> String {
    root().join("tests/fixtures/stratus-red-team").join(format!("aws.{name}.json")).display().to_string()
}

#[test]
fn real_attack_records_stream_and_match() {
    let path = stratus("credential-access.secretsmanager-retrieve-secrets");
    let evs = load(&path);
    let gets = names_matching(r#"{ $.eventName = "GetSecretValue" }"#, &evs);
    assert!(!gets.is_empty());
    let batch = load(&stratus("credential-access.secretsmanager-batch-retrieve-secrets"));
    assert!(names_matching(r#"{ $.eventName = "GetSecretValue" }"#, &batch).is_empty(), "the seeds' pattern misses BatchGetSecretValue");
    assert!(!names_matching(r#"{ $.eventName = "BatchGetSecretValue" }"#, &batch).is_empty());
}

#[test]
fn gzipped_cloudtrail_files_and_json_lines_read_the_same() {
    use std::io::Write;
    let scratch = tempfile::Builder::new().prefix("secmon-sim-").tempdir().unwrap();
    let dir = scratch.path();
    let text = std::fs::read_to_string(fixture("seed-004-test-events.json")).unwrap();
    let gz = dir.join("events.json.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    assert_eq!(load(gz.to_str().unwrap()).len(), 20);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let lines: Vec<String> = doc["Records"].as_array().unwrap().iter().map(|r| r.to_string()).collect();
    let jl = dir.join("events.jsonl");
    std::fs::write(&jl, lines.join("\n")).unwrap();
    let evs = load(jl.to_str().unwrap());
    assert_eq!(evs.len(), 20);
    assert_eq!(names_matching("{ $.eventName = GetSecretValue }", &evs).len(), 4);
    let plain = dir.join("plain.log");
    std::fs::write(&plain, "ERROR one\nWARN two\n\nERROR three\n").unwrap();
    let evs = load(plain.to_str().unwrap());
    assert_eq!(evs.len(), 3);
    assert!(evs[0].json.is_none());
    assert_eq!(evs[0].message(), "ERROR one");
}

#[test]
fn dimensions_split_the_metric_and_alarms_watch_one_value() {
    let spec = Spec::from_file(&root().join("tests/fixtures/dimensions.yaml")).unwrap();
    let report = simulate(&spec.state, &[fixture("seed-004-test-events.json")]).unwrap();
    let admin = &report.monitors[0];
    assert_eq!(admin.matched[0].dimensions["User"], "IAM-Admin");
    assert!(admin.run.fired, "the admin's reads are on the watched dimension value");
    assert!(!report.monitors[1].run.fired, "nobody called intruder read anything");
    assert!(!report.monitors[2].run.fired, "an alarm without dimensions never sees a dimensioned metric");
    let lint = secmon_sim::lint::lint(&spec);
    assert!(lint.iter().any(|d| d.field == "monitors[2].alarm.dimensions" && d.message.contains("can never receive data")), "{lint:?}");
    assert!(!lint.iter().any(|d| d.field == "monitors[0].alarm.dimensions"));
}

/// Issue 12: AWS ignores `?` terms next to plain terms; lint says so instead of letting the
/// pattern look like an "any of".
#[test]
fn lint_says_question_mark_terms_next_to_plain_terms_do_nothing() {
    let text = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let pattern = text.lines().find(|l| l.trim_start().starts_with("pattern:")).expect("the seed has a pattern line").to_string();
    let indent = &pattern[..pattern.len() - pattern.trim_start().len()];
    let spec = Spec::parse(
        &text.replace(&pattern, &format!("{indent}pattern: '?GetSecretValue ?BatchGetSecretValue secretsmanager'")),
        "seed.yaml",
    )
    .unwrap();
    let lint = secmon_sim::lint::lint(&spec);
    assert!(lint.iter().any(|d| d.field.ends_with(".pattern") && d.message.contains("ignores `?` terms")), "{lint:?}");
}

/// Issue 12: a text log whose lines begin with `[` or `{` is text, not a broken JSON file; the
/// format is decided per file, and `--format` forces one.
#[test]
fn events_files_are_read_by_what_they_are() {
    use secmon_sim::events::{for_each_as, Format};
    let scratch = tempfile::Builder::new().prefix("secmon-formats-").tempdir().unwrap();
    let dir = scratch.path();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let read = |path: &str, format: Format| {
        let mut out = Vec::new();
        for_each_as(path, format, &mut |e| out.push((e.message().to_string(), e.json.is_some()))).map(|_| out)
    };
    let text = write("text.log", "[ERROR] 400 BAD REQUEST\n[WARN] slow\n{ERROR} braces\n");
    let got = read(&text, Format::Auto).unwrap();
    assert_eq!(got.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(), ["[ERROR] 400 BAD REQUEST", "[WARN] slow", "{ERROR} braces"]);
    assert!(got.iter().all(|(_, json)| !json));
    let p = Pattern::parse("ERROR").unwrap();
    let mut n = 0;
    events::for_each(&text, &mut |e| n += usize::from(p.matches(&e.as_event()))).unwrap();
    assert_eq!(n, 2);

    let array = write("array.json", "[\n  {\"eventName\": \"A\"},\n  {\"eventName\": \"B\"}\n]\n");
    assert_eq!(read(&array, Format::Auto).unwrap().len(), 2);
    let pretty = write("pretty.json", "{\n  \"eventName\": \"A\"\n}\n{\n  \"eventName\": \"B\"\n}\n");
    assert_eq!(read(&pretty, Format::Auto).unwrap().len(), 2);
    let records = write("records.json", "{\"Records\":[{\"eventName\":\"A\"},{\"eventName\":\"B\"},{\"eventName\":\"C\"}]}");
    assert_eq!(read(&records, Format::Auto).unwrap().len(), 3);
    let mixed = write("mixed.log", "{\"eventName\": \"A\"}\nplain text line\n{\"eventName\": \"B\"}\n");
    assert_eq!(read(&mixed, Format::Auto).unwrap().iter().map(|(_, j)| *j).collect::<Vec<_>>(), [true, false, true]);

    // Forced formats: strict where they promise JSON, never JSON for text.
    let e = read(&mixed, Format::JsonLines).unwrap_err().to_string();
    assert!(e.contains("mixed.log:2:"), "{e}");
    assert!(read(&text, Format::CloudTrail).unwrap_err().to_string().contains("--format text"));
    assert!(read(&mixed, Format::Text).unwrap().iter().all(|(_, j)| !j));
    assert_eq!(read(&records, Format::CloudTrail).unwrap().len(), 3);
}
