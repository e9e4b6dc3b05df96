//! Healthchecks beyond the table of endings (`endings.rs`): the body is the tail of the output, never
//! more than the server's `Ping-Body-Limit`, marked when it was cut, and what a limited failure body
//! still says.

use super::cut_marker;
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
    let body = requests[1].text();
    assert_eq!(body.len(), 100, "{body:?}");
    let body = without_cost(&body);
    // The marker says what the limit cut; the rest is the end of the output.
    let (cut, shown) = cut_marker(&body);
    assert!(output.ends_with(shown), "{body:?}");
    assert_eq!(cut + shown.len(), output.len(), "{body:?}");
}

/// Healthchecks answers every ping, the start included, with its limit; the finish must fit it.
fn limited_at_the_start(limit: &str) -> Server {
    let server = Server::start();
    server.respond(
        "/uuid/start",
        Behavior::status(200).header("Ping-Body-Limit", limit),
    );
    server
}

#[test]
fn a_body_cut_to_the_servers_limit_keeps_the_marker_and_the_final_line() {
    let server = limited_at_the_start("300");
    let args = [
        "--ping",
        &(server.url() + "/uuid"),
        "--timeout",
        "500ms",
        "--",
        "sh",
        "-c",
        "seq 1 2000; exec sleep 30",
    ];
    cronbeat().args(args).run().assert_code(124);
    let output: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    let requests = server.received();
    assert_eq!(requests[1].path, "/uuid/fail");
    let body = requests[1].text();
    assert!(body.len() <= 300, "{} bytes: {body:?}", body.len());
    let body = without_cost(&body);
    let note = "\ncronbeat: timed out after 500ms and was stopped (killed by SIGTERM)\n";
    let (cut, rest) = cut_marker(&body);
    let shown = rest
        .strip_suffix(note)
        .unwrap_or_else(|| panic!("the final line is lost: {body:?}"));
    assert!(shown.ends_with("1999\n2000\n"), "{body:?}");
    assert!(output.ends_with(shown), "{body:?}");
    assert_eq!(cut + shown.len(), output.len(), "{body:?}");
}

#[test]
fn a_tail_cut_twice_counts_every_byte_cut() {
    // 23,893 bytes of output: the 10 KiB tail cuts it first, then the server's limit.
    let server = limited_at_the_start("2000");
    let (command, output) = numbers(5000);
    let mut args = vec!["--ping".to_string(), server.url() + "/uuid"];
    args.extend(command);
    cronbeat().args(&args).run().assert_code(0);
    let body = server.received()[1].text();
    assert_eq!(body.len(), 2000, "{body:?}");
    let body = without_cost(&body);
    let (cut, shown) = cut_marker(&body);
    assert!(output.ends_with(shown), "{body:?}");
    assert_eq!(cut + shown.len(), output.len(), "{body:?}");
}

#[test]
fn a_run_without_output_sends_no_blank_line() {
    let server = Server::start();
    let args = [
        "--ping",
        &(server.url() + "/hc"),
        "--ping",
        &format!("betterstack+{}/bs", server.url()),
        "--timeout",
        "300ms",
        "--",
        "sleep",
        "30",
    ];
    cronbeat().args(args).run().assert_code(124);
    let said = "cronbeat: timed out after 300ms and was stopped (killed by SIGTERM)\n";
    let requests = server.received();
    for path in ["/hc/fail", "/bs/fail"] {
        let finish = requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no {path}: {requests:#?}"));
        assert_eq!(without_cost(&finish.text()), said, "{path}");
    }
}

#[test]
fn a_quiet_success_without_output_sends_only_what_it_cost() {
    let server = Server::start();
    let args = ["--ping", &(server.url() + "/hc"), "--", "true"];
    cronbeat().args(args).run().assert_code(0);
    let requests = server.received();
    assert_eq!(requests[1].path, "/hc/0");
    let body = requests[1].text();
    assert!(
        body.starts_with("cronbeat: cpu ") && body.ends_with('\n') && body.lines().count() == 1,
        "{body:?}"
    );
    assert_eq!(without_cost(&body), "");
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
    let body = without_cost(&body);
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
    // More output than the tail keeps, and a tail larger than the hosted service's 100 KB: 100,000 bytes,
    // the end of the output after a marker counting what was cut.
    assert!(output.len() > 150 * 1024);
    assert_eq!(requests[1].body.len(), 100_000);
    let body = without_cost(&requests[1].text());
    let (cut, shown) = cut_marker(&body);
    assert!(output.ends_with(shown));
    assert_eq!(cut + shown.len(), output.len());
}
