//! `--env-file PATH`: variables for the command in systemd's `EnvironmentFile=` syntax, whose values
//! never show in cronbeat's arguments, environment, logs, errors or the reported and stored tail.

use std::time::Duration;

use crate::harness::*;

const SECRET: &str = "s3cr3t-value-xyz";

#[test]
fn the_command_gets_the_variables_of_every_file_and_the_later_wins() {
    let dir = Dir::new();
    let first = dir.write(
        "first.env",
        &format!(
            "# the database\nDB_PASSWORD={SECRET}\n; another comment\n  GREETING = \"hello, \\\"world\\\"\"  \n\
             LITERAL='$HOME \\n'\nLONG=one \\\ntwo\nSHARED=first\n"
        ),
    );
    let second = dir.write("second.env", "SHARED=second\n");
    let out = cronbeat()
        .args(["-v", "--env-file", &first, "--env-file", &second])
        .env("SHARED", "inherited")
        .args([
            "--",
            "sh",
            "-c",
            "printf '%s|' \"$DB_PASSWORD\" \"$GREETING\" \"$LITERAL\" \"$LONG\" \"$SHARED\"",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        format!("{SECRET}|hello, \"world\"|$HOME \\n|one two|second|")
    );
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);

    // From the config file and the variable too.
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\ncommand = [\"sh\", \"-c\", \"echo $DB_PASSWORD $SHARED\"]\nenv_file = [{first:?}, {second:?}]\n"
        ),
    );
    let out = cronbeat().args(["--config", &config, "--job", "a"]).run();
    out.assert_code(0);
    assert_eq!(out.stdout, format!("{SECRET} second\n"));
    let out = cronbeat()
        .env("CRONBEAT_ENV_FILE", &second)
        .args(["--", "sh", "-c", "echo $SHARED"])
        .run();
    assert_eq!(out.stdout, "second\n");
}

#[test]
fn the_values_are_not_in_cronbeats_arguments() {
    let dir = Dir::new();
    let file = dir.write("job.env", &format!("TOKEN={SECRET}\n"));
    let mut run = cronbeat()
        .args([
            "--env-file",
            &file,
            "--",
            "sh",
            "-c",
            "echo ready; sleep 30",
        ])
        .spawn();
    run.wait_stdout("ready", Duration::from_secs(10));
    let args = cmdline(run.pid());
    assert!(args.contains("--env-file"), "{args}");
    assert!(!args.contains(SECRET), "{args}");
    // cronbeat's own environment is what it was started with: the values are set for the command alone.
    let own = environ(run.pid());
    assert!(own.contains("PATH="), "{own}");
    assert!(
        !own.contains(SECRET),
        "cronbeat's environment holds the value: {own}"
    );
    let children = descendants(run.pid());
    assert!(!children.is_empty());
    for pid in &children {
        assert!(!cmdline(*pid).contains(SECRET));
    }
    assert!(
        children.iter().any(|pid| environ(*pid)
            .lines()
            .any(|l| l == format!("TOKEN={SECRET}"))),
        "the command did not get the variable"
    );
    run.signal(libc::SIGTERM);
    run.wait();
}

/// What the command prints of the values passes through, and the tail the monitors get and the ledger
/// keeps masks them: every value of 6 bytes or more, each such line of a value on several lines, and a
/// URL's password on its own; shorter values are settings and stay.
#[test]
fn the_values_are_masked_in_the_reported_and_stored_tail() {
    let dir = Dir::new();
    let state = Dir::new();
    let server = Server::start();
    let file = dir.write(
        "job.env",
        "TOKEN=hunter2secret\nLANG_CODE=en_US\nDB=postgres://backup:pw-61c9e@db/prod\n\
         KEY=\"-----BEGIN TEST KEY-----\nMIIEvQIBADANBgkq\n-----END TEST KEY-----\"\n",
    );
    let hidden = [
        "hunter2secret",
        "pw-61c9e",
        "postgres://backup",
        "MIIEvQIBADANBgkq",
        "BEGIN TEST KEY",
    ];
    let script = "echo \"token is $TOKEN\"; echo \"lang $LANG_CODE\"; echo \"db $DB\"; \
                  echo 'password pw-61c9e'; echo \"$KEY\" | sed -n 2p; exit 1";
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--name", "envleak", "--env-file", &file])
        .args(["--ping", &format!("{}/hc", server.url())])
        .args(["--", "sh", "-c", script])
        .run();
    out.assert_code(1);
    // The command's output is its own: byte for byte.
    assert_eq!(
        out.stdout,
        "token is hunter2secret\nlang en_US\ndb postgres://backup:pw-61c9e@db/prod\n\
         password pw-61c9e\nMIIEvQIBADANBgkq\n"
    );
    let expected = "token is [REDACTED]\nlang en_US\ndb [REDACTED]\npassword [REDACTED]\n\
                    [REDACTED]\n";
    let requests = server.requests();
    let finish = requests
        .iter()
        .find(|r| r.path == "/hc/1")
        .unwrap_or_else(|| panic!("no finish report: {requests:?}"));
    let body = finish.text();
    assert_eq!(without_cost(&body), expected);

    let stored = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["last-output", "envleak"])
        .run();
    stored.assert_code(0);
    assert_eq!(stored.stdout, expected);
    let tails = state.join("ledger").join("envleak").join("tails");
    let files: Vec<_> = std::fs::read_dir(&tails)
        .unwrap_or_else(|e| panic!("{}: {e}", tails.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let kept = String::from_utf8_lossy(&std::fs::read(&files[0]).unwrap()).into_owned();
    assert!(kept.contains("token is [REDACTED]"), "{kept}");
    for (what, text) in [
        ("the report", &body),
        ("last-output", &stored.stdout),
        ("the tails file", &kept),
        ("cronbeat's stderr", &out.stderr),
    ] {
        for value in hidden {
            assert!(!text.contains(value), "{what} holds {value:?}: {text}");
        }
    }
}

#[test]
fn a_bad_file_is_refused_naming_the_file_and_line_never_its_text() {
    let dir = Dir::new();
    let cases = [
        (
            format!("A=1\nexport B={SECRET}\n"),
            ":2: `export KEY=` is shell syntax",
        ),
        (
            format!("A=1\n\nB='{SECRET}\n"),
            ":3: the value's opening ' is never closed",
        ),
        (format!("{SECRET}\n"), ":1: expected KEY=value"),
        (
            format!("CRONBEAT_PING={SECRET}\n"),
            ":1: a CRONBEAT_ name: cronbeat's own variables",
        ),
        (
            format!("9X={SECRET}\n"),
            ":1: the text before `=` is not a variable name",
        ),
        // A secret pasted without its key, with `=` in it: what stands before `=` is the secret.
        (
            format!("A=1\n{SECRET}=x\n"),
            ":2: the text before `=` is not a variable name",
        ),
        // A private key pasted into the file: its lines are neither quoted nor named.
        (
            format!(
                "A=1\n-----BEGIN PRIVATE KEY-----\nMIIEvQ{SECRET}IBADANBgkqhkiG9w0BAQEFAAS+/Q==\n\
                 -----END PRIVATE KEY-----\n"
            ),
            ":2: expected KEY=value",
        ),
        (
            format!("A=1\n\nMIIEvQ{SECRET}IBADANBgkqhkiG9w0BAQEFAAS+/Q==\n"),
            ":3: the text before `=` is not a variable name",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.write(&format!("{i}.env"), text);
        let out = cronbeat()
            .args(["--env-file", &path, "--", "echo", "must not run"])
            .run();
        out.assert_code(2);
        assert!(out.stdout.is_empty());
        let line = out.one_error_line();
        assert!(
            line.starts_with(&format!("cronbeat: --env-file: {path}{needle}")),
            "{line}"
        );
        for text in [SECRET, "MIIEvQ", "PRIVATE", "PING"] {
            assert!(!out.stderr.contains(text), "{line}");
        }
        // `check` reads the file as a run does.
        let config = dir.write(
            &format!("{i}.toml"),
            &format!("[jobs.a]\ncommand = [\"true\"]\nenv_file = {path:?}\n"),
        );
        let out = cronbeat().args(["check", "--config", &config]).run();
        assert_eq!(out.code(), 2, "{}", out.dump());
        assert!(out.stderr.contains(needle), "{}", out.dump());
        assert!(!out.stderr.contains(SECRET) && !out.stdout.contains(SECRET));
    }
    let out = cronbeat()
        .env("CRONBEAT_ENV_FILE", dir.join("missing.env"))
        .args(["--", "true"])
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["CRONBEAT_ENV_FILE: cannot read ", "missing.env"]);
}
