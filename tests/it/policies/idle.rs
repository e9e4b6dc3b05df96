//! `--idle-timeout DUR`: a command silent for DUR is stopped like an overrun (SIGTERM, grace, SIGKILL),
//! with its own outcome ("no output for DUR") and exit status 125, distinct from the deadline's 124.

use std::time::Duration;

use crate::harness::*;

#[test]
fn a_silent_command_is_stopped_with_status_125() {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/c", server.url()),
            "--log-format",
            "json",
        ])
        .args(["--idle-timeout", "500ms", "--timeout", "20s"])
        .args(["--", "sh", "-c", "echo first; sleep 20"])
        .run();
    assert_eq!(out.code(), 125, "{}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
    assert_eq!(out.stdout, "first\n");
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "idle");
    assert_eq!(finished["exit_status"], 125);
    assert!(finished["message"]
        .as_str()
        .unwrap()
        .contains("no output for 500ms"));
    assert_eq!(out.event("idle_timeout")["idle_timeout_seconds"], 0.5);
    let requests = server.wait_for(2, Duration::from_secs(5));
    let fail = requests
        .iter()
        .find(|r| r.path == "/c/fail")
        .expect("a /fail ping");
    let body = fail.text();
    assert!(body.starts_with("first\n"), "{body:?}");
    assert!(
        body.contains("cronbeat: no output for 500ms and was stopped (killed by SIGTERM)"),
        "{body:?}"
    );
}

#[test]
fn output_keeps_a_command_alive() {
    // Prints every 100 ms for about 1.5 s: never silent for 600 ms.
    let out = cronbeat()
        .args(["--idle-timeout", "600ms"])
        .args([
            "--",
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo $i >&2; sleep 0.1; done",
        ])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.elapsed >= Duration::from_millis(1400));
}

#[test]
fn a_command_ignoring_sigterm_is_killed_after_the_grace() {
    let out = cronbeat()
        .args([
            "--idle-timeout",
            "300ms",
            "--kill-after",
            "500ms",
            "--log-format",
            "json",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "trap '' TERM; echo $$; while :; do sleep 0.05; done",
        ])
        .run();
    assert_eq!(out.code(), 125, "{}", out.stderr);
    let shell: i32 = out.stdout.trim().parse().unwrap();
    assert!(wait_gone(shell, Duration::from_secs(2)));
    assert_eq!(out.event("killed")["event"], "killed");
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "idle");
    assert_eq!(finished["signal"], "SIGKILL");
}

#[test]
fn the_deadline_and_the_idle_timeout_are_told_apart() {
    let out = cronbeat()
        .args([
            "--idle-timeout",
            "10s",
            "--timeout",
            "400ms",
            "--log-format",
            "json",
        ])
        .args(["--", "sleep", "20"])
        .run();
    assert_eq!(out.code(), 124);
    assert_eq!(out.event("finished")["outcome"], "timeout");

    let out = cronbeat()
        .env("CRONBEAT_IDLE_TIMEOUT", "400ms")
        .args([
            "--timeout",
            "10s",
            "--log-format",
            "json",
            "--",
            "sleep",
            "20",
        ])
        .run();
    assert_eq!(out.code(), 125);
    assert_eq!(out.event("finished")["outcome"], "idle");
}

#[test]
fn idle_timeout_in_the_config_file_and_in_help() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[defaults]\nidle_timeout = \"300ms\"\n").unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap(), "--", "sleep", "20"])
        .run();
    assert_eq!(out.code(), 125, "{}", out.stderr);

    let help = cronbeat().arg("--help").run().stdout;
    assert!(
        help.contains("125 when --idle-timeout stopped it"),
        "{help}"
    );
}
