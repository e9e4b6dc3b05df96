//! Success rules: `--success-codes`, `--stderr-fails`, `--min-runtime` decide what is reported
//! (monitors, logs, the quiet replay); the exit status stays the command's.

use std::time::Duration;

use crate::harness::*;

/// Runs `args` with a Healthchecks ping and JSON logs; returns (exit status, finish path, finish body, outcome).
fn judged(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, serde_json::Value) {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/c", server.url()),
            "--log-format",
            "json",
        ])
        .envs(env)
        .args(args)
        .run();
    let requests = server.wait_for(2, Duration::from_secs(5));
    let finish = requests.last().expect("a finish ping");
    (
        out.code(),
        finish.path.clone(),
        finish.text(),
        out.event("finished"),
    )
}

#[test]
fn a_listed_non_zero_status_is_a_success_and_still_the_exit_status() {
    let (code, path, body, finished) = judged(
        &[
            "--success-codes",
            "0,3",
            "--",
            "sh",
            "-c",
            "echo partial; exit 3",
        ],
        &[],
    );
    assert_eq!(code, 3);
    assert_eq!(path, "/c/0");
    assert!(body.starts_with("partial\n"), "{body:?}");
    assert!(
        body.contains("exited with status 3, a success code"),
        "{body:?}"
    );
    assert_eq!(finished["outcome"], "success");
    assert_eq!(finished["success"], true);
    assert_eq!(finished["exit_status"], 3);

    // Not listed: a plain failure, reported with its code.
    let (code, path, _, finished) =
        judged(&["--success-codes", "0,3", "--", "sh", "-c", "exit 4"], &[]);
    assert_eq!((code, path.as_str()), (4, "/c/4"));
    assert_eq!(finished["outcome"], "failure");
}

#[test]
fn zero_left_out_of_the_success_codes_fails() {
    let (code, path, body, finished) =
        judged(&["--", "true"], &[("CRONBEAT_SUCCESS_CODES", "1-2")]);
    assert_eq!(code, 0);
    assert_eq!(path, "/c/fail");
    assert!(
        body.contains("which --success-codes does not count as success"),
        "{body:?}"
    );
    assert_eq!(finished["success"], false);
}

#[test]
fn stderr_output_fails_the_run() {
    let (code, path, body, finished) = judged(
        &["--stderr-fails", "--", "sh", "-c", "echo warning: disk >&2"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(path, "/c/fail");
    assert!(body.starts_with("warning: disk\n"), "{body:?}");
    assert!(body.contains("wrote to stderr"), "{body:?}");
    assert_eq!(finished["outcome"], "failure");

    // Only stdout: still a success.
    let (code, path, _, _) = judged(&["--stderr-fails", "--", "echo", "fine"], &[]);
    assert_eq!((code, path.as_str()), (0, "/c/0"));
}

#[test]
fn a_run_that_finishes_too_quickly_fails() {
    let (code, path, body, finished) = judged(&["--min-runtime", "2s", "--", "true"], &[]);
    assert_eq!(code, 0);
    assert_eq!(path, "/c/fail");
    assert!(body.contains("finished too quickly"), "{body:?}");
    assert!(body.contains("minimum runtime 2s"), "{body:?}");
    assert_eq!(finished["outcome"], "failure");

    let (code, path, _, _) = judged(
        &["--", "sleep", "0.4"],
        &[("CRONBEAT_MIN_RUNTIME", "200ms")],
    );
    assert_eq!((code, path.as_str()), (0, "/c/0"));
}

#[test]
fn quiet_mode_shows_the_output_of_a_run_failed_by_a_rule() {
    let out = cronbeat()
        .args([
            "--quiet",
            "--stderr-fails",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ])
        .run();
    assert_eq!(out.code(), 0);
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.starts_with("err\n"), "{}", out.stderr);

    let out = cronbeat()
        .args([
            "--quiet",
            "--success-codes",
            "0,3",
            "--",
            "sh",
            "-c",
            "echo hidden; exit 3",
        ])
        .run();
    assert_eq!(out.code(), 3);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
}

#[test]
fn rules_from_the_config_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nping = \"{}/c\"\n\n[jobs.sync]\ncommand = [\"sh\", \"-c\", \"exit 3\"]\n\
             success_codes = [0, 3]\nstderr_fails = true\nmin_runtime = \"1ms\"\n",
            server.url()
        ),
    )
    .unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap(), "--job", "sync"])
        .run();
    assert_eq!(out.code(), 3, "{}", out.stderr);
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.last().unwrap().path, "/c/0");

    std::fs::write(&config, "[defaults]\nsuccess_codes = \"0,x\"\n").unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap(), "--", "true"])
        .run();
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("invalid exit status \"x\""),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_success_code_is_a_usage_error() {
    let out = cronbeat()
        .args(["--success-codes", "0,256", "--", "true"])
        .run();
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("256"), "{}", out.stderr);
}

/// Services that take only a verdict get the verdict, not the raw exit status.
#[test]
fn verdict_only_services_follow_the_success_rules() {
    let server = Server::start();
    // Exit 3 listed as a success; exit 0 failed by --stderr-fails.
    for (args, script, code) in [
        (vec!["--success-codes", "0,3"], "exit 3", 3),
        (vec!["--stderr-fails"], "echo oops >&2", 0),
    ] {
        let out = cronbeat()
            .args(["--ping", &format!("dms+{}/snitch", server.url())])
            .args(["--ping", &format!("betterstack+{}/beat", server.url())])
            .args(&args)
            .args(["--", "sh", "-c", script])
            .run();
        assert_eq!(out.code(), code, "{}", out.stderr);
    }
    let requests = server.wait_for(4, Duration::from_secs(5));
    let dms: Vec<_> = requests.iter().filter(|r| r.path == "/snitch").collect();
    let beat: Vec<&str> = requests
        .iter()
        .filter(|r| r.path.starts_with("/beat"))
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(dms.len(), 2);
    assert_eq!(dms[0].param("s"), Some("0"), "a success code is a success");
    assert_eq!(dms[1].param("s"), Some("1"), "a rule failure is a failure");
    assert_eq!(beat, ["/beat", "/beat/fail"]);
}
