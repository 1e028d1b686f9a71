//! Issue 13, items 4 and 5: the GitOps example works as written. `scripts/gitops-local` runs its
//! secmon steps against the emulator (pull request: validate --strict, plan as markdown and as a
//! saved plan; merge: apply exactly that plan; nightly: drift found after an out-of-band change),
//! and the workflow is checked to run those same commands.

mod common;

use std::process::Command;

use common::*;

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

#[test]
fn the_workflow_runs_the_commands_the_local_script_proves() {
    let workflow = std::fs::read_to_string(root().join("examples/gitops/github-actions.yml")).unwrap();
    let script = std::fs::read_to_string(root().join("scripts/gitops-local")).unwrap();
    for (in_workflow, in_script) in [
        (r#"secmon validate -f "$SPEC" --strict"#, r#""$SECMON" validate -f "$SPEC" --strict"#),
        (
            r#"secmon plan -f "$SPEC" --detailed-exitcode -o plan.json --output markdown > plan.md"#,
            r#""$SECMON" plan -f "$SPEC" --detailed-exitcode -o plan.json --output markdown > plan.md"#,
        ),
        (r#"secmon apply -f "$SPEC" plan.json"#, r#""$SECMON" apply -f "$SPEC" plan.json"#),
        (
            r#"secmon plan -f "$SPEC" --detailed-exitcode --output markdown > drift.md"#,
            r#""$SECMON" plan -f "$SPEC" --detailed-exitcode --output markdown > drift.md"#,
        ),
    ] {
        assert!(workflow.contains(in_workflow), "the workflow runs `{in_workflow}`");
        assert!(script.contains(in_script), "the local script runs `{in_script}`");
    }
    // The workflow installs secmon before using it, and never re-plans at merge.
    assert!(workflow.contains("sha256sum -c") && workflow.contains("gh release download"));
    assert!(!workflow.contains("--auto-approve"), "merge applies the reviewed plan, not a new one");
}
