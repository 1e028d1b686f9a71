//! A Slack or Microsoft Teams channel that AWS Chatbot (Amazon Q Developer in chat applications)
//! posts a topic's messages to (issue 24, item 2): one Chatbot channel configuration per
//! channel, holding every topic of the spec that names the channel (`topics[].slack`,
//! `topics[].teams`).
//!
//! The AWS Chatbot API reference: a configuration is made with
//! `CreateSlackChannelConfiguration` / `CreateMicrosoftTeamsChannelConfiguration`, read with
//! `DescribeSlackChannelConfigurations` / `ListMicrosoftTeamsChannelConfigurations` (whose
//! answers carry the tags), changed with the `Update…` calls (the workspace, team and tenant
//! cannot change: another is another configuration) and deleted with the `Delete…` calls. Its
//! ARN has no region (`arn:aws:chatbot::ACCOUNT:chat-configuration/…`): a configuration is the
//! account's, and the API answers in four regions only (`secmon_aws::CHATBOT_REGIONS`).
//!
//! Hardened as AWS's guide recommends and unlike Chatbot's defaults: the channel role may only
//! read CloudWatch (the guide's "notifications only" permissions, for the charts of alarm
//! messages); the guardrail is `CloudWatchReadOnlyAccess`, not the `AdministratorAccess`
//! Chatbot applies when none is given; channel members must use their own roles
//! (`UserAuthorizationRequired`); errors are logged (`LoggingLevel: ERROR`, to
//! `/aws/chatbot/NAME` in us-east-1).
//!
//! Chatbot subscribes the topic itself, with its service-linked role, to
//! `https://global.sns-api.chatbot.amazonaws.com`: the subscription kind leaves that
//! subscription alone, and verify checks it is there and confirmed ([`ResourceKind::observe`]).
//!
//! What it does not do: authorize the workspace or team (a browser OAuth step in Chatbot's
//! console, once per account), which the plan checks first ([`ResourceKind::check_brought`]).

use std::collections::BTreeMap;

use secmon_aws::chatbot::types::Tag;
use secmon_aws::error_code;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::{Check, VerifyCtx};
use crate::sdk::{fail, send};
use crate::{
    Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

/// The guardrail secmon sets: Chatbot applies `AdministratorAccess` when a configuration has
/// none ("GuardrailPolicyArns", CreateSlackChannelConfiguration API reference). The channel
/// role and every member's role are capped by it.
pub const GUARDRAIL: &str = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess";
/// What Chatbot applies when a configuration names no guardrail.
const ADMINISTRATOR: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
/// Where Chatbot's own subscription to each topic delivers.
pub const CHATBOT_ENDPOINT_HOST: &str = "global.sns-api.chatbot.amazonaws.com";

/// The configuration, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// `slack` or `teams`.
    pub platform: String,
    /// The Slack workspace id, or the Teams team id.
    pub workspace: String,
    /// The Teams tenant id (empty for Slack).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    /// The channel id.
    pub channel: String,
    /// The topics it posts, by name (an ARN for a topic of another region or account), sorted.
    pub topics: Vec<String>,
    /// The channel role's ARN.
    pub role: String,
    /// The guardrail policies' ARNs.
    pub guardrails: Vec<String>,
    /// `ERROR`, `INFO` or `NONE`.
    pub logging_level: String,
    /// Whether channel members must use their own roles.
    pub user_authorization_required: bool,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[Kind::Topic, Kind::Role],
    step: 9,
    iam: crate::Iam {
        read: &[
            "chatbot:DescribeSlackChannelConfigurations",
            "chatbot:ListMicrosoftTeamsChannelConfigurations",
            "chatbot:DescribeSlackWorkspaces",
            "chatbot:ListMicrosoftTeamsConfiguredTeams",
            "chatbot:ListTagsForResource",
            "iam:GetRole",
            "sns:ListSubscriptionsByTopic",
        ],
        write: &[
            "chatbot:CreateSlackChannelConfiguration",
            "chatbot:UpdateSlackChannelConfiguration",
            "chatbot:DeleteSlackChannelConfiguration",
            "chatbot:CreateMicrosoftTeamsChannelConfiguration",
            "chatbot:UpdateMicrosoftTeamsChannelConfiguration",
            "chatbot:DeleteMicrosoftTeamsChannelConfiguration",
            "chatbot:TagResource",
            // Chatbot creates its service-linked role (AWSServiceRoleForAWSChatbot) at the first
            // configuration, as the caller ("Service-linked role", Chatbot administrator guide).
            "iam:CreateServiceLinkedRole",
        ],
        writes_on: None,
    },
};

/// The channel role's name (an IAM role name: at most 64 characters).
pub fn role_name(spec: &str) -> String {
    secmon_spec::bounded_name(&format!("secmon-{spec}-chatbot"), 64)
}

/// A channel's configuration name (`ConfigurationName`: 1-128 of `A-Za-z0-9-_`). A Teams
/// channel id holds `%`, `:` and `@`, so it is named by a digest.
fn config_name(spec: &str, platform: &str, channel: &str) -> String {
    let id = match platform {
        "slack" => channel.to_string(),
        _ => crate::model::sha256_hex(channel, 6),
    };
    secmon_spec::bounded_name(&format!("secmon-{spec}-{platform}-{id}"), 128)
}

/// Whether the spec names any chat channel.
pub fn wanted(state: &DesiredState) -> bool {
    state.topics.iter().any(|t| t.posts_to_chat())
}

/// The name a topic ARN of target `t` is compared by: its name, or the whole ARN for a topic
/// elsewhere.
fn topic_ref(t: &Target, arn: &str) -> String {
    match arn.strip_prefix(&t.topic_arn("")) {
        Some(name) if !name.contains(':') => name.to_string(),
        _ => arn.to_string(),
    }
}

/// The ARNs the configuration is given.
fn topic_arns(t: &Target, topics: &[String]) -> Vec<String> {
    topics.iter().map(|n| if n.starts_with("arn:") { n.clone() } else { t.topic_arn(n) }).collect()
}

/// What was observed besides the compared attributes: the configuration's state, as read, and
/// (verify only) Chatbot's subscription to each topic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// `ENABLED`, or `DISABLED` when "the organization's AWS Chatbot policy has explicitly
    /// denied that configuration" (SlackChannelConfiguration, API reference).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// Why it is disabled.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state_reason: String,
    /// Topic ARN → state of Chatbot's subscription to it: `confirmed`, `pending` or `missing`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriptions: BTreeMap<String, String>,
}

/// A configuration as read, Slack's or Teams' (the SDK's two types share these getters):
/// (name, ARN, attributes, tags, its state).
macro_rules! live {
    ($c:expr, $t:expr, $platform:expr, $workspace:expr, $tenant:expr, $channel:expr) => {{
        let attrs = Attrs {
            platform: $platform.into(),
            workspace: $workspace.into(),
            tenant: $tenant.into(),
            channel: $channel.into(),
            topics: sorted($c.sns_topic_arns().iter().map(|a| topic_ref(&$t, a))),
            role: $c.iam_role_arn().into(),
            guardrails: guardrails($c.guardrail_policy_arns()),
            logging_level: $c.logging_level().unwrap_or("NONE").into(),
            user_authorization_required: $c.user_authorization_required().unwrap_or(false),
        };
        let name = $c.configuration_name().unwrap_or_default().to_string();
        let state = Observed {
            state: $c.state().unwrap_or_default().to_string(),
            state_reason: $c.state_reason().unwrap_or_default().to_string(),
            ..Observed::default()
        };
        (name, $c.chat_configuration_arn().to_string(), attrs, $c.tags().to_vec(), state)
    }};
}

/// The settings every create and update sends, Slack's and Teams' builders alike: the role, the
/// topics and secmon's hardening.
macro_rules! settings {
    ($request:expr, $a:expr, $topics:expr) => {
        $request
            .iam_role_arn(&$a.role)
            .set_sns_topic_arns(Some($topics))
            .set_guardrail_policy_arns(Some($a.guardrails.clone()))
            .logging_level(&$a.logging_level)
            .user_authorization_required($a.user_authorization_required)
    };
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

/// AWS managed policy `AWSChatbotServiceLinkedRolePolicy` (v1), the permissions of the
/// service-linked role with which Chatbot subscribes itself to a configuration's topics.
const SERVICE_LINKED_ROLE_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Resource": "*", "Action": ["sns:ListSubscriptionsByTopic", "sns:ListTopics", "sns:Unsubscribe", "sns:Subscribe", "sns:ListSubscriptions"]},
    {"Effect": "Allow", "Resource": "arn:aws:logs:*:*:log-group:/aws/chatbot/*",
     "Action": ["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:CreateLogGroup", "logs:DescribeLogGroups"]}]}"#;

impl ResourceKind for Def {
    /// Creating or updating a configuration hands Chatbot the channel role: without the grant
    /// AWS refuses it ("is not authorized to perform: iam:PassRole").
    fn passes_role_to(&self, _r: &Resource) -> Option<&'static str> {
        Some("chatbot.amazonaws.com")
    }

    /// Chatbot subscribes itself to each topic the configuration posts, with its service-linked
    /// role: the topic's policy must not stand in the way (a hardening that denied subscriptions
    /// other than e-mail would silence every channel).
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        use crate::contract::Link;
        const SLR: &str = "https://docs.aws.amazon.com/chatbot/latest/adminguide/slr-permissions.html";
        let attrs: Attrs = r.attrs();
        let role =
            format!("arn:aws:iam::{}:role/aws-service-role/management.chatbot.amazonaws.com/AWSServiceRoleForAWSChatbot", t.account_id);
        let identity: serde_json::Value = serde_json::from_str(SERVICE_LINKED_ROLE_POLICY).expect("the managed policy parses");
        let topics = crate::topic::Def.desired(state, t);
        let mut out = Vec::new();
        for topic in topics.iter().filter(|topic| attrs.topics.contains(&topic.name)) {
            let arn = topic.arn.clone().unwrap_or_else(|| t.topic_arn(&topic.name));
            let mut subscribe =
                Link::request("AWS Chatbot (its service-linked role) → SNS: Subscribe", SLR, &role, "sns:Subscribe", &arn, t)
                    .with("sns:Protocol", "https")
                    .with("sns:Endpoint", &format!("https://{CHATBOT_ENDPOINT_HOST}"))
                    .judged_by_resource(topic, "policy");
            subscribe.identity_policy = Some(identity.clone());
            out.push(subscribe.refused("another account's role", |l| {
                l.principal = l.principal.replace(&t.account_id, crate::contract::OTHER_ACCOUNT);
                l.identity_policy = None;
            }));
            out.push(subscribe);
        }
        out
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        // (platform, workspace, tenant, channel) → topics naming it.
        let mut channels: BTreeMap<(&str, &str, &str, &str), Vec<String>> = BTreeMap::new();
        for topic in &state.topics {
            for c in &topic.slack {
                channels.entry(("slack", &c.workspace, "", &c.channel)).or_default().push(topic.name.clone());
            }
            for c in &topic.teams {
                channels.entry(("teams", &c.team, &c.tenant, &c.channel)).or_default().push(topic.name.clone());
            }
        }
        channels
            .into_iter()
            .map(|((platform, workspace, tenant, channel), mut topics)| {
                topics.sort();
                let attrs = Attrs {
                    platform: platform.into(),
                    workspace: workspace.into(),
                    tenant: tenant.into(),
                    channel: channel.into(),
                    topics,
                    role: t.role_arn(&role_name(&state.name)),
                    guardrails: vec![GUARDRAIL.into()],
                    logging_level: "ERROR".into(),
                    user_authorization_required: true,
                };
                Resource::new(Kind::ChatChannel, &config_name(&state.name, platform, channel), None, &attrs)
            })
            .collect()
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let a: Attrs = r.attrs();
        let mut out: Vec<crate::Address> =
            a.topics.iter().filter(|n| !n.starts_with("arn:")).map(|n| crate::Address::new(Kind::Topic, n)).collect();
        if let Some(role) = a.role.rsplit('/').next().filter(|n| !n.is_empty()) {
            out.push(crate::Address::new(Kind::Role, role));
        }
        out
    }

    /// The workspace, team and tenant of a configuration cannot be updated.
    fn forces_replacement(&self, before: &Resource, after: &Resource) -> Option<&'static str> {
        let (b, a): (Attrs, Attrs) = (before.attrs(), after.attrs());
        (b.platform != a.platform || b.workspace != a.workspace || b.tenant != a.tenant)
            .then_some("a Chatbot configuration's workspace, team and tenant cannot be changed")
    }

    fn plan_notes(&self, _r: &Resource) -> Vec<String> {
        // AWS Chatbot pricing: "no additional charge"; the SNS delivery to Chatbot is an HTTPS
        // delivery (first 100,000 a month free, then $0.60 per million, SNS pricing).
        vec!["cost: AWS Chatbot itself is free; SNS's HTTPS deliveries to it: first 100,000 a month free, then $0.60 per million".into()]
    }

    /// The plan stops before any change when a workspace or team is not authorized for
    /// Chatbot in the account: only its console can do that (an OAuth step in a browser).
    fn check_brought<'a>(&'a self, aws: &'a Aws, state: &'a DesiredState) -> Fut<'a, ()> {
        Box::pin(async move {
            if state.secondary_region || !wanted(state) {
                return Ok(());
            }
            let (slack, teams) = (state.topics.iter().any(|t| !t.slack.is_empty()), state.topics.iter().any(|t| !t.teams.is_empty()));
            let workspaces = async {
                if !slack {
                    return Ok(Vec::new());
                }
                let pages = aws.chatbot.describe_slack_workspaces().into_paginator().send().collect::<Vec<_>>().await;
                let mut out = Vec::new();
                for page in pages {
                    let page = page.map_err(fail("DescribeSlackWorkspaces"))?;
                    out.extend(page.slack_workspaces().iter().map(|w| w.slack_team_id().to_string()));
                }
                Ok::<_, KindError>(out)
            };
            let teams_known = async {
                if !teams {
                    return Ok(Vec::new());
                }
                let pages = aws.chatbot.list_microsoft_teams_configured_teams().into_paginator().send().collect::<Vec<_>>().await;
                let mut out = Vec::new();
                for page in pages {
                    let page = page.map_err(fail("ListMicrosoftTeamsConfiguredTeams"))?;
                    out.extend(page.configured_teams().iter().map(|c| (c.tenant_id().to_string(), c.team_id().to_string())));
                }
                Ok::<_, KindError>(out)
            };
            let (workspaces, teams_known) = tokio::join!(workspaces, teams_known);
            let (workspaces, teams_known) = (workspaces?, teams_known?);
            const HOW: &str = "authorize it once in the Amazon Q Developer in chat applications console \
                (https://console.aws.amazon.com/chatbot/, \"Configure new client\"), an OAuth step in a browser that no API does; nothing was changed";
            let account = aws.account_id().await?;
            for topic in &state.topics {
                if let Some(c) = topic.slack.iter().find(|c| !workspaces.contains(&c.workspace)) {
                    return Err(KindError::Input(format!(
                        "topics[{}].slack: Slack workspace {} is not authorized for AWS Chatbot in account {account}; {HOW}",
                        topic.name, c.workspace
                    )));
                }
                if let Some(c) =
                    topic.teams.iter().find(|c| !teams_known.iter().any(|(tenant, team)| *tenant == c.tenant && *team == c.team))
                {
                    return Err(KindError::Input(format!(
                        "topics[{}].teams: Microsoft Teams team {} (tenant {}) is not configured for AWS Chatbot in account {account}; {HOW}",
                        topic.name, c.team, c.tenant
                    )));
                }
            }
            Ok(())
        })
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            // Configurations are the account's: the home region of each account reads them.
            if !ctx.global {
                return Ok(Vec::new());
            }
            let desired = ctx.desired_of(Kind::ChatChannel);
            if desired.is_empty() && !channel_role_exists(aws, ctx.spec).await? {
                // Chatbot is not in the tagging index; the channel role is made with the first
                // configuration and deleted with the last, so without it there is none to find.
                return Ok(Vec::new());
            }
            let t = Target { account_id: aws.account_id().await?, region: aws.region.clone() };
            let prefix = format!("secmon-{}-", ctx.spec);
            let ours = |name: Option<&str>| name.is_some_and(|n| n.starts_with(&prefix) || desired.iter().any(|d| d.name == n));
            let mut found: Vec<(String, String, Attrs, Vec<Tag>, Observed)> = Vec::new();
            let mut slack = aws.chatbot.describe_slack_channel_configurations().into_paginator().send();
            while let Some(page) = slack.next().await {
                let page = page.map_err(|e| AwsError::call("DescribeSlackChannelConfigurations", e))?;
                for c in page.slack_channel_configurations().iter().filter(|c| ours(c.configuration_name())) {
                    found.push(live!(c, t, "slack", c.slack_team_id(), "", c.slack_channel_id()));
                }
            }
            let mut teams = aws.chatbot.list_microsoft_teams_channel_configurations().into_paginator().send();
            while let Some(page) = teams.next().await {
                let page = page.map_err(|e| AwsError::call("ListMicrosoftTeamsChannelConfigurations", e))?;
                for c in page.team_channel_configurations().iter().filter(|c| ours(c.configuration_name())) {
                    found.push(live!(c, t, "teams", c.team_id(), c.tenant_id(), c.channel_id()));
                }
            }
            let mut out = Vec::new();
            for (name, arn, attrs, mut tags, state) in found {
                if tags.is_empty() {
                    // The describe answer may leave tags out; ask the configuration itself.
                    let listed =
                        aws.chatbot.list_tags_for_resource().resource_arn(&arn).send().await.map_err(fail("ListTagsForResource"))?;
                    tags = listed.tags().to_vec();
                }
                let r = Resource::new(Kind::ChatChannel, &name, Some(arn), &attrs);
                let live = LiveResource::tagged(r, ctx.spec, |k| tags.iter().find(|t| t.tag_key() == k).map(|t| t.tag_value()));
                out.push(live.with_observed(&state));
            }
            Ok(out)
        })
    }

    /// Chatbot's own subscription to each of the configuration's topics, for verify.
    fn observe<'a>(&'a self, aws: &'a Aws, live: &'a LiveResource) -> Fut<'a, Option<Value>> {
        Box::pin(async move {
            let t = Target { account_id: aws.account_id().await?, region: aws.region.clone() };
            let mut observed = Observed::default();
            for arn in topic_arns(&t, &live.resource.attrs::<Attrs>().topics) {
                let mut state = "missing";
                let mut pages = aws.sns.list_subscriptions_by_topic().topic_arn(&arn).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = match page {
                        Ok(p) => p,
                        Err(e) if error_code(&e).is_some_and(crate::not_found) => break,
                        Err(e) => return Err(fail("ListSubscriptionsByTopic")(e)),
                    };
                    for s in page.subscriptions() {
                        if s.endpoint().is_some_and(|e| crate::model::url_host(e) == CHATBOT_ENDPOINT_HOST) {
                            state = if s.subscription_arn().is_some_and(|a| a.starts_with("arn:")) { "confirmed" } else { "pending" };
                        }
                    }
                }
                observed.subscriptions.insert(arn, state.into());
            }
            Ok(Some(serde_json::to_value(observed).expect("serialises")))
        })
    }

    /// The configuration exists, is enabled, posts every topic that names its channel with
    /// Chatbot subscribed to each, and keeps secmon's hardening.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let want: Attrs = desired.attrs();
        let subject = format!("{} channel {}", if want.platform == "slack" { "Slack" } else { "Teams" }, want.channel);
        let Some(live) = ctx.live_of(desired) else {
            return ctx.missing("chat_channel.exists", &subject, "the Chatbot configuration does not exist: no alarm reaches the channel");
        };
        let got: Attrs = live.resource.attrs();
        const APPLY: &str = "run `secmon apply`";
        let missing_topics: Vec<&String> = want.topics.iter().filter(|n| !got.topics.contains(n)).collect();
        let mut out = vec![
            Check::holds(
                missing_topics.is_empty(),
                "chat_channel.topics",
                &subject,
                format!("posts {}", want.topics.join(", ")),
                |id, s| {
                    let names: Vec<&str> = missing_topics.iter().map(|n| n.as_str()).collect();
                    Check::failed(id, s, format!("does not post {}: their alarms never reach the channel", names.join(", "))).fix(APPLY)
                },
            ),
            Check::holds(
                got.guardrails == want.guardrails && got.user_authorization_required && got.role == want.role,
                "chat_channel.guardrail",
                &subject,
                "capped by CloudWatchReadOnlyAccess; members use their own roles",
                |id, s| {
                    let admin = got.guardrails.is_empty() || got.guardrails.iter().any(|g| g == ADMINISTRATOR);
                    let why = if admin {
                        "its guardrail is AdministratorAccess: anyone in the channel may act with the channel role's full permissions"
                    } else {
                        "its role, guardrail or user authorization differ from secmon's"
                    };
                    Check::failed(id, s, why).fix(APPLY)
                },
            ),
        ];
        let observed: Observed = live.observed();
        if observed.state == "ENABLED" {
            out.insert(0, Check::ok("chat_channel.state", &subject, "ENABLED"));
        } else if observed.state == "DISABLED" {
            let why = if observed.state_reason.is_empty() { "no reason given".to_string() } else { observed.state_reason.clone() };
            out.insert(
                0,
                Check::failed("chat_channel.state", &subject, format!("DISABLED ({why}): Chatbot posts nothing to the channel")).fix(
                    "the organization's chat applications policy (AWS Organizations) denies it: allow this workspace or channel there",
                ),
            );
        }
        if !observed.subscriptions.is_empty() {
            let broken: Vec<String> =
                observed.subscriptions.iter().filter(|(_, st)| *st != "confirmed").map(|(arn, st)| format!("{arn} ({st})")).collect();
            out.push(Check::holds(
                broken.is_empty(),
                "chat_channel.subscribed",
                &subject,
                "Chatbot is subscribed to every topic",
                |id, s| {
                    Check::failed(id, s, format!("Chatbot's subscription is not confirmed on {}", broken.join(", ")))
                        .fix("run `secmon apply`; if it stays, recreate the configuration (delete it in Chatbot's console and apply)")
                },
            ));
        }
        out
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let topics = topic_arns(&ctx.target(), &a.topics);
            let tag = Tag::builder().tag_key(OWNER_TAG).tag_value(&ctx.spec).build().expect("tag");
            if a.platform == "slack" {
                let request = settings!(
                    aws.chatbot
                        .create_slack_channel_configuration()
                        .configuration_name(&r.name)
                        .slack_team_id(&a.workspace)
                        .slack_channel_id(&a.channel),
                    a,
                    topics
                )
                .tags(tag);
                send("CreateSlackChannelConfiguration", request.send()).await
            } else {
                let request = settings!(
                    aws.chatbot
                        .create_microsoft_teams_channel_configuration()
                        .configuration_name(&r.name)
                        .team_id(&a.workspace)
                        .tenant_id(&a.tenant)
                        .channel_id(&a.channel),
                    a,
                    topics
                )
                .tags(tag);
                send("CreateMicrosoftTeamsChannelConfiguration", request.send()).await
            }
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, before: &'a Resource, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a: Attrs = r.attrs();
            let arn = before.arn.clone().unwrap_or_default();
            let topics = topic_arns(&ctx.target(), &a.topics);
            if a.platform == "slack" {
                let request = settings!(
                    aws.chatbot.update_slack_channel_configuration().chat_configuration_arn(arn).slack_channel_id(&a.channel),
                    a,
                    topics
                );
                send("UpdateSlackChannelConfiguration", request.send()).await
            } else {
                let request = settings!(
                    aws.chatbot.update_microsoft_teams_channel_configuration().chat_configuration_arn(arn).channel_id(&a.channel),
                    a,
                    topics
                );
                send("UpdateMicrosoftTeamsChannelConfiguration", request.send()).await
            }
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = r.arn.clone().unwrap_or_default();
            let gone = |code: Option<&str>| code.is_some_and(crate::not_found);
            if r.attrs::<Attrs>().platform == "teams" || arn.contains("microsoft-teams") {
                match aws.chatbot.delete_microsoft_teams_channel_configuration().chat_configuration_arn(arn).send().await {
                    Err(e) if !gone(error_code(&e)) => Err(fail("DeleteMicrosoftTeamsChannelConfiguration")(e)),
                    _ => Ok(()),
                }
            } else {
                match aws.chatbot.delete_slack_channel_configuration().chat_configuration_arn(arn).send().await {
                    Err(e) if !gone(error_code(&e)) => Err(fail("DeleteSlackChannelConfiguration")(e)),
                    _ => Ok(()),
                }
            }
        })
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().expect("tag")).collect();
        let request = aws.chatbot.tag_resource().resource_arn(r.arn.clone().unwrap_or_default()).set_tags(Some(tags));
        Box::pin(send("TagResource", request.send()))
    }
}

/// Whether the spec's channel role exists (one IAM call; IAM answers `NoSuchEntity` otherwise).
async fn channel_role_exists(aws: &Aws, spec: &str) -> Result<bool, KindError> {
    match aws.iam.get_role().role_name(role_name(spec)).send().await {
        Ok(_) => Ok(true),
        Err(e) if error_code(&e).is_some_and(crate::not_found) => Ok(false),
        // A plan's policy grants iam:GetRole with a role in the spec only (`secmon permissions`):
        // without it, a spec naming no channel cannot have made one either.
        Err(e) if error_code(&e).is_some_and(|c| c.contains("AccessDenied")) => Ok(false),
        Err(e) => Err(fail("GetRole")(e)),
    }
}

fn sorted(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = it.collect();
    v.sort();
    v
}

/// The guardrails as compared: none means Chatbot's default, AdministratorAccess.
fn guardrails(arns: &[String]) -> Vec<String> {
    if arns.is_empty() {
        vec![ADMINISTRATOR.into()]
    } else {
        sorted(arns.iter().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secmon_spec::{SlackChannel, TeamsChannel, Topic};

    fn spec_with_channels() -> DesiredState {
        let mut s = crate::check::testing::seed();
        let slack = SlackChannel { workspace: "T0123ABCD".into(), channel: "C0123ABCD".into() };
        let teams = TeamsChannel {
            tenant: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into(),
            team: "11111111-2222-3333-4444-555555555555".into(),
            channel: "19%3aabc%40thread.tacv2".into(),
        };
        s.topics[0].slack.push(slack.clone());
        s.topics[0].teams.push(teams);
        s.topics.push(Topic { name: "pager".into(), slack: vec![slack], ..s.topics[0].clone() });
        s.topics[1].teams.clear();
        s
    }

    #[test]
    fn one_configuration_per_channel_holds_every_topic_naming_it_hardened() {
        let s = spec_with_channels();
        let t = crate::check::testing::target();
        let got = Def.desired(&s, &t);
        assert_eq!(got.len(), 2, "{got:?}");
        let slack: Attrs = got.iter().find(|r| r.name.contains("-slack-")).unwrap().attrs();
        assert_eq!(slack.topics, vec![s.topics[0].name.clone(), "pager".to_string()]);
        assert_eq!(slack.guardrails, vec![GUARDRAIL.to_string()], "never Chatbot's default, AdministratorAccess");
        assert!(slack.user_authorization_required);
        assert_eq!(slack.role, t.role_arn(&role_name(&s.name)));
        let teams = got.iter().find(|r| r.name.contains("-teams-")).unwrap();
        assert!(teams.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{}", teams.name);
        assert!(teams.name.len() <= 128);
    }

    #[test]
    fn a_configuration_the_organizations_policy_disabled_fails_verify_with_its_reason() {
        use crate::check::testing::{converged, run};
        let s = spec_with_channels();
        let mut live = converged(&s);
        let status = |live: &crate::LiveState| {
            let checks = run(&s, live, &Default::default(), Kind::ChatChannel);
            checks.iter().find(|c| c.id == "chat_channel.state").map(|c| (c.status, c.evidence.clone()))
        };
        assert_eq!(status(&live), None, "a state never read is not claimed");
        for l in live.resources.values_mut().filter(|l| l.resource.kind == Kind::ChatChannel) {
            l.observed = crate::model::to_map(&Observed { state: "ENABLED".into(), ..Observed::default() });
        }
        assert_eq!(status(&live).map(|s| s.0), Some(crate::Status::Ok));
        for l in live.resources.values_mut().filter(|l| l.resource.kind == Kind::ChatChannel) {
            l.observed = crate::model::to_map(&Observed {
                state: "DISABLED".into(),
                state_reason: "Slack is not allowed".into(),
                ..Observed::default()
            });
        }
        let (st, evidence) = status(&live).expect("a failed check");
        assert_eq!(st, crate::Status::Failed);
        assert!(evidence.contains("Slack is not allowed"), "{evidence}");
    }

    #[test]
    fn a_configuration_without_guardrail_reads_as_administrator_access() {
        assert_eq!(guardrails(&[]), vec![ADMINISTRATOR.to_string()]);
    }

    #[test]
    fn topics_of_the_target_compare_by_name_others_by_arn() {
        let t = crate::check::testing::target();
        assert_eq!(topic_ref(&t, &t.topic_arn("alerts")), "alerts");
        let elsewhere = "arn:aws:sns:eu-west-1:111122223333:alerts";
        assert_eq!(topic_ref(&t, elsewhere), elsewhere);
        assert_eq!(topic_arns(&t, &["alerts".into(), elsewhere.into()]), vec![t.topic_arn("alerts"), elsewhere.to_string()]);
    }
}
