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

use secmon_kinds::lock_store::not_found;
use secmon_kinds::{LockStore, NewLockGroup};

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
    secmon_kinds::lock_store::lock_group(spec)
}

fn stream_name(generation: u64) -> String {
    format!("{STREAM_PREFIX}{generation:09}")
}

fn generation_of(stream: &str) -> Option<u64> {
    stream.strip_prefix(STREAM_PREFIX)?.parse().ok()
}

/// The stream `force-unlock` leaves behind: who it broke, and since when that holder held the
/// lock. The next apply takes the lock over from it as from a holder whose lease ran out, so that
/// what the broken apply created untagged (an S3 bucket) is taken back, not refused as another
/// spec's. Named under the lease prefix, so that the listing every acquire makes already shows it.
const BROKEN_STREAM: &str = "lease-broken";

/// A lock held by this process, renewed in the background until released.
pub struct Lock {
    store: Arc<dyn LockStore>,
    spec: String,
    stream: String,
    /// This holder's id: what a refusal names and `force-unlock` takes.
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
    /// The holder's id.
    pub id: String,
    /// Who: user, host, CI job, pid.
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

    /// The record `force-unlock` keeps of a holder it broke ([`BROKEN_STREAM`]): its event, and
    /// since when it held the lock (in the text: the event's own time is when it was broken).
    fn broken_record(&self) -> String {
        format!("{} since={}", self.event(), self.since)
    }

    fn parse_broken(message: &str) -> Holder {
        let since = message.split_whitespace().find_map(|kv| kv.strip_prefix("since=")).and_then(|v| v.parse().ok()).unwrap_or(0);
        Holder::parse(message, since)
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

/// What one look at the lock group found.
enum Found {
    /// No lease stream: free, the next generation is 1; `broken` when `force-unlock` left the
    /// record of the holder it broke ([`BROKEN_STREAM`]).
    Free {
        /// The record is there.
        broken: bool,
    },
    /// The newest generation and who holds it.
    Held { generation: u64, holder: Holder },
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock").field("spec", &self.spec).field("stream", &self.stream).field("id", &self.id).finish_non_exhaustive()
    }
}

impl Lock {
    /// Takes the lock of `spec`, or says who holds it. A holder silent for longer than [`LEASE`]
    /// is taken over.
    pub async fn acquire(store: Arc<dyn LockStore>, spec: &str) -> Result<Lock, EngineError> {
        let group = lock_group(spec);
        ensure_group(&*store, spec, &group).await?;
        let (generation, dead) = match look(&*store, &group).await? {
            Found::Free { broken: false } => (1, None),
            // Broken by force-unlock: taken over from the broken holder (issue 23 follow-up: a
            // bucket that apply created untagged is taken back after force-unlock as after a
            // lease ran out).
            Found::Free { broken: true } => {
                (1, store.edge_event(&group, BROKEN_STREAM, true).await?.map(|(message, _)| Holder::parse_broken(&message)))
            }
            Found::Held { generation, holder } if holder.expired(now_ms()) => (generation + 1, Some(holder)),
            Found::Held { holder, .. } => return Err(locked(spec, &holder)),
        };
        let stream = stream_name(generation);
        if !store.create_stream(&group, &stream).await? {
            // Another apply took this generation first.
            let holder = holder_of(&*store, &group, &stream).await?;
            return Err(locked(spec, &holder));
        }
        let me = Holder { id: new_id(), who: who(), since: now_ms(), last_heard: now_ms() };
        let mut lock = Lock {
            store: store.clone(),
            spec: spec.to_string(),
            stream: stream.clone(),
            id: me.id.clone(),
            took_over: None,
            took_over_since: None,
            lost: Arc::new(AtomicBool::new(false)),
            renewer: None,
        };
        if let Err(e) = store.put_event(&group, &stream, me.since, &me.event()).await {
            let _ = store.delete_stream(&group, &stream).await;
            return Err(e.into());
        }
        if let Some(dead) = dead {
            tracing::warn!(spec, "took over the lock of {}", dead.who);
            lock.took_over = Some(describe(&dead));
            lock.took_over_since = Some(dead.since / 1000);
        }
        // The dead generation below ours: nobody renews it any more (earlier ones were removed
        // by the take-over that ended them).
        if generation > 1 {
            store.delete_stream(&group, &stream_name(generation - 1)).await?;
        } else if lock.took_over.is_some() {
            store.delete_stream(&group, BROKEN_STREAM).await?;
        }
        lock.renewer = Some(tokio::spawn(renew(store, group, stream, me.id.clone(), lock.lost.clone(), RENEW_EVERY)));
        Ok(lock)
    }

    /// [`Lock::acquire`], trying again every 2 s for up to `timeout` while another apply holds
    /// the lock (`on_wait` hears the holder once), then refusing as the holder's error says. A
    /// holder that dies while we wait is taken over once its lease runs out.
    pub async fn acquire_waiting(
        store: Arc<dyn LockStore>,
        spec: &str,
        timeout: Duration,
        on_wait: impl Fn(&str),
    ) -> Result<Lock, EngineError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut said = false;
        loop {
            match Lock::acquire(store.clone(), spec).await {
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
        self.store.delete_stream(&group, &self.stream).await?;
        let key = spec_key_arn(&*self.store, &self.spec).await;
        encrypt_group(&*self.store, &group, key).await
    }

    /// Releases the lock and removes the spec's lock group: `destroy` leaves nothing behind.
    pub async fn release_and_remove(mut self) -> Result<(), EngineError> {
        self.stop_renewing();
        Ok(self.store.delete_lock_group(&lock_group(&self.spec)).await?)
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

/// Renews the lease every `every` until aborted; marks it lost when a renewal fails for longer
/// than the lease or the stream is gone (taken over, or broken by force-unlock).
async fn renew(store: Arc<dyn LockStore>, group: String, stream: String, id: String, lost: Arc<AtomicBool>, every: Duration) {
    let mut last_ok = now_ms();
    loop {
        tokio::time::sleep(every).await;
        match store.put_event(&group, &stream, now_ms(), &format!("renew id={id}")).await {
            Ok(()) => last_ok = now_ms(),
            Err(e) => {
                if not_found(&e) || now_ms() - last_ok > LEASE.as_millis() as i64 {
                    tracing::error!("the apply lock was lost ({e}): another apply may run at the same time");
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
                tracing::warn!("the apply lock's lease was not renewed: {e}");
            }
        }
    }
}

/// Creates the spec's lock group when missing (tagged, with a retention), and encrypts it with
/// the spec's key once that key exists. Encryption is best effort: without it the lock works.
async fn ensure_group(store: &dyn LockStore, spec: &str, group: &str) -> Result<(), EngineError> {
    let key = spec_key_arn(store, spec).await;
    // Not the ownership tag: the lock is no resource of the pipeline, and a plan must not see it.
    if store
        .create_lock_group(NewLockGroup { name: group, tag: (LOCK_TAG, spec), retention_days: RETENTION_DAYS, key: key.as_deref() })
        .await?
    {
        return Ok(());
    }
    encrypt_group(store, group, key).await
}

/// Associates the spec's key with the lock group when it has none yet (best effort: the lock
/// works unencrypted). Called on acquire and on release, so that the first apply, which creates
/// the key after taking the lock, leaves the group encrypted.
async fn encrypt_group(store: &dyn LockStore, group: &str, key: Option<String>) -> Result<(), EngineError> {
    match key {
        Some(key) => Ok(store.encrypt_lock_group(group, &key).await?),
        None => Ok(()),
    }
}

/// The ARN of the spec's own key, when it exists (alias `alias/secmon/<spec>`).
async fn spec_key_arn(store: &dyn LockStore, spec: &str) -> Option<String> {
    store.enabled_key_arn(&format!("alias/secmon/{spec}")).await.ok().flatten()
}

/// The newest lease stream of `group` and its holder.
async fn look(store: &dyn LockStore, group: &str) -> Result<Found, EngineError> {
    let streams = store.streams(group, STREAM_PREFIX).await?;
    let newest = streams.iter().filter_map(|s| generation_of(&s.name).map(|g| (g, s.created_ms))).max_by_key(|(g, _)| *g);
    let Some((generation, created)) = newest else { return Ok(Found::Free { broken: streams.iter().any(|s| s.name == BROKEN_STREAM) }) };
    let stream = stream_name(generation);
    let mut holder = match store.edge_event(group, &stream, true).await? {
        Some((message, at)) => Holder::parse(&message, at),
        // Taken a moment ago, its first event not written yet: alive since its creation.
        None => Holder { id: "?".into(), who: "?".into(), since: created, last_heard: created },
    };
    if let Some((_, at)) = store.edge_event(group, &stream, false).await? {
        holder.last_heard = holder.last_heard.max(at);
    }
    Ok(Found::Held { generation, holder })
}

async fn holder_of(store: &dyn LockStore, group: &str, stream: &str) -> Result<Holder, EngineError> {
    Ok(match store.edge_event(group, stream, true).await? {
        Some((message, at)) => Holder::parse(&message, at),
        None => Holder { id: "?".into(), who: "?".into(), since: now_ms(), last_heard: now_ms() },
    })
}

/// Who holds the lock of `spec`, if anyone.
pub async fn holder(store: &dyn LockStore, spec: &str) -> Result<Option<Holder>, EngineError> {
    Ok(match look(store, &lock_group(spec)).await {
        Ok(Found::Held { holder, .. }) => Some(holder),
        Ok(Found::Free { .. }) => None,
        Err(EngineError::Kind(e)) if not_found(&e) => None,
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
/// lock since, and when the holder cannot be read (never a wildcard). Returns whether a lock was
/// broken: false when none is held (nothing to do, and the caller must not say otherwise).
pub async fn force_unlock(store: &dyn LockStore, spec: &str, id: &str) -> Result<bool, EngineError> {
    let group = lock_group(spec);
    match look(store, &group).await {
        Ok(Found::Held { generation, holder }) if holder.id == id && id != "?" => {
            // The record first: a failure between the two leaves the lock held, not forgotten.
            store.create_stream(&group, BROKEN_STREAM).await?;
            store.put_event(&group, BROKEN_STREAM, now_ms(), &holder.broken_record()).await?;
            store.delete_stream(&group, &stream_name(generation)).await?;
            Ok(true)
        }
        Ok(Found::Held { holder, .. }) => Err(locked(spec, &holder)),
        Ok(Found::Free { .. }) => Ok(false),
        Err(EngineError::Kind(e)) if not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secmon_kinds::FakeCloud;

    const SPEC: &str = "secrets-monitoring";

    fn account() -> Arc<FakeCloud> {
        Arc::new(FakeCloud::new("123456789012", "us-east-1"))
    }

    /// A holder that took generation `n` at `since_ms` and was last heard at `last_ms`.
    async fn held_by_someone(cloud: &FakeCloud, generation: u64, since_ms: i64, last_ms: i64) {
        let group = lock_group(SPEC);
        cloud
            .create_lock_group(NewLockGroup { name: &group, tag: (LOCK_TAG, SPEC), retention_days: RETENTION_DAYS, key: None })
            .await
            .unwrap();
        cloud.create_stream(&group, &stream_name(generation)).await.unwrap();
        LockStore::put_event(cloud, &group, &stream_name(generation), since_ms, "id=dead0001 who=ci@runner:pid1").await.unwrap();
        LockStore::put_event(cloud, &group, &stream_name(generation), last_ms, "renew id=dead0001").await.unwrap();
    }

    #[tokio::test]
    async fn a_second_apply_is_refused_with_the_holder_until_the_first_releases() {
        let cloud = account();
        let first = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        let group = &cloud.lock_groups()[&lock_group(SPEC)];
        assert_eq!(group.tag, (LOCK_TAG.to_string(), SPEC.to_string()), "tagged as the spec's lock, not as a resource");
        assert_eq!(group.retention_days, 365);
        let Err(EngineError::Locked { holder, id, .. }) = Lock::acquire(cloud.clone(), SPEC).await else { panic!("not refused") };
        assert_eq!(id, first.id);
        assert!(holder.contains(":pid"), "{holder}");
        first.release().await.unwrap();
        assert!(cloud.lock_groups()[&lock_group(SPEC)].streams.is_empty(), "released: no lease left");
        Lock::acquire(cloud.clone(), SPEC).await.unwrap().release().await.unwrap();
    }

    #[tokio::test]
    async fn a_holder_silent_for_a_lease_is_taken_over_and_its_stream_removed() {
        let cloud = account();
        let long_ago = now_ms() - 10 * LEASE.as_millis() as i64;
        held_by_someone(&cloud, 3, long_ago, long_ago + 1000).await;
        let lock = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        assert!(lock.took_over.as_deref().is_some_and(|w| w.starts_with("ci@runner:pid1")), "{:?}", lock.took_over);
        assert_eq!(lock.took_over_since, Some(long_ago / 1000), "what the dead holder made since then is recovered");
        let streams: Vec<String> = cloud.lock_groups()[&lock_group(SPEC)].streams.keys().cloned().collect();
        assert_eq!(streams, vec![stream_name(4)], "the next generation, the dead one removed");
        lock.release().await.unwrap();
    }

    #[tokio::test]
    async fn a_live_holder_is_never_taken_over() {
        let cloud = account();
        held_by_someone(&cloud, 1, now_ms() - 2 * LEASE.as_millis() as i64, now_ms() - 1000).await;
        let refused = Lock::acquire(cloud.clone(), SPEC).await.unwrap_err();
        assert!(matches!(refused, EngineError::Locked { ref id, .. } if id == "dead0001"), "{refused}");
    }

    #[tokio::test]
    async fn force_unlock_breaks_only_the_named_holder() {
        let cloud = account();
        held_by_someone(&cloud, 1, now_ms(), now_ms()).await;
        assert!(force_unlock(&*cloud, SPEC, "someone-else").await.is_err(), "another id is refused");
        assert!(force_unlock(&*cloud, SPEC, "?").await.is_err(), "never a wildcard");
        assert!(force_unlock(&*cloud, SPEC, "dead0001").await.unwrap(), "broken");
        assert!(holder(&*cloud, SPEC).await.unwrap().is_none());
        assert!(!force_unlock(&FakeCloud::new("1", "r"), SPEC, "x").await.expect("no lock group: nothing to break"), "and it says so");
    }

    /// A crashed apply's lock broken with force-unlock, as the refusal says to, is taken over by
    /// the next apply as one whose lease ran out: what the crashed apply created since it took
    /// the lock, untagged because S3 takes no tags at CreateBucket, is taken back, not refused as
    /// another spec's (found by `an_apply_killed_at_a_random_moment_converges_on_the_next`).
    #[tokio::test]
    async fn after_force_unlock_the_next_apply_recovers_what_the_broken_holder_made() {
        let cloud = account();
        let started = now_ms() - 5_000;
        held_by_someone(&cloud, 2, started, now_ms()).await;
        assert!(force_unlock(&*cloud, SPEC, "dead0001").await.unwrap());
        assert!(holder(&*cloud, SPEC).await.unwrap().is_none(), "free");
        let lock = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        assert!(lock.took_over.as_deref().is_some_and(|w| w.starts_with("ci@runner:pid1")), "{:?}", lock.took_over);
        assert_eq!(lock.took_over_since, Some(started / 1000));
        let streams: Vec<String> = cloud.lock_groups()[&lock_group(SPEC)].streams.keys().cloned().collect();
        assert_eq!(streams, vec![stream_name(1)], "the record is gone once used");
        lock.release().await.unwrap();
        let next = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        assert_eq!(next.took_over, None, "an ordinary apply after it recovers nothing");
        next.release().await.unwrap();
    }

    #[tokio::test]
    async fn destroy_removes_the_lock_group_and_the_group_is_encrypted_once_the_key_exists() {
        let cloud = account();
        let lock = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        assert_eq!(cloud.lock_groups()[&lock_group(SPEC)].key, None, "no key yet: the lock works unencrypted");
        // The first apply creates the key while holding the lock: the release encrypts the group.
        cloud.put_key_alias(&format!("alias/secmon/{SPEC}"), "arn:aws:kms:us-east-1:123456789012:key/k");
        lock.release().await.unwrap();
        assert_eq!(cloud.lock_groups()[&lock_group(SPEC)].key.as_deref(), Some("arn:aws:kms:us-east-1:123456789012:key/k"));
        let lock = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        lock.release_and_remove().await.unwrap();
        assert!(cloud.lock_groups().is_empty(), "destroy leaves no lock group behind");
    }

    #[tokio::test]
    async fn a_holder_whose_stream_is_gone_knows_it_lost_the_lock() {
        let cloud = account();
        let lock = Lock::acquire(cloud.clone(), SPEC).await.unwrap();
        force_unlock(&*cloud, SPEC, &lock.id).await.unwrap();
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = renew(cloud.clone(), lock_group(SPEC), lock.stream.clone(), lock.id.clone(), lost.clone(), Duration::from_millis(5));
        tokio::time::timeout(Duration::from_secs(5), renewer).await.expect("the renewer stops");
        assert!(lost.load(Ordering::SeqCst), "the next renewal finds the stream gone");
    }

    #[tokio::test]
    async fn a_failed_first_event_leaves_no_stream_behind() {
        let cloud = account();
        cloud.fail("lock put_event", "ThrottlingException", secmon_kinds::fake::Timing::Before, 1);
        assert!(Lock::acquire(cloud.clone(), SPEC).await.is_err());
        assert!(cloud.lock_groups()[&lock_group(SPEC)].streams.is_empty(), "a stream without holder would block the next apply");
        Lock::acquire(cloud.clone(), SPEC).await.expect("the next apply takes it").release().await.unwrap();
    }

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
