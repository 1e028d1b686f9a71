//! The fast path of an alert (issue 24, item 1): a monitor's filter pattern as an EventBridge
//! event pattern, and the notification an input transformer makes of each matching event.
//!
//! A metric alarm says that a threshold was crossed; the responder then has to find who read
//! which secret, from where. EventBridge receives every CloudTrail management event of its
//! region ("AWS API Call via CloudTrail"; read-only ones such as `GetSecretValue` only for a rule
//! in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`, EventBridge user guide, "Receiving
//! read-only management events from AWS services"), and an input transformer turns the event
//! into text for the monitor's topics. This module holds the pure part of that path:
//! - [`event_pattern`]: the filter pattern translated, or why it cannot be (terms, regular
//!   expressions, array indices: EventBridge has no equivalent, and an approximation would
//!   alert on what the monitor does not count, or miss what it does);
//! - [`envelope`]: a CloudTrail record as EventBridge delivers it (`detail` is the record);
//! - [`matches()`]: EventBridge's content filtering, for the subset of operators secmon emits and
//!   a few more, so that tests prove the translation on real records;
//! - [`Transformer`] and [`Transformer::render`]: the `InputPathsMap`/`InputTemplate` pair and
//!   the text it produces, as the EventBridge user guide documents it: a path missing from the
//!   event renders as nothing ("that variable isn't created"), values are inserted unescaped.
//!
//! What this module does not do: call AWS, or know resources. The rule and its target are the
//! `event_rule` kind's.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::pattern::{Comparison, Expr, Literal, Op, Pattern, Step, Test};

/// The `detail-type`s CloudTrail delivers its records under (EventBridge user guide, "Events
/// from AWS services": API calls, console sign-ins, service events).
pub const CLOUDTRAIL_DETAIL_TYPES: [&str; 3] =
    ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail", "AWS Service Event via CloudTrail"];

/// An event pattern may be at most 4,096 characters (EventBridge API reference, `PutRule`).
pub const MAX_EVENT_PATTERN_CHARS: usize = 4096;

/// More alternatives than this (after distributing `&&` over `||`) is a pattern no reviewer
/// can check; secmon keeps such monitors on the metric alarm alone.
const MAX_ALTERNATIVES: usize = 16;

/// The monitor's filter pattern as an EventBridge event pattern over CloudTrail events, or why
/// it cannot be one (the reason is shown to the user: the monitor keeps its metric alarm only).
pub fn event_pattern(pattern: &Pattern) -> Result<Value, String> {
    let expr = match pattern {
        Pattern::Json(expr) => expr,
        Pattern::All => return Err("the pattern matches every event; an alert per event would be a flood".into()),
        Pattern::Terms(_) => return Err("a term pattern matches text in the raw record, which event patterns cannot".into()),
        Pattern::Delimited(_) => return Err("a space-delimited pattern is for text logs, not CloudTrail records".into()),
    };
    let alternatives = disjunctive_form(expr)?;
    let mut conjunctions = Vec::new();
    for alternative in &alternatives {
        conjunctions.push(conjunction(alternative)?);
    }
    let detail = match merged_alternatives(&alternatives, &conjunctions) {
        Some(one) => one,
        None if conjunctions.len() == 1 => conjunctions.remove(0),
        None => json!({ "$or": conjunctions }),
    };
    let p = json!({ "detail-type": CLOUDTRAIL_DETAIL_TYPES, "detail": detail });
    let chars = p.to_string().chars().count();
    if chars > MAX_EVENT_PATTERN_CHARS {
        return Err(format!("as an event pattern it is {chars} characters; EventBridge takes at most {MAX_EVENT_PATTERN_CHARS}"));
    }
    Ok(p)
}

/// Each monitor of `state` whose alert context is on (its own `alert_context`, else the
/// spec's), with its event pattern or why it has none; none on a target watched from another
/// region (EventBridge rules are regional, and such a target has no topics of its own).
fn alert_contexts(state: &secmon_spec::DesiredState) -> Vec<(&secmon_spec::Monitor, Result<Value, String>)> {
    if state.watched_from.is_some() {
        return Vec::new();
    }
    let pattern_of = |m: &secmon_spec::Monitor| {
        if m.notify.is_empty() {
            return Err("it notifies no topic".to_string());
        }
        Pattern::parse(&m.pattern).map_err(|e| e.to_string()).and_then(|p| event_pattern(&p))
    };
    state.monitors.iter().filter(|m| state.wants_alert_context(m)).map(|m| (m, pattern_of(m))).collect()
}

/// The monitors of `state` that get the fast path, each with its event pattern.
pub fn fast_path_monitors(state: &secmon_spec::DesiredState) -> Vec<(&secmon_spec::Monitor, Value)> {
    alert_contexts(state).into_iter().filter_map(|(m, p)| Some((m, p.ok()?))).collect()
}

/// The monitors of `state` that `alert_context` asks for and that cannot have the fast path,
/// with why: they keep their metric alarm only.
pub fn without_fast_path(state: &secmon_spec::DesiredState) -> Vec<(&secmon_spec::Monitor, String)> {
    alert_contexts(state).into_iter().filter_map(|(m, p)| Some((m, p.err()?))).collect()
}

/// `a && (b || c)` as `[[a, b], [a, c]]`.
fn disjunctive_form(e: &Expr) -> Result<Vec<Vec<&Comparison>>, String> {
    let out = match e {
        Expr::Cmp(c) => vec![vec![c]],
        Expr::Or(a, b) => {
            let mut out = disjunctive_form(a)?;
            out.extend(disjunctive_form(b)?);
            out
        }
        Expr::And(a, b) => {
            let (a, b) = (disjunctive_form(a)?, disjunctive_form(b)?);
            let mut out = Vec::new();
            for x in &a {
                for y in &b {
                    out.push(x.iter().chain(y).copied().collect());
                }
            }
            out
        }
    };
    if out.len() > MAX_ALTERNATIVES {
        return Err(format!("it has more than {MAX_ALTERNATIVES} alternatives once && is distributed over ||"));
    }
    Ok(out)
}

/// `$.a = "x" || $.a = "y"`: one field, a list of values, the form people write.
fn merged_alternatives(alternatives: &[Vec<&Comparison>], conjunctions: &[Value]) -> Option<Value> {
    if alternatives.len() < 2 || alternatives.iter().any(|a| a.len() != 1) {
        return None;
    }
    let first = &alternatives[0][0].selector;
    if alternatives.iter().any(|a| &a[0].selector != first) {
        return None;
    }
    let mut values = Vec::new();
    for c in conjunctions {
        let mut v = c;
        for step in first {
            let Step::Key(k) = step else { return None };
            v = v.get(k)?;
        }
        values.extend(v.as_array()?.iter().cloned());
    }
    let mut out = json!(values);
    for step in first.iter().rev() {
        let Step::Key(k) = step else { return None };
        out = json!({ k.as_str(): out });
    }
    Some(out)
}

/// One `&&` chain as the `detail` part of an event pattern.
fn conjunction(comparisons: &[&Comparison]) -> Result<Value, String> {
    let mut root = Map::new();
    for c in comparisons {
        let mut keys = Vec::new();
        for step in &c.selector {
            match step {
                Step::Key(k) => keys.push(k.as_str()),
                Step::Index(_) => {
                    return Err(format!("`{}` selects an array element by index, which event patterns cannot", c.selector_text))
                }
                Step::Any => return Err(format!("`{}` has a wildcard selector, which event patterns cannot", c.selector_text)),
            }
        }
        let Some((last, parents)) = keys.split_last() else {
            return Err(format!("`{}` compares the whole record", c.text));
        };
        let mut node = &mut root;
        for k in parents {
            let child = node.entry(k.to_string()).or_insert_with(|| json!({}));
            node =
                child.as_object_mut().ok_or_else(|| format!("`{}` is both compared and a parent of a compared field", c.selector_text))?;
        }
        let matchers = matchers(c)?;
        match node.get_mut(*last) {
            None => {
                node.insert(last.to_string(), matchers);
            }
            Some(existing) => *existing = same_field_and(existing, &matchers, c)?,
        }
    }
    Ok(Value::Object(root))
}

/// Two conditions on one field in a `&&` chain: only two numeric bounds combine into a range.
fn same_field_and(existing: &Value, new: &Value, c: &Comparison) -> Result<Value, String> {
    let numeric = |v: &Value| -> Option<Vec<Value>> {
        let [m] = v.as_array()?.as_slice() else { return None };
        let ops = m.get("numeric")?.as_array()?;
        (ops.len() == 2 && ops[0] != "=").then(|| ops.clone())
    };
    match (numeric(existing), numeric(new)) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Ok(json!([{ "numeric": a }]))
        }
        _ => Err(format!("`{}` is tested twice in one && chain, which event patterns cannot say", c.selector_text)),
    }
}

/// The matchers (alternatives, EventBridge's array) for one comparison.
fn matchers(c: &Comparison) -> Result<Value, String> {
    Ok(match &c.test {
        Test::IsNull => json!([null]),
        Test::NotExists => json!([{ "exists": false }]),
        Test::IsBool(b) => json!([b]),
        Test::Compare(_, Literal::Regex(_)) => {
            return Err(format!("`{}` uses a regular expression, which event patterns cannot", c.text));
        }
        Test::Compare(op, Literal::Text { text, number }) => {
            let wildcard = text.contains('*');
            match (op, number) {
                (Op::Eq, _) if wildcard => json!([{ "wildcard": text }]),
                // CloudWatch Logs compares a number with a number, and text with text.
                (Op::Eq, Some(n)) => json!([{ "numeric": ["=", n] }, text]),
                (Op::Eq, None) => json!([text]),
                (Op::Ne, _) if wildcard => json!([{ "anything-but": { "wildcard": text } }]),
                (Op::Ne, _) => json!([{ "anything-but": text }]),
                (op, Some(n)) => json!([{ "numeric": [op.as_str(), n] }]),
                (_, None) => return Err(format!("`{}` compares text by order, which event patterns cannot", c.text)),
            }
        }
    })
}

/// A CloudTrail record as EventBridge delivers it to a rule: the record is `detail`.
pub fn envelope(record: &Value) -> Value {
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or_default();
    let detail_type = match text("eventType") {
        "AwsConsoleSignIn" => CLOUDTRAIL_DETAIL_TYPES[1],
        "AwsServiceEvent" => CLOUDTRAIL_DETAIL_TYPES[2],
        _ => CLOUDTRAIL_DETAIL_TYPES[0],
    };
    let service = text("eventSource").split('.').next().unwrap_or_default();
    json!({
        "version": "0",
        "id": text("eventID"),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": text("recipientAccountId"),
        "time": text("eventTime"),
        "region": text("awsRegion"),
        "resources": [],
        "detail": record,
    })
}

/// Whether EventBridge's content filtering matches `event` with `pattern` (EventBridge user
/// guide, "Content filtering in Amazon EventBridge event patterns"): every field of the pattern
/// must match; a field's array lists alternatives; an array in the event matches when one of
/// its elements does.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else { return false };
    fields.iter().all(|(key, want)| {
        if key == "$or" {
            return want.as_array().is_some_and(|alts| alts.iter().any(|alt| matches(alt, event)));
        }
        let got = event.get(key);
        match want {
            Value::Object(_) => got.is_some_and(|g| match g {
                Value::Array(items) => items.iter().any(|i| matches(want, i)),
                _ => matches(want, g),
            }),
            Value::Array(alternatives) => alternatives.iter().any(|m| matcher_matches(m, got)),
            _ => false,
        }
    })
}

/// One matcher (a literal or an operator object) against a field, possibly absent.
fn matcher_matches(m: &Value, got: Option<&Value>) -> bool {
    let values: Vec<&Value> = match got {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let Value::Object(op) = m else {
        return values.contains(&m);
    };
    let Some((name, arg)) = op.iter().next() else { return false };
    match name.as_str() {
        "exists" => arg.as_bool() == Some(got.is_some()),
        "wildcard" => values.iter().any(|v| v.as_str().zip(arg.as_str()).is_some_and(|(s, w)| wildcard(w, s))),
        "prefix" => values.iter().any(|v| v.as_str().zip(arg.as_str()).is_some_and(|(s, p)| s.starts_with(p))),
        "suffix" => values.iter().any(|v| v.as_str().zip(arg.as_str()).is_some_and(|(s, p)| s.ends_with(p))),
        "numeric" => values.iter().any(|v| v.as_f64().is_some_and(|n| numeric(arg, n))),
        "anything-but" => !values.is_empty() && values.iter().all(|v| !anything_but_excludes(arg, v)),
        _ => false,
    }
}

/// Whether `anything-but`'s argument names `v` (a value, a list, or a wildcard or prefix).
fn anything_but_excludes(arg: &Value, v: &Value) -> bool {
    match arg {
        Value::Array(list) => list.contains(v),
        Value::Object(o) => match (o.get("wildcard").and_then(Value::as_str), o.get("prefix").and_then(Value::as_str), v.as_str()) {
            (Some(w), _, Some(s)) => wildcard(w, s),
            (_, Some(p), Some(s)) => s.starts_with(p),
            _ => false,
        },
        other => other == v,
    }
}

/// `numeric`'s `[op, n, op, n]`: every bound holds.
fn numeric(arg: &Value, n: f64) -> bool {
    let Some(ops) = arg.as_array() else { return false };
    ops.chunks(2).all(|pair| match (pair[0].as_str(), pair.get(1).and_then(Value::as_f64)) {
        (Some("="), Some(x)) => n == x,
        (Some("<"), Some(x)) => n < x,
        (Some("<="), Some(x)) => n <= x,
        (Some(">"), Some(x)) => n > x,
        (Some(">="), Some(x)) => n >= x,
        _ => false,
    })
}

/// `*` matches any run of characters, as in EventBridge's `wildcard` and CloudWatch Logs' `=`.
fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields one part at least");
    let Some(mut tail) = s.strip_prefix(first) else { return false };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return tail.ends_with(part);
        }
        match tail.find(part) {
            Some(at) => tail = &tail[at + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

/// An EventBridge input transformer: `InputPathsMap` and `InputTemplate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transformer {
    /// Variable name → JSON path in the event.
    pub paths: BTreeMap<String, String>,
    /// The template: one quoted line per line of the message, as the EventBridge user guide's
    /// multi-line example has it, or a JSON document ([`Transformer::chat_notification`]);
    /// `<name>` is replaced by the variable's value.
    pub template: String,
    /// Whether the template is JSON: EventBridge then escapes each string value it inserts
    /// "to ensure valid JSON output" (EventBridge user guide, "Amazon EventBridge input
    /// transformation").
    pub json: bool,
}

/// What a responder needs, each a path in the event EventBridge delivers (the CloudTrail
/// record is `detail`; field names from the CloudTrail record contents reference).
const CONTEXT: [(&str, &str); 12] = [
    ("event", "$.detail.eventName"),
    ("service", "$.detail.eventSource"),
    ("error", "$.detail.errorCode"),
    ("principal", "$.detail.userIdentity.arn"),
    ("principal_type", "$.detail.userIdentity.type"),
    ("access_key", "$.detail.userIdentity.accessKeyId"),
    ("session_of", "$.detail.userIdentity.sessionContext.sessionIssuer.arn"),
    ("ip", "$.detail.sourceIPAddress"),
    ("agent", "$.detail.userAgent"),
    ("account", "$.detail.recipientAccountId"),
    ("region", "$.detail.awsRegion"),
    ("time", "$.detail.eventTime"),
];

/// The resource a call names, by the request parameter each watched service uses; only
/// scalars (a list would be inserted as JSON, unescaped). At most one is present in a record.
const RESOURCE: [(&str, &str); 8] = [
    ("secret", "$.detail.requestParameters.secretId"),
    ("parameter", "$.detail.requestParameters.name"),
    ("instance", "$.detail.requestParameters.instanceId"),
    ("bucket", "$.detail.requestParameters.bucketName"),
    ("log_group", "$.detail.requestParameters.logGroupName"),
    ("key", "$.detail.requestParameters.keyId"),
    ("topic", "$.detail.requestParameters.topicArn"),
    ("role", "$.detail.requestParameters.roleName"),
];

impl Transformer {
    /// The variables every notification uses: the event's context, the resource it names, its id.
    fn context_paths() -> BTreeMap<String, String> {
        let mut paths: BTreeMap<String, String> = CONTEXT.iter().chain(&RESOURCE).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        paths.insert("event_id".into(), "$.detail.eventID".into());
        paths
    }

    /// The notification of monitor `monitor` on log group `log_group`, ending with its runbook.
    /// The Logs Insights query finds exactly the event (by its id) in the pipeline's log group.
    pub fn notification(monitor: &str, log_group: &str, runbook: Option<&str>) -> Transformer {
        let (title, body, runbook) = Self::lines(monitor, log_group, runbook);
        let lines: Vec<String> = std::iter::once(title).chain(body).chain(runbook.map(|r| format!("Runbook: {r}"))).collect();
        let template = lines.iter().map(|l| format!("\"{l}\"")).collect::<Vec<_>>().join("\n");
        Transformer { paths: Self::context_paths(), template, json: false }
    }

    /// The same notification as an AWS Chatbot custom notification, the only form of a message
    /// not sent by an AWS service that Chatbot posts to a channel ("Custom notifications", Amazon
    /// Q Developer in chat applications administrator guide: `version` 1.0, `source` custom,
    /// `content.description`). No `textType`: the event's values are the caller's (a user agent,
    /// a secret id), and `client-markdown` would render them as markdown.
    pub fn chat_notification(monitor: &str, log_group: &str, runbook: Option<&str>) -> Transformer {
        let (title, body, runbook) = Self::lines(monitor, log_group, runbook);
        let mut content = format!("\"title\": \"{title}\", \"description\": \"{}\"", body.join("\\n"));
        if let Some(runbook) = runbook {
            content.push_str(&format!(", \"nextSteps\": [\"Runbook: {runbook}\"]"));
        }
        let template = format!("{{\"version\": \"1.0\", \"source\": \"custom\", \"id\": \"<event_id>\", \"content\": {{{content}}}}}");
        Transformer { paths: Self::context_paths(), template, json: true }
    }

    /// The notification's title, its labelled lines, and its runbook, each made safe for a
    /// template line.
    fn lines(monitor: &str, log_group: &str, runbook: Option<&str>) -> (String, Vec<String>, Option<String>) {
        let resource: String = RESOURCE.iter().map(|(k, _)| format!("<{k}>")).collect();
        let title = format!("secmon alert: {}: <event> by <principal>", template_text(monitor));
        // One label per line: a value missing from the event (no error code, no role session)
        // leaves its label empty rather than shifting the meaning of a sentence.
        let body = vec![
            "Principal: <principal> (<principal_type>)".to_string(),
            "Access key: <access_key>".to_string(),
            "Role session of: <session_of>".to_string(),
            "Call: <service> <event>".to_string(),
            format!("Resource: {resource}"),
            "Error code: <error>".to_string(),
            "Source IP: <ip>".to_string(),
            "User agent: <agent>".to_string(),
            "Account and region: <account> <region>".to_string(),
            "Event time: <time>".to_string(),
            format!(
                "Find it: CloudWatch Logs Insights on log group {}: fields @timestamp, @message | filter eventID = '<event_id>'",
                template_text(log_group)
            ),
        ];
        (title, body, runbook.map(template_text))
    }

    /// The text EventBridge sends the target for `event`: each `<name>` replaced by its value
    /// (a string as is, anything else as JSON), by nothing when the path is not in the event.
    pub fn render(&self, event: &Value) -> String {
        let mut out = String::with_capacity(self.template.len() * 2);
        let mut rest = self.template.as_str();
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('>').map(|close| (&after[..close], close)) {
                Some((name, close)) if self.paths.contains_key(name) => {
                    if let Some(v) = select(event, &self.paths[name]) {
                        match v {
                            // Inside a JSON template's string: escaped, as EventBridge does.
                            Value::String(s) if self.json => {
                                let quoted = Value::String(s.clone()).to_string();
                                out.push_str(&quoted[1..quoted.len() - 1]);
                            }
                            Value::String(s) => out.push_str(s),
                            other => out.push_str(&other.to_string()),
                        }
                    }
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('<');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Text made safe for a template line: `<` and `>` cannot be escaped in a template (EventBridge
/// user guide), `"` and `\` would end or change the JSON string the line is.
fn template_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => '‹',
            '>' => '›',
            '"' => '\'',
            '\\' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A `$.a.b` path's value in `v`.
fn select<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.strip_prefix("$.")?.split('.').try_fold(v, |v, k| v.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Value {
        event_pattern(&Pattern::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn the_seed_pattern_is_a_list_of_event_names() {
        let p = pattern(
            r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && (($.eventName = "GetSecretValue") || ($.eventName = "BatchGetSecretValue")) }"#,
        );
        assert_eq!(
            p["detail"]["$or"],
            json!([
                {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["GetSecretValue"]},
                {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["BatchGetSecretValue"]}
            ])
        );
        let q = pattern(r#"{ $.eventName = "GetSecretValue" || $.eventName = "BatchGetSecretValue" }"#);
        assert_eq!(q["detail"], json!({"eventName": ["GetSecretValue", "BatchGetSecretValue"]}));
    }

    #[test]
    fn operators_translate_to_their_event_pattern_forms() {
        assert_eq!(
            pattern(r#"{ $.errorCode = "*UnauthorizedOperation" }"#)["detail"],
            json!({"errorCode": [{"wildcard": "*UnauthorizedOperation"}]})
        );
        assert_eq!(
            pattern(r#"{ $.userIdentity.type != "AwsServiceEvent" }"#)["detail"],
            json!({"userIdentity": {"type": [{"anything-but": "AwsServiceEvent"}]}})
        );
        assert_eq!(
            pattern(r#"{ $.additionalEventData.MFAUsed NOT EXISTS }"#)["detail"],
            json!({"additionalEventData": {"MFAUsed": [{"exists": false}]}})
        );
        assert_eq!(pattern("{ $.n > 1 && $.n <= 5 }")["detail"], json!({"n": [{"numeric": [">", 1.0, "<=", 5.0]}]}));
        assert_eq!(pattern("{ $.readOnly IS FALSE }")["detail"], json!({"readOnly": [false]}));
    }

    #[test]
    fn what_event_patterns_cannot_say_is_named() {
        let why = |text: &str| event_pattern(&Pattern::parse(text).unwrap()).unwrap_err();
        assert!(why("GetSecretValue").contains("term pattern"));
        assert!(why(r#"{ $.eventName = %Get.*% }"#).contains("regular expression"));
        assert!(why(r#"{ $.resources[0].ARN = "x" }"#).contains("by index"));
        assert!(why(r#"{ $.a = "x" && $.a = "y" }"#).contains("tested twice"));
        assert!(why("").contains("every event"));
    }

    #[test]
    fn wildcards_match_as_both_services_document() {
        assert!(wildcard("*UnauthorizedOperation", "Client.UnauthorizedOperation"));
        assert!(wildcard("Get*Value", "GetSecretValue"));
        assert!(!wildcard("Get*Value", "GetSecretValues"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "a-b-b-c"));
        assert!(!wildcard("abc", "abcd"));
    }

    #[test]
    fn a_missing_path_renders_as_nothing_and_values_are_not_escaped() {
        let t = Transformer::notification("Secret <read>", "/aws/cloudtrail/x", None);
        let event = envelope(&json!({"eventName": "GetSecretValue", "userAgent": "say \"hi\"", "eventID": "e-1"}));
        let text = t.render(&event);
        assert!(text.starts_with("\"secmon alert: Secret ‹read›: GetSecretValue by \""), "{text}");
        assert!(text.contains("User agent: say \"hi\""), "{text}");
        assert!(text.contains("filter eventID = 'e-1'"), "{text}");
        assert!(text.contains("\"Error code: \"\n"), "{text}");
    }
}
