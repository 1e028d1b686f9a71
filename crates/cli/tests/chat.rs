//! Issue 24, item 2: AWS Chatbot (Amazon Q Developer in chat applications) channels for Slack
//! and Teams, where the account has the workspace configured. A topic's `slack:` and `teams:`
//! become one hardened Chatbot configuration per channel; it applies, converges (Chatbot's own
//! subscription to the topic is left alone), verifies link by link, is repaired, and goes away
//! with the spec's channels; a workspace the console never authorized stops the plan.

use crate::common::*;

const WORKSPACE: &str = "T0123ABCD";
const CHANNEL: &str = "C0123ABCD";
const TENANT: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const TEAM: &str = "11111111-2222-3333-4444-555555555555";
const TEAMS_CHANNEL: &str = "19%3aabcdef%40thread.tacv2";
const CHATBOT_ENDPOINT: &str = "https://global.sns-api.chatbot.amazonaws.com";

/// The seed with its topic posting to a Slack and a Teams channel, and a second topic posting to
/// the same Slack channel; or the plain seed.
fn seed_with_channels(w: &World, channels: bool) -> String {
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let mut spec = seed.replace("  - name: SecurityAlarms\n    email: [security@example.com]\n", "");
    assert_ne!(spec, seed, "the seed's topic moved: update this test");
    let chat = |extra: &str| {
        if channels {
            format!("    slack:\n      - {{ workspace: {WORKSPACE}, channel: {CHANNEL} }}\n{extra}")
        } else {
            String::new()
        }
    };
    let teams = format!("    teams:\n      - {{ tenant: {TENANT}, team: {TEAM}, channel: \"{TEAMS_CHANNEL}\" }}\n");
    spec = spec.replace(
        "topics:\n",
        &format!(
            "topics:\n  - name: SecurityAlarms\n    email: [security@example.com]\n{}  - name: Pager\n    email: [oncall@example.com]\n{}",
            chat(&teams),
            chat("")
        ),
    );
    w.write_spec("chat.yaml", &spec)
}

fn slack_configs(w: &World) -> Vec<secmon_aws::chatbot::types::SlackChannelConfiguration> {
    w.rt.block_on(w.aws().chatbot.describe_slack_channel_configurations().send()).unwrap().slack_channel_configurations().to_vec()
}

fn teams_configs(w: &World) -> Vec<secmon_aws::chatbot::types::TeamsChannelConfiguration> {
    w.rt.block_on(w.aws().chatbot.list_microsoft_teams_channel_configurations().send()).unwrap().team_channel_configurations().to_vec()
}

/// The topic's subscriptions to Chatbot's endpoint, with their ARNs.
fn chatbot_subscriptions(w: &World, topic: &str) -> Vec<String> {
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{topic}");
    let out = w.rt.block_on(w.aws().sns.list_subscriptions_by_topic().topic_arn(arn).send()).unwrap();
    out.subscriptions()
        .iter()
        .filter(|s| s.endpoint() == Some(CHATBOT_ENDPOINT))
        .map(|s| s.subscription_arn().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn issue_24_chat_channels_apply_converge_verify_repair_and_go_away() {
    let Some(w) = World::new() else { return };
    w.emu.authorize_chat_clients(&[(WORKSPACE, "Acme")], &[(TENANT, TEAM, "Security")]);
    let spec = seed_with_channels(&w, true);

    let plan = w.secmon(&["plan", "-f", &spec]);
    let out = text(&plan.stdout);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
    let slack = format!("chat_channel.secmon-secrets-monitoring-slack-{CHANNEL}");
    assert!(out.contains(&slack), "one configuration for the Slack channel both topics name: {out}");
    assert!(out.contains("chat_channel.secmon-secrets-monitoring-teams-"), "{out}");
    assert!(out.contains("role.secmon-secrets-monitoring-chatbot"), "the channel role: {out}");
    assert!(out.contains("AWS Chatbot itself is free"), "the plan says what it costs: {out}");

    // Converges: Chatbot's own subscriptions to the topics are not the spec's to delete.
    w.apply_spec_converges(&spec);
    let configs = slack_configs(&w);
    assert_eq!(configs.len(), 1, "{configs:?}");
    let c = &configs[0];
    assert_eq!((c.slack_team_id(), c.slack_channel_id()), (WORKSPACE, CHANNEL));
    let mut topics = c.sns_topic_arns().to_vec();
    topics.sort();
    assert_eq!(topics, ["arn:aws:sns:us-east-1:123456789012:Pager", "arn:aws:sns:us-east-1:123456789012:SecurityAlarms"]);
    assert_eq!(
        c.guardrail_policy_arns(),
        ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"],
        "never Chatbot's default, AdministratorAccess"
    );
    assert_eq!((c.user_authorization_required(), c.logging_level()), (Some(true), Some("ERROR")));
    assert_eq!(c.iam_role_arn(), "arn:aws:iam::123456789012:role/secmon/secmon-secrets-monitoring-chatbot");
    assert!(c.tags().iter().any(|t| t.tag_key() == "secmon:spec" && t.tag_value() == "secrets-monitoring"), "owned: {:?}", c.tags());
    let teams = teams_configs(&w);
    assert_eq!(teams.len(), 1);
    assert_eq!((teams[0].tenant_id(), teams[0].team_id(), teams[0].channel_id()), (TENANT, TEAM, TEAMS_CHANNEL));
    assert_eq!(chatbot_subscriptions(&w, "Pager").len(), 1, "Chatbot subscribed the topic itself");
    assert_eq!(chatbot_subscriptions(&w, "SecurityAlarms").len(), 1);

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    for id in ["chat_channel.state", "chat_channel.topics", "chat_channel.guardrail", "chat_channel.subscribed"] {
        assert!(out.lines().any(|l| l.starts_with("ok") && l.contains(id) && l.contains(CHANNEL)), "{id}: {out}");
    }
    assert!(out.lines().any(|l| l.starts_with("ok") && l.contains("role.permissions") && l.contains("chatbot")), "{out}");

    // Someone opens the channel up to AdministratorAccess and drops a topic: verify says so, apply repairs.
    let arn = c.chat_configuration_arn().to_string();
    let request = w
        .aws()
        .chatbot
        .update_slack_channel_configuration()
        .chat_configuration_arn(&arn)
        .slack_channel_id(CHANNEL)
        .sns_topic_arns("arn:aws:sns:us-east-1:123456789012:SecurityAlarms")
        .guardrail_policy_arns("arn:aws:iam::aws:policy/AdministratorAccess")
        .user_authorization_required(false);
    w.rt.block_on(request.send()).unwrap();
    assert!(chatbot_subscriptions(&w, "Pager").is_empty());
    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("FAILED") && l.contains("chat_channel.guardrail") && l.contains("AdministratorAccess")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("FAILED") && l.contains("chat_channel.topics") && l.contains("Pager")), "{out}");
    let plan = w.secmon(&["plan", "-f", &spec]);
    let shown = format!("chat_channel \"secmon-secrets-monitoring-slack-{CHANNEL}\"");
    assert!(text(&plan.stdout).contains(&format!("~ {shown}")), "an update in place: {}", text(&plan.stdout));
    w.apply_spec_converges(&spec);
    assert_eq!(slack_configs(&w)[0].guardrail_policy_arns(), ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]);
    assert_eq!(chatbot_subscriptions(&w, "Pager").len(), 1);

    // Without channels in the spec, the configurations, their subscriptions and the role go.
    let plain = seed_with_channels(&w, false);
    let plan = w.secmon(&["plan", "-f", &plain]);
    let out = text(&plan.stdout);
    assert!(out.contains(&format!("- {shown}")) && out.contains("- role \"secmon-secrets-monitoring-chatbot\""), "{out}");
    w.apply_spec_converges(&plain);
    assert!(slack_configs(&w).is_empty() && teams_configs(&w).is_empty());
    assert!(chatbot_subscriptions(&w, "Pager").is_empty() && chatbot_subscriptions(&w, "SecurityAlarms").is_empty());

    // And destroy leaves none.
    w.apply_spec_converges(&spec);
    let destroy = w.secmon(&["destroy", "-f", &spec, "--auto-approve", "--delete-logs"]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy.stderr));
    assert!(slack_configs(&w).is_empty() && teams_configs(&w).is_empty());
}

#[test]
fn issue_24_a_workspace_the_console_never_authorized_stops_the_plan_before_any_change() {
    let Some(w) = World::new() else { return };
    w.emu.authorize_chat_clients(&[("T9999ZZZZ", "Another")], &[]);
    let spec = seed_with_channels(&w, true);
    let plan = w.secmon(&["plan", "-f", &spec]);
    let err = text(&plan.stderr);
    assert_eq!(plan.status.code(), Some(1), "{err}");
    assert!(err.contains("topics[SecurityAlarms].slack") && err.contains(WORKSPACE) && err.contains("not authorized"), "{err}");
    assert!(err.contains("console") && err.contains("account 123456789012"), "it says where to authorize it, and for which account: {err}");
    let apply = w.secmon(&["apply", "-f", &spec, "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(1), "{}", text(&apply.stderr));
    let topics = w.rt.block_on(w.aws().sns.list_topics().send()).unwrap();
    assert!(topics.topics().is_empty(), "nothing was changed: {topics:?}");
}

/// The emulator refuses what AWS Chatbot refuses and moto cannot (scripts/emulator.py,
/// `_chatbot`), each both ways.
#[test]
fn issue_24_the_emulator_refuses_what_chatbot_refuses() {
    let Some(w) = World::applied() else { return };
    w.emu.authorize_chat_clients(&[(WORKSPACE, "Acme")], &[]);
    let aws = w.aws();
    let role = "arn:aws:iam::123456789012:role/secmon/CloudTrailRoleForCloudWatchLogs_secrets-manager-trail";
    let topic = "arn:aws:sns:us-east-1:123456789012:SecurityAlarms";
    let create = |name: &str, workspace: &str, role: &str, topic: &str| {
        let request = aws
            .chatbot
            .create_slack_channel_configuration()
            .configuration_name(name)
            .slack_team_id(workspace)
            .slack_channel_id(CHANNEL)
            .iam_role_arn(role)
            .sns_topic_arns(topic);
        w.rt.block_on(request.send()).map(drop).map_err(|e| secmon_aws::error_code(&e).unwrap_or("?").to_string())
    };
    assert_eq!(create("bad name!", WORKSPACE, role, topic), Err("InvalidParameterException".into()));
    assert_eq!(create("by-hand", "T9999ZZZZ", role, topic), Err("InvalidRequestException".into()), "an unauthorized workspace");
    assert_eq!(create("by-hand", WORKSPACE, "arn:aws:iam::123456789012:role/nobody", topic), Err("InvalidParameterException".into()));
    assert_eq!(create("by-hand", WORKSPACE, role, "arn:aws:sns:us-east-1:123456789012:Nope"), Err("InvalidParameterException".into()));
    assert_eq!(create("by-hand", WORKSPACE, role, topic), Ok(()), "the same call, with what AWS wants");
    assert_eq!(create("by-hand", WORKSPACE, role, topic), Err("ConflictException".into()), "a name is taken once");
    // Without a guardrail, Chatbot applies AdministratorAccess.
    let made = slack_configs(&w);
    assert_eq!(made[0].guardrail_policy_arns(), ["arn:aws:iam::aws:policy/AdministratorAccess"]);
    // A configuration made by hand is not secmon's: the seed's plan neither deletes it nor its
    // subscription.
    let (code, out) = w.plan();
    assert_eq!(code, 0, "{out}");
    assert_eq!(chatbot_subscriptions(&w, "SecurityAlarms").len(), 1);
}

/// The kind's contract includes import: a configuration of the spec's name made by hand (in
/// Chatbot's console, say) is not overwritten (the plan stops and names `secmon import`);
/// imported, it is hardened to the spec's settings and converges.
#[test]
fn issue_24_a_hand_made_configuration_of_the_specs_name_is_imported_not_overwritten() {
    let Some(w) = World::applied() else { return };
    w.emu.authorize_chat_clients(&[(WORKSPACE, "Acme")], &[(TENANT, TEAM, "Security")]);
    let name = format!("secmon-secrets-monitoring-slack-{CHANNEL}");
    let request = w
        .aws()
        .chatbot
        .create_slack_channel_configuration()
        .configuration_name(&name)
        .slack_team_id(WORKSPACE)
        .slack_channel_id(CHANNEL)
        .iam_role_arn("arn:aws:iam::123456789012:role/secmon/CloudTrailRoleForCloudWatchLogs_secrets-manager-trail")
        .sns_topic_arns("arn:aws:sns:us-east-1:123456789012:SecurityAlarms");
    w.rt.block_on(request.send()).unwrap();
    let spec = seed_with_channels(&w, true);
    let plan = w.secmon(&["plan", "-f", &spec]);
    let all = format!("{}{}", text(&plan.stdout), text(&plan.stderr));
    assert_eq!(plan.status.code(), Some(1), "{all}");
    assert!(all.contains("secmon import") && all.contains(&format!("chat_channel.{name}")), "{all}");
    assert_eq!(slack_configs(&w)[0].guardrail_policy_arns(), ["arn:aws:iam::aws:policy/AdministratorAccess"], "nothing was changed");
    let out = w.secmon(&["import", "-f", &spec, &format!("chat_channel.{name}"), "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    w.apply_spec_converges(&spec);
    let c = &slack_configs(&w)[0];
    assert_eq!(c.guardrail_policy_arns(), ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]);
    assert_eq!(c.iam_role_arn(), "arn:aws:iam::123456789012:role/secmon/secmon-secrets-monitoring-chatbot");
}

/// Issue 24: a topic that posts to chat only has no subscription but the one Chatbot made and
/// confirmed itself. verify counts it (SNS's `SubscriptionsConfirmed`, which the emulator now
/// counts as AWS does) instead of failing the topic as one nobody receives; and the monitor's
/// alert context goes to it as a Chatbot custom notification.
#[test]
fn issue_24_a_topic_that_posts_to_chat_only_verifies_and_gets_a_custom_notification() {
    let Some(w) = World::new() else { return };
    w.emu.authorize_chat_clients(&[(WORKSPACE, "Acme")], &[]);
    let seed = std::fs::read_to_string(root().join("specs/seed.yaml")).unwrap();
    let spec = seed
        .replacen("name: secrets-monitoring\n", "name: secrets-monitoring\nalert_context: true\n", 1)
        .replacen(
            "topics:\n",
            &format!("topics:\n  - name: Chat\n    slack:\n      - {{ workspace: {WORKSPACE}, channel: {CHANNEL} }}\n"),
            1,
        )
        .replacen("    notify: [SecurityAlarms]\n", "    notify: [SecurityAlarms, Chat]\n", 1);
    let spec = w.write_spec("chat-only.yaml", &spec);
    w.apply_spec_converges(&spec);

    let verify = w.secmon(&["verify", "-f", &spec]);
    let out = text(&verify.stdout);
    let line = out.lines().find(|l| l.contains("topic.subscriptions") && l.contains("topic Chat")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with("ok") && line.contains("1 subscription(s) of other protocols"), "Chatbot's own subscription counts: {out}");
    assert!(!out.lines().any(|l| l.starts_with("FAILED")), "{out}");

    let aws = w.aws();
    let rules = w.rt.block_on(aws.events.list_rules().name_prefix("secmon-secrets-monitoring-").send()).unwrap();
    let rule = rules.rules()[0].name().unwrap().to_string();
    let targets = w.rt.block_on(aws.events.list_targets_by_rule().rule(rule).send()).unwrap();
    let template = |topic: &str| {
        let t = targets.targets().iter().find(|t| t.arn().ends_with(&format!(":{topic}"))).unwrap();
        t.input_transformer().unwrap().input_template().to_string()
    };
    assert!(template("Chat").starts_with("{\"version\": \"1.0\", \"source\": \"custom\""), "{}", template("Chat"));
    assert!(template("SecurityAlarms").starts_with("\"secmon alert: "), "e-mail reads text");
}
