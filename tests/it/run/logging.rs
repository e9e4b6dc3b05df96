//! cronbeat's own lines (SPEC item 11): silent when all is well, one `cronbeat: …` line per warning or error,
//! a line per event with `-v`, and one JSON object per line with `--log-format json`.

use crate::harness::*;
use serde_json::Value;

/// Every stderr line as a JSON object, failing on any line that is not one.
fn json_lines(stderr: &str) -> Vec<serde_json::Map<String, Value>> {
    let events = json_events(stderr);
    assert_eq!(
        events.len(),
        stderr.lines().count(),
        "a stderr line that is not JSON: {stderr}"
    );
    events
        .into_iter()
        .filter_map(|e| match e {
            Value::Object(object) => Some(object),
            _ => None,
        })
        .collect()
}

fn event<'a>(
    lines: &'a [serde_json::Map<String, Value>],
    name: &str,
) -> &'a serde_json::Map<String, Value> {
    lines
        .iter()
        .find(|l| l["event"] == name)
        .unwrap_or_else(|| panic!("no {name:?} event in {lines:?}"))
}

#[test]
fn silent_when_all_is_well() {
    let dir = Dir::new();
    let out = cronbeat().args(["--", "true"]).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

#[test]
fn verbose_gives_a_text_line_per_event() {
    let dir = Dir::new();
    let out = cronbeat()
        .args(["-v", "--", "sh", "-c", "exit 3"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(3));
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with("cronbeat: started pid "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("cronbeat: finished: exited with status 3 in "),
        "{}",
        lines[1]
    );
    let out = cronbeat()
        .args(["--", "true"])
        .envs(&[("CRONBEAT_VERBOSE", "1")])
        .dir(dir.path())
        .run();
    assert_eq!(out.stderr_lines().len(), 2, "{}", out.stderr);
}

#[test]
fn json_gives_one_object_per_event() {
    let dir = Dir::new();
    let out = cronbeat()
        .args(["--log-format", "json", "--", "sh", "-c", "exit 3"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(3));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    for line in &lines {
        assert!(line["time"].is_string(), "{line:?}");
        assert_eq!(line["level"], "info", "{line:?}");
        assert!(line["message"].is_string(), "{line:?}");
    }
    let started = event(&lines, "started");
    assert!(started["pid"].is_u64(), "{started:?}");
    let run_id = started["run_id"].as_str().unwrap();
    assert_eq!(run_id.len(), 36, "{run_id}");
    let finished = event(&lines, "finished");
    assert_eq!(finished["run_id"], run_id);
    assert_eq!(finished["exit_status"], 3);
    assert_eq!(finished["outcome"], "failure");
    assert!(finished["duration_seconds"].as_f64().unwrap() >= 0.0);
}

#[test]
fn json_reports_a_timeout() {
    let dir = Dir::new();
    let env = [("CRONBEAT_LOG_FORMAT", "json")];
    let args = [
        "--timeout",
        "200ms",
        "--kill-after",
        "2s",
        "--",
        "sleep",
        "10",
    ];
    let out = cronbeat().args(args).envs(&env).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(124));
    let lines = json_lines(&out.stderr);
    let timed_out = event(&lines, "timed_out");
    assert_eq!(timed_out["timeout_seconds"], 0.2);
    assert_eq!(timed_out["level"], "warning");
    let finished = event(&lines, "finished");
    assert_eq!(finished["exit_status"], 124);
    assert_eq!(finished["outcome"], "timeout");
    assert_eq!(finished["signal"], "SIGTERM");
}

/// Without -v a deadline still leaves one line: cron mails output, not exit statuses.
#[test]
fn a_timeout_is_a_warning_even_without_verbose() {
    let dir = Dir::new();
    let args = [
        "--timeout",
        "200ms",
        "--kill-after",
        "2s",
        "--",
        "sleep",
        "10",
    ];
    let out = cronbeat().args(args).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(
        out.stderr_lines(),
        ["cronbeat: timed out after 200ms, sending SIGTERM"]
    );
}

#[test]
fn warnings_and_errors_are_json_too() {
    let dir = Dir::new();
    let json = [("CRONBEAT_LOG_FORMAT", "json")];

    // A command that cannot start: a warning besides the events.
    let out = cronbeat()
        .args(["--", "/nonexistent/cronbeat-test"])
        .envs(&json)
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(127));
    let lines = json_lines(&out.stderr);
    let warning = event(&lines, "warning");
    assert_eq!(warning["level"], "warning");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/cronbeat-test"),
        "{warning:?}"
    );

    // A config error, from the command line and from the environment.
    let config = dir.write(
        "c.toml",
        "[jobs.j]\ncommand = [\"true\"]\ntimeout = \"5x\"\n",
    );
    for (args, env) in [
        (
            vec!["--log-format", "json", "--config", &config, "--job", "j"],
            &[][..],
        ),
        (vec!["--config", &config, "--job", "j"], &json[..]),
    ] {
        let out = cronbeat().args(&args).envs(env).dir(dir.path()).run();
        assert_eq!(out.status.code(), Some(2));
        let lines = json_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert_eq!(lines[0]["event"], "error");
        assert_eq!(lines[0]["level"], "error");
        let message = lines[0]["message"].as_str().unwrap();
        assert!(message.contains("jobs.j.timeout"), "{message}");
        assert!(!message.starts_with("cronbeat:"), "{message}");
    }

    // A usage error, found before the options are understood.
    for args in [
        vec!["--log-format", "json", "--timeout", "5x", "--", "true"],
        vec!["--log-format=json", "--bogus", "--", "true"],
    ] {
        let out = cronbeat().args(&args).dir(dir.path()).run();
        assert_eq!(out.status.code(), Some(2));
        let lines = json_lines(&out.stderr);
        assert_eq!(lines.len(), 1, "{}", out.stderr);
        assert_eq!(lines[0]["event"], "error");
    }
}

#[test]
fn a_held_lock_is_a_json_warning() {
    let dir = Dir::new();
    let path = dir.join("job.lock");
    // Another run's lock, held by this test process for the duration of the test.
    let held = std::fs::File::create(&path).unwrap();
    // SAFETY: flock on a descriptor this test owns; no memory is touched.
    let rc = unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&held),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    };
    assert_eq!(rc, 0, "fresh lock is busy");
    let marker = dir.join("ran");
    let lock = path.to_str().unwrap();
    let m = marker.to_str().unwrap();
    let args = ["--log-format", "json", "--lock", lock, "--", "touch", m];
    let out = cronbeat().args(args).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(75));
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert_eq!(lines[0]["level"], "warning");
    assert!(
        lines[0]["message"].as_str().unwrap().contains("lock"),
        "{:?}",
        lines[0]
    );
    assert!(!marker.exists(), "ran despite the lock");
    let out = cronbeat()
        .args(["--lock", lock, "--", "touch", m])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("cronbeat: skipped: "),
        "{}",
        out.stderr
    );
}

#[test]
fn quiet_hides_everything_of_a_successful_run_only() {
    let dir = Dir::new();
    let out = cronbeat()
        .args(["-q", "-v", "--", "sh", "-c", "echo out; echo err >&2"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    let args = [
        "-q",
        "--log-format",
        "json",
        "--",
        "sh",
        "-c",
        "echo out; exit 4",
    ];
    let out = cronbeat().args(args).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(out.stdout, "out\n");
    let lines = json_lines(&out.stderr);
    assert_eq!(event(&lines, "finished")["exit_status"], 4);
}

#[test]
fn pings_sent_and_failed_are_json_events() {
    let server = Server::start();
    let dir = Dir::new();
    let reached = format!("{}/0b6f1c3e-7d2a-4c59-9a41-5e8f2d7c1a01", server.url());
    let refused = format!("{}/0b6f1c3e-7d2a-4c59-9a41-5e8f2d7c1a02", refused_url());
    let args = [
        "--log-format",
        "json",
        "--ping",
        &reached,
        "--ping",
        &refused,
        "--ping-retries",
        "0",
        "--ping-timeout",
        "2s",
        "--",
        "sh",
        "-c",
        "exit 5",
    ];
    let out = cronbeat().args(args).dir(dir.path()).run();
    assert_eq!(
        out.status.code(),
        Some(5),
        "an unreachable monitor never changes the status"
    );
    let lines = json_lines(&out.stderr);
    let sent: Vec<_> = lines.iter().filter(|l| l["event"] == "ping_sent").collect();
    assert_eq!(sent.len(), 2, "start and finish: {}", out.stderr);
    let failed: Vec<_> = lines
        .iter()
        .filter(|l| l["event"] == "ping_failed")
        .collect();
    assert_eq!(failed.len(), 2, "start and finish: {}", out.stderr);
    for line in sent.iter().chain(&failed) {
        assert_eq!(line["monitor"], "healthchecks");
        let target = line["target"].as_str().unwrap();
        assert!(target.starts_with("127.0.0.1:"), "{target}");
    }
    assert!(failed.iter().all(|l| l["level"] == "warning"));
    assert!(
        !out.stderr.contains("0b6f1c3e"),
        "a ping URL leaked: {}",
        out.stderr
    );
}
