//! Issue 15 (backtest): how often each alarm would have fired over the history already in the
//! trail's log group, from events put into the emulator's log group.

use crate::common::*;
use serde_json::Value;

fn record(name: &str, id: &str) -> String {
    serde_json::json!({"eventVersion": "1.11", "eventSource": "secretsmanager.amazonaws.com", "eventName": name, "eventID": id,
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/payments-app/i-1",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::123456789012:role/payments-app"}}},
        "requestParameters": {"secretId": "TopSecretInfo"}})
    .to_string()
}

/// Puts `names` (one record each, a second apart) into the seed's log group, an hour ago.
fn put_history(w: &World, names: &[&str]) {
    let aws = w.aws();
    let group = "secmon-secretsmanager-loggroup";
    w.rt.block_on(aws.logs.create_log_stream().log_group_name(group).log_stream_name("123456789012_CloudTrail_us-east-1").send()).unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let minute = (now_ms - 3_600_000) / 60_000 * 60_000;
    let events: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let at = minute + 1_000 * (i as i64 + 1);
            secmon_aws::logs::types::InputLogEvent::builder().timestamp(at).message(record(name, &format!("id-{i}"))).build().unwrap()
        })
        .collect();
    let request =
        aws.logs.put_log_events().log_group_name(group).log_stream_name("123456789012_CloudTrail_us-east-1").set_log_events(Some(events));
    w.rt.block_on(request.send()).unwrap();
}

/// Issue 25, item 1: a contributor is backtested as its rule would have counted: per principal
/// and period, over the log group's history, before the rule ever existed.
#[test]
fn issue_25_backtest_counts_contributors_per_principal_over_the_history() {
    let Some(w) = World::applied() else { return };
    put_history(&w, &["GetSecretValue", "DescribeSecret", "GetSecretValue", "GetSecretValue"]);
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let contributor = |threshold: u32| {
        format!("{seed}contributors:\n  - name: reads-by-principal\n    pattern: '{{ $.eventName = \"GetSecretValue\" }}'\n    keys: [$.userIdentity.arn]\n    alarm: {{ threshold: {threshold}, period: 300 }}\n    notify: [SecurityAlarms]\n")
    };
    let spec = w.write_spec("counted.yaml", &contributor(3));
    let out = w.secmon(&["backtest", "-f", &spec, "--since", "2h", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = v["monitors"].as_array().unwrap().iter().find(|m| m["monitor"] == "reads-by-principal").expect("the contributor is backtested");
    assert_eq!(c["statistic"], "MaxContributorValue");
    assert_eq!(c["matched"].as_array().unwrap().len(), 3, "{c:#}");
    assert_eq!(c["matched"][0]["dimensions"]["$.userIdentity.arn"], "arn:aws:sts::123456789012:assumed-role/payments-app/i-1");
    assert_eq!(c["notifications"].as_array().unwrap().len(), 1, "three reads by one principal reach 3: {c:#}");
    let spec = w.write_spec("quiet.yaml", &contributor(4));
    let human = text(&w.secmon(&["backtest", "-f", &spec, "--since", "2h"]).stdout);
    assert!(human.contains("reads-by-principal") && human.contains("never fires"), "{human}");
}

#[test]
fn backtest_replays_the_log_groups_history_through_each_alarm() {
    let Some(w) = World::applied() else { return };
    // Issue 26, finding 30: before any event, "never fires" would prove nothing; it says so.
    let empty = w.secmon(&["backtest", "-f", SEED, "--since", "2h"]);
    assert!(text(&empty.stdout).contains("the log group holds no events yet"), "{}", text(&empty.stdout));
    let aws = w.aws();
    let group = "secmon-secretsmanager-loggroup";
    w.rt.block_on(aws.logs.create_log_stream().log_group_name(group).log_stream_name("123456789012_CloudTrail_us-east-1").send()).unwrap();
    // Three reads of the secret within one minute an hour ago, and a call the filter must not count.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let minute = (now_ms - 3_600_000) / 60_000 * 60_000;
    let events: Vec<_> = [("GetSecretValue", 1_000), ("DescribeSecret", 2_000), ("GetSecretValue", 3_000), ("GetSecretValue", 4_000)]
        .iter()
        .enumerate()
        .map(|(i, (name, offset))| {
            secmon_aws::logs::types::InputLogEvent::builder()
                .timestamp(minute + offset)
                .message(record(name, &format!("id-{i}")))
                .build()
                .unwrap()
        })
        .collect();
    w.rt.block_on(
        aws.logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name("123456789012_CloudTrail_us-east-1")
            .set_log_events(Some(events))
            .send(),
    )
    .unwrap();

    let out = w.secmon(&["backtest", "-f", SEED, "--since", "2h", "--output", "json", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["monitors"][0];
    assert_eq!(m["monitor"], "Secret is accessed");
    assert_eq!(m["returned"], 4, "the emulator returns every event for a JSON pattern: {m:#}");
    assert_eq!(m["matched"].as_array().unwrap().len(), 3, "secmon's engine keeps the three reads");
    assert_eq!(m["notifications"].as_array().unwrap().len(), 1, "one minute, one notification: {m:#}");
    assert_eq!(m["disagreements"].as_array().unwrap().len(), 0, "an emulator is not AWS: no disagreement is claimed");
    assert_eq!(v["pushed_down"], false);
    let stderr = text(&out.stderr);
    assert_eq!(calls(&stderr, "FilterLogEvents"), 2, "one scan per monitor, and one for the secrets' readers, in CloudWatch Logs");
    // Issue 25, item 1: who read the secret, as `readers:` would name it (the role of the sessions).
    assert_eq!(v["readers"][0]["secret"], "TopSecretInfo");
    assert_eq!(v["readers"][0]["principals"]["arn:aws:iam::123456789012:role/payments-app"], 3, "{:#}", v["readers"]);
    assert_eq!(calls(&stderr, "GetSecretValue"), 0);
    assert!(stderr.contains("Scanning log group secmon-secretsmanager-loggroup"), "{stderr}");

    let human = text(&w.secmon(&["backtest", "-f", SEED, "--since", "2h"]).stdout);
    assert!(human.contains(r#"readers: ["arn:aws:iam::123456789012:role/payments-app"]"#), "the list to paste into the spec: {human}");

    let out = w.secmon(&["backtest", "-f", SEED, "--since", "30m"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("never fires"), "nothing in the last 30 minutes: {}", text(&out.stdout));
    let out = w.secmon(&["backtest", "-f", SEED, "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not a duration"), "{}", text(&out.stderr));
}
