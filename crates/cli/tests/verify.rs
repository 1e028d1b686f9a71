//! Issue 6: `secmon verify` names the broken link of each seed failure, against the emulator.

use crate::common::*;
use secmon_aws::cloudwatch::types::Statistic;
use serde_json::Value;

fn verify(w: &World, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify", "-f", SEED, "--output", "json", "--stats"];
    args.extend_from_slice(extra);
    let out = w.secmon(&args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn status_of<'a>(v: &'a Value, id: &str) -> Vec<&'a str> {
    v["checks"].as_array().unwrap().iter().filter(|c| c["id"] == id).map(|c| c["status"].as_str().unwrap()).collect()
}

fn failed(v: &Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| format!("{}: {}", c["id"].as_str().unwrap(), c["evidence"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_healthy_pipeline_verifies_clean_and_says_what_it_cannot_observe() {
    let Some(w) = World::applied() else { return };
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert!(failed(&v).is_empty(), "{:?}", failed(&v));
    // Issue 26, finding 17: what the report is about, and its format, as data.
    assert_eq!((&v["format_version"], &v["spec"], &v["account"]), (&1.into(), &"secrets-monitoring".into(), &"123456789012".into()));
    for id in [
        "trail.exists",
        "trail.logging",
        "trail.cloudwatch_logs",
        "role.permissions",
        "alarm.can_fire",
        "alarm.actions",
        "secret.watched",
        "topic.policy",
        "topic.subscriptions",
    ] {
        assert_eq!(status_of(&v, id), ["ok"], "{id}");
    }
    // A new alarm has had no data (the emulator starts it in INSUFFICIENT_DATA, as AWS does):
    // its state is said to be unobservable here, not "OK".
    for id in ["trail.s3_delivery", "trail.cloudwatch_logs_delivery", "log_group.receives_events", "alarm.state"] {
        assert_eq!(status_of(&v, id), ["not_observable"], "{id}: moto delivers nothing, so neither pass nor fail");
    }
    let watched = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "secret.watched").unwrap();
    assert!(watched["evidence"].as_str().unwrap().contains("offline engine"), "says which engine decided: {watched}");
}

/// One seed failure per case: break it out of band, verify names it and exits non-zero.
#[test]
fn each_seed_failure_is_diagnosed_by_name() {
    type Break = Box<dyn Fn(&World)>;
    let cases: Vec<(&str, Break, &str)> = vec![
        (
            "logging stopped",
            Box::new(|w: &World| {
                let aws = w.aws();
                w.rt.block_on(aws.cloudtrail.stop_logging().name("secrets-manager-trail").send()).unwrap();
            }),
            "trail.logging",
        ),
        (
            "CloudWatch Logs delivery not configured",
            Box::new(|w: &World| {
                let aws = w.aws();
                w.rt.block_on(
                    aws.cloudtrail
                        .update_trail()
                        .name("secrets-manager-trail")
                        .cloud_watch_logs_log_group_arn("")
                        .cloud_watch_logs_role_arn("")
                        .send(),
                )
                .unwrap();
            }),
            "trail.cloudwatch_logs",
        ),
        (
            "role missing",
            Box::new(|w: &World| {
                let aws = w.aws();
                let role = "CloudTrailRoleForCloudWatchLogs_secrets-manager-trail";
                w.rt.block_on(aws.iam.delete_role_policy().role_name(role).policy_name("secmon-cloudwatch-logs").send()).unwrap();
                w.rt.block_on(aws.iam.delete_role().role_name(role).send()).unwrap();
            }),
            "role.exists",
        ),
        (
            "pattern that does not match GetSecretValue",
            Box::new(|w: &World| w.set_seed_filter_pattern("{ $.eventName = \"GetSecretValues\" }")),
            "secret.watched",
        ),
        ("alarm statistic Average", Box::new(|w: &World| w.set_seed_alarm(Statistic::Average, 60)), "alarm.can_fire"),
        (
            "alarm action pointing at a deleted topic",
            Box::new(|w: &World| {
                let aws = w.aws();
                w.rt.block_on(aws.sns.delete_topic().topic_arn(TOPIC_ARN).send()).unwrap();
            }),
            "alarm.actions",
        ),
    ];
    for (what, break_it, id) in cases {
        let Some(w) = World::applied() else { return };
        break_it(&w);
        let (code, v) = verify(&w, &[]);
        assert_eq!(code, 1, "{what}: non-zero exit\n{v:#}");
        assert!(status_of(&v, id).contains(&"failed"), "{what}: {id} must fail; failed: {:?}", failed(&v));
        let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == id && c["status"] == "failed").unwrap();
        assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()), "{what}: says what to do: {c}");
    }
}

/// Issue 26, item 3: a pattern on the secret's name misses the reads that name it by ARN (most
/// SDK callers and attackers): the secret is not "watched", and verify says which reads are lost.
#[test]
fn issue_26_a_secret_read_by_arn_that_no_filter_counts_is_not_watched() {
    let Some(w) = World::applied() else { return };
    w.set_seed_filter_pattern(r#"{ ($.eventName = "GetSecretValue") && ($.requestParameters.secretId = "TopSecretInfo") }"#);
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 1, "{v:#}");
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "secret.watched").unwrap();
    assert_eq!(c["status"], "failed", "{c}");
    let evidence = c["evidence"].as_str().unwrap();
    assert!(evidence.contains("by ARN, partial ARN matches no metric filter") && evidence.contains("only reads by name"), "{evidence}");
    w.set_seed_filter_pattern(r#"{ ($.eventName = "GetSecretValue") && (($.requestParameters.secretId = "TopSecretInfo") || ($.requestParameters.secretId = "arn:aws:secretsmanager:*:secret:TopSecretInfo*")) }"#);
    let (_, v) = verify(&w, &[]);
    assert_eq!(status_of(&v, "secret.watched"), ["ok"], "{:?}", failed(&v));
}

/// Issue 26, item 6: right after a first apply nobody has clicked the confirmation link yet.
/// That is not a broken link: verify says `pending`, with its own exit code (3), and the fix.
#[test]
fn issue_26_a_subscription_awaiting_confirmation_is_pending_not_failed() {
    let Some(w) = World::new() else { return };
    w.emu.unconfirm_email("security@example.com");
    w.apply();
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 3, "{v:#}");
    assert!(failed(&v).is_empty(), "{:?}", failed(&v));
    assert_eq!(status_of(&v, "topic.subscriptions"), ["pending"]);
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "topic.subscriptions").unwrap();
    assert!(c["fix"].as_str().unwrap().contains("--resend-confirmation"), "{c}");
    let out = w.secmon(&["verify", "-f", SEED]);
    assert!(text(&out.stdout).contains("1 pending"), "{}", text(&out.stdout));
}

#[test]
fn pending_subscriptions_can_be_asked_to_confirm_again() {
    let Some(w) = World::applied() else { return };
    w.emu.unconfirm_email("security@example.com");
    let (code, v) = verify(&w, &["--resend-confirmation"]);
    assert_eq!(code, 3, "awaiting confirmation, nothing broken");
    assert_eq!(status_of(&v, "subscription.resend"), ["ok"], "{v:#}");
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "topic.subscriptions").unwrap();
    assert!(c["evidence"].as_str().unwrap().contains("pending: email:security@example.com"), "{c}");
}

#[test]
fn trigger_reads_the_secret_once_and_reports_what_it_cannot_follow() {
    let Some(w) = World::applied() else { return };
    let out = w.secmon(&["verify", "-f", SEED, "--trigger", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--trigger reads secret TopSecretInfo once: this fires its alarm"), "announced: {stderr}");
    assert_eq!(calls(&stderr, "GetSecretValue"), 1, "exactly one read");
    assert!(stdout.contains("trigger.read") && stdout.contains("its value was discarded"));
    for stage in ["trigger.cloudtrail_event", "trigger.log_event", "trigger.datapoint", "trigger.alarm"] {
        assert!(stdout.lines().any(|l| l.starts_with("n/a") && l.contains(stage)), "{stage} not observable on moto:\n{stdout}");
    }
    // A plain verify never reads the secret.
    let out = w.secmon(&["verify", "-f", SEED, "--stats"]);
    assert_eq!(calls(&text(&out.stderr), "GetSecretValue"), 0);
}

#[test]
fn notify_test_publishes_or_sets_alarm_state() {
    let Some(w) = World::applied() else { return };
    let out = w.secmon(&["verify", "-f", SEED, "--notify-test", "--stats"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(calls(&text(&out.stderr), "Publish"), 1);
    let out = w.secmon(&["verify", "-f", SEED, "--notify-test", "alarm", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(calls(&text(&out.stderr), "SetAlarmState"), 2, "to ALARM and back");
}

#[test]
fn a_filter_whose_conditions_contradict_each_other_is_named() {
    let Some(w) = World::applied() else { return };
    w.set_seed_filter_pattern(r#"{ ($.eventName = "GetSecretValue") && ($.eventName = "BatchGetSecretValue") }"#);
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 1);
    assert!(status_of(&v, "filter.matches").contains(&"failed"), "{:?}", failed(&v));
    assert!(status_of(&v, "secret.watched").contains(&"failed"));
}

#[test]
fn a_trail_delivering_through_a_role_set_up_by_hand_is_named() {
    // Since issue 14, verify judges the spec's role from the shared read round; a trail moved to
    // another role is drift that verify names (and plan repairs), not a role it inspects.
    let Some(w) = World::applied() else { return };
    let aws = w.aws();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = w.rt.block_on(aws.iam.create_role().role_name("ConsoleMadeRole").assume_role_policy_document(trust).send()).unwrap();
    let pol = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:us-east-1:123456789012:log-group:secmon-secretsmanager-loggroup:log-stream:*"}]}"#;
    w.rt.block_on(
        aws.iam.put_role_policy().role_name("ConsoleMadeRole").policy_name("CloudTrailPolicyForCloudWatchLogs").policy_document(pol).send(),
    )
    .unwrap();
    let arn = role.role().unwrap().arn().to_string();
    w.rt.block_on(
        aws.cloudtrail
            .update_trail()
            .name("secrets-manager-trail")
            .cloud_watch_logs_log_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:secmon-secretsmanager-loggroup:*")
            .cloud_watch_logs_role_arn(&arn)
            .send(),
    )
    .unwrap();
    let (_, v) = verify(&w, &[]);
    assert_eq!(status_of(&v, "role.permissions"), ["ok"], "{:?}", failed(&v));
    assert_eq!(status_of(&v, "trail.cloudwatch_logs"), ["warning"]);
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "trail.cloudwatch_logs").unwrap();
    assert!(c["evidence"].as_str().unwrap().contains("ConsoleMadeRole"), "{c}");
}

/// Issue 13, item 9: for a deleted subscription, verify says that apply helps (resending a
/// confirmation cannot reach an address that is no longer subscribed).
#[test]
fn a_deleted_subscription_is_fixed_by_apply_not_by_resending() {
    let Some(w) = World::applied() else { return };
    let aws = w.aws();
    let subs = w.rt.block_on(aws.sns.list_subscriptions_by_topic().topic_arn(TOPIC_ARN).send()).unwrap();
    for s in subs.subscriptions() {
        w.rt.block_on(aws.sns.unsubscribe().subscription_arn(s.subscription_arn().unwrap()).send()).unwrap();
    }
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 1, "{v:#}");
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "topic.subscriptions").unwrap();
    assert_eq!(c["status"], "failed", "{c}");
    let fix = c["fix"].as_str().unwrap();
    assert!(fix.contains("secmon apply") && !fix.contains("--resend-confirmation"), "{c}");
}

/// Issue 16: a topic someone encrypted with the AWS managed key `alias/aws/sns` drops every
/// alarm silently (CloudWatch may not use that key); verify names it.
#[test]
fn a_topic_encrypted_with_the_aws_managed_key_is_named() {
    let Some(w) = World::applied() else { return };
    let aws = w.aws();
    w.rt.block_on(
        aws.sns.set_topic_attributes().topic_arn(TOPIC_ARN).attribute_name("KmsMasterKeyId").attribute_value("alias/aws/sns").send(),
    )
    .unwrap();
    let (code, v) = verify(&w, &[]);
    assert_eq!(code, 1, "{v:#}");
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["id"] == "topic.encryption").unwrap();
    assert_eq!(c["status"], "failed", "{c}");
    assert!(c["evidence"].as_str().unwrap().contains("alarms fail to notify"), "{c}");
}
