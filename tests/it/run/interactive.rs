//! Interactive use in a terminal: cronbeat runs under a pseudo-terminal made by `script`
//! (util-linux); the command can read the terminal, and Ctrl-C ends it.
//!
//! The commands that get Ctrl-C do not fork after saying they are ready: a shell that is in the
//! middle of forking when SIGINT arrives can lose it (dash does), with or without cronbeat.

use crate::harness::*;

/// `script -qec "exec cronbeat ARGS..." /dev/null`, whose stdin is typed into the terminal.
/// `exec` makes cronbeat itself the session leader in the terminal's foreground.
fn in_terminal(args: &[&str]) -> Option<Cronbeat> {
    if !have("script") {
        eprintln!("skipped: script (util-linux) is not installed");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let line = format!("exec {}", quoted.join(" "));
    Some(
        Cronbeat::program("script")
            .args(["-qec", &line, "/dev/null"])
            .env("SHELL", "/bin/sh")
            .interactive(),
    )
}

#[test]
fn the_command_reads_the_terminal() {
    let Some(cmd) = in_terminal(&[
        "--",
        "sh",
        "-c",
        "[ -t 0 ] && echo stdin is a tty; read x; echo got $x",
    ]) else {
        return;
    };
    let mut run = cmd.spawn();
    run.wait_for_line_containing("stdin is a tty");
    run.write_stdin(b"hello\n");
    run.wait_for_line("got hello");
    run.wait().assert_code(0);
}

#[test]
fn ctrl_c_ends_the_command_with_130() {
    // `-v` says `started` once the terminal belongs to the command.
    let Some(cmd) = in_terminal(&["-v", "--kill-after", "5s", "--", "sleep", "100"]) else {
        return;
    };
    let mut run = cmd.spawn();
    run.wait_for_line_containing("cronbeat: started");
    run.write_stdin(b"\x03");
    run.wait().assert_code(130);
}

#[test]
fn ctrl_c_reaches_a_command_that_handles_it() {
    if !have("perl") {
        eprintln!("skipped: perl is needed for a command that handles SIGINT without forking");
        return;
    }
    let Some(cmd) = in_terminal(&[
        "--kill-after",
        "5s",
        "--",
        "perl",
        "-e",
        r#"$| = 1; $SIG{INT} = sub { print "got INT\n"; exit 0 }; print "ready\n"; sleep 1 while 1"#,
    ]) else {
        return;
    };
    let mut run = cmd.spawn();
    run.wait_for_line("ready");
    run.write_stdin(b"\x03");
    run.wait_for_line_containing("got INT");
    run.wait().assert_code(0);
}

#[test]
fn the_terminal_is_given_back_when_the_command_ends() {
    // A shell without job control runs cronbeat in its own process group; once cronbeat returns,
    // that shell must be able to read the terminal again (else SIGTTIN stops it and this hangs).
    if !have("script") {
        eprintln!("skipped: script (util-linux) is not installed");
        return;
    }
    let line = format!("exec sh -c \"'{BIN}' -- true; echo ready; read x; echo got \\$x\"");
    let mut run = Cronbeat::program("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .interactive()
        .spawn();
    run.wait_for_line("ready");
    run.write_stdin(b"back\n");
    run.wait_for_line("got back");
    run.wait().assert_code(0);
}
