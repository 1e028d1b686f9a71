//! The planner's tests without a network, one binary: the diff crate links the kinds and with
//! them the AWS SDK, about 86 MB per test binary in `target/` (stop 34's CI ran out of disk).

mod compare;
mod golden;
