//! Metric emission as a metric filter does it, and the CloudWatch alarm evaluator.
//!
//! Emission: every log event published to the log group yields one value: the metric value when
//! the filter matches, the default value (when set) when it does not (as CloudWatch Logs'
//! documentation describes: two non-matching records in a minute with default 0 publish 0 twice).
//! This is why `Average` of a count metric never reaches 1 unless every event in the period matches.
//!
//! Evaluation: datapoints per period (aligned to the epoch, as CloudWatch aligns them), the
//! statistic over the values of each period, the last `evaluation_periods` datapoints judged
//! against the threshold, `datapoints_to_alarm` of them needed to alarm, missing datapoints
//! treated per `treat_missing_data`. State changes are reported with their reason, and a change to
//! ALARM sends a notification to the alarm's topics.

use serde::Serialize;

use secmon_spec::{Alarm, Comparison, TreatMissingData};

/// One published value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, in epoch seconds.
    pub time: i64,
    /// The value published.
    pub value: f64,
}

/// An alarm's state, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Not enough data to decide.
    InsufficientData,
    /// Within the threshold.
    Ok,
    /// Beyond the threshold: the alarm's actions run.
    Alarm,
}

impl State {
    /// CloudWatch's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::InsufficientData => "INSUFFICIENT_DATA",
            State::Ok => "OK",
            State::Alarm => "ALARM",
        }
    }
}

/// One evaluated period of the alarm's metric.
#[derive(Debug, Clone, Serialize)]
pub struct Datapoint {
    /// Start of the period, epoch seconds.
    pub period_start: i64,
    /// The statistic over the period's values; None when nothing was published.
    pub value: Option<f64>,
    /// How many values were published in the period.
    pub samples: usize,
    /// Whether the period breaches the threshold; None when missing data is not judged.
    pub breaching: Option<bool>,
}

/// A change of the alarm's state.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// End of the period whose evaluation changed the state.
    pub time: i64,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why, in CloudWatch's words.
    pub reason: String,
}

/// A message the alarm's actions would send.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// When, in epoch seconds.
    pub time: i64,
    /// The topics notified.
    pub topics: Vec<String>,
    /// The state entered.
    pub state: State,
    /// The matched events in the evaluated periods: what the alarm fired on (filled by simulate).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// An alarm evaluated over a series of samples.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmRun {
    /// Every period evaluated.
    pub datapoints: Vec<Datapoint>,
    /// Every change of state.
    pub transitions: Vec<Transition>,
    /// Every message its actions would send.
    pub notifications: Vec<Notification>,
    /// Whether it entered ALARM at least once.
    pub fired: bool,
}

/// What a metric filter with `pattern` publishes for each log event `(epoch seconds, message)`:
/// `value` when the pattern matches, else `default` when there is one. For replaying the events
/// of a log group through the filters it holds, where nothing computes metrics (the emulator).
pub fn emitted(pattern: &crate::Pattern, value: f64, default: Option<f64>, events: &[(i64, String)]) -> Vec<Sample> {
    events
        .iter()
        .filter_map(|(time, message)| {
            let json: Option<serde_json::Value> = serde_json::from_str(message).ok();
            let hit = pattern.matches(&crate::Event { message, json: json.as_ref() });
            let value = if hit { Some(value) } else { default };
            value.map(|value| Sample { time: *time, value })
        })
        .collect()
}

/// The alarm's state at `at`: the state its last change at or before `at` entered.
pub fn state_at(run: &AlarmRun, at: i64) -> State {
    run.transitions.iter().rfind(|t| t.time <= at).map(|t| t.to).unwrap_or(State::InsufficientData)
}

/// The statistic over a period's values (`Sum`, `SampleCount`, `Average`, `Minimum`, `Maximum`,
/// `pNN`). None when there are no values.
pub fn statistic(name: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    Some(match name {
        "Sum" => sum,
        "SampleCount" => values.len() as f64,
        "Average" => sum / values.len() as f64,
        "Minimum" => values.iter().copied().fold(f64::INFINITY, f64::min),
        // A Contributor Insights rule's measures (issue 25, item 1): one value per period.
        "Maximum" | "MaxContributorValue" | "UniqueContributors" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        p if p.starts_with('p') => {
            let q: f64 = p[1..].parse().ok()?;
            let mut v = values.to_vec();
            v.sort_by(f64::total_cmp);
            // Nearest rank.
            let rank = ((q / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            v[rank.min(v.len()) - 1]
        }
        _ => return None,
    })
}

/// Whether `value` is beyond `threshold` by `cmp`.
pub fn breaches(cmp: Comparison, value: f64, threshold: f64) -> bool {
    match cmp {
        Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
        Comparison::GreaterThanThreshold => value > threshold,
        Comparison::LessThanThreshold => value < threshold,
        Comparison::LessThanOrEqualToThreshold => value <= threshold,
    }
}

fn symbol(cmp: Comparison) -> &'static str {
    match cmp {
        Comparison::GreaterThanOrEqualToThreshold => ">=",
        Comparison::GreaterThanThreshold => ">",
        Comparison::LessThanThreshold => "<",
        Comparison::LessThanOrEqualToThreshold => "<=",
    }
}

/// Runs the alarm over the samples, from the period of the first sample (or `start`) to
/// `evaluation_periods` periods after the last one, so that a quiet tail can return it to OK.
pub fn evaluate(alarm: &Alarm, samples: &[Sample], topics: &[String], start: Option<i64>, end: Option<i64>) -> AlarmRun {
    let period = i64::from(alarm.period.max(1));
    let m = alarm.evaluation_periods.max(1) as usize;
    let n = alarm.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods).max(1) as usize;
    let first = start.or_else(|| samples.iter().map(|s| s.time).min());
    let last = end.or_else(|| samples.iter().map(|s| s.time).max());
    let (Some(first), Some(last)) = (first, last) else {
        return AlarmRun { datapoints: vec![], transitions: vec![], notifications: vec![], fired: false };
    };
    let p0 = first.div_euclid(period) * period;
    let periods = ((last.div_euclid(period) * period - p0) / period) as usize + 1 + m;
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); periods];
    for s in samples {
        let i = ((s.time.div_euclid(period) * period - p0) / period) as usize;
        if let Some(b) = buckets.get_mut(i) {
            b.push(s.value);
        }
    }
    let mut datapoints: Vec<Datapoint> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let value = statistic(&alarm.statistic, b);
            Datapoint {
                period_start: p0 + i as i64 * period,
                value,
                samples: b.len(),
                breaching: value.map(|v| breaches(alarm.comparison, v, alarm.threshold)),
            }
        })
        .collect();
    let mut state = State::InsufficientData;
    let mut transitions = Vec::new();
    let mut notifications = Vec::new();
    for i in 0..datapoints.len() {
        let window = &datapoints[i.saturating_sub(m - 1)..=i];
        let present: Vec<&Datapoint> = window.iter().filter(|d| d.value.is_some()).collect();
        let missing = window.len() - present.len();
        let mut breaching = present.iter().filter(|d| d.breaching == Some(true)).count();
        let mut counted = present.len();
        match alarm.treat_missing_data {
            TreatMissingData::Breaching => {
                breaching += missing;
                counted += missing;
            }
            TreatMissingData::NotBreaching => counted += missing,
            TreatMissingData::Ignore | TreatMissingData::Missing => {}
        }
        let next = if breaching >= n {
            State::Alarm
        } else if counted == 0 {
            match alarm.treat_missing_data {
                TreatMissingData::Ignore => state,
                _ => State::InsufficientData,
            }
        } else {
            State::Ok
        };
        if next != state {
            let end_of_period = datapoints[i].period_start + period;
            let shown: Vec<String> = window.iter().map(|d| d.value.map(|v| format!("{v}")).unwrap_or_else(|| "missing".into())).collect();
            let reason = format!(
                "{breaching} out of the last {} datapoints [{}] {} {} {} {} (minimum {n} datapoint(s) for ALARM; treat_missing_data = {})",
                window.len(),
                shown.join(", "),
                if next == State::Alarm { "crossed the threshold:" } else { "did not cross the threshold:" },
                alarm.statistic,
                symbol(alarm.comparison),
                alarm.threshold,
                alarm.treat_missing_data.as_str()
            );
            transitions.push(Transition { time: end_of_period, from: state, to: next, reason });
            if next == State::Alarm && !topics.is_empty() {
                notifications.push(Notification { time: end_of_period, topics: topics.to_vec(), state: next, events: Vec::new() });
            }
            state = next;
        }
    }
    // Trailing periods only exist to let the alarm settle; keep them but without fake data.
    datapoints.truncate(periods);
    let fired = transitions.iter().any(|t| t.to == State::Alarm);
    AlarmRun { datapoints, transitions, notifications, fired }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(stat: &str, period: u32) -> Alarm {
        Alarm { statistic: stat.into(), period, ..Alarm::default() }
    }

    #[test]
    fn statistics() {
        let v = [1.0, 0.0, 0.0, 3.0];
        assert_eq!(statistic("Sum", &v), Some(4.0));
        assert_eq!(statistic("SampleCount", &v), Some(4.0));
        assert_eq!(statistic("Average", &v), Some(1.0));
        assert_eq!(statistic("Minimum", &v), Some(0.0));
        assert_eq!(statistic("Maximum", &v), Some(3.0));
        assert_eq!(statistic("p50", &v), Some(0.0));
        assert_eq!(statistic("p100", &v), Some(3.0));
        assert_eq!(statistic("Sum", &[]), None);
    }

    #[test]
    fn one_access_among_quiet_events_fires_sum_not_average() {
        // One matching event and nine others in the same 5 minutes, default value 0.
        let mut samples = vec![Sample { time: 1000, value: 1.0 }];
        samples.extend((0..9).map(|i| Sample { time: 1000 + i * 10, value: 0.0 }));
        let sum = evaluate(&alarm("Sum", 60), &samples, &["T".into()], None, None);
        assert!(sum.fired);
        assert_eq!(sum.notifications.len(), 1);
        let avg = evaluate(&alarm("Average", 300), &samples, &["T".into()], None, None);
        assert!(!avg.fired, "{:?}", avg.transitions);
        assert!(avg.transitions.iter().any(|t| t.reason.contains("Average >= 1")), "{:?}", avg.transitions);
    }

    #[test]
    fn datapoints_to_alarm_m_of_n() {
        let a = Alarm { evaluation_periods: 3, datapoints_to_alarm: Some(2), ..alarm("Sum", 60) };
        let one = [Sample { time: 0, value: 1.0 }];
        assert!(!evaluate(&a, &one, &[], None, None).fired);
        let two = [Sample { time: 0, value: 1.0 }, Sample { time: 120, value: 1.0 }];
        assert!(evaluate(&a, &two, &[], None, None).fired);
    }

    #[test]
    fn treat_missing_data_breaching_fires_on_silence() {
        let a = Alarm { comparison: Comparison::LessThanThreshold, treat_missing_data: TreatMissingData::Breaching, ..alarm("Sum", 60) };
        let run = evaluate(&a, &[], &[], Some(0), Some(300));
        assert!(run.fired);
        let a = Alarm { treat_missing_data: TreatMissingData::Missing, ..a };
        let run = evaluate(&a, &[], &[], Some(0), Some(300));
        assert!(!run.fired);
        assert!(run.transitions.is_empty(), "stays INSUFFICIENT_DATA");
    }
}
