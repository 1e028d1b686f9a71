//! Secrets Manager secret whose reads the pipeline watches. One paged ListSecrets answers
//! existence, attributes and tags of every secret. The value is read from its source only when a
//! change writes it, sent once, and never logged, returned or read back: GetSecretValue is never
//! called (it would fire the alarm secmon deploys); the value's version lives in a tag.

use std::collections::BTreeMap;
use std::path::Path;

use secmon_aws::secretsmanager::types::Tag;
use secmon_aws::{error_code, AwsError};
use serde::{Deserialize, Serialize};

use crate::check::{check, Check, Status, VerifyCtx};
use crate::sdk::{fail, send};
use crate::{
    Aws, Change, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Op, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
    VALUE_VERSION_TAG,
};
use secmon_spec::DesiredState;

/// The AWS managed key, the spec's "no key".
const AWS_MANAGED_KEY: &str = "alias/aws/secretsmanager";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    /// The user's tags (secmon's and AWS's own are not compared).
    pub tags: BTreeMap<String, String>,
    /// The value's version (`secmon:value-version` tag): a new version writes the value again.
    pub value_version: Option<u64>,
    pub pending_deletion: bool,
}

/// Where apply reads the value; never the value itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    FromEnv(String),
    FromFile(String),
    Generate { length: u32, exclude_punctuation: bool },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_source: Option<ValueSource>,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[],
    step: 6,
    iam: crate::Iam {
        read: &["secretsmanager:ListSecrets", "secretsmanager:DescribeSecret"],
        write: &[
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
            "secretsmanager:RestoreSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            "secretsmanager:DeleteSecret",
            "secretsmanager:GetRandomPassword",
        ],
    },
};
pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, _t: &Target) -> Vec<Resource> {
        state
            .secrets
            .iter()
            .map(|s| {
                let source = match s.value.source() {
                    secmon_spec::ValueSource::FromEnv(v) => ValueSource::FromEnv(v.to_string()),
                    secmon_spec::ValueSource::FromFile(f) => ValueSource::FromFile(f.to_string()),
                    secmon_spec::ValueSource::Generate { length, exclude_punctuation } => {
                        ValueSource::Generate { length, exclude_punctuation }
                    }
                };
                let attrs = Attrs {
                    description: s.description.clone(),
                    kms_key_id: s.kms_key_id.clone(),
                    tags: s.tags.clone(),
                    value_version: Some(s.value.version as u64),
                    pending_deletion: false,
                };
                Resource::new(Kind::Secret, &s.name, None, &attrs).with_meta(&Meta { value_source: Some(source) })
            })
            .collect()
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        // Secrets Manager appends `-` and six random characters to the name.
        let rest = crate::model::arn_resource(arn, "secretsmanager")?.strip_prefix("secret:")?;
        rest.rsplit_once('-').map(|(n, _)| n.to_string())
    }

    fn keep_instead_of_delete(&self, live: &LiveResource, _delete_logs: bool) -> Option<String> {
        live.resource
            .attrs::<Attrs>()
            .pending_deletion
            .then(|| format!("{}: already scheduled for deletion (restorable until its recovery window ends)", live.resource.address()))
    }

    fn check_inputs(&self, change: &Change, spec_dir: &Path) -> Result<(), KindError> {
        if writes_value(change) {
            local_value(change.after(), spec_dir)?;
        }
        Ok(())
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(read(aws, ctx))
    }

    /// A canonical `GetSecretValue` of the secret (by ARN and by name) matches a metric filter.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("secret {}", desired.name);
        let Some(_) = ctx.live_of(desired) else { return ctx.missing("secret.exists", &subject, "the secret does not exist") };
        let engine = &ctx.filters.engine;
        let (caught, errors) = ctx.filters.secret.get(&desired.name).cloned().unwrap_or_default();
        if caught.is_empty() {
            let errors = if errors.is_empty() { String::new() } else { format!("; {}", errors.join("; ")) };
            return vec![check(
                "secret.watched",
                &subject,
                Status::Failed,
                format!("no metric filter matches a GetSecretValue of this secret (by {engine}){errors}"),
                Some("use a pattern like { ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") }, or the secret-access pack"),
            )];
        }
        vec![check("secret.watched", &subject, Status::Ok, format!("a GetSecretValue matches {} (by {engine})", caught.join(", ")), None)]
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(create(aws, ctx, r))
    }

    fn update<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, before: &'a Resource, after: &'a Resource) -> Fut<'a, ()> {
        Box::pin(update(aws, ctx, before, after))
    }

    fn delete<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        let id = r.arn.clone().unwrap_or_else(|| r.name.clone());
        let request = aws.secretsmanager.delete_secret().secret_id(id);
        Box::pin(send("DeleteSecret", request.recovery_window_in_days(ctx.recovery_window_days.clamp(7, 30)).send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        let request = aws.secretsmanager.tag_resource().secret_id(r.arn.clone().unwrap_or_else(|| r.name.clone())).set_tags(Some(tags));
        Box::pin(send("TagResource", request.send()))
    }

    /// The value already there counts as the spec's version: importing writes no value.
    fn adopt_tags(&self, r: &Resource) -> Vec<(String, String)> {
        vec![(VALUE_VERSION_TAG.to_string(), r.attrs::<Attrs>().value_version.unwrap_or(1).to_string())]
    }
}

async fn read(aws: &Aws, ctx: &ReadCtx<'_>) -> Result<Vec<LiveResource>, KindError> {
    let wanted: Vec<&str> = ctx.desired_of(Kind::Secret).iter().map(|r| r.name.as_str()).collect();
    let mut out = Vec::new();
    let mut pages = aws.secretsmanager.list_secrets().include_planned_deletion(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::call("ListSecrets", e))?;
        for s in page.secret_list() {
            let name = s.name().unwrap_or_default();
            let r = secret(ctx.spec, name, s.arn(), s.description(), s.kms_key_id(), s.tags(), s.deleted_date().is_some());
            if r.owned || wanted.contains(&name) {
                out.push(r);
            }
        }
    }
    // ListSecrets may hide secrets scheduled for deletion; a desired one missing from the list is
    // looked up by name, so that apply restores it instead of failing to create it again.
    let missing: Vec<&str> = wanted.iter().copied().filter(|n| !out.iter().any(|l| l.resource.name == *n)).collect();
    let found = futures::future::join_all(missing.iter().map(|n| aws.secretsmanager.describe_secret().secret_id(*n).send())).await;
    for (name, d) in missing.iter().zip(found) {
        match d {
            Ok(d) => out.push(secret(ctx.spec, name, d.arn(), d.description(), d.kms_key_id(), d.tags(), d.deleted_date().is_some())),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(AwsError::call("DescribeSecret", e).into()),
        }
    }
    for l in &mut out {
        let Some(d) = ctx.desired_of(Kind::Secret).into_iter().find(|d| d.name == l.resource.name) else { continue };
        let (want, mut got): (Attrs, Attrs) = (d.attrs(), l.resource.attrs());
        if let (Some(w), Some(g)) = (&want.kms_key_id, &got.kms_key_id) {
            if same_key(w, g) != Some(false) {
                // The same key in another form, or a form that cannot be compared without
                // kms:DescribeKey (an alias against a key id): no UpdateSecret on every apply.
                if same_key(w, g).is_none() {
                    tracing::warn!(secret = %d.name, spec = %w, aws = %g, "cannot compare a KMS alias with a key id; write the key ARN in the spec to have it compared");
                }
                got.kms_key_id = Some(w.clone());
                l.resource = Resource { attrs: crate::model::to_map(&got), ..l.resource.clone() };
            }
        }
    }
    Ok(out)
}

/// A KMS key reference in the form it names: a key (by id or key ARN) or an alias (by name or
/// alias ARN). DescribeSecret answers "the key ID or alias ARN" (and the console writes key ids),
/// so the spec's form and AWS's may differ for the same key (issue 11, item 12).
#[derive(Debug, PartialEq)]
enum KeyRef<'a> {
    Key(&'a str),
    Alias(&'a str),
}

fn key_ref(id: &str) -> KeyRef<'_> {
    let rest = crate::model::arn_resource(id, "kms").unwrap_or(id);
    match (rest.strip_prefix("alias/"), rest.strip_prefix("key/")) {
        (Some(alias), _) => KeyRef::Alias(alias),
        (_, Some(key)) => KeyRef::Key(key),
        _ => KeyRef::Key(rest),
    }
}

/// Whether two key references name the same key: None when one is an alias and the other a
/// key, which only KMS can tell.
fn same_key(a: &str, b: &str) -> Option<bool> {
    match (key_ref(a), key_ref(b)) {
        (KeyRef::Key(x), KeyRef::Key(y)) | (KeyRef::Alias(x), KeyRef::Alias(y)) => Some(x == y),
        _ => None,
    }
}

/// One secret in the model, from ListSecrets or DescribeSecret (same fields, two SDK types).
fn secret(
    spec: &str,
    name: &str,
    arn: Option<&str>,
    description: Option<&str>,
    kms: Option<&str>,
    tags: &[Tag],
    deleted: bool,
) -> LiveResource {
    let tags: BTreeMap<String, String> =
        tags.iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
    let attrs = Attrs {
        // An emptied description reads as none, as the spec writes it.
        description: description.filter(|d| !d.is_empty()).map(str::to_string),
        kms_key_id: kms.filter(|k| key_ref(k) != KeyRef::Alias("aws/secretsmanager")).map(str::to_string),
        tags: tags
            .iter()
            .filter(|(k, _)| !k.starts_with("secmon:") && !k.starts_with("aws:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        value_version: tags.get(VALUE_VERSION_TAG).and_then(|v| v.parse().ok()),
        pending_deletion: deleted,
    };
    LiveResource::tagged(Resource::new(Kind::Secret, name, arn.map(str::to_string), &attrs), spec, |k| tags.get(k).map(String::as_str))
}

async fn create(aws: &Aws, ctx: &ExecCtx, r: &Resource) -> Result<(), KindError> {
    let a: Attrs = r.attrs();
    let value = read_value(aws, r, &ctx.spec_dir).await?;
    let owner = Tag::builder().key(OWNER_TAG).value(&ctx.spec).build();
    let mut req = aws.secretsmanager.create_secret().name(&r.name).secret_string(value).tags(owner).tags(version_tag(&a));
    req = req.set_description(a.description.clone()).set_kms_key_id(a.kms_key_id.clone());
    for (k, v) in &a.tags {
        req = req.tags(Tag::builder().key(k).value(v).build());
    }
    send("CreateSecret", req.send()).await
}

/// The `secmon:value-version` tag.
fn version_tag(a: &Attrs) -> Tag {
    Tag::builder().key(VALUE_VERSION_TAG).value(a.value_version.unwrap_or(1).to_string()).build()
}

async fn update(aws: &Aws, ctx: &ExecCtx, before: &Resource, r: &Resource) -> Result<(), KindError> {
    let sm = &aws.secretsmanager;
    let (before, a): (Attrs, Attrs) = (before.attrs(), r.attrs());
    let id = r.arn.clone().unwrap_or_else(|| r.name.clone());
    if before.pending_deletion != a.pending_deletion {
        send("RestoreSecret", sm.restore_secret().secret_id(&id).send()).await?;
    }
    if before.description != a.description || before.kms_key_id != a.kms_key_id {
        // An omitted parameter leaves the value as it is: a description or key removed from the
        // spec is written as an empty description and the AWS managed key (issue 11, item 12).
        let description = a.description.clone().unwrap_or_default();
        let key = a.kms_key_id.clone().unwrap_or_else(|| AWS_MANAGED_KEY.to_string());
        let request = sm.update_secret().secret_id(&id).description(description);
        send("UpdateSecret", request.kms_key_id(key).send()).await?;
    }
    if before.tags != a.tags {
        let gone: Vec<String> = before.tags.keys().filter(|k| !a.tags.contains_key(*k)).cloned().collect();
        if !gone.is_empty() {
            send("UntagResource", sm.untag_resource().secret_id(&id).set_tag_keys(Some(gone)).send()).await?;
        }
        if !a.tags.is_empty() {
            let tags = a.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            send("TagResource", sm.tag_resource().secret_id(&id).set_tags(Some(tags)).send()).await?;
        }
    }
    if before.value_version != a.value_version {
        // Value first, then the version tag: a crash in between only writes it again.
        let value = read_value(aws, r, &ctx.spec_dir).await?;
        send("PutSecretValue", sm.put_secret_value().secret_id(&id).secret_string(value).send()).await?;
        send("TagResource", sm.tag_resource().secret_id(&id).tags(version_tag(&a)).send()).await?;
    }
    Ok(())
}

/// Whether this change writes the secret's value (create, or a new `value.version`).
pub fn writes_value(change: &Change) -> bool {
    match change.op {
        Op::Create => true,
        Op::Update => {
            let (before, after) = change.attrs::<Attrs>();
            before.value_version != after.value_version
        }
        Op::Delete => false,
    }
}

/// The value from the environment or a file; None for generated values. Errors name the
/// source, never the value.
pub fn local_value(r: &Resource, spec_dir: &Path) -> Result<Option<String>, KindError> {
    match r.meta::<Meta>().value_source {
        Some(ValueSource::FromEnv(var)) => std::env::var(&var)
            .map(Some)
            .map_err(|_| KindError::Input(format!("environment variable {var} (the secret's value source) is not set"))),
        Some(ValueSource::FromFile(file)) => {
            let path = confined(spec_dir, &file)?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| KindError::Input(format!("cannot read the secret's value file {}: {e}", path.display())))?;
            Ok(Some(text.strip_suffix('\n').unwrap_or(&text).to_string()))
        }
        _ => Ok(None),
    }
}

/// Lets value files be read from anywhere (the pipeline's choice, not the spec's).
pub const ALLOW_VALUE_FILES_ANYWHERE: &str = "SECMON_ALLOW_VALUE_FILES_ANYWHERE";

/// The value file `file` of a spec in `spec_dir`, which must lie in that directory (after links
/// are followed): a spec comes from a pull request, and must not make the pipeline read
/// `/proc/self/environ` or `../../.ssh/id_ed25519` into a secret (issue 26, item 4). The
/// pipeline can allow any path with `SECMON_ALLOW_VALUE_FILES_ANYWHERE=1`.
fn confined(spec_dir: &Path, file: &str) -> Result<std::path::PathBuf, KindError> {
    let dir = if spec_dir.as_os_str().is_empty() { Path::new(".") } else { spec_dir };
    let path = dir.join(file);
    if std::env::var_os(ALLOW_VALUE_FILES_ANYWHERE).is_some_and(|v| v == "1") {
        return Ok(path);
    }
    let unreadable = |e: std::io::Error| KindError::Input(format!("cannot read the secret's value file {}: {e}", path.display()));
    let (real, base) = (path.canonicalize().map_err(unreadable)?, dir.canonicalize().map_err(unreadable)?);
    if !real.starts_with(&base) {
        return Err(KindError::Input(format!(
            "the secret's value file {file} is outside the spec's directory ({}): a spec may only name files beside it; \
             set {ALLOW_VALUE_FILES_ANYWHERE}=1 in the pipeline to allow others",
            base.display()
        )));
    }
    Ok(real)
}

/// The secret's value from its source. Errors name the source, never the value.
async fn read_value(aws: &Aws, r: &Resource, spec_dir: &Path) -> Result<String, KindError> {
    if let Some(v) = local_value(r, spec_dir)? {
        return Ok(v);
    }
    let (length, punct) = match r.meta::<Meta>().value_source {
        Some(ValueSource::Generate { length, exclude_punctuation }) => (length, exclude_punctuation),
        _ => (32, false),
    };
    let out = aws
        .secretsmanager
        .get_random_password()
        .password_length(length as i64)
        .exclude_punctuation(punct)
        .send()
        .await
        .map_err(fail("GetRandomPassword"))?;
    out.random_password.ok_or_else(|| KindError::Input("GetRandomPassword returned no value".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_source_keeps_its_plan_json_shape() {
        let r = Resource::bare(Kind::Secret, "s", None)
            .with_meta(&Meta { value_source: Some(ValueSource::Generate { length: 40, exclude_punctuation: true }) });
        assert_eq!(
            serde_json::to_value(&r.meta).unwrap(),
            serde_json::json!({"value_source": {"generate": {"length": 40, "exclude_punctuation": true}}})
        );
        let r = Resource::bare(Kind::Secret, "s", None).with_meta(&Meta { value_source: Some(ValueSource::FromEnv("X".into())) });
        assert_eq!(serde_json::to_value(&r.meta).unwrap(), serde_json::json!({"value_source": {"from_env": "X"}}));
    }

    #[test]
    fn an_unset_value_variable_is_named_without_a_value() {
        let r = Resource::bare(Kind::Secret, "s", None)
            .with_meta(&Meta { value_source: Some(ValueSource::FromEnv("SECMON_TEST_SURELY_UNSET".into())) });
        let e = local_value(&r, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("SECMON_TEST_SURELY_UNSET"), "{e}");
    }

    #[test]
    fn verify_fails_a_secret_no_filter_watches() {
        use crate::check::testing::*;
        let (spec, live) = world();
        assert_eq!(verdict(&spec, &live, Kind::Secret, "secret.watched"), Status::Failed);
        let mut evidence = crate::FilterEvidence::default();
        evidence.secret.insert(desired(&spec, Kind::Secret)[0].name.clone(), (vec!["f".into()], vec![]));
        assert_eq!(status(&run(&spec, &live, &evidence, Kind::Secret), "secret.watched"), Status::Ok);
        assert_eq!(verdict(&spec, &Default::default(), Kind::Secret, "secret.exists"), Status::Failed);
    }

    #[test]
    fn a_kms_key_in_another_form_is_the_same_key() {
        // Regression (issue 11, item 12): an alias or key id never equalled the ARN AWS returns,
        // so every apply called UpdateSecret (and fired the guard-secrets alarm).
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(same_key("1234abcd-12ab-34cd-56ef-1234567890ab", arn), Some(true));
        assert_eq!(same_key("alias/app", "arn:aws:kms:us-east-1:123456789012:alias/app"), Some(true));
        assert_eq!(same_key("alias/app", "alias/other"), Some(false));
        assert_eq!(same_key("alias/app", arn), None, "only KMS can tell");
        assert_eq!(key_ref("arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"), KeyRef::Alias("aws/secretsmanager"));
    }

    /// Issue 26, item 4: a value file must lie beside the spec: no `..`, no absolute path, no
    /// link that leads out.
    #[test]
    fn value_files_are_confined_to_the_specs_directory() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("value.txt"), "v\n").unwrap();
        std::fs::write(outside.path().join("secret.txt"), "stolen").unwrap();
        let from =
            |f: &str| Resource::bare(Kind::Secret, "s", None).with_meta(&Meta { value_source: Some(ValueSource::FromFile(f.into())) });
        assert_eq!(local_value(&from("value.txt"), dir.path()).unwrap().as_deref(), Some("v"));
        let absolute = outside.path().join("secret.txt").display().to_string();
        for f in [absolute.as_str(), "../../../../../../proc/self/environ"] {
            let e = local_value(&from(f), dir.path()).unwrap_err().to_string();
            assert!(e.contains("outside the spec's directory") || e.contains("cannot read"), "{f}: {e}");
            assert!(!e.contains("stolen"));
        }
        let e = local_value(&from(&absolute), dir.path()).unwrap_err().to_string();
        assert!(e.contains("outside the spec's directory") && e.contains(ALLOW_VALUE_FILES_ANYWHERE), "{e}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("link.txt")).unwrap();
            let e = local_value(&from("link.txt"), dir.path()).unwrap_err().to_string();
            assert!(e.contains("outside the spec's directory"), "a link leading out is refused: {e}");
        }
    }
}
