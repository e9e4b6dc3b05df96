//! systemd calendar events as `--schedule`: their due times are a timer's, checked against
//! `systemd-analyze calendar --iterations=N --base-time=…` (the oracle, run with `TZ=UTC`, so it shows
//! UTC) for a table of expressions in zones with and without daylight saving, around the clock's changes;
//! a bad one is refused with one line naming the part at fault; Healthchecks is told it as an OnCalendar
//! schedule, and Sentry and Cronitor, which take only cron, are not told it.

use std::process::Command;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

use crate::harness::*;

/// Where a row's zone is given: after the expression (as systemd writes it), or as `--tz`.
#[derive(Clone, Copy)]
enum Zone {
    Own(&'static str),
    Flag(&'static str),
}

/// (expression, zone, after, how many due times). Each is compared with the oracle.
#[rustfmt::skip]
const TABLE: &[(&str, Zone, &str, usize)] = &[
    // Berlin skips 02:00-02:59 on 2026-03-29 and repeats it on 2026-10-25.
    ("*-*-* 02:30", Zone::Flag("Europe/Berlin"), "2026-03-28T12:00:00Z", 3),
    ("*-*-* 02:30", Zone::Flag("Europe/Berlin"), "2026-10-24T12:00:00Z", 3),
    ("*-*-* 02:30", Zone::Own("Europe/Berlin"), "2026-10-25T01:10:00Z", 2),
    ("*:0/20", Zone::Flag("Europe/Berlin"), "2026-10-25T00:10:00Z", 8),
    ("*:30", Zone::Own("Europe/Berlin"), "2026-03-29T00:10:00Z", 4),
    ("*-*-* 01..03:00", Zone::Flag("Europe/Berlin"), "2026-03-28T23:00:00Z", 4),
    ("minutely", Zone::Flag("Europe/Berlin"), "2026-10-25T00:58:30Z", 4),
    ("Mon..Fri 9:00", Zone::Own("Europe/Berlin"), "2026-12-04T00:00:00Z", 5),
    ("Sat,Sun 10:00", Zone::Flag("Europe/Berlin"), "2026-12-04T00:00:00Z", 4),
    ("*-*~01 23:00", Zone::Flag("Europe/Berlin"), "2026-01-15T00:00:00Z", 4),
    ("Fri *-*~07/1 18:00", Zone::Own("Europe/Berlin"), "2026-01-01T00:00:00Z", 4),
    ("monthly", Zone::Flag("Europe/Berlin"), "2026-10-31T23:30:00Z", 2),
    // New York skips 02:00-02:59 on 2026-03-08 and repeats 01:00-01:59 on 2026-11-01.
    ("daily", Zone::Flag("America/New_York"), "2026-03-07T12:00:00Z", 3),
    ("*-*-* 02:15", Zone::Flag("America/New_York"), "2026-03-07T12:00:00Z", 3),
    ("*-*-* 01:30", Zone::Own("America/New_York"), "2026-10-31T12:00:00Z", 3),
    ("*:0/15", Zone::Flag("America/New_York"), "2026-11-01T05:20:00Z", 8),
    ("hourly", Zone::Flag("America/New_York"), "2026-03-08T05:30:00Z", 4),
    ("*:*:0/20", Zone::Flag("America/New_York"), "2026-03-08T06:59:30Z", 5),
    ("quarterly", Zone::Own("America/New_York"), "2026-02-10T00:00:00Z", 4),
    // Lord Howe Island moves its clock by half an hour: 02:00 -> 02:30 on 2026-10-04, 02:00 -> 01:30 on
    // 2026-04-05.
    ("*-*-* 02:15", Zone::Flag("Australia/Lord_Howe"), "2026-10-03T00:00:00Z", 3),
    ("*:0/10", Zone::Flag("Australia/Lord_Howe"), "2026-10-03T15:00:00Z", 6),
    ("*:0/10", Zone::Own("Australia/Lord_Howe"), "2026-04-04T14:40:00Z", 8),
    ("*-*-* 01:45", Zone::Flag("Australia/Lord_Howe"), "2026-04-04T00:00:00Z", 2),
    // Kathmandu is 5:45 ahead, without daylight saving.
    ("Mon..Fri 9:00", Zone::Flag("Asia/Kathmandu"), "2026-06-05T00:00:00Z", 4),
    ("*:0/15", Zone::Own("Asia/Kathmandu"), "2026-06-05T18:00:00Z", 4),
    ("monthly", Zone::Flag("Asia/Kathmandu"), "2026-06-05T00:00:00Z", 3),
    // Sydney: 02:00 -> 03:00 on 2026-10-04, 03:00 -> 02:00 on 2026-04-05.
    ("*-*-* 02:30", Zone::Flag("Australia/Sydney"), "2026-10-03T12:00:00Z", 2),
    ("*-*-* 02:30", Zone::Own("Australia/Sydney"), "2026-04-04T12:00:00Z", 2),
    ("08..17/3:00", Zone::Flag("Australia/Sydney"), "2026-10-03T10:00:00Z", 6),
    ("semiannually", Zone::Flag("Australia/Sydney"), "2026-03-01T00:00:00Z", 3),
    ("yearly", Zone::Flag("Australia/Sydney"), "2026-03-01T00:00:00Z", 2),
    // Chatham is 12:45 (13:45 in summer) ahead: 02:45 -> 03:45 on 2026-09-27.
    ("*:15", Zone::Flag("Pacific/Chatham"), "2026-09-26T12:00:00Z", 5),
    ("weekly", Zone::Own("Pacific/Chatham"), "2026-09-20T00:00:00Z", 3),
    ("Sun *-*-1..7 3:00", Zone::Flag("Pacific/Chatham"), "2026-08-01T00:00:00Z", 3),
    // Dates: the third-last day of February, a repetition of days, leap days, two-digit years, UTC.
    ("*-02~03", Zone::Flag("UTC"), "2026-12-01T00:00:00Z", 3),
    ("*-*-1/30", Zone::Flag("UTC"), "2027-01-20T00:00:00Z", 4),
    ("2026..2030-02-29 12:00", Zone::Flag("UTC"), "2026-01-01T00:00:00Z", 1),
    ("27-01-01 00:00", Zone::Flag("Europe/Berlin"), "2026-06-01T00:00:00Z", 1),
    ("Mon,Wed..Fri *-*-* 7:30", Zone::Own("UTC"), "2026-06-05T00:00:00Z", 5),
    ("*-*-* 12:00", Zone::Own("America/New_York"), "2026-03-07T00:00:00Z", 3),
];

/// `TZ=UTC systemd-analyze calendar --iterations=N --base-time=@SECONDS EXPR`'s times, in UTC.
fn oracle(expr: &str, after: DateTime<Utc>, n: usize) -> Result<Vec<DateTime<Utc>>, String> {
    let out = Command::new("systemd-analyze")
        .args(["calendar", "--no-pager"])
        .arg(format!("--iterations={n}"))
        .arg(format!("--base-time=@{}", after.timestamp()))
        .arg("--")
        .arg(expr)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| format!("systemd-analyze: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "systemd-analyze refused {expr:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // "    Next elapse: Sun 2026-10-25 00:30:00 UTC", "       Iter. #2: Mon 2026-10-26 01:30:00 UTC"
    let times = text
        .lines()
        .filter(|l| l.contains("Next elapse:") || l.contains("Iter. #"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words[words.len() - 3..words.len() - 1].join(" ");
            NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S")
                .map(|t| t.and_utc())
                .map_err(|e| format!("{l:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(times)
}

/// `cronbeat next`'s times for a row, in UTC.
fn next(expr: &str, zone: Zone, after: &str, n: usize) -> Result<Vec<DateTime<Utc>>, String> {
    let cronbeat = match zone {
        Zone::Own(name) => cronbeat().args(["next", "--schedule", &format!("{expr} {name}")]),
        Zone::Flag(name) => cronbeat().args(["next", "--schedule", expr, "--tz", name]),
    };
    let out = cronbeat
        .args(["--after", after, "-n", &n.to_string()])
        .run();
    if out.code() != 0 || !out.stderr.is_empty() {
        return Err(format!("cronbeat next: {out:?}"));
    }
    out.stdout
        .lines()
        .map(|l| {
            DateTime::parse_from_rfc3339(l)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{l:?}: {e}"))
        })
        .collect()
}

#[test]
fn due_times_are_systemd_analyzes() {
    if !have("systemd-analyze") {
        missing("systemd-analyze is not installed (Debian package `systemd`)");
        return;
    }
    assert!(TABLE.len() >= 30);
    let mut failures = Vec::new();
    for &(expr, zone, after, n) in TABLE {
        let name = match zone {
            Zone::Own(name) | Zone::Flag(name) => name,
        };
        let from: DateTime<Utc> = DateTime::parse_from_rfc3339(after).unwrap().into();
        let expected = oracle(&format!("{expr} {name}"), from, n);
        let got = next(expr, zone, after, n);
        let row = format!("{expr:?} in {name} after {after}");
        match (expected, got) {
            (Err(e), _) | (_, Err(e)) => failures.push(format!("{row}: {e}")),
            (Ok(expected), _) if expected.len() != n => failures.push(format!(
                "{row}: the oracle gave {} times, not {n}: {expected:?}",
                expected.len()
            )),
            (Ok(expected), Ok(got)) if expected != got => failures.push(format!(
                "{row}:\n  systemd-analyze {expected:?}\n  cronbeat        {got:?}"
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_bad_calendar_event_is_refused_naming_the_part_at_fault() {
    #[rustfmt::skip]
    let cases: &[(&[&str], &str)] = &[
        (&["--schedule", "Mon..Fry 9:00"], "cronbeat: --schedule: \"Mon..Fry 9:00\": weekdays \"Mon..Fry\": \"Fry\" is not a day of the week"),
        (&["--schedule", "*-*-* 25:00"], "cronbeat: --schedule: \"*-*-* 25:00\": hour \"25\": 25 is out of range 0-23"),
        (&["--schedule", "*-*~29"], "day \"29\": 29 is out of range 1-28 (days before the end of the month)"),
        (&["--schedule", "*:*:1.5"], "second \"1.5\": fractions of a second are not supported"),
        (&["--schedule", "*:0/60"], "minute \"0/60\": a repetition of 60 is longer than the range 0-59"),
        (&["--schedule", "Fri..Mon 9:00"], "the range runs backwards (Fri is after Mon)"),
        (&["--schedule", "now"], "\"now\" is one moment, not a repeating calendar event"),
        (&["--schedule", "tomorrow"], "\"tomorrow\" is one moment"),
        (&["--schedule", "dayly"], "\"dayly\" is not a day of the week (Mon … Sun), a date or a time"),
        (&["--schedule", "9:00 Europe/Berln"], "\"Europe/Berln\" is not a time zone cronbeat knows"),
        (&["--schedule", "9:00 Europe/Berlin", "--tz", "UTC"], "cronbeat: --tz: \"UTC\" conflicts with the zone Europe/Berlin the schedule names"),
    ];
    for (args, needle) in cases {
        let dir = Dir::new();
        let marker = dir.join("ran");
        let out = cronbeat()
            .args(*args)
            .args(["--", "touch"])
            .arg(&marker)
            .run();
        out.assert_code(2);
        out.assert_one_line_error(&[needle]);
        assert!(!marker.exists(), "the command ran: {out:?}");
    }
    // The same expression with its own zone given again as --tz is no conflict.
    cronbeat()
        .args([
            "next",
            "--schedule",
            "9:00 Europe/Berlin",
            "--tz",
            "europe/berlin",
        ])
        .args(["--after", "2026-06-01T00:00:00Z", "-n", "1"])
        .run()
        .assert_code(0)
        .assert_silent_stderr();
}

const UUID: &str = "5f2a8e1c-6b0d-4c3a-9e7f-1a2b3c4d5e6f";
const KEY: &str = "hcw_k3yS3cr3t";

/// A check as Healthchecks' `GET checks/<uuid>` returns it: `schedule` and `tz` for cron and
/// OnCalendar checks alike (the kind follows from the schedule's shape).
fn hc_check(server: &Server, schedule: &str, tz: &str, grace: u64) -> Value {
    let root = server.url();
    json!({
        "name": "nightly", "slug": "nightly", "grace": grace, "status": "up",
        "update_url": format!("{root}/api/v3/checks/{UUID}"),
        "schedule": schedule, "tz": tz,
    })
}

fn ok_json(value: &Value) -> Behavior {
    Behavior::status(200)
        .header("Content-Type", "application/json")
        .body(value.to_string())
}

fn hc_run(server: &Server, path: &str, args: &[&str]) -> Output {
    cronbeat()
        .args(args)
        .args(["--ping", &format!("{}/ping/{path}", server.url())])
        .env("CRONBEAT_HC_API_KEY", KEY)
        .args(["--", "true"])
        .run()
}

fn api_requests(server: &Server) -> Vec<Request> {
    server
        .received()
        .into_iter()
        .filter(|r| r.path.contains("/api/"))
        .collect()
}

#[test]
fn healthchecks_is_told_the_event_as_an_oncalendar_schedule() {
    // A cron check becomes an OnCalendar one: the event without its zone as `schedule`, the zone as
    // `tz`. Healthchecks reads a schedule that is not five fields as OnCalendar.
    let server = Server::start();
    let path = format!("/api/v3/checks/{UUID}");
    server.respond_seq(
        &path,
        [ok_json(&hc_check(&server, "15 3 * * *", "UTC", 600))],
    );
    server.respond(
        &path,
        ok_json(&hc_check(&server, "Mon..Fri 9:00", "Europe/Berlin", 600)),
    );
    let schedule = [
        "--schedule",
        "Mon..Fri 9:00 Europe/Berlin",
        "--grace",
        "10m",
    ];
    let out = hc_run(&server, UUID, &schedule);
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(
        (api[1].method.as_str(), api[1].path.as_str()),
        ("POST", path.as_str())
    );
    let body = api[1].json();
    assert_eq!(
        body,
        json!({"schedule": "Mon..Fri 9:00", "tz": "Europe/Berlin"})
    );
    assert_ne!(
        body["schedule"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        5
    );

    // Held however written (systemd's normal form here), it is in step: read, not written.
    let server = Server::start();
    server.respond(
        &path,
        ok_json(&hc_check(
            &server,
            "Mon-Fri *-*-* 09:00:00",
            "Europe/Berlin",
            600,
        )),
    );
    hc_run(&server, UUID, &schedule)
        .assert_code(0)
        .assert_silent_stderr();
    assert_eq!(api_requests(&server).len(), 1);

    // A missing slug check is created with it, the zone given by --tz.
    let server = Server::start();
    server.respond_seq(
        "/api/v3/checks/",
        [
            ok_json(&json!({"checks": []})),
            Behavior::status(201)
                .header("Content-Type", "application/json")
                .body(hc_check(&server, "*-*-01 04:00", "Asia/Kathmandu", 600).to_string()),
        ],
    );
    let out = hc_run(
        &server,
        "pInGkEy/nightly",
        &[
            "--schedule",
            "*-*-01 04:00",
            "--tz",
            "Asia/Kathmandu",
            "--grace",
            "10m",
        ],
    );
    out.assert_code(0).assert_silent_stderr();
    let api = api_requests(&server);
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(
        api[1].json(),
        json!({
            "name": "nightly", "slug": "nightly", "schedule": "*-*-01 04:00",
            "tz": "Asia/Kathmandu", "grace": 600, "unique": ["slug"],
        })
    );
}

#[test]
fn sentry_and_cronitor_are_not_told_a_calendar_event() {
    // Sentry takes only crontab schedules: the check-ins carry no monitor_config, and -v says why.
    let server = Server::start();
    let spec = format!(
        "sentry+http://PUBKEY@127.0.0.1:{}/7?monitor=nightly",
        server.port()
    );
    let out = cronbeat()
        .args(["--schedule", "Mon..Fri 9:00", "--tz", "Europe/Berlin", "-v"])
        .args(["--ping", &spec, "--", "true"])
        .run();
    out.assert_code(0);
    let requests = server.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for request in &requests {
        assert!(
            request.json().get("monitor_config").is_none(),
            "{request:#?}"
        );
    }
    let notes: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("not told the schedule"))
        .collect();
    assert_eq!(notes.len(), 1, "{out:?}");
    assert!(
        notes[0].contains("Sentry Crons takes only cron expressions"),
        "{out:?}"
    );
    // Without -v, nothing is said.
    let out = cronbeat()
        .args(["--schedule", "Mon..Fri 9:00", "--tz", "Europe/Berlin"])
        .args(["--ping", &spec, "--", "true"])
        .run();
    out.assert_code(0).assert_silent_stderr();

    // Cronitor's API is not called at all, and -v says why.
    let server = Server::start();
    let out = cronbeat()
        .args(["--schedule", "daily", "--tz", "UTC", "-v"])
        .args(["--cronitor-api-url", &format!("{}/api/", server.url())])
        .env("CRONBEAT_CRONITOR_API_KEY", "cr0n1t0rK3y")
        .args([
            "--ping",
            &format!("cronitor+{}/p/KEY/nightly", server.url()),
        ])
        .args(["--", "true"])
        .run();
    out.assert_code(0);
    assert!(
        server
            .received()
            .iter()
            .all(|r| !r.path.starts_with("/api/")),
        "{:#?}",
        server.received()
    );
    assert!(
        out.stderr
            .contains("schedule \"daily\" not kept in step: Cronitor takes only cron expressions"),
        "{out:?}"
    );
}
