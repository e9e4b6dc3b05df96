//! cronbeat's own secrets (a fleet lock's password, monitor keys, API keys) never reach the command's
//! environment, the report to the monitors or the ledger's stored tail, even when the command prints
//! them some other way; what the command prints still passes through byte for byte.

use crate::fleet::PrivateRedis;
use crate::harness::*;

const PASSWORD: &str = "Pw-5f1d0c9e-redis";
const UUID: &str = "7c1e9b2a-3f4d-4e5a-9b6c-0d1e2f3a4b5c";
const TOKEN: &str = "tok3n-61e2c0a9d8";
const HC_KEY: &str = "hcw_Zq8TnB2mXv5LpK9r";
const CRONITOR_KEY: &str = "crn_Wd4Hs7Jk1Lm3Np6Q";

/// Every secret of the run, and the parts a leak could show.
fn secrets(lock: &str) -> Vec<String> {
    [lock, PASSWORD, UUID, TOKEN, HC_KEY, CRONITOR_KEY]
        .map(String::from)
        .to_vec()
}

#[track_caller]
fn assert_holds_none(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds {secret:?}: {text}"
        );
    }
}

#[test]
fn the_command_neither_inherits_nor_reports_cronbeats_secrets() {
    let Some(redis) = PrivateRedis::start(&["--requirepass", PASSWORD]) else {
        return;
    };
    let lock = redis
        .url
        .replace("redis://", &format!("redis://:{PASSWORD}@"));
    let server = Server::start();
    let dir = Dir::new();
    let state = Dir::new();
    let ping_file = dir.write(
        "pings",
        &format!("webhook+{}/hook?token={TOKEN}\n", server.url()),
    );
    let config = dir.write("cronbeat.toml", "[defaults]\ntail = 65536\n");
    let printed = dir.join("printed");
    // The job prints its environment, then the secrets it was handed as arguments, and fails; what it
    // printed is also kept in a file, to compare with what cronbeat passed through.
    let script = format!(
        "{{ env; printf 'lock %s\\npassword %s\\nmonitor %s\\ntoken %s\\n' \"$1\" \"$2\" \"$3\" \"$4\"; \
         printf 'keys %s %s\\n' \"$5\" \"$6\"; }} > '{}'; cat '{}'; exit 3",
        printed.display(),
        printed.display()
    );
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .env("CRONBEAT_LOCK", &lock)
        .env("CRONBEAT_PING", format!("{}/{UUID}", server.url()))
        .env("CRONBEAT_PING_FILE", &ping_file)
        .env("CRONBEAT_HC_API_KEY", HC_KEY)
        .env("CRONBEAT_HC_API_URL", format!("{}/api/v3/", server.url()))
        .env("CRONBEAT_CRONITOR_API_KEY", CRONITOR_KEY)
        .env("CRONBEAT_CONFIG", &config)
        .env("CRONBEAT_REDACT", "nothing-matches-this")
        .env("CRONBEAT_NAME", "own-secrets")
        .args([
            "--", "sh", "-c", &script, "sh", &lock, PASSWORD, UUID, TOKEN,
        ])
        .args([HC_KEY, CRONITOR_KEY])
        .run();
    out.assert_code(3);

    // The command's environment: none of the withheld variables, the ones meant for it still there.
    let env: Vec<&str> = out.stdout.lines().collect();
    for withheld in [
        "CRONBEAT_LOCK=",
        "CRONBEAT_PING=",
        "CRONBEAT_PING_FILE=",
        "CRONBEAT_HC_API_KEY=",
        "CRONBEAT_HC_API_URL=",
        "CRONBEAT_CRONITOR_API_KEY=",
        "CRONBEAT_CONFIG=",
        "CRONBEAT_REDACT=",
    ] {
        assert!(
            !env.iter().any(|l| l.starts_with(withheld)),
            "the command inherited {withheld}: {}",
            out.stdout
        );
    }
    for kept in [
        "CRONBEAT_RUN_ID=",
        "CRONBEAT_FENCING_TOKEN=",
        "CRONBEAT_NAME=own-secrets",
    ] {
        assert!(
            env.iter().any(|l| l.starts_with(kept)),
            "no {kept} for the command: {}",
            out.stdout
        );
    }
    let secrets = secrets(&lock);
    let env_part = &out.stdout[..out.stdout.find(&format!("lock {lock}\n")).unwrap()];
    assert_holds_none("the command's environment", env_part, &secrets);

    // The pass-through is what the command printed, secrets and all.
    assert_eq!(out.raw_stdout, std::fs::read(&printed).unwrap());
    for line in [
        format!("lock {lock}"),
        format!("password {PASSWORD}"),
        format!("monitor {UUID}"),
        format!("token {TOKEN}"),
        format!("keys {HC_KEY} {CRONITOR_KEY}"),
    ] {
        assert!(out.stdout.contains(&line), "{line:?} not passed through");
    }
    assert_holds_none("cronbeat's stderr", &out.stderr, &secrets);

    // What the monitors were told: the tail with each secret masked.
    let requests = server.received();
    let fail = requests
        .iter()
        .find(|r| r.path == format!("/{UUID}/fail") || r.path == format!("/{UUID}/3"))
        .unwrap_or_else(|| panic!("no finish report: {requests:?}"));
    let body = fail.text();
    assert!(body.contains("lock [REDACTED]\n"), "{body}");
    assert!(body.contains("password [REDACTED]\n"), "{body}");
    assert!(body.contains("monitor [REDACTED]\n"), "{body}");
    assert!(body.contains("token [REDACTED]\n"), "{body}");
    assert!(body.contains("keys [REDACTED] [REDACTED]\n"), "{body}");
    assert_holds_none("the report to Healthchecks", &body, &secrets);
    let hook = requests
        .iter()
        .rfind(|r| r.path == "/hook")
        .unwrap_or_else(|| panic!("no webhook report: {requests:?}"));
    let tail = hook.json()["output_tail"]
        .as_str()
        .expect("the webhook's output tail")
        .to_string();
    assert!(tail.contains("password [REDACTED]\n"), "{tail}");
    assert_holds_none("the report to the webhook", &tail, &secrets);

    // The ledger's stored tail.
    let stored = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["last-output", "own-secrets"])
        .run();
    stored.assert_code(0);
    assert_eq!(
        stored.stdout,
        without_cost(&body),
        "the stored tail is the reported one"
    );
    assert_holds_none("the stored tail", &stored.stdout, &secrets);
}

#[test]
fn a_secret_the_tails_cut_runs_through_leaves_none_of_itself() {
    let server = Server::start();
    let state = Dir::new();
    let key = "Ab3dEf9hIj2kLm7nOp4qRs";
    // The tail keeps the last 10 bytes of the key, then "\ndone\n".
    let script = format!("printf 'the key is %s\\ndone\\n' {key}; exit 1");
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--name", "cut-secret", "--tail", "16"])
        .args(["--ping", &format!("{}/{key}/backup", server.url())])
        .args(["--", "sh", "-c", &script])
        .run();
    out.assert_code(1);
    assert_eq!(out.stdout, format!("the key is {key}\ndone\n"));
    let cut = "the key is ".len() + key.len() - 10;
    let expected = format!("[… {cut} bytes cut …]\n[REDACTED]\ndone\n");
    let stored = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["last-output", "cut-secret"])
        .run();
    assert_eq!(stored.stdout, expected);
    let report = server
        .received()
        .into_iter()
        .find(|r| r.path.ends_with("/fail") || r.path.ends_with("/1"))
        .expect("a finish report");
    assert_eq!(without_cost(&report.text()), expected);
}

/// clap shows an option's variable with its value in `--help` (`[env: NAME=value]`): a secret's must be
/// hidden, in the main help and in every subcommand's, whatever variable carries it.
#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let lock = format!("redis://:{PASSWORD}@127.0.0.1:1/0");
    let ledger = format!("postgres://cron:{PASSWORD}@127.0.0.1:1/cron");
    let with_secrets = |args: &[&str]| {
        cronbeat()
            .env("CRONBEAT_LOCK", &lock)
            .env("CRONBEAT_LEDGER_URL", &ledger)
            .env("CRONBEAT_PING", format!("http://127.0.0.1:1/{UUID}"))
            .env(
                "CRONBEAT_PING_TEMPLATE",
                format!("http://127.0.0.1:1/{UUID}/{{name}}"),
            )
            .env("CRONBEAT_REDACT", TOKEN)
            .env("CRONBEAT_HC_API_KEY", HC_KEY)
            .env("CRONBEAT_CRONITOR_API_KEY", CRONITOR_KEY)
            .args(args)
            .run()
    };
    let main = with_secrets(&["--help"]);
    main.assert_code(0);
    let commands: Vec<String> = main
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(
        commands.iter().any(|c| c == "adopt") && commands.iter().any(|c| c == "ledger"),
        "the subcommands were not found in: {}",
        main.stdout
    );
    // The variables are shown, so the check below looks where the values would be.
    assert!(
        main.stdout.contains("[env: CRONBEAT_LOCK]"),
        "{}",
        main.stdout
    );
    let secrets = secrets(&lock);
    assert_holds_none("--help", &main.stdout, &secrets);
    assert!(!main.stdout.contains(&ledger), "{}", main.stdout);
    for command in &commands {
        let out = with_secrets(&[command, "--help"]);
        out.assert_code(0);
        assert_holds_none(&format!("{command} --help"), &out.stdout, &secrets);
        assert!(!out.stdout.contains(&ledger), "{}", out.stdout);
    }
}
