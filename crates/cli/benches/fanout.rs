//! Fan-out over an organization (issue 15), measured, not timed as a test: `secmon plan` of the
//! seed spec over N accounts × 2 regions, against the local emulator with every call taking the
//! same latency more (a distant region), at several parallelisms; then with one account made
//! slow. Prints API calls and wall time against the ideal (issue 27, item 3):
//! `ceil(targets / parallelism)` × the critical path of one target, that path measured in round
//! trips from the emulator's call timeline (a home target and a secondary one, averaged: the
//! targets are half of each). The figures are recorded in docs/benchmarks.md.
//!
//! ```sh
//! cargo bench -p secmon-cli --bench fanout                 # 50 accounts, 20 ms per call
//! SECMON_BENCH_ACCOUNTS=10 SECMON_BENCH_LATENCY_MS=50 cargo bench -p secmon-cli --bench fanout
//! ```

use std::process::Command;
use std::time::Instant;

use secmon_aws::Aws;
use secmon_testkit::Emulator;

fn setting(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `secmon plan` over the spec, narrowed to `accounts` (all when empty): (seconds, API calls,
/// targets that failed).
fn plan(emu: &Emulator, spec: &str, parallelism: usize, accounts: &[String]) -> (f64, u64, String) {
    let mut args = vec!["plan".to_string(), "-f".into(), spec.into(), "--stats".into(), "--parallelism".into(), parallelism.to_string()];
    for a in accounts {
        args.push("--account".into());
        args.push(a.clone());
    }
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_secmon"))
        .args(&args)
        .envs(emu.env())
        .env("TOP_SECRET_VALUE", "bench")
        .env("NO_COLOR", "1")
        .output()
        .expect("secmon runs");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let calls = stderr
        .lines()
        .find_map(|l| l.strip_prefix("API calls: ").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let failed = stderr.lines().find(|l| l.contains("targets failed")).map(str::to_string).unwrap_or_else(|| "none".into());
    (seconds, calls, failed)
}

/// The round trips on the critical path of the calls the emulator recorded (of `service` only,
/// when given): a call waited for another when it started after that one ended.
fn round_trips(timeline: &str, service: Option<&str>) -> usize {
    let mut calls: Vec<(f64, f64)> = timeline
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|c| service.is_none_or(|s| c["service"] == s))
        .map(|c| (c["start"].as_f64().unwrap_or(0.0), c["end"].as_f64().unwrap_or(0.0)))
        .collect();
    calls.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut depth: Vec<usize> = Vec::new();
    for (i, (start, _)) in calls.iter().enumerate() {
        let before = (0..i).filter(|j| calls[*j].1 <= start + 0.001).map(|j| depth[j]).max().unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

fn main() {
    let Some(emu) = Emulator::start_or_skip("the fan-out benchmark") else { return };
    let n_accounts = setting("SECMON_BENCH_ACCOUNTS", 50).max(2);
    let latency = setting("SECMON_BENCH_LATENCY_MS", 20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (k, v) in emu.env() {
        if k.starts_with("AWS_") && k != "AWS_ENDPOINT_URL" {
            std::env::set_var(k, v);
        }
    }
    let aws = rt.block_on(Aws::connect(Some("us-east-1"), Some(&emu.endpoint))).unwrap();
    rt.block_on(aws.organizations.create_organization().send()).unwrap();
    let root = rt.block_on(aws.organizations.list_roots().send()).unwrap().roots()[0].id().unwrap().to_string();
    let mut accounts = vec!["123456789012".to_string()];
    for i in 1..n_accounts {
        let created = rt
            .block_on(aws.organizations.create_account().email(format!("a{i}@example.com")).account_name(format!("a{i}")).send())
            .unwrap();
        accounts.push(created.create_account_status().unwrap().account_id().unwrap().to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("org.yaml");
    let seed = std::fs::read_to_string(secmon_testkit::root().join("specs/seed.yaml")).unwrap();
    let targets = format!(
        "\ntargets:\n  organizational_units: [{root}]\n  role_name: OrganizationAccountAccessRole\n  regions: [us-east-1, eu-west-1]\n"
    );
    std::fs::write(&spec, format!("{seed}{targets}")).unwrap();
    let spec = spec.to_str().unwrap();

    emu.delay_every_call(latency as u32);
    // One target's critical path, home and secondary region, from the call timeline: the run's
    // own (listing the organization's accounts, once) and the target's (its role, its reads).
    let path_of = |target: &str| {
        emu.record_calls(true);
        let _ = plan(&emu, spec, 1, &[target.to_string()]);
        emu.record_calls(false);
        let timeline = emu.calls();
        let listing = round_trips(&timeline, Some("organizations"));
        (listing, round_trips(&timeline, None) - listing)
    };
    let ((listing, home), (_, secondary)) =
        (path_of(&format!("{}/us-east-1", accounts[1])), path_of(&format!("{}/eu-west-1", accounts[1])));
    let seconds_of = |trips: f64| trips * latency as f64 / 1000.0;
    let (once, per_target) = (seconds_of(listing as f64), seconds_of((home + secondary) as f64 / 2.0));
    println!("secmon plan of specs/seed.yaml over an organization, 2 regions per account, every call {latency} ms slower");
    println!(
        "critical path: {listing} round trips listing the organization (once), then per target {home} (home region) or {secondary} (secondary)"
    );
    println!("ideal = {once:.2} s + ceil(targets / parallelism) × {per_target:.2} s (the two kinds of target averaged)");
    println!();
    println!("| accounts | targets | parallelism | API calls | calls per target | seconds | ideal | wall / ideal | failed |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let row = |subset: &[String], parallelism: usize| {
        let (seconds, calls, failed) = plan(&emu, spec, parallelism, subset);
        let n = if subset.is_empty() { accounts.len() } else { subset.len() };
        let ideal = once + (n * 2).div_ceil(parallelism) as f64 * per_target;
        println!(
            "| {n} | {} | {parallelism} | {calls} | {:.1} | {seconds:.1} | {ideal:.1} | {:.2} | {failed} |",
            n * 2,
            calls as f64 / (n * 2) as f64,
            seconds / ideal
        );
    };
    // Calls grow with targets; wall time with targets / parallelism.
    for n in [n_accounts / 5, n_accounts / 2] {
        row(&accounts[..n.max(1)], 8);
    }
    for parallelism in [1, 4, 8, 16] {
        row(&[], parallelism);
    }
    // One slow account (every call of it 20 times slower) holds only its own targets.
    emu.slow_account(&accounts[1], (latency * 20) as u32);
    println!("\nwith account {} answering {} ms per call:", accounts[1], latency * 20);
    println!("| accounts | targets | parallelism | API calls | calls per target | seconds | failed |");
    println!("|---:|---:|---:|---:|---:|---:|---|");
    let row = |parallelism: usize| {
        let (seconds, calls, failed) = plan(&emu, spec, parallelism, &[]);
        println!(
            "| {} | {} | {parallelism} | {calls} | {:.1} | {seconds:.1} | {failed} |",
            accounts.len(),
            accounts.len() * 2,
            calls as f64 / (accounts.len() * 2) as f64
        );
    };
    row(8);
    row(16);
}
