//! The trail's S3 bucket: policy, public access block, default encryption, log expiry.

use secmon_aws::s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use secmon_aws::{error_code, s3::types::Delete};
use secmon_diff::desired::OWNER_TAG;
use secmon_diff::{Action, Resource, Step};
use serde_json::Value;

use super::{after, before, changed, fail, json_text};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let s3 = &ctx.aws.s3;
    match step.action {
        Action::Create | Action::Replace => {
            let r = after(step);
            let mut req = s3.create_bucket().bucket(&r.name);
            if ctx.region != "us-east-1" {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                        .build(),
                );
            }
            match req.send().await {
                Ok(_) => {}
                // A re-run after a crash between CreateBucket and PutBucketTagging.
                Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) => return Err(fail(step, "CreateBucket")(e)),
            }
            // S3's CreateBucket takes no tags: tag immediately, before any other setting.
            s3.put_bucket_tagging()
                .bucket(&r.name)
                .tagging(
                    Tagging::builder()
                        .tag_set(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag"))
                        .build()
                        .expect("tagging"),
                )
                .send()
                .await
                .map_err(fail(step, "PutBucketTagging"))?;
            configure(ctx, step, r, None).await
        }
        Action::Update => configure(ctx, step, after(step), Some(changed(step))).await,
        Action::Delete => {
            let name = &before(step).name;
            empty(ctx, step, name).await?;
            s3.delete_bucket().bucket(name).send().await.map_err(fail(step, "DeleteBucket"))?;
            Ok(())
        }
        Action::NoOp => Ok(()),
    }
}

async fn configure(ctx: &Ctx, step: &Step, r: &Resource, only: Option<std::collections::BTreeSet<String>>) -> Result<(), ApplyError> {
    let s3 = &ctx.aws.s3;
    let want = |k: &str| only.as_ref().is_none_or(|o| o.contains(k));
    if want("block_public_access") {
        let on = r.attrs.get("block_public_access").and_then(Value::as_bool).unwrap_or(true);
        s3.put_public_access_block()
            .bucket(&r.name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(on)
                    .ignore_public_acls(on)
                    .block_public_policy(on)
                    .restrict_public_buckets(on)
                    .build(),
            )
            .send()
            .await
            .map_err(fail(step, "PutPublicAccessBlock"))?;
    }
    if want("encryption") {
        s3.put_bucket_encryption()
            .bucket(&r.name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()
                                    .expect("sse"),
                            )
                            .build(),
                    )
                    .build()
                    .expect("sse config"),
            )
            .send()
            .await
            .map_err(fail(step, "PutBucketEncryption"))?;
    }
    if want("policy") {
        s3.put_bucket_policy()
            .bucket(&r.name)
            .policy(json_text(r, "policy"))
            .send()
            .await
            .map_err(fail(step, "PutBucketPolicy"))?;
    }
    if want("expire_logs_after_days") {
        match r.attrs.get("expire_logs_after_days").and_then(Value::as_i64) {
            Some(days) => {
                let rule = LifecycleRule::builder()
                    .id("secmon-expire-logs")
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix("").build())
                    .expiration(LifecycleExpiration::builder().days(days as i32).build())
                    .build()
                    .expect("rule");
                s3.put_bucket_lifecycle_configuration()
                    .bucket(&r.name)
                    .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().expect("lifecycle"))
                    .send()
                    .await
                    .map_err(fail(step, "PutBucketLifecycleConfiguration"))?;
            }
            None => {
                s3.delete_bucket_lifecycle()
                    .bucket(&r.name)
                    .send()
                    .await
                    .map_err(fail(step, "DeleteBucketLifecycle"))?;
            }
        }
    }
    Ok(())
}

/// Deletes every object (only planned with --delete-logs, or when the bucket is already empty).
async fn empty(ctx: &Ctx, step: &Step, bucket: &str) -> Result<(), ApplyError> {
    let s3 = &ctx.aws.s3;
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(fail(step, "ListObjectsV2"))?;
        let keys: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectIdentifier::builder().key(k).build().expect("key"))
            .collect();
        if keys.is_empty() {
            continue;
        }
        s3.delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(keys)).quiet(true).build().expect("delete"))
            .send()
            .await
            .map_err(fail(step, "DeleteObjects"))?;
    }
    Ok(())
}
