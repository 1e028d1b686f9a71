//! Issue 24, item 3: the pipeline proves itself. With `heartbeat: {every: 5m}`, a schedule rule
//! starts an Express state machine that reads a canary secret; a canary monitor counts the read
//! and pages when it stops. Applied, converged, verified and destroyed on the emulator, through
//! the real SDK; the other monitors are kept from counting the canary.

use crate::common::*;

const MACHINE: &str = "secmon-secrets-monitoring-heartbeat";
const CANARY: &str = "secmon/secrets-monitoring/heartbeat-canary";
const SCHEDULE: &str = "secmon-secrets-monitoring-heartbeat-schedule";

/// A world where the seed with a heartbeat is applied and converged, and that spec's path.
#[track_caller]
fn beating() -> Option<(World, String)> {
    let w = World::new()?;
    let spec = seed_with_heartbeat(&w, false);
    w.apply_spec_converges(&spec);
    Some((w, spec))
}

/// The addresses of the heartbeat's parts, as plans name them.
fn parts() -> [String; 7] {
    [
        format!("state_machine.{MACHINE}"),
        format!("event_rule.{SCHEDULE}"),
        format!("secret.{CANARY}"),
        "role.secmon-secrets-monitoring-heartbeat-read".into(),
        "role.secmon-secrets-monitoring-heartbeat-start".into(),
        "metric_filter.secmon-heartbeat".into(),
        "alarm.secmon-secrets-monitoring-heartbeat".into(),
    ]
}

/// The seed with a heartbeat paging the seed's topic, in the world's scratch directory; with
/// `webhook`, critical alarms (the heartbeat's) also go to a PagerDuty webhook.
fn seed_with_heartbeat(w: &World, webhook: bool) -> String {
    let mut seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    if webhook {
        seed = seed.replacen("topics:\n", "topics:\n  - name: Pager\n    https: [{ env: SECMON_TEST_HEARTBEAT_PAGER }]\n", 1);
        seed.push_str("\nroutes: { critical: [Pager] }\n");
    }
    let spec = format!("{seed}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\n");
    w.write_spec("seed-heartbeat.yaml", &spec)
}

#[test]
fn issue_24_the_seed_with_a_heartbeat_and_a_webhook_route_applies_converges_verifies_and_goes() {
    let Some(w) = World::new() else { return };
    std::env::set_var("SECMON_TEST_HEARTBEAT_PAGER", "https://events.pagerduty.com/integration/0123456789abcdef/enqueue");
    let spec = seed_with_heartbeat(&w, true);
    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    // The plan states the price, item by item.
    assert!(out.contains("heartbeat: 8640 canary reads a month cost about $0.86 a month (canary secret $0.40"), "{out}");
    for address in parts() {
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

    // The heartbeat's alarm pages the seed's topic and, being critical, the webhook; its OK
    // resolves the page.
    let alarms = w.rt.block_on(aws.cloudwatch.describe_alarms().alarm_names("secmon-secrets-monitoring-heartbeat").send()).unwrap();
    let alarm = &alarms.metric_alarms()[0];
    let pager = "arn:aws:sns:us-east-1:123456789012:Pager";
    assert_eq!(alarm.alarm_actions(), [pager.to_string(), TOPIC_ARN.to_string()]);
    assert_eq!(alarm.ok_actions(), alarm.alarm_actions());
    // No data pages through the INSUFFICIENT_DATA actions, so that a brand-new alarm, which
    // starts with no data, pages no one at creation; zeros page through ALARM.
    assert_eq!(alarm.treat_missing_data(), Some("missing"));
    assert_eq!(alarm.insufficient_data_actions(), alarm.alarm_actions());
    assert_eq!((alarm.period(), alarm.evaluation_periods()), (Some(300), Some(3)));

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    for check in ["state_machine.reads_canary", "state_machine.logging", "event_rule.schedule", "role.trust", "role.permissions"] {
        assert!(out.lines().any(|l| l.starts_with("ok") && l.contains(check)), "{check}: {out}");
    }
    // The measured delay needs CloudTrail's delivery, which the emulator does not make: said so,
    // neither passed nor failed.
    assert!(out.lines().any(|l| l.starts_with("n/a") && l.contains("heartbeat.delivery")), "{out}");

    let destroy = w.secmon(&["destroy", "-f", &spec, "--auto-approve"]);
    assert!(destroy.status.success(), "{}", text(&destroy.stderr));
    assert!(w.rt.block_on(aws.sfn.describe_state_machine().state_machine_arn(&arn).send()).is_err(), "the state machine is gone");
}

const LOG_GROUP: &str = "secmon-secretsmanager-loggroup";
const ALARM: &str = "secmon-secrets-monitoring-heartbeat";
/// Beats per window: 30 minutes at 5 minutes, twice the 15 silent minutes that page.
const BEATS: i64 = 6;

/// The live alarm's settings, as the evaluator takes them.
fn live_alarm(w: &World, name: &str) -> (secmon_spec::Alarm, String) {
    let aws = w.aws();
    let found = w.rt.block_on(aws.cloudwatch.describe_alarms().alarm_names(name).send()).unwrap();
    let a = &found.metric_alarms()[0];
    let alarm = secmon_spec::Alarm {
        statistic: a.statistic().map(|s| s.as_str().to_string()).unwrap_or_default(),
        period: a.period().unwrap_or(60) as u32,
        evaluation_periods: a.evaluation_periods().unwrap_or(1) as u32,
        datapoints_to_alarm: a.datapoints_to_alarm().map(|d| d as u32),
        threshold: a.threshold().unwrap_or(0.0),
        comparison: secmon_spec::Comparison::parse(a.comparison_operator().map(|c| c.as_str()).unwrap_or_default()).unwrap(),
        treat_missing_data: secmon_spec::TreatMissingData::parse(a.treat_missing_data().unwrap_or("missing")).unwrap(),
        ..Default::default()
    };
    (alarm, a.metric_name().unwrap_or_default().to_string())
}

/// Plays `BEATS` beats from `start`, then computes the state of alarm `name` at the end as
/// CloudWatch would: the log group's events, replayed through the live metric filter of the
/// alarm's metric (none when it was deleted), the live alarm judging the result. The emulator
/// delivers; secmon's evaluator counts (the emulator computes no metric). Also answers where the
/// beats stopped.
fn alarm_after_beats(w: &World, start: i64, name: &str) -> (State, String) {
    let answers: Vec<String> = (0..BEATS).map(|k| w.emu.heartbeat(start + k * 300)).collect();
    let end = start + BEATS * 300;
    let aws = w.aws();
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page =
            w.rt.block_on(
                aws.logs
                    .filter_log_events()
                    .log_group_name(LOG_GROUP)
                    .start_time(start * 1000)
                    .end_time(end * 1000)
                    .set_next_token(token)
                    .send(),
            )
            .unwrap();
        events.extend(page.events().iter().map(|e| (e.timestamp().unwrap_or(0) / 1000, e.message().unwrap_or_default().to_string())));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let (alarm, metric) = live_alarm(w, name);
    let filters = w.rt.block_on(aws.logs.describe_metric_filters().log_group_name(LOG_GROUP).send()).unwrap();
    let samples = filters
        .metric_filters()
        .iter()
        .find(|f| f.metric_transformations().iter().any(|t| t.metric_name() == metric))
        .map(|f| {
            let t = &f.metric_transformations()[0];
            let pattern = secmon_sim::Pattern::parse(f.filter_pattern().unwrap_or_default()).unwrap();
            secmon_sim::alarm::emitted(&pattern, t.metric_value().parse().unwrap(), t.default_value(), &events)
        })
        .unwrap_or_default();
    let run = secmon_sim::alarm::evaluate(&alarm, &samples, &[], Some(start), Some(end));
    (secmon_sim::alarm::state_at(&run, end), answers.join("\n"))
}

use secmon_sim::alarm::State;

/// Whether the heartbeat's alarm in `state` pages: ALARM always; INSUFFICIENT_DATA (no data at
/// all: nothing reaches the log group, or nothing counts it) through its INSUFFICIENT_DATA
/// actions, which the live alarm must have.
fn pages(w: &World, state: State) -> bool {
    let aws = w.aws();
    let found = w.rt.block_on(aws.cloudwatch.describe_alarms().alarm_names(ALARM).send()).unwrap();
    let alarm = &found.metric_alarms()[0];
    match state {
        State::Alarm => !alarm.alarm_actions().is_empty(),
        State::InsufficientData => !alarm.insufficient_data_actions().is_empty(),
        State::Ok => false,
    }
}

#[test]
fn issue_24_stopping_the_trail_deleting_the_filter_or_breaking_the_key_pages_through_the_heartbeat() {
    let Some((w, spec)) = beating() else { return };
    let aws = w.aws();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let window = |i: i64| now - now % 300 - 86_400 + i * 3_600;

    // Healthy: every beat reaches the log group and the heartbeat stays OK; the seed's own
    // monitor, which counts every read, does not count the canary's.
    let (state, beats) = alarm_after_beats(&w, window(0), ALARM);
    assert_eq!(state, State::Ok, "{beats}");
    assert!(beats.contains(LOG_GROUP), "{beats}");
    let (seed_alarm, _) = alarm_after_beats(&w, window(1), "Secret is accessed");
    assert_ne!(seed_alarm, State::Alarm, "the canary's reads are not alerts");

    // The trail stopped: nothing reaches the log group, the heartbeat pages.
    w.rt.block_on(aws.cloudtrail.stop_logging().name("secrets-manager-trail").send()).unwrap();
    let (state, beats) = alarm_after_beats(&w, window(2), ALARM);
    assert!(pages(&w, state), "{state:?} {beats}");
    assert!(beats.contains("is not logging"), "{beats}");
    w.apply_spec_converges(&spec);
    assert_eq!(alarm_after_beats(&w, window(3), ALARM).0, State::Ok, "restarted by apply");

    // The canary's filter deleted: the reads arrive and nothing counts them.
    w.rt.block_on(aws.logs.delete_metric_filter().log_group_name(LOG_GROUP).filter_name("secmon-heartbeat").send()).unwrap();
    let (state, beats) = alarm_after_beats(&w, window(4), ALARM);
    assert!(pages(&w, state), "{state:?} {beats}");
    assert!(beats.contains(LOG_GROUP), "the reads still arrive: {beats}");
    w.apply_spec_converges(&spec);

    // The key policy's CloudWatch Logs statement removed: CloudTrail can no longer write to the
    // encrypted log group.
    let key = w.rt.block_on(aws.kms.describe_key().key_id("alias/secmon/secrets-monitoring").send()).unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    let policy = w.rt.block_on(aws.kms.get_key_policy().key_id(&key_id).policy_name("default").send()).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statements = doc["Statement"].as_array_mut().unwrap();
    let before = statements.len();
    statements.retain(|s| !s["Principal"]["Service"].to_string().contains("logs."));
    assert!(statements.len() < before, "the key has a CloudWatch Logs statement: {doc}");
    w.rt.block_on(aws.kms.put_key_policy().key_id(&key_id).policy_name("default").policy(doc.to_string()).send()).unwrap();
    let (state, beats) = alarm_after_beats(&w, window(5), ALARM);
    assert!(pages(&w, state), "{state:?} {beats}");
    assert!(beats.contains("does not let CloudWatch Logs use it"), "{beats}");
    w.apply_spec_converges(&spec);
    assert_eq!(alarm_after_beats(&w, window(6), ALARM).0, State::Ok, "repaired by apply");

    // The schedule disabled while the trail keeps delivering other events: the filter publishes
    // zeros, and the heartbeat goes to ALARM.
    let schedule = w.rt.block_on(aws.events.describe_rule().name(SCHEDULE).send()).unwrap();
    w.rt.block_on(aws.events.disable_rule().name(SCHEDULE).send()).unwrap();
    let stream = "123456789012_CloudTrail_us-east-1";
    let _ = w.rt.block_on(aws.logs.create_log_stream().log_group_name(LOG_GROUP).log_stream_name(stream).send());
    let others: Vec<secmon_aws::logs::types::InputLogEvent> = (0..BEATS)
        .map(|k| {
            let record = serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "readOnly": true});
            secmon_aws::logs::types::InputLogEvent::builder()
                .timestamp((window(7) + k * 300) * 1000)
                .message(record.to_string())
                .build()
                .unwrap()
        })
        .collect();
    w.rt.block_on(aws.logs.put_log_events().log_group_name(LOG_GROUP).log_stream_name(stream).set_log_events(Some(others)).send()).unwrap();
    let (state, beats) = alarm_after_beats(&w, window(7), ALARM);
    assert_eq!(state, State::Alarm, "{beats}");
    assert_eq!(schedule.state().map(|s| s.as_str()), Some("ENABLED"));
}

#[test]
fn issue_24_turning_the_heartbeat_off_removes_every_part_and_on_again_restores_it() {
    let Some((w, spec)) = beating() else { return };
    let aws = w.aws();

    // Off: the plan deletes what the heartbeat made, and gives the seed's filter its pattern back.
    let plan = w.secmon(&["plan", "-f", SEED]);
    let out = text(&plan.stdout);
    for gone in parts() {
        assert!(out.contains(&format!("# {gone} will be destroyed")), "{gone}: {out}");
    }
    assert!(out.contains("# metric_filter.GetSecretValue will be updated in-place"), "{out}");
    w.apply_spec_converges(SEED);
    let arn = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}");
    assert!(w.rt.block_on(aws.sfn.describe_state_machine().state_machine_arn(&arn).send()).is_err(), "the state machine is gone");
    assert!(w.rt.block_on(aws.events.describe_rule().name(SCHEDULE).send()).is_err(), "the schedule is gone");
    assert!(w.rt.block_on(aws.iam.get_role().role_name("secmon-secrets-monitoring-heartbeat-read").send()).is_err());

    // On again: the canary, scheduled for deletion, is restored rather than made anew.
    w.apply_spec_converges(&spec);
    let canary = w.rt.block_on(aws.secretsmanager.describe_secret().secret_id(CANARY).send()).unwrap();
    assert!(canary.deleted_date().is_none(), "restored");
    assert_eq!(w.emu.heartbeat(1_800_000_000).matches(LOG_GROUP).count(), 1, "and it beats again");
}

/// The state machine kind's contract includes import: a state machine of the heartbeat's name
/// made by hand is not taken over silently (the plan stops and names `secmon import`); imported,
/// it is replaced (a standard workflow cannot become an Express one in place) and converges.
#[test]
fn issue_24_a_hand_made_state_machine_of_the_heartbeats_name_is_imported_not_overwritten() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_heartbeat(&w, false);
    let aws = w.aws();
    let role = "arn:aws:iam::123456789012:role/hand-made";
    let definition = r#"{"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": true}}}"#;
    w.rt.block_on(aws.sfn.create_state_machine().name(MACHINE).definition(definition).role_arn(role).send()).unwrap();
    let plan = w.secmon(&["plan", "-f", &spec]);
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stdout));
    let all = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    assert!(all.contains("secmon import") && all.contains(&format!("state_machine.{MACHINE}")), "{all}");
    let out = w.secmon(&["import", "-f", &spec, &format!("state_machine.{MACHINE}"), "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let plan = w.secmon(&["plan", "-f", &spec]);
    assert!(text(&plan.stdout).contains("must be replaced") || text(&plan.stdout).contains("replace"), "{}", text(&plan.stdout));
    w.apply_spec_converges(&spec);
    let arn = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}");
    let sm = w.rt.block_on(aws.sfn.describe_state_machine().state_machine_arn(&arn).send()).unwrap();
    assert!(sm.definition().contains(CANARY), "the spec's definition now: {}", sm.definition());
    assert_eq!(sm.r#type().as_str(), "EXPRESS");
}
