//! Issue 24, item 3: the pipeline proves itself. With `heartbeat: {every: 5m}`, a schedule rule
//! starts an Express state machine that reads a canary secret; a canary monitor counts the read
//! and pages when it stops. Applied, converged, verified and destroyed on the emulator, through
//! the real SDK; the other monitors are kept from counting the canary.

mod common;

use common::*;

const MACHINE: &str = "secmon-secrets-monitoring-heartbeat";
const CANARY: &str = "secmon/secrets-monitoring/heartbeat-canary";
const SCHEDULE: &str = "secmon-secrets-monitoring-heartbeat-schedule";

/// The seed with a heartbeat paging the seed's topic, in the world's scratch directory.
fn seed_with_heartbeat(w: &World, extra: &str) -> String {
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let spec = format!("{seed}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\n{extra}");
    let path = w.dir().join("seed-heartbeat.yaml");
    std::fs::write(&path, spec).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn issue_24_the_seed_with_a_heartbeat_applies_converges_verifies_and_goes() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_heartbeat(&w, "");
    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    for address in [
        format!("state_machine.{MACHINE}"),
        format!("event_rule.{SCHEDULE}"),
        format!("secret.{CANARY}"),
        "role.secmon-secrets-monitoring-heartbeat-read".into(),
        "role.secmon-secrets-monitoring-heartbeat-start".into(),
        "metric_filter.secmon-heartbeat".into(),
        "alarm.secmon-secrets-monitoring-heartbeat".into(),
    ] {
        assert!(out.contains(&address), "{address}: {out}");
    }
    w.apply_spec_converges(&spec);
    let aws = w.aws();

    // The state machine is Express, logs nothing, and reads the canary with the reader role.
    let arn = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}");
    let sm = w.rt.block_on(aws.sfn.describe_state_machine().state_machine_arn(&arn).send()).unwrap();
    assert_eq!(sm.r#type().as_str(), "EXPRESS");
    assert!(sm.definition().contains("aws-sdk:secretsmanager:getSecretValue") && sm.definition().contains(CANARY), "{}", sm.definition());
    assert!(sm.role_arn().ends_with(":role/secmon/secmon-secrets-monitoring-heartbeat-read"), "{}", sm.role_arn());

    // The schedule starts it every five minutes, with the starter role.
    let rule = w.rt.block_on(aws.events.describe_rule().name(SCHEDULE).send()).unwrap();
    assert_eq!(rule.schedule_expression(), Some("rate(5 minutes)"));
    let targets = w.rt.block_on(aws.events.list_targets_by_rule().rule(SCHEDULE).send()).unwrap();
    assert_eq!(targets.targets()[0].arn(), arn);
    assert!(targets.targets()[0].role_arn().unwrap_or_default().ends_with("heartbeat-start"));

    // The seed's own monitor no longer counts the canary's reads; the canary monitor does.
    let filters = w.rt.block_on(aws.logs.describe_metric_filters().log_group_name("secmon-secretsmanager-loggroup").send()).unwrap();
    let pattern = |name: &str| {
        filters
            .metric_filters()
            .iter()
            .find(|f| f.filter_name() == Some(name))
            .and_then(|f| f.filter_pattern())
            .unwrap_or_default()
            .to_string()
    };
    assert!(pattern("GetSecretValue").contains("sessionIssuer.arn NOT EXISTS"), "{}", pattern("GetSecretValue"));
    assert!(pattern("secmon-heartbeat").contains(CANARY), "{}", pattern("secmon-heartbeat"));

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    for check in ["state_machine.reads_canary", "state_machine.logging", "event_rule.schedule", "role.trust", "role.permissions"] {
        assert!(out.lines().any(|l| l.starts_with("ok") && l.contains(check)), "{check}: {out}");
    }

    let destroy = w.secmon(&["destroy", "-f", &spec, "--auto-approve"]);
    assert!(destroy.status.success(), "{}", text(&destroy.stderr));
    assert!(w.rt.block_on(aws.sfn.describe_state_machine().state_machine_arn(&arn).send()).is_err(), "the state machine is gone");
}
