//! AWS naming and range rules, one function per rule, each returning the message a user sees.
//! Sources: the API references of S3 (bucket naming), CloudTrail (CreateTrail), CloudWatch Logs
//! (CreateLogGroup, PutRetentionPolicy, PutMetricFilter), CloudWatch (PutMetricAlarm), SNS
//! (CreateTopic), Secrets Manager (CreateSecret) and IAM (CreateRole).

/// A rule's verdict: the message a user sees when the value breaks it.
pub type Rule = Result<(), String>;

/// Values PutRetentionPolicy accepts.
pub const RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The statistics PutMetricAlarm names (percentiles `pNN` besides).
pub const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

fn len_between(s: &str, what: &str, min: usize, max: usize) -> Rule {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("{what} must be {min}-{max} characters long, got {n}"));
    }
    Ok(())
}

fn only(s: &str, what: &str, allowed: &str, ok: impl Fn(char) -> bool) -> Rule {
    if let Some(c) = s.chars().find(|c| !ok(*c)) {
        return Err(format!("{what} may contain only {allowed}; found {c:?}"));
    }
    Ok(())
}

/// `min` to `max` characters, each a letter, a digit or one of `extra`.
fn alnum_and(s: &str, what: &str, (min, max): (usize, usize), extra: &str) -> Rule {
    len_between(s, what, min, max)?;
    only(s, what, &format!("letters, digits and {extra}"), |c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// The spec's `name`: 1 to 64 letters, digits, `-` and `_` (it is part of tags, aliases and log group names).
pub fn spec_name(s: &str) -> Rule {
    len_between(s, "spec name", 1, 64)?;
    only(s, "spec name", "letters, digits, '-' and '_'", |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An AWS region code, with a direction word AWS names regions with.
pub fn region(s: &str) -> Rule {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return Err(format!("{s:?} is not an AWS region code like us-east-1"));
    }
    // Region codes name a direction (us-east-1, ap-southeast-2, eu-central-1; GovCloud and the
    // isolated partitions put a word before it): a typo there (`us-esat-1`) would pass the shape
    // and fail later as a DNS error after the SDK's retries (issue 26, finding 23). New regions
    // keep these words, so they are not refused.
    const DIRECTIONS: &[&str] = &["east", "west", "north", "south", "central", "northeast", "northwest", "southeast", "southwest"];
    const PARTITIONS: &[&str] = &["gov", "iso", "isob", "isoe", "isof"];
    let middle = &parts[1..parts.len() - 1];
    let (last, before) = middle.split_last().expect("three parts or more");
    if !DIRECTIONS.contains(last) {
        let guess =
            crate::did_you_mean(last, DIRECTIONS).map(|d| format!(": did you mean {}?", s.replacen(last, d, 1))).unwrap_or_default();
        return Err(format!("{s:?} is not an AWS region code: {last:?} is not a direction AWS names regions with{guess}"));
    }
    if let Some(p) = before.iter().find(|p| !PARTITIONS.contains(p)) {
        return Err(format!("{s:?} is not an AWS region code: {p:?} is not a partition word (gov, iso, ...)"));
    }
    Ok(())
}

/// A Secrets Manager secret name (CreateSecret).
pub fn secret_name(s: &str) -> Rule {
    alnum_and(s, "secret name", (1, 512), "/_+=.@-")
}

/// An S3 general purpose bucket name (S3 bucket naming rules).
pub fn bucket_name(s: &str) -> Rule {
    len_between(s, "bucket name", 3, 63)?;
    only(s, "bucket name", "lowercase letters, digits, '.' and '-'", |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
    })?;
    let first = s.chars().next().unwrap_or('-');
    let last = s.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("bucket name must start and end with a letter or digit".into());
    }
    if s.contains("..") {
        return Err("bucket name must not contain two adjacent periods".into());
    }
    if s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("bucket name must not be formatted as an IP address".into());
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if s.starts_with(p) {
            return Err(format!("bucket name must not start with the reserved prefix {p:?}"));
        }
    }
    for p in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if s.ends_with(p) {
            return Err(format!("bucket name must not end with the reserved suffix {p:?}"));
        }
    }
    Ok(())
}

/// A CloudTrail trail name (CreateTrail).
pub fn trail_name(s: &str) -> Rule {
    len_between(s, "trail name", 3, 128)?;
    only(s, "trail name", "letters, digits, '.', '_' and '-'", |c| c.is_ascii_alphanumeric() || "._-".contains(c))?;
    let first = s.chars().next().unwrap_or('-');
    let last = s.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("trail name must start and end with a letter or digit".into());
    }
    for bad in ["._", "_.", ".-", "-.", "_-", "-_", "..", "__", "--"] {
        if s.contains(bad) {
            return Err(format!("trail name must not contain adjacent separators {bad:?}"));
        }
    }
    if s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("trail name must not be formatted as an IP address".into());
    }
    Ok(())
}

/// A CloudWatch Logs log group name (CreateLogGroup).
pub fn log_group_name(s: &str) -> Rule {
    alnum_and(s, "log group name", (1, 512), "._-/#")?;
    if s.starts_with("aws/") {
        return Err("log group names starting with \"aws/\" are reserved for AWS".into());
    }
    Ok(())
}

/// A retention PutRetentionPolicy accepts ([`RETENTION_DAYS`]).
pub fn retention_days(d: u32) -> Rule {
    if RETENTION_DAYS.contains(&d) {
        Ok(())
    } else {
        let near = RETENTION_DAYS.iter().min_by_key(|v| v.abs_diff(d)).copied().unwrap_or(90);
        Err(format!("CloudWatch Logs does not accept a retention of {d} days (nearest accepted value: {near})"))
    }
}

/// An IAM role name (CreateRole).
pub fn role_name(s: &str) -> Rule {
    alnum_and(s, "IAM role name", (1, 64), "+=,.@_-")
}

/// An SNS topic name (CreateTopic).
pub fn topic_name(s: &str) -> Rule {
    len_between(s, "SNS topic name", 1, 256)?;
    if s.ends_with(".fifo") {
        return Err("FIFO topics cannot deliver to e-mail subscriptions or CloudWatch alarms".into());
    }
    only(s, "SNS topic name", "letters, digits, '-' and '_'", |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An environment variable's name, as POSIX shells take it.
pub fn env_var_name(s: &str) -> Rule {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!("{s:?} is not an environment variable name: letters, digits and `_`, not starting with a digit"))
    }
}

/// `arn:aws:SERVICE:REGION:ACCOUNT:` followed by `resource` parts (a `None` part is any
/// non-empty text), `${account_id}` and `${region}` standing for theirs.
fn arn_of(s: &str, service: &str, resource: &[Option<&str>], optional_tail: bool) -> bool {
    let sample = with_sample_placeholders(s);
    let parts: Vec<&str> = sample.split(':').collect();
    let n = 5 + resource.len();
    let lengths_ok = parts.len() == n || (optional_tail && parts.len() == n + 1);
    lengths_ok
        && parts[0] == "arn"
        && parts[2] == service
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && resource.iter().zip(&parts[5..]).all(|(want, got)| want.map_or(!got.is_empty(), |w| w == *got))
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` (SNS Subscribe takes a queue by its ARN).
pub fn sqs_queue_arn(s: &str) -> Rule {
    if arn_of(s, "sqs", &[None], false) {
        Ok(())
    } else {
        Err(format!("{s:?} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)"))
    }
}

/// A Slack workspace (team) id: `SlackTeamId`'s pattern `^[0-9A-Z]{1,255}$`
/// (CreateSlackChannelConfiguration, AWS Chatbot API reference).
pub fn slack_workspace_id(s: &str) -> Rule {
    len_between(s, "Slack workspace id", 1, 255)?;
    only(s, "Slack workspace id", "upper-case letters and digits (e.g. T0123ABCD)", |c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack channel id: `SlackChannelId`'s pattern `^[A-Za-z0-9]+$`, at most 255 characters.
pub fn slack_channel_id(s: &str) -> Rule {
    len_between(s, "Slack channel id", 1, 255)?;
    only(s, "Slack channel id", "letters and digits (e.g. C0123ABCD, the end of the channel's link)", |c| c.is_ascii_alphanumeric())
}

/// A Microsoft Teams tenant or team id: a UUID (`TenantId`, `TeamId`'s pattern).
pub fn teams_uuid(s: &str, what: &str) -> Rule {
    let groups: Vec<&str> = s.split('-').collect();
    let shape =
        groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if shape {
        Ok(())
    } else {
        Err(format!("{s:?} is not a Microsoft Teams {what} id: a UUID such as 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"))
    }
}

/// A Microsoft Teams channel id as Chatbot's API takes it, URL-encoded as the channel's link
/// carries it: the id as Teams' admin center and Graph show it (`19:…@thread.tacv2`) is encoded
/// (`:` as `%3a`, `@` as `%40`); an id already encoded is kept as written.
pub fn teams_channel_id_encoded(s: &str) -> String {
    s.replace(':', "%3a").replace('@', "%40")
}

/// A Microsoft Teams channel id as its link carries it: `ChannelId`'s pattern
/// `^([a-zA-Z0-9-_=+/.,])*%3[aA]([a-zA-Z0-9-_=+/.,])*%40([a-zA-Z0-9-_=+/.,])*$`, at most 255.
pub fn teams_channel_id(s: &str) -> Rule {
    len_between(s, "Microsoft Teams channel id", 1, 255)?;
    let plain = |part: &str| part.chars().all(|c| c.is_ascii_alphanumeric() || "-_=+/.,".contains(c));
    let lower = teams_channel_id_encoded(s).to_ascii_lowercase();
    let ok = lower
        .split_once("%3a")
        .and_then(|(a, rest)| rest.split_once("%40").map(|(b, c)| [a, b, c]))
        .is_some_and(|p| p.iter().all(|x| plain(x)));
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not a Microsoft Teams channel id: 19:…@thread.tacv2 as Teams shows it, or 19%3a…%40thread.tacv2 as the channel's link carries it"))
    }
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
pub fn lambda_function_arn(s: &str) -> Rule {
    if arn_of(s, "lambda", &[Some("function"), None], true) {
        Ok(())
    } else {
        Err(format!("{s:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"))
    }
}

/// An IAM role or user ARN, as a secret's expected reader (`${account_id}` allowed).
pub fn iam_principal_arn(s: &str) -> Rule {
    let sample = with_sample_placeholders(s);
    let parts: Vec<&str> = sample.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[..3] == ["arn", "aws", "iam"]
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/"))
        && !parts[5].contains('*');
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME or :user/NAME, no wildcard)"))
    }
}

/// `${account_id}` and `${region}` as a sample account and region: an ARN is checked in the
/// shape it will have once they are known.
fn with_sample_placeholders(s: &str) -> String {
    s.replace("${account_id}", "123456789012").replace("${region}", "us-east-1")
}

/// An e-mail address SNS can subscribe.
pub fn email(s: &str) -> Rule {
    let bad = || Err(format!("{s:?} is not an e-mail address"));
    let Some((local, domain)) = s.split_once('@') else {
        return bad();
    };
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
        || s.len() > 254
    {
        return bad();
    }
    Ok(())
}

/// A CloudWatch metric namespace (PutMetricFilter, PutMetricAlarm).
pub fn metric_namespace(s: &str) -> Rule {
    len_between(s, "metric namespace", 1, 255)?;
    if s.starts_with(':') {
        return Err("metric namespace must not start with ':'".into());
    }
    if s.starts_with("AWS/") {
        return Err("metric namespaces starting with \"AWS/\" are reserved for AWS services".into());
    }
    Ok(())
}

/// A CloudWatch metric name.
pub fn metric_name(s: &str) -> Rule {
    len_between(s, "metric name", 1, 255)?;
    only(s, "metric name", "characters other than ':', '*', '$' and space", |c| !":*$ ".contains(c))
}

/// PutMetricFilter's metricValue: a number, `$.json.field`, `$name` or `$1`.
pub fn metric_value(s: &str) -> Rule {
    if s.len() > 100 {
        return Err("metric value must be at most 100 characters".into());
    }
    if s.parse::<f64>().is_ok_and(f64::is_finite) {
        return Ok(());
    }
    let field = s.strip_prefix("$.").or_else(|| s.strip_prefix('$'));
    if let Some(f) = field {
        if !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Ok(());
        }
    }
    Err(format!("metric value {s:?} must be a number or a field reference like $.field, $name or $1"))
}

/// A metric filter name (PutMetricFilter).
pub fn filter_name(s: &str) -> Rule {
    len_between(s, "metric filter name", 1, 512)?;
    only(s, "metric filter name", "characters other than ':' and '*'", |c| c != ':' && c != '*')
}

/// A Contributor Insights rule name: PutInsightRule takes 1-128 printable ASCII characters
/// (`[\x20-\x7E]+`); secmon allows letters, digits, `-`, `_` and `.`, so that the name sits in
/// the alarm's `INSIGHT_RULE_METRIC('NAME', ...)` expression without quoting.
pub fn insight_rule_name(s: &str) -> Rule {
    len_between(s, "Contributor Insights rule name", 1, 128)?;
    only(s, "Contributor Insights rule name", "letters, digits, '-', '_' and '.'", |c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// An alarm name (PutMetricAlarm).
pub fn alarm_name(s: &str) -> Rule {
    len_between(s, "alarm name", 1, 255)?;
    only(s, "alarm name", "printable characters", |c| !c.is_control())
}

/// A statistic PutMetricAlarm accepts ([`STATISTICS`], or a percentile).
pub fn statistic(s: &str) -> Rule {
    if STATISTICS.contains(&s) {
        return Ok(());
    }
    if let Some(p) = s.strip_prefix('p') {
        if let Ok(v) = p.parse::<f64>() {
            if (0.0..=100.0).contains(&v) && p.split('.').nth(1).is_none_or(|d| d.len() <= 2) {
                return Ok(());
            }
        }
    }
    Err(format!("unknown statistic {s:?}; use Sum, SampleCount, Average, Minimum, Maximum or a percentile like p99"))
}

/// An alarm period for a metric-filter metric. PutMetricAlarm takes 10, 20, 30 or a multiple of
/// 60, but 10/20/30 make a high-resolution alarm, and metric filters publish standard-resolution
/// metrics (one datapoint a minute): such an alarm "might often lapse into INSUFFICIENT_DATA"
/// (PutMetricAlarm, `Period`). Refused (issue 11, item 13).
pub fn period(p: u32) -> Rule {
    match p {
        10 | 20 | 30 => Err(format!(
            "period {p} s makes a high-resolution alarm, but a metric filter publishes one datapoint a minute: \
             the alarm would often lapse into INSUFFICIENT_DATA; use 60 or a multiple of 60 seconds"
        )),
        p if p >= 60 && p.is_multiple_of(60) => Ok(()),
        _ => Err(format!("period {p} is not accepted: use a multiple of 60 seconds")),
    }
}

/// Period × evaluation periods: at most one day for periods under an hour, seven days for
/// periods of an hour or more (PutMetricAlarm, `Period`; issue 11, item 14).
pub fn evaluation_window(period: u32, evaluation_periods: u32) -> Rule {
    let window = u64::from(period) * u64::from(evaluation_periods);
    let (max, what) = if period >= 3600 {
        (604_800, "seven days (604800 s) for periods of an hour or more")
    } else {
        (86_400, "one day (86400 s) for periods under an hour")
    };
    if window > max {
        return Err(format!("evaluation_periods × period is {window} s; CloudWatch allows at most {what}"));
    }
    Ok(())
}

/// An alarm threshold: a finite number.
pub fn threshold(t: f64) -> Rule {
    if t.is_finite() {
        Ok(())
    } else {
        Err("threshold must be a finite number".into())
    }
}

/// An environment variable name (a secret's `from_env`).
pub fn env_var(s: &str) -> Rule {
    let ok = !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not an environment variable name"))
    }
}

/// A tag key: 1 to 128 characters, without the reserved `aws:` and `secmon:` prefixes.
pub fn tag_key(s: &str) -> Rule {
    len_between(s, "tag key", 1, 128)?;
    if s.starts_with("aws:") || s.starts_with("secmon:") {
        return Err(format!("tag key {s:?} uses a reserved prefix (aws: or secmon:)"));
    }
    Ok(())
}

/// `encryption.key`: `managed`, `none`, or the ARN of a KMS key in the spec's region. CloudWatch
/// Logs takes only a key ARN (not an alias, not a key id), and CloudWatch Logs, SNS and
/// CloudTrail need the key in the region of what it encrypts. Returns the message and a hint.
pub fn kms_key_choice(key: &str, spec_region: Option<&str>) -> Result<(), (String, Option<String>)> {
    if key == "managed" || key == "none" {
        return Ok(());
    }
    let hint = Some("use `managed` (secmon creates the key), `none`, or a key ARN: arn:aws:kms:<region>:<account>:key/<key id>".into());
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let [arn, partition, service, key_region, account, resource] = parts[..] else {
        return Err((format!("{key:?} is not a KMS key ARN"), hint));
    };
    if arn != "arn" || !["aws", "aws-cn", "aws-us-gov"].contains(&partition) || service != "kms" {
        return Err((format!("{key:?} is not a KMS key ARN"), hint));
    }
    if resource.starts_with("alias/") {
        return Err((
            format!("{key:?} is an alias ARN: CloudWatch Logs accepts only the key's own ARN"),
            Some("run `aws kms describe-key --key-id <alias>` and use its KeyMetadata.Arn".into()),
        ));
    }
    let id = resource.strip_prefix("key/").unwrap_or("");
    let id_ok = !id.is_empty() && id.len() <= 256 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !id_ok || account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) || region(key_region).is_err() {
        return Err((format!("{key:?} is not a KMS key ARN"), hint));
    }
    if let Some(r) = spec_region.filter(|r| *r != key_region) {
        return Err((
            format!("the key is in {key_region}, the spec in {r}: CloudTrail, CloudWatch Logs and SNS use only a key of their own region"),
            Some("create the key (or a multi-Region replica) in the spec's region".into()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn chat_channel_ids_take_the_forms_the_chatbot_api_accepts() {
        assert!(slack_workspace_id("T0123ABCD").is_ok() && slack_workspace_id("t0123abcd").is_err());
        assert!(slack_channel_id("C0123ABCD").is_ok() && slack_channel_id("#security").is_err());
        assert!(teams_uuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "tenant").is_ok());
        assert!(teams_uuid("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "tenant").is_err(), "the hyphens are part of the form");
        assert!(teams_channel_id("19%3aabcdef0123%40thread.tacv2").is_ok());
        assert!(teams_channel_id("19%3Aabcdef0123%40thread.tacv2").is_ok(), "%3A in either case");
        assert!(teams_channel_id("19:abcdef0123@thread.tacv2").is_ok(), "as Teams shows it");
        assert!(teams_channel_id("19:abcdef0123").is_err() && teams_channel_id("19:ab cd@thread.tacv2").is_err());
        assert_eq!(teams_channel_id_encoded("19:abcdef0123@thread.tacv2"), "19%3aabcdef0123%40thread.tacv2", "as Teams shows it");
        assert_eq!(teams_channel_id_encoded("19%3Aabcdef0123%40thread.tacv2"), "19%3Aabcdef0123%40thread.tacv2", "kept as written");
    }

    use super::*;

    #[test]
    fn bucket_rules_follow_s3() {
        assert!(bucket_name("secmon-trail-123456789012").is_ok());
        assert!(bucket_name("Nextwork-secrets").is_err());
        assert!(bucket_name("ab").is_err());
        assert!(bucket_name("192.168.1.1").is_err());
        assert!(bucket_name("a..b").is_err());
        assert!(bucket_name("xn--abc").is_err());
    }

    /// Issue 26, finding 23: a typo in a region's direction is named, with the likely region.
    #[test]
    fn finding_23_region_typos_are_refused_with_a_guess() {
        for ok in ["us-east-1", "ap-southeast-5", "eu-central-2", "us-gov-west-1", "us-isob-east-1", "mx-central-1", "il-central-1"] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        let e = region("us-esat-1").unwrap_err();
        assert!(e.contains("did you mean us-east-1?"), "{e}");
        assert!(region("eu-centrl-1").unwrap_err().contains("eu-central-1"));
        assert!(region("us-foo-east-1").is_err());
        assert!(region("useast1").is_err());
    }

    #[test]
    fn periods_and_statistics() {
        assert!(period(60).is_ok() && period(300).is_ok() && period(3600).is_ok());
        assert!(period(45).is_err() && period(0).is_err() && period(90).is_err());
        // Regression (issue 11, item 13): a sub-minute period on a metric-filter metric.
        assert!(period(10).unwrap_err().contains("INSUFFICIENT_DATA"));
        // Regression (issue 11, item 14): seven days are allowed for periods of an hour or more.
        assert!(evaluation_window(3600, 168).is_ok() && evaluation_window(3600, 169).is_err());
        assert!(evaluation_window(60, 1440).is_ok() && evaluation_window(300, 289).is_err());
        assert!(statistic("Sum").is_ok() && statistic("p99").is_ok() && statistic("p99.9").is_ok());
        assert!(statistic("sum").is_err() && statistic("p101").is_err());
    }

    #[test]
    fn retention_and_names() {
        assert!(retention_days(90).is_ok());
        assert!(retention_days(100).unwrap_err().contains("nearest accepted value: 90"));
        assert!(trail_name("secrets-manager-trail").is_ok());
        assert!(trail_name("a--b").is_err());
        assert!(metric_name("Secret is accessed").is_err());
        assert!(email("security@example.com").is_ok());
        assert!(email("security@example").is_err());
        assert!(metric_value("$.bytes").is_ok() && metric_value("1").is_ok() && metric_value("one").is_err());
    }
}
