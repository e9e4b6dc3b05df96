//! `--timeout` / `--kill-after`: at the deadline the whole process group gets SIGTERM, whatever is
//! left after the grace gets SIGKILL, nothing survives, and the exit status is 124.

use std::time::Duration;

use crate::harness::*;

/// Reads `count` lines of the form `pid N` and returns the pids.
fn read_pids(run: &mut Running, count: usize) -> Vec<i32> {
    let mut pids = Vec::new();
    while pids.len() < count {
        let line = run.line();
        if let Some(pid) = line.strip_prefix("pid ") {
            pids.push(pid.parse().expect("a pid"));
        }
    }
    pids
}

#[test]
fn a_process_tree_is_gone_after_the_deadline() {
    let script = r#"
        sleep 100 & echo pid $!
        sleep 100 & echo pid $!
        sh -c 'sleep 100 & echo pid $!; echo pid $$; wait' &
        echo pid $$
        wait
    "#;
    let mut run = cronbeat_sh(&["--timeout", "1s", "--kill-after", "5s"], script).spawn();
    let pids = read_pids(&mut run, 5);
    let out = run.wait();
    out.assert_code(124);
    assert_all_dead(&pids);
    // TERM was enough: nobody waited for the 5 s grace, and nobody for the 100 s sleeps.
    assert!(
        out.elapsed >= Duration::from_millis(950) && out.elapsed < Duration::from_secs(4),
        "{}",
        out.dump()
    );
}

#[test]
fn a_command_ignoring_term_is_killed_after_the_grace() {
    // Ignored signals stay ignored across exec, so the shell and its sleeps all ignore TERM.
    let script = r#"
        trap '' TERM
        sleep 100 & echo pid $!
        sh -c 'sleep 100 & echo pid $!; echo pid $$; wait' &
        echo pid $$
        wait
    "#;
    let mut run = cronbeat_sh(&["--timeout", "500ms", "--kill-after", "1s"], script).spawn();
    let pids = read_pids(&mut run, 4);
    let out = run.wait();
    out.assert_code(124);
    assert_all_dead(&pids);
    assert!(
        out.elapsed >= Duration::from_millis(1400) && out.elapsed < Duration::from_secs(5),
        "the KILL should come after timeout + grace (1.5 s): {}",
        out.dump()
    );
}

#[test]
fn a_grandchild_ignoring_term_is_killed_after_the_grace() {
    // The command itself obeys TERM at once; one of its children does not.
    let script = r#"
        sh -c 'trap "" TERM; echo pid $$; while :; do sleep 0.05; done' &
        echo pid $$
        wait
    "#;
    let mut run = cronbeat_sh(&["--timeout", "500ms", "--kill-after", "1s"], script).spawn();
    let pids = read_pids(&mut run, 2);
    let out = run.wait();
    out.assert_code(124);
    assert_all_dead(&pids);
    assert!(
        out.elapsed >= Duration::from_millis(1400) && out.elapsed < Duration::from_secs(5),
        "{}",
        out.dump()
    );
}

#[test]
fn a_stopped_command_is_still_stopped_at_the_deadline() {
    // A stopped process cannot act on TERM until continued; it must not take the whole grace.
    let mut run = cronbeat_sh(
        &["--timeout", "500ms", "--kill-after", "10s"],
        "echo pid $$; kill -STOP $$; sleep 100",
    )
    .spawn();
    let pids = read_pids(&mut run, 1);
    let out = run.wait();
    out.assert_code(124);
    assert_all_dead(&pids);
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn a_command_that_finishes_in_time_keeps_its_status() {
    let out = cronbeat_sh(
        &["--timeout", "10s", "--kill-after", "1s"],
        "sleep 0.1; exit 7",
    )
    .run();
    out.assert_code(7).assert_silent_stderr();
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn output_printed_before_the_deadline_is_passed_through() {
    let out = cronbeat_sh(
        &["--timeout", "300ms", "--kill-after", "1s"],
        "printf 'partial'; echo err >&2; sleep 100",
    )
    .run();
    out.assert_code(124);
    assert_eq!(out.stdout, "partial");
    assert!(out.stderr.starts_with("err\n"), "{}", out.dump());
}

#[test]
fn verbose_says_the_deadline_passed() {
    let out = cronbeat()
        .args([
            "-v",
            "--timeout",
            "300ms",
            "--kill-after",
            "1s",
            "--",
            "sleep",
            "100",
        ])
        .run();
    out.assert_code(124);
    let err = out.stderr;
    assert!(err.lines().all(|l| l.starts_with("cronbeat: ")), "{err}");
    assert!(err.contains("timed out"), "{err}");
}
