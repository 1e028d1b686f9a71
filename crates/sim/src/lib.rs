//! # secmon-sim: the pipeline's semantics, offline
//!
//! Knows what AWS does with a CloudTrail event on its way to an e-mail, so that secmon can say,
//! before deploying, whether and when an alarm fires:
//! - [`pattern`]: the CloudWatch Logs filter-pattern language (terms, JSON, space-delimited),
//!   parser with column-accurate errors and evaluator, plus near-miss explanations;
//! - [`events`]: streaming readers for CloudTrail log files (gzipped or not: a file of one
//!   member is inflated whole), JSON arrays, JSON lines and plain lines, and directories of
//!   them, which split records without parsing them (a SIMD scanner, `jsonscan`), and
//!   [`events::Counter`], the fastest way to count what a pattern matches;
//! - [`prefilter`]: a pattern's necessary literals, so records it cannot match are skipped
//!   unparsed (the full evaluator still judges every other one);
//! - [`projection`]: parsing only the paths a JSON pattern reads;
//! - [`alarm`]: metric emission as metric filters do it, and the CloudWatch alarm evaluator
//!   (statistics, periods, M-of-N, treat-missing-data, state changes, notifications);
//! - [`eventbridge`]: a monitor's pattern as an EventBridge event pattern, and the
//!   notification text an input transformer makes of each matching event (the alert's fast path);
//! - [`heartbeat`]: the heartbeat's canary read as CloudTrail records it, kept out of every other
//!   monitor's count;
//! - [`contributors`]: a pattern as a Contributor Insights rule's filters, and what the rule
//!   reports per contributor and period;
//! - [`insights`]: a monitor's pattern as the Logs Insights query that lists its events;
//! - [`coverage`]: which event names, attack techniques and ATT&CK ids the deployed monitors
//!   can see, computed from their patterns and the trail's selection;
//! - [`simulate`]: replaying events through every monitor of a spec, trail selection included;
//! - [`lint`]: warnings for alarms that cannot fire or fire late, patterns that cannot match,
//!   misspelled event names, and events the trail does not record.
//!
//! What this crate does not do: call AWS. It is pure logic; moto has no `TestMetricFilter` and
//! emits no metrics, so this is also how secmon tests those semantics.

// Every public item says what it is (issue 23, item 6); CI denies warnings.
#![warn(missing_docs)]

pub mod alarm;
pub mod catalog;
pub mod contributors;
pub mod coverage;
pub mod eventbridge;
pub mod events;
pub mod heartbeat;
pub mod insights;
mod jsonscan;
pub mod lint;
pub mod pattern;
pub mod prefilter;
pub mod projection;
pub mod simulate;

pub use pattern::{Event, Pattern, PatternError};
