//! `--after` by the fleet ledger on the real engines (PostgreSQL also through PgBouncer): the job
//! waited on runs on one host, the dependent job on another whose own ledger knows nothing of it; and a
//! job declared (`check --fleet`) and never run, which `--after` and `status --fleet` both know by its
//! declaration.

use serde_json::Value;

use super::told;
use crate::fleet::{on_all, unique, url, Via};
use crate::harness::*;

/// `cronbeat` on host `host`: a state directory of its own, recording into the fleet ledger at `url`.
fn host(url: &str, host: &str, state: &Dir) -> Cronbeat {
    cronbeat()
        .env("CRONBEAT_LEDGER_URL", url)
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--host-id", host])
}

fn a_failure_on_one_host_skips_the_dependent_on_another(via: Via) {
    let Some(url) = url(via) else { return };
    let (extract, load) = (unique("extract"), unique("load"));
    let (a, b) = (Dir::new(), Dir::new());
    host(&url, "host-a", &a)
        .args([
            "--name",
            &extract,
            "--schedule",
            "0 0 1 1 *",
            "--",
            "sh",
            "-c",
            "exit 4",
        ])
        .run()
        .assert_code(4);
    let server = Server::start();
    let ping = format!("{}/hc", server.url());
    let dependent = || {
        host(&url, "host-b", &b)
            .args(["--name", &load, "--after", &extract, "--ping", &ping])
            .args(["--", "echo", "loaded"])
            .run()
    };
    let out = dependent();
    out.assert_code(75);
    assert_eq!(out.stdout, "");
    let line = out.one_error_line();
    let reason = format!(
        "skipped (--after {extract}): the latest run of {extract} failed (exited with status 4; finished "
    );
    assert!(
        line.contains(&reason) && line.ends_with(" on host-a)"),
        "{line}"
    );
    let got = told(&server);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with(&format!("/hc/log {reason}")), "{got:?}");
    // Host B's own ledger knows nothing of the job: the fleet's record decided.
    assert!(!b.join("ledger").join(&extract).exists());

    host(&url, "host-a", &a)
        .args(["--name", &extract, "--schedule", "0 0 1 1 *", "--", "true"])
        .run()
        .assert_code(0);
    let out = dependent();
    out.assert_code(0);
    assert_eq!(out.stdout, "loaded\n");

    // --no-ledger stops host B's own records, not its reading of the fleet's: the gate still passes,
    // and the run is not written to the fleet ledger.
    let history = || {
        let out = cronbeat().args(["history", &load, "--fleet", &url]).run();
        out.assert_code(0);
        out.stdout
    };
    let before = history();
    let out = host(&url, "host-b", &b)
        .args(["--name", &load, "--no-ledger", "--after", &extract])
        .args(["--", "echo", "loaded"])
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "loaded\n");
    assert_eq!(history(), before);
}

fn a_declared_job_that_never_ran_is_waited_on_by_its_declaration(via: Via) {
    let Some(url) = url(via) else { return };
    let (declared, dependent) = (unique("declared"), unique("dependent"));
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\nname = \"{declared}\"\ncommand = [\"true\"]\nschedule = \"0 0 1 1 *\"\nledger_url = \"{url}\"\n"
        ),
    );
    cronbeat()
        .args(["check", "--config", &config, "--fleet"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run()
        .assert_code(0);
    // No record anywhere, and no --after-within: the declared schedule gives the window.
    let out = host(&url, "host-b", &Dir::new())
        .args([
            "--name", &dependent, "--after", &declared, "--", "echo", "ran",
        ])
        .run();
    out.assert_code(75);
    assert!(out
        .one_error_line()
        .contains(&format!("{declared} has never run")));
}

/// Declared at noon by `check --fleet`, due daily at midnight with an hour's grace, never run: `never
/// run` at 13:00 and at 00:59 the next day, `overdue` at 01:01.
fn a_declared_job_that_never_ran_becomes_overdue(via: Via) {
    let Some(url) = url(via) else { return };
    let Some(declaring) = cronbeat_at("2026-03-01 12:00:00") else {
        return;
    };
    let name = unique("never");
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\nname = \"{name}\"\ncommand = [\"true\"]\nschedule = \"@daily\"\ntz = \"UTC\"\ngrace = \"1h\"\n\
             ledger_url = \"{url}\"\nhost_id = \"planner\"\n"
        ),
    );
    declaring
        .args(["check", "--config", &config, "--fleet"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run()
        .assert_code(0);
    for (when, state) in [
        ("2026-03-01 13:00:00", "never_run"),
        ("2026-03-02 00:59:00", "never_run"),
        ("2026-03-02 01:01:00", "overdue"),
    ] {
        let out = cronbeat_at(when)
            .unwrap()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["status", "--fleet", "--json", &name])
            .run();
        out.assert_code(0);
        let jobs: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(jobs[0]["state"], state, "{when}: {}", out.dump());
        assert_eq!(
            jobs[0]["hosts"],
            serde_json::json!(["planner"]),
            "{}",
            out.dump()
        );
    }
}

/// `--after-wait` on host B asks the fleet ledger again until host A's success arrives.
fn after_wait_runs_once_another_host_succeeds(via: Via) {
    let Some(url) = url(via) else { return };
    let (slow, then) = (unique("slow"), unique("then"));
    let (a, b) = (Dir::new(), Dir::new());
    let on_a = |code: &str| {
        host(&url, "host-a", &a)
            .args(["--name", &slow, "--schedule", "0 0 1 1 *"])
            .args(["--", "sh", "-c", &format!("exit {code}")])
            .run()
    };
    on_a("1").assert_code(1);
    let mut waiting = host(&url, "host-b", &b)
        .args([
            "--name",
            &then,
            "-v",
            "--after",
            &slow,
            "--after-wait",
            "2m",
        ])
        .args(["--", "echo", "ran after slow"])
        .limit(std::time::Duration::from_secs(120))
        .spawn();
    let line = waiting.wait_stderr(
        &format!("waiting up to 2m for {slow} to succeed"),
        std::time::Duration::from_secs(30),
    );
    assert!(
        line.contains(&format!("the latest run of {slow} failed")),
        "{line}"
    );
    on_a("0").assert_code(0);
    let out = waiting.wait();
    out.assert_code(0);
    assert_eq!(out.stdout, "ran after slow\n");
}

on_all!(
    a_failure_on_one_host_skips_the_dependent_on_another,
    a_declared_job_that_never_ran_is_waited_on_by_its_declaration,
    a_declared_job_that_never_ran_becomes_overdue,
    after_wait_runs_once_another_host_succeeds,
);
