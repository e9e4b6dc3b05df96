//! cronbeat's own usage errors: exit status 2, one line on stderr naming the culprit, and the
//! command is not run (each command here would create a marker file).

use std::path::Path;

use crate::harness::*;

/// Runs cronbeat with `options` in front of a command that creates `marker`.
fn rejected(options: &[&str], env: &[(&str, &str)], culprit: &str) {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let mut args: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    args.extend(["--", "touch"].map(String::from));
    args.push(marker.display().to_string());
    let mut run = cronbeat().args(&args);
    for (k, v) in env {
        run = run.env(k, v);
    }
    let out = run.run();
    out.assert_code(2);
    let line = out.one_error_line();
    assert!(
        line.contains(culprit),
        "the error should name {culprit:?}: {line}"
    );
    assert!(out.stdout.is_empty(), "{}", out.dump());
    assert_not_run(&marker);
}

#[track_caller]
fn assert_not_run(marker: &Path) {
    assert!(
        !marker.exists(),
        "the command ran although cronbeat rejected its options"
    );
}

#[test]
fn the_marker_command_does_run_when_all_is_well() {
    // The proof that `rejected` could see a command that ran.
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    cronbeat()
        .args(["--", "touch", marker.to_str().unwrap()])
        .run()
        .assert_code(0)
        .assert_silent_stderr();
    assert!(marker.exists());
}

#[test]
fn unknown_flag() {
    rejected(&["--no-such-flag"], &[], "--no-such-flag");
}

#[test]
fn unparsable_timeout() {
    rejected(&["--timeout", "5 parsecs"], &[], "5 parsecs");
}

#[test]
fn unparsable_kill_after() {
    rejected(&["--timeout", "1s", "--kill-after", "soon"], &[], "soon");
}

#[test]
fn negative_duration() {
    rejected(&["--timeout=-3"], &[], "-3");
}

#[test]
fn unparsable_jitter() {
    rejected(&["--jitter", "1 fortnight-ish"], &[], "fortnight-ish");
}

#[test]
fn unparsable_tail_size() {
    rejected(&["--tail", "ten"], &[], "ten");
    rejected(&["--tail", "5X"], &[], "5X");
}

#[test]
fn unparsable_duration_from_the_environment() {
    rejected(&[], &[("CRONBEAT_TIMEOUT", "forever")], "forever");
}

#[test]
fn missing_option_value() {
    let out = cronbeat().args(["--timeout"]).run();
    out.assert_code(2);
    let line = out.one_error_line();
    assert!(line.contains("--timeout"), "{line}");
}

#[test]
fn no_command() {
    for args in [&[][..], &["--"][..], &["--timeout", "1s"][..]] {
        let out = cronbeat().args(args).run();
        out.assert_code(2);
        let line = out.one_error_line();
        assert!(line.contains("command"), "{line}");
    }
}

#[test]
fn a_command_without_the_separator_is_not_run() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let out = cronbeat().args(["touch", marker.to_str().unwrap()]).run();
    out.assert_code(2);
    out.one_error_line();
    assert_not_run(&marker);
}
