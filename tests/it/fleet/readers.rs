//! What `metrics --fleet` and `last-output --fleet` give the operator, on each engine, from runs of
//! several hosts: the exposition parsed sample by sample (and checked by promtool), a textfile that says
//! the engine could not be read rather than going stale, and a failure's output from another host.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;
use crate::harness::*;

on_both!(
    metrics_tell_each_job_across_hosts,
    last_output_is_the_latest_failure_on_any_host,
);

/// Each sample of an exposition, `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn epoch(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Three hosts: `nightly` (a schedule) succeeds on h1 and fails on h2, `adhoc` (none) succeeds on h3,
/// and `long` runs on h1 while the metrics are read. Each job has its samples, and only its own; a
/// job without a schedule has no overdue or next-due sample. `--output` writes the same, which
/// promtool passes. With the engine unreachable, the file is replaced by `cronbeat_fleet_ledger_up 0`
/// and no job's samples, and the status is 1; a usage error leaves it as it was.
fn metrics_tell_each_job_across_hosts(kind: Kind) {
    let Some(ledger) = OwnLedger::start(kind) else {
        return;
    };
    let url = ledger.url.clone();
    let run = |name: &str, host: &str, schedule: &[&str], code: u8| {
        let out = cronbeat()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["--name", name, "--host-id", host])
            .args(schedule)
            .args(["--", "sh", "-c", &format!("exit {code}")])
            .run();
        out.assert_code(code as i32);
        // A write to the engine that did not make it says so here, not as a sample missing below.
        assert_eq!(out.stderr, "", "{}", out.dump());
    };
    let nightly = ["--schedule", "0 3 * * *", "--tz", "UTC", "--grace", "1h"];
    let before = epoch(SystemTime::now()) - 1.0;
    run("nightly", "h1", &nightly, 0);
    let between = epoch(SystemTime::now());
    run("nightly", "h2", &nightly, 2);
    run("adhoc", "h3", &[], 0);
    let gate = Gate::new();
    let mut long = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", "long", "--host-id", "h1", "--", "sh", "-c"])
        .arg(format!("echo ready; {}", gate.wait_script()))
        .spawn();
    long.wait_stdout("ready", Duration::from_secs(10));
    let metrics = || {
        let out = cronbeat().args(["metrics", "--fleet", &url]).run();
        assert_eq!(out.code(), 0, "{}", out.dump());
        assert_eq!(out.stderr, "", "{}", out.dump());
        out.stdout
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            samples(&metrics()).get("cronbeat_fleet_job_running{name=\"long\"}") == Some(&1.0)
        }),
        "{}",
        metrics()
    );
    let text = metrics();
    let after = epoch(SystemTime::now()) + 1.0;
    let got = samples(&text);
    let at = |key: &str| {
        *got.get(key)
            .unwrap_or_else(|| panic!("{key} missing:\n{text}"))
    };
    assert_eq!(at("cronbeat_fleet_ledger_up"), 1.0);
    let nightly_run = at("cronbeat_fleet_job_last_run_timestamp_seconds{name=\"nightly\"}");
    assert!(between <= nightly_run && nightly_run <= after, "{text}");
    let success = at("cronbeat_fleet_job_last_success_timestamp_seconds{name=\"nightly\"}");
    assert!(before <= success && success <= between + 1.0, "{text}");
    assert_eq!(
        at("cronbeat_fleet_job_consecutive_failures{name=\"nightly\"}"),
        1.0
    );
    assert_eq!(at("cronbeat_fleet_job_hosts{name=\"nightly\"}"), 2.0);
    assert_eq!(at("cronbeat_fleet_job_overdue{name=\"nightly\"}"), 0.0);
    assert_eq!(at("cronbeat_fleet_job_stuck{name=\"nightly\"}"), 0.0);
    assert_eq!(at("cronbeat_fleet_job_running{name=\"nightly\"}"), 0.0);
    let next = at("cronbeat_fleet_job_next_due_timestamp_seconds{name=\"nightly\"}");
    assert!(next > after - 1.0 && next <= after + 86_400.0, "{text}");
    assert_eq!(next % 86_400.0, 3.0 * 3600.0, "{text}");
    assert_eq!(
        at("cronbeat_fleet_job_last_run_info{name=\"nightly\",host=\"h2\",outcome=\"failure\"}"),
        1.0
    );
    assert_eq!(
        at("cronbeat_fleet_job_last_run_info{name=\"adhoc\",host=\"h3\",outcome=\"success\"}"),
        1.0
    );
    assert_eq!(
        at("cronbeat_fleet_job_consecutive_failures{name=\"adhoc\"}"),
        0.0
    );
    assert_eq!(at("cronbeat_fleet_job_hosts{name=\"adhoc\"}"), 1.0);
    assert_eq!(
        at("cronbeat_fleet_job_last_run_info{name=\"long\",host=\"h1\",outcome=\"running\"}"),
        1.0
    );
    assert!(!got.contains_key("cronbeat_fleet_job_last_success_timestamp_seconds{name=\"long\"}"));
    for family in ["overdue", "next_due_timestamp_seconds"] {
        for job in ["adhoc", "long"] {
            let key = format!("cronbeat_fleet_job_{family}{{name=\"{job}\"}}");
            assert!(!got.contains_key(&key), "{key}:\n{text}");
        }
    }
    // Every sample is one of the three jobs', or the read's.
    for key in got.keys() {
        assert!(
            key == "cronbeat_fleet_ledger_up"
                || ["nightly", "adhoc", "long"]
                    .iter()
                    .any(|j| key.contains(&format!("{{name=\"{j}\""))),
            "{key}:\n{text}"
        );
    }
    gate.open();
    long.wait().assert_code(0);

    let dir = Dir::new();
    let file = dir.join("fleet.prom");
    let out = cronbeat()
        .args(["metrics", "--fleet", &url, "--output"])
        .arg(&file)
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(samples(&written).len(), got.len() + 1, "{written}");
    assert!(written.contains(
        "cronbeat_fleet_job_last_run_info{name=\"long\",host=\"h1\",outcome=\"success\"} 1\n"
    ));
    crate::monitors::prometheus::promtool_check(&file);

    // The engine cannot be reached: the textfile says so, instead of the last good read.
    let gone = via(&url, &format!("127.0.0.1:{}", closed_port()));
    let out = cronbeat()
        .args(["metrics", "--fleet", &gone, "--output"])
        .arg(&file)
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert!(
        out.one_error_line()
            .contains("cannot read the fleet ledger on "),
        "{}",
        out.dump()
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        samples(&written),
        BTreeMap::from([("cronbeat_fleet_ledger_up".to_string(), 0.0)]),
        "{written}"
    );
    crate::monitors::prometheus::promtool_check(&file);
    // A usage error is no reading: the file stays as it was.
    let out = cronbeat()
        .args(["metrics", "--fleet", "etcd://127.0.0.1:1", "--output"])
        .arg(&file)
        .run();
    assert_eq!(out.code(), 2, "{}", out.dump());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}

/// A job fails on one host, then on another with other output, then succeeds on a third:
/// `last-output --fleet` on a machine that ran none of it gives the latest failure's tail, byte for
/// byte; a job that never failed has none (exit status 1).
fn last_output_is_the_latest_failure_on_any_host(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let (name, fine) = (unique("tail"), unique("tail-fine"));
    for (host, script) in [
        ("h1", "echo first; exit 1"),
        ("h2", "printf 'second\\r\\n\\377 raw'; exit 2"),
        ("h3", "echo fine"),
    ] {
        cronbeat()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["--name", &name, "--host-id", host, "--", "sh", "-c", script])
            .run();
    }
    cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", &fine, "--", "true"])
        .run()
        .assert_code(0);
    let out = cronbeat()
        .args(["last-output", &name, "--fleet", &url])
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert_eq!(out.raw_stdout, b"second\r\n\xff raw", "{}", out.dump());
    let out = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["last-output", &fine, "--fleet"])
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert!(
        out.one_error_line().contains(&format!(
            "{fine}: no failed run with its output in the fleet ledger on "
        )),
        "{}",
        out.dump()
    );
}
