//! Issue 12: the prefilter decides speed, never results. Records full of JSON escapes
//! (`\u0053` for `S`, `\/`), odd number spellings and whitespace go through the fast path
//! (split unparsed, skipped when a literal is missing) and through the plain evaluator; both
//! must find exactly the same events, in every file format; and `count_matches` (prefilter
//! plus projection parsing) must count them.

use proptest::prelude::*;
use secmon_sim::events::{count_matches, for_each_as, for_each_candidate, Counter, Format};
use secmon_sim::prefilter::{Need, Prefilter};
use secmon_sim::Pattern;

const NAMES: [&str; 5] = ["GetSecretValue", "DescribeSecret", "BatchGetSecretValue", "CreateRoute", "ConsoleLogin"];
const SOURCES: [&str; 3] = ["secretsmanager.amazonaws.com", "ec2.amazonaws.com", "signin.amazonaws.com"];

const PATTERNS: [&str; 10] = [
    // No literal: every record is parsed, its members found while it is split.
    "{ ($.errorMessage NOT EXISTS) && ($.n > 999) }",
    r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#,
    r#"{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = DeleteRoute)) }"#,
    "{ $.eventName = *SecretValue }",
    "{ $.errorMessage = \"Failed authentication\" }",
    "{ $.n = 1000 }",
    "{ $.path = \"/a/b\" }",
    "GetSecretValue",
    "?CreateRoute ?ConsoleLogin",
    "secretsmanager.amazonaws.com -BatchGetSecretValue",
];

/// A JSON string literal for `s`, each character written raw or escaped as `escape` says.
fn encode(s: &str, escape: &[bool]) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        match (c, escape.get(i % escape.len().max(1)).copied().unwrap_or(false)) {
            ('"', _) => out.push_str("\\\""),
            ('\\', _) => out.push_str("\\\\"),
            ('/', true) => out.push_str("\\/"),
            (c, true) => out.push_str(&format!("\\u{:04x}", c as u32)),
            (c, false) => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone)]
struct Record {
    name: usize,
    source: usize,
    escape: Vec<bool>,
    number: u8,
    error: bool,
    spaced: bool,
}

impl Record {
    fn json(&self) -> String {
        let sp = if self.spaced { " " } else { "" };
        let n = ["1000", "1e3", "1000.0", "999", "1.0E+3"][self.number as usize % 5];
        let mut s = format!(
            "{{\"eventSource\":{sp}{},{sp}\"eventName\":{sp}{},{sp}\"n\":{sp}{n},{sp}\"path\":{sp}{}",
            encode(SOURCES[self.source], &self.escape),
            encode(NAMES[self.name], &self.escape),
            encode("/a/b", &self.escape),
        );
        if self.error {
            // The key may be escaped too (`"error\u004dessage"`).
            s.push_str(&format!(",{sp}{}:{sp}{}", encode("errorMessage", &self.escape), encode("Failed authentication", &self.escape)));
        }
        s.push('}');
        s
    }
}

fn record() -> impl Strategy<Value = Record> {
    (0..NAMES.len(), 0..SOURCES.len(), prop::collection::vec(prop::bool::weighted(0.2), 1..6), any::<u8>(), any::<bool>(), any::<bool>())
        .prop_map(|(name, source, escape, number, error, spaced)| Record { name, source, escape, number, error, spaced })
}

/// The indexes of matching events, read plainly and through the fast path.
fn both(path: &str, format: Format, pattern: &Pattern) -> (Vec<String>, Vec<String>) {
    let mut plain = Vec::new();
    for_each_as(path, format, &mut |e| {
        if pattern.matches(&e.as_event()) {
            plain.push(e.message().to_string());
        }
    })
    .unwrap();
    let mut fast = Vec::new();
    let pre = Prefilter::new(pattern);
    for_each_candidate(path, format, &pre, Need::Matches, &mut |_, e| {
        if pattern.matches(&e.as_event()) {
            fast.push(e.message().to_string());
        }
    })
    .unwrap();
    (plain, fast)
}

/// The same records as JSON lines and as a CloudTrail log file, in `dir`, each with the formats
/// it is read as: (file, format) for the JSON lines read as such and as text, and the log file.
fn in_every_form(dir: &std::path::Path, lines: &[String]) -> [(std::path::PathBuf, Format); 3] {
    let jsonl = dir.join("events.jsonl");
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let cloudtrail = dir.join("events.json");
    std::fs::write(&cloudtrail, format!("{{\"Records\": [\n{}\n]}}", lines.join(",\n"))).unwrap();
    [(jsonl.clone(), Format::Auto), (cloudtrail, Format::Auto), (jsonl, Format::Text)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_fast_path_finds_exactly_what_the_plain_evaluator_finds(records in prop::collection::vec(record(), 1..40)) {
        let scratch = tempfile::Builder::new().prefix("secmon-fast-").tempdir().unwrap();
        let dir = scratch.path();
        let lines: Vec<String> = records.iter().map(Record::json).collect();
        let forms = in_every_form(dir, &lines);
        for text in PATTERNS {
            let pattern = Pattern::parse(text).unwrap();
            for (path, format) in forms.iter().map(|(p, f)| (p, *f)) {
                let (plain, fast) = both(path.to_str().unwrap(), format, &pattern);
                prop_assert_eq!(&plain, &fast, "{} on {}", text, path.display());
                let counted = count_matches(path.to_str().unwrap(), format, &pattern).unwrap();
                prop_assert_eq!(counted, (records.len() as u64, plain.len() as u64), "count of {} on {}", text, path.display());
                // Issue 27, item 2: listing goes the counting way and hands out the same events.
                let mut listed = Vec::new();
                let n = Counter::new(&pattern).list(path.to_str().unwrap(), format, &|| false, &mut |_, hit, e| {
                    assert!(hit, "no near miss was asked for");
                    listed.push(e.message().to_string());
                }).unwrap();
                prop_assert_eq!(n, records.len() as u64);
                prop_assert_eq!(&plain, &listed, "list of {} on {}", text, path.display());
            }
        }
    }

    /// Issue 27, item 2: `simulate` skims the events no monitor can match (their time and the
    /// trail's fields only) and reports exactly what a plain replay, parsing everything, reports.
    #[test]
    fn simulate_on_the_fast_path_reports_what_a_plain_replay_reports(records in prop::collection::vec(record(), 1..40)) {
        let scratch = tempfile::Builder::new().prefix("secmon-sim-fast-").tempdir().unwrap();
        let dir = scratch.path();
        let lines: Vec<String> = records.iter().enumerate().map(|(i, r)| {
            let json = r.json();
            format!("{{\"eventTime\":\"2026-01-01T00:{:02}:{:02}Z\",{}", i / 60, i % 60, &json[1..])
        }).collect();
        for (path, format) in in_every_form(dir, &lines) {
            let (fast, plain) = simulate_both(&[path.display().to_string()], format, &PATTERNS);
            prop_assert_eq!(fast, plain, "{}", path.display());
        }
    }
}

#[test]
fn escaped_literals_are_still_found() {
    let scratch = tempfile::Builder::new().prefix("secmon-escaped-").tempdir().unwrap();
    let dir = scratch.path();
    let path = dir.join("escaped.json");
    std::fs::write(&path, r#"{"Records":[{"eventName":"Get\u0053ecretValue"},{"eventName":"DescribeSecret"}]}"#).unwrap();
    let pattern = Pattern::parse(r#"{ $.eventName = "GetSecretValue" }"#).unwrap();
    let (plain, fast) = both(path.to_str().unwrap(), Format::Auto, &pattern);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain, fast);
}

/// `secmon simulate` replays `records` through monitors of these patterns (each with its
/// default value, so that every event counts in every monitor), fast and plain.
fn simulate_both(paths: &[String], format: Format, patterns: &[&str]) -> (serde_json::Value, serde_json::Value) {
    let mut text = String::from(
        "version: 1\nname: fast\ntrail: { name: trail, bucket: { name: bucket-fast }, cloudwatch_logs: { log_group: g } }\nmonitors:\n",
    );
    for (i, p) in patterns.iter().enumerate() {
        text.push_str(&format!("  - name: m{i}\n    pattern: '{}'\n    metric: {{ name: M{i} }}\n", p.replace('\'', "''")));
    }
    let state = secmon_spec::Spec::parse(&text, "fast.yaml").unwrap().state;
    let fast = secmon_sim::simulate::simulate_as(&state, paths, format).unwrap();
    let plain = secmon_sim::simulate::simulate_plain(&state, paths, format).unwrap();
    (serde_json::to_value(fast).unwrap(), serde_json::to_value(plain).unwrap())
}

#[test]
fn simulate_on_the_fast_path_reports_what_a_plain_replay_reports_on_real_attack_records() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/stratus-red-team");
    let mut paths: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.display().to_string())
        .collect();
    paths.sort();
    assert!(paths.len() > 20, "{paths:?}");
    let state = secmon_spec::Spec::from_file(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/all-packs.yaml"))
        .unwrap()
        .state;
    let fast = serde_json::to_value(secmon_sim::simulate::simulate_as(&state, &paths, Format::Auto).unwrap()).unwrap();
    let plain = serde_json::to_value(secmon_sim::simulate::simulate_plain(&state, &paths, Format::Auto).unwrap()).unwrap();
    assert!(fast["events"].as_u64().unwrap() > 100, "{}", fast["events"]);
    assert_eq!(fast, plain);
}
