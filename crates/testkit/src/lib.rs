//! # secmon-testkit: a private AWS emulator per test
//!
//! [`Emulator::start`] launches `scripts/emulator.py` (moto plus the CloudWatch CBOR adapter) on
//! a free 127.0.0.1 port and stops it when dropped, so every test gets an empty AWS account and
//! tests cannot see each other's resources. `scripts/test` installs the emulator and sets
//! `SECMON_EMULATOR_PYTHON` / `SECMON_EMULATOR_SCRIPT`.
//!
//! `cargo test` run bare (no `scripts/test`, no `.venv`) does not panic: [`Emulator::start_or_skip`]
//! says which test needs the emulator and how to get it, and the test returns early. Under
//! `scripts/test` (and so in CI) the emulator is always there, and failing to start it fails the
//! test.
//!
//! What this crate does not do: fake any AWS response. Everything goes to moto over HTTP.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Emulator {
    child: Child,
    pub endpoint: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The workspace's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn setting(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = root.join(default);
        assert!(p.exists(), "{var} is not set and {} does not exist: run the tests with scripts/test", p.display());
        p.display().to_string()
    })
}

impl Emulator {
    /// Starts the emulator when it is installed; otherwise prints why `test` is skipped and
    /// returns None. Installed means `scripts/test` set `SECMON_EMULATOR_PYTHON`, or the project's
    /// `.venv` exists (it then fails loudly if it cannot start).
    pub fn start_or_skip(test: &str) -> Option<Emulator> {
        Emulator::installed(test).then(Emulator::start)
    }

    fn installed(test: &str) -> bool {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        if std::env::var_os("SECMON_EMULATOR_PYTHON").is_none() && !venv.exists() {
            eprintln!("skipped: {test} needs the local AWS emulator; run scripts/test, which installs it into .venv");
            return false;
        }
        true
    }

    /// [`Emulator::start_or_skip`] with moto's IAM enforcement on: the first `free_calls` calls
    /// are not authorized (to create the restricted users), every later one is judged against
    /// the caller's identity policies (`INITIAL_NO_AUTH_ACTION_COUNT`, docs/emulator.md).
    pub fn start_enforcing_iam_or_skip(test: &str, free_calls: u32) -> Option<Emulator> {
        Emulator::installed(test).then(|| Emulator::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", free_calls.to_string())]))
    }

    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    fn start_with(env: &[(&str, String)]) -> Emulator {
        let python = setting("SECMON_EMULATOR_PYTHON", ".venv/bin/python");
        let script = setting("SECMON_EMULATOR_SCRIPT", "scripts/emulator.py");
        let dir = std::env::temp_dir().join(format!("secmon-emu-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port_file = dir.join("port");
        let child = Command::new(&python)
            .args([&script, "--host", "127.0.0.1", "--port", "0", "--port-file"])
            .arg(&port_file)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the emulator with {python}: {e}"));
        let mut emu = Emulator { child, endpoint: String::new(), _dir: TempDir(dir) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                if !p.trim().is_empty() {
                    emu.endpoint = format!("http://127.0.0.1:{}", p.trim());
                    return emu;
                }
            }
            if let Ok(Some(status)) = emu.child.try_wait() {
                panic!("the emulator exited early: {status}");
            }
            assert!(Instant::now() < deadline, "the emulator did not start within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Makes the emulator show the subscriptions of `email` as pending confirmation, as AWS does
    /// until the recipient clicks the link (moto confirms e-mail subscriptions at once).
    pub fn unconfirm_email(&self, email: &str) {
        self.control("/_secmon/unconfirmed-email", email);
    }

    /// Makes the emulator list the subscriptions of `email` with the SubscriptionArn `Deleted`,
    /// as AWS does after the recipient unsubscribed (moto forgets them).
    pub fn unsubscribe_email(&self, email: &str) {
        self.control("/_secmon/unsubscribed-email", email);
    }

    /// Answers a share of all calls `503` before they reach the emulator (`before`: nothing
    /// happens) or after (`after`: the call takes effect, its reply is lost), with a seeded
    /// random draw; `inject_faults(0.0, 0.0, 0)` stops it.
    pub fn inject_faults(&self, before: f64, after: f64, seed: u64) {
        self.control("/_secmon/faults", &format!("before={before} after={after} seed={seed}"));
    }

    /// Like [`Emulator::inject_faults`], and delays every call by a seeded random 0 to
    /// `latency_ms` milliseconds, as a distant region does.
    pub fn inject_faults_and_latency(&self, before: f64, after: f64, latency_ms: u32, seed: u64) {
        self.control("/_secmon/faults", &format!("before={before} after={after} latency={latency_ms} seed={seed}"));
    }

    /// Makes every call take exactly `ms` milliseconds more (no randomness), so that a test can
    /// tell from the timeline ([`Emulator::calls`]) which calls waited for which.
    pub fn delay_every_call(&self, ms: u32) {
        self.control("/_secmon/faults", &format!("delay={ms}"));
    }

    /// Starts (clearing it) or stops recording the timeline of calls.
    pub fn record_calls(&self, on: bool) {
        self.control("/_secmon/calls", if on { "on" } else { "off" });
    }

    /// The recorded calls as JSON lines: `{"service": "s3", "start": s, "end": s}` (seconds on
    /// the emulator's monotonic clock), in the order they ended.
    pub fn calls(&self) -> String {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("emulator reachable");
        write!(s, "GET /_secmon/calls HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
    }

    /// Makes every call acting in `account` `extra_ms` slower (a throttled or distant account),
    /// on top of the latency of [`Emulator::inject_faults_and_latency`].
    pub fn slow_account(&self, account: &str, extra_ms: u32) {
        self.control("/_secmon/slow-account", &format!("{account} {extra_ms}"));
    }

    /// Makes KMS lag as AWS documents it may ("AWS KMS eventual consistency"): the first
    /// EnableKeyRotation of a key and the first DescribeKey of an alias within 2 s of their
    /// creation answer `NotFoundException` (issue 22, findings 3 and 4).
    pub fn kms_lag(&self, on: bool) {
        self.control("/_secmon/kms-lag", if on { "on" } else { "off" });
    }

    /// Makes CloudWatch Logs refuse every key association as AWS does when the caller's own IAM
    /// policy lacks KMS permissions on the key (issue 22, finding 7).
    pub fn deny_caller_kms(&self, on: bool) {
        self.control("/_secmon/deny-caller-kms", if on { "on" } else { "off" });
    }

    /// Makes the first GetLogEvents and FilterLogEvents call per log group and stream answer an
    /// empty page with a token, as AWS documents it may (issue 22, finding 9).
    pub fn empty_first_pages(&self, on: bool) {
        self.control("/_secmon/empty-first-page", if on { "on" } else { "off" });
    }

    /// Plays one heartbeat at `at` (epoch seconds): every schedule rule that starts a state
    /// machine, through to the log groups of the trails that record the canary's read
    /// (scripts/emulator.py, `_heartbeat`). Answers, per beat, the log groups it reached and where
    /// it stopped, as JSON.
    pub fn heartbeat(&self, at: i64) -> String {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("emulator reachable");
        let body = at.to_string();
        write!(s, "POST /_secmon/heartbeat HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "{answer}");
        answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    }

    /// Says which Slack workspaces `(team id, name)` and Microsoft Teams teams `(tenant id, team
    /// id, name)` are authorized for AWS Chatbot, as its console's OAuth step would (replacing
    /// the earlier answer; none at start).
    pub fn authorize_chat_clients(&self, slack: &[(&str, &str)], teams: &[(&str, &str, &str)]) {
        // Ids and names are the test's own words: quoted with Debug, which JSON reads for them.
        let slack: Vec<String> = slack.iter().map(|(id, name)| format!("[{id:?}, {name:?}]")).collect();
        let teams: Vec<String> = teams.iter().map(|(tenant, id, name)| format!("[{tenant:?}, {id:?}, {name:?}]")).collect();
        self.control("/_secmon/chat-clients", &format!("{{\"slack\": [{}], \"teams\": [{}]}}", slack.join(", "), teams.join(", ")));
    }

    /// Posts `body` to one of the emulator middleware's control paths (scripts/emulator.py).
    fn control(&self, path: &str, body: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("emulator reachable");
        write!(s, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 204") || answer.starts_with("HTTP/1.0 204"), "{answer}");
    }

    /// Environment for a `secmon` process talking to this emulator (dummy credentials only).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("NO_COLOR", "1".into()),
        ]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
