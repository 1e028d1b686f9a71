//! One adapter per resource kind: the AWS calls that create, update and delete it.

mod alarm;
mod bucket;
mod log_group;
mod metric_filter;
mod role;
pub(crate) mod secret;
mod subscription;
mod topic;
mod trail;

use std::collections::BTreeSet;

use secmon_aws::AwsError;
use secmon_diff::{Kind, Resource, Step};
use serde_json::Value;

use crate::{ApplyError, Ctx};

pub(crate) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    match step.kind() {
        Kind::Secret => secret::execute(ctx, step).await,
        Kind::Bucket => bucket::execute(ctx, step).await,
        Kind::LogGroup => log_group::execute(ctx, step).await,
        Kind::Role => role::execute(ctx, step).await,
        Kind::Topic => topic::execute(ctx, step).await,
        Kind::Subscription => subscription::execute(ctx, step).await,
        Kind::Trail => trail::execute(ctx, step).await,
        Kind::MetricFilter => metric_filter::execute(ctx, step).await,
        Kind::Alarm => alarm::execute(ctx, step).await,
    }
}

/// Maps an SDK error of `operation` to a step error.
pub(crate) fn fail<'a, E, R>(step: &'a Step, operation: &'static str) -> impl FnOnce(secmon_aws::SdkError<E, R>) -> ApplyError + 'a
where
    E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| ApplyError::Aws {
        address: step.address.clone(),
        source: AwsError::call(operation, e),
    }
}

pub(crate) fn wrap(step: &Step) -> impl FnOnce(AwsError) -> ApplyError + '_ {
    move |source| ApplyError::Aws {
        address: step.address.clone(),
        source,
    }
}

/// The attributes an update must change (all of them on create).
pub(crate) fn changed(step: &Step) -> BTreeSet<String> {
    step.changed_attrs().into_iter().map(|(k, _, _)| k).collect()
}

pub(crate) fn after(step: &Step) -> &Resource {
    step.after.as_ref().expect("create and update steps carry the desired resource")
}

pub(crate) fn before(step: &Step) -> &Resource {
    step.before.as_ref().expect("delete steps carry the live resource")
}

pub(crate) fn s<'a>(r: &'a Resource, key: &str) -> Option<&'a str> {
    r.attrs.get(key).and_then(Value::as_str)
}

pub(crate) fn json_text(r: &Resource, key: &str) -> String {
    r.attrs.get(key).map(|v| v.to_string()).unwrap_or_default()
}
