//! Commands that misbehave: cronbeat still bounds them, reaps them and passes their output on whole.

use std::time::Duration;

use crate::harness::*;

#[test]
fn a_stopped_child_that_overruns_is_still_killed() {
    let dir = Dir::new();
    // The shell stops itself; only SIGCONT after SIGTERM lets it act on the SIGTERM.
    let out = cronbeat()
        .args([
            "--timeout",
            "1s",
            "--kill-after",
            "5s",
            "--",
            "sh",
            "-c",
            "kill -STOP $$; sleep 60",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(124), "{}", out.stderr);
    // Continued and terminated at the deadline, not left for the SIGKILL 5 s later.
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn a_hundred_megabyte_line_without_newline_passes_whole() {
    let dir = Dir::new();
    let out = cronbeat()
        .args(["--", "sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' a"])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.raw_stdout.len(), 100_000_000);
    assert!(out.raw_stdout.iter().all(|b| *b == b'a'));
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn a_child_that_closes_its_stdout_early_keeps_its_status_and_stderr() {
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--",
            "sh",
            "-c",
            "echo before; exec >&-; sleep 0.2; echo after >&2; exit 3",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, "before\n");
    assert_eq!(out.stderr, "after\n");
}

#[test]
fn grandchildren_that_keep_writing_after_the_child_exits_are_stopped() {
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--kill-after",
            "2s",
            "--",
            "sh",
            "-c",
            "(while :; do echo tick; sleep 0.01; done) & echo pid=$!; sleep 0.2; exit 0",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    // The writer may get its first tick out before the shell prints its pid.
    let writer: i32 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid="))
        .unwrap_or_else(|| panic!("no pid line: {:?}", out.stdout))
        .parse()
        .unwrap();
    // A zombie counts as gone: it holds no resources but its table slot.
    assert!(is_dead(writer), "the writing grandchild {writer} survived");
    // Stopped by the SIGTERM at the child's exit, well before the SIGKILL grace.
    assert!(
        out.elapsed < Duration::from_secs(2),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn many_short_lived_processes_leave_no_zombies() {
    let dir = Dir::new();
    // Orphans that exit are re-parented to cronbeat (child subreaper) and must be reaped by it.
    let out = cronbeat()
        .args([
            "--",
            "sh",
            "-c",
            "for i in $(seq 300); do (true &) ; done; sleep 0.5; \
             echo zombies=$(ps -o stat= --ppid $PPID | grep -c Z)",
        ])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "zombies=0");
}
