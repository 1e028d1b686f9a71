//! `topics:`: SNS topics and their e-mail subscribers.

use std::collections::BTreeSet;

use super::yaml::Node;
use super::Loader;
use crate::model::{Routes, Topic, UrlFromEnv};
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
        Some(Topic { name: name?, email, https, sqs, lambda })
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
