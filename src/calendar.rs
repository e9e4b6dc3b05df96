//! systemd calendar events (systemd.time(7), "CALENDAR EVENTS"), the `OnCalendar=` of a timer, as a
//! schedule: `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]] [TIME ZONE]`, and the words `minutely`
//! `hourly` `daily` `weekly` `monthly` `quarterly` `semiannually` `yearly` `annually`.
//!
//! Due times are the timer's own: the search is systemd's (calendarspec.c), step by step, over the C
//! library's clock as glibc keeps it ([`clock`]), so daylight saving comes out as `systemd-analyze
//! calendar` shows it, not as cron's rules would have it. Fractions of a second are refused: a due time
//! here is a whole second.
//!
//! Which reading an expression gets ([`read`]): one that begins with `@` or has exactly five
//! whitespace-separated fields is cron; anything else is a calendar event (none has more than four
//! parts). Words of cron characters alone that do not read as a calendar event are taken for a cron
//! expression with a field too many or too few, so that is what the error says.

mod clock;
mod parse;
mod search;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{Datelike, NaiveDateTime, Timelike};

use crate::zone::Zone;

/// Microseconds in a second: systemd counts seconds in them.
const USEC: i32 = 1_000_000;

/// One item of a field: `start`, `start..stop`, `start/repeat` or `start..stop/repeat` (`stop` -1 for
/// none, `repeat` 0 for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Component {
    start: i32,
    stop: i32,
    repeat: i32,
}

impl Component {
    fn single(value: i32) -> Component {
        Component {
            start: value,
            stop: -1,
            repeat: 0,
        }
    }

    /// systemd's normal form: a range a whole number of repetitions long; one that repeats never, or
    /// spans one value, is that value.
    fn normalise(&mut self) {
        if self.stop > self.start && self.repeat > 0 {
            self.stop -= (self.stop - self.start) % self.repeat;
        }
        if (self.stop > self.start && self.repeat > 0 && self.start + self.repeat > self.stop)
            || self.start == self.stop
        {
            self.repeat = 0;
            self.stop = -1;
        }
    }

    fn matches(&self, value: i32) -> bool {
        if value == self.start {
            return true;
        }
        self.repeat > 0
            && value > self.start
            && (self.stop < 0 || value <= self.stop)
            && (value - self.start) % self.repeat == 0
    }
}

/// A field's items, sorted; `None` for `*`.
type Chain = Option<Vec<Component>>;

/// A calendar event as systemd normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    /// Bit 0 Monday … bit 6 Sunday; `None` for every day.
    weekdays: Option<u8>,
    /// The day field counts from the end of the month (`~`).
    end_of_month: bool,
    year: Chain,
    month: Chain,
    day: Chain,
    hour: Chain,
    minute: Chain,
    /// In microseconds; never `None` (a `*` is every whole second).
    second: Chain,
}

/// A calendar event: what is due when, and the zone it names, if any.
#[derive(Debug, Clone)]
pub struct Calendar {
    spec: Spec,
    zone: Option<Zone>,
    /// As written, without the zone.
    text: String,
}

/// How an expression is read.
pub enum Reading {
    Cron,
    Calendar(Result<Calendar, String>),
}

/// Reads `expr` (trimmed) as cron or as a calendar event, by the rule in the module's documentation.
pub fn read(expr: &str) -> Reading {
    let expr = expr.trim();
    let words: Vec<&str> = expr.split_whitespace().collect();
    if expr.starts_with('@') || words.len() == 5 {
        return Reading::Cron;
    }
    let calendar = Calendar::parse(expr);
    let cron_characters = |w: &&str| {
        w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b',' | b'/' | b'-'))
    };
    // A first word of letters (a weekday, a word such as daily) or a date (`*-*-*`) is a calendar
    // event's, whatever else is wrong with it; cron's first field is the minute.
    let calendar_like = words
        .first()
        .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_alphabetic()))
        || words.iter().any(|w| w.matches('-').count() >= 2);
    if calendar.is_err() && words.len() > 1 && words.iter().all(cron_characters) && !calendar_like {
        return Reading::Cron;
    }
    Reading::Calendar(calendar)
}

impl Calendar {
    /// `expr`, trimmed; an error is one line naming the expression, the part at fault and why.
    pub fn parse(expr: &str) -> Result<Calendar, String> {
        let parsed = parse::parse(expr.trim())?;
        Ok(Calendar {
            spec: parsed.spec,
            zone: parsed.zone,
            text: parsed.text,
        })
    }

    /// The zone the expression ends with (`UTC`, `Europe/Berlin`), if any.
    pub fn zone(&self) -> Option<&Zone> {
        self.zone.as_ref()
    }

    /// The expression as written, without its zone.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether `expr` is the same event, however it is written (`Mon..Fri 9:00` is
    /// `Mon-Fri *-*-* 09:00:00`): a zone it names must be this one's.
    pub fn same_times(&self, expr: &str, zone: &Zone) -> bool {
        Calendar::parse(expr).is_ok_and(|other| {
            other.spec == self.spec && other.zone.as_ref().map_or(true, |z| z == zone)
        })
    }

    /// The first due time strictly after `after`, in `zone`.
    pub fn next_after(&self, after: SystemTime, zone: &Zone) -> Option<SystemTime> {
        let next = search::next_elapse(&self.spec, zone.rules(), micros(after))?;
        Some(UNIX_EPOCH + Duration::from_micros(u64::try_from(next).ok()?))
    }

    /// The latest due time at or before `at`, in `zone`: the due time that the timer's run of elapses,
    /// followed from an earlier instant, reaches last before passing `at`.
    pub fn latest_at_or_before(&self, at: SystemTime, zone: &Zone) -> Option<SystemTime> {
        let at = micros(at);
        let next = |from: i64| search::next_elapse(&self.spec, zone.rules(), from);
        // Far enough back that some due time lies between, doubling from a minute.
        let mut window: i64 = 60 * i64::from(USEC);
        let mut low = loop {
            let from = (at - window).max(0);
            match next(from) {
                Some(due) if due <= at => break from,
                None => return None,
                Some(_) if from == 0 => return None,
                Some(_) => window = window.saturating_mul(2),
            }
        };
        // The next elapse grows with the instant it follows: bisect for the last one at or before.
        let mut high = at;
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            match next(middle) {
                Some(due) if due <= at => low = middle,
                _ => high = middle,
            }
        }
        let due = next(low)?;
        Some(UNIX_EPOCH + Duration::from_micros(u64::try_from(due).ok()?))
    }

    /// Whether a wall-clock time matches the event's fields (its second, too, must match).
    pub fn matches_wall(&self, wall: &NaiveDateTime) -> bool {
        let spec = &self.spec;
        let any = |chain: &Chain, value: i32| {
            chain
                .as_ref()
                .map_or(true, |items| items.iter().any(|c| c.matches(value)))
        };
        let month_length = {
            let (y, m) = (wall.year(), wall.month());
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1)
                .and_then(|d| d.pred_opt())
                .map_or(31, |d| d.day() as i32)
        };
        let day = wall.day() as i32;
        let day_matches = match (&spec.day, spec.end_of_month) {
            (None, _) => true,
            (Some(items), true) => items.iter().any(|c| {
                // `~N` is the day N-1 before the last; a range `~A..B` runs from ~B to ~A.
                let from_end = month_length - day + 1;
                c.matches(from_end)
            }),
            (Some(_), false) => any(&spec.day, day),
        };
        let weekday = wall.weekday().num_days_from_monday();
        spec.weekdays
            .map_or(true, |bits| bits & (1 << weekday) != 0)
            && any(&spec.year, wall.year())
            && any(&spec.month, wall.month() as i32)
            && day_matches
            && any(&spec.hour, wall.hour() as i32)
            && any(&spec.minute, wall.minute() as i32)
            && wall.nanosecond() == 0
            && any(&spec.second, wall.second() as i32 * USEC)
    }
}

/// Microseconds since the epoch (0 for earlier times: systemd counts none before it).
fn micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        let stamp: jiff::Timestamp = text.parse().unwrap();
        UNIX_EPOCH + Duration::from_secs(stamp.as_second() as u64)
    }

    fn shown(at: SystemTime) -> String {
        crate::schedule::rfc3339_utc(at)
    }

    /// The next `n` due times after `from`, in UTC.
    fn next(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let calendar = Calendar::parse(expr).unwrap();
        let zone: Zone = zone.parse().unwrap();
        let mut from = at(from);
        let mut due = Vec::new();
        for _ in 0..n {
            let Some(next) = calendar.next_after(from, &zone) else {
                break;
            };
            due.push(shown(next));
            from = next;
        }
        due
    }

    #[test]
    fn due_times_as_systemd_analyze_shows_them() {
        // Each list is `TZ=UTC systemd-analyze calendar --iterations=N --base-time=@…` (systemd 252).
        assert_eq!(
            next("*-02~03", "UTC", "2026-12-01T00:00:00Z", 2),
            ["2027-02-26T00:00:00Z", "2028-02-27T00:00:00Z"]
        );
        assert_eq!(
            next("*-*-1/30", "UTC", "2027-01-20T00:00:00Z", 3),
            [
                "2027-01-31T00:00:00Z",
                "2027-02-01T00:00:00Z",
                "2027-03-01T00:00:00Z"
            ]
        );
        // A skipped hour: not due that day. A repeated one: the first pass.
        assert_eq!(
            next("*-*-* 02:30", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            ["2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]
        );
        assert_eq!(
            next("*-*-* 02:30", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        );
        // From within the second pass, the second pass.
        assert_eq!(
            next("*-*-* 02:30", "Europe/Berlin", "2026-10-25T01:10:00Z", 1),
            ["2026-10-25T01:30:00Z"]
        );
        assert_eq!(
            next("*:30", "Europe/Berlin", "2026-10-24T23:00:00Z", 4),
            [
                "2026-10-24T23:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-25T02:30:00Z",
                "2026-10-25T03:30:00Z"
            ]
        );
        assert_eq!(
            next("*:30", "Europe/Dublin", "2026-03-28T23:00:00Z", 4),
            [
                "2026-03-28T23:30:00Z",
                "2026-03-29T00:30:00Z",
                "2026-03-29T01:30:00Z",
                "2026-03-29T02:30:00Z"
            ]
        );
        assert_eq!(
            next("*:0/10", "Asia/Kathmandu", "1985-12-31T18:00:00Z", 4),
            [
                "1985-12-31T18:10:00Z",
                "1985-12-31T18:20:00Z",
                "1985-12-31T18:35:00Z",
                "1985-12-31T18:45:00Z"
            ]
        );
        assert_eq!(
            next(
                "Sun *-10-25 02:30",
                "Europe/Berlin",
                "2026-10-24T12:00:00Z",
                2
            ),
            ["2026-10-25T00:30:00Z", "2037-10-25T00:30:00Z"]
        );
    }

    #[test]
    fn the_latest_due_time_is_the_one_before_the_next() {
        let calendar = Calendar::parse("Mon..Fri 09:00").unwrap();
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        let latest = calendar
            .latest_at_or_before(at("2026-12-07T07:59:59Z"), &berlin)
            .unwrap();
        assert_eq!(shown(latest), "2026-12-04T08:00:00Z");
        let latest = calendar
            .latest_at_or_before(at("2026-12-07T08:00:00Z"), &berlin)
            .unwrap();
        assert_eq!(shown(latest), "2026-12-07T08:00:00Z");
        let yearly = Calendar::parse("*-02-29 12:00").unwrap();
        let latest = yearly
            .latest_at_or_before(at("2031-01-01T00:00:00Z"), &Zone::utc())
            .unwrap();
        assert_eq!(shown(latest), "2028-02-29T12:00:00Z");
        let once = Calendar::parse("2030-01-01").unwrap();
        assert_eq!(
            once.latest_at_or_before(at("2029-01-01T00:00:00Z"), &Zone::utc()),
            None
        );
    }

    #[test]
    fn which_reading() {
        let calendar = |e| matches!(read(e), Reading::Calendar(Ok(_)));
        let cron = |e| matches!(read(e), Reading::Cron);
        assert!(cron("15 3 * * *") && cron("@daily") && cron("0 9 * * MON-FRI"));
        assert!(cron("* * * *") && cron("0 0 * * * *"));
        assert!(calendar("daily") && calendar("Mon..Fri 9:00") && calendar("*-*-* 03:15:00"));
        assert!(calendar("Mon *-*-01") && calendar("2026-01-01") && calendar("*:0/15 UTC"));
        assert!(matches!(read("dayly"), Reading::Calendar(Err(_))));
        assert!(matches!(read("*-*-* 25:00"), Reading::Calendar(Err(_))));
        assert!(matches!(read("*-*-* 12"), Reading::Calendar(Err(_))));
        assert!(matches!(read("Mon 12"), Reading::Calendar(Err(_))));
    }

    #[test]
    fn wall_clock_times_match_the_fields() {
        let wall = |t: &str| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap();
        let c = Calendar::parse("Mon..Fri *-*~01 9:00").unwrap();
        assert!(c.matches_wall(&wall("2026-11-30 09:00:00")));
        assert!(!c.matches_wall(&wall("2026-11-29 09:00:00")));
        assert!(!c.matches_wall(&wall("2026-11-30 09:00:01")));
        let c = Calendar::parse("*-*-1..7/3 *:*:0/20").unwrap();
        assert!(c.matches_wall(&wall("2026-01-04 17:03:40")));
        assert!(!c.matches_wall(&wall("2026-01-05 17:03:40")));
    }

    #[test]
    fn the_same_event_however_written() {
        let c = Calendar::parse("Mon..Fri 9:00 Europe/Berlin").unwrap();
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert_eq!(c.text(), "Mon..Fri 9:00");
        assert!(c.same_times("Mon-Fri *-*-* 09:00:00", &berlin));
        assert!(c.same_times("Mon..Fri 09:00 Europe/Berlin", &berlin));
        assert!(!c.same_times("Mon..Fri 09:00 UTC", &berlin));
        assert!(!c.same_times("Mon..Sat 09:00", &berlin));
        assert!(!c.same_times("0 9 * * 1-5", &berlin));
    }
}
