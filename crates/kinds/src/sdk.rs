//! Small helpers the kinds' SDK code shares.

use crate::{AwsError, KindError};

/// Maps an SDK error of `operation` to a kind error, keeping AWS's code.
pub(crate) fn fail<E, R>(operation: &'static str) -> impl FnOnce(secmon_aws::SdkError<E, R>) -> KindError
where
    E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + secmon_aws::HttpStatus,
{
    move |e| KindError::Aws(AwsError::call(operation, e))
}

/// Awaits an SDK request whose reply is not needed, keeping AWS's error code on failure.
pub(crate) async fn send<T, E, R>(
    operation: &'static str,
    request: impl std::future::Future<Output = Result<T, secmon_aws::SdkError<E, R>>>,
) -> Result<(), KindError>
where
    E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + secmon_aws::HttpStatus,
{
    request.await.map(drop).map_err(fail(operation))
}

/// Maps an SDK read error of `operation` on `address` to a kind error naming the resource.
pub(crate) fn read_fail<E, R>(address: crate::Address, operation: &'static str) -> impl FnOnce(secmon_aws::SdkError<E, R>) -> KindError
where
    E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + secmon_aws::HttpStatus,
{
    move |e| KindError::Read { address, source: AwsError::call(operation, e) }
}

/// A policy document as the JSON text AWS takes.
pub(crate) fn policy_text(v: &serde_json::Value) -> String {
    v.to_string()
}

/// Reads each desired resource concurrently (`read` answers None for one that does not exist).
pub(crate) async fn read_each<'a, F, R>(desired: Vec<&'a crate::Resource>, read: F) -> Result<Vec<crate::LiveResource>, KindError>
where
    F: Fn(&'a crate::Resource) -> R,
    R: std::future::Future<Output = Result<Option<crate::LiveResource>, KindError>>,
{
    let mut out = Vec::new();
    for found in futures::future::join_all(desired.into_iter().map(read)).await {
        out.extend(found?);
    }
    Ok(out)
}

/// The `secmon:spec` tag of a CloudWatch resource (an alarm, a Contributor Insights rule), by ARN.
pub(crate) async fn cloudwatch_owner(aws: &secmon_aws::Aws, arn: &str) -> Result<Option<String>, KindError> {
    let tags = aws.cloudwatch.list_tags_for_resource().resource_arn(arn).send().await.map_err(fail("ListTagsForResource"))?;
    Ok(tags.tags().iter().find(|t| t.key() == Some(crate::OWNER_TAG)).and_then(|t| t.value().map(str::to_string)))
}

/// Writes `tags` on a CloudWatch resource (an alarm, a Contributor Insights rule), by ARN.
pub(crate) async fn cloudwatch_tag(aws: &secmon_aws::Aws, arn: &str, tags: Vec<(String, String)>) -> Result<(), KindError> {
    use secmon_aws::cloudwatch::types::Tag;
    let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    send("TagResource", aws.cloudwatch.tag_resource().resource_arn(arn).set_tags(Some(tags)).send()).await
}
