//! The plan is data: what would change, in a deterministic order, with the dependencies apply
//! walks. Rendering (human or JSON) is done elsewhere from this same structure.

use std::collections::BTreeMap;

use secmon_kinds::{Address, Kind, Resource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the JSON plan format (`secmon plan --output json`, `secmon plan -o FILE`).
pub const FORMAT_VERSION: u32 = 1;

/// What a step does to its resource. Closed: apply has one way to carry out each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Live matches the spec: nothing to do.
    NoOp,
    /// The resource does not exist: create it.
    Create,
    /// The resource exists and differs: change it in place, calling only what differs.
    Update,
    /// Delete, then create: an attribute changed that AWS cannot change in place (the step's
    /// `reason` names it).
    Replace,
    /// An owned resource the spec no longer names: delete it.
    Delete,
}

impl Action {
    /// Whether the step changes AWS (anything but [`Action::NoOp`]).
    pub fn is_change(self) -> bool {
        self != Action::NoOp
    }
}

/// One step of a plan. `reason` is for humans; apply never branches on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The resource's address, `kind.name`.
    pub address: Address,
    /// What the step does.
    pub action: Action,
    /// The resource as it is live (none for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Resource>,
    /// The resource as the spec wants it (none for a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Resource>,
    /// Addresses of the steps that must be done first (the dependency graph's edges).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// Why, in words, for the reader of the plan: never read by apply.
    pub reason: String,
}

impl Step {
    /// The kind of the step's resource.
    pub fn kind(&self) -> Kind {
        self.after.as_ref().or(self.before.as_ref()).map(|r| r.kind).expect("a step has a resource")
    }

    /// Attributes whose value differs, as (name, before, after).
    pub fn changed_attrs(&self) -> Vec<(String, Option<Value>, Option<Value>)> {
        let empty = BTreeMap::new();
        let b = self.before.as_ref().map(|r| &r.attrs).unwrap_or(&empty);
        let a = self.after.as_ref().map(|r| &r.attrs).unwrap_or(&empty);
        let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter().filter(|k| b.get(*k) != a.get(*k)).map(|k| (k.clone(), b.get(k).cloned(), a.get(k).cloned())).collect()
    }
}

/// A plan: every managed resource's step, in a deterministic order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`] when the plan was made: a saved plan of another format is refused.
    pub format_version: u32,
    /// The spec's name.
    pub spec: String,
    /// The account the plan was made for; a saved plan applies only there.
    pub account_id: String,
    /// The region the plan was made for.
    pub region: String,
    /// Every managed resource's step, changes or not, in the order apply would take them.
    pub steps: Vec<Step>,
    /// Notes for humans that are not changes (pending subscriptions, kept buckets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Addresses of e-mail subscriptions still waiting for their confirmation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_subscriptions: Vec<Address>,
    /// `--target` addresses this plan was narrowed to (with their dependencies); empty for a
    /// whole plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

impl Plan {
    /// Whether the resource at `container` (a topic) has at least one member that needed a
    /// confirmation and has it (a confirmed subscription), before and after this plan: a member
    /// the plan creates is not confirmed yet.
    pub fn has_confirmed_member(&self, container: &Address) -> bool {
        self.steps.iter().filter(|s| s.action == Action::NoOp && !self.pending_subscriptions.contains(&s.address)).any(|s| {
            s.after.as_ref().is_some_and(|r| {
                let def = r.kind.def();
                def.resend_confirmation(r).is_some() && def.container(r).as_ref() == Some(container)
            })
        })
    }

    /// Whether this plan creates, in a container resource `name` refers to, a member that will
    /// wait for its recipient's confirmation (a first apply's e-mail subscription).
    pub fn asks_confirmation(&self, name: &str) -> bool {
        let containers = self.referred_by(name);
        self.steps.iter().filter(|s| s.action == Action::Create).filter_map(|s| s.after.as_ref()).any(|r| {
            let def = r.kind.def();
            def.resend_confirmation(r).is_some() && def.container(r).is_some_and(|c| containers.contains(&c))
        })
    }

    /// Whether some resource named `name` refers to a container with a confirmed member ([`Plan::has_confirmed_member`]):
    /// an alarm that notifies a topic someone confirmed.
    pub fn notifies_someone(&self, name: &str) -> bool {
        self.referred_by(name).iter().any(|c| self.has_confirmed_member(c))
    }

    /// The addresses the resources named `name` refer to (an alarm's topics).
    fn referred_by(&self, name: &str) -> Vec<Address> {
        self.steps.iter().filter_map(|s| s.after.as_ref()).filter(|r| r.name == name).flat_map(|r| r.kind.def().references(r)).collect()
    }
}

impl Plan {
    /// The steps that change AWS.
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action.is_change())
    }
    /// Whether applying the plan would change AWS.
    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
    }
    /// How many steps do `action`.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
    /// The plan narrowed to `targets` and what they depend on (as terraform's `-target`): the
    /// steps of other resources are left out. Err names an address the plan does not have.
    pub fn targeted(&self, targets: &[String]) -> Result<Plan, String> {
        let known: std::collections::BTreeSet<String> = self.steps.iter().map(|s| s.address.to_string()).collect();
        if let Some(t) = targets.iter().find(|t| !known.contains(*t)) {
            let all: Vec<&str> = known.iter().map(String::as_str).collect();
            // Issue 26, finding 23: a typo gets the likely address first.
            let guess = secmon_spec::did_you_mean(t, &all).map(|g| format!("did you mean `{g}`? ")).unwrap_or_default();
            return Err(format!("--target {t}: the plan has no such resource; {guess}(addresses: {})", all.join(", ")));
        }
        let mut keep: std::collections::BTreeSet<Address> =
            self.steps.iter().filter(|s| targets.iter().any(|t| s.address == *t)).map(|s| s.address.clone()).collect();
        loop {
            let more: Vec<Address> = self
                .steps
                .iter()
                .filter(|s| keep.contains(&s.address))
                .flat_map(|s| s.depends_on.iter())
                .filter(|d| !keep.contains(*d))
                .cloned()
                .collect();
            if more.is_empty() {
                break;
            }
            keep.extend(more);
        }
        let mut out = self.clone();
        out.steps.retain(|s| keep.contains(&s.address));
        out.targets = targets.to_vec();
        Ok(out)
    }

    /// The steps that would change AWS, without `reason`: two plans with the same changes are
    /// the same plan even if worded differently. Used to refuse a saved plan when live state moved.
    pub fn change_set(&self) -> Vec<(Address, Action, Option<Resource>, Option<Resource>)> {
        self.changes().map(|s| (s.address.clone(), s.action, s.before.clone(), s.after.clone())).collect()
    }
}
