//! Issue 24, item 2: routes by severity and the return to OK, applied through the real SDK.

mod common;

use common::*;

#[test]
fn issue_24_a_routed_alarm_notifies_its_severitys_topics_and_the_return_to_ok() {
    let Some(w) = World::new() else { return };
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let spec = seed
        .replacen("topics:\n", "routes:\n  critical: [Pager]\ntopics:\n  - name: Pager\n", 1)
        .replacen("    notify: [SecurityAlarms]\n", "    notify: [SecurityAlarms]\n    severity: critical\n", 1)
        .replacen("      treat_missing_data: notBreaching\n", "      treat_missing_data: notBreaching\n      ok_actions: true\n", 1);
    assert_eq!(spec.matches("Pager").count(), 2, "{spec}");
    assert!(spec.contains("ok_actions: true") && spec.contains("severity: critical"), "{spec}");
    let path = w.dir().join("routed.yaml");
    std::fs::write(&path, spec).unwrap();
    w.apply_spec_converges(path.to_str().unwrap());
    let aws = w.aws();
    let alarms = w.rt.block_on(aws.cloudwatch.describe_alarms().alarm_names("Secret is accessed").send()).unwrap();
    let a = &alarms.metric_alarms()[0];
    let pager = TOPIC_ARN.replace("SecurityAlarms", "Pager");
    let mut want = vec![pager, TOPIC_ARN.to_string()];
    want.sort();
    let mut actions = a.alarm_actions().to_vec();
    actions.sort();
    assert_eq!(actions, want, "its own topic and the critical route's");
    let mut ok = a.ok_actions().to_vec();
    ok.sort();
    assert_eq!(ok, want, "the same topics hear the return to OK");
}
