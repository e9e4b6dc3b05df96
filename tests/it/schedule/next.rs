//! `cronbeat next`: the next due times of a job or an expression, one RFC 3339 time with its offset per
//! line, resolved as a run would resolve the job.

use chrono::{DateTime, FixedOffset, Timelike, Utc};

use crate::harness::*;

fn times(out: &Output) -> Vec<DateTime<FixedOffset>> {
    out.stdout
        .lines()
        .map(|l| DateTime::parse_from_rfc3339(l).unwrap_or_else(|e| panic!("{l:?}: {e}\n{out:?}")))
        .collect()
}

#[test]
fn a_jobs_next_five_due_times_with_their_offset() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.backup]\ncommand = [\"true\"]\nschedule = \"@daily\"\ntz = \"Asia/Tokyo\"\n\n\
         [jobs.adhoc]\ncommand = [\"true\"]\n",
    );
    let before = Utc::now();
    let out = cronbeat()
        .args(["next", "--config", &config, "--job", "backup"])
        .run();
    out.assert_code(0).assert_silent_stderr();
    let due = times(&out);
    assert_eq!(due.len(), 5, "{out:?}");
    assert!(due[0] > before, "{out:?}");
    for (i, at) in due.iter().enumerate() {
        assert_eq!(at.offset().local_minus_utc(), 9 * 3600, "{out:?}");
        assert_eq!((at.hour(), at.minute(), at.second()), (0, 0, 0), "{out:?}");
        if i > 0 {
            assert_eq!(*at - due[i - 1], chrono::TimeDelta::days(1), "{out:?}");
        }
    }
    assert!(out.stdout.lines().all(|l| l.ends_with("+09:00")), "{out:?}");

    // -n, and --schedule on the command line wins over the job's, as it would on a run.
    let out = cronbeat()
        .args(["next", "--config", &config, "--job", "backup", "-n", "2"])
        .args(["--schedule", "0 12 * * *"])
        .run();
    out.assert_code(0);
    let due = times(&out);
    assert_eq!(due.len(), 2, "{out:?}");
    assert_eq!(due[0].hour(), 12, "{out:?}");

    let out = cronbeat()
        .args(["next", "--config", &config, "--job", "adhoc"])
        .run();
    out.assert_one_line_error(&["job adhoc has no schedule", "--schedule EXPR"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn the_environment_gives_the_schedule_as_to_a_run() {
    let out = cronbeat()
        .args(["next", "-n", "3", "--after", "2026-06-01T00:00:00Z"])
        .envs(&[
            ("CRONBEAT_SCHEDULE", "0 6 * * 1"),
            ("CRONBEAT_TZ", "Europe/Berlin"),
        ])
        .run();
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "2026-06-01T06:00:00+02:00\n2026-06-08T06:00:00+02:00\n2026-06-15T06:00:00+02:00\n"
    );
    // Without a zone: TZ.
    let out = cronbeat()
        .args([
            "next",
            "-n",
            "1",
            "--schedule",
            "0 6 * * *",
            "--after",
            "2026-01-01T00:00:00Z",
        ])
        .env("TZ", "America/New_York")
        .run();
    assert_eq!(out.stdout, "2026-01-01T06:00:00-05:00\n", "{out:?}");
}

#[test]
fn bad_requests_are_one_line_and_status_2() {
    let out = cronbeat().args(["next"]).run();
    out.assert_one_line_error(&["no schedule: give --schedule EXPR, or --job NAME"]);
    let out = cronbeat()
        .args(["next", "--schedule", "@daily", "-n", "0"])
        .run();
    out.assert_one_line_error(&["--count <N>", "1..=10000"]);
    let out = cronbeat()
        .args(["next", "--schedule", "@daily", "--after", "yesterday"])
        .run();
    out.assert_one_line_error(&["--after: \"yesterday\" is not an RFC 3339 time"]);
    let out = cronbeat().args(["next", "--schedule", "0 0 31 2 *"]).run();
    out.assert_one_line_error(&["--schedule: never due"]);
    let out = cronbeat().args(["next", "--job", "x"]).run();
    out.assert_one_line_error(&["--job needs --config"]);
}
