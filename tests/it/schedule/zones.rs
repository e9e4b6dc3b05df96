//! The zones built into cronbeat (the tz database's own TZif files, read at run time) against chrono-tz's
//! tables generated from the same database, through every clock change of 1985 to 2090: the offset at
//! each day, and the instants of each wall-clock quarter hour around every change (one, two in a
//! repeated hour, none in a skipped one).

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::harness::library::Zone;

/// No change, an hour's daylight saving on either side of the equator, half an hour's (Lord Howe), a
/// half-hour offset, a zone that moved across the date line (Apia, 2011) and a 45-minute offset (since
/// 1986). Not Morocco: its future changes around Ramadan are forecasts that each release of the database
/// revises, and chrono-tz's copy is older.
const ZONES: [&str; 8] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Kathmandu",
];

fn instants(result: LocalResult<DateTime<impl TimeZone>>) -> Vec<DateTime<Utc>> {
    match result {
        LocalResult::Single(a) => vec![a.with_timezone(&Utc)],
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            vec![a.min(b), a.max(b)]
        }
        LocalResult::None => vec![],
    }
}

#[test]
fn every_clock_change_of_a_century_agrees_with_chrono_tz() {
    let start = DateTime::parse_from_rfc3339("1985-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let days = 105 * 366;
    for name in ZONES {
        let ours: Zone = name.parse().unwrap();
        let theirs: Tz = name.parse().unwrap();
        let offset = |at: DateTime<Utc>| theirs.offset_from_utc_datetime(&at.naive_utc()).fix();
        let mut changes = 0;
        for day in 0..days {
            let at = start + TimeDelta::days(day);
            assert_eq!(ours.offset_at(at), offset(at), "{name} at {at}");
            let next = at + TimeDelta::days(1);
            if offset(at) == offset(next) {
                continue;
            }
            changes += 1;
            let first: NaiveDateTime = at.naive_utc() - TimeDelta::days(1);
            for quarter in 0..(4 * 24 * 3) {
                let wall = first + TimeDelta::minutes(15 * quarter);
                assert_eq!(
                    instants(ours.from_local(&wall)),
                    instants(theirs.from_local_datetime(&wall)),
                    "{name}: wall-clock {wall}"
                );
            }
        }
        assert!(
            name == "UTC" || name == "Asia/Kolkata" || changes > 0,
            "{name}: no change found"
        );
    }
}
