//! A hostile environment: a reader that goes away, a full temp directory, no environment at all,
//! a lock path that cannot be written. The command's status and output still come through.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

#[test]
fn a_reader_that_goes_away_gives_the_child_sigpipe_and_the_finish_ping_still_goes() {
    let server = Server::start();
    let url = format!("{}/pipe-check", server.url());
    // `cronbeat -- yes | head -1`, as a shell would run it.
    let script = format!("{BIN} --ping {url} -- yes | head -1; echo \"status=${{PIPESTATUS[0]}}\"");
    let out = Cronbeat::program("bash").args(["-c", &script]).run();
    assert_eq!(out.stdout, "y\nstatus=141\n", "stderr: {}", out.stderr);
    let requests = server.wait_for(2, Duration::from_secs(10));
    assert_eq!(requests.len(), 2);
    assert!(requests[0].path.ends_with("/start"));
    assert!(requests[1].path.ends_with("/fail"), "{}", requests[1].path);
    assert!(
        requests[1].text().contains("SIGPIPE"),
        "{}",
        requests[1].text()
    );
}

#[test]
fn a_closed_stdout_does_not_swallow_the_status_or_stderr() {
    let out = Cronbeat::program("sh")
        .args([
            "-c",
            &format!("{BIN} -- sh -c 'echo out; echo err >&2; exit 5' >&-"),
        ])
        .run();
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(out.stderr, "err\n");
}

/// A tmpfs of 64 KiB as TMPDIR, so the quiet spool fills up mid-run. Needs mount rights.
fn tiny_tmpfs(dir: &Dir) -> Option<String> {
    let mount = dir.join("tiny");
    std::fs::create_dir(&mount).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| mount.to_str().unwrap().to_string())
}

#[test]
fn a_full_temp_directory_in_quiet_mode_shows_the_output_rather_than_lose_it() {
    let dir = Dir::new();
    let Some(tmp) = tiny_tmpfs(&dir) else {
        missing("a tmpfs this test can mount (needs root)");
        return;
    };
    // 1 MB through a 64 KiB spool, then a failure: everything must still be shown, in order.
    let out = cronbeat()
        .args(["--quiet", "--", "sh", "-c", "seq 1 150000; exit 1"])
        .envs(&[("TMPDIR", &tmp)])
        .dir(dir.path())
        .run();
    let _ = Command::new("umount").arg(&tmp).status();
    assert_eq!(out.status.code(), Some(1));
    let expected: String = (1..=150000).map(|n| format!("{n}\n")).collect();
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected, "output lost or reordered");
}

#[test]
fn an_unwritable_temp_directory_in_quiet_mode_shows_a_failing_run() {
    let dir = Dir::new();
    let out = cronbeat()
        .args(["--quiet", "--", "sh", "-c", "echo kept; exit 4"])
        .envs(&[("TMPDIR", "/proc/no-such-dir")])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, "kept\n");
}

#[test]
fn an_empty_environment_still_runs_and_passes_the_run_id() {
    let out = cronbeat()
        .args([
            "--",
            "/bin/sh",
            "-c",
            "echo \"home=${HOME-unset} rid=$CRONBEAT_RUN_ID\"",
        ])
        .env_clear()
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let line = &out.stdout;
    assert!(line.starts_with("home=unset rid="), "{line}");
    assert_eq!(line.trim().len(), "home=unset rid=".len() + 36);
}

#[test]
fn a_lock_path_that_cannot_be_created_is_an_error_before_the_command_starts() {
    let dir = Dir::new();
    let marker = dir.join("ran");
    let out = cronbeat()
        .args([
            "--lock",
            "/proc/cronbeat-test.lock",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .dir(dir.path())
        .run();
    out.assert_code(71);
    let line = out.one_error_line();
    assert!(line.contains("/proc/cronbeat-test.lock"), "{line}");
    assert!(!marker.exists(), "the command ran although the lock failed");
}
