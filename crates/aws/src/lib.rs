//! # secmon-aws: the seam between secmon and AWS
//!
//! Builds every AWS SDK client the pipeline needs from one configuration ([`Aws::connect`]),
//! counts the API calls they make per operation ([`ApiStats`], shown by `--stats`), and decides
//! how calls are retried ([`retry_config`]: adaptive mode) and which errors are transient.
//! Retrying AWS's eventual consistency is apply's job, per the kinds' declared codes.
//!
//! Endpoints come from the standard AWS configuration chain, including `AWS_ENDPOINT_URL`; when
//! an endpoint override is set (a local emulator), S3 uses path-style addressing because
//! `bucket.localhost` does not resolve.
//!
//! What this crate does not do: it knows nothing of specs, resources or plans; how each resource
//! kind is read and changed lives in `secmon-kinds`, behind its `Cloud` seam.

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

mod stats;

pub use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
pub use aws_smithy_runtime_api::client::result::SdkError;
pub use aws_smithy_types::date_time::Format as DateFormat;
pub use aws_smithy_types::error::metadata::ProvideErrorMetadata;
pub use aws_smithy_types::DateTime;
pub use stats::{ApiStats, CallCount};

pub use aws_sdk_chatbot as chatbot;
pub use aws_sdk_cloudtrail as cloudtrail;
pub use aws_sdk_cloudwatch as cloudwatch;
pub use aws_sdk_cloudwatchlogs as logs;
pub use aws_sdk_costexplorer as costexplorer;
pub use aws_sdk_eventbridge as events;
pub use aws_sdk_iam as iam;
pub use aws_sdk_kms as kms;
pub use aws_sdk_organizations as organizations;
pub use aws_sdk_resourcegroupstagging as tagging;
pub use aws_sdk_s3 as s3;
pub use aws_sdk_secretsmanager as secretsmanager;
pub use aws_sdk_sfn as sfn;
pub use aws_sdk_sns as sns;
pub use aws_sdk_sts as sts;

/// Errors of the AWS seam, naming the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region in the configuration chain (`AWS_REGION`, the profile) nor in the spec.
    #[error("no AWS region configured")]
    NoRegion,
    /// One call failed: its operation, AWS's error code when it sent one, and what it said.
    #[error("{operation}: {message}")]
    Call {
        /// The API operation, e.g. `CreateTrail`.
        operation: String,
        /// AWS's error code, e.g. `AccessDeniedException`.
        code: Option<String>,
        /// AWS's message, with the code first (or the transport's error).
        message: String,
    },
}

/// The HTTP status of a raw SDK response.
pub trait HttpStatus {
    /// The status code, e.g. 403.
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Attempts per call the clients were built with ([`Aws::connect_with`]), for error messages.
static MAX_ATTEMPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(DEFAULT_MAX_ATTEMPTS);

/// Whether AWS's answer means "try again later" (throttling, a server-side fault): the SDK has
/// retried it already.
pub fn transient(code: Option<&str>, status: Option<u16>) -> bool {
    let throttled = code.is_some_and(|c| {
        matches!(
            c,
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "SlowDown"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "InternalFailure"
                | "InternalError"
                | "InternalServerError"
                | "InternalServiceError"
                | "RequestTimeout"
                | "RequestTimeoutException"
        )
    });
    throttled || status.is_some_and(|s| s == 429 || s >= 500)
}

/// The IAM actions AWS authorizes for one SDK operation, the service named as [`ApiStats`]
/// names it: the service's prefix and the operation's name, except for the S3 operations whose
/// action is named otherwise (Service Authorization Reference, "Actions, resources, and condition
/// keys for Amazon S3"). `secmon permissions` and its test speak through this one table.
pub fn iam_actions(service: &str, operation: &str) -> Vec<String> {
    let prefix = match service {
        "S3" => "s3",
        "KMS" => "kms",
        "CloudTrail" => "cloudtrail",
        "CloudWatch" => "cloudwatch",
        "CloudWatch Logs" => "logs",
        "SNS" => "sns",
        "EventBridge" => "events",
        "SFN" => "states",
        "IAM" => "iam",
        "STS" => "sts",
        "Secrets Manager" => "secretsmanager",
        "Resource Groups Tagging API" => "tag",
        "Organizations" => "organizations",
        other => return vec![format!("{}:{operation}", other.to_ascii_lowercase().replace(' ', ""))],
    };
    let s3 = |names: &[&str]| names.iter().map(|n| format!("s3:{n}")).collect::<Vec<_>>();
    if prefix == "s3" {
        match operation {
            "GetBucketEncryption" => return s3(&["GetEncryptionConfiguration"]),
            "PutBucketEncryption" => return s3(&["PutEncryptionConfiguration"]),
            "GetBucketLifecycleConfiguration" => return s3(&["GetLifecycleConfiguration"]),
            "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => return s3(&["PutLifecycleConfiguration"]),
            "GetPublicAccessBlock" => return s3(&["GetBucketPublicAccessBlock"]),
            "PutPublicAccessBlock" => return s3(&["PutBucketPublicAccessBlock"]),
            "ListObjectsV2" | "ListObjects" | "HeadBucket" => return s3(&["ListBucket"]),
            "ListObjectVersions" => return s3(&["ListBucketVersions"]),
            "DeleteObjects" => return s3(&["DeleteObject", "DeleteObjectVersion"]),
            _ => {}
        }
    }
    vec![format!("{prefix}:{operation}")]
}

impl AwsError {
    /// Wraps an SDK error, keeping AWS's error code for callers that branch on it.
    pub fn call<E, R>(operation: &str, e: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        let code = e.code().map(str::to_string);
        let status = e.raw_response().map(HttpStatus::http_status);
        let message = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            // An answer without an AWS error code: say what it was rather than "unhandled error".
            (None, _) if status.is_some() => format!("HTTP {} without an AWS error code", status.unwrap_or_default()),
            _ => {
                // The causes, in words (no debug dump).
                let mut text = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    let t = c.to_string();
                    if !text.contains(&t) {
                        text.push_str(": ");
                        text.push_str(&t);
                    }
                    cause = c.source();
                }
                if unreachable(&text) {
                    text.push_str(
                        "\n  hint: nothing answers at that address: check AWS_ENDPOINT_URL or --endpoint-url, the region, and the network or proxy (not retried)",
                    );
                }
                if text.contains("credentials") {
                    text.push_str(
                        "\n  hint: configure AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); see README",
                    );
                }
                text
            }
        };
        let message = if transient(code.as_deref(), status) {
            let n = MAX_ATTEMPTS.load(std::sync::atomic::Ordering::Relaxed);
            format!("{message} (still failing after {n} attempts with backoff; run again later, or raise --max-attempts)")
        } else {
            message
        };
        AwsError::Call { operation: operation.to_string(), code, message }
    }

    /// AWS's error code, when the call got one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Call { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// The code of an SDK error, when AWS sent one.
pub fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// Every client the pipeline needs, sharing one configuration and one call counter.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // One client per service, named after it.
pub struct Aws {
    /// The region every client acts in.
    pub region: String,
    /// The endpoint every client calls instead of AWS's (a local emulator), when set.
    pub endpoint_override: Option<String>,
    /// The pipeline's calls, per operation (`--stats`).
    pub stats: ApiStats,
    /// The apply lock's CloudWatch Logs client, counted apart: "a second apply makes no
    /// mutating call" speaks of the pipeline, and `--stats` shows the lock's calls on their own.
    pub locks: logs::Client,
    /// The lock client's calls, apart from the pipeline's.
    pub lock_stats: ApiStats,
    pub secretsmanager: secretsmanager::Client,
    pub cloudtrail: cloudtrail::Client,
    pub cloudwatch: cloudwatch::Client,
    pub logs: logs::Client,
    pub sns: sns::Client,
    pub events: events::Client,
    pub sfn: sfn::Client,
    /// Cost Explorer: the account's S3 request counts, for the plan's estimate of S3 data events.
    pub ce: costexplorer::Client,
    /// AWS Chatbot (Amazon Q Developer in chat applications): Slack and Teams channels. Its API
    /// answers in four regions only ([`CHATBOT_REGIONS`]); the client uses the nearest.
    pub chatbot: chatbot::Client,
    pub s3: s3::Client,
    pub iam: iam::Client,
    pub kms: kms::Client,
    pub organizations: organizations::Client,
    pub sts: sts::Client,
    pub tagging: tagging::Client,
    /// The configuration the clients were built from: targets in other accounts and regions
    /// are derived from it ([`Aws::assume`]).
    config: aws_config::SdkConfig,
    /// The account, once STS has answered: the credentials' account does not change, so a
    /// second question costs a round trip for nothing (a fan-out target asks when connected,
    /// then its read would ask again; issue 27, item 1).
    account: std::sync::Arc<std::sync::OnceLock<String>>,
}

/// The regions whose endpoints serve the Chatbot API ("AWS Chatbot endpoints and quotas", AWS
/// General Reference; the API reference's welcome page). A configuration is account-wide and
/// "stored in each of the relevant available Regions", so any of them manages it.
pub const CHATBOT_REGIONS: [&str; 4] = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"];

/// The region the Chatbot client calls from `region`: itself when it serves the API, else
/// us-west-2 (as the Terraform AWS provider does).
pub fn chatbot_region(region: &str) -> String {
    if CHATBOT_REGIONS.contains(&region) { region } else { "us-west-2" }.to_string()
}

impl Aws {
    /// Loads the AWS configuration chain; `region` and `endpoint` override it when given.
    pub async fn connect(region: Option<&str>, endpoint: Option<&str>) -> Result<Aws, AwsError> {
        Aws::connect_with(region, endpoint, None).await
    }

    /// [`Aws::connect`], with at most `max_attempts` attempts per call ([`retry_config`]).
    pub async fn connect_with(region: Option<&str>, endpoint: Option<&str>, max_attempts: Option<u32>) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        let user_set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        if let Some(retries) = retry_config(max_attempts, user_set("AWS_MAX_ATTEMPTS") || user_set("AWS_RETRY_MODE")) {
            MAX_ATTEMPTS.store(retries.max_attempts(), std::sync::atomic::Ordering::Relaxed);
            loader = loader.retry_config(retries);
        }
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        let conf = loader.load().await;
        Aws::from_config(conf)
    }

    /// Every client, built from one configuration, each counting its calls.
    fn from_config(conf: aws_config::SdkConfig) -> Result<Aws, AwsError> {
        let region = conf.region().map(|r| r.to_string()).ok_or(AwsError::NoRegion)?;
        let stats = ApiStats::default();
        let endpoint_override = conf.endpoint_url().map(str::to_string);
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(&conf).interceptor(stats.interceptor()).retry_classifier(Unreachable).build(),
                )
            };
        }
        let lock_stats = ApiStats::default();
        let locks = logs::Client::from_conf(
            logs::config::Builder::from(&conf).interceptor(lock_stats.interceptor()).retry_classifier(Unreachable).build(),
        );
        let s3conf = s3::config::Builder::from(&conf)
            .interceptor(stats.interceptor())
            .retry_classifier(Unreachable)
            .force_path_style(endpoint_override.is_some())
            .build();
        let chatbot_conf = chatbot::config::Builder::from(&conf)
            .interceptor(stats.interceptor())
            .retry_classifier(Unreachable)
            .region(aws_config::Region::new(chatbot_region(&region)))
            .build();
        Ok(Aws {
            region,
            secretsmanager: client!(secretsmanager),
            cloudtrail: client!(cloudtrail),
            cloudwatch: client!(cloudwatch),
            logs: client!(logs),
            sns: client!(sns),
            events: client!(events),
            sfn: client!(sfn),
            ce: client!(costexplorer),
            chatbot: chatbot::Client::from_conf(chatbot_conf),
            s3: s3::Client::from_conf(s3conf),
            iam: client!(iam),
            kms: client!(kms),
            organizations: client!(organizations),
            sts: client!(sts),
            tagging: client!(tagging),
            endpoint_override,
            stats,
            locks,
            lock_stats,
            config: conf,
            account: Default::default(),
        })
    }

    /// The same endpoints and retries, acting in `account` and `region` through the role
    /// `role_name` there (STS AssumeRole; the SDK caches the credentials and refreshes them
    /// before they expire). Nothing is called yet: a role that cannot be assumed fails the
    /// first call, which [`Aws::account_id`] should be.
    pub async fn assume(&self, account: &str, region: &str, role_name: &str, external_id: Option<&str>) -> Aws {
        let role_arn = format!("arn:aws:iam::{account}:role/{role_name}");
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name("secmon").configure(&self.config);
        if let Some(id) = external_id {
            provider = provider.external_id(id);
        }
        let provider = provider.build().await;
        let conf = self
            .config
            .to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Aws::from_config(conf).expect("the region is set")
    }

    /// The same credentials and endpoints in another region (the same account, so what STS
    /// said of it is kept).
    pub fn in_region(&self, region: &str) -> Aws {
        let conf = self.config.to_builder().region(aws_config::Region::new(region.to_string())).build();
        Aws { account: self.account.clone(), ..Aws::from_config(conf).expect("the region is set") }
    }

    /// The account the credentials belong to (STS GetCallerIdentity).
    /// Asked of STS once per connection, then remembered.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        if let Some(known) = self.account.get() {
            return Ok(known.clone());
        }
        let out = self.sts.get_caller_identity().send().await.map_err(|e| AwsError::call("GetCallerIdentity", e))?;
        let account = out.account.unwrap_or_default();
        if !account.is_empty() {
            let _ = self.account.set(account.clone());
        }
        Ok(account)
    }
}

/// An endpoint nothing answers (connection refused, no such host) is not a transient AWS fault:
/// retried with backoff it was 83 s of silence before a raw error (issue 26, item 7). Such a
/// call is not retried, and its error says where secmon tried to connect ([`AwsError::call`]).
#[derive(Debug)]
struct Unreachable;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for Unreachable {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        let Some(Err(e)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        match e.as_connector_error() {
            Some(c) if unreachable(&error_chain(c)) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "secmon-unreachable-endpoint"
    }
}

/// An error and its causes, in words.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Whether an error's words say nothing answered at the address (refused, or no such host).
fn unreachable(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["connection refused", "dns error", "failed to lookup address", "name or service not known", "no such host"]
        .iter()
        .any(|w| t.contains(w))
}

/// Attempts per call unless told otherwise: with adaptive mode's client-side rate limiting, ten
/// attempts ride out a throttled minute; the SDK's standard default (3) fails a large apply
/// under 20 % transient errors (issue 10).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// How calls are retried: the SDK's adaptive mode (exponential backoff with jitter, and a
/// client-side rate limiter that slows down once AWS throttles) with `max_attempts` attempts,
/// [`DEFAULT_MAX_ATTEMPTS`] by default. None when the user configured retries the AWS way
/// (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`) and no flag overrides them: the SDK then applies those.
pub fn retry_config(max_attempts: Option<u32>, user_configured: bool) -> Option<aws_config::retry::RetryConfig> {
    if user_configured && max_attempts.is_none() {
        return None;
    }
    Some(aws_config::retry::RetryConfig::adaptive().with_max_attempts(max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chatbot_client_calls_a_region_its_api_answers_in() {
        assert_eq!(chatbot_region("eu-west-1"), "eu-west-1");
        assert_eq!(chatbot_region("us-east-1"), "us-west-2", "us-east-1 serves no Chatbot API");
        assert!(CHATBOT_REGIONS.iter().all(|r| chatbot_region(r) == *r));
    }

    #[test]
    fn throttling_and_server_faults_are_transient_in_every_protocol_spelling() {
        for code in
            ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "ServiceUnavailable"]
        {
            assert!(transient(Some(code), Some(400)), "{code}");
        }
        assert!(transient(None, Some(503)) && transient(None, Some(429)), "a bare 5xx or 429, whatever the body");
        assert!(!transient(Some("AccessDenied"), Some(403)) && !transient(Some("ValidationError"), Some(400)));
    }

    #[test]
    fn retries_are_adaptive_unless_the_user_configured_them_the_aws_way() {
        let default = retry_config(None, false).unwrap();
        assert_eq!(default.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(default.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(retry_config(Some(25), false).unwrap().max_attempts(), 25);
        assert!(retry_config(None, true).is_none(), "AWS_MAX_ATTEMPTS / AWS_RETRY_MODE stand");
        assert_eq!(retry_config(Some(4), true).unwrap().max_attempts(), 4, "the flag wins");
    }

    /// Issue 26, item 7: a refused connection or an unknown host is recognised in the error's
    /// causes, so that it is not retried as a transient fault.
    #[test]
    fn an_endpoint_nothing_answers_is_recognised() {
        assert!(unreachable("dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111)"));
        assert!(unreachable("dispatch failure: other: dns error: failed to lookup address information: Name or service not known"));
        assert!(!unreachable("dispatch failure: timeout: operation timed out"));
        assert!(!unreachable("ThrottlingException: Rate exceeded"));
    }
}
