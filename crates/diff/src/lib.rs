//! # secmon-diff: live state, comparison, plan
//!
//! Reads live AWS state and compares it with the desired state from `secmon-spec`, producing a
//! plan. (The reconciler arrives with the plan/apply issue; this crate holds its boundary.)
//!
//! What this crate does not do: change anything in AWS. Executing a plan is `secmon-apply`'s job.

pub use secmon_spec::DesiredState;
