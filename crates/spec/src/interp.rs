//! `${account_id}` and `${region}` interpolation, applied once the AWS account is known.

/// Expands `${account_id}` and `${region}` in `s`; any other `${...}` is an error.
pub fn expand(s: &str, account_id: &str, region: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated `${{` in {s:?}"));
        };
        match &after[..end] {
            "account_id" => out.push_str(account_id),
            "region" => out.push_str(region),
            other => return Err(format!("unknown variable `${{{other}}}`")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Applies [`expand`] to every string inside a JSON value.
pub(crate) fn expand_json(v: &mut serde_json::Value, account_id: &str, region: &str) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => *s = expand(s, account_id, region)?,
        serde_json::Value::Array(a) => {
            for x in a {
                expand_json(x, account_id, region)?;
            }
        }
        serde_json::Value::Object(o) => {
            for x in o.values_mut() {
                expand_json(x, account_id, region)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn expands_known_variables_only() {
        assert_eq!(expand("secmon-${account_id}-${region}", "1", "r").unwrap(), "secmon-1-r");
        assert!(expand("${acount_id}", "1", "r").unwrap_err().contains("unknown variable"));
        assert!(expand("${account_id", "1", "r").is_err());
        assert_eq!(expand("$5 {x}", "1", "r").unwrap(), "$5 {x}");
    }
}
