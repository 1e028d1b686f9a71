//! # secmon-diff: desired × live → plan
//!
//! Compares the spec's resources ([`desired_resources`], from each kind's module) with the live
//! state the seam read ([`LiveState`]) and produces a [`Plan`]: data (`format_version`, `steps`),
//! each [`Step`] with `address`, [`Action`], `before`, `after`, `depends_on` and a human `reason`,
//! in a deterministic order. `depends_on`, the plan's order and replacements all come from the
//! kinds' one dependency graph ([`secmon_kinds::graph`]) and their declarations.
//!
//! Comparison is semantic so that nothing diffs forever: each kind's reader maps AWS's forms
//! (policies reformatted, ARN suffixes, omitted defaults) to the same typed attributes as the spec.
//!
//! What this crate does not do: call AWS (reading is the seam's, [`secmon_kinds::Cloud`];
//! changing is `secmon-apply`'s), or render plans (the CLI). It is pure, so it is tested with
//! in-memory states and golden fixtures.

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

pub mod compare;
pub mod plan;

pub use compare::{plan, PlanOptions};
pub use plan::{Action, Plan, Step, FORMAT_VERSION};
pub use secmon_kinds::{desired_resources, policy, Kind, LiveResource, LiveState, Resource, Target};
pub use secmon_spec::DesiredState;

/// Errors of planning, each naming the resource and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(
        "{} not owned by spec `{spec}` (no `secmon:spec={spec}` tag): {}\n  hint: {}",
        if .addresses.len() == 1 { "a resource the spec describes already exists, and it is" } else { "resources the spec describes already exist, and they are" },
        .addresses.join(", "),
        not_owned_hint(.owners)
    )]
    /// Resources the spec describes exist and belong to no spec, or to another: secmon changes
    /// only what it owns (`secmon import` takes a resource over).
    NotOwned {
        /// The spec being planned.
        spec: String,
        /// Each address, with the spec that owns it when another does.
        addresses: Vec<String>,
        /// The other specs that own some of them.
        owners: Vec<String>,
    },
}

/// What to do about resources this spec does not own: those of nobody can be imported; those of
/// another spec stay that spec's.
fn not_owned_hint(owners: &[String]) -> String {
    if owners.is_empty() {
        "secmon never changes resources it does not own; rename them in the spec, or take them over with `secmon import -f SPEC ADDRESS...`"
            .into()
    } else {
        let specs = owners.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ");
        format!(
            "another spec ({specs}) manages them, and two specs managing one resource undo each other's applies: give this spec's resources other names, or remove them from {specs} first (then `secmon import`)"
        )
    }
}

/// The golden fixtures' directory, `tests/golden/` at the repository's root: one folder per
/// case, with `spec.yaml`, `live.json` and one expected output per renderer.
pub fn golden_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

/// The one golden-file check every renderer's test uses: `render` each case folder (None skips
/// the case) and compare with the case's `file`; every difference is reported at once as a
/// unified diff. With `UPDATE_GOLDEN` set, the files are rewritten instead (review the diff).
/// Returns how many cases were compared.
pub fn check_golden(file: &str, render: impl Fn(&std::path::Path) -> Option<String>) -> Result<usize, String> {
    let mut dirs: Vec<std::path::PathBuf> =
        std::fs::read_dir(golden_root()).map_err(|e| e.to_string())?.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let (mut wrong, mut compared) = (Vec::new(), 0);
    for dir in dirs {
        let Some(got) = render(&dir) else { continue };
        compared += 1;
        if let Err(diff) = check_golden_file(&dir.join(file), &got) {
            wrong.push(diff);
        }
    }
    match wrong.is_empty() {
        true => Ok(compared),
        false => Err(wrong.join("\n")),
    }
}

/// Compares `got` with the golden file at `path` (a unified diff when they differ), or rewrites
/// the file when `UPDATE_GOLDEN` is set: the one comparison every golden test makes.
pub fn check_golden_file(path: &std::path::Path, got: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        return std::fs::write(path, got).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    if got == want {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(want.as_str(), got).unified_diff().header("expected", "got").to_string();
    Err(format!("{}:\n{diff}", path.display()))
}

/// Plans a fixture directory offline: `spec.yaml` against `live.json` (a live state saved by
/// `secmon plan --live-out`), for account 123456789012 in us-east-1 unless the live state names
/// its own. What the golden tests of the diff and of the renderers start from.
pub fn plan_fixture(dir: &std::path::Path) -> Result<Plan, String> {
    let spec = secmon_spec::Spec::from_file(&dir.join("spec.yaml")).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(dir.join("live.json")).map_err(|e| e.to_string())?;
    let live: LiveState = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let (account, region) = if live.account_id.is_empty() {
        ("123456789012".to_string(), "us-east-1".to_string())
    } else {
        (live.account_id.clone(), live.region.clone())
    };
    let state = spec.state.resolve(&account, &region).map_err(|e| e.to_string())?;
    let target = Target { account_id: account, region };
    plan(&state.name, &desired_resources(&state, &target), &live, PlanOptions::default()).map_err(|e| e.to_string())
}
