//! `--lock PATH` never costs a file its contents: a file that is not cronbeat's own is locked as it is
//! (as flock(1) does), a symlink is refused, and cronbeat's own lock file still serves every overlap mode.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use crate::harness::*;

const PRECIOUS: &str = "precious data\nsecond line, no newline at the end";

fn contents(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_file_with_content_is_locked_as_it_is_and_never_written() {
    let dir = temp_dir();
    let file = dir.path().join("important.txt");
    std::fs::write(&file, PRECIOUS).unwrap();
    let lock = file.to_str().unwrap();

    let out = cronbeat().args(["--lock", lock, "--", "true"]).run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(contents(&file), PRECIOUS);

    // While held: the lock works and the file is not written, not even for a moment.
    let gate = Gate::new();
    let mut first = cronbeat_sh(
        &["--lock", lock],
        &format!("echo ready; {}; echo first done", gate.wait_script()),
    )
    .spawn();
    assert_eq!(first.line(), "ready");
    assert_eq!(contents(&file), PRECIOUS);
    let second = cronbeat()
        .args(["--lock", lock, "--", "echo", "must not run"])
        .run();
    second.assert_code(75);
    assert!(second.stdout.is_empty(), "{}", second.dump());

    // A run waiting for it gets it once the first is done, and leaves the file as it found it too.
    let mut waiting = cronbeat()
        .args([
            "-v",
            "--lock",
            lock,
            "--overlap",
            "wait",
            "--",
            "echo",
            "after",
        ])
        .spawn();
    // It has opened the file and found the lock held.
    waiting.wait_stderr("waiting for the lock", Duration::from_secs(10));
    assert_eq!(contents(&file), PRECIOUS);
    gate.open();
    assert_eq!(first.line(), "first done");
    first.wait().assert_code(0).assert_silent_stderr();
    let waited = waiting.wait();
    waited.assert_code(0);
    assert_eq!(waited.stdout, "after\n");
    assert_eq!(contents(&file), PRECIOUS);
}

#[test]
fn replace_finds_the_holder_of_a_foreign_file_and_leaves_the_file_unchanged() {
    let dir = temp_dir();
    let file = dir.path().join("important.txt");
    std::fs::write(&file, PRECIOUS).unwrap();
    let lock = file.to_str().unwrap();
    let mut first = cronbeat_sh(
        &["--lock", lock, "--log-format", "json"],
        "echo ready; exec sleep 20",
    )
    .spawn();
    assert_eq!(first.line(), "ready");

    let second = cronbeat()
        .args([
            "--lock",
            lock,
            "--overlap",
            "replace",
            "--",
            "echo",
            "replaced",
        ])
        .run();
    second.assert_code(0);
    assert_eq!(second.stdout, "replaced\n");
    assert!(second.elapsed < Duration::from_secs(5), "{}", second.dump());
    let first = first.wait();
    first.assert_code(143);
    assert!(
        first.stderr.contains("\"outcome\":\"terminated\""),
        "{}",
        first.dump()
    );
    assert_eq!(contents(&file), PRECIOUS);
}

#[test]
fn a_script_that_locks_itself_runs_whole_and_stays_unchanged() {
    let dir = temp_dir();
    let script = dir.path().join("job.sh");
    let text = "#!/bin/sh\necho start\nsleep 0.2\necho end\nexit 0\n";
    write_executable(&script, text);
    let path = script.to_str().unwrap();
    let out = cronbeat().args(["--lock", path, "--", path]).run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(out.stdout, "start\nend\n");
    assert_eq!(contents(&script), text);
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

#[test]
fn a_symlink_is_refused_and_what_it_points_to_is_left_alone() {
    let dir = temp_dir();
    let target = dir.path().join("important.txt");
    std::fs::write(&target, PRECIOUS).unwrap();
    let link = dir.path().join("job.lock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let missing = dir.path().join("not there yet");
    let dangling = dir.path().join("dangling.lock");
    std::os::unix::fs::symlink(&missing, &dangling).unwrap();
    let marker = dir.path().join("ran");

    for lock in [&link, &dangling] {
        let out = cronbeat()
            .args([
                "--lock",
                lock.to_str().unwrap(),
                "--",
                "touch",
                marker.to_str().unwrap(),
            ])
            .run();
        out.assert_code(71);
        let line = out.one_error_line();
        assert!(line.contains(lock.to_str().unwrap()), "{line}");
        assert!(line.contains("symbolic link"), "{line}");
        assert!(!marker.exists(), "the command ran");
    }
    assert_eq!(contents(&target), PRECIOUS);
    assert!(
        !missing.exists(),
        "a file was created through the dangling link"
    );
}

#[test]
fn cronbeats_own_lock_file_still_serves_skip_and_replace() {
    let dir = temp_dir();
    let file = dir.path().join("job.lock");
    let lock = file.to_str().unwrap();
    let mut first = cronbeat_sh(
        &["--lock", lock, "--log-format", "json"],
        "echo ready; exec sleep 20",
    )
    .spawn();
    assert_eq!(first.line(), "ready");
    // cronbeat created the file, so it keeps its record there.
    let recorded = eventually(Duration::from_secs(5), || contents(&file).contains("pgid="));
    assert!(recorded, "{:?}", contents(&file));
    assert!(
        contents(&file).starts_with(&format!("pid={}\n", first.pid())),
        "{:?}",
        contents(&file)
    );

    let skipped = cronbeat()
        .args(["--lock", lock, "--", "echo", "must not run"])
        .run();
    skipped.assert_code(75);
    assert!(skipped.stdout.is_empty(), "{}", skipped.dump());

    let replacing = cronbeat()
        .args([
            "--lock",
            lock,
            "--overlap",
            "replace",
            "--",
            "echo",
            "replaced",
        ])
        .run();
    replacing.assert_code(0);
    assert_eq!(replacing.stdout, "replaced\n");
    first.wait().assert_code(143);
    assert_eq!(contents(&file), "", "no stale pid is left behind");

    // The emptied file is still cronbeat's: the next holder records itself there again.
    let gate = Gate::new();
    let mut again = cronbeat_sh(
        &["--lock", lock],
        &format!("echo ready; {}", gate.wait_script()),
    )
    .spawn();
    assert_eq!(again.line(), "ready");
    let recorded = eventually(Duration::from_secs(5), || contents(&file).contains("pgid="));
    assert!(recorded, "{:?}", contents(&file));
    gate.open();
    again.wait().assert_code(0);
    assert_eq!(contents(&file), "");
}

/// Kills a process the test started through cronbeat, whatever becomes of the test.
struct Reap(i32);

impl Drop for Reap {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes plain integers.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

#[test]
fn the_lock_outlives_a_killed_cronbeat_while_any_process_of_the_run_lives() {
    let dir = temp_dir();
    let file = dir.path().join("job.lock");
    let lock = file.to_str().unwrap();
    // The command leaves a daemon in a session of its own (out of reach of the command's group), which
    // keeps the descriptors it inherited, then waits itself.
    let mut first = cronbeat_sh(
        &["--lock", lock],
        "setsid sh -c 'echo daemon $$; exec sleep 30' & echo child $$; exec sleep 30",
    )
    .spawn();
    let (mut daemon, mut child) = (None, None);
    while daemon.is_none() || child.is_none() {
        let line = first.line();
        let (who, pid) = line.split_once(' ').unwrap();
        let pid: i32 = pid.parse().unwrap();
        match who {
            "daemon" => daemon = Some(pid),
            _ => child = Some(pid),
        }
    }
    let (daemon, child) = (daemon.unwrap(), child.unwrap());
    let _reap = [Reap(daemon), Reap(child)];

    first.signal(libc::SIGKILL);
    let killed = first.wait();
    assert_eq!(
        killed.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        killed.dump()
    );
    assert!(
        eventually(Duration::from_secs(2), || is_dead(child)),
        "the command runs on without its cronbeat: {}",
        describe_tree(child)
    );
    assert!(!is_dead(daemon), "the daemon is gone already");

    // What is left of the run still holds the lock: the next run does not start on top of it.
    let marker = dir.path().join("second ran");
    let second = cronbeat()
        .args(["--lock", lock, "--", "touch", marker.to_str().unwrap()])
        .run();
    second.assert_code(75);
    assert!(!marker.exists(), "the next run started on top of the first");

    // Once the last process of the first run is gone, the lock is free.
    signal_pid(daemon, libc::SIGKILL);
    assert!(eventually(Duration::from_secs(2), || is_dead(daemon)));
    let third = cronbeat()
        .args(["--lock", lock, "--", "touch", marker.to_str().unwrap()])
        .run();
    third.assert_code(0).assert_silent_stderr();
    assert!(marker.exists());
}
