//! A run stopped by a forwarded SIGTERM/SIGINT is "terminated": its own outcome word, a Healthchecks
//! log note rather than a failure, and the command's own exit status. A crash stays a failure.

use std::time::Duration;

use crate::harness::*;

fn stopped_by(sig: i32, script: &str) -> (Output, Vec<Request>) {
    let server = Server::start();
    let mut bg = cronbeat()
        .args([
            "--ping",
            &format!("{}/c", server.url()),
            "--log-format",
            "json",
        ])
        .args(["--kill-after", "2s", "--", "sh", "-c", script])
        .spawn();
    bg.wait_stdout("ready", Duration::from_secs(10));
    bg.signal(sig);
    let out = bg.wait();
    let requests = server.wait_for(2, Duration::from_secs(5));
    (out, requests)
}

#[test]
fn sigterm_gives_the_terminated_outcome() {
    let (out, requests) = stopped_by(libc::SIGTERM, "echo ready; exec sleep 20");
    assert_eq!(out.code(), 143, "{}", out.stderr);
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "terminated");
    assert_eq!(finished["success"], false);
    assert_eq!(
        finished["message"].as_str().unwrap().split(" in ").next(),
        Some("finished: terminated by SIGTERM")
    );
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/c/start", "/c/log"]);
    let body = without_cost(&requests[1].text());
    assert!(body.starts_with("ready\n"), "{body:?}");
    assert!(
        body.ends_with("cronbeat: terminated by SIGTERM\n"),
        "{body:?}"
    );
}

#[test]
fn a_command_that_exits_cleanly_on_sigint_is_still_terminated() {
    let (out, requests) = stopped_by(
        libc::SIGINT,
        "trap 'echo bye; exit 0' INT; echo ready; while :; do sleep 0.05; done",
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.event("finished")["outcome"], "terminated");
    let last = requests.last().unwrap();
    assert_eq!(last.path, "/c/log");
    assert!(
        last.text()
            .contains("terminated by SIGINT (exited with status 0)"),
        "{:?}",
        last.text()
    );
}

#[test]
fn a_crash_is_not_terminated() {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/c", server.url()),
            "--log-format",
            "json",
        ])
        .args(["--", "sh", "-c", "kill -TERM $$"])
        .run();
    assert_eq!(out.code(), 143);
    assert_eq!(out.event("finished")["outcome"], "signal");
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.last().unwrap().path, "/c/fail");
}
