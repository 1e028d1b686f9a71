//! Issue 26, item 9: the declared `rust-version` is true: no locked dependency needs a newer
//! Rust, so `cargo install --locked` works on the toolchain the workspace declares.

use std::process::Command;

fn version(v: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts
}

#[test]
fn the_declared_rust_version_covers_every_locked_dependency() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let declared = version(env!("CARGO_PKG_RUST_VERSION"));
    let newer: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["rust_version"].as_str()?)))
        .filter(|(_, v)| version(v) > declared)
        .map(|(n, v)| format!("{n} needs {v}"))
        .collect();
    assert!(newer.is_empty(), "rust-version {} in Cargo.toml is not true: {newer:?}", env!("CARGO_PKG_RUST_VERSION"));
}
