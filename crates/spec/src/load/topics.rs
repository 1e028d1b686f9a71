//! `topics:`: SNS topics and their subscribers: e-mail, webhooks, queues, functions, and the
//! Slack and Teams channels AWS Chatbot posts to.

use std::collections::BTreeSet;

use super::yaml::Node;
use super::Loader;
use crate::model::{Routes, SlackChannel, TeamsChannel, Topic, UrlFromEnv};
use crate::rules;

impl Loader<'_> {
    pub(super) fn topic(&mut self, n: &Node, path: &str, region: &str) -> Option<Topic> {
        let o = self.obj::<Topic>(n, path)?;
        let name = self.checked_name(&o, "name", true, region, rules::topic_name);
        let mut email = Vec::new();
        let mut seen = BTreeSet::new();
        for (p, at, e) in self.string_list(&o, "email") {
            self.check(at, &p, rules::email(&e));
            if !seen.insert(e.to_lowercase()) {
                self.error(at, &p, format!("{e:?} is listed twice"), None);
            }
            email.push(e);
        }
        let mut https = Vec::new();
        for (p, n) in self.list(&o, "https") {
            let Some(u) = self.obj::<UrlFromEnv>(n, &p) else { continue };
            if let Some(env) = self.req_string(&u, "env") {
                let at = self.locs[&u.path("env")];
                self.check(at, &u.path("env"), rules::env_var_name(&env));
                https.push(UrlFromEnv { env });
            }
        }
        let arns = |l: &mut Self, key: &str, check: fn(&str) -> Result<(), String>| -> Vec<String> {
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for (p, at, arn) in l.string_list(&o, key) {
                l.check(at, &p, check(&arn));
                if !seen.insert(arn.clone()) {
                    l.error(at, &p, format!("{arn:?} is listed twice"), None);
                }
                out.push(arn);
            }
            out
        };
        let sqs = arns(self, "sqs", rules::sqs_queue_arn);
        let lambda = arns(self, "lambda", rules::lambda_function_arn);
        let mut slack = Vec::new();
        for (p, n) in self.list(&o, "slack") {
            let Some(c) = self.obj::<SlackChannel>(n, &p) else { continue };
            let (Some(workspace), Some(channel)) = (self.req_string(&c, "workspace"), self.req_string(&c, "channel")) else { continue };
            self.check(self.locs[&c.path("workspace")], &c.path("workspace"), rules::slack_workspace_id(&workspace));
            self.check(self.locs[&c.path("channel")], &c.path("channel"), rules::slack_channel_id(&channel));
            let channel = SlackChannel { workspace, channel };
            if slack.contains(&channel) {
                self.error(self.locs[&c.path("channel")], &c.path("channel"), "this channel is listed twice".to_string(), None);
            }
            slack.push(channel);
        }
        let mut teams = Vec::new();
        for (p, n) in self.list(&o, "teams") {
            let Some(c) = self.obj::<TeamsChannel>(n, &p) else { continue };
            let (Some(tenant), Some(team), Some(channel)) =
                (self.req_string(&c, "tenant"), self.req_string(&c, "team"), self.req_string(&c, "channel"))
            else {
                continue;
            };
            self.check(self.locs[&c.path("tenant")], &c.path("tenant"), rules::teams_uuid(&tenant, "tenant"));
            self.check(self.locs[&c.path("team")], &c.path("team"), rules::teams_uuid(&team, "team"));
            self.check(self.locs[&c.path("channel")], &c.path("channel"), rules::teams_channel_id(&channel));
            let channel = TeamsChannel { tenant, team, channel: rules::teams_channel_id_encoded(&channel) };
            if teams.contains(&channel) {
                self.error(self.locs[&c.path("channel")], &c.path("channel"), "this channel is listed twice".to_string(), None);
            }
            teams.push(channel);
        }
        Some(Topic { name: name?, email, https, sqs, lambda, slack, teams })
    }

    /// `routes:`: for each severity, the topics its alarms notify (checked against `topics` by
    /// the cross-section rules).
    pub(super) fn routes(&mut self, n: &Node, path: &str) -> Option<Routes> {
        let o = self.obj::<Routes>(n, path)?;
        let list = |l: &mut Self, key: &str| l.string_list(&o, key).into_iter().map(|(_, _, s)| s).collect();
        Some(Routes {
            critical: list(self, "critical"),
            high: list(self, "high"),
            medium: list(self, "medium"),
            low: list(self, "low"),
            info: list(self, "info"),
        })
    }
}
