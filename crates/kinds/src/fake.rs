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

use crate::exercise::Exercise;
use crate::lock_store::{LockStore, NewLockGroup, StreamInfo};
use crate::{
    Address, AwsError, Change, Cloud, EachEvent, EventQuery, ExecCtx, Fut, KindError, LiveResource, LiveState, Op, Resource, Target,
};
use secmon_spec::DesiredState;

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
    resources: BTreeMap<Address, LiveResource>,
    /// Log events by log group: (timestamp ms, message).
    events: BTreeMap<String, Vec<(i64, String)>>,
    faults: Vec<Fault>,
    calls: Vec<String>,
    reads: usize,
    /// Policies of keys the spec brings by ARN.
    key_policies: BTreeMap<String, serde_json::Value>,
    /// The lock's log groups ([`LockStore`]).
    lock_groups: BTreeMap<String, LockGroup>,
    /// Enabled keys by alias (what the lock encrypts its group with).
    key_aliases: BTreeMap<String, String>,
    /// What the pipeline does after verify's active steps ([`Exercise`]).
    pipeline: Pipeline,
    /// Messages published, as (topic ARN, message).
    published: Vec<(String, String)>,
}

/// How far a secret read travels through the pipeline, as the fake scripts it for
/// `verify --trigger`, and what CloudWatch records of an alarm's actions (`--notify-test`).
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// CloudTrail records the read.
    pub recorded: bool,
    /// The event reaches the log group.
    pub delivered: bool,
    /// The metric counts it.
    pub counted: bool,
    /// The alarm goes to ALARM.
    pub alarms: bool,
    /// The Action history items CloudWatch records once an alarm is set to ALARM.
    pub action_history: Vec<String>,
}

impl Pipeline {
    /// A pipeline that works end to end.
    pub fn working() -> Pipeline {
        Pipeline { recorded: true, delivered: true, counted: true, alarms: true, action_history: Vec::new() }
    }
}

/// A lock group: its tag, its key, and its streams (creation ms, events).
#[derive(Debug, Default, Clone)]
pub struct LockGroup {
    /// Its lock tag (key, value).
    pub tag: (String, String),
    /// Its retention.
    pub retention_days: i32,
    /// The key that encrypts it.
    pub key: Option<String>,
    /// Each stream: its creation time and its events (time, message).
    pub streams: BTreeMap<String, (i64, Vec<(i64, String)>)>,
}

/// An in-memory account, generic over kinds, with scripted faults: apply and verify are
/// unit-tested against it without a network.
pub struct FakeCloud {
    account_id: String,
    region: String,
    /// Behave like a local emulator (verify's "not observable" stages).
    pub local_endpoint: bool,
    /// Every call fails with this code from the first (credentials that cannot be had: a role
    /// that cannot be assumed).
    pub refuse_credentials: Option<String>,
    inner: Mutex<Account>,
}

impl FakeCloud {
    /// An empty account.
    pub fn new(account_id: &str, region: &str) -> FakeCloud {
        FakeCloud {
            account_id: account_id.into(),
            region: region.into(),
            local_endpoint: false,
            refuse_credentials: None,
            inner: Mutex::new(Account::default()),
        }
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

    /// Every message published, as (topic ARN, message).
    pub fn published(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().published.clone()
    }

    /// Makes `arn` the enabled key behind `alias`.
    pub fn put_key_alias(&self, alias: &str, arn: &str) {
        self.inner.lock().unwrap().key_aliases.insert(alias.into(), arn.into());
    }

    /// Scripts what the pipeline does after verify's active steps.
    pub fn set_pipeline(&self, pipeline: Pipeline) {
        self.inner.lock().unwrap().pipeline = pipeline;
    }

    /// The lock groups as they are now.
    pub fn lock_groups(&self) -> BTreeMap<String, LockGroup> {
        self.inner.lock().unwrap().lock_groups.clone()
    }

    /// How many read rounds were made.
    pub fn reads(&self) -> usize {
        self.inner.lock().unwrap().reads
    }

    /// What the account holds now.
    pub fn resources(&self) -> BTreeMap<Address, LiveResource> {
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
        Box::pin(async move {
            match &self.refuse_credentials {
                Some(code) => Err(Self::error("GetCallerIdentity", code)),
                None => Ok(self.account_id.clone()),
            }
        })
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

    /// The policy [`FakeCloud::put_key_policy`] gave the key the spec brings, if it brings one.
    fn brought_policies<'a>(&'a self, state: &'a DesiredState) -> BoxFuture<'a, Result<crate::BroughtPolicies, KindError>> {
        let mut out = crate::BroughtPolicies::new();
        if let Some(arn) = state.brought_key() {
            let policy = self.inner.lock().unwrap().key_policies.get(&arn).cloned();
            out.insert(arn, policy);
        }
        Box::pin(async move { Ok(out) })
    }

    /// Every event of the window, whatever the pattern: the fake has no engine (the caller's
    /// own evaluates them), as the emulator for JSON patterns.
    fn filter_events<'a>(&'a self, query: EventQuery<'a>, each: EachEvent<'a>) -> BoxFuture<'a, Result<u64, KindError>> {
        let EventQuery { log_group, window_ms: (start_ms, end_ms), .. } = query;
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

    fn log_groups_starting<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KindError>> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().events.keys().filter(|g| g.starts_with(prefix)).cloned().collect()) })
    }

    fn stored_bytes<'a>(&'a self, log_group: &'a str) -> BoxFuture<'a, Result<Option<i64>, KindError>> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().events.get(log_group).map(|e| e.iter().map(|(_, m)| m.len() as i64).sum())) })
    }

    /// One call for all, recorded as `delete_many alarm.A, alarm.B`; like DeleteAlarms it fails
    /// as a whole when one of them does not exist.
    fn delete_many<'a>(&'a self, _ctx: &'a ExecCtx, resources: &'a [Resource]) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            let addresses: Vec<Address> = resources.iter().map(Resource::address).collect();
            acct.calls.push(format!("delete_many {}", addresses.iter().map(Address::to_string).collect::<Vec<_>>().join(", ")));
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

impl FakeCloud {
    /// A scripted fault of the lock's or an exercise's `op` (`lock put_event`, `exercise
    /// publish`, ...; script it with [`FakeCloud::fail`] on that name): recorded as a call
    /// `lock <op> <what>` or `exercise <op> <what>` either way.
    fn scripted(&self, acct: &mut Account, family: &str, op: &str, what: &str) -> Result<(), KindError> {
        acct.calls.push(format!("{family} {op} {what}"));
        let address = format!("{family} {op}");
        let fault = acct.faults.iter_mut().find(|f| f.address == address && f.remaining > 0).map(|f| {
            f.remaining -= 1;
            f.code.clone()
        });
        match fault {
            Some(code) => Err(Self::error(op, &code)),
            None => Ok(()),
        }
    }

    fn group_mut<'a>(acct: &'a mut Account, op: &str, group: &str) -> Result<&'a mut LockGroup, KindError> {
        acct.lock_groups.get_mut(group).ok_or_else(|| Self::error(op, "ResourceNotFoundException"))
    }
}

/// The lock's storage as CloudWatch Logs behaves for it: stream creation fails when the stream
/// exists, events go to existing streams only, deletes of what is gone succeed.
impl LockStore for FakeCloud {
    fn create_lock_group<'a>(&'a self, new: NewLockGroup<'a>) -> Fut<'a, bool> {
        let NewLockGroup { name: group, tag: (tag, value), retention_days, key } = new;
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "create_lock_group", group)?;
            if acct.lock_groups.contains_key(group) {
                return Ok(false);
            }
            let g = LockGroup { tag: (tag.into(), value.into()), retention_days, key: key.map(str::to_string), streams: BTreeMap::new() };
            acct.lock_groups.insert(group.into(), g);
            Ok(true)
        })
    }

    fn encrypt_lock_group<'a>(&'a self, group: &'a str, key: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "encrypt_lock_group", group)?;
            let g = Self::group_mut(&mut acct, "encrypt_lock_group", group)?;
            g.key.get_or_insert_with(|| key.to_string());
            Ok(())
        })
    }

    fn enabled_key_arn<'a>(&'a self, alias: &'a str) -> Fut<'a, Option<String>> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().key_aliases.get(alias).cloned()) })
    }

    fn create_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, bool> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "create_stream", stream)?;
            let g = Self::group_mut(&mut acct, "create_stream", group)?;
            if g.streams.contains_key(stream) {
                return Ok(false);
            }
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
            g.streams.insert(stream.into(), (now, Vec::new()));
            Ok(true)
        })
    }

    fn put_event<'a>(&'a self, group: &'a str, stream: &'a str, at_ms: i64, message: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "put_event", stream)?;
            let g = Self::group_mut(&mut acct, "put_event", group)?;
            let (_, events) = g.streams.get_mut(stream).ok_or_else(|| Self::error("put_event", "ResourceNotFoundException"))?;
            events.push((at_ms, message.into()));
            Ok(())
        })
    }

    fn streams<'a>(&'a self, group: &'a str, prefix: &'a str) -> Fut<'a, Vec<StreamInfo>> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "streams", group)?;
            let g = Self::group_mut(&mut acct, "streams", group)?;
            Ok(g.streams
                .iter()
                .filter(|(name, _)| name.starts_with(prefix))
                .map(|(name, (created, _))| StreamInfo { name: name.clone(), created_ms: *created })
                .collect())
        })
    }

    fn edge_event<'a>(&'a self, group: &'a str, stream: &'a str, first: bool) -> Fut<'a, Option<(String, i64)>> {
        Box::pin(async move {
            let acct = self.inner.lock().unwrap();
            let events = acct.lock_groups.get(group).and_then(|g| g.streams.get(stream)).map(|(_, e)| e.clone()).unwrap_or_default();
            let edge = if first { events.first() } else { events.last() };
            Ok(edge.map(|(at, m)| (m.clone(), *at)))
        })
    }

    fn delete_stream<'a>(&'a self, group: &'a str, stream: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "delete_stream", stream)?;
            if let Some(g) = acct.lock_groups.get_mut(group) {
                g.streams.remove(stream);
            }
            Ok(())
        })
    }

    fn delete_lock_group<'a>(&'a self, group: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "lock", "delete_lock_group", group)?;
            acct.lock_groups.remove(group);
            Ok(())
        })
    }
}

/// verify's active steps against the scripted [`Pipeline`]; each is recorded as a call
/// `exercise <step> <subject>`.
impl Exercise for FakeCloud {
    fn read_secret_once<'a>(&'a self, secret_id: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "exercise", "read_secret_once", secret_id)
                .map_err(|e| Self::error("GetSecretValue", e.code().unwrap_or("?")))?;
            let exists = acct.resources.contains_key(format!("secret.{secret_id}").as_str());
            if exists {
                Ok(())
            } else {
                Err(Self::error("GetSecretValue", "ResourceNotFoundException"))
            }
        })
    }

    fn trail_recorded<'a>(&'a self, _event_name: &'a str, _since_ms: i64) -> Fut<'a, bool> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().pipeline.recorded) })
    }

    fn log_group_received<'a>(&'a self, _log_group: &'a str, _pattern: &'a str, _since_ms: i64) -> Fut<'a, bool> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().pipeline.delivered) })
    }

    fn metric_counted<'a>(&'a self, _namespace: &'a str, _name: &'a str, _since_ms: i64) -> Fut<'a, bool> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().pipeline.counted) })
    }

    fn any_in_alarm<'a>(&'a self, _alarms: &'a [String]) -> Fut<'a, bool> {
        Box::pin(async move { Ok(self.inner.lock().unwrap().pipeline.alarms) })
    }

    fn alarm_actions<'a>(&'a self, alarm: &'a str, _since_ms: i64) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "exercise", "alarm_actions", alarm)
                .map_err(|e| Self::error("DescribeAlarmHistory", e.code().unwrap_or("?")))?;
            Ok(acct.pipeline.action_history.clone())
        })
    }

    fn publish<'a>(&'a self, topic_arn: &'a str, _subject: &'a str, message: &'a str) -> Fut<'a, String> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            self.scripted(&mut acct, "exercise", "publish", topic_arn).map_err(|e| Self::error("Publish", e.code().unwrap_or("?")))?;
            acct.published.push((topic_arn.to_string(), message.to_string()));
            Ok(format!("fake-message-{}", acct.calls.len()))
        })
    }

    fn set_alarm_state<'a>(&'a self, alarm: &'a str, alarm_state: bool, _reason: &'a str) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut acct = self.inner.lock().unwrap();
            let op = if alarm_state { "set_alarm_state ALARM" } else { "set_alarm_state OK" };
            self.scripted(&mut acct, "exercise", op, alarm).map_err(|e| Self::error("SetAlarmState", e.code().unwrap_or("?")))
        })
    }
}

/// Hands out one [`FakeCloud`] per account and region, as the SDK connector hands out
/// connections: the fan-out's failure isolation is tested against it.
pub struct FakeConnector {
    home: (String, String),
    clouds: Mutex<BTreeMap<(String, String), std::sync::Arc<FakeCloud>>>,
    /// Accounts by OU (children listed as accounts of the OU itself).
    pub ous: BTreeMap<String, Vec<String>>,
    /// The organization's management account.
    pub management: String,
    /// Accounts whose role cannot be assumed, with the code AWS answers.
    pub refused: BTreeMap<String, String>,
    connects: Mutex<Vec<String>>,
}

impl FakeConnector {
    /// The credentials act in `account`; the run's home region is `region`.
    pub fn new(account: &str, region: &str) -> FakeConnector {
        FakeConnector {
            home: (account.into(), region.into()),
            clouds: Mutex::new(BTreeMap::new()),
            ous: BTreeMap::new(),
            management: account.into(),
            refused: BTreeMap::new(),
            connects: Mutex::new(Vec::new()),
        }
    }

    /// The in-memory account and region (made on first use).
    pub fn cloud(&self, account: &str, region: &str) -> std::sync::Arc<FakeCloud> {
        let mut clouds = self.clouds.lock().unwrap();
        let cloud = clouds.entry((account.into(), region.into())).or_insert_with(|| {
            let mut c = FakeCloud::new(account, region);
            c.refuse_credentials = self.refused.get(account).cloned();
            std::sync::Arc::new(c)
        });
        cloud.clone()
    }

    /// Every connection made, as `ACCOUNT/REGION via ROLE` (or `direct`).
    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

impl crate::Connector for FakeConnector {
    fn home(&self) -> std::sync::Arc<dyn Cloud> {
        self.cloud(&self.home.0, &self.home.1)
    }

    fn accounts_under<'a>(&'a self, parent: &'a str) -> Fut<'a, Vec<String>> {
        Box::pin(async move {
            self.ous.get(parent).cloned().ok_or_else(|| FakeCloud::error("ListAccountsForParent", "ParentNotFoundException"))
        })
    }

    fn management_account(&self) -> Fut<'_, String> {
        Box::pin(async move { Ok(self.management.clone()) })
    }

    fn connect<'a>(&'a self, account: &'a str, region: &'a str, role: Option<&'a crate::Role>) -> BoxFuture<'a, std::sync::Arc<dyn Cloud>> {
        Box::pin(async move {
            let via = role.map(|r| format!("via {}", r.name)).unwrap_or_else(|| "direct".into());
            self.connects.lock().unwrap().push(format!("{account}/{region} {via}"));
            self.cloud(account, region) as std::sync::Arc<dyn Cloud>
        })
    }
}
