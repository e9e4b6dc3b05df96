//! Healthchecks' Management API (v3) against an in-test server that answers as its documentation
//! shows: the check is read (`GET checks/<uuid>`, or `GET checks/?slug=` for a slug URL), only what
//! differs is written (`POST checks/<uuid>`), a missing slug check is created with the schedule
//! (`POST checks/` with `unique: ["slug"]`), beside the command, never changing its exit status; a 401,
//! a 400 or a server that hangs is one warning within the run's bounds.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

const UUID: &str = "5f2a8e1c-6b0d-4c3a-9e7f-1a2b3c4d5e6f";
const KEY: &str = "hcw_k3yS3cr3t";

/// A check as `GET checks/<uuid>` returns it to a read-write key.
fn check(server: &Server, uuid: &str, schedule: Option<&str>, tz: &str, grace: u64) -> Value {
    let root = server.url();
    let mut check = json!({
        "name": "Nightly backup", "slug": "nightly-backup", "tags": "prod", "desc": "",
        "grace": grace, "n_pings": 7, "status": "up", "started": false,
        "last_ping": "2026-11-28T02:15:03+00:00", "next_ping": "2026-11-29T02:15:00+00:00",
        "manual_resume": false, "methods": "", "start_kw": "", "success_kw": "", "failure_kw": "",
        "filter_subject": false, "filter_body": false,
        "ping_url": format!("{root}/ping/{uuid}"),
        "update_url": format!("{root}/api/v3/checks/{uuid}"),
        "pause_url": format!("{root}/api/v3/checks/{uuid}/pause"),
        "resume_url": format!("{root}/api/v3/checks/{uuid}/resume"),
        "channels": "", "uuid": uuid,
    });
    match schedule {
        Some(schedule) => {
            check["schedule"] = json!(schedule);
            check["tz"] = json!(tz);
        }
        None => check["timeout"] = json!(86400),
    }
    check
}

fn ok_json(value: &Value) -> Behavior {
    Behavior::status(200)
        .header("Content-Type", "application/json")
        .body(value.to_string())
}

/// `cronbeat SCHEDULE-ARGS --hc-api-key KEY --ping URL/ping/<path> -- true`.
fn run(server: &Server, path: &str, args: &[&str]) -> Output {
    cronbeat()
        .args(args)
        .args(["--ping", &format!("{}/ping/{path}", server.url())])
        .env("CRONBEAT_HC_API_KEY", KEY)
        .args(["--", "true"])
        .run()
}

fn api_requests(server: &Server) -> Vec<Request> {
    server
        .received()
        .into_iter()
        .filter(|r| r.path.contains("/api/"))
        .collect()
}

/// The paths of the pings the server received, in order.
fn ping_paths(server: &Server) -> Vec<String> {
    server
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/ping/"))
        .map(|r| r.path)
        .collect()
}

const SCHEDULE: [&str; 6] = [
    "--schedule",
    "15 3 * * *",
    "--tz",
    "Europe/Berlin",
    "--grace",
    "10m",
];

#[test]
fn a_check_in_step_is_read_and_left_alone() {
    let server = Server::start();
    let path = format!("/api/v3/checks/{UUID}");
    server.respond(
        &path,
        ok_json(&check(
            &server,
            UUID,
            Some("15 3 * * *"),
            "Europe/Berlin",
            600,
        )),
    );
    let out = run(&server, UUID, &SCHEDULE);
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 1, "{api:#?}");
    assert_eq!(
        (api[0].method.as_str(), api[0].path.as_str()),
        ("GET", path.as_str())
    );
    assert_eq!(api[0].header("x-api-key"), Some(KEY));
    // The pings go as ever: start, then the exit status.
    assert_eq!(
        ping_paths(&server),
        [format!("/ping/{UUID}/start"), format!("/ping/{UUID}/0")]
    );
}

#[test]
fn only_what_differs_is_written() {
    let server = Server::start();
    let path = format!("/api/v3/checks/{UUID}");
    // Another schedule, the same zone and grace: only the schedule is written.
    server.respond_seq(
        &path,
        [ok_json(&check(
            &server,
            UUID,
            Some("0 3 * * *"),
            "Europe/Berlin",
            600,
        ))],
    );
    server.respond(
        &path,
        ok_json(&check(
            &server,
            UUID,
            Some("15 3 * * *"),
            "Europe/Berlin",
            600,
        )),
    );
    let out = run(&server, UUID, &[&SCHEDULE[..], &["-v"]].concat());
    out.assert_code(0);
    let api = api_requests(&server);
    assert_eq!(api.len(), 2, "{api:#?}");
    let post = &api[1];
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", path.as_str())
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("x-api-key"), Some(KEY));
    assert_eq!(post.json(), json!({"schedule": "15 3 * * *"}));
    assert!(
        out.stderr
            .contains("schedule written (schedule is \"0 3 * * *\", the job's is \"15 3 * * *\")"),
        "{out:?}"
    );

    // A simple check (a period, no schedule) in UTC becomes a cron check in the job's zone; a macro is
    // written as the five fields it stands for.
    let server = Server::start();
    server.respond_seq(&path, [ok_json(&check(&server, UUID, None, "", 3600))]);
    let out = run(
        &server,
        UUID,
        &[
            "--schedule",
            "@daily",
            "--tz",
            "Asia/Tokyo",
            "--grace",
            "1h",
        ],
    );
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(
        api[1].json(),
        json!({"schedule": "0 0 * * *", "tz": "Asia/Tokyo"})
    );
}

#[test]
fn a_slug_check_is_found_by_its_slug_or_created_with_the_schedule() {
    // Missing: created, in one request that cannot make a duplicate.
    let server = Server::start();
    server.respond_seq(
        "/api/v3/checks/",
        [
            ok_json(&json!({"checks": []})),
            Behavior::status(201)
                .header("Content-Type", "application/json")
                .body(check(&server, UUID, Some("0 2 * * *"), "UTC", 3660).to_string()),
        ],
    );
    let out = run(
        &server,
        "pInGkEy/nightly-backup",
        &["--schedule", "0 2 * * *", "--tz", "UTC", "--grace", "61m"],
    );
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(
        (api[0].method.as_str(), api[0].path.as_str()),
        ("GET", "/api/v3/checks/")
    );
    assert_eq!(
        api[0].params,
        [("slug".to_string(), "nightly-backup".to_string())]
    );
    assert_eq!(
        (api[1].method.as_str(), api[1].path.as_str()),
        ("POST", "/api/v3/checks/")
    );
    assert_eq!(
        api[1].json(),
        json!({
            "name": "nightly-backup", "slug": "nightly-backup", "schedule": "0 2 * * *",
            "tz": "UTC", "grace": 3660, "unique": ["slug"],
        })
    );
    // The start ping went first, so a `?create=1` URL's own check is the one found.
    let first_api = server
        .received()
        .iter()
        .position(|r| r.path.starts_with("/api/"))
        .unwrap();
    assert_eq!(
        server.received()[0].path,
        "/ping/pInGkEy/nightly-backup/start"
    );
    assert!(first_api > 0);

    // Found: updated through its UUID.
    let server = Server::start();
    let found = check(&server, UUID, Some("0 2 * * *"), "UTC", 600);
    server.respond("/api/v3/checks/", ok_json(&json!({"checks": [found]})));
    let out = run(
        &server,
        "pInGkEy/nightly-backup",
        &["--schedule", "0 2 * * *", "--tz", "UTC", "--grace", "61m"],
    );
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(
        (api[1].method.as_str(), api[1].path.as_str()),
        ("POST", format!("/api/v3/checks/{UUID}").as_str())
    );
    assert_eq!(api[1].json(), json!({"grace": 3660}));
}

#[test]
fn a_grace_under_a_minute_is_raised_and_said_so() {
    let server = Server::start();
    let path = format!("/api/v3/checks/{UUID}");
    server.respond_seq(
        &path,
        [ok_json(&check(
            &server,
            UUID,
            Some("15 3 * * *"),
            "Europe/Berlin",
            600,
        ))],
    );
    let out = run(
        &server,
        UUID,
        &[
            "--schedule",
            "15 3 * * *",
            "--tz",
            "Europe/Berlin",
            "--grace",
            "20s",
        ],
    );
    out.assert_code(0);
    assert_eq!(api_requests(&server)[1].json(), json!({"grace": 60}));
    let line = out.one_error_line();
    assert!(
        line.contains("grace 20s held as 1m, the least Healthchecks takes"),
        "{line}"
    );
    // Held as 1m already: nothing to write, nothing to say.
    let server = Server::start();
    server.respond(
        &path,
        ok_json(&check(
            &server,
            UUID,
            Some("15 3 * * *"),
            "Europe/Berlin",
            60,
        )),
    );
    let out = run(
        &server,
        UUID,
        &[
            "--schedule",
            "15 3 * * *",
            "--tz",
            "Europe/Berlin",
            "--grace",
            "20s",
        ],
    );
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(api_requests(&server).len(), 1);
}

#[test]
fn refusals_are_one_warning_and_the_run_is_unchanged() {
    let path = format!("/api/v3/checks/{UUID}");
    let cases = [
        (
            Behavior::status(401).body(r#"{"error": "missing api key"}"#),
            "HTTP 401: the Healthchecks API key was refused",
        ),
        (
            Behavior::status(403).body(r#"{"error": "wrong api key"}"#),
            "HTTP 403: the API key may not do this",
        ),
        (
            Behavior::status(404).body(r#"{"error": "not found"}"#),
            "HTTP 404: no such check for this API key",
        ),
    ];
    for (answer, said) in cases {
        let server = Server::start();
        server.respond(&path, answer);
        let out = run(&server, UUID, &SCHEDULE);
        out.assert_code(0);
        let line = out.one_error_line();
        assert!(
            line.contains(&format!("schedule not kept in step: {said}")),
            "{line}"
        );
        assert!(
            line.contains("monitor 1 (healthchecks, 127.0.0.1:"),
            "{line}"
        );
        assert!(
            !out.stderr.contains(KEY) && !out.stderr.contains(UUID),
            "a secret leaked: {out:?}"
        );
        // One try: a refusal is not retried, and the pings are not affected.
        assert_eq!(api_requests(&server).len(), 1);
        assert_eq!(ping_paths(&server).len(), 2);
    }

    // A 400 on the write says what the server found wrong.
    let server = Server::start();
    server.respond(
        &path,
        ok_json(&check(&server, UUID, Some("0 3 * * *"), "UTC", 600)),
    );
    server.respond_seq(
        &path,
        [
            ok_json(&check(&server, UUID, Some("0 3 * * *"), "UTC", 600)),
            Behavior::status(400).body(r#"{"error": "json validation error: tz is not a string"}"#),
        ],
    );
    let out = run(&server, UUID, &SCHEDULE);
    out.assert_code(0);
    let line = out.one_error_line();
    assert!(
        line.ends_with(
            "schedule not kept in step: HTTP 400: json validation error: tz is not a string"
        ),
        "{line}"
    );

    // The command's own status stands.
    let server = Server::start();
    server.respond(&path, Behavior::status(401));
    let out = cronbeat()
        .args(SCHEDULE)
        .args([
            "--hc-api-key",
            KEY,
            "--ping",
            &format!("{}/ping/{UUID}", server.url()),
        ])
        .args(["--", "sh", "-c", "exit 3"])
        .run();
    out.assert_code(3);
}

#[test]
fn an_api_that_hangs_holds_neither_the_command_nor_the_run_past_its_bounds() {
    let server = Server::start();
    server.respond("/api/", Behavior::Hang);
    let out = cronbeat()
        .args(SCHEDULE)
        .args(["--ping-timeout", "1s", "--report-timeout", "2s"])
        .args(["--ping", &format!("{}/ping/{UUID}", server.url())])
        .env("CRONBEAT_HC_API_KEY", KEY)
        .args(["--", "echo", "ran"])
        .limit(Duration::from_secs(20))
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "ran\n");
    // The finish ping is not queued behind the API; the API is given up at the report deadline.
    assert!(out.elapsed < Duration::from_secs(6), "{out:?}");
    let line = out.one_error_line();
    assert!(line.contains("schedule not kept in step: "), "{line}");
    assert_eq!(
        ping_paths(&server),
        [format!("/ping/{UUID}/start"), format!("/ping/{UUID}/0")]
    );
}

#[test]
fn the_key_from_a_file_the_api_from_an_option_and_nothing_without_a_key() {
    let server = Server::start();
    let dir = Dir::new();
    let key_file = dir.write("hc-key", &format!("{KEY}\n"));
    // A ping URL that names no Management API: --hc-api-url says where it is.
    server.respond(
        &format!("/hc/api/v3/checks/{UUID}"),
        ok_json(&check(
            &server,
            UUID,
            Some("15 3 * * *"),
            "Europe/Berlin",
            600,
        )),
    );
    let out = cronbeat()
        .args(SCHEDULE)
        .args(["--hc-api-key-file", &key_file])
        .args(["--hc-api-url", &format!("{}/hc/api/v3", server.url())])
        .args(["--ping", &format!("hc+{}/elsewhere/{UUID}", server.url())])
        .args(["--", "true"])
        .run();
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 1, "{:#?}", server.received());
    assert_eq!(api[0].header("x-api-key"), Some(KEY));

    // Without a key, or without a schedule, the API is never called.
    for args in [&SCHEDULE[..], &[][..]] {
        let server = Server::start();
        let out = cronbeat()
            .args(args)
            .args([
                "--ping",
                &format!("{}/ping/{UUID}", server.url()),
                "--",
                "true",
            ])
            .envs(if args.is_empty() {
                &[("CRONBEAT_HC_API_KEY", KEY)][..]
            } else {
                &[][..]
            })
            .run();
        out.assert_code(0).assert_silent_stderr();
        assert!(api_requests(&server).is_empty());
    }
}
