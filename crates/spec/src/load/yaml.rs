//! The YAML core: nodes, their positions and kinds, and the typed reads every section uses;
//! each read reports a wrong type at the node and goes on, so that one run finds every error.

use std::collections::BTreeMap;
use std::sync::Mutex;

use schemars::JsonSchema;

use saphyr::{MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use super::Loader;
use crate::diag::{did_you_mean, Diagnostic, Pos, Severity};
use crate::interp;
use crate::rules::Rule;

pub(super) type Node = MarkedYamlOwned;

/// The field names of `T`, from the model's schema: the one the docs and `secmon schema` are
/// generated from (issue 23, item 4). A field added to the model is known here, and a key the
/// model lacks is refused, without a second list to keep in step.
pub(super) fn fields<T: JsonSchema>() -> &'static [&'static str] {
    static KNOWN: Mutex<BTreeMap<&'static str, &'static [&'static str]>> = Mutex::new(BTreeMap::new());
    let mut known = KNOWN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    known.entry(std::any::type_name::<T>()).or_insert_with(|| {
        let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
        let names: Vec<&'static str> = schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().map(|k| &*Box::leak(k.clone().into_boxed_str())).collect())
            .unwrap_or_default();
        Box::leak(names.into_boxed_slice())
    })
}

pub(super) fn pos(n: &Node) -> Pos {
    // saphyr's lines are 1-based and columns 0-based. Block collections carry no span of their
    // own (line 0): use their first entry's.
    if n.span.start.line() == 0 {
        let first = match &n.data {
            YamlDataOwned::Mapping(m) => m.keys().next(),
            YamlDataOwned::Sequence(s) => s.first(),
            YamlDataOwned::Tagged(_, inner) => Some(&**inner),
            _ => None,
        };
        if let Some(f) = first {
            return pos(f);
        }
    }
    Pos { line: n.span.start.line().max(1), column: n.span.start.col() + 1 }
}

pub(super) fn kind(n: &Node) -> &'static str {
    match &n.data {
        YamlDataOwned::Value(ScalarOwned::Null) => "null",
        YamlDataOwned::Value(ScalarOwned::Boolean(_)) => "a boolean",
        YamlDataOwned::Value(ScalarOwned::Integer(_)) => "an integer",
        YamlDataOwned::Value(ScalarOwned::FloatingPoint(_)) => "a number",
        YamlDataOwned::Value(ScalarOwned::String(_)) | YamlDataOwned::Representation(..) => "a string",
        YamlDataOwned::Sequence(_) => "a list",
        YamlDataOwned::Mapping(_) => "a mapping",
        YamlDataOwned::Tagged(..) => "a tagged value",
        YamlDataOwned::Alias(_) => "an alias",
        YamlDataOwned::BadValue => "an invalid value",
    }
}

pub(super) fn untag(n: &Node) -> &Node {
    match &n.data {
        YamlDataOwned::Tagged(_, inner) => untag(inner),
        _ => n,
    }
}

pub(super) fn is_null(n: &Node) -> bool {
    matches!(untag(n).data, YamlDataOwned::Value(ScalarOwned::Null))
}

/// A mapping whose keys were checked against the known field names.
pub(super) struct Obj<'y> {
    pub(super) path: String,
    pub(super) pos: Pos,
    pub(super) fields: Vec<(String, &'y Node)>,
}

impl<'y> Obj<'y> {
    pub(super) fn get(&self, key: &str) -> Option<&'y Node> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
    pub(super) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl Loader<'_> {
    pub(super) fn push(&mut self, sev: Severity, at: Pos, field: &str, message: String, hint: Option<String>) {
        self.diags.push(Diagnostic {
            severity: sev,
            file: self.file.to_string(),
            line: at.line,
            column: at.column,
            field: field.to_string(),
            message,
            hint,
        });
    }

    pub(super) fn error(&mut self, at: Pos, field: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, at, field, message.into(), hint);
    }

    pub(super) fn check(&mut self, at: Pos, field: &str, rule: Rule) {
        if let Err(m) = rule {
            self.error(at, field, m, None);
        }
    }

    pub(super) fn locate(&mut self, path: &str, at: Pos) {
        self.locs.insert(path.to_string(), at);
    }

    pub(super) fn obj<'y, T: JsonSchema>(&mut self, node: &'y Node, path: &str) -> Option<Obj<'y>> {
        let known = fields::<T>();
        let node = untag(node);
        let at = pos(node);
        self.locate(path, at);
        let YamlDataOwned::Mapping(map) = &node.data else {
            self.error(at, path, format!("expected a mapping, found {}", kind(node)), None);
            return None;
        };
        let mut fields = Vec::new();
        for (k, v) in map.iter() {
            let key = match &untag(k).data {
                YamlDataOwned::Value(ScalarOwned::String(s)) => s.clone(),
                _ => {
                    self.error(pos(k), path, format!("mapping keys must be strings, found {}", kind(k)), None);
                    continue;
                }
            };
            let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if !known.contains(&key.as_str()) {
                let hint = match did_you_mean(&key, known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known fields here: {}", known.join(", ")),
                };
                self.error(pos(k), &field, format!("unknown field `{key}`"), Some(hint));
                continue;
            }
            self.locate(&field, pos(v));
            fields.push((key, v));
        }
        Some(Obj { path: path.to_string(), pos: at, fields })
    }

    pub(super) fn require<'y>(&mut self, o: &Obj<'y>, key: &str) -> Option<&'y Node> {
        match o.get(key) {
            Some(n) if !is_null(n) => Some(n),
            _ => {
                let at = o.get(key).map(pos).unwrap_or(o.pos);
                let field = o.path(key);
                self.error(at, &field, format!("missing required field `{key}`"), None);
                None
            }
        }
    }

    pub(super) fn as_string(&mut self, n: &Node, field: &str) -> Option<String> {
        match &untag(n).data {
            YamlDataOwned::Value(ScalarOwned::String(s)) => Some(s.clone()),
            YamlDataOwned::Representation(s, ..) => Some(s.clone()),
            _ => {
                // `accounts: [111122223333]` is a number to YAML (issue 26, finding 23).
                let hint = match &untag(n).data {
                    YamlDataOwned::Value(ScalarOwned::Integer(i)) => {
                        Some(format!("quote it, so YAML reads it as text (and keeps leading zeros): \"{i}\""))
                    }
                    YamlDataOwned::Value(ScalarOwned::FloatingPoint(_) | ScalarOwned::Boolean(_)) => {
                        Some("quote it, so YAML reads it as text".to_string())
                    }
                    _ => None,
                };
                self.error(pos(n), field, format!("expected a string, found {}", kind(n)), hint);
                None
            }
        }
    }

    pub(super) fn req_string(&mut self, o: &Obj, key: &str) -> Option<String> {
        let n = self.require(o, key)?;
        self.as_string(n, &o.path(key))
    }

    pub(super) fn opt_string(&mut self, o: &Obj, key: &str) -> Option<String> {
        let n = o.get(key).filter(|n| !is_null(n))?;
        self.as_string(n, &o.path(key))
    }

    pub(super) fn as_uint(&mut self, n: &Node, field: &str) -> Option<u32> {
        match &untag(n).data {
            YamlDataOwned::Value(ScalarOwned::Integer(i)) if *i >= 0 && *i <= i64::from(u32::MAX) => Some(*i as u32),
            YamlDataOwned::Value(ScalarOwned::Integer(i)) => {
                self.error(pos(n), field, format!("expected a non-negative integer, found {i}"), None);
                None
            }
            _ => {
                self.error(pos(n), field, format!("expected an integer, found {}", kind(n)), None);
                None
            }
        }
    }

    pub(super) fn opt_uint(&mut self, o: &Obj, key: &str) -> Option<u32> {
        let n = o.get(key).filter(|n| !is_null(n))?;
        self.as_uint(n, &o.path(key))
    }

    /// Like [`opt_uint`], but an explicit `null` means "none" while absence means `default`.
    pub(super) fn nullable_uint(&mut self, o: &Obj, key: &str, default: Option<u32>) -> Option<u32> {
        match o.get(key) {
            None => default,
            Some(n) if is_null(n) => None,
            Some(n) => self.as_uint(n, &o.path(key)),
        }
    }

    pub(super) fn as_number(&mut self, n: &Node, field: &str) -> Option<f64> {
        match &untag(n).data {
            YamlDataOwned::Value(ScalarOwned::Integer(i)) => Some(*i as f64),
            YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => Some(f.into_inner()),
            _ => {
                self.error(pos(n), field, format!("expected a number, found {}", kind(n)), None);
                None
            }
        }
    }

    pub(super) fn opt_bool(&mut self, o: &Obj, key: &str) -> Option<bool> {
        let n = o.get(key).filter(|n| !is_null(n))?;
        match &untag(n).data {
            YamlDataOwned::Value(ScalarOwned::Boolean(b)) => Some(*b),
            _ => {
                let f = o.path(key);
                self.error(pos(n), &f, format!("expected true or false, found {}", kind(n)), None);
                None
            }
        }
    }

    /// A mapping of strings to strings (`dimensions`).
    pub(super) fn string_map(&mut self, o: &Obj, key: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(n) = o.get(key).filter(|n| !is_null(n)) else { return out };
        let path = o.path(key);
        let YamlDataOwned::Mapping(map) = &untag(n).data else {
            self.error(pos(n), &path, format!("expected a mapping, found {}", kind(n)), None);
            return out;
        };
        for (kn, vn) in map.iter() {
            if let (Some(k), Some(v)) = (self.as_string(kn, &path), self.as_string(vn, &path)) {
                self.locate(&format!("{path}.{k}"), pos(vn));
                out.insert(k, v);
            }
        }
        out
    }

    pub(super) fn list<'y>(&mut self, o: &Obj<'y>, key: &str) -> Vec<(String, &'y Node)> {
        let Some(n) = o.get(key).filter(|n| !is_null(n)) else {
            return Vec::new();
        };
        let field = o.path(key);
        match &untag(n).data {
            YamlDataOwned::Sequence(items) => items.iter().enumerate().map(|(i, item)| (format!("{field}[{i}]"), item)).collect(),
            _ => {
                self.error(pos(n), &field, format!("expected a list, found {}", kind(n)), None);
                Vec::new()
            }
        }
    }

    pub(super) fn string_list(&mut self, o: &Obj, key: &str) -> Vec<(String, Pos, String)> {
        let items = self.list(o, key);
        let mut out = Vec::new();
        for (path, n) in items {
            self.locate(&path, pos(n));
            if let Some(s) = self.as_string(n, &path) {
                out.push((path, pos(n), s));
            }
        }
        out
    }

    /// A string field (`required` or not), checked by `rule` at its place.
    pub(super) fn checked(&mut self, o: &Obj, key: &str, required: bool, rule: fn(&str) -> Rule) -> Option<String> {
        let value = if required { self.req_string(o, key) } else { self.opt_string(o, key) }?;
        let field = o.path(key);
        self.check(self.locs[&field], &field, rule(&value));
        Some(value)
    }

    /// A name field (`required` or not) that may hold `${account_id}` and `${region}`, checked by
    /// `rule` as AWS will see it ([`Loader::check_name`]).
    pub(super) fn checked_name(&mut self, o: &Obj, key: &str, required: bool, region: &str, rule: fn(&str) -> Rule) -> Option<String> {
        let value = if required { self.req_string(o, key) } else { self.opt_string(o, key) }?;
        let field = o.path(key);
        self.check_name(self.locs[&field], &field, &value, region, rule);
        Some(value)
    }

    /// Checks a name-like string against an AWS rule after expanding `${account_id}`/`${region}`
    /// with sample values, so that templates are checked for the shape AWS will see.
    pub(super) fn check_name(&mut self, at: Pos, field: &str, value: &str, region: &str, rule: fn(&str) -> Rule) {
        match interp::expand(value, "123456789012", region) {
            Ok(v) => self.check(at, field, rule(&v)),
            Err(m) => self.error(at, field, m, Some("available variables: ${account_id}, ${region}".into())),
        }
    }

    /// The optional `description`, at most `max` characters (AWS's limit for `what`).
    pub(super) fn description(&mut self, o: &Obj, what: &str, max: usize) -> Option<String> {
        let d = self.opt_string(o, "description")?;
        if d.chars().count() > max {
            let at = self.locs[&o.path("description")];
            self.error(at, &o.path("description"), format!("{what} must be at most {max} characters"), None);
        }
        Some(d)
    }

    /// An optional field that takes one of `names`; an unknown name is an error with a
    /// did-you-mean hint, and the default stands in for it.
    pub(super) fn one_of<T: Default>(&mut self, o: &Obj, key: &str, names: &[&str], parse: fn(&str) -> Option<T>) -> T {
        let Some(s) = self.opt_string(o, key) else { return T::default() };
        parse(&s).unwrap_or_else(|| {
            let at = self.locs[&o.path(key)];
            let hint = did_you_mean(&s, names).map(|c| format!("did you mean `{c}`?")).or(Some(format!("use one of {}", names.join(", "))));
            self.error(at, &o.path(key), format!("unknown {key} {s:?}"), hint);
            T::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fields;
    use crate::model::{Alarm, DesiredState, Monitor};

    #[test]
    fn the_known_fields_are_the_models_and_leave_out_what_is_not_a_spec_field() {
        assert!(fields::<Alarm>().contains(&"threshold"));
        assert_eq!(fields::<Alarm>().len(), 11);
        // Set by pack expansion and by the engine, never written in a spec.
        assert!(!fields::<Monitor>().contains(&"rule"));
        assert!(!fields::<DesiredState>().contains(&"secondary_region"));
        assert!(fields::<DesiredState>().contains(&"targets"));
    }
}
