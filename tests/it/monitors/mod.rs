//! Monitors: heartbeats and their delivery, what each service is told for each way a run ends, what
//! is particular to each service, several at once, monitors that misbehave, and the test server that
//! plays them.

mod cronhub;
mod cronitor;
mod dms;
pub mod endings;
mod healthchecks;
mod heartbeats;
mod hostile;
mod keepalive_model;
mod labels;
mod many;
pub mod prometheus;
mod sentry;
mod shutdown;
mod test_server;
mod webhook;
