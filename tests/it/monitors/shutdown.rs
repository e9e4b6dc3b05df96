//! A bounded end: once the command has ended, every monitor's finish report is delivered or given up
//! within `--report-timeout`, and after a stop signal the whole shutdown (the `--kill-after` grace, then
//! the reports) fits `--kill-after` + `--report-timeout` from the signal, so a supervisor's own grace
//! (Kubernetes' terminationGracePeriodSeconds, systemd's TimeoutStopSec) is never overrun by a monitor.
//! The exit status stays the command's throughout.

use std::time::{Duration, Instant};

use crate::harness::*;
use libc::SIGTERM;

const UUID: &str = "3c1d9e7a-5b2f-4a8c-9e6d-1f0b7a2c4d83";

/// A monitor that accepts the connection and never answers.
fn hanging() -> (Server, String) {
    let server = Server::start();
    server.respond("", Behavior::Hang);
    let url = format!("{}/{UUID}", server.url());
    (server, url)
}

/// The warnings naming monitor `position` as given up at the report deadline.
fn given_up(out: &Output, position: usize) -> Vec<String> {
    let label = format!("cronbeat: monitor {position} (healthchecks, 127.0.0.1:");
    out.stderr
        .lines()
        .filter(|l| l.starts_with(&label) && l.contains("given up at the report deadline"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_hanging_monitor_is_given_up_at_the_report_deadline() {
    let (_server, hang) = hanging();
    let good = Server::start();
    let args = [
        "--ping",
        &good.url(),
        "--ping",
        &hang,
        "--report-timeout",
        "2s",
        "--",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ];
    let out = cronbeat().args(args).run();
    out.assert_code(3);
    // The command took 1 s; the reports 2 s at most after it, not the 35 s a ping may take alone.
    let after_command = out.elapsed.saturating_sub(Duration::from_secs(1));
    assert!(
        after_command >= Duration::from_millis(1900) && after_command < Duration::from_secs(5),
        "exited {after_command:?} after the command ended\n{}",
        out.dump()
    );
    // The start ping hung until the deadline, and the finish behind it had no time left: both named.
    let warnings = given_up(&out, 2);
    assert_eq!(warnings.len(), 2, "{}", out.dump());
    assert!(warnings[0].contains("start ping"), "{warnings:#?}");
    assert!(warnings[1].contains("finish ping"), "{warnings:#?}");
    assert!(given_up(&out, 1).is_empty(), "{}", out.dump());
    // The other monitor heard the whole run.
    let paths: Vec<String> = good.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/start", "/3"]);
    assert!(!out.stderr.contains(UUID), "{}", out.stderr);
}

#[test]
fn a_finish_that_hangs_is_cut_at_the_deadline_whatever_the_ping_timeout() {
    let (server, hang) = hanging();
    let args = [
        "--ping",
        &hang,
        "--no-start-ping",
        "--ping-timeout",
        "30s",
        "--report-timeout",
        "1500ms",
        "--",
        "true",
    ];
    let out = cronbeat().args(args).run();
    out.assert_code(0);
    assert!(
        out.elapsed >= Duration::from_millis(1400) && out.elapsed < Duration::from_millis(4500),
        "{}",
        out.dump()
    );
    let warnings = given_up(&out, 1);
    assert_eq!(warnings.len(), 1, "{}", out.dump());
    assert!(
        warnings[0].contains("finish ping given up at the report deadline after 1 attempt"),
        "{warnings:#?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn the_default_report_timeout_is_ten_seconds() {
    let (_server, hang) = hanging();
    let out = cronbeat()
        .args(["--ping", &hang, "--", "true"])
        .limit(Duration::from_secs(40))
        .run();
    out.assert_code(0);
    // Without the deadline: up to 35 s for the start ping, then 35 s for the finish.
    assert!(
        out.elapsed >= Duration::from_millis(9900) && out.elapsed < Duration::from_secs(13),
        "{}",
        out.dump()
    );
    assert_eq!(given_up(&out, 1).len(), 2, "{}", out.dump());
}

#[test]
fn a_zero_report_timeout_is_refused() {
    let out = cronbeat()
        .args(["--report-timeout", "0s", "--", "true"])
        .run();
    out.assert_one_line_error(&["--report-timeout", "greater than zero"]);
    let out = cronbeat()
        .args(["--", "true"])
        .env("CRONBEAT_REPORT_TIMEOUT", "0")
        .run();
    out.assert_one_line_error(&["CRONBEAT_REPORT_TIMEOUT", "greater than zero"]);
}

/// Sends SIGTERM once the command is ready; returns the output and how long after the signal cronbeat
/// exited.
fn stopped(options: &[&str], script: &str, limit: Duration) -> (Output, Duration) {
    let mut run = cronbeat_sh(options, script).limit(limit).spawn();
    run.wait_for_line("ready");
    let sent = Instant::now();
    run.signal(SIGTERM);
    let out = run.wait();
    let took = sent.elapsed();
    (out, took)
}

#[test]
fn sigterm_with_a_hanging_monitor_ends_within_the_grace_and_the_report_timeout() {
    let (server, hang) = hanging();
    // The command takes a second to stop after its TERM, and exits with a code of its own.
    let (out, took) = stopped(
        &[
            "--ping",
            &hang,
            "--kill-after",
            "2s",
            "--report-timeout",
            "2s",
        ],
        "trap 'sleep 1; exit 7' TERM; echo ready; sleep 30 & wait",
        Duration::from_secs(30),
    );
    out.assert_code(7);
    // Stopped after 1 s, then at most 2 s of reports: well within kill-after + report-timeout (4 s).
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_millis(4500),
        "exited {took:?} after SIGTERM\n{}",
        out.dump()
    );
    // The start ping's attempt hung until the deadline; no retry followed the stop.
    assert_eq!(server.requests().len(), 1, "{:#?}", server.requests());
    assert_eq!(given_up(&out, 1).len(), 2, "{}", out.dump());
}

#[test]
fn with_the_defaults_a_stopped_run_ends_within_kubernetes_default_grace() {
    let (server, hang) = hanging();
    // Ignores TERM: SIGKILL after the default 10 s grace; then the default 10 s for the reports.
    let (out, took) = stopped(
        &["--ping", &hang],
        "trap '' TERM; echo ready; exec sleep 60",
        Duration::from_secs(60),
    );
    out.assert_code(137);
    assert!(
        took >= Duration::from_millis(19_800) && took < Duration::from_secs(23),
        "exited {took:?} after SIGTERM: Kubernetes SIGKILLs at 30 s\n{}",
        out.dump()
    );
    // One attempt for each ping once stopping: the start's (its 5 s ran out during the grace), then
    // the finish's, which had the whole 10 s rather than 5 s, a backoff and a second try.
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [format!("/{UUID}/start"), format!("/{UUID}/log")],
        "{}",
        out.dump()
    );
    let warnings = given_up(&out, 1);
    assert_eq!(warnings.len(), 1, "{}", out.dump());
    assert!(warnings[0].contains("finish ping"), "{warnings:#?}");
    assert!(
        out.stderr
            .contains("start ping given up after 1 attempt, stopping"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_stop_while_reports_are_retried_ends_the_backoff() {
    // Refused at once: retried with backoff (0.5 s, 1 s, 2 s, 4 s, 5 s …) until the deadline.
    let refused = format!("{}/{UUID}", refused_url());
    let mut run = cronbeat()
        .args([
            "-v",
            "--ping",
            &refused,
            "--no-start-ping",
            "--ping-retries",
            "10",
            "--",
            "true",
        ])
        .spawn();
    run.wait_stderr("cronbeat: finished:", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    run.signal(SIGTERM);
    let out = run.wait();
    let took = sent.elapsed();
    out.assert_code(0);
    assert!(
        took < Duration::from_secs(2),
        "exited {took:?} after SIGTERM\n{}",
        out.dump()
    );
    assert!(
        out.stderr.contains("finish ping given up after")
            && out.stderr.contains("attempts, stopping: "),
        "{}",
        out.dump()
    );
}
