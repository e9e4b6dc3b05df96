//! `cronbeat check --ping` compares the schedule, time zone and grace each monitor holds with the job's,
//! one line per difference and exit status 1; `--fix` writes the job's. Services that hold only an
//! interval are named with the settings to make by hand.

use serde_json::json;

use crate::harness::*;

const UUID: &str = "0b9c7a51-2e3f-4d6a-8b1c-9d0e1f2a3b4c";

fn config(dir: &Dir, server: &Server) -> String {
    let url = server.url();
    let port = server.port();
    dir.write(
        "cronbeat.toml",
        &format!(
            r#"[defaults]
ping_timeout = "2s"
ping_retries = 0
hc_api_key = "hcw_s3cr3t"
schedule = "15 3 * * *"
tz = "Europe/Berlin"
grace = "10m"

[jobs.backup]
command = ["true"]
ping = [
  "{url}/ping/{UUID}",
  "betterstack+{url}/api/v1/heartbeat/TOKEN",
  "sentry+http://K@127.0.0.1:{port}/7?monitor=m",
  "dms+{url}/snitch",
  "cronhub+{url}/ping/{UUID}",
]
"#
        ),
    )
}

fn held(schedule: &str, tz: &str) -> Behavior {
    Behavior::status(200).body(
        json!({"name": "backup", "slug": "", "grace": 600, "schedule": schedule, "tz": tz, "uuid": UUID})
            .to_string(),
    )
}

#[test]
fn differences_are_one_line_each_and_exit_1() {
    let server = Server::start();
    let dir = Dir::new();
    let config = config(&dir, &server);
    server.respond(&format!("/api/v3/checks/{UUID}"), held("0 3 * * *", "UTC"));
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .run();
    out.assert_code(1);
    let head = format!("{config}: schedule: backup: monitor");
    let healthchecks = format!(
        "cronbeat: {head} 1 (healthchecks, 127.0.0.1:{}/…): ",
        server.port()
    );
    assert_eq!(
        out.stderr_lines(),
        [
            format!("{healthchecks}schedule is \"0 3 * * *\", the job's is \"15 3 * * *\""),
            format!("{healthchecks}time zone is \"UTC\", the job's is \"Europe/Berlin\""),
        ],
        "{out:?}"
    );
    // The longest wait is a day and an hour, when the clock goes back; a snitch's daily window holds
    // a day of the calendar.
    let told = "not told the schedule (\"15 3 * * *\" in Europe/Berlin, grace 10m): set by hand";
    for line in [
        format!("{head} 2 (betterstack, 127.0.0.1:{}/…): {told} the heartbeat's period 1day 1h and grace 10m", server.port()),
        format!("{head} 3 (sentry, 127.0.0.1:{}/…): sent with every check-in (monitor_config); a DSN cannot read it back", server.port()),
        format!("{head} 4 (dms, 127.0.0.1:{}/…): {told} the snitch's interval daily", server.port()),
        format!("{head} 5 (cronhub, 127.0.0.1:{}/…): {told} the monitor's interval 1day 1h and grace 10m", server.port()),
    ] {
        assert!(out.stdout.lines().any(|l| l == line), "no line {line:?} in\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("hcw_s3cr3t") && !out.stderr.contains("hcw_s3cr3t"));
    // Reading changes nothing.
    assert!(server
        .received()
        .iter()
        .all(|r| !(r.path.starts_with("/api/") && r.method == "POST")));
}

#[test]
fn fix_writes_the_jobs_values_and_exits_0() {
    let server = Server::start();
    let dir = Dir::new();
    let config = config(&dir, &server);
    let path = format!("/api/v3/checks/{UUID}");
    server.respond_seq(&path, [held("0 3 * * *", "UTC")]);
    server.respond(&path, held("15 3 * * *", "Europe/Berlin"));
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping", "--fix"])
        .run();
    out.assert_code(0);
    let posts: Vec<Request> = server
        .received()
        .into_iter()
        .filter(|r| r.path == path && r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].json(),
        json!({"schedule": "15 3 * * *", "tz": "Europe/Berlin"})
    );
    assert!(
        out.stdout
            .contains(": written: schedule was \"0 3 * * *\", now \"15 3 * * *\"\n"),
        "{out:?}"
    );
    assert!(out
        .stdout
        .contains(": written: time zone was \"UTC\", now \"Europe/Berlin\"\n"));
    // Then it is in step.
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("monitor 1 (healthchecks, 127.0.0.1:"),
        "{out:?}"
    );
    assert!(out.stdout.contains("): in step\n"), "{out:?}");

    // --fix needs --ping.
    let out = cronbeat()
        .args(["check", "--config", &config, "--fix"])
        .run();
    out.assert_code(2);
}

#[test]
fn a_monitor_that_cannot_be_read_is_not_reached() {
    let server = Server::start();
    let dir = Dir::new();
    let config = config(&dir, &server);
    server.respond(&format!("/api/v3/checks/{UUID}"), Behavior::status(401));
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .run();
    out.assert_code(1);
    assert!(
        out.stderr.contains("monitor 1 (healthchecks, 127.0.0.1:")
            && out
                .stderr
                .contains("): not compared: HTTP 401: the Healthchecks API key was refused"),
        "{out:?}"
    );
}

#[test]
fn an_api_that_hangs_is_given_up_within_the_ping_bounds() {
    let server = Server::start();
    let dir = Dir::new();
    let config = config(&dir, &server);
    server.respond("/api/", Behavior::Hang);
    let out = cronbeat()
        .args(["check", "--config", &config, "--ping"])
        .limit(std::time::Duration::from_secs(20))
        .run();
    out.assert_code(1);
    // One attempt of 2s (ping_timeout, no retries), then the test pings.
    assert!(out.elapsed < std::time::Duration::from_secs(8), "{out:?}");
    assert!(
        out.stderr.contains("): not compared: no answer within 2s"),
        "{out:?}"
    );
}
