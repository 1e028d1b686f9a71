//! YAML → [`DesiredState`], keeping every source position so that semantic errors point at the
//! file, line and column. The walk is by hand (not serde) so that *all* problems are reported in
//! one run, not only the first; but the schema is the model's (issue 23, item 4): the fields each
//! mapping may hold come from its type ([`yaml::fields`]), and every default from the model's
//! functions, which serde and `secmon schema` use too (tests/one_schema.rs holds them together).
//!
//! One module per section of the spec ([`secrets`], [`trail`], [`encryption`], [`topics`],
//! [`monitors`], [`targets`], [`pack_entries`]) plus the rules across them ([`cross`]), over a
//! small YAML core ([`yaml`]).

use std::collections::BTreeMap;

/// CloudWatch's fixed quota of actions per alarm state (AlarmActions).
const MAX_ALARM_ACTIONS: usize = 5;
/// CloudWatch Logs' fixed quota of metric filters per log group (filters of other tools count too;
/// `secmon plan` checks those against the live log group).
pub const MAX_FILTERS_PER_LOG_GROUP: usize = 100;

use saphyr::{LoadableYamlNode, MarkedYamlOwned};

use crate::diag::{Diagnostic, Pos, Severity, SpecError};
use crate::model::*;
use crate::packs::PackRef;
use crate::rules;
use crate::Spec;
use yaml::{is_null, pos, Node};

mod contributors;
mod cross;
mod encryption;
mod heartbeat;
mod monitors;
mod pack_entries;
mod secrets;
mod targets;
mod topics;
mod trail;
mod yaml;

pub(crate) struct Loader<'f> {
    file: &'f str,
    diags: Vec<Diagnostic>,
    locs: BTreeMap<String, Pos>,
}

impl<'f> Loader<'f> {
    pub(crate) fn new(file: &'f str) -> Self {
        Loader { file, diags: Vec::new(), locs: BTreeMap::new() }
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
        let o = self.obj::<DesiredState>(root, "")?;
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
        let name = self.checked(&o, "name", true, rules::spec_name);
        let region = self.checked(&o, "region", false, rules::region);
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
        let mut contributors = Vec::new();
        for (path, n) in self.list(&o, "contributors") {
            if let Some(c) = self.contributor(n, &path) {
                contributors.push(c);
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
        let alert_context = self.opt_bool(&o, "alert_context").unwrap_or(false);
        let routes = match o.get("routes").filter(|n| !is_null(n)) {
            Some(n) => self.routes(n, "routes").unwrap_or_default(),
            None => Default::default(),
        };
        let heartbeat = o.get("heartbeat").filter(|n| !is_null(n)).and_then(|n| self.heartbeat(n, "heartbeat"));
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
            contributors,
            packs: packs.iter().map(|(_, _, p)| crate::packs::PackEntry::Options(p.clone())).collect(),
            encryption,
            alert_context,
            routes,
            heartbeat,
            external_trail: None,
            targets,
            secondary_region: false,
            organization_id: None,
            recovering_since: None,
            watched_from: None,
        };
        state.normalize_trail();
        for (path, at, p) in &packs {
            self.expand_pack(&mut state, path, *at, p);
        }
        // A decoy is watched whether or not the spec lists the decoys pack (issue 25, item 1).
        if state.secrets.iter().any(|s| s.decoy) && !packs.iter().any(|(_, _, p)| p.name == "decoys") {
            let first = state.secrets.iter().position(|s| s.decoy).unwrap_or_default();
            let path = format!("secrets[{first}].decoy");
            let at = self.locs.get(&path).copied().unwrap_or(pos(root));
            if !state.has_log_group() {
                let hint = Some("add a `trail` with `cloudwatch_logs: { log_group: NAME }`".to_string());
                self.error(
                    at,
                    &path,
                    "a decoy is watched by a metric filter on the trail's log group, and the spec has none".to_string(),
                    hint,
                );
            } else {
                self.expand_pack(&mut state, &path, at, &PackRef::named("decoys"));
            }
        }
        self.heartbeat_checks(&mut state, root);
        state.route();
        self.cross_checks(&state, &o);
        Some(state)
    }
}
