//! # secmon-apply: executing a plan
//!
//! [`apply`] runs the steps of a [`Plan`] in dependency order (`depends_on`), independent steps
//! concurrently, one adapter module per resource kind under `kinds`. When a step fails, the
//! steps that depend on it are skipped and only the root cause is reported.
//!
//! ## The reconcile contract
//! - Every step is idempotent: re-running it against the state it produced changes nothing.
//! - Tags are set in the create call itself wherever AWS allows it (all kinds but the S3 bucket,
//!   which is tagged in the call right after CreateBucket), so a crash leaves no untagged orphan
//!   that a re-run could not recognise as its own.
//! - An apply that stops half-way (error, crash) is converged by the next `plan` + `apply`.
//! - AWS's eventual consistency (a new IAM role or bucket policy is refused by CloudTrail for
//!   seconds) is retried with backoff; throttling is retried by the SDK.
//!
//! What this crate does not do: decide what to change (that is `secmon-diff`), or print
//! anything (progress goes to the caller through [`Event`]s). Secret values are read from their
//! source here, sent to Secrets Manager, and never logged or returned.

mod adopt;
mod kinds;

pub use adopt::adopt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use secmon_aws::{Aws, AwsError};
use secmon_diff::{Action, Plan, Step};

/// Errors of one step, naming the resource and, where it helps, the fix.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{address}: {source}")]
    Aws {
        address: String,
        #[source]
        source: AwsError,
    },
    #[error("{address}: {message}")]
    Input { address: String, message: String },
    #[error("{address}: injected failure (--fail-after-steps)")]
    Injected { address: String },
}

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Directory of the spec file: `from_file` secret values are relative to it.
    pub spec_dir: PathBuf,
    /// Recovery window for deleted secrets, in days (7-30).
    pub recovery_window_days: i64,
    /// Testing aid: fail every step after this many completed steps (crash-convergence tests).
    pub fail_after_steps: Option<usize>,
}

/// Progress, reported as steps start and end.
#[derive(Debug, Clone)]
pub enum Event {
    Started { address: String, action: Action },
    Done { address: String, action: Action, seconds: f64 },
    Failed { address: String, error: String },
    Skipped { address: String, because: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(String),
    Skipped { because: String },
}

/// What happened to each changing step.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: BTreeMap<String, Outcome>,
}

impl Report {
    pub fn failed(&self) -> Vec<(&String, &String)> {
        self.outcomes
            .iter()
            .filter_map(|(a, o)| if let Outcome::Failed(e) = o { Some((a, e)) } else { None })
            .collect()
    }
    pub fn ok(&self) -> bool {
        self.outcomes.values().all(|o| *o == Outcome::Done)
    }
    pub fn done(&self) -> usize {
        self.outcomes.values().filter(|o| **o == Outcome::Done).count()
    }
}

pub(crate) struct Ctx {
    pub aws: Aws,
    pub opts: ApplyOptions,
    pub spec: String,
    pub account_id: String,
    pub region: String,
}

/// Checks, before anything changes, that every secret value the plan writes can be read from its
/// source (environment variable set, file readable): bad input changes nothing in AWS.
pub fn preflight(plan: &Plan, opts: &ApplyOptions) -> Vec<ApplyError> {
    plan.changes()
        .filter(|s| s.kind() == secmon_diff::Kind::Secret && kinds::secret::writes_value(s))
        .filter_map(|s| kinds::secret::local_value(s, &opts.spec_dir).err())
        .collect()
}

/// Runs every changing step of `plan`, each once its dependencies are done.
pub async fn apply(aws: &Aws, plan: &Plan, opts: ApplyOptions, progress: Arc<dyn Fn(&Event) + Send + Sync>) -> Report {
    let ctx = Arc::new(Ctx {
        aws: aws.clone(),
        opts,
        spec: plan.spec.clone(),
        account_id: plan.account_id.clone(),
        region: plan.region.clone(),
    });
    let steps: BTreeMap<String, Step> = plan.changes().map(|s| (s.address.clone(), s.clone())).collect();
    let mut report = Report::default();
    let mut waiting: BTreeSet<String> = steps.keys().cloned().collect();
    let completed = Arc::new(AtomicUsize::new(0));
    let mut running = tokio::task::JoinSet::new();
    loop {
        // Skip everything downstream of a failure: only the root cause is an error.
        let mut changed = true;
        while changed {
            changed = false;
            for addr in waiting.clone() {
                let step = &steps[&addr];
                if let Some(bad) = step
                    .depends_on
                    .iter()
                    .find(|d| matches!(report.outcomes.get(*d), Some(Outcome::Failed(_)) | Some(Outcome::Skipped { .. })))
                {
                    let root = match &report.outcomes[bad] {
                        Outcome::Skipped { because } => because.clone(),
                        _ => bad.clone(),
                    };
                    progress(&Event::Skipped {
                        address: addr.clone(),
                        because: root.clone(),
                    });
                    report.outcomes.insert(addr.clone(), Outcome::Skipped { because: root });
                    waiting.remove(&addr);
                    changed = true;
                }
            }
        }
        let ready: Vec<String> = waiting
            .iter()
            .filter(|a| {
                steps[*a]
                    .depends_on
                    .iter()
                    .all(|d| !steps.contains_key(d) || report.outcomes.get(d) == Some(&Outcome::Done))
            })
            .cloned()
            .collect();
        for addr in ready {
            waiting.remove(&addr);
            let step = steps[&addr].clone();
            let ctx = ctx.clone();
            let progress = progress.clone();
            let completed = completed.clone();
            running.spawn(async move {
                progress(&Event::Started {
                    address: step.address.clone(),
                    action: step.action,
                });
                let started = std::time::Instant::now();
                let result = match ctx.opts.fail_after_steps {
                    Some(k) if completed.load(Ordering::SeqCst) >= k => Err(ApplyError::Injected {
                        address: step.address.clone(),
                    }),
                    _ => kinds::execute(&ctx, &step).await,
                };
                match &result {
                    Ok(()) => {
                        completed.fetch_add(1, Ordering::SeqCst);
                        progress(&Event::Done {
                            address: step.address.clone(),
                            action: step.action,
                            seconds: started.elapsed().as_secs_f64(),
                        });
                    }
                    Err(e) => progress(&Event::Failed {
                        address: step.address.clone(),
                        error: e.to_string(),
                    }),
                }
                (step.address, result)
            });
        }
        match running.join_next().await {
            Some(Ok((addr, Ok(())))) => {
                report.outcomes.insert(addr, Outcome::Done);
            }
            Some(Ok((addr, Err(e)))) => {
                report.outcomes.insert(addr, Outcome::Failed(e.to_string()));
            }
            Some(Err(join)) => panic!("an apply step panicked: {join}"),
            None if waiting.is_empty() => break,
            None => {
                // Nothing running, nothing ready: a dependency outside the plan never completes.
                for addr in std::mem::take(&mut waiting) {
                    report.outcomes.insert(
                        addr,
                        Outcome::Skipped {
                            because: "unsatisfiable dependency".into(),
                        },
                    );
                }
                break;
            }
        }
    }
    report
}
