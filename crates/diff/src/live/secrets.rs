//! Secrets Manager: one paged ListSecrets answers existence, attributes and tags of every secret.
//! GetSecretValue is never called: reading a value would fire the alarm secmon deploys.

use std::collections::BTreeMap;

use secmon_aws::secretsmanager::types::Tag;
use secmon_aws::{error_code, Aws, AwsError};
use serde_json::{json, Value};

use super::{bare, live, Ctx};
use crate::compare::LiveResource;
use crate::desired::{OWNER_TAG, VALUE_VERSION_TAG};
use crate::plan::Kind;
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let wanted: Vec<&str> = ctx.names(Kind::Secret).iter().map(|r| r.name.as_str()).collect();
    let mut out = Vec::new();
    let mut pages = aws
        .secretsmanager
        .list_secrets()
        .include_planned_deletion(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListSecrets", e))?;
        for s in page.secret_list() {
            let name = s.name().unwrap_or_default();
            let r = secret(
                ctx,
                name,
                s.arn(),
                s.description(),
                s.kms_key_id(),
                s.tags(),
                s.deleted_date().is_some(),
            );
            if r.owned || wanted.contains(&name) {
                out.push(r);
            }
        }
    }
    // ListSecrets may hide secrets scheduled for deletion; a desired one missing from the list is
    // looked up by name, so that apply restores it instead of failing to create it again.
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| !out.iter().any(|l| l.resource.name == *n))
        .collect();
    let found = futures::future::join_all(missing.iter().map(|n| aws.secretsmanager.describe_secret().secret_id(*n).send())).await;
    for (name, d) in missing.iter().zip(found) {
        match d {
            Ok(d) => out.push(secret(
                ctx,
                name,
                d.arn(),
                d.description(),
                d.kms_key_id(),
                d.tags(),
                d.deleted_date().is_some(),
            )),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(AwsError::call("DescribeSecret", e).into()),
        }
    }
    Ok(out)
}

/// One secret in the model, from ListSecrets or DescribeSecret (same fields, two SDK types).
fn secret(
    ctx: &Ctx<'_>,
    name: &str,
    arn: Option<&str>,
    description: Option<&str>,
    kms: Option<&str>,
    tags: &[Tag],
    deleted: bool,
) -> LiveResource {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    let owned = tags.get(OWNER_TAG).map(String::as_str) == Some(ctx.spec);
    let user_tags: BTreeMap<&String, &String> = tags
        .iter()
        .filter(|(k, _)| !k.starts_with("secmon:") && !k.starts_with("aws:"))
        .collect();
    let version: Value = tags
        .get(VALUE_VERSION_TAG)
        .and_then(|v| v.parse::<u64>().ok())
        .map(Value::from)
        .unwrap_or(Value::Null);
    let mut r = bare(Kind::Secret, name, arn.map(str::to_string));
    for (k, v) in [
        ("description", json!(description)),
        // The AWS managed key is the spec's "none".
        ("kms_key_id", json!(kms.filter(|k| *k != "alias/aws/secretsmanager"))),
        ("tags", json!(user_tags)),
        ("value_version", version),
        ("pending_deletion", json!(deleted)),
    ] {
        r.attrs.insert(k.to_string(), v);
    }
    live(r, owned)
}
