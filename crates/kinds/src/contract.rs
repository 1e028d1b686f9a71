//! The link contract (issue 22): every request an AWS service makes on the pipeline's behalf,
//! as AWS documents it, with the policy that judges it and the decision that policy must give.
//!
//! Each kind states the requests its own policies must admit, and the variants they must refuse
//! (another account's trail, bucket or alarm as the source: the confused deputy; plain HTTP),
//! through [`ResourceKind::links`](crate::ResourceKind::links); [`links`] gathers them for one
//! spec. The rows are data: `crates/kinds/tests/link_contract.rs` evaluates every one with an
//! IAM policy evaluator that is not secmon's code, for every spec variant, and
//! `docs/link-contract.md` is the same table for people.
//!
//! What it does not do: evaluate anything itself, or call AWS.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::{Resource, Target};
use secmon_spec::DesiredState;

/// The account that plays "somebody else" in the confused-deputy variants.
pub const OTHER_ACCOUNT: &str = "999999999999";

/// One request and the decision secmon's policies must give it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// The contract row, `caller → service: action` (docs/link-contract.md).
    pub row: &'static str,
    /// `as documented`, or the variant that must be refused.
    pub variant: &'static str,
    /// The AWS page that documents the request.
    pub source: &'static str,
    /// A service principal (`cloudtrail.amazonaws.com`) or a role ARN.
    pub principal: String,
    /// The action requested, e.g. `s3:PutObject`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// The account that owns the resource.
    pub resource_account: String,
    /// Request context keys: `aws:SourceArn`, `aws:SourceAccount`, `aws:SecureTransport`,
    /// `kms:EncryptionContext:*`, `s3:x-amz-acl`.
    pub context: BTreeMap<String, String>,
    /// The address of the resource whose policy judges the request.
    pub judged_by: String,
    /// The resource policy (key, bucket, topic policy; a role's trust policy), when one judges.
    pub resource_policy: Option<Value>,
    /// The caller's identity policy (a role's permissions), when one judges.
    pub identity_policy: Option<Value>,
    /// Whether AWS must allow it.
    pub allowed: bool,
}

impl Link {
    /// The documented request of `row`, judged by `judge`'s resource policy `policy`.
    pub fn request(row: &'static str, source: &'static str, principal: &str, action: &str, resource: &str, t: &Target) -> Link {
        Link {
            row,
            variant: "as documented",
            source,
            principal: principal.to_string(),
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account: t.account_id.clone(),
            context: BTreeMap::new(),
            judged_by: String::new(),
            resource_policy: None,
            identity_policy: None,
            allowed: true,
        }
    }

    /// Adds a request context key.
    pub fn with(mut self, key: &str, value: &str) -> Link {
        self.context.insert(key.to_string(), value.to_string());
        self
    }

    /// Made on behalf of `source_arn` in `t`'s account: the confused-deputy keys
    /// `aws:SourceArn` and `aws:SourceAccount`.
    pub fn on_behalf_of(self, source_arn: &str, t: &Target) -> Link {
        self.with("aws:SourceArn", source_arn).with("aws:SourceAccount", &t.account_id)
    }

    /// Judged by the resource policy of `r` (its `policy_field` attribute).
    pub fn judged_by_resource(mut self, r: &Resource, policy_field: &str) -> Link {
        self.judged_by = r.address().to_string();
        self.resource_policy = r.attrs.get(policy_field).cloned();
        self
    }

    /// Judged by the identity policy of `r` (its `policy_field` attribute).
    pub fn judged_by_identity(mut self, r: &Resource, policy_field: &str) -> Link {
        self.judged_by = r.address().to_string();
        self.identity_policy = r.attrs.get(policy_field).cloned();
        self
    }

    /// The same request from another account's resource of the same kind (its `aws:SourceArn`
    /// and `aws:SourceAccount` say so): a confused deputy, to be refused.
    pub fn from_another_account(&self) -> Link {
        let mut l = self.clone();
        l.variant = "confused deputy: the source is another account's";
        for (k, v) in l.context.iter_mut() {
            if k == "aws:SourceAccount" {
                *v = OTHER_ACCOUNT.to_string();
            } else if k == "aws:SourceArn" {
                *v = other_account_arn(v);
            }
        }
        l.allowed = false;
        l
    }

    /// The same request over plain HTTP, to be refused by the TLS-only statement.
    pub fn over_plain_http(&self) -> Link {
        let mut l = self.clone().with("aws:SecureTransport", "false");
        l.variant = "plain HTTP";
        l.allowed = false;
        l
    }

    /// A variant refused for another reason (`why`), made by `change`.
    pub fn refused(&self, why: &'static str, change: impl FnOnce(&mut Link)) -> Link {
        let mut l = self.clone();
        l.variant = why;
        change(&mut l);
        l.allowed = false;
        l
    }
}

/// `arn` with its account replaced by [`OTHER_ACCOUNT`] (S3 ARNs, which carry no account, get
/// another bucket name instead).
fn other_account_arn(arn: &str) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        [a, p, "s3", r, "", rest] => format!("{a}:{p}:s3:{r}::{rest}-of-{OTHER_ACCOUNT}"),
        [a, p, s, r, _, rest] => format!("{a}:{p}:{s}:{r}:{OTHER_ACCOUNT}:{rest}"),
        _ => arn.to_string(),
    }
}

/// Every link of the pipeline `state` describes in `t`, in the order of the kinds' registry.
pub fn links(state: &DesiredState, t: &Target) -> Vec<Link> {
    crate::desired_resources(state, t).iter().flat_map(|r| r.kind.def().links(state, t, r)).collect()
}

/// A sample object key of a CloudTrail log file of `account` in `region`; `organization` is
/// `Some(o-id)` for an organization trail's (`AWSLogs/<o-id>/<account>/...`).
pub fn log_file_key(organization: Option<&str>, account: &str, region: &str) -> String {
    let org = organization.map(|o| format!("{o}/")).unwrap_or_default();
    format!("AWSLogs/{org}{account}/CloudTrail/{region}/2026/01/01/{account}_CloudTrail_{region}_20260101T0000Z_abc.json.gz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_accounts_arn_keeps_the_kind_and_name() {
        assert_eq!(
            other_account_arn("arn:aws:cloudtrail:us-east-1:123456789012:trail/t"),
            "arn:aws:cloudtrail:us-east-1:999999999999:trail/t"
        );
        assert_eq!(other_account_arn("arn:aws:s3:::b"), "arn:aws:s3:::b-of-999999999999");
    }
}
