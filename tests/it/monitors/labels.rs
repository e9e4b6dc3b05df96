//! Lines about a monitor name which one: two checks on one host have the same redacted target (their
//! paths are the secrets), so every line also gives the monitor's position and kind.

use crate::harness::*;

const FIRST: &str = "0b6f1c3e-7d2a-4c59-9a41-5e8f2d7c1aa1";
const SECOND: &str = "9d0e2f4a-6b8c-4e1f-8a3d-2c7b5e9f0bb2";

/// Two checks on one server, both answering 500, each tried once.
fn two_failing_checks(extra: &[&str]) -> Output {
    let server = Server::start();
    server.respond("", Behavior::status(500));
    let first = format!("{}/{FIRST}", server.url());
    let second = format!("{}/{SECOND}", server.url());
    let args = ["--ping", &first, "--ping", &second, "--ping-retries", "0"];
    cronbeat()
        .args(args)
        .args(extra)
        .args(["--no-start-ping", "--", "true"])
        .run()
}

#[track_caller]
fn assert_no_secret(stderr: &str) {
    let checked = without_run_ids(stderr);
    for secret in [FIRST, SECOND] {
        // Not even a piece of the path: every group of the UUID is checked.
        for piece in secret.split('-') {
            assert!(
                !checked.contains(piece),
                "{piece} of a ping URL leaked: {stderr}"
            );
        }
    }
}

/// `stderr` with the run ids it gives (`run id ID` with -v, `"run_id":"ID"` in JSON) taken out: a run id
/// is a random UUID, which holds one of the secrets' 4-digit groups about once in 300 runs. Only the
/// run id's own text goes, so a secret printed anywhere else, whole or in part, is still seen; and the
/// run id is never a secret (checked here, so a leak cannot hide as one).
fn without_run_ids(stderr: &str) -> String {
    let mut ids: Vec<String> = json_events(stderr)
        .iter()
        .filter_map(|e| e["run_id"].as_str().map(str::to_string))
        .collect();
    ids.extend(stderr.lines().filter_map(|l| {
        let (_, rest) = l.split_once("run id ")?;
        rest.get(..36).map(str::to_string)
    }));
    let mut checked = stderr.to_string();
    for id in ids {
        assert!(
            id.split('-').map(str::len).eq([8, 4, 4, 4, 12]),
            "not a run id: {id:?} in {stderr}"
        );
        assert!(![FIRST, SECOND].contains(&id.as_str()), "{stderr}");
        checked = checked.replace(&id, "<run id>");
    }
    checked
}

#[test]
fn two_failing_monitors_on_one_host_give_two_different_warnings_without_their_secrets() {
    let out = two_failing_checks(&[]);
    out.assert_code(0);
    let warnings: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("failed"))
        .collect();
    assert_eq!(warnings.len(), 2, "{}", out.stderr);
    assert_ne!(warnings[0], warnings[1], "the two monitors look alike");
    let host = "127.0.0.1:";
    for position in [1, 2] {
        let label = format!("cronbeat: monitor {position} (healthchecks, {host}");
        assert!(
            warnings.iter().any(|w| w.starts_with(&label)),
            "no warning starts with {label:?}: {warnings:#?}"
        );
    }
    assert!(warnings
        .iter()
        .all(|w| w.contains("finish ping failed after 1 attempt: HTTP 500")));
    assert_no_secret(&out.stderr);
}

#[test]
fn json_events_carry_the_monitors_position() {
    let out = two_failing_checks(&["--log-format", "json"]);
    out.assert_code(0);
    let failed: Vec<_> = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "ping_failed")
        .collect();
    let mut positions: Vec<u64> = failed
        .iter()
        .map(|e| e["position"].as_u64().expect("a position"))
        .collect();
    positions.sort();
    assert_eq!(positions, [1, 2], "{}", out.stderr);
    for event in &failed {
        assert_eq!(event["monitor"], "healthchecks");
        let message = event["message"].as_str().unwrap();
        let label = format!("monitor {} (healthchecks, ", event["position"]);
        assert!(message.starts_with(&label), "{message}");
    }
    assert_no_secret(&out.stderr);
}

#[test]
fn verbose_lines_name_the_monitor_too() {
    let server = Server::start();
    let check = format!("{}/{FIRST}", server.url());
    let out = cronbeat()
        .args(["-v", "--ping", &check, "--", "true"])
        .run();
    out.assert_code(0);
    for moment in ["start", "finish"] {
        let line = format!(": {moment} ping sent");
        assert!(
            out.stderr.lines().any(|l| l
                .starts_with("cronbeat: monitor 1 (healthchecks, 127.0.0.1:")
                && l.ends_with(&line)),
            "{}",
            out.stderr
        );
    }
    assert_no_secret(&out.stderr);
}

/// The check itself, on lines made up to hold what a run prints by chance: a run id that holds a group
/// of a secret is no leak, the same group anywhere else is.
#[test]
fn a_run_id_that_holds_a_group_of_a_secret_is_no_leak() {
    let id = "00000000-7d2a-4000-8000-000000000000";
    assert_no_secret(&format!("cronbeat: started pid 7, run id {id}\n"));
    assert_no_secret(&format!("{{\"event\":\"started\",\"run_id\":\"{id}\"}}\n"));
    let leak = std::panic::catch_unwind(|| {
        assert_no_secret(&format!("cronbeat: run id {id}: ping to …/7d2a failed\n"))
    });
    assert!(
        leak.is_err(),
        "a group of the secret outside the run id was not seen"
    );
}
