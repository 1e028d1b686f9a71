//! The desired state as typed data. Every field here is a field of the YAML spec; `docs/spec.md`
//! documents each one and `secmon schema` is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole spec file: the desired state secmon converges AWS to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "secmon spec v1")]
pub struct DesiredState {
    /// Spec format version. Only `1` exists.
    pub version: u32,
    /// Spec id. Every resource secmon creates is tagged `secmon:spec=<name>`; secmon only changes
    /// resources carrying this tag. Letters, digits, `-` and `_`, at most 64 characters.
    pub name: String,
    /// AWS region. When absent, the AWS configuration chain (AWS_REGION, profile) decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secrets Manager secrets whose reads are watched.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// The CloudTrail trail that records API activity and delivers it to CloudWatch Logs; or,
    /// as `trail: {external: {log_group: NAME}}`, a trail another tool owns (Control Tower, an
    /// organization trail), whose log group the monitors are put on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trail: Option<Trail>,
    /// Not a spec field: `trail.external`, set apart by the loader ([`DesiredState::normalize_trail`]),
    /// so that `trail` is only ever a trail secmon manages.
    #[serde(skip)]
    #[schemars(skip)]
    pub external_trail: Option<ExternalTrail>,
    /// SNS topics that alarms notify.
    #[serde(default)]
    pub topics: Vec<Topic>,
    /// Metric filter + alarm pairs on the trail's log group.
    #[serde(default)]
    pub monitors: Vec<Monitor>,
    /// Counts per contributor (a principal, a source IP) without naming each one (issue 25,
    /// item 1): a CloudWatch Contributor Insights rule on the trail's log group, and an alarm on
    /// its top contributor's count or on how many distinct contributors there are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Contributor>,
    /// Rule packs (`secret-access`, `cis-aws-foundations`, `self-protection`): each expands into
    /// monitors, listed after the hand-written ones. See docs/rules.md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packs: Vec<crate::packs::PackEntry>,
    /// Encryption at rest with a customer managed KMS key: the trail's log files, the trail
    /// bucket's default encryption, the log group and the topics. On by default
    /// (docs/hardening.md).
    #[serde(default)]
    pub encryption: Encryption,
    /// Context in every alert (issue 24, item 1): each monitor whose pattern EventBridge can
    /// express also gets an EventBridge rule that sends its topics, for every matching event, a
    /// notification naming the principal, the call, the resource, the source IP and user agent,
    /// the account, region and time, and a Logs Insights query for the event. One message per
    /// event, in the target's region only: see docs/alerts.md. Off by default; a monitor's (or a
    /// pack rule override's) own `alert_context` overrides it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert_context: bool,
    /// Where each severity's alarms go (issue 24, item 2): a monitor notifies its own `notify`
    /// topics and the topics of its `severity` here. Pack rules carry a severity of their own
    /// (docs/rules.md).
    #[serde(default, skip_serializing_if = "Routes::is_empty")]
    pub routes: Routes,
    /// The pipeline proves itself (issue 24, item 3): every `every`, a Step Functions state
    /// machine reads a canary secret (a value that is not a secret) once, and a canary monitor
    /// pages when that read stops being counted: a trail stopped, a filter deleted, a key policy
    /// broken all page within minutes. Off by default; see docs/alerts.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// Where the spec applies: several accounts (listed, or the accounts of AWS Organizations
    /// OUs) and regions, each reached through a role. Absent: the account and region of the
    /// credentials, as always. See docs/targets.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    /// Not a spec field: set on the state a target deploys in a region other than its home
    /// region ([`DesiredState::for_region`]), where global resources (IAM) are neither read for
    /// deletion nor changed: the home region manages them.
    #[serde(skip)]
    #[schemars(skip)]
    pub secondary_region: bool,
    /// Not a spec field: the organization's id (`o-...`), learned when the trail is an
    /// organization trail; its bucket policy admits the organization's log files.
    #[serde(skip)]
    #[schemars(skip)]
    pub organization_id: Option<String>,
    /// Not a spec field: when this run took the apply lock over from a holder that died (epoch
    /// seconds of its start), a resource that AWS cannot tag at creation (an S3 bucket) that this
    /// spec names, created since then, untagged, empty and without policy, is the dead apply's,
    /// and is taken back (the bucket read of `secmon-kinds`; issue 22, item 5).
    #[serde(skip)]
    #[schemars(skip)]
    pub recovering_since: Option<i64>,
    /// Not a spec field: set on the state of a target that has no pipeline of its own (another
    /// region, a member account of an organization trail), whose secrets' reads the home
    /// target's trail records and its filters count ([`DesiredState::for_region`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub watched_from: Option<WatchedFrom>,
}

/// Where the reads of a target without a pipeline of its own are counted: the home target's
/// trail and the metric filters of the spec's monitors there.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WatchedFrom {
    /// The home region (the first of `targets.regions`), when the spec names it.
    pub region: Option<String>,
    /// The trail is an organization trail: it lives in the management account.
    pub organization: bool,
    /// The spec's metric filters there: (filter name, pattern).
    pub filters: Vec<(String, String)>,
}

/// The accounts and regions one spec applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// Account ids (12 digits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// AWS Organizations OU ids (`ou-...`) or the root id (`r-...`): their active accounts are
    /// targets, enumerated at every run (`ListAccountsForParent`, child OUs included). Needs
    /// credentials of the management account (or a delegated administrator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizational_units: Vec<String>,
    /// The role secmon assumes in each account, by name. The account of the credentials
    /// themselves is used directly.
    pub role_name: String,
    /// The external id the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Regions. The first is the home region: the whole pipeline (trail, log group, monitors,
    /// topics, role, key) is deployed there once per account; the multi-region trail records
    /// every region into it. The others get the spec's secrets only. Default: the spec's
    /// `region`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Which KMS key encrypts the pipeline, and which of its parts use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// `managed` (default): secmon creates a customer managed key (alias
    /// `alias/secmon/<spec name>`, rotation on) whose key policy admits exactly the pipeline's
    /// services. A key ARN (`arn:aws:kms:<region>:<account>:key/<id>`, in the spec's region):
    /// your own key, whose policy must admit the same (`secmon verify` checks it). `none`: no
    /// customer managed key; each part falls back to AWS's default encryption (warned).
    #[serde(default = "default_key")]
    pub key: String,
    /// The trail's log files (SSE-KMS; CIS 3.5 in v3.0, CloudTrail.2).
    #[serde(default = "default_true")]
    pub trail: bool,
    /// The trail bucket's default encryption (Prowler's s3_bucket_kms_encryption).
    #[serde(default = "default_true")]
    pub bucket: bool,
    /// The CloudWatch Logs log group (Prowler's cloudwatch_log_group_kms_encryption_enabled).
    #[serde(default = "default_true")]
    pub log_group: bool,
    /// The SNS topics (Security Hub SNS.1).
    #[serde(default = "default_true")]
    pub topics: bool,
}

impl Default for Encryption {
    fn default() -> Self {
        Encryption { key: default_key(), trail: yes(), bucket: yes(), log_group: yes(), topics: yes() }
    }
}

pub(crate) fn default_key() -> String {
    "managed".into()
}

/// The key an [`Encryption`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChoice {
    /// secmon's own key, created and owned.
    Managed,
    /// A key the user brings, by ARN.
    Existing(String),
    /// No customer managed key.
    None,
}

impl Encryption {
    /// Which key `key` names.
    pub fn key_choice(&self) -> KeyChoice {
        match self.key.as_str() {
            "managed" => KeyChoice::Managed,
            "none" => KeyChoice::None,
            arn => KeyChoice::Existing(arn.to_string()),
        }
    }
}

/// A Secrets Manager secret. Its value never appears in the spec itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// Secret name: 1-512 characters of `A-Za-z0-9/_+=.@-`.
    pub name: String,
    /// Free text, at most 2048 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// KMS key id, ARN or alias. Absent: the AWS managed key `aws/secretsmanager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Extra tags. Keys starting with `secmon:` or `aws:` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Where the value comes from. Written on create and whenever `version` changes.
    pub value: SecretValue,
    /// The principals expected to read its value: IAM role or user ARNs
    /// (`arn:aws:iam::ACCOUNT:role/NAME`; a role's sessions count as the role). With readers, the
    /// secret-access pack's `SECRET-READ-UNEXPECTED` alarms on a read by anyone else.
    /// `secmon backtest` lists who read it over the log group's history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<String>,
    /// A decoy (honeytoken): no one has a reason to read it, so any read of its value pages at
    /// `critical` (rule `DECOY-READ`, added whenever a secret is a decoy; docs/rules.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decoy: bool,
}

/// The source of a secret's value plus the version that says when to write it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// Read the value from this environment variable at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_env: Option<String>,
    /// Read the value from this file (relative to the spec file) at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_file: Option<String>,
    /// Let Secrets Manager generate a random value (GetRandomPassword).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generate>,
    /// Bump to write a new value. Kept on the secret as the tag `secmon:value-version`.
    #[serde(default = "one")]
    pub version: u32,
}

/// Parameters for a generated secret value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// Length of the value, 8-4096.
    #[serde(default = "default_generate_length")]
    pub length: u32,
    /// Leave punctuation out of the generated value.
    #[serde(default)]
    pub exclude_punctuation: bool,
}

impl Default for Generate {
    fn default() -> Self {
        Generate { length: default_generate_length(), exclude_punctuation: false }
    }
}

/// Which of the three value sources a [`SecretValue`] uses; exactly one is set after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource<'a> {
    /// Read from this environment variable at apply time.
    FromEnv(&'a str),
    /// Read from this file, beside the spec.
    FromFile(&'a str),
    /// Generated by Secrets Manager (`GetRandomPassword`) at creation.
    Generate {
        /// How many characters.
        length: u32,
        /// Without punctuation characters.
        exclude_punctuation: bool,
    },
}

impl SecretValue {
    /// The one value source that validation guarantees is set.
    pub fn source(&self) -> ValueSource<'_> {
        if let Some(v) = &self.from_env {
            ValueSource::FromEnv(v)
        } else if let Some(f) = &self.from_file {
            ValueSource::FromFile(f)
        } else {
            let g = self.generate.clone().unwrap_or_default();
            ValueSource::Generate { length: g.length, exclude_punctuation: g.exclude_punctuation }
        }
    }
}

/// A trail secmon does not own (issue 25, item 4): its log group receives the monitors' metric
/// filters; the trail, its bucket, its role and the log group itself are never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalTrail {
    /// The log group the trail delivers to (Control Tower's `aws-controltower/CloudTrailLogs`,
    /// an organization trail's). Exactly one of `log_group` and `prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// The start of the log group's name, when its end is not known in advance (a random
    /// suffix): the one log group whose name starts so, found at every run
    /// (`DescribeLogGroups`); none or several is an error before anything changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// The CloudTrail trail, its S3 bucket and its CloudWatch Logs delivery.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// serde needs `name` and `bucket` to be optional for `external`, which stands alone; the schema
// says what the loader enforces: a trail is another tool's, or has a name and a bucket.
#[schemars(extend("anyOf" = [{"required": ["external"]}, {"required": ["name", "bucket"]}]))]
pub struct Trail {
    /// A trail another tool owns, instead of every other field ([`ExternalTrail`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalTrail>,
    /// Trail name: 3-128 characters of letters, digits, `.`, `_`, `-`; starts and ends with a
    /// letter or digit. Required unless `external`.
    #[serde(default)]
    pub name: String,
    /// Record events in every region (the seeds' "Multi-region trail: Yes").
    #[serde(default = "yes")]
    pub multi_region: bool,
    /// An organization trail (`IsOrganizationTrail`): created in the management account, it
    /// records every member account into its one bucket and log group, where the monitors and
    /// alarms are. With `targets`, only the management account deploys the pipeline; member
    /// accounts get the secrets. Needs the management account's credentials and CloudTrail's
    /// trusted access in AWS Organizations. See docs/targets.md.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organization: bool,
    /// Write digest files so log tampering can be detected.
    #[serde(default = "yes")]
    pub log_file_validation: bool,
    /// The S3 bucket that receives log files. Required unless `external`.
    #[serde(default)]
    pub bucket: Bucket,
    /// Management event selection.
    #[serde(default)]
    pub management_events: ManagementEvents,
    /// S3 object-level calls of every bucket (data events): `WriteOnly` passes Security Hub S3.22
    /// and CIS 3.8, `ReadOnly` S3.23 and CIS 3.9, `All` both. Off by default: each event is
    /// charged ($0.10 per 100,000 delivered, CloudTrail pricing), and busy buckets make many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_data_events: Option<ReadWrite>,
    /// Delivery to CloudWatch Logs; required when the spec has monitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs: Option<CloudWatchLogs>,
    /// Name of a topic of this spec that gets an SNS message per delivered log file (the seeds'
    /// "second notification system"). Noisy: one message every few minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_topic: Option<String>,
}

/// The trail's S3 bucket.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Bucket name: 3-63 characters of `a-z0-9.-`, globally unique. `${account_id}` and `${region}` are expanded.
    pub name: String,
    /// Delete log files after this many days (S3 lifecycle rule). `null` keeps them forever.
    #[serde(default = "default_expiry")]
    pub expire_logs_after_days: Option<u32>,
    /// Keep every version of the log files (Security Hub S3.14); noncurrent versions expire
    /// with the logs. Default on.
    #[serde(default = "default_true")]
    pub versioning: bool,
    /// Object ownership `BucketOwnerEnforced`: ACLs disabled (Security Hub S3.12). Default on.
    #[serde(default = "default_true")]
    pub disable_acls: bool,
    /// Server access logging of the trail bucket to a second bucket secmon owns (CIS 3.4 in
    /// v3.0, CloudTrail.7). Default on.
    #[serde(default = "default_true")]
    pub access_logging: bool,
    /// Name of the access-log bucket. Default `<bucket name>-access-logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_bucket: Option<String>,
}

impl Bucket {
    /// The bucket that receives the trail bucket's server access logs, when logging is on.
    pub fn access_log_bucket_name(&self) -> Option<String> {
        self.access_logging.then(|| self.access_log_bucket.clone().unwrap_or_else(|| format!("{}-access-logs", self.name)))
    }
}

pub(crate) fn default_true() -> bool {
    true
}

/// Which management events the trail records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagementEvents {
    /// `All`, `ReadOnly` or `WriteOnly`. `GetSecretValue` is a read event; keep `All`.
    #[serde(default)]
    pub read_write: ReadWrite,
    /// Event sources left out: only `kms.amazonaws.com` and `rdsdata.amazonaws.com` are accepted
    /// by AWS. Default: none, so that Security Hub CloudTrail.1 passes; leaving a source out is
    /// allowed, with a warning (docs/hardening.md weighs it against the ingestion cost).
    #[serde(default = "default_excludes")]
    pub exclude_sources: Vec<String>,
}

impl Default for ManagementEvents {
    fn default() -> Self {
        ManagementEvents { read_write: ReadWrite::All, exclude_sources: default_excludes() }
    }
}

/// CloudTrail's `ReadWriteType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ReadWrite {
    /// Read and write events.
    #[default]
    All,
    /// Read events only.
    ReadOnly,
    /// Write events only.
    WriteOnly,
}

impl ReadWrite {
    /// CloudTrail's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadWrite::All => "All",
            ReadWrite::ReadOnly => "ReadOnly",
            ReadWrite::WriteOnly => "WriteOnly",
        }
    }
}

/// The CloudWatch Logs log group the trail delivers to, and the IAM role it uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchLogs {
    /// Log group name: 1-512 characters of `A-Za-z0-9._-/#`.
    pub log_group: String,
    /// Days to keep log events; one of the values CloudWatch Logs accepts. `null` keeps them forever.
    #[serde(default = "default_retention")]
    pub retention_days: Option<u32>,
    /// IAM role CloudTrail assumes to write to the log group. Default `secmon-<spec name>-cloudtrail-logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

/// An SNS topic and its e-mail subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// Topic name: 1-256 characters of `A-Za-z0-9_-`.
    pub name: String,
    /// E-mail addresses to subscribe. Each must confirm the subscription from its inbox.
    #[serde(default)]
    pub email: Vec<String>,
    /// Webhooks to subscribe over HTTPS (PagerDuty's or Opsgenie's CloudWatch integration, any
    /// endpoint that confirms SNS subscriptions), each named by the environment variable that
    /// holds its URL: integration URLs carry a key, which so stays out of the spec, the plan and
    /// the logs (they show the host and a digest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub https: Vec<UrlFromEnv>,
    /// SQS queues to subscribe, by ARN. The queue's policy must let `sns.amazonaws.com` send
    /// to it (`aws:SourceArn` = the topic): secmon does not manage the queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqs: Vec<String>,
    /// Lambda functions to subscribe, by ARN. The function's policy must let
    /// `sns.amazonaws.com` invoke it: secmon does not manage the function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda: Vec<String>,
    /// Slack channels AWS Chatbot (Amazon Q Developer in chat applications) posts the topic's
    /// messages to. The workspace must be authorized for Chatbot in the account once, in its
    /// console (an OAuth step no API does); the plan refuses a workspace that is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<SlackChannel>,
    /// Microsoft Teams channels AWS Chatbot posts the topic's messages to; the team must be
    /// configured for Chatbot in the account once, in its console.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamsChannel>,
}

impl Topic {
    /// Whether it posts to a chat channel (AWS Chatbot), Slack or Teams.
    pub fn posts_to_chat(&self) -> bool {
        !self.slack.is_empty() || !self.teams.is_empty()
    }

    /// Whether it posts to chat channels (AWS Chatbot) and to nothing else: its alert context
    /// can then take the form of a Chatbot custom notification, the only form of a message not
    /// sent by an AWS service that Chatbot posts; e-mail or a webhook would show it as JSON.
    pub fn posts_to_chat_only(&self) -> bool {
        self.posts_to_chat() && self.email.is_empty() && self.https.is_empty() && self.sqs.is_empty() && self.lambda.is_empty()
    }
}

/// A Slack channel, by the ids Slack shows in a channel's link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    /// The workspace (team) id, e.g. `T0123ABCD`, as Chatbot's console shows it once authorized.
    pub workspace: String,
    /// The channel id, e.g. `C0123ABCD` (the end of the channel's link). A private channel must
    /// have invited `@Amazon Q` (`/invite @Amazon Q`) before Chatbot can post to it.
    pub channel: String,
}

/// A Microsoft Teams channel, by the ids in the channel's link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsChannel {
    /// The Microsoft Entra tenant id (a UUID).
    pub tenant: String,
    /// The team id (a UUID, `groupId` in the channel's link).
    pub team: String,
    /// The channel id as the link carries it, URL-encoded: `19%3a…%40thread.tacv2` (the loader
    /// encodes an id written as Teams shows it, `19:…@thread.tacv2`).
    pub channel: String,
}

/// A URL read from the environment when secmon runs, never written in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlFromEnv {
    /// The environment variable's name.
    pub env: String,
}

/// A metric filter on the trail's log group plus the alarm on its metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    /// Monitor name; also the default alarm and metric filter name.
    pub name: String,
    /// Alarm description, at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CloudWatch Logs filter pattern, e.g. `{ $.eventName = "GetSecretValue" }`.
    pub pattern: String,
    /// Metric filter name; default: the monitor name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_name: Option<String>,
    /// The metric the filter emits.
    pub metric: Metric,
    /// The alarm on that metric. Defaults are the ones that fire: Sum over 60 s, >= 1.
    #[serde(default)]
    pub alarm: Alarm,
    /// Topics (by name) notified when the alarm fires.
    #[serde(default)]
    pub notify: Vec<String>,
    /// How urgent the alarm is: `routes` adds the topics of this severity to `notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlarmSeverity>,
    /// This monitor's alert context, overriding the spec's `alert_context` (on for a rare, loud
    /// event; off for a busy one, whose every event would be a message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_context: Option<bool>,
    /// What whoever the alarm wakes reads first (issue 24, item 4): it ends the alarm's
    /// description, written as a pack rule's runbook is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<Runbook>,
    /// Detection as code (issue 25, item 5): events files this monitor's pattern must match, or
    /// must not. `secmon validate` runs them; a failing one makes the spec invalid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<MonitorTest>,
    /// The pack rule this monitor comes from (set by pack expansion, not written in specs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub rule: Option<String>,
}

/// A Contributor Insights rule on the trail's log group plus the alarm on one of its metrics
/// (issue 25, item 1): how many events of the pattern each contributor (each distinct value of
/// `keys`) made in a period, without a metric per contributor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contributor {
    /// The rule's name, also the default alarm name: letters, digits, `-`, `_` and `.`, at most
    /// 128 characters.
    pub name: String,
    /// Alarm description, at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The events counted, as a CloudWatch Logs filter pattern that a Contributor Insights rule
    /// can say: `&&` of comparisons, `||` only between values of one field (at most 4 filters,
    /// 10 values each).
    pub pattern: String,
    /// One to four fields whose values make a contributor, e.g. `$.userIdentity.arn`.
    pub keys: Vec<String>,
    /// What the alarm compares: `MaxContributorValue` (the top contributor's count in the
    /// period) or `UniqueContributors` (how many distinct contributors).
    #[serde(default)]
    pub measure: ContributorMeasure,
    /// The alarm on the measure; `threshold` is required, `statistic` and `dimensions` do not
    /// apply.
    pub alarm: Alarm,
    /// Topics (by name) notified when the alarm fires.
    #[serde(default)]
    pub notify: Vec<String>,
    /// How urgent the alarm is: `routes` adds the topics of this severity to `notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlarmSeverity>,
    /// What whoever the alarm wakes reads first; it ends the alarm's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<Runbook>,
    /// The pack rule this comes from (set by pack expansion, not written in specs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub rule: Option<String>,
}

/// The Contributor Insights metric a [`Contributor`]'s alarm watches (`INSIGHT_RULE_METRIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ContributorMeasure {
    /// The count of the period's top contributor (which one may change from period to period).
    #[default]
    MaxContributorValue,
    /// How many distinct contributors the period had.
    UniqueContributors,
}

impl ContributorMeasure {
    /// Every value, as a spec writes it.
    pub const ALL: [&'static str; 2] = ["MaxContributorValue", "UniqueContributors"];
    /// CloudWatch's name of the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            ContributorMeasure::MaxContributorValue => "MaxContributorValue",
            ContributorMeasure::UniqueContributors => "UniqueContributors",
        }
    }
    /// From the spec's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MaxContributorValue" => Some(ContributorMeasure::MaxContributorValue),
            "UniqueContributors" => Some(ContributorMeasure::UniqueContributors),
            _ => None,
        }
    }
}

impl Contributor {
    /// The alarm's name: `alarm.name`, else the rule's name.
    pub fn alarm_name(&self) -> &str {
        self.alarm.name.as_deref().unwrap_or(&self.name)
    }
    /// The alarm's description: `description`, then the runbook's text.
    pub fn alarm_description(&self) -> Option<String> {
        description_with_runbook(self.description.as_deref(), self.runbook.as_ref())
    }
    /// The MITRE ATT&CK id it carries: its runbook's `attack`, else its pack rule's.
    pub fn attack(&self) -> Option<String> {
        attack_of(self.runbook.as_ref(), self.rule.as_deref())
    }
    /// The metric math expression of the alarm: the rule's measure.
    pub fn expression(&self) -> String {
        format!("INSIGHT_RULE_METRIC('{}', '{}')", self.name, self.measure.as_str())
    }
}

/// A monitor's runbook: what the alarm means, the first things to check, the MITRE ATT&CK
/// technique or tactic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// What the alarm means, in a sentence.
    pub meaning: String,
    /// The first things to check, one to three, in order.
    pub check: Vec<String>,
    /// The ATT&CK technique (`T1555.006`) or tactic (`TA0006`) id, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<String>,
}

impl Runbook {
    /// As the alarm's description ends with it: `What: ... Check: 1) ...; 2) ... ATT&CK T...`,
    /// the form of the pack rules' runbooks.
    pub fn text(&self) -> String {
        let checks: Vec<String> = self.check.iter().enumerate().map(|(i, c)| format!("{}) {}", i + 1, c.trim_end_matches('.'))).collect();
        let attack = self.attack.as_deref().map(|a| format!(" ATT&CK {a}.")).unwrap_or_default();
        format!("What: {} Check: {}.{attack}", self.meaning.trim(), checks.join("; "))
    }
}

/// One test of a monitor's pattern: an events file, and whether the pattern must match it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorTest {
    /// An events file (CloudTrail log file, gzipped or not, JSON lines or text lines), relative
    /// to the spec file: a real record of the activity to catch, or of one to leave alone.
    pub events: String,
    /// `match`: at least one event of the file matches; `no-match`: none does.
    pub expect: Expect,
}

/// What a [`MonitorTest`] expects of its events file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// At least one event matches.
    Match,
    /// No event matches.
    NoMatch,
}

impl Expect {
    /// Every value, as a spec writes it.
    pub const ALL: [&'static str; 2] = ["match", "no-match"];
    /// From the spec's spelling.
    pub fn parse(s: &str) -> Option<Expect> {
        match s {
            "match" => Some(Expect::Match),
            "no-match" => Some(Expect::NoMatch),
            _ => None,
        }
    }
}

impl Monitor {
    /// The metric filter's name: `filter_name`, else the monitor's name.
    pub fn filter_name(&self) -> &str {
        self.filter_name.as_deref().unwrap_or(&self.name)
    }
    /// The alarm's description: `description`, then the runbook's text.
    pub fn alarm_description(&self) -> Option<String> {
        description_with_runbook(self.description.as_deref(), self.runbook.as_ref())
    }
    /// The alarm's name: `alarm.name`, else the monitor's name.
    pub fn alarm_name(&self) -> &str {
        self.alarm.name.as_deref().unwrap_or(&self.name)
    }
    /// The MITRE ATT&CK id the monitor carries (issue 25, item 5): its runbook's `attack`, else
    /// its pack rule's, whatever its description says.
    pub fn attack(&self) -> Option<String> {
        attack_of(self.runbook.as_ref(), self.rule.as_deref())
    }
}

/// An alarm's description: `description`, then the runbook's text.
fn description_with_runbook(description: Option<&str>, runbook: Option<&Runbook>) -> Option<String> {
    match (description, runbook) {
        (d, None) => d.map(str::to_string),
        (None, Some(r)) => Some(r.text()),
        (Some(d), Some(r)) => Some(format!("{} {}", d.trim_end(), r.text())),
    }
}

/// A runbook's ATT&CK id, else a pack rule's.
fn attack_of(runbook: Option<&Runbook>, rule: Option<&str>) -> Option<String> {
    runbook.and_then(|r| r.attack.clone()).or_else(|| crate::packs::attack(rule?).map(str::to_string))
}

/// The metric a metric filter publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Metric namespace, 1-255 characters, not starting with `:` or `AWS/`.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Metric name, 1-255 characters without `:`, `*`, `$` or spaces.
    pub name: String,
    /// Value published per matching event: a number, or `$.field` / `$name` / `$1`.
    #[serde(default = "default_metric_value")]
    pub value: String,
    /// Value published when no event matches, so quiet periods read 0 instead of no data. `null`: none.
    #[serde(default = "default_metric_default")]
    pub default: Option<f64>,
    /// Up to three dimensions, name → field (`$.userIdentity.arn`, `$name`). Each distinct value
    /// is a separate metric; AWS refuses a default value together with dimensions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

impl Metric {
    /// What an absent `default` means. The one default that depends on another field, which
    /// serde's per-field defaults cannot say: with dimensions there is none, as AWS refuses a
    /// default value together with dimensions (PutMetricFilter's `MetricTransformation`).
    pub fn default_when_absent(dimensions: &BTreeMap<String, String>) -> Option<f64> {
        if dimensions.is_empty() {
            default_metric_default()
        } else {
            None
        }
    }
}

/// A CloudWatch metric alarm. Defaults are the seeds' fixes, not the console's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Alarm name; default: the monitor name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Sum`, `SampleCount`, `Average`, `Minimum`, `Maximum` or a percentile `p0`-`p100`. Count with `Sum`.
    #[serde(default = "default_statistic")]
    pub statistic: String,
    /// Seconds per datapoint: a multiple of 60 (metric filters publish one datapoint a minute).
    #[serde(default = "default_period")]
    pub period: u32,
    /// Number of periods evaluated.
    #[serde(default = "one")]
    pub evaluation_periods: u32,
    /// Breaching datapoints within `evaluation_periods` needed to alarm; default all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    /// Threshold the statistic is compared with.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Comparison operator.
    #[serde(default)]
    pub comparison: Comparison,
    /// How periods without data count.
    #[serde(default)]
    pub treat_missing_data: TreatMissingData,
    /// Also notify the topics when the alarm returns to OK (`OKActions`): the page can resolve
    /// itself (PagerDuty's and Opsgenie's CloudWatch integrations close the incident on OK).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ok_actions: bool,
    /// Also notify the topics when the alarm has no data to judge (`InsufficientDataActions`):
    /// an alarm on the absence of events (the heartbeat's) pages when its metric stops, without
    /// paging at creation, when a new alarm starts with no data.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insufficient_data_actions: bool,
    /// The dimension values the alarm watches, when the metric has dimensions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dimensions: BTreeMap<String, String>,
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm {
            name: None,
            statistic: default_statistic(),
            period: default_period(),
            evaluation_periods: one(),
            datapoints_to_alarm: None,
            threshold: default_threshold(),
            comparison: Comparison::default(),
            treat_missing_data: TreatMissingData::default(),
            ok_actions: false,
            insufficient_data_actions: false,
            dimensions: BTreeMap::new(),
        }
    }
}

/// CloudWatch `ComparisonOperator` for static thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)] // CloudWatch's own names say what each compares.
pub enum Comparison {
    #[default]
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    /// Every comparison, in CloudWatch's spelling, in declaration order.
    pub const ALL: [&'static str; 4] =
        ["GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"];
    /// CloudWatch's spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
    /// From CloudWatch's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
            "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
            "LessThanThreshold" => Comparison::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
            _ => return None,
        })
    }
}

/// CloudWatch `TreatMissingData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // CloudWatch's own names (docs/spec.md says what each does to an alarm).
pub enum TreatMissingData {
    Breaching,
    #[default]
    NotBreaching,
    Ignore,
    Missing,
}

impl TreatMissingData {
    /// Every value, in CloudWatch's spelling, in declaration order.
    pub const ALL: [&'static str; 4] = ["breaching", "notBreaching", "ignore", "missing"];
    /// CloudWatch's spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
    /// From CloudWatch's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "breaching" => TreatMissingData::Breaching,
            "notBreaching" => TreatMissingData::NotBreaching,
            "ignore" => TreatMissingData::Ignore,
            "missing" => TreatMissingData::Missing,
            _ => return None,
        })
    }
}

pub(crate) fn one() -> u32 {
    1
}
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn default_generate_length() -> u32 {
    32
}
pub(crate) fn default_expiry() -> Option<u32> {
    Some(365)
}
pub(crate) fn default_retention() -> Option<u32> {
    Some(90)
}
/// None (issue 25, item 3): AWS Config's `multi-region-cloudtrail-enabled`, behind Security Hub
/// CloudTrail.1, is NON_COMPLIANT whenever a trail excludes management event sources, and no
/// selector set keeps KMS writes while dropping KMS reads without excluding KMS events.
pub(crate) fn default_excludes() -> Vec<String> {
    Vec::new()
}
pub(crate) fn default_heartbeat_every() -> String {
    "5m".into()
}
pub(crate) fn default_namespace() -> String {
    "SecurityMetrics".into()
}
pub(crate) fn default_metric_value() -> String {
    "1".into()
}
pub(crate) fn default_metric_default() -> Option<f64> {
    Some(0.0)
}
pub(crate) fn default_statistic() -> String {
    "Sum".into()
}
pub(crate) fn default_period() -> u32 {
    60
}
pub(crate) fn default_threshold() -> f64 {
    1.0
}

/// How urgent a monitor's alarm is (issue 24, item 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlarmSeverity {
    /// Wakes someone now: the pipeline is being blinded, a decoy was read.
    Critical,
    /// Looked at within the hour: a secret read outside the expected.
    High,
    /// Looked at today: the CIS alarms.
    Medium,
    /// Looked at this week.
    Low,
    /// Recorded, nobody paged.
    Info,
}

impl AlarmSeverity {
    /// Every severity, most urgent first, as written in specs.
    pub const ALL: [&'static str; 5] = ["critical", "high", "medium", "low", "info"];
    /// As written in specs.
    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
    /// From its spelling in specs.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "critical" => AlarmSeverity::Critical,
            "high" => AlarmSeverity::High,
            "medium" => AlarmSeverity::Medium,
            "low" => AlarmSeverity::Low,
            "info" => AlarmSeverity::Info,
            _ => return None,
        })
    }
}

/// The canary monitor's name (the pack-rule id it carries is [`HEARTBEAT_RULE`]).
pub const HEARTBEAT_MONITOR: &str = "secmon-heartbeat";
/// The rule id the canary monitor carries, as a pack rule's monitor does.
pub const HEARTBEAT_RULE: &str = "HEARTBEAT";

/// The heartbeat: how often the canary is read, and who is paged when the reads stop counting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// How often the canary secret is read: whole minutes, `1m` to `60m`. The alarm pages after
    /// [`Heartbeat::missed_periods`] periods without a counted read (15 minutes or more), so that
    /// CloudTrail's delivery delay (about 5 minutes) never pages.
    #[serde(default = "default_heartbeat_every")]
    pub every: String,
    /// Topics paged when the heartbeat stops; default: the `critical` route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
}

impl Heartbeat {
    /// The longest silence that is not yet a page: CloudTrail delivers events to CloudWatch Logs
    /// typically within 5 minutes (CloudTrail user guide, "Sending events to CloudWatch Logs"),
    /// so three such delays.
    pub const SILENCE_SECONDS: u32 = 900;

    /// The minutes of `every`, when it is `1m` to `60m`.
    pub fn minutes(&self) -> Option<u32> {
        let n: u32 = self.every.strip_suffix('m')?.parse().ok()?;
        (1..=60).contains(&n).then_some(n)
    }

    /// How many periods of `every` in a row without a counted read page: enough to span
    /// [`Heartbeat::SILENCE_SECONDS`], at least three.
    pub fn missed_periods(&self) -> u32 {
        let period = self.minutes().unwrap_or(5) * 60;
        Self::SILENCE_SECONDS.div_ceil(period).max(3)
    }
}

/// The names of the heartbeat's parts, computed from the spec's name (never looked up): the
/// kinds that build them and the filter that counts the canary's reads agree through this one
/// place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatNames {
    /// The canary secret.
    pub secret: String,
    /// The Step Functions state machine that reads it.
    pub state_machine: String,
    /// The role the state machine reads with (the reads' session issuer).
    pub reader_role: String,
    /// The role EventBridge starts the state machine with.
    pub starter_role: String,
    /// The canary monitor (metric filter) name.
    pub monitor: String,
}

/// `full`, or when longer than `max` its first characters and a digest of the whole (FNV-1a:
/// stable across runs and platforms, which a name must be), so two long names stay distinct.
pub fn bounded_name(full: &str, max: usize) -> String {
    if full.len() <= max {
        return full.to_string();
    }
    let digest = full.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{}-{:08x}", &full[..max - 9], digest as u32)
}

/// The topics each severity's alarms notify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Topics of `critical` alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub critical: Vec<String>,
    /// Topics of `high` alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub high: Vec<String>,
    /// Topics of `medium` alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub medium: Vec<String>,
    /// Topics of `low` alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub low: Vec<String>,
    /// Topics of `info` alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<String>,
}

impl Routes {
    /// No route at all.
    pub fn is_empty(&self) -> bool {
        self.all().all(|(_, topics)| topics.is_empty())
    }
    /// The topics of `severity`.
    pub fn of(&self, severity: AlarmSeverity) -> &[String] {
        match severity {
            AlarmSeverity::Critical => &self.critical,
            AlarmSeverity::High => &self.high,
            AlarmSeverity::Medium => &self.medium,
            AlarmSeverity::Low => &self.low,
            AlarmSeverity::Info => &self.info,
        }
    }
    /// Each severity and its topics.
    pub fn all(&self) -> impl Iterator<Item = (AlarmSeverity, &[String])> {
        [AlarmSeverity::Critical, AlarmSeverity::High, AlarmSeverity::Medium, AlarmSeverity::Low, AlarmSeverity::Info]
            .into_iter()
            .map(move |s| (s, self.of(s)))
    }
}

impl DesiredState {
    /// Whether monitor `m` gets its alert context: its own `alert_context`, else the spec's.
    pub fn wants_alert_context(&self, m: &Monitor) -> bool {
        m.alert_context.unwrap_or(self.alert_context)
    }

    /// The names of the heartbeat's parts, when the spec has a heartbeat.
    pub fn heartbeat_names(&self) -> Option<HeartbeatNames> {
        self.heartbeat.as_ref()?;
        let spec = &self.name;
        // IAM role names: at most 64 characters; state machine names: at most 80.
        Some(HeartbeatNames {
            secret: format!("secmon/{spec}/heartbeat-canary"),
            state_machine: bounded_name(&format!("secmon-{spec}-heartbeat"), 80),
            reader_role: bounded_name(&format!("secmon-{spec}-heartbeat-read"), 64),
            starter_role: bounded_name(&format!("secmon-{spec}-heartbeat-start"), 64),
            monitor: HEARTBEAT_MONITOR.to_string(),
        })
    }

    /// The canary monitor of the heartbeat (appended by the loader, once): it counts the
    /// state machine's reads of the canary secret, by the reader role, and its alarm is
    /// paging when they stop: no data (a stopped trail, a broken delivery) and zeros (a
    /// stopped schedule, a deleted secret) both page. It gives no per-event alert context: a
    /// message every few minutes would be noise.
    pub fn heartbeat_monitor(&self) -> Option<Monitor> {
        let hb = self.heartbeat.as_ref()?;
        let names = self.heartbeat_names()?;
        let period = hb.minutes().unwrap_or(5) * 60;
        let pattern = format!(
            "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") && ($.requestParameters.secretId = \"{}\") && ($.userIdentity.sessionContext.sessionIssuer.arn = \"arn:aws:iam::${{account_id}}:role/secmon/{}\") }}",
            names.secret, names.reader_role
        );
        Some(Monitor {
            name: names.monitor.clone(),
            description: Some(format!(
                "secmon heartbeat of spec {}: the canary secret is read every {} and this alarm pages when no read has been counted for {} periods.",
                self.name, hb.every, hb.missed_periods()
            )),
            pattern,
            filter_name: None,
            metric: Metric {
                namespace: default_namespace(),
                name: format!("secmon-{}-heartbeat", self.name),
                value: "1".into(),
                default: Some(0.0),
                dimensions: BTreeMap::new(),
            },
            alarm: Alarm {
                name: Some(format!("secmon-{}-heartbeat", self.name)),
                statistic: default_statistic(),
                period,
                evaluation_periods: hb.missed_periods(),
                datapoints_to_alarm: None,
                threshold: 1.0,
                comparison: Comparison::LessThanThreshold,
                // No data (a trail stopped, a filter deleted, delivery broken): INSUFFICIENT_DATA,
                // which pages through `insufficient_data_actions`; zeros (the canary stopped while
                // other events flow): ALARM. Not `breaching`: a brand-new alarm, with no data yet,
                // would page at its first apply (docs/alerts.md, "The first minutes").
                treat_missing_data: TreatMissingData::Missing,
                ok_actions: true,
                insufficient_data_actions: true,
                dimensions: BTreeMap::new(),
            },
            notify: hb.notify.clone(),
            severity: Some(AlarmSeverity::Critical),
            alert_context: Some(false),
            runbook: Some(Runbook {
                meaning: "the pipeline no longer counts its own canary reads: reads of the real secrets may go unseen too.".into(),
                check: vec![
                    "`secmon verify` names the broken link (trail stopped, filter deleted, key or role policy)".into(),
                    "the heartbeat state machine's recent executions (Step Functions console)".into(),
                    "CloudTrail event history for StopLogging, DeleteMetricFilter, PutKeyPolicy".into(),
                ],
                attack: Some("T1562.008".into()),
            }),
            tests: Vec::new(),
            rule: Some(HEARTBEAT_RULE.into()),
        })
    }

    /// Appends the heartbeat's canary monitor, once (the loader calls it after the packs).
    pub fn beat(&mut self) {
        if let Some(m) = self.heartbeat_monitor() {
            if !self.monitors.iter().any(|x| x.rule.as_deref() == Some(HEARTBEAT_RULE)) {
                self.monitors.push(m);
            }
        }
    }

    /// Adds to each monitor's `notify` the topics `routes` gives its severity (in the routes'
    /// order, each topic once). The loader calls it once every monitor, packs' included, exists.
    pub fn route(&mut self) {
        let monitors = self.monitors.iter_mut().map(|m| (m.severity, &mut m.notify));
        let contributors = self.contributors.iter_mut().map(|c| (c.severity, &mut c.notify));
        for (severity, notify) in monitors.chain(contributors) {
            let Some(severity) = severity else { continue };
            for topic in self.routes.of(severity) {
                if !notify.contains(topic) {
                    notify.push(topic.clone());
                }
            }
        }
    }
}
