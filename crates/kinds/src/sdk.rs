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
