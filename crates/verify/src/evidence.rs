//! What the filter engine says about canonical events, gathered before the checks run: AWS's
//! own engine (`TestMetricFilter`, up to 50 events per call, one call per filter) where the
//! endpoint has it, else secmon's offline engine. Local emulators have no `TestMetricFilter`.

use std::collections::BTreeSet;

use secmon_kinds::{Cloud, FilterEvidence, LiveState, ReadForm, Resource, Target};
use secmon_sim::Pattern;
use secmon_spec::DesiredState;
use serde_json::{json, Value};

/// `TestMetricFilter` takes at most 50 log event messages per call.
const EVENTS_PER_CALL: usize = 50;

/// A `GetSecretValue` record as CloudTrail writes it for `secret_id`.
pub fn canonical_get_secret_value(secret_id: &str, account_id: &str, region: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account_id}:user/secmon-verify"), "accountId": account_id, "userName": "secmon-verify"},
        "eventTime": secmon_sim::events::format_time(crate::now()),
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "secmon-verify",
        "requestParameters": {"secretId": secret_id},
        "responseElements": null,
        "requestID": "00000000-0000-4000-8000-000000000000",
        "eventID": "00000000-0000-4000-8000-000000000001",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account_id,
        "eventCategory": "Management"
    })
}

const AWS_ENGINE: &str = "AWS TestMetricFilter";
const OFFLINE_ENGINE: &str = "secmon's offline engine; TestMetricFilter is not available on this endpoint";

/// Which engine answers; decided by the first call.
#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Undecided,
    Aws,
    Offline,
}

/// Tests every live metric filter of the spec's log group against the example event of the kind
/// its pattern names (for the spec's monitors) and against a canonical read of each watched
/// resource, once per way a read may name it ([`secmon_kinds::ResourceKind::read_ids`]). A target
/// without a pipeline of its own ([`secmon_spec::WatchedFrom`]) is judged against the spec's
/// patterns of the home target's filters, by the offline engine: the home target's own verify
/// checks that those filters are live.
pub(crate) async fn gather(
    cloud: &dyn Cloud,
    state: &DesiredState,
    target: &Target,
    desired: &[Resource],
    live: &LiveState,
) -> FilterEvidence {
    let monitored: BTreeSet<&str> = state.monitors.iter().map(|m| m.filter_name()).collect();
    // (address, how, canonical read)
    let mut reads = Vec::new();
    let mut out = FilterEvidence::default();
    for d in desired {
        let r = live.resources.get(&d.address()).map(|l| &l.resource).unwrap_or(d);
        let ids = r.kind.def().read_ids(r, target);
        if ids.is_empty() {
            continue;
        }
        let forms = out.reads.entry(d.address()).or_default();
        for (how, id) in ids {
            forms.push(ReadForm { how, ..ReadForm::default() });
            reads.push((d.address(), forms.len() - 1, canonical_get_secret_value(&id, &target.account_id, &target.region)));
        }
    }
    let base = canonical_get_secret_value("example", &target.account_id, &target.region);
    let (filters, mut engine) = match &state.watched_from {
        Some(from) => {
            let home = match (&from.region, from.organization) {
                (Some(r), true) => format!("the management account's {r}"),
                (Some(r), false) => r.clone(),
                (None, true) => "the management account".to_string(),
                (None, false) => "the home region".to_string(),
            };
            out.watched_from = Some(home);
            (from.filters.clone(), Engine::Offline)
        }
        None => {
            let live_filters =
                live.resources.values().filter_map(|l| Some((l.resource.name.clone(), l.resource.kind.def().filter_pattern(&l.resource)?)));
            (live_filters.collect(), Engine::Undecided)
        }
    };
    for (name, pattern) in &filters {
        let parsed = Pattern::parse(pattern);
        let example = match &parsed {
            Ok(p) if monitored.contains(name.as_str()) => p.example_event(&base),
            _ => None,
        };
        let events: Vec<&Value> = example.iter().chain(reads.iter().map(|(_, _, e)| e)).collect();
        let verdicts = match by_aws(cloud, &mut engine, pattern, &events).await {
            Some(v) => v,
            None => match &parsed {
                Ok(p) => Ok(events.iter().map(|e| offline(p, e)).collect()),
                Err(e) => Err(format!("pattern syntax error at {e}")),
            },
        };
        let verdict = |i: usize| verdicts.as_ref().map(|v| v[i]).map_err(Clone::clone);
        let skip = usize::from(example.is_some());
        if let Some(e) = &example {
            // The canonical event keeps some event source; name it only when the pattern does
            // (issue 26, finding 14: "a canonical secretsmanager.amazonaws.com
            // AuthorizeSecurityGroupIngress event" read as nonsense).
            let event = e.get("eventName").and_then(Value::as_str).unwrap_or("?");
            let kind = match pattern.contains("eventSource") {
                true => format!("{} {event}", e.get("eventSource").and_then(Value::as_str).unwrap_or("?")),
                false => event.to_string(),
            };
            out.example.insert(name.clone(), (kind, verdict(0)));
        }
        for (i, (address, form, _)) in reads.iter().enumerate() {
            let form = &mut out.reads.get_mut(address).expect("every read has its entry")[*form];
            match verdict(skip + i) {
                Ok(true) => form.caught_by.push(name.clone()),
                Ok(false) => {}
                Err(e) => form.errors.push(format!("{name}: {e}")),
            }
        }
    }
    for form in out.reads.values_mut().flatten() {
        form.caught_by.sort();
        form.caught_by.dedup();
        form.errors.dedup();
    }
    out.engine = match (&out.watched_from, engine) {
        (Some(_), _) => "secmon's offline engine, over the spec's patterns".to_string(),
        (None, Engine::Aws) => AWS_ENGINE.to_string(),
        (None, _) => OFFLINE_ENGINE.to_string(),
    };
    out
}

fn offline(p: &Pattern, event: &Value) -> bool {
    let message = event.to_string();
    p.matches(&secmon_sim::Event { message: &message, json: Some(event) })
}

/// AWS's verdicts, or None when the offline engine must answer (the endpoint has no
/// `TestMetricFilter`, or its first call failed).
async fn by_aws(cloud: &dyn Cloud, engine: &mut Engine, pattern: &str, events: &[&Value]) -> Option<Result<Vec<bool>, String>> {
    if *engine == Engine::Offline || events.is_empty() {
        return None;
    }
    let mut verdicts = Vec::new();
    for chunk in events.chunks(EVENTS_PER_CALL) {
        let messages: Vec<String> = chunk.iter().map(|e| e.to_string()).collect();
        match cloud.test_filter(pattern, &messages).await {
            Ok(Some(v)) => verdicts.extend(v),
            Ok(None) => {
                *engine = Engine::Offline;
                return None;
            }
            Err(e) if *engine == Engine::Aws => return Some(Err(e.to_string())),
            Err(_) => {
                *engine = Engine::Offline;
                return None;
            }
        }
        *engine = Engine::Aws;
    }
    Some(Ok(verdicts))
}
