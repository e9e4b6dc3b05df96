//! The one harness every test goes through: launching cronbeat ([`launch`]), the HTTP server that
//! plays a monitor ([`http`]), processes and scratch files ([`process`]), and the library items tests
//! call directly ([`library`]).

pub mod http;
pub mod launch;
pub mod library;
pub mod process;

pub use http::{refused_url, Behavior, Request, Server};
pub use launch::{cronbeat, cronbeat_sh, json_events, Cronbeat, Output, Running, BIN};
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
