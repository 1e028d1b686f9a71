//! Reading live state: one adapter module per resource kind, all called in one concurrent round.
//! Ownership of taggable regional resources comes from one paged Resource Groups Tagging API
//! call (`GetResources` filtered on `secmon:spec=<name>`), not from a tag call per resource.

mod cloudtrail;
mod cloudwatch;
mod iam;
mod logs;
mod s3;
mod secrets;
mod sns;
mod tagging;

use std::collections::BTreeSet;

use secmon_aws::Aws;

use crate::compare::{LiveResource, LiveState};
use crate::desired::Target;
use crate::plan::{Kind, Resource};
use crate::DiffError;

/// What every adapter needs to know.
pub(crate) struct Ctx<'a> {
    pub spec: &'a str,
    pub desired: &'a [Resource],
}

impl Ctx<'_> {
    pub fn names(&self, kind: Kind) -> Vec<&Resource> {
        self.desired.iter().filter(|r| r.kind == kind).collect()
    }
}

pub(crate) fn live(resource: Resource, owned: bool) -> LiveResource {
    LiveResource {
        resource,
        owned,
        pending: false,
        holds_data: false,
    }
}

pub(crate) fn bare(kind: Kind, name: &str, arn: Option<String>) -> Resource {
    Resource {
        kind,
        name: name.to_string(),
        arn,
        attrs: Default::default(),
        meta: Default::default(),
    }
}

/// Reads everything in AWS that this spec's resources map to, plus every other resource tagged
/// as owned by the spec (so that resources removed from the spec can be deleted).
pub async fn read(aws: &Aws, spec: &str, target: &Target, desired: &[Resource]) -> Result<LiveState, DiffError> {
    let ctx = Ctx { spec, desired };
    let (owned, secrets, s3, logs, iam, trail, sns, alarms) = tokio::join!(
        tagging::owned_arns(aws, &ctx),
        secrets::read(aws, &ctx),
        s3::read(aws, &ctx),
        logs::read(aws, &ctx),
        iam::read(aws, &ctx),
        cloudtrail::read(aws, &ctx),
        sns::read(aws, &ctx),
        cloudwatch::read(aws, &ctx),
    );
    let owned: BTreeSet<String> = owned?;
    let mut state = LiveState {
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        ..Default::default()
    };
    // Adapters for kinds ownership comes from tags in their own answers set `owned` themselves;
    // the others are resolved against the tagging answer here.
    for r in [secrets?, s3?, iam?, trail?].into_iter().flatten() {
        state.insert(r);
    }
    let (log_groups, filters) = logs?;
    let (topics, subscriptions) = sns?;
    for mut r in [log_groups, topics, alarms?].into_iter().flatten() {
        r.owned = r.resource.arn.as_ref().is_some_and(|a| owned.contains(&normalize_arn(a)));
        state.insert(r);
    }
    // Filters and subscriptions cannot be tagged: they belong to whoever owns their container.
    for mut r in filters {
        let group = format!("log_group.{}", r.resource.attr_str("log_group").unwrap_or(""));
        r.owned = state.resources.get(&group).is_some_and(|g| g.owned);
        state.insert(r);
    }
    for mut r in subscriptions {
        let topic = format!("topic.{}", r.resource.attr_str("topic").unwrap_or(""));
        r.owned = state.resources.get(&topic).is_some_and(|t| t.owned);
        state.insert(r);
    }
    // Owned resources the spec no longer names: known from their ARN alone, enough to delete them.
    for arn in &owned {
        if let Some(r) = from_arn(arn) {
            let kind = r.kind;
            let l = state.resources.entry(r.address()).or_insert_with(|| live(r, true));
            // A bucket not read in detail may hold logs: keep it unless --delete-logs.
            if kind == Kind::Bucket && l.resource.attrs.is_empty() {
                l.holds_data = true;
            }
        }
    }
    Ok(state)
}

/// One form for ARNs that AWS writes in two: `log-group:NAME:*` and `log-group:NAME`.
pub fn normalize_arn(arn: &str) -> String {
    arn.strip_suffix(":*").unwrap_or(arn).to_string()
}

/// A deletable resource from a tagged ARN (Resource Groups Tagging API answer).
fn from_arn(arn: &str) -> Option<Resource> {
    let arn = normalize_arn(arn);
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 {
        return None;
    }
    let (service, rest) = (parts[2], parts[5]);
    let (kind, name) = match service {
        "secretsmanager" => (
            Kind::Secret,
            rest.strip_prefix("secret:")?.rsplit_once('-').map(|(n, _)| n)?.to_string(),
        ),
        "logs" => (Kind::LogGroup, rest.strip_prefix("log-group:")?.to_string()),
        "cloudtrail" => (Kind::Trail, rest.strip_prefix("trail/")?.to_string()),
        "sns" => (Kind::Topic, rest.to_string()),
        "cloudwatch" => (Kind::Alarm, rest.strip_prefix("alarm:")?.to_string()),
        "s3" => (Kind::Bucket, rest.to_string()),
        _ => return None,
    };
    Some(bare(kind, &name, Some(arn.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_arns_become_deletable_resources() {
        let r = from_arn("arn:aws:logs:us-east-1:123456789012:log-group:lg:*").unwrap();
        assert_eq!(r.address(), "log_group.lg");
        let r = from_arn("arn:aws:secretsmanager:us-east-1:123456789012:secret:TopSecretInfo-AbCdEf").unwrap();
        assert_eq!(r.address(), "secret.TopSecretInfo");
        let r = from_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:Secret is accessed").unwrap();
        assert_eq!(r.address(), "alarm.Secret is accessed");
        assert_eq!(
            from_arn("arn:aws:sns:us-east-1:123456789012:SecurityAlarms").unwrap().address(),
            "topic.SecurityAlarms"
        );
    }
}
