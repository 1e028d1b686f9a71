//! YAML → [`DesiredState`], keeping every source position so that semantic errors point at the
//! file, line and column. The walk is by hand (not serde) so that *all* problems are reported in
//! one run, not only the first.

use std::collections::{BTreeMap, BTreeSet};

/// CloudWatch's fixed quota of actions per alarm state (AlarmActions).
const MAX_ALARM_ACTIONS: usize = 5;
/// CloudWatch Logs' fixed quota of metric filters per log group (filters of other tools count too;
/// `secmon plan` checks those against the live log group).
pub const MAX_FILTERS_PER_LOG_GROUP: usize = 100;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use crate::diag::{did_you_mean, Diagnostic, Pos, Severity, SpecError};
use crate::model::*;
use crate::packs::{self, PackRef, RuleOverride};
use crate::rules::{self, Rule};
use crate::{interp, Spec};

type Node = MarkedYamlOwned;

pub(crate) struct Loader<'f> {
    file: &'f str,
    diags: Vec<Diagnostic>,
    locs: BTreeMap<String, Pos>,
}

fn pos(n: &Node) -> Pos {
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

fn kind(n: &Node) -> &'static str {
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

fn untag(n: &Node) -> &Node {
    match &n.data {
        YamlDataOwned::Tagged(_, inner) => untag(inner),
        _ => n,
    }
}

fn is_null(n: &Node) -> bool {
    matches!(untag(n).data, YamlDataOwned::Value(ScalarOwned::Null))
}

/// A mapping whose keys were checked against the known field names.
struct Obj<'y> {
    path: String,
    pos: Pos,
    fields: Vec<(String, &'y Node)>,
}

impl<'y> Obj<'y> {
    fn get(&self, key: &str) -> Option<&'y Node> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl<'f> Loader<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Loader { file, diags: Vec::new(), locs: BTreeMap::new() }
    }

    fn push(&mut self, sev: Severity, at: Pos, field: &str, message: String, hint: Option<String>) {
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

    fn error(&mut self, at: Pos, field: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, at, field, message.into(), hint);
    }

    fn check(&mut self, at: Pos, field: &str, rule: Rule) {
        if let Err(m) = rule {
            self.error(at, field, m, None);
        }
    }

    fn locate(&mut self, path: &str, at: Pos) {
        self.locs.insert(path.to_string(), at);
    }

    fn obj<'y>(&mut self, node: &'y Node, path: &str, known: &[&str]) -> Option<Obj<'y>> {
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

    fn require<'y>(&mut self, o: &Obj<'y>, key: &str) -> Option<&'y Node> {
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

    fn as_string(&mut self, n: &Node, field: &str) -> Option<String> {
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

    fn req_string(&mut self, o: &Obj, key: &str) -> Option<String> {
        let n = self.require(o, key)?;
        self.as_string(n, &o.path(key))
    }

    fn opt_string(&mut self, o: &Obj, key: &str) -> Option<String> {
        let n = o.get(key).filter(|n| !is_null(n))?;
        self.as_string(n, &o.path(key))
    }

    fn as_uint(&mut self, n: &Node, field: &str) -> Option<u32> {
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

    fn opt_uint(&mut self, o: &Obj, key: &str) -> Option<u32> {
        let n = o.get(key).filter(|n| !is_null(n))?;
        self.as_uint(n, &o.path(key))
    }

    /// Like [`opt_uint`], but an explicit `null` means "none" while absence means `default`.
    fn nullable_uint(&mut self, o: &Obj, key: &str, default: Option<u32>) -> Option<u32> {
        match o.get(key) {
            None => default,
            Some(n) if is_null(n) => None,
            Some(n) => self.as_uint(n, &o.path(key)),
        }
    }

    fn as_number(&mut self, n: &Node, field: &str) -> Option<f64> {
        match &untag(n).data {
            YamlDataOwned::Value(ScalarOwned::Integer(i)) => Some(*i as f64),
            YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => Some(f.into_inner()),
            _ => {
                self.error(pos(n), field, format!("expected a number, found {}", kind(n)), None);
                None
            }
        }
    }

    fn opt_bool(&mut self, o: &Obj, key: &str) -> Option<bool> {
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
    fn string_map(&mut self, o: &Obj, key: &str) -> BTreeMap<String, String> {
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

    fn list<'y>(&mut self, o: &Obj<'y>, key: &str) -> Vec<(String, &'y Node)> {
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

    fn string_list(&mut self, o: &Obj, key: &str) -> Vec<(String, Pos, String)> {
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

    /// Checks a name-like string against an AWS rule after expanding `${account_id}`/`${region}`
    /// with sample values, so that templates are checked for the shape AWS will see.
    fn check_name(&mut self, at: Pos, field: &str, value: &str, region: &str, rule: fn(&str) -> Rule) {
        match interp::expand(value, "123456789012", region) {
            Ok(v) => self.check(at, field, rule(&v)),
            Err(m) => self.error(at, field, m, Some("available variables: ${account_id}, ${region}".into())),
        }
    }

    pub(crate) fn load(self, text: &str) -> Result<Spec, SpecError> {
        match self.load_partial(text) {
            (Some(spec), diags) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Spec { warnings: diags, ..spec }),
            (_, diags) => Err(SpecError::Invalid(diags)),
        }
    }

    /// Every diagnostic, and the spec as far as it could be read (what is invalid left out),
    /// so that checks of later stages (pattern syntax, lint) run in the same pass.
    pub(crate) fn load_partial(mut self, text: &str) -> (Option<Spec>, Vec<Diagnostic>) {
        if let Err((at, message)) = crate::bounds::check(text) {
            self.error(at, "", message, None);
            return (None, self.diags);
        }
        let docs = match MarkedYamlOwned::load_from_str(text) {
            Ok(d) => d,
            Err(e) => {
                let m = e.marker();
                self.error(Pos { line: m.line(), column: m.col() + 1 }, "", format!("YAML syntax error: {}", e.info()), None);
                return (None, self.diags);
            }
        };
        let Some(root) = docs.first() else {
            self.error(Pos { line: 1, column: 1 }, "", "the spec file is empty", Some("start with `version: 1`".into()));
            return (None, self.diags);
        };
        if docs.len() > 1 {
            self.error(pos(&docs[1]), "", "a spec file holds exactly one YAML document", None);
        }
        let state = self.desired_state(root);
        self.diags.sort_by_key(|a| (a.line, a.column));
        let spec = state.map(|state| Spec { state, file: self.file.to_string(), locations: self.locs, warnings: Vec::new() });
        (spec, self.diags)
    }

    fn desired_state(&mut self, root: &Node) -> Option<DesiredState> {
        let o =
            self.obj(root, "", &["version", "name", "region", "secrets", "trail", "topics", "monitors", "packs", "encryption", "targets"])?;
        let version = self.require(&o, "version").and_then(|n| self.as_uint(n, "version"));
        if let Some(v) = version {
            if v != 1 {
                self.error(
                    pos(o.get("version").unwrap_or(root)),
                    "version",
                    format!("unsupported spec version {v}"),
                    Some("this secmon reads `version: 1`".into()),
                );
            }
        }
        let name = self.req_string(&o, "name");
        if let Some(n) = &name {
            let at = self.locs["name"];
            self.check(at, "name", rules::spec_name(n));
        }
        let region = self.opt_string(&o, "region");
        if let Some(r) = &region {
            let at = self.locs["region"];
            self.check(at, "region", rules::region(r));
        }
        let sample_region = region.clone().unwrap_or_else(|| "us-east-1".into());

        let mut secrets = Vec::new();
        for (path, n) in self.list(&o, "secrets") {
            if let Some(s) = self.secret(n, &path) {
                secrets.push(s);
            }
        }
        let trail = match o.get("trail").filter(|n| !is_null(n)) {
            Some(n) => self.trail(n, "trail", &sample_region),
            None => None,
        };
        let mut topics = Vec::new();
        for (path, n) in self.list(&o, "topics") {
            if let Some(t) = self.topic(n, &path, &sample_region) {
                topics.push(t);
            }
        }
        let mut monitors = Vec::new();
        for (path, n) in self.list(&o, "monitors") {
            if let Some(m) = self.monitor(n, &path) {
                monitors.push(m);
            }
        }
        let encryption = match o.get("encryption").filter(|n| !is_null(n)) {
            Some(n) => self.encryption(n, "encryption", region.as_deref())?,
            None => Encryption::default(),
        };
        let targets = match o.get("targets").filter(|n| !is_null(n)) {
            Some(n) => self.targets(n, "targets"),
            None => None,
        };
        let packs: Vec<(String, Pos, PackRef)> =
            self.list(&o, "packs").into_iter().filter_map(|(path, n)| self.pack(n, &path).map(|p| (path, pos(n), p))).collect();
        let mut state = DesiredState {
            version: version?,
            name: name?,
            region,
            secrets,
            trail,
            topics,
            monitors,
            packs: packs.iter().map(|(_, _, p)| crate::packs::PackEntry::Options(p.clone())).collect(),
            encryption,
            targets,
            secondary_region: false,
            organization_id: None,
            recovering_since: None,
            watched_from: None,
        };
        for (path, at, p) in &packs {
            self.expand_pack(&mut state, path, *at, p);
        }
        self.cross_checks(&state, &o);
        Some(state)
    }

    /// A pack entry: a bare name, or a mapping with options.
    fn pack(&mut self, n: &Node, path: &str) -> Option<PackRef> {
        let mut p = PackRef {
            name: String::new(),
            notify: None,
            disable: Vec::new(),
            rules: BTreeMap::new(),
            namespace: None,
            only_spec_secrets: false,
            exclude_principals: Vec::new(),
            benchmark: None,
        };
        let name_at;
        if let YamlDataOwned::Mapping(_) = &untag(n).data {
            let o = self.obj(
                n,
                path,
                &["name", "notify", "disable", "rules", "namespace", "only_spec_secrets", "exclude_principals", "benchmark"],
            )?;
            p.name = self.req_string(&o, "name")?;
            name_at = self.locs[&o.path("name")];
            if o.get("notify").is_some() {
                p.notify = Some(self.string_list(&o, "notify").into_iter().map(|(_, _, s)| s).collect());
            }
            p.disable = self.string_list(&o, "disable").into_iter().map(|(_, _, s)| s).collect();
            p.namespace = self.opt_string(&o, "namespace");
            if let Some(ns) = &p.namespace {
                let at = self.locs[&o.path("namespace")];
                self.check(at, &o.path("namespace"), rules::metric_namespace(ns));
            }
            p.only_spec_secrets = self.opt_bool(&o, "only_spec_secrets").unwrap_or(false);
            p.exclude_principals = self.string_list(&o, "exclude_principals").into_iter().map(|(_, _, s)| s).collect();
            if let Some(b) = self.opt_string(&o, "benchmark") {
                let at = self.locs[&o.path("benchmark")];
                if p.name != "cis-aws-foundations" {
                    self.error(at, &o.path("benchmark"), "`benchmark` applies only to the cis-aws-foundations pack".to_string(), None);
                } else if !packs::CIS_BENCHMARKS.contains(&b.as_str()) {
                    let hint = format!("use one of {}", packs::CIS_BENCHMARKS.join(", "));
                    self.error(at, &o.path("benchmark"), format!("unknown CIS benchmark version {b:?}"), Some(hint));
                } else {
                    p.benchmark = Some(b);
                }
            }
            if let Some(r) = o.get("rules").filter(|r| !is_null(r)) {
                let rp = o.path("rules");
                if let YamlDataOwned::Mapping(map) = &untag(r).data {
                    for (k, v) in map.iter() {
                        let Some(id) = self.as_string(k, &rp) else { continue };
                        let vp = format!("{rp}.{id}");
                        self.locate(&vp, pos(k));
                        let Some(ro) = self.obj(v, &vp, &["name", "metric", "alarm", "notify", "description"]) else {
                            continue;
                        };
                        let name = self.opt_string(&ro, "name");
                        if let Some(n) = &name {
                            let at = self.locs[&ro.path("name")];
                            self.check(at, &ro.path("name"), rules::alarm_name(n));
                            self.check(at, &ro.path("name"), rules::filter_name(n));
                        }
                        let metric = self.opt_string(&ro, "metric");
                        if let Some(m) = &metric {
                            let at = self.locs[&ro.path("metric")];
                            self.check(at, &ro.path("metric"), rules::metric_name(m));
                        }
                        let alarm = ro.get("alarm").filter(|a| !is_null(a)).and_then(|a| self.alarm(a, &ro.path("alarm")));
                        let notify = ro.get("notify").map(|_| self.string_list(&ro, "notify").into_iter().map(|(_, _, s)| s).collect());
                        let description = self.opt_string(&ro, "description");
                        p.rules.insert(id, RuleOverride { name, metric, alarm, notify, description });
                    }
                } else {
                    self.error(pos(r), &rp, format!("expected a mapping of rule ids, found {}", kind(r)), None);
                }
            }
        } else {
            p.name = self.as_string(n, path)?;
            name_at = pos(n);
        }
        if !packs::PACK_NAMES.contains(&p.name.as_str()) {
            let hint = did_you_mean(&p.name, &packs::PACK_NAMES)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("packs: {}", packs::PACK_NAMES.join(", ")));
            self.error(name_at, path, format!("unknown pack {:?}", p.name), Some(hint));
            return None;
        }
        Some(p)
    }

    /// Appends a pack's monitors; rule ids in `disable` and `rules` must exist.
    fn expand_pack(&mut self, state: &mut DesiredState, path: &str, at: Pos, p: &PackRef) {
        let rules = match packs::rules(p, state) {
            Ok(r) => r,
            Err(m) => {
                self.error(at, path, m, None);
                return;
            }
        };
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        let named =
            p.disable.iter().map(|d| (format!("{path}.disable"), d)).chain(p.rules.keys().map(|k| (format!("{path}.rules.{k}"), k)));
        let mut bad = false;
        for (field, id) in named {
            if !ids.contains(&id.as_str()) {
                let hint = did_you_mean(id, &ids)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("rules of {}: {}", p.name, ids.join(", ")));
                let where_ = self.locs.get(&field).copied().unwrap_or(at);
                self.error(where_, &field, format!("pack {} has no rule {id:?}", p.name), Some(hint));
                bad = true;
            }
        }
        if bad {
            return;
        }
        match packs::expand(p, state) {
            Ok(ms) => {
                for m in ms {
                    // Findings about a pack's monitor point at its rule's override, else at the
                    // pack entry; lint names them `packs[N].rules.ID`.
                    let i = state.monitors.len();
                    let rule = format!("{path}.rules.{}", m.rule.as_deref().unwrap_or_default());
                    let where_ = self.locs.get(&rule).copied().unwrap_or(at);
                    self.locate(&rule, where_);
                    self.locate(&format!("monitors[{i}]"), where_);
                    if m.pattern.chars().count() > 1024 {
                        self.error(
                            at,
                            path,
                            format!("rule {} expands to a pattern over 1024 characters", m.rule.as_deref().unwrap_or("")),
                            Some("watch fewer secrets or principals".into()),
                        );
                    }
                    state.monitors.push(m);
                }
            }
            Err(m) => self.error(at, path, m, None),
        }
    }

    fn secret(&mut self, n: &Node, path: &str) -> Option<Secret> {
        let o = self.obj(n, path, &["name", "description", "kms_key_id", "tags", "value"])?;
        let name = self.req_string(&o, "name");
        if let Some(v) = &name {
            let at = self.locs[&o.path("name")];
            self.check(at, &o.path("name"), rules::secret_name(v));
        }
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
        Some(Secret { name: name?, description, kms_key_id, tags, value: value? })
    }

    fn secret_value(&mut self, o: &Obj) -> Option<SecretValue> {
        let path = o.path("value");
        let n = self.require(o, "value")?;
        let literal_hint =
            "a secret's value never goes in the spec file: use `from_env: VAR`, `from_file: PATH` or `generate: {}`".to_string();
        // Never echo the node's content here: it may be the secret itself.
        if !matches!(untag(n).data, YamlDataOwned::Mapping(_)) {
            self.error(pos(n), &path, "literal secret value in the spec file", Some(literal_hint));
            return None;
        }
        let known = ["from_env", "from_file", "generate", "version"];
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
        let v = self.obj(n, &path, &known)?;
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
        let from_env = self.opt_string(&v, "from_env");
        if let Some(e) = &from_env {
            let at = self.locs[&v.path("from_env")];
            self.check(at, &v.path("from_env"), rules::env_var(e));
        }
        let from_file = self.opt_string(&v, "from_file");
        let generate = match v.get("generate") {
            None => None,
            Some(g) if is_null(g) => Some(Generate { length: 32, exclude_punctuation: false }),
            Some(g) => {
                let gp = v.path("generate");
                let go = self.obj(g, &gp, &["length", "exclude_punctuation"])?;
                let length = self.opt_uint(&go, "length").unwrap_or(32);
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
        let version = self.opt_uint(&v, "version").unwrap_or(1);
        if version == 0 {
            let at = self.locs[&v.path("version")];
            self.error(at, &v.path("version"), "version starts at 1", None);
        }
        Some(SecretValue { from_env, from_file, generate, version })
    }

    /// The `targets` section: accounts (listed, or by OU), the role to assume, regions.
    fn targets(&mut self, n: &Node, path: &str) -> Option<Targets> {
        let o = self.obj(n, path, &["accounts", "organizational_units", "role_name", "external_id", "regions"])?;
        let mut accounts = Vec::new();
        for (p, at, a) in self.string_list(&o, "accounts") {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                self.error(
                    at,
                    &p,
                    format!("{a:?} is not an AWS account id (12 digits)"),
                    Some("quote it, so YAML keeps its leading zeros: \"012345678901\"".into()),
                );
            } else if accounts.contains(&a) {
                self.error(at, &p, format!("{a} is listed twice"), None);
            }
            accounts.push(a);
        }
        let mut organizational_units = Vec::new();
        for (p, at, u) in self.string_list(&o, "organizational_units") {
            let ok = |prefix: &str, min: usize| {
                u.starts_with(prefix) && u.len() >= min && u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            if !(ok("ou-", 11) || ok("r-", 6)) {
                self.error(
                    at,
                    &p,
                    format!("{u:?} is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"),
                    Some("`aws organizations list-roots` and `list-organizational-units-for-parent` name them".into()),
                );
            }
            organizational_units.push(u);
        }
        if accounts.is_empty() && organizational_units.is_empty() {
            self.error(o.pos, path, "targets name no account", Some("list `accounts`, or `organizational_units` to enumerate".into()));
        }
        let role_name = self.req_string(&o, "role_name");
        if let Some(r) = &role_name {
            let at = self.locs[&o.path("role_name")];
            self.check(at, &o.path("role_name"), rules::role_name(r));
        }
        let external_id = self.opt_string(&o, "external_id");
        if let Some(e) = &external_id {
            let at = self.locs[&o.path("external_id")];
            let ok = (2..=1224).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                self.error(at, &o.path("external_id"), "an external id is 2-1224 characters of letters, digits and +=,.@:/-_", None);
            }
        }
        let mut regions = Vec::new();
        for (p, at, r) in self.string_list(&o, "regions") {
            self.check(at, &p, rules::region(&r));
            if regions.contains(&r) {
                self.error(at, &p, format!("{r} is listed twice"), None);
            }
            regions.push(r);
        }
        Some(Targets { accounts, organizational_units, role_name: role_name?, external_id, regions })
    }

    /// The `encryption` section: which key, and which parts use it. Turning a part off, or the
    /// key, is allowed and said, naming the control it fails.
    fn encryption(&mut self, n: &Node, path: &str, region: Option<&str>) -> Option<Encryption> {
        let o = self.obj(n, path, &["key", "trail", "bucket", "log_group", "topics"])?;
        let key = self.opt_string(&o, "key").unwrap_or_else(|| "managed".into());
        if let Some(at) = self.locs.get(&o.path("key")).copied() {
            match interp::expand(&key, "123456789012", region.unwrap_or("us-east-1")) {
                Ok(expanded) => {
                    if let Err((message, hint)) = rules::kms_key_choice(&expanded, region) {
                        self.error(at, &o.path("key"), message, hint);
                    }
                }
                Err(m) => self.error(at, &o.path("key"), m, Some("available variables: ${account_id}, ${region}".into())),
            }
        }
        let mut e = Encryption { key, ..Encryption::default() };
        let parts: [(&str, &mut bool, &str); 4] = [
            (
                "trail",
                &mut e.trail,
                "CIS 3.5 (v3.0) / 3.7 (v1.4), Security Hub CloudTrail.2 and Prowler's cloudtrail_kms_encryption_enabled",
            ),
            ("bucket", &mut e.bucket, "Prowler's s3_bucket_kms_encryption: the log files' default encryption is SSE-S3"),
            ("log_group", &mut e.log_group, "Prowler's cloudwatch_log_group_kms_encryption_enabled"),
            ("topics", &mut e.topics, "Security Hub SNS.1 and Prowler's sns_topics_kms_encryption_at_rest_enabled"),
        ];
        let mut warnings = Vec::new();
        for (field, flag, control) in parts {
            if let Some(v) = self.opt_bool(&o, field) {
                *flag = v;
                if !v {
                    warnings.push((field, control));
                }
            }
        }
        for (field, control) in warnings {
            let at = self.locs[&o.path(field)];
            let hint = Some(format!("remove `{field}: false` to keep the default (encrypted with the key)"));
            self.push(Severity::Warning, at, &o.path(field), format!("`{field}: false` fails {control}"), hint);
        }
        if e.key_choice() == KeyChoice::None {
            let at = self.locs[&o.path("key")];
            self.push(
                Severity::Warning,
                at,
                &o.path("key"),
                "`key: none` leaves the trail, bucket, log group and topics without a customer managed key: fails CIS 3.5 (v3.0), CloudTrail.2 and SNS.1".into(),
                Some("remove `key: none` to let secmon create and own a key (about $1 a month plus requests)".into()),
            );
        }
        Some(e)
    }

    fn trail(&mut self, n: &Node, path: &str, region: &str) -> Option<Trail> {
        let o = self.obj(
            n,
            path,
            &[
                "name",
                "multi_region",
                "organization",
                "log_file_validation",
                "bucket",
                "management_events",
                "cloudwatch_logs",
                "notify_topic",
            ],
        )?;
        let name = self.req_string(&o, "name");
        if let Some(v) = &name {
            let at = self.locs[&o.path("name")];
            self.check_name(at, &o.path("name"), v, region, rules::trail_name);
        }
        let multi_region = self.opt_bool(&o, "multi_region").unwrap_or(true);
        let organization = self.opt_bool(&o, "organization").unwrap_or(false);
        if organization && !multi_region {
            let at = self.locs[&o.path("organization")];
            self.error(
                at,
                &o.path("organization"),
                "an organization trail is multi-region: CloudTrail refuses one that is not",
                Some("remove `multi_region: false`".into()),
            );
        }
        let log_file_validation = self.opt_bool(&o, "log_file_validation").unwrap_or(true);
        let bucket = self.require(&o, "bucket").and_then(|b| {
            let bp = o.path("bucket");
            let bo = self.obj(
                b,
                &bp,
                &["name", "expire_logs_after_days", "versioning", "disable_acls", "access_logging", "access_log_bucket"],
            )?;
            let name = self.req_string(&bo, "name")?;
            let at = self.locs[&bo.path("name")];
            self.check_name(at, &bo.path("name"), &name, region, rules::bucket_name);
            let expire = self.nullable_uint(&bo, "expire_logs_after_days", Some(365));
            if expire == Some(0) {
                let at = self.locs[&bo.path("expire_logs_after_days")];
                self.error(at, &bo.path("expire_logs_after_days"), "must be at least 1 day (or null to keep logs forever)", None);
            }
            // Hardening is on by default; turning an item off is allowed, and said.
            let versioning = self.opt_bool(&bo, "versioning").unwrap_or(true);
            let disable_acls = self.opt_bool(&bo, "disable_acls").unwrap_or(true);
            let access_logging = self.opt_bool(&bo, "access_logging").unwrap_or(true);
            let access_log_bucket = self.opt_string(&bo, "access_log_bucket");
            let bucket = Bucket { name: name.clone(), expire_logs_after_days: expire, versioning, disable_acls, access_logging, access_log_bucket };
            if let Some(log_bucket) = bucket.access_log_bucket_name() {
                let field = bo.path("access_log_bucket");
                match self.locs.get(&field).copied() {
                    Some(at) => {
                        self.check_name(at, &field, &log_bucket, region, rules::bucket_name);
                        if log_bucket == name {
                            self.error(at, &field, "the access-log bucket must not be the trail bucket itself: each delivery of its logs would be logged again, without end", None);
                        }
                    }
                    // The default name is derived: a fault in it is the bucket name's length.
                    None => {
                        let at = self.locs[&bo.path("name")];
                        let before = self.diags.len();
                        self.check_name(at, &field, &log_bucket, region, rules::bucket_name);
                        // Derived: the fix depends on what is wrong with it (issue 26, finding 23).
                        let fix = if log_bucket.len() > 63 { "a shorter name" } else { "a valid name (or fix the bucket name it is derived from)" };
                        for d in &mut self.diags[before..] {
                            d.hint = Some(format!("the default access-log bucket name {log_bucket:?} is derived from the bucket name; set `access_log_bucket` to {fix}"));
                        }
                    }
                }
            }
            for (key, on, control) in [
                (
                    "versioning",
                    versioning,
                    "Security Hub S3.14 and Prowler's s3_bucket_object_versioning: a deleted or overwritten log file cannot be recovered",
                ),
                (
                    "disable_acls",
                    disable_acls,
                    "Security Hub S3.12 and Prowler's s3_bucket_acl_prohibited: ACLs can grant access the bucket policy does not show",
                ),
                (
                    "access_logging",
                    access_logging,
                    "CIS 3.4 (v3.0) / 3.6 (v1.4), Security Hub CloudTrail.7 and Prowler's cloudtrail_logs_s3_bucket_access_logging_enabled: reads of the log files leave no record",
                ),
            ] {
                if !on {
                    let at = self.locs[&bo.path(key)];
                    self.push(
                        Severity::Warning,
                        at,
                        &bo.path(key),
                        format!("`{key}: false` fails {control}"),
                        Some(format!("remove `{key}: false` to keep the default (on)")),
                    );
                }
            }
            Some(bucket)
        });
        let management_events = match o.get("management_events").filter(|n| !is_null(n)) {
            None => ManagementEvents::default(),
            Some(m) => {
                let mp = o.path("management_events");
                let mo = self.obj(m, &mp, &["read_write", "exclude_sources"])?;
                let read_write = match self.opt_string(&mo, "read_write").as_deref() {
                    None | Some("All") => ReadWrite::All,
                    Some("ReadOnly") => ReadWrite::ReadOnly,
                    Some("WriteOnly") => ReadWrite::WriteOnly,
                    Some(other) => {
                        let at = self.locs[&mo.path("read_write")];
                        let hint = did_you_mean(other, &["All", "ReadOnly", "WriteOnly"]).map(|s| format!("did you mean `{s}`?"));
                        self.error(at, &mo.path("read_write"), format!("unknown value {other:?}: use All, ReadOnly or WriteOnly"), hint);
                        ReadWrite::All
                    }
                };
                let exclude_sources = if mo.get("exclude_sources").is_some() {
                    let mut v = Vec::new();
                    for (p, at, s) in self.string_list(&mo, "exclude_sources") {
                        if s != "kms.amazonaws.com" && s != "rdsdata.amazonaws.com" {
                            self.error(at, &p, format!("CloudTrail can exclude only kms.amazonaws.com and rdsdata.amazonaws.com from management events, not {s:?}"), None);
                        }
                        v.push(s);
                    }
                    v
                } else {
                    default_excludes()
                };
                ManagementEvents { read_write, exclude_sources }
            }
        };
        let cloudwatch_logs = match o.get("cloudwatch_logs").filter(|n| !is_null(n)) {
            None => None,
            Some(c) => {
                let cp = o.path("cloudwatch_logs");
                let co = self.obj(c, &cp, &["log_group", "retention_days", "role_name"])?;
                let log_group = self.req_string(&co, "log_group");
                if let Some(lg) = &log_group {
                    let at = self.locs[&co.path("log_group")];
                    self.check_name(at, &co.path("log_group"), lg, region, rules::log_group_name);
                }
                let retention_days = self.nullable_uint(&co, "retention_days", Some(90));
                if let Some(d) = retention_days {
                    let at = self.locs.get(&co.path("retention_days")).copied().unwrap_or(co.pos);
                    self.check(at, &co.path("retention_days"), rules::retention_days(d));
                }
                let role_name = self.opt_string(&co, "role_name");
                if let Some(r) = &role_name {
                    let at = self.locs[&co.path("role_name")];
                    self.check_name(at, &co.path("role_name"), r, region, rules::role_name);
                }
                Some(CloudWatchLogs { log_group: log_group?, retention_days, role_name })
            }
        };
        let notify_topic = self.opt_string(&o, "notify_topic");
        Some(Trail {
            name: name?,
            multi_region,
            organization,
            log_file_validation,
            bucket: bucket?,
            management_events,
            cloudwatch_logs,
            notify_topic,
        })
    }

    fn topic(&mut self, n: &Node, path: &str, region: &str) -> Option<Topic> {
        let o = self.obj(n, path, &["name", "email"])?;
        let name = self.req_string(&o, "name");
        if let Some(v) = &name {
            let at = self.locs[&o.path("name")];
            self.check_name(at, &o.path("name"), v, region, rules::topic_name);
        }
        let mut email = Vec::new();
        let mut seen = BTreeSet::new();
        for (p, at, e) in self.string_list(&o, "email") {
            self.check(at, &p, rules::email(&e));
            if !seen.insert(e.to_lowercase()) {
                self.error(at, &p, format!("{e:?} is listed twice"), None);
            }
            email.push(e);
        }
        Some(Topic { name: name?, email })
    }

    fn monitor(&mut self, n: &Node, path: &str) -> Option<Monitor> {
        let o = self.obj(n, path, &["name", "description", "pattern", "filter_name", "metric", "alarm", "notify"])?;
        let name = self.req_string(&o, "name");
        let description = self.description(&o, "alarm description", 1024);
        let pattern = self.req_string(&o, "pattern");
        if let Some(p) = &pattern {
            let at = self.locs[&o.path("pattern")];
            if p.chars().count() > 1024 {
                self.error(at, &o.path("pattern"), "filter pattern must be at most 1024 characters", None);
            }
        }
        let filter_name = self.opt_string(&o, "filter_name");
        let fname = filter_name.clone().or_else(|| name.clone());
        if let Some(f) = &fname {
            let at = self.locs.get(&o.path("filter_name")).or(self.locs.get(&o.path("name"))).copied().unwrap_or(o.pos);
            self.check(at, &o.path(if filter_name.is_some() { "filter_name" } else { "name" }), rules::filter_name(f));
        }
        let metric = self.require(&o, "metric").and_then(|m| {
            let mp = o.path("metric");
            let mo = self.obj(m, &mp, &["namespace", "name", "value", "default", "dimensions"])?;
            let namespace = self.opt_string(&mo, "namespace").unwrap_or_else(|| "SecurityMetrics".into());
            let at = self.locs.get(&mo.path("namespace")).copied().unwrap_or(mo.pos);
            self.check(at, &mo.path("namespace"), rules::metric_namespace(&namespace));
            let mname = self.req_string(&mo, "name");
            if let Some(v) = &mname {
                let at = self.locs[&mo.path("name")];
                self.check(at, &mo.path("name"), rules::metric_name(v));
            }
            let value = match mo.get("value").filter(|n| !is_null(n)) {
                None => "1".to_string(),
                Some(v) => match &untag(v).data {
                    YamlDataOwned::Value(ScalarOwned::Integer(i)) => i.to_string(),
                    YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => f.to_string(),
                    _ => self.as_string(v, &mo.path("value"))?,
                },
            };
            let at = self.locs.get(&mo.path("value")).copied().unwrap_or(mo.pos);
            self.check(at, &mo.path("value"), rules::metric_value(&value));
            let dimensions = self.string_map(&mo, "dimensions");
            if dimensions.len() > 3 {
                let at = self.locs[&mo.path("dimensions")];
                self.error(
                    at,
                    &mo.path("dimensions"),
                    format!("a metric filter can have at most 3 dimensions, not {}", dimensions.len()),
                    None,
                );
            }
            for (k, v) in &dimensions {
                let field = format!("{}.{k}", mo.path("dimensions"));
                let at = self.locs.get(&field).copied().unwrap_or(mo.pos);
                if !(v.starts_with('$') && rules::metric_value(v).is_ok() && v.parse::<f64>().is_err()) {
                    self.error(
                        at,
                        &field,
                        format!("dimension {k:?} must name a field of the event, like $.userIdentity.arn, not {v:?}"),
                        None,
                    );
                }
                self.check(at, &field, rules::metric_name(k));
            }
            let default = match mo.get("default") {
                // AWS refuses a default value together with dimensions.
                None if !dimensions.is_empty() => None,
                None => Some(0.0),
                Some(d) if is_null(d) => None,
                Some(d) => {
                    if !dimensions.is_empty() {
                        self.error(
                            pos(d),
                            &mo.path("default"),
                            "a metric filter with dimensions cannot have a default value",
                            Some("set `default: null` or remove the dimensions".into()),
                        );
                    }
                    self.as_number(d, &mo.path("default"))
                }
            };
            Some(Metric { namespace, name: mname?, value, default, dimensions })
        });
        let alarm = match o.get("alarm").filter(|n| !is_null(n)) {
            None => Some(Alarm::default()),
            Some(a) => self.alarm(a, &o.path("alarm")),
        };
        let alarm_name = alarm.as_ref().and_then(|a| a.name.clone()).or_else(|| name.clone());
        if let Some(an) = &alarm_name {
            let at = self.locs.get(&o.path("alarm.name")).or(self.locs.get(&o.path("name"))).copied().unwrap_or(o.pos);
            self.check(at, &o.path("name"), rules::alarm_name(an));
        }
        let notify = self.string_list(&o, "notify").into_iter().map(|(_, _, s)| s).collect();
        Some(Monitor { name: name?, description, pattern: pattern?, filter_name, metric: metric?, alarm: alarm?, notify, rule: None })
    }

    fn alarm(&mut self, n: &Node, path: &str) -> Option<Alarm> {
        let o = self.obj(
            n,
            path,
            &[
                "name",
                "statistic",
                "period",
                "evaluation_periods",
                "datapoints_to_alarm",
                "threshold",
                "comparison",
                "treat_missing_data",
                "dimensions",
            ],
        )?;
        let d = Alarm::default();
        let name = self.opt_string(&o, "name");
        let statistic = self.opt_string(&o, "statistic").unwrap_or(d.statistic);
        if let Some(at) = self.locs.get(&o.path("statistic")).copied() {
            if let Err(m) = rules::statistic(&statistic) {
                let hint = did_you_mean(&statistic, &rules::STATISTICS).map(|s| format!("did you mean `{s}`?"));
                self.error(at, &o.path("statistic"), m, hint);
            }
        }
        let period = self.opt_uint(&o, "period").unwrap_or(d.period);
        if let Some(at) = self.locs.get(&o.path("period")).copied() {
            self.check(at, &o.path("period"), rules::period(period));
        }
        let evaluation_periods = self.opt_uint(&o, "evaluation_periods").unwrap_or(1);
        let at_eval = self.locs.get(&o.path("evaluation_periods")).copied().unwrap_or(o.pos);
        if evaluation_periods == 0 {
            self.error(at_eval, &o.path("evaluation_periods"), "evaluation_periods must be at least 1", None);
        } else {
            self.check(at_eval, &o.path("evaluation_periods"), rules::evaluation_window(period, evaluation_periods));
        }
        let datapoints_to_alarm = self.opt_uint(&o, "datapoints_to_alarm");
        if let Some(m) = datapoints_to_alarm {
            if m == 0 || m > evaluation_periods {
                let at = self.locs[&o.path("datapoints_to_alarm")];
                self.error(
                    at,
                    &o.path("datapoints_to_alarm"),
                    format!("datapoints_to_alarm must be 1-{evaluation_periods} (evaluation_periods), got {m}"),
                    None,
                );
            }
        }
        let threshold = match o.get("threshold").filter(|n| !is_null(n)) {
            None => d.threshold,
            Some(t) => self.as_number(t, &o.path("threshold")).unwrap_or(d.threshold),
        };
        if let Some(at) = self.locs.get(&o.path("threshold")).copied() {
            self.check(at, &o.path("threshold"), rules::threshold(threshold));
        }
        let comparison = self.one_of(&o, "comparison", &Comparison::ALL, Comparison::parse);
        let treat_missing_data = self.one_of(&o, "treat_missing_data", &TreatMissingData::ALL, TreatMissingData::parse);
        let dimensions = self.string_map(&o, "dimensions");
        Some(Alarm {
            dimensions,
            name,
            statistic,
            period,
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison,
            treat_missing_data,
        })
    }

    /// The optional `description`, at most `max` characters (AWS's limit for `what`).
    fn description(&mut self, o: &Obj, what: &str, max: usize) -> Option<String> {
        let d = self.opt_string(o, "description")?;
        if d.chars().count() > max {
            let at = self.locs[&o.path("description")];
            self.error(at, &o.path("description"), format!("{what} must be at most {max} characters"), None);
        }
        Some(d)
    }

    /// An optional field that takes one of `names`; an unknown name is an error with a
    /// did-you-mean hint, and the default stands in for it.
    fn one_of<T: Default>(&mut self, o: &Obj, key: &str, names: &[&str], parse: fn(&str) -> Option<T>) -> T {
        let Some(s) = self.opt_string(o, key) else { return T::default() };
        parse(&s).unwrap_or_else(|| {
            let at = self.locs[&o.path(key)];
            let hint = did_you_mean(&s, names).map(|c| format!("did you mean `{c}`?")).or(Some(format!("use one of {}", names.join(", "))));
            self.error(at, &o.path(key), format!("unknown {key} {s:?}"), hint);
            T::default()
        })
    }

    /// Rules that span sections: references, duplicates, monitors needing a log group.
    fn cross_checks(&mut self, s: &DesiredState, root: &Obj) {
        // The field's position, or its nearest located parent's (pack monitors point at their pack).
        let loc = |l: &Self, p: &str| crate::diag::nearest(&l.locs, p).unwrap_or(root.pos);
        let topic_names: Vec<&str> = s.topics.iter().map(|t| t.name.as_str()).collect();
        let dup = |l: &mut Self, what: &str, items: Vec<(String, String)>| {
            let mut seen = BTreeMap::new();
            for (path, name) in items {
                if let Some(first) = seen.insert(name.clone(), path.clone()) {
                    let at = loc(l, &path);
                    l.error(at, &path, format!("duplicate {what} {name:?} (first declared at {first})"), None);
                }
            }
        };
        dup(self, "secret name", s.secrets.iter().enumerate().map(|(i, x)| (format!("secrets[{i}].name"), x.name.clone())).collect());
        dup(self, "topic name", s.topics.iter().enumerate().map(|(i, x)| (format!("topics[{i}].name"), x.name.clone())).collect());
        dup(self, "monitor name", s.monitors.iter().enumerate().map(|(i, x)| (format!("monitors[{i}].name"), x.name.clone())).collect());
        dup(
            self,
            "alarm name",
            s.monitors.iter().enumerate().map(|(i, x)| (format!("monitors[{i}].name"), x.alarm_name().to_string())).collect(),
        );
        dup(
            self,
            "metric filter name",
            s.monitors.iter().enumerate().map(|(i, x)| (format!("monitors[{i}].name"), x.filter_name().to_string())).collect(),
        );

        let dangling = |l: &mut Self, path: String, name: &str| {
            if !topic_names.contains(&name) {
                let at = loc(l, &path);
                let hint = match did_you_mean(name, &topic_names) {
                    Some(t) => format!("did you mean `{t}`?"),
                    None if topic_names.is_empty() => "declare it under `topics:`".to_string(),
                    None => format!("declared topics: {}", topic_names.join(", ")),
                };
                l.error(at, &path, format!("refers to topic {name:?}, which the spec does not declare"), Some(hint));
            }
        };
        for (i, m) in s.monitors.iter().enumerate() {
            for (j, t) in m.notify.iter().enumerate() {
                dangling(self, format!("monitors[{i}].notify[{j}]"), t);
            }
        }
        if let Some(t) = &s.trail {
            if let Some(n) = &t.notify_topic {
                dangling(self, "trail.notify_topic".into(), n);
            }
        }
        if !s.monitors.is_empty() && s.cloudwatch_logs().is_none() {
            let path = if s.trail.is_some() { "trail" } else { "monitors" };
            let at = loc(self, path);
            self.error(
                at,
                path,
                "monitors need the trail's CloudWatch Logs delivery: metric filters live on its log group",
                Some("add `trail.cloudwatch_logs: { log_group: NAME }`".into()),
            );
        }
        if s.monitors.len() > MAX_FILTERS_PER_LOG_GROUP {
            let at = loc(self, "monitors");
            self.error(
                at,
                "monitors",
                format!(
                    "{} monitors need {} metric filters on the trail's log group; CloudWatch Logs allows at most {MAX_FILTERS_PER_LOG_GROUP} per log group",
                    s.monitors.len(),
                    s.monitors.len()
                ),
                Some("combine related events into one pattern with `||`, or drop pack rules you do not need".into()),
            );
        }
        for (i, m) in s.monitors.iter().enumerate() {
            // CloudWatch's fixed quota: at most 5 actions per alarm state (PutMetricAlarm refuses more).
            let mut topics: Vec<&String> = m.notify.iter().collect();
            topics.sort();
            topics.dedup();
            if topics.len() > MAX_ALARM_ACTIONS {
                let path = format!("monitors[{i}].notify");
                let at = loc(self, &path);
                self.error(
                    at,
                    &path,
                    format!(
                        "this alarm would notify {} topics; CloudWatch allows at most {MAX_ALARM_ACTIONS} actions per alarm",
                        topics.len()
                    ),
                    Some(format!(
                        "name at most {MAX_ALARM_ACTIONS} topics in `notify:` (a pack rule's default is every topic: set `notify:` on the pack)"
                    )),
                );
            }
            if m.notify.is_empty() {
                let at = loc(self, &format!("monitors[{i}]"));
                self.push(
                    Severity::Warning,
                    at,
                    &format!("monitors[{i}].notify"),
                    "this alarm notifies nobody".into(),
                    Some("add a topic under `notify:`".into()),
                );
            }
        }
    }
}
