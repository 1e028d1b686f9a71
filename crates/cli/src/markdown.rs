//! The plan as a pull-request comment: a summary table, then one collapsible section per changed
//! resource with its attribute changes, sized for GitHub (a comment holds 65,536 characters).

use secmon_diff::{Action, Plan};
use secmon_engine::fanout::TargetId;

use crate::output::Style;

/// GitHub's limit for a comment body, with room for the truncation note.
const MAX_COMMENT: usize = 65_536;
const RESERVE: usize = 600;

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "destroy",
        Action::NoOp => "none",
    }
}

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Replace => "-/+",
        Action::Delete => "-",
        Action::NoOp => " ",
    }
}

/// A human plan's lines for one step, with each change's symbol moved to the first column, so
/// GitHub's `diff` highlighting colours additions and removals.
fn diff_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match trimmed.chars().next() {
            Some(c @ ('+' | '-' | '~')) if indent > 0 => {
                out.push(if c == '~' { '!' } else { c });
                out.push_str(&" ".repeat(indent - 1));
                out.push(' ');
                out.push_str(&trimmed[1..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Text made inert in HTML and in a markdown table cell: `&` and `<` (no tag, no entity can
/// start), `|` (no cell can end) and line breaks (no row can end). A reviewer reads what the
/// spec says, and nothing a name or description says can change the comment around it (issue 26,
/// item 4).
fn inert(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A code span holding `s` literally in a table cell: a fence longer than any run of backticks
/// in it, `|` escaped (GitHub splits cells on it even in code), line breaks as spaces.
fn code_cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Text made inert in HTML content on one line (`<summary>`): `&`, `<`, `>`, quotes, line breaks.
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace(['\n', '\r'], " ")
}

pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = format!("### secmon plan: `{}` (account {}, {})\n\n", plan.spec, plan.account_id, plan.region);
    if !plan.has_changes() {
        out.push_str("**No changes.** AWS matches the spec.\n");
        notes(plan, &mut out);
        return out;
    }
    out.push_str(&format!("**{}**\n\n", plan_counts(plan)));
    resource_table(plan, &mut out);
    let changes = plan.changes().count();
    let shown = resource_details(plan, &mut out, MAX_COMMENT - RESERVE);
    if shown < changes {
        out.push_str(&format!(
            "> The details of {} more resource(s) do not fit in a comment (GitHub's limit is {MAX_COMMENT} characters): the saved plan (`plan.json`, the pull request's artifact) holds every change.\n\n",
            changes - shown
        ));
    }
    notes(plan, &mut out);
    out
}

fn plan_counts(plan: &Plan) -> String {
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete)
    )
}

/// One row per changed resource: symbol, address, action, why.
fn resource_table(plan: &Plan, out: &mut String) {
    out.push_str("| | resource | action | why |\n|---|---|---|---|\n");
    for s in plan.changes() {
        let why = if s.action == Action::Create { String::new() } else { inert(&s.reason) };
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", symbol(s.action), code_cell(s.address.as_str()), action_word(s.action), why));
    }
    out.push('\n');
}

/// A collapsible section per changed resource, while `out` stays within `limit` characters;
/// returns how many were shown.
fn resource_details(plan: &Plan, out: &mut String, limit: usize) -> usize {
    let mut shown = 0;
    for s in plan.changes() {
        let mut text = String::new();
        crate::render::step_text(s, Style { color: false, quiet: false }, &mut text);
        let body = diff_lines(&text);
        // A fence longer than any run of backticks in the body: nothing in it can close it.
        let fence = "`".repeat((longest_backtick_run(&body) + 1).max(3));
        let section = format!(
            "<details><summary><code>{} {}</code> ({})</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n\n",
            symbol(s.action),
            html(s.address.as_str()),
            action_word(s.action),
        );
        if out.len() + section.len() > limit {
            break;
        }
        out.push_str(&section);
        shown += 1;
    }
    shown
}

/// The plans of a spec with `targets` as one pull-request comment (issue 26, item 5): a summary
/// table of every target first (so it is never cut), then a collapsible section per target with
/// changes or an error, each holding the target's resource table and a collapsible section per
/// resource, while they fit in GitHub's 65,536 characters; a note says what was cut.
pub fn fleet_plan_markdown(spec: &str, planned: &[(TargetId, Result<&Plan, String>)]) -> String {
    let plans = || planned.iter().filter_map(|(_, p)| p.as_ref().ok());
    let changed = plans().filter(|p| p.has_changes()).count();
    let failed = planned.iter().filter(|(_, p)| p.is_err()).count();
    let total = |a: Action| plans().map(|p| p.count(a)).sum::<usize>();
    let mut out = format!("### secmon plan: `{}` over {} targets\n\n", inert(spec), planned.len());
    out.push_str(&format!(
        "**{changed} with changes, {} without, {failed} failed. Plan: {} to add, {} to change, {} to replace, {} to destroy in all.**\n\n",
        planned.len() - changed - failed,
        total(Action::Create),
        total(Action::Update),
        total(Action::Replace),
        total(Action::Delete)
    ));
    out.push_str("| account | region | add | change | replace | destroy | status |\n|---|---|---|---|---|---|---|\n");
    for (t, p) in planned {
        let region = if t.home { format!("{} (home)", t.region) } else { t.region.clone() };
        let row = match p {
            Ok(plan) => format!(
                "{} | {} | {} | {} | {}",
                plan.count(Action::Create),
                plan.count(Action::Update),
                plan.count(Action::Replace),
                plan.count(Action::Delete),
                if plan.has_changes() { "changes" } else { "no changes" }
            ),
            Err(e) => {
                let first = e.lines().next().unwrap_or_default();
                format!("- | - | - | - | **failed**: {}", inert(first.strip_prefix(&format!("{t}: ")).unwrap_or(first)))
            }
        };
        out.push_str(&format!("| {} | {} | {row} |\n", code_cell(&t.account), inert(&region)));
    }
    out.push('\n');
    let limit = MAX_COMMENT - RESERVE;
    let mut cut = 0;
    for (t, p) in planned {
        let mut section = String::new();
        match p {
            Ok(plan) if !plan.has_changes() => continue,
            Ok(plan) => {
                section.push_str(&format!(
                    "<details><summary>target <code>{}</code>: {}</summary>\n\n",
                    html(&t.to_string()),
                    html(&plan_counts(plan))
                ));
                resource_table(plan, &mut section);
                notes(plan, &mut section);
            }
            Err(e) => {
                let fence = "`".repeat((longest_backtick_run(e) + 1).max(3));
                section.push_str(&format!(
                    "<details><summary>target <code>{}</code>: failed</summary>\n\n{fence}\n{e}\n{fence}\n",
                    html(&t.to_string())
                ));
            }
        }
        const CLOSE: &str = "\n</details>\n\n";
        if cut > 0 || out.len() + section.len() + CLOSE.len() > limit {
            cut += 1;
            continue;
        }
        if let Ok(plan) = p {
            if !plan.notes.is_empty() {
                section.push('\n');
            }
            let room = limit.saturating_sub(out.len() + CLOSE.len());
            let shown = resource_details(plan, &mut section, room);
            let changes = plan.changes().count();
            if shown < changes {
                section.push_str(&format!(
                    "> The details of {} more resource(s) of this target do not fit: see `plan.json`.\n",
                    changes - shown
                ));
            }
        }
        out.push_str(&section);
        out.push_str(CLOSE);
    }
    if cut > 0 {
        out.push_str(&format!(
            "> The sections of {cut} more target(s) do not fit in a comment (GitHub's limit is {MAX_COMMENT} characters): the table above counts them; the saved plan (`plan.json`, the pull request's artifact) holds every change.\n"
        ));
    }
    out
}

fn notes(plan: &Plan, out: &mut String) {
    for n in &plan.notes {
        out.push_str(&format!("> **Note:** {}\n", inert(n)));
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn golden_plan(case: &str) -> Plan {
        secmon_diff::plan_fixture(&secmon_diff::golden_root().join(case)).unwrap()
    }

    /// Issue 13, item 5: `plan --output markdown` is a pull-request comment; the golden file is
    /// `tests/golden/<case>/plan.md` (`UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn markdown_plans_match_their_golden_files() {
        let render = |dir: &std::path::Path| Some(plan_markdown(&secmon_diff::plan_fixture(dir).ok()?));
        secmon_diff::check_golden("plan.md", render).unwrap_or_else(|diff| panic!("{diff}"));
    }

    #[test]
    fn a_plan_too_long_for_a_comment_is_truncated_with_a_note() {
        let mut p = golden_plan("empty-account");
        let steps = p.steps.clone();
        for i in 0..60 {
            for s in &steps {
                let mut s = s.clone();
                s.address = secmon_kinds::Address::new(s.address.kind(), &format!("{}-{i}", s.address.name()));
                p.steps.push(s);
            }
        }
        let md = plan_markdown(&p);
        assert!(md.len() <= MAX_COMMENT, "{}", md.len());
        assert!(md.contains("do not fit in a comment"), "the truncation is said");
        assert!(md.contains(&format!("| `+` | `{}-59` | create |", steps[0].address)), "the summary table lists every resource");
    }

    fn target(account: &str, region: &str, home: bool) -> TargetId {
        TargetId { account: account.into(), region: region.into(), home, first_region: home }
    }

    /// Issue 26, item 5: a spec with `targets` gets one comment: the summary table of every
    /// target, then a collapsible section per target with changes or an error
    /// (`tests/golden/fleet-plan.md`; `UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn issue_26_a_fleet_plan_is_one_comment_with_a_table_and_a_section_per_target() {
        let (fresh, converged) = (golden_plan("empty-account"), golden_plan("converged"));
        let planned = vec![
            (target("111111111111", "us-east-1", true), Ok(&fresh)),
            (target("111111111111", "eu-west-1", false), Ok(&converged)),
            (target("222222222222", "us-east-1", true), Ok(&fresh)),
            (
                target("333333333333", "us-east-1", true),
                Err("333333333333/us-east-1: cannot act through role arn:aws:iam::333333333333:role/R\n  hint: the role must exist"
                    .to_string()),
            ),
        ];
        let md = fleet_plan_markdown("secrets-monitoring", &planned);
        secmon_diff::check_golden_file(&secmon_diff::golden_root().join("fleet-plan.md"), &md).unwrap_or_else(|diff| panic!("{diff}"));
        assert_eq!(md.matches("<details><summary>target ").count(), 3, "no section for a target without changes");
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    }

    #[test]
    fn issue_26_a_fleet_plan_too_long_for_a_comment_keeps_every_targets_row_and_says_what_was_cut() {
        let mut big = golden_plan("empty-account");
        let steps = big.steps.clone();
        for i in 0..5 {
            big.steps.extend(steps.iter().map(|s| renamed(s, i)));
        }
        let targets: Vec<TargetId> = (0..26).map(|i| target(&format!("{:012}", 100_000_000_000u64 + i), "us-east-1", true)).collect();
        let planned: Vec<(TargetId, Result<&Plan, String>)> = targets.iter().map(|t| (t.clone(), Ok(&big))).collect();
        let md = fleet_plan_markdown("s", &planned);
        assert!(md.len() <= MAX_COMMENT, "{}", md.len());
        for t in &targets {
            assert!(md.contains(&format!("| `{}` | us-east-1 (home) |", t.account)), "every target has its row");
        }
        assert!(md.contains("more target(s) do not fit in a comment"), "the cut is said");
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    }

    fn renamed(s: &secmon_diff::Step, i: usize) -> secmon_diff::Step {
        let mut s = s.clone();
        s.address = secmon_kinds::Address::new(s.address.kind(), &format!("{}-{i}", s.address.name()));
        s
    }

    #[test]
    fn changes_start_their_line_for_diff_highlighting() {
        // Widths are kept: the symbol moves to the first column, a space takes its place.
        assert_eq!(
            diff_lines("  + secret \"x\" {\n      + a = 1\n      ~ b = 1 -> 2\n    }"),
            "+   secret \"x\" {\n+       a = 1\n!       b = 1 -> 2\n    }\n"
        );
    }

    /// The markdown with fenced blocks and code spans removed: what GitHub interprets as markup.
    fn outside_code(md: &str) -> String {
        let mut out = String::new();
        let mut fence: Option<String> = None;
        for line in md.lines() {
            let ticks: String = line.chars().take_while(|c| *c == '`').collect();
            match &fence {
                Some(f) if line.trim_end() == f => fence = None,
                Some(_) => {}
                None if ticks.len() >= 3 => fence = Some(ticks),
                None => {
                    // Code spans: a run of n backticks up to the next run of exactly n.
                    let mut rest = line;
                    while let Some(at) = rest.find('`') {
                        out.push_str(&rest[..at]);
                        let run = rest[at..].chars().take_while(|c| *c == '`').count();
                        let after = &rest[at + run..];
                        let close = "`".repeat(run);
                        match after.find(&close) {
                            Some(end) => rest = &after[end + run..],
                            None => {
                                rest = after;
                                out.push_str(&close);
                            }
                        }
                    }
                    out.push_str(rest);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Issue 26, item 4: names and texts from the spec cannot break out of the comment: not the
    /// table (`|`, line breaks), not the collapsible sections (`</details>`, HTML), not the code
    /// fences (backticks).
    #[test]
    fn user_strings_cannot_break_out_of_the_comment() {
        let mut p = golden_plan("drifted");
        let hostile = "x | y</details><script>alert(1)</script>```\n| injected | row |";
        let i = p.steps.iter().position(|s| s.action != Action::NoOp && s.action != Action::Create).unwrap();
        p.steps[i].address = secmon_kinds::Address::new(secmon_kinds::Kind::Alarm, hostile);
        p.steps[i].reason = hostile.to_string();
        p.notes.push(hostile.to_string());
        let md = plan_markdown(&p);
        let prose = outside_code(&md);
        assert!(!prose.contains("<script") && !prose.contains("</details><"), "HTML only where secmon puts it: {prose}");
        assert_eq!(prose.matches("<details>").count(), prose.matches("</details>").count(), "{md}");
        let row = md.lines().find(|l| l.contains("alert(1)") && l.starts_with("| ")).unwrap();
        let cells = row.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 5, "the row keeps its four cells: {row}");
        assert!(!prose.lines().any(|l| l.starts_with("| injected")), "no injected row: {prose}");
        // Fences: every fenced block closes with the fence that opened it.
        let body = md.split("<summary><code>").skip(1).find(|s| s.contains("alert(1)")).unwrap();
        let opening = body.lines().find(|l| l.starts_with("```")).unwrap();
        let fence: String = opening.chars().take_while(|c| *c == '`').collect();
        assert!(fence.len() > 3, "a longer fence than the body's backticks: {opening}");
    }
}
