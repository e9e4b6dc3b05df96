//! When a job of the local ledger is overdue: the first due time after the tick its latest run served,
//! once the grace has passed, whatever the grace against the period.

use crate::harness::*;

use super::Ledger;

/// `cronbeat` recording into `ledger` on a host whose clock reads `when` (UTC, `YYYY-MM-DD HH:MM:SS`).
/// `None` without faketime (skipped; a failure under CI=true).
fn at(ledger: &Ledger, when: &str) -> Option<Cronbeat> {
    if !have("faketime") {
        missing("faketime is not installed (.ci/run installs it)");
        return None;
    }
    Some(
        Cronbeat::program("faketime")
            .env("CRONBEAT_STATE_DIR", ledger.path())
            .env("TZ", "UTC")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .args(["-m", "-f", &format!("@{when}"), BIN]),
    )
}

/// An hourly job with the default grace (an hour and a minute and more, without --timeout): the latest
/// due time before now is always within its grace, yet once the run after the last one served is a grace
/// late, `status --check` is CRITICAL and names the due time missed.
#[test]
fn an_hourly_job_with_the_default_grace_becomes_overdue() {
    let ledger = Ledger::new();
    let Some(run) = at(&ledger, "2026-05-04 10:00:05") else {
        return;
    };
    run.args(["--name", "hourly", "--schedule", "0 * * * *", "--tz", "UTC"])
        .args(["--", "true"])
        .run()
        .assert_code(0);
    let check = |when: &str| at(&ledger, when).unwrap().args(["status", "--check"]).run();
    let out = check("2026-05-04 11:30:00");
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert!(out.stdout.starts_with("CRONBEAT OK - "), "{out:?}");
    // 11:00 and its grace of 1h 1m 10s: 12:01:10.
    let out = check("2026-05-04 12:01:00");
    assert_eq!(out.code(), 0, "{}", out.dump());
    for when in [
        "2026-05-04 12:01:20",
        "2026-05-04 18:00:00",
        "2026-05-09 00:00:00",
    ] {
        let out = check(when);
        assert_eq!(out.code(), 2, "{when}: {}", out.dump());
        assert!(
            out.stdout
                .starts_with("CRONBEAT CRITICAL - hourly: overdue, due at 2026-05-04T11:00:00"),
            "{when}: {out:?}"
        );
    }
}
