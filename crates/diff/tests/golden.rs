//! Golden fixtures for the diff logic: `tests/golden/<case>/` holds the spec, the live state read
//! from AWS (`secmon plan --live-out live.json`, captured on the emulator) and the expected plan.
//! The plan is recomputed without a network and compared line by line.
//! `UPDATE_GOLDEN=1 cargo test -p secmon-diff --test diff golden::` rewrites `plan.txt` (review the diff).

use std::path::Path;

use secmon_diff::Action;

fn render(dir: &Path) -> String {
    let mut out = String::new();
    match secmon_diff::plan_fixture(dir) {
        Err(e) => out.push_str(&format!("error: {e}\n")),
        Ok(p) => {
            for s in &p.steps {
                out.push_str(&format!("{} {}", format!("{:?}", s.action).to_lowercase(), s.address));
                if !s.depends_on.is_empty() {
                    let after: Vec<&str> = s.depends_on.iter().map(|a| a.as_str()).collect();
                    out.push_str(&format!("  (after {})", after.join(", ")));
                }
                out.push('\n');
                if s.action == Action::Update {
                    for (k, b, a) in s.changed_attrs() {
                        out.push_str(&format!(
                            "    {k}: {} -> {}\n",
                            b.map(|v| v.to_string()).unwrap_or_default(),
                            a.map(|v| v.to_string()).unwrap_or_default()
                        ));
                    }
                }
            }
            for n in &p.notes {
                out.push_str(&format!("note: {n}\n"));
            }
        }
    }
    out
}

#[test]
fn golden_plans() {
    let compared = secmon_diff::check_golden("plan.txt", |dir| Some(render(dir))).unwrap_or_else(|diff| panic!("{diff}"));
    assert!(compared >= 4);
}
