//! Healthchecks: `/start`, then `/<code>` or `/fail`, all with the run id as `rid`; the body is the
//! tail of the output, never more than the server's `Ping-Body-Limit`.

mod http_server;
mod monitors_support;

use monitors_support::*;

fn check(ending: Ending, last: &str) {
    let server = Server::start();
    let run = ending.run(&[format!("{}/ping/KEY/nightly?create=1", server.base())]);
    let rid = run.run_id();
    let requests = server.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let params = vec![
        ("create".to_string(), "1".to_string()),
        ("rid".to_string(), rid.clone()),
    ];
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/ping/KEY/nightly/start");
    assert_eq!(requests[0].params, params);
    assert!(requests[0].body.is_empty());
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].path, format!("/ping/KEY/nightly/{last}"));
    assert_eq!(requests[1].params, params);
    let body = requests[1].text();
    assert!(body.starts_with(&format!("run {rid}\n")), "{body:?}");
    assert_eq!(body.trim_end().lines().last(), Some(ending.last_line()));
}

#[test]
fn success() {
    check(Ending::Success, "0");
}

#[test]
fn failure() {
    check(Ending::Failure, "3");
}

#[test]
fn overrun() {
    check(Ending::Overrun, "fail");
}

#[test]
fn signal() {
    check(Ending::Signal, "fail");
}

/// `seq 1 N` as the command, its output as the test expects it.
fn numbers(n: u32) -> (Vec<String>, String) {
    let output: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let args = ["--", "seq", "1", &n.to_string()]
        .map(String::from)
        .to_vec();
    (args, output)
}

#[test]
fn the_servers_ping_body_limit_is_honoured_keeping_the_end() {
    let server = Server::with_headers(&[("Ping-Body-Limit", "100")]);
    let (command, output) = numbers(2000);
    let mut args = vec!["--ping".to_string(), server.base() + "/uuid"];
    args.extend(command);
    assert_eq!(cronbeat(&args).code, 0);
    let requests = server.received();
    assert_eq!(requests[1].path, "/uuid/0");
    assert_eq!(requests[1].body, output.as_bytes()[output.len() - 100..]);
}

#[test]
fn a_limited_failure_body_still_says_what_happened() {
    let server = Server::with_headers(&[("Ping-Body-Limit", "120")]);
    let mut args = vec![
        "--ping".to_string(),
        server.base() + "/uuid",
        "--timeout".into(),
        "500ms".into(),
    ];
    args.extend(
        ["--", "sh", "-c", "seq 1 5000; exec sleep 30"]
            .map(String::from)
            .to_vec(),
    );
    assert_eq!(cronbeat(&args).code, 124);
    let requests = server.received();
    assert_eq!(requests[1].path, "/uuid/fail");
    let body = requests[1].text();
    assert_eq!(body.len(), 120, "{body:?}");
    assert!(
        body.ends_with(
            "4999\n5000\n\ncronbeat: timed out after 500ms and was stopped (killed by SIGTERM)\n"
        ),
        "{body:?}"
    );
}

#[test]
fn long_output_sends_the_tail_not_the_head() {
    let server = Server::start();
    let (command, output) = numbers(30000);
    let mut args = vec![
        "--ping".to_string(),
        server.base() + "/uuid",
        "--tail".into(),
        "150K".into(),
    ];
    args.extend(command);
    assert_eq!(cronbeat(&args).code, 0);
    let requests = server.received();
    // More output than the tail keeps, and a tail larger than the hosted service's 100 KB: the last 100,000 bytes.
    assert!(output.len() > 150 * 1024);
    assert_eq!(requests[1].body.len(), 100_000);
    assert_eq!(
        requests[1].body,
        output.as_bytes()[output.len() - 100_000..]
    );
}
