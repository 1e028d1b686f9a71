//! Rules that span sections: references between them, duplicate names, quotas.

use std::collections::BTreeMap;

use super::yaml::Obj;
use super::{Loader, MAX_ALARM_ACTIONS, MAX_FILTERS_PER_LOG_GROUP};
use crate::diag::{did_you_mean, Severity};
use crate::model::DesiredState;

impl Loader<'_> {
    /// Rules that span sections: references, duplicates, monitors needing a log group.
    pub(super) fn cross_checks(&mut self, s: &DesiredState, root: &Obj) {
        // The field's position, or its nearest located parent's (pack monitors point at their pack).
        let loc = |l: &Self, p: &str| crate::diag::nearest(&l.locs, p).unwrap_or(root.pos);
        let topic_names: Vec<&str> = s.topics.iter().map(|t| t.name.as_str()).collect();
        let dup = |l: &mut Self, what: &str, items: Vec<(String, String)>| {
            let mut seen = BTreeMap::new();
            for (path, name) in items {
                if let Some(first) = seen.insert(name.clone(), path.clone()) {
                    let at = loc(l, &path);
                    l.error(at, &path, format!("duplicate {what} {name:?} (first declared at {first})"), None);
                }
            }
        };
        dup(self, "secret name", s.secrets.iter().enumerate().map(|(i, x)| (format!("secrets[{i}].name"), x.name.clone())).collect());
        dup(self, "topic name", s.topics.iter().enumerate().map(|(i, x)| (format!("topics[{i}].name"), x.name.clone())).collect());
        dup(self, "monitor name", s.monitors.iter().enumerate().map(|(i, x)| (format!("monitors[{i}].name"), x.name.clone())).collect());
        dup(
            self,
            "alarm name",
            s.monitors
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("monitors[{i}].name"), x.alarm_name().to_string()))
                .chain(s.contributors.iter().enumerate().map(|(i, x)| (format!("contributors[{i}].name"), x.alarm_name().to_string())))
                .collect(),
        );
        dup(
            self,
            "contributor name",
            s.contributors.iter().enumerate().map(|(i, x)| (format!("contributors[{i}].name"), x.name.clone())).collect(),
        );
        dup(
            self,
            "metric filter name",
            s.monitors.iter().enumerate().map(|(i, x)| (format!("monitors[{i}].name"), x.filter_name().to_string())).collect(),
        );

        let dangling = |l: &mut Self, path: String, name: &str| {
            if !topic_names.contains(&name) {
                let at = loc(l, &path);
                let hint = match did_you_mean(name, &topic_names) {
                    Some(t) => format!("did you mean `{t}`?"),
                    None if topic_names.is_empty() => "declare it under `topics:`".to_string(),
                    None => format!("declared topics: {}", topic_names.join(", ")),
                };
                l.error(at, &path, format!("refers to topic {name:?}, which the spec does not declare"), Some(hint));
            }
        };
        // A routed topic is reported once, where the route names it.
        let routed: Vec<&String> = s.routes.all().flat_map(|(_, topics)| topics.iter()).collect();
        for (severity, topics) in s.routes.all() {
            for (j, t) in topics.iter().enumerate() {
                dangling(self, format!("routes.{}[{j}]", severity.as_str()), t);
            }
        }
        // The heartbeat's topics are checked where `heartbeat.notify` names them.
        let written = |m: &&crate::model::Monitor| m.rule.as_deref() != Some(crate::model::HEARTBEAT_RULE);
        for (i, m) in s.monitors.iter().enumerate().filter(|(_, m)| written(m)) {
            for (j, t) in m.notify.iter().enumerate().filter(|(_, t)| !routed.contains(t)) {
                dangling(self, format!("monitors[{i}].notify[{j}]"), t);
            }
        }
        for (i, c) in s.contributors.iter().enumerate() {
            for (j, t) in c.notify.iter().enumerate().filter(|(_, t)| !routed.contains(t)) {
                dangling(self, format!("contributors[{i}].notify[{j}]"), t);
            }
            let mut topics: Vec<&String> = c.notify.iter().collect();
            topics.sort();
            topics.dedup();
            if topics.len() > MAX_ALARM_ACTIONS {
                let path = format!("contributors[{i}].notify");
                let at = loc(self, &path);
                let message = format!(
                    "this alarm would notify {} topics; CloudWatch allows at most {MAX_ALARM_ACTIONS} actions per alarm",
                    topics.len()
                );
                self.error(at, &path, message, None);
            }
            if c.notify.is_empty() {
                let at = loc(self, &format!("contributors[{i}]"));
                let hint = Some("add a topic under `notify:`, or a `severity` that `routes:` sends somewhere".into());
                self.push(Severity::Warning, at, &format!("contributors[{i}].notify"), "this alarm notifies nobody".into(), hint);
            }
        }
        if !s.contributors.is_empty() && !s.has_log_group() {
            let at = loc(self, "contributors");
            self.error(
                at,
                "contributors",
                "contributors need the trail's CloudWatch Logs delivery: Contributor Insights rules read its log group",
                Some("add `trail.cloudwatch_logs: { log_group: NAME }`".into()),
            );
        }
        if let Some(t) = &s.trail {
            if let Some(n) = &t.notify_topic {
                dangling(self, "trail.notify_topic".into(), n);
            }
        }
        if !s.monitors.is_empty() && !s.has_log_group() {
            let path = if s.trail.is_some() { "trail" } else { "monitors" };
            let at = loc(self, path);
            self.error(
                at,
                path,
                "monitors need the trail's CloudWatch Logs delivery: metric filters live on its log group",
                Some("add `trail.cloudwatch_logs: { log_group: NAME }`".into()),
            );
        }
        if s.monitors.len() > MAX_FILTERS_PER_LOG_GROUP {
            let at = loc(self, "monitors");
            self.error(
                at,
                "monitors",
                format!(
                    "{} monitors need {} metric filters on the trail's log group; CloudWatch Logs allows at most {MAX_FILTERS_PER_LOG_GROUP} per log group",
                    s.monitors.len(),
                    s.monitors.len()
                ),
                Some("combine related events into one pattern with `||`, or drop pack rules you do not need".into()),
            );
        }
        for (i, m) in s.monitors.iter().enumerate() {
            // CloudWatch's fixed quota: at most 5 actions per alarm state (PutMetricAlarm refuses more).
            let mut topics: Vec<&String> = m.notify.iter().collect();
            topics.sort();
            topics.dedup();
            if topics.len() > MAX_ALARM_ACTIONS {
                let path = format!("monitors[{i}].notify");
                let at = loc(self, &path);
                self.error(
                    at,
                    &path,
                    format!(
                        "this alarm would notify {} topics; CloudWatch allows at most {MAX_ALARM_ACTIONS} actions per alarm",
                        topics.len()
                    ),
                    Some(format!(
                        "name at most {MAX_ALARM_ACTIONS} topics in `notify:` (a pack rule's default is every topic: set `notify:` on the pack)"
                    )),
                );
            }
            if m.notify.is_empty() && written(&m) {
                let at = loc(self, &format!("monitors[{i}]"));
                self.push(
                    Severity::Warning,
                    at,
                    &format!("monitors[{i}].notify"),
                    "this alarm notifies nobody".into(),
                    Some("add a topic under `notify:`, or give the monitor a `severity` that `routes:` sends somewhere".into()),
                );
            }
        }
    }
}
