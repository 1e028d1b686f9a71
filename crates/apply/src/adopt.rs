//! `secmon import`: take over existing resources by tagging them as owned by the spec. Only the
//! ownership tag is written (and, for a secret, the value version, so that importing never
//! overwrites the value); everything else converges on the next `apply`.

use secmon_aws::{Aws, AwsError};
use secmon_diff::desired::{OWNER_TAG, VALUE_VERSION_TAG};
use secmon_diff::{Kind, Resource};

/// Tags `live` (found in AWS, described by `desired`) as owned by `spec`.
pub async fn adopt(aws: &Aws, spec: &str, live: &Resource, desired: &Resource) -> Result<(), AwsError> {
    let arn = live.arn.clone().or_else(|| desired.arn.clone()).unwrap_or_default();
    match live.kind {
        Kind::Secret => {
            use secmon_aws::secretsmanager::types::Tag;
            let version = desired
                .attrs
                .get("value_version")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "1".into());
            aws.secretsmanager
                .tag_resource()
                .secret_id(&arn)
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build())
                // The value already there counts as the spec's version: importing writes no value.
                .tags(Tag::builder().key(VALUE_VERSION_TAG).value(version).build())
                .send()
                .await
                .map_err(|e| AwsError::call("TagResource", e))?;
        }
        Kind::Bucket => {
            use secmon_aws::s3::types::{Tag, Tagging};
            let mut tags: Vec<Tag> = match aws.s3.get_bucket_tagging().bucket(&live.name).send().await {
                Ok(t) => t.tag_set().iter().filter(|t| t.key() != OWNER_TAG).cloned().collect(),
                Err(_) => Vec::new(),
            };
            tags.push(Tag::builder().key(OWNER_TAG).value(spec).build().expect("tag"));
            aws.s3
                .put_bucket_tagging()
                .bucket(&live.name)
                .tagging(Tagging::builder().set_tag_set(Some(tags)).build().expect("tagging"))
                .send()
                .await
                .map_err(|e| AwsError::call("PutBucketTagging", e))?;
        }
        Kind::LogGroup => {
            aws.logs
                .tag_resource()
                .resource_arn(&arn)
                .tags(OWNER_TAG, spec)
                .send()
                .await
                .map_err(|e| AwsError::call("TagResource", e))?;
        }
        Kind::Role => {
            use secmon_aws::iam::types::Tag;
            aws.iam
                .tag_role()
                .role_name(&live.name)
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build().expect("tag"))
                .send()
                .await
                .map_err(|e| AwsError::call("TagRole", e))?;
        }
        Kind::Topic => {
            use secmon_aws::sns::types::Tag;
            aws.sns
                .tag_resource()
                .resource_arn(&arn)
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build().expect("tag"))
                .send()
                .await
                .map_err(|e| AwsError::call("TagResource", e))?;
        }
        Kind::Trail => {
            use secmon_aws::cloudtrail::types::Tag;
            aws.cloudtrail
                .add_tags()
                .resource_id(&arn)
                .tags_list(Tag::builder().key(OWNER_TAG).value(spec).build().expect("tag"))
                .send()
                .await
                .map_err(|e| AwsError::call("AddTags", e))?;
        }
        Kind::Alarm => {
            use secmon_aws::cloudwatch::types::Tag;
            aws.cloudwatch
                .tag_resource()
                .resource_arn(&arn)
                .tags(Tag::builder().key(OWNER_TAG).value(spec).build())
                .send()
                .await
                .map_err(|e| AwsError::call("TagResource", e))?;
        }
        Kind::Subscription | Kind::MetricFilter => {
            return Err(AwsError::Call {
                operation: "import".into(),
                code: None,
                message: format!(
                    "{} cannot be tagged: it belongs to whoever owns its {}",
                    live.address(),
                    if live.kind == Kind::Subscription { "topic" } else { "log group" }
                ),
            })
        }
    }
    Ok(())
}
