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
//! (`alias_live_key_arns`), so a plan compares like with like.
//!
//! Deleting a key makes everything it encrypted unreadable: like the bucket, the key is kept
//! unless `--delete-logs`, and then only scheduled for deletion (30 days, cancellable).

use secmon_aws::error_code;
use secmon_aws::kms::types::{KeyState, Tag};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::check::{Check, Status, VerifyCtx};
use crate::sdk::{fail, policy_text, read_fail, send};
use crate::{
    policy, Aws, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target, OWNER_TAG,
};
use secmon_spec::DesiredState;

/// Days between ScheduleKeyDeletion and the key's deletion: the longest AWS allows, so that a
/// mistaken destroy can be undone with `aws kms cancel-key-deletion`.
pub const DELETION_WINDOW_DAYS: i32 = 30;

/// The key's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// Its alias, `alias/secmon/<spec>`.
    pub alias: String,
    /// Its description.
    pub description: String,
    /// Its key policy.
    pub policy: Value,
    /// Automatic yearly rotation of the key material (CIS 3.6 in v3.0, KMS.4).
    pub rotation: bool,
    /// Enabled, and not pending deletion.
    pub enabled: bool,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[],
    step: 0,
    iam: crate::Iam {
        read: &["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListAliases"],
        write: &[
            "kms:CreateKey",
            "kms:PutKeyPolicy",
            "kms:TagResource",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:CreateAlias",
            "kms:UpdateAlias",
            "kms:DeleteAlias",
            "kms:EnableKey",
            "kms:CancelKeyDeletion",
            "kms:UpdateKeyDescription",
            "kms:ScheduleKeyDeletion",
            "tag:GetResources",
        ],
        writes_on: None,
    },
};

/// The resource name of the key of spec `spec`: its alias without `alias/`.
pub fn name_of(alias: &str) -> &str {
    alias.strip_prefix("alias/").unwrap_or(alias)
}

/// Which parts of the pipeline use the key, as the spec asks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Uses {
    /// The trail whose log files it encrypts (`encryption.trail`).
    pub trail: Option<String>,
    /// The bucket whose default encryption (with an S3 Bucket Key) it is (`encryption.bucket`),
    /// and the trail that writes into it: S3 asks KMS on CloudTrail's behalf whether or not the
    /// trail encrypts its log files itself (issue 22, finding 2).
    pub bucket: Option<BucketUse>,
    /// The log group it encrypts (`encryption.log_group`).
    pub log_group: Option<String>,
    /// The apply lock's log group (`/secmon/locks/<spec>`), encrypted with the spec's own key
    /// once it exists, so that the lock passes the auditors' log-group encryption check.
    pub lock_group: Option<String>,
    /// The topics it encrypts (`encryption.topics`).
    pub topics: Vec<String>,
    /// The trail notifies one of the topics of each log file.
    pub trail_notifies: bool,
    /// EventBridge rules publish each event's context to the topics (`alert_context`).
    pub events_publish: bool,
}

/// The trail bucket encrypted by default with the key, and the trail that writes into it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketUse {
    /// The bucket.
    pub bucket: String,
    /// The trail.
    pub trail: String,
}

impl Uses {
    /// What the spec uses the key for.
    pub fn of(state: &DesiredState) -> Uses {
        if state.key_ref().is_none() {
            return Uses::default();
        }
        let e = &state.encryption;
        let trail = state.trail.as_ref();
        Uses {
            trail: trail.filter(|_| e.trail).map(|t| t.name.clone()),
            bucket: trail.filter(|_| e.bucket).map(|t| BucketUse { bucket: t.bucket.name.clone(), trail: t.name.clone() }),
            log_group: state.cloudwatch_logs().filter(|_| e.log_group).map(|c| c.log_group.clone()),
            lock_group: state.key_alias().map(|_| crate::lock_store::lock_group(&state.name)),
            topics: if e.topics { state.topics.iter().map(|t| t.name.clone()).collect() } else { Vec::new() },
            trail_notifies: e.topics && trail.is_some_and(|t| t.notify_topic.is_some()),
            events_publish: e.topics && !secmon_sim::eventbridge::fast_path_monitors(state).is_empty(),
        }
    }

    /// The trail CloudTrail acts for when it uses the key, if it uses it at all.
    fn cloudtrail(&self) -> Option<&str> {
        self.trail.as_deref().or(self.bucket.as_ref().map(|b| b.trail.as_str()))
    }
}

/// The key policy: the account's administrators (through IAM, as AWS's default key policy), and
/// per use exactly the service that needs the key, scoped to this pipeline's resources.
///
/// Every row of `docs/link-contract.md` that names the key is one of these statements; the
/// link-contract test evaluates them with an IAM evaluator that is not secmon's code.
///
/// - CloudTrail encrypts log files with `kms:GenerateDataKey*` under the encryption context
///   `aws:cloudtrail:arn` = the trail's ARN, and calls `kms:DescribeKey` when the trail is
///   created or updated (CloudTrail refuses a key whose policy lacks either).
/// - Readers of the log files in this account decrypt through S3: `kms:Decrypt` for the
///   account's principals that IAM allows, only under this trail's encryption context (or the
///   bucket's, for objects written under the S3 Bucket Key).
/// - With the bucket's default encryption on the key and an S3 Bucket Key, S3 asks KMS for a
///   bucket-level data key on CloudTrail's behalf, under `aws:s3:arn` = the bucket's ARN ("S3
///   Bucket Keys use the bucket ARN as encryption context", S3 user guide, bucket-key.md), and
///   CloudTrail needs `kms:GenerateDataKey`, `kms:DescribeKey` and `kms:Decrypt` to create or
///   update a trail into such a bucket ("If you are using an existing S3 bucket with an S3
///   Bucket Key, kms:Decrypt permissions are required to create or update a trail with SSE-KMS
///   encryption enabled", CloudTrail user guide, create-kms-key-policy-for-cloudtrail.md). This
///   holds whether or not the trail encrypts its log files itself (issue 22, findings 1 and 2).
///   `kms:Decrypt` is scoped by `aws:SourceArn` only: the context of that call is not documented.
/// - CloudWatch Logs is a regional principal, `logs.<region>.amazonaws.com`, scoped by
///   `kms:EncryptionContext:aws:logs:arn` = the log group's ARN.
/// - An encrypted topic receives an alarm only if `cloudwatch.amazonaws.com` may use the key
///   (the AWS managed key `alias/aws/sns` does not admit it), and the trail's notification only
///   if `cloudtrail.amazonaws.com` may: both scoped by SNS's encryption context
///   `aws:sns:topicArn`.
pub fn key_policy(uses: &Uses, t: &Target) -> Value {
    let account = &t.account_id;
    let root = json!({"AWS": format!("arn:aws:iam::{account}:root")});
    let cloudtrail = json!({"Service": "cloudtrail.amazonaws.com"});
    // One key-policy statement: on the key itself (`Resource: *` in a key policy).
    let allow = |sid: &str, principal: &Value, action: Value, condition: Value| {
        let mut s = json!({"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"});
        if !condition.is_null() {
            s["Condition"] = condition;
        }
        s
    };
    let mut statements = vec![allow("EnableIAMPoliciesOfTheAccount", &root, json!("kms:*"), Value::Null)];
    if let Some(trail) = uses.cloudtrail() {
        let condition = json!({"StringEquals": {"aws:SourceArn": t.trail_arn(trail)}});
        statements.push(allow("AllowCloudTrailToDescribeKey", &cloudtrail, json!("kms:DescribeKey"), condition));
    }
    if let Some(trail) = &uses.trail {
        let trail_arn = t.trail_arn(trail);
        let context = json!({"StringEquals": {"aws:SourceArn": trail_arn, "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}});
        statements.push(allow("AllowCloudTrailToEncryptLogFiles", &cloudtrail, json!("kms:GenerateDataKey*"), context));
        let readers = json!({"StringEquals": {"kms:CallerAccount": account, "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}});
        statements.push(allow("AllowLogFileReadersOfTheAccountToDecrypt", &root, json!("kms:Decrypt"), readers));
    }
    if let Some(b) = &uses.bucket {
        let trail_arn = t.trail_arn(&b.trail);
        let bucket_arn = format!("arn:aws:s3:::{}", b.bucket);
        let context = json!({"StringEquals": {"aws:SourceArn": trail_arn, "kms:EncryptionContext:aws:s3:arn": bucket_arn}});
        statements.push(allow("AllowCloudTrailWritesUnderTheBucketKey", &cloudtrail, json!("kms:GenerateDataKey*"), context));
        let source = json!({"StringEquals": {"aws:SourceArn": trail_arn}});
        statements.push(allow("AllowCloudTrailToDecryptUnderTheBucketKey", &cloudtrail, json!("kms:Decrypt"), source));
        let readers = json!({"StringEquals": {"kms:CallerAccount": account, "kms:EncryptionContext:aws:s3:arn": bucket_arn}});
        statements.push(allow("AllowLogFileReadersOfTheAccountToDecryptUnderTheBucketKey", &root, json!("kms:Decrypt"), readers));
    }
    let groups: Vec<String> = uses.log_group.iter().chain(&uses.lock_group).map(|g| t.log_group_arn(g)).collect();
    if !groups.is_empty() {
        let logs = json!({"Service": format!("logs.{}.amazonaws.com", t.region)});
        let actions = json!(["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]);
        let context = json!({"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": groups}});
        statements.push(allow("AllowCloudWatchLogsToEncryptTheLogGroup", &logs, actions, context));
    }
    if !uses.topics.is_empty() {
        let topic_arns: Vec<String> = uses.topics.iter().map(|n| t.topic_arn(n)).collect();
        let mut publishers = vec!["cloudwatch.amazonaws.com"];
        if uses.trail_notifies {
            publishers.push("cloudtrail.amazonaws.com");
        }
        // "Amazon SNS: encrypted topics" in the EventBridge user guide: the key policy must let
        // events.amazonaws.com use the key, or every delivery fails, silently.
        if uses.events_publish {
            publishers.push("events.amazonaws.com");
        }
        let context = json!({"StringEquals": {"aws:SourceAccount": account, "kms:EncryptionContext:aws:sns:topicArn": topic_arns}});
        let actions = json!(["kms:Decrypt", "kms:GenerateDataKey*"]);
        statements.push(allow("AllowAlarmsAndTrailToPublishToEncryptedTopics", &json!({"Service": publishers}), actions, context));
    }
    policy::normalize(&json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    /// Every service that uses the key on the pipeline's behalf, per use ([`key_policy`]).
    fn links(&self, state: &DesiredState, t: &Target, r: &Resource) -> Vec<crate::contract::Link> {
        use crate::contract::Link;
        const TRAIL: &str = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html";
        const LOGS: &str = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html";
        const SNS: &str = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services";
        let uses = Uses::of(state);
        let key = r.arn.clone().unwrap_or_else(|| t.arn("kms", "key/00000000-0000-0000-0000-000000000000"));
        let cloudtrail = "cloudtrail.amazonaws.com";
        let request = |row: &'static str, source: &'static str, principal: &str, action: &str| {
            Link::request(row, source, principal, action, &key, t).judged_by_resource(r, "policy")
        };
        let mut out = Vec::new();
        let mut both = |l: Link| {
            out.push(l.from_another_account());
            out.push(l);
        };
        if let Some(trail) = uses.cloudtrail() {
            both(request("CloudTrail → KMS: DescribeKey", TRAIL, cloudtrail, "kms:DescribeKey").with("aws:SourceArn", &t.trail_arn(trail)));
        }
        if let Some(trail) = &uses.trail {
            let arn = t.trail_arn(trail);
            both(
                request("CloudTrail → KMS: GenerateDataKey (the trail's log files)", TRAIL, cloudtrail, "kms:GenerateDataKey")
                    .with("aws:SourceArn", &arn)
                    .with("kms:EncryptionContext:aws:cloudtrail:arn", &arn),
            );
        }
        if let Some(b) = &uses.bucket {
            let arn = t.trail_arn(&b.trail);
            both(
                request("CloudTrail → KMS: GenerateDataKey (the bucket's S3 Bucket Key)", TRAIL, cloudtrail, "kms:GenerateDataKey")
                    .with("aws:SourceArn", &arn)
                    .with("kms:EncryptionContext:aws:s3:arn", &format!("arn:aws:s3:::{}", b.bucket)),
            );
            both(
                request("CloudTrail → KMS: Decrypt (the bucket's S3 Bucket Key)", TRAIL, cloudtrail, "kms:Decrypt")
                    .with("aws:SourceArn", &arn),
            );
        }
        for (row, group) in uses
            .log_group
            .iter()
            .map(|g| ("CloudWatch Logs → KMS: the log group's data keys", g))
            .chain(uses.lock_group.iter().map(|g| ("CloudWatch Logs → KMS: the apply lock's log group", g)))
        {
            let principal = format!("logs.{}.amazonaws.com", t.region);
            // The calls CloudWatch Logs makes carry the log group's context. (AWS's own statement
            // lists `kms:Describe*` under the same context condition, which a DescribeKey, having
            // no context, never meets: CloudWatch Logs is not documented to call it.)
            for action in ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom"] {
                let l = request(row, LOGS, &principal, action).with("kms:EncryptionContext:aws:logs:arn", &t.log_group_arn(group));
                out.push(l.refused("another log group", |l| {
                    l.context.insert("kms:EncryptionContext:aws:logs:arn".into(), t.log_group_arn("another-log-group"));
                }));
                out.push(l);
            }
        }
        let mut publishers =
            vec![("CloudWatch alarms → KMS: an encrypted topic's data keys", "cloudwatch.amazonaws.com", t.alarm_arn("an-alarm"))];
        if uses.trail_notifies {
            let trail = state.trail.as_ref().map(|tr| t.trail_arn(&tr.name)).unwrap_or_default();
            publishers.push(("CloudTrail → KMS: an encrypted topic's data keys (notify_topic)", cloudtrail, trail));
        }
        if uses.events_publish {
            let rule = t.arn("events", "rule/an-alert-context-rule");
            publishers.push(("EventBridge → KMS: an encrypted topic's data keys (alert_context)", "events.amazonaws.com", rule));
        }
        for topic in &uses.topics {
            for (row, principal, source_arn) in &publishers {
                for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                    let l = request(row, SNS, principal, action)
                        .with("aws:SourceAccount", &t.account_id)
                        .with("aws:SourceArn", source_arn)
                        .with("kms:EncryptionContext:aws:sns:topicArn", &t.topic_arn(topic));
                    out.push(l.from_another_account());
                    out.push(l);
                }
            }
        }
        out
    }

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

    /// A key the spec brings by ARN (not in a secondary region, whose home region checks it).
    fn check_brought<'a>(&'a self, aws: &'a Aws, state: &'a DesiredState) -> Fut<'a, ()> {
        Box::pin(async move {
            match state.brought_key() {
                Some(arn) if !state.secondary_region => check_existing(aws, &arn).await,
                _ => Ok(()),
            }
        })
    }

    fn read_brought_policies<'a>(&'a self, aws: &'a Aws, state: &'a DesiredState) -> Fut<'a, Vec<(String, Option<Value>)>> {
        Box::pin(async move {
            let Some(arn) = state.brought_key() else { return Ok(Vec::new()) };
            // By key id: AWS takes an ARN too, the emulator does not (docs/emulator.md).
            let policy = match aws.kms.get_key_policy().key_id(key_id_of(&arn)).policy_name("default").send().await {
                Ok(p) => p.policy().and_then(crate::policy::parse),
                Err(e) if error_code(&e) == Some("AccessDeniedException") => None,
                Err(e) => return Err(fail("GetKeyPolicy")(e)),
            };
            Ok(vec![(arn, policy)])
        })
    }

    /// Resources read with a key ARN name the spec's key by its alias, as the spec does.
    fn settle(&self, state: &mut crate::LiveState) {
        alias_live_key_arns(state);
    }

    /// The read looks up the spec's alias whether or not the spec encrypts anything.
    fn reads_when_unused(&self) -> bool {
        true
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

    /// Nothing at the kind level: a retry of the whole create would run CreateKey again, which
    /// has no idempotency token, and leave a customer managed key behind per retry ($1/month
    /// each, kept). The create retries its own follow-up calls instead (issue 22, finding 3).
    fn eventually_consistent(&self, _code: &str) -> bool {
        false
    }

    /// KMS's lockout check: without `BypassPolicyLockoutSafetyCheck` "the key policy must allow
    /// the principal that is making the request to make a subsequent PutKeyPolicy request" (KMS
    /// API reference, CreateKey): the policy's root statement delegates to IAM, so the caller's
    /// IAM policy must allow `kms:PutKeyPolicy` (issue 22, finding 7).
    fn hint(&self, e: &KindError) -> Option<String> {
        (e.code() == Some("MalformedPolicyDocumentException") && e.message().contains("will not allow you to update the key policy")).then(
            || {
                "the identity running secmon must itself be allowed kms:PutKeyPolicy (KMS's lockout safety check): \
             `secmon permissions -f SPEC` prints the policy it needs"
                    .to_string()
            },
        )
    }

    /// A key brought by ARN: its policy is the user's, and secmon never writes it; verify reads
    /// it and judges each request of the link contract against it, by what the policy admits
    /// rather than by statement equality (issue 22, finding 8).
    fn verify_unowned(&self, ctx: &VerifyCtx) -> Vec<Check> {
        let Some(arn) = ctx.spec.brought_key() else { return Vec::new() };
        let subject = format!("KMS key {arn} (the spec's own)");
        let Some(read) = ctx.unowned_policies.get(&arn) else { return Vec::new() };
        let Some(live) = read else {
            return vec![Check::not_observable("key.policy_admits", &subject, "the key policy may not be read by this identity (kms:GetKeyPolicy): whether CloudTrail, CloudWatch Logs and CloudWatch alarms may use the key is not known").fix("allow kms:GetKeyPolicy on the key to let verify check it")];
        };
        let attrs = serde_json::json!({"policy": live}).as_object().cloned().unwrap_or_default().into_iter().collect();
        let brought = Resource { attrs, ..Resource::bare(Kind::Key, key_id_of(&arn), Some(arn.clone())) };
        let mut by_row: std::collections::BTreeMap<&str, (Status, String)> = std::collections::BTreeMap::new();
        for link in
            self.links(ctx.spec, ctx.target, &brought).into_iter().filter(|l| l.row != "CloudWatch Logs → KMS: the apply lock's log group")
        {
            let decided = policy::decide(live, &link.principal, &link.action, &link.resource, &link.context);
            let (status, evidence) = match (link.allowed, decided) {
                (true, policy::Decision::Allowed) => (Status::Ok, link.row.to_string()),
                (true, policy::Decision::Denied) => (Status::Failed, format!("the key policy does not admit it: {} ({})", link.row, link.action)),
                (false, policy::Decision::Allowed) => (
                    Status::Warning,
                    format!("the key policy admits {} from another account's resources too (a confused deputy): scope it with aws:SourceArn / aws:SourceAccount", link.row),
                ),
                (false, _) => continue,
                (true, policy::Decision::Unknown) => {
                    (Status::NotObservable, format!("{}: the key policy uses elements secmon does not evaluate (NotPrincipal, set operators, variables)", link.row))
                }
            };
            let worst = by_row.entry(link.row).or_insert((Status::Ok, link.row.to_string()));
            if status > worst.0 {
                *worst = (status, evidence);
            }
        }
        by_row
            .into_values()
            .map(|(status, evidence)| {
                let fix = (status == Status::Failed || status == Status::Warning)
                    .then_some("give the key the statements of docs/hardening.md (secmon does not change a key it does not own)");
                Check::new(status, "key.policy_admits", &subject, evidence).fix_opt(fix)
            })
            .collect()
    }

    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("KMS key {}", desired.attrs::<Attrs>().alias);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("key.exists", &subject, "the key does not exist") };
        let a: Attrs = live.resource.attrs();
        let mut checks = Vec::new();
        checks.push(if !a.enabled {
            Check::failed(
                "key.enabled",
                &subject,
                "the key is disabled or pending deletion: CloudTrail, CloudWatch Logs and SNS cannot encrypt with it, and deliveries stop",
            )
            .fix("run `secmon apply` (it cancels the deletion and enables the key)")
        } else {
            Check::ok("key.enabled", &subject, "enabled")
        });
        checks.push(if a.rotation {
            Check::ok("key.rotation", &subject, "automatic rotation on (CIS 3.6, KMS.4)")
        } else {
            Check::failed("key.rotation", &subject, "automatic rotation is off (CIS 3.6 in v3.0, KMS.4)").fix("run `secmon apply`")
        });
        checks.extend(policy_checks(&subject, &a.policy, &Uses::of(ctx.spec), ctx.target));
        checks
    }

    /// CreateKey once, then EnableKeyRotation and CreateAlias on the new key id, each retried
    /// while KMS does not yet know the key (`NotFoundException`, "AWS KMS eventual consistency";
    /// terraform-provider-aws retries exactly these sub-calls, never CreateKey). Before creating,
    /// a key of this spec left without alias by an interrupted create (its reply lost, or the
    /// run stopped before CreateAlias) is adopted instead of creating another one.
    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let want: Attrs = r.attrs();
            let id = match orphan_key(aws, &ctx.spec).await? {
                Some(id) => {
                    let request = aws.kms.put_key_policy().key_id(&id).policy_name("default").policy(policy_text(&want.policy));
                    send("PutKeyPolicy", request.send()).await?;
                    send("UpdateKeyDescription", aws.kms.update_key_description().key_id(&id).description(&want.description).send())
                        .await?;
                    id
                }
                None => {
                    let owner = Tag::builder().tag_key(OWNER_TAG).tag_value(&ctx.spec).build().expect("tag");
                    let request = aws.kms.create_key().description(&want.description).policy(policy_text(&want.policy)).tags(owner);
                    let created = request.send().await.map_err(fail("CreateKey"))?;
                    created.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default()
                }
            };
            if want.rotation {
                until_known("EnableKeyRotation", || aws.kms.enable_key_rotation().key_id(&id).send()).await?;
            }
            match until_known("CreateAlias", || aws.kms.create_alias().alias_name(&want.alias).target_key_id(&id).send()).await {
                Ok(()) => Ok(()),
                // The alias outlived its key (a destroy that scheduled the key's deletion but
                // was stopped before deleting the alias): point it at the new key.
                Err(e) if e.code() == Some("AlreadyExistsException") => {
                    until_known("UpdateAlias", || aws.kms.update_alias().alias_name(&want.alias).target_key_id(&id).send()).await
                }
                Err(e) => Err(e),
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

/// Runs a call on a key created a moment ago, again while KMS answers `NotFoundException`
/// (for about 30 s): the key exists, KMS does not yet know it everywhere.
async fn until_known<T, E, R, F, Fut2>(operation: &'static str, call: F) -> Result<(), KindError>
where
    F: Fn() -> Fut2,
    Fut2: std::future::Future<Output = Result<T, secmon_aws::SdkError<E, R>>>,
    E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + secmon_aws::HttpStatus,
{
    let mut delay = std::time::Duration::from_millis(250);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match call().await {
            Ok(_) => return Ok(()),
            Err(e) if error_code(&e) == Some("NotFoundException") && waited < FRESH_ALIAS_PATIENCE => {
                tracing::debug!(operation, "key not known yet; retrying after {delay:?}");
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(std::time::Duration::from_secs(4));
            }
            Err(e) => return Err(fail(operation)(e)),
        }
    }
}

/// A key of spec `spec` (by its ownership tag) that is enabled and has no alias: what an
/// interrupted create leaves. Found through the Resource Groups Tagging API, one call.
async fn orphan_key(aws: &Aws, spec: &str) -> Result<Option<String>, KindError> {
    use secmon_aws::tagging::types::TagFilter;
    let found = aws
        .tagging
        .get_resources()
        .resource_type_filters("kms:key")
        .tag_filters(TagFilter::builder().key(OWNER_TAG).values(spec).build())
        .send()
        .await
        .map_err(fail("GetResources"))?;
    for arn in found.resource_tag_mapping_list().iter().filter_map(|m| m.resource_arn()) {
        let id = key_id_of(arn);
        let Ok(described) = aws.kms.describe_key().key_id(id).send().await else { continue };
        let usable = described.key_metadata().is_some_and(|m| m.enabled() && m.key_state() == Some(&KeyState::Enabled));
        if !usable {
            continue;
        }
        let aliases = aws.kms.list_aliases().key_id(id).send().await.map_err(fail("ListAliases"))?;
        if aliases.aliases().is_empty() {
            return Ok(Some(id.to_string()));
        }
    }
    Ok(None)
}

/// The key `id` (alias or ARN) as it is live, named `name`; None when it does not exist or is
/// pending deletion without alias (gone, as far as the spec is concerned).
async fn read_key(aws: &Aws, spec: &str, name: &str, id: &str) -> Result<Option<LiveResource>, KindError> {
    let address = crate::Address::new(Kind::Key, name);
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
            "AllowCloudTrailToDecryptUnderTheBucketKey" => {
                "CloudTrail can decrypt under the bucket's S3 Bucket Key (else it refuses to create or update the trail)"
            }
            "AllowLogFileReadersOfTheAccountToDecryptUnderTheBucketKey" => {
                "readers in the account can decrypt log files written under the bucket key"
            }
            "AllowCloudWatchLogsToEncryptTheLogGroup" => "CloudWatch Logs can encrypt the log group (else it refuses the trail's events)",
            "AllowAlarmsAndTrailToPublishToEncryptedTopics" => {
                "CloudWatch alarms can publish to the encrypted topics (else every notification is dropped, silently)"
            }
            _ => continue,
        };
        let admitted = live_statements.iter().any(|l| l == &s);
        out.push(if admitted {
            Check::ok("key.policy_admits", subject, link)
        } else {
            Check::failed("key.policy_admits", subject, format!("the key policy does not admit it: {link}"))
                .fix("run `secmon apply` (it writes the key policy the spec implies)")
        });
    }
    out
}

/// Maps, in every live resource, a `kms_key` attribute that holds the managed key's ARN back to
/// the key's alias, as the spec names it: AWS answers the key ARN (CloudTrail, CloudWatch Logs)
/// or what was written (SNS, S3), and secmon writes the ARN.
fn alias_live_key_arns(state: &mut crate::LiveState) {
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
async fn check_existing(aws: &Aws, arn: &str) -> Result<(), KindError> {
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
pub fn reference(kms_key: &Option<String>) -> Option<crate::Address> {
    kms_key.as_deref().filter(|k| k.starts_with("alias/secmon/")).map(|k| crate::Address::new(Kind::Key, name_of(k)))
}

/// The key ARN to write for `key` as the spec names it: an alias is resolved (CloudWatch Logs
/// takes only a key ARN), an ARN is kept.
///
/// The spec's own alias (`alias/secmon/...`) may have been created a moment ago by the key step,
/// and KMS is eventually consistent: "You might receive unexpected errors, such as a
/// NotFoundException" right after a change, "typically less than a few seconds, but in some
/// cases several minutes" (KMS developer guide, "AWS KMS eventual consistency"); the Terraform
/// provider retries an alias read after CreateAlias for the same reason (terraform-provider-aws
/// #7891). So `NotFoundException` for our alias is retried for about 30 s (issue 22, finding 4).
pub(crate) async fn key_arn(aws: &Aws, key: &str) -> Result<String, KindError> {
    if !key.starts_with("alias/") {
        return Ok(key.to_string());
    }
    let ours = key.starts_with("alias/secmon/");
    let mut delay = std::time::Duration::from_millis(250);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match aws.kms.describe_key().key_id(key).send().await {
            Ok(d) => return Ok(d.key_metadata().and_then(|m| m.arn()).unwrap_or(key).to_string()),
            Err(e) if ours && error_code(&e) == Some("NotFoundException") && waited < FRESH_ALIAS_PATIENCE => {
                tracing::debug!(alias = key, "alias not visible yet; retrying after {delay:?}");
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(std::time::Duration::from_secs(4));
            }
            Err(e) => return Err(fail("DescribeKey")(e)),
        }
    }
}

/// How long a dependent waits for the spec's own alias to become visible after CreateAlias.
pub const FRESH_ALIAS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { account_id: "123456789012".into(), region: "eu-west-1".into() }
    }

    fn all_uses() -> Uses {
        Uses {
            trail: Some("tr".into()),
            bucket: Some(BucketUse { bucket: "b".into(), trail: "tr".into() }),
            log_group: Some("lg".into()),
            lock_group: None,
            topics: vec!["SecurityAlarms".into()],
            trail_notifies: false,
            events_publish: false,
        }
    }

    fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid}: {p}"))
    }

    /// Statement `sid` of the policy for a key used by every part of the pipeline.
    fn statement_when_used_by_all(sid: &str) -> Value {
        statement(&key_policy(&all_uses(), &target()), sid).clone()
    }

    #[test]
    fn cloudtrail_may_encrypt_only_this_trails_log_files() {
        let s = statement_when_used_by_all("AllowCloudTrailToEncryptLogFiles");
        assert_eq!(s["Principal"], json!({"Service": "cloudtrail.amazonaws.com"}));
        assert_eq!(s["Action"], "kms:GenerateDataKey*");
        let trail = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/tr";
        assert_eq!(s["Condition"]["StringEquals"]["aws:SourceArn"], trail);
        assert_eq!(s["Condition"]["StringEquals"]["kms:EncryptionContext:aws:cloudtrail:arn"], trail);
        let d = statement_when_used_by_all("AllowCloudTrailToDescribeKey");
        assert_eq!(d["Action"], "kms:DescribeKey");
        assert_eq!(d["Condition"]["StringEquals"]["aws:SourceArn"], trail);
    }

    #[test]
    fn readers_decrypt_only_within_the_account_and_this_trails_context() {
        let s = statement_when_used_by_all("AllowLogFileReadersOfTheAccountToDecrypt");
        assert_eq!(s["Principal"], json!({"AWS": "arn:aws:iam::123456789012:root"}));
        assert_eq!(s["Action"], "kms:Decrypt");
        assert_eq!(s["Condition"]["StringEquals"]["kms:CallerAccount"], "123456789012");
    }

    #[test]
    fn cloudwatch_logs_is_the_regional_principal_scoped_to_the_log_group() {
        let s = statement_when_used_by_all("AllowCloudWatchLogsToEncryptTheLogGroup");
        assert_eq!(s["Principal"], json!({"Service": "logs.eu-west-1.amazonaws.com"}));
        assert_eq!(s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"], "arn:aws:logs:eu-west-1:123456789012:log-group:lg");
    }

    #[test]
    fn alarms_may_publish_to_the_encrypted_topics_and_the_trail_only_when_it_notifies() {
        let s = statement_when_used_by_all("AllowAlarmsAndTrailToPublishToEncryptedTopics");
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
        let read = |n: &str| state.resources[&crate::Address::new(Kind::LogGroup, n)].resource.attrs::<crate::log_group::Attrs>().kms_key;
        assert_eq!(read("lg").as_deref(), Some("alias/secmon/s"));
        assert_eq!(read("other").as_deref(), Some("arn:aws:kms:eu-west-1:1:key/other"), "another key stays as AWS names it");
    }

    /// Issue 22, finding 1: with the bucket's S3 Bucket Key, CloudTrail needs `kms:Decrypt` to
    /// create or update an SSE-KMS trail (CloudTrail user guide, "Configure AWS KMS key policies
    /// for CloudTrail"); without it CreateTrail answers `InsufficientEncryptionPolicyException`.
    #[test]
    fn finding_1_cloudtrail_may_decrypt_under_the_bucket_key() {
        // The whole statement, as the user guide's example has it, scoped to this trail.
        let expected = json!({
            "Sid": "AllowCloudTrailToDecryptUnderTheBucketKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/tr"}},
        });
        assert_eq!(statement_when_used_by_all("AllowCloudTrailToDecryptUnderTheBucketKey"), expected);
        // Only with the bucket use: a trail encrypting into an SSE-S3 bucket needs no decrypt.
        let p = key_policy(&Uses { bucket: None, ..all_uses() }, &target());
        assert!(!p.to_string().contains("AllowCloudTrailToDecryptUnderTheBucketKey"), "{p}");
    }

    /// Issue 22, finding 2: `encryption.trail: false` with `encryption.bucket: true` still has
    /// CloudTrail write into a bucket whose default encryption is the key: the key policy must
    /// admit it (GenerateDataKey under the bucket's context, DescribeKey, Decrypt).
    #[test]
    fn finding_2_bucket_encryption_without_trail_encryption_still_admits_cloudtrail() {
        let uses = Uses { trail: None, ..all_uses() };
        let p = key_policy(&uses, &target());
        let trail = "arn:aws:cloudtrail:eu-west-1:123456789012:trail/tr";
        let w = statement(&p, "AllowCloudTrailWritesUnderTheBucketKey");
        assert_eq!(w["Action"], "kms:GenerateDataKey*");
        assert_eq!(w["Condition"]["StringEquals"]["kms:EncryptionContext:aws:s3:arn"], "arn:aws:s3:::b");
        assert_eq!(w["Condition"]["StringEquals"]["aws:SourceArn"], trail);
        assert_eq!(statement(&p, "AllowCloudTrailToDescribeKey")["Condition"]["StringEquals"]["aws:SourceArn"], trail);
        assert_eq!(statement(&p, "AllowCloudTrailToDecryptUnderTheBucketKey")["Action"], "kms:Decrypt");
        assert!(!p.to_string().contains("AllowCloudTrailToEncryptLogFiles"), "the trail does not encrypt: {p}");
    }

    /// Issue 22, item 5: the apply lock's log group is encrypted with the spec's key, so the
    /// key admits CloudWatch Logs for it too (and for nothing else of the account).
    #[test]
    fn cloudwatch_logs_may_use_the_key_for_the_lock_group_too() {
        let uses = Uses { lock_group: Some(crate::lock_store::lock_group("s")), ..all_uses() };
        let p = key_policy(&uses, &target());
        let s = statement(&p, "AllowCloudWatchLogsToEncryptTheLogGroup");
        assert_eq!(
            s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"],
            json!(["arn:aws:logs:eu-west-1:123456789012:log-group:/secmon/locks/s", "arn:aws:logs:eu-west-1:123456789012:log-group:lg"])
        );
    }

    /// Issue 22, finding 8: a key brought by ARN is read and judged by what its policy admits.
    #[test]
    fn finding_8_a_brought_keys_policy_is_judged_use_by_use() {
        use crate::check::testing::*;
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let spec =
            secmon_spec::Spec::parse(&format!("{}\nencryption:\n  key: {arn}\n", include_str!("../../../specs/seed.yaml")), "s.yaml")
                .unwrap();
        let state = spec.state.resolve("123456789012", "us-east-1").unwrap();
        let t = Target { account_id: "123456789012".into(), region: "us-east-1".into() };
        let full = key_policy(&Uses { lock_group: None, ..Uses::of(&state) }, &t);
        let verdicts = |policy: Option<Value>| {
            let policies = [(arn.to_string(), policy)].into_iter().collect();
            let (live, filters) = (crate::LiveState::default(), crate::check::FilterEvidence::default());
            let ctx = VerifyCtx {
                spec: &state,
                target: &t,
                live: &live,
                local_endpoint: false,
                now: 1_000_000,
                filters: &filters,
                unowned_policies: &policies,
            };
            Def.verify_unowned(&ctx)
        };
        let all = verdicts(Some(full.clone()));
        assert!(!all.is_empty() && all.iter().all(|c| c.status == Status::Ok), "{all:?}");
        // The trap of encrypted topics: the team's key lacks the CloudWatch statement.
        let mut lacking = full.clone();
        lacking["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "AllowAlarmsAndTrailToPublishToEncryptedTopics");
        let failed: Vec<String> = verdicts(Some(lacking)).into_iter().filter(|c| c.status == Status::Failed).map(|c| c.evidence).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("CloudWatch alarms → KMS"), "{failed:?}");
        // A policy written differently but admitting the same passes (coverage, not equality).
        let broad = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": ["cloudtrail.amazonaws.com", "cloudwatch.amazonaws.com", "logs.us-east-1.amazonaws.com"]},
            "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]});
        let some = verdicts(Some(broad));
        assert!(some.iter().any(|c| c.status == Status::Ok), "{some:?}");
        let unread = verdicts(None);
        assert_eq!(unread.len(), 1);
        assert_eq!(unread[0].status, Status::NotObservable);
        let _ = world;
    }

    /// Issue 22, finding 7: KMS's lockout check refuses a CreateKey whose caller may not
    /// PutKeyPolicy; the error says which permission the caller lacks.
    #[test]
    fn finding_7_the_lockout_check_names_kms_put_key_policy() {
        let e = KindError::Aws(secmon_aws::AwsError::Call {
            operation: "CreateKey".into(),
            code: Some("MalformedPolicyDocumentException".into()),
            message: "MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."
                .into(),
        });
        assert!(Def.hint(&e).unwrap().contains("kms:PutKeyPolicy"));
        assert_eq!(Def.patience(&e), crate::Patience::None, "not retried");
    }
}
