//! What the command leaves behind: the rest of its group is stopped after it exits, orphans are
//! re-parented to cronbeat, zombies are reaped when cronbeat is PID 1, and a process that escaped
//! the group while holding the output pipe never hangs cronbeat.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn a_background_leftover_is_stopped_when_the_command_exits() {
    let mut run = cronbeat_sh(&["--kill-after", "5s"], "sleep 1000 & echo pid $!; exit 3").spawn();
    let pid: i32 = run.line().strip_prefix("pid ").unwrap().parse().unwrap();
    let _guard = KillOnDrop(pid);
    let out = run.wait();
    out.assert_code(3).assert_no_cronbeat_lines();
    assert_all_dead(&[pid]);
    assert!(out.elapsed < Duration::from_secs(3), "{}", out.dump());
}

#[test]
fn a_leftover_ignoring_term_is_killed_after_the_grace() {
    // The command exits only once the leftover has its trap in place.
    let trapped = Gate::new();
    let mut run = cronbeat_sh(
        &["--kill-after", "1s"],
        &format!(
            "sh -c 'trap \"\" TERM; echo pid $$; {}; while :; do sleep 0.05; done' & {}; exit 0",
            trapped.open_script(),
            trapped.wait_script()
        ),
    )
    .spawn();
    let pid: i32 = run.line().strip_prefix("pid ").unwrap().parse().unwrap();
    let _guard = KillOnDrop(pid);
    let out = run.wait();
    out.assert_code(0);
    assert_all_dead(&[pid]);
    assert!(
        out.elapsed >= Duration::from_millis(900) && out.elapsed < Duration::from_secs(5),
        "the leftover should get the 1 s grace, then KILL: {}",
        out.dump()
    );
}

#[test]
fn an_orphan_is_re_parented_to_cronbeat() {
    let gate = Gate::new();
    let mut run = cronbeat_sh(
        &["--kill-after", "5s"],
        &format!(
            "(sleep 1000 & echo pid $!); echo ready; {}",
            gate.wait_script()
        ),
    )
    .spawn();
    let pid: i32 = run.line().strip_prefix("pid ").unwrap().parse().unwrap();
    let _guard = KillOnDrop(pid);
    assert_eq!(run.line(), "ready");
    // The subshell that started it has exited, so the orphan's parent is now its subreaper.
    assert_eq!(proc_stat(pid).map(|s| s.1), Some(run.pid()));
    gate.open();
    let out = run.wait();
    out.assert_code(0);
    assert_all_dead(&[pid]);
}

/// The command starts a process outside its group (setsid) that keeps the output pipe open,
/// waits until it runs, then exits. `body` is what the escaped process does after `escaped PID`.
fn escaped(body: &str) -> (Output, i32) {
    let gate = Gate::new();
    let script = format!(
        "setsid sh -c 'echo escaped $$; {open}; {body}' & {wait}; echo main done",
        open = gate.open_script(),
        wait = gate.wait_script(),
    );
    let mut run = cronbeat_sh(&["--kill-after", "5s"], &script).spawn();
    let line = run.wait_for_line_containing("escaped ");
    let pid: i32 = line.strip_prefix("escaped ").unwrap().parse().unwrap();
    let guard = KillOnDrop(pid);
    let out = run.wait();
    drop(guard);
    (out, pid)
}

#[test]
fn an_escaped_process_holding_the_pipe_does_not_hang_cronbeat() {
    let (out, _) = escaped("exec sleep 30");
    out.assert_code(0);
    assert!(out.stdout.contains("main done"), "{}", out.dump());
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn an_escaped_process_that_keeps_printing_does_not_hang_cronbeat() {
    let (out, _) = escaped("while :; do echo tick; sleep 0.05; done");
    out.assert_code(0);
    assert!(out.stdout.contains("main done"), "{}", out.dump());
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn output_written_just_before_exit_is_not_lost_to_the_drain() {
    // The command's last burst is still in the pipe when it exits; all of it must come through.
    let out = cronbeat_sh(
        &[],
        "sleep 1000 & i=0; while [ $i -lt 300 ]; do printf '%01000d\\n' $i; i=$((i+1)); done",
    )
    .run();
    out.assert_code(0);
    assert_eq!(out.stdout.len(), 300 * 1001, "{}", out.dump());
}

// ---- cronbeat as PID 1 of a fresh PID namespace ----

/// `unshare --pid --fork --mount-proc`, or why it cannot be used here.
fn unshare_available() -> Result<(), String> {
    if !have("unshare") {
        return Err("unshare is not installed".into());
    }
    let probe = Cronbeat::program("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .limit(Duration::from_secs(10))
        .run();
    if probe.status.success() {
        return Ok(());
    }
    let err = &probe.stderr;
    if err.contains("Operation not permitted") {
        return Err(format!("unshare is not permitted here: {}", err.trim()));
    }
    panic!(
        "unshare failed for another reason than EPERM: {}",
        probe.dump()
    );
}

macro_rules! require_unshare {
    () => {
        if let Err(why) = unshare_available() {
            missing(&why);
            return;
        }
    };
}

/// Makes five orphans that exit, waits until they all have, then reports how many zombies remain
/// (waiting up to 1 s for them to be reaped).
const ZOMBIE_SCRIPT: &str = r#"
    for i in 1 2 3 4 5; do (sleep 0.2 &); done
    while ps -eo args= | grep -qx 'sleep 0.2'; do :; done
    n=0
    while [ "$(ps -eo stat= | grep -c Z)" -gt 0 ] && [ $n -lt 50 ]; do sleep 0.02; n=$((n+1)); done
    echo zombies $(ps -eo stat= | grep -c Z)
"#;

fn in_pid_namespace<'a>(argv: impl IntoIterator<Item = &'a str>) -> Cronbeat {
    Cronbeat::program("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .args(argv)
}

#[test]
fn as_pid_1_every_inherited_zombie_is_reaped() {
    require_unshare!();
    let out = in_pid_namespace([BIN, "--", "sh", "-c", ZOMBIE_SCRIPT]).run();
    out.assert_code(0);
    assert_eq!(out.stdout, "zombies 0\n", "{}", out.dump());
}

#[test]
fn the_zombie_check_sees_zombies_when_pid_1_does_not_reap() {
    // Control for the test above: a PID 1 that only waits for its own child leaves the orphans as zombies.
    require_unshare!();
    if !have("perl") {
        missing("perl, for a PID 1 that does not reap");
        return;
    }
    let out = in_pid_namespace(["perl", "-e", "system('sh', '-c', $ARGV[0])", ZOMBIE_SCRIPT]).run();
    out.assert_code(0);
    assert_eq!(out.stdout, "zombies 5\n", "{}", out.dump());
}

/// The pid, as seen from here, of the process `unshare` started.
fn namespace_init(unshare: i32) -> i32 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let children: Vec<i32> = descendants(unshare)
            .into_iter()
            .filter(|p| proc_stat(*p).is_some_and(|s| s.1 == unshare))
            .collect();
        if let [only] = children[..] {
            return only;
        }
        assert!(
            Instant::now() < until,
            "no single child of unshare: {children:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn as_pid_1_term_is_forwarded() {
    require_unshare!();
    for (script, expected) in [
        (
            "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
            0,
        ),
        ("echo ready; sleep 100", 143),
    ] {
        let mut run =
            in_pid_namespace([BIN, "--kill-after", "5s", "--", "sh", "-c", script]).spawn();
        run.wait_for_line("ready");
        let init = namespace_init(run.pid());
        assert!(cmdline(init).starts_with(BIN), "{}", cmdline(init));
        signal_pid(init, libc::SIGTERM);
        let out = run.wait();
        out.assert_code(expected).assert_no_cronbeat_lines();
        if expected == 0 {
            assert!(out.stdout.contains("got TERM"), "{}", out.dump());
        }
    }
}

#[test]
fn the_last_words_of_a_command_silent_until_then_are_not_lost() {
    // Silent for a while, then a line and exit at once: the line is in the pipe when the group is
    // gone, and must still come through. Several runs at once make a late pump thread likely.
    let runs: Vec<Running> = (0..12)
        .map(|i| {
            cronbeat_sh(
                &[],
                &format!("sleep 0.3; echo last {i}; printf 'err {i}' >&2"),
            )
            .spawn()
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let out = run.wait();
        out.assert_code(0);
        assert_eq!(out.stdout, format!("last {i}\n"), "{}", out.dump());
        assert_eq!(out.stderr, format!("err {i}"), "{}", out.dump());
    }
}
