//! Cronhub: `GET /start/<uuid>` then `/finish/<uuid>` or `/fail/<uuid>`, from a `/ping/<uuid>` URL.

mod http_server;
mod monitors_support;

use monitors_support::*;

const UUID: &str = "8d2ae4b6-3c8a-4a4b-9a51-0f6e5b1c2d3e";

fn check(ending: Ending, last: &str) {
    let server = Server::start();
    ending.run(&[format!("cronhub+{}/ping/{UUID}", server.base())]);
    let requests = server.received();
    let seen: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let start = format!("/start/{UUID}");
    let finish = format!("/{last}/{UUID}");
    assert_eq!(seen, [("GET", start.as_str()), ("GET", finish.as_str())]);
    assert!(requests
        .iter()
        .all(|r| r.params.is_empty() && r.body.is_empty()));
}

#[test]
fn success() {
    check(Ending::Success, "finish");
}

#[test]
fn failure() {
    check(Ending::Failure, "fail");
}

#[test]
fn overrun() {
    check(Ending::Overrun, "fail");
}

#[test]
fn signal() {
    check(Ending::Signal, "fail");
}

#[test]
fn no_start_ping_sends_only_the_finish() {
    let server = Server::start();
    let mut args = vec![
        "--no-start-ping".to_string(),
        "--ping".into(),
        format!("cronhub+{}/ping/{UUID}", server.base()),
    ];
    args.extend(Ending::Success.args());
    assert_eq!(cronbeat(&args).code, 0);
    let paths: Vec<String> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [format!("/finish/{UUID}")]);
}
