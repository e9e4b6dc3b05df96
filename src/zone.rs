//! IANA time zones, from the copy of the tz database built into the binary: the zones' own TZif files,
//! one block of bytes, read when a zone is first named. A `FROM scratch` image without
//! /usr/share/zoneinfo computes the same times as the host, and the host's files never make two
//! machines of a fleet disagree.
//!
//! The data holds no pointers, so it costs nothing at start-up: generated Rust tables of every zone's
//! transitions (chrono-tz) held 29,000 pointers that the loader fixed up, page by page, at every start of
//! a position-independent build, a schedule or not.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeDelta, Utc};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// A zone of the tz database (`Europe/Berlin`, `UTC`).
#[derive(Clone)]
pub struct Zone {
    tz: TimeZone,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone { tz: TimeZone::UTC }
    }

    /// The zone's name as the database spells it (`--tz europe/berlin` is `Europe/Berlin`).
    pub fn name(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }

    /// The zone's rules, for code that reads them itself (the search for calendar events).
    pub(crate) fn rules(&self) -> &TimeZone {
        &self.tz
    }

    /// The zone's offset from UTC at `at`.
    pub fn offset_at(&self, at: DateTime<Utc>) -> FixedOffset {
        let stamp = jiff::Timestamp::from_second(at.timestamp()).unwrap_or(if at.timestamp() < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        fixed(self.tz.to_offset(stamp))
    }

    /// `at` as this zone's clock shows it.
    pub fn at(&self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        at.with_timezone(&self.offset_at(at))
    }

    /// The instants this zone's clock shows `wall` at: one, two in a repeated hour (the earlier
    /// first), none in a skipped hour.
    pub fn from_local(&self, wall: &NaiveDateTime) -> LocalResult<DateTime<FixedOffset>> {
        let Some(civil) = civil(wall) else {
            return LocalResult::None;
        };
        let instant = |offset: jiff::tz::Offset| {
            let offset = fixed(offset);
            let utc = *wall - TimeDelta::seconds(offset.local_minus_utc().into());
            DateTime::from_naive_utc_and_offset(utc, offset)
        };
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalResult::Single(instant(offset)),
            AmbiguousOffset::Gap { .. } => LocalResult::None,
            AmbiguousOffset::Fold { before, after } => {
                let (a, b) = (instant(before), instant(after));
                LocalResult::Ambiguous(a.min(b), a.max(b))
            }
        }
    }
}

impl FromStr for Zone {
    type Err = String;

    /// A name of the database, in any case.
    fn from_str(name: &str) -> Result<Zone, String> {
        TimeZone::get(name)
            .map(|tz| Zone { tz })
            .map_err(|e| e.to_string())
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.name())
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn fixed(offset: jiff::tz::Offset) -> FixedOffset {
    FixedOffset::east_opt(offset.seconds()).unwrap_or(FixedOffset::east_opt(0).expect("zero"))
}

fn civil(wall: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    jiff::civil::DateTime::new(
        i16::try_from(wall.year()).ok()?,
        wall.month() as i8,
        wall.day() as i8,
        wall.hour() as i8,
        wall.minute() as i8,
        wall.second() as i8,
        wall.nanosecond().min(999_999_999) as i32,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn names_are_the_databases() {
        let berlin: Zone = "europe/berlin".parse().unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin");
        assert_eq!(Zone::utc().name(), "UTC");
        assert!("Mars/Olympus_Mons".parse::<Zone>().is_err());
        assert!("".parse::<Zone>().is_err());
    }

    #[test]
    fn offsets_follow_daylight_saving() {
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            berlin
                .offset_at(utc("2026-01-15T12:00:00Z"))
                .local_minus_utc(),
            3600
        );
        assert_eq!(
            berlin
                .offset_at(utc("2026-07-15T12:00:00Z"))
                .local_minus_utc(),
            7200
        );
        // Far past the last transition of the table, the zone's rule still applies.
        assert_eq!(
            berlin
                .offset_at(utc("2090-07-15T12:00:00Z"))
                .local_minus_utc(),
            7200
        );
        let kolkata: Zone = "Asia/Kolkata".parse().unwrap();
        assert_eq!(
            kolkata
                .offset_at(utc("2026-07-15T12:00:00Z"))
                .local_minus_utc(),
            19800
        );
    }

    #[test]
    fn wall_clock_times_map_to_one_two_or_no_instants() {
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        let LocalResult::Single(noon) = berlin.from_local(&wall("2026-03-29 12:00:00")) else {
            panic!("noon is unambiguous")
        };
        assert_eq!(noon.to_utc(), utc("2026-03-29T10:00:00Z"));
        assert_eq!(
            berlin.from_local(&wall("2026-03-29 02:30:00")),
            LocalResult::None
        );
        let LocalResult::Ambiguous(first, second) = berlin.from_local(&wall("2026-10-25 02:30:00"))
        else {
            panic!("02:30 comes twice on the day the clock goes back")
        };
        assert_eq!(first.to_utc(), utc("2026-10-25T00:30:00Z"));
        assert_eq!(second.to_utc(), utc("2026-10-25T01:30:00Z"));
        assert_eq!(
            berlin.at(first.to_utc()).naive_local(),
            wall("2026-10-25 02:30:00")
        );
    }
}
