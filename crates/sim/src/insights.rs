//! A monitor's filter pattern as a CloudWatch Logs Insights query (issue 24, item 1): what a
//! responder runs over the alarm's period to list the events that made it fire, written into
//! the alarm's description so that it travels with every alarm notification.
//!
//! The query language's `filter` command compares fields (`eventName = "x"`), matches regular
//! expressions (`like /.../`), and tests presence (`ispresent(f)`), combined with `and`/`or`
//! (CloudWatch Logs user guide, "filter" in the Logs Insights query syntax). JSON log events
//! have their fields discovered, nested fields dotted (`userIdentity.arn`) and array elements
//! indexed (`resources.0.ARN`). What the language cannot say (a wildcard selector, a boolean
//! test, a term or space-delimited pattern) gives no query.

use crate::pattern::{Comparison, Expr, Literal, Op, Pattern, Step, Test};

/// The fields a responder reads first, before the filter.
const FIELDS: &str = "fields @timestamp, eventName, userIdentity.arn, sourceIPAddress, userAgent, errorCode";

/// The Logs Insights query listing the events `pattern` matches, or None when the query
/// language cannot say what the pattern says.
pub fn query(pattern: &Pattern) -> Option<String> {
    let Pattern::Json(expr) = pattern else { return None };
    Some(format!("{FIELDS} | filter {} | sort @timestamp desc", condition(expr)?))
}

fn condition(e: &Expr) -> Option<String> {
    Some(match e {
        Expr::And(a, b) => format!("({} and {})", condition(a)?, condition(b)?),
        Expr::Or(a, b) => format!("({} or {})", condition(a)?, condition(b)?),
        Expr::Cmp(c) => comparison(c)?,
    })
}

fn field(c: &Comparison) -> Option<String> {
    let mut parts = Vec::new();
    for step in &c.selector {
        match step {
            Step::Key(k) if !k.is_empty() && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') => parts.push(k.clone()),
            // Other names are quoted with backticks, as the query syntax asks of special characters.
            Step::Key(k) if !k.contains('`') => parts.push(format!("`{k}`")),
            Step::Index(i) => parts.push(i.to_string()),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

fn comparison(c: &Comparison) -> Option<String> {
    let f = field(c)?;
    Some(match &c.test {
        Test::NotExists => format!("not ispresent({f})"),
        Test::IsNull | Test::IsBool(_) => return None,
        Test::Compare(op, Literal::Regex(r)) => match op {
            Op::Eq => format!("{f} like /{}/", r.as_str()),
            Op::Ne => format!("{f} not like /{}/", r.as_str()),
            _ => return None,
        },
        Test::Compare(op, Literal::Text { text, number }) => {
            let wildcard = text.contains('*');
            match (op, number) {
                (Op::Eq | Op::Ne, _) if wildcard => {
                    let regex = text.split('*').map(regex::escape).collect::<Vec<_>>().join(".*");
                    let not = if *op == Op::Ne { "not " } else { "" };
                    format!("{f} {not}like /^{}$/", regex.replace('/', "\\/"))
                }
                (Op::Eq, Some(n)) => format!("{f} = {n}"),
                (Op::Ne, Some(n)) => format!("{f} != {n}"),
                (Op::Eq, None) => format!("{f} = {}", quoted(text)),
                (Op::Ne, None) => format!("{f} != {}", quoted(text)),
                (op, Some(n)) => format!("{f} {} {n}", op.as_str()),
                (_, None) => return None,
            }
        }
    })
}

/// A string literal of the query language: double quotes, backslash escapes.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(p: &str) -> Option<String> {
        query(&Pattern::parse(p).unwrap())
    }

    #[test]
    fn the_seed_pattern_becomes_a_filter_of_the_same_fields() {
        assert_eq!(
            q(r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#).unwrap(),
            format!("{FIELDS} | filter (eventSource = \"secretsmanager.amazonaws.com\" and eventName = \"GetSecretValue\") | sort @timestamp desc")
        );
    }

    #[test]
    fn wildcards_presence_numbers_and_indices_translate() {
        let filter = |p: &str| q(p).unwrap().split(" | ").nth(1).unwrap().to_string();
        assert_eq!(filter(r#"{ $.errorCode = "*UnauthorizedOperation" }"#), r"filter errorCode like /^.*UnauthorizedOperation$/");
        assert_eq!(filter(r#"{ $.additionalEventData.MFAUsed NOT EXISTS }"#), "filter not ispresent(additionalEventData.MFAUsed)");
        assert_eq!(filter("{ $.n >= 3 }"), "filter n >= 3");
        assert_eq!(filter(r#"{ $.resources[0].ARN != "x" }"#), r#"filter resources.0.ARN != "x""#);
    }

    #[test]
    fn what_the_query_language_cannot_say_gives_no_query() {
        assert_eq!(q("GetSecretValue"), None);
        assert_eq!(q("{ $.readOnly IS FALSE }"), None);
        assert_eq!(q(r#"{ $.a.* = "x" }"#), None);
    }
}
