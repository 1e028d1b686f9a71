//! Metric filter on the trail's log group: counts a monitor's events into its metric. Filters
//! cannot be tagged; they belong to whoever owns their log group. Changes on one log group are
//! run one at a time (see [`ResourceKind::serial_key`]).

use std::collections::BTreeMap;

use secmon_aws::logs::types::MetricTransformation;
use serde::{Deserialize, Serialize};

use crate::check::{Check, VerifyCtx};
use crate::sdk::send;
use crate::{Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target};
use secmon_spec::DesiredState;

/// The metric filter's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The log group it filters.
    pub log_group: String,
    /// Compared with whitespace outside quotes collapsed ([`normalize_pattern`]).
    pub pattern: String,
    /// The metric's namespace.
    pub metric_namespace: Option<String>,
    /// The metric's name.
    pub metric_name: Option<String>,
    /// The value published per matching event.
    pub metric_value: Option<String>,
    /// The value published when nothing matches.
    pub default_value: Option<f64>,
    /// The metric's dimensions (name to `$.field`).
    pub dimensions: BTreeMap<String, String>,
}

/// What apply needs but comparison ignores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    /// The pattern exactly as written: auditors (Security Hub, CIS) compare the text byte for
    /// byte, so it is sent as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_text: Option<String>,
}

/// One canary read as the log group holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryRead {
    /// When it was made (the event's time), epoch ms.
    pub read_ms: i64,
    /// When CloudWatch Logs received it, epoch ms.
    pub ingested_ms: i64,
}

/// What verify observed of the heartbeat in the last hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Heartbeat {
    /// The canary's reads that reached the log group.
    pub reads: Vec<CanaryRead>,
    /// The minutes (epoch seconds) in which the canary metric counted a read.
    pub counted_minutes: Vec<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Observed {
    heartbeat: Option<Heartbeat>,
}

/// `heartbeat.delivery`: the measured delay from the canary's latest read to the log group,
/// and whether the metric counted it; failed when no read arrived in the last hour.
fn heartbeat_delivery(ctx: &VerifyCtx, live: &LiveResource, subject: &str) -> Check {
    const ID: &str = "heartbeat.delivery";
    if ctx.local_endpoint {
        return Check::not_observable(ID, subject, crate::check::NOT_OBSERVABLE);
    }
    let seen = live.observed::<Observed>().heartbeat.unwrap_or_default();
    let Some(latest) = seen.reads.iter().max_by_key(|r| r.read_ms) else {
        return Check::failed(
            ID,
            subject,
            "no canary read reached the log group in the last hour: the heartbeat or the pipeline is broken",
        )
        .fix("the other checks name the broken link; the heartbeat state machine's executions show whether it ran");
    };
    let delay = |r: &CanaryRead| (r.ingested_ms - r.read_ms).max(0) / 1000;
    let worst = seen.reads.iter().map(delay).max().unwrap_or(0);
    let minute = latest.read_ms / 1000 / 60 * 60;
    let counted = seen.counted_minutes.contains(&minute);
    let evidence = format!(
        "{} canary read(s) in the last hour; the latest reached the log group {} s after it was made (slowest {} s){}",
        seen.reads.len(),
        delay(latest),
        worst,
        if counted { ", and the canary metric counted it in its minute" } else { "; the canary metric has no datapoint for it yet" }
    );
    if counted || ctx.now * 1000 - latest.ingested_ms < 180_000 {
        Check::ok(ID, subject, evidence)
    } else {
        Check::failed(ID, subject, evidence)
            .fix("the read arrives but is not counted: compare the filter's pattern with the canary's record")
    }
}

/// Collapses whitespace outside quoted strings: AWS may store a pattern reformatted.
pub fn normalize_pattern(p: &str) -> String {
    let mut out = String::new();
    let mut in_quote = false;
    let mut prev_space = false;
    for c in p.trim().chars() {
        if c == '"' {
            in_quote = !in_quote;
        }
        if c.is_whitespace() && !in_quote {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// CloudWatch Logs allows 100 metric filters per log group, other tools' filters included
/// (issue 11, item 9), and five of them with a regular expression (issue 22, finding 11).
fn check_quota(kept: &[&Resource], others: &[&Resource]) -> Result<(), String> {
    let max = secmon_spec::MAX_FILTERS_PER_LOG_GROUP;
    let (planned, others_count) = (kept.len(), others.len());
    if planned + others_count > max {
        return Err(format!(
            "the trail's log group would hold {} metric filters ({planned} of this spec, {others_count} put there by others); CloudWatch Logs allows at most {max} per log group",
            planned + others_count
        ));
    }
    let uses_regex = |r: &&&Resource| secmon_sim::pattern::Pattern::parse(&r.attrs::<Attrs>().pattern).ok().is_some_and(|p| p.uses_regex());
    let planned_regex = kept.iter().filter(uses_regex).count();
    let others_regex = others.iter().filter(uses_regex).count();
    let max = secmon_sim::pattern::MAX_REGEX_FILTERS_PER_LOG_GROUP;
    if planned_regex > 0 && planned_regex + others_regex > max {
        return Err(format!(
            "the trail's log group would hold {} metric filters with a regular expression ({planned_regex} of this spec, {others_regex} put there by others); CloudWatch Logs allows at most {max} per log group",
            planned_regex + others_regex
        ));
    }
    Ok(())
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::Container(Kind::LogGroup),
    refers_to: &[Kind::LogGroup],
    step: 4,
    iam: crate::Iam { read: &["logs:DescribeMetricFilters"], write: &["logs:PutMetricFilter", "logs:DeleteMetricFilter"], writes_on: None },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    fn check_limits(&self, kept: &[&Resource], others: &[&Resource]) -> Result<(), String> {
        check_quota(kept, others)
    }

    fn filter_pattern(&self, r: &Resource) -> Option<String> {
        Some(r.attrs::<Attrs>().pattern)
    }

    fn published_metric(&self, r: &Resource) -> Option<secmon_spec::Metric> {
        let f: Attrs = r.attrs();
        Some(secmon_spec::Metric {
            namespace: f.metric_namespace.unwrap_or_default(),
            name: f.metric_name.unwrap_or_default(),
            value: f.metric_value.unwrap_or_else(|| "1".into()),
            default: f.default_value,
            dimensions: f.dimensions,
        })
    }

    fn desired(&self, state: &DesiredState, _t: &Target) -> Vec<Resource> {
        let Some(log_group) = state.log_group() else { return Vec::new() };
        state
            .monitors
            .iter()
            .map(|m| {
                let attrs = Attrs {
                    log_group: log_group.to_string(),
                    pattern: normalize_pattern(&m.pattern),
                    metric_namespace: Some(m.metric.namespace.clone()),
                    metric_name: Some(m.metric.name.clone()),
                    metric_value: Some(m.metric.value.clone()),
                    default_value: m.metric.default,
                    dimensions: m.metric.dimensions.clone(),
                };
                Resource::new(Kind::MetricFilter, m.filter_name(), None, &attrs).with_meta(&Meta { pattern_text: Some(m.pattern.clone()) })
            })
            .collect()
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        vec![crate::Address::new(Kind::LogGroup, &r.attrs::<Attrs>().log_group)]
    }

    fn serial_key(&self, r: &Resource) -> Option<String> {
        Some(r.attrs::<Attrs>().log_group)
    }

    fn forces_replacement(&self, before: &Resource, after: &Resource) -> Option<&'static str> {
        // A filter lives in its log group: moving it is a delete there and a put here.
        (before.attrs::<Attrs>().log_group != after.attrs::<Attrs>().log_group).then_some("log_group")
    }

    fn container(&self, r: &Resource) -> Option<crate::Address> {
        Some(crate::Address::new(Kind::LogGroup, &r.attrs::<Attrs>().log_group))
    }

    /// PutMetricFilter and DeleteMetricFilter: about 5 transactions per second per account (CloudWatch Logs quotas).
    fn writes_per_second(&self) -> Option<u32> {
        Some(5)
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            // Every filter of the spec's log groups (one paged call per group): filters the spec no
            // longer names are found here and deleted. The spec's filters name their group too:
            // a trail another tool owns (`trail.external`) has a log group secmon does not manage.
            let filters = ctx.desired_of(Kind::MetricFilter);
            let mut groups: Vec<String> = ctx.desired_of(Kind::LogGroup).iter().map(|g| g.name.clone()).collect();
            groups.extend(filters.iter().map(|f| f.attrs::<Attrs>().log_group));
            groups.sort();
            groups.dedup();
            let found = futures::future::join_all(groups.iter().map(|g| read_group(aws, g))).await;
            let mut out = Vec::new();
            for f in found {
                out.extend(f?);
            }
            Ok(out)
        })
    }

    /// For the heartbeat's filter only (issue 24, item 3): the canary's reads of the last hour
    /// as the log group holds them (when each was made, when it arrived) and the canary metric's
    /// datapoints, which `heartbeat.delivery` reports. One FilterLogEvents and one
    /// GetMetricStatistics; on a local emulator neither (it delivers and counts nothing).
    fn observe<'a>(&'a self, aws: &'a Aws, live: &'a LiveResource) -> Fut<'a, Option<serde_json::Value>> {
        Box::pin(async move {
            if live.resource.name != secmon_spec::HEARTBEAT_MONITOR || aws.endpoint_override.is_some() {
                return Ok(None);
            }
            let a: Attrs = live.resource.attrs();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            let since = now - crate::check::STALE_SECS;
            let request = aws.logs.filter_log_events().log_group_name(&a.log_group).filter_pattern(&a.pattern).start_time(since * 1000);
            let mut pages = request.into_paginator().send();
            let mut reads = Vec::new();
            // Pages may be empty while more events follow (FilterLogEvents API reference).
            for _ in 0..20 {
                let Some(page) = pages.next().await else { break };
                for e in page.map_err(crate::sdk::fail("FilterLogEvents"))?.events() {
                    reads.push(CanaryRead { read_ms: e.timestamp().unwrap_or(0), ingested_ms: e.ingestion_time().unwrap_or(0) });
                }
            }
            let stats = aws
                .cloudwatch
                .get_metric_statistics()
                .namespace(a.metric_namespace.clone().unwrap_or_default())
                .metric_name(a.metric_name.clone().unwrap_or_default())
                .start_time(secmon_aws::DateTime::from_secs(since))
                .end_time(secmon_aws::DateTime::from_secs(now))
                .period(60)
                .statistics(secmon_aws::cloudwatch::types::Statistic::Sum)
                .send()
                .await
                .map_err(crate::sdk::fail("GetMetricStatistics"))?;
            let counted_minutes = stats
                .datapoints()
                .iter()
                .filter(|d| d.sum().unwrap_or(0.0) >= 1.0)
                .filter_map(|d| d.timestamp().map(|t| t.secs()))
                .collect();
            let seen = Heartbeat { reads, counted_minutes };
            Ok(Some(serde_json::json!({ "heartbeat": seen })))
        })
    }

    /// The filter exists, its pattern parses, and an event of the kind it names matches it.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("metric filter {}", desired.name);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing("filter.exists", &subject, "the metric filter does not exist: matching events are counted nowhere");
        };
        if desired.name == secmon_spec::HEARTBEAT_MONITOR {
            return vec![heartbeat_delivery(ctx, live, &subject)];
        }
        if let Err(e) = secmon_sim::Pattern::parse(&live.resource.attrs::<Attrs>().pattern) {
            return vec![Check::failed("filter.pattern", &subject, format!("pattern syntax error at {e}"))];
        }
        let engine = &ctx.filters.engine;
        match ctx.filters.example.get(&desired.name) {
            None => Vec::new(),
            Some((kind, Ok(true))) => {
                vec![Check::ok("filter.matches", &subject, format!("matches a canonical {kind} event (by {engine})"))]
            }
            Some((kind, Ok(false))) => vec![Check::failed(
                "filter.matches",
                &subject,
                format!("matches no event of the kind it names ({kind}): its conditions contradict each other (by {engine})"),
            )
            .fix("fix the pattern; `secmon test-pattern` explains which condition fails")],
            Some((_, Err(e))) => vec![Check::failed("filter.matches", &subject, e.clone())],
        }
    }

    fn create<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let meta: Meta = r.meta();
            let t = MetricTransformation::builder()
                .set_metric_namespace(a.metric_namespace.clone())
                .set_metric_name(a.metric_name.clone())
                .metric_value(a.metric_value.as_deref().unwrap_or("1"))
                .set_default_value(a.default_value)
                .set_dimensions((!a.dimensions.is_empty()).then(|| a.dimensions.clone().into_iter().collect()))
                .build()
                .map_err(|e| KindError::Input(format!("metric transformation: {e}")))?;
            let pattern = meta.pattern_text.as_deref().unwrap_or(&a.pattern);
            let request = aws.logs.put_metric_filter().log_group_name(&a.log_group).filter_name(&r.name);
            send("PutMetricFilter", request.filter_pattern(pattern).metric_transformations(t).send()).await
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let request = aws.logs.delete_metric_filter().log_group_name(r.attrs::<Attrs>().log_group);
        Box::pin(send("DeleteMetricFilter", request.filter_name(&r.name).send()))
    }
}

async fn read_group(aws: &Aws, group: &str) -> Result<Vec<LiveResource>, KindError> {
    let mut out = Vec::new();
    let mut pages = aws.logs.describe_metric_filters().log_group_name(group).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if secmon_aws::error_code(&e) == Some("ResourceNotFoundException") => return Ok(out),
            Err(e) => return Err(AwsError::call("DescribeMetricFilters", e).into()),
        };
        for f in page.metric_filters() {
            let t = f.metric_transformations().first();
            let attrs = Attrs {
                log_group: group.to_string(),
                pattern: normalize_pattern(f.filter_pattern().unwrap_or_default()),
                metric_namespace: t.map(|t| t.metric_namespace().to_string()),
                metric_name: t.map(|t| t.metric_name().to_string()),
                metric_value: t.map(|t| t.metric_value().to_string()),
                default_value: t.and_then(|t| t.default_value()),
                dimensions: t.and_then(|t| t.dimensions()).cloned().unwrap_or_default().into_iter().collect(),
            };
            let r = Resource::new(Kind::MetricFilter, f.filter_name().unwrap_or_default(), None, &attrs);
            out.push(LiveResource::new(r, false));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::FilterEvidence;

    fn filter(name: &str, pattern: &str) -> Resource {
        let attrs = Attrs { log_group: "lg".into(), pattern: pattern.into(), ..Attrs::default() };
        Resource::new(Kind::MetricFilter, name, None, &attrs)
    }

    /// Issue 22, finding 11: five regex filters per log group, other tools' included.
    #[test]
    fn finding_11_a_sixth_regex_filter_on_the_log_group_refuses_the_plan() {
        let others: Vec<Resource> = (0..5).map(|i| filter(&format!("other-{i}"), "%Denied%")).collect();
        let others: Vec<&Resource> = others.iter().collect();
        let e = check_quota(&[&filter("mine", r#"{ $.eventName = %^Get.*% }"#)], &others).unwrap_err();
        assert!(e.contains("6 metric filters with a regular expression") && e.contains("5 put there by others"), "{e}");
        assert!(
            check_quota(&[&filter("mine", r#"{ $.eventName = "GetSecretValue" }"#)], &others).is_ok(),
            "a literal pattern does not count"
        );
    }

    #[test]
    fn a_log_group_full_of_other_tools_filters_refuses_the_plan() {
        // Regression (issue 11, item 9): the 100-filter quota counts filters secmon does not own.
        let mut others: Vec<Resource> = (0..99).map(|i| filter(&format!("other-{i}"), "GetSecretValue")).collect();
        let mine = filter("mine", "GetSecretValue");
        assert!(check_quota(&[&mine], &others.iter().collect::<Vec<_>>()).is_ok());
        others.push(filter("other-99", "GetSecretValue"));
        let e = check_quota(&[&mine], &others.iter().collect::<Vec<_>>()).unwrap_err();
        assert!(e.contains("101 metric filters") && e.contains("100 put there by others"), "{e}");
        assert!(check_quota(&[], &others.iter().collect::<Vec<_>>()).is_ok(), "deleting ours makes room");
    }

    #[test]
    fn pattern_whitespace_outside_quotes_is_not_a_change() {
        assert_eq!(
            normalize_pattern("{ ($.eventSource = \"secretsmanager.amazonaws.com\")   &&\n ($.eventName = \"Get  Secret\") }"),
            "{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"Get  Secret\") }"
        );
    }

    #[test]
    fn moving_a_filter_to_another_log_group_forces_a_replacement() {
        let on = |g: &str| Resource::new(Kind::MetricFilter, "f", None, &Attrs { log_group: g.into(), ..Default::default() });
        assert_eq!(Def.forces_replacement(&on("old"), &on("new")), Some("log_group"));
        assert_eq!(Def.forces_replacement(&on("old"), &on("old")), None);
    }

    #[test]
    fn verify_reports_a_missing_filter_a_broken_pattern_and_the_engines_verdict() {
        use crate::check::testing::*;
        let (spec, mut live) = world();
        let name = desired(&spec, Kind::MetricFilter)[0].name.clone();
        let with = |matched: bool| {
            let mut evidence = FilterEvidence::default();
            evidence.example.insert(name.clone(), ("GetSecretValue".into(), Ok(matched)));
            evidence
        };
        let filter =
            |live: &crate::LiveState, evidence: &FilterEvidence, id: &str| status(&run(&spec, live, evidence, Kind::MetricFilter), id);
        assert_eq!(filter(&live, &with(false), "filter.matches"), Status::Failed);
        assert_eq!(filter(&live, &with(true), "filter.matches"), Status::Ok);
        let mut a: Attrs = first(&mut live, Kind::MetricFilter).resource.attrs();
        a.pattern = "{ $.eventName = ".into();
        set_attrs(&mut live, Kind::MetricFilter, &a);
        assert_eq!(filter(&live, &with(true), "filter.pattern"), Status::Failed);
        live.resources.remove(&crate::Address::new(Kind::MetricFilter, &name));
        assert_eq!(filter(&live, &with(true), "filter.exists"), Status::Failed);
    }

    #[test]
    fn issue_24_verify_reports_the_heartbeats_measured_delay_or_that_it_stopped() {
        use crate::check::testing::*;
        let text = format!("{}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\n", include_str!("../../../specs/seed.yaml"));
        let spec = secmon_spec::Spec::parse(&text, "s.yaml").unwrap().state.resolve(ACCOUNT, REGION).unwrap();
        let mut live = converged(&spec);
        let address = crate::Address::new(Kind::MetricFilter, secmon_spec::HEARTBEAT_MONITOR);
        let mut observe = |seen: Heartbeat| {
            live.resources.get_mut(&address).unwrap().observed = [("heartbeat".to_string(), serde_json::to_value(&seen).unwrap())].into();
            let checks = run(&spec, &live, &FilterEvidence::default(), Kind::MetricFilter);
            checks.into_iter().find(|c| c.id == "heartbeat.delivery").expect("the heartbeat's check")
        };
        // `now` is 1,000,000 s in the test world; a read at 999,400 s, ingested 84 s later, counted.
        let read = CanaryRead { read_ms: 999_400_000, ingested_ms: 999_484_000 };
        let c = observe(Heartbeat { reads: vec![read.clone()], counted_minutes: vec![999_360] });
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.evidence.contains("reached the log group 84 s after it was made") && c.evidence.contains("counted it"), "{c:?}");
        // Arrived long ago, never counted: the filter does not match it.
        assert_eq!(observe(Heartbeat { reads: vec![read], counted_minutes: vec![] }).status, Status::Failed);
        // Nothing arrived in the last hour.
        let c = observe(Heartbeat::default());
        assert_eq!(c.status, Status::Failed);
        assert!(c.evidence.contains("no canary read reached the log group"), "{c:?}");
    }
}
