//! Every example of AWS's "Filter and pattern syntax" documentation (CloudWatch Logs user guide),
//! with the outcome the documentation gives.

use secmon_sim::{Event, Pattern};
use serde_json::{json, Value};

fn text_matches(pattern: &str, message: &str) -> bool {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let json = serde_json::from_str::<Value>(message).ok();
    p.matches(&Event { message, json: json.as_ref() })
}

fn json_matches(pattern: &str, doc: &Value) -> bool {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let message = doc.to_string();
    p.matches(&Event { message: &message, json: Some(doc) })
}

fn which(pattern: &str, lines: &[&str]) -> Vec<usize> {
    lines.iter().enumerate().filter(|(_, l)| text_matches(pattern, l)).map(|(i, _)| i + 1).collect()
}

#[test]
fn single_term() {
    assert!(text_matches("ERROR", "[ERROR] A fatal exception has occurred"));
    assert!(text_matches("ERROR", "Exiting with ERRORCODE: -1"));
    assert!(text_matches("\"ERROR\"", "Exiting with ERRORCODE: -1"));
    assert!(!text_matches("ERROR", "[error] lower case"), "terms are case sensitive");
}

#[test]
fn include_a_term_and_exclude_a_term() {
    for p in ["\"ERROR\" -\"Exiting\"", "\"ERROR\" - \"Exiting\""] {
        assert!(text_matches(p, "[ERROR] A fatal exception has occurred"), "{p}");
        assert!(!text_matches(p, "Exiting with ERRORCODE: -1"), "{p}");
    }
}

#[test]
fn multiple_terms_and_phrases() {
    assert!(text_matches("ERROR Exception", "[ERROR] Caught IllegalArgumentException"));
    assert!(text_matches("ERROR Exception", "[ERROR] Unhandled Exception"));
    for line in ["[WARN] Failed to process the request", "[ERROR] Unable to continue: Failed to process the request"] {
        assert!(text_matches("\"Failed to process the request\"", line));
        assert!(text_matches("Failed to process the request", line));
    }
    assert!(!text_matches("\"Failed to process the request\"", "Failed to process: the request"));
}

#[test]
fn or_pattern_matching_on_terms() {
    let lines = ["ERROR WARN message", "ERROR message", "WARN message"];
    assert_eq!(which("ERROR", &lines), [1, 2]);
    assert_eq!(which("?ERROR ?WARN", &lines), [1, 2, 3]);
    assert_eq!(which("ERROR WARN", &lines), [1]);
    assert_eq!(which("ERROR -WARN", &lines), [2]);
}

/// The current page's four-line example. The pattern's last field takes the rest of the line,
/// which is why the page insists on the blank `w2` after `w1`: `[w1=ERROR]` alone would compare
/// the whole line with ERROR. (An older version of the page listed `[w1=ERROR, w2]` as matching
/// only `ERROR message` among `ERROR WARN message`, `ERROR message` and `WARN message`; the
/// current page's examples replace it.)
const ORDERED: [&str; 4] = [
    "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    "WARNING 09/25/2014 12:00:02 Invalid user request",
    "ERROR 09/25/2014 12:00:02 Failed to process request",
];

#[test]
fn space_delimited_terms_in_order() {
    assert_eq!(which("[w1=ERROR, w2]", &ORDERED), [4]);
    assert_eq!(which("[w1=ERROR || w1=WARNING, w2]", &ORDERED), [3, 4]);
    assert_eq!(which("[w1!=ERROR && w1!=WARNING, w2]", &ORDERED), [1, 2]);
    assert_eq!(which("[w1=ERROR]", &ORDERED), Vec::<usize>::new(), "without w2, w1 is the whole line");
    assert_eq!(which("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]", &ORDERED), [1]);
    assert_eq!(which("[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]", &ORDERED), [2]);
}

#[test]
fn space_delimited_seven_field_example() {
    let line = [r#"127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#];
    for p in [
        r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        "[..., request =*.html*, status_code = 4*, bytes]",
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
    ] {
        assert_eq!(which(p, &line), [1], "{p}");
    }
    assert_eq!(which(r"[ip=%127\.0\.0\.[2-9]%, user, username, timestamp, request, status_code, bytes]", &line), Vec::<usize>::new());
}

#[test]
fn or_pattern_matching_in_json_filters() {
    let lines = [r#"{"foo": "bar"}"#, r#"{"foo": "baz"}"#];
    assert_eq!(which("{$.foo = bar}", &lines), [1]);
    assert_eq!(which("{$.foo = baz }", &lines), [2]);
    assert_eq!(which("{$.foo = bar || $.foo = baz }", &lines), [1, 2]);
}

fn update_trail_doc() -> Value {
    json!({
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": null,
        "ThisFlag": true
    })
}

/// The JSON examples both versions of the page give, each matching its example event.
const JSON_EXAMPLES_OF_BOTH_PAGES: [&str; 5] = [
    r#"{ $.eventType = "UpdateTrail" }"#,
    "{ $.sourceIPAddress != 123.123.* }",
    r#"{ $.arrayKey[0] = "value" }"#,
    "{ $.SomeObject IS NULL }",
    "{ $.SomeOtherObject NOT EXISTS }",
];

#[test]
fn json_metric_filter_examples() {
    let doc = update_trail_doc();
    for p in JSON_EXAMPLES_OF_BOTH_PAGES.into_iter().chain(["{ $.objectList[1].id = 2 }", "{ $.ThisFlag IS TRUE }"]) {
        assert!(json_matches(p, &doc), "{p} should match");
    }
    assert!(!json_matches("{ $.ThisFlag IS FALSE }", &doc));
    assert!(!json_matches("{ $.sourceIPAddress != 111.111.* }", &doc));
    assert!(!json_matches("{ $.objectList[5].id = 2 }", &doc), "index past the end");
    assert!(!json_matches("{ $.eventType[0] = \"U\" }", &doc), "not an array");
}

#[test]
fn wildcards_in_json_strings() {
    let doc = json!({"a": "PutEvent", "b": "GetEvent", "c": "EventId", "d": "EventName", "e": "Ev*ent"});
    assert!(json_matches("{ $.a = *Event }", &doc) && json_matches("{ $.b = *Event }", &doc));
    assert!(json_matches("{ $.c = Event* }", &doc) && json_matches("{ $.d = Event* }", &doc));
    assert!(json_matches(r#"{ $.e = "Ev*ent" }"#, &doc));
}

fn compound_doc() -> Value {
    json!({
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]
    })
}

#[test]
fn json_compound_conditions() {
    let doc = compound_doc();
    assert!(json_matches(r#"{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }"#, &doc));
    assert!(!json_matches(r#"{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }"#, &doc));
    assert!(json_matches(
        r#"{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }"#,
        &doc
    ));
    assert!(!json_matches(
        r#"{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }"#,
        &doc
    ));
}

#[test]
fn selectors_must_reach_a_value() {
    let doc = json!({"users": [1, 2, 3]});
    assert!(!json_matches("{$.users = 1}", &doc));
    assert!(!json_matches("{$.users != 1}", &doc));
}

#[test]
fn numeric_comparisons() {
    let doc = json!({"latency": 1500, "numbers": [0.005], "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}], "errorCode": 400});
    for p in [
        "{ $.latency >= 500 }",
        "{ $.numbers[0] < 10e3 }",
        "{ $.numbers[0] < 10e-3 }",
        "{ $.processes[4].averageRuntime <= 55.5 }",
        "{ $.errorCode = 400 }",
        "{ $.errorCode != 500 }",
        "{ $.latency > +1000 }",
    ] {
        assert!(json_matches(p, &doc), "{p}");
    }
    assert!(!json_matches("{ $.latency < 500 }", &doc));
    assert!(json_matches("{ $.latency = * }", &doc), "the doc's `$.latency = *` metric filter");
}

const APACHE: [&str; 3] = [
    r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324"#,
    r#"127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355"#,
];

#[test]
fn space_delimited_fields_and_ellipsis() {
    for p in [
        "[ip, user, username, timestamp, request, status_code, bytes]",
        "[..., status_code, bytes]",
        "[ip, user, ..., status_code, bytes]",
        "[ip, user, ...]",
    ] {
        assert_eq!(which(p, &APACHE), [1, 2, 3], "{p}");
    }
    // One field short: the last field takes the rest of the line ("200 1534").
    assert_eq!(which("[ip, user, username, timestamp, request, status_code]", &APACHE), [1, 2, 3]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 200]", &APACHE), Vec::<usize>::new());
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = \"200 1534\"]", &APACHE), [1]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code, bytes, more]", &APACHE), Vec::<usize>::new());
}

#[test]
fn space_delimited_conditions() {
    assert_eq!(which("[ip, user, username, timestamp, request, status_code, bytes > 1000]", &APACHE), [1, 2, 3]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code, bytes > 5000]", &APACHE), [2]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 200, bytes]", &APACHE), [1, 3]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 4*, bytes]", &APACHE), Vec::<usize>::new());
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 5*, bytes]", &APACHE), [2]);
    assert_eq!(which("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", &APACHE), Vec::<usize>::new());
    assert_eq!(which("[ip, user, username, timestamp, request = *gif*, status_code = 2*, bytes]", &APACHE), [1, 3]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]", &APACHE), Vec::<usize>::new());
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 5* && bytes > 1000, bytes]", &APACHE), [2]);
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 5* && bytes > 9000, bytes]", &APACHE), Vec::<usize>::new());
    assert_eq!(which("[ip, user, username, timestamp, request, status_code = 2* && status_code != 403, bytes]", &APACHE), [1, 3]);
}

#[test]
fn space_delimited_extracted_fields() {
    let line = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
    let p = Pattern::parse("[..., request=*.html*, status_code=4*,]").unwrap();
    let ev = Event { message: line, json: None };
    assert!(p.matches(&ev));
    assert_eq!(p.metric_value("$status_code", &ev), Some(404.0));
    assert_eq!(p.metric_value("$7", &ev), Some(1534.0));
    assert_eq!(p.metric_value("$3", &ev), None, "frank is not a number");
    if let secmon_sim::Pattern::Delimited(d) = &p {
        let b = d.bind(line).unwrap();
        assert_eq!(b.tokens[3], "10/Oct/2000:13:25:15 -0700");
        assert_eq!(b.tokens[0], "127.0.0.1");
        assert_eq!(b.named.iter().find(|(n, _)| n == "request").unwrap().1, "GET /index.html HTTP/1.0");
    }
}

#[test]
fn json_metric_values() {
    let doc = json!({"latency": 250});
    let p = Pattern::parse("{ $.latency = * }").unwrap();
    let m = doc.to_string();
    assert_eq!(p.metric_value("$.latency", &Event { message: &m, json: Some(&doc) }), Some(250.0));
    assert_eq!(p.metric_value("1", &Event { message: &m, json: Some(&doc) }), Some(1.0));
}

#[test]
fn regular_expressions() {
    assert!(text_matches("%ERROR|WARN%", "a WARN here"));
    assert!(text_matches("%[0-9]{3}%", "code 404"));
    assert!(!text_matches("%^ERROR%", "not ERROR first"));
    assert!(json_matches("{ $.eventName = %^Get.*Value$% }", &json!({"eventName": "GetSecretValue"})));
    assert!(!json_matches("{ $.eventName = %^Batch% }", &json!({"eventName": "GetSecretValue"})));
    assert!(Pattern::parse("%(a)%").is_err(), "CloudWatch refuses parentheses in regex");
}

#[test]
fn example_events_match_their_pattern_unless_it_contradicts_itself() {
    let base = json!({"eventSource": "x.amazonaws.com", "eventName": "Other", "userIdentity": {"type": "IAMUser", "invokedBy": "signin.amazonaws.com"}, "eventType": "AwsApiCall"});
    for text in [
        r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#,
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
        r#"{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}"#,
        "{ $.latency > 100 && $.list[2].id = 7 && $.flag IS TRUE }",
    ] {
        let p = Pattern::parse(text).unwrap();
        let ev = p.example_event(&base).unwrap();
        let m = ev.to_string();
        assert!(p.matches(&Event { message: &m, json: Some(&ev) }), "{text}: {ev}");
    }
    let contradiction = Pattern::parse(r#"{ ($.eventName = "A") && ($.eventName = "B") }"#).unwrap();
    let ev = contradiction.example_event(&base).unwrap();
    let m = ev.to_string();
    assert!(!contradiction.matches(&Event { message: &m, json: Some(&ev) }));
    assert!(Pattern::parse("{ $.a = %x% }").unwrap().example_event(&base).is_none());
    assert!(Pattern::parse("ERROR").unwrap().example_event(&base).is_none());
}

/// The unstructured examples of the current page, with the log events it lists.
const UNSTRUCTURED: [&str; 4] =
    ["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST", "[ERROR 419] MISSING ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"];

#[test]
fn unstructured_terms() {
    assert_eq!(which("ERROR", &UNSTRUCTURED), [1, 2, 3, 4]);
    assert_eq!(which("ERROR ARGUMENTS", &UNSTRUCTURED), [3, 4]);
    assert_eq!(which("?ERROR ?ARGUMENTS", &UNSTRUCTURED), [1, 2, 3, 4]);
    assert_eq!(which("ERROR -ARGUMENTS", &UNSTRUCTURED), [1, 2]);
    assert_eq!(which("\"INTERNAL SERVER ERROR\"", &["[ERROR 500] INTERNAL SERVER ERROR", "[ERROR 500] INTERNAL ERROR"]), [1]);
    assert_eq!(which("%AUTHORIZED%", &["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST", "[INFO] other"]), [1, 2]);
}

#[test]
fn question_mark_terms_are_ignored_next_to_other_terms() {
    let lines = ["[INFO] REQUEST FAILED", "[WARN] UNAUTHORIZED REQUEST", "[ERROR] 400 BAD REQUEST", "[ERROR] no such word"];
    assert_eq!(which("?ERROR ?ARGUMENTS REQUEST", &lines), [1, 2, 3]);
    assert_eq!(which("?ERROR ?ARGUMENTS -FAILED", &lines), [2, 3, 4]);
    assert!(Pattern::parse("?ERROR ?ARGUMENTS REQUEST").map(|p| matches!(p, Pattern::Terms(t) if t.any_ignored())).unwrap());
}

#[test]
fn a_quoted_space_matches_everything() {
    assert_eq!(which("\" \"", &["[ERROR]", "single", "two words", "{}"]), [1, 2, 3, 4]);
}

/// The current page's example event: the older one's, with `cluster.name` for `ThisFlag`.
fn page_json_event() -> Value {
    let mut doc = update_trail_doc();
    let fields = doc.as_object_mut().expect("an object");
    fields.remove("ThisFlag");
    fields.insert("cluster.name".into(), json!("c"));
    doc
}

#[test]
fn json_examples_of_the_current_page() {
    let doc = page_json_event();
    for p in JSON_EXAMPLES_OF_BOTH_PAGES.into_iter().chain([
        "{ $.eventType = %Trail% }",
        "{ $.arrayKey[*] = %val.{2}% }",
        r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }",
        r#"{ $.['cluster.name'] = "c" }"#,
    ]) {
        assert!(json_matches(p, &doc), "{p} should match");
    }
    for p in [
        r#"{ $.arrayKey[*] = "nothing" }"#,
        r#"{ $.* = "nothing" }"#,
        r#"{ $.['cluster.name'] = "d" }"#,
        r#"{ $.cluster.name = "c" }"#,
        "{ $.arrayKey[*] NOT EXISTS }",
    ] {
        assert!(!json_matches(p, &doc), "{p} should not match");
    }
}

#[test]
fn json_wildcards_reach_every_element() {
    let doc = page_json_event();
    assert!(json_matches("{ $.objectList[*].id = 2 }", &doc));
    assert!(!json_matches("{ $.objectList[*].id = 3 }", &doc));
    assert!(json_matches(r#"{ $.objectList[*].name = "a" && $.objectList[*].name = "b" }"#, &doc));
    assert!(json_matches(r#"{ $["cluster.name"] = "c" }"#, &doc), "double-quoted bracket keys too");
    // `$.*` reaches the top level's values only; objects and arrays it reaches are not values.
    assert!(!json_matches("{ $.* = 1 }", &doc));
}

#[test]
fn json_numeric_examples_of_the_current_page() {
    for (p, doc) in [
        ("{ $.bandwidth > 75 }", json!({"bandwidth": 80})),
        ("{ $.latency < 50 }", json!({"latency": 20})),
        ("{ $.refreshRate >= 60 }", json!({"refreshRate": 60})),
        ("{ $.responseTime <= 5 }", json!({"responseTime": 5})),
        ("{ $.errorCode = 400}", json!({"errorCode": 400})),
        ("{ $.errorCode != 500 }", json!({"errorCode": 400})),
        ("{ $.number[0] = 1e+3 }", json!({"number": [1000]})),
        ("{ $.number[0] != 1e-3 }", json!({"number": [1000]})),
    ] {
        assert!(json_matches(p, &doc), "{p} on {doc}");
    }
}

#[test]
fn quotas_the_page_states_are_syntax_errors() {
    let e = Pattern::parse("{ $.a[*].b[*] = 1 }").unwrap_err();
    assert!(e.message.contains("one wildcard"), "{e}");
    let e = Pattern::parse("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }").unwrap_err();
    assert!(e.message.contains("at most 3"), "{e}");
    assert!(Pattern::parse("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 }").is_ok());
    let e = Pattern::parse("{ $.a = %x% || $.b = %y% || $.c = %z% }").unwrap_err();
    assert!(e.message.contains("at most 2"), "{e}");
    assert!(Pattern::parse("[a = %x%, b = %y%, c = %z%]").is_err());
    assert!(Pattern::parse("[a = %x%, b = %y%, c]").is_ok());
}

#[test]
fn regular_expression_examples_of_the_current_page() {
    assert_eq!(which("%^[hc]at%", &["hat trick", "cat", "that"]), [1, 2]);
    assert_eq!(which("%[hc]at$%", &["a hat", "the cat", "cats"]), [1, 2]);
    assert_eq!(which("%colou?r%", &["color", "colour", "colr"]), [1, 2]);
    assert_eq!(which("%a{3,5}%", &["aaa", "aaaa", "aa"]), [1, 2]);
    assert_eq!(which("%gra|ey%", &["gray", "grey", "gruy"]), [1, 2]);
    assert_eq!(
        which("%^starting|^initializing|^shutting down%", &["starting up", "initializing", "shutting down now", "skipping initializing"]),
        [1, 2, 3]
    );
    assert_eq!(which(r"%\[.\]%", &["[a]", "[7]", "[ ]", "ab"]), [1, 2, 3]);
    assert_eq!(which(r"%10\.10\.0\.1%", &["ip 10.10.0.1", "10010,051"]), [1]);
    assert_eq!(which("%10.10.0.1%", &["10010,051"]), [1], "the page's warning: `.` matches any character");
    assert_eq!(which("%ab*c%", &["ac", "abc", "abbbc", "adc"]), [1, 2, 3]);
    assert_eq!(which("%ab[0-9]*%", &["ab", "ab0", "ab129"]), [1, 2, 3]);
    assert_eq!(which("%ab+c%", &["abc", "abbc", "ac"]), [1, 2]);
    assert_eq!(which("%.at%", &["hat", "#at", " at", "at"]), [1, 2, 3]);
    assert_eq!(which(r"%\d%", &["a1", "ab"]), [1]);
    assert_eq!(which(r"%\D%", &["11", "1a"]), [2]);
    assert_eq!(which(r"%\s%", &["a b", "ab"]), [1]);
    assert_eq!(which(r"%\w%", &["_", "-"]), [1]);
    assert_eq!(which(r"%\x3A%", &["a:b", "ab"]), [1]);
    assert_eq!(which(r"%\x28%", &["f(x)", "fx"]), [1]);
    let e = Pattern::parse("%something!%").unwrap_err();
    assert!(e.message.contains("'!'") && e.message.contains("\\x21"), "{e}");
    assert!(Pattern::parse("%caf\u{e9}%").is_err(), "multi-byte characters are not supported");
}

#[test]
fn is_not_and_exists_are_not_supported() {
    for p in ["{ $.SomeObject IS NOT NULL }", "{ $.SomeObject EXISTS }"] {
        let e = Pattern::parse(p).unwrap_err();
        assert!(e.message.contains("IS NULL, IS TRUE, IS FALSE or NOT EXISTS"), "{p}: {e}");
    }
}
