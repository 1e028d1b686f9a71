//! The apply lock: one apply (or destroy) of a spec at a time, per account and region, held as a
//! lease that no crash can wedge (issue 22, item 5).
//!
//! Where: one CloudWatch Logs log group per spec, [`lock_group`] (`/secmon/locks/<spec>`),
//! tagged as the spec's, with a retention (Prowler's `cloudwatch_log_group_retention_policy_specific_days_enabled`)
//! and encrypted with the spec's key once the key exists (`cloudwatch_log_group_kms_encryption_enabled`);
//! `destroy` removes it. Needs no service beyond those the pipeline uses.
//!
//! How: the lock is the log stream of the highest generation, `lease-<n>`. `CreateLogStream`
//! fails when the stream exists, so taking generation `n` is atomic on AWS and the emulator. Its
//! first event names the holder (id, user, host, CI job, pid); the holder writes a renewal event
//! every [`RENEW_EVERY`] while it works. A holder whose last event is older than [`LEASE`] is dead
//! (killed by a CI timeout, a preempted runner, SIGKILL): the next apply takes over by creating
//! generation `n + 1` (two contenders cannot both win it), then deletes the dead streams. A live
//! holder is never taken over: it renews four times per lease. A holder that finds its stream gone
//! or superseded knows it lost the lock ([`Lock::lost`]).
//!
//! Releasing deletes the stream. `secmon force-unlock ID` still breaks a lock by its id, never a
//! lock whose holder cannot be read. Holders' clocks must agree within the lease (NTP): events
//! carry the holder's time. `plan` takes no lock: it only reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secmon_aws::{error_code, Aws, AwsError};

use crate::EngineError;

/// How long a holder may stay silent before it is taken for dead.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a holder renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(15);
/// Days the lock group keeps its events: a year, as auditors' retention checks ask (the group
/// holds a few events per apply).
pub const RETENTION_DAYS: i32 = 365;
/// The prefix of every lock group.
pub const LOCK_GROUP_PREFIX: &str = "/secmon/locks/";
/// The tag that names the spec a lock group serves (not `secmon:spec`: the lock is not one of
/// the pipeline's resources, and a plan that read it would plan its deletion).
pub const LOCK_TAG: &str = "secmon:lock";
/// The prefix of the lease streams.
const STREAM_PREFIX: &str = "lease-";

/// The log group that holds the lock of spec `spec`: the one the spec's key policy admits.
pub fn lock_group(spec: &str) -> String {
    secmon_kinds::key::lock_group_of(spec)
}

fn stream_name(generation: u64) -> String {
    format!("{STREAM_PREFIX}{generation:09}")
}

fn generation_of(stream: &str) -> Option<u64> {
    stream.strip_prefix(STREAM_PREFIX)?.parse().ok()
}

/// A lock held by this process, renewed in the background until released.
#[derive(Debug)]
pub struct Lock {
    aws: Aws,
    spec: String,
    stream: String,
    pub id: String,
    /// The holder this lock was taken over from (silent for longer than the lease), in words.
    pub took_over: Option<String>,
    /// When that holder took the lock, in seconds since the epoch: what it created since may
    /// lack the ownership tag AWS could not set at creation ([`secmon_spec::DesiredState::recovering_since`]).
    pub took_over_since: Option<i64>,
    lost: Arc<AtomicBool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

/// Who holds a lock, as its first event says, and when it was last heard of.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub id: String,
    pub who: String,
    /// Milliseconds since the epoch: when the lock was taken.
    pub since: i64,
    /// Milliseconds since the epoch: its last event (or the stream's creation).
    pub last_heard: i64,
}

impl Holder {
    fn event(&self) -> String {
        format!("id={} who={}", self.id, self.who)
    }

    fn parse(message: &str, since: i64) -> Holder {
        let field = |name: &str| {
            message.split_whitespace().find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).unwrap_or("?").to_string()
        };
        Holder { id: field("id"), who: field("who"), since, last_heard: since }
    }

    /// Silent for longer than the lease at `now`: dead.
    pub fn expired(&self, now: i64) -> bool {
        now - self.last_heard > LEASE.as_millis() as i64
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A lock id: unique enough to tell two holders apart, short enough to type.
fn new_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{:08x}{:04x}", nanos, std::process::id() & 0xffff)
}

/// Who takes the lock, in words a person can act on: user, host, the CI job when one is
/// detectable, pid. No spaces (the event is `key=value` pairs).
pub fn who() -> String {
    who_from(&|k| std::env::var(k).ok(), hostname())
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn who_from(env: &dyn Fn(&str) -> Option<String>, host: String) -> String {
    let user = env("USER").or_else(|| env("USERNAME")).or_else(|| env("LOGNAME")).unwrap_or_else(|| "someone".into());
    let job = if env("GITHUB_ACTIONS").is_some() {
        env("GITHUB_RUN_ID").map(|run| format!("github:{}/actions/runs/{run}", env("GITHUB_REPOSITORY").unwrap_or_default()))
    } else if env("GITLAB_CI").is_some() {
        env("CI_JOB_URL").or_else(|| env("CI_JOB_ID").map(|j| format!("gitlab-job:{j}")))
    } else if env("BUILDKITE").is_some() {
        env("BUILDKITE_BUILD_URL")
    } else if env("CIRCLECI").is_some() {
        env("CIRCLE_BUILD_URL")
    } else if env("CODEBUILD_BUILD_ID").is_some() {
        env("CODEBUILD_BUILD_ID").map(|b| format!("codebuild:{b}"))
    } else {
        env("BUILD_URL")
    };
    let clean = |s: String| s.chars().map(|c| if c.is_whitespace() || c == '=' { '_' } else { c }).collect::<String>();
    let mut out = format!("{}@{}:pid{}", clean(user), clean(host), std::process::id());
    if let Some(job) = job {
        out.push_str(&format!(",ci={}", clean(job)));
    }
    out
}

fn call<E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static>(
    op: &'static str,
) -> impl FnOnce(secmon_aws::SdkError<E, secmon_aws::HttpResponse>) -> EngineError {
    move |e| EngineError::Aws(AwsError::call(op, e))
}

/// What one look at the lock group found.
enum Found {
    /// No lease stream: free, the next generation is 1.
    Free,
    /// The newest generation and who holds it.
    Held { generation: u64, holder: Holder },
}

impl Lock {
    /// Takes the lock of `spec`, or says who holds it. A holder silent for longer than [`LEASE`]
    /// is taken over.
    pub async fn acquire(aws: &Aws, spec: &str) -> Result<Lock, EngineError> {
        let group = lock_group(spec);
        ensure_group(aws, spec, &group).await?;
        let (generation, dead) = match look(aws, &group).await? {
            Found::Free => (1, None),
            Found::Held { generation, holder } if holder.expired(now_ms()) => (generation + 1, Some(holder)),
            Found::Held { holder, .. } => return Err(locked(spec, &holder)),
        };
        let stream = stream_name(generation);
        match aws.locks.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await {
            Ok(_) => {}
            // Another apply took this generation first.
            Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => {
                let holder = holder_of(aws, &group, &stream).await?;
                return Err(locked(spec, &holder));
            }
            Err(e) => return Err(call("CreateLogStream")(e)),
        }
        let me = Holder { id: new_id(), who: who(), since: now_ms(), last_heard: now_ms() };
        let mut lock = Lock {
            aws: aws.clone(),
            spec: spec.to_string(),
            stream: stream.clone(),
            id: me.id.clone(),
            took_over: None,
            took_over_since: None,
            lost: Arc::new(AtomicBool::new(false)),
            renewer: None,
        };
        if let Err(e) = put_event(aws, &group, &stream, me.since, &me.event()).await {
            let _ = delete_stream(aws, &group, &stream).await;
            return Err(e);
        }
        if let Some(dead) = dead {
            tracing::warn!(spec, "took over the lock of {}", dead.who);
            lock.took_over = Some(describe(&dead));
            lock.took_over_since = Some(dead.since / 1000);
        }
        // The dead generation below ours: nobody renews it any more (earlier ones were removed
        // by the take-over that ended them).
        if generation > 1 {
            delete_stream(aws, &group, &stream_name(generation - 1)).await?;
        }
        lock.renewer = Some(tokio::spawn(renew(aws.clone(), group, stream, me.id.clone(), lock.lost.clone())));
        Ok(lock)
    }

    /// [`Lock::acquire`], trying again every 2 s for up to `timeout` while another apply holds
    /// the lock (`on_wait` hears the holder once), then refusing as the holder's error says. A
    /// holder that dies while we wait is taken over once its lease runs out.
    pub async fn acquire_waiting(aws: &Aws, spec: &str, timeout: Duration, on_wait: impl Fn(&str)) -> Result<Lock, EngineError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut said = false;
        loop {
            match Lock::acquire(aws, spec).await {
                Err(EngineError::Locked { holder, .. }) if std::time::Instant::now() < deadline => {
                    if !said {
                        on_wait(&holder);
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    /// The lease was lost: the holder could not renew it within the lease, or another apply took
    /// it over. What this process does after that is no longer serialized.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Releases the lock.
    pub async fn release(mut self) -> Result<(), EngineError> {
        self.stop_renewing();
        let group = lock_group(&self.spec);
        delete_stream(&self.aws, &group, &self.stream).await?;
        let key = spec_key_arn(&self.aws, &self.spec).await;
        encrypt_group(&self.aws, &group, key).await
    }

    /// Releases the lock and removes the spec's lock group: `destroy` leaves nothing behind.
    pub async fn release_and_remove(mut self) -> Result<(), EngineError> {
        self.stop_renewing();
        match self.aws.locks.delete_log_group().log_group_name(lock_group(&self.spec)).send().await {
            Err(e) if error_code(&e) != Some("ResourceNotFoundException") => Err(call("DeleteLogGroup")(e)),
            _ => Ok(()),
        }
    }

    fn stop_renewing(&mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
    }
}

impl Drop for Lock {
    /// A lock dropped without release (a panic, an early return) stops renewing, so that its
    /// lease runs out and the next apply takes it over.
    fn drop(&mut self) {
        self.stop_renewing();
    }
}

fn locked(spec: &str, holder: &Holder) -> EngineError {
    EngineError::Locked { spec: spec.to_string(), holder: describe(holder), id: holder.id.clone() }
}

/// Renews the lease until aborted; marks it lost when a renewal fails for longer than the lease
/// or the stream is gone (taken over, or broken by force-unlock).
async fn renew(aws: Aws, group: String, stream: String, id: String, lost: Arc<AtomicBool>) {
    let mut last_ok = now_ms();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match put_event(&aws, &group, &stream, now_ms(), &format!("renew id={id}")).await {
            Ok(()) => last_ok = now_ms(),
            Err(e) => {
                let gone = matches!(&e, EngineError::Aws(a) if a.code() == Some("ResourceNotFoundException"));
                if gone || now_ms() - last_ok > LEASE.as_millis() as i64 {
                    tracing::error!("the apply lock was lost ({e}): another apply may run at the same time");
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
                tracing::warn!("the apply lock's lease was not renewed: {e}");
            }
        }
    }
}

async fn put_event(aws: &Aws, group: &str, stream: &str, at: i64, message: &str) -> Result<(), EngineError> {
    let event = secmon_aws::logs::types::InputLogEvent::builder().timestamp(at).message(message).build().expect("event");
    aws.locks
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .log_events(event)
        .send()
        .await
        .map_err(call("PutLogEvents"))?;
    Ok(())
}

/// Creates the spec's lock group when missing (tagged, with a retention), and encrypts it with
/// the spec's key once that key exists. Encryption is best effort: without it the lock works.
async fn ensure_group(aws: &Aws, spec: &str, group: &str) -> Result<(), EngineError> {
    let key = spec_key_arn(aws, spec).await;
    // Not the ownership tag: the lock is no resource of the pipeline, and a plan must not see it.
    let create = || aws.locks.create_log_group().log_group_name(group).tags(LOCK_TAG, spec);
    let created = match &key {
        Some(k) => match create().kms_key_id(k).send().await {
            // The key's policy does not admit the lock group yet (a key imported, not yet
            // converged): the lock works unencrypted, and is encrypted by a later apply.
            Err(e) if matches!(error_code(&e), Some("AccessDeniedException") | Some("InvalidParameterException")) => {
                tracing::warn!("the lock group {group} is created unencrypted: {}", AwsError::call("CreateLogGroup", e));
                create().send().await
            }
            other => other,
        },
        None => create().send().await,
    };
    match created {
        Ok(_) => {
            let retention = aws.locks.put_retention_policy().log_group_name(group).retention_in_days(RETENTION_DAYS).send().await;
            retention.map_err(call("PutRetentionPolicy"))?;
            return Ok(());
        }
        Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(call("CreateLogGroup")(e)),
    }
    encrypt_group(aws, group, key).await
}

/// Associates the spec's key with the lock group when it has none yet (best effort: the lock
/// works unencrypted). Called on acquire and on release, so that the first apply, which creates
/// the key after taking the lock, leaves the group encrypted.
async fn encrypt_group(aws: &Aws, group: &str, key: Option<String>) -> Result<(), EngineError> {
    let Some(key) = key else { return Ok(()) };
    let described = aws.locks.describe_log_groups().log_group_name_prefix(group).send().await.map_err(call("DescribeLogGroups"))?;
    let encrypted = described.log_groups().iter().any(|g| g.log_group_name() == Some(group) && g.kms_key_id().is_some());
    if !encrypted {
        if let Err(e) = aws.locks.associate_kms_key().log_group_name(group).kms_key_id(&key).send().await {
            tracing::warn!("the lock group {group} is not encrypted yet: {}", AwsError::call("AssociateKmsKey", e));
        }
    }
    Ok(())
}

/// The ARN of the spec's own key, when it exists (alias `alias/secmon/<spec>`).
async fn spec_key_arn(aws: &Aws, spec: &str) -> Option<String> {
    let described = aws.kms.describe_key().key_id(format!("alias/secmon/{spec}")).send().await.ok()?;
    let meta = described.key_metadata()?;
    meta.enabled().then(|| meta.arn().map(str::to_string)).flatten()
}

/// The newest lease stream of `group` and its holder.
async fn look(aws: &Aws, group: &str) -> Result<Found, EngineError> {
    let mut newest: Option<(u64, i64)> = None;
    let mut pages = aws.locks.describe_log_streams().log_group_name(group).log_stream_name_prefix(STREAM_PREFIX).into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.map_err(call("DescribeLogStreams"))?.log_streams() {
            if let Some(g) = s.log_stream_name().and_then(generation_of) {
                if newest.is_none_or(|(n, _)| g > n) {
                    newest = Some((g, s.creation_time().unwrap_or_default()));
                }
            }
        }
    }
    let Some((generation, created)) = newest else { return Ok(Found::Free) };
    let stream = stream_name(generation);
    let mut holder = match first_event(aws, group, &stream).await? {
        Some((message, at)) => Holder::parse(&message, at),
        // Taken a moment ago, its first event not written yet: alive since its creation.
        None => Holder { id: "?".into(), who: "?".into(), since: created, last_heard: created },
    };
    if let Some((_, at)) = last_event(aws, group, &stream).await? {
        holder.last_heard = holder.last_heard.max(at);
    }
    Ok(Found::Held { generation, holder })
}

async fn holder_of(aws: &Aws, group: &str, stream: &str) -> Result<Holder, EngineError> {
    Ok(match first_event(aws, group, stream).await? {
        Some((message, at)) => Holder::parse(&message, at),
        None => Holder { id: "?".into(), who: "?".into(), since: now_ms(), last_heard: now_ms() },
    })
}

/// The first or last event of a stream, following the tokens: "This operation can return empty
/// results while there are more log events available through the token" (GetLogEvents API
/// reference; issue 22, finding 9). The end is reached when the token comes back unchanged.
async fn edge_event(aws: &Aws, group: &str, stream: &str, from_head: bool) -> Result<Option<(String, i64)>, EngineError> {
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let request = aws.locks.get_log_events().log_group_name(group).log_stream_name(stream).start_from_head(from_head).limit(1);
        let page = match request.set_next_token(token.clone()).send().await {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(call("GetLogEvents")(e)),
        };
        let event = if from_head { page.events().first() } else { page.events().last() };
        if let Some(e) = event {
            return Ok(Some((e.message().unwrap_or_default().to_string(), e.timestamp().unwrap_or_default())));
        }
        let next = if from_head { page.next_forward_token() } else { page.next_backward_token() }.map(str::to_string);
        if next.is_none() || next == token {
            return Ok(None);
        }
        token = next;
    }
    Ok(None)
}

async fn first_event(aws: &Aws, group: &str, stream: &str) -> Result<Option<(String, i64)>, EngineError> {
    edge_event(aws, group, stream, true).await
}

async fn last_event(aws: &Aws, group: &str, stream: &str) -> Result<Option<(String, i64)>, EngineError> {
    edge_event(aws, group, stream, false).await
}

async fn delete_stream(aws: &Aws, group: &str, stream: &str) -> Result<(), EngineError> {
    match aws.locks.delete_log_stream().log_group_name(group).log_stream_name(stream).send().await {
        Err(e) if error_code(&e) != Some("ResourceNotFoundException") => Err(call("DeleteLogStream")(e)),
        _ => Ok(()),
    }
}

/// Who holds the lock of `spec`, if anyone.
pub async fn holder(aws: &Aws, spec: &str) -> Result<Option<Holder>, EngineError> {
    Ok(match look(aws, &lock_group(spec)).await {
        Ok(Found::Held { holder, .. }) => Some(holder),
        Ok(Found::Free) => None,
        Err(EngineError::Aws(e)) if e.code() == Some("ResourceNotFoundException") => None,
        Err(e) => return Err(e),
    })
}

fn describe(h: &Holder) -> String {
    let at = |ms: i64| {
        let t = secmon_aws::DateTime::from_millis(ms);
        t.fmt(secmon_aws::DateFormat::DateTime).unwrap_or_else(|_| ms.to_string())
    };
    let silent = (now_ms() - h.last_heard).max(0) / 1000;
    format!("{} since {}, last heard {silent} s ago; taken over after {} s of silence", h.who, at(h.since), LEASE.as_secs())
}

/// Breaks the lock of `spec` if its id is `id` (the one a refusal named): for a holder that
/// crashed, when waiting out its lease is not wanted. Refuses when another holder has taken the
/// lock since, and when the holder cannot be read (never a wildcard).
pub async fn force_unlock(aws: &Aws, spec: &str, id: &str) -> Result<(), EngineError> {
    let group = lock_group(spec);
    match look(aws, &group).await {
        Ok(Found::Held { generation, holder }) if holder.id == id && id != "?" => {
            delete_stream(aws, &group, &stream_name(generation)).await
        }
        Ok(Found::Held { holder, .. }) => Err(locked(spec, &holder)),
        Ok(Found::Free) => Ok(()),
        Err(EngineError::Aws(e)) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_back_from_its_event() {
        let me = Holder { id: "abc123".into(), who: "ci@runner:pid7".into(), since: 1_700_000_000_000, last_heard: 1_700_000_000_000 };
        assert_eq!(Holder::parse(&me.event(), me.since), me);
        assert!(describe(&me).starts_with("ci@runner:pid7 since 2023-11-14T22:13:20"), "{}", describe(&me));
    }

    #[test]
    fn a_holder_is_dead_only_after_a_whole_lease_of_silence() {
        let h = Holder { id: "a".into(), who: "w".into(), since: 0, last_heard: 1_000_000 };
        let lease = LEASE.as_millis() as i64;
        assert!(!h.expired(1_000_000 + lease), "silent for exactly the lease: alive");
        assert!(h.expired(1_000_000 + lease + 1));
        assert!(RENEW_EVERY * 4 <= LEASE, "a live holder renews several times per lease");
    }

    #[test]
    fn generations_sort_as_numbers_and_other_streams_are_ignored() {
        assert_eq!(generation_of(&stream_name(12)), Some(12));
        assert!(stream_name(9) < stream_name(10), "zero-padded: listed in order");
        assert_eq!(generation_of("secrets-monitoring"), None, "the old one-stream lock is not a lease");
    }

    /// Issue 22, item 5: the holder is named usefully, the CI job included when detectable.
    #[test]
    fn the_holder_names_user_host_ci_job_and_pid() {
        let env = |k: &str| match k {
            "USER" => Some("runner".to_string()),
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_REPOSITORY" => Some("acme/infra".into()),
            "GITHUB_RUN_ID" => Some("42".into()),
            _ => None,
        };
        let who = who_from(&env, "build host".into());
        assert!(who.starts_with("runner@build_host:pid"), "{who}");
        assert!(who.ends_with(",ci=github:acme/infra/actions/runs/42"), "{who}");
        assert!(!who.contains(' '), "one token in the event: {who}");
        let none = who_from(&|_| None, "h".into());
        assert!(none.starts_with("someone@h:pid") && !none.contains("ci="), "{none}");
    }
}
