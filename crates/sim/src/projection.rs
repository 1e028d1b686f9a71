//! Parsing only what a JSON pattern reads.
//!
//! A CloudTrail record is a kilobyte or more of nested JSON; `{ $.eventName = "X" }` reads one
//! string of it. [`Projection`] deserialises a record into a [`Value`] holding only the paths
//! the pattern's selectors (and the caller's extra fields) reach; everything else is skipped by
//! the parser without being built. The evaluator then runs unchanged on the small value, and
//! gives the same answer as on the whole record: every selector reaches exactly what it would
//! have reached (skipped array elements before an indexed one stay as `null` placeholders, and
//! indexes are only ever read, never counted).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jsonscan;
use crate::pattern::{Pattern, Step};

/// The paths to keep, as a tree.
#[derive(Debug, Clone, Default)]
struct Node {
    /// Keep this value whole.
    whole: bool,
    /// A handful at most: a linear search by bytes beats hashing or a tree.
    keys: Vec<(String, Node)>,
    indexes: BTreeMap<usize, Node>,
    /// A wildcard: every child, projected by this node.
    any: Option<Box<Node>>,
}

impl Node {
    fn add(&mut self, steps: &[Step]) {
        let Some((first, rest)) = steps.split_first() else {
            self.whole = true;
            return;
        };
        let child = match first {
            Step::Key(k) => match self.keys.iter().position(|(have, _)| have == k) {
                Some(i) => &mut self.keys[i].1,
                None => {
                    self.keys.push((k.clone(), Node::default()));
                    &mut self.keys.last_mut().expect("pushed").1
                }
            },
            Step::Index(i) => self.indexes.entry(*i).or_default(),
            Step::Any => self.any.get_or_insert_with(Default::default),
        };
        child.add(rest);
    }

    fn child_key(&self, k: &str) -> Option<&Node> {
        self.child_key_bytes(k.as_bytes())
    }

    fn child_key_bytes(&self, k: &[u8]) -> Option<&Node> {
        // Called for every member of every record: the length turns most keys away.
        // (A byte loop: keys are a dozen bytes, shorter than the call a slice comparison makes.)
        let same = |have: &str| have.len() == k.len() && have.bytes().zip(k).all(|(a, b)| a == *b);
        self.keys.iter().find(|(have, _)| same(have)).map(|(_, n)| n).or(self.any.as_deref())
    }

    fn child_index(&self, i: usize) -> Option<&Node> {
        self.indexes.get(&i).or(self.any.as_deref())
    }
}

/// What to keep of a record for a JSON pattern.
#[derive(Debug, Clone)]
pub struct Projection {
    root: Node,
}

impl Projection {
    /// The projection a JSON pattern needs, plus top-level `fields` (like `eventTime`); None for
    /// other patterns, which read the message text.
    pub fn for_pattern(pattern: &Pattern, fields: &[&str]) -> Option<Projection> {
        let Pattern::Json(_) = pattern else { return None };
        let mut p = Projection::of_fields(fields);
        for c in pattern.comparisons() {
            p.root.add(&c.selector);
        }
        Some(p)
    }

    /// The projection of top-level `fields` only: what a record is read for when no pattern
    /// can match it (its time, what the trail selects it by).
    pub fn of_fields(fields: &[&str]) -> Projection {
        let mut root = Node::default();
        for f in fields {
            root.add(&[Step::Key((*f).to_string())]);
        }
        Projection { root }
    }

    /// Parses `bytes` (one JSON document), keeping only the projected paths. An object's members
    /// are found by the scanner and only the kept ones are parsed; anything the scanner cannot
    /// walk is parsed the plain way, with the parser skipping what is not kept (and reporting
    /// errors).
    pub fn parse(&self, bytes: &[u8]) -> serde_json::Result<Value> {
        if !self.root.whole {
            let d = bytes.trim_ascii();
            let mut out = Map::new();
            if jsonscan::for_each_member(d, &mut |raw, range| self.keep(&mut out, raw, &d[range])) {
                return Ok(Value::Object(out));
            }
        }
        self.parse_plain(bytes)
    }

    /// Whether a top-level member with this key (its bytes between the quotes, unescaped) is
    /// read at all.
    pub fn reads_key(&self, key: &[u8]) -> bool {
        self.root.whole || self.root.child_key_bytes(key).is_some()
    }

    /// [`Projection::parse`] of a record whose top-level members the scanner found already
    /// (key and value ranges in `bytes`, as [`crate::events::Raw::members`] gives them: those
    /// whose key it [reads](Projection::reads_key), and any key with a backslash), into `out`
    /// (cleared first, its room kept: a caller that reads millions of records reuses one map).
    /// False when the record must be parsed the plain way instead: the projection keeps it
    /// whole, or a key or kept value does not parse (the plain parser then says why).
    pub fn parse_members_into(&self, bytes: &[u8], members: &[crate::events::Member], out: &mut Map<String, Value>) -> bool {
        out.clear();
        !self.root.whole && members.iter().all(|(k, v)| self.keep(out, &bytes[k.clone()], &bytes[v.clone()]))
    }

    /// One member: parsed into `out` when the projection keeps its key. False when its key or
    /// kept value does not parse.
    fn keep(&self, out: &mut Map<String, Value>, raw: &[u8], value: &[u8]) -> bool {
        // Keys without escapes are compared as bytes; only kept keys become strings.
        let key = if raw.contains(&b'\\') {
            match serde_json::from_slice::<String>(&[b"\"", raw, b"\""].concat()) {
                Ok(k) => k,
                Err(_) => return false,
            }
        } else if self.root.child_key_bytes(raw).is_some() {
            String::from_utf8_lossy(raw).into_owned()
        } else {
            return true;
        };
        if let Some(child) = self.root.child_key(&key) {
            let mut de = serde_json::Deserializer::from_slice(value);
            match child.deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// The whole text through the parser, which skips what is not kept and reports errors.
    fn parse_plain(&self, bytes: &[u8]) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let v = (&self.root).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

impl<'de> DeserializeSeed<'de> for &Node {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(Projected(self))
        }
    }
}

struct Projected<'n>(&'n Node);

/// A member's key: the key and its node when the projection keeps it; nothing (and no
/// allocation) when it does not.
struct Key<'n>(&'n Node);

impl<'de, 'n> DeserializeSeed<'de> for Key<'n> {
    type Value = Option<(String, &'n Node)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for Key<'n> {
    type Value = Option<(String, &'n Node)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }
    fn visit_str<E>(self, k: &str) -> Result<Self::Value, E> {
        Ok(self.0.child_key(k).map(|child| (k.to_string(), child)))
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(kept) = map.next_key_seed(Key(self.0))? {
            match kept {
                Some((k, child)) => {
                    let v = map.next_value_seed(child)?;
                    out.insert(k, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        let last = if self.0.any.is_some() { usize::MAX } else { self.0.indexes.keys().next_back().map_or(0, |i| i + 1) };
        let mut i = 0;
        loop {
            if i >= last {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                break;
            }
            let next = match self.0.child_index(i) {
                Some(child) => seq.next_element_seed(child)?,
                None => seq.next_element::<IgnoredAny>()?.map(|_| Value::Null),
            };
            match next {
                Some(v) => out.push(v),
                None => break,
            }
            i += 1;
        }
        Ok(Value::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(pattern: &str, doc: &Value) -> Value {
        Projection::for_pattern(&Pattern::parse(pattern).unwrap(), &["eventTime"]).unwrap().parse(doc.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn keeps_only_what_the_selectors_reach() {
        let doc = json!({"eventName": "X", "eventTime": "t", "big": {"a": [1, 2, 3]}, "list": [{"id": 1}, {"id": 2, "x": 3}], "m": {"k": 1, "j": 2}});
        assert_eq!(project("{ $.eventName = X }", &doc), json!({"eventName": "X", "eventTime": "t"}));
        assert_eq!(project("{ $.list[1].id = 2 }", &doc), json!({"eventTime": "t", "list": [null, {"id": 2}]}));
        assert_eq!(project("{ $.list[*].id = 2 }", &doc), json!({"eventTime": "t", "list": [{"id": 1}, {"id": 2}]}));
        assert_eq!(project("{ $.m.* = 2 }", &doc), json!({"eventTime": "t", "m": {"k": 1, "j": 2}}));
        assert_eq!(project("{ $.big = 1 }", &doc), json!({"eventTime": "t", "big": {"a": [1, 2, 3]}}), "a value kept whole");
    }

    #[test]
    fn the_evaluator_agrees_on_the_projection() {
        let doc = json!({"a": {"b": [0, {"c": "x"}]}, "n": 1.5, "f": true, "z": null, "arr": [1, 2]});
        for p in [
            "{ $.a.b[1].c = x }",
            "{ $.a.b[0] = 0 }",
            "{ $.a.b = 0 }",
            "{ $.a.b[5] NOT EXISTS }",
            "{ $.n > 1 && $.f IS TRUE }",
            "{ $.z IS NULL }",
            "{ $.missing NOT EXISTS }",
            "{ $.arr[*] = 2 }",
            "{ $.a != 1 }",
            "{ $.* = 1.5 }",
        ] {
            let pattern = Pattern::parse(p).unwrap();
            let m = doc.to_string();
            let full = pattern.matches(&crate::Event { message: &m, json: Some(&doc) });
            let projected = project(p, &doc);
            assert_eq!(pattern.matches(&crate::Event { message: "", json: Some(&projected) }), full, "{p}");
        }
    }
}
