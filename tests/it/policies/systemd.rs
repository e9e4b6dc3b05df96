//! systemd notify: with `NOTIFY_SOCKET` set, READY=1 once the command runs, STATUS= lines with the last
//! output line, WATCHDOG=1 at half of WATCHDOG_USEC while it lives, STOPPING=1 at the end.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use crate::harness::*;

/// Reads every datagram in a thread while the run goes on (the socket's queue is short), until
/// `STOPPING=1` or a quiet second; `finish` returns them in order.
struct Collector(std::thread::JoinHandle<Vec<String>>);

impl Collector {
    fn start(socket: &UnixDatagram) -> Collector {
        let socket = socket.try_clone().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        Collector(std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                let last = message.starts_with("STOPPING=1");
                out.push(message);
                if last {
                    break;
                }
            }
            out
        }))
    }

    fn finish(self) -> Vec<String> {
        self.0.join().unwrap()
    }
}

fn notified(env: &[(&str, &str)], script: &str) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let collector = Collector::start(&socket);
    let out = cronbeat()
        .env("NOTIFY_SOCKET", &path)
        .envs(env)
        .args(["--kill-after", "1s", "--", "sh", "-c", script])
        .run();
    (out, collector.finish())
}

#[test]
fn ready_status_watchdog_and_stopping() {
    let started = Instant::now();
    let (out, msgs) = notified(
        &[("WATCHDOG_USEC", "300000")],
        "echo 'step one'; sleep 0.3; printf '\\033[1mstep two\\033[0m\\n'; sleep 0.9; echo 'env:'${NOTIFY_SOCKET:-unset}${WATCHDOG_USEC:-unset}",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let took = started.elapsed();
    assert!(!msgs.is_empty());
    assert!(
        msgs[0].starts_with("READY=1\nSTATUS=running since "),
        "{msgs:?}"
    );
    let last = msgs.last().unwrap();
    assert!(
        last.starts_with("STOPPING=1\nSTATUS=finished: exited with status 0"),
        "{msgs:?}"
    );
    // 1.2 s of running at one every 150 ms: about eight, never a burst, never none.
    let watchdogs = msgs
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(
        watchdogs >= 4,
        "{watchdogs} watchdog pings in {took:?}: {msgs:?}"
    );
    assert!(
        watchdogs <= (took.as_millis() / 150 + 1) as usize,
        "{msgs:?}"
    );
    // The status follows the output, with escapes removed.
    assert!(
        msgs.iter()
            .any(|m| m.contains("; last output: step two") && !m.contains('\u{1b}')),
        "{msgs:?}"
    );
    // The command does not see systemd's variables: cronbeat answers for it.
    assert!(out.stdout.ends_with("env:unsetunset\n"), "{}", out.stdout);
}

#[test]
fn a_watchdog_meant_for_another_pid_is_left_alone() {
    let (out, msgs) = notified(
        &[("WATCHDOG_USEC", "100000"), ("WATCHDOG_PID", "1")],
        "sleep 0.5",
    );
    assert_eq!(out.code(), 0);
    assert!(msgs[0].starts_with("READY=1"), "{msgs:?}");
    assert!(!msgs.iter().any(|m| m.contains("WATCHDOG=1")), "{msgs:?}");
    assert!(msgs.last().unwrap().starts_with("STOPPING=1"));
}

#[test]
fn a_failed_run_says_so_in_the_status() {
    let (out, msgs) = notified(&[], "exit 7");
    assert_eq!(out.code(), 7);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[1], "STOPPING=1\nSTATUS=finished: exited with status 7");
}

#[test]
fn an_abstract_socket_works_too() {
    let name = format!("cronbeat-test-{}-{}", std::process::id(), fastrand::u64(..));
    let socket =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    let collector = Collector::start(&socket);
    let out = cronbeat()
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .args(["--", "true"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let msgs = collector.finish();
    assert!(msgs[0].starts_with("READY=1"), "{msgs:?}");
    assert!(msgs.last().unwrap().starts_with("STOPPING=1"), "{msgs:?}");
}

#[test]
fn waiting_for_a_jitter_delay_extends_the_start_timeout() {
    let (out, msgs) = notified(&[], "true");
    assert_eq!(out.code(), 0);
    assert!(!msgs[0].contains("EXTEND_TIMEOUT_USEC"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let collector = Collector::start(&socket);
    let out = cronbeat()
        .env("NOTIFY_SOCKET", &path)
        .args(["--jitter", "200ms", "--", "true"])
        .run();
    assert_eq!(out.code(), 0);
    let msgs = collector.finish();
    let first: Vec<&str> = msgs[0].lines().collect();
    assert!(
        first[0].starts_with("STATUS=waiting ") && first[0].ends_with(" (jitter)"),
        "{msgs:?}"
    );
    let extend: u64 = first[1]
        .strip_prefix("EXTEND_TIMEOUT_USEC=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(extend >= 30_000_000, "{extend}");
    assert!(msgs[1].starts_with("READY=1"), "{msgs:?}");
}

#[test]
fn an_unreachable_socket_is_a_warning_not_a_failure() {
    let out = cronbeat()
        .env("NOTIFY_SOCKET", "/nonexistent/notify.sock")
        .args(["--", "sh", "-c", "exit 3"])
        .run();
    assert_eq!(out.code(), 3);
    assert_eq!(
        out.stderr.matches("cannot notify systemd").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn the_watchdog_is_fed_while_leftovers_are_cleaned_up() {
    // The main process exits at once; a leftover ignoring SIGTERM lives through the 1 s grace.
    let (out, msgs) = notified(
        &[("WATCHDOG_USEC", "200000")],
        "trap '' TERM; sleep 5 & echo started",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.elapsed >= Duration::from_secs(1), "{:?}", out.elapsed);
    let watchdogs = msgs.iter().filter(|m| m.contains("WATCHDOG=1")).count();
    assert!(watchdogs >= 5, "{watchdogs}: {msgs:?}");
    assert!(msgs.last().unwrap().starts_with("STOPPING=1"), "{msgs:?}");
}

#[test]
fn a_socket_nobody_reads_never_holds_the_run_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let _socket = UnixDatagram::bind(&path).unwrap();
    // A watchdog every 10 ms fills the unread queue within a moment.
    let out = cronbeat()
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "20000")
        .args(["--timeout", "5s", "--", "sleep", "1"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    assert_eq!(
        out.stderr.matches("cannot notify systemd").count(),
        1,
        "{}",
        out.stderr
    );
}
