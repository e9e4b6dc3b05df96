//! The one harness every test goes through: launching cronbeat ([`launch`]), the HTTP server that
//! plays a monitor ([`http`]), processes and scratch files ([`process`]), and the library items tests
//! call directly ([`library`]).

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

/// A report body without what the run cost, as it was before every report said so: the line
/// `cronbeat: cpu …` among the body's last two lines removed, and with it the line break before it when
/// it was the last. The cost itself is tested on its own (`run::cost`).
pub fn without_cost(body: &str) -> String {
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let n = lines.len();
    let Some(at) = (n.saturating_sub(2)..n).find(|i| lines[*i].starts_with("cronbeat: cpu "))
    else {
        return body.to_string();
    };
    let before: String = lines[..at].concat();
    let after: String = lines[at + 1..].concat();
    if after.is_empty() {
        before.strip_suffix('\n').unwrap_or(&before).to_string()
    } else {
        before + &after
    }
}
