//! The command's output passes through byte for byte, each stream to its own, live, and cronbeat
//! adds nothing of its own when all is well.

use std::path::Path;

use crate::harness::*;

/// Deterministic bytes covering every value: NULs, invalid UTF-8, lone `\r`, no final newline.
fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    // Make sure the awkward cases are there whatever the generator does, and the data does not end in a newline.
    out[..8].copy_from_slice(&[0, 0xff, 0xfe, 0xc3, 0x28, b'\r', 0, 0x80]);
    if let Some(last) = out.last_mut() {
        *last = b'x';
    }
    out
}

fn write(path: &Path, data: &[u8]) -> String {
    std::fs::write(path, data).unwrap();
    path.display().to_string()
}

#[track_caller]
fn assert_same_bytes(what: &str, got: &[u8], expected: &[u8]) {
    if got != expected {
        let first_diff = got
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        panic!(
            "{what} differs: got {} bytes, expected {}, first difference at byte {first_diff}",
            got.len(),
            expected.len()
        );
    }
}

#[test]
fn binary_output_without_final_newline_passes_unchanged() {
    let dir = temp_dir();
    let data = binary(4096, 7);
    let file = write(&dir.path().join("bin"), &data);
    let out = cronbeat().args(["--", "cat", &file]).run();
    out.assert_code(0).assert_silent_stderr();
    assert_same_bytes("stdout", &out.raw_stdout, &data);
}

#[test]
fn a_line_without_newline_and_invalid_utf8_on_both_streams() {
    let out = cronbeat_sh(
        &[],
        r"printf 'no newline \377\376'; printf 'err \000\300 end' >&2",
    )
    .run();
    out.assert_code(0);
    assert_eq!(out.raw_stdout, b"no newline \xff\xfe");
    assert_eq!(out.raw_stderr, b"err \x00\xc0 end");
}

#[test]
fn megabytes_on_stdout_and_stderr_at_once_stay_apart_and_intact() {
    let dir = temp_dir();
    let out_data = binary(3 * 1024 * 1024 + 12345, 1);
    let err_data = binary(3 * 1024 * 1024 + 678, 2);
    let out_file = write(&dir.path().join("out"), &out_data);
    let err_file = write(&dir.path().join("err"), &err_data);
    let out = cronbeat_sh(
        &[],
        &format!("cat '{out_file}' & cat '{err_file}' >&2; wait"),
    )
    .run();
    out.assert_code(0);
    assert_same_bytes("stdout", &out.raw_stdout, &out_data);
    assert_same_bytes("stderr", &out.raw_stderr, &err_data);
}

#[test]
fn many_small_writes_keep_their_order() {
    let out = cronbeat_sh(
        &[],
        "i=0; while [ $i -lt 2000 ]; do echo \"line $i\"; echo \"err $i\" >&2; i=$((i+1)); done",
    )
    .run();
    out.assert_code(0);
    let expected_out: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let expected_err: String = (0..2000).map(|i| format!("err {i}\n")).collect();
    assert_eq!(out.stdout, expected_out);
    assert_eq!(out.stderr, expected_err);
}

#[test]
fn tail_sizes_are_accepted_and_do_not_change_the_output() {
    let dir = temp_dir();
    let data = binary(200_000, 3);
    let file = write(&dir.path().join("bin"), &data);
    for tail in ["0", "1", "100", "10K", "1MiB", "2M"] {
        let out = cronbeat().args(["--tail", tail, "--", "cat", &file]).run();
        out.assert_code(0).assert_silent_stderr();
        assert_same_bytes(
            &format!("stdout with --tail {tail}"),
            &out.raw_stdout,
            &data,
        );
    }
}

#[test]
fn output_is_passed_on_while_the_command_runs() {
    let gate = Gate::new();
    let mut run = cronbeat_sh(
        &[],
        &format!("echo first; {}; echo second", gate.wait_script()),
    )
    .spawn();
    // The command is blocked on the gate: seeing its first line now proves nothing waits for its end.
    assert_eq!(run.line(), "first");
    gate.open();
    assert_eq!(run.line(), "second");
    run.wait().assert_code(0).assert_silent_stderr();
}

#[test]
fn cronbeat_says_nothing_of_its_own_on_success_or_failure() {
    let out = cronbeat_sh(&["--timeout", "1m"], "echo out; echo err >&2").run();
    out.assert_code(0);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");

    // A failing command's status speaks for itself.
    let out = cronbeat_sh(&[], "echo out; echo err >&2; exit 3").run();
    out.assert_code(3);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn a_reader_that_goes_away_stops_the_command_as_without_cronbeat() {
    if !have("bash") {
        missing("bash, for PIPESTATUS");
        return;
    }
    // `yes` would print forever; when `head` closes the pipe it must get SIGPIPE through cronbeat too.
    let out = Cronbeat::program("bash")
        .args([
            "-c",
            &format!("'{BIN}' -- yes | head -n 2; exit ${{PIPESTATUS[0]}}"),
        ])
        .run();
    out.assert_code(128 + 13);
    assert_eq!(out.stdout, "y\ny\n");
}

#[test]
fn stdin_is_the_commands_stdin() {
    let out = cronbeat()
        .args(["--", "cat"])
        .stdin(&b"to the command\n\x00\xff"[..])
        .run();
    out.assert_code(0);
    assert_eq!(out.raw_stdout, b"to the command\n\x00\xff");
}
