//! Sentry Crons beyond the table of endings (`endings.rs`): `monitor_config` from the DSN's query on
//! every check-in, and a bad DSN as a usage error.

use super::endings::Ending;
use crate::harness::*;
use serde_json::json;

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
        let run = cronbeat().args(["--ping", spec, "--", "echo", "ran"]).run();
        assert_eq!(run.code(), 2, "{spec}: {run:?}");
        assert!(!run.stdout.contains("ran"), "{run:?}");
        assert!(run.stderr.starts_with("cronbeat: "), "{run:?}");
        assert!(!run.stderr.contains("K@"), "the key leaked: {run:?}");
    }
}
