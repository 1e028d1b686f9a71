//! Issue 22, item 6: `scripts/sandbox-check` refuses to touch an account without an explicit
//! opt-in and the account's id, and its whole life cycle runs (here against the emulator, which
//! the script accepts only when told it is one).

use crate::common::*;

fn script(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(root().join("scripts/sandbox-check"))
        .args(args)
        .current_dir(root())
        .env("SECMON_BIN", env!("CARGO_BIN_EXE_secmon"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

#[test]
fn it_refuses_without_the_opt_in_the_account_id_or_the_right_account() {
    let out = script(&["--account", "123456789012"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("pass --i-understand-this-changes-a-real-account"), "{}", text(&out.stderr));
    let out = script(&["--i-understand-this-changes-a-real-account"], &[]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("--account must be"), "{}", text(&out.stderr));
    let out = script(
        &["--i-understand-this-changes-a-real-account", "--account", "123456789012"],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9".into())],
    );
    assert_eq!(out.status.code(), Some(64), "an emulator endpoint is refused unless said: {}", text(&out.stderr));

    let Some(w) = World::new() else { return };
    let mut env: Vec<(&str, String)> = w.emu.env();
    env.push(("SECMON_SANDBOX_ENDPOINT_OK", "1".into()));
    let out = script(&["--i-understand-this-changes-a-real-account", "--account", "111111111111"], &env);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("act in account '123456789012', not 111111111111"), "{}", text(&out.stderr));
}

#[test]
fn the_whole_life_cycle_runs_and_leaves_nothing() {
    let Some(w) = World::new() else { return };
    let mut env: Vec<(&str, String)> = w.emu.env();
    env.push(("SECMON_SANDBOX_ENDPOINT_OK", "1".into()));
    env.push(("SECMON_SANDBOX_CHAT_SETTLE", "0".into()));
    // With a Slack channel (issue 24, item 2), as Chatbot's console would have authorized it.
    w.emu.authorize_chat_clients(&[("T0123ABCD", "Sandbox")], &[]);
    let args = ["--i-understand-this-changes-a-real-account", "--account", "123456789012", "--slack", "T0123ABCD/C0123ABCD"];
    let out = script(&args, &env);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(report.starts_with("## secmon sandbox check: passed"), "{report}");
    for step in [
        "| apply | 0 |",
        "| plan again: no changes | 0 |",
        "| heartbeat: a canary read counted (delay from read to log group) | 0 |",
        "| destroy --delete-logs | 0 |",
        "| chat channel: Chatbot subscribed to the topic, guardrail in place | 0 |",
        "| chat channel: Chatbot logged no error (nothing it could not post) | 0 |",
        "| nothing left (tagging API, lock group, chat channels) | 0 |",
    ] {
        assert!(report.contains(step), "{step}: {report}");
    }
    assert!(!report.contains("123456789012"), "the account id is withheld: {report}");
    assert!(report.contains("Slack channel `C0123ABCD`: did it show the test notification, the alarm and the alert context"), "{report}");
}
