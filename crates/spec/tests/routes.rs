//! Issue 24, item 2: alerts routed by severity. A monitor notifies its own topics and those
//! `routes` gives its severity; pack rules carry a severity of their own; `ok_actions` asks for
//! the return to OK too.

use secmon_spec::{AlarmSeverity, Spec};

const BASE: &str = "version: 1\nname: t\ntrail:\n  name: trail-a\n  bucket: { name: bucket-a }\n  cloudwatch_logs: { log_group: lg }\ntopics:\n  - name: Pager\n  - name: Mail\n    email: [a@example.com]\n";

fn spec(extra: &str) -> Spec {
    Spec::parse(&format!("{BASE}{extra}"), "routes.yaml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_monitor_notifies_its_own_topics_and_its_severitys_route() {
    let s = spec("routes:\n  critical: [Pager, Mail]\n  high: [Mail]\nmonitors:\n  - name: Decoy read\n    pattern: '{ $.eventName = \"GetSecretValue\" }'\n    metric: { name: D }\n    severity: critical\n    notify: [Mail]\n  - name: Unrouted\n    pattern: '{ $.eventName = \"GetSecretValue\" }'\n    metric: { name: U }\n    notify: [Mail]\n");
    let m = &s.state.monitors;
    assert_eq!(m[0].severity, Some(AlarmSeverity::Critical));
    assert_eq!(m[0].notify, ["Mail", "Pager"], "its own first, then the route's, each once");
    assert_eq!(m[1].notify, ["Mail"], "no severity, no route");
}

#[test]
fn pack_rules_are_routed_by_their_packs_severity_unless_overridden() {
    let s = spec("routes:\n  critical: [Pager]\n  high: [Mail]\npacks:\n  - secret-access\n  - self-protection\n  - name: cis-aws-foundations\n    rules:\n      CIS-4.3: { severity: critical }\n");
    let of = |rule: &str| s.state.monitors.iter().find(|m| m.rule.as_deref() == Some(rule)).unwrap();
    assert_eq!(of("SECRET-READ").severity, Some(AlarmSeverity::High));
    assert_eq!(of("SECRET-READ").notify, ["Mail"], "with routes, a pack goes where its severity is routed, not to every topic");
    assert_eq!(of("GUARD-TRAIL").notify, ["Pager"]);
    assert_eq!(of("CIS-4.3").notify, ["Pager"], "the override's severity");
    assert!(of("CIS-4.1").notify.is_empty(), "medium is routed nowhere: validate warns that it notifies nobody");
    assert!(s.warnings.iter().any(|w| w.message.contains("notifies nobody")), "{:?}", s.warnings);
}

#[test]
fn without_routes_packs_notify_every_topic_as_before() {
    let s = spec("packs: [secret-access]\n");
    assert_eq!(s.state.monitors[0].notify, ["Pager", "Mail"]);
}

#[test]
fn ok_actions_is_read_and_off_by_default() {
    let m = "monitors:\n  - name: M\n    pattern: '{ $.eventName = \"GetSecretValue\" }'\n    metric: { name: M }\n    notify: [Pager]\n";
    assert!(!spec(m).state.monitors[0].alarm.ok_actions);
    let with = m.replace("    notify: [Pager]\n", "    notify: [Pager]\n    alarm: { ok_actions: true }\n");
    assert!(spec(&with).state.monitors[0].alarm.ok_actions);
}

/// A Teams channel id written as Teams shows it is sent to Chatbot as its API takes it, encoded
/// as the channel's link carries it; the two forms are the same channel.
#[test]
fn a_teams_channel_id_as_teams_shows_it_is_encoded() {
    let base = BASE.replace("  - name: Pager\n", "  - name: Pager\n    teams:\n      - { tenant: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0, team: 11111111-2222-3333-4444-555555555555, channel: \"CHANNEL\" }\n");
    let parse = |channel: &str| Spec::parse(&base.replace("CHANNEL", channel), "teams.yaml").unwrap_or_else(|e| panic!("{e}"));
    let shown = parse("19:abcdef0123@thread.tacv2");
    let linked = parse("19%3aabcdef0123%40thread.tacv2");
    assert_eq!(shown.state.topics[0].teams[0].channel, "19%3aabcdef0123%40thread.tacv2");
    assert_eq!(shown.state.topics[0].teams, linked.state.topics[0].teams);
}
