//! The tick: the scheduled time a run serves, given to the command as `CRONBEAT_TICK` (RFC 3339, UTC),
//! and to the observers: the JSON `started` event, the webhook's `{tick}`, the metrics.

use chrono::{DateTime, TimeDelta, Timelike, Utc};

use crate::harness::*;

/// The value the command saw, from its `tick=…` line.
fn seen_tick(out: &Output) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("tick="))
        .unwrap_or_else(|| panic!("no tick line: {out:?}"))
        .to_string()
}

#[test]
fn a_run_on_the_schedule_gets_its_tick_and_one_off_it_none() {
    let before = Utc::now();
    let out = cronbeat_sh(
        &["--schedule", "* * * * *", "--tz", "Europe/Berlin"],
        "echo \"tick=$CRONBEAT_TICK\"",
    )
    .run();
    out.assert_code(0).assert_silent_stderr();
    let tick = seen_tick(&out);
    assert!(tick.ends_with(":00Z"), "UTC, to the second: {tick}");
    let at = DateTime::parse_from_rfc3339(&tick)
        .unwrap()
        .with_timezone(&Utc);
    // The latest minute at or before the start.
    let floor = before.with_second(0).unwrap().with_nanosecond(0).unwrap();
    assert!(
        at == floor || at == floor + TimeDelta::minutes(1),
        "{at} vs {before}"
    );
    assert!(at <= Utc::now());

    // Due half an hour from now, so its latest due time is about half an hour old: beyond a 1m grace,
    // the run is off the schedule, and a tick inherited from an enclosing run is not passed on.
    let minute = (before.minute() + 30) % 60;
    let out = cronbeat_sh(
        &["--schedule", &format!("{minute} * * * *"), "--grace", "1m"],
        "echo \"tick=$CRONBEAT_TICK\"; env | grep -c '^CRONBEAT_TICK=' || true",
    )
    .env("CRONBEAT_TICK", "2000-01-01T00:00:00Z")
    .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "tick=\n0\n", "{out:?}");

    // No schedule, no tick.
    let out = cronbeat_sh(&[], "echo \"tick=$CRONBEAT_TICK\"").run();
    assert_eq!(out.stdout, "tick=\n", "{out:?}");
}

#[test]
fn the_started_event_carries_the_name_and_the_tick() {
    let out = cronbeat()
        .args([
            "--log-format",
            "json",
            "--name",
            "nightly",
            "--schedule",
            "* * * * *",
        ])
        .args(["--", "true"])
        .run();
    out.assert_code(0);
    let started = out.event("started");
    assert_eq!(started["name"], "nightly", "{started}");
    let tick = started["tick"].as_str().expect("a tick");
    assert!(
        DateTime::parse_from_rfc3339(tick).is_ok() && tick.ends_with('Z'),
        "{tick}"
    );
    assert!(started["message"]
        .as_str()
        .unwrap()
        .ends_with(&format!(", tick {tick}")));

    let out = cronbeat()
        .args(["--log-format", "json", "--", "true"])
        .run();
    let started = out.event("started");
    assert!(started["tick"].is_null(), "{started}");
    assert!(
        started["name"].as_str().unwrap().starts_with("true-"),
        "{started}"
    );
}

#[test]
fn webhook_templates_have_the_tick_and_the_name() {
    let server = Server::start();
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            r#"[jobs.report]
command = ["true"]
schedule = "* * * * *"
ping = "webhook+{}/hook"
webhook = {{ start = '{{"tick": "{{tick}}", "name": "{{name}}"}}' }}
"#,
            server.url()
        ),
    );
    cronbeat()
        .args(["--config", &config, "--job", "report"])
        .run()
        .assert_code(0);
    let requests = server.received();
    let start = requests[0].json();
    assert_eq!(start["name"], "report");
    let tick = start["tick"].as_str().unwrap();
    assert!(DateTime::parse_from_rfc3339(tick).is_ok(), "{start}");
    // The default body of the finish has them as fields.
    let finish = requests[1].json();
    assert_eq!(finish["tick"], start["tick"], "{finish}");
    assert_eq!(finish["name"], "report", "{finish}");
}

#[test]
fn metrics_say_the_last_tick_and_the_next_due_time() {
    let dir = Dir::new();
    let path = dir.join("nightly.prom");
    let spec = format!("textfile:{}", path.display());
    let out = cronbeat()
        .args(["--schedule", "* * * * *", "--ping", &spec, "--", "true"])
        .run();
    out.assert_code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let tick = value("cronbeat_last_tick_timestamp_seconds");
    let next = value("cronbeat_next_due_timestamp_seconds");
    assert_eq!(next - tick, 60.0, "{text}");
    assert_eq!(tick % 60.0, 0.0, "{text}");
    crate::monitors::prometheus::promtool_check(&path);

    // A run off the schedule leaves the last tick as it was.
    let out = cronbeat().args(["--ping", &spec, "--", "true"]).run();
    out.assert_code(0);
    let again = std::fs::read_to_string(&path).unwrap();
    assert!(
        again.contains(&format!(
            "cronbeat_last_tick_timestamp_seconds{{job_name=\"nightly\"}} {tick:.3}"
        )),
        "{again}"
    );
}
