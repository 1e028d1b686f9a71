//! `contributors:`: Contributor Insights rules on the trail's log group and their alarms
//! (issue 25, item 1). Whether the pattern is one a rule can say is secmon-sim's judgement
//! (`contributors::definition`), run by every command that loads a spec.

use super::yaml::{is_null, Node};
use super::Loader;
use crate::model::*;
use crate::rules;

/// A rule's keys: PutInsightRule's `Contribution.Keys` holds one to four (CloudWatch user guide,
/// "Contributor Insights rule syntax").
pub const MAX_CONTRIBUTOR_KEYS: usize = 4;

impl Loader<'_> {
    pub(super) fn contributor(&mut self, n: &Node, path: &str) -> Option<Contributor> {
        let o = self.obj::<Contributor>(n, path)?;
        let name = self.checked(&o, "name", true, rules::insight_rule_name);
        let description = self.description(&o, "alarm description", 1024);
        let pattern = self.req_string(&o, "pattern");
        let keys: Vec<(String, crate::diag::Pos, String)> = self.string_list(&o, "keys");
        let keys_at = self.locs.get(&o.path("keys")).copied().unwrap_or(o.pos);
        if !(1..=MAX_CONTRIBUTOR_KEYS).contains(&keys.len()) {
            let message = format!("a Contributor Insights rule has one to {MAX_CONTRIBUTOR_KEYS} keys, not {}", keys.len());
            self.error(
                keys_at,
                &o.path("keys"),
                message,
                Some("name the fields whose values make a contributor, e.g. $.userIdentity.arn".into()),
            );
        }
        for (field, at, key) in &keys {
            let path_ok = key.strip_prefix("$.").is_some_and(|rest| {
                !rest.is_empty()
                    && rest.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "_[]".contains(c)))
            });
            if !path_ok {
                let hint = Some("a field in JSON property notation, like $.userIdentity.arn or $.resources[0].ARN".into());
                self.error(*at, field, format!("{key:?} is not a field of the event"), hint);
            }
        }
        let measure = self.one_of(&o, "measure", &ContributorMeasure::ALL, ContributorMeasure::parse);
        let alarm = match o.get("alarm").filter(|n| !is_null(n)) {
            None => {
                let hint = Some("e.g. `alarm: { threshold: 20, period: 300 }`: how many per contributor per period is too many".into());
                self.error(o.pos, &o.path("alarm"), "a contributor needs an alarm with a `threshold`", hint);
                None
            }
            Some(a) => {
                let alarm = self.alarm(a, &o.path("alarm"));
                let ap = o.path("alarm");
                if !self.locs.contains_key(&format!("{ap}.threshold")) {
                    let at = self.locs.get(&ap).copied().unwrap_or(o.pos);
                    let hint = Some("how many per contributor per period is too many, e.g. `threshold: 20`".into());
                    self.error(at, &format!("{ap}.threshold"), "a contributor's alarm needs a `threshold`", hint);
                }
                for field in ["statistic", "dimensions"] {
                    if let Some(at) = self.locs.get(&format!("{ap}.{field}")).copied() {
                        let message = format!("a contributor's alarm watches the rule's `measure`; `{field}` does not apply");
                        self.error(at, &format!("{ap}.{field}"), message, None);
                    }
                }
                alarm
            }
        };
        self.check_alarm_name(&o, alarm.as_ref(), name.as_deref());
        let notify = self.string_list(&o, "notify").into_iter().map(|(_, _, s)| s).collect();
        let severity = self.severity(&o);
        let runbook = o.get("runbook").filter(|n| !is_null(n)).and_then(|n| self.runbook(n, &o.path("runbook")));
        Some(Contributor {
            name: name?,
            description,
            pattern: pattern?,
            keys: keys.into_iter().map(|(_, _, k)| k).collect(),
            measure,
            alarm: alarm?,
            notify,
            severity,
            runbook,
            rule: None,
        })
    }
}
