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
