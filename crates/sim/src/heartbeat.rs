//! The heartbeat's canary read as CloudTrail records it (issue 24, item 3), and how every other
//! monitor is kept from counting it: a read every few minutes must not become an alert storm.
//!
//! Which monitors would count it is computed, not guessed: each monitor's pattern is run on the
//! canary's record, and only those that match get the exclusion `issuer NOT EXISTS || issuer !=
//! ROLE` (a comparison on a missing field never holds, in CloudWatch Logs as here, so the first
//! alternative keeps records without a session issuer: IAM users, root, services). The reader
//! role may do nothing but read the canary, and only Step Functions, for this one state machine,
//! may assume it, so the reads excluded are the canary's.

use serde_json::{json, Value};

use secmon_spec::{DesiredState, Diagnostic, Severity, Spec, SpecError, HEARTBEAT_RULE};

use crate::{Event, Pattern};

/// The field the exclusion compares: the role whose session made the call.
pub const ISSUER: &str = "$.userIdentity.sessionContext.sessionIssuer.arn";

/// CloudWatch Logs' longest filter pattern (PutMetricFilter, `filterPattern`: 1024 characters).
pub const MAX_PATTERN_CHARS: usize = 1024;

/// The reader role's ARN, with `${account_id}` left for each target to expand.
pub fn reader_role_arn(state: &DesiredState) -> Option<String> {
    Some(format!("arn:aws:iam::${{account_id}}:role/secmon/{}", state.heartbeat_names()?.reader_role))
}

/// The CloudTrail record of one canary read, in the shape Secrets Manager logs
/// `GetSecretValue` (Secrets Manager user guide, "Log AWS Secrets Manager events with AWS
/// CloudTrail") made by a Step Functions task with the reader role's session: what each
/// monitor is tested against.
pub fn canary_record(state: &DesiredState) -> Option<Value> {
    let names = state.heartbeat_names()?;
    let role = reader_role_arn(state)?;
    let region = state.region.clone().unwrap_or_else(|| "us-east-1".into());
    Some(json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEHEARTBEAT:heartbeat",
            "arn": format!("arn:aws:sts::${{account_id}}:assumed-role/{}/heartbeat", names.reader_role),
            "accountId": "${account_id}",
            "accessKeyId": "ASIAEXAMPLEHEARTBEAT",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEHEARTBEAT", "arn": role, "accountId": "${account_id}", "userName": names.reader_role},
                "attributes": {"creationDate": "2026-12-04T12:00:00Z", "mfaAuthenticated": "false"}
            },
            "invokedBy": "states.amazonaws.com"
        },
        "eventTime": "2026-12-04T12:00:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": region,
        "sourceIPAddress": "states.amazonaws.com",
        "userAgent": "states.amazonaws.com",
        "requestParameters": {"secretId": names.secret},
        "responseElements": null,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "${account_id}",
        "eventCategory": "Management"
    }))
}

/// Whether replaying recorded events says anything about monitor `m`: not about the heartbeat's
/// canary monitor, whose alarm is on the *absence* of the canary's reads, which no file of other
/// events holds (every replay would "page"). `simulate` and `coverage` leave it out.
pub fn replayable(m: &secmon_spec::Monitor) -> bool {
    m.rule.as_deref() != Some(HEARTBEAT_RULE)
}

/// What [`exclude_canary_reads`] did to one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// Its pattern now leaves the canary's reads out.
    Excluded,
    /// Its pattern would count the canary's reads and cannot be given the exclusion: the
    /// reason, for an error at the monitor.
    Impossible(String),
}

/// Rewrites the pattern of every monitor (the canary's own aside) that matches the canary's
/// record so that it does not; returns each monitor touched (by its index) and how.
pub fn exclude_canary_reads(state: &mut DesiredState) -> Vec<(usize, Exclusion)> {
    let (Some(record), Some(role)) = (canary_record(state), reader_role_arn(state)) else { return Vec::new() };
    let text = record.to_string();
    let event = Event { message: &text, json: Some(&record) };
    let mut out = Vec::new();
    for (i, m) in state.monitors.iter_mut().enumerate() {
        if m.rule.as_deref() == Some(HEARTBEAT_RULE) {
            continue;
        }
        let Ok(pattern) = Pattern::parse(&m.pattern) else { continue };
        if !pattern.matches(&event) {
            continue;
        }
        let Pattern::Json(_) = pattern else {
            out.push((
                i,
                Exclusion::Impossible(
                    "its pattern counts the heartbeat's canary reads and is not a JSON pattern, to which the exclusion of the canary's role could be added"
                        .into(),
                ),
            ));
            continue;
        };
        let inner = m.pattern.trim().trim_start_matches('{').trim_end_matches('}').trim();
        let rewritten = format!("{{ ({inner}) && ({ISSUER} NOT EXISTS || {ISSUER} != \"{role}\") }}");
        if rewritten.chars().count() > MAX_PATTERN_CHARS {
            out.push((
                i,
                Exclusion::Impossible(format!(
                    "its pattern counts the heartbeat's canary reads, and with their exclusion it would be {} characters; a filter pattern holds {MAX_PATTERN_CHARS}",
                    rewritten.chars().count()
                )),
            ));
            continue;
        }
        m.pattern = rewritten;
        out.push((i, Exclusion::Excluded));
    }
    out
}

/// The spec file as secmon deploys it: read and validated ([`Spec::from_file`]), with the
/// canary's reads excluded from every other monitor. Every command reads its spec through
/// this, or [`load_spec_partial`], so that plan, verify, simulate and coverage all see the
/// patterns AWS will hold.
pub fn load_spec(path: &std::path::Path) -> Result<Spec, SpecError> {
    let mut spec = Spec::from_file(path)?;
    let errors = finish(&mut spec);
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(SpecError::Invalid(errors))
    }
}

/// [`load_spec`] for `validate`: the spec as far as it could be read, and every diagnostic.
pub fn load_spec_partial(path: &std::path::Path) -> (Option<Spec>, Vec<Diagnostic>) {
    let (mut spec, mut diags) = Spec::from_file_partial(path);
    if let Some(spec) = &mut spec {
        diags.extend(finish(spec));
    }
    (spec, diags)
}

/// Applies [`exclude_canary_reads`] to `spec`; an error at each monitor that would count the
/// canary and cannot be kept from it.
pub fn finish(spec: &mut Spec) -> Vec<Diagnostic> {
    let touched = exclude_canary_reads(&mut spec.state);
    let mut out = crate::contributors::check(spec);
    out.extend(touched.into_iter().filter_map(|(i, e)| match e {
        Exclusion::Excluded => None,
        Exclusion::Impossible(why) => Some(spec.diagnostic(
            Severity::Error,
            &format!("monitors[{i}].pattern"),
            why,
            Some("write the pattern in JSON form (`{ $.eventName = \"GetSecretValue\" }`), or shorten it".into()),
        )),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_with_heartbeat() -> DesiredState {
        let text = format!(
            "{}\nheartbeat: {{ every: 5m, notify: [SecurityAlarms] }}\npacks: [secret-access, self-protection, cis-aws-foundations]\n",
            include_str!("../../../specs/seed.yaml")
        );
        secmon_spec::Spec::parse(&text, "seed.yaml").expect("valid").state
    }

    fn counts(state: &DesiredState, name: &str, record: &Value) -> bool {
        let m = state.monitors.iter().find(|m| m.name == name).expect("monitor");
        let text = record.to_string();
        Pattern::parse(&m.pattern).expect("parses").matches(&Event { message: &text, json: Some(record) })
    }

    #[test]
    fn only_the_canary_monitor_counts_the_canary_read_once_the_others_exclude_it() {
        let mut state = seed_with_heartbeat();
        let record = canary_record(&state).unwrap();
        let before: Vec<String> = state.monitors.iter().filter(|m| counts(&state, &m.name, &record)).map(|m| m.name.clone()).collect();
        assert!(before.contains(&"Secret is accessed".to_string()), "the seed's monitor counts every read: {before:?}");
        let touched = exclude_canary_reads(&mut state);
        assert!(touched.iter().all(|(_, e)| *e == Exclusion::Excluded), "{touched:?}");
        assert_eq!(touched.len(), before.len() - 1, "every counter but the canary's own");
        let after: Vec<String> = state.monitors.iter().filter(|m| counts(&state, &m.name, &record)).map(|m| m.name.clone()).collect();
        assert_eq!(after, vec![secmon_spec::HEARTBEAT_MONITOR.to_string()]);
        // Idempotent: the rewritten patterns no longer match, so a second pass changes nothing.
        assert!(exclude_canary_reads(&mut state).is_empty());
    }

    #[test]
    fn the_exclusion_keeps_every_other_read_of_the_same_secret() {
        let mut state = seed_with_heartbeat();
        exclude_canary_reads(&mut state);
        let mut by_user = canary_record(&state).unwrap();
        by_user["userIdentity"] = json!({"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory", "userName": "mallory"});
        assert!(counts(&state, "Secret is accessed", &by_user), "a user's read of the canary is still counted");
        let mut other_role = canary_record(&state).unwrap();
        other_role["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!("arn:aws:iam::123456789012:role/attacker");
        assert!(counts(&state, "Secret is accessed", &other_role), "another role's read is still counted");
        assert!(!counts(&state, secmon_spec::HEARTBEAT_MONITOR, &other_role), "and is not a heartbeat");
    }

    #[test]
    fn a_replay_leaves_the_heartbeat_out_rather_than_page_for_every_file() {
        let state = seed_with_heartbeat();
        let dir = std::env::temp_dir().join(format!("secmon-heartbeat-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("one.json");
        std::fs::write(&file, json!({"Records": [canary_record(&state).unwrap()]}).to_string()).unwrap();
        let report = crate::simulate::simulate(&state, &[file.display().to_string()]).unwrap();
        assert!(report.monitors.iter().all(|m| m.monitor != secmon_spec::HEARTBEAT_MONITOR), "left out");
        assert!(report.monitors.iter().any(|m| m.monitor == "Secret is accessed"), "the others are replayed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_term_pattern_that_counts_the_canary_cannot_be_excluded_and_says_so() {
        let mut state = seed_with_heartbeat();
        state.monitors[0].pattern = "GetSecretValue".into();
        let touched = exclude_canary_reads(&mut state);
        assert!(matches!(&touched[0], (0, Exclusion::Impossible(why)) if why.contains("not a JSON pattern")), "{touched:?}");
    }
}
