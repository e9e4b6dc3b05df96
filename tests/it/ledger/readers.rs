//! The commands that read the ledger: `status` (table, JSON, `--check`'s plugin statuses), `history`,
//! `last-output` and `metrics`; where the ledger is by default.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::Ledger;
use crate::harness::*;

/// RFC 3339 with an offset: `2026-11-29T08:45:00+05:30`, milliseconds optional.
#[track_caller]
fn assert_rfc3339(value: &Value, offset: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    let re =
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?([+-]\d\d:\d\d)$").unwrap();
    let caps = re
        .captures(text)
        .unwrap_or_else(|| panic!("not RFC 3339 with an offset: {text}"));
    assert_eq!(&caps[2], offset, "{text}");
}

#[track_caller]
fn assert_fits_80_columns(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
    }
}

/// A record as the ledger writes it, for states a test cannot wait for (a run long ago).
fn record(name: &str, started: &str, outcome: &str, success: bool, schedule: &str) -> String {
    format!(
        r#"{{"v":1,"run_id":"00000000-0000-4000-8000-000000000000","name":"{name}","host":"h","tick":null,"started_at":"{started}","finished_at":"{started}","duration_s":1.0,"outcome":"{outcome}","exit_status":{},"success":{success},"message":"m","schedule":{schedule},"fail_after":null,"tail":null}}"#,
        if success { 0 } else { 1 }
    ) + "\n"
}

#[test]
fn status_check_speaks_as_a_monitoring_plugin() {
    let ledger = Ledger::new();
    let check = |args: &[&str]| {
        let out = ledger
            .cronbeat()
            .args(["status", "--check"])
            .args(args)
            .run();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {out:?}");
        (out.code(), lines[0].to_string())
    };
    let (code, line) = check(&[]);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("CRONBEAT UNKNOWN - no run recorded in "),
        "{line}"
    );

    ledger
        .run("backup", &["--fail-after", "3"], "true")
        .assert_code(0);
    assert_eq!(
        check(&[]),
        (
            0,
            "CRONBEAT OK - 1 job, none failing or overdue".to_string()
        )
    );

    ledger
        .run("backup", &["--fail-after", "3"], "exit 5")
        .assert_code(5);
    assert_eq!(
        check(&[]),
        (
            1,
            "CRONBEAT WARNING - backup: failure 1 of 3 (exited with status 5)".to_string()
        )
    );
    // The threshold given to the check wins over the job's own.
    assert_eq!(
        check(&["--fail-after", "1"]),
        (
            2,
            "CRONBEAT CRITICAL - backup: failed (exited with status 5)".to_string()
        )
    );
    ledger.run("backup", &["--fail-after", "3"], "exit 5");
    ledger.run("backup", &["--fail-after", "3"], "exit 6");
    assert_eq!(
        check(&[]),
        (
            2,
            "CRONBEAT CRITICAL - backup: 3 failures in a row (exited with status 6)".to_string()
        )
    );
    ledger.run("other", &[], "true");
    assert_eq!(check(&["other"]).0, 0);
    let (code, line) = check(&["other", "nosuch"]);
    assert_eq!(
        (code, line.as_str()),
        (3, "CRONBEAT UNKNOWN - nosuch: no run recorded")
    );
    // Critical wins over the rest, and the line names every job that is not well.
    let (code, line) = check(&["other", "nosuch", "backup"]);
    assert_eq!(code, 2);
    assert_eq!(
        line,
        "CRONBEAT CRITICAL - backup: 3 failures in a row (exited with status 6); nosuch: no run recorded"
    );
    // Bad arguments are UNKNOWN too, on the plugin's line.
    let (code, line) = check(&["--bogus"]);
    assert_eq!(code, 3);
    assert!(line.starts_with("CRONBEAT UNKNOWN - "), "{line}");
    assert!(line.contains("--bogus"), "{line}");
}

#[test]
fn an_overdue_job_is_critical_and_shown_overdue() {
    let ledger = Ledger::new();
    let dir = std::path::Path::new(&ledger.path()).join("ledger/yearly");
    std::fs::create_dir_all(&dir).unwrap();
    // Due every 1 January at midnight, with an hour of grace; the last run was in 2020.
    let schedule = r#"{"expr":"0 0 1 1 *","tz":"UTC","grace_s":3600}"#;
    std::fs::write(
        dir.join("runs.jsonl"),
        record(
            "yearly",
            "2020-01-01T00:00:05.000Z",
            "success",
            true,
            schedule,
        ),
    )
    .unwrap();
    let out = ledger.cronbeat().args(["status", "--check"]).run();
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stdout
            .starts_with("CRONBEAT CRITICAL - yearly: overdue, due at "),
        "{}",
        out.stdout
    );
    let jobs = ledger.status();
    assert_eq!(jobs[0]["overdue"], true);
    assert_rfc3339(&jobs[0]["next_due_at"], "+00:00");
    let table = ledger.cronbeat().args(["status"]).env("TZ", "UTC").run();
    let row = table.stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("yearly  success") && row.ends_with("overdue"),
        "{row}"
    );
    // A run now serves the year: no longer overdue.
    std::fs::write(
        dir.join("runs.jsonl"),
        record(
            "yearly",
            "2020-01-01T00:00:05.000Z",
            "success",
            true,
            schedule,
        ) + &record(
            "yearly",
            "2099-01-01T00:00:05.000Z",
            "success",
            true,
            schedule,
        ),
    )
    .unwrap();
    assert_eq!(ledger.status()[0]["overdue"], false);
}

#[test]
fn status_and_history_fit_80_columns_with_rfc3339_times() {
    let ledger = Ledger::new();
    let long = "a-job-name-much-longer-than-any-column-could-show-in-eighty";
    ledger
        .run(
            long,
            &[
                "--schedule",
                "*/5 * * * *",
                "--host-id",
                "a-very-long-host-name.example.org",
            ],
            "exit 2",
        )
        .assert_code(2);
    ledger.run("short", &[], "sleep 0.1").assert_code(0);
    let status = ledger.cronbeat().args(["status"]).run();
    status.assert_code(0).assert_silent_stderr();
    assert_fits_80_columns(&status.stdout);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", status.stdout);
    assert!(
        lines[0].starts_with("JOB") && lines[0].contains("LAST OK") && lines[0].ends_with("NEXT")
    );
    assert!(
        lines[1].starts_with("a-job-name-much-longer") && lines[1].contains('…'),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("failure") && lines[1].contains("never"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("short") && lines[2].ends_with('-'),
        "{}",
        lines[2]
    );

    let history = ledger
        .cronbeat()
        .args(["history", long])
        .env("TZ", "Asia/Kolkata")
        .run();
    history.assert_code(0);
    assert_fits_80_columns(&history.stdout);
    let row = history.stdout.lines().nth(1).unwrap();
    let started = row.split_whitespace().next().unwrap();
    assert_rfc3339(&Value::from(started), "+05:30");

    let json = ledger
        .cronbeat()
        .args(["status", "--json"])
        .env("TZ", "Asia/Kolkata")
        .run();
    let jobs: Value = serde_json::from_str(&json.stdout).unwrap();
    let job = &jobs[0];
    for key in [
        "name",
        "last_outcome",
        "last_exit_status",
        "last_started_at",
        "last_duration_s",
        "last_success_at",
        "consecutive_failures",
        "runs",
        "next_due_at",
        "overdue",
    ] {
        assert!(job.get(key).is_some(), "no {key} in {job}");
    }
    assert_eq!(job["name"], long);
    assert_eq!(job["last_outcome"], "failure");
    assert_eq!(job["last_exit_status"], 2);
    assert_eq!(job["last_success_at"], Value::Null);
    assert_eq!(
        (job["consecutive_failures"].as_i64(), job["runs"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(job["overdue"], false);
    assert_rfc3339(&job["last_started_at"], "+05:30");
    assert_rfc3339(&job["next_due_at"], "+00:00");
    let short = &jobs[1];
    assert_rfc3339(&short["last_success_at"], "+05:30");
    assert!(short["last_duration_s"].as_f64().unwrap() >= 0.1);
    assert_eq!(short["next_due_at"], Value::Null);

    let runs = ledger
        .cronbeat()
        .args(["history", long, "--json"])
        .env("TZ", "Asia/Kolkata")
        .run();
    let runs: Value = serde_json::from_str(&runs.stdout).unwrap();
    let run = &runs[0];
    for key in [
        "run_id",
        "name",
        "host",
        "tick",
        "started_at",
        "finished_at",
        "duration_s",
        "outcome",
        "exit_status",
        "success",
    ] {
        assert!(run.get(key).is_some(), "no {key} in {run}");
    }
    assert_eq!(run["host"], "a-very-long-host-name.example.org");
    assert_rfc3339(&run["finished_at"], "+05:30");
    if !run["tick"].is_null() {
        assert_rfc3339(&run["tick"], "+05:30");
    }
}

#[test]
fn history_is_newest_first_and_limited() {
    let ledger = Ledger::new();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            ledger
                .run(
                    "h",
                    &[],
                    &format!("echo \"run $CRONBEAT_RUN_ID\"; exit {i}"),
                )
                .run_id()
        })
        .collect();
    let out = ledger
        .cronbeat()
        .args(["history", "h", "-n", "2", "--json"])
        .run();
    let runs: Value = serde_json::from_str(&out.stdout).unwrap();
    let got: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    let text = ledger.cronbeat().args(["history", "h"]).run();
    let exits: Vec<&str> = text
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(exits, ["4", "3", "2", "1", "0"]);
    let missing = ledger.cronbeat().args(["history", "nosuch"]).run();
    missing.assert_code(1);
    assert!(missing.one_error_line().contains("nosuch: no run recorded"));
}

#[test]
fn last_output_is_the_stored_tail_byte_for_byte() {
    let ledger = Ledger::new();
    let bytes = b"line\r\n\xff\xfe binary \x1b[31mred\x1b[0m\tno newline at the end";
    let script =
        "printf 'line\\r\\n\\377\\376 binary \\033[31mred\\033[0m\\tno newline at the end'; exit 9";
    ledger.run("bytes", &[], script).assert_code(9);
    ledger.run("bytes", &[], "echo fine").assert_code(0);
    let out = ledger.cronbeat().args(["last-output", "bytes"]).run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(out.raw_stdout, bytes);
    // A job that never failed has no output to show.
    ledger.run("good", &[], "echo fine").assert_code(0);
    let out = ledger.cronbeat().args(["last-output", "good"]).run();
    out.assert_code(1);
    assert!(out
        .one_error_line()
        .contains("good: no failed run recorded"));
}

#[test]
fn metrics_pass_promtool() {
    let ledger = Ledger::new();
    ledger
        .run("backup", &["--schedule", "0 3 * * *"], "exit 1")
        .assert_code(1);
    ledger.run("backup", &[], "true").assert_code(0);
    ledger.run("odd \"name\"\\", &[], "exit 2").assert_code(2);
    let out = ledger.cronbeat().args(["metrics"]).run();
    out.assert_code(0).assert_silent_stderr();
    let text = out.stdout;
    for needle in [
        "cronbeat_job_consecutive_failures{name=\"backup\"} 0\n",
        "cronbeat_job_consecutive_failures{name=\"odd \\\"name\\\"\\\\\"} 1\n",
        "cronbeat_job_runs{name=\"backup\",outcome=\"success\"} 1\n",
        "cronbeat_job_runs{name=\"backup\",outcome=\"failure\"} 1\n",
        "cronbeat_job_last_exit_status{name=\"backup\"} 0\n",
        "# TYPE cronbeat_job_last_success_timestamp_seconds gauge\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    let dir = Dir::new();
    let path = dir.join("ledger.prom");
    ledger
        .cronbeat()
        .args(["metrics", "--output", path.to_str().unwrap()])
        .run()
        .assert_code(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    let checked = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    match checked {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            missing("promtool is not installed (Debian package `prometheus`) to check the metrics")
        }
        Err(e) => panic!("promtool: {e}"),
        Ok(out) => assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Without --state-dir: `/var/lib/cronbeat` for root (here in a mount namespace, over a tmpfs), else
/// `$XDG_STATE_HOME/cronbeat`, else `~/.local/state/cronbeat` (as an unprivileged user, with setpriv).
#[test]
fn the_default_state_directory() {
    let root = Cronbeat::program("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /var/lib || exit 99; \"$1\" --name rooted -- true && ls /var/lib/cronbeat/ledger",
            "sh",
            BIN,
        ])
        .without_state_dir()
        .run();
    match root.code() {
        99 => missing("unshare -rm cannot mount a tmpfs over /var/lib here"),
        _ => assert_eq!(
            (root.code(), root.stdout.as_str()),
            (0, "rooted\n"),
            "{root:?}"
        ),
    }

    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !have("setpriv") {
        missing("root and setpriv, to run cronbeat as an unprivileged user");
        return;
    }
    // The user's own folders: one others could write would be refused.
    let home = Dir::new();
    let xdg = Dir::new();
    for dir in [&home, &xdg] {
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    }
    let nobody = |env: &[(&str, &str)]| {
        Cronbeat::program("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "--name",
                "mine",
                "--",
                "true",
            ])
            .env_clear()
            .without_state_dir()
            .env("PATH", "/usr/bin:/bin")
            .envs(env)
            .limit(Duration::from_secs(20))
            .run()
    };
    let home_path = home.path().to_str().unwrap();
    let out = nobody(&[("HOME", home_path)]);
    out.assert_code(0).assert_silent_stderr();
    assert!(home
        .join(".local/state/cronbeat/ledger/mine/runs.jsonl")
        .is_file());
    let out = nobody(&[
        ("HOME", home_path),
        ("XDG_STATE_HOME", xdg.path().to_str().unwrap()),
    ]);
    out.assert_code(0).assert_silent_stderr();
    assert!(xdg.join("cronbeat/ledger/mine/runs.jsonl").is_file());
    // Nowhere to record: a warning, and the run goes on.
    let out = nobody(&[]);
    out.assert_code(0);
    assert!(
        out.one_error_line()
            .contains("no state directory for the ledger"),
        "{out:?}"
    );
}
