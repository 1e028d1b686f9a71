//! Issue 24, item 1: context in every alert. With `alert_context: true`, each monitor EventBridge
//! can express gets a rule whose input transformer tells the monitor's topics who did what, from
//! where; the topic policy admits exactly those rules. Applied, converged, verified, repaired,
//! turned off and destroyed on the emulator, through the real SDK.

use crate::common::*;
use secmon_aws::events::types::RuleState;

const RULE: &str = "secmon-secrets-monitoring-Secret-is-accessed";

/// The seed with `alert_context: true`, written to the world's scratch directory.
fn seed_with_context(w: &World, on: bool) -> String {
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let spec = seed.replacen("name: secrets-monitoring\n", &format!("name: secrets-monitoring\nalert_context: {on}\n"), 1);
    assert_ne!(spec, seed);
    w.write_spec(&format!("seed-context-{on}.yaml"), &spec)
}

#[test]
fn issue_24_the_seed_with_alert_context_applies_converges_verifies_repairs_and_goes() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_context(&w, true);
    w.apply_spec_converges(&spec);
    let aws = w.aws();

    // The rule receives read-only management events and sends its text to the seed's topic.
    let rule = w.rt.block_on(aws.events.describe_rule().name(RULE).send()).unwrap();
    assert_eq!(rule.state(), Some(&RuleState::EnabledWithAllCloudtrailManagementEvents));
    let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(pattern["detail"]["eventName"], serde_json::json!(["GetSecretValue"]));
    let targets = w.rt.block_on(aws.events.list_targets_by_rule().rule(RULE).send()).unwrap();
    let target = &targets.targets()[0];
    assert_eq!(target.arn(), TOPIC_ARN);
    let transformer = target.input_transformer().unwrap();
    assert_eq!(transformer.input_paths_map().unwrap()["principal"], "$.detail.userIdentity.arn");
    assert!(transformer.input_template().contains("Source IP: <ip>"), "{}", transformer.input_template());

    // The topic admits exactly this rule, of this account.
    let attrs = w.rt.block_on(aws.sns.get_topic_attributes().topic_arn(TOPIC_ARN).send()).unwrap();
    let policy = &attrs.attributes().unwrap()["Policy"];
    assert!(policy.contains("events.amazonaws.com") && policy.contains(&format!("rule/{RULE}")), "{policy}");

    // One ListRules answers every rule of the spec; each rule's targets cost one call more.
    let stats = text(&w.secmon(&["plan", "-f", &spec, "--stats"]).stderr);
    assert_eq!((calls(&stats, "ListRules"), calls(&stats, "ListTargetsByRule"), calls(&stats, "DescribeRule")), (1, 1, 0), "{stats}");

    // The alarm's description carries the Logs Insights query that lists the events behind it.
    let alarms = w.rt.block_on(aws.cloudwatch.describe_alarms().alarm_names("Secret is accessed").send()).unwrap();
    let description = alarms.metric_alarms()[0].alarm_description().unwrap_or_default().to_string();
    assert!(
        description.contains("Events: CloudWatch Logs Insights on log group secmon-secretsmanager-loggroup")
            && description.contains(r#"| filter (eventSource = "secretsmanager.amazonaws.com" and eventName = "GetSecretValue") |"#),
        "{description}"
    );

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    for check in ["event_rule.state", "event_rule.pattern", "event_rule.targets"] {
        assert!(out.lines().any(|l| l.starts_with("ok") && l.contains(check)), "{check}: {out}");
    }

    // Someone sets the rule to ENABLED: GetSecretValue would no longer reach it. Verify says so,
    // plan shows the repair, apply makes it.
    w.rt.block_on(aws.events.put_rule().name(RULE).event_pattern(rule.event_pattern().unwrap()).state(RuleState::Enabled).send()).unwrap();
    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| !l.starts_with("ok") && l.contains("event_rule.state") && l.contains("never reach")), "{out}");
    let plan = w.secmon(&["plan", "-f", &spec, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stdout));
    assert!(
        text(&plan.stdout).contains("~ state = \"ENABLED\" -> \"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS\""),
        "{}",
        text(&plan.stdout)
    );
    w.apply_spec_converges(&spec);

    // Turned off: the rule goes, and the topic policy no longer admits EventBridge.
    let off = seed_with_context(&w, false);
    let plan = w.secmon(&["plan", "-f", &off]);
    assert!(text(&plan.stdout).contains(&format!("event_rule.{RULE} will be destroyed")), "{}", text(&plan.stdout));
    w.apply_spec_converges(&off);
    let gone = w.rt.block_on(aws.events.describe_rule().name(RULE).send());
    assert!(gone.is_err(), "the rule is deleted");
    let attrs = w.rt.block_on(aws.sns.get_topic_attributes().topic_arn(TOPIC_ARN).send()).unwrap();
    assert!(!attrs.attributes().unwrap()["Policy"].contains("events.amazonaws.com"));

    // On again, then destroyed: nothing of it is left.
    w.apply_spec_converges(&spec);
    let destroy = w.secmon(&["destroy", "-f", &spec, "--auto-approve"]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy.stderr));
    assert!(w.rt.block_on(aws.events.describe_rule().name(RULE).send()).is_err(), "destroy deletes the rule");
}

/// A rule of the same name that another spec owns is not taken over.
#[test]
fn issue_24_a_rule_of_the_same_name_not_tagged_for_the_spec_is_not_adopted() {
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    let pattern = r#"{"source":["aws.secretsmanager"]}"#;
    w.rt.block_on(aws.events.put_rule().name(RULE).event_pattern(pattern).state(RuleState::Enabled).send()).unwrap();
    let spec = seed_with_context(&w, true);
    let out = w.secmon(&["apply", "-f", &spec, "--auto-approve"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains(RULE), "the refusal names the rule: {}", text(&out.stderr));
    let rule = w.rt.block_on(aws.events.describe_rule().name(RULE).send()).unwrap();
    assert_eq!(rule.event_pattern(), Some(pattern), "the other rule is unchanged");
}

/// The error code of a refused call.
fn code<T, E: secmon_aws::ProvideErrorMetadata, R>(r: Result<T, secmon_aws::SdkError<E, R>>) -> Option<String> {
    r.err().and_then(|e| secmon_aws::error_code(&e).map(str::to_string))
}

/// What moto lets through and AWS refuses (PutRule and PutTargets API references), refused by
/// the emulator too; and what AWS accepts, accepted.
#[test]
fn issue_24_the_emulator_refuses_rules_aws_refuses() {
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    // Each call answers the error code AWS (and now the emulator) refuses it with, or None.
    let put = |name: &str, state: RuleState, pattern: &str| {
        code(w.rt.block_on(aws.events.put_rule().name(name).event_pattern(pattern).state(state).send()))
    };
    let small = r#"{"source":["aws.secretsmanager"]}"#;
    assert_eq!(put("ok-rule", RuleState::EnabledWithAllCloudtrailManagementEvents, small), None);
    assert_eq!(put("bad state", RuleState::Enabled, small).as_deref(), Some("ValidationException"), "a space in the name");
    assert_eq!(put("x", RuleState::from("ENABLED_FOR_EVERYTHING"), small).as_deref(), Some("ValidationException"), "an unknown state");
    let long = format!(r#"{{"source":["{}"]}}"#, "a".repeat(4100));
    assert_eq!(put("x", RuleState::Enabled, &long).as_deref(), Some("ValidationException"), "a pattern over 4,096 characters");

    use secmon_aws::events::types::{InputTransformer, Target};
    let target = |id: &str, key: &str| {
        let t = InputTransformer::builder().input_paths_map(key, "$.detail").input_template("\"<x>\"").build().unwrap();
        Target::builder().id(id).arn(TOPIC_ARN).input_transformer(t).build().unwrap()
    };
    let put_target = |t: Target| code(w.rt.block_on(aws.events.put_targets().rule("ok-rule").targets(t).send()));
    assert_eq!(put_target(target("SecurityAlarms", "x")), None);
    assert_eq!(put_target(target("Security Alarms", "x")).as_deref(), Some("ValidationException"), "a space in the id");
    assert_eq!(put_target(target("t", "AWS.x")).as_deref(), Some("ValidationException"), "a reserved path name");
}

/// A monitor EventBridge cannot express keeps its alarm, and the plan says why it has no context.
#[test]
fn issue_24_a_monitor_without_an_event_pattern_is_named_in_the_plan_with_why() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_context(&w, true);
    let text_monitor = "  - name: Reads by text\n    pattern: 'GetSecretValue'\n    metric: { namespace: SecurityMetrics, name: TextReads, value: \"1\" }\n    notify: [SecurityAlarms]\n";
    let yaml = std::fs::read_to_string(&spec).unwrap().replacen("monitors:\n", &format!("monitors:\n{text_monitor}"), 1);
    std::fs::write(&spec, yaml).unwrap();
    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    assert!(out.contains("monitor `Reads by text` has no alert context (alert_context): a term pattern"), "{out}");
    assert!(out.contains(&format!("event_rule.{RULE} will be created")), "{out}");
    assert!(!out.contains("event_rule.secmon-secrets-monitoring-Reads-by-text"), "{out}");
}
