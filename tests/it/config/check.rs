//! `cronbeat check`: validates the whole file as runs would see it, runs nothing, one line per job.

use std::time::Duration;

use crate::harness::*;

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
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
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
    let out = cronbeat()
        .args(["check", "--config", &config, "--job", "sync"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(": ok: sync: "), "{}", out.stdout);
    // From the environment, as in a pod.
    let env = [
        ("CRONBEAT_CONFIG", config.as_str()),
        ("CRONBEAT_JOB", "backup"),
    ];
    let out = cronbeat().args(["check"]).envs(&env).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(": ok: backup: "), "{}", out.stdout);

    let out = cronbeat()
        .args(["check", "--config", &config, "--job", "nope"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&config, "jobs.nope: no such job", "backup, sync"]);
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
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    out.assert_one_line_error(&[&format!(
        "cronbeat: {config}:10: jobs.bad.ping_file: cannot read /nonexistent/cronbeat-pings"
    )]);
    // The valid job is still reported.
    assert!(out.stdout.contains(": ok: good: true"), "{}", out.stdout);
    assert!(!out.stdout.contains("bad"), "{}", out.stdout);
}

#[test]
fn a_file_error_stops_the_check() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[defaults]\nkill_after = \"10 fortnights\"\n\n[jobs.a]\ncommand = [\"true\"]\n",
    );
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&format!(
        "cronbeat: {config}:2: defaults.kill_after: invalid duration \"10 fortnights\""
    )]);
    assert_eq!(out.stdout, "");
    let out = cronbeat().args(["check"]).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(2));
    out.assert_one_line_error(&["required", "--config"]);
}

#[test]
fn an_error_in_one_job_stays_in_that_job() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\ncommand = [\"true\"]\n\n[jobs.b]\ncommand = [\"true\"]\nkill_after = \"10 fortnights\"\n\n[jobs.c]\ncommand = [\"true\"]\ntiemout = \"1m\"\n",
    );
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    out.assert_code(2);
    assert!(out.stdout.contains(": ok: a: true"), "{}", out.stdout);
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{}", out.stderr);
    assert!(
        errors[0].starts_with(&format!(
            "cronbeat: {config}:6: jobs.b.kill_after: invalid duration \"10 fortnights\""
        )),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with(&format!(
            "cronbeat: {config}:10: jobs.c.tiemout: unknown key"
        )),
        "{}",
        errors[1]
    );
    // A run of the good job is not stopped by the others; a run of a bad one names its error.
    let out = cronbeat()
        .args(["--config", &config, "--job", "a"])
        .dir(dir.path())
        .run();
    out.assert_code(0).assert_silent_stderr();
    let out = cronbeat()
        .args(["--config", &config, "--job", "c"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["jobs.c.tiemout: unknown key"]);
}

#[test]
fn the_environment_is_checked_with_the_file() {
    let dir = Dir::new();
    let (config, _) = two_jobs(&dir);
    let env = [("CRONBEAT_PING_TIMEOUT", "0s")];
    let out = cronbeat()
        .args(["check", "--config", &config, "--job", "sync"])
        .envs(&env)
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["cronbeat: CRONBEAT_PING_TIMEOUT: must be greater than zero"]);
    let env = [("CRONBEAT_TIMEOUT", "5x")];
    let out = cronbeat()
        .args(["check", "--config", &config])
        .envs(&env)
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["cronbeat: CRONBEAT_TIMEOUT: ", "\"5x\""]);
    let env = [("CRONBEAT_TIMEOUT", "45m")];
    let out = cronbeat()
        .args(["check", "--config", &config])
        .envs(&env)
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
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
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("{config}: ok: no jobs, [defaults] are valid\n")
    );
    let config = dir.write("d.toml", "[defaults]\ntail = \"2G\"\n");
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&format!("{config}:2: defaults.tail: ")]);
}

const UUID_A: &str = "0b6f1c3e-7d2a-4c59-9a41-5e8f2d7c1a01";
const UUID_B: &str = "0b6f1c3e-7d2a-4c59-9a41-5e8f2d7c1a02";

#[test]
fn ping_sends_a_log_message_to_each_monitor_and_says_which_were_reached() {
    let server = Server::start();
    let dir = Dir::new();
    let marker = dir.join("ran");
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            r#"
[defaults]
ping_timeout = "2s"
ping_retries = 0

[jobs.a]
command = ["touch", {m:?}]
ping = "{url}/{UUID_A}"

[jobs.b]
command = ["touch", {m:?}]
ping = ["{url}/{UUID_B}", "{refused}/down"]
"#,
            m = marker.display().to_string(),
            url = server.url(),
            refused = refused_url(),
        ),
    );
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    let host = server.url().trim_start_matches("http://").to_string();
    assert!(
        out.stdout
            .contains(&format!("{config}: ping: a: {host}/…: reached\n")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("{config}: ping: b: {host}/…: reached\n")),
        "{}",
        out.stdout
    );
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!("cronbeat: {config}: ping: b: 127.0.0.1:")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(": not reached: "), "{}", lines[0]);
    // The URLs are secrets: only their hosts are printed.
    for uuid in [UUID_A, UUID_B] {
        assert!(!out.stdout.contains(uuid) && !out.stderr.contains(uuid));
    }

    let mut requests = server.wait_for(2, Duration::from_secs(5));
    requests.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(requests.len(), 2, "{requests:?}");
    for (request, uuid) in requests.iter().zip([UUID_A, UUID_B]) {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path,
            format!("/{uuid}/log"),
            "a /log ping changes no check's state"
        );
        let rid = request.param("rid").expect("a run id");
        assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
        assert!(
            request.text().contains("cronbeat check"),
            "{}",
            request.text()
        );
    }
    assert!(!marker.exists(), "check ran a command");
}

#[test]
fn ping_exits_0_when_every_monitor_is_reached_and_1_on_an_http_error() {
    let server = Server::start();
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\ncommand = [\"true\"]\nping = \"{}/{UUID_A}\"\n",
            server.url()
        ),
    );
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert_eq!(out.stderr, "");

    // A 404 (a wrong UUID) is not retried and not reached.
    server.respond("", Behavior::status(404));
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("not reached: HTTP 404"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);

    // Without --ping nothing is sent.
    let before = server.requests().len();
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let after = server.wait_for(before + 1, Duration::from_millis(300));
    assert_eq!(after.len(), before, "check without --ping sent a request");
}

#[test]
fn an_invalid_ping_url_is_a_config_error() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\ncommand = [\"true\"]\nping = [\"https://hc-ping.com/x\", \"ftp://example.com/secret\"]\n",
    );
    let out = cronbeat()
        .args(["check", "--config", &config])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&format!("cronbeat: {config}:3: jobs.a.ping: ")]);
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
    let out = cronbeat()
        .args(["--config", &config, "--job", "a"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&format!("cronbeat: {config}:3: jobs.a.ping: ")]);
    let out = cronbeat()
        .args(["--ping", "nonsense", "--", "true"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["cronbeat: --ping: "]);
}
