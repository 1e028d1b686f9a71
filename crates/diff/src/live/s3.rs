//! S3: the trail's bucket. S3 has no batch read, so the bucket's five settings are read
//! concurrently, and only for the bucket the spec names.

use secmon_aws::{error_code, Aws, AwsError};
use serde_json::{json, Value};

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::desired::OWNER_TAG;
use crate::plan::Kind;
use crate::policy;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let mut out = Vec::new();
    for d in ctx.names(Kind::Bucket) {
        let b = d.name.as_str();
        let (tags, pol, pab, enc, lc, objects) = tokio::join!(
            aws.s3.get_bucket_tagging().bucket(b).send(),
            aws.s3.get_bucket_policy().bucket(b).send(),
            aws.s3.get_public_access_block().bucket(b).send(),
            aws.s3.get_bucket_encryption().bucket(b).send(),
            aws.s3.get_bucket_lifecycle_configuration().bucket(b).send(),
            aws.s3.list_objects_v2().bucket(b).max_keys(1).send(),
        );
        let owned = match tags {
            Ok(t) => t.tag_set().iter().any(|t| t.key() == OWNER_TAG && t.value() == ctx.spec),
            Err(e) => match error_code(&e) {
                Some("NoSuchBucket") => continue,
                Some("NoSuchTagSet") => false,
                // Someone else's bucket (another account): it exists, and it is not ours.
                Some("AccessDenied") | Some("AllAccessDisabled") => false,
                _ => {
                    return Err(DiffError::Read {
                        address: d.address(),
                        source: AwsError::call("GetBucketTagging", e),
                    })
                }
            },
        };
        let policy = pol.ok().and_then(|p| p.policy().and_then(policy::parse)).unwrap_or(Value::Null);
        let block = pab
            .ok()
            .and_then(|p| p.public_access_block_configuration().cloned())
            .is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
        let encryption = enc
            .ok()
            .and_then(|e| {
                e.server_side_encryption_configuration()?
                    .rules()
                    .first()?
                    .apply_server_side_encryption_by_default()
                    .map(|d| d.sse_algorithm().as_str().to_string())
            })
            .map(Value::from)
            .unwrap_or(Value::Null);
        let expire = lc
            .ok()
            .and_then(|l| {
                l.rules()
                    .iter()
                    .find(|r| r.id() == Some("secmon-expire-logs") && r.status().as_str() == "Enabled")
                    .and_then(|r| r.expiration()?.days())
            })
            .map(Value::from)
            .unwrap_or(Value::Null);
        let holds_data = objects.ok().is_some_and(|o| o.key_count().unwrap_or(0) > 0);
        let mut r = bare(Kind::Bucket, b, d.arn.clone());
        r.attrs = json!({"policy": policy, "block_public_access": block, "encryption": encryption, "expire_logs_after_days": expire})
            .as_object()
            .expect("object")
            .clone()
            .into_iter()
            .collect();
        let mut l = live(r, owned);
        l.holds_data = holds_data;
        out.push(l);
    }
    Ok(out)
}
