//! Heartbeats to a Healthchecks-compatible monitor: where the URLs come from, the exact requests, and a
//! delivery that never delays, hangs or changes the job.

use std::time::{Duration, Instant};

use crate::harness::*;

const UUID: &str = "6e1fbf8f-1b0d-4f55-9c3e-aa05fe5e6d3e";

fn check_url(server: &Server) -> String {
    format!("{}/{UUID}", server.url())
}

fn paths(requests: &[Request]) -> Vec<String> {
    requests.iter().map(|r| r.path.clone()).collect()
}

#[test]
fn urls_from_flags_a_file_and_the_environment() {
    let server = Server::start();
    let dir = Dir::new();
    let file = dir.write(
        "pings",
        &format!("# monitors\n\n{}/from-file\n", server.url()),
    );
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/flag-one", server.url()),
            "--ping",
            &format!("{}/flag-two", server.url()),
            "--ping-file",
            &file,
            "--",
            "true",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let env = format!("{}/env-one {}/env-two", server.url(), server.url());
    let out = cronbeat()
        .args(["--", "true"])
        .envs(&[("CRONBEAT_PING", &env)])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let mut got = paths(&server.wait_for(10, Duration::from_secs(10)));
    got.sort();
    let mut want: Vec<String> = ["flag-one", "flag-two", "from-file", "env-one", "env-two"]
        .iter()
        .flat_map(|c| [format!("/{c}/start"), format!("/{c}/0")])
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn the_start_request_is_an_empty_post_with_a_length_and_our_user_agent() {
    let server = Server::start();
    let dir = Dir::new();
    let out = cronbeat()
        .args(["--ping", &check_url(&server), "--", "true"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    let requests = server.wait_for(2, Duration::from_secs(5));
    let start = &requests[0];
    assert_eq!(start.method, "POST");
    assert_eq!(start.path, format!("/{UUID}/start"));
    assert_eq!(start.header("content-length"), Some("0"));
    assert!(!start.chunked && !requests[1].chunked);
    assert!(start.body.is_empty());
    let agent = format!("cronbeat/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(start.header("user-agent"), Some(agent.as_str()));
    assert_eq!(requests[1].header("user-agent"), Some(agent.as_str()));
}

#[test]
fn no_start_ping_sends_only_the_finish() {
    let server = Server::start();
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--no-start-ping",
            "--ping",
            &check_url(&server),
            "--",
            "true",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    let requests = server.wait_for(1, Duration::from_secs(5));
    assert_eq!(paths(&requests), [format!("/{UUID}/0")]);
    // Proving an absence needs a pause: nothing more arrives.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn slug_urls_keep_their_query() {
    let server = Server::start();
    let dir = Dir::new();
    let url = format!("{}/ping-key/nightly-backup?create=1", server.url());
    let out = cronbeat()
        .args(["--ping", &url, "--", "true"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests[0].path, "/ping-key/nightly-backup/start");
    assert_eq!(requests[1].path, "/ping-key/nightly-backup/0");
    for r in &requests {
        assert_eq!(r.param("create"), Some("1"));
        assert!(r.param("rid").is_some());
    }
}

#[test]
fn a_command_that_cannot_start_is_a_failure_with_the_reason() {
    let server = Server::start();
    let dir = Dir::new();
    let out = cronbeat()
        .args(["--ping", &check_url(&server), "--", "no-such-command-here"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(127));
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests[1].path, format!("/{UUID}/fail"));
    let body = requests[1].text();
    assert!(body.contains("could not start"), "{body}");
    assert!(body.contains("not found"), "{body}");
}

#[test]
fn a_hanging_start_ping_does_not_delay_the_command() {
    let server = Server::start();
    server.respond(&format!("/{UUID}/start"), Behavior::Hang);
    let dir = Dir::new();
    let stamp = dir.join("started");
    let began = Instant::now();
    let out = cronbeat()
        .args([
            "--ping-timeout",
            "3s",
            "--ping-retries",
            "0",
            "--ping",
            &check_url(&server),
            "--",
            "touch",
            stamp.to_str().unwrap(),
        ])
        .dir(dir.path())
        .run();
    let ran_after = std::fs::metadata(&stamp)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::SystemTime::now() - began.elapsed())
        .unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    // The command ran at once, while the start ping hung for its whole 3 s.
    assert!(
        ran_after < Duration::from_millis(1000),
        "ran after {ran_after:?}"
    );
    assert!(out.elapsed >= Duration::from_secs(3), "{:?}", out.elapsed);
    // The finish was sent only once the start had been given up.
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(
        paths(&requests),
        [format!("/{UUID}/start"), format!("/{UUID}/0")]
    );
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(2900));
}

#[test]
fn every_ping_hanging_stays_within_the_documented_bound() {
    let server = Server::start();
    server.respond("", Behavior::Hang);
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--ping-timeout",
            "1s",
            "--ping-retries",
            "1",
            "--ping",
            &check_url(&server),
            "--",
            "sh",
            "-c",
            "echo job-output; exit 3",
        ])
        .dir(dir.path())
        .run();
    // Per ping: (retries + 1) × timeout + retries × 5 s = 7 s; start and finish in turn: 14 s.
    assert!(out.elapsed < Duration::from_secs(14), "{:?}", out.elapsed);
    // Two attempts of 1 s each per ping really happened.
    assert!(out.elapsed >= Duration::from_secs(4), "{:?}", out.elapsed);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, "job-output\n");
    assert_eq!(server.requests().len(), 4);
}

fn run_against(server: &Server, extra: &[&str]) -> Output {
    let dir = Dir::new();
    let url = check_url(server);
    let mut args = vec!["--ping-timeout", "2s", "--ping", &url];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "true"]);
    cronbeat().args(&args).dir(dir.path()).run()
}

#[test]
fn transient_answers_are_retried_and_the_first_retry_is_quick() {
    for status in [500, 503, 408] {
        let server = Server::start();
        server.respond_seq(&format!("/{UUID}/start"), [Behavior::status(status)]);
        let out = run_against(&server, &[]);
        assert_eq!(out.status.code(), Some(0));
        let requests = server.wait_for(3, Duration::from_secs(5));
        assert_eq!(
            paths(&requests),
            [
                format!("/{UUID}/start"),
                format!("/{UUID}/start"),
                format!("/{UUID}/0")
            ],
            "HTTP {status}"
        );
        let gap = requests[1].at - requests[0].at;
        assert!(gap < Duration::from_secs(1), "first retry after {gap:?}");
        assert!(
            out.stderr.is_empty(),
            "a retried success is no warning: {}",
            out.stderr
        );
    }
}

#[test]
fn too_many_requests_waits_as_the_server_asks() {
    let server = Server::start();
    server.respond_seq(
        &format!("/{UUID}/start"),
        [Behavior::status(429).header("Retry-After", "2")],
    );
    let out = run_against(&server, &[]);
    assert_eq!(out.status.code(), Some(0));
    let requests = server.wait_for(3, Duration::from_secs(8));
    assert_eq!(requests.len(), 3);
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(1900) && gap < Duration::from_secs(4),
        "Retry-After 2 gave a gap of {gap:?}"
    );
}

#[test]
fn client_errors_are_not_retried_and_warn_once_without_the_secret() {
    let server = Server::start();
    server.respond("", Behavior::status(404));
    let out = run_against(&server, &["--ping-retries", "3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the job's status, not the monitor's"
    );
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.len(), 2, "one request per ping, no retries");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.requests().len(), 2, "a 404 was retried");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    for line in lines {
        assert!(line.starts_with("cronbeat: "), "{line}");
        assert!(line.contains("127.0.0.1"), "{line}");
        assert!(line.contains("404"), "{line}");
        assert!(!line.contains(UUID), "secret leaked: {line}");
    }
}

#[test]
fn a_refused_connection_is_retried_with_backoff_then_given_up() {
    let dir = Dir::new();
    let url = format!("{}/{UUID}", refused_url());
    let out = cronbeat()
        .args([
            "--ping-retries",
            "2",
            "--ping",
            &url,
            "-v",
            "--log-format",
            "json",
            "--",
            "sh",
            "-c",
            "exit 4",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(4));
    // Two pings, each: 3 attempts with two waits of about 0.5 s and 1 s.
    assert!(
        out.elapsed >= Duration::from_millis(1500),
        "{:?}",
        out.elapsed
    );
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out.elapsed);
    assert!(!out.stderr.contains(UUID), "secret leaked: {}", out.stderr);
    let failed = out
        .stderr
        .lines()
        .filter(|l| l.contains("\"ping_failed\""))
        .count();
    assert_eq!(failed, 2, "{}", out.stderr);
}

#[test]
fn a_slow_monitor_does_not_delay_another() {
    let slow = Server::start();
    slow.respond("", Behavior::Hang);
    let fast = Server::start();
    let dir = Dir::new();
    let began = Instant::now();
    let out = cronbeat()
        .args([
            "--ping-timeout",
            "3s",
            "--ping-retries",
            "0",
            "--ping",
            &format!("{}/slow", slow.url()),
            "--ping",
            &format!("{}/fast", fast.url()),
            "--",
            "true",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    let requests = fast.wait_for(2, Duration::from_secs(5));
    assert_eq!(paths(&requests), ["/fast/start", "/fast/0"]);
    // The fast monitor heard the whole run long before the slow one's first attempt gave up.
    assert!(requests[1].at - began < Duration::from_millis(2000));
    assert!(out.elapsed >= Duration::from_secs(3));
}

#[test]
fn the_secret_never_reaches_stderr_in_any_log_format() {
    let server = Server::start();
    server.respond("", Behavior::status(500));
    for format in [&["-v"][..], &["-v", "--log-format", "json"][..]] {
        let mut args = vec!["--ping-retries", "0", "--ping"];
        let url = check_url(&server);
        args.push(&url);
        args.extend_from_slice(format);
        args.extend_from_slice(&["--", "true"]);
        let out = cronbeat().args(&args).dir(Dir::new().path()).run();
        assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);
        assert!(!out.stderr.contains(UUID), "secret leaked: {}", out.stderr);
    }
}

#[test]
fn requests_go_through_the_proxy_unless_no_proxy_says_otherwise() {
    let proxy = Server::start();
    let dir = Dir::new();
    let target = format!("http://monitor.invalid/{UUID}");
    let out = cronbeat()
        .args(["--ping", &target, "--", "true"])
        .envs(&[("HTTP_PROXY", &proxy.url())])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let requests = proxy.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.len(), 2, "the proxy saw: {:?}", paths(&requests));
    assert_eq!(requests[0].header("host"), Some("monitor.invalid"));
    // NO_PROXY for that host: the request goes direct (and fails, the name does not resolve).
    let out = cronbeat()
        .args(["--ping-retries", "0", "--ping", &target, "--", "true"])
        .envs(&[
            ("HTTP_PROXY", &proxy.url()),
            ("NO_PROXY", "monitor.invalid"),
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(proxy.requests().len(), 2, "NO_PROXY was ignored");
    assert!(out.stderr.contains("monitor.invalid"), "{}", out.stderr);
}

#[test]
fn an_unusable_ssl_cert_file_is_one_warning_and_the_pings_still_go_out() {
    let dir = Dir::new();
    let no_certificate = dir.write("not-a-ca.pem", "just text\n");
    for path in ["/nonexistent/ca.pem", no_certificate.as_str()] {
        let server = Server::start();
        let out = cronbeat()
            .args(["--ping", &check_url(&server), "--", "sh", "-c", "echo ran"])
            .envs(&[("SSL_CERT_FILE", path)])
            .dir(dir.path())
            .run();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, "ran\n");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert!(
            lines[0].contains("SSL_CERT_FILE") && lines[0].contains(path),
            "{}",
            lines[0]
        );
        // The bundled roots are still there, and a plain http monitor never needed the file.
        assert_eq!(
            paths(&server.requests()),
            [format!("/{UUID}/start"), format!("/{UUID}/0")],
            "SSL_CERT_FILE={path}"
        );
    }
}

#[test]
fn a_reset_connection_is_retried() {
    let server = Server::start();
    server.respond_seq(&format!("/{UUID}/start"), [Behavior::Reset]);
    let out = run_against(&server, &["--ping-retries", "1"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert_eq!(
        paths(&server.requests()),
        [
            format!("/{UUID}/start"),
            format!("/{UUID}/start"),
            format!("/{UUID}/0")
        ]
    );
}

#[test]
fn https_proxy_gets_a_connect_that_names_only_the_host() {
    let proxy = Server::start();
    // Refusing the tunnel keeps the test to what the proxy was told.
    proxy.respond("", Behavior::status(403));
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--no-start-ping",
            "--ping-retries",
            "0",
            "--ping",
            &format!("https://monitor.invalid/{UUID}"),
            "--",
            "sh",
            "-c",
            "echo ran; exit 3",
        ])
        .envs(&[("HTTPS_PROXY", &proxy.url())])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, "ran\n");
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].method, "CONNECT");
    assert_eq!(requests[0].path, "monitor.invalid:443");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("monitor.invalid"), "{}", lines[0]);
    assert!(!out.stderr.contains(UUID), "secret leaked: {}", out.stderr);
}
