//! Filter-engine throughput on generated CloudTrail corpora, next to `jq` running the same filter
//! on the same file in the same run. Prints numbers; asserts only that every way of counting
//! finds the same matches.
//!
//!     cargo bench -p secmon-sim --bench replay            # 1 GiB corpus (generated once)
//!     SECMON_BENCH_MB=256 cargo bench -p secmon-sim --bench replay
//!     SECMON_BENCH_ONLY="log files.gz/literal/secmon -c" cargo bench ...   # one row (profiling)
//!     SECMON_BENCH_RUNS=5 cargo bench ...    # fastest of 5 runs for the fast rows (default 3)
//!     SECMON_BENCH_PAUSE=20 cargo bench ...  # idle 20 s before every row (burstable machines)
//!
//! The corpus is real CloudTrail records (the Stratus Red Team fixtures and the seed's test
//! events) with fresh event ids and times, in four forms: JSON lines (how records reach
//! CloudWatch Logs), CloudTrail log files (`{"Records":[...]}`, 1,000 records each,
//! concatenated), the same gzipped one file per log file as CloudTrail delivers them to S3,
//! and the same as one gzip stream. Each form is read by:
//! - `secmon -c`: `events::Counter`, what `secmon test-pattern --count` runs (prefilter,
//!   projection parsing);
//! - `secmon plain`: every record parsed whole and evaluated (what the explaining
//!   `test-pattern --all` does);
//! - `simulate`, `simulate plain`: `secmon simulate` of the seed spec, on its fast path (records
//!   no monitor can match read for their time and trail fields only) and parsing every record;
//! - `jq` with the equivalent filter (JSON lines and uncompressed log files).
//!
//! Results go in docs/benchmarks.md.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use secmon_sim::events::{self, format_time, Format};
use secmon_sim::Pattern;
use serde_json::Value;

/// (name, secmon pattern, jq filter)
const CASES: [(&str, &str, &str); 2] = [
    (
        "literal",
        r#"{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "GetSecretValue") }"#,
        r#"select(.eventSource == "secretsmanager.amazonaws.com" and .eventName == "GetSecretValue") | 1"#,
    ),
    (
        "no literal",
        "{ ($.readOnly IS FALSE) && ($.errorCode NOT EXISTS) }",
        r#"select(.readOnly == false and (has("errorCode") | not)) | 1"#,
    ),
];

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

/// Writes the forms of about `mb` MiB of records.
fn generate(dir: &Path, mb: u64) {
    let records = seed_records();
    let tmp = |n: &str| dir.join(format!("{n}.tmp"));
    // One gzip file per log file, as CloudTrail delivers them to S3.
    let per_file = tmp("gz-files");
    std::fs::create_dir_all(&per_file).unwrap();
    let mut files = 0usize;
    let mut jsonl = BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp("jsonl")).unwrap());
    let mut trail = BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp("json")).unwrap());
    let mut gz = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(1 << 20, std::fs::File::create(tmp("json.gz")).unwrap()),
        flate2::Compression::default(),
    );
    let (mut written, mut i) = (0u64, 0u64);
    let start = 1_735_689_600i64; // 2025-01-01
    let mut batch = Vec::new();
    let mut flush =
        |batch: &mut Vec<String>, trail: &mut BufWriter<std::fs::File>, gz: &mut flate2::write::GzEncoder<BufWriter<std::fs::File>>| {
            if batch.is_empty() {
                return;
            }
            let file = format!("{{\"Records\":[{}]}}", batch.join(","));
            trail.write_all(file.as_bytes()).unwrap();
            gz.write_all(file.as_bytes()).unwrap();
            let mut one = flate2::write::GzEncoder::new(
                std::fs::File::create(per_file.join(format!("{files:05}.json.gz"))).unwrap(),
                flate2::Compression::default(),
            );
            one.write_all(file.as_bytes()).unwrap();
            one.finish().unwrap();
            files += 1;
            batch.clear();
        };
    while written < mb << 20 {
        let mut r = records[(i as usize * 7919) % records.len()].clone();
        r["eventID"] = Value::String(format!("{:08x}-0000-4000-8000-{:012x}", i >> 16, i));
        r["eventTime"] = Value::String(format_time(start + (i / 50) as i64));
        let line = r.to_string();
        jsonl.write_all(line.as_bytes()).unwrap();
        jsonl.write_all(b"\n").unwrap();
        written += line.len() as u64 + 1;
        batch.push(line);
        if batch.len() == 1000 {
            flush(&mut batch, &mut trail, &mut gz);
        }
        i += 1;
    }
    flush(&mut batch, &mut trail, &mut gz);
    jsonl.flush().unwrap();
    trail.flush().unwrap();
    gz.finish().unwrap().flush().unwrap();
    for n in ["jsonl", "json", "json.gz"] {
        std::fs::rename(tmp(n), dir.join(format!("cloudtrail.{n}"))).unwrap();
    }
    std::fs::rename(per_file, dir.join("cloudtrail-gz")).unwrap();
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Whether the row runs (all of them unless `SECMON_BENCH_ONLY="form/pattern/tool"` names one).
fn wanted(form: &str, case: &str, tool: &str) -> bool {
    std::env::var("SECMON_BENCH_ONLY").map_or(true, |only| only == format!("{form}/{case}/{tool}"))
}

fn row(form: &str, case: &str, tool: &str, mib: f64, secs: f64, events: u64, matches: u64) {
    println!("{form:<14} {case:<11} {tool:<13} {secs:>8.2} {:>10.0} {:>12.0} {matches:>9}", mib / secs, events as f64 / secs);
}

/// `s` single-quoted for `sh -c` (the corpus path is ours, but a checkout may live anywhere).
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (cargo test --benches) runs a tiny corpus.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mb: u64 = std::env::var("SECMON_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 4 } else { 1024 });
    // The fast rows run `SECMON_BENCH_RUNS` times (3 by default) and report the fastest: on a
    // shared machine noise only ever adds time. jq and `secmon plain`, 20-50 times slower, run once.
    let runs: usize = std::env::var("SECMON_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 3 }).max(1);
    // Shared and burstable machines slow down after minutes of full load (this one by up to
    // 40 %, jq's 20-second rows included): `SECMON_BENCH_PAUSE=20` idles that many seconds
    // before every row, jq's too, so that each starts from the same state.
    let pause = std::time::Duration::from_secs(std::env::var("SECMON_BENCH_PAUSE").ok().and_then(|v| v.parse().ok()).unwrap_or(0));
    let settle = || std::thread::sleep(pause);
    let dir = root().join(format!("target/bench/corpus-{mb}mb"));
    std::fs::create_dir_all(&dir).unwrap();
    if !dir.join("cloudtrail-gz").exists() {
        eprintln!("generating {} ({mb} MiB of records, four forms)...", dir.display());
        // An older corpus had no per-file form: rewrite it all.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        generate(&dir, mb);
    }
    let size = |n: &str| std::fs::metadata(dir.join(n)).unwrap().len() as f64 / (1 << 20) as f64;
    let decompressed = size("cloudtrail.json");
    let mut gz_files: Vec<String> =
        std::fs::read_dir(dir.join("cloudtrail-gz")).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    gz_files.sort();
    let gz_size: f64 = gz_files.iter().map(|f| std::fs::metadata(f).unwrap().len() as f64).sum::<f64>() / (1 << 20) as f64;
    println!(
        "corpus: {} (JSON lines {:.0} MiB; log files {:.0} MiB, gzipped {:.0} MiB as {} files or {:.0} MiB as one stream)",
        dir.display(),
        size("cloudtrail.jsonl"),
        decompressed,
        gz_size,
        gz_files.len(),
        size("cloudtrail.json.gz")
    );
    println!("MiB/s is of uncompressed data, per core (one thread); `secmon -c` and `inflate only`: fastest of {runs} runs.");
    println!("{:<14} {:<11} {:<13} {:>8} {:>10} {:>12} {:>9}", "form", "pattern", "tool", "seconds", "MiB/s", "events/s", "matches");
    for (case, text, jq) in CASES {
        let pattern = Pattern::parse(text).unwrap();
        let mut counts = Vec::new();
        let one = |f: &str| vec![dir.join(f).display().to_string()];
        let forms = [
            ("JSON lines", one("cloudtrail.jsonl")),
            ("log files", one("cloudtrail.json")),
            // As CloudTrail delivers them: one gzip member per log file (inflated whole).
            ("log files.gz", gz_files.clone()),
            // The same concatenated into one gzip stream (inflated as a stream).
            ("one .gz stream", one("cloudtrail.json.gz")),
        ];
        for (form, paths) in forms {
            let path = paths[0].as_str();
            let mib = if path.ends_with(".gz") { decompressed } else { size(path) };

            if wanted(form, case, "secmon -c") {
                settle();
                let (mut best, mut result) = (f64::MAX, (0, 0));
                for _ in 0..runs {
                    let t = Instant::now();
                    result = (0, 0);
                    // As `secmon test-pattern -c --events <files>` does: one counter, every file.
                    let counter = events::Counter::new(&pattern);
                    for p in &paths {
                        let (n, hits) = counter.count(p, Format::Auto).unwrap();
                        result = (result.0 + n, result.1 + hits);
                    }
                    best = best.min(t.elapsed().as_secs_f64());
                }
                row(form, case, "secmon -c", mib, best, result.0, result.1);
                counts.push(result.1);
            }
            if wanted(form, case, "secmon list") {
                // As `secmon test-pattern --events <files>` lists matches (issue 27, item 2): the
                // counting path decides, only matches are parsed whole, and each is written out
                // as one JSON line (what `jq -c` prints), into a sink.
                settle();
                let (mut best, mut result) = (f64::MAX, (0, 0));
                for _ in 0..runs {
                    let t = Instant::now();
                    let counter = events::Counter::new(&pattern);
                    let mut out = std::io::sink();
                    let (mut n, mut hits) = (0u64, 0u64);
                    for p in &paths {
                        n += counter
                            .list(p, Format::Auto, &|| false, &mut |_, _, e| {
                                hits += 1;
                                serde_json::to_writer(&mut out, &e.json).unwrap();
                                std::io::Write::write_all(&mut out, b"\n").unwrap();
                            })
                            .unwrap();
                    }
                    result = (n, hits);
                    best = best.min(t.elapsed().as_secs_f64());
                }
                row(form, case, "secmon list", mib, best, result.0, result.1);
                counts.push(result.1);
            }
            // `secmon simulate` of the seed spec (its one monitor is this literal pattern):
            // the fast path (issue 27, item 2) and the plain replay it is tested against.
            if case == "literal" {
                let seed = secmon_spec::Spec::from_file(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs/seed.yaml")).unwrap();
                for (tool, fast) in [("simulate", true), ("simulate plain", false)] {
                    if !wanted(form, case, tool) {
                        continue;
                    }
                    settle();
                    let (mut best, mut result) = (f64::MAX, (0, 0));
                    for _ in 0..(if fast { runs } else { 1 }) {
                        let t = Instant::now();
                        let report = if fast {
                            secmon_sim::simulate::simulate_as(&seed.state, &paths, Format::Auto)
                        } else {
                            secmon_sim::simulate::simulate_plain(&seed.state, &paths, Format::Auto)
                        }
                        .unwrap();
                        result = (report.events, report.monitors[0].matched.len() as u64);
                        best = best.min(t.elapsed().as_secs_f64());
                    }
                    row(form, case, tool, mib, best, result.0, result.1);
                }
            }
            if form == "one .gz stream" && wanted(form, case, "zcat | jq") {
                settle();
                let t = Instant::now();
                let script = format!("zcat {} | jq -c '.Records[] | {jq}'", shell_word(path));
                match Command::new("sh").args(["-c", &script]).stdout(Stdio::piped()).stderr(Stdio::null()).output() {
                    Ok(out) if out.status.success() => {
                        let hits = out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
                        row(form, case, "zcat | jq", mib, t.elapsed().as_secs_f64(), 0, hits);
                        counts.push(hits);
                    }
                    _ => println!("{form:<14} {case:<11} zcat | jq: not available on this machine; install jq to compare"),
                }
            }
            if form == "one .gz stream" || !wanted(form, case, "secmon plain") {
                continue;
            }
            settle();
            let t = Instant::now();
            let (mut n, mut plain) = (0u64, 0u64);
            for p in &paths {
                events::for_each(p, &mut |e| {
                    n += 1;
                    plain += u64::from(pattern.matches(&e.as_event()));
                })
                .unwrap();
            }
            row(form, case, "secmon plain", mib, t.elapsed().as_secs_f64(), n, plain);
            counts.push(plain);

            if path.ends_with(".gz") || !wanted(form, case, "jq") {
                continue;
            }
            let filter = if path.ends_with(".jsonl") { jq.to_string() } else { format!(".Records[] | {jq}") };
            settle();
            let t = Instant::now();
            match Command::new("jq").args(["-c", &filter]).arg(path).stdout(Stdio::piped()).stderr(Stdio::null()).output() {
                Ok(out) if out.status.success() => {
                    let jq_hits = out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
                    row(form, case, "jq", mib, t.elapsed().as_secs_f64(), n, jq_hits);
                    counts.push(jq_hits);
                }
                _ => println!("{form:<14} {case:<11} jq: not available on this machine; install jq to compare"),
            }
        }
        assert!(counts.windows(2).all(|w| w[0] == w[1]), "{case}: the ways of counting disagree: {counts:?}");
    }
    // The ceiling for the gzipped forms: inflating alone, nothing scanned.
    for (form, paths) in
        [("log files.gz", gz_files.clone()), ("one .gz stream", vec![dir.join("cloudtrail.json.gz").display().to_string()])]
    {
        if !wanted(form, "-", "inflate only") {
            continue;
        }
        settle();
        let mut best = f64::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            let (mut buf, mut n) = (vec![0u8; 1 << 18], 0usize);
            for p in &paths {
                let mut r = events::open(p).unwrap();
                loop {
                    match std::io::Read::read(&mut r, &mut buf).unwrap() {
                        0 => break,
                        k => n += k,
                    }
                }
            }
            assert_eq!(n as f64 / (1 << 20) as f64, decompressed);
            best = best.min(t.elapsed().as_secs_f64());
        }
        row(form, "-", "inflate only", decompressed, best, 0, 0);
    }
    if let Some(rss) = peak_rss_mib() {
        println!("secmon peak RSS: {rss:.0} MiB (streaming: independent of corpus size)");
    }
}
