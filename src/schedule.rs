//! The job's schedule: a 5-field cron expression in an IANA time zone, and the grace after a due time
//! within which a run still serves it. The tick of a run is the latest due time at or before its start,
//! if no older than the grace.
//!
//! Vixie cron's rules, as Debian's cron and Healthchecks apply them:
//! - Fields `minute hour day-of-month month day-of-week`: numbers, `*`, ranges `a-b`, steps `*/n` and
//!   `a-b/n`, lists, month and day names (`jan`, `mon-fri`); day-of-week 0 and 7 are Sunday. Macros
//!   `@hourly @daily @midnight @weekly @monthly @yearly @annually`.
//! - The day-of-month / day-of-week rule: when both fields are restricted, a day matches either; when
//!   either field begins with `*` (so `*/2` too), a day must match both.
//! - Daylight saving: a job with a fixed time (neither the minute nor the hour field begins with `*`)
//!   whose time falls in a skipped hour is due once, at the first instant after the skip; in a repeated
//!   hour it is due once, the first time. A job with `*` in its minute or hour field is due at the times
//!   the clock actually shows: none in a skipped hour, both in a repeated one. A clock change of 3 hours
//!   or more (a zone moving across the date line) is taken as the new time, as cron takes a clock reset.
//!
//! This module reads and checks the expression itself (so an error names its field), finds the
//! wall-clock times that match (day by day, chrono's calendar telling month lengths, leap years and
//! weekdays, then the first allowed hour and minute of a matching day), and maps wall-clock times to
//! instants with the rules above.
//! The zones come from the database built into the binary ([`crate::zone`]), so a `FROM scratch` image
//! without /usr/share/zoneinfo computes the same times.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::calendar::{self, Calendar, Reading};
use crate::zone::Zone;

/// Clock changes smaller than this are daylight saving (cron's own bound); larger ones are a new time.
const CHANGE_LIMIT: TimeDelta = TimeDelta::hours(3);
/// Searches give up after this many wall-clock matches (never reached by a due expression).
const MAX_STEPS: usize = 100_000;
/// How many days a search for the next (or last) matching time looks at: the rarest expression that
/// is ever due (February 29th on a given weekday) is due once in 28 years; this is 400, a whole cycle
/// of the Gregorian calendar.
const SEARCH_DAYS: usize = 146_097;

/// The smallest value of `set` at or above `from`.
fn first_at_or_above(set: u64, from: u32) -> Option<u32> {
    let above = set.checked_shr(from)?;
    (above != 0).then(|| from + above.trailing_zeros())
}

/// The largest value of `set` at or below `from` (at most 63).
fn last_at_or_below(set: u64, from: u32) -> Option<u32> {
    let below = set & (u64::MAX >> (63 - from.min(63)));
    (below != 0).then(|| 63 - below.leading_zeros())
}

/// The macros, and what they stand for.
pub const MACROS: [(&str, &str); 7] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// One field of an expression: its name in messages, its range and its names (also what `adopt` checks
/// a crontab's fields against, as cron reads them).
pub(crate) struct FieldSpec {
    pub(crate) name: &'static str,
    pub(crate) min: u32,
    pub(crate) max: u32,
    /// Names for the values from `first_named` on (`jan` = 1, `sun` = 0).
    pub(crate) names: &'static [&'static str],
    pub(crate) first_named: u32,
}

pub(crate) const FIELDS: [FieldSpec; 5] = [
    FieldSpec {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        first_named: 0,
    },
    FieldSpec {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        first_named: 0,
    },
    FieldSpec {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        first_named: 0,
    },
    FieldSpec {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        first_named: 1,
    },
    FieldSpec {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        first_named: 0,
    },
];

const DOM: usize = 2;
const MONTH: usize = 3;
const DOW: usize = 4;

/// An expression read into the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    /// Bit `v` set when value `v` is allowed (day-of-week 7 folded into 0).
    sets: [u64; 5],
    /// The day-of-month and day-of-week fields begin with `*`: a day must match both.
    dom_star: bool,
    dow_star: bool,
    /// Neither the minute nor the hour field begins with `*` (cron's "fixed-time job").
    fixed: bool,
}

impl Fields {
    fn parse(fields: &[&str; 5]) -> Result<Fields, String> {
        let mut sets = [0u64; 5];
        for (index, (text, spec)) in fields.iter().zip(&FIELDS).enumerate() {
            sets[index] = parse_field(text, spec).map_err(|(item, reason)| {
                format!("field {} ({}) {item:?}: {reason}", index + 1, spec.name)
            })?;
        }
        if sets[DOW] & (1 << 7) != 0 {
            sets[DOW] = (sets[DOW] & !(1 << 7)) | 1;
        }
        let fields = Fields {
            sets,
            dom_star: fields[DOM].starts_with('*'),
            dow_star: fields[DOW].starts_with('*'),
            fixed: !fields[0].starts_with('*') && !fields[1].starts_with('*'),
        };
        if fields.both_days() && !fields.some_month_has_a_day() {
            return Err(
                "never due: no month of field 4 (month) has a day of field 3 (day-of-month)".into(),
            );
        }
        Ok(fields)
    }

    /// A day must match both day fields (either begins with `*`), not either.
    fn both_days(&self) -> bool {
        self.dom_star || self.dow_star
    }

    /// Whether some allowed month has some allowed day (February counted with its 29th).
    fn some_month_has_a_day(&self) -> bool {
        const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12u32).any(|month| {
            self.sets[MONTH] & (1 << month) != 0
                && (1..=LONGEST[month as usize - 1]).any(|day| self.sets[DOM] & (1 << day) != 0)
        })
    }

    /// What decides the due times, however it was written: `0 0 * * 0-7` and `@daily` are the same.
    fn canonical(&self) -> (u64, u64, u64, Days) {
        const ALL_DAYS: u64 = ((1u64 << 32) - 1) & !1;
        const ALL_WEEKDAYS: u64 = (1 << 7) - 1;
        let (dom, dow) = (self.sets[DOM], self.sets[DOW]);
        let (all_dom, all_dow) = (dom == ALL_DAYS, dow == ALL_WEEKDAYS);
        let days = match (self.both_days(), all_dom, all_dow) {
            (true, true, true) | (false, true, _) | (false, _, true) => Days::Every,
            (true, true, false) => Days::OfWeek(dow),
            (true, false, true) => Days::OfMonth(dom),
            (true, false, false) => Days::Both(dom, dow),
            (false, false, false) => Days::Either(dom, dow),
        };
        (self.sets[0], self.sets[1], self.sets[MONTH], days)
    }

    fn allows(&self, field: usize, value: u32) -> bool {
        self.sets[field] & (1u64 << value) != 0
    }

    /// Whether a wall-clock time matches, by the fields alone.
    fn matches(&self, wall: &NaiveDateTime) -> bool {
        use chrono::Timelike;
        wall.second() == 0
            && self.allows(0, wall.minute())
            && self.allows(1, wall.hour())
            && self.day_matches(wall.date())
    }

    /// Whether a date is allowed by the month and the two day fields.
    fn day_matches(&self, date: NaiveDate) -> bool {
        use chrono::Datelike;
        let dom = self.allows(DOM, date.day());
        let dow = self.allows(DOW, date.weekday().num_days_from_sunday());
        let day = if self.both_days() {
            dom && dow
        } else {
            dom || dow
        };
        day && self.allows(MONTH, date.month())
    }

    /// The first wall-clock time at or after `from` (after it, unless `inclusive`) that matches.
    fn next(&self, from: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        use chrono::Timelike;
        let minute = from.with_second(0)?.with_nanosecond(0)?;
        let mut at = if inclusive && minute == from {
            minute
        } else {
            minute + TimeDelta::minutes(1)
        };
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(at.date()) {
                let (hour, min) = (at.hour(), at.minute());
                // This hour from this minute on, then the later hours from minute 0.
                let found = first_at_or_above(self.sets[0], min)
                    .filter(|_| self.allows(1, hour))
                    .map(|m| (hour, m))
                    .or_else(|| {
                        let h = first_at_or_above(self.sets[1], hour + 1)?;
                        Some((h, first_at_or_above(self.sets[0], 0)?))
                    });
                if let Some((h, m)) = found.filter(|(h, _)| *h < 24) {
                    return at.date().and_hms_opt(h, m, 0);
                }
            }
            at = at.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
        }
        None
    }

    /// The last wall-clock time at or before `from` (before it, unless `inclusive`) that matches.
    fn previous(&self, from: NaiveDateTime, inclusive: bool) -> Option<NaiveDateTime> {
        use chrono::Timelike;
        let minute = from.with_second(0)?.with_nanosecond(0)?;
        let mut at = if inclusive || minute != from {
            minute
        } else {
            minute - TimeDelta::minutes(1)
        };
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(at.date()) {
                let (hour, min) = (at.hour(), at.minute());
                let found = last_at_or_below(self.sets[0], min)
                    .filter(|_| self.allows(1, hour))
                    .map(|m| (hour, m))
                    .or_else(|| {
                        let h = last_at_or_below(self.sets[1], hour.checked_sub(1)?)?;
                        Some((h, last_at_or_below(self.sets[0], 59)?))
                    });
                if let Some((h, m)) = found {
                    return at.date().and_hms_opt(h, m, 0);
                }
            }
            at = at.date().pred_opt()?.and_hms_opt(23, 59, 0)?;
        }
        None
    }
}

/// Which days a schedule is due on.
#[derive(Debug, PartialEq, Eq)]
enum Days {
    Every,
    OfMonth(u64),
    OfWeek(u64),
    Both(u64, u64),
    Either(u64, u64),
}

/// One field's allowed values, or the item at fault and why.
fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, (String, String)> {
    let mut set = 0u64;
    for item in text.split(',') {
        let fail = |reason: String| (item.to_string(), reason);
        if item.is_empty() {
            return Err((text.to_string(), "an empty item in the list".into()));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = match step.parse::<u32>() {
                    Ok(0) => return Err(fail("the step must be at least 1".into())),
                    Ok(step) => step,
                    Err(_) => return Err(fail(format!("step {step:?} is not a number"))),
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((low, high)) = range.split_once('-') {
            let low = value(low, spec).map_err(fail)?;
            let high = value(high, spec).map_err(fail)?;
            if low > high {
                return Err(fail(format!(
                    "the range runs backwards ({low} is after {high})"
                )));
            }
            (low, high)
        } else {
            let single = value(range, spec).map_err(fail)?;
            if let Some(step) = step {
                return Err(fail(format!(
                    "a step needs a range or * before it (as in {single}-{}/{step})",
                    spec.max
                )));
            }
            (single, single)
        };
        let step = step.unwrap_or(1) as usize;
        for v in (low..=high).step_by(step) {
            set |= 1u64 << v;
        }
    }
    Ok(set)
}

/// A number or a name of the field, within its range.
fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (spec.min..=spec.max).contains(&v) => Ok(v),
            _ => Err(format!("{text} is out of range {}-{}", spec.min, spec.max)),
        };
    }
    let lower = text.to_ascii_lowercase();
    if let Some(at) = spec.names.iter().position(|n| *n == lower) {
        return Ok(at as u32 + spec.first_named);
    }
    if text.is_empty() {
        return Err("a range needs a value on both sides of -".into());
    }
    Err(if spec.names.is_empty() {
        format!("{text:?} is not a number")
    } else {
        format!(
            "{text:?} is not a number or a name ({})",
            spec.names.join(" ")
        )
    })
}

/// The longest waits between due times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gaps {
    /// As elapsed time: a daily job waits 25 hours on the day the clock goes back.
    pub elapsed: Duration,
    /// As the wall clock counts (a daily job: 24 hours).
    pub wall: Duration,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written (a macro such as `@daily` stays a macro).
    pub expr: String,
    /// The zone due times are counted in: a calendar event's own zone, else the one given.
    pub tz: Zone,
    /// How late a run may start and still serve its due time.
    pub grace: Duration,
    rule: Rule,
}

/// What decides the due times: a cron expression, or a systemd calendar event ([`crate::calendar`]).
#[derive(Debug, Clone)]
enum Rule {
    Cron(CronRule),
    Calendar(Calendar),
}

#[derive(Debug, Clone)]
struct CronRule {
    /// The five fields as written, macros expanded, for services that hold a cron expression.
    text: String,
    fields: Fields,
}

impl Schedule {
    /// `expr` in zone `tz` (a calendar event that names its own zone is counted in that one). An error
    /// is one line naming the part at fault: `field 2 (hour) "25": 25 is out of range 0-23`.
    pub fn new(expr: &str, tz: Zone, grace: Duration) -> Result<Schedule, String> {
        let expr = expr.trim();
        // Pasted from a crontab, the zone prefix would read as neither a cron nor a calendar expression.
        if let Some(message) = zone_prefix(expr) {
            return Err(message);
        }
        if let Reading::Calendar(calendar) = calendar::read(expr) {
            let calendar = calendar?;
            return Ok(Schedule {
                expr: expr.to_string(),
                tz: calendar.zone().cloned().unwrap_or(tz),
                grace,
                rule: Rule::Calendar(calendar),
            });
        }
        let (fields, text) = read(expr)?;
        Ok(Schedule {
            expr: expr.to_string(),
            tz,
            grace,
            rule: Rule::Cron(CronRule { text, fields }),
        })
    }

    /// The five fields as written, a macro replaced by what it stands for, one blank between fields;
    /// `None` for a calendar event, which has no exact cron form.
    pub fn cron_expression(&self) -> Option<&str> {
        match &self.rule {
            Rule::Cron(cron) => Some(&cron.text),
            Rule::Calendar(_) => None,
        }
    }

    /// What a monitor that holds the schedule is told: the cron fields (not every service reads
    /// `@daily`), or the calendar event without its zone (the zone is told apart, as `tz`).
    pub fn expression(&self) -> &str {
        match &self.rule {
            Rule::Cron(cron) => &cron.text,
            Rule::Calendar(calendar) => calendar.text(),
        }
    }

    /// The own zone a calendar event names (`… Europe/Berlin`), if any.
    pub fn own_zone(&self) -> Option<&Zone> {
        match &self.rule {
            Rule::Calendar(calendar) => calendar.zone(),
            Rule::Cron(_) => None,
        }
    }

    /// Whether `expr` (a monitor's stored schedule) is due at the same wall-clock times, however it is
    /// written. An expression this module cannot read never is.
    pub fn same_times(&self, expr: &str) -> bool {
        match &self.rule {
            Rule::Cron(cron) => read(expr.trim())
                .is_ok_and(|(fields, _)| fields.canonical() == cron.fields.canonical()),
            Rule::Calendar(calendar) => calendar.same_times(expr, &self.tz),
        }
    }

    /// A fixed-time job in cron's sense: neither its minute nor its hour field begins with `*` (never a
    /// calendar event, which follows systemd's rules instead).
    pub fn fixed_time(&self) -> bool {
        matches!(&self.rule, Rule::Cron(cron) if cron.fields.fixed)
    }

    /// Whether the expression's fields match this wall-clock time (seconds must be 0 for cron).
    pub fn matches_wall(&self, wall: &NaiveDateTime) -> bool {
        match &self.rule {
            Rule::Cron(cron) => cron.fields.matches(wall),
            Rule::Calendar(calendar) => calendar.matches_wall(wall),
        }
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: SystemTime) -> Option<DateTime<FixedOffset>> {
        let cron = match &self.rule {
            Rule::Calendar(calendar) => {
                let next = calendar.next_after(after, &self.tz)?;
                return Some(self.tz.at(next.into()));
            }
            Rule::Cron(cron) => cron,
        };
        let after: DateTime<Utc> = after.into();
        let mut cursor = self.wall(after);
        if self.near_change(after) {
            // Past a repeated hour, times the clock showed before `after` come again after it.
            cursor -= CHANGE_LIMIT;
        }
        let mut best: Option<DateTime<Utc>> = None;
        let mut inclusive = true;
        for _ in 0..MAX_STEPS {
            let wall = cron.fields.next(cursor, inclusive)?;
            for due in self.due_at(cron, &wall) {
                if due > after && best.map_or(true, |b| due < b) {
                    best = Some(due);
                }
            }
            // A later wall-clock time can come sooner only through a repeated hour just before `best`.
            if let Some(b) = best {
                if !self.near_change(b) || wall > self.wall(b) + CHANGE_LIMIT {
                    break;
                }
            }
            cursor = wall;
            inclusive = false;
        }
        best.map(|b| self.tz.at(b))
    }

    /// The latest due time at or before `at`.
    pub fn latest_at_or_before(&self, at: SystemTime) -> Option<DateTime<FixedOffset>> {
        let cron = match &self.rule {
            Rule::Calendar(calendar) => {
                let latest = calendar.latest_at_or_before(at, &self.tz)?;
                return Some(self.tz.at(latest.into()));
            }
            Rule::Cron(cron) => cron,
        };
        let at: DateTime<Utc> = at.into();
        let mut cursor = self.wall(at);
        if self.near_change(at) {
            cursor += CHANGE_LIMIT;
        }
        let mut best: Option<DateTime<Utc>> = None;
        let mut inclusive = true;
        for _ in 0..MAX_STEPS {
            let wall = cron.fields.previous(cursor, inclusive)?;
            for due in self.due_at(cron, &wall) {
                if due <= at && best.map_or(true, |b| due > b) {
                    best = Some(due);
                }
            }
            if let Some(b) = best {
                if !self.near_change(b) || wall < self.wall(b) - CHANGE_LIMIT {
                    break;
                }
            }
            cursor = wall;
            inclusive = false;
        }
        best.map(|b| self.tz.at(b))
    }

    /// The due time a run started at `start` serves: the latest at or before it, if within the grace;
    /// `None` for a run off the schedule (started by hand).
    pub fn tick(&self, start: SystemTime) -> Option<SystemTime> {
        let due: SystemTime = self.latest_at_or_before(start)?.with_timezone(&Utc).into();
        let late = start.duration_since(due).unwrap_or_default();
        (late <= self.grace).then_some(due)
    }

    /// The longest wait between two due times from `from` on (within about a year, and at most 10,000
    /// due times), as elapsed time and as wall-clock time (where a day is always 24 hours): the period
    /// to give a service that holds only an interval.
    pub fn longest_gap(&self, from: SystemTime) -> Option<Gaps> {
        let horizon = from + Duration::from_secs(400 * 24 * 3600);
        let mut previous = self.next_after(from)?;
        let mut gaps = Gaps::default();
        for _ in 0..10_000 {
            let Some(next) = self.next_after(previous.with_timezone(&Utc).into()) else {
                break;
            };
            let elapsed = (next.with_timezone(&Utc) - previous.with_timezone(&Utc))
                .to_std()
                .unwrap_or_default();
            let wall = (next.naive_local() - previous.naive_local())
                .to_std()
                .unwrap_or_default();
            gaps.elapsed = gaps.elapsed.max(elapsed);
            gaps.wall = gaps.wall.max(wall);
            if SystemTime::from(next.with_timezone(&Utc)) > horizon {
                break;
            }
            previous = next;
        }
        Some(gaps)
    }

    fn wall(&self, at: DateTime<Utc>) -> NaiveDateTime {
        self.tz.at(at).naive_local()
    }

    fn offset(&self, at: DateTime<Utc>) -> i32 {
        self.tz.offset_at(at).local_minus_utc()
    }

    /// Whether the zone's offset changes within the change limit either side of `at`.
    fn near_change(&self, at: DateTime<Utc>) -> bool {
        let here = self.offset(at);
        self.offset(at - CHANGE_LIMIT) != here || self.offset(at + CHANGE_LIMIT) != here
    }

    /// The instants a matching wall-clock time is due at: one, or in a repeated hour the first (a fixed
    /// time) or both, or in a skipped hour the first instant after it (a fixed time) or none.
    fn due_at(&self, cron: &CronRule, wall: &NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local(wall) {
            LocalResult::Single(at) => vec![at.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => {
                let (first, second) = (a.min(b).with_timezone(&Utc), a.max(b).with_timezone(&Utc));
                if cron.fields.fixed && second - first < CHANGE_LIMIT {
                    vec![first]
                } else {
                    vec![first, second]
                }
            }
            LocalResult::None if cron.fields.fixed => self.gap_end(wall).into_iter().collect(),
            LocalResult::None => Vec::new(),
        }
    }

    /// The first instant after the skipped stretch of wall-clock time that `wall` lies in, when the skip
    /// is a daylight-saving change (shorter than the change limit).
    fn gap_end(&self, wall: &NaiveDateTime) -> Option<DateTime<Utc>> {
        // The skip happens within a day of `wall` read as UTC, and the clock runs forward there: the end
        // is the first instant whose wall-clock time is past `wall`. Zones change at whole seconds.
        let at = |second: i64| DateTime::<Utc>::from_timestamp(second, 0);
        let mut before = (wall.and_utc() - TimeDelta::days(1)).timestamp();
        let mut after = (wall.and_utc() + TimeDelta::days(1)).timestamp();
        if self.wall(at(before)?) >= *wall || self.wall(at(after)?) <= *wall {
            return None;
        }
        while after - before > 1 {
            let middle = before + (after - before) / 2;
            if self.wall(at(middle)?) > *wall {
                after = middle;
            } else {
                before = middle;
            }
        }
        let (before, after) = (at(before)?, at(after)?);
        let skipped = self.wall(after) - self.wall(before) - (after - before);
        (skipped > TimeDelta::zero() && skipped < CHANGE_LIMIT).then_some(after)
    }
}

/// The fields of `expr`, and the expression to tell monitors.
fn read(expr: &str) -> Result<(Fields, String), String> {
    if let Some(message) = zone_prefix(expr) {
        return Err(message);
    }
    let five = if expr.starts_with('@') {
        let lower = expr.to_ascii_lowercase();
        match MACROS.iter().find(|(name, _)| *name == lower) {
            Some((_, fields)) => fields.to_string(),
            None if lower == "@reboot" => {
                return Err("@reboot has no due time: leave the schedule out for such a job".into())
            }
            None => {
                let known: Vec<&str> = MACROS.iter().map(|(name, _)| *name).collect();
                return Err(format!(
                    "unknown macro {expr:?} (known: {})",
                    known.join(" ")
                ));
            }
        }
    } else {
        expr.to_string()
    };
    let words: Vec<&str> = five.split_whitespace().collect();
    let Ok(words) = <[&str; 5]>::try_from(words.as_slice()) else {
        return Err(format!(
            "{expr:?}: expected 5 fields (minute hour day-of-month month day-of-week) or a macro \
             such as @daily, found {}",
            words.len()
        ));
    };
    Ok((Fields::parse(&words)?, words.join(" ")))
}

/// A crontab line's `CRON_TZ=ZONE` (cronie's) or `TZ=ZONE` pasted in front of the fields: the zone has an
/// option of its own, which the message points at with the schedule and the zone already split apart.
fn zone_prefix(expr: &str) -> Option<String> {
    let (first, rest) = expr.split_once(char::is_whitespace).unwrap_or((expr, ""));
    let (name, zone) = first.split_once('=')?;
    if !["CRON_TZ", "TZ"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
    {
        return None;
    }
    let rest = rest.trim();
    let fields = if rest.is_empty() { "0 3 * * *" } else { rest };
    let zone = if zone.is_empty() {
        "Europe/Berlin"
    } else {
        zone
    };
    Some(format!(
        "{expr:?}: a time zone is not part of the schedule; give it with --tz (tz in a config file): \
         --schedule '{fields}' --tz {zone}"
    ))
}

/// The zone a schedule is read in without `--tz`: `TZ`, else the host's (/etc/localtime, /etc/timezone),
/// else UTC. The warning says when `TZ` is set but names no zone cronbeat knows.
pub fn default_zone() -> (Zone, Option<String>) {
    let mut warning = None;
    if let Ok(tz) = std::env::var("TZ") {
        match zone_of(&tz) {
            Some(zone) => return (zone, None),
            None if tz.trim().is_empty() => {}
            None => {
                let fallback = host_zone().unwrap_or_else(Zone::utc);
                warning = Some(format!(
                    "TZ={tz:?} is not an IANA time zone name; the schedule is read in {} (give --tz)",
                    fallback.name()
                ));
                return (fallback, warning);
            }
        }
    }
    (host_zone().unwrap_or_else(Zone::utc), warning.take())
}

/// A zone from `TZ`'s forms: `Europe/Berlin`, `:Europe/Berlin`, `:/usr/share/zoneinfo/Europe/Berlin`.
fn zone_of(text: &str) -> Option<Zone> {
    let text = text.trim().trim_start_matches(':');
    let name = match text.find("zoneinfo/") {
        Some(at) => &text[at + "zoneinfo/".len()..],
        None => text,
    };
    name.parse().ok()
}

fn host_zone() -> Option<Zone> {
    let linked = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        zone_of(&target.to_string_lossy())
    };
    let named = || zone_of(std::fs::read_to_string("/etc/timezone").ok()?.trim());
    linked().or_else(named)
}

/// A time as RFC 3339 in UTC, to the second (`2026-11-29T03:15:00Z`).
pub fn rfc3339_utc(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time as RFC 3339 with its zone's offset, to the second (`2026-11-30T03:15:00+01:00`).
pub fn rfc3339_local(at: &DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// The next and the previous match agree with a minute-by-minute scan, inclusive or not, from
    /// on the minute and from between minutes.
    #[test]
    fn the_search_agrees_with_a_scan() {
        let exprs = [
            "* * * * *",
            "*/15 * * * *",
            "0 * * * *",
            "30 2 * * *",
            "0 9-17/2 * * mon-fri",
            "5 0 1,15 * 5",
            "59 23 31 * *",
            "0 0 * * 0",
        ];
        let scan_next = |f: &Fields, from: NaiveDateTime, inclusive: bool| {
            let mut at = from.date().and_hms_opt(0, 0, 0).unwrap();
            loop {
                if (at > from || (inclusive && at == from)) && f.matches(&at) {
                    return at;
                }
                at += TimeDelta::minutes(1);
            }
        };
        let scan_previous = |f: &Fields, from: NaiveDateTime, inclusive: bool| {
            let mut at = from.date().and_hms_opt(23, 59, 0).unwrap();
            loop {
                if (at < from || (inclusive && at == from)) && f.matches(&at) {
                    return at;
                }
                at -= TimeDelta::minutes(1);
            }
        };
        for expr in exprs {
            let (f, _) = read(expr).unwrap();
            for from in [
                "2024-02-28 23:59:00",
                "2024-12-31 12:30:00",
                "2025-03-01 00:00:30",
            ] {
                let from = wall(from);
                for inclusive in [true, false] {
                    assert_eq!(
                        f.next(from, inclusive),
                        Some(scan_next(&f, from, inclusive)),
                        "{expr} next from {from} inclusive {inclusive}"
                    );
                    assert_eq!(
                        f.previous(from, inclusive),
                        Some(scan_previous(&f, from, inclusive)),
                        "{expr} previous from {from} inclusive {inclusive}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_rare_day_is_found_years_away() {
        let (leap, _) = read("0 12 29 2 *").unwrap();
        let from = wall("2025-01-01 00:00:00");
        assert_eq!(leap.next(from, true), Some(wall("2028-02-29 12:00:00")));
        assert_eq!(leap.previous(from, true), Some(wall("2024-02-29 12:00:00")));
        // February 29th that is a Monday (both day fields, as `*` in either would make them): 2016,
        // then 2044.
        let rare = Fields {
            dom_star: true,
            ..read("0 0 29 2 1").unwrap().0
        };
        assert_eq!(rare.next(from, true), Some(wall("2044-02-29 00:00:00")));
        assert_eq!(rare.previous(from, true), Some(wall("2016-02-29 00:00:00")));
    }

    fn at(text: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    fn zone(name: &str) -> Zone {
        name.parse().unwrap()
    }

    #[test]
    fn ticks_within_the_grace_and_none_outside() {
        let s = Schedule::new(
            "15 3 * * *",
            zone("Europe/Berlin"),
            Duration::from_secs(600),
        )
        .unwrap();
        assert_eq!(
            s.tick(at("2026-11-29T02:20:00Z"))
                .map(rfc3339_utc)
                .as_deref(),
            Some("2026-11-29T02:15:00Z")
        );
        assert_eq!(s.tick(at("2026-11-29T02:40:00Z")), None);
        assert_eq!(
            s.tick(at("2026-11-29T02:15:00Z"))
                .map(rfc3339_utc)
                .as_deref(),
            Some("2026-11-29T02:15:00Z")
        );
        let next = s.next_after(at("2026-11-29T02:15:00Z")).unwrap();
        assert_eq!(rfc3339_local(&next), "2026-11-30T03:15:00+01:00");
    }

    #[test]
    fn errors_name_the_field_and_its_position() {
        let error = |expr: &str| {
            Schedule::new(expr, Zone::utc(), Duration::ZERO)
                .err()
                .unwrap()
        };
        assert_eq!(
            error("0 25 * * *"),
            "field 2 (hour) \"25\": 25 is out of range 0-23"
        );
        assert_eq!(
            error("0 1,25 * * *"),
            "field 2 (hour) \"25\": 25 is out of range 0-23"
        );
        assert_eq!(
            error("5/10 * * * *"),
            "field 1 (minute) \"5/10\": a step needs a range or * before it (as in 5-59/10)"
        );
        assert_eq!(
            error("*/0 * * * *"),
            "field 1 (minute) \"*/0\": the step must be at least 1"
        );
        assert_eq!(
            error("0 0 20-10 * *"),
            "field 3 (day-of-month) \"20-10\": the range runs backwards (20 is after 10)"
        );
        assert!(error("0 0 * * mon-fry").starts_with(
            "field 5 (day-of-week) \"mon-fry\": \"fry\" is not a number or a name (sun mon"
        ));
        assert_eq!(
            error("0 0 L * *"),
            "field 3 (day-of-month) \"L\": \"L\" is not a number"
        );
        assert_eq!(
            error("0 0 1,,2 * *"),
            "field 3 (day-of-month) \"1,,2\": an empty item in the list"
        );
        assert!(
            error("* * * *").contains("expected 5 fields"),
            "{}",
            error("* * * *")
        );
        assert!(error("0 0 * * * *").ends_with("found 6"));
        assert!(error("@sometimes").starts_with("unknown macro \"@sometimes\""));
        assert!(error("@reboot").starts_with("@reboot has no due time"));
        assert!(error("0 0 30 2 *").starts_with("never due"));
        assert!(error("0 0 31 4,6,9,11 *").starts_with("never due"));
        // Restricted days of the week make it due after all (either day field matches).
        assert!(Schedule::new("0 0 30 2 1", Zone::utc(), Duration::ZERO).is_ok());
        for ok in [
            "@daily",
            "@MIDNIGHT",
            "@hourly",
            "*/5 * * * *",
            "0 9 * * mon-fri",
            "0 9 * JAN-mar SUN,7",
            "1-59/2 0-23/3 1,15 * 5-7",
            "0 0 29 2 *",
        ] {
            assert!(
                Schedule::new(ok, Zone::utc(), Duration::ZERO).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn expressions_for_monitors_and_comparison() {
        let s = Schedule::new(" @daily ", Zone::utc(), Duration::ZERO).unwrap();
        assert_eq!(s.expr, "@daily");
        assert_eq!(s.cron_expression(), Some("0 0 * * *"));
        assert!(s.same_times("0 0 * * 0-7"));
        assert!(s.same_times("@midnight"));
        assert!(!s.same_times("0 0 * * 1"));
        assert!(!s.same_times("*-*-* 00:00:00"));
        let s = Schedule::new("0  9 * *  MON-FRI", Zone::utc(), Duration::ZERO).unwrap();
        assert_eq!(s.cron_expression(), Some("0 9 * * MON-FRI"));
        assert!(s.same_times("0 9 * * 1-5"));
        assert!(s.fixed_time());
        assert!(!Schedule::new("@hourly", Zone::utc(), Duration::ZERO)
            .unwrap()
            .fixed_time());
    }

    #[test]
    fn zone_forms() {
        assert_eq!(zone_of(":Europe/Berlin"), Some(zone("Europe/Berlin")));
        assert_eq!(
            zone_of("/usr/share/zoneinfo/America/New_York"),
            Some(zone("America/New_York"))
        );
        assert_eq!(zone_of("CET-1CEST"), None);
    }

    #[test]
    fn the_longest_gap_spans_a_weekend_and_a_clock_change() {
        let day = 24 * 3600;
        let s = Schedule::new("0 3 * * mon-fri", Zone::utc(), Duration::ZERO).unwrap();
        let gaps = s.longest_gap(at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(gaps.elapsed, Duration::from_secs(3 * day));
        let s = Schedule::new("15 3 * * *", zone("Europe/Berlin"), Duration::ZERO).unwrap();
        let gaps = s.longest_gap(at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(gaps.elapsed, Duration::from_secs(day + 3600));
        assert_eq!(gaps.wall, Duration::from_secs(day));
    }

    #[test]
    fn the_latest_due_time_across_clock_changes() {
        let s = Schedule::new("30 2 * * *", zone("Europe/Berlin"), Duration::ZERO).unwrap();
        // Skipped: the run at the first instant after the skip serves it.
        let latest = s.latest_at_or_before(at("2026-03-29T01:00:05Z")).unwrap();
        assert_eq!(rfc3339_local(&latest), "2026-03-29T03:00:00+02:00");
        // Repeated: the first pass only.
        let latest = s.latest_at_or_before(at("2026-10-25T01:45:00Z")).unwrap();
        assert_eq!(rfc3339_local(&latest), "2026-10-25T02:30:00+02:00");
        let s = Schedule::new("30 * * * *", zone("Europe/Berlin"), Duration::ZERO).unwrap();
        let latest = s.latest_at_or_before(at("2026-10-25T01:45:00Z")).unwrap();
        assert_eq!(rfc3339_local(&latest), "2026-10-25T02:30:00+01:00");
        let latest = s.latest_at_or_before(at("2026-10-25T01:20:00Z")).unwrap();
        assert_eq!(rfc3339_local(&latest), "2026-10-25T02:30:00+02:00");
    }
}
