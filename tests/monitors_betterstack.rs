//! Better Stack heartbeats: one POST at the finish, to `/<token>`, `/<token>/<exit code>` or
//! `/<token>/fail`, with the output as the body; no start ping.

mod http_server;
mod monitors_support;

use monitors_support::*;

fn check(ending: Ending, path: &str) {
    let server = Server::start();
    let spec = format!("betterstack+{}/api/v1/heartbeat/TOKEN123", server.base());
    let run = ending.run(&[spec]);
    let requests = server.received();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let finish = &requests[0];
    assert_eq!(finish.method, "POST");
    assert_eq!(finish.path, path);
    assert!(finish.params.is_empty());
    let body = finish.text();
    assert!(
        body.starts_with(&format!("run {}\n", run.run_id())),
        "{body:?}"
    );
    assert_eq!(body.trim_end().lines().last(), Some(ending.last_line()));
    assert_eq!(
        finish.header("content-length"),
        Some(finish.body.len().to_string().as_str())
    );
}

#[test]
fn success() {
    check(Ending::Success, "/api/v1/heartbeat/TOKEN123");
}

#[test]
fn failure() {
    check(Ending::Failure, "/api/v1/heartbeat/TOKEN123/3");
}

#[test]
fn overrun() {
    check(Ending::Overrun, "/api/v1/heartbeat/TOKEN123/fail");
}

#[test]
fn signal() {
    check(Ending::Signal, "/api/v1/heartbeat/TOKEN123/fail");
}
