//! `monitors:`: each metric filter, its metric, and the alarm on it.

use saphyr::{ScalarOwned, YamlDataOwned};

use super::yaml::{is_null, pos, untag, Node};
use super::Loader;
use crate::diag::did_you_mean;
use crate::model::*;
use crate::rules;

impl Loader<'_> {
    pub(super) fn monitor(&mut self, n: &Node, path: &str) -> Option<Monitor> {
        let o = self.obj::<Monitor>(n, path)?;
        let name = self.req_string(&o, "name");
        let description = self.description(&o, "alarm description", 1024);
        let pattern = self.req_string(&o, "pattern");
        if let Some(p) = &pattern {
            let at = self.locs[&o.path("pattern")];
            if p.chars().count() > 1024 {
                self.error(at, &o.path("pattern"), "filter pattern must be at most 1024 characters", None);
            }
        }
        let filter_name = self.opt_string(&o, "filter_name");
        let fname = filter_name.clone().or_else(|| name.clone());
        if let Some(f) = &fname {
            let at = self.locs.get(&o.path("filter_name")).or(self.locs.get(&o.path("name"))).copied().unwrap_or(o.pos);
            self.check(at, &o.path(if filter_name.is_some() { "filter_name" } else { "name" }), rules::filter_name(f));
        }
        let metric = self.require(&o, "metric").and_then(|m| {
            let mp = o.path("metric");
            let mo = self.obj::<Metric>(m, &mp)?;
            let namespace = self.opt_string(&mo, "namespace").unwrap_or_else(default_namespace);
            let at = self.locs.get(&mo.path("namespace")).copied().unwrap_or(mo.pos);
            self.check(at, &mo.path("namespace"), rules::metric_namespace(&namespace));
            let mname = self.checked(&mo, "name", true, rules::metric_name);
            let value = match mo.get("value").filter(|n| !is_null(n)) {
                None => default_metric_value(),
                Some(v) => match &untag(v).data {
                    YamlDataOwned::Value(ScalarOwned::Integer(i)) => i.to_string(),
                    YamlDataOwned::Value(ScalarOwned::FloatingPoint(f)) => f.to_string(),
                    _ => self.as_string(v, &mo.path("value"))?,
                },
            };
            let at = self.locs.get(&mo.path("value")).copied().unwrap_or(mo.pos);
            self.check(at, &mo.path("value"), rules::metric_value(&value));
            let dimensions = self.string_map(&mo, "dimensions");
            if dimensions.len() > 3 {
                let at = self.locs[&mo.path("dimensions")];
                self.error(
                    at,
                    &mo.path("dimensions"),
                    format!("a metric filter can have at most 3 dimensions, not {}", dimensions.len()),
                    None,
                );
            }
            for (k, v) in &dimensions {
                let field = format!("{}.{k}", mo.path("dimensions"));
                let at = self.locs.get(&field).copied().unwrap_or(mo.pos);
                if !(v.starts_with('$') && rules::metric_value(v).is_ok() && v.parse::<f64>().is_err()) {
                    self.error(
                        at,
                        &field,
                        format!("dimension {k:?} must name a field of the event, like $.userIdentity.arn, not {v:?}"),
                        None,
                    );
                }
                self.check(at, &field, rules::metric_name(k));
            }
            let default = match mo.get("default") {
                // AWS refuses a default value together with dimensions.
                None => Metric::default_when_absent(&dimensions),
                Some(d) if is_null(d) => None,
                Some(d) => {
                    if !dimensions.is_empty() {
                        self.error(
                            pos(d),
                            &mo.path("default"),
                            "a metric filter with dimensions cannot have a default value",
                            Some("set `default: null` or remove the dimensions".into()),
                        );
                    }
                    self.as_number(d, &mo.path("default"))
                }
            };
            Some(Metric { namespace, name: mname?, value, default, dimensions })
        });
        let alarm = match o.get("alarm").filter(|n| !is_null(n)) {
            None => Some(Alarm::default()),
            Some(a) => self.alarm(a, &o.path("alarm")),
        };
        self.check_alarm_name(&o, alarm.as_ref(), name.as_deref());
        let notify = self.string_list(&o, "notify").into_iter().map(|(_, _, s)| s).collect();
        let severity = self.severity(&o);
        let alert_context = self.opt_bool(&o, "alert_context");
        let runbook = o.get("runbook").filter(|n| !is_null(n)).and_then(|n| self.runbook(n, &o.path("runbook")));
        if let (Some(r), Some(at)) = (&runbook, self.locs.get(&o.path("runbook")).copied()) {
            let total = description.as_deref().map_or(0, |d| d.chars().count() + 1) + r.text().chars().count();
            if total > 1024 {
                let hint = Some("shorten the runbook or the description: they share the alarm description".to_string());
                self.error(
                    at,
                    &o.path("runbook"),
                    format!("the description and the runbook make {total} characters; an alarm description holds 1024"),
                    hint,
                );
            }
        }
        let mut tests = Vec::new();
        for (path, n) in self.list(&o, "tests") {
            if let Some(t) = self.monitor_test(n, &path) {
                tests.push(t);
            }
        }
        Some(Monitor {
            name: name?,
            description,
            pattern: pattern?,
            filter_name,
            metric: metric?,
            alarm: alarm?,
            notify,
            severity,
            alert_context,
            runbook,
            tests,
            rule: None,
        })
    }

    /// The alarm's name (`alarm.name`, else the entry's `name`) against CloudWatch's rule, located
    /// at whichever of the two gives it.
    pub(super) fn check_alarm_name(&mut self, o: &super::yaml::Obj, alarm: Option<&Alarm>, name: Option<&str>) {
        let Some(alarm_name) = alarm.and_then(|a| a.name.as_deref()).or(name) else { return };
        let at = self.locs.get(&o.path("alarm.name")).or(self.locs.get(&o.path("name"))).copied().unwrap_or(o.pos);
        self.check(at, &o.path("name"), rules::alarm_name(alarm_name));
    }

    /// A `severity` field: one of [`AlarmSeverity::ALL`], with a did-you-mean.
    pub(super) fn severity(&mut self, o: &super::yaml::Obj) -> Option<crate::AlarmSeverity> {
        let s = self.opt_string(o, "severity")?;
        let parsed = crate::AlarmSeverity::parse(&s);
        if parsed.is_none() {
            let at = self.locs[&o.path("severity")];
            let hint = Some(match crate::did_you_mean(&s, &crate::AlarmSeverity::ALL) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("use one of {}", crate::AlarmSeverity::ALL.join(", ")),
            });
            self.error(at, &o.path("severity"), format!("unknown severity {s:?}"), hint);
        }
        parsed
    }

    /// A monitor's `runbook`: a meaning, one to three checks, an ATT&CK id of the right form.
    pub(super) fn runbook(&mut self, n: &Node, path: &str) -> Option<Runbook> {
        let o = self.obj::<Runbook>(n, path)?;
        let meaning = self.req_string(&o, "meaning");
        let check: Vec<String> = self.string_list(&o, "check").into_iter().map(|(_, _, s)| s).collect();
        if !(1..=3).contains(&check.len()) {
            let at = self.locs.get(&o.path("check")).copied().unwrap_or(o.pos);
            self.error(at, &o.path("check"), format!("a runbook lists one to three checks, not {}", check.len()), None);
        }
        let attack = self.opt_string(&o, "attack");
        if let Some(a) = &attack {
            let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
            let technique = a.strip_prefix('T').is_some_and(|t| match t.split_once('.') {
                Some((id, sub)) => digits(id, 4) && digits(sub, 3),
                None => digits(t, 4),
            });
            let tactic = a.strip_prefix("TA").is_some_and(|t| digits(t, 4));
            if !(technique || tactic) {
                let at = self.locs[&o.path("attack")];
                self.error(
                    at,
                    &o.path("attack"),
                    format!("{a:?} is not an ATT&CK id"),
                    Some("a technique (T1555 or T1555.006) or a tactic (TA0006)".into()),
                );
            }
        }
        Some(Runbook { meaning: meaning?, check, attack })
    }

    /// One of a monitor's `tests`: an events file and what the pattern must do with it. The
    /// file is read by `validate` (secmon-sim's lint), not here: the loader reads no other file.
    pub(super) fn monitor_test(&mut self, n: &Node, path: &str) -> Option<MonitorTest> {
        let o = self.obj::<MonitorTest>(n, path)?;
        let events = self.req_string(&o, "events");
        let expect = self.req_string(&o, "expect").and_then(|s| {
            Expect::parse(&s).or_else(|| {
                let field = o.path("expect");
                let hint = did_you_mean(&s, &Expect::ALL).map(|c| format!("did you mean `{c}`?")).or(Some("use match or no-match".into()));
                self.error(self.locs[&field], &field, format!("unknown expect {s:?}"), hint);
                None
            })
        });
        Some(MonitorTest { events: events?, expect: expect? })
    }

    pub(super) fn alarm(&mut self, n: &Node, path: &str) -> Option<Alarm> {
        let o = self.obj::<Alarm>(n, path)?;
        let d = Alarm::default();
        let name = self.opt_string(&o, "name");
        let statistic = self.opt_string(&o, "statistic").unwrap_or(d.statistic);
        if let Some(at) = self.locs.get(&o.path("statistic")).copied() {
            if let Err(m) = rules::statistic(&statistic) {
                let hint = did_you_mean(&statistic, &rules::STATISTICS).map(|s| format!("did you mean `{s}`?"));
                self.error(at, &o.path("statistic"), m, hint);
            }
        }
        let period = self.opt_uint(&o, "period").unwrap_or(d.period);
        if let Some(at) = self.locs.get(&o.path("period")).copied() {
            self.check(at, &o.path("period"), rules::period(period));
        }
        let evaluation_periods = self.opt_uint(&o, "evaluation_periods").unwrap_or(d.evaluation_periods);
        let at_eval = self.locs.get(&o.path("evaluation_periods")).copied().unwrap_or(o.pos);
        if evaluation_periods == 0 {
            self.error(at_eval, &o.path("evaluation_periods"), "evaluation_periods must be at least 1", None);
        } else {
            self.check(at_eval, &o.path("evaluation_periods"), rules::evaluation_window(period, evaluation_periods));
        }
        let datapoints_to_alarm = self.opt_uint(&o, "datapoints_to_alarm");
        if let Some(m) = datapoints_to_alarm {
            if m == 0 || m > evaluation_periods {
                let at = self.locs[&o.path("datapoints_to_alarm")];
                self.error(
                    at,
                    &o.path("datapoints_to_alarm"),
                    format!("datapoints_to_alarm must be 1-{evaluation_periods} (evaluation_periods), got {m}"),
                    None,
                );
            }
        }
        let threshold = match o.get("threshold").filter(|n| !is_null(n)) {
            None => d.threshold,
            Some(t) => self.as_number(t, &o.path("threshold")).unwrap_or(d.threshold),
        };
        if let Some(at) = self.locs.get(&o.path("threshold")).copied() {
            self.check(at, &o.path("threshold"), rules::threshold(threshold));
        }
        let comparison = self.one_of(&o, "comparison", &Comparison::ALL, Comparison::parse);
        let treat_missing_data = self.one_of(&o, "treat_missing_data", &TreatMissingData::ALL, TreatMissingData::parse);
        let dimensions = self.string_map(&o, "dimensions");
        let ok_actions = self.opt_bool(&o, "ok_actions").unwrap_or(false);
        let insufficient_data_actions = self.opt_bool(&o, "insufficient_data_actions").unwrap_or(false);
        Some(Alarm {
            dimensions,
            ok_actions,
            insufficient_data_actions,
            name,
            statistic,
            period,
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison,
            treat_missing_data,
        })
    }
}
