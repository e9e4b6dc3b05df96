//! Fleet lock settings that cannot work are refused before anything runs, without showing a password.

use crate::harness::*;

#[test]
fn replace_cannot_stop_a_run_on_another_host() {
    let out = cronbeat()
        .env("CRONBEAT_LOCK", "redis://:hunter2@127.0.0.1:1")
        .args(["--overlap", "replace", "--", "echo", "ran"])
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&[
        "--overlap",
        "replace cannot stop a run on another host",
        "redis://127.0.0.1:1",
    ]);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn fleet_settings_need_a_fleet_lock() {
    for (flag, value) in [
        ("--lock-ttl", "10s"),
        ("--on-lock-lost", "warn"),
        ("--lock-unavailable", "run"),
    ] {
        let dir = Dir::new();
        let out = cronbeat()
            .args([
                "--lock",
                &dir.join("x.lock").display().to_string(),
                flag,
                value,
            ])
            .args(["--", "echo", "ran"])
            .run();
        out.assert_code(2);
        out.assert_one_line_error(&[flag, "needs a fleet lock"]);
    }
}

#[test]
fn bad_lock_urls_are_named_without_their_secrets() {
    for (url, said) in [
        ("redis://:hunter2@host/notanumber", "database number"),
        ("postgres://:hunter2@host/db", "no user"),
        (
            "postgres://u:hunter2@host/db?sslmode=maybe",
            "sslmode \"maybe\"",
        ),
        ("etcd://u:hunter2@host", "unknown lock engine \"etcd\""),
    ] {
        let out = cronbeat().args(["--lock", url, "--", "echo", "ran"]).run();
        out.assert_code(2);
        out.assert_one_line_error(&["--lock", said]);
        assert!(!out.stderr.contains("hunter2"), "{url}: {}", out.stderr);
    }
    let out = cronbeat()
        .args([
            "--lock",
            "redis://h",
            "--lock-ttl",
            "200ms",
            "--",
            "echo",
            "ran",
        ])
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["--lock-ttl", "too short (at least 1s)"]);
}

#[test]
fn check_shows_the_engine_without_the_password() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.backup]\ncommand = [\"true\"]\nlock = \"redis://:hunter2@cache:6380/1\"\nlock_ttl = \"1m\"\n",
    );
    let out = cronbeat().args(["check", "--config", &config]).run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("lock redis://cache:6380"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
}

/// A `--kill-after` asked for that cannot fit in a third of the TTL is shortened for a lost lease, with
/// one warning; the default grace is shortened silently.
#[test]
fn a_kill_after_longer_than_the_lease_allows_is_shortened_with_a_warning() {
    let closed = super::closed_port();
    let fleet = |extra: &[&str]| {
        cronbeat()
            .env("CRONBEAT_LOCK", format!("redis://127.0.0.1:{closed}"))
            .args(["--lock-ttl", "3s", "--lock-unavailable", "run"])
            .args(extra)
            .args(["--", "echo", "ran"])
            .run()
    };
    let out = fleet(&["--kill-after", "5s"]);
    out.assert_code(0);
    let warned: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("--kill-after 5s does not fit in a third of --lock-ttl 3s"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", out.stderr);
    assert!(
        warned[0].contains("gets 1s between SIGTERM and SIGKILL"),
        "{}",
        warned[0]
    );
    for quiet in [
        &[][..],
        &["--kill-after", "1s"],
        &["--on-lock-lost", "warn", "--kill-after", "5s"],
    ] {
        let out = fleet(quiet);
        out.assert_code(0);
        assert!(
            !out.stderr.contains("does not fit"),
            "{quiet:?}: {}",
            out.stderr
        );
    }
}
