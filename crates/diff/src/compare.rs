//! Desired resources × live state → plan. Pure: no AWS calls, so it is tested with in-memory
//! inputs and golden fixtures.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::desired::references;
use crate::plan::{Action, Kind, Plan, Resource, Step, FORMAT_VERSION};
use crate::DiffError;

/// A resource found in AWS, in the same model as the desired ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResource {
    pub resource: Resource,
    /// Tagged `secmon:spec=<this spec>` (or, for untaggable kinds, inside an owned resource).
    pub owned: bool,
    /// A subscription waiting for its e-mail confirmation.
    #[serde(default)]
    pub pending: bool,
    /// A bucket that holds objects (log files).
    #[serde(default)]
    pub holds_data: bool,
}

/// Everything secmon found in AWS that matters to this spec, keyed by address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    pub account_id: String,
    pub region: String,
    pub resources: BTreeMap<String, LiveResource>,
}

impl LiveState {
    pub fn insert(&mut self, r: LiveResource) {
        self.resources.insert(r.resource.address(), r);
    }
}

/// Options that change what a plan deletes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Plan the deletion of every owned resource (secmon destroy).
    pub destroy: bool,
    /// Also delete buckets that still hold log files.
    pub delete_logs: bool,
}

fn delete_order(k: Kind) -> u8 {
    // Consumers go first: trail, alarms, filters and subscriptions before what they point at.
    match k {
        Kind::Trail => 0,
        Kind::Alarm | Kind::MetricFilter | Kind::Subscription => 1,
        _ => 2,
    }
}

/// Compares the desired resources with live state. Fails, changing nothing, when a desired
/// resource exists but is not owned by this spec.
pub fn plan(spec: &str, desired: &[Resource], live: &LiveState, opts: PlanOptions) -> Result<Plan, DiffError> {
    let mut steps: Vec<Step> = Vec::new();
    let mut notes = Vec::new();
    let mut pending = Vec::new();
    let mut conflicts = Vec::new();
    let desired_addrs: BTreeSet<String> = desired.iter().map(Resource::address).collect();

    if !opts.destroy {
        for d in desired {
            let address = d.address();
            let Some(l) = live.resources.get(&address) else {
                steps.push(Step {
                    address,
                    action: Action::Create,
                    before: None,
                    after: Some(d.clone()),
                    depends_on: vec![],
                    reason: "does not exist".into(),
                });
                continue;
            };
            if !l.owned {
                conflicts.push(address);
                continue;
            }
            let mut after = d.clone();
            // Identity found live (e.g. a secret's ARN suffix) is kept for apply.
            if after.arn.is_none() {
                after.arn = l.resource.arn.clone();
            }
            let mut step = Step {
                address: address.clone(),
                action: Action::NoOp,
                before: Some(l.resource.clone()),
                after: Some(after),
                depends_on: vec![],
                reason: String::new(),
            };
            let changed: Vec<String> = step.changed_attrs().into_iter().map(|(k, _, _)| k).collect();
            if changed.is_empty() {
                step.reason = "up to date".into();
                if l.pending {
                    pending.push(address.clone());
                    step.reason = "pending confirmation".into();
                    notes.push(format!(
                        "{address}: e-mail subscription pending confirmation; the recipient must click the link in the \
                         \"AWS Notification - Subscription Confirmation\" e-mail. To send it again: \
                         aws sns subscribe --topic-arn {} --protocol email --notification-endpoint {}",
                        l.resource.meta.get("topic_arn").and_then(serde_json::Value::as_str).unwrap_or(""),
                        d.attr_str("endpoint").unwrap_or("")
                    ));
                }
            } else {
                step.action = Action::Update;
                step.reason = format!("changed outside the spec or in it: {}", changed.join(", "));
            }
            steps.push(step);
        }
    }
    if !conflicts.is_empty() {
        return Err(DiffError::NotOwned {
            spec: spec.to_string(),
            addresses: conflicts,
        });
    }

    for (address, l) in &live.resources {
        if !l.owned || (!opts.destroy && desired_addrs.contains(address)) {
            continue;
        }
        if l.resource.kind == Kind::Bucket && l.holds_data && !opts.delete_logs {
            notes.push(format!(
                "{address}: kept because it holds log files; pass --delete-logs to delete it with its logs"
            ));
            continue;
        }
        if l.resource.kind == Kind::Subscription && l.pending {
            notes.push(format!(
                "{address}: pending subscriptions cannot be deleted; AWS removes them after 3 days unconfirmed"
            ));
            continue;
        }
        if l.resource.kind == Kind::Secret && l.resource.attrs.get("pending_deletion") == Some(&serde_json::Value::Bool(true)) {
            notes.push(format!(
                "{address}: already scheduled for deletion (restorable until its recovery window ends)"
            ));
            continue;
        }
        let reason = if opts.destroy { "destroy" } else { "no longer in the spec" };
        steps.push(Step {
            address: address.clone(),
            action: Action::Delete,
            before: Some(l.resource.clone()),
            after: None,
            depends_on: vec![],
            reason: reason.into(),
        });
    }

    link(&mut steps);
    steps.sort_by(|a, b| {
        let key = |s: &Step| {
            (
                s.action == Action::Delete,
                if s.action == Action::Delete {
                    delete_order(s.kind())
                } else {
                    s.kind() as u8
                },
                s.address.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(Plan {
        format_version: FORMAT_VERSION,
        spec: spec.to_string(),
        account_id: live.account_id.clone(),
        region: live.region.clone(),
        steps,
        notes,
        pending_subscriptions: pending,
    })
}

/// Fills `depends_on`: creates and updates wait for what they refer to; deletions wait for every
/// step on the kinds that may refer to them; metric filters on one log group run one at a time
/// (parallel PutMetricFilter calls on one group are known to swap patterns).
fn link(steps: &mut [Step]) {
    let changing: BTreeMap<String, (Action, Kind)> = steps
        .iter()
        .filter(|s| s.action.is_change())
        .map(|s| (s.address.clone(), (s.action, s.kind())))
        .collect();
    let mut filters_by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in steps.iter().filter(|s| s.action.is_change() && s.kind() == Kind::MetricFilter) {
        let r = s.after.as_ref().or(s.before.as_ref()).expect("resource");
        filters_by_group
            .entry(r.attr_str("log_group").unwrap_or("").to_string())
            .or_default()
            .push(s.address.clone());
    }
    for s in steps.iter_mut() {
        if !s.action.is_change() {
            continue;
        }
        let mut deps: BTreeSet<String> = BTreeSet::new();
        match (s.action, &s.after) {
            (Action::Delete, _) | (_, None) => {
                let kind = s.kind();
                for (addr, (_, k)) in &changing {
                    if kind.consumers().contains(k) && *addr != s.address {
                        deps.insert(addr.clone());
                    }
                }
            }
            (_, Some(after)) => {
                for r in references(after) {
                    if matches!(changing.get(&r), Some((a, _)) if *a != Action::Delete) {
                        deps.insert(r);
                    }
                }
            }
        }
        if s.kind() == Kind::MetricFilter {
            let r = s.after.as_ref().or(s.before.as_ref()).expect("resource");
            let chain = &filters_by_group[r.attr_str("log_group").unwrap_or("")];
            if let Some(i) = chain.iter().position(|a| *a == s.address) {
                if i > 0 {
                    deps.insert(chain[i - 1].clone());
                }
            }
        }
        s.depends_on = deps.into_iter().collect();
    }
}
