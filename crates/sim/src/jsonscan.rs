//! Finding where JSON values end without parsing them.
//!
//! CloudTrail records are mostly strings. The scanner lists the quote characters of the text
//! with one SIMD search (`memchr`), pairs them into strings (a quote preceded by an odd run of
//! backslashes is inside a string), and looks at the few bytes between strings for brackets.
//! That is enough to find the end of a record, or of a value inside it; whether the text is
//! valid JSON is decided later, by the parser, for the records that are parsed at all.

use memchr::memchr_iter;

/// Whether the quote at `q` is escaped (an odd number of backslashes right before it).
fn escaped(d: &[u8], q: usize) -> bool {
    let run = d[..q].iter().rev().take_while(|b| **b == b'\\').count();
    run % 2 == 1
}

/// The length of the object or array at the start of `d`, or None when `d` ends first.
pub fn skip_nested(d: &[u8]) -> Option<usize> {
    let mut quotes = memchr_iter(b'"', d);
    let mut depth = 0usize;
    let mut gap = 0;
    loop {
        let open = quotes.next();
        let end = open.unwrap_or(d.len());
        for (i, b) in d[gap..end].iter().enumerate() {
            match b {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(gap + i + 1);
                    }
                }
                _ => {}
            }
        }
        open?;
        // The closing quote: the next one not escaped.
        let close = loop {
            let q = quotes.next()?;
            if !escaped(d, q) {
                break q;
            }
        };
        gap = close + 1;
    }
}

/// The length of the string whose opening quote is `d[0]`, quotes included.
pub fn skip_string(d: &[u8]) -> Option<usize> {
    memchr_iter(b'"', d).skip(1).find(|q| !escaped(d, *q)).map(|q| q + 1)
}

/// The length of the JSON value at the start of `d` (its first byte), or None when `d` ends
/// first. A scalar ends at the first delimiter.
pub fn skip_value(d: &[u8]) -> Option<usize> {
    match d.first()? {
        b'{' | b'[' => skip_nested(d),
        b'"' => skip_string(d),
        _ => d.iter().position(|b| matches!(b, b',' | b']' | b'}' | b':') || b.is_ascii_whitespace()),
    }
}

/// The top-level members of the object `d` (a complete object, `{` first, nothing after it but
/// whitespace): each key's bytes (between its quotes, escapes as written) and its value's byte
/// range. None when the text is not an object this scanner can walk; the caller then parses it
/// the plain way.
pub fn members(d: &[u8]) -> Option<Vec<(&[u8], std::ops::Range<usize>)>> {
    let (out, end) = members_to(d)?;
    d[end..].iter().all(u8::is_ascii_whitespace).then_some(out)
}

fn members_to(d: &[u8]) -> Option<(Vec<(&[u8], std::ops::Range<usize>)>, usize)> {
    let mut out = Vec::new();
    let ws = |i: &mut usize| {
        while d.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    if d.first() != Some(&b'{') {
        return None;
    }
    let mut i = 1;
    ws(&mut i);
    if d.get(i) == Some(&b'}') {
        return Some((out, i + 1));
    }
    loop {
        ws(&mut i);
        if d.get(i) != Some(&b'"') {
            return None;
        }
        let klen = skip_string(&d[i..])?;
        let key = &d[i + 1..i + klen - 1];
        i += klen;
        ws(&mut i);
        if d.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let vlen = skip_value(d.get(i..)?)?;
        if vlen == 0 {
            return None;
        }
        out.push((key, i..i + vlen));
        i += vlen;
        ws(&mut i);
        match d.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Some((out, i + 1)),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_of_values() {
        let d = br#"{"a":"x\"}","b":[1,{"c":"]"}],"d":{}} tail"#;
        assert_eq!(skip_nested(d), Some(d.len() - 5));
        assert_eq!(skip_value(br#""a\\" rest"#), Some(5));
        assert_eq!(skip_value(br#""a\" rest"#), None, "the quote is escaped: the string goes on");
        assert_eq!(skip_value(b"123,"), Some(3));
        assert_eq!(skip_nested(br#"{"a":"#), None);
        assert_eq!(skip_nested(b"{}}"), Some(2));
    }

    #[test]
    fn members_of_an_object() {
        let d = br#"{ "a" : 1, "b\"q": {"x": [1]}, "c":"s" }"#;
        let m = members(d).unwrap();
        let keys: Vec<&[u8]> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [&b"a"[..], br#"b\"q"#, b"c"]);
        assert_eq!(&d[m[1].1.clone()], br#"{"x": [1]}"#);
        assert_eq!(&d[m[2].1.clone()], br#""s""#);
        assert!(members(b"{}").unwrap().is_empty());
        assert!(members(br#"{"a" 1}"#).is_none());
        assert!(members(br#"{"a": 1} {"b": 2}"#).is_none(), "one object only");
    }
}
