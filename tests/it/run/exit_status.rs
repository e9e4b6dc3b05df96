//! The exit status tells the truth: the command's own code, 128+N after signal N, 124 on overrun,
//! 126 when the command cannot be executed, 127 when it is not found.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::harness::*;

#[test]
fn the_commands_own_exit_code() {
    for code in [0, 1, 3, 42, 255] {
        let out = cronbeat_sh(&[], &format!("exit {code}")).run();
        out.assert_code(code).assert_silent_stderr();
    }
}

#[test]
fn death_by_signal_is_128_plus_n() {
    for (sig, name) in [(15, "TERM"), (9, "KILL"), (2, "INT"), (10, "USR1")] {
        let out = cronbeat_sh(&[], &format!("kill -{name} $$; sleep 5")).run();
        out.assert_code(128 + sig);
    }
}

#[test]
fn a_command_that_dies_of_a_signal_directly() {
    // Not through a shell: the program itself is killed by the signal.
    let out = cronbeat()
        .args(["--", "perl", "-e", "kill 'ALRM', $$; sleep 5"])
        .run();
    out.assert_code(128 + 14);
}

#[test]
fn overrun_is_124() {
    let out = cronbeat()
        .args([
            "--timeout",
            "300ms",
            "--kill-after",
            "1s",
            "--",
            "sleep",
            "10",
        ])
        .run();
    out.assert_code(124);
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn overrun_is_124_even_when_the_command_exits_0_on_term() {
    let out = cronbeat_sh(
        &["--timeout", "300ms", "--kill-after", "5s"],
        "trap 'exit 0' TERM; while :; do sleep 0.05; done",
    )
    .run();
    out.assert_code(124);
}

#[test]
fn not_found_is_127() {
    let dir = temp_dir();
    let missing = dir.path().join("no-such-program");
    for program in [
        missing.to_str().unwrap(),
        "cronbeat-no-such-program-on-path",
    ] {
        let out = cronbeat().args(["--", program, "arg"]).run();
        out.assert_code(127);
        let line = out.one_error_line();
        assert!(line.contains(program), "{line}");
        assert!(out.stdout.is_empty(), "{}", out.dump());
    }
}

#[test]
fn not_executable_is_126() {
    let dir = temp_dir();
    let script = dir.path().join("plain-file");
    std::fs::write(&script, "#!/bin/sh\necho should not run\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cronbeat().args(["--", script.to_str().unwrap()]).run();
    out.assert_code(126);
    let line = out.one_error_line();
    assert!(line.contains("plain-file"), "{line}");
    assert!(out.stdout.is_empty(), "{}", out.dump());
}

#[test]
fn a_directory_is_126() {
    let dir = temp_dir();
    let out = cronbeat().args(["--", dir.path().to_str().unwrap()]).run();
    out.assert_code(126);
    let line = out.one_error_line();
    assert!(line.contains("directory"), "{line}");
}

#[test]
fn a_bad_interpreter_is_126() {
    let dir = temp_dir();
    let script = dir.path().join("bad-interp");
    write_executable(&script, "#!/nonexistent/interpreter\necho should not run\n");
    let out = cronbeat().args(["--", script.to_str().unwrap()]).run();
    out.assert_code(126);
    let line = out.one_error_line();
    assert!(line.contains("bad-interp"), "{line}");
    assert!(out.stdout.is_empty(), "{}", out.dump());
}

#[test]
fn a_program_found_on_path_but_not_executable_is_126() {
    let dir = temp_dir();
    let script = dir.path().join("cronbeat-test-noexec");
    std::fs::write(&script, "echo should not run\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let out = cronbeat()
        .args(["--", "cronbeat-test-noexec"])
        .env("PATH", path)
        .run();
    out.assert_code(126);
}
