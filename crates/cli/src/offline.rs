//! The offline commands: `test-pattern` (grep-like: which events a pattern matches, and why near
//! misses do not) and `simulate` (events through every monitor, alarm by alarm). No AWS calls.

use std::path::PathBuf;

use secmon_sim::events::{self, format_time};
use secmon_sim::prefilter::{Need, Prefilter};
use secmon_sim::simulate::{simulate_as, MonitorReport};
use secmon_sim::Pattern;
use serde_json::{json, Value};

use crate::output::Style;
use crate::{Format, Outcome};

fn fail(message: String, style: Style) -> Outcome {
    eprintln!("{} {message}", style.red("Error:"));
    Outcome::PatternError
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

fn describe(ev: &events::LogEvent) -> String {
    match &ev.json {
        Some(j) if j.get("eventName").is_some() => {
            let s = |k: &str| j.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
            format!("{} {} {}", s("eventTime"), s("eventSource"), s("eventName"))
        }
        _ => short(ev.message(), 100),
    }
}

/// Exit status like grep: 0 when an event matched, 1 when none did, 2 on error.
/// Near misses `test-pattern` explains without `--all`: the first ones show why a pattern misses;
/// thousands would bury the matches (issue 26, finding 30).
const NEAR_MISSES: usize = 20;

pub fn test_pattern(
    pattern: Option<String>,
    spec: Option<PathBuf>,
    monitor: Option<String>,
    (files, format): (Vec<String>, events::Format),
    output: Format,
    (all, count): (bool, bool),
    style: Style,
) -> Outcome {
    let files = match events::expand_paths(&files) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string(), style),
    };
    let text = match (pattern, spec, monitor) {
        (Some(p), None, None) => p,
        (None, Some(f), Some(m)) => match secmon_sim::heartbeat::load_spec(&f) {
            Ok(s) => match s.state.monitors.iter().find(|x| x.name == m) {
                Some(x) => x.pattern.clone(),
                None => {
                    let names: Vec<&str> = s.state.monitors.iter().map(|x| x.name.as_str()).collect();
                    return fail(format!("{}: no monitor named {m:?} (monitors: {})", f.display(), names.join(", ")), style);
                }
            },
            Err(e) => return fail(e.to_string(), style),
        },
        _ => return fail("give either --pattern, or -f SPEC with --monitor NAME".into(), style),
    };
    // CloudWatch Logs refuses longer patterns; so does secmon, before parsing anything.
    if text.chars().count() > 1024 {
        return fail(format!("the filter pattern is {} characters long; CloudWatch Logs allows 1024", text.chars().count()), style);
    }
    let pattern = match Pattern::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            return fail(format!("filter pattern syntax error at {e}\n  {text}\n  {}^", " ".repeat(e.column.saturating_sub(1))), style)
        }
    };
    let mut matches = Vec::new();
    let mut near = Vec::new();
    let mut total = 0u64;
    let mut matched = 0u64;
    // Records that cannot match (nor, unless counting, share a value with the pattern) are
    // skipped unparsed; `--all` explains every event, so it reads them all.
    let prefilter = Prefilter::new(&pattern);
    let counter = events::Counter::new(&pattern);
    for f in &files {
        if count {
            match counter.count(f, format) {
                Ok((n, m)) => (total, matched) = (total + n, matched + m),
                Err(e) => return fail(e.to_string(), style),
            }
            continue;
        }
        let mut take = |i: u64, ev: events::LogEvent, near: &mut Vec<serde_json::Value>| {
            let index = total + i;
            match pattern.explain(&ev.as_event()) {
                None => matches.push(json!({"index": index, "event": describe(&ev), "message": short(ev.message(), 300)})),
                Some(ex) if all || ex.is_near_miss() => {
                    near.push(json!({"index": index, "event": describe(&ev), "failed": ex.failed, "passed": ex.passed}))
                }
                Some(_) => {}
            }
        };
        let r = if all {
            events::for_each_candidate(f, format, &prefilter, Need::Everything, &mut |i, ev| take(i, ev, &mut near))
        } else {
            // Matches are found by the counting path and only they are parsed whole; near misses
            // are explained up to NEAR_MISSES (issue 27, item 2; issue 26, finding 30).
            let wanted = std::cell::Cell::new(near.len() < NEAR_MISSES);
            counter.list(f, format, &|| wanted.get(), &mut |i, _, ev| {
                take(i, ev, &mut near);
                wanted.set(near.len() < NEAR_MISSES);
            })
        };
        match r {
            Ok(n) => total += n,
            Err(e) => return fail(e.to_string(), style),
        }
    }
    if count {
        match output {
            Format::Json => println!("{}", json!({"pattern": text, "events": total, "matched": matched})),
            Format::Text => println!("{matched}"),
        }
        return if matched == 0 { Outcome::NoMatch } else { Outcome::Done };
    }
    match output {
        Format::Json => {
            let complete = all || near.len() < NEAR_MISSES;
            let out = json!({"pattern": text, "events": total, "matched": matches.len(), "matches": matches, "near_misses": near, "near_misses_complete": complete});
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        Format::Text => {
            for m in &matches {
                println!("{} #{:<5} {}", style.green("match"), m["index"], m["event"].as_str().unwrap_or(""));
            }
            for n in &near {
                println!("{} #{:<5} {}", style.yellow("miss "), n["index"], n["event"].as_str().unwrap_or(""));
                for f in n["failed"].as_array().into_iter().flatten() {
                    println!("         {} {}", style.red("✗"), f.as_str().unwrap_or(""));
                }
            }
            if !all && near.len() >= NEAR_MISSES {
                println!("(the first {NEAR_MISSES} near misses; --all explains every event)");
            }
            println!("{} of {total} events matched {}", matches.len(), style.bold(&text));
        }
    }
    if matches.is_empty() {
        Outcome::NoMatch
    } else {
        Outcome::Done
    }
}

pub fn render_monitor(m: &MonitorReport, style: Style) {
    let verdict =
        if m.run.fired { style.red(&format!("FIRES ({} notification(s))", m.run.notifications.len())) } else { style.green("never fires") };
    let op = match m.comparison.as_str() {
        "GreaterThanOrEqualToThreshold" => ">=",
        "GreaterThanThreshold" => ">",
        "LessThanThreshold" => "<",
        _ => "<=",
    };
    println!("{} {:?}: {} over {} s {op} {} — {verdict}", style.bold("alarm"), m.alarm, m.statistic, m.period, m.threshold);
    if m.keys.is_empty() {
        println!("  {} event(s) matched the filter of monitor {:?}", m.matched.len(), m.monitor);
    } else {
        let keys = m.keys.join(", ");
        println!("  {} event(s) counted per {keys} by Contributor Insights rule {:?}", m.matched.len(), m.monitor);
    }
    for d in m.run.datapoints.iter().filter(|d| d.samples > 0) {
        let mark = if d.breaching == Some(true) { style.red("breaching") } else { "ok".to_string() };
        let value = d.value.unwrap_or(0.0);
        match m.top_contributors.get(&d.period_start).filter(|_| m.statistic == "MaxContributorValue") {
            // A rule publishes one value per period; who made the most of it is what a
            // responder asks first.
            Some(top) => println!(
                "  datapoint {}  {} = {value}, top contributor {}  {mark}",
                format_time(d.period_start),
                m.statistic,
                top.join(" / ")
            ),
            None => println!("  datapoint {}  {} = {value} from {} value(s)  {mark}", format_time(d.period_start), m.statistic, d.samples),
        }
    }
    for t in &m.run.transitions {
        println!("  {}  {} -> {}: {}", format_time(t.time), t.from.as_str(), t.to.as_str(), t.reason);
    }
    for n in &m.run.notifications {
        println!("  {}  {} notification to {}", format_time(n.time), style.yellow("→"), n.topics.join(", "));
        for e in &n.events {
            println!("      fired on {e}");
        }
    }
    // The alert context of each event, exactly as the topics receive it (issue 24, item 1).
    for e in &m.matched {
        if let Some(text) = &e.notification {
            println!("  {} alert context of event {}:", style.yellow("→"), e.event_id.as_deref().unwrap_or("-"));
            for line in text.lines() {
                println!("      {line}");
            }
        }
    }
    println!();
}

pub fn simulate_cmd(file: PathBuf, (files, format): (Vec<String>, events::Format), output: Format, style: Style) -> Outcome {
    let spec = match secmon_sim::heartbeat::load_spec(&file) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string(), style),
    };
    let files = match events::expand_paths(&files) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string(), style),
    };
    let report = match simulate_as(&spec.state, &files, format) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string(), style),
    };
    match output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report).expect("json")),
        Format::Text => {
            println!("{} event(s) read, {} not recorded by the trail\n", report.events, report.dropped_by_trail);
            for m in &report.monitors {
                render_monitor(m, style);
            }
        }
    }
    Outcome::Done
}

/// `secmon coverage`: what the spec's monitors can see (issue 25, item 5).
pub fn coverage_cmd(file: PathBuf, techniques: &[String], navigator: Option<PathBuf>, output: Format, style: Style) -> Outcome {
    let spec = match secmon_sim::heartbeat::load_spec(&file) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string(), style),
    };
    let files = match events::expand_paths(techniques) {
        Ok(f) => f,
        Err(e) => return fail(e.to_string(), style),
    };
    let c = match secmon_sim::coverage::coverage(&spec.state, &files) {
        Ok(c) => c,
        Err(e) => return fail(e.to_string(), style),
    };
    if let Some(path) = &navigator {
        let layer = secmon_sim::coverage::navigator_layer(&spec.state.name, &c);
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&layer).expect("json")) {
            return fail(format!("{}: {e}", path.display()), style);
        }
    }
    match output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&c).expect("json")),
        Format::Text => print_coverage(&c, style),
    }
    if let Some(path) = &navigator {
        eprintln!("ATT&CK Navigator layer written to {}", path.display());
    }
    Outcome::Done
}

fn print_coverage(c: &secmon_sim::coverage::Coverage, style: Style) {
    let catalogued = c.events.len();
    let watched: Vec<_> = c.watched().collect();
    println!("{} {} of {catalogued} catalogued CloudTrail event names are watched and recorded", style.bold("Events:"), watched.len());
    let mut by_source: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for e in &watched {
        by_source.entry(e.source.as_str()).or_default().push(e.name.as_str());
    }
    for (source, names) in by_source {
        println!("  {source}: {}", names.join(", "));
    }
    let lost: Vec<_> = c.events.iter().filter(|e| !e.monitors.is_empty() && e.not_recorded.is_some()).collect();
    if !lost.is_empty() {
        println!("{} named by a monitor, not recorded by the trail:", style.yellow("Blind:"));
        for e in lost {
            println!("  {} {} ({}): {}", e.source, e.name, e.monitors.join(", "), e.not_recorded.as_deref().unwrap_or_default());
        }
    }
    if !c.techniques.is_empty() {
        let seen = c.techniques.iter().filter(|t| !t.fired.is_empty()).count();
        println!("\n{} {seen} of {} seen", style.bold("Techniques:"), c.techniques.len());
        for t in &c.techniques {
            if t.fired.is_empty() {
                println!("  {} {}", style.red("✗"), t.technique);
            } else {
                println!("  {} {}  {}", style.green("✓"), t.technique, t.fired.join(", "));
            }
        }
    }
    println!("\n{} {} id(s) covered", style.bold("ATT&CK:"), c.attack.len());
    for (id, monitors) in &c.attack {
        println!("  {id}  {}", monitors.join(", "));
    }
}
