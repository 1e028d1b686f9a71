//! [`LockStore`]: where the apply lock lives, behind the seam (issue 23, item 2). The lock's
//! protocol (generations, leases, take-over) is `secmon-engine`'s; this is only the storage it
//! needs: log groups, log streams whose creation is atomic, and their first and last events.
//! [`SdkCloud`](crate::SdkCloud) keeps it in CloudWatch Logs (its own client, so the lock's calls
//! are counted apart from the pipeline's); [`FakeCloud`](crate::FakeCloud) in a map.

use crate::{Fut, KindError};

/// One lease stream as listed: its name and when it was created (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// The stream's name.
    pub name: String,
    /// When it was created, in ms since the epoch.
    pub created_ms: i64,
}

/// A lock group to create: its name, its tag, how long it keeps events, and the key that
/// encrypts it when given (unencrypted when the key's policy does not admit it yet).
#[derive(Debug, Clone, Copy)]
pub struct NewLockGroup<'a> {
    /// The log group's name ([`lock_group`]).
    pub name: &'a str,
    /// Its one tag, (key, value).
    pub tag: (&'a str, &'a str),
    /// Days it keeps events.
    pub retention_days: i32,
    /// The KMS key ARN that encrypts it, when there is one.
    pub key: Option<&'a str>,
}

/// The storage of the apply lock. Every "not found" answer carries AWS's code
/// `ResourceNotFoundException`, so that the lock can tell "gone" from "failed".
pub trait LockStore: Send + Sync {
    /// Creates the group ([`NewLockGroup`]). Ok(false) when it existed already (left as it is).
    fn create_lock_group<'a>(&'a self, group: NewLockGroup<'a>) -> Fut<'a, bool>;

    /// Associates `key` with `group` when the group has no key yet. Best effort: a refusal is
    /// logged, not returned (the lock works unencrypted).
    fn encrypt_lock_group<'a>(&'a self, group: &'a str, key: &'a str) -> Fut<'a, ()>;

    /// The ARN of the enabled key behind `alias`, if there is one.
    fn enabled_key_arn<'a>(&'a self, alias: &'a str) -> Fut<'a, Option<String>>;

    /// Creates `stream` in `group`: Ok(false) when it exists already (another writer won it).
    fn create_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, bool>;

    /// Appends one event at `at_ms`.
    fn put_event<'a>(&'a self, group: &'a str, stream: &'a str, at_ms: i64, message: &'a str) -> Fut<'a, ()>;

    /// The streams of `group` whose names start with `prefix`, every page.
    fn streams<'a>(&'a self, group: &'a str, prefix: &'a str) -> Fut<'a, Vec<StreamInfo>>;

    /// The first (or, with `first` false, the last) event of a stream as (message, ms); None when
    /// the stream has none or is gone.
    fn edge_event<'a>(&'a self, group: &'a str, stream: &'a str, first: bool) -> Fut<'a, Option<(String, i64)>>;

    /// Deletes a stream; one already gone is fine.
    fn delete_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, ()>;

    /// Deletes a group; one already gone is fine.
    fn delete_lock_group<'a>(&'a self, group: &'a str) -> Fut<'a, ()>;
}

/// The log group that holds the apply lock of spec `spec`; the spec's key policy admits it, so
/// that the lock is encrypted once the key exists.
pub fn lock_group(spec: &str) -> String {
    format!("/secmon/locks/{spec}")
}

/// Whether `e` says the group or stream does not exist.
pub fn not_found(e: &KindError) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

mod sdk {
    use super::{LockStore, NewLockGroup, StreamInfo};
    use crate::sdk::fail;
    use crate::{Fut, SdkCloud};
    use secmon_aws::{error_code, AwsError};

    impl LockStore for SdkCloud {
        fn create_lock_group<'a>(&'a self, new: NewLockGroup<'a>) -> Fut<'a, bool> {
            let NewLockGroup { name: group, tag: (tag, value), retention_days, key } = new;
            Box::pin(async move {
                let logs = &self.aws.locks;
                let create = || logs.create_log_group().log_group_name(group).tags(tag, value);
                let created = match key {
                    Some(k) => match create().kms_key_id(k).send().await {
                        // The key's policy does not admit the lock group yet (a key imported, not
                        // yet converged): the lock works unencrypted, and is encrypted later.
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
                        let retention = logs.put_retention_policy().log_group_name(group).retention_in_days(retention_days);
                        retention.send().await.map_err(fail("PutRetentionPolicy"))?;
                        Ok(true)
                    }
                    Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => Ok(false),
                    Err(e) => Err(fail("CreateLogGroup")(e)),
                }
            })
        }

        fn encrypt_lock_group<'a>(&'a self, group: &'a str, key: &'a str) -> Fut<'a, ()> {
            Box::pin(async move {
                let logs = &self.aws.locks;
                let described = logs.describe_log_groups().log_group_name_prefix(group).send().await.map_err(fail("DescribeLogGroups"))?;
                let encrypted = described.log_groups().iter().any(|g| g.log_group_name() == Some(group) && g.kms_key_id().is_some());
                if !encrypted {
                    if let Err(e) = logs.associate_kms_key().log_group_name(group).kms_key_id(key).send().await {
                        tracing::warn!("the lock group {group} is not encrypted yet: {}", AwsError::call("AssociateKmsKey", e));
                    }
                }
                Ok(())
            })
        }

        fn enabled_key_arn<'a>(&'a self, alias: &'a str) -> Fut<'a, Option<String>> {
            Box::pin(async move {
                let Ok(described) = self.aws.kms.describe_key().key_id(alias).send().await else { return Ok(None) };
                Ok(described.key_metadata().filter(|m| m.enabled()).and_then(|m| m.arn()).map(str::to_string))
            })
        }

        fn create_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, bool> {
            Box::pin(async move {
                match self.aws.locks.create_log_stream().log_group_name(group).log_stream_name(stream).send().await {
                    Ok(_) => Ok(true),
                    Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => Ok(false),
                    Err(e) => Err(fail("CreateLogStream")(e)),
                }
            })
        }

        fn put_event<'a>(&'a self, group: &'a str, stream: &'a str, at_ms: i64, message: &'a str) -> Fut<'a, ()> {
            Box::pin(async move {
                let event = secmon_aws::logs::types::InputLogEvent::builder().timestamp(at_ms).message(message).build().expect("event");
                let put = self.aws.locks.put_log_events().log_group_name(group).log_stream_name(stream).log_events(event);
                crate::sdk::send("PutLogEvents", put.send()).await
            })
        }

        fn streams<'a>(&'a self, group: &'a str, prefix: &'a str) -> Fut<'a, Vec<StreamInfo>> {
            Box::pin(async move {
                let mut out = Vec::new();
                let mut pages =
                    self.aws.locks.describe_log_streams().log_group_name(group).log_stream_name_prefix(prefix).into_paginator().send();
                while let Some(page) = pages.next().await {
                    for s in page.map_err(fail("DescribeLogStreams"))?.log_streams() {
                        if let Some(name) = s.log_stream_name() {
                            out.push(StreamInfo { name: name.to_string(), created_ms: s.creation_time().unwrap_or_default() });
                        }
                    }
                }
                Ok(out)
            })
        }

        /// Follows the tokens: "This operation can return empty results while there are more
        /// log events available through the token" (GetLogEvents API reference; issue 22,
        /// finding 9). The end is reached when the token comes back unchanged.
        fn edge_event<'a>(&'a self, group: &'a str, stream: &'a str, first: bool) -> Fut<'a, Option<(String, i64)>> {
            Box::pin(async move {
                let mut token: Option<String> = None;
                for _ in 0..100 {
                    let request =
                        self.aws.locks.get_log_events().log_group_name(group).log_stream_name(stream).start_from_head(first).limit(1);
                    let page = match request.set_next_token(token.clone()).send().await {
                        Ok(p) => p,
                        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(None),
                        Err(e) => return Err(fail("GetLogEvents")(e)),
                    };
                    let event = if first { page.events().first() } else { page.events().last() };
                    if let Some(e) = event {
                        return Ok(Some((e.message().unwrap_or_default().to_string(), e.timestamp().unwrap_or_default())));
                    }
                    let next = if first { page.next_forward_token() } else { page.next_backward_token() }.map(str::to_string);
                    if next.is_none() || next == token {
                        return Ok(None);
                    }
                    token = next;
                }
                Ok(None)
            })
        }

        fn delete_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, ()> {
            Box::pin(async move {
                match self.aws.locks.delete_log_stream().log_group_name(group).log_stream_name(stream).send().await {
                    Err(e) if error_code(&e) != Some("ResourceNotFoundException") => Err(fail("DeleteLogStream")(e)),
                    _ => Ok(()),
                }
            })
        }

        fn delete_lock_group<'a>(&'a self, group: &'a str) -> Fut<'a, ()> {
            Box::pin(async move {
                match self.aws.locks.delete_log_group().log_group_name(group).send().await {
                    Err(e) if error_code(&e) != Some("ResourceNotFoundException") => Err(fail("DeleteLogGroup")(e)),
                    _ => Ok(()),
                }
            })
        }
    }
}
