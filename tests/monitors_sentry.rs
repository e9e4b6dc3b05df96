//! Sentry Crons: two JSON check-ins to `/api/<project>/cron/<slug>/<key>/`, `in_progress` then
//! `ok`/`error`, sharing the run id as `check_in_id`; `monitor_config` from the DSN's query.

mod http_server;
mod monitors_support;

use monitors_support::*;
use serde_json::json;

fn check(ending: Ending) {
    let server = Server::start();
    let spec = format!(
        "sentry+http://PUBKEY@127.0.0.1:{}/42?monitor=nightly-backup&environment=staging",
        server.port()
    );
    let run = ending.run(&[spec]);
    let rid = run.run_id();
    let requests = server.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/api/42/cron/nightly-backup/PUBKEY/");
        assert!(request.params.is_empty(), "{:?}", request.params);
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert!(request.header("authorization").is_none());
    }
    assert_eq!(
        requests[0].json(),
        json!({"check_in_id": rid, "status": "in_progress", "environment": "staging"})
    );
    let mut finish = requests[1].json();
    let duration = finish
        .as_object_mut()
        .unwrap()
        .remove("duration")
        .and_then(|d| d.as_f64())
        .expect("a duration in seconds");
    let least = if ending == Ending::Overrun { 0.5 } else { 0.0 };
    assert!((least..20.0).contains(&duration), "duration {duration}");
    let status = if ending == Ending::Success {
        "ok"
    } else {
        "error"
    };
    assert_eq!(
        finish,
        json!({"check_in_id": rid, "status": status, "environment": "staging"})
    );
}

#[test]
fn success() {
    check(Ending::Success);
}

#[test]
fn failure() {
    check(Ending::Failure);
}

#[test]
fn overrun() {
    check(Ending::Overrun);
}

#[test]
fn signal() {
    check(Ending::Signal);
}

#[test]
fn monitor_upsert_rides_on_every_check_in() {
    let server = Server::start();
    let spec = format!(
        "sentry+http://PUBKEY@127.0.0.1:{}/7?monitor=hourly&schedule=0+*+*+*+*\
         &checkin_margin=5&max_runtime=90m&timezone=Europe/Berlin",
        server.port()
    );
    Ending::Failure.run(&[spec]);
    let requests = server.received();
    assert_eq!(requests.len(), 2);
    let config = json!({
        "schedule": {"type": "crontab", "value": "0 * * * *"},
        "checkin_margin": 5,
        "max_runtime": 90,
        "timezone": "Europe/Berlin",
    });
    for request in &requests {
        assert_eq!(request.path, "/api/7/cron/hourly/PUBKEY/");
        assert_eq!(request.json()["monitor_config"], config);
    }

    let server = Server::start();
    let spec = format!(
        "sentry+http://K@127.0.0.1:{}/7?monitor=m&schedule=2h",
        server.port()
    );
    Ending::Success.run(&[spec]);
    assert_eq!(
        server.received()[0].json()["monitor_config"],
        json!({"schedule": {"type": "interval", "value": 2, "unit": "hour"}})
    );
}

#[test]
fn a_bad_dsn_is_a_usage_error_and_the_command_does_not_run() {
    for spec in [
        "sentry+http://127.0.0.1:9/42?monitor=m",
        "sentry+http://K@127.0.0.1:9/42",
        "sentry+http://K@127.0.0.1:9/42?monitor=m&schedule=fortnightly",
    ] {
        let run = cronbeat(&[
            "--ping".into(),
            spec.into(),
            "--".into(),
            "echo".into(),
            "ran".into(),
        ]);
        assert_eq!(run.code, 2, "{spec}: {run:?}");
        assert!(!run.stdout.contains("ran"), "{run:?}");
        assert!(run.stderr.starts_with("cronbeat: "), "{run:?}");
        assert!(!run.stderr.contains("K@"), "the key leaked: {run:?}");
    }
}
