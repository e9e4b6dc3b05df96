//! The integration tests: the real cronbeat binary against real processes, signals, a PTY, PID
//! namespaces and HTTP servers on 127.0.0.1, every launch through the one harness.

mod harness;

mod adopt;
mod after;
mod config;
mod fleet;
mod hostile;
mod ledger;
mod monitors;
mod policies;
mod properties;
mod run;
mod schedule;
mod ship;
mod soak;
