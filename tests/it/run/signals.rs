//! Signals sent to cronbeat are forwarded to the command's process group; the command's own exit
//! status is kept, and after a terminating signal whatever ignores it is killed after the grace.
//! Each command prints `ready` once its traps are installed, and only then is cronbeat signalled.

use std::time::{Duration, Instant};

use crate::harness::*;
use libc::{SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

/// A command that reports each listed signal as `got NAME`, then goes on until the gate opens.
fn trapping(names: &[&str], gate: &Gate) -> String {
    let traps: String = names
        .iter()
        .map(|n| format!("trap 'echo got {n}' {n}; "))
        .collect();
    format!(
        "{traps} echo pid $$; echo ready; {}; echo done",
        gate.wait_script()
    )
}

#[test]
fn a_trapped_term_that_exits_0_gives_0() {
    let mut run = cronbeat_sh(
        &["--kill-after", "5s"],
        "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    )
    .spawn();
    run.wait_for_line("ready");
    run.signal(SIGTERM);
    assert_eq!(run.line(), "got TERM");
    // The shell may report its `sleep` killed by the group's TERM; cronbeat itself says nothing.
    let out = run.wait();
    out.assert_code(0).assert_no_cronbeat_lines();
}

#[test]
fn a_trapped_term_keeps_the_commands_own_code() {
    let mut run = cronbeat_sh(
        &["--kill-after", "5s"],
        "trap 'exit 5' TERM; echo ready; while :; do sleep 0.05; done",
    )
    .spawn();
    run.wait_for_line("ready");
    run.signal(SIGTERM);
    run.wait().assert_code(5);
}

#[test]
fn an_untrapped_term_gives_143() {
    let mut run = cronbeat_sh(&["--kill-after", "5s"], "echo ready; sleep 100").spawn();
    run.wait_for_line("ready");
    let sent = Instant::now();
    run.signal(SIGTERM);
    let out = run.wait();
    out.assert_code(143);
    assert!(sent.elapsed() < Duration::from_secs(3), "{}", out.dump());
}

#[test]
fn an_untrapped_int_gives_130_and_hup_129() {
    // Not a shell: dash can lose a SIGINT that arrives while it forks, with or without cronbeat.
    for (sig, code) in [(SIGINT, 130), (SIGHUP, 129)] {
        let mut run = cronbeat()
            .args([
                "--kill-after",
                "5s",
                "--",
                "perl",
                "-e",
                r#"$| = 1; print "ready\n"; sleep 100"#,
            ])
            .spawn();
        run.wait_for_line("ready");
        run.signal(sig);
        run.wait().assert_code(code);
    }
}

#[test]
fn non_terminating_signals_are_forwarded_and_the_run_goes_on() {
    let gate = Gate::new();
    let mut run = cronbeat_sh(&[], &trapping(&["USR1", "USR2", "WINCH"], &gate)).spawn();
    run.wait_for_line("ready");
    for (sig, name) in [(SIGUSR1, "USR1"), (SIGUSR2, "USR2"), (SIGWINCH, "WINCH")] {
        run.signal(sig);
        assert_eq!(run.line(), format!("got {name}"));
    }
    gate.open();
    assert_eq!(run.line(), "done");
    run.wait().assert_code(0).assert_no_cronbeat_lines();
}

#[test]
fn usr1_reaches_every_process_of_the_group() {
    let gate = Gate::new();
    let script = format!(
        "sh -c \"trap 'echo grandchild got USR1' USR1; echo grandchild ready; {wait}\" &
         trap 'echo child got USR1' USR1
         echo child ready
         {wait}
         wait",
        wait = gate.wait_script()
    );
    let mut run = cronbeat_sh(&[], &script).spawn();
    let mut ready = 0;
    while ready < 2 {
        if run.line().ends_with(" ready") {
            ready += 1;
        }
    }
    run.signal(SIGUSR1);
    let mut got = vec![run.line(), run.line()];
    got.sort();
    assert_eq!(got, ["child got USR1", "grandchild got USR1"]);
    gate.open();
    run.wait().assert_code(0);
}

#[test]
fn terminating_signals_trapped_then_exit_are_forwarded() {
    for (sig, name) in [(SIGHUP, "HUP"), (SIGINT, "INT"), (SIGQUIT, "QUIT")] {
        let mut run = cronbeat_sh(
            &["--kill-after", "5s"],
            &format!(
                "trap 'echo got {name}; exit 0' {name}; echo ready; while :; do sleep 0.05; done"
            ),
        )
        .spawn();
        run.wait_for_line("ready");
        run.signal(sig);
        assert_eq!(run.line(), format!("got {name}"));
        run.wait().assert_code(0);
    }
}

#[test]
fn a_command_ignoring_a_forwarded_term_is_killed_after_the_grace() {
    let mut run = cronbeat_sh(
        &["--kill-after", "1s"],
        "trap '' TERM; echo pid $$; sleep 100 & echo pid $!; echo ready; wait",
    )
    .spawn();
    let before = run.wait_for_line("ready");
    let pids: Vec<i32> = before
        .iter()
        .filter_map(|l| l.strip_prefix("pid "))
        .map(|p| p.parse().unwrap())
        .collect();
    let sent = Instant::now();
    run.signal(SIGTERM);
    let out = run.wait();
    out.assert_code(128 + SIGKILL);
    assert_all_dead(&pids);
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "KILL should follow the 1 s grace, took {took:?}\n{}",
        out.dump()
    );
}

#[test]
fn a_term_during_the_jitter_wait_ends_the_run_before_the_command() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let run = cronbeat()
        .args(["--jitter", "1d", "--", "touch", marker.to_str().unwrap()])
        .spawn();
    wait_until_catching(run.pid(), SIGTERM, Duration::from_secs(5));
    run.signal(SIGTERM);
    let out = run.wait();
    out.assert_code(143);
    assert!(!marker.exists(), "the command ran");
}
