//! Issue 22, item 4: `secmon permissions` is derived from what secmon calls. Every API call that
//! plan, apply, verify, the notify tests and destroy make on the emulator (counted by the SDK
//! interceptor, `--stats`) needs IAM actions the printed policy for that command grants.

mod common;

use std::collections::BTreeSet;

use common::*;

/// (service, operation) of every row of `--stats` tables (the pipeline's and the lock's).
fn called(stderr: &str) -> BTreeSet<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (t.len() >= 3 && t[t.len() - 1].parse::<u64>().is_ok()).then(|| (t[..t.len() - 2].join(" "), t[t.len() - 2].to_string()))
        })
        .collect()
}

fn granted(w: &World, spec: &str, phase: &str) -> BTreeSet<String> {
    let out = w.secmon(&["permissions", "-f", spec, "--for", phase]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    secmon_engine::permissions::actions(&policy)
}

fn assert_covered(w: &World, spec: &str, phase: &str, stderr: &str) {
    let calls = called(stderr);
    assert!(!calls.is_empty(), "no --stats table: {stderr}");
    let policy = granted(w, spec, phase);
    let missing: Vec<String> = calls
        .iter()
        .flat_map(|(s, o)| secmon_aws::iam_actions(s, o).into_iter().map(move |a| (a, format!("{s} {o}"))))
        .filter(|(a, _)| !policy.contains(a) && a != "sts:GetCallerIdentity")
        .map(|(a, call)| format!("{a} (for {call})"))
        .collect();
    assert!(missing.is_empty(), "`secmon permissions --for {phase}` lacks: {missing:?}");
}

#[test]
fn the_printed_policy_covers_every_call_of_plan_apply_verify_and_destroy() {
    let Some(w) = World::new() else { return };
    let out = w.secmon(&["plan", "-f", SEED, "--stats"]);
    assert_covered(&w, SEED, "plan", &text(&out.stderr));
    let out = w.apply();
    assert_covered(&w, SEED, "apply", &text(&out.stderr));
    let out = w.secmon(&["verify", "-f", SEED, "--stats"]);
    assert_covered(&w, SEED, "verify", &text(&out.stderr));
    for test in ["topic", "alarm"] {
        let out = w.secmon(&["verify", "-f", SEED, "--notify-test", test, "--stats"]);
        assert_covered(&w, SEED, "exercise", &text(&out.stderr));
    }
    let out = w.secmon(&["destroy", "-f", SEED, "--auto-approve", "--delete-logs", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_covered(&w, SEED, "destroy", &text(&out.stderr));
}

#[test]
fn every_pack_is_covered_too() {
    let Some(w) = World::new() else { return };
    let spec = "specs/all-packs.yaml";
    let out = w.secmon(&["apply", "-f", spec, "--auto-approve", "--stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_covered(&w, spec, "apply", &text(&out.stderr));
    let out = w.secmon(&["destroy", "-f", spec, "--auto-approve", "--stats"]);
    assert_covered(&w, spec, "destroy", &text(&out.stderr));
}
