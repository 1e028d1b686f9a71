//! CloudWatch metric alarm on a monitor's metric. PutMetricAlarm creates and replaces in one
//! call; DescribeAlarms reads up to 100 alarms by name per call.

use std::collections::BTreeMap;

use secmon_aws::cloudwatch::types::{ComparisonOperator, Dimension, MetricDataQuery, Statistic, Tag};
use serde::{Deserialize, Serialize};

use crate::check::{Check, Status, VerifyCtx, NOT_OBSERVABLE};
use crate::sdk::send;
use crate::{Aws, AwsError, ExecCtx, Facts, Fut, Kind, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_sim::lint::{alarm_problems, AlarmView, Impact};
use secmon_spec::DesiredState;
use secmon_spec::{Comparison, Metric};

/// An alarm's compared attributes. AWS leaves `datapoints_to_alarm` and `treat_missing_data`
/// out when they hold their defaults; the reader fills them in so that nothing diffs forever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The alarm's description.
    pub description: Option<String>,
    /// The metric's namespace.
    pub namespace: Option<String>,
    /// The metric's name.
    pub metric_name: Option<String>,
    /// The statistic, e.g. `Sum`.
    pub statistic: Option<String>,
    /// The period, in seconds.
    pub period: Option<i32>,
    /// How many periods are evaluated.
    pub evaluation_periods: i32,
    /// How many of them must breach.
    pub datapoints_to_alarm: i32,
    /// The threshold.
    pub threshold: Option<f64>,
    /// The comparison with the threshold, in CloudWatch's spelling.
    pub comparison: Option<String>,
    /// How missing data counts.
    pub treat_missing_data: TreatMissing,
    /// The topics' ARNs notified on ALARM.
    pub alarm_actions: Vec<String>,
    /// The topics' ARNs notified on the return to OK (`ok_actions: true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<String>,
    /// The topics' ARNs notified when the alarm has no data (`insufficient_data_actions: true`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub insufficient_data_actions: Vec<String>,
    /// The metric's dimensions the alarm watches.
    pub dimensions: BTreeMap<String, String>,
    /// A contributor's alarm (issue 25, item 1) watches a metric math expression, its rule's
    /// `INSIGHT_RULE_METRIC`, over `period`, instead of a namespace and metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

crate::string_with_default! {
    /// `TreatMissingData`; AWS's default is `missing`.
    TreatMissing = "missing"
}

/// What the read sees of the alarm besides its settings, for verify.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: Option<String>,
    /// Whether the alarm's actions are enabled.
    pub actions_enabled: Option<bool>,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::TaggingApi,
    // An alarm watches the metric a filter publishes: the filter is made first, and on a log
    // group secmon does not manage the alarm is what makes the filter secmon's (`settle`).
    // A contributor's alarm reads its Contributor Insights rule's metric.
    refers_to: &[Kind::Topic, Kind::MetricFilter, Kind::InsightRule],
    step: 5,
    iam: crate::Iam {
        read: &["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
        write: &["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"],
        writes_on: None,
    },
};
/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// Metric filters cannot be tagged: they are owned with their log group. On a log group
    /// secmon does not manage (`trail.external`, issue 25, item 4) a filter is this spec's when
    /// an alarm this spec owns (tagged) watches exactly the metric it publishes, the metric the
    /// spec gave that monitor; no other tool's filter publishes there unless it was made to
    /// count into secmon's alarm.
    fn settle(&self, state: &mut crate::LiveState) {
        let watched: std::collections::BTreeSet<(String, String)> = state
            .resources
            .values()
            .filter(|l| l.owned && l.resource.kind == Kind::Alarm)
            .filter_map(|l| {
                let a: Attrs = l.resource.attrs();
                Some((a.namespace?, a.metric_name?))
            })
            .collect();
        let proven: Vec<crate::Address> = state
            .resources
            .values()
            .filter(|l| l.resource.kind == Kind::MetricFilter && !l.owned)
            // Its container was not read: a log group secmon does not manage.
            .filter(|l| l.resource.kind.def().container(&l.resource).is_some_and(|c| !state.resources.contains_key(&c)))
            .filter(|l| {
                let f: crate::metric_filter::Attrs = l.resource.attrs();
                f.metric_namespace.zip(f.metric_name).is_some_and(|m| watched.contains(&m))
            })
            .map(|l| l.resource.address())
            .collect();
        for address in proven {
            if let Some(l) = state.resources.get_mut(&address) {
                l.owned = true;
            }
        }
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        state
            .monitors
            .iter()
            .map(|m| {
                let mut actions: Vec<String> = m.notify.iter().map(|n| t.topic_arn(n)).collect();
                actions.sort();
                actions.dedup();
                let attrs = Attrs {
                    description: description(state, m),
                    namespace: Some(m.metric.namespace.clone()),
                    metric_name: Some(m.metric.name.clone()),
                    statistic: Some(m.alarm.statistic.clone()),
                    dimensions: m.alarm.dimensions.clone(),
                    ..settings(&m.alarm, actions)
                };
                Resource::new(Kind::Alarm, m.alarm_name(), Some(t.alarm_arn(m.alarm_name())), &attrs)
            })
            .chain(contributor_alarms(state, t))
            .collect()
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let a: Attrs = r.attrs();
        let topics = a
            .alarm_actions
            .iter()
            .filter_map(|arn| crate::model::arn_resource(arn, "sns"))
            .map(|topic| crate::Address::new(Kind::Topic, topic));
        let rule = a.expression.as_deref().and_then(insight_rule_of).map(|rule| crate::Address::new(Kind::InsightRule, rule));
        topics.chain(rule).collect()
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "cloudwatch", "alarm:")
    }

    /// PutMetricAlarm and DeleteAlarms: about 3 transactions per second per account (CloudWatch service quotas).
    fn writes_per_second(&self) -> Option<u32> {
        Some(3)
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let names: Vec<String> = ctx.desired_of(Kind::Alarm).iter().map(|r| r.name.clone()).collect();
            let mut out = Vec::new();
            for chunk in names.chunks(100) {
                let mut pages = aws.cloudwatch.describe_alarms().set_alarm_names(Some(chunk.to_vec())).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| AwsError::call("DescribeAlarms", e))?;
                    for a in page.metric_alarms() {
                        let observed =
                            Observed { state: a.state_value().map(|s| s.as_str().to_string()), actions_enabled: a.actions_enabled() };
                        out.push(LiveResource::new(from_sdk(a), false).with_observed(&observed));
                    }
                }
            }
            Ok(out)
        })
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(crate::sdk::cloudwatch_owner(aws, r.arn.as_deref().unwrap_or_default()))
    }

    /// The alarm watches its filter's metric, can fire, notifies existing topics, has data.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("alarm {}", desired.name);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing("alarm.exists", &subject, "the alarm does not exist: the metric is counted but nobody is told");
        };
        let a: Attrs = live.resource.attrs();
        let mut out = Vec::new();
        if let Some(want) = desired.attrs::<Attrs>().expression {
            out.push(if a.expression.as_deref() == Some(want.as_str()) {
                Check::ok("alarm.metric", &subject, format!("watches {want}"))
            } else {
                Check::failed(
                    "alarm.metric",
                    &subject,
                    format!("the alarm watches {}, not {want}", a.expression.as_deref().unwrap_or("a metric")),
                )
                .fix("run `secmon apply`")
            });
        }
        if let Some((filter, metric)) = published_metric(ctx, &desired.name) {
            if a.namespace.as_deref() != Some(metric.namespace.as_str()) || a.metric_name.as_deref() != Some(metric.name.as_str()) {
                out.push(
                    Check::failed(
                        "alarm.metric",
                        &subject,
                        format!(
                            "the alarm watches {}/{}, but filter {filter} publishes {}/{}",
                            a.namespace.as_deref().unwrap_or("?"),
                            a.metric_name.as_deref().unwrap_or("?"),
                            metric.namespace,
                            metric.name
                        ),
                    )
                    .fix("run `secmon apply`"),
                );
            }
            out.extend(can_fire(&subject, &a, &metric));
        }
        out.extend(actions(ctx, &subject, &a, &live.observed()));
        out
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let a: Attrs = r.attrs();
        let req = aws
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(&r.name)
            .set_alarm_description(a.description.clone())
            .evaluation_periods(a.evaluation_periods)
            .datapoints_to_alarm(a.datapoints_to_alarm)
            .set_threshold(a.threshold)
            .set_comparison_operator(a.comparison.as_deref().map(ComparisonOperator::from))
            .treat_missing_data(&a.treat_missing_data.0)
            .actions_enabled(true)
            .set_alarm_actions(Some(a.alarm_actions.clone()))
            .set_ok_actions(Some(a.ok_actions.clone()))
            .set_insufficient_data_actions(Some(a.insufficient_data_actions.clone()))
            .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build());
        let req = match &a.expression {
            // A metric math alarm (a contributor's): the period is the query's, and no metric,
            // statistic or dimension is named (PutMetricAlarm API reference, `Metrics`).
            Some(expression) => {
                req.metrics(MetricDataQuery::builder().id(QUERY_ID).expression(expression).set_period(a.period).return_data(true).build())
            }
            None => {
                let statistic = a.statistic.as_deref().unwrap_or("Sum");
                let dimensions = a.dimensions.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build());
                let req = req
                    .set_namespace(a.namespace.clone())
                    .set_metric_name(a.metric_name.clone())
                    .set_period(a.period)
                    .set_dimensions(Some(dimensions.collect()));
                if statistic.starts_with('p') {
                    req.extended_statistic(statistic)
                } else {
                    req.statistic(Statistic::from(statistic))
                }
            }
        };
        Box::pin(send("PutMetricAlarm", req.send()))
    }

    /// DeleteAlarms takes up to 100 names: with alarm writes limited to about 3 a second, a
    /// destroy of many monitors is one call per hundred alarms (issue 11, item 3).
    fn delete_batch(&self) -> Option<usize> {
        Some(100)
    }

    fn delete_many<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, rs: &'a [Resource]) -> Fut<'a, ()> {
        let names = rs.iter().map(|r| r.name.clone()).collect();
        Box::pin(send("DeleteAlarms", aws.cloudwatch.delete_alarms().set_alarm_names(Some(names)).send()))
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(send("DeleteAlarms", aws.cloudwatch.delete_alarms().alarm_names(&r.name).send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        Box::pin(crate::sdk::cloudwatch_tag(aws, r.arn.as_deref().unwrap_or_default(), tags))
    }
}

/// The id of a contributor alarm's one metric query (`[a-z][a-zA-Z0-9_]*`).
const QUERY_ID: &str = "contributors";

/// The alarms of the spec's contributors: each on its rule's measure (issue 25, item 1).
fn contributor_alarms<'a>(state: &'a DesiredState, t: &'a Target) -> impl Iterator<Item = Resource> + 'a {
    let has_rules = state.log_group().is_some();
    state.contributors.iter().filter(move |_| has_rules).map(move |c| {
        let mut actions: Vec<String> = c.notify.iter().map(|n| t.topic_arn(n)).collect();
        actions.sort();
        actions.dedup();
        let attrs = Attrs { description: c.alarm_description(), expression: Some(c.expression()), ..settings(&c.alarm, actions) };
        Resource::new(Kind::Alarm, c.alarm_name(), Some(t.alarm_arn(c.alarm_name())), &attrs)
    })
}

/// What an alarm of the spec sets whatever it watches: its period, evaluation, threshold,
/// comparison, missing data and the topics of each state (`actions`, sorted).
fn settings(a: &secmon_spec::Alarm, actions: Vec<String>) -> Attrs {
    Attrs {
        period: Some(a.period as i32),
        evaluation_periods: a.evaluation_periods as i32,
        datapoints_to_alarm: a.datapoints_to_alarm.unwrap_or(a.evaluation_periods) as i32,
        threshold: Some(a.threshold),
        comparison: Some(a.comparison.as_str().to_string()),
        treat_missing_data: TreatMissing(a.treat_missing_data.as_str().to_string()),
        ok_actions: if a.ok_actions { actions.clone() } else { Vec::new() },
        insufficient_data_actions: if a.insufficient_data_actions { actions.clone() } else { Vec::new() },
        alarm_actions: actions,
        ..Default::default()
    }
}

/// The Contributor Insights rule an `INSIGHT_RULE_METRIC('RULE', 'METRIC')` expression reads.
fn insight_rule_of(expression: &str) -> Option<&str> {
    expression.strip_prefix("INSIGHT_RULE_METRIC('")?.split('\'').next()
}

/// The alarm's description: the monitor's, and with `alert_context` the Logs Insights query
/// that lists the events behind the alarm (issue 24, item 1), when the whole fits in the 1,024
/// characters AWS allows (PutMetricAlarm API reference).
fn description(state: &DesiredState, m: &secmon_spec::Monitor) -> Option<String> {
    let own = m.alarm_description();
    let query = secmon_sim::Pattern::parse(&m.pattern).ok().and_then(|p| secmon_sim::insights::query(&p));
    let (Some(query), Some(log_group), true) = (query, state.log_group(), state.wants_alert_context(m)) else { return own };
    let events = format!("Events: CloudWatch Logs Insights on log group {log_group}, over the alarm's period before its time: {query}");
    let text = match &own {
        Some(d) => format!("{} {events}", d.trim_end()),
        None => events,
    };
    if text.chars().count() <= 1024 {
        Some(text)
    } else {
        own
    }
}

/// The filter of the alarm's monitor and the metric it publishes (as live, else as the spec says).
fn published_metric(ctx: &VerifyCtx, alarm: &str) -> Option<(String, Metric)> {
    let m = ctx.spec.monitors.iter().find(|m| m.alarm_name() == alarm)?;
    let live = ctx
        .live
        .resources
        .values()
        .filter(|l| l.resource.name == m.filter_name())
        .find_map(|l| l.resource.kind.def().published_metric(&l.resource));
    Some((m.filter_name().to_string(), live.unwrap_or_else(|| m.metric.clone())))
}

/// Whether the live alarm can fire on the metric (secmon's lint, over the live settings).
fn can_fire(subject: &str, a: &Attrs, metric: &Metric) -> Vec<Check> {
    // The live settings as AWS answered them; what it did not answer is not judged.
    let live = AlarmView {
        statistic: a.statistic.as_deref().unwrap_or_default(),
        period: a.period.and_then(|p| u32::try_from(p).ok()),
        threshold: a.threshold,
        comparison: a.comparison.as_deref().and_then(Comparison::parse).unwrap_or_default(),
    };
    let problems = alarm_problems(&live, metric);
    if problems.is_empty() {
        let said = |v: Option<String>| v.unwrap_or_else(|| "(not set)".into());
        let evidence = format!(
            "{} over {} s {} {}",
            live.statistic,
            said(live.period.map(|p| p.to_string())),
            live.comparison.as_str(),
            said(live.threshold.map(|t| t.to_string()))
        );
        return vec![Check::ok("alarm.can_fire", subject, evidence)];
    }
    problems
        .into_iter()
        .map(|p| {
            let status = if p.impact == Impact::CannotFire { Status::Failed } else { Status::Warning };
            Check::new(status, "alarm.can_fire", subject, format!("{}: {}", p.field, p.message)).fix(p.hint)
        })
        .collect()
}

/// Actions enabled, at least one, each an existing topic; and the alarm's state.
fn actions(ctx: &VerifyCtx, subject: &str, a: &Attrs, seen: &Observed) -> Vec<Check> {
    let mut out = Vec::new();
    if seen.actions_enabled == Some(false) {
        out.push(Check::failed("alarm.actions", subject, "alarm actions are disabled").fix("run `secmon apply`"));
    }
    if a.alarm_actions.is_empty() {
        out.push(
            Check::failed("alarm.actions", subject, "the alarm has no action: nobody is notified")
                .fix("add topics to the monitor's `notify`"),
        );
    }
    for arn in &a.alarm_actions {
        let Some(topic) = crate::model::arn_resource(arn, "sns") else {
            continue;
        };
        let ours = *arn == ctx.target.topic_arn(topic);
        out.push(if ours && ctx.live.resources.contains_key(&crate::Address::new(Kind::Topic, topic)) {
            Check::ok("alarm.actions", subject, format!("notifies {arn}"))
        } else if ours && ctx.spec.topics.iter().any(|t| t.name == topic) {
            Check::failed("alarm.actions", subject, format!("the alarm notifies {arn}, which does not exist"))
                .fix("run `secmon apply` (it recreates the topic and points the alarm at it)")
        } else {
            Check::warning("alarm.actions", subject, format!("the alarm notifies {arn}, a topic this spec does not manage: not checked"))
                .fix("name the topic in the spec's `topics` to have it checked")
        });
    }
    let state = seen.state.clone().unwrap_or_default();
    out.push(match state.as_str() {
        "OK" | "ALARM" => Check::ok("alarm.state", subject, format!("state {state}")),
        _ if ctx.local_endpoint => Check::not_observable("alarm.state", subject, format!("state {state}: {NOT_OBSERVABLE}")),
        _ => Check::warning("alarm.state", subject, format!("state {state}: the alarm has not received data"))
            .fix("a metric default value (0) makes quiet periods visible; check the log group receives events"),
    });
    out
}

/// An alarm as DescribeAlarms returns it, in the model.
fn from_sdk(a: &secmon_aws::cloudwatch::types::MetricAlarm) -> Resource {
    let evaluation_periods = a.evaluation_periods().unwrap_or(1);
    let mut actions: Vec<String> = a.alarm_actions().to_vec();
    actions.sort();
    let mut ok_actions: Vec<String> = a.ok_actions().to_vec();
    ok_actions.sort();
    let mut insufficient_data_actions: Vec<String> = a.insufficient_data_actions().to_vec();
    insufficient_data_actions.sort();
    // A metric math alarm answers its query, with the period, in `Metrics`.
    let query = a.metrics().iter().find(|q| q.return_data() != Some(false) && q.expression().is_some());
    let attrs = Attrs {
        expression: query.and_then(|q| q.expression()).map(str::to_string),
        description: a.alarm_description().map(str::to_string),
        namespace: a.namespace().map(str::to_string),
        metric_name: a.metric_name().map(str::to_string),
        statistic: a.statistic().map(|s| s.as_str().to_string()).or_else(|| a.extended_statistic().map(str::to_string)),
        period: a.period().or_else(|| query.and_then(|q| q.period())),
        evaluation_periods,
        datapoints_to_alarm: a.datapoints_to_alarm().unwrap_or(evaluation_periods),
        threshold: a.threshold(),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
        treat_missing_data: a.treat_missing_data().map(|t| TreatMissing(t.to_string())).unwrap_or_default(),
        alarm_actions: actions,
        ok_actions,
        insufficient_data_actions,
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string()))
            .collect(),
    };
    Resource::new(Kind::Alarm, a.alarm_name().unwrap_or_default(), a.alarm_arn().map(str::to_string), &attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_treat_missing_data_reads_and_writes_as_missing() {
        // Regression (issue 14): the reader fell back to `missing`, the writer to `notBreaching`.
        let r = Resource::bare(Kind::Alarm, "a", None);
        assert_eq!(r.attrs::<Attrs>().treat_missing_data.0, "missing");
    }

    #[test]
    fn references_are_the_topics_it_notifies() {
        let r = Resource::new(
            Kind::Alarm,
            "a",
            None,
            &Attrs { alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:T".into()], ..Default::default() },
        );
        assert_eq!(Def.references(&r), vec!["topic.T"]);
    }

    #[test]
    fn verify_follows_the_alarm_from_its_metric_to_its_topics() {
        use crate::check::testing::*;
        let (spec, mut live) = world();
        let ok = run(&spec, &live, &Default::default(), Kind::Alarm);
        assert_eq!(status(&ok, "alarm.can_fire"), Status::Ok);
        assert_eq!(status(&ok, "alarm.actions"), Status::Ok);
        assert_eq!(status(&ok, "alarm.state"), Status::Warning, "no state observed: no data yet");

        // The seeds' classic: Average over 300 s cannot fire on a count.
        let mut a: Attrs = first(&mut live, Kind::Alarm).resource.attrs();
        a.statistic = Some("Average".into());
        set_attrs(&mut live, Kind::Alarm, &a);
        let l = first(&mut live, Kind::Alarm);
        *l = l.clone().with_observed(&Observed { state: Some("OK".into()), actions_enabled: Some(false) });
        let bad = run(&spec, &live, &Default::default(), Kind::Alarm);
        assert_eq!(status(&bad, "alarm.can_fire"), Status::Failed);
        assert_eq!(status(&bad, "alarm.actions"), Status::Failed);
        assert_eq!(status(&bad, "alarm.state"), Status::Ok);

        // Its topic deleted: the action points nowhere.
        let topic = first(&mut live, Kind::Topic).resource.address();
        live.resources.remove(&topic);
        let orphan = run(&spec, &live, &Default::default(), Kind::Alarm);
        let gone = |c: &Check| c.id == "alarm.actions" && c.status == Status::Failed && c.evidence.contains("does not exist");
        assert!(orphan.iter().any(gone), "{orphan:#?}");
    }

    /// Issue 23, item 5: the live alarm is judged as AWS answered it; a setting it did not
    /// answer is said to be unset, never filled with a default of verify's own.
    #[test]
    fn the_live_alarm_is_judged_without_defaults_of_verifys_own() {
        let metric = secmon_spec::Metric {
            namespace: "N".into(),
            name: "M".into(),
            value: "1".into(),
            default: None,
            dimensions: Default::default(),
        };
        let slow = Attrs { statistic: Some("Sum".into()), period: Some(300), threshold: Some(1.0), ..Default::default() };
        let checks = can_fire("alarm a", &slow, &metric);
        assert!(checks.iter().any(|c| c.status == Status::Warning && c.evidence.contains("300-second period")), "{checks:#?}");
        let unset = Attrs { statistic: Some("Sum".into()), ..Default::default() };
        let checks = can_fire("alarm a", &unset, &metric);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].evidence.contains("(not set) s") && checks[0].evidence.contains("(not set)"), "{checks:#?}");
    }
}
