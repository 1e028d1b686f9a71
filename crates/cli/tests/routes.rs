//! Issue 24, item 2: routes by severity and the return to OK, applied through the real SDK.

use crate::common::*;

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

/// Routes beyond e-mail: a webhook (its URL, which carries the integration key, read from the
/// environment and never shown), an SQS queue and a Lambda function. The webhook stays pending
/// until it confirms, as AWS keeps it; without its URL, apply refuses before any change.
#[test]
fn issue_24_webhook_queue_and_function_subscriptions_converge_and_the_webhook_key_never_shows() {
    let Some(w) = World::new() else { return };
    const KEY: &str = "0b1e5c3a9d7f4e2b8c6a0d1f3e5b7a9c";
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let queue = "arn:aws:sqs:us-east-1:123456789012:security-events";
    let function = "arn:aws:lambda:us-east-1:123456789012:function:notify-chat";
    let pager = format!("  - name: Pager\n    https: [{{ env: SECMON_TEST_PAGER_URL }}]\n    sqs: [{queue}]\n    lambda: [{function}]\n");
    let spec = seed.replacen("topics:\n", &format!("topics:\n{pager}"), 1).replacen(
        "    notify: [SecurityAlarms]\n",
        "    notify: [SecurityAlarms, Pager]\n",
        1,
    );
    let path = w.dir().join("webhook.yaml");
    std::fs::write(&path, spec).unwrap();
    let path = path.to_str().unwrap();

    std::env::remove_var("SECMON_TEST_PAGER_URL");
    let refused = w.secmon(&["apply", "-f", path, "--auto-approve"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains("environment variable SECMON_TEST_PAGER_URL is not set"), "{}", text(&refused.stderr));
    let aws = w.aws();
    let topics = w.rt.block_on(aws.sns.list_topics().send()).unwrap();
    assert!(topics.topics().is_empty(), "nothing changed in AWS: {:?}", topics.topics());

    std::env::set_var("SECMON_TEST_PAGER_URL", format!("https://events.pagerduty.com/integration/{KEY}/enqueue"));
    let apply = w.secmon(&["apply", "-f", path, "--auto-approve"]);
    let all = format!("{}{}", text(&apply.stdout), text(&apply.stderr));
    assert_eq!(apply.status.code(), Some(0), "{all}");
    assert!(!all.contains(KEY), "the integration key is never shown: {all}");
    assert!(all.contains("https://events.pagerduty.com/… sha256:"), "{all}");
    let plan = w.secmon(&["plan", "-f", path, "--detailed-exitcode", "--output", "json"]);
    assert_eq!(plan.status.code(), Some(0), "converged: {}", text(&plan.stdout));
    assert!(!text(&plan.stdout).contains(KEY), "nor in the plan as data");
    let text_plan = text(&w.secmon(&["plan", "-f", path]).stdout);
    assert!(text_plan.contains("must confirm it (fetch the SubscribeURL"), "the webhook is pending until it confirms: {text_plan}");

    let subs = w.rt.block_on(aws.sns.list_subscriptions_by_topic().topic_arn(TOPIC_ARN.replace("SecurityAlarms", "Pager")).send()).unwrap();
    let mut got: Vec<(String, String)> = subs
        .subscriptions()
        .iter()
        .map(|s| (s.protocol().unwrap_or_default().to_string(), s.endpoint().unwrap_or_default().to_string()))
        .collect();
    got.sort();
    let want =
        [("https", format!("https://events.pagerduty.com/integration/{KEY}/enqueue")), ("lambda", function.into()), ("sqs", queue.into())];
    assert_eq!(got, want.map(|(p, e)| (p.to_string(), e)), "subscribed with the real URL");

    // Someone removes the queue's subscription: verify names it, as it names a lost address.
    let queue_sub =
        subs.subscriptions().iter().find(|s| s.protocol() == Some("sqs")).and_then(|s| s.subscription_arn()).unwrap().to_string();
    w.rt.block_on(aws.sns.unsubscribe().subscription_arn(queue_sub).send()).unwrap();
    let verify = w.secmon(&["verify", "-f", path]);
    let out = text(&verify.stdout);
    assert!(out.contains(&format!("not subscribed: sqs:{queue}")), "{out}");
    assert!(!out.contains(KEY), "{out}");
    std::env::remove_var("SECMON_TEST_PAGER_URL");
}
