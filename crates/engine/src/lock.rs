//! The apply lock: one apply (or destroy) of a spec at a time, per account and region.
//!
//! The lock is a CloudWatch Logs log stream named after the spec in the log group
//! [`LOCK_GROUP`]: `CreateLogStream` fails when the stream exists, so taking the lock is atomic on
//! AWS and on the emulator, and needs no service beyond those the pipeline uses. Its first log
//! event says who holds it and since when; releasing it deletes the stream. A holder that crashed
//! leaves the lock behind: `--force-unlock ID` breaks it deliberately, ID being the one the
//! refusal names. `plan` takes no lock: it only reads.

use secmon_aws::{error_code, Aws, AwsError};

use crate::EngineError;

/// The log group that holds every spec's lock stream.
pub const LOCK_GROUP: &str = "/secmon/locks";

/// A lock held by this process.
#[derive(Debug)]
pub struct Lock {
    aws: Aws,
    spec: String,
    pub id: String,
}

/// Who holds a lock, as its first event says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub id: String,
    pub who: String,
    /// Milliseconds since the epoch.
    pub since: i64,
}

impl Holder {
    fn event(&self) -> String {
        format!("id={} who={}", self.id, self.who)
    }

    fn parse(message: &str, since: i64) -> Holder {
        let field = |name: &str| {
            message.split_whitespace().find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('='))).unwrap_or("?").to_string()
        };
        Holder { id: field("id"), who: field("who"), since }
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

fn who() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "someone".into());
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-host".into());
    format!("{user}@{host}:pid{}", std::process::id())
}

fn call<E: secmon_aws::ProvideErrorMetadata + std::error::Error + 'static>(
    op: &'static str,
) -> impl FnOnce(secmon_aws::SdkError<E, secmon_aws::HttpResponse>) -> EngineError {
    move |e| EngineError::Aws(AwsError::call(op, e))
}

impl Lock {
    /// Takes the lock of `spec`, or says who holds it.
    pub async fn acquire(aws: &Aws, spec: &str) -> Result<Lock, EngineError> {
        let logs = &aws.locks;
        match logs.create_log_group().log_group_name(LOCK_GROUP).send().await {
            Err(e) if error_code(&e) != Some("ResourceAlreadyExistsException") => return Err(call("CreateLogGroup")(e)),
            _ => {}
        }
        match logs.create_log_stream().log_group_name(LOCK_GROUP).log_stream_name(spec).send().await {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => {
                let holder = holder(aws, spec).await?;
                return Err(EngineError::Locked { spec: spec.to_string(), holder: describe(&holder), id: holder.id });
            }
            Err(e) => return Err(call("CreateLogStream")(e)),
        }
        let me = Holder { id: new_id(), who: who(), since: now_ms() };
        let event = secmon_aws::logs::types::InputLogEvent::builder().timestamp(me.since).message(me.event()).build().expect("event");
        let written = logs.put_log_events().log_group_name(LOCK_GROUP).log_stream_name(spec).log_events(event).send().await;
        let lock = Lock { aws: aws.clone(), spec: spec.to_string(), id: me.id };
        if let Err(e) = written {
            lock.release().await?;
            return Err(call("PutLogEvents")(e));
        }
        Ok(lock)
    }

    /// [`Lock::acquire`], trying again every 2 s for up to `timeout` while another apply holds
    /// the lock (`on_wait` hears the holder once), then refusing as the holder's error says.
    pub async fn acquire_waiting(aws: &Aws, spec: &str, timeout: std::time::Duration, on_wait: impl Fn(&str)) -> Result<Lock, EngineError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut said = false;
        loop {
            match Lock::acquire(aws, spec).await {
                Err(EngineError::Locked { holder, .. }) if std::time::Instant::now() < deadline => {
                    if !said {
                        on_wait(&holder);
                        said = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    /// Releases the lock.
    pub async fn release(self) -> Result<(), EngineError> {
        delete_stream(&self.aws, &self.spec).await
    }
}

async fn delete_stream(aws: &Aws, spec: &str) -> Result<(), EngineError> {
    match aws.locks.delete_log_stream().log_group_name(LOCK_GROUP).log_stream_name(spec).send().await {
        Err(e) if error_code(&e) != Some("ResourceNotFoundException") => Err(call("DeleteLogStream")(e)),
        _ => Ok(()),
    }
}

/// Who holds the lock of `spec` (a lock whose first event is not written yet reads as `?`).
pub async fn holder(aws: &Aws, spec: &str) -> Result<Holder, EngineError> {
    let events = aws.locks.get_log_events().log_group_name(LOCK_GROUP).log_stream_name(spec).start_from_head(true).limit(1).send().await;
    let events = events.map_err(call("GetLogEvents"))?;
    Ok(match events.events().first() {
        Some(e) => Holder::parse(e.message().unwrap_or_default(), e.timestamp().unwrap_or_default()),
        None => Holder { id: "?".into(), who: "?".into(), since: 0 },
    })
}

fn describe(h: &Holder) -> String {
    let since = secmon_aws::DateTime::from_millis(h.since);
    let since = since.fmt(secmon_aws::DateFormat::DateTime).unwrap_or_else(|_| h.since.to_string());
    format!("{} since {since}", h.who)
}

/// Breaks the lock of `spec` if its id is `id` (the one a refusal named): for a holder that
/// crashed. Refuses when another holder has taken the lock since.
pub async fn force_unlock(aws: &Aws, spec: &str, id: &str) -> Result<(), EngineError> {
    let holder = holder(aws, spec).await?;
    if holder.id != id && holder.id != "?" {
        return Err(EngineError::Locked { spec: spec.to_string(), holder: describe(&holder), id: holder.id });
    }
    delete_stream(aws, spec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_back_from_its_event() {
        let me = Holder { id: "abc123".into(), who: "ci@runner:pid7".into(), since: 1_700_000_000_000 };
        assert_eq!(Holder::parse(&me.event(), me.since), me);
        assert!(describe(&me).starts_with("ci@runner:pid7 since 2023-11-14T22:13:20"), "{}", describe(&me));
    }
}
