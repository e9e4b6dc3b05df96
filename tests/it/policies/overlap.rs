//! `--lock` with `--overlap skip|wait|replace` and `--lock-wait`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::*;

const READY: Duration = Duration::from_secs(10);

fn holder(lock: &Path, extra: &[&str], script: &str) -> Running {
    let mut bg = cronbeat()
        .args(["--lock", lock.to_str().unwrap()])
        .args(extra)
        .args(["--", "sh", "-c", script])
        .spawn();
    bg.wait_stdout("ready", READY);
    bg
}

#[test]
fn skip_is_the_default_and_tells_the_monitors() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    let _first = holder(&lock, &[], "echo ready; exec sleep 20");
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--ping",
            &format!("{}/c", server.url()),
        ])
        .args(["--", "echo", "must not run"])
        .run();
    assert_eq!(out.code(), 75, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("skipped: a previous run still holds the lock"),
        "{}",
        out.stderr
    );
    let requests = server.wait_for(1, Duration::from_secs(5));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/c/log"], "a skipped run sends no start ping");
    assert!(requests[0]
        .text()
        .contains("skipped: a previous run still holds the lock"));
}

#[test]
fn wait_runs_after_the_holder_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    let done = dir.path().join("first-done");
    let first = holder(
        &lock,
        &[],
        &format!("echo ready; sleep 0.6; touch '{}'", done.display()),
    );
    let out = cronbeat()
        .args(["--lock", lock.to_str().unwrap(), "--overlap", "wait"])
        .args([
            "--",
            "sh",
            "-c",
            &format!("test -e '{}' && echo after-first", done.display()),
        ])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, "after-first\n");
    assert_eq!(first.wait().code(), 0);
}

#[test]
fn wait_gives_up_after_lock_wait() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    let _first = holder(&lock, &[], "echo ready; exec sleep 20");
    let server = Server::start();
    let out = cronbeat()
        .env("CRONBEAT_OVERLAP", "wait")
        .env("CRONBEAT_LOCK_WAIT", "400ms")
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--ping",
            &format!("{}/c", server.url()),
        ])
        .args(["--", "echo", "must not run"])
        .run();
    assert_eq!(out.code(), 75, "{}", out.stderr);
    assert!(
        out.elapsed >= Duration::from_millis(400),
        "{:?}",
        out.elapsed
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    assert_eq!(out.stdout, "");
    let requests = server.wait_for(1, Duration::from_secs(5));
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/c/log");
    assert!(
        requests[0].text().contains("after 400ms"),
        "{}",
        requests[0].text()
    );
}

#[test]
fn a_waiting_run_can_be_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    let _first = holder(&lock, &[], "echo ready; exec sleep 20");
    let mut waiting = cronbeat()
        .args(["--lock", lock.to_str().unwrap(), "--overlap", "wait", "-v"])
        .args(["--", "echo", "must not run"])
        .spawn();
    waiting.wait_stderr("waiting for the lock", READY);
    waiting.signal(libc::SIGTERM);
    let out = waiting.wait();
    assert_eq!(out.code(), 143);
    assert_eq!(out.stdout, "");
}

#[test]
fn replace_stops_the_running_one_which_reports_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    let server = Server::start();
    let first = holder(
        &lock,
        &[
            "--ping",
            &format!("{}/first", server.url()),
            "--log-format",
            "json",
        ],
        "echo ready; echo $$; exec sleep 20",
    );
    // The command's group is recorded as soon as cronbeat has seen it start.
    let mut lock_text = String::new();
    let recorded = eventually(READY, || {
        lock_text = std::fs::read_to_string(&lock).unwrap();
        lock_text.contains("pgid=")
    });
    assert!(recorded, "{lock_text:?}");
    assert!(
        lock_text.starts_with(&format!("pid={}\n", first.pid())),
        "{lock_text:?}"
    );

    let second = cronbeat()
        .args(["--lock", lock.to_str().unwrap(), "--overlap", "replace"])
        .args(["--ping", &format!("{}/second", server.url())])
        .args(["--", "echo", "replaced"])
        .run();
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert_eq!(second.stdout, "replaced\n");
    assert!(
        second.elapsed < Duration::from_secs(5),
        "{:?}",
        second.elapsed
    );

    let first = first.wait();
    assert_eq!(first.code(), 143);
    assert_eq!(first.event("finished")["outcome"], "terminated");
    let requests = server.wait_for(4, Duration::from_secs(5));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    for expected in ["/first/start", "/first/log", "/second/start", "/second/0"] {
        assert!(paths.contains(&expected), "{paths:?}");
    }
    // Released runs leave no pid behind for a later replace to trust.
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
}

#[test]
fn replace_kills_a_run_that_ignores_sigterm_after_its_own_grace() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    // The old run would wait 30 s before killing its command; the newcomer allows 500 ms.
    let mut first = cronbeat()
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--kill-after",
            "30s",
            "--log-format",
            "json",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "trap '' TERM; echo $$; echo ready; while :; do sleep 0.05; done",
        ])
        .spawn();
    let shell: i32 = first.wait_stdout("", READY).parse().unwrap();
    first.wait_stdout("ready", READY);
    let second = cronbeat()
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--overlap",
            "replace",
            "--kill-after",
            "500ms",
        ])
        .args(["--", "echo", "replaced"])
        .run();
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert_eq!(second.stdout, "replaced\n");
    assert!(
        second.elapsed >= Duration::from_millis(500),
        "{:?}",
        second.elapsed
    );
    assert!(
        second.elapsed < Duration::from_secs(10),
        "{:?}",
        second.elapsed
    );
    assert!(
        wait_gone(shell, Duration::from_secs(2)),
        "the old command survived"
    );
    // The old cronbeat normally outlives its killed command just long enough to report the run; on a
    // machine too loaded for it to release the lock within a second it is killed as well.
    let first = first.wait();
    match first.status.code() {
        Some(code) => {
            assert_eq!(code, 137, "{}", first.stderr);
            assert_eq!(first.event("finished")["outcome"], "terminated");
        }
        None => assert!(!first.stderr.contains("\"finished\""), "{}", first.stderr),
    }
}

#[test]
fn replace_never_signals_a_pid_that_does_not_hold_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("job.lock");
    // A stranger whose pid is left in the file, and another tool holding the lock.
    let mut stranger = Command::new("sleep").arg("20").spawn().unwrap();
    std::fs::write(
        &lock,
        format!("pid={}\npgid={}\n", stranger.id(), stranger.id()),
    )
    .unwrap();
    let _foreign = {
        let mut bg = Cronbeat::program("flock")
            .args([
                lock.to_str().unwrap(),
                "sh",
                "-c",
                "echo ready; exec sleep 20",
            ])
            .spawn();
        bg.wait_stdout("ready", READY);
        bg
    };
    let out = cronbeat()
        .args([
            "--lock",
            lock.to_str().unwrap(),
            "--overlap",
            "replace",
            "--lock-wait",
            "300ms",
        ])
        .args(["--", "echo", "must not run"])
        .run();
    assert_eq!(out.code(), 75, "{}", out.stderr);
    assert!(
        out.stderr.contains("not a running cronbeat"),
        "{}",
        out.stderr
    );
    assert!(alive(stranger.id() as i32), "the stranger was signalled");
    let _ = stranger.kill();
    let _ = stranger.wait();
}

#[test]
fn overlap_needs_a_lock() {
    let out = cronbeat().args(["--overlap", "wait", "--", "true"]).run();
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("--overlap: needs a lock file (--lock)"),
        "{}",
        out.stderr
    );
    let out = cronbeat()
        .args([
            "--lock",
            "/tmp/x.lock",
            "--overlap",
            "sometimes",
            "--",
            "true",
        ])
        .run();
    assert_eq!(out.code(), 2);
}
