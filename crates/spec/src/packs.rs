//! Rule packs: named sets of monitors that expand into ordinary monitors at load time, so plan,
//! apply, validate, simulate and verify treat them like hand-written ones.
//!
//! - `secret-access`: every way a secret value is read (GetSecretValue and BatchGetSecretValue;
//!   unless `only_spec_secrets`, also decrypted Systems Manager parameters and EC2 password data),
//!   optionally only the spec's own secrets, optionally not by expected readers;
//! - `cis-aws-foundations`: CIS AWS Foundations Benchmark section 4.1–4.15, texts of benchmark
//!   3.0.0 (default, what Prowler checks) or 1.4.0 (byte for byte what Security Hub's
//!   CloudWatch.1–14 compare); they differ only in 4.13;
//! - `self-protection`: changes to the pipeline itself (trail, log group and filters, alarms,
//!   topics and subscriptions, secrets), each rule naming the secmon resources it guards.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{Alarm, DesiredState, Metric, Monitor};

/// The packs secmon knows, as `packs:` names them.
pub const PACK_NAMES: [&str; 4] = ["secret-access", "cis-aws-foundations", "self-protection", "decoys"];

/// A `packs:` entry: a bare pack name, or the pack with options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PackEntry {
    /// `secret-access`, `cis-aws-foundations` or `self-protection`, with default options.
    Name(String),
    /// A pack with its options (`name`, `disable`, `rules`, ...).
    Options(PackRef),
}

/// A pack as the spec names it, with its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackRef {
    /// `secret-access`, `cis-aws-foundations` or `self-protection`.
    pub name: String,
    /// Topics every rule of the pack notifies; default: every topic of the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Vec<String>>,
    /// Rule ids left out (e.g. `CIS-4.7`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
    /// Per-rule overrides by rule id: `name`, `metric`, `alarm`, `notify`, `description`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, RuleOverride>,
    /// Metric namespace of the pack's metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// secret-access: watch only the secrets this spec declares (GetSecretValue by name or ARN;
    /// filter-based BatchGetSecretValue calls are always reported: CloudTrail does not say which
    /// secrets they returned).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_spec_secrets: bool,
    /// secret-access and self-protection: principals whose calls are expected
    /// (`$.userIdentity.arn` patterns, `*` wildcards allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_principals: Vec<String>,
    /// cis-aws-foundations: which benchmark's filter texts to deploy, `3.0.0` (default) or
    /// `1.4.0`. They differ in one rule: CIS 3.0.0 and Prowler want 4.13 (route tables) limited
    /// to `$.eventSource = ec2.amazonaws.com`; Security Hub's CloudWatch.13 (its CIS 1.2.0/1.4.0
    /// standards) accepts only the 1.4.0 text, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<String>,
    /// secret-access: also count reads and refusals per principal, with CloudWatch Contributor
    /// Insights rules (issue 25, item 1; docs/rules.md): a sweep by one principal pages without
    /// naming it beforehand. Each rule costs $0.50 a month plus $0.02 per million events matched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_principal: bool,
    /// self-protection: other EventBridge rules that carry alerts (GuardDuty's or Security Hub's
    /// findings to a topic), by name, `*` at the end for a prefix: disabling, deleting or
    /// retargeting one pages (rule `GUARD-EVENT-RULES`). Only those named: rules change with
    /// every deploy elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch_event_rules: Vec<String>,
}

/// The benchmark versions whose texts the cis-aws-foundations pack can deploy; the first is the
/// default.
pub const CIS_BENCHMARKS: [&str; 2] = ["3.0.0", "1.4.0"];

/// Fields of a pack rule's monitor a spec may override.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    /// Monitor, alarm and metric filter name (default `<rule id>-<metric>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Metric name (the namespace is the pack's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The alarm's settings, replacing the pack's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<Alarm>,
    /// Topics notified, replacing the pack's `notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Vec<String>>,
    /// The alarm's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The rule's severity, replacing the pack's ([`severity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::AlarmSeverity>,
    /// The rule's alert context, overriding the spec's `alert_context`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_context: Option<bool>,
}

impl PackRef {
    /// The pack `name` with no option.
    pub fn named(name: &str) -> PackRef {
        PackRef {
            name: name.into(),
            notify: None,
            disable: Vec::new(),
            rules: BTreeMap::new(),
            namespace: None,
            only_spec_secrets: false,
            exclude_principals: Vec::new(),
            benchmark: None,
            per_principal: false,
            watch_event_rules: Vec::new(),
        }
    }
}

/// A pack rule's severity unless the spec overrides it: the pipeline's own tampering is
/// critical (it blinds everything else), a secret read is high, the CIS alarms are medium.
pub fn severity(pack: &str) -> crate::AlarmSeverity {
    match pack {
        "self-protection" | "decoys" => crate::AlarmSeverity::Critical,
        "secret-access" => crate::AlarmSeverity::High,
        _ => crate::AlarmSeverity::Medium,
    }
}

/// One rule of a pack, as documented in docs/rules.md.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's id, e.g. `CIS-4.1` or `SECRET-READ`.
    pub id: String,
    /// What it catches, in words.
    pub title: String,
    /// The metric its filter publishes.
    pub metric: String,
    /// Its filter pattern.
    pub pattern: String,
    /// The Security Hub control comparing this text, if any.
    pub control: Option<&'static str>,
}

/// CIS AWS Foundations Benchmark section 4 (monitoring), as v1.4.0 writes it. Pattern texts are
/// Security Hub's (CloudWatch.1–14), byte for byte; 4.15 is the benchmark's list plus the three
/// calls Prowler also requires (`CancelHandshake`, `CreateOrganization`, `EnableAllFeatures`),
/// which no Security Hub control compares. [`CIS_4_13_V3`] replaces 4.13 for benchmark 3.0.0.
pub const CIS: [(&str, &str, &str, Option<&str>, &str); 15] = [
    (
        "CIS-4.1",
        "Unauthorized API calls",
        "UnauthorizedAPICalls",
        Some("CloudWatch.2"),
        r#"{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}"#,
    ),
    (
        "CIS-4.2",
        "Management Console sign-in without MFA",
        "ConsoleSigninWithoutMFA",
        Some("CloudWatch.3"),
        r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#,
    ),
    (
        "CIS-4.3",
        "Usage of the root user",
        "RootAccountUsage",
        Some("CloudWatch.1"),
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
    ),
    (
        "CIS-4.4",
        "IAM policy changes",
        "IAMPolicyChanges",
        Some("CloudWatch.4"),
        r#"{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}"#,
    ),
    (
        "CIS-4.5",
        "CloudTrail configuration changes",
        "CloudTrailChanges",
        Some("CloudWatch.5"),
        r#"{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}"#,
    ),
    (
        "CIS-4.6",
        "Management Console authentication failures",
        "ConsoleAuthenticationFailure",
        Some("CloudWatch.6"),
        r#"{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}"#,
    ),
    (
        "CIS-4.7",
        "Disabling or scheduled deletion of customer managed keys",
        "DisableOrDeleteCMK",
        Some("CloudWatch.7"),
        r#"{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"#,
    ),
    (
        "CIS-4.8",
        "S3 bucket policy changes",
        "S3BucketPolicyChanges",
        Some("CloudWatch.8"),
        r#"{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}"#,
    ),
    (
        "CIS-4.9",
        "AWS Config configuration changes",
        "AWSConfigChanges",
        Some("CloudWatch.9"),
        r#"{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}"#,
    ),
    (
        "CIS-4.10",
        "Security group changes",
        "SecurityGroupChanges",
        Some("CloudWatch.10"),
        r#"{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}"#,
    ),
    (
        "CIS-4.11",
        "Network ACL changes",
        "NetworkACLChanges",
        Some("CloudWatch.11"),
        r#"{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}"#,
    ),
    (
        "CIS-4.12",
        "Network gateway changes",
        "NetworkGatewayChanges",
        Some("CloudWatch.12"),
        r#"{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}"#,
    ),
    (
        "CIS-4.13",
        "Route table changes",
        "RouteTableChanges",
        Some("CloudWatch.13"),
        r#"{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}"#,
    ),
    (
        "CIS-4.14",
        "VPC changes",
        "VPCChanges",
        Some("CloudWatch.14"),
        r#"{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}"#,
    ),
    (
        "CIS-4.15",
        "AWS Organizations changes",
        "OrganizationsChanges",
        None,
        r#"{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CancelHandshake") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganization") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnableAllFeatures") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }"#,
    ),
];

/// CIS 4.13 as benchmark 3.0.0 audits it and Prowler checks it: the 1.4.0 calls, limited to EC2.
pub const CIS_4_13_V3: &str = "{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }";

fn or_all(items: Vec<String>) -> String {
    if items.len() == 1 {
        items.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", items.join(" || "))
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn events(names: &[&str]) -> String {
    or_all(names.iter().map(|n| format!("($.eventName = {})", quoted(n))).collect())
}

/// Any of the spec's secrets, by name or ARN (`NAME-*`: Secrets Manager appends 6 characters).
fn secret_ids(state: &DesiredState) -> String {
    or_all(
        state
            .secrets
            .iter()
            .flat_map(|s| {
                [
                    format!("($.requestParameters.secretId = {})", quoted(&s.name)),
                    format!("($.requestParameters.secretId = {})", quoted(&format!("arn:aws:secretsmanager:*:secret:{}-*", s.name))),
                ]
            })
            .collect(),
    )
}

fn not_by(principals: &[String]) -> String {
    principals.iter().map(|p| format!(" && ($.userIdentity.arn != {})", quoted(p))).collect()
}

/// Each rule's runbook (issue 24, item 4): what the alarm means and the first things to check;
/// and its MITRE ATT&CK technique, or tactic where no one technique is the rule's (issue 25,
/// item 5), a field of its own that `secmon coverage` reads, whatever the description says.
pub const RUNBOOKS: [RuleRunbook; 37] = [
    RuleRunbook { id: "SECRET-ENUMERATION-BY-PRINCIPAL", text: "What: one principal listed or described secrets (ListSecrets, DescribeSecret, ListSecretVersionIds, GetResourcePolicy) more often in the period than the threshold: a walk of every secret's metadata, the step before reading them. Check: 1) the top contributor (CloudWatch Contributor Insights, this rule); 2) whether reads followed (SECRET-READ, SECRET-READS-BY-PRINCIPAL); 3) whether that principal is an inventory or compliance tool; if not, disable its credentials.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-READS-BY-PRINCIPAL", text: "What: one principal read more secret values in the period than the threshold: a sweep of every secret it can reach, or an application that stopped caching. Check: 1) the top contributor (CloudWatch Contributor Insights, this rule, the alarm's period); 2) which secrets it read (requestParameters.secretId) and from where (source IP, user agent); 3) if it is not a known reader, disable its credentials and rotate what it read.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-DENIALS-BY-PRINCIPAL", text: "What: one principal was refused secrets more often in the period than the threshold: stolen credentials trying what they can read. Check: 1) the top contributor (CloudWatch Contributor Insights, this rule); 2) which secrets it tried and whether any read succeeded (SECRET-READ); 3) disable its keys unless the refusals are a misconfigured deployment.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-READ-SPREAD", text: "What: more distinct principal-and-secret pairs were read in the period than the threshold: someone reading many secrets, each once. Check: 1) the rule's contributors in CloudWatch Contributor Insights, by principal; 2) a principal with many secrets in one period; 3) whether it is a deployment or an intruder.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-READ", text: "What: a Secrets Manager secret value was read (GetSecretValue; BatchGetSecretValue reads up to 20). Check: 1) the caller ($.userIdentity.arn), its source IP and user agent, in the trail's log group at the alarm's minute; 2) whether that principal is an expected reader; 3) which secret (requestParameters.secretId); rotate it if the read is not explained.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-READ-UNEXPECTED", text: "What: a secret value was read by a principal outside the secret's readers (secrets[].readers). Check: 1) the caller ($.userIdentity.arn and its session issuer), its source IP and user agent; 2) whether it is a new reader to add to the spec, or someone who should not have the secret; 3) if the latter, rotate the secret and remove the principal's access.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-READ-DENIED", text: "What: a principal was refused a secret (GetSecretValue, BatchGetSecretValue or DescribeSecret answered AccessDenied): stolen credentials probing what they can read, or a misconfigured reader. Check: 1) the caller ($.userIdentity.arn), its source IP and user agent; 2) how many secrets it tried, and whether any read succeeded; 3) whether that principal has any reason to read them; disable its keys if not.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "SECRET-ENUMERATION", text: "What: the account's secrets were listed (ListSecrets), or read by a filter query (BatchGetSecretValue with filters) rather than by name: a caller finding out what there is to take. Check: 1) the caller, its source IP and user agent; 2) whether reads of the listed secrets followed (SECRET-READ); 3) whether that principal lists secrets normally (a console user, a deployment tool).", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "DECOY-READ", text: "What: a decoy secret's value was read. No one has a reason to read it: this is an intruder, or a tool sweeping every secret. Check: 1) the caller ($.userIdentity.arn), its source IP and user agent; 2) every other call that principal made in the last day; 3) disable its credentials, then find how it got them.", attack: "T1555.006", tactic: None },
    RuleRunbook { id: "PARAMETER-READ", text: "What: a Systems Manager parameter was read decrypted (a SecureString's plaintext). Check: 1) the caller, its source IP and user agent; 2) which parameters (requestParameters.name, names or path); 3) whether that principal reads them normally; rotate what was exposed.", attack: "TA0006", tactic: Some("credential access") },
    RuleRunbook { id: "PASSWORD-DATA-READ", text: "What: GetPasswordData was called: a Windows instance's encrypted administrator password (errorCode set when refused). Check: 1) the caller and how many instances it tried (sweeps try many); 2) whether any call succeeded (no errorCode); 3) if so, rotate that instance's administrator password.", attack: "TA0006", tactic: Some("credential access") },
    RuleRunbook { id: "CIS-4.1", text: "What: API calls were refused for lack of permission. Check: 1) which principal and which calls (eventName, errorCode); 2) refusals across many services at once are discovery with stolen credentials, one app's repeated refusal is a misconfiguration; 3) the source IP and user agent against the principal's usual ones.", attack: "TA0007", tactic: Some("discovery") },
    RuleRunbook { id: "CIS-4.2", text: "What: an IAM user signed in to the console without MFA. Check: 1) the user and the source IP; 2) whether the user has an MFA device (it should); 3) what that session did next (same userIdentity.arn).", attack: "T1078.004", tactic: None },
    RuleRunbook { id: "CIS-4.3", text: "What: the root user made a call that no AWS service made for it. Check: 1) the source IP and user agent; 2) what was done (eventName); 3) whether someone planned it: root use should be rare and announced.", attack: "T1078.004", tactic: None },
    RuleRunbook { id: "CIS-4.4", text: "What: an IAM policy was created, changed, attached or detached. Check: 1) who, and which policy and user, group or role; 2) whether it grants administrator access, iam:* or sts:AssumeRole to someone new; 3) whether a change or a deploy explains it.", attack: "T1098", tactic: None },
    RuleRunbook { id: "CIS-4.5", text: "What: a trail was created, updated or deleted, or its logging started or stopped. Check: 1) which trail and who; 2) secmon verify: does this pipeline still record?; 3) what the same principal did just before.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "CIS-4.6", text: "What: console sign-ins failed. Check: 1) the user names tried and the source IPs; 2) many users from one IP is password spraying, many tries on one user is guessing; 3) reset the targeted users' passwords and make sure they have MFA.", attack: "T1110", tactic: None },
    RuleRunbook { id: "CIS-4.7", text: "What: a customer managed KMS key was disabled or scheduled for deletion. Check: 1) which key (requestParameters.keyId) and who; 2) what it encrypts: data under a deleted key is lost; 3) if unplanned, CancelKeyDeletion or EnableKey at once.", attack: "TA0040", tactic: Some("impact") },
    RuleRunbook { id: "CIS-4.8", text: "What: an S3 bucket's policy, ACL, CORS, lifecycle or replication changed. Check: 1) which bucket and who; 2) whether it now grants another account or everyone; 3) IAM Access Analyzer's findings for the bucket.", attack: "TA0010", tactic: Some("exfiltration") },
    RuleRunbook { id: "CIS-4.9", text: "What: AWS Config's recorder or delivery channel was stopped, deleted or changed. Check: 1) who; 2) whether the recorder still records (aws configservice describe-configuration-recorder-status); 3) other defence changes by the same principal.", attack: "TA0005", tactic: Some("defense evasion") },
    RuleRunbook { id: "CIS-4.10", text: "What: a security group rule was added or removed. Check: 1) which group and rule (0.0.0.0/0 to SSH, RDP or a database port?); 2) who; 3) which instances use the group.", attack: "T1562.007", tactic: None },
    RuleRunbook { id: "CIS-4.11", text: "What: a network ACL or one of its entries changed. Check: 1) which ACL and entries; 2) who; 3) which subnets it guards.", attack: "T1562.007", tactic: None },
    RuleRunbook { id: "CIS-4.12", text: "What: an internet or customer gateway was created, attached, detached or deleted. Check: 1) which gateway and VPC; 2) who; 3) whether a new way out to the internet now exists.", attack: "TA0010", tactic: Some("exfiltration") },
    RuleRunbook { id: "CIS-4.13", text: "What: a route or route table changed. Check: 1) which routes (a new 0.0.0.0/0 target?); 2) who; 3) which subnets use the table.", attack: "TA0010", tactic: Some("exfiltration") },
    RuleRunbook { id: "CIS-4.14", text: "What: a VPC, a peering connection or ClassicLink changed. Check: 1) which VPC or peering, to which account; 2) who; 3) the routes added with it.", attack: "TA0010", tactic: Some("exfiltration") },
    RuleRunbook { id: "CIS-4.15", text: "What: the organization changed: accounts, OUs, policies, handshakes, an account leaving. Check: 1) what and who (the management account's calls); 2) a detached SCP or a leaving account loses its guardrails; 3) whether it was planned.", attack: "T1666", tactic: None },
    RuleRunbook { id: "GUARD-TRAIL", text: "What: this pipeline's trail was stopped, deleted or reconfigured: secret reads may go unseen. Check: 1) secmon verify, now; 2) who, and what they did just before; 3) secmon apply restores the trail.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-LOGS", text: "What: this pipeline's log group, its metric filters or its retention changed. Check: 1) secmon verify, now; 2) who; 3) secmon apply restores them.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-BUCKETS", text: "What: a bucket of this pipeline's log files (or of their access logs) was reconfigured or deleted: versioning, access logging, policy, lifecycle, encryption, public access. Check: 1) secmon verify, now; 2) who, and whether log files were deleted or read; 3) secmon apply restores the settings.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-ROLE", text: "What: the role CloudTrail delivers to CloudWatch Logs with was deleted or its policies changed: delivery may stop. Check: 1) secmon verify, now; 2) who; 3) secmon apply restores the role.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-AUDIT-LOGS", text: "What: VPC flow logs or Route 53 Resolver query logging were deleted: network and DNS activity goes unrecorded. Check: 1) which VPC or resolver configuration, and who; 2) what that principal did around it; 3) recreate the logging.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-KEY", text: "What: a key policy was replaced or a key's rotation turned off (the pipeline's key, or any key when secmon made it), or the pipeline's key alias was deleted or moved: CloudWatch, CloudTrail or SNS may no longer use it, and logs or alerts stop silently. Check: 1) secmon verify, now (key.policy_admits); 2) who, and the new policy; 3) secmon apply restores the key's policy and alias.", attack: "T1562.008", tactic: None },
    RuleRunbook { id: "GUARD-DETECTORS", text: "What: GuardDuty's detector was deleted or disabled, its findings' export or its administrator link removed, Security Hub (or a standard) disabled, or an AWS Config rule or conformance pack deleted: the account's other alarms were turned off. Check: 1) who, and from where; 2) what that principal did next, while the detectors were off; 3) re-enable them at once.", attack: "T1562.001", tactic: None },
    RuleRunbook { id: "GUARD-ALARMS", text: "What: alarms were deleted, disabled, changed or forced into a state (SetAlarmState can hide a real alarm). Check: 1) secmon verify, now; 2) who; 3) secmon apply restores them.", attack: "T1562", tactic: None },
    RuleRunbook { id: "GUARD-EVENT-RULES", text: "What: an EventBridge rule that carries alerts (self-protection's watch_event_rules: GuardDuty's or Security Hub's findings to a topic) was disabled, deleted, rewritten or retargeted: findings may no longer reach anyone. Check: 1) which rule and call (requestParameters.name or rule), and who; 2) aws events describe-rule and list-targets-by-rule: is it enabled, with its targets?; 3) restore it, then look for the findings it missed.", attack: "T1562.001", tactic: None },
    RuleRunbook { id: "GUARD-TOPICS", text: "What: this pipeline's topics or subscriptions changed: alerts may no longer reach anyone. Check: 1) secmon verify, now; 2) who; 3) secmon apply, then confirm the e-mail subscriptions again.", attack: "T1562", tactic: None },
    RuleRunbook { id: "GUARD-SECRETS", text: "What: a watched secret was deleted, replicated, or its value or resource policy changed. Check: 1) who and which call; 2) whether a new policy grants another account; 3) RestoreSecret within its recovery window if deleted; secmon apply restores policy and tags.", attack: "TA0040", tactic: Some("impact") },
];

/// A pack rule's runbook and its ATT&CK id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleRunbook {
    /// The rule's id.
    pub id: &'static str,
    /// `What: ... Check: 1) ...; 2) ...; 3) ...`
    pub text: &'static str,
    /// The ATT&CK technique (`T1555.006`) or, where no one technique is the rule's, the tactic
    /// (`TA0010`).
    pub attack: &'static str,
    /// The tactic's name, for a tactic id (`exfiltration`).
    pub tactic: Option<&'static str>,
}

impl RuleRunbook {
    /// The runbook as the alarm's description ends with it: the text, then `ATT&CK <id>.`
    pub fn full(&self) -> String {
        match self.tactic {
            Some(name) => format!("{} ATT&CK {} ({name}).", self.text, self.attack),
            None => format!("{} ATT&CK {}.", self.text, self.attack),
        }
    }
}

/// The runbook of rule `id` ([`RUNBOOKS`]), as the alarm's description ends with it; every rule
/// has one (tested).
pub fn runbook(id: &str) -> String {
    RUNBOOKS.iter().find(|r| r.id == id).map(RuleRunbook::full).unwrap_or_default()
}

/// The ATT&CK id of pack rule `id` ([`RuleRunbook::attack`]).
pub fn attack(id: &str) -> Option<&'static str> {
    RUNBOOKS.iter().find(|r| r.id == id).map(|r| r.attack)
}

/// The rules of a pack for this state, before `disable` and overrides.
pub fn rules(pack: &PackRef, state: &DesiredState) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    match pack.name.as_str() {
        "cis-aws-foundations" => {
            let v3 = pack.benchmark.as_deref().unwrap_or(CIS_BENCHMARKS[0]) == "3.0.0";
            for (id, title, metric, control, pattern) in CIS {
                let (pattern, control) = if v3 && id == "CIS-4.13" { (CIS_4_13_V3, None) } else { (pattern, control) };
                out.push(Rule { id: id.into(), title: title.into(), metric: metric.into(), pattern: pattern.into(), control });
            }
        }
        "secret-access" => {
            let reads = if pack.only_spec_secrets {
                if state.secrets.is_empty() {
                    return Err("only_spec_secrets needs secrets in the spec".into());
                }
                format!("((($.eventName = \"GetSecretValue\") && {}) || ($.eventName = \"BatchGetSecretValue\"))", secret_ids(state))
            } else {
                events(&["GetSecretValue", "BatchGetSecretValue"])
            };
            let not = not_by(&pack.exclude_principals);
            out.push(Rule {
                id: "SECRET-READ".into(),
                title: "A secret value is read".into(),
                metric: "SecretValueRead".into(),
                pattern: format!("{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {reads}{not} }}"),
                control: None,
            });
            // Issue 25, item 1: reads by a principal outside a secret's `readers`. A role's
            // session is `userIdentity.arn` = `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
            // with the role in `userIdentity.sessionContext.sessionIssuer.arn`; a user is its own
            // `userIdentity.arn` (CloudTrail userIdentity element reference). A comparison on a
            // missing field is false in a filter pattern, `!=` included, hence `NOT EXISTS`.
            let watched: Vec<&crate::Secret> = state.secrets.iter().filter(|s| !s.readers.is_empty()).collect();
            if !watched.is_empty() {
                let per_secret: Vec<String> = watched
                    .iter()
                    .map(|s| {
                        let id = format!(
                            "(($.requestParameters.secretId = {}) || ($.requestParameters.secretId = {}))",
                            quoted(&s.name),
                            quoted(&format!("arn:aws:secretsmanager:*:secret:{}-*", s.name))
                        );
                        let others: String = s
                            .readers
                            .iter()
                            .map(|r| {
                                format!(
                                    " && ($.userIdentity.arn != {r}) && (($.userIdentity.sessionContext.sessionIssuer.arn NOT EXISTS) || ($.userIdentity.sessionContext.sessionIssuer.arn != {r}))",
                                    r = quoted(r)
                                )
                            })
                            .collect();
                        format!("({id}{others})")
                    })
                    .collect();
                out.push(Rule {
                    id: "SECRET-READ-UNEXPECTED".into(),
                    title: "A secret is read by a principal outside its readers".into(),
                    metric: "SecretReadUnexpected".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") && {}{not} }}",
                        or_all(per_secret)
                    ),
                    control: None,
                });
            }
            // Issue 25, item 1: reads refused (a principal trying secrets it may not read: an
            // attacker probing with stolen credentials), and enumeration (listing the secrets, or
            // reading them by a filter query instead of by name: Stratus's two techniques).
            let denied_reads = if pack.only_spec_secrets {
                format!("{} && {}", events(&["GetSecretValue", "BatchGetSecretValue", "DescribeSecret"]), secret_ids(state))
            } else {
                events(&["GetSecretValue", "BatchGetSecretValue", "DescribeSecret"])
            };
            out.push(Rule {
                id: "SECRET-READ-DENIED".into(),
                title: "A secret read is refused (AccessDenied)".into(),
                metric: "SecretReadDenied".into(),
                pattern: format!(
                    "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {denied_reads} && ($.errorCode = \"AccessDenied*\"){not} }}"
                ),
                control: None,
            });
            if !pack.only_spec_secrets {
                out.push(Rule {
                    id: "SECRET-ENUMERATION".into(),
                    title: "Secrets are listed, or read by a filter query rather than by name".into(),
                    metric: "SecretEnumeration".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && (($.eventName = \"ListSecrets\") || (($.eventName = \"BatchGetSecretValue\") && ($.requestParameters.filters[0].key = \"*\"))){not} }}"
                    ),
                    control: None,
                });
            }
            // The other stores of secret values an attacker reads (issue 25, item 1; Stratus
            // Red Team's ssm-retrieve-securestring-parameters and ec2-get-password-data). They
            // are not the spec's secrets: `only_spec_secrets` leaves them out.
            if !pack.only_spec_secrets {
                let parameters = events(&["GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"]);
                out.push(Rule {
                    id: "PARAMETER-READ".into(),
                    title: "A Systems Manager parameter is read decrypted (SecureString values)".into(),
                    metric: "ParameterValueRead".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"ssm.amazonaws.com\") && {parameters} && ($.requestParameters.withDecryption IS TRUE){not} }}"
                    ),
                    control: None,
                });
                out.push(Rule {
                    id: "PASSWORD-DATA-READ".into(),
                    title: "An EC2 Windows instance's administrator password data is read (attempts included)".into(),
                    metric: "InstancePasswordDataRead".into(),
                    pattern: format!("{{ ($.eventSource = \"ec2.amazonaws.com\") && ($.eventName = \"GetPasswordData\"){not} }}"),
                    control: None,
                });
            }
        }
        "self-protection" => {
            if state.trail.is_none() && state.external_trail.is_none() {
                return Err("self-protection guards the trail: the spec needs a `trail`".into());
            }
            let not = not_by(&pack.exclude_principals);
            // A trail another tool owns (`trail.external`) is that tool's to guard: its log group,
            // where this spec's filters are, is guarded here all the same.
            if let Some(trail) = state.trail.as_ref() {
                let trail_ids = or_all(
                    ["name", "trailName"]
                        .iter()
                        .flat_map(|k| {
                            [
                                format!("($.requestParameters.{k} = {})", quoted(&trail.name)),
                                format!("($.requestParameters.{k} = {})", quoted(&format!("arn:aws:cloudtrail:*:trail/{}", trail.name))),
                            ]
                        })
                        .collect(),
                );
                out.push(Rule {
                    id: "GUARD-TRAIL".into(),
                    title: format!("Trail {} stopped, deleted, or its selectors or delivery changed", trail.name),
                    metric: "GuardTrail".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"cloudtrail.amazonaws.com\") && {} && {trail_ids}{not} }}",
                        events(&["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors", "RemoveTags"])
                    ),
                    control: None,
                });
            }
            if let Some(log_group) = state.log_group_pattern() {
                out.push(Rule {
                    id: "GUARD-LOGS".into(),
                    title: format!("Log group {log_group} or its metric filters deleted or changed"),
                    metric: "GuardLogGroup".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"logs.amazonaws.com\") && {} && ($.requestParameters.logGroupName = {}){not} }}",
                        events(&[
                            "DeleteLogGroup",
                            "DeleteMetricFilter",
                            "PutMetricFilter",
                            "PutRetentionPolicy",
                            "DeleteRetentionPolicy",
                            "AssociateKmsKey",
                            // Issue 25, item 2: events removed, copied out, or left unencrypted.
                            "DeleteLogStream",
                            "PutSubscriptionFilter",
                            "CreateExportTask",
                            "DisassociateKmsKey"
                        ]),
                        quoted(&log_group)
                    ),
                    control: None,
                });
            }
            if let Some(trail) = state.trail.as_ref() {
                // Issue 25, item 2: the log files' buckets (versioning suspended, access logging
                // off, policy, lifecycle, encryption or public access block changed, the bucket
                // deleted) and the delivery role.
                let buckets = or_all(
                    std::iter::once(trail.bucket.name.clone())
                        .chain(trail.bucket.access_log_bucket_name())
                        .map(|b| format!("($.requestParameters.bucketName = {})", quoted(&b)))
                        .collect(),
                );
                out.push(Rule {
                    id: "GUARD-BUCKETS".into(),
                    title: format!("The log buckets of trail {} reconfigured or deleted", trail.name),
                    metric: "GuardBuckets".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"s3.amazonaws.com\") && {} && {buckets}{not} }}",
                        events(&[
                            "PutBucketVersioning",
                            "PutBucketLogging",
                            "PutBucketPolicy",
                            "DeleteBucketPolicy",
                            "PutBucketLifecycle",
                            "DeleteBucketLifecycle",
                            "PutBucketEncryption",
                            "DeleteBucketEncryption",
                            "PutBucketPublicAccessBlock",
                            "DeleteBucketPublicAccessBlock",
                            "PutBucketOwnershipControls",
                            "DeleteBucket"
                        ])
                    ),
                    control: None,
                });
            }
            if let Some(role) = state.trail_role_name() {
                // With a heartbeat (issue 24, item 3), its two roles are guarded too.
                let mut roles = vec![role.clone()];
                roles.extend(state.heartbeat_names().map(|n| [n.reader_role, n.starter_role]).into_iter().flatten());
                let names = or_all(roles.iter().map(|r| format!("($.requestParameters.roleName = {})", quoted(r))).collect());
                out.push(Rule {
                    id: "GUARD-ROLE".into(),
                    title: format!("Delivery role {role} deleted or its policies changed"),
                    metric: "GuardDeliveryRole".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"iam.amazonaws.com\") && {} && {names}{not} }}",
                        events(&[
                            "DeleteRole",
                            "PutRolePolicy",
                            "DeleteRolePolicy",
                            "AttachRolePolicy",
                            "DetachRolePolicy",
                            "UpdateAssumeRolePolicy"
                        ])
                    ),
                    control: None,
                });
            }
            // Other audit logs an attacker deletes to go unseen (Stratus `defense-evasion.
            // vpc-remove-flow-logs` and `dns-delete-logs`).
            out.push(Rule {
                id: "GUARD-AUDIT-LOGS".into(),
                title: "VPC flow logs or Route 53 Resolver query logging deleted".into(),
                metric: "GuardAuditLogs".into(),
                pattern: format!(
                    "{{ ((($.eventSource = \"ec2.amazonaws.com\") && ($.eventName = \"DeleteFlowLogs\")) || (($.eventSource = \"route53resolver.amazonaws.com\") && {})){not} }}",
                    events(&["DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig"])
                ),
                control: None,
            });
            out.push(Rule {
                id: "GUARD-ALARMS".into(),
                title: "Alarms deleted, disabled, changed or forced into a state".into(),
                metric: "GuardAlarms".into(),
                pattern: {
                    // The alert context's EventBridge rules and the heartbeat's schedule rule and
                    // state machine (issue 24) are alerting too: all named `secmon-<spec>-*`.
                    let ours = format!("secmon-{}-*", state.name);
                    let context = state.alert_context || state.monitors.iter().any(|m| m.alert_context == Some(true));
                    let mut also = Vec::new();
                    if context || state.heartbeat.is_some() {
                        also.push(format!(
                            "(($.eventSource = \"events.amazonaws.com\") && {} && (($.requestParameters.name = {}) || ($.requestParameters.rule = {})))",
                            events(&["DisableRule", "DeleteRule", "RemoveTargets", "PutRule", "PutTargets"]),
                            quoted(&ours),
                            quoted(&ours)
                        ));
                    }
                    if state.heartbeat.is_some() {
                        also.push(format!(
                            "(($.eventSource = \"states.amazonaws.com\") && {} && ($.requestParameters.stateMachineArn = {}))",
                            events(&["DeleteStateMachine", "UpdateStateMachine"]),
                            quoted(&format!("arn:aws:states:*:stateMachine:secmon-{}-*", state.name))
                        ));
                    }
                    // The Contributor Insights rules of `contributors` (issue 25, item 1) feed
                    // alarms: deleting, disabling or rewriting one silences its alarm.
                    let per_principal = state.packs.iter().any(|p| matches!(p, PackEntry::Options(o) if !contributor_rules(o).is_empty()));
                    let alarms = if state.contributors.is_empty() && !per_principal {
                        events(&["DeleteAlarms", "DisableAlarmActions", "PutMetricAlarm", "SetAlarmState"])
                    } else {
                        events(&[
                            "DeleteAlarms",
                            "DisableAlarmActions",
                            "PutMetricAlarm",
                            "SetAlarmState",
                            "DeleteInsightRules",
                            "DisableInsightRules",
                            "PutInsightRule",
                        ])
                    };
                    if also.is_empty() {
                        format!("{{ ($.eventSource = \"monitoring.amazonaws.com\") && {alarms}{not} }}")
                    } else {
                        format!("{{ ((($.eventSource = \"monitoring.amazonaws.com\") && {alarms}) || {}){not} }}", also.join(" || "))
                    }
                },
                control: None,
            });
            // Issue 25, item 2: the EventBridge rules that carry other alerts (GuardDuty's
            // findings to a topic): an intruder disables the route instead of the detector. Only
            // the rules the spec names: everywhere else rules change with every deploy.
            if !pack.watch_event_rules.is_empty() {
                let names = or_all(
                    pack.watch_event_rules
                        .iter()
                        .flat_map(|r| {
                            [format!("($.requestParameters.name = {})", quoted(r)), format!("($.requestParameters.rule = {})", quoted(r))]
                        })
                        .collect(),
                );
                out.push(Rule {
                    id: "GUARD-EVENT-RULES".into(),
                    title: "EventBridge rules carrying alerts disabled, deleted or retargeted".into(),
                    metric: "GuardEventRules".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"events.amazonaws.com\") && {} && {names}{not} }}",
                        events(&["DisableRule", "DeleteRule", "RemoveTargets", "PutRule", "PutTargets"])
                    ),
                    control: None,
                });
            }
            if !state.topics.is_empty() {
                let arns = or_all(
                    state
                        .topics
                        .iter()
                        .flat_map(|t| {
                            [
                                format!("($.requestParameters.topicArn = {})", quoted(&format!("arn:aws:sns:*:{}", t.name))),
                                format!("($.requestParameters.subscriptionArn = {})", quoted(&format!("arn:aws:sns:*:{}:*", t.name))),
                            ]
                        })
                        .collect(),
                );
                out.push(Rule {
                    id: "GUARD-TOPICS".into(),
                    title: format!(
                        "Topics {} or their subscriptions deleted or changed",
                        state.topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    metric: "GuardTopics".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"sns.amazonaws.com\") && {} && {arns}{not} }}",
                        events(&[
                            "DeleteTopic",
                            "SetTopicAttributes",
                            "AddPermission",
                            "RemovePermission",
                            "Unsubscribe",
                            "SetSubscriptionAttributes"
                        ])
                    ),
                    control: None,
                });
            }
            if !state.secrets.is_empty() {
                let ids = secret_ids(state);
                out.push(Rule {
                    id: "GUARD-SECRETS".into(),
                    title: format!(
                        "Secrets {} deleted, re-keyed or their resource policy changed",
                        state.secrets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    metric: "GuardSecrets".into(),
                    pattern: format!(
                        "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {} && {ids}{not} }}",
                        events(&["DeleteSecret", "PutResourcePolicy", "DeleteResourcePolicy", "UpdateSecret", "ReplicateSecretToRegions"])
                    ),
                    control: None,
                });
            }
            // Issue 25, item 2: the pipeline's key. DisableKey, ScheduleKeyDeletion and
            // PutKeyPolicy take a key id or ARN, never an alias (KMS API reference), and the
            // managed key's id is AWS's to choose: for it, a key policy replaced or rotation
            // turned off on any key (rare, and able to cut CloudWatch off the key silently), and
            // its alias deleted or moved; a key brought by ARN is watched by its id and ARN.
            if let Some(key) = state.key_ref() {
                let scope = match state.brought_key() {
                    Some(arn) => {
                        let id = arn.rsplit('/').next().unwrap_or_default().to_string();
                        format!(
                            "{} && (($.requestParameters.keyId = {}) || ($.requestParameters.keyId = {}))",
                            events(&["PutKeyPolicy", "DisableKeyRotation", "DisableKey", "ScheduleKeyDeletion"]),
                            quoted(&arn),
                            quoted(&id)
                        )
                    }
                    None => format!(
                        "({} || ({} && ($.requestParameters.aliasName = {})))",
                        events(&["PutKeyPolicy", "DisableKeyRotation"]),
                        events(&["DeleteAlias", "UpdateAlias"]),
                        quoted(&key)
                    ),
                };
                out.push(Rule {
                    id: "GUARD-KEY".into(),
                    title: format!("The pipeline's key ({key}): its policy replaced, its rotation turned off, or its alias moved"),
                    metric: "GuardKey".into(),
                    pattern: format!("{{ ($.eventSource = \"kms.amazonaws.com\") && {scope}{not} }}"),
                    control: None,
                });
            }
            // The account's other detectors, turned off to hide what follows (Panther's and
            // Datadog's rule sets watch these): GuardDuty's detector deleted, disabled or its
            // findings' export removed; Security Hub disabled or its standards turned off.
            let guardduty = format!(
                "(($.eventSource = \"guardduty.amazonaws.com\") && ({} || (($.eventName = \"UpdateDetector\") && ($.requestParameters.enable IS FALSE))))",
                events(&["DeleteDetector", "DeletePublishingDestination", "DisassociateFromMasterAccount", "DisassociateFromAdministratorAccount", "StopMonitoringMembers"])
            );
            let securityhub = format!(
                "(($.eventSource = \"securityhub.amazonaws.com\") && {})",
                events(&["DisableSecurityHub", "BatchDisableStandards", "DisableImportFindingsForProduct"])
            );
            // Issue 25, item 2: AWS Config rules and conformance packs deleted by a person (the
            // rules Security Hub's own controls run on included); Security Hub and Config delete
            // theirs through a service (`invokedBy`), which is not tampering.
            let config = format!(
                "(($.eventSource = \"config.amazonaws.com\") && {} && ($.userIdentity.invokedBy NOT EXISTS))",
                events(&["DeleteConfigRule", "DeleteConformancePack", "DeleteOrganizationConfigRule", "DeleteOrganizationConformancePack"])
            );
            out.push(Rule {
                id: "GUARD-DETECTORS".into(),
                title: "GuardDuty or Security Hub disabled, or their findings cut off".into(),
                metric: "GuardDetectors".into(),
                pattern: format!("{{ ({guardduty} || {securityhub} || {config}){not} }}"),
                control: None,
            });
        }
        "decoys" => {
            let decoys: Vec<&crate::Secret> = state.secrets.iter().filter(|s| s.decoy).collect();
            if decoys.is_empty() {
                return Err("the decoys pack watches the secrets marked `decoy: true`: the spec has none".into());
            }
            let ids = or_all(
                decoys
                    .iter()
                    .flat_map(|s| {
                        [
                            format!("($.requestParameters.secretId = {})", quoted(&s.name)),
                            format!(
                                "($.requestParameters.secretId = {})",
                                quoted(&format!("arn:aws:secretsmanager:*:secret:{}-*", s.name))
                            ),
                        ]
                    })
                    .collect(),
            );
            // BatchGetSecretValue "generates CloudTrail GetSecretValue log entries for each
            // secret you request" (Secrets Manager API reference): GetSecretValue covers both.
            out.push(Rule {
                id: "DECOY-READ".into(),
                title: "A decoy secret's value is read".into(),
                metric: "DecoySecretRead".into(),
                pattern: format!(
                    "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && ($.eventName = \"GetSecretValue\") && {ids}{} }}",
                    not_by(&pack.exclude_principals)
                ),
                control: None,
            });
        }
        other => return Err(format!("unknown pack {other:?}")),
    }
    Ok(out)
}

/// One per-contributor rule of a pack (issue 25, item 1): a Contributor Insights rule and the
/// alarm on it, with the threshold the pack starts from.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributorRule {
    /// The rule's id, e.g. `SECRET-READS-BY-PRINCIPAL`.
    pub id: String,
    /// What it catches, in words.
    pub title: String,
    /// Its filter pattern (one a Contributor Insights rule can say).
    pub pattern: String,
    /// The fields whose values make a contributor.
    pub keys: Vec<String>,
    /// What the alarm compares.
    pub measure: crate::ContributorMeasure,
    /// The alarm's default threshold, over 300-second periods.
    pub threshold: f64,
}

/// The per-contributor rules of a pack for this state (only secret-access with `per_principal`).
/// The patterns carry no `exclude_principals`: a Contributor Insights filter has no wildcard
/// exclusion, and a per-principal threshold already leaves a reader's usual reads alone.
pub fn contributor_rules(pack: &PackRef) -> Vec<ContributorRule> {
    if pack.name != "secret-access" || !pack.per_principal {
        return Vec::new();
    }
    let principal = vec!["$.userIdentity.arn".to_string()];
    let reads = format!(
        "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {} && ($.errorCode NOT EXISTS) }}",
        events(&["GetSecretValue", "BatchGetSecretValue"])
    );
    vec![
        ContributorRule {
            id: "SECRET-READS-BY-PRINCIPAL".into(),
            title: "One principal reads many secret values".into(),
            pattern: reads.clone(),
            keys: principal.clone(),
            measure: crate::ContributorMeasure::MaxContributorValue,
            // An application that caches reads a secret a few times an hour (Secrets Manager's
            // caching guidance); 50 in 5 minutes is a sweep or a cache gone.
            threshold: 50.0,
        },
        ContributorRule {
            id: "SECRET-DENIALS-BY-PRINCIPAL".into(),
            title: "One principal is refused secrets repeatedly".into(),
            pattern: format!(
                "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {} && ($.errorCode = \"AccessDenied*\") }}",
                events(&["GetSecretValue", "BatchGetSecretValue", "DescribeSecret"])
            ),
            keys: principal.clone(),
            measure: crate::ContributorMeasure::MaxContributorValue,
            threshold: 5.0,
        },
        ContributorRule {
            id: "SECRET-ENUMERATION-BY-PRINCIPAL".into(),
            title: "One principal lists or describes secrets in a burst".into(),
            pattern: format!(
                "{{ ($.eventSource = \"secretsmanager.amazonaws.com\") && {} }}",
                events(&["ListSecrets", "DescribeSecret", "ListSecretVersionIds", "GetResourcePolicy"])
            ),
            keys: principal.clone(),
            measure: crate::ContributorMeasure::MaxContributorValue,
            // The console lists once per page and describes the secrets opened; a tool walking
            // every secret's metadata makes dozens a minute.
            threshold: 30.0,
        },
        ContributorRule {
            id: "SECRET-READ-SPREAD".into(),
            title: "Many distinct secrets read by principals".into(),
            pattern: reads,
            keys: vec![principal[0].clone(), "$.requestParameters.secretId".into()],
            measure: crate::ContributorMeasure::UniqueContributors,
            threshold: 20.0,
        },
    ]
}

/// The Contributor Insights rules (with their alarms) a pack contributes to the state.
pub fn expand_contributors(pack: &PackRef, state: &DesiredState) -> Vec<crate::Contributor> {
    let default_notify: Vec<String> = pack.notify.clone().unwrap_or_else(|| {
        if state.routes.is_empty() {
            state.topics.iter().map(|t| t.name.clone()).collect()
        } else {
            Vec::new()
        }
    });
    contributor_rules(pack)
        .into_iter()
        .filter(|r| !pack.disable.contains(&r.id))
        .map(|r| {
            let o = pack.rules.get(&r.id).cloned().unwrap_or_default();
            crate::Contributor {
                name: o.name.clone().unwrap_or_else(|| r.id.clone()),
                description: Some(
                    o.description.unwrap_or_else(|| format!("{} ({}, secmon pack {}). {}", r.title, r.id, pack.name, runbook(&r.id))),
                ),
                pattern: r.pattern,
                keys: r.keys,
                measure: r.measure,
                alarm: o.alarm.unwrap_or(Alarm { period: 300, threshold: r.threshold, ..Alarm::default() }),
                notify: o.notify.unwrap_or_else(|| default_notify.clone()),
                severity: Some(o.severity.unwrap_or_else(|| severity(&pack.name))),
                runbook: None,
                rule: Some(r.id),
            }
        })
        .collect()
}

/// The monitors a pack contributes to the state.
pub fn expand(pack: &PackRef, state: &DesiredState) -> Result<Vec<Monitor>, String> {
    // With `routes`, a pack's alarms go where their severity is routed (and to the pack's own
    // `notify`, when it has one); without, to every topic of the spec, as before routes existed.
    let default_notify: Vec<String> = pack.notify.clone().unwrap_or_else(|| {
        if state.routes.is_empty() {
            state.topics.iter().map(|t| t.name.clone()).collect()
        } else {
            Vec::new()
        }
    });
    let namespace = pack.namespace.clone().unwrap_or_else(|| {
        if pack.name == "cis-aws-foundations" {
            "CISBenchmark".into()
        } else {
            "SecmonPacks".into()
        }
    });
    let mut out = Vec::new();
    for r in rules(pack, state)? {
        if pack.disable.contains(&r.id) {
            continue;
        }
        let o = pack.rules.get(&r.id).cloned().unwrap_or_default();
        let name = o.name.clone().unwrap_or_else(|| format!("{}-{}", r.id, r.metric));
        out.push(Monitor {
            name: name.clone(),
            description: Some(
                o.description.unwrap_or_else(|| format!("{} ({}, secmon pack {}). {}", r.title, r.id, pack.name, runbook(&r.id))),
            ),
            pattern: r.pattern,
            filter_name: None,
            metric: Metric {
                namespace: namespace.clone(),
                name: o.metric.clone().unwrap_or(r.metric),
                value: "1".into(),
                default: Some(0.0),
                dimensions: BTreeMap::new(),
            },
            alarm: o.alarm.unwrap_or_default(),
            notify: o.notify.unwrap_or_else(|| default_notify.clone()),
            severity: Some(o.severity.unwrap_or_else(|| severity(&pack.name))),
            alert_context: o.alert_context,
            runbook: None,
            tests: Vec::new(),
            rule: Some(r.id),
        });
    }
    Ok(out)
}
