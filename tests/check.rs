//! `cronbeat check`: validates the whole file as runs would see it, runs nothing, one line per job.

mod invoke;

use invoke::{assert_one_line_error, cronbeat, Dir};

fn two_jobs(dir: &Dir) -> (String, std::path::PathBuf) {
    let marker = dir.join("ran");
    let text = format!(
        r#"
[defaults]
timeout = "30m"

[jobs.backup]
command = ["touch", {m:?}]
ping = ["https://hc-ping.com/00000000-0000-4000-8000-000000000000"]
timeout = "2h"

[jobs.sync]
command = ["touch", {m:?}, "--", "two words"]
lock = "/run/lock/sync.lock"
"#,
        m = marker.display().to_string()
    );
    (dir.write("cronbeat.toml", &text), marker)
}

#[test]
fn a_valid_file_gives_one_ok_line_per_job_and_runs_nothing() {
    let dir = Dir::new();
    let (config, marker) = two_jobs(&dir);
    let out = cronbeat(&["check", "--config", &config], &[], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with(&format!("{config}: ok: backup: touch ")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("timeout 2h"), "{}", lines[0]);
    assert!(lines[0].ends_with(", 1 monitor)"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(&format!("{config}: ok: sync: ")),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("timeout 30m"),
        "inherits the defaults: {}",
        lines[1]
    );
    assert!(
        lines[1].contains("lock /run/lock/sync.lock"),
        "{}",
        lines[1]
    );
    assert!(!marker.exists(), "check ran a command");
}

#[test]
fn job_selects_one_job() {
    let dir = Dir::new();
    let (config, _) = two_jobs(&dir);
    let out = cronbeat(
        &["check", "--config", &config, "--job", "sync"],
        &[],
        dir.path(),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(": ok: sync: "), "{}", out.stdout);
    // From the environment, as in a pod.
    let env = [
        ("CRONBEAT_CONFIG", config.as_str()),
        ("CRONBEAT_JOB", "backup"),
    ];
    let out = cronbeat(&["check"], &env, dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(": ok: backup: "), "{}", out.stdout);

    let out = cronbeat(
        &["check", "--config", &config, "--job", "nope"],
        &[],
        dir.path(),
    );
    assert_one_line_error(&out, &[&config, "jobs.nope: no such job", "backup, sync"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn an_invalid_job_fails_the_check_and_is_named() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        r#"
[defaults]
ping_timeout = "3s"

[jobs.good]
command = ["true"]

[jobs.bad]
command = ["true"]
ping_file = "/nonexistent/cronbeat-pings"
"#,
    );
    let out = cronbeat(&["check", "--config", &config], &[], dir.path());
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_one_line_error(
        &out,
        &[&format!(
            "cronbeat: {config}:10: jobs.bad.ping_file: cannot read /nonexistent/cronbeat-pings"
        )],
    );
    // The valid job is still reported.
    assert!(out.stdout.contains(": ok: good: true"), "{}", out.stdout);
    assert!(!out.stdout.contains("bad"), "{}", out.stdout);
}

#[test]
fn a_file_error_stops_the_check() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\ncommand = [\"true\"]\n\n[jobs.b]\ncommand = [\"true\"]\nkill_after = \"10 fortnights\"\n",
    );
    let out = cronbeat(&["check", "--config", &config], &[], dir.path());
    assert_one_line_error(
        &out,
        &[&format!(
            "cronbeat: {config}:6: jobs.b.kill_after: invalid duration \"10 fortnights\""
        )],
    );
    assert_eq!(out.stdout, "");
    let out = cronbeat(&["check"], &[], dir.path());
    assert_eq!(out.code, Some(2));
    assert_one_line_error(&out, &["required", "--config"]);
}

#[test]
fn the_environment_is_checked_with_the_file() {
    let dir = Dir::new();
    let (config, _) = two_jobs(&dir);
    let env = [("CRONBEAT_PING_TIMEOUT", "0s")];
    let out = cronbeat(
        &["check", "--config", &config, "--job", "sync"],
        &env,
        dir.path(),
    );
    assert_one_line_error(
        &out,
        &["cronbeat: CRONBEAT_PING_TIMEOUT: must be greater than zero"],
    );
    let env = [("CRONBEAT_TIMEOUT", "5x")];
    let out = cronbeat(&["check", "--config", &config], &env, dir.path());
    assert_one_line_error(&out, &["cronbeat: CRONBEAT_TIMEOUT: ", "\"5x\""]);
    let env = [("CRONBEAT_TIMEOUT", "45m")];
    let out = cronbeat(&["check", "--config", &config], &env, dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout.matches("timeout 45m").count(),
        2,
        "{}",
        out.stdout
    );
}

#[test]
fn a_file_without_jobs_checks_its_defaults() {
    let dir = Dir::new();
    let config = dir.write("d.toml", "[defaults]\ntimeout = \"5m\"\n");
    let out = cronbeat(&["check", "--config", &config], &[], dir.path());
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{config}: ok: no jobs, [defaults] are valid\n")
    );
    let config = dir.write("d.toml", "[defaults]\ntail = \"2G\"\n");
    let out = cronbeat(&["check", "--config", &config], &[], dir.path());
    assert_one_line_error(&out, &[&format!("{config}:2: defaults.tail: ")]);
}
