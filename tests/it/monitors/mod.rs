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

/// The number a body's leading `[… N bytes cut …]` line gives, and the rest of the body.
#[track_caller]
pub fn cut_marker(body: &str) -> (usize, &str) {
    let rest = body
        .strip_prefix("[… ")
        .unwrap_or_else(|| panic!("no cut marker at the front: {body:?}"));
    let (count, rest) = rest
        .split_once(" bytes cut …]\n")
        .expect("a whole marker line");
    (count.parse().expect("a byte count"), rest)
}
