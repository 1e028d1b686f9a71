//! [`FakeCloud`]: an in-memory AWS account behind the [`Cloud`] seam, for unit tests of apply
//! ordering, failure handling and retries, and of verify's checks, without a network.
//!
//! It is generic over kinds: a create stores the desired resource as owned, an update replaces
//! its attributes, a delete removes it. Faults are scripted per address: an error before the
//! change takes effect (AWS refused it), or after (the change happened and its reply was lost).
//! It models no AWS rule; the emulator tests stay the end-to-end proof.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::{AwsError, Change, Cloud, ExecCtx, Fut, KindError, LiveResource, LiveState, Op, Resource, Target};

/// When a scripted fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// AWS answers an error and nothing changes.
    Before,
    /// The change takes effect, then the reply is lost (the client sees the error).
    After,
    /// The change takes effect, its reply is lost, and the SDK's retry of the same call gets
    /// what AWS answers a repeated call: "already exists" for a create, "not found" for a delete,
    /// success for an update. `code` is unused.
    LostReply,
}

#[derive(Debug, Clone)]
struct Fault {
    address: String,
    code: String,
    timing: Timing,
    remaining: u32,
}

#[derive(Debug, Default)]
struct Account {
    resources: BTreeMap<String, LiveResource>,
    /// Log events by log group: (timestamp ms, message).
    events: BTreeMap<String, Vec<(i64, String)>>,
    faults: Vec<Fault>,
    calls: Vec<String>,
    reads: usize,
    /// Policies of keys the spec brings by ARN.
    key_policies: BTreeMap<String, serde_json::Value>,
}

pub struct FakeCloud {
    account_id: String,
    region: String,
    /// Behave like a local emulator (verify's "not observable" stages).
    pub local_endpoint: bool,
    inner: Mutex<Account>,
}

impl FakeCloud {
    pub fn new(account_id: &str, region: &str) -> FakeCloud {
        FakeCloud { account_id: account_id.into(), region: region.into(), local_endpoint: false, inner: Mutex::new(Account::default()) }
    }

    /// Gives a key the spec brings by ARN its policy.
    pub fn put_key_policy(&self, key_arn: &str, policy: serde_json::Value) {
        self.inner.lock().unwrap().key_policies.insert(key_arn.into(), policy);
    }

    /// Puts a log event into a log group (for backtests).
    pub fn put_event(&self, log_group: &str, timestamp_ms: i64, message: &str) {
        self.inner.lock().unwrap().events.entry(log_group.into()).or_default().push((timestamp_ms, message.into()));
    }

    /// Puts a resource into the account as it is (owned or not).
    pub fn insert(&self, live: LiveResource) {
        self.inner.lock().unwrap().resources.insert(live.resource.address(), live);
    }

    /// The next `times` changes of `address` fail with `code` at `timing`.
    pub fn fail(&self, address: &str, code: &str, timing: Timing, times: u32) {
        self.inner.lock().unwrap().faults.push(Fault { address: address.into(), code: code.into(), timing, remaining: times });
    }

    /// Every change attempted, in order, as `create alarm.X` (failed attempts included).
    pub fn calls(&self) -> Vec<String> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// How many read rounds were made.
    pub fn reads(&self) -> usize {
        self.inner.lock().unwrap().reads
    }

    /// What the account holds now.
    pub fn resources(&self) -> BTreeMap<String, LiveResource> {
        self.inner.lock().unwrap().resources.clone()
    }

    fn error(op: &str, code: &str) -> KindError {
        KindError::Aws(AwsError::Call {
            operation: op.to_string(),
            code: Some(code.to_string()),
            message: format!("{code}: injected by the fake"),
        })
    }
}

fn verb(op: Op) -> &'static str {
    match op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
    }
}

impl Cloud for FakeCloud {
    fn region(&self) -> &str {
        &self.region
    }

    fn account_id(&self) -> BoxFuture<'_, Result<String, KindError>> {
        Box::pin(async move { Ok(self.account_id.clone()) })
    }

    fn read<'a>(&'a self, _spec: &'a str, target: &'a Target, desired: &'a [Resource]) -> BoxFuture<'a, Result<LiveState, KindError>> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            acct.reads += 1;
            let mut state = LiveState { account_id: target.account_id.clone(), region: target.region.clone(), ..Default::default() };
            for (address, l) in &acct.resources {
                if l.owned || desired.iter().any(|d| d.address() == *address) {
                    state.insert(l.clone());
                }
            }
            Ok(state)
        })
    }

    /// Observations are whatever the test inserted with the resources.
    fn observe<'a>(&'a self, _live: &'a mut LiveState) -> BoxFuture<'a, Result<(), KindError>> {
        Box::pin(async { Ok(()) })
    }

    /// No AWS engine here: verify falls back to the offline one, as on an emulator.
    fn test_filter<'a>(&'a self, _pattern: &'a str, _messages: &'a [String]) -> BoxFuture<'a, Result<Option<Vec<bool>>, KindError>> {
        Box::pin(async { Ok(None) })
    }

    fn local_endpoint(&self) -> bool {
        self.local_endpoint
    }

    fn key_policy<'a>(&'a self, key_arn: &'a str) -> BoxFuture<'a, Result<Option<serde_json::Value>, KindError>> {
        let policy = self.inner.lock().unwrap().key_policies.get(key_arn).cloned();
        Box::pin(async move { Ok(policy) })
    }

    /// Every event of the window, whatever the pattern: the fake has no engine (the caller's
    /// own evaluates them), as the emulator for JSON patterns.
    fn filter_events<'a>(
        &'a self,
        log_group: &'a str,
        _pattern: &'a str,
        (start_ms, end_ms): (i64, i64),
        each: &'a mut (dyn FnMut(i64, String) + Send),
    ) -> BoxFuture<'a, Result<u64, KindError>> {
        Box::pin(async move {
            let events: Vec<(i64, String)> = self.inner.lock().unwrap().events.get(log_group).cloned().unwrap_or_default();
            let mut n = 0;
            for (t, m) in events.into_iter().filter(|(t, _)| *t >= start_ms && *t <= end_ms) {
                each(t, m);
                n += 1;
            }
            Ok(n)
        })
    }

    fn stored_bytes<'a>(&'a self, log_group: &'a str) -> BoxFuture<'a, Result<Option<i64>, KindError>> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().events.get(log_group).map(|e| e.iter().map(|(_, m)| m.len() as i64).sum())) })
    }

    /// One call for all, recorded as `delete_many alarm.A, alarm.B`; like DeleteAlarms it fails
    /// as a whole when one of them does not exist.
    fn delete_many<'a>(&'a self, _ctx: &'a ExecCtx, resources: &'a [Resource]) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            let addresses: Vec<String> = resources.iter().map(Resource::address).collect();
            acct.calls.push(format!("delete_many {}", addresses.join(", ")));
            if addresses.iter().any(|a| !acct.resources.contains_key(a)) {
                return Err(Self::error("delete_many", "ResourceNotFoundException"));
            }
            for a in &addresses {
                acct.resources.remove(a);
            }
            Ok(())
        })
    }

    fn execute<'a>(&'a self, _ctx: &'a ExecCtx, change: &'a Change) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            let op = verb(change.op);
            acct.calls.push(format!("{op} {}", change.address));
            let fault = acct.faults.iter_mut().find(|f| f.address == change.address && f.remaining > 0).map(|f| {
                f.remaining -= 1;
                (f.code.clone(), f.timing)
            });
            if let Some((code, Timing::Before)) = &fault {
                return Err(Self::error(op, code));
            }
            let exists = acct.resources.contains_key(&change.address);
            match change.op {
                Op::Create if exists => return Err(Self::error(op, "ResourceAlreadyExistsException")),
                Op::Update | Op::Delete if !exists => return Err(Self::error(op, "ResourceNotFoundException")),
                Op::Create | Op::Update => {
                    let mut r = change.after().clone();
                    r.meta.clear();
                    acct.resources.insert(change.address.clone(), LiveResource::new(r, true));
                }
                Op::Delete => {
                    acct.resources.remove(&change.address);
                }
            }
            match (fault, change.op) {
                (Some((code, Timing::After)), _) => Err(Self::error(op, &code)),
                (Some((_, Timing::LostReply)), Op::Create) => Err(Self::error(op, "ResourceAlreadyExistsException")),
                (Some((_, Timing::LostReply)), Op::Delete) => Err(Self::error(op, "ResourceNotFoundException")),
                _ => Ok(()),
            }
        })
    }

    fn adopt<'a>(&'a self, _spec: &'a str, live: &'a Resource, _desired: &'a Resource) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            acct.calls.push(format!("adopt {}", live.address()));
            match acct.resources.get_mut(&live.address()) {
                Some(l) => {
                    l.owned = true;
                    Ok(())
                }
                None => Err(Self::error("adopt", "ResourceNotFoundException")),
            }
        })
    }
}
