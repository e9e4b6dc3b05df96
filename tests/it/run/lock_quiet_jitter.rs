//! `--lock` (one run at a time), `--quiet` (output only when the run fails) and `--jitter`.

use std::time::Duration;

use crate::harness::*;

// ---- --lock ----

#[test]
fn an_overlapping_run_is_skipped_at_once_and_the_lock_is_freed_after() {
    let dir = temp_dir();
    let lock = dir.path().join("job.lock");
    let lock = lock.to_str().unwrap();
    let gate = Gate::new();
    let mut first = cronbeat_sh(
        &["--lock", lock],
        &format!("echo ready; {}; echo first done", gate.wait_script()),
    )
    .spawn();
    assert_eq!(first.line(), "ready");

    let marker = dir.path().join("second ran");
    let second = cronbeat()
        .args(["--lock", lock, "--", "touch", marker.to_str().unwrap()])
        .run();
    second.assert_code(75);
    let line = second.one_error_line();
    assert!(line.contains("lock") && line.contains(lock), "{line}");
    assert!(second.stdout.is_empty(), "{}", second.dump());
    assert!(!marker.exists(), "the overlapping run's command ran");
    assert!(second.elapsed < Duration::from_secs(2), "{}", second.dump());

    gate.open();
    assert_eq!(first.line(), "first done");
    first.wait().assert_code(0).assert_silent_stderr();

    let third = cronbeat()
        .args(["--lock", lock, "--", "touch", marker.to_str().unwrap()])
        .run();
    third.assert_code(0).assert_silent_stderr();
    assert!(marker.exists(), "the lock was not freed");
}

#[test]
fn an_unopenable_lock_path_is_cronbeats_own_failure_and_the_command_is_not_run() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let file = dir.path().join("a file");
    std::fs::write(&file, b"").unwrap();
    for lock in [
        dir.path().join("no such dir").join("job.lock"),
        file.join("job.lock"),
    ] {
        let out = cronbeat()
            .args([
                "--lock",
                lock.to_str().unwrap(),
                "--",
                "touch",
                marker.to_str().unwrap(),
            ])
            .run();
        // Not a usage error: the options are valid, the machine refused (71, cronbeat's own failure).
        out.assert_code(71);
        let line = out.one_error_line();
        assert!(line.contains(lock.to_str().unwrap()), "{line}");
        assert!(!marker.exists(), "the command ran");
    }
}

// ---- --quiet ----

#[test]
fn a_successful_quiet_run_prints_nothing_at_all() {
    for extra in [&[][..], &["-v"][..]] {
        let mut options = vec!["--quiet"];
        options.extend(extra);
        let out = cronbeat_sh(&options, "echo out; printf 'err' >&2; exit 0").run();
        out.assert_code(0);
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{}",
            out.dump()
        );
    }
}

#[test]
fn a_failing_quiet_run_shows_both_streams_and_keeps_the_status() {
    let out = cronbeat_sh(
        &["--quiet"],
        "echo out 1; echo err 1 >&2; echo out 2; printf 'err 2' >&2; exit 3",
    )
    .run();
    out.assert_code(3);
    assert_eq!(out.stdout, "out 1\nout 2\n");
    assert_eq!(out.stderr, "err 1\nerr 2");
}

#[test]
fn a_quiet_run_that_overruns_shows_its_output() {
    let out = cronbeat_sh(
        &["--quiet", "--timeout", "300ms", "--kill-after", "1s"],
        "echo before the deadline; sleep 100",
    )
    .run();
    out.assert_code(124);
    assert_eq!(out.stdout, "before the deadline\n");
}

#[test]
fn a_quiet_run_that_cannot_start_says_why() {
    let out = cronbeat()
        .args(["--quiet", "--", "cronbeat-no-such-program"])
        .run();
    out.assert_code(127);
    let line = out.one_error_line();
    assert!(line.contains("cronbeat-no-such-program"), "{line}");
}

#[test]
fn a_failing_quiet_run_replays_megabytes_of_binary_unchanged() {
    let dir = temp_dir();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = dir.path().join("data");
    std::fs::write(&file, &data).unwrap();
    let file = file.display().to_string();
    let out = cronbeat_sh(
        &["--quiet"],
        &format!("cat '{file}' & cat '{file}' >&2; wait; exit 1"),
    )
    .run();
    out.assert_code(1);
    assert!(
        out.raw_stdout == data,
        "stdout differs ({} bytes)",
        out.stdout.len()
    );
    assert!(
        out.raw_stderr == data,
        "stderr differs ({} bytes)",
        out.stderr.len()
    );
}

#[test]
fn without_a_place_for_the_spool_the_output_is_shown_not_lost() {
    let dir = temp_dir();
    let missing = dir.path().join("gone");
    for (script, code) in [
        ("echo out; echo err >&2", 0),
        ("echo out; echo err >&2; exit 4", 4),
    ] {
        let out = cronbeat_sh(&["--quiet"], script)
            .env("TMPDIR", &missing)
            .run();
        out.assert_code(code);
        assert_eq!(out.stdout, "out\n", "{}", out.dump());
        assert!(out.stderr.contains("err\n"), "{}", out.dump());
    }
}

// ---- --jitter ----

#[test]
fn a_jittered_run_still_runs_its_command_in_bounded_time() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let out = cronbeat()
        .args(["--jitter", "1s", "--", "touch", marker.to_str().unwrap()])
        .run();
    out.assert_code(0).assert_silent_stderr();
    assert!(marker.exists());
    assert!(out.elapsed < Duration::from_secs(3), "{}", out.dump());
}

#[test]
fn jitter_delays_the_start() {
    // Six runs at once, each waiting a random time below 400 ms: their waits adding up to less than
    // 200 ms has a probability of about 2e-5.
    let runs: Vec<Running> = (0..6)
        .map(|_| cronbeat().args(["--jitter", "400ms", "--", "true"]).spawn())
        .collect();
    let total: Duration = runs
        .into_iter()
        .map(|r| {
            let out = r.wait();
            out.assert_code(0);
            assert!(out.elapsed < Duration::from_secs(3), "{}", out.dump());
            out.elapsed
        })
        .sum();
    assert!(total >= Duration::from_millis(200), "total {total:?}");
}
