//! The one dependency graph. Each kind declares the kinds it may refer to
//! (`Facts::refers_to`, [`crate::Facts`]) and, per resource, the addresses
//! it refers to ([`ResourceKind::references`](crate::ResourceKind::references)). From these alone:
//! - create and update order: a resource waits for what it refers to ([`references`]);
//! - delete order: a deletion waits for every change on the other kinds that may refer to it
//!   ([`consumers`]), because a deleted resource may be known only by its ARN, without the
//!   attributes that would name its references;
//! - the plan's order of kinds: [`depth`] (creates shallow first, deletes deep first).
//!
//! A kind may refer to itself (the trail bucket logs to the access-log bucket, both `bucket`s):
//! that edge orders resources, not kinds. A resource waits for the ones it names, and a deletion
//! waits for the changes of the resources that name it ([`referring_to`]).

use crate::{Kind, Resource};

/// Other kinds whose resources may refer to a resource of `kind` (a kind's references to its
/// own resources are ordered by [`referring_to`]).
pub fn consumers(kind: Kind) -> Vec<Kind> {
    Kind::ALL.iter().copied().filter(|k| *k != kind && k.facts().refers_to.contains(&kind)).collect()
}

/// Length of the longest chain of references to other kinds starting at `kind` (0: refers to
/// nothing).
pub fn depth(kind: Kind) -> usize {
    kind.facts().refers_to.iter().filter(|k| **k != kind).map(|k| depth(*k) + 1).max().unwrap_or(0)
}

/// Whether `r` (as it is, or as it will be) names the resource at `address`: a deletion of that
/// resource waits for `r`'s change.
pub fn referring_to(r: &Resource, address: &crate::Address) -> bool {
    references(r).contains(address)
}

/// Addresses `r` refers to: it can only be created once they exist.
pub fn references(r: &Resource) -> Vec<crate::Address> {
    r.kind.def().references(r)
}

/// Sort key of a change in a plan: creates and updates by depth, deletions in reverse depth;
/// then registry order, then address (deterministic).
pub fn order_key(kind: Kind, deleting: bool) -> (bool, usize, usize) {
    let max = Kind::ALL.iter().map(|k| depth(*k)).max().unwrap_or(0);
    let position = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
    if deleting {
        (true, max - depth(kind), Kind::ALL.len() - position)
    } else {
        (false, depth(kind), position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_graph_is_acyclic_and_references_only_declared_kinds() {
        // depth() terminates only on an acyclic graph; a cycle would overflow the stack here.
        for k in Kind::ALL {
            let _ = depth(*k);
            for r in k.facts().refers_to.iter().filter(|r| *r != k) {
                assert!(depth(*r) < depth(*k), "{k:?} -> {r:?}");
            }
        }
    }

    #[test]
    fn consumers_are_derived_from_references() {
        assert_eq!(consumers(Kind::Topic), vec![Kind::Subscription, Kind::Trail, Kind::Alarm, Kind::EventRule, Kind::ChatChannel]);
        assert_eq!(consumers(Kind::LogGroup), vec![Kind::Trail, Kind::MetricFilter, Kind::InsightRule]);
        assert_eq!(consumers(Kind::InsightRule), vec![Kind::Alarm]);
        assert_eq!(consumers(Kind::Bucket), vec![Kind::Trail]);
        assert_eq!(consumers(Kind::Role), vec![Kind::Trail, Kind::EventRule, Kind::StateMachine, Kind::ChatChannel]);
        assert!(consumers(Kind::Alarm).is_empty());
    }

    #[test]
    fn deletes_run_consumers_first_and_creates_containers_first() {
        assert!(order_key(Kind::Trail, true) < order_key(Kind::Bucket, true));
        assert!(order_key(Kind::Alarm, true) < order_key(Kind::Topic, true));
        assert!(order_key(Kind::Topic, false) < order_key(Kind::Alarm, false));
        assert!(order_key(Kind::Alarm, false) < order_key(Kind::Secret, true));
    }
}
