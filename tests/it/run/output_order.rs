//! When cronbeat's stdout and stderr go to one place (`2>&1` into a pipe or a file, as under cron or
//! journald), what the command writes to its stdout and stderr keeps its exact order: in the output, in
//! the `--quiet` replay of a failed run, and in the tail sent to monitors. With two destinations each
//! stream still goes to its own.
//!
//! Each case runs many times: with a pipe per stream the order was lost in most runs, but not all.

use crate::harness::*;

const RUNS: usize = 20;
const PAIRS: usize = 200;

/// The command: PAIRS lines alternating between stdout and stderr, written as fast as `sh` can, then
/// `exit STATUS`.
fn alternating(status: i32) -> Vec<String> {
    let script = format!(
        "i=0; while [ $i -lt {PAIRS} ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done; exit {status}"
    );
    ["sh", "-c", &script].map(String::from).to_vec()
}

fn interleaved() -> String {
    (0..PAIRS).map(|i| format!("out {i}\nerr {i}\n")).collect()
}

/// cronbeat with its stderr sent to its stdout, which is the harness's pipe: `cronbeat ARGS 2>&1 | …`.
fn into_one_pipe(args: &[String]) -> Cronbeat {
    Cronbeat::program("sh")
        .args(["-c", "exec \"$0\" \"$@\" 2>&1", BIN])
        .args(args)
}

fn args(options: &[&str], command: Vec<String>) -> Vec<String> {
    let mut args: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    args.push("--".into());
    args.extend(command);
    args
}

/// The lines that are not cronbeat's own.
fn without_cronbeat_lines(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("cronbeat:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[track_caller]
fn assert_interleaved(run: usize, what: &str, got: &str) {
    let expected = interleaved();
    if got != expected {
        let line = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(expected.lines().count()));
        panic!(
            "run {run}: {what} lost the order at line {line}: got {:?}, expected {:?}",
            got.lines().skip(line).take(3).collect::<Vec<_>>(),
            expected.lines().skip(line).take(3).collect::<Vec<_>>()
        );
    }
}

#[test]
fn one_pipe_for_stdout_and_stderr_keeps_their_order() {
    for run in 0..RUNS {
        let out = into_one_pipe(&args(&[], alternating(0))).run();
        out.assert_code(0);
        assert_interleaved(run, "the output", &out.stdout);
    }
}

#[test]
fn one_file_for_stdout_and_stderr_keeps_their_order() {
    let dir = Dir::new();
    let log = dir.join("log");
    for run in 0..RUNS {
        let out = Cronbeat::program("sh")
            .args(["-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh"])
            .arg(&log)
            .arg(BIN)
            .args(args(&[], alternating(0)))
            .run();
        out.assert_code(0);
        assert_interleaved(run, "the log", &std::fs::read_to_string(&log).unwrap());
    }
}

#[test]
fn quiet_replays_a_failed_run_in_the_order_it_was_written() {
    for run in 0..RUNS {
        let out = into_one_pipe(&args(&["--quiet"], alternating(3))).run();
        out.assert_code(3);
        assert_interleaved(run, "the replay", &without_cronbeat_lines(&out.stdout));
    }
}

#[test]
fn quiet_hides_a_good_run_on_one_pipe() {
    let out = into_one_pipe(&args(&["--quiet"], alternating(0))).run();
    out.assert_code(0);
    assert_eq!(out.stdout, "");
}

#[test]
fn the_reported_tail_keeps_the_order() {
    let server = Server::start();
    for run in 0..RUNS {
        let check = format!("{}/check-{run}", server.url());
        let out = into_one_pipe(&args(&["--ping", &check], alternating(0))).run();
        out.assert_code(0);
        let finish = server
            .received()
            .into_iter()
            .find(|r| r.path == format!("/check-{run}/0"))
            .unwrap_or_else(|| panic!("run {run}: no finish ping: {:#?}", server.requests()));
        assert_interleaved(run, "the tail", &without_cost(&finish.text()));
        assert_interleaved(run, "the output", &out.stdout);
    }
}

#[test]
fn quiet_with_two_destinations_replays_each_stream_to_its_own() {
    let out = cronbeat().args(args(&["--quiet"], alternating(3))).run();
    out.assert_code(3);
    let outs: String = (0..PAIRS).map(|i| format!("out {i}\n")).collect();
    let errs: String = (0..PAIRS).map(|i| format!("err {i}\n")).collect();
    assert_eq!(out.stdout, outs);
    assert_eq!(without_cronbeat_lines(&out.stderr), errs);
}

#[test]
fn the_tail_with_two_destinations_holds_every_line_of_both() {
    let server = Server::start();
    let check = format!("{}/check", server.url());
    let out = cronbeat()
        .args(args(&["--ping", &check], alternating(0)))
        .run();
    out.assert_code(0);
    let finish = server
        .received()
        .into_iter()
        .find(|r| r.path == "/check/0")
        .expect("a finish ping");
    let mut got: Vec<String> = without_cost(&finish.text())
        .lines()
        .map(String::from)
        .collect();
    let mut expected: Vec<String> = interleaved().lines().map(String::from).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
}

/// `--stderr-fails` keeps a pipe per stream, since one pipe could not tell stderr from stdout: the order
/// between them is then not guaranteed.
#[test]
fn stderr_fails_still_sees_stderr_on_one_pipe() {
    let server = Server::start();
    let check = format!("{}/check", server.url());
    let out = into_one_pipe(&args(
        &["--stderr-fails", "--ping", &check],
        ["sh", "-c", "echo fine; echo oops >&2"]
            .map(String::from)
            .to_vec(),
    ))
    .run();
    let paths: Vec<String> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/check/start", "/check/fail"], "{}", out.dump());
    let mut lines: Vec<String> = without_cronbeat_lines(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    assert_eq!(lines, ["fine", "oops"]);
}
