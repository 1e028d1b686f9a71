//! Replaying events through a spec's monitors: the trail's event selection, each metric filter,
//! its metric emission, and its alarm.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use secmon_spec::{DesiredState, ReadWrite};

use crate::alarm::{evaluate, AlarmRun, Sample};
use crate::events::{self, EventsError, LogEvent};
use crate::pattern::{Pattern, PatternError};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Events(#[from] EventsError),
    #[error("monitor {monitor:?}: filter pattern {source}")]
    Pattern {
        monitor: String,
        #[source]
        source: PatternError,
    },
}

/// An event a filter matched, named for humans.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedEvent {
    pub time: Option<i64>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub event_id: Option<String>,
    pub value: f64,
    /// The metric's dimension values for this event (empty without dimensions).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitorReport {
    pub monitor: String,
    pub alarm: String,
    pub statistic: String,
    pub period: u32,
    pub threshold: f64,
    pub comparison: String,
    pub matched: Vec<MatchedEvent>,
    #[serde(flatten)]
    pub run: AlarmRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Events read from the files.
    pub events: u64,
    /// Events the trail would not record (excluded sources, read/write selection).
    pub dropped_by_trail: u64,
    pub monitors: Vec<MonitorReport>,
}

/// Whether the spec's trail records this event (management event selectors).
pub fn trail_records(state: &DesiredState, ev: &LogEvent) -> bool {
    let (Some(t), Some(j)) = (&state.trail, &ev.json) else {
        return true;
    };
    let source = j.get("eventSource").and_then(Value::as_str).unwrap_or("");
    if t.management_events.exclude_sources.iter().any(|s| s == source) {
        return false;
    }
    let read_only = j.get("readOnly").and_then(Value::as_bool);
    !matches!((t.management_events.read_write, read_only), (ReadWrite::ReadOnly, Some(false)) | (ReadWrite::WriteOnly, Some(true)))
}

struct Compiled<'s> {
    monitor: &'s secmon_spec::Monitor,
    pattern: Pattern,
    samples: Vec<Sample>,
    matched: Vec<MatchedEvent>,
}

/// Replays every event of `paths` (in order) through every monitor of `state`.
pub fn simulate(state: &DesiredState, paths: &[String]) -> Result<SimReport, SimError> {
    simulate_as(state, paths, events::Format::Auto)
}

/// [`simulate`], reading the files as `format`.
pub fn simulate_as(state: &DesiredState, paths: &[String], format: events::Format) -> Result<SimReport, SimError> {
    let mut monitors = Vec::new();
    for m in &state.monitors {
        let pattern = Pattern::parse(&m.pattern).map_err(|source| SimError::Pattern { monitor: m.name.clone(), source })?;
        monitors.push(Compiled { monitor: m, pattern, samples: Vec::new(), matched: Vec::new() });
    }
    let mut total = 0u64;
    let mut dropped = 0u64;
    let mut last_time = 0i64;
    let mut first_time: Option<i64> = None;
    for path in paths {
        events::for_each_as(path, format, &mut |ev| {
            total += 1;
            let time = ev.time.unwrap_or(last_time);
            last_time = time;
            first_time = Some(first_time.map_or(time, |f: i64| f.min(time)));
            if !trail_records(state, &ev) {
                dropped += 1;
                return;
            }
            for c in &mut monitors {
                let e = ev.as_event_for(&c.pattern);
                if c.pattern.matches(&e) {
                    let Some(v) = c.pattern.metric_value(&c.monitor.metric.value, &e) else {
                        continue;
                    };
                    // Each dimension value is its own metric; an event lacking a dimension field publishes nothing.
                    let dims: Option<BTreeMap<String, String>> =
                        c.monitor.metric.dimensions.iter().map(|(k, r)| c.pattern.field_text(r, &e).map(|t| (k.clone(), t))).collect();
                    let Some(dimensions) = dims else { continue };
                    if dimensions == c.monitor.alarm.dimensions {
                        c.samples.push(Sample { time, value: v });
                    }
                    let s = |k: &str| ev.json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_string);
                    c.matched.push(MatchedEvent {
                        time: ev.time,
                        event_source: s("eventSource"),
                        event_name: s("eventName"),
                        event_id: s("eventID"),
                        value: v,
                        dimensions,
                    });
                } else if let Some(d) = c.monitor.metric.default {
                    c.samples.push(Sample { time, value: d });
                }
            }
        })?;
    }
    let reports = monitors
        .into_iter()
        .map(|c| {
            let mut samples = c.samples;
            samples.sort_by_key(|s| s.time);
            let mut run = evaluate(&c.monitor.alarm, &samples, &c.monitor.notify, first_time, None);
            let window = i64::from(c.monitor.alarm.period) * i64::from(c.monitor.alarm.evaluation_periods.max(1));
            for n in &mut run.notifications {
                n.events = c
                    .matched
                    .iter()
                    .filter(|e| e.time.is_some_and(|t| t >= n.time - window && t < n.time))
                    .map(|e| {
                        format!(
                            "{} {} {}",
                            e.time.map(crate::events::format_time).unwrap_or_default(),
                            e.event_name.as_deref().unwrap_or("-"),
                            e.event_id.as_deref().unwrap_or("-")
                        )
                    })
                    .collect();
            }
            MonitorReport {
                monitor: c.monitor.name.clone(),
                alarm: c.monitor.alarm_name().to_string(),
                statistic: c.monitor.alarm.statistic.clone(),
                period: c.monitor.alarm.period,
                threshold: c.monitor.alarm.threshold,
                comparison: c.monitor.alarm.comparison.as_str().to_string(),
                matched: c.matched,
                run,
            }
        })
        .collect();
    Ok(SimReport { events: total, dropped_by_trail: dropped, monitors: reports })
}
