//! Secrets Manager secret. The value is read from its source only here, sent once, never logged.

use secmon_aws::secretsmanager::types::Tag;
use secmon_diff::desired::{OWNER_TAG, VALUE_VERSION_TAG};
use secmon_diff::{Action, Step};
use serde_json::Value;

use super::{after, before, changed, fail, s};
use crate::{ApplyError, Ctx};

pub(super) async fn execute(ctx: &Ctx, step: &Step) -> Result<(), ApplyError> {
    let sm = &ctx.aws.secretsmanager;
    match step.action {
        Action::Create | Action::Replace => {
            let r = after(step);
            let value = read_value(ctx, step).await?;
            let version = r.attrs.get("value_version").map(|v| v.to_string()).unwrap_or_else(|| "1".into());
            let mut req = sm
                .create_secret()
                .name(&r.name)
                .set_description(s(r, "description").map(str::to_string))
                .set_kms_key_id(s(r, "kms_key_id").map(str::to_string))
                .secret_string(value)
                .tags(Tag::builder().key(OWNER_TAG).value(&ctx.spec).build())
                .tags(Tag::builder().key(VALUE_VERSION_TAG).value(version).build());
            for (k, v) in user_tags(r.attrs.get("tags")) {
                req = req.tags(Tag::builder().key(k).value(v).build());
            }
            req.send().await.map_err(fail(step, "CreateSecret"))?;
        }
        Action::Update => {
            let r = after(step);
            let id = r.arn.clone().unwrap_or_else(|| r.name.clone());
            let c = changed(step);
            if c.contains("pending_deletion") {
                sm.restore_secret()
                    .secret_id(&id)
                    .send()
                    .await
                    .map_err(fail(step, "RestoreSecret"))?;
            }
            if c.contains("description") || c.contains("kms_key_id") {
                sm.update_secret()
                    .secret_id(&id)
                    .set_description(s(r, "description").map(str::to_string))
                    .set_kms_key_id(s(r, "kms_key_id").map(str::to_string))
                    .send()
                    .await
                    .map_err(fail(step, "UpdateSecret"))?;
            }
            if c.contains("tags") {
                let old = user_tags(before(step).attrs.get("tags"));
                let new = user_tags(r.attrs.get("tags"));
                let gone: Vec<String> = old
                    .iter()
                    .filter(|(k, _)| !new.iter().any(|(n, _)| n == k))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !gone.is_empty() {
                    sm.untag_resource()
                        .secret_id(&id)
                        .set_tag_keys(Some(gone))
                        .send()
                        .await
                        .map_err(fail(step, "UntagResource"))?;
                }
                if !new.is_empty() {
                    let tags = new.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
                    sm.tag_resource()
                        .secret_id(&id)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(fail(step, "TagResource"))?;
                }
            }
            if c.contains("value_version") {
                // Value first, then the version tag: a crash in between only writes it again.
                let value = read_value(ctx, step).await?;
                sm.put_secret_value()
                    .secret_id(&id)
                    .secret_string(value)
                    .send()
                    .await
                    .map_err(fail(step, "PutSecretValue"))?;
                let version = r.attrs.get("value_version").map(|v| v.to_string()).unwrap_or_else(|| "1".into());
                sm.tag_resource()
                    .secret_id(&id)
                    .tags(Tag::builder().key(VALUE_VERSION_TAG).value(version).build())
                    .send()
                    .await
                    .map_err(fail(step, "TagResource"))?;
            }
        }
        Action::Delete => {
            let r = before(step);
            sm.delete_secret()
                .secret_id(r.arn.clone().unwrap_or_else(|| r.name.clone()))
                .recovery_window_in_days(ctx.opts.recovery_window_days.clamp(7, 30))
                .send()
                .await
                .map_err(fail(step, "DeleteSecret"))?;
        }
        Action::NoOp => {}
    }
    Ok(())
}

fn user_tags(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether this step writes the secret's value (create, or a new `value.version`).
pub(crate) fn writes_value(step: &Step) -> bool {
    match step.action {
        Action::Create | Action::Replace => true,
        Action::Update => changed(step).contains("value_version"),
        _ => false,
    }
}

/// The value from the environment or a file; None for generated values. Errors name the
/// source, never the value.
pub(crate) fn local_value(step: &Step, spec_dir: &std::path::Path) -> Result<Option<String>, ApplyError> {
    let input = |message: String| ApplyError::Input {
        address: step.address.clone(),
        message,
    };
    let source = after(step).meta.get("value_source").cloned().unwrap_or(Value::Null);
    if let Some(var) = source.get("from_env").and_then(Value::as_str) {
        return std::env::var(var)
            .map(Some)
            .map_err(|_| input(format!("environment variable {var} (the secret's value source) is not set")));
    }
    if let Some(file) = source.get("from_file").and_then(Value::as_str) {
        let path = spec_dir.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| input(format!("cannot read the secret's value file {}: {e}", path.display())))?;
        return Ok(Some(text.strip_suffix('\n').unwrap_or(&text).to_string()));
    }
    Ok(None)
}

/// The secret's value from its source. Errors name the source, never the value.
async fn read_value(ctx: &Ctx, step: &Step) -> Result<String, ApplyError> {
    let input = |message: String| ApplyError::Input {
        address: step.address.clone(),
        message,
    };
    if let Some(v) = local_value(step, &ctx.opts.spec_dir)? {
        return Ok(v);
    }
    let source = after(step).meta.get("value_source").cloned().unwrap_or(Value::Null);
    let length = source.pointer("/generate/length").and_then(Value::as_i64).unwrap_or(32);
    let punct = source
        .pointer("/generate/exclude_punctuation")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let out = ctx
        .aws
        .secretsmanager
        .get_random_password()
        .password_length(length)
        .exclude_punctuation(punct)
        .send()
        .await
        .map_err(fail(step, "GetRandomPassword"))?;
    out.random_password
        .ok_or_else(|| input("GetRandomPassword returned no value".into()))
}
