//! Bounds on spec input. A spec is read in pull-request pipelines, where anyone who can open a
//! pull request chooses its text: a hostile document must not take the runner down. The classic
//! is "billion laughs": a kilobyte of nested YAML aliases that expands to billions of nodes. The
//! text is measured as a stream of parser events, before any tree is built, counting each alias
//! as the size of what it names (issue 10).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use crate::Pos;

/// Larger than any real spec (the all-packs spec is about 3 KiB).
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;
/// Nodes of the document once every alias is expanded.
pub const MAX_EXPANDED_NODES: u64 = 100_000;
/// Collections nested in one another (a spec needs about six).
pub const MAX_DEPTH: usize = 64;

/// The first place where `text` breaks a bound, and why. Syntax errors are left to the loader.
pub(crate) fn check(text: &str) -> Result<(), (Pos, String)> {
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err((Pos { line: 1, column: 1 }, format!("the spec is {} bytes; at most {MAX_SPEC_BYTES} are read", text.len())));
    }
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    // Open collections: (anchor id, expanded nodes so far).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    let mut keys = DuplicateKeys::default();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { return Ok(()) };
        let at = Pos { line: span.start.line(), column: span.start.col() + 1 };
        keys.see(&event, at)?;
        let closed = match event {
            Event::Scalar(_, _, anchor, _) => Some((anchor, 1)),
            Event::Alias(id) => Some((0, anchors.get(&id).copied().unwrap_or(1))),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                total += 1;
                if open.len() > MAX_DEPTH {
                    let at = Pos { line: span.start.line(), column: span.start.col() + 1 };
                    return Err((at, format!("the spec nests collections more than {MAX_DEPTH} deep; refusing to read it")));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            _ => None,
        };
        let Some((anchor, size)) = closed else { continue };
        if !matches!(event, Event::SequenceEnd | Event::MappingEnd) {
            total = total.saturating_add(size);
        }
        if anchor != 0 {
            anchors.insert(anchor, size);
        }
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(size);
        }
        if total > MAX_EXPANDED_NODES {
            let at = Pos { line: span.start.line(), column: span.start.col() + 1 };
            return Err((
                at,
                format!("the spec expands to more than {MAX_EXPANDED_NODES} YAML nodes (nested aliases?); refusing to read it"),
            ));
        }
    }
    Ok(())
}

/// Duplicate keys in one mapping. YAML parsers keep the last value, while a reviewer of the pull
/// request reads the first: a spec could say `threshold: 1` where the reviewer looks and
/// `threshold: 1000000` further down. Refused, naming both places (issue 26, item 4).
#[derive(Default)]
struct DuplicateKeys {
    /// Per open collection: for a mapping, its keys so far and whether a key comes next.
    open: Vec<Option<(HashMap<String, Pos>, bool)>>,
}

impl DuplicateKeys {
    fn see(&mut self, event: &Event<'_>, at: Pos) -> Result<(), (Pos, String)> {
        match event {
            Event::MappingStart(..) => {
                self.value_seen();
                self.open.push(Some((HashMap::new(), true)));
            }
            Event::SequenceStart(..) => {
                self.value_seen();
                self.open.push(None);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.open.pop();
            }
            Event::Scalar(value, ..) => {
                if let Some(Some((keys, true))) = self.open.last_mut() {
                    if let Some(first) = keys.get(value.as_ref()) {
                        return Err((
                            at,
                            format!(
                                "duplicate key `{value}` (first at line {}, column {}): YAML keeps the last, a reviewer reads the first; keep one",
                                first.line, first.column
                            ),
                        ));
                    }
                    keys.insert(value.to_string(), at);
                    if let Some(Some((_, next_is_key))) = self.open.last_mut() {
                        *next_is_key = false;
                    }
                } else {
                    self.value_seen();
                }
            }
            Event::Alias(_) => self.value_seen(),
            _ => {}
        }
        Ok(())
    }

    /// A node that is a mapping's value (or key) was seen: the mapping's next node is a key again.
    fn value_seen(&mut self) {
        if let Some(Some((_, next_is_key))) = self.open.last_mut() {
            *next_is_key = !*next_is_key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_billion_laughs_is_refused_before_it_is_expanded() {
        // Regression (issue 10): a 1 KB document of nested aliases grew `validate` past 16 GB.
        let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            doc.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
        }
        assert!(doc.len() < 1024);
        let (at, message) = check(&doc).unwrap_err();
        assert!(message.contains("more than 100000"), "{message}");
        assert!(at.line > 1 && at.line <= 10, "{at:?}");
    }

    #[test]
    fn ordinary_anchors_and_real_specs_pass() {
        assert!(check("base: &b { statistic: Sum, period: 60 }\nx: *b\ny: *b\n").is_ok());
        assert!(check(include_str!("../../../specs/all-packs.yaml")).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("a: {}1{}\n", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(check(&deep).unwrap_err().1.contains("nests collections"));
        let fine = format!("a: {}1{}\n", "[".repeat(10), "]".repeat(10));
        assert!(check(&fine).is_ok());
    }

    #[test]
    fn an_oversized_file_is_refused() {
        let big = "#".repeat(MAX_SPEC_BYTES as usize + 1);
        assert!(check(&big).unwrap_err().1.contains("at most"));
    }

    /// Issue 26, item 4: a duplicate key is refused, wherever it is nested, naming both places.
    #[test]
    fn duplicate_keys_are_refused_naming_both_places() {
        let (at, message) = check("name: a\nregion: us-east-1\nname: b\n").unwrap_err();
        assert_eq!((at.line, at.column), (3, 1));
        assert!(message.contains("duplicate key `name` (first at line 1, column 1)"), "{message}");
        let nested = "monitors:\n  - name: m\n    alarm:\n      threshold: 1\n      period: 60\n      threshold: 1000000\n";
        let (at, message) = check(nested).unwrap_err();
        assert_eq!(at.line, 6);
        assert!(message.contains("`threshold`"), "{message}");
        // The same key in two mappings, values that equal keys, and lists are all fine.
        assert!(check("a: {x: 1}\nb: {x: 1}\nc: [x, x]\nd: a\ne:\n  - {k: v}\n  - {k: v}\n").is_ok());
        assert!(check(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/all-packs.yaml")).unwrap()).is_ok());
    }
}
