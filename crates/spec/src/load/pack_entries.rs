//! `packs:`: each entry a pack name or a mapping of options; expansion into monitors.

use saphyr::YamlDataOwned;

use super::yaml::{is_null, kind, pos, untag, Node};
use super::Loader;
use crate::diag::{did_you_mean, Pos};
use crate::model::DesiredState;
use crate::packs::{self, PackRef, RuleOverride};
use crate::rules;

impl Loader<'_> {
    /// A pack entry: a bare name, or a mapping with options.
    pub(super) fn pack(&mut self, n: &Node, path: &str) -> Option<PackRef> {
        let mut p = PackRef::named("");
        let name_at;
        if let YamlDataOwned::Mapping(_) = &untag(n).data {
            let o = self.obj::<PackRef>(n, path)?;
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
            p.per_principal = self.opt_bool(&o, "per_principal").unwrap_or(false);
            if p.per_principal && p.name != "secret-access" {
                let at = self.locs[&o.path("per_principal")];
                self.error(at, &o.path("per_principal"), "`per_principal` applies only to the secret-access pack".to_string(), None);
            }
            let watched = self.string_list(&o, "watch_event_rules");
            if !watched.is_empty() && p.name != "self-protection" {
                let at = self.locs[&o.path("watch_event_rules")];
                self.error(
                    at,
                    &o.path("watch_event_rules"),
                    "`watch_event_rules` applies only to the self-protection pack".to_string(),
                    None,
                );
            }
            for (field, at, name) in &watched {
                // EventBridge rule names: 1-64 of [.-_A-Za-z0-9] (PutRule), here with a trailing `*`.
                let stem = name.strip_suffix('*').unwrap_or(name);
                if stem.is_empty() || stem.len() > 64 || !stem.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
                    let hint = Some("a rule name (1-64 of letters, digits, `.`, `-`, `_`), or its start followed by `*`".into());
                    self.error(*at, field, format!("{name:?} is not an EventBridge rule name"), hint);
                }
            }
            p.watch_event_rules = watched.into_iter().map(|(_, _, s)| s).collect();
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
                        let Some(ro) = self.obj::<RuleOverride>(v, &vp) else {
                            continue;
                        };
                        let name = self.opt_string(&ro, "name");
                        if let Some(n) = &name {
                            let at = self.locs[&ro.path("name")];
                            self.check(at, &ro.path("name"), rules::alarm_name(n));
                            self.check(at, &ro.path("name"), rules::filter_name(n));
                        }
                        let metric = self.checked(&ro, "metric", false, rules::metric_name);
                        let alarm = ro.get("alarm").filter(|a| !is_null(a)).and_then(|a| self.alarm(a, &ro.path("alarm")));
                        let notify = ro.get("notify").map(|_| self.string_list(&ro, "notify").into_iter().map(|(_, _, s)| s).collect());
                        let description = self.opt_string(&ro, "description");
                        let severity = self.severity(&ro);
                        let alert_context = self.opt_bool(&ro, "alert_context");
                        p.rules.insert(id, RuleOverride { name, metric, alarm, notify, description, severity, alert_context });
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
    pub(super) fn expand_pack(&mut self, state: &mut DesiredState, path: &str, at: Pos, p: &PackRef) {
        let rules = match packs::rules(p, state) {
            Ok(r) => r,
            Err(m) => {
                self.error(at, path, m, None);
                return;
            }
        };
        let contributor_rules = packs::contributor_rules(p);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).chain(contributor_rules.iter().map(|r| r.id.as_str())).collect();
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
        for c in packs::expand_contributors(p, state) {
            let id = c.rule.clone().unwrap_or_default();
            let rule = format!("{path}.rules.{id}");
            let where_ = self.locs.get(&rule).copied().unwrap_or(at);
            // An override's alarm replaces the pack's, threshold included: counting per
            // principal, the default threshold of 1 would page on every read.
            if p.rules.get(&id).is_some_and(|o| o.alarm.is_some()) && !self.locs.contains_key(&format!("{rule}.alarm.threshold")) {
                let hint = Some(format!("the pack's threshold is {}; an `alarm` override replaces it", c.alarm.threshold));
                self.error(where_, &format!("{rule}.alarm.threshold"), "a per-contributor rule's alarm needs a `threshold`", hint);
            }
            let i = state.contributors.len();
            self.locate(&rule, where_);
            self.locate(&format!("contributors[{i}]"), where_);
            state.contributors.push(c);
        }
    }
}
