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

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `w` equal to `c` (exact: no carries cross bytes).
#[inline]
fn eq_mask(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

const HIGH: u64 = 0x8080_8080_8080_8080;

/// The scanner's state between blocks.
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    /// The previous byte was a backslash inside a string.
    escape_next: bool,
}

impl Nesting {
    /// A bracket outside strings at `i`; Some(end) when it closes the outermost value, Some(None)
    /// for a stray closing bracket.
    #[inline]
    fn bracket(&mut self, i: usize, b: u8) -> Option<Option<usize>> {
        match b {
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                if self.depth == 0 {
                    return Some(None);
                }
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(Some(i + 1));
                }
            }
            _ => {}
        }
        None
    }

    /// Byte by byte, for blocks holding a backslash (rare in CloudTrail records).
    fn slow(&mut self, base: usize, block: &[u8]) -> Option<Option<usize>> {
        for (k, b) in block.iter().enumerate() {
            if self.in_string {
                if self.escape_next {
                    self.escape_next = false;
                } else if *b == b'\\' {
                    self.escape_next = true;
                } else if *b == b'"' {
                    self.in_string = false;
                }
            } else if *b == b'"' {
                self.in_string = true;
            } else if let Some(end) = self.bracket(base + k, *b) {
                return Some(end);
            }
        }
        None
    }

    /// Eight words at once: the quotes give, by a prefix XOR, which bytes are inside strings;
    /// only bracket candidates outside them are looked at.
    fn fast(&mut self, base: usize, block: &[u8]) -> Option<Option<usize>> {
        for (k, word) in block.chunks_exact(8).enumerate() {
            let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            let mut strings = eq_mask(w, b'"');
            strings ^= strings << 8;
            strings ^= strings << 16;
            strings ^= strings << 32;
            if self.in_string {
                strings ^= HIGH;
            }
            self.in_string = strings >> 63 == 1;
            // `{ } [ ]` all become 0x7F when OR-ed with 0x26 (so do `Y _ y DEL`, which the byte
            // check below drops; outside strings they only occur in invalid JSON).
            let mut candidates = eq_mask(w | (ONES * 0x26), 0x7F) & !strings;
            while candidates != 0 {
                let i = (candidates.trailing_zeros() / 8) as usize;
                candidates &= candidates - 1;
                if let Some(end) = self.bracket(base + 8 * k + i, word[i]) {
                    return Some(end);
                }
            }
        }
        None
    }
}

/// The length of the object or array at the start of `d`, or None when `d` ends first.
///
/// Reads 64 bytes at a time in portable integer code (SWAR): per 8-byte word, a mask of quotes,
/// a prefix XOR of it for the bytes inside strings, and a mask of brackets outside them. Blocks
/// with a backslash (escaped quotes) go byte by byte. Only strings and nesting are tracked;
/// validity is the parser's business.
pub fn skip_nested(d: &[u8]) -> Option<usize> {
    skip_nested_escapes(d).map(|(end, _)| end)
}

/// [`skip_nested`], and whether the value may hold a backslash (so a JSON escape): false only
/// when none was seen, which lets a literal search trust the raw bytes.
pub fn skip_nested_escapes(d: &[u8]) -> Option<(usize, bool)> {
    let mut n = Nesting::default();
    let mut escapes = false;
    let mut padded = [b' '; 64];
    let mut base = 0;
    // No backslash before `clear_until`: one search covers many blocks (backslashes are rare),
    // within a horizon so that a record never pays for the rest of the buffer.
    let mut clear_until = 0;
    while base < d.len() {
        let block = if d.len() - base >= 64 {
            &d[base..base + 64]
        } else {
            padded[..d.len() - base].copy_from_slice(&d[base..]);
            &padded[..]
        };
        if clear_until < base + 64 {
            let horizon = d.len().min(base + 512);
            clear_until = memchr::memchr(b'\\', &d[base..horizon]).map_or(horizon.max(base + 64), |i| base + i);
        }
        let slow = n.escape_next || clear_until < base + 64;
        escapes |= slow;
        let done = if slow { n.slow(base, block) } else { n.fast(base, block) };
        if let Some(end) = done {
            return end.filter(|e| *e <= d.len()).map(|e| (e, escapes));
        }
        base += 64;
    }
    None
}

/// The length of the string whose opening quote is `d[0]`, quotes included. Most strings of a
/// record are short: a plain loop beats setting up a vector search for them.
pub fn skip_string(d: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < d.len().min(48) {
        match d[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    if i >= d.len() {
        return None;
    }
    memchr_iter(b'"', &d[i..]).map(|q| q + i).find(|q| !escaped(d, *q)).map(|q| q + 1)
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

/// Walks the top-level members of the object `d` (`{` first, nothing after it but whitespace),
/// handing each key's bytes (between its quotes, escapes as written) and its value's byte range
/// to `f`. False when the text is not an object this scanner can walk (the caller then parses
/// it the plain way) or when `f` returns false.
pub fn for_each_member(d: &[u8], f: &mut dyn FnMut(&[u8], std::ops::Range<usize>) -> bool) -> bool {
    let ws = |i: &mut usize| {
        while d.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    if d.first() != Some(&b'{') {
        return false;
    }
    let mut i = 1;
    ws(&mut i);
    if d.get(i) == Some(&b'}') {
        return d[i + 1..].iter().all(u8::is_ascii_whitespace);
    }
    loop {
        ws(&mut i);
        if d.get(i) != Some(&b'"') {
            return false;
        }
        let Some(klen) = skip_string(&d[i..]) else { return false };
        let key = &d[i + 1..i + klen - 1];
        i += klen;
        ws(&mut i);
        if d.get(i) != Some(&b':') {
            return false;
        }
        i += 1;
        ws(&mut i);
        let Some(vlen) = d.get(i..).and_then(skip_value).filter(|n| *n > 0) else { return false };
        if !f(key, i..i + vlen) {
            return false;
        }
        i += vlen;
        ws(&mut i);
        match d.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return d[i + 1..].iter().all(u8::is_ascii_whitespace),
            _ => return false,
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

    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i32>().prop_map(serde_json::Value::from),
            // Strings full of what the scanner must not be fooled by.
            "[a-c\"\\\\{}\\[\\]\\\\u00e9 ]{0,80}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"\\\\]{1,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn members_of_an_object() {
        let d = br#"{ "a" : 1, "b\"q": {"x": [1]}, "c":"s" }"#;
        let mut seen = Vec::new();
        assert!(for_each_member(d, &mut |k, r| {
            seen.push((k.to_vec(), d[r].to_vec()));
            true
        }));
        assert_eq!(seen[1], (br#"b\"q"#.to_vec(), br#"{"x": [1]}"#.to_vec()));
        assert_eq!(seen[2].1, br#""s""#.to_vec());
        assert!(for_each_member(b"{}", &mut |_, _| true));
        assert!(!for_each_member(br#"{"a" 1}"#, &mut |_, _| true));
        assert!(!for_each_member(br#"{"a": 1} {"b": 2}"#, &mut |_, _| true), "one object only");
    }

    proptest::proptest! {
        /// Whatever the strings hold (quotes, backslashes, brackets, across 64-byte blocks),
        /// the scanner ends a value exactly where the JSON writer did.
        #[test]
        fn skip_nested_ends_where_the_writer_ended(v in value(), pretty: bool, tail in "[ ,\\]}{\"a]{0,3}") {
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let d = format!("{text}{tail}");
            if text.starts_with('{') || text.starts_with('[') {
                proptest::prop_assert_eq!(skip_nested(d.as_bytes()), Some(text.len()));
                proptest::prop_assert_eq!(skip_nested(&text.as_bytes()[..text.len() - 1]), None);
            }
        }
    }
}
