//! Bad schedule settings stop cronbeat before the command runs: exit status 2 and one line naming the
//! culprit (the flag, the variable, or the file, line and key), the field and its position.

use crate::harness::*;

/// Environment variables to launch with.
type Env<'a> = &'a [(&'a str, &'a str)];

/// Runs `touch MARKER` under `args` (and `env`); returns the output and whether the command ran.
fn attempt(args: &[&str], env: &[(&str, &str)]) -> (Output, bool) {
    let dir = Dir::new();
    let marker = dir.join("ran");
    let out = cronbeat()
        .args(args)
        .envs(env)
        .args(["--", "touch"])
        .arg(&marker)
        .run();
    (out, marker.exists())
}

#[test]
fn an_invalid_expression_names_the_field_and_its_position() {
    #[rustfmt::skip]
    let cases: &[(&[&str], Env, &str)] = &[
        (&["--schedule", "0 25 * * *"][..], &[][..], "cronbeat: --schedule: field 2 (hour) \"25\": 25 is out of range 0-23"),
        (&[], &[("CRONBEAT_SCHEDULE", "0 3 * * fry")], "cronbeat: CRONBEAT_SCHEDULE: field 5 (day-of-week) \"fry\": \"fry\" is not a number or a name"),
        (&["--schedule", "61 * * * *"], &[], "field 1 (minute) \"61\": 61 is out of range 0-59"),
        (&["--schedule", "0 0 0 * *"], &[], "field 3 (day-of-month) \"0\": 0 is out of range 1-31"),
        (&["--schedule", "0 0 * 13 *"], &[], "field 4 (month) \"13\": 13 is out of range 1-12"),
        (&["--schedule", "0 0 * * 8"], &[], "field 5 (day-of-week) \"8\": 8 is out of range 0-7"),
        (&["--schedule", "*/0 * * * *"], &[], "field 1 (minute) \"*/0\": the step must be at least 1"),
        (&["--schedule", "0 12-6 * * *"], &[], "field 2 (hour) \"12-6\": the range runs backwards"),
        (&["--schedule", "0 0 L * *"], &[], "field 3 (day-of-month) \"L\""),
        (&["--schedule", "* * * *"], &[], "--schedule: \"* * * *\": expected 5 fields"),
        (&["--schedule", "0 0 * * * 2026"], &[], "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, found 6"),
        (&["--schedule", "@fortnightly"], &[], "unknown macro \"@fortnightly\""),
        (&["--schedule", "@reboot"], &[], "@reboot has no due time"),
        (&["--schedule", "0 0 30 2 *"], &[], "--schedule: never due"),
        (&["--schedule", "@daily", "--tz", "Mars/Olympus_Mons"], &[], "cronbeat: --tz: unknown time zone \"Mars/Olympus_Mons\""),
        (&[], &[("CRONBEAT_SCHEDULE", "@daily"), ("CRONBEAT_TZ", "Europe/Berln")], "cronbeat: CRONBEAT_TZ: unknown time zone \"Europe/Berln\""),
        (&["--tz", "UTC"], &[], "--tz: needs a schedule"),
        (&["--schedule", "@daily", "--grace", "0"], &[], "--grace: must be greater than zero"),
        (&["--schedule", "@daily", "--grace", "400days"], &[], "--grace: is too long (at most 365 days)"),
    ];
    for (args, env, needle) in cases {
        let (out, ran) = attempt(args, env);
        out.assert_one_line_error(&[needle]);
        assert!(!ran, "the command ran: {out:?}");
    }
}

#[test]
fn a_bad_schedule_in_the_file_names_file_line_and_key() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\ncommand = [\"true\"]\nschedule = \"0 3 * * *\"\n\n[jobs.b]\ncommand = [\"true\"]\nschedule = \"0 3 32 * *\"\n",
    );
    let out = cronbeat().args(["--config", &config, "--job", "b"]).run();
    out.assert_one_line_error(&[&format!(
        "cronbeat: {config}:7: jobs.b.schedule: field 3 (day-of-month) \"32\": 32 is out of range 1-31"
    )]);
    // The other job stays usable, and `check` says which one is wrong.
    let out = cronbeat().args(["check", "--config", &config]).run();
    out.assert_code(2);
    assert!(
        out.stdout
            .contains(": ok: a: true (schedule \"0 3 * * *\" in "),
        "{out:?}"
    );
    assert!(out.stderr.contains("jobs.b.schedule: field 3"), "{out:?}");
}

#[test]
fn api_keys_that_cannot_be_used_are_refused_without_being_shown() {
    let dir = Dir::new();
    let (out, ran) = attempt(
        &[
            "--schedule",
            "@daily",
            "--hc-api-key-file",
            "/nonexistent/hc-key",
        ],
        &[],
    );
    out.assert_one_line_error(&["--hc-api-key-file: cannot read /nonexistent/hc-key"]);
    assert!(!ran);
    let (out, _) = attempt(
        &["--schedule", "@daily"],
        &[("CRONBEAT_HC_API_KEY", "sec ret")],
    );
    out.assert_one_line_error(&["CRONBEAT_HC_API_KEY: holds blanks"]);
    assert!(!out.stderr.contains("sec ret"), "{out:?}");
    let empty = dir.write("key", "\n");
    let (out, _) = attempt(&["--cronitor-api-key-file", &empty], &[]);
    out.assert_one_line_error(&["--cronitor-api-key-file: ", "the key is empty"]);
    let (out, _) = attempt(&["--hc-api-url", "ftp://x/"], &[]);
    out.assert_one_line_error(&["--hc-api-url: \"ftp://x/\" is not an http:// or https:// URL"]);
}

#[test]
fn a_tz_variable_that_names_no_zone_is_a_warning_and_the_run_goes_on() {
    let out = cronbeat()
        .args(["--schedule", "@daily", "--", "echo", "ran"])
        .env("TZ", "CET-1CEST")
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "ran\n");
    let line = out.one_error_line();
    assert!(
        line.contains("TZ=\"CET-1CEST\" is not an IANA time zone name"),
        "{line}"
    );
}

#[test]
fn a_time_zone_pasted_in_front_of_the_schedule_points_at_tz() {
    #[rustfmt::skip]
    let cases: &[(&[&str], Env, &str)] = &[
        (&["--schedule", "CRON_TZ=Europe/Berlin 0 3 * * *"][..], &[][..],
         "cronbeat: --schedule: \"CRON_TZ=Europe/Berlin 0 3 * * *\": a time zone is not part of the schedule; give it with --tz (tz in a config file): --schedule '0 3 * * *' --tz Europe/Berlin"),
        (&[], &[("CRONBEAT_SCHEDULE", "TZ=America/New_York @daily")],
         "cronbeat: CRONBEAT_SCHEDULE: \"TZ=America/New_York @daily\": a time zone is not part of the schedule; give it with --tz (tz in a config file): --schedule '@daily' --tz America/New_York"),
        (&["--schedule", "cron_tz=UTC */5 * * * *", "--tz", "UTC"], &[], "--schedule '*/5 * * * *' --tz UTC"),
    ];
    for (args, env, needle) in cases {
        let (out, ran) = attempt(args, env);
        out.assert_one_line_error(&[needle]);
        assert!(!ran, "the command ran: {out:?}");
    }
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\ncommand = [\"true\"]\nschedule = \"CRON_TZ=Asia/Tokyo 30 4 * * 1\"\n",
    );
    let out = cronbeat().args(["--config", &config, "--job", "a"]).run();
    out.assert_one_line_error(&[
        &format!("{config}:3: jobs.a.schedule:"),
        "--schedule '30 4 * * 1' --tz Asia/Tokyo",
    ]);
    let out = cronbeat()
        .args(["next", "--schedule", "CRON_TZ=Europe/Berlin 0 3 * * *"])
        .run();
    out.assert_one_line_error(&["--schedule '0 3 * * *' --tz Europe/Berlin"]);
}
