//! Desired resources × live state → plan. Pure: no AWS calls, so it is tested with in-memory
//! inputs and golden fixtures. What is special to a kind (what forces a replacement, why a
//! resource is kept rather than deleted, a pending note) is asked of the kind's module.

use std::collections::{BTreeMap, BTreeSet};

use secmon_kinds::graph;

use crate::plan::{Action, Plan, Step, FORMAT_VERSION};
use crate::{DiffError, Kind, LiveResource, LiveState, Resource};
use secmon_kinds::Address;

/// Options that change what a plan deletes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Plan the deletion of every owned resource (secmon destroy).
    pub destroy: bool,
    /// Also delete buckets that still hold log files.
    pub delete_logs: bool,
}

/// Compares the desired resources with live state. Fails, changing nothing, when a desired
/// resource exists but is not owned by this spec.
pub fn plan(spec: &str, desired: &[Resource], live: &LiveState, opts: PlanOptions) -> Result<Plan, DiffError> {
    let mut steps: Vec<Step> = Vec::new();
    let mut notes = Vec::new();
    let mut pending = Vec::new();
    let mut conflicts = Vec::new();
    let desired_addrs: BTreeSet<Address> = desired.iter().map(Resource::address).collect();

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
                conflicts.push((address, l.owner.clone()));
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
                if let Some(note) = d.kind.def().pending_note(l, d) {
                    pending.push(address.clone());
                    step.reason = "pending confirmation".into();
                    notes.push(note);
                }
            } else if let Some(attr) = d.kind.def().forces_replacement(&l.resource, d) {
                step.action = Action::Replace;
                step.reason = format!("{attr} cannot be changed in place: delete, then create");
            } else {
                step.action = Action::Update;
                step.reason = format!("{}: {}", update_origin(l, d), changed.join(", "));
            }
            steps.push(step);
        }
    }
    if !conflicts.is_empty() {
        let mut owners: Vec<String> = conflicts.iter().filter_map(|(_, o)| o.clone()).collect();
        owners.sort();
        owners.dedup();
        let addresses = conflicts
            .into_iter()
            .map(|(a, o)| match o {
                Some(o) => format!("{a} (owned by spec `{o}`)"),
                None => a.to_string(),
            })
            .collect();
        return Err(DiffError::NotOwned { spec: spec.to_string(), addresses, owners });
    }

    for (address, l) in &live.resources {
        if !l.owned || (!opts.destroy && desired_addrs.contains(address)) {
            continue;
        }
        if let Some(note) = l.resource.kind.def().keep_instead_of_delete(l, opts.delete_logs) {
            notes.push(note);
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
    steps.sort_by_cached_key(|s| {
        (graph::order_key(s.kind(), s.action == Action::Delete), after_its_own_kind(s), natural(s.address.as_str()))
    });
    Ok(Plan {
        format_version: FORMAT_VERSION,
        spec: spec.to_string(),
        account_id: live.account_id.clone(),
        region: live.region.clone(),
        steps,
        notes,
        pending_subscriptions: pending,
        targets: Vec::new(),
    })
}

/// How many resources of its own kind a step comes after, so that the plan reads in the order
/// apply runs it: the trail bucket after the access-log bucket it logs to when both are
/// created, the access-log bucket after the trail bucket when both are deleted.
fn after_its_own_kind(s: &Step) -> usize {
    let own = |a: &&Address| a.kind() == s.kind();
    match (&s.action, &s.after) {
        (Action::Delete, _) | (_, None) => s.depends_on.iter().filter(|a| own(a)).count(),
        (_, Some(after)) => graph::references(after).iter().filter(|a| own(a)).count(),
    }
}

/// Fills `depends_on` from the kinds' graph: creates, updates and replacements wait for what
/// they refer to; deletions wait for every step on the kinds that may refer to them; changes
/// with the same serial key run one at a time.
fn link(steps: &mut [Step]) {
    let changing: BTreeMap<Address, (Action, Kind)> =
        steps.iter().filter(|s| s.action.is_change()).map(|s| (s.address.clone(), (s.action, s.kind()))).collect();
    // Each change's resources, before and after: a deletion waits for the changes of those
    // that name it (a kind may refer to its own resources: graph::referring_to).
    let resources: Vec<(Address, Vec<Resource>)> = steps
        .iter()
        .filter(|s| s.action.is_change())
        .map(|s| (s.address.clone(), s.before.iter().chain(s.after.iter()).cloned().collect()))
        .collect();
    let mut serial: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for s in steps.iter().filter(|s| s.action.is_change()) {
        let r = s.after.as_ref().or(s.before.as_ref()).expect("resource");
        if let Some(key) = r.kind.def().serial_key(r) {
            serial.entry(key).or_default().push(s.address.clone());
        }
    }
    for s in steps.iter_mut() {
        if !s.action.is_change() {
            continue;
        }
        let kind = s.kind();
        let mut deps: BTreeSet<Address> = BTreeSet::new();
        match &s.after {
            None => {
                let consumers = graph::consumers(kind);
                for (addr, (_, k)) in &changing {
                    if *addr != s.address && consumers.contains(k) {
                        deps.insert(addr.clone());
                    }
                }
                for (addr, rs) in &resources {
                    if *addr != s.address && rs.iter().any(|r| graph::referring_to(r, &s.address)) {
                        deps.insert(addr.clone());
                    }
                }
            }
            Some(after) => {
                for r in graph::references(after) {
                    if matches!(changing.get(&r), Some((a, _)) if *a != Action::Delete) {
                        deps.insert(r);
                    }
                }
            }
        }
        let r = s.after.as_ref().or(s.before.as_ref()).expect("resource");
        if let Some(chain) = kind.def().serial_key(r).and_then(|k| serial.get(&k)) {
            if let Some(i) = chain.iter().position(|a| *a == s.address) {
                if i > 0 {
                    deps.insert(chain[i - 1].clone());
                }
            }
        }
        s.depends_on = deps.into_iter().collect();
    }
}

/// Why an owned resource differs from the spec, from the digest its last apply left in the
/// `secmon:applied` tag: live as last applied means the spec was edited; the spec as last
/// applied means someone changed the resource (drift).
fn update_origin(live: &LiveResource, desired: &Resource) -> &'static str {
    match &live.applied {
        Some(a) if *a == live.resource.digest() => "the spec changed",
        Some(a) if *a == desired.digest() => "changed outside the spec (drift)",
        Some(_) => "changed in the spec and outside it",
        None => "changed outside the spec or in it",
    }
}

/// A sort key that orders the numbers inside a name by value: `CIS-4.2` before `CIS-4.10`, as a
/// reader expects of a pack's rules (issue 26, finding 29).
fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut digits = c.to_string();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            // Too long for a number (an account id is not): compared as text.
            match digits.parse::<u64>() {
                Ok(n) if digits.len() < 12 => out.push((std::mem::take(&mut text), n)),
                _ => text.push_str(&digits),
            }
        } else {
            text.push(c);
        }
    }
    out.push((text, 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_29_numbers_in_names_sort_by_value() {
        let mut names = vec!["alarm.CIS-4.10-A", "alarm.CIS-4.2-B", "alarm.CIS-4.1-C", "alarm.Other"];
        names.sort_by_key(|n| natural(n));
        assert_eq!(names, ["alarm.CIS-4.1-C", "alarm.CIS-4.2-B", "alarm.CIS-4.10-A", "alarm.Other"]);
    }
    use secmon_kinds::{LiveResource, Resource};

    fn group(retention: u32) -> Resource {
        let mut r = Resource { kind: Kind::LogGroup, name: "g".into(), arn: None, attrs: Default::default(), meta: Default::default() };
        r.attrs.insert("retention_days".into(), retention.into());
        r
    }

    #[test]
    fn the_applied_digest_tells_drift_from_an_edit() {
        let (applied, spec_now) = (group(90), group(180));
        let live = |r: Resource, tag: Option<&Resource>| LiveResource { applied: tag.map(Resource::digest), ..LiveResource::new(r, true) };
        assert_eq!(update_origin(&live(group(90), Some(&applied)), &spec_now), "the spec changed");
        assert_eq!(update_origin(&live(group(1), Some(&applied)), &group(90)), "changed outside the spec (drift)");
        assert_eq!(update_origin(&live(group(1), Some(&applied)), &spec_now), "changed in the spec and outside it");
        assert_eq!(update_origin(&live(group(1), None), &spec_now), "changed outside the spec or in it");
        assert_eq!(group(90).digest(), group(90).digest(), "stable");
        assert_ne!(group(90).digest(), group(91).digest());
    }
}
