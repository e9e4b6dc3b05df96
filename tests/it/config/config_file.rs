//! The config file and the environment: precedence (command line > environment > job > defaults), a key and a
//! variable for every option, and one-line errors that name the file and the key without running anything.

use crate::harness::*;
/// The timeout that applied, read from the `-v` line the deadline produces.
fn timeout_used(args: &[&str], env: &[(&str, &str)], dir: &Dir) -> String {
    let out = cronbeat().args(args).envs(env).dir(dir.path()).run();
    assert_eq!(out.status.code(), Some(124), "stderr: {}", out.stderr);
    let line = out
        .stderr_lines()
        .into_iter()
        .find(|l| l.contains("timed out after"))
        .unwrap_or_else(|| panic!("no timeout line in {:?}", out.stderr))
        .to_string();
    let after = line.split("timed out after ").nth(1).unwrap();
    after.split(',').next().unwrap().to_string()
}

#[test]
fn each_level_beats_the_next_for_timeout() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        r#"
[defaults]
timeout = "100ms"
verbose = true

[jobs.plain]
command = ["sleep", "10"]

[jobs.own]
command = ["sleep", "10"]
timeout = "200ms"
"#,
    );
    let c = config.as_str();
    assert_eq!(
        timeout_used(&["--config", c, "--job", "plain"], &[], &dir),
        "100ms"
    );
    assert_eq!(
        timeout_used(&["--config", c, "--job", "own"], &[], &dir),
        "200ms"
    );
    let env = [("CRONBEAT_TIMEOUT", "300ms")];
    assert_eq!(
        timeout_used(&["--config", c, "--job", "own"], &env, &dir),
        "300ms"
    );
    let args = ["--config", c, "--job", "own", "--timeout", "400ms"];
    assert_eq!(timeout_used(&args, &env, &dir), "400ms");
    // The file and the job can come from the environment too.
    let env = [("CRONBEAT_CONFIG", c), ("CRONBEAT_JOB", "own")];
    assert_eq!(timeout_used(&[], &env, &dir), "200ms");
    let env = [("CRONBEAT_CONFIG", c), ("CRONBEAT_JOB", "nope")];
    assert_eq!(timeout_used(&["--job", "plain"], &env, &dir), "100ms");
}

#[test]
fn each_level_beats_the_next_for_log_format() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        r#"
[defaults]
verbose = true
log_format = "json"

[jobs.inherits]
command = ["true"]

[jobs.text]
command = ["true"]
log_format = "text"
"#,
    );
    let c = config.as_str();
    let is_json = |args: &[&str], env: &[(&str, &str)]| {
        let out = cronbeat().args(args).envs(env).dir(dir.path()).run();
        assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
        let lines = out.stderr_lines();
        assert!(!lines.is_empty(), "verbose run printed nothing");
        let json = lines[0].starts_with('{');
        for line in &lines {
            assert_eq!(
                line.starts_with('{'),
                json,
                "mixed formats: {:?}",
                out.stderr
            );
            assert_eq!(line.starts_with("cronbeat: "), !json, "{line}");
        }
        json
    };
    assert!(is_json(&["--config", c, "--job", "inherits"], &[]));
    assert!(!is_json(&["--config", c, "--job", "text"], &[]));
    let env = [("CRONBEAT_LOG_FORMAT", "json")];
    assert!(is_json(&["--config", c, "--job", "text"], &env));
    let args = ["--config", c, "--job", "text", "--log-format", "text"];
    assert!(!is_json(&args, &env));
}

#[test]
fn environment_turns_off_a_flag_the_file_turns_on() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        r#"
[defaults]
verbose = true

[jobs.hush]
command = ["sh", "-c", "echo out"]
quiet = true
"#,
    );
    let c = config.as_str();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = cronbeat().args(args).envs(env).dir(dir.path()).run();
        assert_eq!(out.status.code(), Some(0), "stderr: {}", out.stderr);
        out
    };
    let base = ["--config", c, "--job", "hush"];
    // quiet = true in the job: a successful run prints nothing at all.
    let out = run(&base, &[]);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    // CRONBEAT_QUIET=0 beats the job; verbose from the defaults then shows.
    let out = run(&base, &[("CRONBEAT_QUIET", "0")]);
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.contains("cronbeat: finished"), "{}", out.stderr);
    // CRONBEAT_VERBOSE=false beats the defaults.
    let out = run(
        &base,
        &[("CRONBEAT_QUIET", "false"), ("CRONBEAT_VERBOSE", "false")],
    );
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", ""));
    // The command line beats the environment.
    let out = run(
        &["--config", c, "--job", "hush", "-q"],
        &[("CRONBEAT_QUIET", "0")],
    );
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

#[test]
fn cronbeat_ping_holds_several_urls_and_beats_the_job() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        r#"
[jobs.j]
command = ["true"]
ping = "https://hc-ping.com/00000000-0000-4000-8000-000000000000"
"#,
    );
    let c = config.as_str();
    let out = cronbeat()
        .args(["check", "--config", c])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("(1 monitor)"), "{}", out.stdout);
    let env = [(
        "CRONBEAT_PING",
        "https://a.example/1 \n\thttps://a.example/2   https://a.example/3",
    )];
    let out = cronbeat()
        .args(["check", "--config", c])
        .envs(&env)
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("(3 monitors)"), "{}", out.stdout);
}

/// Every option of the command line is a config key with a `CRONBEAT_*` variable, and every key an option.
#[test]
fn every_option_has_a_key_and_a_variable() {
    let command = library::command();
    let keys = library::Layer::KEYS;
    let mut options = Vec::new();
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version", "config", "job"].contains(&long) {
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                match long {
                    "config" => Some("CRONBEAT_CONFIG"),
                    "job" => Some("CRONBEAT_JOB"),
                    _ => None,
                }
            );
            continue;
        }
        let key = long.replace('-', "_");
        assert!(keys.contains(&key.as_str()), "--{long} has no config key");
        let var = format!("CRONBEAT_{}", key.to_uppercase());
        if key == "ping" {
            // Read by hand (several URLs in one variable); the help says so.
            let help = arg.get_long_help().or(arg.get_help()).unwrap().to_string();
            assert!(help.contains(&var), "--ping help does not name {var}");
        } else {
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(var.as_str()),
                "--{long}"
            );
        }
        options.push(key);
    }
    // `command` and the `webhook` table (templates) only make sense in the file.
    for key in keys.iter().filter(|k| !["command", "webhook"].contains(*k)) {
        assert!(options.iter().any(|o| o == key), "key {key} has no option");
    }
}

/// A file that sets every key is valid; a bad value of each key, in the file or in its variable, is an
/// error naming that key or variable.
#[test]
fn every_key_and_variable_is_read() {
    let dir = Dir::new();
    let pings = dir.write(
        "pings",
        "https://hc-ping.com/00000000-0000-4000-8000-000000000000\n",
    );
    let all = format!(
        r#"
[defaults]
timeout = "30m"
kill_after = "5s"
lock = "{lock}"
jitter = "1s"
tail = "4K"
quiet = false
ping = ["https://hc-ping.com/11111111-1111-4111-8111-111111111111"]
ping_file = "{pings}"
no_start_ping = true
ping_timeout = "2s"
ping_retries = 1
verbose = true
log_format = "text"

[jobs.j]
command = ["true"]
"#,
        lock = dir.join("lock").display()
    );
    let c = dir.write("all.toml", &all);
    let out = cronbeat()
        .args(["check", "--config", &c])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains(" 2 monitors)"), "{}", out.stdout);

    let missing = dir.join("no-such-file").display().to_string();
    // (key, bad value in the file, bad value in the variable)
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("timeout", r#""5x""#, Some("5x")),
        ("kill_after", r#""soon""#, Some("soon")),
        ("lock", "5", None),
        ("jitter", "true", Some("1 parsec")),
        ("tail", r#""lots""#, Some("lots")),
        ("quiet", r#""yes please""#, Some("maybe")),
        ("ping", "5", Some("ftp://example.com/x")),
        ("ping_file", &format!("{missing:?}"), Some(&missing)),
        ("no_start_ping", "1", Some("maybe")),
        ("ping_timeout", r#""0s""#, Some("0")),
        ("ping_retries", "-1", Some("three")),
        ("verbose", r#""loud""#, Some("loud")),
        ("log_format", r#""xml""#, Some("xml")),
    ];
    for (key, in_file, in_env) in cases {
        let c = dir.write(
            "bad.toml",
            &format!("[jobs.j]\ncommand = [\"true\"]\n{key} = {in_file}\n"),
        );
        for args in [
            vec!["--config", c.as_str(), "--job", "j"],
            vec!["check", "--config", c.as_str()],
        ] {
            let out = cronbeat().args(&args).dir(dir.path()).run();
            out.assert_one_line_error(&[&format!("{c}:3: jobs.j.{key}: ")]);
        }
        if let Some(value) = in_env {
            let var = format!("CRONBEAT_{}", key.to_uppercase());
            let env = [(var.as_str(), *value)];
            let out = cronbeat()
                .args(["--", "true"])
                .envs(&env)
                .dir(dir.path())
                .run();
            out.assert_one_line_error(&[&format!("cronbeat: {var}: ")]);
        }
    }
}

/// Each config error: status 2, one line naming the file and the key, and the command does not run.
#[test]
fn config_errors_are_one_line_naming_file_and_key() {
    let dir = Dir::new();
    let marker = dir.join("ran");
    let m = marker.display().to_string();
    let job = |extra: &str| format!("[jobs.j]\ncommand = [\"touch\", {m:?}]\n{extra}\n");
    let cases: Vec<(String, Vec<&str>, Vec<String>)> = vec![
        (
            job("tiemout = \"5m\""),
            vec![],
            vec![":3: jobs.j.tiemout: unknown key `tiemout`".into()],
        ),
        (
            format!("[defaults]\ncolour = \"red\"\n{}", job("")),
            vec![],
            vec![":2: defaults.colour: unknown key `colour`".into()],
        ),
        (
            "[job.j]\ncommand = [\"true\"]\n".into(),
            vec![],
            vec![":1: job: unknown key `job`".into()],
        ),
        (
            job("quiet = \"yes\""),
            vec![],
            vec![":3: jobs.j.quiet: invalid type".into()],
        ),
        (
            "[jobs.j]\ncommand = \"touch ran\"\n".into(),
            vec![],
            vec![":2: jobs.j.command: invalid type".into()],
        ),
        (
            job("timeout = \"5x\""),
            vec![],
            vec![":3: jobs.j.timeout: invalid duration \"5x\"".into()],
        ),
        (
            job(""),
            vec!["--job", "nope"],
            vec![": jobs.nope: no such job".into(), "the file has j".into()],
        ),
        (
            "[jobs.j]\ntimeout = \"5m\"\n".into(),
            vec![],
            vec![":1: jobs.j.command: missing".into()],
        ),
        (
            "[jobs.j]\ncommand = []\n".into(),
            vec![],
            vec![":2: jobs.j.command: is empty".into()],
        ),
        (
            format!("[defaults]\ncommand = [\"touch\", {m:?}]\n"),
            vec![],
            vec![":2: defaults.command: ".into()],
        ),
        (
            job(""),
            vec!["--", "touch", m.as_str()],
            vec![":2: jobs.j.command: a command is also given after `--`".into()],
        ),
        (job("[jobs.j"), vec![], vec![":3: unclosed table".into()]),
        (
            job("ping_timeout = \"0s\""),
            vec![],
            vec![":3: jobs.j.ping_timeout: must be greater than zero".into()],
        ),
    ];
    for (text, extra_args, needles) in cases {
        let c = dir.write("cronbeat.toml", &text);
        let mut args = vec!["--config", c.as_str()];
        if !extra_args.contains(&"--job") {
            args.extend(["--job", "j"]);
        }
        args.extend(extra_args.iter().copied());
        let out = cronbeat().args(&args).dir(dir.path()).run();
        let mut all: Vec<String> = vec![format!("cronbeat: {c}")];
        all.extend(needles);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        out.assert_one_line_error(&all);
        assert!(!marker.exists(), "the command ran despite: {}", out.stderr);
    }
}

#[test]
fn file_level_errors() {
    let dir = Dir::new();
    let missing = dir.join("absent.toml").display().to_string();
    let out = cronbeat()
        .args(["--config", &missing, "--", "true"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&[&format!("cronbeat: {missing}: cannot read config file")]);
    let out = cronbeat()
        .args(["--job", "j", "--", "true"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["--job needs --config"]);
    let out = cronbeat()
        .args(["--timeout", "5x", "--", "true"])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["--timeout", "\"5x\""]);
    let out = cronbeat()
        .args(["--", "true"])
        .envs(&[("CRONBEAT_TIMEOUT", "5x")])
        .dir(dir.path())
        .run();
    out.assert_one_line_error(&["cronbeat: CRONBEAT_TIMEOUT: ", "\"5x\""]);
    // Defaults alone serve a command given after `--`.
    let c = dir.write("d.toml", "[defaults]\ntimeout = \"1m\"\n");
    let out = cronbeat()
        .args(["--config", &c, "--", "true"])
        .dir(dir.path())
        .run();
    assert_eq!((out.status.code(), out.stderr.as_str()), (Some(0), ""));
    let out = cronbeat().args(["--config", &c]).dir(dir.path()).run();
    out.assert_one_line_error(&["no command given"]);
}
