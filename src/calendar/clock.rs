//! The C library's clock as systemd's calendar code sees it: `localtime` and `mktime` over a zone's rules,
//! a broken-down time whose fields may be out of range until `mktime` normalises them.
//!
//! systemd computes due times in local time and leans on glibc's `mktime` to say when a wall-clock time
//! does not exist or exists twice; its answers are what a timer does, so they are reproduced here:
//! - a time the clock skips is read with one of the two offsets around the skip: the one that puts it
//!   in daylight saving time when only one does (02:30 on the night Berlin springs forward is 03:30
//!   CEST), else the offset of the previous answer;
//! - a time the clock shows twice is read with the offset of the previous answer when that is one of the
//!   two (glibc starts from it and it fits), else with the one a few steps from it lead to;
//! - asked with a known daylight-saving flag (a time that came from `localtime`), the matching reading.
//!
//! "The previous answer" is state: each `mktime` leaves its reading behind, as glibc keeps it in a
//! static, and the search in [`super::search`] calls `mktime` in the same order systemd does.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

const DAY: i64 = 86_400;

/// A broken-down time, `struct tm` with the year in full and the month from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tm {
    pub year: i32,
    pub mon: i32,
    pub mday: i32,
    pub hour: i32,
    pub min: i32,
    pub sec: i32,
    /// `tm_isdst`: known, or to be found (-1).
    pub isdst: Option<bool>,
    /// `tm_wday` as the last normalisation left it: 0 is Sunday.
    pub wday: i32,
}

/// `localtime` and `mktime` in one zone, with `mktime`'s memory of its previous reading.
pub(super) struct Clock<'a> {
    tz: &'a TimeZone,
    /// The offset (seconds east of UTC) the previous `mktime` read its time with.
    guess: i32,
}

impl<'a> Clock<'a> {
    /// A clock whose first guess is the offset in force at `at` (Unix seconds).
    pub fn new(tz: &'a TimeZone, at: i64) -> Clock<'a> {
        let guess = stamp(at).map_or(0, |s| tz.to_offset(s).seconds());
        Clock { tz, guess }
    }

    /// The zone's wall-clock time at `t` (Unix seconds).
    pub fn localtime(&self, t: i64) -> Option<Tm> {
        let info = self.tz.to_offset_info(stamp(t)?);
        let local = t + i64::from(info.offset().seconds());
        let mut tm = broken_down(local)?;
        tm.isdst = Some(info.dst().is_dst());
        Some(tm)
    }

    /// `mktime`: the instant of `tm` (Unix seconds, possibly negative), and `tm` normalised to the
    /// wall-clock time of that instant; `None` (and `tm` untouched) when it is out of range.
    pub fn mktime(&mut self, tm: &mut Tm) -> Option<i64> {
        let year = i64::from(tm.year) + i64::from(tm.mon.div_euclid(12));
        let days = days_from_civil(year, tm.mon.rem_euclid(12) + 1, 1) + i64::from(tm.mday) - 1;
        // glibc reads a second outside 0-59 as 0 or 59 and adds the difference back afterwards.
        let clamped = tm.sec.clamp(0, 59);
        let local =
            days * DAY + i64::from(tm.hour) * 3600 + i64::from(tm.min) * 60 + i64::from(clamped);
        let offset = self.reading(local, tm.isdst)?;
        let t = local - i64::from(offset) + i64::from(tm.sec - clamped);
        let normalised = self.localtime(t)?;
        self.guess = offset;
        *tm = normalised;
        Some(t)
    }

    /// The offset a local time (seconds since 1970-01-01 00:00 of the wall clock) is read with.
    fn reading(&self, local: i64, isdst: Option<bool>) -> Option<i32> {
        let civil = civil(local)?;
        let (first, second) = match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                let offset = offset.seconds();
                return match isdst {
                    Some(wanted) if self.dst_at(local - i64::from(offset))? != wanted => {
                        self.offset_with_flag(local - i64::from(offset), wanted)
                    }
                    _ => Some(offset),
                };
            }
            AmbiguousOffset::Gap { before, after } => {
                let (before, after) = (before.seconds(), after.seconds());
                // Read with the earlier offset the time lands past the skip, with the later before it.
                let past = self.dst_at(local - i64::from(before))?;
                let short = self.dst_at(local - i64::from(after))?;
                if past != short {
                    // Asked with a flag, glibc prefers the reading whose flag differs from it.
                    let wanted = isdst.map_or(true, |flag| !flag);
                    return Some(if past == wanted { before } else { after });
                }
                (before, after)
            }
            AmbiguousOffset::Fold { before, after } => {
                let (before, after) = (before.seconds(), after.seconds());
                if let Some(wanted) = isdst {
                    let first = self.dst_at(local - i64::from(before))?;
                    let second = self.dst_at(local - i64::from(after))?;
                    if first != second {
                        return Some(if first == wanted { before } else { after });
                    }
                }
                (before, after)
            }
        };
        Some(self.settled_on(local, first, second))
    }

    /// Of two readings, the one glibc's probing from its previous offset settles on.
    fn settled_on(&self, local: i64, first: i32, second: i32) -> i32 {
        if self.guess == first || self.guess == second {
            return self.guess;
        }
        let mut t = local - i64::from(self.guess);
        for _ in 0..6 {
            let Some(offset) = stamp(t).map(|s| self.tz.to_offset(s).seconds()) else {
                break;
            };
            if offset == first || offset == second {
                return offset;
            }
            t = local - i64::from(offset);
        }
        first
    }

    /// glibc's answer to a flag the time does not have: the offset of the nearest instant, in steps of
    /// about a week either way for up to about eight years, that has it.
    fn offset_with_flag(&self, t: i64, wanted: bool) -> Option<i32> {
        const STRIDE: i64 = 601_200;
        const BOUND: i64 = 536_454_000 / 2 + STRIDE;
        let mut delta = STRIDE;
        while delta < BOUND {
            for probe in [t - delta, t + delta] {
                if self.dst_at(probe)? == wanted {
                    return stamp(probe).map(|s| self.tz.to_offset(s).seconds());
                }
            }
            delta += STRIDE;
        }
        None
    }

    fn dst_at(&self, t: i64) -> Option<bool> {
        Some(self.tz.to_offset_info(stamp(t)?).dst().is_dst())
    }
}

fn stamp(t: i64) -> Option<Timestamp> {
    Timestamp::from_second(t).ok()
}

/// A wall-clock time (seconds since 1970-01-01 00:00 of the wall clock) as jiff's civil time.
fn civil(local: i64) -> Option<jiff::civil::DateTime> {
    let tm = broken_down(local)?;
    jiff::civil::DateTime::new(
        i16::try_from(tm.year).ok()?,
        (tm.mon + 1) as i8,
        tm.mday as i8,
        tm.hour as i8,
        tm.min as i8,
        tm.sec as i8,
        0,
    )
    .ok()
}

/// Wall-clock seconds as a normalised broken-down time (no daylight-saving flag).
fn broken_down(local: i64) -> Option<Tm> {
    let days = local.div_euclid(DAY);
    let second = local.rem_euclid(DAY) as i32;
    let (year, month, day) = civil_from_days(days);
    Some(Tm {
        year: i32::try_from(year).ok()?,
        mon: month - 1,
        mday: day,
        hour: second / 3600,
        min: second / 60 % 60,
        sec: second % 60,
        isdst: None,
        // 1970-01-01 was a Thursday.
        wday: (days + 4).rem_euclid(7) as i32,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, any day).
pub(super) fn days_from_civil(year: i64, month: i32, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468 + day - 1
}

/// The date of a day number (days since 1970-01-01): year, month 1-12, day 1-31.
fn civil_from_days(days: i64) -> (i64, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as i32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as i32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(year: i32, mon: i32, mday: i32, hour: i32, min: i32) -> Tm {
        Tm {
            year,
            mon: mon - 1,
            mday,
            hour,
            min,
            sec: 0,
            isdst: None,
            wday: 0,
        }
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    /// Unix seconds of an RFC 3339 time.
    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn dates_and_day_numbers_agree() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, i64::from(d)), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2028, 3, 0)), (2028, 2, 29));
    }

    #[test]
    fn out_of_range_fields_normalise_as_mktime_does() {
        let tz = zone("UTC");
        let mut clock = Clock::new(&tz, 0);
        let mut t = tm(2026, 2, 31, 24, 60);
        let stamp = clock.mktime(&mut t).unwrap();
        assert_eq!(stamp, at("2026-03-04T01:00:00Z"));
        assert_eq!((t.mon, t.mday, t.hour, t.min, t.wday), (2, 4, 1, 0, 3));
        let mut t = tm(2026, 13, 1 - 3, 0, 0);
        clock.mktime(&mut t).unwrap();
        assert_eq!((t.year, t.mon, t.mday), (2026, 11, 29));
    }

    #[test]
    fn skipped_times_read_into_daylight_saving_whatever_the_guess() {
        let tz = zone("Europe/Berlin");
        for primed in ["2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"] {
            let mut clock = Clock::new(&tz, at(primed));
            let mut t = tm(2026, 3, 29, 2, 30);
            assert_eq!(clock.mktime(&mut t), Some(at("2026-03-29T01:30:00Z")));
            assert_eq!((t.hour, t.min, t.isdst), (3, 30, Some(true)));
        }
        // Asked with the flag of the time before the skip, the same; with the other, the other reading.
        let mut clock = Clock::new(&tz, at("2026-01-15T12:00:00Z"));
        let mut t = tm(2026, 3, 29, 2, 30);
        t.isdst = Some(false);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-03-29T01:30:00Z")));
        let mut t = tm(2026, 3, 29, 2, 30);
        t.isdst = Some(true);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-03-29T00:30:00Z")));
        // A flag the time cannot have: the offset of the nearest time that has it (glibc).
        let mut t = tm(2026, 1, 15, 12, 0);
        t.isdst = Some(true);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-01-15T10:00:00Z")));
    }

    #[test]
    fn without_a_daylight_saving_side_the_guess_decides() {
        // Kathmandu moved from +05:30 to +05:45 at 1986-01-01 00:00: 00:00-00:14 never showed.
        let tz = zone("Asia/Kathmandu");
        let mut clock = Clock::new(&tz, at("1985-06-01T00:00:00Z"));
        let mut t = tm(1986, 1, 1, 0, 5);
        assert_eq!(clock.mktime(&mut t), Some(at("1985-12-31T18:35:00Z")));
        let mut clock = Clock::new(&tz, at("1986-06-01T00:00:00Z"));
        let mut t = tm(1986, 1, 1, 0, 5);
        assert_eq!(clock.mktime(&mut t), Some(at("1985-12-31T18:20:00Z")));
    }

    #[test]
    fn repeated_times_read_with_the_previous_offset_or_the_flag() {
        let tz = zone("Europe/Berlin");
        let mut clock = Clock::new(&tz, at("2026-07-15T12:00:00Z"));
        let mut t = tm(2026, 10, 25, 2, 30);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-10-25T00:30:00Z")));
        let mut clock = Clock::new(&tz, at("2026-12-15T12:00:00Z"));
        let mut t = tm(2026, 10, 25, 2, 30);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-10-25T01:30:00Z")));
        // The reading stays: the next repeated time is read the same way.
        let mut t = tm(2026, 10, 25, 2, 45);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-10-25T01:45:00Z")));
        let mut t = tm(2026, 10, 25, 2, 45);
        t.isdst = Some(true);
        assert_eq!(clock.mktime(&mut t), Some(at("2026-10-25T00:45:00Z")));
        let back = clock.localtime(at("2026-10-25T01:45:00Z")).unwrap();
        assert_eq!((back.hour, back.min, back.isdst), (2, 45, Some(false)));
    }
}
