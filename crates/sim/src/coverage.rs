//! What a spec's monitors can see (issue 25, item 5), computed from the patterns it deploys and
//! the trail's selection, never hand-tagged:
//! - each catalogued CloudTrail event name ([`crate::catalog::SERVICES`]): the monitors whose
//!   pattern names it, and whether the trail records it at all (excluded sources, read/write
//!   selection, S3 object-level calls, which are data events);
//! - each attack technique given as a file of its CloudTrail records (the Stratus Red Team
//!   detonation logs): the alarms a replay of it fires ([`crate::simulate`]);
//! - the MITRE ATT&CK ids of the monitors and contributors that can fire (a field: a pack rule's
//!   own, or a runbook's `attack`), and an ATT&CK Navigator layer of them.
//!
//! A monitor's event names are the `$.eventName = "..."` comparisons of its JSON pattern: one
//! whose pattern names none (a term pattern, a wildcard) is counted as able to fire, and its
//! events are not listed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};

use secmon_spec::{DesiredState, ReadWrite};

use crate::catalog;
use crate::lint::{is_read_api, named_events};
use crate::pattern::Pattern;
use crate::simulate::{simulate, SimError};

/// One catalogued event name: who watches it, whether the trail records it.
#[derive(Debug, Clone, Serialize)]
pub struct EventCoverage {
    /// Its `eventSource`.
    pub source: String,
    /// Its `eventName`.
    pub name: String,
    /// The monitors whose pattern names it.
    pub monitors: Vec<String>,
    /// Why the trail does not record it, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_recorded: Option<String>,
}

/// One technique's replay: the alarms its records fire.
#[derive(Debug, Clone, Serialize)]
pub struct TechniqueCoverage {
    /// The technique, as its file is named (`credential-access.secretsmanager-retrieve-secrets`).
    pub technique: String,
    /// The alarms that fire.
    pub fired: Vec<String>,
}

/// The coverage of a spec.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Every catalogued event name, and the ones monitors name outside the catalogue.
    pub events: Vec<EventCoverage>,
    /// Each technique file given.
    pub techniques: Vec<TechniqueCoverage>,
    /// ATT&CK id → the monitors that can fire and carry it.
    pub attack: BTreeMap<String, Vec<String>>,
}

impl Coverage {
    /// The event names some monitor names and the trail records.
    pub fn watched(&self) -> impl Iterator<Item = &EventCoverage> {
        self.events.iter().filter(|e| !e.monitors.is_empty() && e.not_recorded.is_none())
    }
}

/// Why the trail of `state` does not record `name` of `source`, when it does not.
fn not_recorded(state: &DesiredState, source: &str, name: &str) -> Option<String> {
    // A trail another tool owns (`trail.external`): its management events are taken as recorded
    // (`secmon verify`'s `trail.external` checks the selectors on AWS); its data events are not
    // claimed, as nothing offline says whether it records them.
    if state.external_trail.is_some() && source == "s3.amazonaws.com" && catalog::S3_DATA_EVENTS.contains(&name) {
        return Some("an S3 object-level call: a data event, which the trail another tool owns may not record".into());
    }
    let trail = state.trail.as_ref()?;
    if trail.management_events.exclude_sources.iter().any(|s| s == source) {
        return Some(format!("the trail excludes {source} (trail.management_events.exclude_sources)"));
    }
    if source == "s3.amazonaws.com" && catalog::S3_DATA_EVENTS.contains(&name) {
        return Some("an S3 object-level call: a data event, and the trail records management events".into());
    }
    match (trail.management_events.read_write, is_read_api(name)) {
        (ReadWrite::WriteOnly, true) => Some("a read-only event, and the trail records WriteOnly events".into()),
        (ReadWrite::ReadOnly, false) => Some("a write event, and the trail records ReadOnly events".into()),
        _ => None,
    }
}

/// A name compared without a source that no catalogued service has.
const ANY_SOURCE: &str = "(any source)";

/// The (source, name) pairs a monitor's pattern names: each name under the named sources whose
/// catalogue has it (all named sources when none does); under every catalogued source that has
/// it when the pattern names no source, else under [`ANY_SOURCE`]. None when it names no event
/// (it is counted as able to fire).
fn pairs_of(pattern: &str) -> Option<Vec<(String, String)>> {
    let p = Pattern::parse(pattern).ok()?;
    let (sources, names) = named_events(&p);
    if names.is_empty() {
        return None;
    }
    let has = |s: &str, n: &str| catalog::events_of(s).is_some_and(|known| known.contains(&n));
    let mut out = Vec::new();
    for n in &names {
        let candidates: Vec<String> =
            if sources.is_empty() { catalog::SERVICES.iter().map(|(s, _)| s.to_string()).collect() } else { sources.clone() };
        let mut under: Vec<String> = candidates.into_iter().filter(|s| has(s, n)).collect();
        if under.is_empty() {
            under = if sources.is_empty() { vec![ANY_SOURCE.to_string()] } else { sources.clone() };
        }
        out.extend(under.into_iter().map(|s| (s, n.clone())));
    }
    Some(out)
}

/// The coverage of `state`, with each of `technique_files` replayed on its own.
pub fn coverage(state: &DesiredState, technique_files: &[String]) -> Result<Coverage, SimError> {
    let mut named: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (s, names) in catalog::SERVICES {
        for n in *names {
            named.entry((s.to_string(), n.to_string())).or_default();
        }
    }
    let mut can_fire = BTreeSet::new();
    // Monitors and contributors alike: each a pattern, a name and an ATT&CK id (issue 25, item 5).
    let monitors =
        state.monitors.iter().filter(|m| crate::heartbeat::replayable(m)).map(|m| (m.name.as_str(), m.pattern.as_str(), m.attack()));
    let contributors = state.contributors.iter().map(|c| (c.name.as_str(), c.pattern.as_str(), c.attack()));
    let watchers: Vec<(&str, &str, Option<String>)> = monitors.chain(contributors).collect();
    for (name, pattern, _) in &watchers {
        match pairs_of(pattern) {
            None => {
                can_fire.insert(name.to_string());
            }
            Some(pairs) => {
                for (s, n) in pairs {
                    if not_recorded(state, &s, &n).is_none() {
                        can_fire.insert(name.to_string());
                    }
                    named.entry((s, n)).or_default().insert(name.to_string());
                }
            }
        }
    }
    let events = named
        .into_iter()
        .map(|((source, name), monitors)| EventCoverage {
            not_recorded: not_recorded(state, &source, &name),
            monitors: monitors.into_iter().collect(),
            source,
            name,
        })
        .collect();
    let mut attack: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, _, id) in watchers.iter().filter(|(name, ..)| can_fire.contains(*name)) {
        if let Some(id) = id {
            attack.entry(id.clone()).or_default().push(name.to_string());
        }
    }
    let mut techniques = Vec::new();
    for file in technique_files {
        let report = simulate(state, std::slice::from_ref(file))?;
        let stem = std::path::Path::new(file).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        techniques.push(TechniqueCoverage {
            technique: stem.strip_prefix("aws.").unwrap_or(&stem).to_string(),
            fired: report.monitors.iter().filter(|r| r.run.fired).map(|r| r.alarm.clone()).collect(),
        });
    }
    Ok(Coverage { events, techniques, attack })
}

/// An ATT&CK Navigator layer (format 4.5, enterprise domain) of the techniques the spec's
/// monitors can see: each technique scored 1 with the monitors in its comment. Tactic ids
/// (`TA0006`), which a layer cannot hold as techniques, are listed in its metadata.
pub fn navigator_layer(spec_name: &str, c: &Coverage) -> Value {
    let techniques: Vec<Value> = c
        .attack
        .iter()
        .filter(|(id, _)| !id.starts_with("TA"))
        .map(
            |(id, monitors)| json!({"techniqueID": id, "score": 1, "enabled": true, "comment": format!("secmon: {}", monitors.join(", "))}),
        )
        .collect();
    let tactics: Vec<String> =
        c.attack.iter().filter(|(id, _)| id.starts_with("TA")).map(|(id, monitors)| format!("{id}: {}", monitors.join(", "))).collect();
    json!({
        "name": format!("secmon {spec_name}"),
        "versions": {"layer": "4.5", "navigator": "5.1.0", "attack": "16"},
        "domain": "enterprise-attack",
        "description": "Techniques the spec's deployed monitors can see, computed by `secmon coverage` from their patterns and the trail's selection.",
        "techniques": techniques,
        "gradient": {"colors": ["#ffffff", "#66b1ff"], "minValue": 0, "maxValue": 1},
        "metadata": [{"name": "tactics (no single technique)", "value": tactics.join("; ")}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_ids_are_a_field_not_the_descriptions_text() {
        // Issue 25, item 5: a pack rule's id is its rule's, whatever the description says; a
        // hand-written monitor's is its runbook's `attack`; a description naming one is not read.
        let mut m: secmon_spec::Monitor = serde_json::from_value(json!({"name": "m", "pattern": "x", "metric": {"name": "M"}})).unwrap();
        m.description = Some("What: a read. Check: 1) who. ATT&CK T1555.006.".into());
        assert_eq!(m.attack(), None);
        m.rule = Some("CIS-4.12".into());
        m.description = Some("our own words".into());
        assert_eq!(m.attack().as_deref(), Some("TA0010"));
        m.rule = None;
        m.runbook = Some(secmon_spec::Runbook { meaning: "x".into(), check: vec!["y".into()], attack: Some("T1078".into()) });
        assert_eq!(m.attack().as_deref(), Some("T1078"));
    }
}
