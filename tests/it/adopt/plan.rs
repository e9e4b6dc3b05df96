//! The dry run: the plan (a row per job, what is done with it and why), a unified diff per source, and
//! nothing changed; `--check` for CI; the lines left alone and the reasons given; names.

use super::{adopt, crontab_file};
use crate::harness::*;

const CRONTAB: &str = "\
# nightly jobs
SHELL=/bin/sh
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO=ops@example.com

*/5 *  * * *\t/usr/local/bin/sync.sh --all >/dev/null 2>&1
0 3 * * * /usr/local/bin/backup --full
30 3 * * mon-fri /usr/local/bin/backup --incremental
";

fn row<'a>(out: &'a Output, at: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{at} ")))
        .unwrap_or_else(|| panic!("no row for {at}:\n{}", out.stdout))
}

#[test]
fn the_plan_changes_nothing_and_shows_the_diff() {
    let dir = Dir::new();
    let path = crontab_file(&dir, CRONTAB);
    let at = |n: usize| format!("{}:{n}", path.display());
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), CRONTAB);
    assert!(!dir.join("state").exists() && !dir.join("ping").exists());
    assert!(row(&out, &at(6)).contains("*/5 * * * *"), "{}", out.stdout);
    assert!(row(&out, &at(6)).contains("  sync  "), "{}", out.stdout);
    assert!(row(&out, &at(7)).contains("  backup  "), "{}", out.stdout);
    assert!(row(&out, &at(8)).contains("  backup-2  "), "{}", out.stdout);
    for n in [6, 7, 8] {
        assert!(row(&out, &at(n)).ends_with("  wrap"), "{}", out.stdout);
    }
    let diff = format!(
        "--- {p}\n+++ {p} (adopted)\n@@ -3,6 +3,6 @@\n PATH=/usr/local/bin:/usr/bin:/bin\n MAILTO=ops@example.com\n \n\
         -*/5 *  * * *\t/usr/local/bin/sync.sh --all >/dev/null 2>&1\n\
         +*/5 *  * * *\t/usr/local/bin/cronbeat --name sync --schedule '*/5 * * * *' -- /bin/sh -c '/usr/local/bin/sync.sh --all >/dev/null 2>&1'\n\
         -0 3 * * * /usr/local/bin/backup --full\n\
         +0 3 * * * /usr/local/bin/cronbeat --name backup --schedule '0 3 * * *' -- /bin/sh -c '/usr/local/bin/backup --full'\n\
         -30 3 * * mon-fri /usr/local/bin/backup --incremental\n\
         +30 3 * * mon-fri /usr/local/bin/cronbeat --name backup-2 --schedule '30 3 * * mon-fri' -- /bin/sh -c '/usr/local/bin/backup --incremental'\n",
        p = path.display()
    );
    assert!(out.stdout.contains(&diff), "{}", out.stdout);
    assert!(out.stdout.contains("3 jobs: 3 to wrap."), "{}", out.stdout);
    assert!(
        out.stdout.contains("cronbeat adopt --write"),
        "{}",
        out.stdout
    );

    // --check: 1 while there is something to adopt, 0 once it is written.
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--check")
        .run()
        .assert_code(1);
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    let check = adopt(&dir).arg("--crontab").arg(&path).arg("--check").run();
    check.assert_code(0);
    assert!(
        check.stdout.contains("3 jobs: 3 already wrapped."),
        "{check:?}"
    );
}

#[test]
fn what_is_left_alone_and_why() {
    let dir = Dir::new();
    let too_long = format!("* * * * * /bin/echo {}", "x".repeat(940));
    let text = format!(
        "@reboot /usr/bin/startup\n\
         * * * * * %only input\n\
         *-5 * * * * /bin/a\n\
         {too_long}\n\
         SHELL=/usr/bin/python3\n\
         * * * * * /bin/b\n\
         SHELL=$MYSHELL\n\
         * * * * * /bin/c\n\
         SHELL=/bin/sh\n\
         CRON_TZ=$ZONE\n\
         * * * * * /bin/d\n\
         CRON_TZ=Mars/Olympus\n\
         * * * * * /bin/e\n\
         CRON_TZ=UTC\n\
         CRONBEAT_TIMEOUT=5m\n\
         * * * * * /bin/f\n"
    );
    let path = crontab_file(&dir, &text);
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    out.assert_code(0);
    let at = |n: usize| format!("{}:{n}", path.display());
    for (n, why) in [
        (1, "left alone: @reboot has no schedule"),
        (2, "left alone: no command before the %"),
        (
            3,
            "left alone: cronbeat would not take it: field 1 (minute) \"*-5\"",
        ),
        (4, "left alone: wrapped, the command would be"),
        (6, "left alone: SHELL=/usr/bin/python3: not a POSIX shell"),
        (
            8,
            "left alone: SHELL=$MYSHELL: cron does not expand variables",
        ),
        (
            11,
            "left alone: CRON_TZ=$ZONE: cron does not expand variables",
        ),
        (
            13,
            "left alone: cronbeat would not take it: unknown time zone \"Mars/Olympus\"",
        ),
        (16, "left alone: CRONBEAT_TIMEOUT is set in the crontab"),
    ] {
        assert!(
            row(&out, &at(n)).contains(why),
            "{n}: {why}\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("9 jobs: 9 left alone."),
        "{}",
        out.stdout
    );
    // Nothing to adopt: --check is content.
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--check")
        .run()
        .assert_code(0);

    // A line cron itself refuses (Debian's then ignores the whole crontab), and a last line without a
    // newline, which cron does not read whole.
    let path = crontab_file(&dir, "61 * * * * /bin/x\nFOO=\n* * * * * /bin/y");
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    out.assert_code(0);
    assert!(
        row(&out, &at(1)).contains("cron rejects this line (minute field \"61\": 61 is out of range 0-59); Debian's cron ignores the whole crontab for it"),
        "{}",
        out.stdout
    );
    assert!(
        row(&out, &at(2)).contains("cron rejects this line (FOO= has no value"),
        "{}",
        out.stdout
    );
    assert!(
        row(&out, &at(3)).contains("the last line has no newline"),
        "{}",
        out.stdout
    );
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "61 * * * * /bin/x\nFOO=\n* * * * * /bin/y"
    );
}

#[test]
fn a_zone_for_the_schedule_from_cron_tz_and_none_from_tz() {
    let dir = Dir::new();
    let path = crontab_file(
        &dir,
        "CRON_TZ=Europe/Berlin\n0 3 * * * /bin/a\nCRON_TZ=\"Asia/Tokyo\"\n0 4 * * * /bin/b\n",
    );
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    assert!(
        out.stdout
            .contains("--name a --schedule '0 3 * * *' --tz Europe/Berlin --"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--name b --schedule '0 4 * * *' --tz Asia/Tokyo --"),
        "{}",
        out.stdout
    );
    // TZ changes the commands' clock, not the daemon's: the schedule stays in the host's zone, given
    // explicitly so that cronbeat does not read it in TZ's.
    let path = crontab_file(&dir, "TZ=Asia/Tokyo\n0 3 * * * /bin/a\n");
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("+0 3"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains(" --tz ") && !line.contains("Asia/Tokyo"),
        "{line}"
    );
}

#[test]
fn names_are_unique_and_stay_when_adopt_runs_again() {
    let dir = Dir::new();
    let path = crontab_file(
        &dir,
        "0 1 * * * /opt/bin/report.sh daily\n0 2 * * * /opt/bin/report.sh weekly\n",
    );
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("--name report --") && written.contains("--name report-2 --"),
        "{written}"
    );
    // A new line first, for the same program: it gets a name of its own; the others keep theirs.
    std::fs::write(
        &path,
        format!("0 0 * * * /opt/bin/report.sh hourly\n{written}"),
    )
    .unwrap();
    let out = adopt(&dir).arg("--crontab").arg(&path).run();
    assert!(
        row(&out, &format!("{}:1", path.display())).contains("  report-3  "),
        "{}",
        out.stdout
    );
    assert!(
        row(&out, &format!("{}:2", path.display())).contains("  report  "),
        "{}",
        out.stdout
    );
    assert!(
        row(&out, &format!("{}:3", path.display())).contains("already wrapped"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_wrapping_that_drifted_from_its_line() {
    let dir = Dir::new();
    let path = crontab_file(&dir, "0 3 * * * /bin/a\n");
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    // The schedule edited by hand in the line's fields: the wrapper must follow.
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, written.replacen("0 3 * * *", "0 4 * * *", 1)).unwrap();
    let check = adopt(&dir).arg("--crontab").arg(&path).arg("--check").run();
    check.assert_code(1);
    assert!(
        check
            .stdout
            .contains("update: schedule '0 3 * * *' is now '0 4 * * *'"),
        "{check:?}"
    );
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("--schedule '0 4 * * *'"));
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--check")
        .run()
        .assert_code(0);

    // A line wrapped by hand whose --schedule is not its line's: reported, counted, not rewritten.
    let text = "0 4 * * * cronbeat --name mine --schedule '0 3 * * *' -- /bin/a\n\
                0 5 * * * /usr/bin/cronbeat --schedule=@daily -- /bin/b\n\
                0 0 * * * /usr/bin/cronbeat --schedule=@daily -- /bin/c\n";
    let path = crontab_file(&dir, text);
    let check = adopt(&dir).arg("--crontab").arg(&path).arg("--check").run();
    check.assert_code(1);
    assert!(
        check.stdout.contains(
            "drifted: --schedule '0 3 * * *', but the line is due at '0 4 * * *' (fix by hand)"
        ),
        "{check:?}"
    );
    assert!(check
        .stdout
        .contains("drifted: --schedule '@daily', but the line is due at '0 5 * * *'"));
    assert!(row(&check, &format!("{}:3", path.display())).contains("already wrapped"));
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn bad_requests_are_one_line_and_status_2() {
    let dir = Dir::new();
    let path = crontab_file(&dir, "0 3 * * * /bin/a\n");
    let bad = |args: &[&str], needles: &[&str]| {
        adopt(&dir).args(args).run().assert_one_line_error(needles);
    };
    bad(
        &["--crontab", "/nonexistent/tab"],
        &["/nonexistent/tab: cannot read"],
    );
    bad(
        &[
            "--crontab",
            path.to_str().unwrap(),
            "--ping-template",
            "https://hc-ping.com/k/job",
        ],
        &["--ping-template", "{name}"],
    );
    bad(
        &["--crontab", path.to_str().unwrap(), "--provision"],
        &["--provision needs an API key"],
    );
    bad(
        &["--crontab", path.to_str().unwrap(), "--write", "--check"],
        &["--write", "--check"],
    );
    cronbeat()
        .args(["adopt", "--cronbeat", "relative/cronbeat", "--crontab"])
        .arg(&path)
        .run()
        .assert_one_line_error(&["--cronbeat relative/cronbeat: an absolute path"]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "0 3 * * * /bin/a\n"
    );
}
