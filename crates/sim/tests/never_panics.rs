//! Property tests: the parser and evaluator never panic, whatever the input.

use proptest::prelude::*;
use secmon_sim::{Event, Pattern};
use serde_json::json;

fn fragments() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{", "}", "[", "]", "(", ")", "$", "$.", "$.a", "$.a[0]", "[0]", ".", "=", "!=", "<", ">=", "&&", "||", "\"", "\"x\"", "%",
        "%a.*%", "IS", "NULL", "NOT", "EXISTS", "TRUE", "FALSE", "*", "1", "-1e3", "...", ",", "?", "-", " ", "w1", "ERROR", "\\", "é",
        "…",
    ]);
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn parsing_arbitrary_text_never_panics(s in ".{0,80}") {
        let _ = Pattern::parse(&s);
    }

    #[test]
    fn parsing_and_matching_pattern_shaped_text_never_panics(p in fragments(), msg in ".{0,60}") {
        if let Ok(pattern) = Pattern::parse(&p) {
            let doc = json!({"a": [1, {"b": null}], "eventName": msg.clone(), "n": 3.5});
            let m = doc.to_string();
            let _ = pattern.matches(&Event { message: &msg, json: None });
            let _ = pattern.matches(&Event { message: &m, json: Some(&doc) });
            let _ = pattern.explain(&Event { message: &m, json: Some(&doc) });
            let _ = pattern.metric_value("$1", &Event { message: &msg, json: None });
        }
    }

    #[test]
    fn errors_point_inside_the_pattern(p in fragments()) {
        if let Err(e) = Pattern::parse(&p) {
            prop_assert!(e.column >= 1 && e.column <= p.chars().count() + 1, "{} for {:?}", e, p);
        }
    }
}
