//! Ownership: every regional resource tagged `secmon:spec=<spec>`, in one paged call.

use std::collections::BTreeSet;

use secmon_aws::tagging::types::TagFilter;
use secmon_aws::{Aws, AwsError};

use super::{normalize_arn, Ctx};
use crate::desired::OWNER_TAG;
use crate::DiffError;

pub(super) async fn owned_arns(aws: &Aws, ctx: &Ctx<'_>) -> Result<BTreeSet<String>, DiffError> {
    let mut out = BTreeSet::new();
    let mut pages = aws
        .tagging
        .get_resources()
        .tag_filters(TagFilter::builder().key(OWNER_TAG).values(ctx.spec).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("GetResources", e))?;
        for m in page.resource_tag_mapping_list() {
            if let Some(arn) = m.resource_arn() {
                out.insert(normalize_arn(arn));
            }
        }
    }
    Ok(out)
}
