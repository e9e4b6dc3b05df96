//! `--retries N`, `--retry-on`, `--retry-delay`: a failed attempt is tried again within bounds, and the
//! monitors and the ledger see one run, whatever the attempts.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// A job that fails (`exit CODE`) until its `succeed_on`th attempt (never when 0), counting its attempts
/// in a file of `dir`, and printing each attempt's number as the command saw it.
fn flaky(dir: &Dir, succeed_on: u32, code: i32) -> String {
    let count = dir.join("count");
    format!(
        "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'; \
         echo \"attempt $CRONBEAT_ATTEMPT\"; echo \"oops $n\" >&2; \
         [ {succeed_on} -ne 0 ] && [ $n -ge {succeed_on} ] && exit 0; exit {code}",
        c = count.display()
    )
}

fn attempts_made(dir: &Dir) -> u32 {
    std::fs::read_to_string(dir.join("count"))
        .map(|t| t.trim().parse().unwrap())
        .unwrap_or(0)
}

/// The ledger's records of job `name` under `state`, oldest first.
fn records(state: &Dir, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(state.join("ledger").join(name).join("runs.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits for the finish ping (any path under `/check/` but `start` and `log`) and returns every request.
fn until_finish(server: &Server) -> Vec<Request> {
    let finished = |r: &Request| {
        r.path.starts_with("/check/") && !["/check/start", "/check/log"].contains(&r.path.as_str())
    };
    assert!(
        eventually(Duration::from_secs(20), || server
            .requests()
            .iter()
            .any(finished)),
        "no finish ping: {:?}",
        server.requests()
    );
    server.requests()
}

#[test]
fn a_job_that_fails_twice_then_succeeds_is_one_successful_run() {
    let dir = Dir::new();
    let state = Dir::new();
    let server = Server::start();
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args([
            "--name",
            "flaky",
            "--ping",
            &format!("{}/check", server.url()),
        ])
        .args(["--retries", "3", "--retry-delay", "100ms"])
        .args(["--", "sh", "-c", &flaky(&dir, 3, 1)])
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "attempt 1\nattempt 2\nattempt 3\n");
    // The command's own output passes through untouched, and no retry raises cronbeat's voice.
    assert_eq!(out.stderr, "oops 1\noops 2\noops 3\n");
    assert_eq!(attempts_made(&dir), 3);

    let requests = until_finish(&server);
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    // One start, a keepalive as each of the two waits begins and as each retry starts (a keepalive
    // still queued when the next is due is replaced by it, as ever), one finish.
    assert_eq!(paths.first(), Some(&"/check/start"), "{requests:?}");
    assert_eq!(paths.last(), Some(&"/check/0"), "{requests:?}");
    assert!((3..=6).contains(&paths.len()), "{requests:?}");
    assert!(requests[0].body.is_empty());
    let rid = requests[0].param("rid").unwrap();
    for keepalive in &requests[1..requests.len() - 1] {
        assert_eq!(keepalive.path, "/check/start");
        assert_eq!(keepalive.param("rid"), Some(rid));
        assert!(keepalive.text().starts_with("still running after "));
    }
    let body = requests.last().unwrap().text();
    // The last attempt's stdout and stderr are two pipes: their lines may arrive in either order.
    let lines: Vec<&str> = body.lines().collect();
    // Each earlier failure's line ends with that attempt's last line, of either pipe.
    for (i, line) in lines[..2].iter().enumerate() {
        let n = i + 1;
        let start = format!("[cronbeat] attempt {n} of 4 failed: exited with status 1: ");
        let last = line
            .strip_prefix(&start)
            .unwrap_or_else(|| panic!("{body:?}"));
        assert!(
            [format!("attempt {n}"), format!("oops {n}")].contains(&last.to_string()),
            "{body:?}"
        );
    }
    let mut last_attempt = lines[2..4].to_vec();
    last_attempt.sort_unstable();
    assert_eq!(last_attempt, ["attempt 3", "oops 3"], "{body:?}");
    assert!(
        body.contains("cronbeat: succeeded on attempt 3 of 4 after exit 1, exit 1\n"),
        "{body:?}"
    );

    let history = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["history", "flaky", "--json"])
        .run();
    history.assert_code(0);
    let history: Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(history[0]["attempts"], 3);

    let runs = records(&state, "flaky");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert_eq!(run["outcome"], "success");
    assert_eq!(run["attempts"], 3);
    let failed = run["failed_attempts"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    for f in failed {
        assert_eq!(f["outcome"], "failure");
        assert_eq!(f["exit_status"], 1);
        assert_eq!(f["message"], "exited with status 1");
    }
}

/// A job whose attempts each fail with their own error line (coloured, with a token, then a blank line;
/// a line of 300 digits; a plain one after 40 lines of output), or succeed from the third with `SUCCEED=1`.
const DISTINCT_ERRORS: &str = "a=$CRONBEAT_ATTEMPT; echo \"working on attempt $a\"; case $a in \
     1) printf '\\033[31merror: API 503 on attempt 1 token=abc123\\033[0m\\n\\n'; exit 1;; \
     2) printf 'error: %0300d\\n' 0; exit 1;; \
     *) [ \"$SUCCEED\" = 1 ] && { echo done; exit 0; }; seq 1 40; echo \"error: API 503 on attempt $a\"; exit 1;; \
     esac";

/// Each earlier failure's line in the tail ends with the last line that attempt printed, cleaned as the
/// tail is and cut to 200 bytes; a cut tail still begins with its marker.
#[test]
fn the_tail_holds_each_earlier_attempts_last_line() {
    let state = Dir::new();
    let server = Server::start();
    let run = |name: &str, succeed: &str, more: &[&str]| {
        cronbeat()
            .env("CRONBEAT_STATE_DIR", state.path())
            .env("SUCCEED", succeed)
            .args(["--name", name, "--ping", &format!("{}/check", server.url())])
            .args(["--retries", "3", "--retry-delay", "100ms"])
            .args(["--strip-ansi", "--redact", "token=(\\S+)"])
            .args(more)
            .args(["--", "sh", "-c", DISTINCT_ERRORS])
            .run()
    };
    let first =
        "[cronbeat] attempt 1 of 4 failed: exited with status 1: error: API 503 on attempt 1 \
                 token=[REDACTED]\n";
    let digits = "0".repeat(200 - "error: ".len());
    let second =
        format!("[cronbeat] attempt 2 of 4 failed: exited with status 1: error: {digits}…\n");

    let out = run("recovers", "1", &[]);
    out.assert_code(0);
    // The output passes through as printed: colour, token and all.
    assert!(out
        .stdout
        .contains("\x1b[31merror: API 503 on attempt 1 token=abc123\x1b[0m\n"));
    let requests = until_finish(&server);
    let body = requests.last().unwrap().text();
    assert!(
        body.starts_with(&format!("{first}{second}working on attempt 3\ndone\n")),
        "{body:?}"
    );
    assert!(body.contains("cronbeat: succeeded on attempt 3 of 4 after exit 1, exit 1\n"));

    // A run that fails every attempt keeps its tail: with --tail 64 the last attempt's output was cut,
    // and the marker still comes first.
    let out = run("gives-up", "0", &["--tail", "64"]);
    out.assert_code(1);
    let stored = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["last-output", "gives-up"])
        .run();
    stored.assert_code(0);
    let tail = stored.stdout;
    let lines: Vec<&str> = tail.lines().collect();
    assert!(
        lines[0].starts_with("[… ") && lines[0].ends_with(" bytes cut …]"),
        "{tail:?}"
    );
    assert_eq!(format!("{}\n", lines[1]), first, "{tail:?}");
    // Attempt 2's tail was its last 64 bytes: all digits.
    assert_eq!(
        lines[2],
        format!(
            "[cronbeat] attempt 2 of 4 failed: exited with status 1: {}",
            "0".repeat(63)
        ),
        "{tail:?}"
    );
    assert_eq!(
        lines[3],
        format!(
            "[cronbeat] attempt 3 of 4 failed: exited with status 1: error: API 503 on attempt 3"
        ),
        "{tail:?}"
    );
    assert!(
        tail.ends_with("\n40\nerror: API 503 on attempt 4\n"),
        "{tail:?}"
    );
    assert!(!tail.contains("abc123"), "{tail:?}");
}

#[test]
fn a_job_that_always_fails_uses_every_attempt_within_the_backoff_bounds() {
    let dir = Dir::new();
    let server = Server::start();
    let started = Instant::now();
    let out = cronbeat()
        .args(["--ping", &format!("{}/check", server.url())])
        .args(["--retries", "3", "--retry-delay", "200ms"])
        .args(["-v", "--log-format", "json"])
        .args(["--", "sh", "-c", &flaky(&dir, 0, 3)])
        .run();
    out.assert_code(3);
    assert_eq!(attempts_made(&dir), 4);
    // Waits of at most 200 ms, 400 ms and 800 ms.
    assert!(started.elapsed() < Duration::from_secs(10));
    let events = out.events();
    let waits: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "retrying")
        .map(|e| e["delay_seconds"].as_f64().unwrap())
        .collect();
    assert_eq!(waits.len(), 3, "{}", out.stderr);
    for (k, wait) in waits.iter().enumerate() {
        let ceiling = 0.2 * f64::from(1u32 << k);
        assert!(
            (0.0..=ceiling).contains(wait),
            "wait {k}: {wait} > {ceiling}"
        );
    }
    let started: Vec<_> = events.iter().filter(|e| e["event"] == "started").collect();
    assert_eq!(started.len(), 1, "one start for the run");
    let finished = out.event("finished");
    assert_eq!(finished["attempts"], 4);
    assert!(
        finished["message"]
            .as_str()
            .unwrap()
            .contains(" (failed on attempt 4 of 4 after exit 3, exit 3, exit 3); cpu "),
        "{finished}"
    );
    let requests = until_finish(&server);
    let finish = requests.last().unwrap();
    assert_eq!(finish.path, "/check/3");
    assert!(
        finish
            .text()
            .contains("cronbeat: failed on attempt 4 of 4 after exit 3, exit 3, exit 3\n"),
        "{:?}",
        finish.text()
    );
}

#[test]
fn fail_after_counts_runs_not_attempts() {
    let dir = Dir::new();
    let state = Dir::new();
    let server = Server::start();
    let run = || {
        std::fs::remove_file(dir.join("count")).ok();
        cronbeat()
            .env("CRONBEAT_STATE_DIR", state.path())
            .args([
                "--name",
                "counted",
                "--ping",
                &format!("{}/check", server.url()),
            ])
            .args([
                "--retries",
                "2",
                "--retry-delay",
                "50ms",
                "--fail-after",
                "2",
            ])
            .args(["--", "sh", "-c", &flaky(&dir, 0, 1)])
            .run()
    };
    run().assert_code(1);
    assert_eq!(attempts_made(&dir), 3);
    // Three failed attempts are still the first failed run: a note, not a failure.
    let requests = until_finish_or_note(&server);
    let note = requests.iter().find(|r| r.path == "/check/log").unwrap();
    assert!(
        note.text().starts_with("failure 1 of 2: "),
        "{:?}",
        note.text()
    );
    assert!(!requests.iter().any(|r| r.path == "/check/1"));
    run().assert_code(1);
    let requests = until_finish(&server);
    assert!(requests.iter().any(|r| r.path == "/check/1"));
    assert_eq!(records(&state, "counted").len(), 2);
}

fn until_finish_or_note(server: &Server) -> Vec<Request> {
    assert!(eventually(Duration::from_secs(20), || server
        .requests()
        .iter()
        .any(|r| r.path == "/check/log")));
    server.requests()
}

#[test]
fn a_timeout_is_not_retried_by_default_and_each_attempt_has_its_own() {
    let dir = Dir::new();
    let script = format!("{}; sleep 30", flaky(&dir, 0, 1).replace("; exit 1", ""));
    let out = cronbeat()
        .args([
            "--retries",
            "2",
            "--retry-delay",
            "50ms",
            "--timeout",
            "300ms",
            "-v",
        ])
        .args(["--kill-after", "1s", "--", "sh", "-c", &script])
        .run();
    out.assert_code(124);
    assert_eq!(attempts_made(&dir), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "(failed on attempt 1 of 3; no retry: timeout is not retried by default (see --retry-on))"
        ),
        "{}",
        out.stderr
    );

    let dir = Dir::new();
    let script = format!("{}; sleep 30", flaky(&dir, 0, 1).replace("; exit 1", ""));
    let started = Instant::now();
    let out = cronbeat()
        .args([
            "--retries",
            "2",
            "--retry-delay",
            "50ms",
            "--timeout",
            "300ms",
        ])
        .args([
            "--retry-on",
            "timeout",
            "--kill-after",
            "1s",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .run();
    out.assert_code(124);
    assert_eq!(attempts_made(&dir), 3, "{}", out.stderr);
    // Three attempts of 300 ms each: the timeout is each attempt's, not the run's.
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(out.stdout, "attempt 1\nattempt 2\nattempt 3\n");
}

#[test]
fn a_stop_signal_during_a_wait_ends_the_run_terminated_at_once() {
    let dir = Dir::new();
    let state = Dir::new();
    let server = Server::start();
    // The first wait is up to an hour: the signal comes long before it ends.
    let mut run = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args([
            "--name",
            "stopped",
            "--ping",
            &format!("{}/check", server.url()),
        ])
        .args(["--retries", "3", "--retry-delay", "1h", "-v"])
        .args(["--", "sh", "-c", &flaky(&dir, 0, 1)])
        .spawn();
    run.wait_stderr("retrying in", Duration::from_secs(20));
    let signalled = Instant::now();
    run.signal(libc::SIGTERM);
    let out = run.wait();
    assert!(signalled.elapsed() < Duration::from_secs(5));
    out.assert_code(143);
    assert_eq!(attempts_made(&dir), 1);
    let record = &records(&state, "stopped")[0];
    assert_eq!(record["outcome"], "terminated");
    assert_eq!(record["attempts"], 1);
    assert_eq!(record["failed_attempts"][0]["exit_status"], 1);
    // Terminated is not failed: Healthchecks is told with a log entry, which says what happened.
    let requests = until_finish_or_note(&server);
    let note = requests.iter().find(|r| r.path == "/check/log").unwrap();
    assert!(
        note.text().contains(
            "cronbeat: terminated by SIGTERM; stopped while waiting for attempt 2 of 4, after exit 1\n"
        ),
        "{:?}",
        note.text()
    );
}

#[test]
fn a_retry_that_would_overrun_the_next_due_time_is_not_started() {
    let dir = Dir::new();
    // Due every minute; an attempt may take two: no retry can finish before the next due time.
    let out = cronbeat()
        .args(["--schedule", "* * * * *", "--timeout", "2m", "-v"])
        .args(["--retries", "3", "--retry-delay", "50ms"])
        .args(["--", "sh", "-c", &flaky(&dir, 0, 1)])
        .run();
    out.assert_code(1);
    assert_eq!(attempts_made(&dir), 1);
    assert!(
        out.stderr.contains(
            "(failed on attempt 1 of 4; no retry: attempt 2 could not finish before the next due time "
        ),
        "{}",
        out.stderr
    );
    // Off the schedule the same job is retried.
    let dir = Dir::new();
    cronbeat()
        .args(["--timeout", "2m", "--retries", "1", "--retry-delay", "50ms"])
        .args(["--", "sh", "-c", &flaky(&dir, 0, 1)])
        .run()
        .assert_code(1);
    assert_eq!(attempts_made(&dir), 2);
}

/// The model of a Healthchecks check: once started, it is down when `grace` passes after the latest
/// start (a keepalive is a start) without a finish. So no gap between two pings of the check, from its
/// start to its one finish, may reach the grace.
fn assert_never_down(checks: &[&Request], grace: Duration) {
    for pair in checks.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap < grace,
            "the check would be down: {gap:?} between two pings, grace {grace:?} ({checks:?})"
        );
    }
}

/// The requests to the check (`/check/…`) of one run: one start first, then only keepalives (`/start`
/// with the same `rid`), then exactly one finish, `/check/0`.
fn one_run_of_pings(requests: &[Request]) -> Vec<&Request> {
    let checks: Vec<&Request> = requests
        .iter()
        .filter(|r| r.path.starts_with("/check/"))
        .collect();
    let (last, before) = checks.split_last().unwrap();
    assert_eq!(last.path, "/check/0", "{checks:?}");
    assert!(
        before.iter().all(|r| r.path == "/check/start"),
        "a start, keepalives, one finish: {checks:?}"
    );
    let rid = checks[0].param("rid");
    assert!(rid.is_some(), "{checks:?}");
    assert!(checks.iter().all(|r| r.param("rid") == rid), "{checks:?}");
    checks
}

/// Across all attempts and waits the check is never down: a keepalive as each wait begins and as each
/// retry starts, and within a wait longer than the grace one every `--keepalive`.
#[test]
fn the_healthchecks_check_stays_up_across_the_waits() {
    if !have("curl") {
        return missing("curl is not installed");
    }
    // Each attempt tells the server as it begins and ends, on the clock the pings are timed by.
    let server = Server::start();
    let dir = Dir::new();
    let mark = |what: &str| {
        format!(
            "curl -fsS -m 10 -o /dev/null {}/attempt/{what}/$CRONBEAT_ATTEMPT",
            server.url()
        )
    };
    let job = format!(
        "{}; sleep 0.5; {}; {}",
        mark("begins"),
        mark("ends"),
        flaky(&dir, 4, 1)
    );
    // Without --keepalive: the pings between attempts are those of the waits and the retries alone.
    let out = cronbeat()
        .args(["--ping", &format!("{}/check", server.url())])
        .args(["--retries", "3", "--retry-delay", "200ms"])
        .args(["--", "sh", "-c", &job])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    assert_eq!(attempts_made(&dir), 4);
    let requests = until_finish(&server);
    let at = |path: String| {
        requests
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("no {path}: {requests:?}"))
            .at
    };
    let checks = one_run_of_pings(&requests);
    for failed in 1..=3 {
        // From the end of a failed attempt to the end of its retry: its keepalives, as the wait
        // begins and as the retry starts (one, should the second come before the first went out).
        let (from, to) = (
            at(format!("/attempt/ends/{failed}")),
            at(format!("/attempt/ends/{}", failed + 1)),
        );
        let keepalives = checks
            .iter()
            .filter(|r| r.path == "/check/start" && r.at > from && r.at < to)
            .count();
        assert!(
            (1..=2).contains(&keepalives),
            "retry {failed}: {keepalives} keepalives ({requests:?})"
        );
    }
    // No keepalive while the first attempt ran.
    assert!(checks[1].at > at("/attempt/ends/1".into()), "{requests:?}");
    // An attempt (0.5 s) and a wait (at most 0.8 s) are bridged well within a grace of 3 s.
    assert_never_down(&checks, Duration::from_secs(3));

    // Waits longer than the grace (up to 1 s, 2 s and 4 s) are bridged by --keepalive.
    let grace = Duration::from_millis(1500);
    let dir = Dir::new();
    let server = Server::start();
    let out = cronbeat()
        .args(["--ping", &format!("{}/check", server.url())])
        .args(["--retries", "3", "--retry-delay", "1s"])
        .args(["--keepalive", "300ms"])
        .args(["--", "sh", "-c", &flaky(&dir, 4, 1)])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    assert_eq!(attempts_made(&dir), 4);
    let requests = until_finish(&server);
    assert_never_down(&one_run_of_pings(&requests), grace);
}

#[test]
fn the_command_is_told_its_attempt_and_a_bad_retry_on_is_refused() {
    let out = cronbeat()
        .args(["--", "sh", "-c", "echo $CRONBEAT_ATTEMPT"])
        .env("CRONBEAT_ATTEMPT", "7")
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "1\n");
    let out = cronbeat()
        .args(["--retries", "1", "--retry-on", "flaky", "--", "true"])
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["--retry-on", "unknown outcome \"flaky\"", "timeout"]);
    let out = cronbeat()
        .env("CRONBEAT_RETRIES", "101")
        .args(["--", "true"])
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["CRONBEAT_RETRIES", "101 is too many (at most 100)"]);
    let out = cronbeat().args(["--retry-delay", "1s", "--", "true"]).run();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("--retry-delay has no effect without --retries"),
        "{}",
        out.stderr
    );
}

/// Counts its attempts in `dir`, then runs until stopped; on SIGTERM it ignores further signals and
/// takes about 2 s to end, so a stop request can come during cronbeat's own stop.
fn slow_to_stop(dir: &Dir) -> String {
    format!(
        "{}; trap 'trap \"\" TERM; i=0; while [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; exit 0' TERM; \
         while :; do sleep 0.1; done",
        flaky(dir, 0, 1).replace("; exit 1", "")
    )
}

#[test]
fn a_stop_request_during_the_timeouts_grace_is_not_retried() {
    let dir = Dir::new();
    let mut run = cronbeat()
        .args(["--timeout", "1s", "--kill-after", "5s", "-v"])
        .args([
            "--retries",
            "2",
            "--retry-on",
            "timeout",
            "--retry-delay",
            "50ms",
        ])
        .args(["--", "sh", "-c", &slow_to_stop(&dir)])
        .spawn();
    run.wait_stderr("timed out after", Duration::from_secs(20));
    run.signal(libc::SIGTERM);
    let out = run.wait();
    // The timeout stays the outcome; the request ends the run with it.
    out.assert_code(124);
    assert_eq!(attempts_made(&dir), 1, "{}", out.stderr);
    assert_eq!(out.stdout, "attempt 1\n");
    assert!(
        out.stderr
            .contains("(failed on attempt 1 of 3; no retry: stopped on request)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stop_request_while_leftovers_are_stopped_is_not_retried() {
    let dir = Dir::new();
    // Exit 1 is retried by default; what the command left ignores SIGTERM until its SIGKILL. The
    // command exits only once the leftover ignores it: a SIGTERM before its trap would end it at once.
    let ready = dir.join("ignoring");
    let script = format!(
        "{}; (trap '' TERM; touch '{r}'; sleep 30) & while [ ! -e '{r}' ]; do sleep 0.01; done; exit 1",
        flaky(&dir, 0, 1).replace("; exit 1", ""),
        r = ready.display()
    );
    let mut run = cronbeat()
        .args(["--kill-after", "3s", "-v"])
        .args(["--retries", "2", "--retry-delay", "50ms"])
        .args(["--", "sh", "-c", &script])
        .spawn();
    run.wait_stderr("left behind", Duration::from_secs(20));
    run.signal(libc::SIGTERM);
    let out = run.wait();
    out.assert_code(1);
    assert_eq!(attempts_made(&dir), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("(failed on attempt 1 of 3; no retry: stopped on request)"),
        "{}",
        out.stderr
    );
}
