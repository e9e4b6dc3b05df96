//! Healthchecks beyond the table of endings (`endings.rs`): the body is the tail of the output, never
//! more than the server's `Ping-Body-Limit`, and what a limited failure body still says.

use crate::harness::*;

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
    let mut args = vec!["--ping".to_string(), server.url() + "/uuid"];
    args.extend(command);
    assert_eq!(cronbeat().args(&args).run().code(), 0);
    let requests = server.received();
    assert_eq!(requests[1].path, "/uuid/0");
    assert_eq!(requests[1].body, output.as_bytes()[output.len() - 100..]);
}

#[test]
fn a_limited_failure_body_still_says_what_happened() {
    let server = Server::with_headers(&[("Ping-Body-Limit", "120")]);
    let mut args = vec![
        "--ping".to_string(),
        server.url() + "/uuid",
        "--timeout".into(),
        "500ms".into(),
    ];
    args.extend(
        ["--", "sh", "-c", "seq 1 5000; exec sleep 30"]
            .map(String::from)
            .to_vec(),
    );
    assert_eq!(cronbeat().args(&args).run().code(), 124);
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
        server.url() + "/uuid",
        "--tail".into(),
        "150K".into(),
    ];
    args.extend(command);
    assert_eq!(cronbeat().args(&args).run().code(), 0);
    let requests = server.received();
    // More output than the tail keeps, and a tail larger than the hosted service's 100 KB: the last 100,000 bytes.
    assert!(output.len() > 150 * 1024);
    assert_eq!(requests[1].body.len(), 100_000);
    assert_eq!(
        requests[1].body,
        output.as_bytes()[output.len() - 100_000..]
    );
}
