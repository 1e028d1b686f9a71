//! # secmon-apply: executing a plan
//!
//! Runs the steps of a plan from `secmon-diff` in dependency order. (Arrives with the
//! plan/apply issue; this crate holds its boundary.)
//!
//! What this crate does not do: decide what to change. It executes exactly the plan it is given.

pub use secmon_diff::DesiredState;
