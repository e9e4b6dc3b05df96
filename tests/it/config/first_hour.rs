//! What an operator trying cronbeat for the first time ran into with settings and errors: monitor sources
//! that yield nothing, ping-file comments, numbers in the config file, errors that named the wrong culprit
//! or none, absurd values, and a quiet run failed by a success rule that did not say why.

use std::time::Duration;

use crate::harness::*;

const UUID: &str = "0b4e8c3a-6d0f-4c1e-9a57-2f3e1d5c7b90";

#[test]
fn a_monitor_source_that_yields_nothing_is_a_warning() {
    let dir = Dir::new();
    let empty = dir.write("pings", "# the URL goes here\n\n   \n");
    let out = cronbeat().args(["--ping-file", &empty, "--", "true"]).run();
    out.assert_code(0);
    let line = out.one_error_line();
    assert!(
        line.contains(&empty) && line.contains("no monitor"),
        "{line}"
    );

    let out = cronbeat()
        .env("CRONBEAT_PING", "   ")
        .args(["--", "true"])
        .run();
    out.assert_code(0);
    let line = out.one_error_line();
    assert!(
        line.contains("CRONBEAT_PING") && line.contains("blank"),
        "{line}"
    );

    // check says so too, without failing the file.
    let config = dir.write(
        "c.toml",
        &format!("[jobs.a]\ncommand = [\"true\"]\nping_file = \"{empty}\"\n"),
    );
    let out = cronbeat().args(["check", "--config", &config]).run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("ok: a: true (0 monitors)"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("no monitor"), "{}", out.stderr);
}

#[test]
fn ping_file_comments_and_blanks() {
    let server = Server::start();
    let dir = Dir::new();
    let pings = dir.write(
        "pings",
        &format!(
            "# monitors of the backup\n  {}/{UUID}   # the main check\n",
            server.url()
        ),
    );
    let out = cronbeat()
        .args(["--no-start-ping", "--ping-file", &pings, "--", "true"])
        .run();
    out.assert_code(0).assert_silent_stderr();
    let requests = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(requests[0].path, format!("/{UUID}/0"));

    let inner = dir.write("inner", &format!("{}/{UUID} /oops\n", server.url()));
    let marker = dir.join("ran");
    let out = cronbeat()
        .args([
            "--ping-file",
            &inner,
            "--",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    out.assert_one_line_error(&[&format!("{inner}:1:"), "blanks"]);
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn numbers_in_the_config_file_as_the_readme_says() {
    let dir = Dir::new();
    let config = dir.write(
        "c.toml",
        "[jobs.a]\ncommand = [\"sleep\", \"5\"]\ntimeout = 1\nkill_after = 0.5\nping_retries = \"3\"\ntail = 100\n",
    );
    let out = cronbeat().args(["--config", &config, "--job", "a"]).run();
    assert_eq!(out.code(), 124, "{}", out.dump());
    let out = cronbeat().args(["check", "--config", &config]).run();
    out.assert_code(0);
}

#[test]
fn errors_name_their_culprit() {
    let dir = Dir::new();
    let duplicate = dir.write(
        "dup.toml",
        "[jobs.a]\ncommand = [\"true\"]\ntimeout = \"1m\"\ntimeout = \"2m\"\n",
    );
    cronbeat()
        .args(["--config", &duplicate, "--job", "a"])
        .run()
        .assert_one_line_error(&[&format!("{duplicate}:4:"), "duplicate key `timeout`"]);

    cronbeat()
        .args(["--timeout", "-5s", "--", "true"])
        .run()
        .assert_one_line_error(&["--timeout", "\"-5s\""]);

    let out = cronbeat()
        .env(
            "CRONBEAT_TIMEOUT",
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"5\xffm"),
        )
        .args(["--", "true"])
        .run();
    out.assert_one_line_error(&["CRONBEAT_TIMEOUT", "UTF-8"]);

    cronbeat()
        .args(["echo", "hi"])
        .run()
        .assert_one_line_error(&["'echo'", "after `--`"]);

    let out = cronbeat().args(["--", ""]).run();
    out.assert_one_line_error(&["the program name is empty"]);

    let jobs = dir.write(
        "jobs.toml",
        "[defaults]\ntimeout = \"1m\"\n[jobs.backup]\ncommand = [\"true\"]\n[jobs.sync]\ncommand = [\"true\"]\n",
    );
    cronbeat()
        .args(["--config", &jobs])
        .run()
        .assert_one_line_error(&["--job", "backup, sync", "`--`"]);
}

#[test]
fn webhook_templates_are_blamed_on_the_webhook_table() {
    let dir = Dir::new();
    let broken = dir.write(
        "broken.toml",
        "[jobs.a]\ncommand = [\"true\"]\nping = \"webhook+http://127.0.0.1:9/hook\"\n\n[jobs.a.webhook]\nfailure = '{\"text\": {job}'\n",
    );
    cronbeat()
        .args(["--config", &broken, "--job", "a"])
        .run()
        .assert_one_line_error(&[&format!("{broken}:5: jobs.a.webhook:"), "`failure`"]);

    let bogus = dir.write(
        "bogus.toml",
        "[jobs.a]\ncommand = [\"true\"]\nping = \"webhook+http://127.0.0.1:9/hook\"\n\n[jobs.a.webhook]\nsuccess = '{\"text\": \"{job} {bogus}\"}'\n",
    );
    cronbeat()
        .args(["--config", &bogus, "--job", "a"])
        .run()
        .assert_one_line_error(&["jobs.a.webhook:", "unknown placeholder {bogus}"]);
}

#[test]
fn absurd_values_are_refused_before_the_command_runs() {
    let dir = Dir::new();
    let marker = dir.join("ran");
    for (option, value, needle) in [
        ("--jitter", "1000000000h", "at most 1day"),
        ("--kill-after", "1000000000h", "at most 1h"),
        ("--timeout", "1000000000h", "at most"),
        ("--ping-retries", "1000000", "at most 10"),
    ] {
        let out = cronbeat()
            .args([option, value, "--", "touch", marker.to_str().unwrap()])
            .limit(Duration::from_secs(10))
            .run();
        out.assert_one_line_error(&[option, needle]);
        assert!(!marker.exists(), "{option} {value}: the command ran");
    }
}

#[test]
fn a_quiet_run_failed_by_a_success_rule_says_why() {
    let out = cronbeat_sh(
        &["--quiet", "--stderr-fails"],
        "echo some output; echo a complaint >&2",
    )
    .run();
    out.assert_code(0);
    assert!(out.stdout.contains("some output"), "{}", out.dump());
    let reason: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("cronbeat: "))
        .collect();
    assert_eq!(reason.len(), 1, "{}", out.dump());
    assert!(reason[0].contains("--stderr-fails"), "{}", reason[0]);
    // A quiet run that succeeds still prints nothing at all.
    let out = cronbeat_sh(&["--quiet", "--stderr-fails"], "echo fine").run();
    out.assert_code(0);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
}

#[test]
fn replace_says_so_when_nothing_could_be_stopped() {
    if !have("flock") {
        missing("flock(1) is not installed");
        return;
    }
    let dir = Dir::new();
    let lock = dir.join("job.lock");
    // A holder that is not a cronbeat: flock(1) keeps the lock for a while.
    let mut holder = std::process::Command::new("flock")
        .args([lock.to_str().unwrap(), "sleep", "30"])
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .contains(&format!(" {} ", holder.id()))
    }));
    let out = cronbeat()
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--overlap",
            "replace",
            "--lock-wait",
            "300ms",
            "--",
            "true",
        ])
        .run();
    kill_tree(holder.id() as i32);
    let _ = holder.wait();
    out.assert_code(75);
    assert!(
        out.stderr.contains("nothing was stopped") && !out.stderr.contains("after stopping"),
        "{}",
        out.dump()
    );
}
