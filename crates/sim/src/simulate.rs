//! Replaying events through a spec's monitors: the trail's event selection, each metric filter,
//! its metric emission, and its alarm.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use secmon_spec::{DesiredState, ReadWrite};

use crate::alarm::{evaluate, AlarmRun, Sample};
use crate::eventbridge::{envelope, fast_path_monitors, matches, Transformer};
use crate::events::{self, EventsError, LogEvent};
use crate::pattern::{Pattern, PatternError};
use crate::prefilter::{Need, Prefilter};

/// Why a simulation cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An events file cannot be read.
    #[error(transparent)]
    Events(#[from] EventsError),
    /// A monitor's pattern does not parse.
    #[error("monitor {monitor:?}: filter pattern {source}")]
    Pattern {
        /// The monitor.
        monitor: String,
        /// Where and why.
        #[source]
        source: PatternError,
    },
}

/// An event a filter matched, named for humans.
#[derive(Debug, Clone, Serialize)]
pub struct MatchedEvent {
    /// When (its `eventTime`), in epoch seconds.
    pub time: Option<i64>,
    /// Its `eventSource`.
    pub event_source: Option<String>,
    /// Its `eventName`.
    pub event_name: Option<String>,
    /// Its `eventID`.
    pub event_id: Option<String>,
    /// The value the metric filter publishes for it.
    pub value: f64,
    /// The metric's dimension values for this event (empty without dimensions).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
    /// With `alert_context`, the exact text the monitor's EventBridge rule sends its topics for
    /// this event (issue 24, item 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification: Option<String>,
}

/// One monitor's replay: what its filter matched, what its alarm did.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorReport {
    /// The monitor.
    pub monitor: String,
    /// Its alarm.
    pub alarm: String,
    /// The alarm's statistic.
    pub statistic: String,
    /// The alarm's period, in seconds.
    pub period: u32,
    /// The alarm's threshold.
    pub threshold: f64,
    /// The alarm's comparison, in CloudWatch's spelling.
    pub comparison: String,
    /// The events its filter matched.
    pub matched: Vec<MatchedEvent>,
    /// A contributor's (issue 25, item 1): the fields that make a contributor.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// A contributor's: each period's top contributor (its key values), by the period's start.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub top_contributors: BTreeMap<i64, Vec<String>>,
    /// The alarm's evaluation.
    #[serde(flatten)]
    pub run: AlarmRun,
}

/// A replay of events files through every monitor of a spec.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// Events read from the files.
    pub events: u64,
    /// Events the trail would not record (excluded sources, read/write selection).
    pub dropped_by_trail: u64,
    /// Each monitor's replay.
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
    /// The monitor's EventBridge rule, with `alert_context`: its pattern and its text.
    context: Option<(Value, Transformer)>,
    samples: Vec<Sample>,
    matched: Vec<MatchedEvent>,
}

impl<'s> Compiled<'s> {
    fn new(monitor: &'s secmon_spec::Monitor) -> Result<Compiled<'s>, SimError> {
        let pattern = Pattern::parse(&monitor.pattern).map_err(|source| SimError::Pattern { monitor: monitor.name.clone(), source })?;
        Ok(Compiled { monitor, pattern, context: None, samples: Vec::new(), matched: Vec::new() })
    }

    /// The monitor with its EventBridge rule, when the spec gives it one.
    fn with_context(monitor: &'s secmon_spec::Monitor, state: &DesiredState) -> Result<Compiled<'s>, SimError> {
        let mut c = Compiled::new(monitor)?;
        let rule = fast_path_monitors(state).into_iter().find(|(m, _)| std::ptr::eq(*m, monitor)).map(|(_, p)| p);
        if let Some(pattern) = rule {
            let log_group = state.log_group().unwrap_or_default().to_string();
            c.context = Some((pattern, Transformer::notification(&monitor.name, &log_group, monitor.alarm_description().as_deref())));
        }
        Ok(c)
    }

    /// What the monitor's metric filter does with an event at `time` that its pattern does not
    /// match: publish the default value, when there is one.
    fn miss(&mut self, time: i64) {
        if let Some(d) = self.monitor.metric.default {
            self.samples.push(Sample { time, value: d });
        }
    }

    /// What the monitor's metric filter does with one event at `time`: publish its value
    /// when the pattern matches, else the default value when there is one. True when it matched.
    fn feed(&mut self, ev: &LogEvent, time: i64) -> bool {
        let e = ev.as_event_for(&self.pattern);
        if !self.pattern.matches(&e) {
            self.miss(time);
            return false;
        }
        let Some(v) = self.pattern.metric_value(&self.monitor.metric.value, &e) else {
            return true;
        };
        // Each dimension value is its own metric; an event lacking a dimension field publishes nothing.
        let dims: Option<BTreeMap<String, String>> =
            self.monitor.metric.dimensions.iter().map(|(k, r)| self.pattern.field_text(r, &e).map(|t| (k.clone(), t))).collect();
        let Some(dimensions) = dims else { return true };
        if dimensions == self.monitor.alarm.dimensions {
            self.samples.push(Sample { time, value: v });
        }
        let s = |k: &str| ev.json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str).map(str::to_string);
        // What the rule sends, for an event the rule itself matches (it matches what the filter
        // counts: tests/eventbridge.rs), rendered as the input transformer does.
        let notification = match (&self.context, &ev.json) {
            (Some((pattern, transformer)), Some(record)) => {
                let event = envelope(record);
                matches(pattern, &event).then(|| transformer.render(&event))
            }
            _ => None,
        };
        self.matched.push(MatchedEvent {
            time: Some(time),
            event_source: s("eventSource"),
            event_name: s("eventName"),
            event_id: s("eventID"),
            value: v,
            dimensions,
            notification,
        });
        true
    }

    /// The alarm's run over the samples, from `first_time`, with each notification's events.
    fn report(self, first_time: Option<i64>) -> MonitorReport {
        let mut samples = self.samples;
        samples.sort_by_key(|s| s.time);
        let mut run = evaluate(&self.monitor.alarm, &samples, &self.monitor.notify, first_time, None);
        let window = i64::from(self.monitor.alarm.period) * i64::from(self.monitor.alarm.evaluation_periods.max(1));
        for n in &mut run.notifications {
            n.events = self
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
            monitor: self.monitor.name.clone(),
            alarm: self.monitor.alarm_name().to_string(),
            statistic: self.monitor.alarm.statistic.clone(),
            period: self.monitor.alarm.period,
            threshold: self.monitor.alarm.threshold,
            comparison: self.monitor.alarm.comparison.as_str().to_string(),
            matched: self.matched,
            keys: Vec::new(),
            top_contributors: BTreeMap::new(),
            run,
        }
    }
}

/// One contributor's replay (issue 25, item 1): the events its pattern matches, with their
/// contributor, counted per period as its Contributor Insights rule does, and its alarm on the
/// rule's measure.
struct ContributorReplay<'s> {
    contributor: &'s secmon_spec::Contributor,
    pattern: Pattern,
    counted: Vec<(i64, Vec<String>)>,
    matched: Vec<MatchedEvent>,
}

impl<'s> ContributorReplay<'s> {
    fn new(contributor: &'s secmon_spec::Contributor) -> Result<ContributorReplay<'s>, SimError> {
        let pattern =
            Pattern::parse(&contributor.pattern).map_err(|source| SimError::Pattern { monitor: contributor.name.clone(), source })?;
        Ok(ContributorReplay { contributor, pattern, counted: Vec::new(), matched: Vec::new() })
    }

    fn feed(&mut self, ev: &LogEvent, time: i64) {
        let Some(record) = &ev.json else { return };
        if !self.pattern.matches(&ev.as_event_for(&self.pattern)) {
            return;
        }
        let Some(who) = crate::contributors::contributor(record, &self.contributor.keys) else { return };
        let s = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
        self.matched.push(MatchedEvent {
            time: Some(time),
            event_source: s("eventSource"),
            event_name: s("eventName"),
            event_id: s("eventID"),
            value: 1.0,
            dimensions: self.contributor.keys.iter().cloned().zip(who.iter().cloned()).collect(),
            notification: None,
        });
        self.counted.push((time, who));
    }

    /// The alarm's run over what the rule publishes: one datapoint per period with a counted
    /// event, its measure's value.
    fn report(self, first_time: Option<i64>) -> MonitorReport {
        let c = self.contributor;
        let periods = crate::contributors::periods(&self.counted, i64::from(c.alarm.period.max(1)));
        let samples: Vec<Sample> = periods.iter().map(|p| Sample { time: p.start, value: p.value(c.measure) }).collect();
        // One datapoint per period, read as it is, under the measure's name.
        let alarm = secmon_spec::Alarm { statistic: c.measure.as_str().into(), ..c.alarm.clone() };
        let run = evaluate(&alarm, &samples, &c.notify, first_time, None);
        MonitorReport {
            monitor: c.name.clone(),
            alarm: c.alarm_name().to_string(),
            statistic: c.measure.as_str().to_string(),
            period: c.alarm.period,
            threshold: c.alarm.threshold,
            comparison: c.alarm.comparison.as_str().to_string(),
            matched: self.matched,
            keys: c.keys.clone(),
            top_contributors: periods.into_iter().map(|p| (p.start, p.top)).collect(),
            run,
        }
    }
}

/// Replays every event of `paths` (in order) through every monitor of `state`.
pub fn simulate(state: &DesiredState, paths: &[String]) -> Result<SimReport, SimError> {
    simulate_as(state, paths, events::Format::Auto)
}

/// [`simulate`], reading the files as `format`.
///
/// On the fast path (issue 27, item 2): an event that no monitor's prefilter admits cannot
/// match any of them, so it is read only for its time and the trail's selection fields, and
/// counts as a miss everywhere (each monitor's default value); only the others are parsed whole
/// and fed to the patterns. `tests/fast_path.rs` holds that the report is the one of a plain
/// replay, which parses every event.
pub fn simulate_as(state: &DesiredState, paths: &[String], format: events::Format) -> Result<SimReport, SimError> {
    replay(state, paths, format, true)
}

/// [`simulate_as`] without the fast path: every event parsed whole and given to every pattern.
/// The reference the fast path is tested against.
pub fn simulate_plain(state: &DesiredState, paths: &[String], format: events::Format) -> Result<SimReport, SimError> {
    replay(state, paths, format, false)
}

fn replay(state: &DesiredState, paths: &[String], format: events::Format, fast: bool) -> Result<SimReport, SimError> {
    let mut monitors = state
        .monitors
        .iter()
        .filter(|m| crate::heartbeat::replayable(m))
        .map(|m| Compiled::with_context(m, state))
        .collect::<Result<Vec<_>, _>>()?;
    let mut contributors = state.contributors.iter().map(ContributorReplay::new).collect::<Result<Vec<_>, _>>()?;
    let prefilters: Vec<Prefilter> =
        monitors.iter().map(|c| &c.pattern).chain(contributors.iter().map(|c| &c.pattern)).map(Prefilter::new).collect();
    let wanted = |raw: &events::Raw<'_>| !fast || prefilters.iter().any(|p| p.admits(raw.kind, raw.bytes, Need::Matches, raw.escapes));
    let mut total = 0u64;
    let mut dropped = 0u64;
    let mut last_time = 0i64;
    let mut first_time: Option<i64> = None;
    for path in paths {
        events::for_each_skimmed(path, format, &wanted, &mut |ev, whole| {
            total += 1;
            let time = ev.time.unwrap_or(last_time);
            last_time = time;
            first_time = Some(first_time.map_or(time, |f: i64| f.min(time)));
            if !trail_records(state, &ev) {
                dropped += 1;
                return;
            }
            for c in &mut monitors {
                if whole {
                    c.feed(&ev, time);
                } else {
                    c.miss(time);
                }
            }
            if whole {
                for c in &mut contributors {
                    c.feed(&ev, time);
                }
            }
        })?;
    }
    let mut reports: Vec<MonitorReport> = monitors.into_iter().map(|c| c.report(first_time)).collect();
    reports.extend(contributors.into_iter().map(|c| c.report(first_time)));
    Ok(SimReport { events: total, dropped_by_trail: dropped, monitors: reports })
}

/// One monitor's run over log events as CloudWatch Logs holds them, (timestamp in ms, message):
/// the events a backtest fetched from the log group. The event's own timestamp is its time, as
/// for a metric filter. Only events that reach the monitor are known, so its default value is
/// not replayed: periods without an event have no datapoint, and `treat_missing_data` decides
/// them. Returns the report, and the messages given that the pattern does not match.
pub fn replay_log_events(
    monitor: &secmon_spec::Monitor,
    from: i64,
    events: impl IntoIterator<Item = (i64, String)>,
) -> Result<(MonitorReport, Vec<String>), SimError> {
    let mut quiet = monitor.clone();
    quiet.metric.default = None;
    let mut c = Compiled::new(&quiet)?;
    let mut unmatched = Vec::new();
    for (ms, message) in events {
        let mut ev = LogEvent::from_line(&message);
        let time = ms.div_euclid(1000);
        ev.time = Some(time);
        if !c.feed(&ev, time) {
            unmatched.push(message);
        }
    }
    Ok((c.report(Some(from)), unmatched))
}

/// One contributor's run over log events as CloudWatch Logs holds them, (timestamp in ms,
/// message), as [`replay_log_events`] is a monitor's (issue 25, item 1): counted per
/// contributor and period as its rule counts, and its alarm on the measure. Returns the report,
/// and the messages given that the pattern does not match.
pub fn replay_contributor_log_events(
    contributor: &secmon_spec::Contributor,
    from: i64,
    events: impl IntoIterator<Item = (i64, String)>,
) -> Result<(MonitorReport, Vec<String>), SimError> {
    let mut c = ContributorReplay::new(contributor)?;
    let mut unmatched = Vec::new();
    for (ms, message) in events {
        let ev = LogEvent::from_line(&message);
        let before = c.counted.len();
        c.feed(&ev, ms.div_euclid(1000));
        if c.counted.len() == before {
            unmatched.push(message);
        }
    }
    Ok((c.report(Some(from)), unmatched))
}
