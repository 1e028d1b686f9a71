//! One spec over many accounts and regions (issue 15): which targets a spec names, and a
//! connection to each.
//!
//! - [`targets`]: the spec's listed accounts plus the active accounts of its OUs (AWS
//!   Organizations, child OUs included), times its regions, narrowed by `--account` filters;
//!   sorted, so output and exit codes are deterministic.
//! - [`connect`]: a [`Cloud`] acting in the target's account (STS AssumeRole of the spec's
//!   role, the credentials' own account directly) and region, checked to be that account
//!   before anything is read; through the [`Connector`] seam, so it is tested offline.
//! - [`spec_for`]: what a target deploys: the home region (the first) all of it, another region
//!   the secrets only (the home region's multi-region trail records them).
//!
//! Failures are per target ([`TargetError`]): the caller runs the others and reports each.

use std::fmt;

use std::sync::Arc;

use secmon_kinds::{Cloud, Connector, Role};
use secmon_spec::{Spec, Targets};

/// One place the spec applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct TargetId {
    /// The account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The first of the spec's regions: the whole pipeline is deployed there.
    pub home: bool,
    /// The account's first region, where its global resources (IAM) are read for deletion even
    /// when it deploys the secrets only: a member account of an organization trail keeps no role
    /// of an account trail it had before (issue 22, finding 5).
    #[serde(skip)]
    pub first_region: bool,
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// Why one target could not be reached; the others go on.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The role cannot be assumed (or the region refuses its credentials).
    #[error("{target}: cannot act through role {role_arn}: {message}")]
    Assume {
        /// The target, `ACCOUNT/REGION`.
        target: String,
        /// The role it was reached through.
        role_arn: String,
        /// AWS's answer, with a hint.
        message: String,
    },
    /// The credentials act in another account than the target's.
    #[error("{target}: the credentials act in account {actual}, not {target_account}; nothing was read")]
    WrongAccount {
        /// The target, `ACCOUNT/REGION`.
        target: String,
        /// The account the target names.
        target_account: String,
        /// The account STS answered.
        actual: String,
    },
}

/// Why the target list itself cannot be made (nothing runs).
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// An OU's accounts cannot be listed.
    #[error("targets.organizational_units: listing the accounts of {ou}: {message}\n  hint: OUs are read with the management account's credentials (or a delegated administrator's)")]
    Organizations {
        /// The OU or root id.
        ou: String,
        /// AWS's answer.
        message: String,
    },
    /// An `--account` filter that names no target: the filter, and the targets.
    #[error("--account {0}: the spec's targets have no such account or region (targets: {1})")]
    UnknownFilter(String, String),
    /// No region anywhere.
    #[error("the spec's targets name no region and no region is configured; set `targets.regions`")]
    NoRegion,
    /// An organization trail whose management account is not a target; that account.
    #[error("trail.organization: the organization trail lives in the management account {0}, which is not one of the targets; add it to `targets.accounts`")]
    NoManagementAccount(String),
}

/// The spec's targets: accounts (listed, and enumerated from OUs) times regions, narrowed to
/// `only` (`ACCOUNT` or `ACCOUNT/REGION`), sorted by account then region order.
pub async fn targets(connector: &dyn Connector, spec: &Spec, only: &[String]) -> Result<Vec<TargetId>, TargetsError> {
    let Some(t) = &spec.state.targets else { return Ok(Vec::new()) };
    let mut accounts = t.accounts.clone();
    for ou in &t.organizational_units {
        for a in connector.accounts_under(ou).await.map_err(|e| TargetsError::Organizations { ou: ou.clone(), message: e.to_string() })? {
            if !accounts.contains(&a) {
                accounts.push(a);
            }
        }
    }
    accounts.sort();
    // An organization trail lives in the management account: only it deploys the pipeline.
    let management = match spec.state.trail.as_ref().is_some_and(|t| t.organization) {
        true => {
            let m = connector
                .management_account()
                .await
                .map_err(|e| TargetsError::Organizations { ou: "(DescribeOrganization)".into(), message: e.to_string() })?;
            if !accounts.contains(&m) {
                return Err(TargetsError::NoManagementAccount(m));
            }
            Some(m)
        }
        false => None,
    };
    let regions: Vec<String> = if t.regions.is_empty() {
        vec![spec.state.region.clone().unwrap_or_else(|| connector.home().region().to_string())]
    } else {
        t.regions.clone()
    };
    if regions.iter().all(String::is_empty) {
        return Err(TargetsError::NoRegion);
    }
    let all: Vec<TargetId> = accounts
        .iter()
        .flat_map(|a| {
            let pipeline = management.as_ref().is_none_or(|m| m == a);
            regions.iter().enumerate().map(move |(i, r)| TargetId {
                account: a.clone(),
                region: r.clone(),
                home: i == 0 && pipeline,
                first_region: i == 0,
            })
        })
        .collect();
    if only.is_empty() {
        return Ok(all);
    }
    let names = all.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    for f in only {
        if !all.iter().any(|t| selected(t, f)) {
            return Err(TargetsError::UnknownFilter(f.clone(), names));
        }
    }
    Ok(all.into_iter().filter(|t| only.iter().any(|f| selected(t, f))).collect())
}

fn selected(t: &TargetId, filter: &str) -> bool {
    match filter.split_once('/') {
        Some((account, region)) => t.account == account && t.region == region,
        None => t.account == filter,
    }
}

/// A [`Cloud`] acting in `t`'s account and region: the credentials' own (`caller_account`)
/// directly, another through the spec's role; checked with STS before anything is read.
pub async fn connect(connector: &dyn Connector, caller_account: &str, t: &TargetId, spec: &Targets) -> Result<Arc<dyn Cloud>, TargetError> {
    let role = Role { name: spec.role_name.clone(), external_id: spec.external_id.clone() };
    let role_arn = format!("arn:aws:iam::{}:role/{}", t.account, spec.role_name);
    let cloud = connector.connect(&t.account, &t.region, (t.account != caller_account).then_some(&role)).await;
    let actual = cloud.account_id().await.map_err(|e| TargetError::Assume {
        target: t.to_string(),
        role_arn: role_arn.clone(),
        message: assume_message(&e.to_string(), &t.region),
    })?;
    if actual != t.account {
        return Err(TargetError::WrongAccount { target: t.to_string(), target_account: t.account.clone(), actual });
    }
    Ok(cloud)
}

/// The SDK's message for a failed AssumeRole (the AWS error, out of the credential chain's
/// wrapping), with the hint a user needs.
fn assume_message(error: &str, region: &str) -> String {
    let aws = match (error.find("code: \""), error.find("message: \"")) {
        (Some(c), Some(m)) => {
            let field = |at: usize, key: &str| error[at + key.len()..].split('"').next().unwrap_or_default().to_string();
            format!("{}: {}", field(c, "code: \""), field(m, "message: \""))
        }
        _ => error.to_string(),
    };
    let error = aws.as_str();
    // An opt-in region (ap-east-1, me-south-1, ...) not enabled in the account refuses every
    // token there: the role is not the problem (issue 22, finding 13).
    if error.contains("InvalidClientTokenId") || error.contains("not enabled") || error.contains("OptInRequired") {
        return format!(
            "{error}\n  hint: region {region} may not be enabled in this account (an opt-in region): enable it (Account settings, or `aws account enable-region --region-name {region}`), or remove it from targets.regions"
        );
    }
    format!(
        "{error}\n  hint: the role must exist in the account and trust the caller (its trust policy: sts:AssumeRole for your principal{})",
        ", with the spec's external id if it sets one"
    )
}

/// What target `t` deploys of `spec` ([`secmon_spec::DesiredState::for_region`]).
pub fn spec_for(spec: &Spec, t: &TargetId) -> Spec {
    let mut s = spec.clone();
    s.state = spec.state.for_region(t.home);
    if t.first_region {
        // Global kinds (IAM) are read, and an owned one the spec no longer wants is deleted, in
        // the account's first region only.
        s.state.secondary_region = false;
    }
    s.state.region = Some(t.region.clone());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(a: &str, r: &str, home: bool) -> TargetId {
        TargetId { account: a.into(), region: r.into(), home, first_region: home }
    }

    #[test]
    fn filters_name_an_account_or_an_account_in_a_region() {
        assert!(selected(&id("111111111111", "eu-west-1", false), "111111111111"));
        assert!(selected(&id("111111111111", "eu-west-1", false), "111111111111/eu-west-1"));
        assert!(!selected(&id("111111111111", "eu-west-1", false), "111111111111/us-east-1"));
        assert!(!selected(&id("111111111111", "eu-west-1", false), "222222222222"));
    }

    #[test]
    fn a_refused_assume_role_reads_as_aws_said_it() {
        let sdk = r#"GetCallerIdentity: dispatch failure: other: an error occurred while loading credentials: service error: unhandled error (AccessDenied): Error { code: "AccessDenied", message: "User is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444444444444:role/R" }"#;
        let m = assume_message(sdk, "eu-west-1");
        assert!(
            m.starts_with(
                "AccessDenied: User is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444444444444:role/R\n"
            ),
            "{m}"
        );
        assert!(m.contains("hint: the role must exist in the account and trust the caller"), "{m}");
    }

    /// Issue 22, finding 13: a disabled opt-in region is named, not blamed on the role.
    #[test]
    fn finding_13_a_disabled_opt_in_region_is_named_not_the_trust_policy() {
        let sdk = r#"GetCallerIdentity: service error: Error { code: "InvalidClientTokenId", message: "The security token included in the request is invalid" }"#;
        let m = assume_message(sdk, "ap-east-1");
        assert!(m.contains("region ap-east-1 may not be enabled") && m.contains("enable-region --region-name ap-east-1"), "{m}");
        assert!(!m.contains("trust the caller"), "{m}");
    }

    /// Issue 22, finding 5: a member account of an organization trail deploys the secrets only,
    /// and in its first region its global resources are still read, so that the role of the
    /// account trail it had before is deleted, not kept forever.
    #[test]
    fn finding_5_a_member_accounts_first_region_reads_its_global_resources_for_deletion() {
        let spec = Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let member = TargetId { account: "2".into(), region: "us-east-1".into(), home: false, first_region: true };
        let s = spec_for(&spec, &member);
        assert!(s.state.trail.is_none(), "secrets only");
        assert!(!s.state.secondary_region, "IAM is read there");
        let other = spec_for(&spec, &id("2", "eu-west-1", false));
        assert!(other.state.secondary_region, "not in the account's other regions");
    }

    #[test]
    fn a_secondary_region_deploys_the_secrets_only() {
        let spec = Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let home = spec_for(&spec, &id("1", "us-east-1", true));
        assert!(home.state.trail.is_some() && !home.state.monitors.is_empty());
        let other = spec_for(&spec, &id("1", "eu-west-1", false));
        assert_eq!(other.state.secrets, spec.state.secrets);
        assert!(other.state.trail.is_none() && other.state.monitors.is_empty() && other.state.topics.is_empty());
        assert!(other.state.key_alias().is_none(), "no key where nothing uses it");
        assert_eq!(other.state.region.as_deref(), Some("eu-west-1"));
    }

    /// Issue 24, item 3: the heartbeat beats where the pipeline is: the home target gets its
    /// state machine, schedule, roles, canary and canary monitor; another region and a member
    /// account get none of them (a canary there would be read by no one and watched by nothing).
    #[test]
    fn the_heartbeat_is_deployed_in_the_home_target_only() {
        let text = format!("{}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\n", include_str!("../../../specs/seed.yaml"));
        let spec = Spec::parse(&text, "seed.yaml").unwrap();
        let parts = |s: &Spec, account: &str, region: &str| -> Vec<String> {
            let state = s.state.resolve(account, region).unwrap();
            let t = secmon_kinds::Target { account_id: account.into(), region: region.into() };
            secmon_kinds::desired_resources(&state, &t)
                .into_iter()
                .map(|r| r.address().to_string())
                .filter(|a| a.contains("heartbeat"))
                .collect()
        };
        let home = parts(&spec_for(&spec, &id("111111111111", "us-east-1", true)), "111111111111", "us-east-1");
        assert_eq!(home.len(), 7, "{home:?}");
        let other_region = parts(&spec_for(&spec, &id("111111111111", "eu-west-1", false)), "111111111111", "eu-west-1");
        assert!(other_region.is_empty(), "{other_region:?}");
        let member = TargetId { account: "222222222222".into(), region: "us-east-1".into(), home: false, first_region: true };
        assert!(parts(&spec_for(&spec, &member), "222222222222", "us-east-1").is_empty());
    }
}
