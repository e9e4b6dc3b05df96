//! Cronitor's monitors API against an in-test server that answers as its documentation shows: the
//! monitor is read (`GET /api/monitors/<key>`), and what differs is written with
//! `PUT /api/monitors {"monitors": [...]}` (which creates a missing monitor), the API key as the
//! Basic-auth user; a refusal is one warning.

use serde_json::{json, Value};

use crate::harness::*;

const KEY: &str = "cr0n1t0rApiKey";

fn monitor(schedule: &str, timezone: &str, grace: u64) -> Value {
    json!({
        "key": "nightly-backup", "name": "nightly-backup", "type": "job", "schedule": schedule,
        "timezone": timezone, "grace_seconds": grace, "failure_tolerance": 0, "notify": ["default"],
        "assertions": [], "paused": false, "created": "2026-06-12T00:00:00Z", "latest_event": null,
    })
}

fn run(server: &Server, extra: &[&str]) -> Output {
    cronbeat()
        .args([
            "--schedule",
            "0 2 * * *",
            "--tz",
            "America/New_York",
            "--grace",
            "5m",
        ])
        .args(extra)
        .args(["--cronitor-api-url", &format!("{}/api/", server.url())])
        .args([
            "--ping",
            &format!("cronitor+{}/p/TELEMETRY/nightly-backup", server.url()),
        ])
        .env("CRONBEAT_CRONITOR_API_KEY", KEY)
        .args(["--", "true"])
        .run()
}

fn api(server: &Server) -> Vec<Request> {
    server
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect()
}

/// `Basic base64("KEY:")`.
fn basic() -> String {
    use std::io::Write;
    let mut out = Vec::new();
    let mut child = std::process::Command::new("base64")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("base64(1)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}:").as_bytes())
        .unwrap();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    child.wait().unwrap();
    format!("Basic {}", String::from_utf8(out).unwrap().trim())
}

#[test]
fn a_monitor_in_step_is_left_alone_and_a_difference_is_put() {
    let server = Server::start();
    server.respond(
        "/api/monitors/nightly-backup",
        Behavior::status(200).body(monitor("0 2 * * *", "America/New_York", 300).to_string()),
    );
    run(&server, &[]).assert_code(0).assert_silent_stderr();
    let requests = api(&server);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].header("authorization"), Some(basic().as_str()));

    let server = Server::start();
    server.respond(
        "/api/monitors/nightly-backup",
        Behavior::status(200).body(monitor("0 2 * * *", "UTC", 60).to_string()),
    );
    run(&server, &[]).assert_code(0).assert_silent_stderr();
    let requests = api(&server);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let put = &requests[1];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/api/monitors")
    );
    assert_eq!(put.header("authorization"), Some(basic().as_str()));
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(
        put.json(),
        json!({"monitors": [{
            "key": "nightly-backup", "type": "job", "timezone": "America/New_York", "grace_seconds": 300,
        }]})
    );
}

#[test]
fn a_missing_monitor_is_created_with_the_schedule() {
    let server = Server::start();
    server.respond(
        "/api/monitors/nightly-backup",
        Behavior::status(404).body(r#"{"detail": "Not found."}"#),
    );
    run(&server, &[]).assert_code(0).assert_silent_stderr();
    let requests = api(&server);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        requests[1].json(),
        json!({"monitors": [{
            "key": "nightly-backup", "type": "job", "schedule": "0 2 * * *",
            "timezone": "America/New_York", "grace_seconds": 300,
        }]})
    );
}

#[test]
fn a_refusal_is_one_warning() {
    for (status, body, said) in [
        (
            401,
            r#"{"detail": "Invalid API key"}"#,
            "HTTP 401: the Cronitor API key was refused (Invalid API key)",
        ),
        (
            400,
            r#"{"monitors": [{"schedule": ["Invalid cron expression"]}]}"#,
            "HTTP 400: {\"monitors\":[{\"schedule\":[\"Invalid cron expression\"]}]}",
        ),
    ] {
        let server = Server::start();
        server.respond(
            "/api/monitors/nightly-backup",
            Behavior::status(200).body(monitor("0 3 * * *", "UTC", 60).to_string()),
        );
        server.respond("/api/monitors", Behavior::status(status).body(body));
        if status == 401 {
            server.respond(
                "/api/monitors/nightly-backup",
                Behavior::status(401).body(body),
            );
        }
        let out = run(&server, &[]);
        out.assert_code(0);
        let line = out.one_error_line();
        assert!(
            line.ends_with(&format!("schedule not kept in step: {said}")),
            "{line}"
        );
        assert!(!line.contains(KEY));
    }
}

#[test]
fn an_api_that_hangs_is_given_up_at_the_report_deadline() {
    let server = Server::start();
    server.respond("/api/", Behavior::Hang);
    let out = run(&server, &["--ping-timeout", "1s", "--report-timeout", "2s"]);
    out.assert_code(0);
    assert!(out.elapsed < std::time::Duration::from_secs(6), "{out:?}");
    let line = out.one_error_line();
    assert!(
        line.contains("monitor 1 (cronitor, 127.0.0.1:")
            && line.contains("schedule not kept in step: "),
        "{line}"
    );
    // The telemetry pings went as ever.
    let states: Vec<String> = server
        .received()
        .iter()
        .filter(|r| r.path.starts_with("/p/"))
        .filter_map(|r| r.param("state").map(str::to_string))
        .collect();
    assert_eq!(states, ["run", "complete"]);
}
