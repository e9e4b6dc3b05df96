//! `--keepalive DUR`: progress pings while the command runs, and none once it has finished.

use std::time::Duration;

use crate::harness::*;

#[test]
fn progress_pings_arrive_while_the_command_runs() {
    let server = Server::start();
    let out = cronbeat()
        .args(["--ping", &format!("{}/check", server.url())])
        .args(["--keepalive", "300ms", "--", "sleep", "1.2"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(2, Duration::from_secs(5));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths.first(), Some(&"/check/start"), "{paths:?}");
    assert_eq!(paths.last(), Some(&"/check/0"), "{paths:?}");
    // Healthchecks keepalives are starts of the same run: only a start keeps a started check up.
    let logs: Vec<_> = requests[1..]
        .iter()
        .filter(|r| r.path == "/check/start")
        .collect();
    // 1.2 s at one every 0.3 s: three or four, with room for a slow machine.
    assert!((2..=4).contains(&logs.len()), "{paths:?}");
    let rid = requests[0].param("rid").unwrap();
    for log in &logs {
        assert_eq!(log.param("rid"), Some(rid));
        assert!(
            log.text().starts_with("still running after "),
            "{:?}",
            log.text()
        );
    }
    // The pings are spaced by the interval, not sent in a burst.
    for pair in logs.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(200));
    }
}

#[test]
fn no_progress_pings_without_keepalive_or_for_a_quick_command() {
    let server = Server::start();
    let out = cronbeat()
        .args(["--ping", &format!("{}/a", server.url())])
        .args(["--", "sleep", "0.5"])
        .run();
    assert_eq!(out.code(), 0);
    let out = cronbeat()
        .env("CRONBEAT_KEEPALIVE", "2s")
        .args(["--ping", &format!("{}/b", server.url())])
        .args(["--", "true"])
        .run();
    assert_eq!(out.code(), 0);
    let requests = server.wait_for(4, Duration::from_secs(5));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/a/start", "/a/0", "/b/start", "/b/0"]);
}

#[test]
fn keepalive_from_the_environment_and_the_config_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cronbeat.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs.long]\ncommand = [\"sleep\", \"0.8\"]\nping = \"{}/cfg\"\nkeepalive = \"250ms\"\n",
            server.url()
        ),
    )
    .unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap(), "--job", "long"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let out = cronbeat()
        .env("CRONBEAT_KEEPALIVE", "250ms")
        .args(["--ping", &format!("{}/env", server.url())])
        .args(["--", "sleep", "0.8"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(6, Duration::from_secs(5));
    for check in ["/cfg/start", "/env/start"] {
        // The run's own start, then at least one keepalive.
        assert!(
            requests.iter().filter(|r| r.path == check).count() >= 2,
            "no {check}: {:?}",
            requests.iter().map(|r| &r.path).collect::<Vec<_>>()
        );
    }
}

#[test]
fn sentry_keepalives_repeat_in_progress_with_the_same_check_in_id() {
    let server = Server::start();
    let dsn = server.url().replacen("http://", "http://KEY@", 1);
    let out = cronbeat()
        .args(["--ping", &format!("sentry+{dsn}/42?monitor=nightly")])
        .args(["--keepalive", "300ms", "--", "sleep", "1"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(3, Duration::from_secs(5));
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let statuses: Vec<&str> = bodies
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"ok"));
    assert!(
        statuses[..statuses.len() - 1]
            .iter()
            .all(|s| *s == "in_progress"),
        "{statuses:?}"
    );
    let id = &bodies[0]["check_in_id"];
    assert!(bodies.iter().all(|b| &b["check_in_id"] == id));
}

#[test]
fn webhook_keepalives_are_progress_events() {
    let server = Server::start();
    let out = cronbeat()
        .args(["--ping", &format!("webhook+{}/hook", server.url())])
        .args(["--keepalive", "300ms", "--", "sleep", "1"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(3, Duration::from_secs(5));
    let events: Vec<String> = requests
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["event"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(events.first().map(String::as_str), Some("start"));
    assert_eq!(events.last().map(String::as_str), Some("success"));
    assert!(events.iter().any(|e| e == "progress"), "{events:?}");
}
