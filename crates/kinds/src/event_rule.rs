//! EventBridge rule giving an alert its context (issue 24, item 1): for each event a monitor
//! counts, its topics receive a notification naming who did what, from where, when, and where
//! to find the event. The metric alarm stays: it is what auditors check (CIS 4.x, Security Hub
//! CloudWatch.x) and what pages when events stop; the rule adds the context the alarm cannot
//! carry.
//!
//! Why EventBridge rules, not enrichment after the alarm: a rule sees each CloudTrail event in
//! about a second, with every field of the record, and its input transformer writes the text
//! with no code to run or secure; enrichment would need a function with read access to the log
//! group, querying after the alarm's period has closed. The costs of the choice, in
//! docs/alerts.md: one message per event (not per alarm), and only the events of the rule's
//! region (EventBridge receives CloudTrail events regionally; global services' in us-east-1).
//!
//! The pattern and the text are `secmon_sim::eventbridge`'s: that module proves the pattern
//! matches exactly what the metric filter counts, on real attack records.
//!
//! With a heartbeat (issue 24, item 3) one more rule, on a schedule, starts the heartbeat's
//! state machine through the starter role. A schedule rule, not EventBridge Scheduler: the
//! target is `StartExecution`, which both can start, and a rule is a kind secmon already reads
//! in its one `ListRules`; Scheduler's universal targets would refuse the read itself
//! (`GetSecretValue`, a read-only action: EventBridge Scheduler user guide, "Using universal
//! targets"), which is why a state machine carries the read.

use std::collections::BTreeMap;

use secmon_aws::events::types::{InputTransformer, RuleState, Tag, Target as EventTarget};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, read_fail, send};
use crate::{Aws, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG};
use secmon_sim::eventbridge::{fast_path_monitors, without_fast_path, Transformer};
use secmon_spec::DesiredState;

/// The state that lets read-only management events such as `GetSecretValue` reach the rule
/// (EventBridge user guide, "Receiving read-only management events from AWS services"); with
/// `ENABLED`, a rule on secret reads would never match.
pub const STATE: &str = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS";

/// A rule name: 1 to 64 characters of `[.-_A-Za-z0-9]` (EventBridge API reference, `PutRule`).
const MAX_NAME: usize = 64;

/// The rule, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// Which monitor the rule gives context to.
    pub description: String,
    /// The event pattern, as compact JSON with sorted keys (how it is compared); empty on a
    /// schedule rule.
    pub event_pattern: String,
    /// The schedule (`rate(5 minutes)`) of the heartbeat's rule; empty on a pattern rule.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schedule_expression: String,
    /// The rule's state ([`STATE`]).
    pub state: String,
    /// Its targets, by id: one per topic of the monitor.
    pub targets: Vec<RuleTarget>,
}

/// One target of the rule: a topic, and the input transformer that writes the notification.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleTarget {
    /// The target's id in the rule: the topic's name (at most 64 characters).
    pub id: String,
    /// The topic's ARN.
    pub arn: String,
    /// `InputPathsMap`.
    pub input_paths: BTreeMap<String, String>,
    /// `InputTemplate`.
    pub input_template: String,
    /// The role EventBridge assumes to call the target (a state machine needs one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::TaggingApi,
    refers_to: &[Kind::Topic, Kind::StateMachine, Kind::Role],
    step: 5,
    iam: crate::Iam {
        read: &["events:ListRules", "events:ListTargetsByRule", "events:ListTagsForResource"],
        write: &["events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule", "events:TagResource"],
        writes_on: None,
    },
};

/// The rule's name for monitor `monitor` of spec `spec`: `secmon-<spec>-<monitor>`, characters
/// EventBridge refuses replaced by `-`, cut to 64 with a digest of the whole when longer (two
/// long monitor names then still get two rules).
pub fn rule_name(spec: &str, monitor: &str) -> String {
    let full: String =
        format!("secmon-{spec}-{monitor}").chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '-' }).collect();
    if full.len() <= MAX_NAME {
        return full;
    }
    // FNV-1a: stable across runs and platforms, which a name must be.
    let digest = full.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{}-{:08x}", &full[..MAX_NAME - 9], digest as u32)
}

/// The name of the rule that starts the heartbeat.
pub fn heartbeat_rule_name(spec: &str) -> String {
    rule_name(spec, "heartbeat-schedule")
}

/// The heartbeat's schedule rule: every `every`, EventBridge starts the state machine with the
/// starter role (none on a target watched from another region).
fn heartbeat_rule(state: &DesiredState, t: &Target) -> Option<Resource> {
    let (hb, n) = (state.heartbeat.as_ref()?, state.heartbeat_names()?);
    if state.watched_from.is_some() {
        return None;
    }
    let minutes = hb.minutes()?;
    let name = heartbeat_rule_name(&state.name);
    let attrs = Attrs {
        description: format!("secmon: reads the heartbeat canary every {}", hb.every),
        event_pattern: String::new(),
        // "rate(1 minute)", singular, else plural (EventBridge user guide, "Rate expressions").
        schedule_expression: if minutes == 1 { "rate(1 minute)".into() } else { format!("rate({minutes} minutes)") },
        state: "ENABLED".into(),
        targets: vec![RuleTarget {
            id: "heartbeat".into(),
            arn: t.arn("states", &format!("stateMachine:{}", n.state_machine)),
            role_arn: t.role_arn(&n.starter_role),
            ..Default::default()
        }],
    };
    Some(Resource::new(Kind::EventRule, &name, Some(t.arn("events", &format!("rule/{name}"))), &attrs))
}

/// The ARNs of the rules that publish to `topic`: its topic policy admits exactly them.
pub fn rules_publishing_to(state: &DesiredState, t: &Target, topic: &str) -> Vec<String> {
    let mut arns: Vec<String> = fast_path_monitors(state)
        .into_iter()
        .filter(|(m, _)| m.notify.iter().any(|n| n == topic))
        .map(|(m, _)| t.arn("events", &format!("rule/{}", rule_name(&state.name, &m.name))))
        .collect();
    arns.sort();
    arns
}

/// The event pattern as compared: compact, keys sorted (serde_json's map is ordered).
fn canonical(pattern: &Value) -> String {
    pattern.to_string()
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let log_group = state.log_group().unwrap_or("(the trail's log group)").to_string();
        fast_path_monitors(state)
            .into_iter()
            .map(|(m, pattern)| {
                let name = rule_name(&state.name, &m.name);
                let text = Transformer::notification(&m.name, &log_group, m.alarm_description().as_deref());
                let chat = Transformer::chat_notification(&m.name, &log_group, m.alarm_description().as_deref());
                let mut topics: Vec<&String> = m.notify.iter().collect();
                topics.sort();
                topics.dedup();
                let targets = topics
                    .into_iter()
                    .map(|topic| {
                        // Chatbot posts a custom notification and drops plain text; e-mail and
                        // webhooks want the text (docs/alerts.md, "Chat channels").
                        let chat_only = state.topics.iter().any(|tp| &tp.name == topic && tp.posts_to_chat_only());
                        let transformer = if chat_only { &chat } else { &text };
                        RuleTarget {
                            id: topic.chars().take(MAX_NAME).collect(),
                            arn: t.topic_arn(topic),
                            input_paths: transformer.paths.clone(),
                            input_template: transformer.template.clone(),
                            role_arn: String::new(),
                        }
                    })
                    .collect();
                let attrs = Attrs {
                    description: format!("secmon: the context of each event monitor {} counts", m.name).chars().take(512).collect(),
                    event_pattern: canonical(&pattern),
                    schedule_expression: String::new(),
                    state: STATE.into(),
                    targets,
                };
                Resource::new(Kind::EventRule, &name, Some(t.arn("events", &format!("rule/{name}"))), &attrs)
            })
            .chain(heartbeat_rule(state, t))
            .collect()
    }

    /// PutTargets hands EventBridge the heartbeat's starter role; an alert context's rule
    /// targets topics and passes none.
    fn passes_role_to(&self, r: &Resource) -> Option<&'static str> {
        r.attrs::<Attrs>().targets.iter().any(|tg| !tg.role_arn.is_empty()).then_some("events.amazonaws.com")
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let mut out = Vec::new();
        for tg in r.attrs::<Attrs>().targets {
            if let Some(topic) = crate::model::arn_resource(&tg.arn, "sns") {
                out.push(crate::Address::new(Kind::Topic, topic));
            }
            if let Some(machine) = crate::model::arn_name(&tg.arn, "states", "stateMachine:") {
                out.push(crate::Address::new(Kind::StateMachine, &machine));
            }
            if let Some(role) = tg.role_arn.rsplit_once('/').map(|(_, name)| name).filter(|_| !tg.role_arn.is_empty()) {
                out.push(crate::Address::new(Kind::Role, role));
            }
        }
        out
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "events", "rule/")
    }

    fn plan_notes(&self, r: &Resource) -> Vec<String> {
        if !r.attrs::<Attrs>().schedule_expression.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{}: one notification per matching event, sent by EventBridge in this region only (free for AWS service events; SNS e-mail deliveries beyond the free tier are charged, docs/alerts.md)",
            r.address()
        )]
    }

    fn spec_notes(&self, state: &DesiredState) -> Vec<String> {
        let mut notes: Vec<String> = without_fast_path(state)
            .into_iter()
            .map(|(m, why)| format!("monitor `{}` has no alert context (alert_context): {why}; its alarm still notifies", m.name))
            .collect();
        // A topic read both in chat and elsewhere gets the text, which Chatbot does not post.
        let mut missed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (m, _) in fast_path_monitors(state) {
            for tp in state.topics.iter().filter(|tp| m.notify.contains(&tp.name)) {
                if tp.posts_to_chat() && !tp.posts_to_chat_only() {
                    missed.entry(tp.name.as_str()).or_default().push(m.name.as_str());
                }
            }
        }
        for (topic, monitors) in missed {
            let named: Vec<String> = monitors.iter().map(|m| format!("`{m}`")).collect();
            notes.push(format!(
                "topic `{topic}` posts to chat channels and to other subscribers: its chat channels show the alarms but not the alert context of {} ({}), as AWS Chatbot posts AWS services' notifications and custom notifications only, which e-mail and webhooks would show as JSON; give the channels a topic that posts to chat only to see it there",
                if named.len() == 1 { "monitor".to_string() } else { format!("{} monitors", named.len()) },
                named.join(", ")
            ));
        }
        notes
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(read(aws, ctx))
    }

    fn read_owner<'a>(&'a self, aws: &'a Aws, r: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let request = aws.events.list_tags_for_resource().resource_arn(r.arn.clone().unwrap_or_default());
            let tags = request.send().await.map_err(fail("ListTagsForResource"))?;
            Ok(tags.tags().iter().find_map(|t| (t.key() == OWNER_TAG).then(|| t.value().to_string())))
        })
    }

    /// The rule exists, receives read-only management events, and sends to each topic.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        const MISSING: &str = "the rule does not exist: alarms fire, but without the context of each event";
        let subject = format!("event rule {}", desired.name);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("event_rule.exists", &subject, MISSING) };
        let (want, got): (Attrs, Attrs) = (desired.attrs(), live.resource.attrs());
        if !want.schedule_expression.is_empty() {
            return verify_schedule(&subject, &want, &got);
        }
        let mut out = vec![if got.state == STATE {
            Check::ok("event_rule.state", &subject, format!("state {STATE}: read-only management events reach it"))
        } else {
            Check::failed(
                "event_rule.state",
                &subject,
                format!("state {}: read-only management events such as GetSecretValue never reach the rule", got.state),
            )
            .fix("run `secmon apply`")
        }];
        out.push(if got.event_pattern == want.event_pattern {
            Check::ok("event_rule.pattern", &subject, "its event pattern is the monitor's filter pattern, translated")
        } else {
            Check::failed("event_rule.pattern", &subject, "its event pattern is not the monitor's: it alerts on other events")
                .fix("run `secmon apply`")
        });
        for target in &want.targets {
            out.push(match got.targets.iter().find(|g| g.arn == target.arn) {
                Some(g) if g == target => Check::ok("event_rule.targets", &subject, format!("notifies {}", target.arn)),
                Some(_) => Check::failed("event_rule.targets", &subject, format!("the notification to {} is not secmon's", target.arn))
                    .fix("run `secmon apply`"),
                None => Check::failed("event_rule.targets", &subject, format!("{} is not notified", target.arn)).fix("run `secmon apply`"),
            });
        }
        out
    }

    fn create<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let tag = Tag::builder().key(OWNER_TAG).value(&_ctx.spec).build().map_err(|e| KindError::Input(e.to_string()))?;
            put_rule(aws, r, Some(tag)).await?;
            put_targets(aws, r, &[]).await
        })
    }

    /// PutRule replaces the rule's settings; PutTargets replaces targets by id, and the ids no
    /// longer wanted are removed.
    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, before: &'a Resource, after: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            put_rule(aws, after, None).await?;
            let live: Attrs = before.attrs();
            let ids: Vec<String> = live.targets.into_iter().map(|t| t.id).collect();
            put_targets(aws, after, &ids).await
        })
    }

    /// A rule with targets cannot be deleted (DeleteRule): its targets are removed first.
    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let listed = aws.events.list_targets_by_rule().rule(&r.name).send().await;
            let ids: Vec<String> = match listed {
                Ok(l) => l.targets().iter().map(|t| t.id().to_string()).collect(),
                Err(e) if secmon_aws::error_code(&e).is_some_and(crate::not_found) => return Ok(()),
                Err(e) => return Err(fail("ListTargetsByRule")(e)),
            };
            if !ids.is_empty() {
                let removed = aws.events.remove_targets().rule(&r.name).set_ids(Some(ids)).send().await.map_err(fail("RemoveTargets"))?;
                if removed.failed_entry_count() > 0 {
                    return Err(entries_failed(
                        "RemoveTargets",
                        removed.failed_entries().iter().map(|f| (f.target_id(), f.error_message())),
                    ));
                }
            }
            send("DeleteRule", aws.events.delete_rule().name(&r.name).send()).await
        })
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        Box::pin(async move {
            let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<Vec<_>, _>>();
            let tags = tags.map_err(|e| KindError::Input(e.to_string()))?;
            let request = aws.events.tag_resource().resource_arn(r.arn.clone().unwrap_or_default()).set_tags(Some(tags));
            send("TagResource", request.send()).await
        })
    }
}

/// The heartbeat's schedule rule: enabled, on the spec's schedule, starting the state machine
/// with the starter role.
fn verify_schedule(subject: &str, want: &Attrs, got: &Attrs) -> Vec<Check> {
    let schedule = &got.schedule_expression;
    vec![
        Check::holds(
            got.state == "ENABLED" && *schedule == want.schedule_expression,
            "event_rule.schedule",
            subject,
            format!("enabled, {schedule}"),
            |id, s| {
                let state = &got.state;
                Check::failed(id, s, format!("state {state}, schedule {schedule:?}: the heartbeat is not started as the spec says"))
                    .fix("run `secmon apply`")
            },
        ),
        Check::holds(
            got.targets == want.targets,
            "event_rule.targets",
            subject,
            "starts the heartbeat's state machine with the starter role",
            |id, s| Check::failed(id, s, "it does not start the heartbeat's state machine with the starter role").fix("run `secmon apply`"),
        ),
    ]
}

/// PutRule with the rule's pattern, state and description (and the owner tag on create:
/// tags given to PutRule apply only when it creates the rule).
async fn put_rule(aws: &Aws, r: &Resource, tag: Option<Tag>) -> Result<(), KindError> {
    let a: Attrs = r.attrs();
    let mut request = aws
        .events
        .put_rule()
        .name(&r.name)
        .state(RuleState::from(a.state.as_str()))
        .description(&a.description)
        .set_tags(tag.map(|t| vec![t]));
    request = if a.schedule_expression.is_empty() {
        request.event_pattern(&a.event_pattern)
    } else {
        request.schedule_expression(&a.schedule_expression)
    };
    send("PutRule", request.send()).await
}

/// PutTargets with the rule's targets, then RemoveTargets for `live_ids` no longer wanted.
/// Both answer HTTP 200 with failed entries, which are errors here.
async fn put_targets(aws: &Aws, r: &Resource, live_ids: &[String]) -> Result<(), KindError> {
    let a: Attrs = r.attrs();
    let mut targets = Vec::new();
    for t in &a.targets {
        let mut target = EventTarget::builder().id(&t.id).arn(&t.arn);
        if !t.input_template.is_empty() {
            let transformer = InputTransformer::builder()
                .set_input_paths_map(Some(t.input_paths.clone().into_iter().collect()))
                .input_template(&t.input_template)
                .build()
                .map_err(|e| KindError::Input(e.to_string()))?;
            target = target.input_transformer(transformer);
        }
        if !t.role_arn.is_empty() {
            target = target.role_arn(&t.role_arn);
        }
        targets.push(target.build().map_err(|e| KindError::Input(e.to_string()))?);
    }
    let put = aws.events.put_targets().rule(&r.name).set_targets(Some(targets)).send().await.map_err(fail("PutTargets"))?;
    if put.failed_entry_count() > 0 {
        return Err(entries_failed("PutTargets", put.failed_entries().iter().map(|f| (f.target_id(), f.error_message()))));
    }
    let stale: Vec<String> = live_ids.iter().filter(|id| !a.targets.iter().any(|t| &t.id == *id)).cloned().collect();
    if !stale.is_empty() {
        let removed = aws.events.remove_targets().rule(&r.name).set_ids(Some(stale)).send().await.map_err(fail("RemoveTargets"))?;
        if removed.failed_entry_count() > 0 {
            return Err(entries_failed("RemoveTargets", removed.failed_entries().iter().map(|f| (f.target_id(), f.error_message()))));
        }
    }
    Ok(())
}

/// The failed entries of a PutTargets or RemoveTargets answer, as one error.
fn entries_failed<'a>(operation: &str, entries: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> KindError {
    let what: Vec<String> = entries.map(|(id, why)| format!("target {}: {}", id.unwrap_or("?"), why.unwrap_or("failed"))).collect();
    KindError::Input(format!("{operation}: {}", what.join("; ")))
}

/// The spec's rules as live: one `ListRules` by the names' common prefix answers every rule's
/// settings (100 a page) instead of a `DescribeRule` each; then each found rule's targets.
async fn read(aws: &Aws, ctx: &ReadCtx<'_>) -> Result<Vec<LiveResource>, KindError> {
    let desired = ctx.desired_of(Kind::EventRule);
    let Some(first) = desired.first() else { return Ok(Vec::new()) };
    let prefix =
        desired.iter().fold(first.name.clone(), |p, r| p.chars().zip(r.name.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect());
    let mut listed = BTreeMap::new();
    let mut token = None;
    loop {
        let mut request = aws.events.list_rules().limit(100).set_next_token(token);
        if !prefix.is_empty() {
            request = request.name_prefix(&prefix);
        }
        let page = request.send().await.map_err(read_fail(first.address(), "ListRules"))?;
        for rule in page.rules() {
            if let Some(name) = rule.name() {
                listed.insert(name.to_string(), rule.clone());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let found: Vec<(&Resource, secmon_aws::events::types::Rule)> =
        desired.into_iter().filter_map(|d| listed.remove(&d.name).map(|rule| (d, rule))).collect();
    let reads = found.into_iter().map(|(d, rule)| async move { live_rule(aws, d, rule).await });
    futures::future::try_join_all(reads).await
}

/// One listed rule as live, with its targets.
async fn live_rule(aws: &Aws, desired: &Resource, rule: secmon_aws::events::types::Rule) -> Result<LiveResource, KindError> {
    let listed =
        aws.events.list_targets_by_rule().rule(&desired.name).send().await.map_err(read_fail(desired.address(), "ListTargetsByRule"))?;
    let mut targets: Vec<RuleTarget> = listed
        .targets()
        .iter()
        .map(|t| RuleTarget {
            id: t.id().to_string(),
            arn: t.arn().to_string(),
            input_paths: t
                .input_transformer()
                .and_then(|i| i.input_paths_map())
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default(),
            input_template: t.input_transformer().map(|i| i.input_template().to_string()).unwrap_or_default(),
            role_arn: t.role_arn().unwrap_or_default().to_string(),
        })
        .collect();
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    // AWS answers the pattern as it was given, or reformatted: compared as JSON.
    let pattern = rule.event_pattern().and_then(|p| serde_json::from_str::<Value>(p).ok()).map(|p| canonical(&p)).unwrap_or_default();
    let attrs = Attrs {
        description: rule.description().unwrap_or_default().to_string(),
        event_pattern: pattern,
        schedule_expression: rule.schedule_expression().unwrap_or_default().to_string(),
        state: rule.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        targets,
    };
    Ok(LiveResource::new(Resource::new(Kind::EventRule, &desired.name, rule.arn().map(str::to_string), &attrs), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 24: Chatbot drops plain text. A topic posting to chat only is sent the alert
    /// context as a custom notification, a topic also read by e-mail the text, and the plan says
    /// what its chat channels will miss.
    #[test]
    fn a_topic_posting_to_chat_only_is_sent_a_chatbot_custom_notification() {
        let seed = include_str!("../../../specs/seed.yaml");
        let chat = "    slack:\n      - { workspace: T0123ABCD, channel: C0123ABCD }\n";
        let text = seed
            .replacen("name: secrets-monitoring\n", "name: secrets-monitoring\nalert_context: true\n", 1)
            .replacen("topics:\n", &format!("topics:\n  - name: Chat\n{chat}"), 1)
            .replacen("    email: [security@example.com]\n", &format!("    email: [security@example.com]\n{chat}"), 1)
            .replacen("    notify: [SecurityAlarms]\n", "    notify: [SecurityAlarms, Chat]\n", 1);
        let spec = secmon_spec::Spec::parse(&text, "chat.yaml").unwrap_or_else(|e| panic!("{e}"));
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let rules = Def.desired(&spec.state, &t);
        let targets = rules[0].attrs::<Attrs>().targets;
        let template = |topic: &str| targets.iter().find(|tg| tg.arn == t.topic_arn(topic)).unwrap().input_template.clone();
        let custom: serde_json::Value = serde_json::from_str(&template("Chat").replace("<event_id>", "e")).expect("JSON");
        assert_eq!((custom["version"].as_str(), custom["source"].as_str()), (Some("1.0"), Some("custom")));
        assert!(template("SecurityAlarms").starts_with("\"secmon alert: "), "e-mail reads text");
        let notes = Def.spec_notes(&spec.state);
        assert!(notes.iter().any(|n| n.contains("topic `SecurityAlarms` posts to chat channels and to other subscribers")), "{notes:?}");
        assert!(!notes.iter().any(|n| n.contains("topic `Chat`")), "{notes:?}");
    }

    #[test]
    fn rule_names_are_what_eventbridge_accepts_and_distinct_when_cut() {
        assert_eq!(rule_name("secrets-monitoring", "Secret is accessed"), "secmon-secrets-monitoring-Secret-is-accessed");
        let a = rule_name("s", &"a".repeat(80));
        let b = rule_name("s", &format!("{}b", "a".repeat(79)));
        assert_eq!(a.len(), MAX_NAME);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)));
    }
}
