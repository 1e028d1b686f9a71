//! The user's world in tests: a private emulator, the real binary, and the real SDK.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use secmon_aws::Aws;
use secmon_testkit::Emulator;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub const SEED: &str = "specs/seed.yaml";
pub const BUCKET: &str = "secmon-secrets-manager-trail-123456789012";
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:SecurityAlarms";

pub struct World {
    pub emu: Emulator,
    pub rt: tokio::runtime::Runtime,
    /// A directory of the test's own, for the specs and plans it writes; removed with the world.
    scratch: tempfile::TempDir,
}

impl World {
    /// A private emulator, or None (the test is skipped, saying so) when it is not installed.
    #[track_caller]
    pub fn new() -> Option<World> {
        let caller = std::panic::Location::caller();
        Some(World {
            emu: Emulator::start_or_skip(&format!("{}:{}", caller.file(), caller.line()))?,
            rt: tokio::runtime::Runtime::new().unwrap(),
            scratch: tempfile::Builder::new().prefix("secmon-world-").tempdir().unwrap(),
        })
    }

    /// A world where the seed spec is applied: where most stories start.
    #[track_caller]
    pub fn applied() -> Option<World> {
        let w = World::new()?;
        w.apply();
        Some(w)
    }

    /// The world's scratch directory, for the specs and plans a test writes.
    pub fn dir(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// Writes spec `text` as `file` in the scratch directory; its path, for `-f`.
    pub fn write_spec(&self, file: &str, text: &str) -> String {
        let path = self.dir().join(file);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// `secmon ARGS` against this world's emulator, from the repository root, with the seed's
    /// secret value in its environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_secmon"));
        c.args(args).current_dir(root()).envs(self.emu.env()).env("TOP_SECRET_VALUE", "s3cr3t-value-never-printed");
        c
    }

    pub fn secmon(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains("s3cr3t-value-never-printed"), "the secret value leaked into output:\n{all}");
        out
    }

    /// `secmon ARGS` started in the background against this world's emulator, its output piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    }

    /// Starts `secmon` and returns once the first step of its apply has completed, so that a
    /// test can interrupt or kill it mid-way whatever the machine's speed (a fixed sleep raced a
    /// fast apply to its end on CI). The thread drains stdout and returns all of it.
    pub fn spawn_until_first_step_done(&self, args: &[&str]) -> (std::process::Child, std::thread::JoinHandle<String>) {
        let mut child = self.spawn(args);
        let stdout = child.stdout.take().unwrap();
        let (first_done, first_done_seen) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            let mut lines: Vec<String> = Vec::new();
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("complete after") {
                    first_done.send(()).ok();
                }
                lines.push(line);
            }
            lines.join("\n")
        });
        first_done_seen.recv_timeout(std::time::Duration::from_secs(60)).expect("a step of the apply completed");
        (child, reader)
    }

    pub fn aws(&self) -> Aws {
        for (k, v) in self.emu.env() {
            if k.starts_with("AWS_") && k != "AWS_ENDPOINT_URL" {
                std::env::set_var(k, v);
            }
        }
        self.rt.block_on(Aws::connect(Some("us-east-1"), Some(&self.emu.endpoint))).unwrap()
    }

    pub fn apply(&self) -> Output {
        let out = self.secmon(&["apply", "-f", SEED, "--auto-approve", "--stats"]);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{}{}", text(&out.stdout), text(&out.stderr));
        out
    }

    /// A plan of the seed finds nothing to do (exit 0), and says so in its output (returned);
    /// else the test fails with `context` and that output.
    #[track_caller]
    pub fn assert_converged(&self, context: &str) -> String {
        let (code, out) = self.plan();
        assert_eq!(code, 0, "{context}{out}");
        out
    }

    /// The seed applied once more, after which a plan finds nothing to do: how every story of
    /// damage, interruption or removal ends.
    #[track_caller]
    pub fn apply_converges(&self) {
        self.apply();
        self.assert_converged("");
    }

    /// `spec` applied, after which a plan of it finds nothing to do.
    #[track_caller]
    pub fn apply_spec_converges(&self, spec: &str) {
        let out = self.secmon(&["apply", "-f", spec, "--auto-approve"]);
        assert_eq!(out.status.code(), Some(0), "{spec}: {}{}", text(&out.stdout), text(&out.stderr));
        let plan = self.secmon(&["plan", "-f", spec, "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(0), "{spec} converged:\n{}{}", text(&plan.stdout), text(&plan.stderr));
    }

    /// Spec `spec`'s apply lock taken from the library, as another apply (alive, or crashed
    /// when the result is dropped without release) would hold it.
    pub fn lock_of(&self, spec: &str) -> Result<secmon_engine::lock::Lock, secmon_engine::EngineError> {
        let cloud = std::sync::Arc::new(secmon_kinds::SdkCloud::new(self.aws()));
        self.rt.block_on(secmon_engine::lock::Lock::acquire(cloud, spec))
    }

    pub fn plan(&self) -> (i32, String) {
        let out = self.secmon(&["plan", "-f", SEED, "--detailed-exitcode", "--stats"]);
        let stderr = text(&out.stderr);
        assert_eq!(calls(&stderr, "GetSecretValue"), 0, "plan must never read the secret");
        (out.status.code().unwrap(), format!("{}{stderr}", text(&out.stdout)))
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Calls to one operation in `--stats` output.
pub fn calls(stats: &str, op: &str) -> u64 {
    stats
        .lines()
        .filter(|l| l.split_whitespace().rev().nth(1) == Some(op))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

pub fn mutating(stats: &str) -> u64 {
    let line = stats.lines().find(|l| l.starts_with("API calls:")).expect("stats line");
    line.split(", ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
}

impl World {
    /// Out of band, like a console user: the seed's alarm now uses `statistic` over `period` s.
    pub fn set_seed_alarm(&self, statistic: secmon_aws::cloudwatch::types::Statistic, period: i32) {
        let aws = self.aws();
        self.rt
            .block_on(
                aws.cloudwatch
                    .put_metric_alarm()
                    .alarm_name("Secret is accessed")
                    .namespace("SecurityMetrics")
                    .metric_name("SecretAccessCount")
                    .statistic(statistic)
                    .period(period)
                    .evaluation_periods(1)
                    .threshold(1.0)
                    .comparison_operator(secmon_aws::cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
                    .alarm_actions(TOPIC_ARN)
                    .send(),
            )
            .unwrap();
    }

    /// Out of band: the seed's metric filter gets another pattern.
    pub fn set_seed_filter_pattern(&self, pattern: &str) {
        let aws = self.aws();
        let group = "secmon-secretsmanager-loggroup";
        // Delete first: moto adds a second filter of the same name where AWS replaces it.
        self.rt.block_on(aws.logs.delete_metric_filter().log_group_name(group).filter_name("GetSecretValue").send()).unwrap();
        let t = secmon_aws::logs::types::MetricTransformation::builder()
            .metric_namespace("SecurityMetrics")
            .metric_name("SecretAccessCount")
            .metric_value("1")
            .default_value(0.0)
            .build()
            .unwrap();
        self.rt
            .block_on(
                aws.logs
                    .put_metric_filter()
                    .log_group_name(group)
                    .filter_name("GetSecretValue")
                    .filter_pattern(pattern)
                    .metric_transformations(t)
                    .send(),
            )
            .unwrap();
    }
}

/// `secmon` without any AWS endpoint, for the offline commands.
pub fn secmon_offline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secmon")).args(args).current_dir(root()).env("NO_COLOR", "1").output().unwrap()
}
