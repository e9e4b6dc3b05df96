//! How the command is started: directly (no shell), in its own process group, with cronbeat's
//! environment plus `CRONBEAT_RUN_ID`.

use crate::harness::*;

fn is_lowercase_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| {
            g.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

#[test]
fn the_run_id_is_a_lowercase_uuid_new_for_each_run() {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = cronbeat().args(["--", "printenv", "CRONBEAT_RUN_ID"]).run();
        out.assert_code(0).assert_silent_stderr();
        let id = out.stdout.trim_end().to_string();
        assert!(is_lowercase_uuid(&id), "not a lowercase UUID: {id:?}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "run ids repeat: {ids:?}");
}

#[test]
fn the_run_id_of_the_environment_is_replaced() {
    let out = cronbeat()
        .args(["--", "printenv", "CRONBEAT_RUN_ID"])
        .env("CRONBEAT_RUN_ID", "stale")
        .run();
    out.assert_code(0);
    assert!(is_lowercase_uuid(out.stdout.trim_end()), "{}", out.dump());
}

#[test]
fn the_environment_is_passed_on() {
    let out = cronbeat()
        .args(["--", "printenv", "CRONBEAT_TEST_VALUE"])
        .env("CRONBEAT_TEST_VALUE", "a b;$c")
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "a b;$c\n");
}

#[test]
fn arguments_arrive_literally_without_a_shell() {
    let args = ["$HOME", "a;b", "*", "two words", "`id`", "$(id)", "'q'", ""];
    let mut argv = vec!["--", "printf", "[%s]\\n"];
    argv.extend(args);
    let out = cronbeat().args(argv).run();
    out.assert_code(0).assert_silent_stderr();
    let expected: String = args.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(out.stdout, expected);
}

#[test]
fn the_command_runs_in_its_own_process_group() {
    // The child reports its pid and its process group, then waits to be asked to finish.
    let gate = Gate::new();
    let mut run = cronbeat_sh(
        &[],
        &format!(
            "echo $$ $(ps -o pgid= -p $$); echo ready; {}",
            gate.wait_script()
        ),
    )
    .spawn();
    let before = run.wait_for_line("ready");
    let fields = pids_in(&before[0]);
    let (child, child_pgid) = (fields[0], fields[1]);
    assert_eq!(child_pgid, child, "the command leads its own group");
    assert_eq!(pgid_of(child), child);
    let cronbeat_pid = run.pid();
    assert_ne!(
        pgid_of(cronbeat_pid),
        child,
        "cronbeat stays out of the command's group"
    );
    assert_eq!(
        proc_stat(child).unwrap().1,
        cronbeat_pid,
        "the command is cronbeat's child"
    );
    gate.open();
    run.wait().assert_code(0);
}

#[test]
fn the_working_directory_is_inherited() {
    let dir = temp_dir();
    let out = cronbeat().args(["--", "pwd"]).dir(dir.path()).run();
    out.assert_code(0);
    assert_eq!(
        out.stdout.trim_end(),
        dir.path().canonicalize().unwrap().to_str().unwrap()
    );
}

/// A child killed between the fork and exec (here by a seccomp filter at its setpgid; in production a
/// Ctrl-C that reached cronbeat's group in that moment, a `cgroup.kill`, the OOM killer) never ran the
/// command: the run is reported as not started, not as a command that died of the signal.
#[test]
fn a_child_killed_before_exec_is_not_reported_as_started() {
    let out = cronbeat()
        .kill_on(libc::SYS_setpgid)
        .args(["--log-format", "json", "--", "echo", "ran"])
        .run();
    out.assert_code(126);
    assert_eq!(out.stdout, "", "{}", out.dump());
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "not_started", "{}", out.dump());
    assert!(
        out.stderr
            .contains("could not start: echo: killed by SIGSYS before it was executed"),
        "{}",
        out.dump()
    );
    let started = out.event("started");
    assert!(started["pid"].is_null(), "{}", out.dump());
}

/// What cronbeat itself ignores (SIGPIPE) or blocks is not passed on: the command starts with none
/// blocked, and ignores only what cronbeat's own caller had it ignore (which stays ignored across any
/// exec).
#[test]
fn the_command_starts_with_no_signal_of_cronbeats_ignored_or_blocked() {
    // cronbeat's status, then the command's.
    let script = "cat /proc/$PPID/status; exec cat /proc/self/status";
    let out = cronbeat().args(["--", "sh", "-c", script]).run();
    out.assert_code(0);
    let masks = |field: &str| -> Vec<u64> {
        out.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(field))
            .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
            .collect()
    };
    let [cronbeats, commands] = masks("SigIgn:")[..] else {
        panic!("{}", out.dump());
    };
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    assert!(cronbeats & sigpipe != 0, "{}", out.dump());
    // Signals 32 and 33 are the C library's own (thread cancellation, set*id across threads), which
    // it handles or ignores as it sees fit, in cronbeat and in whatever started it.
    let standard = (1u64 << 31) - 1;
    assert_eq!(
        commands & standard,
        cronbeats & standard & !sigpipe,
        "{}",
        out.dump()
    );
    assert_eq!(masks("SigBlk:").get(1), Some(&0), "{}", out.dump());
}
