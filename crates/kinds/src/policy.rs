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
}
