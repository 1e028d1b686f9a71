//! Issue 13, items 4 and 5: the GitOps example works as written. `scripts/gitops-local` runs its
//! secmon steps against the emulator (pull request: validate --strict, plan as markdown and as a
//! saved plan; merge: apply exactly that plan; nightly: drift found after an out-of-band change),
//! and the workflow is checked to run those same commands.

use std::process::Command;

use crate::common::*;

#[test]
fn the_gitops_example_runs_its_steps_against_the_emulator() {
    let Some(w) = World::new() else { return };
    let out = Command::new(root().join("scripts/gitops-local"))
        .current_dir(root())
        .envs(w.emu.env())
        .env("SECMON", env!("CARGO_BIN_EXE_secmon"))
        .output()
        .unwrap();
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("gitops steps: ok"), "{log}");
}

/// Issue 26, item 6: the workflow and the local script run the same files, so what the tests
/// prove (first deploy included) is what the workflow does; the workflow runs no secmon
/// command of its own besides printing the installed version.
#[test]
fn the_workflow_runs_the_scripts_the_local_script_proves() {
    let workflow = std::fs::read_to_string(root().join("examples/gitops/github-actions.yml")).unwrap();
    let script = std::fs::read_to_string(root().join("scripts/gitops-local")).unwrap();
    for name in ["pull-request.sh", "merge.sh", "nightly.sh"] {
        let call = format!(r#""$SECMON_SCRIPTS/{name}""#);
        assert!(workflow.contains(&call), "the workflow runs `{call}`");
        assert!(script.contains(&call), "the local script runs `{call}`");
        assert!(root().join("examples/gitops").join(name).exists());
    }
    let own: Vec<&str> = workflow.lines().map(str::trim).filter(|l| l.starts_with("secmon ") && *l != "secmon --version").collect();
    assert!(own.is_empty(), "secmon commands belong in the scripts: {own:?}");
    let merge = std::fs::read_to_string(root().join("examples/gitops/merge.sh")).unwrap();
    assert!(merge.contains(r#""$SECMON" apply -f "$SPEC" plan.json"#) && merge.contains(r#""$SECMON" verify -f "$SPEC""#));
    assert!(!merge.contains("--auto-approve"), "merge applies the reviewed plan, not a new one");
    // The workflow installs a pinned secmon before using it.
    assert!(workflow.contains("sha256sum -c") && workflow.contains("gh release download") && workflow.contains("SECMON_VERSION: v"));
}
