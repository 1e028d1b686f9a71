//! Issue 24, item 1: the alert's fast path, proven on real attack records (Stratus Red Team):
//! each monitor's EventBridge pattern matches exactly what its metric filter counts, and the
//! notification a responder receives for each secret read is reviewed here, as a golden file.

use std::path::PathBuf;

use secmon_sim::eventbridge::{envelope, event_pattern, matches, Transformer};
use secmon_sim::{Event, Pattern};
use secmon_spec::Spec;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every record of every Stratus technique file, with its file's name.
fn stratus_records() -> Vec<(String, Value)> {
    let dir = root().join("tests/fixtures/stratus-red-team");
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| n.ends_with(".json")) {
        let records: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(dir.join(&name)).unwrap()).unwrap();
        out.extend(records.into_iter().map(|r| (name.clone(), r)));
    }
    out
}

fn filter_matches(p: &Pattern, record: &Value) -> bool {
    let message = record.to_string();
    p.matches(&Event { message: &message, json: Some(record) })
}

#[test]
fn every_translatable_monitor_alerts_on_exactly_the_records_its_filter_counts() {
    let records = stratus_records();
    let mut translated = 0;
    let mut disagreements = Vec::new();
    for spec in ["specs/seed.yaml", "specs/all-packs.yaml"] {
        let spec = Spec::from_file(&root().join(spec)).unwrap();
        for m in &spec.state.monitors {
            let p = Pattern::parse(&m.pattern).unwrap();
            let Ok(ep) = event_pattern(&p) else { continue };
            translated += 1;
            for (file, r) in &records {
                let (counted, alerted) = (filter_matches(&p, r), matches(&ep, &envelope(r)));
                if counted != alerted {
                    disagreements.push(format!("{}: {file} {}: filter {counted}, event pattern {alerted}", m.name, r["eventName"]));
                }
            }
        }
    }
    assert!(translated >= 20, "most monitors have the fast path ({translated})");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The records that the seed's monitor and the secret-access pack's rules count get the
/// notification in the golden file, byte for byte: review it as a responder would read it.
/// `UPDATE_GOLDEN=1` rewrites it.
#[test]
fn the_notification_of_each_stratus_secret_read_is_the_reviewed_text() {
    let seed = Spec::from_file(&root().join("specs/seed.yaml")).unwrap();
    let packs = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let secret_access = ["SECRET-READ", "PARAMETER-READ", "PASSWORD-DATA-READ"];
    let monitors =
        seed.state.monitors.iter().take(1).map(|m| (&seed, m)).chain(
            packs.state.monitors.iter().filter(|m| m.rule.as_deref().is_some_and(|r| secret_access.contains(&r))).map(|m| (&packs, m)),
        );
    let records = stratus_records();
    let mut got = String::new();
    for (spec, m) in monitors {
        let p = Pattern::parse(&m.pattern).unwrap();
        let log_group = &spec.state.trail.as_ref().unwrap().cloudwatch_logs.as_ref().unwrap().log_group;
        let t = Transformer::notification(&m.name, log_group, m.alarm_description().as_deref());
        for (file, r) in records.iter().filter(|(_, r)| filter_matches(&p, r)) {
            got.push_str(&format!("== {} {file} {}\n{}\n\n", m.name, r["eventID"].as_str().unwrap_or_default(), t.render(&envelope(r))));
        }
    }
    for technique in
        ["secretsmanager-retrieve-secrets", "secretsmanager-batch-retrieve-secrets", "ssm-retrieve-securestring", "ec2-get-password-data"]
    {
        assert!(got.contains(technique), "{technique} is among the notified reads");
    }
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/notifications.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(want == got, "the notifications changed; review and rerun with UPDATE_GOLDEN=1:\n{got}");
}

/// A monitor's own `alert_context` overrides the spec's both ways: on for a rare event in a spec
/// without it, off for a busy one in a spec with it (docs/alerts.md: one message per event).
#[test]
fn a_monitors_alert_context_overrides_the_specs() {
    use secmon_sim::eventbridge::fast_path_monitors;
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let with = |spec_level: &str, monitor_level: &str| {
        let text = seed.replacen("name: secrets-monitoring\n", &format!("name: secrets-monitoring\n{spec_level}"), 1).replacen(
            "    notify: [SecurityAlarms]\n",
            &format!("    notify: [SecurityAlarms]\n{monitor_level}"),
            1,
        );
        let spec = Spec::parse(&text, "seed.yaml").unwrap();
        fast_path_monitors(&spec.state).len()
    };
    assert_eq!(with("", ""), 0, "off by default");
    assert_eq!(with("alert_context: true\n", ""), 1);
    assert_eq!(with("alert_context: true\n", "    alert_context: false\n"), 0, "a busy monitor opts out");
    assert_eq!(with("", "    alert_context: true\n"), 1, "a rare one opts in");
}

/// Issue 24: a topic that posts to chat only gets the alert context as an AWS Chatbot custom
/// notification, the one form of a message not sent by an AWS service that Chatbot posts. For
/// every Stratus secret read, it is valid JSON of Chatbot's schema, and says what the text says;
/// a caller's user agent with quotes and a line break stays inside its string.
#[test]
fn the_chat_notification_of_each_stratus_secret_read_is_a_chatbot_custom_notification() {
    let packs = Spec::from_file(&root().join("specs/all-packs.yaml")).unwrap();
    let m = packs.state.monitors.iter().find(|m| m.rule.as_deref() == Some("SECRET-READ")).unwrap();
    let p = Pattern::parse(&m.pattern).unwrap();
    let text = Transformer::notification(&m.name, "lg", m.alarm_description().as_deref());
    let chat = Transformer::chat_notification(&m.name, "lg", m.alarm_description().as_deref());
    assert!(chat.json && !text.json);
    assert!(chat.template.len() <= 8192, "InputTemplate's limit");
    let records = stratus_records();
    let mut seen = 0;
    for (file, r) in records.iter().filter(|(_, r)| filter_matches(&p, r)) {
        let rendered = chat.render(&envelope(r));
        let n: serde_json::Value = serde_json::from_str(&rendered).unwrap_or_else(|e| panic!("{file}: {e}: {rendered}"));
        assert_eq!((n["version"].as_str(), n["source"].as_str()), (Some("1.0"), Some("custom")), "{file}");
        assert_eq!(n["id"], r["eventID"], "{file}");
        let said = text.render(&envelope(r));
        let title = n["content"]["title"].as_str().unwrap();
        assert!(said.starts_with(&format!("\"{title}\"")), "{file}: the same title: {said}");
        for line in n["content"]["description"].as_str().unwrap().lines() {
            assert!(said.contains(&format!("\"{line}\"")), "{file}: the text says {line:?} too: {said}");
        }
        assert!(n["content"]["nextSteps"][0].as_str().unwrap().starts_with("Runbook: "), "{file}");
        seen += 1;
    }
    assert!(seen >= 3, "the Stratus secret reads are there: {seen}");
    let (_, r) = records.iter().find(|(_, r)| filter_matches(&p, r)).unwrap();
    let mut hostile = r.clone();
    hostile["userAgent"] = serde_json::json!("x\", \"source\": \"forged\nline <b>");
    let n: serde_json::Value = serde_json::from_str(&chat.render(&envelope(&hostile))).unwrap();
    assert_eq!(n["source"], "custom");
    assert!(n["content"]["description"].as_str().unwrap().contains("User agent: x\", \"source\": \"forged\nline <b>"));
}
