//! Secrets Manager: one paged ListSecrets answers existence, attributes and tags of every secret.
//! GetSecretValue is never called: reading a value would fire the alarm secmon deploys.

use std::collections::BTreeMap;

use secmon_aws::{Aws, AwsError};
use serde_json::{json, Value};

use super::{live, Ctx};
use crate::compare::LiveResource;
use crate::desired::{OWNER_TAG, VALUE_VERSION_TAG};
use crate::plan::{Kind, Resource};
use crate::DiffError;

pub(super) async fn read(aws: &Aws, ctx: &Ctx<'_>) -> Result<Vec<LiveResource>, DiffError> {
    let wanted: Vec<&str> = ctx
        .names(Kind::Secret)
        .iter()
        .map(|r| r.name.as_str())
        .collect();
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
            let tags: BTreeMap<String, String> = s
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let owned = tags.get(OWNER_TAG).map(String::as_str) == Some(ctx.spec);
            if !owned && !wanted.contains(&name) {
                continue;
            }
            let user_tags: BTreeMap<&String, &String> = tags
                .iter()
                .filter(|(k, _)| !k.starts_with("secmon:") && !k.starts_with("aws:"))
                .collect();
            let version: Value = tags
                .get(VALUE_VERSION_TAG)
                .and_then(|v| v.parse::<u64>().ok())
                .map(Value::from)
                .unwrap_or(Value::Null);
            let kms = s.kms_key_id().filter(|k| *k != "alias/aws/secretsmanager");
            let attrs = json!({
                "description": s.description(),
                "kms_key_id": kms,
                "tags": user_tags,
                "value_version": version,
                "pending_deletion": s.deleted_date().is_some(),
            });
            let attrs = attrs
                .as_object()
                .expect("object")
                .clone()
                .into_iter()
                .collect();
            let r = Resource {
                kind: Kind::Secret,
                name: name.to_string(),
                arn: s.arn().map(str::to_string),
                attrs,
                meta: Default::default(),
            };
            out.push(live(r, owned));
        }
    }
    // ListSecrets may hide secrets scheduled for deletion; a desired one missing from the list is
    // looked up by name, so that apply restores it instead of failing to create it again.
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| !out.iter().any(|l| l.resource.name == *n))
        .collect();
    let found = futures::future::join_all(
        missing
            .iter()
            .map(|n| aws.secretsmanager.describe_secret().secret_id(*n).send()),
    )
    .await;
    for (name, d) in missing.iter().zip(found) {
        let d = match d {
            Ok(d) => d,
            Err(e) if secmon_aws::error_code(&e) == Some("ResourceNotFoundException") => continue,
            Err(e) => return Err(AwsError::call("DescribeSecret", e).into()),
        };
        let tags: BTreeMap<String, String> = d
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
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
        let attrs = json!({
            "description": d.description(),
            "kms_key_id": d.kms_key_id().filter(|k| *k != "alias/aws/secretsmanager"),
            "tags": user_tags,
            "value_version": version,
            "pending_deletion": d.deleted_date().is_some(),
        });
        let attrs = attrs
            .as_object()
            .expect("object")
            .clone()
            .into_iter()
            .collect();
        let r = Resource {
            kind: Kind::Secret,
            name: name.to_string(),
            arn: d.arn().map(str::to_string),
            attrs,
            meta: Default::default(),
        };
        out.push(live(r, owned));
    }
    Ok(out)
}
