//! secmon's end-to-end tests, as a user runs secmon: the real binary, the real AWS SDK, and a
//! private emulator per test (moto behind scripts/emulator.py).
//!
//! One test binary, one module per story (`cargo test -p secmon-cli --test cli chat::`). Each
//! binary links the whole AWS SDK: as twenty binaries they took about 1.2 GB of `target/` and
//! twenty links, and CI ran out of disk (stop 34). The files stay where they were; only their
//! `mod common;` became this crate's.

mod common;

mod alert_context;
mod backtest;
mod chat;
mod contributors;
mod data_events;
mod dataflow;
mod external_trail;
mod gitops;
mod heartbeat;
mod install;
mod interrupt;
mod offline;
mod permissions;
mod real_account;
mod reconcile;
mod routes;
mod sandbox_check;
mod validate;
mod verify;
