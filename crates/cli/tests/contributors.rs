//! Issue 25, item 1: counting per principal without naming each one. The secret-access pack's
//! `per_principal` and a hand-written `contributors:` entry become CloudWatch Contributor Insights
//! rules on the trail's log group, each with an alarm on `INSIGHT_RULE_METRIC`; they apply,
//! converge, verify and go away with the option, and the emulator refuses what AWS refuses.

use crate::common::*;

fn seed_with_contributors(w: &World, per_principal: bool, hand_written: bool) -> String {
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let mut spec = format!("{seed}\npacks:\n  - name: secret-access\n    per_principal: {per_principal}\n  - self-protection\n");
    if hand_written {
        spec.push_str(
            "contributors:\n  - name: console-logins-by-ip\n    pattern: '{ ($.eventName = \"ConsoleLogin\") && ($.errorMessage = \"Failed*\") }'\n    keys: [$.sourceIPAddress]\n    alarm: { threshold: 10, period: 300 }\n    notify: [SecurityAlarms]\n",
        );
    }
    w.write_spec("contributors.yaml", &spec)
}

fn rules(w: &World) -> Vec<(String, serde_json::Value)> {
    let out = w.rt.block_on(w.aws().cloudwatch.describe_insight_rules().send()).unwrap();
    let mut rules: Vec<(String, serde_json::Value)> = out
        .insight_rules()
        .iter()
        .map(|r| (r.name().unwrap_or_default().to_string(), serde_json::from_str(r.definition().unwrap_or_default()).unwrap()))
        .collect();
    rules.sort_by(|a, b| a.0.cmp(&b.0));
    rules
}

#[test]
fn issue_25_per_principal_counting_applies_converges_verifies_and_goes_away_with_the_option() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_contributors(&w, true, true);

    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    for name in [
        "SECRET-READS-BY-PRINCIPAL",
        "SECRET-DENIALS-BY-PRINCIPAL",
        "SECRET-ENUMERATION-BY-PRINCIPAL",
        "SECRET-READ-SPREAD",
        "console-logins-by-ip",
    ] {
        assert!(out.contains(&format!("insight_rule.{name}")) && out.contains(&format!("alarm.{name}")), "{name}: {out}");
    }
    assert!(out.contains("$0.50 a month for the rule"), "the plan says what a rule costs: {out}");

    w.apply_spec_converges(&spec);
    let live = rules(&w);
    let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "SECRET-DENIALS-BY-PRINCIPAL",
            "SECRET-ENUMERATION-BY-PRINCIPAL",
            "SECRET-READ-SPREAD",
            "SECRET-READS-BY-PRINCIPAL",
            "console-logins-by-ip"
        ]
    );
    let reads = &live.iter().find(|(n, _)| n == "SECRET-READS-BY-PRINCIPAL").unwrap().1;
    assert_eq!(reads["LogGroupNames"], serde_json::json!(["secmon-secretsmanager-loggroup"]));
    assert_eq!(reads["Contribution"]["Keys"], serde_json::json!(["$.userIdentity.arn"]));

    // The alarm reads the rule's top contributor, over five minutes.
    let alarms = w.rt.block_on(w.aws().cloudwatch.describe_alarms().alarm_names("SECRET-READS-BY-PRINCIPAL").send()).unwrap();
    let alarm = &alarms.metric_alarms()[0];
    let query = &alarm.metrics()[0];
    assert_eq!(query.expression(), Some("INSIGHT_RULE_METRIC('SECRET-READS-BY-PRINCIPAL', 'MaxContributorValue')"));
    assert_eq!((query.period(), alarm.threshold()), (Some(300), Some(50.0)));
    // Owned through the tagging index, like every other taggable kind.
    let tagged = w.rt.block_on(w.aws().tagging.get_resources().resource_type_filters("cloudwatch:insight-rule").send()).unwrap();
    assert_eq!(tagged.resource_tag_mapping_list().len(), 5);

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| l.starts_with("ok") && l.contains("insight_rule.definition") && l.contains("SECRET-READ-SPREAD")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("ok") && l.contains("alarm.metric") && l.contains("INSIGHT_RULE_METRIC")), "{out}");

    // Disabled by hand: verify fails, the plan repairs it.
    w.rt.block_on(w.aws().cloudwatch.disable_insight_rules().rule_names("SECRET-READ-SPREAD").send()).unwrap();
    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| l.starts_with("FAILED") && l.contains("insight_rule.state") && l.contains("DISABLED")), "{out}");
    w.apply_spec_converges(&spec);

    // The option off: the pack's four rules and their alarms go; the hand-written one stays.
    let fewer = seed_with_contributors(&w, false, true);
    w.apply_spec_converges(&fewer);
    assert_eq!(rules(&w).into_iter().map(|(n, _)| n).collect::<Vec<_>>(), ["console-logins-by-ip"]);
    let gone = w.rt.block_on(w.aws().cloudwatch.describe_alarms().alarm_names("SECRET-READS-BY-PRINCIPAL").send()).unwrap();
    assert!(gone.metric_alarms().is_empty());

    let destroy = w.secmon(&["destroy", "-f", &fewer, "--auto-approve"]);
    assert!(destroy.status.success(), "{}", text(&destroy.stderr));
    assert!(rules(&w).is_empty());
}

/// A pattern no rule can say is an error at its line, and nothing changes in AWS.
#[test]
fn issue_25_a_contributor_pattern_no_rule_can_say_stops_before_any_call() {
    let Some(w) = World::new() else { return };
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let spec = w.write_spec(
        "bad.yaml",
        &format!("{seed}contributors:\n  - name: by-ip\n    pattern: '{{ ($.eventName = \"A\") || ($.eventSource = \"b\") }}'\n    keys: [$.sourceIPAddress]\n    alarm: {{ threshold: 5 }}\n"),
    );
    let line = std::fs::read_to_string(&spec).unwrap().lines().position(|l| l.contains("pattern: '{ ($.eventName = \"A\")")).unwrap() + 1;
    let validate = w.secmon(&["validate", "-f", &spec]);
    assert_eq!(validate.status.code(), Some(1));
    let err = text(&validate.stderr);
    assert!(err.contains(&format!("bad.yaml:{line}:")) && err.contains("error: contributors[0].pattern"), "file, line and field: {err}");
    let plan = w.secmon(&["plan", "-f", &spec]);
    assert_eq!(plan.status.code(), Some(1), "an invalid spec: {}", text(&plan.stdout));
    let err = text(&plan.stderr);
    assert!(err.contains("contributors[0].pattern") && err.contains("different fields"), "{err}");
    assert!(rules(&w).is_empty());
}

/// What AWS refuses of a rule (PutInsightRule API reference, "Contributor Insights rule syntax"),
/// the emulator refuses too; what it accepts passes.
#[test]
fn the_emulator_refuses_the_rules_aws_refuses() {
    let Some(w) = World::new() else { return };
    // AWS's error code, or None when the rule was accepted.
    let put = |definition: serde_json::Value| -> Option<String> {
        let request = w.aws().cloudwatch.put_insight_rule().rule_name("r").rule_state("ENABLED").rule_definition(definition.to_string());
        w.rt.block_on(request.send()).err().map(|e| secmon_aws::ProvideErrorMetadata::code(&e).unwrap_or("?").to_string())
    };
    let filter = serde_json::json!({"Match": "$.eventName", "In": ["A"]});
    let rule = |filters: Vec<serde_json::Value>, keys: Vec<&str>| {
        serde_json::json!({"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["lg"], "LogFormat": "JSON",
            "Contribution": {"Keys": keys, "Filters": filters}, "AggregateOn": "Count"})
    };
    assert_eq!(put(rule(vec![filter.clone(); 4], vec!["$.a", "$.b", "$.c", "$.d"])), None, "four filters, four keys: accepted");
    let refused = Some("InvalidParameterValue".to_string());
    assert_eq!(put(rule(vec![filter.clone(); 5], vec!["$.a"])), refused, "five filters");
    assert_eq!(put(rule(vec![filter.clone()], vec!["$.a", "$.b", "$.c", "$.d", "$.e"])), refused, "five keys");
    let ten: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(put(rule(vec![serde_json::json!({"Match": "$.a", "In": ten.clone()})], vec!["$.a"])), None, "ten values");
    let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    assert_eq!(put(rule(vec![serde_json::json!({"Match": "$.a", "In": eleven})], vec!["$.a"])), refused, "eleven values");
    assert_eq!(put(rule(vec![serde_json::json!({"Match": "$.a", "In": ["x"], "NotIn": ["y"]})], vec!["$.a"])), refused, "two operators");
}

/// The kind's contract includes import: a Contributor Insights rule of a contributor's name made
/// by hand (another team's) is not overwritten (the plan stops and names `secmon import`);
/// imported, it is updated to the spec's definition and converges.
#[test]
fn issue_25_a_hand_made_rule_of_a_contributors_name_is_imported_not_overwritten() {
    let Some(w) = World::new() else { return };
    let spec = seed_with_contributors(&w, false, true);
    let theirs = serde_json::json!({"Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": ["elsewhere"],
        "LogFormat": "JSON", "Contribution": {"Keys": ["$.sourceIPAddress"], "Filters": []}, "AggregateOn": "Count"});
    let request =
        w.aws().cloudwatch.put_insight_rule().rule_name("console-logins-by-ip").rule_state("ENABLED").rule_definition(theirs.to_string());
    w.rt.block_on(request.send()).unwrap();
    let plan = w.secmon(&["plan", "-f", &spec]);
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan.stdout));
    let all = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    assert!(all.contains("secmon import") && all.contains("insight_rule.console-logins-by-ip"), "{all}");
    assert_eq!(rules(&w)[0].1, theirs, "nothing was changed");
    let out = w.secmon(&["import", "-f", &spec, "insight_rule.console-logins-by-ip", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    w.apply_spec_converges(&spec);
    assert_eq!(rules(&w)[0].1["LogGroupNames"], serde_json::json!(["secmon-secretsmanager-loggroup"]));
}
