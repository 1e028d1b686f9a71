//! Finding where JSON values end, and an object's members, without parsing them.
//!
//! CloudTrail records are mostly strings. The scanner reads 64 bytes at a time: SIMD compares
//! (the `wide` crate: SSE2 on x86_64, NEON on aarch64, plain code elsewhere) give one bit per
//! byte for quotes, backslashes, brackets and separators; backslash runs decide which quotes
//! are escaped; a prefix XOR of the real quotes gives the bytes inside strings; what is left
//! are the structural characters, usually a handful per block, walked in order to track the
//! nesting. That is enough to find the end of a record, or its top-level members; whether the
//! text is valid JSON is decided later, by the parser, for what is parsed at all.

use std::ops::Range;

use memchr::memchr_iter;
use wide::u8x16;

/// Whether the quote at `q` is escaped (an odd number of backslashes right before it).
fn escaped(d: &[u8], q: usize) -> bool {
    let run = d[..q].iter().rev().take_while(|b| **b == b'\\').count();
    run % 2 == 1
}

/// One 64-byte block as bitmaps, bit `i` for byte `i`.
#[derive(Debug, Clone, Copy, Default)]
struct Classes {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
    /// `:` and `,` (only when asked for).
    sep: u64,
}

#[inline(always)]
fn classify(block: &[u8; 64], seps: bool) -> Classes {
    let mut c = Classes::default();
    for k in 0..4 {
        let lane: [u8; 16] = block[16 * k..16 * k + 16].try_into().expect("16 bytes");
        let v = u8x16::new(lane);
        let bits = |m: u8x16| u64::from(m.to_bitmask() as u16) << (16 * k);
        c.quote |= bits(v.simd_eq(u8x16::splat(b'"')));
        c.backslash |= bits(v.simd_eq(u8x16::splat(b'\\')));
        // `[` and `]` are `{` and `}` with bit 5 clear; no other byte folds onto them.
        let folded = v | u8x16::splat(0x20);
        c.open |= bits(folded.simd_eq(u8x16::splat(b'{')));
        c.close |= bits(folded.simd_eq(u8x16::splat(b'}')));
        if seps {
            c.sep |= bits(v.simd_eq(u8x16::splat(b':')) | v.simd_eq(u8x16::splat(b',')));
        }
    }
    c
}

/// Each bit becomes the XOR of itself and every lower bit: from a mask of quotes, the bytes
/// from an opening quote up to (not including) its closing one.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Which bytes are inside strings, carried from block to block.
#[derive(Debug, Default)]
struct Strings {
    /// The first byte of the next block is escaped (this block ended in an odd backslash run).
    escape_next: bool,
    /// The next block starts inside a string: all ones or zero.
    inside: u64,
}

impl Strings {
    /// The bytes escaped by a backslash. Backslashes are rare in CloudTrail records, so a loop
    /// over them is simplest and costs nothing on the blocks that have none.
    #[inline(always)]
    fn escaped(&mut self, backslash: u64) -> u64 {
        let mut escaped = 0u64;
        let mut pending = backslash;
        if std::mem::take(&mut self.escape_next) {
            escaped |= 1;
            pending &= !1;
        }
        while pending != 0 {
            let p = pending.trailing_zeros();
            if p == 63 {
                self.escape_next = true;
                break;
            }
            // The byte after this backslash is escaped, and escapes nothing if it is one.
            escaped |= 1 << (p + 1);
            pending &= !(1 << (p + 1));
            pending &= pending - 1;
        }
        escaped
    }

    /// The bytes inside strings, the opening quote included and the closing one not.
    #[inline(always)]
    fn inside(&mut self, c: &Classes) -> u64 {
        let quotes = if c.backslash == 0 && !self.escape_next { c.quote } else { c.quote & !self.escaped(c.backslash) };
        let inside = prefix_xor(quotes) ^ self.inside;
        self.inside = 0u64.wrapping_sub(inside >> 63);
        inside
    }
}

/// The 64 bytes at `base` (padded with spaces past the end of `d`).
#[inline(always)]
fn block_at<'a>(d: &'a [u8], base: usize, padded: &'a mut [u8; 64]) -> &'a [u8; 64] {
    match d.get(base..base + 64) {
        Some(b) => b.try_into().expect("64 bytes"),
        None => {
            padded.fill(b' ');
            padded[..d.len() - base].copy_from_slice(&d[base..]);
            padded
        }
    }
}

/// The length of the object or array at the start of `d`, or None when `d` ends first.
pub fn skip_nested(d: &[u8]) -> Option<usize> {
    skip_nested_escapes(d).map(|(end, _)| end)
}

/// [`skip_nested`], and whether the value may hold a backslash (so a JSON escape): false only
/// when none was seen, which lets a literal search trust the raw bytes.
pub fn skip_nested_escapes(d: &[u8]) -> Option<(usize, bool)> {
    let mut strings = Strings::default();
    let mut padded = [b' '; 64];
    let (mut depth, mut escapes, mut base) = (0usize, false, 0usize);
    while base < d.len() {
        let c = classify(block_at(d, base, &mut padded), false);
        escapes |= c.backslash != 0;
        let inside = strings.inside(&c);
        let (open, close) = (c.open & !inside, c.close & !inside);
        // A handful of brackets per block at most: walking them beats counting them (the
        // baseline x86_64 target has no popcount instruction).
        let mut structural = open | close;
        while structural != 0 {
            let p = structural.trailing_zeros();
            structural &= structural - 1;
            if open >> p & 1 == 1 {
                depth += 1;
            } else {
                // A stray closing bracket ends nothing.
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((base + p as usize + 1, escapes));
                }
            }
        }
        base += 64;
    }
    None
}

/// Walks the object at the start of `d` (its `{` first) in one pass, handing the byte ranges of
/// each top-level member's key (between its quotes, escapes as written) and value to `f`, and
/// whether the key may hold a backslash (false only when none was seen from its start on).
/// Returns the object's length and whether it may hold a backslash (as [`skip_nested_escapes`]);
/// None when `d` ends first, when the text is not an object this walker understands (the caller
/// then parses it the plain way), or when `f` returns false.
/// Keys are checked to be quoted and values to be present; neither is validated further (what
/// the caller parses is validated by its parser).
pub fn walk_object(d: &[u8], f: &mut dyn FnMut(Range<usize>, Range<usize>, bool) -> bool) -> Option<(usize, bool)> {
    if d.first() != Some(&b'{') {
        return None;
    }
    let mut strings = Strings::default();
    let mut padded = [b' '; 64];
    let (mut depth, mut base, mut escapes) = (0usize, 0usize, false);
    // The last backslash of the blocks read so far: a key that starts after it has none.
    let mut last_backslash = None::<usize>;
    // The current member: where it starts (after `{` or `,`) and its `:`.
    let (mut member_start, mut colon) = (1usize, None::<usize>);
    let trim = |r: Range<usize>| {
        // Compact JSON (CloudTrail's) has no whitespace to trim.
        if r.end > r.start + 1 && !d[r.start].is_ascii_whitespace() && !d[r.end - 1].is_ascii_whitespace() {
            return r;
        }
        let s = &d[r.clone()];
        let lead = s.len() - s.trim_ascii_start().len();
        let tail = s.len() - s.trim_ascii_end().len();
        r.start + lead..(r.end - tail).max(r.start + lead)
    };
    while base < d.len() {
        let c = classify(block_at(d, base, &mut padded), true);
        if c.backslash != 0 {
            escapes = true;
            last_backslash = Some(base + 63 - c.backslash.leading_zeros() as usize);
        }
        let inside = strings.inside(&c);
        let (open, close) = (c.open & !inside, c.close & !inside);
        let (mut brackets, mut seps) = (open | close, c.sep & !inside);
        loop {
            // Inside a nested value only its brackets matter; at the top level, separators too.
            let next = if depth >= 2 { brackets } else { brackets | seps };
            if next == 0 {
                break;
            }
            let p = next.trailing_zeros();
            let bit = 1u64 << p;
            // Everything up to here is done (separators passed over inside a nested value too).
            let done = bit | (bit - 1);
            brackets &= !done;
            seps &= !done;
            let at = base + p as usize;
            if open & bit != 0 {
                depth += 1;
            } else if close & bit != 0 {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    if d[at] != b'}' {
                        return None;
                    }
                    match colon {
                        Some(colon) => member(d, trim(member_start..colon), trim(colon + 1..at), last_backslash, f)?,
                        // `{}`, or a member without its `:`.
                        None if member_start == 1 && d[1..at].trim_ascii().is_empty() => {}
                        None => return None,
                    }
                    return Some((at + 1, escapes));
                }
            } else if let Some(c) = colon {
                // A member's `:` is behind: this separator must be its `,`. (Deciding by the
                // state, not the byte, keeps the branch predictable; the byte is only checked.)
                if d[at] != b',' {
                    return None;
                }
                member(d, trim(member_start..c), trim(c + 1..at), last_backslash, f)?;
                member_start = at + 1;
                colon = None;
            } else {
                if d[at] != b':' {
                    return None;
                }
                colon = Some(at);
            }
        }
        base += 64;
    }
    None
}

/// One member for [`walk_object`]: its key must be quoted, its value not empty. (What lies
/// between a key's quotes is not read here: a key the caller keeps is compared or parsed.)
#[inline(always)]
fn member(
    d: &[u8],
    key: Range<usize>,
    value: Range<usize>,
    last_backslash: Option<usize>,
    f: &mut dyn FnMut(Range<usize>, Range<usize>, bool) -> bool,
) -> Option<()> {
    let k = &d[key.clone()];
    if k.len() < 2 || k[0] != b'"' || k[k.len() - 1] != b'"' || value.is_empty() {
        return None;
    }
    let escaped = last_backslash.is_some_and(|b| b >= key.start);
    f(key.start + 1..key.end - 1, value, escaped).then_some(())
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
pub fn for_each_member(d: &[u8], f: &mut dyn FnMut(&[u8], Range<usize>) -> bool) -> bool {
    walk_object(d, &mut |k, v, _| f(&d[k], v)).is_some_and(|(end, _)| d[end..].iter().all(u8::is_ascii_whitespace))
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

    /// Byte by byte: which bytes are inside strings (opening quote included), the reference
    /// for the block scanner. A backslash escapes the next byte wherever it is: outside strings
    /// it is invalid JSON, which the scanner need not judge, only not crash on.
    fn inside_reference(d: &[u8]) -> Vec<bool> {
        let (mut inside, mut escape) = (false, false);
        d.iter()
            .map(|b| {
                if std::mem::take(&mut escape) {
                    return inside;
                }
                if *b == b'\\' {
                    escape = true;
                    return inside;
                }
                if inside {
                    if *b == b'"' {
                        inside = false;
                        return false;
                    }
                    true
                } else {
                    inside = *b == b'"';
                    inside
                }
            })
            .collect()
    }

    #[test]
    fn members_across_blocks_and_escapes() {
        let long = "x".repeat(70);
        let d = format!(r#"{{"a\\":"{long}\\","b":{{"c":[1,2,{{"d":"}}"}}]}},"e" : "q\"{long}" , "f":-1e3}}"#);
        let mut seen = Vec::new();
        assert!(for_each_member(d.as_bytes(), &mut |k, r| {
            seen.push((String::from_utf8(k.to_vec()).unwrap(), d[r].to_string()));
            true
        }));
        let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [r"a\\", "b", "e", "f"]);
        assert_eq!(seen[1].1, r#"{"c":[1,2,{"d":"}"}]}"#);
        assert_eq!(seen[2].1, format!(r#""q\"{long}""#));
        assert_eq!(seen[3].1, "-1e3");
        assert_eq!(walk_object(br#"{"a":1,}"#, &mut |_, _, _| true), None, "a member without its value");
        assert_eq!(walk_object(br#"{"a":1:2}"#, &mut |_, _, _| true), None, "two colons");
        assert_eq!(walk_object(br#"{a:1}"#, &mut |_, _, _| true), None, "a key that is no string");
        assert_eq!(walk_object(br#"{"a":[1}"#, &mut |_, _, _| true), None, "a bracket closed by a brace");
    }

    #[test]
    fn keys_that_may_be_escaped_are_flagged() {
        let flags = |d: &str| {
            let mut out = Vec::new();
            walk_object(d.as_bytes(), &mut |k, _, escaped| {
                out.push((d[k].to_string(), escaped));
                true
            });
            out
        };
        let long = "x".repeat(100);
        let seen = flags(&format!(r#"{{"a":1,"b":"{long}","read\u004fnly":false}}"#));
        assert_eq!(seen[2], (r"read\u004fnly".to_string(), true), "an escaped key in a later block");
        assert!(!seen[0].1, "a member read before the block holding a backslash");
        assert!(flags(&format!(r#"{{"a":"{long}","b":{{"c":[1]}},"d":true}}"#)).iter().all(|(_, e)| !e), "no backslash, no flag");
    }

    proptest::proptest! {
        /// The block scanner's strings agree with a byte-by-byte reading, whatever the runs of
        /// quotes and backslashes and wherever the 64-byte blocks cut them.
        #[test]
        fn strings_agree_with_the_byte_reference(d in proptest::collection::vec(proptest::sample::select(b"\"\\\\a{}:,".to_vec()), 0..300)) {
            let mut strings = Strings::default();
            let mut padded = [b' '; 64];
            let reference = inside_reference(&d);
            let mut base = 0;
            while base < d.len() {
                let c = classify(block_at(&d, base, &mut padded), true);
                let inside = strings.inside(&c);
                for i in 0..64.min(d.len() - base) {
                    proptest::prop_assert_eq!(inside >> i & 1 == 1, reference[base + i], "byte {} of {:?}", base + i, String::from_utf8_lossy(&d));
                }
                base += 64;
            }
        }

        /// The walker finds exactly the members the JSON writer wrote, in any layout.
        #[test]
        fn members_are_those_the_writer_wrote(v in value(), pretty: bool) {
            if let serde_json::Value::Object(m) = &v {
                let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
                let mut seen = Vec::new();
                let walked = for_each_member(text.as_bytes(), &mut |k, r| {
                    let key: String = serde_json::from_slice(&[b"\"", k, b"\""].concat()).unwrap();
                    let value: serde_json::Value = serde_json::from_str(&text[r]).unwrap();
                    seen.push((key, value));
                    true
                });
                proptest::prop_assert!(walked);
                let want: Vec<(String, serde_json::Value)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                proptest::prop_assert_eq!(seen, want);
            }
        }

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
