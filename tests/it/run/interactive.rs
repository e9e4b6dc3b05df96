//! Interactive use in a terminal: cronbeat runs under a pseudo-terminal made by `script`
//! (util-linux); the command can read the terminal, and Ctrl-C ends it.
//!
//! The commands that get Ctrl-C do not fork after saying they are ready: a shell that is in the
//! middle of forking when SIGINT arrives can lose it (dash does), with or without cronbeat.

use std::time::Duration;

use crate::harness::*;

/// `script -qec "exec cronbeat ARGS..." /dev/null`, whose stdin is typed into the terminal.
/// `exec` makes cronbeat itself the session leader in the terminal's foreground.
fn in_terminal(args: &[&str]) -> Option<Cronbeat> {
    if !have("script") {
        missing("script (apt-get install bsdutils)");
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
        missing("perl, for a command that handles SIGINT without forking");
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
        missing("script (apt-get install bsdutils)");
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

/// Ctrl-C (or Ctrl-\) typed at the terminal reaches the command's group, not cronbeat: the command dies of
/// the signal, which is a stop on request like a forwarded one, not a crash. The exit status stays 128+N.
fn interrupted_from_the_terminal(key: &[u8], sig: i32) {
    let server = Server::start();
    let ping = format!("{}/c", server.url());
    let dir = Dir::new();
    // No core file from SIGQUIT; `exec` keeps the shell's pid, so nothing forks after `started`.
    let Some(cmd) = in_terminal(&[
        "--log-format",
        "json",
        "--ping",
        &ping,
        "--kill-after",
        "5s",
        "--",
        "sh",
        "-c",
        "ulimit -c 0; exec sleep 30",
    ]) else {
        return;
    };
    let mut run = cmd.dir(dir.path()).spawn();
    run.wait_for_line_containing(r#""event":"started""#);
    run.write_stdin(key);
    let out = run.wait();
    out.assert_code(128 + sig);
    // Under `script`, cronbeat's stderr is the terminal, which comes out on stdout; the terminal's echo
    // of the key (`^C`) may start the line.
    let finished = out
        .stdout
        .lines()
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .flat_map(json_events)
        .find(|e| e["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished event: {}", out.dump()));
    assert_eq!(finished["outcome"], "terminated", "{}", out.dump());
    assert_eq!(finished["exit_status"], 128 + sig);
    let paths: Vec<String> = server
        .wait_for(2, Duration::from_secs(5))
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(paths, ["/c/start", "/c/log"], "{}", out.dump());
}

#[test]
fn ctrl_c_in_the_terminal_is_terminated_not_a_crash() {
    interrupted_from_the_terminal(b"\x03", libc::SIGINT);
}

#[test]
fn ctrl_backslash_in_the_terminal_is_terminated_not_a_crash() {
    interrupted_from_the_terminal(b"\x1c", libc::SIGQUIT);
}
