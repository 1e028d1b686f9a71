//! `secrets:`: each secret and the source of its value (never the value itself).

use std::collections::{BTreeMap, BTreeSet};

use saphyr::{ScalarOwned, YamlDataOwned};

use super::yaml::{fields, is_null, kind, pos, untag, Node, Obj};
use super::Loader;
use crate::model::{default_generate_length, one, Generate, Secret, SecretValue};
use crate::rules;

impl Loader<'_> {
    pub(super) fn secret(&mut self, n: &Node, path: &str) -> Option<Secret> {
        let o = self.obj::<Secret>(n, path)?;
        let name = self.checked(&o, "name", true, rules::secret_name);
        let description = self.description(&o, "description", 2048);
        let kms_key_id = self.opt_string(&o, "kms_key_id");
        let mut tags = BTreeMap::new();
        if let Some(t) = o.get("tags").filter(|n| !is_null(n)) {
            if let YamlDataOwned::Mapping(map) = &untag(t).data {
                for (k, v) in map.iter() {
                    let tp = o.path("tags");
                    if let (Some(k), Some(v)) = (self.as_string(k, &tp), self.as_string(v, &tp)) {
                        self.check(pos(t), &format!("{tp}.{k}"), rules::tag_key(&k));
                        tags.insert(k, v);
                    }
                }
            } else {
                self.error(pos(t), &o.path("tags"), format!("expected a mapping, found {}", kind(t)), None);
            }
        }
        let value = self.secret_value(&o);
        let decoy = self.opt_bool(&o, "decoy").unwrap_or(false);
        let mut readers = Vec::new();
        for (p, at, r) in self.string_list(&o, "readers") {
            self.check(at, &p, rules::iam_principal_arn(&r));
            readers.push(r);
        }
        Some(Secret { name: name?, description, kms_key_id, tags, value: value?, readers, decoy })
    }

    pub(super) fn secret_value(&mut self, o: &Obj) -> Option<SecretValue> {
        let path = o.path("value");
        let n = self.require(o, "value")?;
        let literal_hint =
            "a secret's value never goes in the spec file: use `from_env: VAR`, `from_file: PATH` or `generate: {}`".to_string();
        // Never echo the node's content here: it may be the secret itself.
        if !matches!(untag(n).data, YamlDataOwned::Mapping(_)) {
            self.error(pos(n), &path, "literal secret value in the spec file", Some(literal_hint));
            return None;
        }
        let known = fields::<SecretValue>();
        let YamlDataOwned::Mapping(map) = &untag(n).data else {
            return None;
        };
        for (k, _) in map.iter() {
            if let YamlDataOwned::Value(ScalarOwned::String(key)) = &untag(k).data {
                if !known.contains(&key.as_str())
                    && ["value", "string", "secret_string", "literal", "plaintext", "secret"].contains(&key.to_lowercase().as_str())
                {
                    self.error(pos(k), &format!("{path}.{key}"), "literal secret value in the spec file", Some(literal_hint.clone()));
                }
            }
        }
        let before = self.diags.len();
        let v = self.obj::<SecretValue>(n, &path)?;
        // Drop the generic "unknown field" errors that duplicate a literal-value error above.
        let literal_fields: BTreeSet<String> =
            self.diags[..before].iter().filter(|d| d.message.starts_with("literal")).map(|d| d.field.clone()).collect();
        let mut i = before;
        while i < self.diags.len() {
            if literal_fields.contains(&self.diags[i].field) {
                self.diags.remove(i);
            } else {
                i += 1;
            }
        }
        let from_env = self.checked(&v, "from_env", false, rules::env_var);
        let from_file = self.opt_string(&v, "from_file");
        let generate = match v.get("generate") {
            None => None,
            Some(g) if is_null(g) => Some(Generate::default()),
            Some(g) => {
                let gp = v.path("generate");
                let go = self.obj::<Generate>(g, &gp)?;
                let length = self.opt_uint(&go, "length").unwrap_or_else(default_generate_length);
                if !(8..=4096).contains(&length) {
                    let at = self.locs.get(&go.path("length")).copied().unwrap_or(go.pos);
                    self.error(at, &go.path("length"), format!("length must be 8-4096, got {length}"), None);
                }
                Some(Generate { length, exclude_punctuation: self.opt_bool(&go, "exclude_punctuation").unwrap_or(false) })
            }
        };
        let sources = [from_env.is_some(), from_file.is_some(), generate.is_some()].iter().filter(|b| **b).count();
        if sources != 1 {
            self.error(
                v.pos,
                &path,
                if sources == 0 { "no value source" } else { "more than one value source" },
                Some("set exactly one of `from_env`, `from_file` or `generate`".into()),
            );
        }
        let version = self.opt_uint(&v, "version").unwrap_or_else(one);
        if version == 0 {
            let at = self.locs[&v.path("version")];
            self.error(at, &v.path("version"), "version starts at 1", None);
        }
        Some(SecretValue { from_env, from_file, generate, version })
    }
}
