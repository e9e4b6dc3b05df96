//! Every run-policy flag is also a config key and a `CRONBEAT_*` variable.

use crate::harness::*;
const OPTIONS: [(&str, &str); 10] = [
    ("--keepalive", "CRONBEAT_KEEPALIVE"),
    ("--idle-timeout", "CRONBEAT_IDLE_TIMEOUT"),
    ("--min-runtime", "CRONBEAT_MIN_RUNTIME"),
    ("--success-codes", "CRONBEAT_SUCCESS_CODES"),
    ("--stderr-fails", "CRONBEAT_STDERR_FAILS"),
    ("--overlap", "CRONBEAT_OVERLAP"),
    ("--lock-wait", "CRONBEAT_LOCK_WAIT"),
    ("--jitter-seed", "CRONBEAT_JITTER_SEED"),
    ("--strip-ansi", "CRONBEAT_STRIP_ANSI"),
    ("--redact", "CRONBEAT_REDACT"),
];

#[test]
fn help_names_each_flag_with_its_variable() {
    let help = cronbeat().arg("--help").run().stdout;
    for (flag, var) in OPTIONS {
        let entry = help
            .split("\n      --")
            .find(|e| e.starts_with(&flag[2..]) && e[flag.len() - 2..].starts_with([' ', '\n']))
            .unwrap_or_else(|| panic!("{flag} missing from --help"));
        // `[env: NAME=value]`, or `[env: NAME]` for a variable whose value may be a secret.
        assert!(
            entry.contains(&format!("[env: {var}=")) || entry.contains(&format!("[env: {var}]")),
            "{flag} does not name {var}: {entry}"
        );
    }
}

#[test]
fn the_config_file_takes_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\nkeepalive = \"1m\"\nidle_timeout = \"1m\"\nmin_runtime = \"1ms\"\n\
             success_codes = \"0,3\"\nstderr_fails = true\nlock = \"{}\"\noverlap = \"wait\"\n\
             lock_wait = \"5s\"\njitter = \"1ms\"\njitter_seed = \"hostname\"\nstrip_ansi = true\n\
             redact = \"x\"\n",
            dir.path().join("l.lock").display()
        ),
    )
    .unwrap();
    let out = cronbeat()
        .args([
            "--config",
            config.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "sleep 0.01; exit 3",
        ])
        .run();
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert_eq!(out.stderr, "");

    std::fs::write(&config, "[defaults]\nidle-timeout = \"1m\"\n").unwrap();
    let out = cronbeat()
        .args(["--config", config.to_str().unwrap(), "--", "true"])
        .run();
    assert_eq!(out.code(), 2);
    assert!(out.stderr.contains("idle-timeout"), "{}", out.stderr);
}
