//! `heartbeat:` (issue 24, item 3): how often the canary is read and who is paged.

use super::yaml::{pos, Node};
use super::Loader;
use crate::diag::did_you_mean;
use crate::model::{DesiredState, Heartbeat, HEARTBEAT_RULE};

impl Loader<'_> {
    pub(super) fn heartbeat(&mut self, n: &Node, path: &str) -> Option<Heartbeat> {
        let o = self.obj::<Heartbeat>(n, path)?;
        let mut hb = Heartbeat { every: crate::model::default_heartbeat_every(), notify: Vec::new() };
        if let Some(every) = self.opt_string(&o, "every") {
            hb.every = every;
            if hb.minutes().is_none() {
                let field = o.path("every");
                let at = self.locs[&field];
                self.error(
                    at,
                    &field,
                    format!("{:?} is not a heartbeat interval: whole minutes from `1m` to `60m`", hb.every),
                    Some("EventBridge schedules and metric filter datapoints count in minutes; `5m` is the default".into()),
                );
            }
        }
        hb.notify = self.string_list(&o, "notify").into_iter().map(|(_, _, s)| s).collect();
        Some(hb)
    }

    /// The heartbeat's own rules, once the whole state exists: a log group to count the canary
    /// in, and topics to page (its own `notify`, else the `critical` route). Then the canary
    /// monitor joins the monitors.
    pub(super) fn heartbeat_checks(&mut self, state: &mut DesiredState, root: &Node) {
        let Some(hb) = state.heartbeat.clone() else { return };
        let at = self.locs.get("heartbeat").copied().unwrap_or(pos(root));
        if !state.has_log_group() {
            let hint = Some("add a `trail` with `cloudwatch_logs: { log_group: NAME }`".to_string());
            self.error(
                at,
                "heartbeat",
                "the heartbeat is counted by a metric filter on the trail's log group, and the spec has none",
                hint,
            );
            return;
        }
        let topics: Vec<&str> = state.topics.iter().map(|t| t.name.as_str()).collect();
        for (j, t) in hb.notify.iter().enumerate() {
            if !topics.contains(&t.as_str()) {
                let path = format!("heartbeat.notify[{j}]");
                let at = self.locs.get(&path).copied().unwrap_or(at);
                let hint = did_you_mean(t, &topics).map(|d| format!("did you mean `{d}`?"));
                self.error(at, &path, format!("refers to topic {t:?}, which the spec does not declare"), hint);
            }
        }
        if hb.notify.is_empty() && state.routes.critical.is_empty() {
            self.error(
                at,
                "heartbeat",
                "a heartbeat that stops must page someone, and it has no topic",
                Some("add `notify: [TOPIC]` under `heartbeat`, or a `routes.critical` topic".into()),
            );
        }
        state.beat();
        // Later findings about the canary monitor point at `heartbeat`.
        if let Some(i) = state.monitors.iter().position(|m| m.rule.as_deref() == Some(HEARTBEAT_RULE)) {
            self.locs.insert(format!("monitors[{i}]"), at);
        }
    }
}
