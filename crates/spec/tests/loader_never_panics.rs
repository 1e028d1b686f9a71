//! Issue 10: the spec loader, fed what a pull request could contain, never panics and never
//! accepts by accident: arbitrary text, and YAML-shaped text built from the pieces specs (and
//! attacks on YAML parsers) are made of: anchors, aliases, tags, flow and block collections,
//! odd scalars, deep nesting. Every input gets `Ok` or located diagnostics.

use proptest::prelude::*;
use secmon_spec::Spec;

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("version: 1\n".to_string()),
        Just("name: n\n".to_string()),
        Just("monitors:\n  - name: m\n    pattern: '{ $.eventName = X }'\n".to_string()),
        Just("topics: [{ name: T, email: [a@b.c] }]\n".to_string()),
        Just("trail: { name: t, bucket: { name: b-${account_id} } }\n".to_string()),
        Just("packs: [cis-aws-foundations, { name: secret-access, benchmark: '3.0.0' }]\n".to_string()),
        "[a-z]{1,8}".prop_map(|k| format!("{k}: &{k} [x, *{k}, y]\n")),
        "[a-z]{1,8}".prop_map(|k| format!("- *{k}\n")),
        "[a-z]{1,8}".prop_map(|k| format!("<<: *{k}\n")),
        Just("!!binary aGk=\n".to_string()),
        Just("? complex key\n: value\n".to_string()),
        Just("x: [[[[[[[[[[1]]]]]]]]]]\n".to_string()),
        Just("%YAML 1.2\n---\n".to_string()),
        Just("...\n".to_string()),
        Just("\t\u{feff}\u{0}\n".to_string()),
        Just("a: |\n  block\n  text\n".to_string()),
        Just("a: \"\\u00e9\\x41\"\n".to_string()),
        Just("a: 0x1F\nb: .inf\nc: ~\n".to_string()),
        ".{0,40}".prop_map(|s| format!("{s}\n")),
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
