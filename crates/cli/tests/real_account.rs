//! Issue 22: what a real account refuses, the emulator refuses too (scripts/emulator.py, judged
//! by the independent IAM evaluator of scripts/iam-eval), and secmon's first apply passes it.
//! Each test names the finding of `../shared/notes/real-aws-audit-3.md` it proves.

use crate::common::*;

const ACCOUNT: &str = "123456789012";

/// The key policy secmon would write for the seed, minus the statements `drop`, as a team's own
/// key (brought by ARN) might have it.
fn team_key(w: &World, spec_text: &str, drop: &[&str]) -> String {
    let spec = secmon_spec::Spec::parse(spec_text, "spec.yaml").unwrap();
    let state = spec.state.resolve(ACCOUNT, "us-east-1").unwrap();
    let t = secmon_kinds::Target { account_id: ACCOUNT.into(), region: "us-east-1".into() };
    let mut policy = secmon_kinds::key::key_policy(&secmon_kinds::key::Uses::of(&state), &t);
    policy["Statement"].as_array_mut().unwrap().retain(|s| !drop.contains(&s["Sid"].as_str().unwrap_or_default()));
    let aws = w.aws();
    let key = w.rt.block_on(aws.kms.create_key().policy(policy.to_string()).send()).unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_string()
}

fn write_spec(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The seed applied with a team's key brought by ARN whose policy lacks the statement that lets
/// CloudWatch alarms publish to encrypted topics: (the spec's folder, the spec's path).
fn applied_with_a_key_without_the_cloudwatch_statement(w: &World) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let arn = team_key(w, &seed(), &["AllowAlarmsAndTrailToPublishToEncryptedTopics"]);
    let spec = write_spec(&dir, "own.yaml", &format!("{}\nencryption:\n  key: {arn}\n", seed()));
    let out = w.secmon(&["apply", "-f", &spec, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (dir, spec)
}

fn seed() -> String {
    std::fs::read_to_string(root().join(SEED)).unwrap()
}

/// Finding 1, both ways: the default spec's first apply passes CloudTrail's key-policy check
/// (CreateTrail into a bucket with an S3 Bucket Key needs `kms:Decrypt`), and a key policy
/// without that statement is refused as AWS refuses it, briefly retried, then named.
#[test]
fn finding_1_cloudtrail_needs_decrypt_for_a_trail_into_a_bucket_key_bucket() {
    let Some(w) = World::applied() else { return };
    assert_eq!(w.plan().0, 0, "the default spec converged");

    let Some(w) = World::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let arn = team_key(&w, &seed(), &["AllowCloudTrailToDecryptUnderTheBucketKey"]);
    let spec = write_spec(&dir, "own.yaml", &format!("{}\nencryption:\n  key: {arn}\n", seed()));
    let out = w.secmon(&["apply", "-f", &spec, "--auto-approve", "--stats"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("InsufficientEncryptionPolicyException"), "refused as AWS refuses it: {err}");
    assert!(err.contains("hint:") && err.contains("kms:Decrypt"), "the missing statement is named: {err}");
    let tries = calls(&err, "CreateTrail");
    assert!((2..=6).contains(&tries), "retried briefly, not for two minutes: {tries} CreateTrail calls\n{err}");
}

/// Finding 2: `encryption.trail: false` with the bucket encrypted by the key still has CloudTrail
/// write under the bucket's key: secmon's key policy admits it, and a key without those
/// statements is refused.
#[test]
fn finding_2_bucket_encryption_alone_still_admits_cloudtrail() {
    let Some(w) = World::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(&dir, "bucket-only.yaml", &format!("{}\nencryption: {{key: managed, trail: false}}\n", seed()));
    let out = w.secmon(&["apply", "-f", &spec, "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let Some(w) = World::new() else { return };
    let text_of = format!("{}\nencryption: {{key: KEY, trail: false}}\n", seed());
    let arn = team_key(&w, &text_of.replace("KEY", "managed"), &["AllowCloudTrailWritesUnderTheBucketKey"]);
    let spec = write_spec(&dir, "own.yaml", &text_of.replace("KEY", &format!("\"{arn}\"")));
    let out = w.secmon(&["apply", "-f", &spec, "--auto-approve"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("InsufficientEncryptionPolicyException"), "{err}");
}

/// Findings 3 and 4: KMS answers `NotFoundException` right after CreateKey and CreateAlias (as
/// its eventual consistency allows); the apply converges, with exactly one key created.
#[test]
fn findings_3_and_4_a_lagging_kms_gets_one_key_and_a_converged_pipeline() {
    let Some(w) = World::new() else { return };
    w.emu.kms_lag(true);
    let out = w.apply();
    let err = text(&out.stderr);
    assert_eq!(calls(&err, "CreateKey"), 1, "CreateKey is never retried: {err}");
    let aws = w.aws();
    let keys = w.rt.block_on(aws.kms.list_keys().send()).unwrap();
    assert_eq!(keys.keys().len(), 1, "no orphan customer managed key");
    w.emu.kms_lag(false);
    w.assert_converged("");
}

/// Finding 7: CloudWatch Logs refuses a key association when the caller's own IAM policy lacks
/// KMS permissions; no wait fixes that, so the apply fails at once, naming the actions.
#[test]
fn finding_7_a_caller_without_kms_permissions_fails_at_once_naming_them() {
    let Some(w) = World::new() else { return };
    w.emu.deny_caller_kms(true);
    let out = w.secmon(&["apply", "-f", SEED, "--auto-approve", "--stats"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let pipeline_calls = err.split("Apply lock:").next().unwrap();
    assert_eq!(calls(pipeline_calls, "CreateLogGroup"), 1, "not retried as propagation: {err}");
    assert!(err.contains("not authorized to perform: kms:Encrypt") && err.contains("secmon permissions"), "{err}");
}

/// Finding 11: a sixth monitor with a regular expression is refused before anything changes.
#[test]
fn finding_11_six_regex_monitors_are_refused_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let mut text_of = seed();
    for i in 0..6 {
        text_of.push_str(&format!(
            "  - name: Regex {i}\n    pattern: '{{ $.eventName = %^Get{i}.*% }}'\n    metric: {{ namespace: SecurityMetrics, name: R{i} }}\n    notify: [SecurityAlarms]\n"
        ));
    }
    let spec = write_spec(&dir, "regex.yaml", &text_of);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_secmon")).args(["validate", "-f", &spec]).output().unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("6 monitors use a regular expression") && all.contains("at most 5"), "{all}");
}

/// Item 5: an apply killed with SIGKILL (a CI timeout, a preempted runner) leaves a lease that
/// nobody renews: the next `apply --lock-timeout 300` takes it over once the lease runs out and
/// converges, with no manual step; a live holder, which renews, is never taken over.
#[test]
fn item_5_a_killed_apply_is_taken_over_after_its_lease_and_a_live_one_never() {
    use secmon_engine::lock::{self, LEASE};
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    let live = w.lock_of("another-spec").unwrap();
    // Slow calls, so that the apply is mid-way when it is killed.
    w.emu.inject_faults_and_latency(0.0, 0.0, 300, 1);
    let started = std::time::Instant::now();
    let (mut child, _stdout) = w.spawn_until_first_step_done(&["apply", "-f", SEED, "--auto-approve"]);
    let held =
        w.rt.block_on(lock::holder(&secmon_kinds::SdkCloud::new(aws.clone()), "secrets-monitoring"))
            .unwrap()
            .expect("the apply holds its lock");
    child.kill().unwrap(); // SIGKILL: no handler runs, the lock is left behind
    child.wait().unwrap();
    w.emu.inject_faults_and_latency(0.0, 0.0, 0, 1);
    assert!(held.who.contains(":pid"), "the holder is named: {}", held.who);

    let refused = w.secmon(&["apply", "-f", SEED, "--auto-approve"]);
    assert_eq!(refused.status.code(), Some(1), "the lease has not run out yet: {}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("holds its lock"), "{}", text(&refused.stderr));

    let out = w.secmon(&["apply", "-f", SEED, "--auto-approve", "--lock-timeout", "300"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "converged with no manual step: {err}");
    assert!(err.contains("Took over the lock"), "{err}");
    w.assert_converged("");

    // The live holder renewed all along: more than a lease later, it still holds its lock.
    assert!(started.elapsed() > LEASE, "the live lock was held for longer than a lease");
    let other = w.lock_of("another-spec");
    assert!(matches!(other, Err(secmon_engine::EngineError::Locked { .. })), "a live holder is never taken over: {other:?}");
    assert!(!live.lost());
    w.rt.block_on(live.release()).unwrap();
}

/// Finding 9: GetLogEvents may answer an empty page with a token while events follow; the lock's
/// holder is still read (never `?`, which a force-unlock used to treat as "any holder").
#[test]
fn finding_9_the_lock_holder_is_read_past_an_empty_first_page() {
    use secmon_engine::lock;
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    let held = w.lock_of("secrets-monitoring").unwrap();
    w.emu.empty_first_pages(true);
    let holder = w.rt.block_on(lock::holder(&secmon_kinds::SdkCloud::new(aws.clone()), "secrets-monitoring")).unwrap().expect("held");
    assert_eq!(holder.id, held.id, "read through the token");
    let out = w.secmon(&["apply", "-f", SEED, "--auto-approve"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("secmon force-unlock -f {SEED} {}", held.id)), "the refusal names the real id: {err}");
    let wrong = w.secmon(&["force-unlock", "-f", SEED, "?"]);
    assert_eq!(wrong.status.code(), Some(1), "`?` is no wildcard");
    w.emu.empty_first_pages(false);
    w.rt.block_on(held.release()).unwrap();
}

/// Finding 8: a key brought by ARN is read by verify and judged by what its policy admits: a
/// team key without the CloudWatch statement drops every alarm notification, and verify says so.
#[test]
fn finding_8_verify_judges_a_brought_keys_policy() {
    let Some(w) = World::new() else { return };
    let (_dir, spec) = applied_with_a_key_without_the_cloudwatch_statement(&w);
    let out = w.secmon(&["verify", "-f", &spec]);
    let stdout = text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("key.policy_admits") && l.to_lowercase().contains("fail")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(failed[0].contains("CloudWatch alarms → KMS"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.contains("key.policy_admits") && l.contains("CloudTrail → KMS: DescribeKey") && l.starts_with("ok")),
        "{stdout}"
    );
}

/// Finding 6: `verify --notify-test alarm` reads ok only when CloudWatch recorded notifying the
/// topics; a key that does not admit CloudWatch drops the notification, and the alarm's history
/// (the only place AWS says so) makes the test fail.
#[test]
fn finding_6_the_alarm_notify_test_reports_what_cloudwatch_recorded() {
    let Some(w) = World::applied() else { return };
    let out = w.secmon(&["verify", "-f", SEED, "--notify-test", "alarm", "--stats"]);
    let stdout = text(&out.stdout);
    assert!(stdout.lines().any(|l| l.contains("notify_test.alarm") && l.contains("CloudWatch recorded notifying")), "{stdout}");
    assert!(calls(&text(&out.stderr), "DescribeAlarmHistory") >= 1);

    let Some(w) = World::new() else { return };
    let (_dir, spec) = applied_with_a_key_without_the_cloudwatch_statement(&w);
    let out = w.secmon(&["verify", "-f", &spec, "--notify-test", "alarm"]);
    let stdout = text(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    let line = stdout.lines().find(|l| l.contains("notify_test.alarm")).unwrap_or_default();
    assert!(line.contains("could not notify") && line.contains("SNS topic encryption key"), "{stdout}");
}

/// Finding 12: a late access-log delivery refills the access-log bucket between its emptying and
/// DeleteBucket; `destroy --delete-logs` empties it again instead of failing with BucketNotEmpty.
#[test]
fn finding_12_a_late_log_delivery_does_not_fail_destroy() {
    let Some(w) = World::applied() else { return };
    let out = w.secmon(&["destroy", "-f", SEED, "--auto-approve", "--delete-logs", "--stats"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(calls(&err, "DeleteBucket"), 3, "two buckets, one refilled and emptied again: {err}");
    assert!(calls(&err, "PutBucketLogging") >= 1, "the trail bucket's logging is turned off first: {err}");
}

/// Issue 22, item 3: PutBucketLogging is refused when the target bucket's policy does not let
/// S3's logging service write the source bucket's logs, and accepted with the policy secmon writes.
#[test]
fn the_emulator_refuses_server_access_logging_into_a_bucket_that_does_not_admit_it() {
    use secmon_aws::s3::types::{BucketLoggingStatus, LoggingEnabled};
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    let (source, target) = ("source-bucket-of-logs", "target-bucket-of-logs");
    for b in [source, target] {
        w.rt.block_on(aws.s3.create_bucket().bucket(b).send()).unwrap();
    }
    // The error code of PutBucketLogging, or None when it succeeded.
    let put_logging = || {
        let enabled = LoggingEnabled::builder().target_bucket(target).target_prefix(format!("{source}/")).build().unwrap();
        let status = BucketLoggingStatus::builder().logging_enabled(enabled).build();
        let put = w.rt.block_on(aws.s3.put_bucket_logging().bucket(source).bucket_logging_status(status).send());
        put.err().map(|e| secmon_aws::ProvideErrorMetadata::code(&e).unwrap_or("(no code)").to_string())
    };
    assert_eq!(put_logging().as_deref(), Some("InvalidTargetBucketForLogging"), "no policy admits the logging service");
    let t = secmon_kinds::Target { account_id: ACCOUNT.into(), region: "us-east-1".into() };
    let policy = secmon_kinds::bucket::access_log_policy(&t, target, source);
    w.rt.block_on(aws.s3.put_bucket_policy().bucket(target).policy(policy.to_string()).send()).unwrap();
    assert_eq!(put_logging(), None, "the policy secmon writes admits it");
}

/// Item 5: S3 cannot tag a bucket at creation, so an apply killed between CreateBucket and
/// PutBucketTagging leaves the spec's bucket untagged. Without a take-over it stays another's
/// (secmon never takes what it cannot prove its own); the apply that takes the dead apply's lock
/// over takes back what was created since that apply started, and converges.
#[test]
fn item_5_a_bucket_a_killed_apply_left_untagged_is_taken_back_by_the_take_over_only() {
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    // The dead apply: its lease, silent for two minutes; the bucket it created, untagged.
    let group = secmon_engine::lock::lock_group("secrets-monitoring");
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 - 120_000;
    w.rt.block_on(aws.logs.create_log_group().log_group_name(&group).send()).unwrap();
    w.rt.block_on(aws.logs.create_log_stream().log_group_name(&group).log_stream_name("lease-000000001").send()).unwrap();
    let event =
        secmon_aws::logs::types::InputLogEvent::builder().timestamp(started).message("id=dead0001 who=ci@runner:pid1").build().unwrap();
    w.rt.block_on(aws.logs.put_log_events().log_group_name(&group).log_stream_name("lease-000000001").log_events(event).send()).unwrap();
    w.rt.block_on(aws.s3.create_bucket().bucket(BUCKET).send()).unwrap();

    let (code, out) = w.plan();
    assert_eq!(code, 1, "a plan takes no lock over: the untagged bucket is not provably ours: {out}");
    assert!(out.contains("not owned"), "{out}");
    let out = w.secmon(&["apply", "-f", SEED, "--auto-approve", "--lock-timeout", "10"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Took over the lock") && err.contains("ci@runner:pid1"), "{err}");
    assert_eq!(w.plan().0, 0, "converged, the bucket now tagged as the spec's");
}

/// Finding 3: a key of the spec left without alias (a CreateKey whose reply was lost, or a run
/// stopped before CreateAlias) is adopted by the next create, not duplicated: every orphan would
/// cost $1 a month and a "kept" line in every plan.
#[test]
fn finding_3_a_key_left_without_alias_is_adopted_not_duplicated() {
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    let owner = secmon_aws::kms::types::Tag::builder().tag_key("secmon:spec").tag_value("secrets-monitoring").build().unwrap();
    let orphan = w.rt.block_on(aws.kms.create_key().tags(owner).send()).unwrap();
    let orphan_id = orphan.key_metadata().unwrap().key_id().to_string();
    let out = w.secmon(&["apply", "-f", SEED, "--auto-approve", "--stats"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(calls(&err, "CreateKey"), 0, "the orphan is adopted: {err}");
    let keys = w.rt.block_on(aws.kms.list_keys().send()).unwrap();
    assert_eq!(keys.keys().len(), 1, "one key");
    let aliased = w.rt.block_on(aws.kms.describe_key().key_id("alias/secmon/secrets-monitoring").send()).unwrap();
    assert_eq!(aliased.key_metadata().unwrap().key_id(), orphan_id);
    w.assert_converged("");
}
