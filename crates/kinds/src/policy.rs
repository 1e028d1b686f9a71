//! Semantic normalisation of IAM-style JSON policies, so that key order, whitespace and
//! single-element lists never produce a diff. AWS returns policies reformatted (and URL-encoded
//! from IAM); both sides pass through [`normalize`] before comparison.

use serde_json::{Map, Value};

/// Keys whose value may be a string or a list of strings with the same meaning.
const LISTY: [&str; 7] = ["Action", "NotAction", "Resource", "NotResource", "Service", "AWS", "Federated"];

/// Canonical form: object keys sorted, one-element lists of strings collapsed, lists of strings
/// sorted and deduplicated, condition values likewise, statements sorted by Sid.
pub fn normalize(v: &Value) -> Value {
    norm(v, "")
}

fn norm(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(o) => {
            let mut m = Map::new();
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for k in keys {
                m.insert(k.clone(), norm(&o[k], k));
            }
            Value::Object(m)
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|x| norm(x, key)).collect();
            if key == "Statement" {
                items.sort_by_key(|s| s.get("Sid").and_then(Value::as_str).unwrap_or("").to_string());
                return Value::Array(items);
            }
            if items.iter().all(Value::is_string) {
                let mut s: Vec<String> = items.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
                s.sort();
                s.dedup();
                if s.len() == 1 {
                    return Value::String(s.remove(0));
                }
                return Value::Array(s.into_iter().map(Value::String).collect());
            }
            Value::Array(items)
        }
        Value::String(s) if LISTY.contains(&key) => Value::String(s.clone()),
        other => other.clone(),
    }
}

/// Parses a policy document (as AWS returns it: JSON, possibly URL-encoded by IAM) and normalises it.
pub fn parse(text: &str) -> Option<Value> {
    let decoded;
    let text = if text.trim_start().starts_with('%') || text.contains("%22") || text.contains("%7B") {
        decoded = url_decode(text);
        decoded.as_str()
    } else {
        text
    };
    serde_json::from_str::<Value>(text).ok().map(|v| normalize(&v))
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a policy decides for one request ([`decide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement matches and no Deny does.
    Allowed,
    /// A Deny statement matches, or no Allow does.
    Denied,
    /// The policy uses what [`decide`] does not evaluate (`NotAction`, `NotPrincipal`, set
    /// operators, policy variables): no claim either way.
    Unknown,
}

/// Decides whether the resource policy `policy` lets the service principal `principal` make
/// `action` on `resource` with the request context `context`, as IAM documents the evaluation
/// of one resource policy: an explicit deny wins, else an allow, else the implicit deny.
///
/// Used by `verify` to judge a policy secmon does not write (a key brought by ARN) against the
/// link contract's requests. It covers the elements such policies use: `Principal` (`*` or
/// `Service`), `Action`, `Resource` with `*`/`?` wildcards, and the `String*`, `Arn*` and `Bool`
/// condition operators (with `IfExists`); anything else makes the answer [`Decision::Unknown`].
/// The link-contract test checks that it agrees with an independent evaluator on every case.
pub fn decide(
    policy: &Value,
    principal: &str,
    action: &str,
    resource: &str,
    context: &std::collections::BTreeMap<String, String>,
) -> Decision {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        // A document without statements allows nothing; no document at all was not read.
        None if policy.is_object() => Vec::new(),
        _ => return Decision::Unknown,
    };
    let (mut allowed, mut unknown) = (false, false);
    for st in statements {
        let applies = statement_applies(st, principal, action, resource, context);
        match (st.get("Effect").and_then(Value::as_str), applies) {
            (Some("Deny"), Some(true)) => return Decision::Denied,
            (Some("Allow"), Some(true)) => allowed = true,
            (_, None) => unknown = true,
            _ => {}
        }
    }
    match (allowed, unknown) {
        // An unjudged statement may be a deny.
        (_, true) => Decision::Unknown,
        (true, false) => Decision::Allowed,
        (false, false) => Decision::Denied,
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<&str>> {
    match v? {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Some(true) when the statement covers the request, Some(false) when not, None when it uses
/// what is not evaluated here.
fn statement_applies(
    st: &Value,
    principal: &str,
    action: &str,
    resource: &str,
    context: &std::collections::BTreeMap<String, String>,
) -> Option<bool> {
    if ["NotPrincipal", "NotAction", "NotResource"].iter().any(|k| st.get(*k).is_some()) {
        return None;
    }
    let principal_ok = match st.get("Principal") {
        Some(Value::String(s)) if s == "*" => true,
        Some(Value::Object(o)) => {
            let services = strings(o.get("Service")).unwrap_or_default();
            let aws = strings(o.get("AWS")).unwrap_or_default();
            services.iter().any(|s| s.eq_ignore_ascii_case(principal)) || aws.contains(&"*")
        }
        _ => return None,
    };
    let action_ok = strings(st.get("Action"))?.iter().any(|a| wildcard(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()));
    // A trust policy names no resource: it is the role's own.
    let resource_ok = match st.get("Resource") {
        None => true,
        r => strings(r)?.iter().any(|r| wildcard(r, resource)),
    };
    if !(principal_ok && action_ok && resource_ok) {
        return Some(false);
    }
    let Some(conditions) = st.get("Condition") else { return Some(true) };
    let conditions = conditions.as_object()?;
    for (operator, keys) in conditions {
        for (key, values) in keys.as_object()? {
            let wanted = match values {
                Value::String(s) => vec![s.clone()],
                Value::Bool(b) => vec![b.to_string()],
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).or_else(|| v.as_bool().map(|b| b.to_string())))
                    .collect::<Option<Vec<_>>>()?,
                _ => return None,
            };
            if wanted.iter().any(|w| w.contains("${")) {
                return None;
            }
            let (op, if_exists) = match operator.strip_suffix("IfExists") {
                Some(op) => (op, true),
                None => (operator.as_str(), false),
            };
            let got = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
            let Some(got) = got else {
                if if_exists {
                    continue;
                }
                return Some(false);
            };
            let matched = match op {
                "StringEquals" | "ArnEquals" => wanted.iter().any(|w| w == got),
                "StringEqualsIgnoreCase" => wanted.iter().any(|w| w.eq_ignore_ascii_case(got)),
                "StringLike" | "ArnLike" => wanted.iter().any(|w| wildcard(w, got)),
                "StringNotEquals" | "ArnNotEquals" => wanted.iter().all(|w| w != got),
                "StringNotLike" | "ArnNotLike" => wanted.iter().all(|w| !wildcard(w, got)),
                "Bool" => wanted.iter().any(|w| w.eq_ignore_ascii_case(got)),
                _ => return None,
            };
            if !matched {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// IAM's wildcards: `*` any run of characters, `?` one character.
fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_whitespace_and_single_value_lists_do_not_matter() {
        let a = parse(r#"{"Version":"2012-10-17","Statement":[{"Sid":"B","Effect":"Allow","Action":["s3:PutObject"],"Resource":"x"},{"Sid":"A","Action":"s3:GetBucketAcl","Effect":"Allow","Resource":["x"]}]}"#).unwrap();
        let b = parse("{ \"Statement\": [ {\"Effect\":\"Allow\",\"Sid\":\"A\",\"Resource\":\"x\",\"Action\":\"s3:GetBucketAcl\"},\n {\"Sid\":\"B\",\"Resource\":[\"x\"],\"Action\":\"s3:PutObject\",\"Effect\":\"Allow\"}], \"Version\": \"2012-10-17\" }").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn iam_url_encoded_documents_are_decoded() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse(enc).unwrap(), json!({"Statement": [], "Version": "2012-10-17"}));
    }

    #[test]
    fn a_widened_policy_differs() {
        let a = parse(r#"{"Statement":[{"Sid":"A","Principal":{"Service":"cloudwatch.amazonaws.com"}}]}"#).unwrap();
        let b = parse(r#"{"Statement":[{"Sid":"A","Principal":"*"}]}"#).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn iam_wildcards_match_runs_and_single_characters() {
        assert!(wildcard("kms:GenerateDataKey*", "kms:GenerateDataKey"));
        assert!(wildcard("arn:aws:cloudtrail:*:1:trail/*", "arn:aws:cloudtrail:us-east-1:1:trail/t"));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "ac"));
        assert!(!wildcard("kms:Decrypt", "kms:DecryptX"));
    }

    #[test]
    fn a_deny_wins_and_unknown_constructs_make_no_claim() {
        let ctx: std::collections::BTreeMap<String, String> = [("aws:SourceAccount".to_string(), "1".to_string())].into();
        let allow = json!({"Effect": "Allow", "Principal": {"Service": "s.amazonaws.com"}, "Action": "x:*", "Resource": "*",
                           "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}});
        let p = json!({"Statement": [allow.clone()]});
        assert_eq!(decide(&p, "s.amazonaws.com", "x:Do", "r", &ctx), Decision::Allowed);
        assert_eq!(decide(&p, "s.amazonaws.com", "x:Do", "r", &Default::default()), Decision::Denied, "a missing key fails the condition");
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"});
        assert_eq!(decide(&json!({"Statement": [allow.clone(), deny]}), "s.amazonaws.com", "x:Do", "r", &ctx), Decision::Denied);
        let odd = json!({"Effect": "Deny", "NotPrincipal": {"AWS": "a"}, "Action": "*", "Resource": "*"});
        assert_eq!(decide(&json!({"Statement": [allow, odd]}), "s.amazonaws.com", "x:Do", "r", &ctx), Decision::Unknown);
    }
}
