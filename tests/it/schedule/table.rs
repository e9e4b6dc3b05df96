//! The parser and the calendar against a table of expressions and their next due times, through
//! `cronbeat next --after`: lists, ranges, steps, names, macros, February 29th, Vixie cron's
//! day-of-month / day-of-week rule, and daylight saving in Europe/Berlin and America/New_York as cron
//! handles it (a fixed time in a skipped hour runs once after it, in a repeated hour once; a time with
//! `*` in its minute or hour field follows the clock).

use crate::harness::*;

/// (expression, zone, after, the next due times).
#[rustfmt::skip]
const TABLE: &[(&str, &str, &str, &[&str])] = &[
    ("15 3 * * *", "Europe/Berlin", "2026-11-29T02:15:00Z", &["2026-11-30T03:15:00+01:00", "2026-12-01T03:15:00+01:00"]),
    ("*/15 * * * *", "UTC", "2026-01-01T00:07:00Z", &["2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00", "2026-01-01T00:45:00+00:00"]),
    ("5-20/5 8,17 * * *", "UTC", "2026-01-01T08:12:00Z", &["2026-01-01T08:15:00+00:00", "2026-01-01T08:20:00+00:00", "2026-01-01T17:05:00+00:00"]),
    // 2026-01-02 is a Friday.
    ("0 9 * * mon-fri", "UTC", "2026-01-02T10:00:00Z", &["2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"]),
    ("0 0 * JUL-aug SUN,7", "UTC", "2026-01-01T00:00:00Z", &["2026-07-05T00:00:00+00:00", "2026-07-12T00:00:00+00:00"]),
    ("@hourly", "UTC", "2026-01-01T00:00:00Z", &["2026-01-01T01:00:00+00:00"]),
    ("@midnight", "Asia/Kolkata", "2026-01-01T00:00:00Z", &["2026-01-02T00:00:00+05:30"]),
    ("@weekly", "UTC", "2026-01-01T00:00:00Z", &["2026-01-04T00:00:00+00:00"]),
    ("@monthly", "America/New_York", "2026-01-15T00:00:00Z", &["2026-02-01T00:00:00-05:00", "2026-03-01T00:00:00-05:00", "2026-04-01T00:00:00-04:00"]),
    ("@annually", "UTC", "2026-01-01T00:00:00Z", &["2027-01-01T00:00:00+00:00"]),
    // February 29th: leap years only, and 2100 is not one.
    ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", &["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]),
    ("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", &["2104-02-29T00:00:00+00:00"]),
    // Both day fields restricted: either matches (every Friday, and every 13th).
    ("0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", &["2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00", "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"]),
    ("0 0 1-7 * 1", "UTC", "2026-01-01T00:00:00Z", &["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00", "2026-01-07T00:00:00+00:00", "2026-01-12T00:00:00+00:00"]),
    // A day field beginning with `*` (so `*/10` too): both must match, Mondays on the 1st, 11th, 21st, 31st.
    ("0 0 */10 * 1", "UTC", "2026-01-01T00:00:00Z", &["2026-05-11T00:00:00+00:00", "2026-06-01T00:00:00+00:00", "2026-08-31T00:00:00+00:00", "2026-09-21T00:00:00+00:00"]),
    ("0 0 13 * */7", "UTC", "2026-01-01T00:00:00Z", &["2026-09-13T00:00:00+00:00", "2026-12-13T00:00:00+00:00"]),
    // Berlin springs forward on 2026-03-29, 02:00 CET -> 03:00 CEST (01:00 UTC).
    ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ("0,30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", &["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),
    ("*/30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", &["2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    ("0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", &["2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]),
    // Berlin falls back on 2026-10-25, 03:00 CEST -> 02:00 CET (01:00 UTC).
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ("30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", &["2026-10-26T02:30:00+01:00"]),
    ("30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", &["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"]),
    // From inside the first pass of the repeated hour, the second pass is still to come.
    ("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:45:00Z", &["2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"]),
    // New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT) and falls back on 2026-11-01
    // (02:00 EDT -> 01:00 EST).
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", &["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    ("*/30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", &["2026-03-09T02:00:00-04:00"]),
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", &["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    ("*/20 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", &["2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00", "2026-11-02T01:00:00-05:00"]),
    // Lord Howe Island moves its clock by half an hour (02:00 -> 02:30 on 2026-10-04).
    ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", &["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]),
];

#[test]
fn next_due_times_follow_the_table() {
    let mut failures = Vec::new();
    for (expr, zone, after, expected) in TABLE {
        let count = expected.len().to_string();
        let out = cronbeat()
            .args([
                "next",
                "--schedule",
                expr,
                "--tz",
                zone,
                "--after",
                after,
                "-n",
                &count,
            ])
            .run();
        let got: Vec<&str> = out.stdout.lines().collect();
        if out.code() != 0 || got != *expected || !out.stderr.is_empty() {
            failures.push(format!(
                "{expr:?} in {zone} after {after}:\n  expected {expected:?}\n  got      {got:?}\n  {}",
                out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
