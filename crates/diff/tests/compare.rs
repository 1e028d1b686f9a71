//! Diff logic without a network: the seed spec's desired resources against in-memory live states.

use std::path::PathBuf;

use secmon_diff::{desired_resources, plan, Action, LiveResource, LiveState, PlanOptions, Resource, Target};
use secmon_spec::Spec;
use serde_json::json;

fn seed() -> (Vec<Resource>, Target) {
    let spec = Spec::from_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/seed.yaml")).unwrap();
    let target = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
    let state = spec.state.resolve(&target.account_id, &target.region).unwrap();
    (desired_resources(&state, &target), target)
}

/// Live state exactly as apply would leave it.
fn converged(desired: &[Resource]) -> LiveState {
    let mut live = LiveState { account_id: "123456789012".into(), region: "us-east-1".into(), ..Default::default() };
    for r in desired {
        let mut r = r.clone();
        r.meta.clear();
        live.insert(LiveResource::new(r, true));
    }
    live
}

fn summary(p: &secmon_diff::Plan) -> Vec<String> {
    p.changes().map(|s| format!("{:?} {}", s.action, s.address)).collect()
}

#[test]
fn empty_account_creates_everything_in_dependency_order() {
    let (d, _) = seed();
    let p = plan("secrets-monitoring", &d, &LiveState::default(), PlanOptions::default()).unwrap();
    assert_eq!(p.count(Action::Create), 11, "the pipeline, its KMS key and the access-log bucket");
    let trail = p.steps.iter().find(|s| s.address == "trail.secrets-manager-trail").unwrap();
    assert_eq!(
        trail.depends_on,
        [
            "bucket.secmon-secrets-manager-trail-123456789012",
            "key.secmon/secrets-monitoring",
            "log_group.secmon-secretsmanager-loggroup",
            "role.CloudTrailRoleForCloudWatchLogs_secrets-manager-trail"
        ]
    );
    let alarm = p.steps.iter().find(|s| s.address == "alarm.Secret is accessed").unwrap();
    assert_eq!(alarm.depends_on, ["topic.SecurityAlarms"]);
    let again = plan("secrets-monitoring", &d, &LiveState::default(), PlanOptions::default()).unwrap();
    assert_eq!(p, again, "plans are deterministic");
}

#[test]
fn converged_state_plans_no_changes() {
    let (d, _) = seed();
    let p = plan("secrets-monitoring", &d, &converged(&d), PlanOptions::default()).unwrap();
    assert!(!p.has_changes(), "{:?}", summary(&p));
}

#[test]
fn one_drifted_attribute_is_one_update_naming_it() {
    let (d, _) = seed();
    let mut live = converged(&d);
    live.resources.get_mut("alarm.Secret is accessed").unwrap().resource.attrs.insert("statistic".into(), json!("Average"));
    let p = plan("secrets-monitoring", &d, &live, PlanOptions::default()).unwrap();
    assert_eq!(summary(&p), ["Update alarm.Secret is accessed"]);
    let step = p.changes().next().unwrap();
    assert_eq!(step.changed_attrs(), [("statistic".to_string(), Some(json!("Average")), Some(json!("Sum")))]);
    assert!(step.reason.contains("statistic"));
}

#[test]
fn a_resource_not_owned_is_an_error_not_an_overwrite() {
    let (d, _) = seed();
    let mut live = converged(&d);
    live.resources.get_mut("topic.SecurityAlarms").unwrap().owned = false;
    let err = plan("secrets-monitoring", &d, &live, PlanOptions::default()).unwrap_err().to_string();
    assert!(err.contains("topic.SecurityAlarms") && err.contains("not owned"), "{err}");
}

#[test]
fn owned_resources_removed_from_the_spec_are_deleted_after_their_consumers() {
    let (d, _) = seed();
    let mut live = converged(&d);
    let mut old_topic = live.resources["topic.SecurityAlarms"].clone();
    old_topic.resource.name = "OldTopic".into();
    live.insert(old_topic);
    let p = plan("secrets-monitoring", &d, &live, PlanOptions::default()).unwrap();
    assert_eq!(summary(&p), ["Delete topic.OldTopic"]);
    // Destroy: everything, consumers first, topics only after the alarms that point at them.
    let p = plan("secrets-monitoring", &d, &live, PlanOptions { destroy: true, delete_logs: true }).unwrap();
    let order = summary(&p);
    let pos = |a: &str| order.iter().position(|s| s.ends_with(a)).unwrap();
    assert!(pos("trail.secrets-manager-trail") < pos("bucket.secmon-secrets-manager-trail-123456789012"));
    assert!(pos("alarm.Secret is accessed") < pos("topic.SecurityAlarms"));
    let topic = p.steps.iter().find(|s| s.address == "topic.SecurityAlarms").unwrap();
    assert!(topic.depends_on.iter().any(|a| a == "alarm.Secret is accessed"));
}

/// Issue 23, item 3: the access-log bucket is a second `bucket` resource; the order between
/// the two buckets is the resources' (the trail bucket logs to the other), not the kind's.
#[test]
fn the_trail_bucket_is_created_after_and_deleted_before_the_bucket_it_logs_to() {
    let (d, _) = seed();
    let (trail_bucket, log_bucket) =
        ("bucket.secmon-secrets-manager-trail-123456789012", "bucket.secmon-secrets-manager-trail-123456789012-access-logs");
    let p = plan("secrets-monitoring", &d, &LiveState::default(), PlanOptions::default()).unwrap();
    let order = summary(&p);
    let pos = |order: &[String], a: &str| order.iter().position(|s| s.ends_with(&format!(" {a}"))).unwrap();
    assert!(pos(&order, log_bucket) < pos(&order, trail_bucket), "{order:?}");
    let step = |p: &secmon_diff::Plan, a: &str| p.steps.iter().find(|s| s.address == a).unwrap().clone();
    assert!(step(&p, trail_bucket).depends_on.iter().any(|a| a == log_bucket));
    assert!(step(&p, log_bucket).depends_on.is_empty(), "the access-log bucket waits for nothing");

    let p = plan("secrets-monitoring", &d, &converged(&d), PlanOptions { destroy: true, delete_logs: true }).unwrap();
    let order = summary(&p);
    assert!(pos(&order, trail_bucket) < pos(&order, log_bucket), "{order:?}");
    assert!(step(&p, log_bucket).depends_on.iter().any(|a| a == trail_bucket), "logging stops before its target goes");
    assert!(!step(&p, trail_bucket).depends_on.iter().any(|a| a == log_bucket), "no cycle");
}

#[test]
fn a_bucket_holding_logs_is_kept_unless_delete_logs() {
    let (d, _) = seed();
    let mut live = converged(&d);
    live.resources.get_mut("bucket.secmon-secrets-manager-trail-123456789012").unwrap().holds_data = true;
    let p = plan("secrets-monitoring", &d, &live, PlanOptions { destroy: true, delete_logs: false }).unwrap();
    assert!(!summary(&p).iter().any(|s| s.ends_with(" bucket.secmon-secrets-manager-trail-123456789012")), "{:?}", summary(&p));
    assert!(!summary(&p).iter().any(|s| s.contains(" key.")), "the key is kept with the logs it encrypted: {:?}", summary(&p));
    assert!(p.notes.iter().any(|n| n.contains("--delete-logs")));
    let p = plan("secrets-monitoring", &d, &live, PlanOptions { destroy: true, delete_logs: true }).unwrap();
    assert!(summary(&p).iter().any(|s| s == "Delete key.secmon/secrets-monitoring"), "{:?}", summary(&p));
}

#[test]
fn a_pending_subscription_is_shown_not_recreated() {
    let (d, _) = seed();
    let mut live = converged(&d);
    live.resources.get_mut("subscription.SecurityAlarms/security@example.com").unwrap().pending = true;
    let p = plan("secrets-monitoring", &d, &live, PlanOptions::default()).unwrap();
    assert!(!p.has_changes());
    assert!(
        p.notes.iter().any(|n| n.contains("pending confirmation") && n.contains("secmon verify --resend-confirmation")),
        "{:?}",
        p.notes
    );
}

#[test]
fn the_secret_value_never_appears_in_a_plan() {
    std::env::set_var("TOP_SECRET_VALUE", "hunter2-in-env");
    let (d, _) = seed();
    let p = plan("secrets-monitoring", &d, &LiveState::default(), PlanOptions::default()).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("hunter2"));
    assert!(json.contains("\"from_env\":\"TOP_SECRET_VALUE\""));
}

/// Issue 26, finding 23: a mistyped `--target` gets the likely address.
#[test]
fn finding_23_a_mistyped_target_gets_the_likely_address() {
    let (d, _) = seed();
    let p = plan("secrets-monitoring", &d, &converged(&d), PlanOptions::default()).unwrap();
    let e = p.targeted(&["alarm.Secret is accesed".into()]).unwrap_err();
    assert!(e.contains("did you mean `alarm.Secret is accessed`?"), "{e}");
    assert!(p.targeted(&["alarm.Secret is accessed".into()]).is_ok());
}
