//! Issue 26, item 1: Ctrl-C (SIGINT) or SIGTERM during an apply stops after the steps in flight,
//! releases the lock at once, says what was done and what was not, and exits 130; the next apply
//! converges without waiting for a lease or a `force-unlock`.

use crate::common::*;

fn interrupted_apply_releases_its_lock(signal: &str) {
    use secmon_engine::lock;
    let Some(w) = World::new() else { return };
    let aws = w.aws();
    // Slow calls, so that the apply is mid-way when it is interrupted.
    w.emu.inject_faults_and_latency(0.0, 0.0, 300, 3);
    let (child, reader) = w.spawn_until_first_step_done(&["apply", "-f", SEED, "--auto-approve"]);
    let sent = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stdout = reader.join().unwrap();
    assert!(stdout.contains("Creating..."), "{stdout}");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{signal}: {err}");
    assert!(err.contains("Interrupt received. Stopping after the steps in flight"), "{err}");
    assert!(err.contains("not started") && err.contains("Run `secmon apply` again"), "what was not done is said: {err}");
    w.emu.inject_faults_and_latency(0.0, 0.0, 0, 3);
    assert!(
        w.rt.block_on(lock::holder(&secmon_kinds::SdkCloud::new(aws.clone()), "secrets-monitoring")).unwrap().is_none(),
        "the lock is released at once"
    );
    let again = w.secmon(&["apply", "-f", SEED, "--auto-approve"]);
    assert_eq!(again.status.code(), Some(0), "converges with no wait and no force-unlock: {}", text(&again.stderr));
    w.assert_converged("");
}

#[test]
fn ctrl_c_during_apply_stops_after_the_steps_in_flight_and_releases_the_lock() {
    interrupted_apply_releases_its_lock("-INT");
}

#[test]
fn sigterm_during_apply_is_handled_as_ctrl_c() {
    interrupted_apply_releases_its_lock("-TERM");
}
