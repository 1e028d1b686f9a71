//! Lint: what the seeds' authors learned the hard way, said before deploying. Each finding names
//! the field and says what to change. Pattern syntax errors are errors; the rest are warnings.

use secmon_spec::{did_you_mean, Alarm, Comparison, Diagnostic, Metric, Monitor, ReadWrite, Severity, Spec};

use crate::catalog;
use crate::pattern::{Literal, Op, Pattern, Step, Test};

/// How bad an alarm problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impact {
    /// The alarm cannot fire (or not reliably).
    CannotFire,
    /// The alarm fires, but late.
    Late,
}

/// A problem of an alarm's settings with the metric it watches.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmProblem {
    /// The field of the monitor at fault, e.g. `alarm.statistic`.
    pub field: &'static str,
    /// How bad it is.
    pub impact: Impact,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: &'static str,
}

/// What the alarm rules read of an alarm: the view both the spec's alarm and a live alarm give
/// (issue 23, item 5), so that verify judges the live settings as they are, with no default of
/// its own filling what AWS did not say. A setting that is absent is not judged.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmView<'a> {
    /// The statistic, e.g. `Sum`.
    pub statistic: &'a str,
    /// The period, in seconds; None when unknown.
    pub period: Option<u32>,
    /// The threshold; None when unknown.
    pub threshold: Option<f64>,
    /// The comparison with the threshold.
    pub comparison: Comparison,
}

impl<'a> From<&'a Alarm> for AlarmView<'a> {
    fn from(a: &'a Alarm) -> AlarmView<'a> {
        AlarmView { statistic: &a.statistic, period: Some(a.period), threshold: Some(a.threshold), comparison: a.comparison }
    }
}

/// The seeds' failures, as rules on an alarm and its metric: used by lint on the spec and by
/// `verify` on the live alarm.
pub fn alarm_problems(a: &AlarmView<'_>, metric: &Metric) -> Vec<AlarmProblem> {
    let mut out = Vec::new();
    let constant = metric.value.parse::<f64>().ok();
    if constant.is_some() && (matches!(a.statistic, "Average" | "Minimum") || a.statistic.starts_with('p')) {
        out.push(AlarmProblem {
            field: "alarm.statistic",
            impact: Impact::CannotFire,
            message: format!(
                "`{}` of a count metric (value {}) stays below 1 unless every log event in the period matches: this alarm cannot fire reliably",
                a.statistic, metric.value
            ),
            hint: "use `statistic: Sum` to count matching events",
        });
    }
    // An alarm on the absence of events (the heartbeat's: `LessThanThreshold`) measures silence
    // over its period, which is long on purpose; only alarms on events fire late.
    let on_events = matches!(a.comparison, Comparison::GreaterThanOrEqualToThreshold | Comparison::GreaterThanThreshold);
    if let Some(period) = a.period.filter(|p| *p > 60 && on_events) {
        out.push(AlarmProblem {
            field: "alarm.period",
            impact: Impact::Late,
            message: format!("a {period}-second period makes this security alarm fire up to {} minutes after the event", period / 60),
            hint: "use `period: 60`",
        });
    }
    // Thresholds the statistic can never reach.
    if let (Some(v), Some(threshold)) = (constant, a.threshold) {
        let d = metric.default;
        let (lo, hi) = (d.map_or(v, |d| v.min(d)), d.map_or(v, |d| v.max(d)));
        let (lo, hi) = match a.statistic {
            "Sum" if v > 0.0 => (lo.min(0.0), f64::INFINITY),
            "Sum" => (f64::NEG_INFINITY, hi.max(0.0)),
            "SampleCount" => (0.0, f64::INFINITY),
            _ => (lo, hi),
        };
        let unreachable = match a.comparison {
            Comparison::GreaterThanOrEqualToThreshold => threshold > hi,
            Comparison::GreaterThanThreshold => threshold >= hi,
            Comparison::LessThanThreshold => threshold <= lo,
            Comparison::LessThanOrEqualToThreshold => threshold < lo,
        };
        if unreachable {
            out.push(AlarmProblem {
                field: "alarm.threshold",
                impact: Impact::CannotFire,
                message: format!("`{}` of this metric ranges over [{lo}, {hi}]: threshold {} can never be crossed", a.statistic, threshold),
                hint: "lower the threshold (1 with Sum counts a single event)",
            });
        }
    }
    out
}

/// How many times this process has linted a spec: `--stats` shows it (issue 23, item 1).
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many times [`lint`] ran in this process.
pub fn runs() -> usize {
    RUNS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Every finding for the spec's monitors.
pub fn lint(spec: &Spec) -> Vec<Diagnostic> {
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut out = Vec::new();
    for (i, m) in spec.state.monitors.iter().enumerate() {
        lint_monitor(spec, i, m, &mut out);
    }
    regex_quota(spec, &mut out);
    out
}

/// Runs each monitor's `tests` (issue 25, item 5): its pattern over each events file, by the
/// fast counting path (`events::Counter`), against what the test expects. A test that fails,
/// or whose file cannot be read, is an error at the test's entry: detection as code, checked
/// where the spec is checked (`secmon validate`, the pull request's job). The files are named
/// relative to the spec file. The only lint that reads files besides the spec.
pub fn monitor_tests(spec: &Spec) -> Vec<Diagnostic> {
    use secmon_spec::Expect;
    let base = std::path::Path::new(&spec.file).parent().unwrap_or(std::path::Path::new("."));
    let mut out = Vec::new();
    for (i, m) in spec.state.monitors.iter().enumerate() {
        // A pattern that does not parse is said by lint already.
        let Ok(pattern) = Pattern::parse(&m.pattern) else { continue };
        let counter = crate::events::Counter::new(&pattern);
        for (j, t) in m.tests.iter().enumerate() {
            let field = format!("monitors[{i}].tests[{j}]");
            let file = base.join(&t.events);
            let explain = format!(
                "`secmon test-pattern -f {} --monitor {} --events {}` explains each event",
                secmon_spec::shell_word(&spec.file),
                secmon_spec::shell_word(&m.name),
                secmon_spec::shell_word(&file.display().to_string())
            );
            let fail = |message: String, hint: String| spec.diagnostic(Severity::Error, &field, message, Some(hint));
            match (counter.count(&file.display().to_string(), crate::events::Format::Auto), t.expect) {
                (Err(e), _) => {
                    out.push(fail(format!("test events {}: {e}", t.events), "name an events file relative to the spec file".into()))
                }
                (Ok((0, _)), _) => {
                    out.push(fail(format!("test events {} hold no event", t.events), "a test needs at least one event".into()))
                }
                (Ok((n, 0)), Expect::Match) => {
                    out.push(fail(format!("expected a match in {}, and none of its {n} event(s) matches the pattern", t.events), explain))
                }
                (Ok((n, hits)), Expect::NoMatch) if hits > 0 => {
                    out.push(fail(format!("expected no match in {}, and {hits} of its {n} event(s) match the pattern", t.events), explain))
                }
                _ => {}
            }
        }
    }
    out
}

/// Issue 22, finding 11: CloudWatch Logs allows five filters with a regular expression per log
/// group; the sixth PutMetricFilter fails mid-apply (`LimitExceededException`).
fn regex_quota(spec: &Spec, out: &mut Vec<Diagnostic>) {
    use crate::pattern::MAX_REGEX_FILTERS_PER_LOG_GROUP;
    let with_regex: Vec<&str> =
        spec.state.monitors.iter().filter(|m| Pattern::parse(&m.pattern).is_ok_and(|p| p.uses_regex())).map(|m| m.name.as_str()).collect();
    if with_regex.len() > MAX_REGEX_FILTERS_PER_LOG_GROUP {
        out.push(spec.diagnostic(
            Severity::Error,
            "monitors",
            format!(
                "{} monitors use a regular expression ({}); CloudWatch Logs allows at most {MAX_REGEX_FILTERS_PER_LOG_GROUP} such metric filters per log group",
                with_regex.len(),
                with_regex.join(", ")
            ),
            Some("match with literals or wildcards (`*`) instead of `%regex%` where you can".into()),
        ));
    }
}

fn warn(spec: &Spec, out: &mut Vec<Diagnostic>, field: String, message: String, hint: &str) {
    out.push(spec.diagnostic(Severity::Warning, &field, message, Some(hint.to_string())));
}

pub(crate) fn is_read_api(name: &str) -> bool {
    ["Get", "List", "Describe", "BatchGet", "Lookup", "Head"].iter().any(|p| name.starts_with(p))
}

/// Where a monitor's findings are filed: `monitors[i]` for one the spec writes, the rule of its
/// pack (`packs[N].rules.ID`) for one a pack expands to.
fn monitor_path(spec: &Spec, i: usize, m: &Monitor) -> String {
    m.rule
        .as_ref()
        .and_then(|id| spec.locations.keys().find(|k| k.starts_with("packs[") && k.ends_with(&format!(".rules.{id}"))))
        .cloned()
        .unwrap_or_else(|| format!("monitors[{i}]"))
}

/// What a monitor rule reads: the spec, the monitor and its parsed pattern.
struct MonitorCtx<'a> {
    spec: &'a Spec,
    monitor: &'a Monitor,
    pattern: &'a Pattern,
}

/// One lint finding on a monitor: the field under the monitor, what is wrong, what to do.
struct Finding {
    field: &'static str,
    message: String,
    hint: String,
}

impl Finding {
    fn new(field: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Finding {
        Finding { field, message: message.into(), hint: hint.into() }
    }
}

/// The rules on a monitor whose pattern parses, in the order their findings are reported (issue
/// 23, item 5: a table, each rule a function of one concern).
const MONITOR_RULES: &[fn(&MonitorCtx) -> Vec<Finding>] = &[
    alarm_settings,
    alarm_dimensions,
    contradiction,
    ignored_terms,
    delimited_on_json,
    unknown_record_fields,
    event_sources,
    event_names,
    silent_topics,
];

fn lint_monitor(spec: &Spec, i: usize, m: &Monitor, out: &mut Vec<Diagnostic>) {
    let base = monitor_path(spec, i, m);
    let pattern = match Pattern::parse(&m.pattern) {
        Ok(p) => p,
        Err(e) => {
            out.push(spec.diagnostic(
                Severity::Error,
                &format!("{base}.pattern"),
                format!("filter pattern syntax error at column {} of the pattern: {}", e.column, e.message),
                Some("see docs/patterns.md for the filter pattern syntax".into()),
            ));
            return;
        }
    };
    let ctx = MonitorCtx { spec, monitor: m, pattern: &pattern };
    for rule in MONITOR_RULES {
        for f in rule(&ctx) {
            warn(spec, out, format!("{base}.{}", f.field), f.message, &f.hint);
        }
    }
}

/// The seeds' failures of an alarm with its metric ([`alarm_problems`]).
fn alarm_settings(c: &MonitorCtx) -> Vec<Finding> {
    alarm_problems(&(&c.monitor.alarm).into(), &c.monitor.metric).into_iter().map(|p| Finding::new(p.field, p.message, p.hint)).collect()
}

/// A metric published with dimensions reaches only an alarm that names all of them.
fn alarm_dimensions(c: &MonitorCtx) -> Vec<Finding> {
    let m = c.monitor;
    let names: Vec<&String> = m.metric.dimensions.keys().collect();
    let watched: Vec<&String> = m.alarm.dimensions.keys().collect();
    if names.is_empty() || names == watched {
        return Vec::new();
    }
    vec![Finding::new(
        "alarm.dimensions",
        format!(
            "the metric is published only with dimensions {names:?}, and the alarm watches {}: it can never receive data",
            if watched.is_empty() { "the metric without dimensions".to_string() } else { format!("dimensions {watched:?}") }
        ),
        "set alarm.dimensions to the values to watch for every metric dimension, or remove metric.dimensions",
    )]
}

/// A pattern whose own conditions cannot all hold matches nothing.
fn contradiction(c: &MonitorCtx) -> Vec<Finding> {
    let base = serde_json::json!({"eventVersion": "1.11", "userIdentity": {"type": "IAMUser"}, "eventSource": "", "eventName": "", "eventType": "AwsApiCall"});
    let Some(example) = c.pattern.example_event(&base) else { return Vec::new() };
    let text = example.to_string();
    if c.pattern.matches(&crate::Event { message: &text, json: Some(&example) }) {
        return Vec::new();
    }
    vec![Finding::new(
        "pattern",
        "no event can satisfy every condition of this pattern (they contradict each other): it never matches",
        "check `&&` versus `||`; `secmon test-pattern` shows which condition fails",
    )]
}

fn ignored_terms(c: &MonitorCtx) -> Vec<Finding> {
    match c.pattern {
        Pattern::Terms(t) if t.any_ignored() => vec![Finding::new(
            "pattern",
            "CloudWatch Logs ignores `?` terms when the pattern also has plain or `-` terms: the `?` terms here have no effect",
            "use only `?` terms for \"any of\", or write a JSON pattern with `||`",
        )],
        _ => Vec::new(),
    }
}

fn delimited_on_json(c: &MonitorCtx) -> Vec<Finding> {
    match c.pattern {
        Pattern::Delimited(_) => vec![Finding::new(
            "pattern",
            "CloudTrail delivers JSON records; a space-delimited pattern splits their JSON text on spaces and will not match as intended",
            "use a JSON pattern like `{ $.eventName = \"GetSecretValue\" }`",
        )],
        _ => Vec::new(),
    }
}

/// A selector into a field CloudTrail records do not have is never true.
fn unknown_record_fields(c: &MonitorCtx) -> Vec<Finding> {
    if !matches!(c.pattern, Pattern::Json(_)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for cmp in c.pattern.comparisons() {
        if let Some(Step::Key(k)) = cmp.selector.first() {
            if !catalog::RECORD_FIELDS.contains(&k.as_str()) {
                let hint = did_you_mean(k, catalog::RECORD_FIELDS)
                    .map(|s| format!("did you mean `$.{s}`?"))
                    .unwrap_or_else(|| "check the CloudTrail record contents reference".into());
                out.push(Finding::new(
                    "pattern",
                    format!("`{}`: CloudTrail records have no field `{k}`, so this comparison is never true", cmp.text),
                    hint,
                ));
            }
        }
    }
    out
}

/// The exact event sources and event names a JSON pattern compares with (no wildcard).
pub(crate) fn named_events(p: &Pattern) -> (Vec<String>, Vec<String>) {
    let (mut sources, mut names) = (Vec::new(), Vec::new());
    if !matches!(p, Pattern::Json(_)) {
        return (sources, names);
    }
    for c in p.comparisons() {
        let Test::Compare(Op::Eq, Literal::Text { text, .. }) = &c.test else { continue };
        if text.contains('*') {
            continue;
        }
        match c.selector.as_slice() {
            [Step::Key(k)] if k == "eventSource" => sources.push(text.clone()),
            [Step::Key(k)] if k == "eventName" => names.push(text.clone()),
            _ => {}
        }
    }
    (sources, names)
}

/// Each event source named: an AWS endpoint name, and recorded by the trail.
fn event_sources(c: &MonitorCtx) -> Vec<Finding> {
    let (sources, _) = named_events(c.pattern);
    let mut out = Vec::new();
    for s in &sources {
        if !s.ends_with(".amazonaws.com") {
            out.push(Finding::new(
                "pattern",
                format!("event source {s:?} is not an AWS service endpoint name"),
                "event sources look like `secretsmanager.amazonaws.com`",
            ));
        }
        if c.spec.state.trail.as_ref().is_some_and(|t| t.management_events.exclude_sources.iter().any(|x| x == s)) {
            out.push(Finding::new(
                "pattern",
                format!("this monitor watches {s}, but the trail excludes it (trail.management_events.exclude_sources): it can never fire"),
                match &c.monitor.rule {
                    Some(id) => {
                        format!("remove {s} from trail.management_events.exclude_sources, or add {id} to the pack's `disable` list")
                    }
                    None => format!("remove {s} from trail.management_events.exclude_sources, or drop this monitor"),
                },
            ));
        }
    }
    out
}

/// Each event name named: spelled like an API of its source, a management event, and of the
/// kind (read or write) the trail records.
fn event_names(c: &MonitorCtx) -> Vec<Finding> {
    let (sources, names) = named_events(c.pattern);
    let mut out = Vec::new();
    for n in &names {
        // A pattern may name several sources, each with its own events (`(source A && names
        // of A) || (source B && names of B)`): a name is misspelled when no named source whose
        // events are catalogued has it.
        let known: Vec<(&String, &[&str])> = sources.iter().filter_map(|s| catalog::events_of(s).map(|k| (s, k))).collect();
        if !known.is_empty() && !known.iter().any(|(_, k)| k.contains(&n.as_str())) {
            let all: Vec<&str> = known.iter().flat_map(|(_, k)| k.iter().copied()).collect();
            let named: Vec<&str> = known.iter().map(|(s, _)| s.as_str()).collect();
            let hint = did_you_mean(n, &all)
                .map(|k| format!("did you mean `{k}`?"))
                .unwrap_or_else(|| format!("no {} API is called {n:?}", named.join(" or ")));
            out.push(Finding::new("pattern", format!("event name {n:?} is spelled unlike any {} API event", named.join(" or ")), hint));
        }
        if catalog::S3_DATA_EVENTS.contains(&n.as_str()) {
            out.push(Finding::new(
                "pattern",
                format!("{n} is an S3 object-level API: CloudTrail records it only as a data event, and this trail records management events only"),
                "add an S3 data event selector to the trail (not managed by secmon yet), or watch a management API",
            ));
        }
        if let Some(t) = &c.spec.state.trail {
            let rw = t.management_events.read_write;
            if rw == ReadWrite::WriteOnly && is_read_api(n) {
                out.push(Finding::new(
                    "pattern",
                    format!("{n} is a read-only event and the trail records WriteOnly events: it can never fire"),
                    "set trail.management_events.read_write: All",
                ));
            }
            if rw == ReadWrite::ReadOnly && !is_read_api(n) {
                out.push(Finding::new(
                    "pattern",
                    format!("{n} is a write event and the trail records ReadOnly events: it can never fire"),
                    "set trail.management_events.read_write: All",
                ));
            }
        }
    }
    out
}

/// A topic the spec subscribes nobody to (no e-mail, webhook, queue, function or chat channel)
/// notifies nobody.
fn silent_topics(c: &MonitorCtx) -> Vec<Finding> {
    let topics = &c.spec.state.topics;
    let silent = |x: &secmon_spec::Topic| {
        x.email.is_empty() && x.https.is_empty() && x.sqs.is_empty() && x.lambda.is_empty() && x.slack.is_empty() && x.teams.is_empty()
    };
    c.monitor
        .notify
        .iter()
        .filter(|t| topics.iter().any(|x| &x.name == *t && silent(x)))
        .map(|t| {
            Finding::new(
                "notify",
                format!("topic {t:?} has no subscribers: nobody will hear this alarm"),
                "add `email:` addresses (each must confirm its subscription), `https:` webhooks, `sqs:` queues, `lambda:` functions or `slack:`/`teams:` channels to the topic",
            )
        })
        .collect()
}
