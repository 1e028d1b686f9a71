//! Hostile spec input, measured: how long `Spec::parse` takes to refuse each document, and the
//! process's peak memory. Prints numbers (docs/reliability.md keeps them); asserts only that
//! every document is refused.
//!
//!     cargo bench -p secmon-spec --bench hostile

use std::time::Instant;

use secmon_spec::Spec;

/// The classic "billion laughs": ten levels of nine aliases, under 1 KiB, 9^10 nodes expanded.
fn billion_laughs() -> String {
    let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        doc.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", ")));
    }
    doc
}

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

fn main() {
    let cases: Vec<(&str, String)> = vec![
        ("billion laughs (1 KiB, 9^10 nodes)", billion_laughs()),
        ("nesting 100,000 deep", format!("a: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000))),
        ("16 MiB of one scalar", format!("version: 1\nname: {}\n", "x".repeat(16 << 20))),
        ("200,000 monitors, inline", format!("version: 1\nname: n\nmonitors: [{}]\n", vec!["{}"; 200_000].join(", "))),
    ];
    println!("{:<36} {:>8} {:>10} {:>14}", "document", "bytes", "ms", "peak RSS MiB");
    for (name, doc) in cases {
        let t = Instant::now();
        let refused = Spec::parse(&doc, "hostile.yaml").is_err();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert!(refused, "{name} must be refused");
        println!("{name:<36} {:>8} {ms:>10.1} {:>14.1}", doc.len(), peak_rss_mib());
    }
}
