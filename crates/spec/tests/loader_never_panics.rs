//! Issue 10: the spec loader, fed what a pull request could contain, never panics and never
//! accepts by accident: arbitrary text, and YAML-shaped text built from the pieces specs (and
//! attacks on YAML parsers) are made of: anchors, aliases, tags, flow and block collections,
//! odd scalars, deep nesting. Every input gets `Ok` or located diagnostics.

use proptest::prelude::*;
use secmon_spec::Spec;

/// Fixed pieces: the sections of a spec, and what YAML parsers trip on.
const FIXED_PIECES: &[&str] = &[
    "version: 1\n",
    "name: n\n",
    "monitors:\n  - name: m\n    pattern: '{ $.eventName = X }'\n",
    "topics: [{ name: T, email: [a@b.c] }]\n",
    "trail: { name: t, bucket: { name: b-${account_id} } }\n",
    "packs: [cis-aws-foundations, { name: secret-access, benchmark: '3.0.0' }]\n",
    "!!binary aGk=\n",
    "? complex key\n: value\n",
    "x: [[[[[[[[[[1]]]]]]]]]]\n",
    "%YAML 1.2\n---\n",
    "...\n",
    "\t\u{feff}\u{0}\n",
    "a: |\n  block\n  text\n",
    "a: \"\\u00e9\\x41\"\n",
    "a: 0x1F\nb: .inf\nc: ~\n",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        // Each fixed piece as likely as each generated one.
        FIXED_PIECES.len() as u32 => prop::sample::select(FIXED_PIECES).prop_map(str::to_string),
        1 => "[a-z]{1,8}".prop_map(|k| format!("{k}: &{k} [x, *{k}, y]\n")),
        1 => "[a-z]{1,8}".prop_map(|k| format!("- *{k}\n")),
        1 => "[a-z]{1,8}".prop_map(|k| format!("<<: *{k}\n")),
        1 => ".{0,40}".prop_map(|s| format!("{s}\n")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn yaml_shaped_input_never_panics(pieces in prop::collection::vec(piece(), 0..12), indent in 0usize..4) {
        let text: String = pieces.iter().map(|p| format!("{}{p}", " ".repeat(indent))).collect();
        check(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }
}

/// Parses; a refusal must carry at least one located error.
fn check(text: &str) {
    if let Err(e) = Spec::parse(text, "fuzz.yaml") {
        let d = e.diagnostics();
        assert!(!d.is_empty(), "a refusal says why: {text:?}");
        assert!(d.iter().all(|x| x.line >= 1 && x.file == "fuzz.yaml"), "{d:?}");
    }
    let (_, diags) = Spec::parse_partial(text, "fuzz.yaml");
    let _ = diags;
}
