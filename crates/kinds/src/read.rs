//! The shared read round: every kind's read and the one Resource Groups Tagging API call run
//! concurrently; ownership is then resolved the way each kind declares ([`Ownership`]).

use std::collections::BTreeSet;

use secmon_aws::tagging::types::TagFilter;

use secmon_spec::DesiredState;

use crate::{
    from_owned_arn, normalize_arn, Aws, AwsError, Kind, KindError, LiveResource, LiveState, Ownership, ReadCtx, Resource, Target,
    APPLIED_TAG, OWNER_TAG,
};

pub(crate) async fn read(aws: &Aws, spec: &str, target: &Target, desired: &[Resource]) -> Result<LiveState, KindError> {
    let ctx = ReadCtx { spec, desired, global: true, recovering_since: None, unmanaged_containers: crate::unmanaged_containers(desired) };
    let (owned, found) = tokio::join!(owned_arns(aws, spec), read_kinds(aws, &ctx, Kind::ALL));
    finish(aws, spec, target, found?, owned?).await
}

/// The placeholder account the spec is resolved for before STS answers: names that contain it
/// depend on the account.
const PROVISIONAL_ACCOUNT: &str = "000000000000";

/// Reads the spec's pipeline as a dataflow: the kinds whose reads need no account id (names
/// that do not contain it, no ARN) start at once, with STS and the tagging call; the others
/// (topics, read by ARN; a bucket named after the account) start the moment STS answers, while
/// the first wave is still in flight, never after it (issue 27, item 1). What the reads need of
/// the resolved spec is names; the organization's id, learned concurrently, only changes
/// policies, so the desired state handed back is resolved with it once everything is in.
pub(crate) async fn read_spec(aws: &Aws, unresolved: &DesiredState) -> Result<crate::cloud::SpecRead, KindError> {
    // `trail.external.prefix`: the log group is found first (one call, only for such a spec).
    let mut found_group;
    let unresolved = match unresolved.external_trail.as_ref().filter(|e| e.log_group.is_none()) {
        Some(e) => {
            let prefix = e.prefix.clone().unwrap_or_default();
            let name = crate::cloud::one_log_group(&prefix, log_groups_starting(aws, &prefix).await?, &aws.region)?;
            found_group = unresolved.clone();
            if let Some(e) = found_group.external_trail.as_mut() {
                e.log_group = Some(name);
            }
            &found_group
        }
        None => unresolved,
    };
    let input = |e: secmon_spec::SpecError| KindError::Input(e.to_string());
    let region = aws.region.clone();
    let provisional_target = Target { account_id: PROVISIONAL_ACCOUNT.into(), region: region.clone() };
    let provisional = crate::desired_resources(&unresolved.resolve(PROVISIONAL_ACCOUNT, &region).map_err(input)?, &provisional_target);
    let early = early_kinds(&provisional);
    let late: Vec<Kind> = Kind::ALL.iter().copied().filter(|k| !early.contains(k)).collect();
    let spec = unresolved.name.as_str();
    let global = !unresolved.secondary_region;
    let recovering_since = unresolved.recovering_since;
    let early_ctx =
        ReadCtx { spec, desired: &provisional, global, recovering_since, unmanaged_containers: crate::unmanaged_containers(&provisional) };
    let organization = async {
        match unresolved.trail.as_ref().is_some_and(|t| t.organization) {
            true => organization_of(aws).await.map(Some),
            false => Ok(None),
        }
    };
    let after_sts = async {
        let target = Target { account_id: aws.account_id().await?, region: region.clone() };
        let state = unresolved.resolve(&target.account_id, &target.region).map_err(input)?;
        let named = crate::desired_resources(&state, &target);
        let late_ctx =
            ReadCtx { spec, desired: &named, global, recovering_since, unmanaged_containers: crate::unmanaged_containers(&named) };
        let brought = futures::future::try_join_all(Kind::ALL.iter().map(|k| k.def().check_brought(aws, &state)));
        let (late_found, brought) = tokio::join!(read_kinds(aws, &late_ctx, &late), brought);
        brought?;
        Ok::<_, KindError>((target, state, late_found?))
    };
    let (after_sts, owned, early_found, organization) =
        tokio::join!(after_sts, owned_arns(aws, spec), read_kinds(aws, &early_ctx, &early), organization);
    let (target, mut state, late_found) = after_sts?;
    state.organization_id = match organization? {
        Some(org) => Some(org.admits_trail_from(&target.account_id)?),
        None => None,
    };
    let desired = crate::desired_resources(&state, &target);
    let mut found = early_found?;
    found.extend(late_found);
    let live = finish(aws, spec, &target, found, owned?).await?;
    Ok(crate::cloud::SpecRead { target, state, desired, live })
}

/// The organization the credentials' account belongs to, as an organization trail needs it.
struct Organization {
    id: String,
    management_account: String,
    all_features: bool,
    /// Trusted access for CloudTrail; None when it cannot be listed (not the management account).
    cloudtrail_trusted: Option<bool>,
}

impl Organization {
    /// The organization's id, when an organization trail can be created from `account` in it.
    /// CloudTrail's preconditions ("Prepare for creating a trail for your organization"): all
    /// features enabled; trusted access for CloudTrail ("To use the AWS CLI or the CloudTrail
    /// APIs to create an organization trail, you must enable trusted access"); and the trail ARN
    /// "must use the account ID of the management account", which secmon's bucket, key and topic
    /// policies name. Checked at plan time, so that nothing is built before CreateTrail would
    /// refuse (issue 22, finding 5).
    fn admits_trail_from(self, account: &str) -> Result<String, KindError> {
        let refuse = |why: String| KindError::Input(format!("trail.organization: {why}; nothing was changed"));
        if !self.all_features {
            return Err(refuse(format!(
                "organization {} does not have all features enabled; an organization trail needs them (Organizations console, Settings)",
                self.id
            )));
        }
        if self.management_account != account {
            return Err(refuse(format!(
                "an organization trail is created from the organization's management account ({}), and these credentials act in {account}; \
                 run secmon there, or name that account in `targets:` (a delegated administrator's trail would not match the policies secmon writes)",
                self.management_account
            )));
        }
        if self.cloudtrail_trusted == Some(false) {
            return Err(refuse(format!(
                "trusted access for CloudTrail is not enabled in organization {}: run `aws organizations enable-aws-service-access --service-principal cloudtrail.amazonaws.com` in the management account",
                self.id
            )));
        }
        Ok(self.id)
    }
}

async fn organization_of(aws: &Aws) -> Result<Organization, KindError> {
    let (org, access) =
        tokio::join!(aws.organizations.describe_organization().send(), aws.organizations.list_aws_service_access_for_organization().send());
    let org = org.map_err(|e| AwsError::call("DescribeOrganization", e))?;
    let o = org.organization();
    let cloudtrail_trusted = match access {
        Ok(a) => Some(a.enabled_service_principals().iter().any(|p| p.service_principal() == Some("cloudtrail.amazonaws.com"))),
        // Only the management account (or a delegated administrator) may list it.
        Err(_) => None,
    };
    Ok(Organization {
        id: o.and_then(|o| o.id()).unwrap_or_default().to_string(),
        management_account: o.and_then(|o| o.master_account_id()).unwrap_or_default().to_string(),
        all_features: o.and_then(|o| o.feature_set()).is_none_or(|f| f.as_str() == "ALL"),
        cloudtrail_trusted,
    })
}

/// Kinds that can be read before the account is known: read by name, and no name of theirs
/// contains the account.
fn early_kinds(provisional: &[Resource]) -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| !k.def().needs_account())
        .filter(|k| provisional.iter().filter(|r| r.kind == *k).all(|r| !r.name.contains(PROVISIONAL_ACCOUNT)))
        .collect()
}

/// One desired resource as it is live, read by its kind alone; ownership asked of the resource
/// itself (its own tags), or of its container's kind for untaggable ones.
pub(crate) async fn read_one(aws: &Aws, spec: &str, desired: &Resource) -> Result<Option<LiveResource>, KindError> {
    let Some(mut live) = read_found(aws, spec, desired).await? else { return Ok(None) };
    match desired.kind.facts().ownership {
        Ownership::OwnRead => {}
        Ownership::TaggingApi => {
            let owner = desired.kind.def().read_owner(aws, &live.resource).await?;
            live.owned = owner.as_deref() == Some(spec);
            live.owner = owner.filter(|o| o != spec);
        }
        // Untaggable kinds are created by puts that do not fail on an existing resource.
        Ownership::Container(_) => live.owned = true,
    }
    Ok(Some(live))
}

/// The reads of `kinds`, concurrently.
async fn read_kinds(aws: &Aws, ctx: &ReadCtx<'_>, kinds: &[Kind]) -> Result<Vec<LiveResource>, KindError> {
    let mut found = Vec::new();
    for r in futures::future::join_all(kinds.iter().map(|k| k.def().read(aws, ctx))).await {
        found.extend(r?);
    }
    Ok(found)
}

/// Confirms the ownership the tagging index does not list, then resolves it for every kind.
/// What the tagging index says this spec owns.
#[derive(Default)]
struct Owned {
    arns: BTreeSet<String>,
    /// ARN → digest of the last apply.
    applied: std::collections::BTreeMap<String, String>,
}

async fn finish(aws: &Aws, spec: &str, target: &Target, found: Vec<LiveResource>, owned: Owned) -> Result<LiveState, KindError> {
    let Owned { arns: mut owned, applied } = owned;
    // The tagging API's index lags behind writes: a resource it does not list as owned is asked
    // for its own tags before it is called foreign (issue 11, item 7). In a steady state every
    // owned resource is listed, so this costs no call.
    let unlisted = unlisted(&found, &owned);
    let answers = futures::future::join_all(unlisted.iter().map(|r| r.kind.def().read_owner(aws, r))).await;
    // Resources another spec owns, by ARN: named in conflicts, refused by import.
    let mut others = std::collections::BTreeMap::new();
    for (r, answer) in unlisted.iter().zip(answers) {
        let arn = normalize_arn(r.arn.as_deref().unwrap_or_default());
        match answer? {
            Some(o) if o == spec => {
                owned.insert(arn);
            }
            Some(o) => {
                others.insert(arn, o);
            }
            None => {}
        }
    }
    let mut found = found;
    for l in &mut found {
        let arn = l.resource.arn.as_deref().map(normalize_arn).unwrap_or_default();
        if let Some(o) = others.get(&arn) {
            l.owner = Some(o.clone());
        }
        if let Some(d) = applied.get(&arn) {
            l.applied.get_or_insert_with(|| d.clone());
        }
    }
    let mut state = resolve(target, found, &owned);
    for k in Kind::ALL {
        k.def().settle(&mut state);
    }
    // Owned resources no read found are known from the tagging index alone, which lists
    // "tagged or previously tagged" resources, deleted ones for minutes: each is confirmed by its
    // service's own read before a delete is planned (issue 11, item 6). Only such orphans cost
    // a call, and the plan then shows what it deletes.
    let orphans: Vec<Resource> =
        state.resources.values().filter(|l| l.owned && l.resource.attrs.is_empty()).map(|l| l.resource.clone()).collect();
    let confirmed = futures::future::join_all(orphans.iter().map(|r| read_found(aws, spec, r))).await;
    for (orphan, live) in orphans.iter().zip(confirmed) {
        match live? {
            Some(mut live) => {
                live.owned = true;
                state.insert(live);
            }
            None => {
                state.resources.remove(&orphan.address());
            }
        }
    }
    Ok(state)
}

/// `r` as its kind's read finds it, ownership aside.
async fn read_found(aws: &Aws, spec: &str, r: &Resource) -> Result<Option<LiveResource>, KindError> {
    let one = [r.clone()];
    let found = r
        .kind
        .def()
        .read(aws, &ReadCtx { spec, desired: &one, global: true, recovering_since: None, unmanaged_containers: Vec::new() })
        .await?;
    Ok(found.into_iter().find(|l| l.resource.address() == r.address()))
}

/// Found resources whose ownership the tagging API answers, that it does not list as owned.
fn unlisted<'a>(found: &'a [LiveResource], owned: &BTreeSet<String>) -> Vec<&'a Resource> {
    found
        .iter()
        .map(|l| &l.resource)
        .filter(|r| r.kind.facts().ownership == Ownership::TaggingApi)
        .filter(|r| r.arn.as_deref().is_some_and(|a| !owned.contains(&normalize_arn(a))))
        .collect()
}

/// Resolves ownership: kinds that read their own tags keep their answer; tagging-API kinds are
/// looked up in `owned`; untaggable kinds follow their container, and are dropped when the
/// container does not exist (what is inside a deleted container is gone with it). Owned ARNs the
/// reads did not find become deletable resources known by their ARN alone.
pub(crate) fn resolve(target: &Target, found: Vec<LiveResource>, owned: &BTreeSet<String>) -> LiveState {
    let mut state = LiveState { account_id: target.account_id.clone(), region: target.region.clone(), ..Default::default() };
    let mut contained = Vec::new();
    for mut r in found {
        match r.resource.kind.facts().ownership {
            Ownership::OwnRead => {}
            Ownership::TaggingApi => {
                r.owned = r.resource.arn.as_deref().is_some_and(|a| owned.contains(&normalize_arn(a)));
            }
            Ownership::Container(_) => {
                contained.push(r);
                continue;
            }
        }
        state.insert(r);
    }
    for mut r in contained {
        match r.resource.kind.def().container(&r.resource).and_then(|c| state.resources.get(&c)) {
            Some(c) => r.owned = c.owned,
            // A container the reads did not find, though what it holds was read: one secmon does
            // not manage (an external trail's log group). What is in it is no one's until a
            // kind's `settle` proves otherwise (a metric filter, by the owned alarm on its metric).
            None => r.owned = false,
        }
        state.insert(r);
    }
    // An owned ARN a read found already (under its own address: a key by its alias, an
    // access-log bucket) is not a second resource.
    let found_arns: BTreeSet<String> = state.resources.values().filter_map(|l| l.resource.arn.as_deref().map(normalize_arn)).collect();
    for arn in owned.iter().filter(|a| !found_arns.contains(*a)) {
        if let Some(r) = from_owned_arn(arn) {
            let l = state.resources.entry(r.address()).or_insert_with(|| LiveResource::new(r, true));
            if l.resource.attrs.is_empty() {
                l.resource.kind.def().known_by_arn_only(l);
            }
        }
    }
    state
}

/// The log groups whose names start with `prefix`, every page.
pub(crate) async fn log_groups_starting(aws: &Aws, prefix: &str) -> Result<Vec<String>, KindError> {
    let mut pages = aws.logs.describe_log_groups().log_group_name_prefix(prefix).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("DescribeLogGroups", e))?;
        out.extend(page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
    }
    Ok(out)
}

/// Every regional resource tagged `secmon:spec=<spec>`, in one paged call, with the digest of
/// its last apply (its `secmon:applied` tag) when it has one.
async fn owned_arns(aws: &Aws, spec: &str) -> Result<Owned, KindError> {
    let mut out = Owned::default();
    let mut pages =
        aws.tagging.get_resources().tag_filters(TagFilter::builder().key(OWNER_TAG).values(spec).build()).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("GetResources", e))?;
        for m in page.resource_tag_mapping_list() {
            if let Some(arn) = m.resource_arn() {
                let arn = normalize_arn(arn);
                if let Some(t) = m.tags().iter().find(|t| t.key() == APPLIED_TAG) {
                    out.applied.insert(arn.clone(), t.value().to_string());
                }
                out.arns.insert(arn);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resources_the_tagging_index_does_not_list_are_asked_for_their_tags() {
        let topic = |name: &str| {
            let arn = format!("arn:aws:sns:us-east-1:123456789012:{name}");
            LiveResource::new(Resource::bare(Kind::Topic, name, Some(arn)), false)
        };
        let secret =
            LiveResource::new(Resource::bare(Kind::Secret, "s", Some("arn:aws:secretsmanager:us-east-1:1:secret:s".into())), false);
        let found = vec![topic("Listed"), topic("Lagging"), secret];
        let owned: BTreeSet<String> = ["arn:aws:sns:us-east-1:123456789012:Listed".to_string()].into();
        let asked: Vec<&str> = unlisted(&found, &owned).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(asked, ["Lagging"], "secrets read their own tags; listed topics cost nothing");
    }

    #[test]
    fn kinds_named_after_the_account_or_read_by_arn_wait_for_sts() {
        let spec = secmon_spec::Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let t = Target { account_id: PROVISIONAL_ACCOUNT.into(), region: "us-east-1".into() };
        let provisional = crate::desired_resources(&spec.state.resolve(PROVISIONAL_ACCOUNT, "us-east-1").unwrap(), &t);
        let early = early_kinds(&provisional);
        assert!(!early.contains(&Kind::Bucket), "the seed's bucket is named after the account");
        assert!(!early.contains(&Kind::Topic), "topics are read by ARN");
        for k in [Kind::Secret, Kind::LogGroup, Kind::Role, Kind::Trail, Kind::MetricFilter, Kind::Alarm, Kind::Subscription] {
            assert!(early.contains(&k), "{k:?} waits for STS");
        }
    }

    fn org(management: &str, all: bool, trusted: Option<bool>) -> Organization {
        Organization { id: "o-abc".into(), management_account: management.into(), all_features: all, cloudtrail_trusted: trusted }
    }

    /// Issue 22, finding 5: an organization trail's preconditions refuse the plan, naming the fix.
    #[test]
    fn finding_5_organization_trail_preconditions_are_checked_before_anything_is_built() {
        assert_eq!(org("111111111111", true, Some(true)).admits_trail_from("111111111111").unwrap(), "o-abc");
        let e = org("111111111111", true, Some(true)).admits_trail_from("222222222222").unwrap_err().to_string();
        assert!(e.contains("management account (111111111111)") && e.contains("nothing was changed"), "{e}");
        let e = org("111111111111", true, Some(false)).admits_trail_from("111111111111").unwrap_err().to_string();
        assert!(e.contains("enable-aws-service-access --service-principal cloudtrail.amazonaws.com"), "{e}");
        let e = org("111111111111", false, Some(true)).admits_trail_from("111111111111").unwrap_err().to_string();
        assert!(e.contains("all features"), "{e}");
    }
}
