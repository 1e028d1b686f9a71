//! Issue 25, item 4: monitors on a trail secmon does not own. Another tool (here: the SDK, as
//! Control Tower or an organization's own stack would) makes a trail delivering to a log group;
//! a spec with `trail: {external: {log_group: NAME}}` puts its filters, alarms and topics there,
//! converges, verifies and is destroyed, and the trail, its role, its log group and the other
//! tool's own filter are never changed.

use crate::common::*;

const GROUP: &str = "aws-controltower/CloudTrailLogs";
const BUCKET: &str = "landing-zone-trail-123456789012";

/// The other tool's pipeline: bucket with CloudTrail's policy, log group, delivery role, a trail
/// delivering to both and logging, and a metric filter of its own on the log group.
fn landing_zone(w: &World) {
    let aws = w.aws();
    let rt = &w.rt;
    rt.block_on(aws.s3.create_bucket().bucket(BUCKET).send()).unwrap();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": format!("arn:aws:s3:::{BUCKET}")},
        {"Sid": "Write", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": format!("arn:aws:s3:::{BUCKET}/AWSLogs/123456789012/*"),
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]});
    rt.block_on(aws.s3.put_bucket_policy().bucket(BUCKET).policy(policy.to_string()).send()).unwrap();
    rt.block_on(aws.logs.create_log_group().log_group_name(GROUP).send()).unwrap();
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = rt
        .block_on(aws.iam.create_role().role_name("landing-zone-trail-logs").assume_role_policy_document(trust.to_string()).send())
        .unwrap();
    let write = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:log-stream:*")}]});
    rt.block_on(
        aws.iam.put_role_policy().role_name("landing-zone-trail-logs").policy_name("logs").policy_document(write.to_string()).send(),
    )
    .unwrap();
    rt.block_on(
        aws.cloudtrail
            .create_trail()
            .name("landing-zone")
            .s3_bucket_name(BUCKET)
            .is_multi_region_trail(true)
            .cloud_watch_logs_log_group_arn(format!("arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*"))
            .cloud_watch_logs_role_arn(role.role().unwrap().arn())
            .send(),
    )
    .unwrap();
    rt.block_on(aws.cloudtrail.start_logging().name("landing-zone").send()).unwrap();
    let transformation = secmon_aws::logs::types::MetricTransformation::builder()
        .metric_namespace("LandingZone")
        .metric_name("RootLogins")
        .metric_value("1")
        .build()
        .unwrap();
    rt.block_on(
        aws.logs
            .put_metric_filter()
            .log_group_name(GROUP)
            .filter_name("RootLogins")
            .filter_pattern(r#"{ $.userIdentity.type = "Root" }"#)
            .metric_transformations(transformation)
            .send(),
    )
    .unwrap();
}

/// What the other tool owns, as it reads: the trail, its status and selectors, the log group,
/// the role's policy, and its filter.
fn landing_zone_state(w: &World) -> String {
    let aws = w.aws();
    let rt = &w.rt;
    let trails = rt.block_on(aws.cloudtrail.describe_trails().trail_name_list("landing-zone").send()).unwrap();
    let status = rt.block_on(aws.cloudtrail.get_trail_status().name("landing-zone").send()).unwrap();
    let selectors = rt.block_on(aws.cloudtrail.get_event_selectors().trail_name("landing-zone").send()).unwrap();
    let groups = rt.block_on(aws.logs.describe_log_groups().log_group_name_prefix(GROUP).send()).unwrap();
    let group = groups.log_groups().iter().find(|g| g.log_group_name() == Some(GROUP)).cloned();
    let role = rt.block_on(aws.iam.get_role_policy().role_name("landing-zone-trail-logs").policy_name("logs").send()).unwrap();
    let filters = rt.block_on(aws.logs.describe_metric_filters().log_group_name(GROUP).filter_name_prefix("RootLogins").send()).unwrap();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        trails.trail_list(),
        status.is_logging(),
        selectors.event_selectors(),
        group.map(|g| (g.retention_in_days(), g.kms_key_id().map(str::to_string))),
        role.policy_document(),
        filters.metric_filters().iter().map(|f| (f.filter_name(), f.filter_pattern())).collect::<Vec<_>>()
    )
}

fn external_spec(w: &World) -> String {
    external_spec_naming(w, &format!("log_group: {GROUP}"))
}

/// The spec naming the log group with `naming` (`log_group: NAME` or `prefix: P`).
fn external_spec_naming(w: &World, naming: &str) -> String {
    let spec = format!(
        "version: 1\nname: on-landing-zone\nregion: us-east-1\ntrail:\n  external: {{ {naming} }}\ntopics:\n  - name: SecurityAlarms\n    email: [security@example.com]\nmonitors:\n  - name: Secret is accessed\n    pattern: '{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") }}'\n    metric: {{ namespace: SecurityMetrics, name: SecretAccessCount }}\n    notify: [SecurityAlarms]\npacks: [cis-aws-foundations]\n"
    );
    w.write_spec("external.yaml", &spec)
}

#[test]
fn issue_25_monitors_go_on_a_trail_another_tool_owns_which_secmon_never_changes() {
    let Some(w) = World::new() else { return };
    landing_zone(&w);
    let before = landing_zone_state(&w);
    let spec = external_spec(&w);

    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    assert!(out.contains("metric_filter.Secret is accessed") && out.contains("alarm.Secret is accessed"), "{out}");
    for never in ["trail.", "log_group.", "bucket.", "role."] {
        assert!(!out.contains(&format!("# {never}")), "secmon plans no {never}: {out}");
    }
    w.apply_spec_converges(&spec);
    let aws = w.aws();
    let filters = w.rt.block_on(aws.logs.describe_metric_filters().log_group_name(GROUP).send()).unwrap();
    let names: Vec<&str> = filters.metric_filters().iter().filter_map(|f| f.filter_name()).collect();
    assert!(names.contains(&"Secret is accessed") && names.contains(&"RootLogins"), "{names:?}");
    assert_eq!(landing_zone_state(&w), before, "the other tool's trail, log group, role and filter are untouched");

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| l.starts_with("ok") && l.contains("trail.external") && l.contains("landing-zone")), "{out}");

    // The other tool stops its trail: verify says the log group is no longer fed, and secmon
    // neither plans nor makes a change to it.
    w.rt.block_on(aws.cloudtrail.stop_logging().name("landing-zone").send()).unwrap();
    let verify = w.secmon(&["verify", "-f", &spec]);
    assert_eq!(verify.status.code(), Some(1));
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| l.starts_with("FAILED") && l.contains("trail.external") && l.contains("is not logging")), "{out}");
    let plan = w.secmon(&["plan", "-f", &spec, "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));
    w.rt.block_on(aws.cloudtrail.start_logging().name("landing-zone").send()).unwrap();

    let destroy = w.secmon(&["destroy", "-f", &spec, "--auto-approve"]);
    assert!(destroy.status.success(), "{}", text(&destroy.stderr));
    let filters = w.rt.block_on(aws.logs.describe_metric_filters().log_group_name(GROUP).send()).unwrap();
    let names: Vec<&str> = filters.metric_filters().iter().filter_map(|f| f.filter_name()).collect();
    assert_eq!(names, ["RootLogins"], "only the other tool's filter is left");
    assert_eq!(landing_zone_state(&w), before, "and its pipeline is as it was");
}

/// Control Tower's log group name may end in a random suffix: `prefix` finds the one log group
/// whose name starts so, at every run; two candidates stop the plan before anything changes.
#[test]
fn issue_25_an_external_log_group_is_found_by_its_prefix_and_an_ambiguous_prefix_changes_nothing() {
    let Some(w) = World::new() else { return };
    landing_zone(&w);
    let spec = external_spec_naming(&w, "prefix: aws-controltower/CloudTrail");
    w.apply_spec_converges(&spec);
    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert!(out.lines().any(|l| l.starts_with("ok") && l.contains("trail.external") && l.contains(GROUP)), "{out}");

    w.rt.block_on(w.aws().logs.create_log_group().log_group_name("aws-controltower/CloudTrailLogs-old").send()).unwrap();
    let plan = w.secmon(&["plan", "-f", &spec]);
    assert_eq!(plan.status.code(), Some(1));
    let err = text(&plan.stderr);
    assert!(err.contains("2 log groups in us-east-1 start with") && err.contains("aws-controltower/CloudTrailLogs-old"), "{err}");
}
