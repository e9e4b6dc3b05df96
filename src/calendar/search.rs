//! The next elapse of a calendar event after an instant, found as systemd finds it (calendarspec.c,
//! `find_next`): from the wall-clock time just after the instant, each field from the year down to the
//! second is moved to its next allowed value, the smaller fields reset; `mktime` normalises each step,
//! and a step that lands on a time the clock does not show is retried from where the clock went (or,
//! when that is earlier, the larger field moves on). So a time in a skipped hour is not due that day, a
//! repeated hour is due once, in whichever pass the search reads it (the first when the search comes
//! from before it), and a `*` field follows the clock through both.

use super::clock::{Clock, Tm};
use super::{Chain, Spec, USEC};

/// systemd gives up after this many steps (an expression that no step brings closer).
const MAX_STEPS: usize = 1000;
const MAX_YEAR: i32 = 2199;

/// The first elapse strictly after `after_us` (microseconds since the epoch, at least 0), in microseconds.
pub(super) fn next_elapse(spec: &Spec, tz: &jiff::tz::TimeZone, after_us: i64) -> Option<i64> {
    let usec = after_us.checked_add(1)?;
    let t = usec.div_euclid(i64::from(USEC));
    let mut tm_usec = usec.rem_euclid(i64::from(USEC)) as i32;
    let mut clock = Clock::new(tz, t);
    let mut c = clock.localtime(t)?;
    find_next(spec, &mut clock, &mut c, &mut tm_usec)?;
    let t = clock.mktime(&mut c)?;
    (t >= 0).then(|| t * i64::from(USEC) + i64::from(tm_usec))
}

/// What a field's search found.
#[derive(PartialEq, Eq)]
enum Found {
    /// The value already matches.
    Same,
    /// Moved to a later value.
    Moved,
    /// No later value in this field.
    None,
}

fn find_next(spec: &Spec, clock: &mut Clock<'_>, c: &mut Tm, tm_usec: &mut i32) -> Option<()> {
    let (start, start_usec) = (*c, *tm_usec);
    // Once normalising has led back to before the start, the daylight-saving flag each step leaves
    // is kept for the next, as systemd 252 does, so that the hour after is read the other way.
    let mut keep_flag = false;
    for _ in 0..MAX_STEPS {
        // Normalise where the last step left off; a failure leaves the fields as they are.
        let _ = clock.mktime(c);
        if !keep_flag {
            c.isdst = None;
        }

        let mut year = c.year;
        match matching(spec, &spec.year, false, clock, c, &mut year) {
            Found::None => return None,
            Found::Moved => {
                c.year = year;
                c.mon = 0;
                c.mday = 1;
                reset_time(c, tm_usec);
            }
            Found::Same => {}
        }
        if within_bounds(clock, c) != Ok(true) {
            return None;
        }

        let mut month = c.mon + 1;
        let found = matching(spec, &spec.month, false, clock, c, &mut month);
        c.mon = month - 1;
        if found == Found::Moved {
            c.mday = 1;
            reset_time(c, tm_usec);
        }
        match step(found, clock, c) {
            Step::Advance => {
                c.year += 1;
                c.mon = 0;
                c.mday = 1;
                reset_time(c, tm_usec);
                continue;
            }
            Step::Again => continue,
            Step::On => {}
        }

        let mut day = c.mday;
        let found = matching(spec, &spec.day, true, clock, c, &mut day);
        c.mday = day;
        if found == Found::Moved {
            reset_time(c, tm_usec);
        }
        match step(found, clock, c) {
            Step::Advance => {
                c.mon += 1;
                c.mday = 1;
                reset_time(c, tm_usec);
                continue;
            }
            Step::Again => continue,
            Step::On => {}
        }

        if !matches_weekday(spec.weekdays, clock, c) {
            c.mday += 1;
            reset_time(c, tm_usec);
            continue;
        }

        let mut hour = c.hour;
        let found = matching(spec, &spec.hour, false, clock, c, &mut hour);
        c.hour = hour;
        if found == Found::Moved {
            c.min = 0;
            c.sec = 0;
            *tm_usec = 0;
        }
        match step(found, clock, c) {
            Step::Advance => {
                c.mday += 1;
                reset_time(c, tm_usec);
                continue;
            }
            // The hour set may be one the clock skips: again from where it went.
            Step::Again => continue,
            Step::On => {}
        }

        let mut minute = c.min;
        let found = matching(spec, &spec.minute, false, clock, c, &mut minute);
        c.min = minute;
        if found == Found::Moved {
            c.sec = 0;
            *tm_usec = 0;
        }
        match step(found, clock, c) {
            Step::Advance => {
                c.hour += 1;
                c.min = 0;
                c.sec = 0;
                *tm_usec = 0;
                continue;
            }
            Step::Again => continue,
            Step::On => {}
        }

        let mut second = c.sec * USEC + *tm_usec;
        let found = matching(spec, &spec.second, false, clock, c, &mut second);
        *tm_usec = second % USEC;
        c.sec = second / USEC;
        match step(found, clock, c) {
            Step::Advance => {
                c.min += 1;
                c.sec = 0;
                *tm_usec = 0;
                continue;
            }
            Step::Again => continue,
            Step::On => {}
        }
        // A time the clock skips, read as the one before the skip, can lead back to before the
        // start: an hour on (only the hour), and again.
        let fields = |t: &Tm| (t.year, t.mon, t.mday, t.hour, t.min, t.sec);
        if (fields(c), *tm_usec) < (fields(&start), start_usec) {
            c.hour += 1;
            keep_flag = true;
            continue;
        }
        return Some(());
    }
    None
}

fn reset_time(c: &mut Tm, tm_usec: &mut i32) {
    c.hour = 0;
    c.min = 0;
    c.sec = 0;
    *tm_usec = 0;
}

/// What the search does after a field: move the larger field on, start again, or go on to the next.
enum Step {
    Advance,
    Again,
    On,
}

fn step(found: Found, clock: &mut Clock<'_>, c: &mut Tm) -> Step {
    if found == Found::None {
        return Step::Advance;
    }
    match within_bounds(clock, c) {
        Err(()) => Step::Advance,
        Ok(false) => Step::Again,
        Ok(true) => Step::On,
    }
}

/// The earliest value of `chain` at or after `val` (`*` matches anything).
fn matching(
    spec: &Spec,
    chain: &Chain,
    is_day: bool,
    clock: &mut Clock<'_>,
    tm: &Tm,
    val: &mut i32,
) -> Found {
    let Some(components) = chain else {
        return Found::Same;
    };
    let end_of_month = spec.end_of_month && is_day;
    let mut best: Option<i32> = None;
    for c in components {
        let (mut start, mut stop) = (c.start, c.stop);
        if end_of_month {
            start = day_from_end(clock, tm, c.start);
            stop = day_from_end(clock, tm, c.stop);
            if stop > 0 {
                std::mem::swap(&mut start, &mut stop);
            }
        }
        if start >= *val {
            if best.map_or(true, |d| start < d) {
                best = Some(start);
            }
        } else if c.repeat > 0 {
            let k = start + c.repeat * ((*val - start + c.repeat - 1) / c.repeat);
            if best.map_or(true, |d| k < d) && (stop < 0 || k <= stop) {
                best = Some(k);
            }
        }
    }
    match best {
        None => Found::None,
        Some(d) if d == *val => Found::Same,
        Some(d) => {
            *val = d;
            Found::Moved
        }
    }
}

/// The day of `tm`'s month that is the `day`th from its end (1 is the last), or -1.
fn day_from_end(clock: &mut Clock<'_>, tm: &Tm, day: i32) -> i32 {
    let mut t = *tm;
    t.mon += 1;
    t.mday = 1 - day;
    match clock.mktime(&mut t) {
        Some(stamp) if stamp >= 0 && t.mon == tm.mon => t.mday,
        _ => -1,
    }
}

/// `Ok(true)` when `tm` is a time the clock shows as it stands; `Ok(false)` when normalising moved it
/// later (it is then where the clock went, the fields below the one that moved reset); `Err` when it is
/// out of range or normalising moved it earlier.
fn within_bounds(clock: &mut Clock<'_>, tm: &mut Tm) -> Result<bool, ()> {
    if tm.year > MAX_YEAR {
        return Err(());
    }
    let mut t = *tm;
    match clock.mktime(&mut t) {
        Some(stamp) if stamp >= 0 => {}
        _ => return Err(()),
    }
    let order = if t.year != tm.year {
        t.mon = 0;
        t.year.cmp(&tm.year)
    } else if t.mon != tm.mon {
        t.mday = 1;
        t.mon.cmp(&tm.mon)
    } else if t.mday != tm.mday {
        t.hour = 0;
        t.mday.cmp(&tm.mday)
    } else if t.hour != tm.hour {
        t.min = 0;
        t.hour.cmp(&tm.hour)
    } else if t.min != tm.min {
        t.sec = 0;
        t.min.cmp(&tm.min)
    } else {
        t.sec.cmp(&tm.sec)
    };
    match order {
        std::cmp::Ordering::Less => Err(()),
        std::cmp::Ordering::Greater => {
            *tm = t;
            Ok(false)
        }
        std::cmp::Ordering::Equal => Ok(true),
    }
}

/// Whether `tm`'s day (as normalised) is one of `weekdays` (bit 0 Monday); `None` is every day.
fn matches_weekday(weekdays: Option<u8>, clock: &mut Clock<'_>, tm: &Tm) -> bool {
    let Some(bits) = weekdays else {
        return true;
    };
    let mut t = *tm;
    match clock.mktime(&mut t) {
        Some(stamp) if stamp >= 0 => {}
        _ => return false,
    }
    let monday_first = if t.wday == 0 { 6 } else { t.wday - 1 };
    bits & (1 << monday_first) != 0
}
