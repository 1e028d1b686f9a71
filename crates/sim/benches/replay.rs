//! Replay throughput on a generated CloudTrail corpus, next to `jq` running the same filter on
//! the same file in the same run. Prints numbers; asserts only that both count the same matches.
//!
//!     cargo bench -p secmon-sim --bench replay            # 1 GiB corpus (generated once)
//!     SECMON_BENCH_MB=256 cargo bench -p secmon-sim --bench replay
//!
//! The corpus is JSON lines of real CloudTrail records (the Stratus Red Team fixtures and the
//! seed's test events) with fresh event ids and times: the form in which CloudTrail records
//! reach CloudWatch Logs, and a form jq can stream too. Results go in docs/benchmarks.md.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use secmon_sim::events::{self, format_time};
use secmon_sim::Pattern;
use serde_json::Value;

const PATTERN: &str = r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#;
const JQ: &str = r#"select(.eventSource == "secretsmanager.amazonaws.com" and .eventName == "GetSecretValue") | 1"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seed_records() -> Vec<Value> {
    let mut out = Vec::new();
    let dir = root().join("tests/fixtures/stratus-red-team");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.push(root().join("tests/fixtures/seed-004-test-events.json"));
    files.sort();
    for f in files {
        events::for_each(f.to_str().unwrap(), &mut |e| out.push(e.json.clone().unwrap())).unwrap();
    }
    out
}

fn generate(path: &Path, bytes: u64) {
    let records = seed_records();
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    let (mut written, mut i) = (0u64, 0u64);
    let start = 1_735_689_600i64; // 2025-01-01
    while written < bytes {
        let mut r = records[(i as usize * 7919) % records.len()].clone();
        r["eventID"] = Value::String(format!("{:08x}-0000-4000-8000-{:012x}", i >> 16, i));
        r["eventTime"] = Value::String(format_time(start + (i / 50) as i64));
        let line = r.to_string();
        w.write_all(line.as_bytes()).unwrap();
        w.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        i += 1;
    }
    w.flush().unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (cargo test --benches) runs a tiny corpus.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mb: u64 = std::env::var("SECMON_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 4 } else { 1024 });
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join(format!("cloudtrail-{mb}mb.jsonl"));
    if !corpus.exists() {
        eprintln!("generating {} ({mb} MiB)...", corpus.display());
        generate(&corpus, mb << 20);
    }
    let size = std::fs::metadata(&corpus).unwrap().len() as f64;
    let mib = size / (1 << 20) as f64;

    let pattern = Pattern::parse(PATTERN).unwrap();
    let t = Instant::now();
    let (mut n, mut hits) = (0u64, 0u64);
    events::for_each(corpus.to_str().unwrap(), &mut |e| {
        n += 1;
        if pattern.matches(&e.as_event_for(&pattern)) {
            hits += 1;
        }
    })
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!("corpus: {} ({mib:.0} MiB, {n} events)", corpus.display());
    println!("pattern: {PATTERN}");
    println!("{:<10} {:>9} {:>12} {:>14} {:>9}", "tool", "seconds", "MiB/s", "events/s", "matches");
    println!("{:<10} {secs:>9.2} {:>12.1} {:>14.0} {hits:>9}", "secmon", mib / secs, n as f64 / secs);
    if let Some(rss) = peak_rss_mib() {
        println!("secmon peak RSS: {rss:.0} MiB (streaming: independent of corpus size)");
    }

    let t = Instant::now();
    match Command::new("jq").args(["-c", JQ]).arg(&corpus).stdout(Stdio::piped()).stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            let secs = t.elapsed().as_secs_f64();
            let jq_hits = out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
            println!("{:<10} {secs:>9.2} {:>12.1} {:>14.0} {jq_hits:>9}", "jq", mib / secs, n as f64 / secs);
            assert_eq!(jq_hits, hits, "secmon and jq disagree on the number of matches");
        }
        _ => println!("jq: not available on this machine; install jq to compare"),
    }
}
