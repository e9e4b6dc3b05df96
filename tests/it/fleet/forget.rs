//! `ledger forget NAME... --fleet`: a retired job leaves the fleet ledger (its declaration, hosts and
//! runs), so the one fleet check no longer calls it overdue; a job with a run under way is left whole.
//! Each test has a ledger of its own: the check reads every job of it.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::harness::*;

on_both!(
    a_retired_job_is_forgotten_and_the_check_is_ok_again,
    a_job_with_a_run_under_way_is_not_forgotten,
);

/// Whatever the engine keeps of job `name`, counted there (rows or keys).
fn kept_of(kind: Kind, url: &str, name: &str) -> String {
    match kind {
        Kind::Postgres => engine_command(
            kind,
            url,
            &format!(
                "SELECT (SELECT count(*) FROM cronbeat_runs WHERE name = '{name}') \
                 + (SELECT count(*) FROM cronbeat_jobs WHERE name = '{name}') \
                 + (SELECT count(*) FROM cronbeat_hosts WHERE name = '{name}')"
            ),
        ),
        Kind::Redis => {
            let keys: Vec<String> = ["job", "state", "expect", "hosts", "live", "runs"]
                .iter()
                .map(|w| format!("cronbeat:{{{name}}}:ledger:{w}"))
                .collect();
            let exists = engine_command(kind, url, &format!("EXISTS {}", keys.join(" ")));
            let listed =
                engine_command(kind, url, &format!("SISMEMBER cronbeat:ledger:jobs {name}"));
            format!(
                "{}",
                exists.parse::<u32>().unwrap() + listed.parse::<u32>().unwrap()
            )
        }
    }
}

/// A job declared at 10:00 by `check --fleet`, due every minute with 30 s of grace, run by two hosts,
/// then taken out of their crontabs: at 10:03 the fleet check is CRITICAL with it overdue. Forgotten, it
/// is gone from the engine and from `status --fleet`, and the check is OK with the job still in service.
/// Forgetting it again, or a name never known, is one line and exit status 1.
fn a_retired_job_is_forgotten_and_the_check_is_ok_again(kind: Kind) {
    let Some(ledger) = OwnLedger::start(kind) else {
        return;
    };
    let url = ledger.url.clone();
    let Some(declaring) = cronbeat_at("2026-05-01 10:00:00") else {
        return;
    };
    let (retired, kept) = ("retired", "kept");
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\nname = \"{retired}\"\ncommand = [\"true\"]\nschedule = \"* * * * *\"\ntz = \"UTC\"\n\
             grace = \"30s\"\nledger_url = \"{url}\"\nhost_id = \"planner\"\n"
        ),
    );
    declaring
        .args(["check", "--config", &config, "--fleet"])
        .run()
        .assert_code(0);
    for (when, host) in [("10:00:05", "h1"), ("10:01:05", "h2")] {
        for (name, schedule) in [(retired, "* * * * *"), (kept, "@daily")] {
            cronbeat_at(&format!("2026-05-01 {when}"))
                .unwrap()
                .env("CRONBEAT_LEDGER_URL", &url)
                .args(["--name", name, "--host-id", host, "--schedule", schedule])
                .args(["--tz", "UTC", "--grace", "30s", "--", "true"])
                .run()
                .assert_code(0);
        }
    }
    let check = || {
        cronbeat_at("2026-05-01 10:03:00")
            .unwrap()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["status", "--fleet", "--check"])
            .run()
    };
    let out = check();
    assert_eq!(out.code(), 2, "{}", out.dump());
    assert!(
        out.stdout.starts_with(&format!(
            "CRONBEAT CRITICAL - {retired}: overdue, due at 2026-05-01T10:02:00+00:00"
        )),
        "{out:?}"
    );
    assert_ne!(kept_of(kind, &url, retired), "0");

    let out = cronbeat()
        .args(["ledger", "forget", retired, "never-known", "--fleet", &url])
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert!(
        out.stdout.starts_with(&format!(
            "forgot {retired} and its 2 runs in the fleet ledger on "
        )),
        "{}",
        out.dump()
    );
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.dump());
    assert!(
        out.one_error_line()
            .contains("never-known: no such job in the fleet ledger on "),
        "{}",
        out.dump()
    );
    assert_eq!(kept_of(kind, &url, retired), "0");

    let out = check();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert_eq!(
        out.stdout,
        "CRONBEAT OK - 1 job on 2 hosts, none failing, overdue or stuck\n"
    );
    let out = cronbeat().args(["status", "--fleet", &url, "--json"]).run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    let jobs: Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [kept]);
    let out = cronbeat().args(["history", retired, "--fleet", &url]).run();
    assert_eq!(out.code(), 1, "{}", out.dump());

    // Again: nothing is left of it. The URL from the variable, as the other readers take it.
    let out = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["ledger", "forget", "--fleet", retired])
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert_eq!(out.stdout, "");
    assert!(
        out.one_error_line()
            .contains(&format!("{retired}: no such job in the fleet ledger on ")),
        "{}",
        out.dump()
    );
}

/// A run under way (started, renewing its record): forgetting its job would only last until the run's
/// end recorded it again, so the job is left whole, in one line naming the host; once the run has
/// ended, the job is forgotten.
fn a_job_with_a_run_under_way_is_not_forgotten(kind: Kind) {
    let Some(ledger) = OwnLedger::start(kind) else {
        return;
    };
    let url = ledger.url.clone();
    let name = "busy";
    let gate = Gate::new();
    let mut run = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", name, "--host-id", "worker-7"])
        .args(["--", "sh", "-c"])
        .arg(format!("echo ready; {}", gate.wait_script()))
        .spawn();
    run.wait_stdout("ready", Duration::from_secs(10));
    let state = || {
        let out = cronbeat()
            .args(["status", "--fleet", &url, "--json", name])
            .run();
        serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|jobs| jobs[0]["state"].as_str().map(str::to_string))
    };
    assert!(
        eventually(Duration::from_secs(10), || state().as_deref()
            == Some("running")),
        "the start was not recorded"
    );
    let out = cronbeat()
        .args(["ledger", "forget", name, "--fleet", &url])
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert_eq!(out.stdout, "");
    let line = out.one_error_line();
    assert!(
        line.contains("busy: not forgotten: a run is under way on worker-7 (started ")
            && line.ends_with("; forget it once that run has ended"),
        "{line}"
    );
    assert_eq!(state().as_deref(), Some("running"));
    gate.open();
    run.wait().assert_code(0);
    assert!(eventually(Duration::from_secs(10), || state().as_deref() == Some("ok")));
    let out = cronbeat()
        .args(["ledger", "forget", name, "--fleet", &url])
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert!(
        out.stdout
            .starts_with("forgot busy and its 1 run in the fleet ledger on "),
        "{}",
        out.dump()
    );
    assert_eq!(kept_of(kind, &url, name), "0");
}

/// `ledger forget` needs the jobs' names and a fleet ledger: one line, exit status 2, nothing sent.
#[test]
fn forget_needs_names_and_a_fleet_ledger() {
    let out = cronbeat()
        .args(["ledger", "forget", "--fleet", "redis://127.0.0.1:1"])
        .run();
    assert_eq!(out.code(), 2, "{}", out.dump());
    out.assert_one_line_error(&["ledger forget: name the jobs to forget"]);
    let out = cronbeat().args(["ledger", "forget", "backup"]).run();
    assert_eq!(out.code(), 2, "{}", out.dump());
    assert!(out.stderr.contains("--fleet"), "{}", out.dump());
    let out = cronbeat()
        .args(["ledger", "forget", "backup", "--fleet"])
        .run();
    assert_eq!(out.code(), 2, "{}", out.dump());
    out.assert_one_line_error(&["--fleet: no fleet ledger"]);
}
