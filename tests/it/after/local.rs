//! `--after` by this host's ledger: a failed dependency skips the run (exit 75) and tells the monitors
//! which job it waited on; a succeeded one lets it run; a success from before the job's latest due time
//! does not count; `--after-wait` runs once the success comes, and a stop signal ends the wait.

use std::time::Duration;

use super::{record, told};
use crate::harness::*;
use crate::ledger::Ledger;

const YEARLY: &[&str] = &["--schedule", "0 0 1 1 *"];

#[test]
fn a_failed_dependency_skips_the_run_and_the_monitor_is_told_which() {
    let ledger = Ledger::new();
    ledger
        .run("extract-orders", YEARLY, "exit 3")
        .assert_code(3);
    let server = Server::start();
    let ping = format!("{}/hc", server.url());
    let out = ledger.run(
        "load-orders",
        &["--after", "extract-orders", "--ping", &ping],
        "echo the command ran",
    );
    out.assert_code(75);
    assert_eq!(out.stdout, "", "the command must not run");
    let line = out.one_error_line();
    assert!(
        line.contains("skipped (--after extract-orders)")
            && line.contains("the latest run of extract-orders failed (exited with status 3"),
        "{line}"
    );
    // No start: a note, naming the job waited on.
    let got = told(&server);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with(
            "/hc/log skipped (--after extract-orders): the latest run of extract-orders failed"
        ),
        "{got:?}"
    );
    let (runs, _) = ledger.history("load-orders");
    assert_eq!(runs[0]["outcome"], "skipped");
    assert_eq!(runs[0]["exit_status"], 75);
    assert!(runs[0]["message"]
        .as_str()
        .unwrap()
        .contains("extract-orders failed"));
}

#[test]
fn a_succeeded_dependency_lets_the_run_start() {
    let ledger = Ledger::new();
    ledger.run("extract", YEARLY, "exit 0").assert_code(0);
    ledger.run("transform", YEARLY, "exit 0").assert_code(0);
    let out = ledger.run("load", &["--after", "extract,transform"], "echo loaded");
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(out.stdout, "loaded\n");
    // A later failure of one of them: its latest run is what counts, not an earlier success.
    ledger.run("transform", YEARLY, "exit 1").assert_code(1);
    let out = ledger.run(
        "load",
        &["--after", "extract", "--after", "transform"],
        "echo loaded",
    );
    out.assert_code(75);
    assert!(out
        .one_error_line()
        .contains("the latest run of transform failed"));
    // Skipped runs of the job waited on are passed over: its latest run that began decides.
    let skipped = record("extract", true, 0, Some("0 0 1 1 *"))
        .replace(r#""outcome":"success""#, r#""outcome":"skipped""#)
        .replace(r#""success":true"#, r#""success":false"#);
    let file = std::path::Path::new(&ledger.path()).join("ledger/extract/runs.jsonl");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&skipped);
    std::fs::write(&file, text).unwrap();
    ledger.run("transform", YEARLY, "exit 0").assert_code(0);
    ledger
        .run("load", &["--after", "extract,transform"], "echo loaded")
        .assert_code(0);
}

#[test]
fn a_success_before_the_jobs_latest_due_time_does_not_count() {
    let ledger = Ledger::new();
    let dir = std::path::Path::new(&ledger.path()).join("ledger/hourly");
    std::fs::create_dir_all(&dir).unwrap();
    // Succeeded two hours ago; due every hour since.
    std::fs::write(
        dir.join("runs.jsonl"),
        record("hourly", true, 7200, Some("0 * * * *")),
    )
    .unwrap();
    let out = ledger.run("report", &["--after", "hourly"], "echo ran");
    out.assert_code(75);
    let line = out.one_error_line();
    assert!(
        line.contains("hourly has not succeeded since its due time")
            && line.contains("its latest run succeeded at"),
        "{line}"
    );
    // --after-within widens the window past the due time.
    let out = ledger.run(
        "report",
        &["--after", "hourly", "--after-within", "3h"],
        "echo ran",
    );
    out.assert_code(0);
    let out = ledger.run(
        "report",
        &["--after", "hourly", "--after-within", "1h"],
        "echo ran",
    );
    out.assert_code(75);
    assert!(out
        .one_error_line()
        .contains("hourly has not succeeded within 1h"));
}

#[test]
fn without_a_schedule_or_a_window_the_run_is_refused() {
    let ledger = Ledger::new();
    ledger.run("by-hand", &[], "true").assert_code(0);
    let out = ledger.run("next", &["--after", "by-hand"], "echo ran");
    out.assert_code(2);
    assert_eq!(out.stdout, "");
    out.assert_one_line_error(&[
        "--after by-hand",
        "no schedule of by-hand",
        "--after-within",
    ]);
    // Never run at all, with a window: not a refusal, a skip.
    let out = ledger.run(
        "next",
        &["--after", "never", "--after-within", "1d"],
        "echo ran",
    );
    out.assert_code(75);
    assert!(out.one_error_line().contains("never has never run"));
}

#[test]
fn the_options_are_checked() {
    for (args, needles) in [
        (vec!["--after", "self"], vec!["--after", "the job itself"]),
        (vec!["--after", "a,,b"], vec!["--after", "empty job"]),
        (
            vec!["--after-within", "1h"],
            vec!["--after-within", "needs --after"],
        ),
        (
            vec!["--after-wait", "1h"],
            vec!["--after-wait", "needs --after"],
        ),
        (
            vec!["--after", "a", "--after-within", "0s"],
            vec!["--after-within", "greater than zero"],
        ),
        (
            vec!["--after", "a", "--after-wait", "400d"],
            vec!["--after-wait", "too long"],
        ),
    ] {
        let out = cronbeat()
            .args(["--name", "self"])
            .args(&args)
            .args(["--", "true"])
            .run();
        out.assert_code(2);
        out.assert_one_line_error(&needles);
    }
}

#[test]
fn the_variables_and_the_config_file_say_the_same() {
    let ledger = Ledger::new();
    ledger.run("up", YEARLY, "exit 0").assert_code(0);
    ledger.run("down", YEARLY, "exit 1").assert_code(1);
    let out = ledger
        .cronbeat()
        .env("CRONBEAT_AFTER", "up,down")
        .args(["--name", "env", "--", "echo", "ran"])
        .run();
    out.assert_code(75);
    assert!(out.one_error_line().contains("(--after up,down)"));
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.file]\ncommand = [\"echo\", \"ran\"]\nafter = [\"up\"]\nafter_within = \"1h\"\n",
    );
    let out = ledger
        .cronbeat()
        .args(["--config", &config, "--job", "file"])
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "ran\n");
    let out = ledger
        .cronbeat()
        .args(["--config", &config, "--job", "file"])
        .env("CRONBEAT_AFTER", "down")
        .run();
    out.assert_code(75);
}

#[test]
fn after_wait_runs_once_the_dependency_succeeds() {
    let ledger = Ledger::new();
    ledger.run("slow", YEARLY, "exit 1").assert_code(1);
    let mut waiting = ledger
        .cronbeat()
        .args([
            "--name",
            "then",
            "-v",
            "--after",
            "slow",
            "--after-wait",
            "2m",
        ])
        .args(["--", "echo", "ran after slow"])
        .limit(Duration::from_secs(120))
        .spawn();
    let line = waiting.wait_stderr(
        "waiting up to 2m for slow to succeed",
        Duration::from_secs(30),
    );
    assert!(line.contains("the latest run of slow failed"), "{line}");
    ledger.run("slow", YEARLY, "exit 0").assert_code(0);
    let out = waiting.wait();
    out.assert_code(0);
    assert_eq!(out.stdout, "ran after slow\n");
}

#[test]
fn after_wait_gives_up_at_its_bound() {
    let ledger = Ledger::new();
    ledger.run("stuck", YEARLY, "exit 1").assert_code(1);
    let started = std::time::Instant::now();
    let out = ledger.run(
        "then",
        &["--after", "stuck", "--after-wait", "1s"],
        "echo ran",
    );
    out.assert_code(75);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(out
        .one_error_line()
        .contains("skipped (--after stuck, waited 1s): the latest run of stuck failed"));
}

#[test]
fn a_stop_signal_ends_the_wait() {
    let ledger = Ledger::new();
    let waiting = ledger
        .cronbeat()
        .args([
            "--name",
            "patient",
            "-v",
            "--after",
            "absent",
            "--after-within",
            "1h",
        ])
        .args(["--after-wait", "10m", "--", "echo", "ran"])
        .limit(Duration::from_secs(60))
        .spawn();
    let mut waiting = waiting;
    waiting.wait_stderr("waiting up to 10m for absent", Duration::from_secs(30));
    let sent = std::time::Instant::now();
    waiting.signal(libc::SIGTERM);
    let out = waiting.wait();
    out.assert_code(128 + libc::SIGTERM);
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(out.stdout, "");
    let (runs, _) = ledger.history("patient");
    assert_eq!(runs[0]["outcome"], "interrupted");
}
