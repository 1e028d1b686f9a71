//! Human rendering of a plan, in the conventions `terraform plan` users know: `+ ~ - -/+`,
//! attribute-level changes, and policies as unified text diffs. Reads the same `Plan` as JSON.

use secmon_diff::{Action, Plan, Step};
use serde_json::Value;
use similar::TextDiff;

use crate::output::Style;

fn symbol(a: Action, style: Style) -> String {
    match a {
        Action::Create => style.green("+"),
        Action::Update => style.yellow("~"),
        Action::Replace => style.red("-/+"),
        Action::Delete => style.red("-"),
        Action::NoOp => " ".into(),
    }
}

fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "is up to date",
    }
}

fn scalar(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".into(),
        Some(v) => v.to_string(),
    }
}

fn pretty(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default() + "\n",
    }
}

/// A whole structured value, as it is created or destroyed: a policy as `jsonencode(...)` of
/// indented JSON (as terraform shows it), any other map (tags, dimensions) in full. Lines after
/// the first are indented under the attribute.
fn whole(key: &str, v: &Value, indent: &str) -> String {
    if v.as_object().is_some_and(|o| o.is_empty()) || v.as_array().is_some_and(|a| a.is_empty()) {
        return v.to_string();
    }
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let body = text.lines().collect::<Vec<_>>().join(&format!("\n{indent}"));
    if key.to_ascii_lowercase().contains("policy") {
        format!("jsonencode({body})")
    } else {
        body
    }
}

/// One step as the human plan shows it.
pub fn step_text(step: &Step, style: Style, out: &mut String) {
    let r = step.after.as_ref().or(step.before.as_ref()).expect("resource");
    out.push_str(&format!("  {} {} {}", style.dim("#"), style.bold(step.address.as_str()), verb(step.action)));
    if matches!(step.action, Action::Update | Action::Delete | Action::Replace) && !step.reason.is_empty() {
        out.push_str(&format!(" ({})", step.reason));
    }
    out.push('\n');
    out.push_str(&format!("  {} {} {:?} {{\n", symbol(step.action, style), r.kind.as_str(), r.name));
    for (key, before, after) in step.changed_attrs() {
        let is_doc = matches!(&before, Some(Value::Object(_))) || matches!(&after, Some(Value::Object(_)));
        let sym = match (step.action, &before, &after) {
            (Action::Create, _, _) => symbol(Action::Create, style),
            (Action::Delete, _, _) => symbol(Action::Delete, style),
            _ => symbol(Action::Update, style),
        };
        if is_doc && step.action == Action::Update {
            out.push_str(&format!("      {sym} {key} = <<-POLICY\n"));
            let (a, b) = (pretty(&before), pretty(&after));
            let diff = TextDiff::from_lines(&a, &b);
            for change in diff.iter_all_changes() {
                let line = change.to_string();
                let line = line.trim_end_matches('\n');
                let painted = match change.tag() {
                    similar::ChangeTag::Delete => style.red(&format!("-{line}")),
                    similar::ChangeTag::Insert => style.green(&format!("+{line}")),
                    similar::ChangeTag::Equal => format!(" {line}"),
                };
                out.push_str(&format!("          {painted}\n"));
            }
            out.push_str("        POLICY\n");
        } else if matches!(step.action, Action::Create | Action::Delete) {
            let value = if step.action == Action::Create { &after } else { &before };
            let v = match value {
                Some(v @ (Value::Object(_) | Value::Array(_))) => whole(&key, v, "        "),
                _ => scalar(value),
            };
            out.push_str(&format!("      {sym} {key} = {v}\n"));
        } else {
            out.push_str(&format!("      {sym} {key} = {} -> {}\n", scalar(&before), scalar(&after)));
        }
    }
    // What apply needs but comparison ignores, e.g. where a secret's value comes from (never the
    // value): a reviewer sees what the run will read (issue 26, item 4).
    if let Some(after) = step.after.as_ref().filter(|_| step.action != Action::Delete) {
        for line in after.kind.def().plan_notes(after) {
            out.push_str(&format!("      {} {line}\n", style.dim("#")));
        }
    }
    out.push_str("    }\n\n");
}

pub fn plan_text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        out.push_str(&format!(
            "{} AWS matches the spec `{}` (account {}, {}).\n",
            style.green("No changes."),
            plan.spec,
            plan.account_id,
            plan.region
        ));
    } else {
        out.push_str(&format!(
            "secmon will perform the following actions for spec `{}` (account {}, {}):\n\n",
            plan.spec, plan.account_id, plan.region
        ));
        for s in plan.changes() {
            step_text(s, style, &mut out);
        }
        out.push_str(&format!(
            "{} {} to add, {} to change, {} to replace, {} to destroy.\n",
            style.bold("Plan:"),
            plan.count(Action::Create),
            plan.count(Action::Update),
            plan.count(Action::Replace),
            plan.count(Action::Delete)
        ));
    }
    for n in &plan.notes {
        out.push_str(&format!("{} {n}\n", style.yellow("Note:")));
    }
    out
}

/// The verify report as a table: status, check, subject, evidence, and the fix under a problem.
/// Columns are padded before colouring, so they stay aligned in a colour terminal.
pub fn verify_text(report: &secmon_verify::Report, style: Style) -> String {
    use secmon_verify::Status;
    let mut out = String::new();
    for c in &report.checks {
        let (word, paint): (&str, fn(&Style, &str) -> String) = match c.status {
            Status::Ok => ("ok", Style::green),
            Status::NotObservable => ("n/a", Style::dim),
            Status::Warning => ("warning", Style::yellow),
            Status::Pending => ("pending", Style::yellow),
            Status::Failed => ("FAILED", Style::red),
        };
        let status = paint(&style, &format!("{word:<8}"));
        out.push_str(&format!("{status} {:<32} {:<40} {}\n", c.id, c.subject, c.evidence));
        if let Some(f) = c.fix.as_ref().filter(|_| c.status >= Status::Warning) {
            out.push_str(&format!("{:<8} {} {f}\n", "", style.cyan("fix:")));
        }
    }
    let count = |s| report.checks.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "\n{} ok, {} not observable, {} warning(s), {} pending, {} failed\n",
        count(Status::Ok),
        count(Status::NotObservable),
        count(Status::Warning),
        count(Status::Pending),
        count(Status::Failed)
    ));
    out
}

#[cfg(test)]
mod tests {

    use super::*;

    /// Issue 13, item 1: the plan a reviewer reads shows every policy and map it creates, and
    /// says why a resource is destroyed. `tests/golden/<case>/plan.human.txt` is the human plan
    /// of each diff fixture; `UPDATE_GOLDEN=1 cargo test -p secmon-cli --bin secmon golden`
    /// rewrites them (review the diff).
    #[test]
    fn human_plans_match_their_golden_files() {
        let render = |dir: &std::path::Path| Some(plan_text(&secmon_diff::plan_fixture(dir).ok()?, Style { color: false, quiet: false }));
        secmon_diff::check_golden("plan.human.txt", render).unwrap_or_else(|diff| panic!("{diff}"));
    }

    #[test]
    fn policies_are_printed_in_full_and_labelled() {
        let v = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]});
        let text = whole("trust_policy", &v, "    ");
        assert!(text.starts_with("jsonencode({") && text.contains("\n      \"Statement\"") && text.ends_with("})"), "{text}");
        assert_eq!(whole("dimensions", &serde_json::json!({}), ""), "{}");
        assert!(whole("tags", &serde_json::json!({"secmon:spec": "x"}), "").starts_with('{'));
    }
}
