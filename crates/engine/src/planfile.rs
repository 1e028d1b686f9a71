//! Saved plans (`secmon plan --out FILE`), written and read in one place: a plan of one target
//! is the [`Plan`] as data; a plan of a spec with `targets` groups each target's plan (or why it
//! has none) under the spec's name and the plan format.

use std::path::Path;

use secmon_diff::{Plan, FORMAT_VERSION};
use serde_json::json;

use crate::fanout::TargetId;
use crate::EngineError;

/// Reads a plan saved by `secmon plan -o FILE`.
pub fn load_plan(path: &Path) -> Result<Plan, EngineError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::File { path: file.clone(), message: e.to_string() })?;
    let saved: Plan =
        serde_json::from_str(&text).map_err(|e| EngineError::File { path: file.clone(), message: format!("not a secmon plan: {e}") })?;
    if saved.format_version != FORMAT_VERSION {
        return Err(EngineError::PlanFormat { path: file, found: saved.format_version, expected: FORMAT_VERSION });
    }
    Ok(saved)
}

/// The plans of a run over targets, as data: what `plan --output json` prints and `--out` saves.
pub fn grouped(spec: &str, planned: &[(TargetId, Result<&Plan, String>)]) -> serde_json::Value {
    let targets: Vec<serde_json::Value> = planned
        .iter()
        .map(|(t, p)| match p {
            Ok(plan) => json!({"account": t.account, "region": t.region, "home": t.home, "status": "ok", "plan": plan}),
            Err(e) => json!({"account": t.account, "region": t.region, "home": t.home, "status": "failed", "error": e}),
        })
        .collect();
    json!({"format_version": FORMAT_VERSION, "spec": spec, "targets": targets})
}

/// The plans saved for a spec with targets, by target name (`ACCOUNT/REGION`). Refuses a plan
/// of one target, of another format or spec, and a target saved without a plan.
pub fn load_grouped(path: &Path, spec: &str) -> Result<Vec<(String, Plan)>, EngineError> {
    let file = path.display().to_string();
    let fail = |message: String| EngineError::File { path: file.clone(), message };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(format!("not a secmon plan: {e}")))?;
    let Some(targets) = v.get("targets").and_then(|t| t.as_array()) else {
        return Err(fail("a plan of one target, not of a spec with `targets`: make it again with `secmon plan --out`".into()));
    };
    if v["format_version"] != FORMAT_VERSION || v["spec"] != spec {
        return Err(fail(format!("made by another secmon or for another spec than `{spec}`; nothing was applied")));
    }
    let mut out = Vec::new();
    for t in targets {
        let name = format!("{}/{}", t["account"].as_str().unwrap_or_default(), t["region"].as_str().unwrap_or_default());
        let Some(plan) = t.get("plan") else {
            return Err(fail(format!(
                "target {name} had no plan (it failed when planned); plan again once it is fixed; nothing was applied"
            )));
        };
        let plan: Plan = serde_json::from_value(plan.clone()).map_err(|e| fail(format!("{name}: {e}")))?;
        out.push((name, plan));
    }
    Ok(out)
}

/// Writes a plan file, naming the file in the error.
pub fn write(path: &Path, text: &str) -> Result<(), EngineError> {
    std::fs::write(path, text).map_err(|e| EngineError::File { path: path.display().to_string(), message: e.to_string() })
}
