//! The reported tail: cut on a UTF-8 boundary, a marker when truncated, `--strip-ansi`, `--redact`.
//! What the command prints still passes through byte for byte.

use std::time::Duration;

use crate::harness::*;

fn reported(args: &[&str], script: &str) -> (Vec<u8>, Vec<u8>) {
    let server = Server::start();
    let out = cronbeat()
        .args(["--ping", &format!("{}/c", server.url())])
        .args(args)
        .args(["--", "sh", "-c", script])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.last().unwrap().path, "/c/0");
    let body = requests.last().unwrap().body.clone();
    let body = String::from_utf8(body)
        .map(|text| without_cost(&text).into_bytes())
        .unwrap_or_else(|e| e.into_bytes());
    (out.raw_stdout, body)
}

#[test]
fn a_truncated_tail_starts_on_a_character_and_says_what_was_cut() {
    // 20 three-byte characters: a 10-byte tail starts inside one.
    let (stdout, body) = reported(&["--tail", "10"], "printf '€%.0s' $(seq 20)");
    assert_eq!(stdout, "€".repeat(20).as_bytes());
    let body = String::from_utf8(body).expect("the tail is valid UTF-8");
    assert_eq!(body, "[… 51 bytes cut …]\n€€€");

    // A tail that holds everything has no marker.
    let (_, body) = reported(&["--tail", "100"], "echo short");
    assert_eq!(body, b"short\n");
}

#[test]
fn escapes_are_stripped_from_the_report_only() {
    let script = "printf '\\033[32mok\\033[0m \\033]0;title\\007done\\n'";
    let (stdout, body) = reported(&["--strip-ansi"], script);
    assert_eq!(stdout, b"\x1b[32mok\x1b[0m \x1b]0;title\x07done\n");
    assert_eq!(body, b"ok done\n");

    let (_, body) = reported(&[], script);
    assert_eq!(body, stdout, "without --strip-ansi the tail is as printed");
}

#[test]
fn secrets_are_redacted_from_the_report_only() {
    let script = "echo 'login alice Password=hunter2'; echo 'token ghp_abcDEF123 used'";
    let (stdout, body) = reported(
        &[
            "--redact",
            "(?i)password=(\\S+)",
            "--redact",
            "ghp_[A-Za-z0-9]+",
        ],
        script,
    );
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        "login alice Password=hunter2\ntoken ghp_abcDEF123 used\n"
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "login alice Password=[REDACTED]\ntoken [REDACTED] used\n"
    );
}

#[test]
fn hygiene_from_the_config_file_and_the_environment() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nping = \"{}/c\"\nstrip_ansi = true\nredact = [\"s3cr[e]t\", \"k(ey)\"]\n",
            server.url()
        ),
    )
    .unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap()])
        .args(["--", "printf", "\\033[1ms3cret key\\033[0m"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let out = cronbeat()
        .env("CRONBEAT_REDACT", "s3cret")
        .env("CRONBEAT_STRIP_ANSI", "1")
        .args(["--ping", &format!("{}/e", server.url())])
        .args(["--", "printf", "\\033[1ms3cret key\\033[0m"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = server.wait_for(4, Duration::from_secs(5));
    let body = |path: &str| without_cost(&requests.iter().find(|r| r.path == path).unwrap().text());
    assert_eq!(body("/c/0"), "[REDACTED] k[REDACTED]");
    assert_eq!(body("/e/0"), "[REDACTED] key");
}

#[test]
fn a_bad_regex_is_a_usage_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let out = cronbeat()
        .args(["--redact", "(unclosed"])
        .args(["--", "touch", marker.to_str().unwrap()])
        .run();
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("--redact \"(unclosed\" is not a valid regex"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists());
}
