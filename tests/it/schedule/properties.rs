//! Property tests of the schedule: for any valid expression, zone and time, the next due time is after
//! the given time, matches the expression (or, for a fixed time in a skipped hour, is the first instant
//! after it), and no due time lies between; the latest due time at or before a time agrees.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use crate::harness::library::{Schedule, Zone};

/// One field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, or a list of those, within `min..=max`.
fn field(min: u32, max: u32) -> impl Strategy<Value = String> {
    let item = prop_oneof![
        Just("*".to_string()),
        (1..=max.max(2)).prop_map(|step| format!("*/{step}")),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (min..=max, min..=max, 1..=12u32).prop_map(|(a, b, step)| format!(
            "{}-{}/{step}",
            a.min(b),
            a.max(b)
        )),
    ];
    proptest::collection::vec(item, 1..=3).prop_map(|items| items.join(","))
}

fn expression() -> impl Strategy<Value = String> {
    (
        field(0, 59),
        field(0, 23),
        field(1, 31),
        field(1, 12),
        field(0, 7),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
}

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(vec![
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
    ])
    .prop_map(|name| name.parse().unwrap())
}

/// Any second from 1990 to 2090.
fn instant() -> impl Strategy<Value = SystemTime> {
    (631_152_000u64..3_786_912_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_next_due_time_is_later_matches_and_skips_none(expr in expression(), tz in zone(), after in instant()) {
        let Ok(schedule) = Schedule::new(&expr, tz.clone(), Duration::from_secs(60)) else {
            // Only an expression that is never due (31 in a month without one) is refused.
            prop_assume!(false);
            unreachable!()
        };
        let next = schedule.next_after(after).expect("a due expression has a next due time");
        let next_at: SystemTime = next.with_timezone(&Utc).into();
        prop_assert!(next_at > after, "{} is not after {:?}", next, after);
        let wall = next.naive_local();
        let in_a_skipped_hour = || {
            // A fixed time whose wall-clock time did not exist is due at the first instant after the skip.
            let before = next.with_timezone(&Utc) - TimeDelta::seconds(1);
            let jumped = (next.naive_local() - tz.at(before).naive_local()) > TimeDelta::seconds(1);
            schedule.fixed_time() && jumped
        };
        prop_assert!(
            schedule.matches_wall(&wall) || in_a_skipped_hour(),
            "{} does not match {:?}", next, expr
        );
        // Nothing due between: the latest at or before the second before `next` is at or before `after`.
        let just_before = next_at - Duration::from_secs(1);
        if let Some(latest) = schedule.latest_at_or_before(just_before) {
            let latest: SystemTime = latest.with_timezone(&Utc).into();
            prop_assert!(latest <= after, "{:?} lies between {:?} and {}", latest, after, next);
        }
        prop_assert_eq!(schedule.latest_at_or_before(next_at), Some(next));
    }

    /// In UTC, where no hour is skipped or repeated, a minute-by-minute search agrees with the calendar
    /// search: no minute between `after` and `next` matches.
    #[test]
    fn no_minute_between_matches_in_utc(expr in expression(), after in instant()) {
        let Ok(schedule) = Schedule::new(&expr, Zone::utc(), Duration::from_secs(60)) else {
            prop_assume!(false);
            unreachable!()
        };
        let next = schedule.next_after(after).unwrap();
        let after = Utc.timestamp_opt(after.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64, 0).unwrap();
        let mut minute = after.naive_utc() - TimeDelta::seconds(after.naive_utc().and_utc().timestamp() % 60);
        let mut scanned = 0;
        while scanned < 20_000 {
            minute += TimeDelta::minutes(1);
            if minute >= next.naive_utc() {
                break;
            }
            prop_assert!(!schedule.matches_wall(&minute), "{} matches {:?} before {}", minute, expr, next);
            scanned += 1;
        }
        prop_assert!(schedule.matches_wall(&next.naive_utc()));
    }

    #[test]
    fn a_tick_is_never_later_than_the_start_nor_older_than_the_grace(expr in expression(), tz in zone(), start in instant(), grace in 1u64..100_000) {
        let Ok(schedule) = Schedule::new(&expr, tz, Duration::from_secs(grace)) else {
            prop_assume!(false);
            unreachable!()
        };
        if let Some(tick) = schedule.tick(start) {
            prop_assert!(tick <= start);
            prop_assert!(start.duration_since(tick).unwrap() <= Duration::from_secs(grace));
        }
    }
}
