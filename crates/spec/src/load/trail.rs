//! `trail:`: the trail, its bucket, its management events and its CloudWatch Logs delivery.

use super::yaml::{is_null, Node};
use super::Loader;
use crate::diag::{did_you_mean, Severity};
use crate::model::*;
use crate::rules;

impl Loader<'_> {
    pub(super) fn trail(&mut self, n: &Node, path: &str, region: &str) -> Option<Trail> {
        let o = self.obj::<Trail>(n, path)?;
        // `trail: {external: {...}}`: a trail another tool owns, and nothing else (issue 25, item 4).
        if let Some(e) = o.get("external").filter(|n| !super::yaml::is_null(n)) {
            let others: Vec<String> = o.fields.iter().map(|(k, _)| k.clone()).filter(|k| k != "external").collect();
            if let Some(first) = others.first() {
                let at = self.locs.get(&o.path(first)).copied().unwrap_or(o.pos);
                self.error(
                    at,
                    &o.path(first),
                    format!("a trail is either secmon's or `external`: `{first}` describes a trail secmon would make"),
                    Some("keep `external: {log_group: NAME}` alone, or remove it and describe the trail".into()),
                );
            }
            let ep = o.path("external");
            let eo = self.obj::<ExternalTrail>(e, &ep)?;
            let log_group = self.checked_name(&eo, "log_group", false, region, rules::log_group_name);
            let prefix = self.checked_name(&eo, "prefix", false, region, rules::log_group_name);
            if log_group.is_some() == prefix.is_some() {
                let at = self.locs.get(&ep).copied().unwrap_or(o.pos);
                self.error(
                    at,
                    &ep,
                    "name the log group: exactly one of `log_group` (its name) and `prefix` (the start of its name)",
                    Some("`external: {log_group: aws-controltower/CloudTrailLogs}`".into()),
                );
            }
            return Some(Trail { external: Some(ExternalTrail { log_group, prefix }), ..Default::default() });
        }
        let name = self.checked_name(&o, "name", true, region, rules::trail_name);
        let multi_region = self.opt_bool(&o, "multi_region").unwrap_or_else(yes);
        let organization = self.opt_bool(&o, "organization").unwrap_or(false);
        if organization && !multi_region {
            let at = self.locs[&o.path("organization")];
            self.error(
                at,
                &o.path("organization"),
                "an organization trail is multi-region: CloudTrail refuses one that is not",
                Some("remove `multi_region: false`".into()),
            );
        }
        let log_file_validation = self.opt_bool(&o, "log_file_validation").unwrap_or_else(yes);
        let bucket = self.require(&o, "bucket").and_then(|b| {
            let bp = o.path("bucket");
            let bo = self.obj::<Bucket>(b, &bp)?;
            let name = self.req_string(&bo, "name")?;
            let at = self.locs[&bo.path("name")];
            self.check_name(at, &bo.path("name"), &name, region, rules::bucket_name);
            let expire = self.nullable_uint(&bo, "expire_logs_after_days", default_expiry());
            if expire == Some(0) {
                let at = self.locs[&bo.path("expire_logs_after_days")];
                self.error(at, &bo.path("expire_logs_after_days"), "must be at least 1 day (or null to keep logs forever)", None);
            }
            // Hardening is on by default; turning an item off is allowed, and said.
            let versioning = self.opt_bool(&bo, "versioning").unwrap_or_else(default_true);
            let disable_acls = self.opt_bool(&bo, "disable_acls").unwrap_or_else(default_true);
            let access_logging = self.opt_bool(&bo, "access_logging").unwrap_or_else(default_true);
            let access_log_bucket = self.opt_string(&bo, "access_log_bucket");
            let bucket = Bucket { name: name.clone(), expire_logs_after_days: expire, versioning, disable_acls, access_logging, access_log_bucket };
            if let Some(log_bucket) = bucket.access_log_bucket_name() {
                let field = bo.path("access_log_bucket");
                match self.locs.get(&field).copied() {
                    Some(at) => {
                        self.check_name(at, &field, &log_bucket, region, rules::bucket_name);
                        if log_bucket == name {
                            self.error(at, &field, "the access-log bucket must not be the trail bucket itself: each delivery of its logs would be logged again, without end", None);
                        }
                    }
                    // The default name is derived: a fault in it is the bucket name's length.
                    None => {
                        let at = self.locs[&bo.path("name")];
                        let before = self.diags.len();
                        self.check_name(at, &field, &log_bucket, region, rules::bucket_name);
                        // Derived: the fix depends on what is wrong with it (issue 26, finding 23).
                        let fix = if log_bucket.len() > 63 { "a shorter name" } else { "a valid name (or fix the bucket name it is derived from)" };
                        for d in &mut self.diags[before..] {
                            d.hint = Some(format!("the default access-log bucket name {log_bucket:?} is derived from the bucket name; set `access_log_bucket` to {fix}"));
                        }
                    }
                }
            }
            for (key, on, control) in [
                (
                    "versioning",
                    versioning,
                    "Security Hub S3.14 and Prowler's s3_bucket_object_versioning: a deleted or overwritten log file cannot be recovered",
                ),
                (
                    "disable_acls",
                    disable_acls,
                    "Security Hub S3.12 and Prowler's s3_bucket_acl_prohibited: ACLs can grant access the bucket policy does not show",
                ),
                (
                    "access_logging",
                    access_logging,
                    "CIS 3.4 (v3.0) / 3.6 (v1.4), Security Hub CloudTrail.7 and Prowler's cloudtrail_logs_s3_bucket_access_logging_enabled: reads of the log files leave no record",
                ),
            ] {
                if !on {
                    let at = self.locs[&bo.path(key)];
                    self.push(
                        Severity::Warning,
                        at,
                        &bo.path(key),
                        format!("`{key}: false` fails {control}"),
                        Some(format!("remove `{key}: false` to keep the default (on)")),
                    );
                }
            }
            Some(bucket)
        });
        let management_events = match o.get("management_events").filter(|n| !is_null(n)) {
            None => ManagementEvents::default(),
            Some(m) => {
                let mp = o.path("management_events");
                let mo = self.obj::<ManagementEvents>(m, &mp)?;
                let read_write = self.read_write(&mo, "read_write").unwrap_or_default();
                let exclude_sources = if mo.get("exclude_sources").is_some() {
                    let mut v = Vec::new();
                    for (p, at, s) in self.string_list(&mo, "exclude_sources") {
                        if s != "kms.amazonaws.com" && s != "rdsdata.amazonaws.com" {
                            self.error(at, &p, format!("CloudTrail can exclude only kms.amazonaws.com and rdsdata.amazonaws.com from management events, not {s:?}"), None);
                        }
                        v.push(s);
                    }
                    v
                } else {
                    default_excludes()
                };
                // An opt-out, said as the others are (issue 25, item 3).
                if !exclude_sources.is_empty() {
                    let field = mo.path("exclude_sources");
                    self.push(
                        Severity::Warning,
                        self.locs[&field],
                        &field,
                        format!(
                            "excluding {} fails Security Hub CloudTrail.1 and CIS 3.1: AWS Config's multi-region-cloudtrail-enabled is NON_COMPLIANT when a trail excludes any management event source",
                            exclude_sources.join(" and ")
                        ),
                        Some("remove `exclude_sources` to record every management event; what excluding saves: docs/hardening.md, \"CloudTrail.1 and the excluded event sources\"".into()),
                    );
                }
                ManagementEvents { read_write, exclude_sources }
            }
        };
        let cloudwatch_logs = match o.get("cloudwatch_logs").filter(|n| !is_null(n)) {
            None => None,
            Some(c) => {
                let cp = o.path("cloudwatch_logs");
                let co = self.obj::<CloudWatchLogs>(c, &cp)?;
                let log_group = self.checked_name(&co, "log_group", true, region, rules::log_group_name);
                let retention_days = self.nullable_uint(&co, "retention_days", default_retention());
                if let Some(d) = retention_days {
                    let at = self.locs.get(&co.path("retention_days")).copied().unwrap_or(co.pos);
                    self.check(at, &co.path("retention_days"), rules::retention_days(d));
                }
                let role_name = self.checked_name(&co, "role_name", false, region, rules::role_name);
                Some(CloudWatchLogs { log_group: log_group?, retention_days, role_name })
            }
        };
        let notify_topic = self.opt_string(&o, "notify_topic");
        let s3_data_events = self.read_write(&o, "s3_data_events");
        Some(Trail {
            external: None,
            s3_data_events,
            name: name?,
            multi_region,
            organization,
            log_file_validation,
            bucket: bucket?,
            management_events,
            cloudwatch_logs,
            notify_topic,
        })
    }

    /// `All`, `ReadOnly` or `WriteOnly`, with a did-you-mean; None when absent or wrong.
    fn read_write(&mut self, o: &super::yaml::Obj, key: &str) -> Option<ReadWrite> {
        Some(match self.opt_string(o, key)?.as_str() {
            "All" => ReadWrite::All,
            "ReadOnly" => ReadWrite::ReadOnly,
            "WriteOnly" => ReadWrite::WriteOnly,
            other => {
                let at = self.locs[&o.path(key)];
                let hint = did_you_mean(other, &["All", "ReadOnly", "WriteOnly"]).map(|s| format!("did you mean `{s}`?"));
                self.error(at, &o.path(key), format!("unknown value {other:?}: use All, ReadOnly or WriteOnly"), hint);
                return None;
            }
        })
    }
}
