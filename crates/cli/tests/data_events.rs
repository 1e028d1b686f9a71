//! Issue 25, item 3: S3 data events (Security Hub S3.22/S3.23) are billed per event; the plan
//! that turns them on estimates what they would have cost over the last 30 days from the
//! account's own S3 request counts (Cost Explorer), and a plan that changes nothing asks nothing.

use crate::common::*;

/// Cost Explorer's answer for the next GetCostAndUsage, through moto's results queue: 2.5
/// million Tier 1 requests in us-east-1, 10 million Tier 2 in eu-west-1, and storage (ignored).
fn account_made_requests(w: &World) {
    let group =
        |key: &str, amount: &str| serde_json::json!({"Keys": [key], "Metrics": {"UsageQuantity": {"Amount": amount, "Unit": "N/A"}}});
    let results = serde_json::json!({"results": [{"ResultsByTime": [{
        "TimePeriod": {"Start": "2026-11-04", "End": "2026-12-01"}, "Total": {}, "Estimated": false,
        "Groups": [group("Requests-Tier1", "2500000"), group("EUW1-Requests-Tier2", "10000000"), group("TimedStorage-ByteHrs", "123456789")]
    }]}]});
    let url = format!("{}/moto-api/static/ce/cost-and-usage-results", w.emu.endpoint);
    let status = std::process::Command::new("curl")
        .args(["-sf", "-X", "POST", "-H", "Content-Type: application/json", "-d", &results.to_string(), &url])
        .status()
        .unwrap();
    assert!(status.success(), "moto's Cost Explorer queue takes the results");
}

#[test]
fn issue_25_the_plan_turning_s3_data_events_on_estimates_their_cost_from_the_accounts_requests() {
    let Some(w) = World::new() else { return };
    let seed = std::fs::read_to_string(root().join(SEED)).unwrap();
    let spec =
        w.write_spec("data-events.yaml", &seed.replace("  management_events:\n", "  s3_data_events: WriteOnly\n  management_events:\n"));
    account_made_requests(&w);
    let plan = w.secmon(&["plan", "-f", &spec, "--stats"]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let out = text(&plan.stdout);
    assert!(out.contains("S3 data events (WriteOnly) estimated at about $2.50 a month"), "Tier 1 only, at $0.10 per 100,000: {out}");
    assert!(out.contains("12,500,000 S3 requests in the last 30 days (2,500,000 PUT, COPY, POST or LIST; 10,000,000 GET"), "{out}");
    assert_eq!(calls(&text(&plan.stderr), "GetCostAndUsage"), 1);

    w.apply_spec_converges(&spec);
    let again = w.secmon(&["plan", "-f", &spec, "--stats"]);
    assert_eq!(calls(&text(&again.stderr), "GetCostAndUsage"), 0, "a plan that changes nothing asks Cost Explorer nothing");
    assert!(!text(&again.stdout).contains("estimated at"), "{}", text(&again.stdout));
}
