//! The one harness every test goes through: launching cronbeat ([`launch`]), the HTTP server that
//! plays a monitor ([`http`]), processes and scratch files ([`process`]), the test's own cgroups
//! ([`cgroup`]), and the library items tests call directly ([`library`]).

pub mod cgroup;
pub mod http;
pub mod launch;
pub mod library;
pub mod process;

pub use http::{refused_url, Behavior, Request, Server};
pub use launch::{cronbeat, cronbeat_at, cronbeat_sh, json_events, Cronbeat, Output, Running, BIN};
pub use process::*;

/// Whether this run is CI's (`CI=true`): there, a missing tool or service a test needs is a failure,
/// not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A test that cannot run here for want of `what`: it fails under CI, and elsewhere it is skipped with a
/// note on stderr. Returns normally only when the test should return (skip).
#[track_caller]
pub fn missing(what: &str) {
    assert!(!in_ci(), "CI=true but {what}");
    eprintln!("skipped: {what}");
}

/// Every outcome word a run can have: `cronbeat_outcome` has a sample for each, 0 or 1, so that an
/// alert on any of them can test for 0.
pub const METRIC_OUTCOMES: [&str; 9] = [
    "success",
    "failure",
    "timeout",
    "idle",
    "terminated",
    "lock_lost",
    "oom",
    "signal",
    "not_started",
];

/// A report body without what the run cost, as it was before every report said so: its last line
/// `cronbeat: cpu …` removed, and with it the line break before it when no line of cronbeat's precedes
/// it. The cost itself is tested on its own (`run::cost`).
pub fn without_cost(body: &str) -> String {
    let Some(before) = body
        .strip_suffix('\n')
        .and_then(|b| b.rfind('\n').map_or(Some(""), |at| Some(&b[..at + 1])))
        .filter(|before| body[before.len()..].starts_with("cronbeat: cpu "))
    else {
        return body.to_string();
    };
    let last_line = before
        .strip_suffix('\n')
        .map_or("", |b| b.rfind('\n').map_or(b, |at| &b[at + 1..]));
    if last_line.starts_with("cronbeat: ") {
        before.to_string()
    } else {
        before.strip_suffix('\n').unwrap_or(before).to_string()
    }
}
