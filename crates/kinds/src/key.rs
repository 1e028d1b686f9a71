//! The customer managed KMS key that encrypts the pipeline at rest: the trail's log files, the
//! trail bucket's default encryption, the log group and the topics (issue 16). Its key policy
//! is generated here as pure logic ([`key_policy`]): it admits exactly the services the spec's
//! parts need, each scoped to this pipeline's resources, and `secmon verify` checks the live
//! policy against each use, because every use has a trap the emulator never shows (an encrypted
//! topic whose key CloudWatch may not use drops every alarm notification, silently).
//!
//! Identity: the key is known by its alias, `alias/secmon/<spec name>` (a key's id is random).
//! Its address is `key.secmon/<spec name>`. The parts name the key by that alias in the spec's
//! desired state; the read maps the key ARN AWS answers back to the alias
//! ([`alias_live_key_arns`]), so a plan compares like with like.
//!
//! Deleting a key makes everything it encrypted unreadable: like the bucket, the key is kept
//! unless `--delete-logs`, and then only scheduled for deletion (30 days, cancellable).

use secmon_aws::error_code;
use secmon_aws::kms::types::{KeyState, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{check, Check, Status, VerifyCtx};
use crate::sdk::{fail, policy_text, read_fail, send};
use crate::{
    policy, Aws, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

/// Days between ScheduleKeyDeletion and the key's deletion: the longest AWS allows, so that a
/// mistaken destroy can be undone with `aws kms cancel-key-deletion`.
pub const DELETION_WINDOW_DAYS: i32 = 30;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    pub alias: String,
    pub description: String,
    pub policy: Value,
    /// Automatic yearly rotation of the key material (CIS 3.6 in v3.0, KMS.4).
    pub rotation: bool,
    /// Enabled, and not pending deletion.
    pub enabled: bool,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`](crate::Facts)).
pub const FACTS: Facts = Facts { ownership: Ownership::OwnRead, refers_to: &[], step: 0 };

/// The resource name of the key of spec `spec`: its alias without `alias/`.
pub fn name_of(alias: &str) -> &str {
    alias.strip_prefix("alias/").unwrap_or(alias)
}

/// Which parts of the pipeline use the key, as the spec asks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uses {
    /// The trail whose log files it encrypts.
    pub trail: Option<String>,
    /// The bucket whose default encryption (with an S3 Bucket Key) it is.
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    pub topics: Vec<String>,
    /// The trail notifies one of the topics of each log file.
    pub trail_notifies: bool,
}

impl Uses {
    pub fn of(state: &DesiredState) -> Uses {
        if state.key_ref().is_none() {
            return Uses::default();
        }
        let e = &state.encryption;
        let trail = state.trail.as_ref();
        Uses {
            trail: trail.filter(|_| e.trail).map(|t| t.name.clone()),
            bucket: trail.filter(|_| e.bucket).map(|t| t.bucket.name.clone()),
            log_group: state.cloudwatch_logs().filter(|_| e.log_group).map(|c| c.log_group.clone()),
            topics: if e.topics { state.topics.iter().map(|t| t.name.clone()).collect() } else { Vec::new() },
            trail_notifies: e.topics && trail.is_some_and(|t| t.notify_topic.is_some()),
        }
    }
}

/// The key policy: the account's administrators (through IAM, as AWS's default key policy), and
/// per use exactly the service that needs the key, scoped to this pipeline's resources.
///
/// - CloudTrail encrypts log files with `kms:GenerateDataKey*` under the encryption context
///   `aws:cloudtrail:arn` = the trail's ARN, and calls `kms:DescribeKey` when the trail is
///   created or updated (CloudTrail refuses a key whose policy lacks either).
/// - Readers of the log files in this account decrypt through S3: `kms:Decrypt` for the
///   account's principals that IAM allows, only under this trail's encryption context.
/// - With the bucket's default encryption on the key and an S3 Bucket Key, S3 asks KMS for a
///   bucket-level data key on CloudTrail's behalf, under `aws:s3:arn` = the bucket's ARN
///   (AWS: "CloudTrail must be allowed permission in the key policy to use GenerateDataKey and
///   DescribeKey" for such a bucket).
/// - CloudWatch Logs is a regional principal, `logs.<region>.amazonaws.com`, scoped by
///   `kms:EncryptionContext:aws:logs:arn` = the log group's ARN.
/// - An encrypted topic receives an alarm only if `cloudwatch.amazonaws.com` may use the key
///   (the AWS managed key `alias/aws/sns` does not admit it), and the trail's notification only
///   if `cloudtrail.amazonaws.com` may: both scoped by SNS's encryption context
///   `aws:sns:topicArn`.
pub fn key_policy(uses: &Uses, t: &Target) -> Value {
    let account = &t.account_id;
    let mut statements = vec![json!({
        "Sid": "EnableIAMPoliciesOfTheAccount",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })];
    if let Some(trail) = &uses.trail {
        let trail_arn = t.trail_arn(trail);
        statements.push(json!({
            "Sid": "AllowCloudTrailToEncryptLogFiles",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn, "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}}
        }));
        statements.push(json!({
            "Sid": "AllowCloudTrailToDescribeKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}
        }));
        statements.push(json!({
            "Sid": "AllowLogFileReadersOfTheAccountToDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}}
        }));
    }
    if let (Some(bucket), Some(trail)) = (&uses.bucket, uses.trail.as_ref()) {
        statements.push(json!({
            "Sid": "AllowCloudTrailWritesUnderTheBucketKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": t.trail_arn(trail), "kms:EncryptionContext:aws:s3:arn": format!("arn:aws:s3:::{bucket}")}}
        }));
    }
    if let Some(group) = &uses.log_group {
        statements.push(json!({
            "Sid": "AllowCloudWatchLogsToEncryptTheLogGroup",
            "Effect": "Allow",
            "Principal": {"Service": format!("logs.{}.amazonaws.com", t.region)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": t.log_group_arn(group)}}
        }));
    }
    if !uses.topics.is_empty() {
        let topic_arns: Vec<String> = uses.topics.iter().map(|n| t.topic_arn(n)).collect();
        let mut publishers = vec!["cloudwatch.amazonaws.com"];
        if uses.trail_notifies {
            publishers.push("cloudtrail.amazonaws.com");
        }
        statements.push(json!({
            "Sid": "AllowAlarmsAndTrailToPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": publishers},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account, "kms:EncryptionContext:aws:sns:topicArn": topic_arns}}
        }));
    }
    policy::normalize(&json!({"Version": "2012-10-17", "Statement": statements}))
}

pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(alias) = state.key_alias() else { return Vec::new() };
        let attrs = Attrs {
            description: format!("secmon: encrypts the {} pipeline's logs and alarms", state.name),
            policy: key_policy(&Uses::of(state), t),
            rotation: true,
            enabled: true,
            alias: alias.clone(),
        };
        vec![Resource::new(Kind::Key, name_of(&alias), None, &attrs)]
    }

    /// A key known only by its ARN (from the tagging index, its alias gone) is named by its id.
    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "kms", "key/")
    }

    fn keep_instead_of_delete(&self, live: &LiveResource, delete_logs: bool) -> Option<String> {
        (!delete_logs).then(|| {
            format!(
                "{}: kept because the logs and messages it encrypted are unreadable without it; pass --delete-logs to schedule its deletion ({DELETION_WINDOW_DAYS} days, cancellable)",
                live.resource.address()
            )
        })
    }

    /// The spec's alias is always looked up, desired or not, so that a key the spec no longer
    /// wants (`key: none`) is found and its deletion planned; keys known by ARN alone are read
    /// by ARN.
    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let alias = format!("alias/secmon/{}", ctx.spec);
            let mut ids: Vec<(String, String)> = vec![(name_of(&alias).to_string(), alias.clone())];
            for d in ctx.desired_of(Kind::Key) {
                if d.name != name_of(&alias) {
                    ids.push((d.name.clone(), d.arn.clone().unwrap_or_else(|| format!("alias/{}", d.name))));
                }
            }
            let found = futures::future::join_all(ids.iter().map(|(name, id)| read_key(aws, ctx.spec, name, id))).await;
            let mut out = Vec::new();
            for f in found {
                out.extend(f?);
            }
            Ok(out)
        })
    }

    /// Right after CreateKey, KMS may not yet know the key in the next call.
    fn eventually_consistent(&self, code: &str) -> bool {
        matches!(code, "NotFoundException" | "KMSInvalidStateException")
    }

    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("KMS key {}", desired.attrs::<Attrs>().alias);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("key.exists", &subject, "the key does not exist") };
        let a: Attrs = live.resource.attrs();
        let mut checks = Vec::new();
        checks.push(if !a.enabled {
            check(
                "key.enabled",
                &subject,
                Status::Failed,
                "the key is disabled or pending deletion: CloudTrail, CloudWatch Logs and SNS cannot encrypt with it, and deliveries stop",
                Some("run `secmon apply` (it cancels the deletion and enables the key)"),
            )
        } else {
            check("key.enabled", &subject, Status::Ok, "enabled", None)
        });
        checks.push(if a.rotation {
            check("key.rotation", &subject, Status::Ok, "automatic rotation on (CIS 3.6, KMS.4)", None)
        } else {
            check(
                "key.rotation",
                &subject,
                Status::Failed,
                "automatic rotation is off (CIS 3.6 in v3.0, KMS.4)",
                Some("run `secmon apply`"),
            )
        });
        checks.extend(policy_checks(&subject, &a.policy, &Uses::of(ctx.spec), ctx.target));
        checks
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let want: Attrs = r.attrs();
            let owner = Tag::builder().tag_key(OWNER_TAG).tag_value(&ctx.spec).build().expect("tag");
            let request = aws.kms.create_key().description(&want.description).policy(policy_text(&want.policy)).tags(owner);
            let created = request.send().await.map_err(fail("CreateKey"))?;
            let id = created.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default();
            if want.rotation {
                send("EnableKeyRotation", aws.kms.enable_key_rotation().key_id(&id).send()).await?;
            }
            match aws.kms.create_alias().alias_name(&want.alias).target_key_id(&id).send().await {
                Ok(_) => Ok(()),
                // The alias outlived its key (a destroy that scheduled the key's deletion but
                // was stopped before deleting the alias): point it at the new key.
                Err(e) if error_code(&e) == Some("AlreadyExistsException") => {
                    send("UpdateAlias", aws.kms.update_alias().alias_name(&want.alias).target_key_id(&id).send()).await
                }
                Err(e) => Err(fail("CreateAlias")(e)),
            }
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, before: &'a Resource, after: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let (was, want): (Attrs, Attrs) = (before.attrs(), after.attrs());
            let id = before.arn.as_deref().map(key_id_of).map(str::to_string).unwrap_or_else(|| want.alias.clone());
            if want.enabled && !was.enabled {
                // Either disabled or pending deletion: undo both (each is refused when not needed).
                if let Err(e) = aws.kms.cancel_key_deletion().key_id(&id).send().await {
                    if error_code(&e) != Some("KMSInvalidStateException") {
                        return Err(fail("CancelKeyDeletion")(e));
                    }
                }
                send("EnableKey", aws.kms.enable_key().key_id(&id).send()).await?;
            }
            if want.policy != was.policy {
                let request = aws.kms.put_key_policy().key_id(&id).policy_name("default").policy(policy_text(&want.policy));
                send("PutKeyPolicy", request.send()).await?;
            }
            if want.description != was.description {
                send("UpdateKeyDescription", aws.kms.update_key_description().key_id(&id).description(&want.description).send()).await?;
            }
            if want.rotation != was.rotation {
                if want.rotation {
                    send("EnableKeyRotation", aws.kms.enable_key_rotation().key_id(&id).send()).await?;
                } else {
                    send("DisableKeyRotation", aws.kms.disable_key_rotation().key_id(&id).send()).await?;
                }
            }
            Ok(())
        })
    }

    /// The alias first, then the key's deletion is scheduled: a run stopped in between leaves a
    /// tagged key without alias, which the next plan finds by its tags and deletes.
    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let alias: String = r.attrs::<Attrs>().alias;
            if !alias.is_empty() {
                if let Err(e) = aws.kms.delete_alias().alias_name(&alias).send().await {
                    if error_code(&e) != Some("NotFoundException") {
                        return Err(fail("DeleteAlias")(e));
                    }
                }
            }
            // By key id: AWS takes an ARN too, the emulator does not (docs/emulator.md).
            let id = r.arn.as_deref().map(key_id_of).map(str::to_string).unwrap_or(alias);
            match aws.kms.schedule_key_deletion().key_id(&id).pending_window_in_days(DELETION_WINDOW_DAYS).send().await {
                Ok(_) => Ok(()),
                // Already pending deletion: done.
                Err(e) if error_code(&e) == Some("KMSInvalidStateException") => Ok(()),
                Err(e) => Err(fail("ScheduleKeyDeletion")(e)),
            }
        })
    }

    /// TagResource takes a key id or ARN, not an alias: a key just created is known by its alias.
    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        Box::pin(async move {
            let arn = match &r.arn {
                Some(arn) => arn.clone(),
                None => key_arn(aws, &r.attrs::<Attrs>().alias).await?,
            };
            let id = key_id_of(&arn);
            let tags: Vec<Tag> = tags.into_iter().map(|(k, v)| Tag::builder().tag_key(k).tag_value(v).build().expect("tag")).collect();
            send("TagResource", aws.kms.tag_resource().key_id(id).set_tags(Some(tags)).send()).await
        })
    }
}

/// The key `id` (alias or ARN) as it is live, named `name`; None when it does not exist or is
/// pending deletion without alias (gone, as far as the spec is concerned).
async fn read_key(aws: &Aws, spec: &str, name: &str, id: &str) -> Result<Option<LiveResource>, KindError> {
    let address = format!("key.{name}");
    let described = match aws.kms.describe_key().key_id(id).send().await {
        Ok(d) => d,
        Err(e) if error_code(&e) == Some("NotFoundException") => return Ok(None),
        Err(e) => return Err(read_fail(address, "DescribeKey")(e)),
    };
    let Some(meta) = described.key_metadata() else { return Ok(None) };
    let pending = meta.key_state() == Some(&KeyState::PendingDeletion);
    let by_alias = id.starts_with("alias/");
    if pending && !by_alias {
        return Ok(None);
    }
    let key_id = meta.key_id().to_string();
    let (pol, rotation, tags) = tokio::join!(
        aws.kms.get_key_policy().key_id(&key_id).policy_name("default").send(),
        aws.kms.get_key_rotation_status().key_id(&key_id).send(),
        aws.kms.list_resource_tags().key_id(&key_id).send(),
    );
    let tags: Vec<(String, String)> = match tags {
        Ok(t) => t.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect(),
        // Another account's key, or one we may not read: it exists, and it is not ours.
        Err(e) if error_code(&e) == Some("AccessDeniedException") => Vec::new(),
        Err(e) => return Err(read_fail(address, "ListResourceTags")(e)),
    };
    let attrs = Attrs {
        alias: if by_alias { id.to_string() } else { String::new() },
        description: meta.description().unwrap_or_default().to_string(),
        policy: pol.ok().and_then(|p| p.policy().and_then(policy::parse)).unwrap_or(Value::Null),
        rotation: rotation.ok().is_some_and(|r| r.key_rotation_enabled()),
        enabled: meta.enabled() && !pending,
    };
    let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    Ok(Some(LiveResource::tagged(Resource::new(Kind::Key, name, meta.arn().map(str::to_string), &attrs), spec, tag)))
}

/// What the live key policy admits of each use the spec makes of the key.
fn policy_checks(subject: &str, live: &Value, uses: &Uses, t: &Target) -> Vec<Check> {
    let want = key_policy(uses, t);
    let statements = |p: &Value| p.get("Statement").and_then(Value::as_array).cloned().unwrap_or_default();
    let live_statements = statements(live);
    let mut out = Vec::new();
    for s in statements(&want) {
        let sid = s.get("Sid").and_then(Value::as_str).unwrap_or_default().to_string();
        let link = match sid.as_str() {
            "AllowCloudTrailToEncryptLogFiles" => "CloudTrail can encrypt the trail's log files (else it stops delivering them)",
            "AllowCloudTrailToDescribeKey" => "CloudTrail can describe the key (else it refuses the trail's update)",
            "AllowLogFileReadersOfTheAccountToDecrypt" => "readers in the account can decrypt the log files",
            "AllowCloudTrailWritesUnderTheBucketKey" => "CloudTrail can write under the bucket's default encryption",
            "AllowCloudWatchLogsToEncryptTheLogGroup" => "CloudWatch Logs can encrypt the log group (else it refuses the trail's events)",
            "AllowAlarmsAndTrailToPublishToEncryptedTopics" => {
                "CloudWatch alarms can publish to the encrypted topics (else every notification is dropped, silently)"
            }
            _ => continue,
        };
        let admitted = live_statements.iter().any(|l| l == &s);
        out.push(if admitted {
            check("key.policy_admits", subject, Status::Ok, link, None)
        } else {
            check(
                "key.policy_admits",
                subject,
                Status::Failed,
                format!("the key policy does not admit it: {link}"),
                Some("run `secmon apply` (it writes the key policy the spec implies)"),
            )
        });
    }
    out
}

/// Maps, in every live resource, a `kms_key` attribute that holds the managed key's ARN back to
/// the key's alias, as the spec names it: AWS answers the key ARN (CloudTrail, CloudWatch Logs)
/// or what was written (SNS, S3), and secmon writes the ARN.
pub(crate) fn alias_live_key_arns(state: &mut crate::LiveState) {
    let aliases: Vec<(String, String)> = state
        .resources
        .values()
        .filter(|l| l.resource.kind == Kind::Key)
        .filter_map(|l| {
            let alias = l.resource.attrs::<Attrs>().alias;
            Some((l.resource.arn.clone()?, alias)).filter(|(_, a)| !a.is_empty())
        })
        .collect();
    for l in state.resources.values_mut() {
        if let Some(Value::String(k)) = l.resource.attrs.get_mut("kms_key") {
            if let Some((_, alias)) = aliases.iter().find(|(arn, _)| arn == k || arn.ends_with(&format!("key/{k}"))) {
                *k = alias.clone();
            }
        }
    }
}

/// A key the spec brings by ARN (`encryption.key`) must exist, be enabled and be a symmetric
/// encryption key (CloudTrail, S3, CloudWatch Logs and SNS use no other): checked when the spec
/// is read, so that a wrong ARN stops the plan instead of an apply half-way.
pub(crate) async fn check_existing(aws: &Aws, arn: &str) -> Result<(), KindError> {
    let refuse = |why: String| KindError::Input(format!("encryption.key: {arn} {why}; nothing was changed"));
    let described = match aws.kms.describe_key().key_id(arn).send().await {
        Ok(d) => d,
        Err(e) if matches!(error_code(&e), Some("NotFoundException") | Some("AccessDeniedException")) => {
            let code = error_code(&e).unwrap_or_default().to_string();
            return Err(refuse(format!("cannot be described ({code}): check the ARN, and that the key policy lets this account use it")));
        }
        Err(e) => return Err(fail("DescribeKey")(e)),
    };
    let Some(meta) = described.key_metadata() else { return Err(refuse("cannot be described".into())) };
    if meta.key_state() == Some(&KeyState::PendingDeletion) {
        return Err(refuse("is pending deletion".into()));
    }
    if !meta.enabled() {
        return Err(refuse("is disabled".into()));
    }
    let spec = meta.key_spec().map(|s| s.as_str()).unwrap_or("SYMMETRIC_DEFAULT");
    let usage = meta.key_usage().map(|u| u.as_str()).unwrap_or("ENCRYPT_DECRYPT");
    if spec != "SYMMETRIC_DEFAULT" || usage != "ENCRYPT_DECRYPT" {
        return Err(refuse(format!(
            "is a {spec} key for {usage}: CloudTrail, S3, CloudWatch Logs and SNS take only symmetric encryption keys"
        )));
    }
    Ok(())
}

/// The key id of a key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
pub fn key_id_of(arn: &str) -> &str {
    arn.rsplit_once("key/").map(|(_, id)| id).unwrap_or(arn)
}

/// The address of the key a `kms_key` attribute names, when it is the spec's own key (by its
/// alias): what uses the key is created after it.
pub fn reference(kms_key: &Option<String>) -> Option<String> {
    kms_key.as_deref().filter(|k| k.starts_with("alias/secmon/")).map(|k| format!("key.{}", name_of(k)))
}

/// The key ARN to write for `key` as the spec names it: an alias is resolved (CloudWatch Logs
/// takes only a key ARN), an ARN is kept.
pub(crate) async fn key_arn(aws: &Aws, key: &str) -> Result<String, KindError> {
    if !key.starts_with("alias/") {
        return Ok(key.to_string());
    }
    let d = aws.kms.describe_key().key_id(key).send().await.map_err(fail("DescribeKey"))?;
    Ok(d.key_metadata().and_then(|m| m.arn()).unwrap_or(key).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { account_id: "123456789012".into(), region: "eu-west-1".into() }
    }

    fn all_uses() -> Uses {
        Uses {
            trail: Some("tr".into()),
            bucket: Some("b".into()),
            log_group: Some("lg".into()),
            topics: vec!["SecurityAlarms".into()],
            trail_notifies: false,
        }
    }

    fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid}: {p}"))
    }

    #[test]
    fn cloudtrail_may_encrypt_only_this_trails_log_files() {
        let p = key_policy(&all_uses(), &target());
        let s = statement(&p, "AllowCloudTrailToEncryptLogFiles");
        assert_eq!(s["Principal"], json!({"Service": "cloudtrail.amazonaws.com"}));
        assert_eq!(s["Action"], "kms:GenerateDataKey*");
        let trail = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/tr";
        assert_eq!(s["Condition"]["StringEquals"]["aws:SourceArn"], trail);
        assert_eq!(s["Condition"]["StringEquals"]["kms:EncryptionContext:aws:cloudtrail:arn"], trail);
        let d = statement(&p, "AllowCloudTrailToDescribeKey");
        assert_eq!(d["Action"], "kms:DescribeKey");
        assert_eq!(d["Condition"]["StringEquals"]["aws:SourceArn"], trail);
    }

    #[test]
    fn readers_decrypt_only_within_the_account_and_this_trails_context() {
        let p = key_policy(&all_uses(), &target());
        let s = statement(&p, "AllowLogFileReadersOfTheAccountToDecrypt");
        assert_eq!(s["Principal"], json!({"AWS": "arn:aws:iam::123456789012:root"}));
        assert_eq!(s["Action"], "kms:Decrypt");
        assert_eq!(s["Condition"]["StringEquals"]["kms:CallerAccount"], "123456789012");
    }

    #[test]
    fn cloudwatch_logs_is_the_regional_principal_scoped_to_the_log_group() {
        let p = key_policy(&all_uses(), &target());
        let s = statement(&p, "AllowCloudWatchLogsToEncryptTheLogGroup");
        assert_eq!(s["Principal"], json!({"Service": "logs.eu-west-1.amazonaws.com"}));
        assert_eq!(s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"], "arn:aws:logs:eu-west-1:123456789012:log-group:lg");
    }

    #[test]
    fn alarms_may_publish_to_the_encrypted_topics_and_the_trail_only_when_it_notifies() {
        let p = key_policy(&all_uses(), &target());
        let s = statement(&p, "AllowAlarmsAndTrailToPublishToEncryptedTopics");
        assert_eq!(s["Principal"], json!({"Service": "cloudwatch.amazonaws.com"}));
        assert_eq!(
            s["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"],
            "arn:aws:sns:eu-west-1:123456789012:SecurityAlarms"
        );
        assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        let p = key_policy(&Uses { trail_notifies: true, ..all_uses() }, &target());
        let s = statement(&p, "AllowAlarmsAndTrailToPublishToEncryptedTopics");
        assert_eq!(s["Principal"]["Service"], json!(["cloudtrail.amazonaws.com", "cloudwatch.amazonaws.com"]));
    }

    #[test]
    fn the_policy_admits_nothing_the_spec_does_not_use_and_nobody_outside_the_account() {
        let p = key_policy(&Uses { trail: Some("tr".into()), ..Uses::default() }, &target());
        let sids: Vec<&str> = p["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(
            sids,
            [
                "AllowCloudTrailToDescribeKey",
                "AllowCloudTrailToEncryptLogFiles",
                "AllowLogFileReadersOfTheAccountToDecrypt",
                "EnableIAMPoliciesOfTheAccount"
            ]
        );
        let text = key_policy(&all_uses(), &target()).to_string();
        assert!(!text.contains("\"*\"}") && !text.contains("\"Principal\":\"*\""), "no wildcard principal: {text}");
        for s in key_policy(&all_uses(), &target())["Statement"].as_array().unwrap() {
            let service = s["Principal"].get("Service").is_some();
            assert!(!service || s.get("Condition").is_some(), "every service statement is scoped: {s}");
        }
    }

    #[test]
    fn verify_names_each_use_the_live_policy_does_not_admit() {
        let uses = all_uses();
        let t = target();
        let full = key_policy(&uses, &t);
        assert!(policy_checks("k", &full, &uses, &t).iter().all(|c| c.status == Status::Ok));
        // The live policy lost the statement for CloudWatch: the silent trap of encrypted topics.
        let mut live = full.clone();
        live["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "AllowAlarmsAndTrailToPublishToEncryptedTopics");
        let failed: Vec<String> =
            policy_checks("k", &live, &uses, &t).into_iter().filter(|c| c.status == Status::Failed).map(|c| c.evidence).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("CloudWatch alarms can publish"), "{failed:?}");
    }

    #[test]
    fn live_key_arns_read_back_as_the_alias_the_spec_names() {
        let key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut state = crate::LiveState::default();
        let attrs = Attrs { alias: "alias/secmon/s".into(), ..Attrs::default() };
        state.insert(LiveResource::new(Resource::new(Kind::Key, "secmon/s", Some(key_arn.into()), &attrs), true));
        let group = crate::log_group::Attrs { retention_days: Some(90), kms_key: Some(key_arn.into()) };
        state.insert(LiveResource::new(Resource::new(Kind::LogGroup, "lg", None, &group), true));
        let other = crate::log_group::Attrs { retention_days: None, kms_key: Some("arn:aws:kms:eu-west-1:1:key/other".into()) };
        state.insert(LiveResource::new(Resource::new(Kind::LogGroup, "other", None, &other), true));
        alias_live_key_arns(&mut state);
        let read = |n: &str| state.resources[&format!("log_group.{n}")].resource.attrs::<crate::log_group::Attrs>().kms_key;
        assert_eq!(read("lg").as_deref(), Some("alias/secmon/s"));
        assert_eq!(read("other").as_deref(), Some("arn:aws:kms:eu-west-1:1:key/other"), "another key stays as AWS names it");
    }
}
