//! CloudTrail trail: settings, management event selectors, logging (started last).

use secmon_aws::cloudtrail::types::{EventSelector, ReadWriteType, Tag};
use secmon_aws::error_code;
use serde::{Deserialize, Serialize};

use crate::check::{Check, Status, VerifyCtx};
use crate::sdk::{read_each, send};
use crate::{
    normalize_arn, Aws, AwsError, ExecCtx, Facts, Fut, Kind, KindError, LiveResource, Ownership, ReadCtx, Resource, ResourceKind, Target,
    OWNER_TAG,
};
use secmon_spec::DesiredState;

/// The trail's settings, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attrs {
    /// The bucket it delivers log files to.
    pub bucket: Option<String>,
    /// Whether it records every region.
    pub multi_region: bool,
    /// An organization trail (`IsOrganizationTrail`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub organization: bool,
    /// Whether it writes digest files.
    pub log_file_validation: bool,
    /// Without the `:*` suffix CloudTrail adds.
    pub cloudwatch_logs_group_arn: Option<String>,
    /// The role it delivers to CloudWatch Logs through.
    pub cloudwatch_logs_role_arn: Option<String>,
    /// Name of the topic the trail notifies of each log file.
    pub sns_topic: Option<String>,
    /// Which management events it records.
    pub read_write: ReadWrite,
    /// Sorted.
    pub exclude_sources: Vec<String>,
    /// The management-events selector has `IncludeManagementEvents: false`: nothing secmon
    /// monitors is recorded.
    pub exclude_management_events: bool,
    /// Every other selector, as AWS describes it: data events of the first selector, further
    /// basic selectors, advanced selectors. The spec names none, so a plan shows them before
    /// apply replaces them (issue 11, item 11: they were read partially, then overwritten unseen).
    pub other_selectors: Vec<serde_json::Value>,
    /// Whether it is logging.
    pub logging: bool,
    /// The KMS key that encrypts the log files (SSE-KMS): the spec's key by its alias, or a key ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

crate::string_with_default! {
    /// The management events' read/write type; AWS's default is `All`.
    ReadWrite = "All"
}

impl Attrs {
    /// The settings CreateTrail/UpdateTrail write (selectors and logging have their own calls).
    fn settings(&self) -> impl PartialEq + '_ {
        (
            &self.bucket,
            self.multi_region,
            self.organization,
            self.log_file_validation,
            &self.cloudwatch_logs_group_arn,
            &self.cloudwatch_logs_role_arn,
            &self.sns_topic,
            &self.kms_key,
        )
    }
    /// CloudTrail wants the log group ARN in its `:*` form.
    fn group_arn(&self) -> Option<String> {
        self.cloudwatch_logs_group_arn.as_ref().map(|a| format!("{a}:*"))
    }
}

/// What the read sees of the trail's deliveries (GetTrailStatus), for verify.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Observed {
    /// The last error delivering to S3.
    pub s3_error: Option<String>,
    /// Seconds since the epoch.
    pub s3_time: Option<i64>,
    /// The last error delivering to CloudWatch Logs.
    pub logs_error: Option<String>,
    /// The last delivery to CloudWatch Logs, in seconds since the epoch.
    pub logs_time: Option<i64>,
}

/// How its resources are known to be the spec's, and the kinds they may refer to ([`Facts`]).
pub const FACTS: Facts = Facts {
    ownership: Ownership::OwnRead,
    refers_to: &[Kind::Bucket, Kind::LogGroup, Kind::Role, Kind::Topic, Kind::Key],
    step: 1,
    iam: crate::Iam {
        read: &["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors", "cloudtrail:ListTags"],
        write: &[
            "cloudtrail:CreateTrail",
            "cloudtrail:UpdateTrail",
            "cloudtrail:PutEventSelectors",
            "cloudtrail:StartLogging",
            "cloudtrail:AddTags",
            "cloudtrail:DeleteTrail",
            "iam:GetRole",
        ],
        writes_on: None,
    },
};
/// The settings CreateTrail and UpdateTrail share. With `clear`, an absent delivery is written
/// as an empty string, which UpdateTrail documents as removing it.
macro_rules! settings {
    ($request:expr, $r:expr, $a:expr, $clear:expr) => {{
        let or_clear = |v: Option<String>| if $clear { Some(v.unwrap_or_default()) } else { v };
        $request
            .name(&$r.name)
            .s3_bucket_name($a.bucket.clone().unwrap_or_default())
            .is_multi_region_trail($a.multi_region)
            .is_organization_trail($a.organization)
            .enable_log_file_validation($a.log_file_validation)
            .set_cloud_watch_logs_log_group_arn(or_clear($a.group_arn()))
            .set_cloud_watch_logs_role_arn(or_clear($a.cloudwatch_logs_role_arn.clone()))
            .set_sns_topic_name(or_clear($a.sns_topic.clone()))
            .set_kms_key_id(or_clear($a.kms_key.clone()))
    }};
}

/// The kind's implementation, listed in the registry ([`crate::Kind`]).
pub struct Def;

impl ResourceKind for Def {
    fn desired(&self, state: &DesiredState, t: &Target) -> Vec<Resource> {
        let Some(trail) = &state.trail else { return Vec::new() };
        let mut excludes = trail.management_events.exclude_sources.clone();
        excludes.sort();
        excludes.dedup();
        let role = state.trail_role_name();
        let attrs = Attrs {
            bucket: Some(trail.bucket.name.clone()),
            multi_region: trail.multi_region,
            organization: trail.organization,
            log_file_validation: trail.log_file_validation,
            cloudwatch_logs_group_arn: trail.cloudwatch_logs.as_ref().map(|cw| t.log_group_arn(&cw.log_group)),
            cloudwatch_logs_role_arn: trail.cloudwatch_logs.as_ref().and(role).map(|r| t.role_arn(&r)),
            sns_topic: trail.notify_topic.clone(),
            read_write: ReadWrite(trail.management_events.read_write.as_str().to_string()),
            exclude_sources: excludes,
            // Management events recorded, and no selector but the spec's.
            exclude_management_events: false,
            other_selectors: trail.s3_data_events.map(|rw| vec![s3_data_selector(rw.as_str())]).unwrap_or_default(),
            logging: true,
            kms_key: state.key_ref().filter(|_| state.encryption.trail),
        };
        vec![Resource::new(Kind::Trail, &trail.name, Some(t.trail_arn(&trail.name)), &attrs)]
    }

    /// S3 data events cost per event: the plan says so, with AWS's price (and, when the plan
    /// turns them on, an estimate from the account's usage: [`ResourceKind::estimate`]).
    fn plan_notes(&self, r: &Resource) -> Vec<String> {
        let a: Attrs = r.attrs();
        a.other_selectors
            .iter()
            .filter_map(|s| s["ReadWriteType"].as_str())
            .map(|rw| {
                format!(
                    "{}: records S3 data events ({rw}) of every bucket in every region it covers: $0.10 per 100,000 events delivered (CloudTrail pricing, data events), on top of S3's own request charges; a busy bucket makes millions a day",
                    r.address()
                )
            })
            .collect()
    }

    /// Turning S3 data events on (or changing which): what they would have cost over the last
    /// 30 days, from the account's S3 request counts in Cost Explorer (issue 25, item 3).
    fn estimate<'a>(&'a self, aws: &'a Aws, before: Option<&'a Resource>, after: &'a Resource) -> Fut<'a, Option<String>> {
        Box::pin(async move {
            let a: Attrs = after.attrs();
            let kinds: Vec<String> = a.other_selectors.iter().filter_map(|s| s["ReadWriteType"].as_str().map(str::to_string)).collect();
            let unchanged = before.is_some_and(|b| b.attrs::<Attrs>().other_selectors == a.other_selectors);
            if kinds.is_empty() || unchanged {
                return Ok(None);
            }
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
            let note = match s3_requests(aws, now).await {
                Ok(requests) => data_event_estimate(after.address().as_ref(), &kinds, requests),
                Err(e) => format!(
                    "{}: S3 data events not estimated: Cost Explorer did not answer ({}); they cost $0.10 per 100,000 delivered",
                    after.address(),
                    e.message()
                ),
            };
            Ok(Some(note))
        })
    }

    /// CreateTrail and UpdateTrail hand CloudTrail the delivery role, when the trail delivers
    /// to CloudWatch Logs.
    fn passes_role_to(&self, r: &Resource) -> Option<&'static str> {
        r.attrs::<Attrs>().cloudwatch_logs_role_arn.map(|_| "cloudtrail.amazonaws.com")
    }

    fn references(&self, r: &Resource) -> Vec<crate::Address> {
        let a: Attrs = r.attrs();
        let mut v = vec![crate::Address::new(Kind::Bucket, &a.bucket.unwrap_or_default())];
        if let Some(arn) = a.cloudwatch_logs_group_arn {
            v.push(crate::Address::new(Kind::LogGroup, arn.rsplit("log-group:").next().unwrap_or_default()));
        }
        if let Some(arn) = a.cloudwatch_logs_role_arn {
            v.push(crate::Address::new(Kind::Role, arn.rsplit('/').next().unwrap_or_default()));
        }
        if let Some(t) = a.sns_topic {
            v.push(crate::Address::new(Kind::Topic, &t));
        }
        v.extend(crate::key::reference(&a.kms_key));
        v
    }

    fn name_from_arn(&self, arn: &str) -> Option<String> {
        crate::model::arn_name(arn, "cloudtrail", "trail/")
    }

    fn eventually_consistent(&self, code: &str) -> bool {
        // CloudTrail refuses a bucket policy, role or topic policy for seconds after it is written.
        matches!(
            code,
            "InsufficientS3BucketPolicyException"
                | "InvalidCloudWatchLogsRoleArnException"
                | "InvalidCloudWatchLogsLogGroupArnException"
                | "InsufficientSnsTopicPolicyException"
                | "S3BucketDoesNotExistException"
                // A key policy just written is not yet seen by CloudTrail's check of it.
                | "InsufficientEncryptionPolicyException"
                // A key created a moment ago (KMS eventual consistency, issue 22, finding 4).
                | "KmsKeyNotFoundException"
        )
    }

    /// The key-policy refusal is waited for briefly only: with secmon's own key policy it is
    /// propagation, but a policy that lacks a statement (a key brought by ARN) fails the same
    /// way forever (issue 22, finding 1). A missing organization permission of the caller
    /// (`InsufficientDependencyServiceAccessPermissionException`) is never waited for (finding 5).
    fn patience(&self, e: &KindError) -> crate::Patience {
        match e.code() {
            Some("InsufficientEncryptionPolicyException") => crate::Patience::Brief,
            Some(c) if self.eventually_consistent(c) => crate::Patience::Propagation,
            _ => crate::Patience::None,
        }
    }

    fn hint(&self, e: &KindError) -> Option<String> {
        Some(match e.code()? {
            "InsufficientEncryptionPolicyException" => "the key policy must let cloudtrail.amazonaws.com use the key for this trail: \
                kms:GenerateDataKey* and kms:DescribeKey, and kms:Decrypt when the bucket uses an S3 Bucket Key \
                (CloudTrail user guide, \"Configure AWS KMS key policies for CloudTrail\"); `secmon verify` names the missing statement"
                .into(),
            "InsufficientDependencyServiceAccessPermissionException" => {
                "the identity running secmon lacks the Organizations permissions an \
                organization trail needs (organizations:DescribeOrganization, organizations:ListAWSServiceAccessForOrganization, \
                organizations:EnableAWSServiceAccess, iam:CreateServiceLinkedRole); `secmon permissions -f SPEC` prints them"
                    .into()
            }
            "CloudTrailAccessNotEnabledException" => "enable trusted access for CloudTrail in the organization's management account: \
                 `aws organizations enable-aws-service-access --service-principal cloudtrail.amazonaws.com`"
                .into(),
            "NotOrganizationManagementAccountException" => {
                "an organization trail is created from the organization's management account (not a member or delegated administrator)"
                    .into()
            }
            _ => return None,
        })
    }

    /// The trail exists, logs, and delivers to S3 and to the log group the spec names.
    fn verify(&self, ctx: &VerifyCtx, desired: &Resource) -> Vec<Check> {
        let subject = format!("trail {}", desired.name);
        let Some(live) = ctx.live_of(desired) else { return ctx.missing("trail.exists", &subject, "the trail does not exist") };
        let (want, got): (Attrs, Attrs) = (desired.attrs(), live.resource.attrs());
        let seen: Observed = live.observed();
        let mut out = vec![Check::ok("trail.exists", &subject, format!("bucket {}", got.bucket.as_deref().unwrap_or("?")))];
        out.push(if got.logging {
            Check::ok("trail.logging", &subject, "logging")
        } else {
            Check::failed("trail.logging", &subject, "logging is stopped: no event is recorded, nothing can fire")
                .fix("run `secmon apply` (it starts logging), and find out who stopped it: the self-protection pack alarms on StopLogging")
        });
        out.push(recorded(ctx, &subject, &got));
        let delivery = |id: &str, what: &str, error: &Option<String>, time: Option<i64>| {
            let never = format!("no {what} delivery yet");
            let never = (Status::Warning, never.as_str(), "wait a few minutes after apply");
            ctx.freshness(id, &subject, &format!("{what} delivery"), error.as_deref(), time, never)
        };
        out.push(delivery("trail.s3_delivery", "S3", &seen.s3_error, seen.s3_time));
        let Some(group) = &want.cloudwatch_logs_group_arn else {
            out.push(Check::warning("trail.cloudwatch_logs", &subject, "the spec has no trail.cloudwatch_logs: monitors cannot work"));
            return out;
        };
        let name = group.rsplit("log-group:").next().unwrap_or(group);
        let (got_group, got_role) = (got.cloudwatch_logs_group_arn.as_deref(), got.cloudwatch_logs_role_arn.as_deref());
        let delivers = got_group == Some(group.as_str()) && got_role.is_some();
        let (status, evidence, fix) = if !delivers {
            let (g, r) = (got_group.unwrap_or("none"), got_role.unwrap_or("none"));
            let evidence = format!(
                "CloudWatch Logs delivery is not configured as the spec says (log group {g}, role {r}): no event reaches the metric filters"
            );
            (Status::Failed, evidence, Some("run `secmon apply`"))
        } else if got_role == want.cloudwatch_logs_role_arn.as_deref() {
            (Status::Ok, format!("delivers to {name}"), None)
        } else {
            // The role checks judge the spec's role; this one is not the spec's to check.
            let spec_role = want.cloudwatch_logs_role_arn.as_deref().unwrap_or("none");
            let evidence = format!("delivers to {name} through role {}, not the spec's role {spec_role}", got_role.unwrap_or("none"));
            (Status::Warning, evidence, Some("`secmon plan` shows the drift; `secmon apply` points the trail at the spec's role"))
        };
        out.push(Check::new(status, "trail.cloudwatch_logs", &subject, evidence).fix_opt(fix));
        if delivers {
            out.push(delivery("trail.cloudwatch_logs_delivery", "CloudWatch Logs", &seen.logs_error, seen.logs_time));
        }
        out
    }

    fn read<'a>(&'a self, aws: &'a Aws, ctx: &'a ReadCtx<'a>) -> Fut<'a, Vec<LiveResource>> {
        Box::pin(async move {
            let mut out = read_each(ctx.desired_of(Kind::Trail), |d| read_trail(aws, ctx.spec, &d.name)).await?;
            // The log group of `trail.external`: the trails that feed it.
            for group in ctx.unmanaged_containers.iter().filter(|c| c.kind() == Kind::LogGroup) {
                out.extend(read_external(aws, ctx.spec, group.name()).await?);
            }
            Ok(out)
        })
    }

    /// `trail.external` (issue 25, item 4): a trail delivering to the spec's log group records
    /// read management events of Secrets Manager and is logging; or what verify cannot see.
    fn verify_unowned(&self, ctx: &VerifyCtx) -> Vec<Check> {
        let Some(group) = ctx.spec.external_trail.as_ref().and_then(|e| e.log_group.as_ref()) else { return Vec::new() };
        let subject = format!("log group {group} (another tool's trail)");
        let feeding: Vec<&LiveResource> = ctx
            .live
            .resources
            .values()
            .filter(|l| l.resource.kind == Kind::Trail && !l.owned)
            .filter(|l| l.resource.attrs::<Attrs>().cloudwatch_logs_group_arn.is_some_and(|a| a.contains(&format!(":log-group:{group}"))))
            .collect();
        if feeding.is_empty() {
            return vec![Check::warning(
                "trail.external",
                &subject,
                "no trail this account can see delivers to it: what records into it (an organization trail of another account?) cannot be checked from here",
            )
            .fix("run verify with the credentials of the account that owns the trail, or check the trail there")];
        }
        feeding
            .into_iter()
            .map(|l| {
                let a: Attrs = l.resource.attrs();
                let name = &l.resource.name;
                let blind = if !a.logging {
                    Some("is not logging".to_string())
                } else if a.exclude_management_events {
                    Some("records no management events".to_string())
                } else if a.read_write.0 == "WriteOnly" {
                    Some("records write events only: no GetSecretValue reaches the log group".to_string())
                } else if a.exclude_sources.iter().any(|s| s == "secretsmanager.amazonaws.com") {
                    Some("excludes Secrets Manager's events".to_string())
                } else {
                    None
                };
                match blind {
                    Some(why) => Check::failed("trail.external", &subject, format!("trail {name}, which delivers to it, {why}"))
                        .fix("the trail is another tool's: change it there (secmon never does)"),
                    None => Check::ok(
                        "trail.external",
                        &subject,
                        format!("trail {name} (not secmon's) delivers to it, logging, with Secrets Manager's read events"),
                    ),
                }
            })
            .collect()
    }

    fn create<'a>(&'a self, aws: &'a Aws, ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let a = with_key_arn(aws, r.attrs()).await?;
            let owner = Tag::builder().key(OWNER_TAG).value(&ctx.spec).build().expect("tag");
            let request = settings!(aws.cloudtrail.create_trail(), r, a, false).include_global_service_events(true).tags_list(owner);
            send("CreateTrail", request.send()).await?;
            put_selectors(aws, &r.name, &a).await?;
            start_logging(aws, &r.name).await
        })
    }

    fn update<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, before: &'a Resource, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let (before, a): (Attrs, Attrs) = (before.attrs(), r.attrs());
            if before.settings() != a.settings() {
                let key_unchanged = before.kms_key == a.kms_key;
                let a = with_key_arn(aws, a.clone()).await?;
                let mut request = settings!(aws.cloudtrail.update_trail(), r, a, true);
                // The key is written only when it changes (an empty value removes it): an
                // unrelated update of an unencrypted trail sends no KmsKeyId at all.
                if key_unchanged {
                    request = request.set_kms_key_id(None);
                }
                send("UpdateTrail", request.send()).await?;
            }
            let selectors =
                |x: &Attrs| (x.read_write.clone(), x.exclude_sources.clone(), x.exclude_management_events, x.other_selectors.clone());
            if selectors(&before) != selectors(&a) {
                put_selectors(aws, &r.name, &a).await?;
            }
            if before.logging != a.logging {
                start_logging(aws, &r.name).await?;
            }
            Ok(())
        })
    }

    /// By name: the trail lives in this region (moto also ignores ARNs here).
    fn delete<'a>(&'a self, aws: &'a Aws, _ctx: &'a ExecCtx, r: &'a Resource) -> Fut<'a, ()> {
        Box::pin(send("DeleteTrail", aws.cloudtrail.delete_trail().name(&r.name).send()))
    }

    fn tag<'a>(&'a self, aws: &'a Aws, r: &'a Resource, tags: Vec<(String, String)>) -> Fut<'a, ()> {
        let tags = tags.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("tag")).collect();
        let request = aws.cloudtrail.add_tags().resource_id(r.arn.clone().unwrap_or_default()).set_tags_list(Some(tags));
        Box::pin(send("AddTags", request.send()))
    }
}

/// `a` with its key as the key's ARN: the same value CloudTrail answers, whatever it was given.
async fn with_key_arn(aws: &Aws, mut a: Attrs) -> Result<Attrs, KindError> {
    if let Some(k) = &a.kms_key {
        a.kms_key = Some(crate::key::key_arn(aws, k).await?);
    }
    Ok(a)
}

/// The selector of S3 data events (`trail.s3_data_events`), in the form the read shows a
/// selector after the first: every object of every bucket ("To log data events for all objects
/// in all S3 buckets in your AWS account, specify the prefix as `arn:aws:s3`", CloudTrail user
/// guide, "Logging data events"), without management events, which the first selector records
/// with their own read/write type.
fn s3_data_selector(read_write: &str) -> serde_json::Value {
    serde_json::json!({
        "ReadWriteType": read_write,
        "IncludeManagementEvents": false,
        "ExcludeManagementEventSources": [],
        "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
    })
}

/// The spec's selectors: management events first, then S3 data events when asked for.
async fn put_selectors(aws: &Aws, name: &str, a: &Attrs) -> Result<(), KindError> {
    let mut selectors = vec![EventSelector::builder()
        .read_write_type(ReadWriteType::from(a.read_write.0.as_str()))
        .include_management_events(true)
        .set_exclude_management_event_sources(Some(a.exclude_sources.clone()))
        .build()];
    // The spec's other selectors ([`s3_data_selector`]), written as they are compared.
    for extra in &a.other_selectors {
        let Some(read_write) = extra["ReadWriteType"].as_str() else { continue };
        let data = extra["DataResources"].as_array().into_iter().flatten().map(|d| {
            let values = d["Values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string));
            secmon_aws::cloudtrail::types::DataResource::builder()
                .set_type(d["Type"].as_str().map(str::to_string))
                .set_values(Some(values.collect()))
                .build()
        });
        selectors.push(
            EventSelector::builder()
                .read_write_type(ReadWriteType::from(read_write))
                .include_management_events(false)
                .set_data_resources(Some(data.collect()))
                .build(),
        );
    }
    let request = aws.cloudtrail.put_event_selectors().trail_name(name).set_event_selectors(Some(selectors));
    send("PutEventSelectors", request.send()).await?;
    Ok(())
}

async fn start_logging(aws: &Aws, name: &str) -> Result<(), KindError> {
    send("StartLogging", aws.cloudtrail.start_logging().name(name).send()).await?;
    Ok(())
}

/// The events the monitors need are recorded: management events are on, and no event source a
/// monitor's pattern names is excluded from them.
fn recorded(ctx: &VerifyCtx, subject: &str, got: &Attrs) -> Check {
    if got.exclude_management_events {
        let evidence = "the trail records no management events (IncludeManagementEvents is false): no monitor can fire";
        return Check::failed("trail.management_events", subject, evidence).fix("run `secmon apply`");
    }
    let blinded = |sources: &[&String]| -> Vec<&str> {
        let monitors = ctx.spec.monitors.iter();
        monitors.filter(|m| sources.iter().any(|src| m.pattern.contains(src.as_str()))).map(|m| m.name.as_str()).collect()
    };
    // Sources the spec itself excludes: its choice, which validate and plan already warn about;
    // verify says the same, as a warning (issue 26, finding 13). Sources excluded out of band
    // blind the monitors without anyone having chosen it: broken.
    let chosen: &[String] = ctx.spec.trail.as_ref().map(|t| t.management_events.exclude_sources.as_slice()).unwrap_or_default();
    let (by_spec, by_hand): (Vec<&String>, Vec<&String>) = got.exclude_sources.iter().partition(|s| chosen.contains(s));
    let names = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let unchosen = blinded(&by_hand);
    if !unchosen.is_empty() {
        let evidence = format!("event sources excluded outside the spec ({}) blind: {}", names(&by_hand), unchosen.join(", "));
        return Check::failed("trail.management_events", subject, evidence)
            .fix("run `secmon apply` (it restores the spec's event selectors)");
    }
    let chosen_blind = blinded(&by_spec);
    if chosen_blind.is_empty() {
        return Check::ok("trail.management_events", subject, "management events recorded");
    }
    let evidence = format!(
        "the spec excludes {} from management events, so these monitors can never fire: {} (validate warns the same)",
        names(&by_spec),
        chosen_blind.join(", ")
    );
    Check::warning("trail.management_events", subject, evidence)
        .fix("remove those sources from `trail.management_events.exclude_sources`, or drop the monitors that watch them")
}

/// Every selector but the management-events part of the first basic one, in a JSON form that
/// shows in a plan.
fn other_selectors(answer: &secmon_aws::cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput) -> Vec<serde_json::Value> {
    use serde_json::json;
    let data = |s: &EventSelector| -> Vec<serde_json::Value> {
        s.data_resources().iter().map(|d| json!({"Type": d.r#type(), "Values": d.values()})).collect()
    };
    let mut out = Vec::new();
    for (i, s) in answer.event_selectors().iter().enumerate() {
        if i == 0 {
            if !s.data_resources().is_empty() {
                out.push(json!({"DataResources": data(s)}));
            }
            continue;
        }
        out.push(json!({
            "ReadWriteType": s.read_write_type().map(|r| r.as_str()),
            "IncludeManagementEvents": s.include_management_events(),
            "ExcludeManagementEventSources": s.exclude_management_event_sources(),
            "DataResources": data(s),
        }));
    }
    for a in answer.advanced_event_selectors() {
        let fields: Vec<serde_json::Value> = a
            .field_selectors()
            .iter()
            .map(|f| json!({"Field": f.field(), "Equals": f.equals(), "NotEquals": f.not_equals(), "StartsWith": f.starts_with()}))
            .collect();
        out.push(json!({"AdvancedEventSelector": a.name(), "FieldSelectors": fields}));
    }
    out
}

/// The trail's settings, logging status and event selectors, read concurrently; then its tags
/// (CloudTrail answers tags for up to 20 trails per call; one trail, one call).
/// The trails delivering to `group`, another tool's (found by DescribeTrails, organization
/// trails' shadows included), read as the spec's own trail is; ownership is their tags'.
async fn read_external(aws: &Aws, spec: &str, group: &str) -> Result<Vec<LiveResource>, KindError> {
    let all = aws.cloudtrail.describe_trails().include_shadow_trails(true).send().await.map_err(|e| AwsError::call("DescribeTrails", e))?;
    let feeding: Vec<String> = all
        .trail_list()
        .iter()
        .filter(|t| t.cloud_watch_logs_log_group_arn().is_some_and(|a| a.contains(&format!(":log-group:{group}"))))
        .filter_map(|t| t.trail_arn().map(str::to_string))
        .collect();
    // An organization trail seen from a member account may refuse its status or tags to this
    // account: such a trail is left out (verify then says what it cannot see), never an error
    // that would stop the plan of what this spec does own.
    let read = futures::future::join_all(feeding.iter().map(|arn| read_trail(aws, spec, arn))).await;
    Ok(read.into_iter().filter_map(|r| r.ok().flatten()).map(|l| LiveResource { owned: false, ..l }).collect())
}

/// The trail `name` (or ARN).
async fn read_trail(aws: &Aws, spec: &str, name: &str) -> Result<Option<LiveResource>, KindError> {
    let (desc, status, selectors) = tokio::join!(
        aws.cloudtrail.describe_trails().trail_name_list(name).include_shadow_trails(false).send(),
        aws.cloudtrail.get_trail_status().name(name).send(),
        aws.cloudtrail.get_event_selectors().trail_name(name).send(),
    );
    let desc = desc.map_err(|e| AwsError::call("DescribeTrails", e))?;
    let Some(t) = desc.trail_list().iter().find(|t| t.name() == Some(name) || t.trail_arn() == Some(name)) else {
        return Ok(None);
    };
    let (logging, observed) = match status {
        Ok(s) => (
            s.is_logging().unwrap_or(false),
            Observed {
                s3_error: s.latest_delivery_error().map(str::to_string),
                s3_time: s.latest_delivery_time().map(|t| t.secs()),
                logs_error: s.latest_cloud_watch_logs_delivery_error().map(str::to_string),
                logs_time: s.latest_cloud_watch_logs_delivery_time().map(|t| t.secs()),
            },
        ),
        Err(e) if error_code(&e) == Some("TrailNotFoundException") => return Ok(None),
        Err(e) => return Err(AwsError::call("GetTrailStatus", e).into()),
    };
    let selectors = selectors.map_err(|e| AwsError::call("GetEventSelectors", e))?;
    let arn = t.trail_arn().unwrap_or_default();
    let tags = aws.cloudtrail.list_tags().resource_id_list(arn).send().await.map_err(|e| AwsError::call("ListTags", e))?;
    let tag = |k: &str| tags.resource_tag_list().iter().flat_map(|r| r.tags_list()).find(|t| t.key() == k).and_then(|t| t.value());
    let sel = selectors.event_selectors().first();
    let mut excludes: Vec<String> = sel.map(|s| s.exclude_management_event_sources().to_vec()).unwrap_or_default();
    excludes.sort();
    let other_selectors = other_selectors(&selectors);
    let attrs = Attrs {
        bucket: t.s3_bucket_name().map(str::to_string),
        multi_region: t.is_multi_region_trail().unwrap_or(false),
        organization: t.is_organization_trail().unwrap_or(false),
        log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
        cloudwatch_logs_group_arn: t.cloud_watch_logs_log_group_arn().map(normalize_arn),
        cloudwatch_logs_role_arn: t.cloud_watch_logs_role_arn().map(str::to_string),
        sns_topic: t.sns_topic_arn().map(|a| a.rsplit(':').next().unwrap_or(a).to_string()),
        read_write: sel.and_then(|s| s.read_write_type()).map(|r| ReadWrite(r.as_str().to_string())).unwrap_or_default(),
        exclude_sources: excludes,
        exclude_management_events: sel.is_some_and(|s| s.include_management_events() == Some(false)),
        other_selectors,
        logging,
        kms_key: t.kms_key_id().filter(|k| !k.is_empty()).map(str::to_string),
    };
    Ok(Some(
        LiveResource::tagged(Resource::new(Kind::Trail, t.name().unwrap_or(name), t.trail_arn().map(str::to_string), &attrs), spec, tag)
            .with_observed(&observed),
    ))
}

/// The account's S3 requests over the 30 days before `now` (epoch seconds), as billed: (Tier 1:
/// PUT, COPY, POST, LIST; Tier 2: GET and the rest), every region, from Cost Explorer's
/// GetCostAndUsage (`UsageQuantity` by usage type, service "Amazon Simple Storage Service").
/// One request, which Cost Explorer bills $0.01.
async fn s3_requests(aws: &Aws, now: i64) -> Result<(f64, f64), KindError> {
    use secmon_aws::costexplorer::types::{
        DateInterval, Dimension, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType,
    };
    let day = |t: i64| secmon_sim::events::format_time(t)[..10].to_string();
    let period =
        DateInterval::builder().start(day(now - 30 * 86_400)).end(day(now)).build().map_err(|e| KindError::Input(e.to_string()))?;
    let s3 = DimensionValues::builder().key(Dimension::Service).values("Amazon Simple Storage Service").build();
    let results = aws
        .ce
        .get_cost_and_usage()
        .time_period(period)
        .granularity(Granularity::Monthly)
        .metrics("UsageQuantity")
        .filter(Expression::builder().dimensions(s3).build())
        .group_by(GroupDefinition::builder().r#type(GroupDefinitionType::Dimension).key("USAGE_TYPE").build())
        .send()
        .await
        .map_err(crate::sdk::fail("GetCostAndUsage"))?
        .results_by_time;
    let (mut tier1, mut tier2) = (0.0, 0.0);
    for group in results.iter().flatten().flat_map(|r| r.groups()) {
        let quantity: f64 =
            group.metrics().and_then(|m| m.get("UsageQuantity")).and_then(|v| v.amount()).and_then(|a| a.parse().ok()).unwrap_or(0.0);
        // Usage types carry a region prefix outside us-east-1: `EUW1-Requests-Tier1`.
        for key in group.keys() {
            if key.ends_with("Requests-Tier1") {
                tier1 += quantity;
            } else if key.ends_with("Requests-Tier2") {
                tier2 += quantity;
            }
        }
    }
    Ok((tier1, tier2))
}

/// The plan's note for data events of `kinds` (`WriteOnly`, `ReadOnly`, `All`) given the
/// account's (Tier 1, Tier 2) S3 requests of the last 30 days, at $0.10 per 100,000 events
/// delivered (CloudTrail pricing). Write data events are about Tier 1 (which also holds LIST, a
/// read, and lacks DELETE, which S3 does not bill), read ones about Tier 2: an estimate of the
/// order of magnitude, said as such.
fn data_event_estimate(address: &str, kinds: &[String], (tier1, tier2): (f64, f64)) -> String {
    let events: f64 = kinds
        .iter()
        .map(|k| match k.as_str() {
            "WriteOnly" => tier1,
            "ReadOnly" => tier2,
            _ => tier1 + tier2,
        })
        .sum();
    let dollars = events / 100_000.0 * 0.10;
    format!(
        "{address}: S3 data events ({}) estimated at about ${dollars:.2} a month: the account made {} S3 requests in the last 30 days ({} PUT, COPY, POST or LIST; {} GET and others, every region, Cost Explorer), at $0.10 per 100,000 events delivered; the estimate cost one Cost Explorer request ($0.01)",
        kinds.join(", "),
        thousands(tier1 + tier2),
        thousands(tier1),
        thousands(tier2)
    )
}

/// `1234567.0` as `1,234,567`.
fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 25, item 3: write data events are estimated from Tier 1 requests, read ones from
    /// Tier 2, both from their sum, at $0.10 per 100,000.
    #[test]
    fn data_events_are_estimated_from_the_request_tier_they_bill_like() {
        let note = |kinds: &[&str]| {
            data_event_estimate("trail.t", &kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>(), (2_500_000.0, 10_000_000.0))
        };
        assert!(note(&["WriteOnly"]).contains("about $2.50 a month"), "{}", note(&["WriteOnly"]));
        assert!(note(&["ReadOnly"]).contains("about $10.00 a month"));
        assert!(note(&["All"]).contains("about $12.50 a month") && note(&["All"]).contains("12,500,000 S3 requests"));
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(0.0), "0");
    }
    use crate::check::testing::*;

    /// The trail's checks after `edit` changed its attributes and what was observed of it.
    fn trail_checks(edit: impl FnOnce(&mut Attrs, &mut Observed)) -> Vec<Check> {
        let (spec, mut live) = world();
        let trail = first(&mut live, Kind::Trail);
        let (mut a, mut seen): (Attrs, Observed) = (trail.resource.attrs(), trail.observed());
        edit(&mut a, &mut seen);
        *trail = trail.clone().with_observed(&seen);
        set_attrs(&mut live, Kind::Trail, &a);
        run(&spec, &live, &Default::default(), Kind::Trail)
    }

    #[test]
    fn a_stopped_trail_fails_logging() {
        let checks = trail_checks(|a, _| a.logging = false);
        assert_eq!(status(&checks, "trail.exists"), Status::Ok);
        assert_eq!(status(&checks, "trail.logging"), Status::Failed);
    }

    #[test]
    fn deliveries_are_fresh_stale_failed_or_not_yet() {
        let fresh = trail_checks(|_, seen| {
            seen.s3_time = Some(1_000_000 - 60);
            seen.logs_error = Some("AccessDenied".into());
        });
        assert_eq!(status(&fresh, "trail.s3_delivery"), Status::Ok);
        assert_eq!(status(&fresh, "trail.cloudwatch_logs_delivery"), Status::Failed);
        let stale = trail_checks(|_, seen| seen.s3_time = Some(1_000_000 - 2 * crate::check::STALE_SECS));
        assert_eq!(status(&stale, "trail.s3_delivery"), Status::Warning);
        assert_eq!(status(&stale, "trail.cloudwatch_logs_delivery"), Status::Warning);
    }

    #[test]
    fn data_and_advanced_selectors_are_read_so_that_a_plan_shows_them() {
        use secmon_aws::cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
        use secmon_aws::cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector, DataResource};
        let s3 = DataResource::builder().r#type("AWS::S3::Object").values("arn:aws:s3:::b/").build();
        let first = EventSelector::builder().include_management_events(true).data_resources(s3).build();
        let field = AdvancedFieldSelector::builder().field("eventCategory").equals("Data").build().unwrap();
        let advanced = AdvancedEventSelector::builder().name("by hand").field_selectors(field).build().unwrap();
        let answer = GetEventSelectorsOutput::builder().event_selectors(first).advanced_event_selectors(advanced).build();
        let others = other_selectors(&answer);
        assert_eq!(others.len(), 2, "{others:?}");
        assert_eq!(others[0]["DataResources"][0]["Type"], "AWS::S3::Object");
        assert_eq!(others[1]["AdvancedEventSelector"], "by hand");
        let plain = GetEventSelectorsOutput::builder().event_selectors(EventSelector::builder().build()).build();
        assert!(other_selectors(&plain).is_empty(), "the management selector alone is the spec's");
    }

    #[test]
    fn a_trail_that_records_no_management_events_or_excludes_a_monitored_source_is_named() {
        // Regression (issue 11, item 11): IncludeManagementEvents=false went unnoticed.
        assert_eq!(status(&trail_checks(|_, _| {}), "trail.management_events"), Status::Ok);
        let off = trail_checks(|a, _| a.exclude_management_events = true);
        assert_eq!(status(&off, "trail.management_events"), Status::Failed);
        let blind = trail_checks(|a, _| a.exclude_sources.push("secretsmanager.amazonaws.com".into()));
        assert_eq!(status(&blind, "trail.management_events"), Status::Failed, "excluded out of band");
    }

    /// Issue 26, finding 13: a source the spec itself excludes is the warning validate gave,
    /// not a failure after a clean apply.
    #[test]
    fn finding_13_a_source_the_spec_excludes_is_a_warning_as_in_validate() {
        use crate::check::testing::*;
        let mut spec = seed();
        let trail = spec.trail.as_mut().unwrap();
        trail.management_events.exclude_sources = vec!["secretsmanager.amazonaws.com".into()];
        let live = converged(&spec);
        let checks = run(&spec, &live, &Default::default(), Kind::Trail);
        let c = checks.iter().find(|c| c.id == "trail.management_events").unwrap();
        assert_eq!(c.status, Status::Warning, "{}", c.evidence);
        assert!(c.evidence.contains("the spec excludes secretsmanager.amazonaws.com"), "{}", c.evidence);
    }

    #[test]
    fn a_trail_delivering_elsewhere_fails_and_a_missing_one_says_so() {
        let checks = trail_checks(|a, _| a.cloudwatch_logs_group_arn = None);
        assert_eq!(status(&checks, "trail.cloudwatch_logs"), Status::Failed);
        let elsewhere = trail_checks(|a, _| a.cloudwatch_logs_role_arn = Some("arn:aws:iam::123456789012:role/Console".into()));
        assert_eq!(status(&elsewhere, "trail.cloudwatch_logs"), Status::Warning);
        assert_eq!(verdict(&seed(), &Default::default(), Kind::Trail, "trail.exists"), Status::Failed);
    }

    fn refused(code: &str) -> KindError {
        KindError::Aws(secmon_aws::AwsError::Call {
            operation: "CreateTrail".into(),
            code: Some(code.into()),
            message: format!("{code}: ..."),
        })
    }

    /// Issue 22, finding 5: a permission the caller lacks is not propagation.
    #[test]
    fn finding_5_missing_organization_permission_is_not_waited_for() {
        let e = refused("InsufficientDependencyServiceAccessPermissionException");
        assert_eq!(Def.patience(&e), crate::Patience::None);
        assert!(Def.hint(&e).unwrap().contains("organizations:"));
        assert_eq!(Def.patience(&refused("CloudTrailAccessNotEnabledException")), crate::Patience::None);
        assert!(Def.hint(&refused("CloudTrailAccessNotEnabledException")).unwrap().contains("enable-aws-service-access"));
    }

    /// Issue 22, finding 1: the key-policy refusal is retried briefly (propagation of a policy
    /// just written), then fails naming the statement CloudTrail needs.
    #[test]
    fn finding_1_key_policy_refusal_is_brief_and_names_the_statement() {
        let e = refused("InsufficientEncryptionPolicyException");
        assert_eq!(Def.patience(&e), crate::Patience::Brief);
        assert!(Def.hint(&e).unwrap().contains("kms:Decrypt"));
        assert_eq!(Def.patience(&refused("KmsKeyNotFoundException")), crate::Patience::Propagation, "finding 4");
        assert_eq!(Def.patience(&refused("InvalidCloudWatchLogsRoleArnException")), crate::Patience::Propagation);
    }
}
