//! `encryption:`: which KMS key, and which parts of the pipeline use it.

use super::yaml::Node;
use super::Loader;
use crate::diag::Severity;
use crate::interp;
use crate::model::{default_key, Encryption, KeyChoice};
use crate::rules;

impl Loader<'_> {
    /// The `encryption` section: which key, and which parts use it. Turning a part off, or the
    /// key, is allowed and said, naming the control it fails.
    pub(super) fn encryption(&mut self, n: &Node, path: &str, region: Option<&str>) -> Option<Encryption> {
        let o = self.obj::<Encryption>(n, path)?;
        let key = self.opt_string(&o, "key").unwrap_or_else(default_key);
        if let Some(at) = self.locs.get(&o.path("key")).copied() {
            match interp::expand(&key, "123456789012", region.unwrap_or("us-east-1")) {
                Ok(expanded) => {
                    if let Err((message, hint)) = rules::kms_key_choice(&expanded, region) {
                        self.error(at, &o.path("key"), message, hint);
                    }
                }
                Err(m) => self.error(at, &o.path("key"), m, Some("available variables: ${account_id}, ${region}".into())),
            }
        }
        let mut e = Encryption { key, ..Encryption::default() };
        let parts: [(&str, &mut bool, &str); 4] = [
            (
                "trail",
                &mut e.trail,
                "CIS 3.5 (v3.0) / 3.7 (v1.4), Security Hub CloudTrail.2 and Prowler's cloudtrail_kms_encryption_enabled",
            ),
            ("bucket", &mut e.bucket, "Prowler's s3_bucket_kms_encryption: the log files' default encryption is SSE-S3"),
            ("log_group", &mut e.log_group, "Prowler's cloudwatch_log_group_kms_encryption_enabled"),
            ("topics", &mut e.topics, "Security Hub SNS.1 and Prowler's sns_topics_kms_encryption_at_rest_enabled"),
        ];
        let mut warnings = Vec::new();
        for (field, flag, control) in parts {
            if let Some(v) = self.opt_bool(&o, field) {
                *flag = v;
                if !v {
                    warnings.push((field, control));
                }
            }
        }
        for (field, control) in warnings {
            let at = self.locs[&o.path(field)];
            let hint = Some(format!("remove `{field}: false` to keep the default (encrypted with the key)"));
            self.push(Severity::Warning, at, &o.path(field), format!("`{field}: false` fails {control}"), hint);
        }
        if e.key_choice() == KeyChoice::None {
            let at = self.locs[&o.path("key")];
            self.push(
                Severity::Warning,
                at,
                &o.path("key"),
                "`key: none` leaves the trail, bucket, log group and topics without a customer managed key: fails CIS 3.5 (v3.0), CloudTrail.2 and SNS.1".into(),
                Some("remove `key: none` to let secmon create and own a key (about $1 a month plus requests)".into()),
            );
        }
        Some(e)
    }
}
