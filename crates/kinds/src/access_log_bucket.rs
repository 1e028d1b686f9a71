//! The bucket that receives the trail bucket's server access logs (CIS 3.4 in v3.0, Security
//! Hub CloudTrail.7): who read or deleted which log file. A kind of its own because the trail
//! bucket refers to it (it must exist, with its policy, before logging to it is turned on), and
//! a kind cannot refer to itself; it shares the bucket module's read and write code.
//!
//! Locked down like the trail bucket (public access blocked, ACLs disabled, TLS only, versioned,
//! expiring with the logs), with two differences AWS imposes:
//! - its default encryption is SSE-S3: S3 delivers server access logs only to buckets whose
//!   default encryption is SSE-S3, never SSE-KMS;
//! - it does not log its own access: each delivery would be logged again, without end.

use serde_json::{json, Value};

use crate::bucket::{self, Attrs};
use crate::sdk::read_each;
use crate::{policy, Aws, ExecCtx, Facts, Fut, Kind, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target};
use secmon_spec::DesiredState;

/// The access-log bucket's policy: S3's logging service may write only the source bucket's
/// logs, only under its prefix, only from this account's source bucket; no plain HTTP.
pub fn access_log_policy(t: &Target, log_bucket: &str, source_bucket: &str) -> Value {
    let b = format!("arn:aws:s3:::{log_bucket}");
    policy::normalize(&json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3ServerAccessLogsOfTheTrailBucket",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("{b}/{source_bucket}/*"),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{source_bucket}")},
                    "StringEquals": {"aws:SourceAccount": t.account_id}
                }
            },
            bucket::deny_insecure_transport(&b)
        ]
    }))
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[],
    step: 10,
    iam: crate::Iam { read: crate::bucket::FACTS.iam.read, write: crate::bucket::FACTS.iam.write },
};

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// S3's logging service writes the trail bucket's access logs, from that bucket of this
    /// account only, over TLS.
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        let Some(trail) = &state.trail else { return Vec::new() };
        const SOURCE: &str = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general";
        let source = &trail.bucket.name;
        let object = format!("arn:aws:s3:::{}/{source}/2026-01-01-00-00-00-0123456789ABCDEF", r.name);
        let put = crate::contract::Link::request(
            "S3 server access logging → access-log bucket: PutObject",
            SOURCE,
            "logging.s3.amazonaws.com",
            "s3:PutObject",
            &object,
            t,
        )
        .with("aws:SourceArn", &format!("arn:aws:s3:::{source}"))
        .with("aws:SourceAccount", &t.account_id)
        .with("aws:SecureTransport", "true")
        .judged_by_resource(r, "policy");
        vec![put.from_another_account(), put.over_plain_http(), put]
    }

    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(trail) = &state.trail else { return Vec::new() };
        let Some(name) = trail.bucket.access_log_bucket_name() else { return Vec::new() };
        let expiry = trail.bucket.expire_logs_after_days.map(|d| d as i32);
        let attrs = Attrs {
            policy: access_log_policy(t, &name, &trail.bucket.name),
            block_public_access: true,
            encryption: Some("AES256".into()),
            kms_key: None,
            access_log_bucket: None,
            expire_logs_after_days: expiry,
            versioning: trail.bucket.versioning,
            noncurrent_expire_days: expiry.filter(|_| trail.bucket.versioning),
            object_ownership: Some("BucketOwnerEnforced".into()),
        };
        vec![Resource::new(Kind::AccessLogBucket, &name, Some(format!("arn:aws:s3:::{name}")), &attrs)]
    }

    fn keep_instead_of_delete(&self, live: &LiveResource, delete_logs: bool) -> Option<String> {
        bucket::Def.keep_instead_of_delete(live, delete_logs)
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(read_each(ctx.desired_of(Kind::AccessLogBucket), |d| bucket::read_bucket(aws, ctx, d, false)))
    }

    fn eventually_consistent(&self, code: &str) -> bool {
        bucket::Def.eventually_consistent(code)
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        bucket::Def.create(aws, ctx, r)
    }

    fn update<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, before: &'a Resource, after: &'a Resource) -> Fut<'a, ()> {
        bucket::Def.update(aws, ctx, before, after)
    }

    fn delete<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        bucket::Def.delete(aws, ctx, r)
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        bucket::Def.tag(aws, r, tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_logging_of_the_trail_bucket_from_this_account_may_write() {
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let p = access_log_policy(&t, "logs", "trail-bucket");
        let s = &p["Statement"].as_array().unwrap().iter().find(|s| s["Effect"] == "Allow").unwrap();
        assert_eq!(s["Principal"], json!({"Service": "logging.s3.amazonaws.com"}));
        assert_eq!(s["Action"], "s3:PutObject");
        assert_eq!(s["Resource"], "arn:aws:s3:::logs/trail-bucket/*", "only under the source bucket's prefix");
        assert_eq!(s["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:s3:::trail-bucket");
        assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert!(p.to_string().contains("aws:SecureTransport"));
    }

    #[test]
    fn the_access_log_bucket_keeps_sse_s3_and_does_not_log_itself() {
        let spec = secmon_spec::Spec::parse(include_str!("../../../specs/seed.yaml"), "seed.yaml").unwrap();
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
        let r = Def.desired(&state, &t).remove(0);
        let a: Attrs = r.attrs();
        assert_eq!(r.name, "secmon-secrets-manager-trail-123456789012-access-logs");
        assert_eq!(a.encryption.as_deref(), Some("AES256"));
        assert_eq!((a.kms_key, a.access_log_bucket), (None, None));
        let trail_bucket: Attrs = bucket::Def.desired(&state, &t).remove(0).attrs();
        assert_eq!(trail_bucket.access_log_bucket.as_deref(), Some(r.name.as_str()));
        assert_eq!(trail_bucket.encryption.as_deref(), Some("aws:kms"));
    }
}
