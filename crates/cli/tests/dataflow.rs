//! Issue 27, item 1: reads as a dataflow. Every call is made 150 ms slower, so the emulator's
//! timeline shows which read waited for which: the reads that need the account id (the trail
//! bucket named after it, the topics read by ARN) must start as soon as STS answers, not after
//! the reads that never needed it (the first wave, whose second hops end a round trip later).

use crate::common::*;
use serde_json::Value;

#[test]
fn issue_27_reads_that_need_the_account_start_when_sts_answers_not_after_the_first_wave() {
    let Some(w) = World::applied() else { return };
    w.emu.delay_every_call(150);
    w.emu.record_calls(true);
    w.assert_converged("");
    w.emu.record_calls(false);
    w.emu.delay_every_call(0);
    let calls: Vec<Value> = w.emu.calls().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let of = |service: &'static str| calls.iter().filter(move |c| c["service"] == service);
    let time = |c: &Value, k: &str| c[k].as_f64().unwrap();
    let sts_end = of("sts").map(|c| time(c, "end")).fold(f64::INFINITY, f64::min);
    let first_s3 = of("s3").map(|c| time(c, "start")).fold(f64::INFINITY, f64::min);
    // The first wave: reads that never needed the account; its last call ends after its
    // second hops (the trail's tags after DescribeTrails, the key's policy after DescribeKey).
    let first_wave_end = ["cloudtrail", "kms", "logs", "secretsmanager", "monitoring", "iam"]
        .iter()
        .flat_map(|s| of(s))
        .map(|c| time(c, "end"))
        .fold(0.0, f64::max);
    assert!(sts_end.is_finite() && first_s3.is_finite(), "{calls:#?}");
    assert!(first_s3 >= sts_end - 0.01, "the bucket's name needs the account: its reads wait for STS");
    assert!(
        first_s3 < first_wave_end - 0.1,
        "after STS answered, the bucket's first read started at +{:.0} ms and the first wave ended at +{:.0} ms: the bucket must not wait for the first wave",
        (first_s3 - sts_end) * 1000.0,
        (first_wave_end - sts_end) * 1000.0
    );
}

/// Issue 27, item 1: STS is asked who the credentials are once per set of credentials: the
/// caller's own account in each of its regions, and each target's read, reuse the answer (a
/// round trip on every target's path, for nothing, before).
#[test]
fn issue_27_sts_is_asked_once_per_set_of_credentials() {
    let Some(w) = World::new() else { return };
    let spec = w.dir().join("two-regions.yaml");
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    std::fs::write(&spec, format!("{seed}\ntargets:\n  accounts: [\"123456789012\"]\n  role_name: OrganizationAccountAccessRole\n  regions: [us-east-1, eu-west-1]\n")).unwrap();
    w.emu.record_calls(true);
    let out = w.secmon(&["plan", "-f", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    w.emu.record_calls(false);
    let sts = w.emu.calls().lines().filter(|l| l.contains("\"service\": \"sts\"")).count();
    assert_eq!(sts, 1, "the caller's account, asked once for both of its targets:\n{}", w.emu.calls());
}
