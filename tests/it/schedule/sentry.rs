//! Sentry Crons: the job's schedule, time zone, grace (`checkin_margin`) and timeout (`max_runtime`,
//! with the kill grace) ride in `monitor_config` on every check-in, so the monitor is created and kept
//! in step; what the DSN's own parameters say wins.

use serde_json::json;

use crate::harness::*;

#[test]
fn the_jobs_schedule_rides_on_every_check_in() {
    let server = Server::start();
    let spec = format!(
        "sentry+http://PUBKEY@127.0.0.1:{}/7?monitor=nightly",
        server.port()
    );
    cronbeat()
        .args(["--schedule", "15 3 * * mon-fri", "--tz", "Europe/Berlin"])
        .args([
            "--timeout",
            "50m",
            "--grace",
            "90s",
            "--ping",
            &spec,
            "--",
            "true",
        ])
        .run()
        .assert_code(0)
        .assert_silent_stderr();
    let requests = server.received();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.json()["monitor_config"],
            json!({
                "schedule": {"type": "crontab", "value": "15 3 * * mon-fri"},
                "timezone": "Europe/Berlin",
                "checkin_margin": 2,
                // 50m + the 10s kill grace, in whole minutes.
                "max_runtime": 51,
            })
        );
    }
}

#[test]
fn the_dsns_own_settings_win() {
    let server = Server::start();
    let spec = format!(
        "sentry+http://PUBKEY@127.0.0.1:{}/7?monitor=nightly&schedule=0+4+*+*+*&checkin_margin=30",
        server.port()
    );
    cronbeat()
        .args([
            "--schedule",
            "@daily",
            "--tz",
            "UTC",
            "--ping",
            &spec,
            "--",
            "true",
        ])
        .run()
        .assert_code(0);
    let config = server.received()[0].json()["monitor_config"].clone();
    assert_eq!(
        config["schedule"],
        json!({"type": "crontab", "value": "0 4 * * *"})
    );
    assert_eq!(config["checkin_margin"], 30);
    assert_eq!(config["timezone"], "UTC");
    // No --timeout: no max_runtime, Sentry keeps its own.
    assert!(config.get("max_runtime").is_none(), "{config}");

    // Settings without any schedule are a configuration error.
    let spec = format!(
        "sentry+http://K@127.0.0.1:{}/7?monitor=m&max_runtime=5",
        server.port()
    );
    let out = cronbeat().args(["--ping", &spec, "--", "true"]).run();
    out.assert_one_line_error(&["cronbeat: --ping: ", "monitor settings need a schedule"]);
}
