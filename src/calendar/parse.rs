//! Reading a calendar event as systemd.time(7) writes it, to systemd's normalised form: the same
//! defaults (no time is 00:00:00, no seconds are :00, `*` seconds step by one second), the same two-digit
//! years (`26` is 2026, `89` is 1989), the same ranges (years 1970-2199, `~` days 1-28), and the same
//! expressions refused; each refusal says which part is at fault, and why.

use super::{Chain, Component, Spec, USEC};
use crate::zone::Zone;

/// An expression read: its rule, the zone it names, and its text without the zone.
pub(super) struct Parsed {
    pub spec: Spec,
    pub zone: Option<Zone>,
    pub text: String,
}

/// The words systemd accepts for common schedules.
const SHORTHANDS: [&str; 13] = [
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "semiannually",
    "semi-annually",
    "biannually",
    "bi-annually",
    "yearly",
    "annually",
    "anually",
];

/// Names of the days of the week, Monday first (systemd's bit order), long names before short ones.
const WEEKDAYS: [(&str, u8); 14] = [
    ("monday", 0),
    ("mon", 0),
    ("tuesday", 1),
    ("tue", 1),
    ("wednesday", 2),
    ("wed", 2),
    ("thursday", 3),
    ("thu", 3),
    ("friday", 4),
    ("fri", 4),
    ("saturday", 5),
    ("sat", 5),
    ("sunday", 6),
    ("sun", 6),
];
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Words that name one moment to systemd, not a repetition.
const MOMENTS: [&str; 4] = ["now", "today", "tomorrow", "yesterday"];

/// More items in one field than systemd takes.
const MAX_ITEMS: usize = 241;
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;

#[derive(Clone, Copy)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Year => "year",
            Field::Month => "month",
            Field::Day => "day",
            Field::Hour => "hour",
            Field::Minute => "minute",
            Field::Second => "second",
        }
    }

    /// The values the field takes (seconds in microseconds).
    fn range(self) -> (i32, i32) {
        match self {
            Field::Year => (MIN_YEAR, MAX_YEAR),
            Field::Month => (1, 12),
            Field::Day => (1, 31),
            Field::Hour => (0, 23),
            Field::Minute => (0, 59),
            Field::Second => (0, 60 * USEC - 1),
        }
    }

    /// The unit values are counted in: microseconds for seconds.
    fn unit(self) -> i32 {
        match self {
            Field::Second => USEC,
            _ => 1,
        }
    }
}

/// Reads `expr` (trimmed); an error is one line naming the part at fault.
pub(super) fn parse(expr: &str) -> Result<Parsed, String> {
    let lower = expr.to_ascii_lowercase();
    if expr.is_empty() {
        return Err("an empty calendar event".into());
    }
    if MOMENTS.contains(&lower.as_str()) {
        return Err(format!(
            "{expr:?} is one moment, not a repeating calendar event (such as daily or *-*-* 03:15)"
        ));
    }
    let (text, zone) = split_zone(expr);
    if text.is_empty() {
        return Err(format!(
            "{expr:?}: a time zone alone is not a calendar event"
        ));
    }
    let spec = match shorthand(&text.to_ascii_lowercase()) {
        Some(spec) => spec,
        None => event(text).map_err(|e| format!("{expr:?}: {e}"))?,
    };
    Ok(Parsed {
        spec,
        zone,
        text: text.to_string(),
    })
}

/// The expression without a trailing zone (`UTC` in any case, or an IANA name), and the zone.
fn split_zone(expr: &str) -> (&str, Option<Zone>) {
    let Some((rest, last)) = expr.rsplit_once(char::is_whitespace) else {
        return (expr, None);
    };
    if last.eq_ignore_ascii_case("utc") {
        return (rest.trim_end(), Some(Zone::utc()));
    }
    // A date or a time is never a zone's name; only a word with a letter is looked up.
    if !last.bytes().any(|b| b.is_ascii_alphabetic()) {
        return (expr, None);
    }
    match last.parse::<Zone>() {
        Ok(zone) => (rest.trim_end(), Some(zone)),
        Err(_) => (expr, None),
    }
}

fn shorthand(word: &str) -> Option<Spec> {
    let zero = || Some(vec![Component::single(0)]);
    let at_midnight = |month: Chain, day: Chain, weekdays: Option<u8>| Spec {
        weekdays,
        end_of_month: false,
        year: None,
        month,
        day,
        hour: zero(),
        minute: zero(),
        second: zero(),
    };
    let months = |list: &[i32]| Some(list.iter().map(|m| Component::single(*m)).collect());
    Some(match word {
        "minutely" => Spec {
            hour: None,
            minute: None,
            ..at_midnight(None, None, None)
        },
        "hourly" => Spec {
            hour: None,
            ..at_midnight(None, None, None)
        },
        "daily" => at_midnight(None, None, None),
        "weekly" => at_midnight(None, None, Some(1)),
        "monthly" => at_midnight(None, months(&[1]), None),
        "quarterly" => at_midnight(months(&[1, 4, 7, 10]), months(&[1]), None),
        "semiannually" | "semi-annually" | "biannually" | "bi-annually" => {
            at_midnight(months(&[1, 7]), months(&[1]), None)
        }
        "yearly" | "annually" | "anually" => at_midnight(months(&[1]), months(&[1]), None),
        _ => return None,
    })
}

/// `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]`, the parts separated by blanks.
fn event(text: &str) -> Result<Spec, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut rest = words.as_slice();
    let mut spec = Spec {
        weekdays: None,
        end_of_month: false,
        year: None,
        month: None,
        day: None,
        hour: None,
        minute: None,
        second: None,
    };
    if let Some((first, after)) = rest.split_first() {
        if first.starts_with(|c: char| c.is_ascii_alphabetic()) {
            if weekday_at(first).is_none() {
                return Err(format!(
                    "{first:?} is not a day of the week (Mon … Sun), a date or a time, nor one of \
                     the words {}",
                    SHORTHANDS[..7].join(" ") + " yearly annually"
                ));
            }
            spec.weekdays = weekdays(first)?;
            rest = after;
        }
    }
    let mut time = None;
    if let Some((word, after)) = rest.split_first() {
        match word.find(['-', '~', ':']).map(|at| word.as_bytes()[at]) {
            Some(b'-' | b'~') => {
                date(word, &mut spec)?;
                rest = after;
            }
            Some(_) => {}
            None => {
                return Err(format!(
                    "{word:?} is neither a date (2026-01-31, *-*-01) nor a time (03:15, *:0/5)"
                ))
            }
        }
    }
    if let Some((word, after)) = rest.split_first() {
        time = Some(*word);
        rest = after;
    }
    if let Some(extra) = rest.first() {
        if weekday_at(extra).is_some() {
            return Err(format!(
                "{extra:?} after the time: the days of the week come first (Mon..Fri 09:00)"
            ));
        }
        if extra.bytes().any(|b| b.is_ascii_alphabetic()) {
            return Err(format!(
                "{extra:?} is not a time zone cronbeat knows (an IANA name such as Europe/Berlin, \
                 or UTC)"
            ));
        }
        return Err(format!(
            "{extra:?} after the time: a calendar event is [weekdays] [date] [time] [time zone]"
        ));
    }
    match time {
        None => {
            spec.hour = Some(vec![Component::single(0)]);
            spec.minute = Some(vec![Component::single(0)]);
            spec.second = Some(vec![Component::single(0)]);
        }
        Some(word) => clock_time(word, &mut spec)?,
    }
    Ok(spec)
}

/// The day a word begins with, and the length of its name.
fn weekday_at(word: &str) -> Option<(u8, usize)> {
    let lower = word.to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .find(|(name, _)| lower.starts_with(name))
        .map(|(name, day)| (*day, name.len()))
}

/// `Mon`, `Mon..Fri` (or `Mon-Fri`), lists of those: the days as bits, `None` for every day.
fn weekdays(word: &str) -> Result<Option<u8>, String> {
    let fail = |why: String| format!("weekdays {word:?}: {why}");
    let mut bits = 0u8;
    let mut open: Option<u8> = None;
    let mut rest = word;
    loop {
        let Some((day, len)) = weekday_at(rest) else {
            let item = rest.split([',', '.', '-']).next().unwrap_or(rest);
            return Err(fail(format!(
                "{item:?} is not a day of the week (Mon … Sun)"
            )));
        };
        if !matches!(rest.as_bytes().get(len), None | Some(b'-' | b'.' | b',')) {
            let item = rest.split([',', '.', '-']).next().unwrap_or(rest);
            return Err(fail(format!(
                "{item:?} is not a day of the week (Mon … Sun)"
            )));
        }
        bits |= 1 << day;
        if let Some(from) = open {
            if from > day {
                return Err(fail(format!(
                    "the range runs backwards ({} is after {}): write {}..Sun,Mon..{}",
                    DAY_NAMES[from as usize],
                    DAY_NAMES[day as usize],
                    DAY_NAMES[from as usize],
                    DAY_NAMES[day as usize]
                )));
            }
            for between in from + 1..day {
                bits |= 1 << between;
            }
        }
        rest = &rest[len..];
        match rest.as_bytes().first() {
            None => break,
            Some(b'.') => {
                if open.is_some() || !rest.starts_with("..") {
                    return Err(fail("a range is two days around .. (Mon..Fri)".into()));
                }
                open = Some(day);
                rest = &rest[2..];
            }
            Some(b'-') => {
                if open.is_some() {
                    return Err(fail("a range is two days around .. (Mon..Fri)".into()));
                }
                open = Some(day);
                rest = &rest[1..];
            }
            _ => {
                open = None;
                rest = &rest[1..];
            }
        }
        if rest.is_empty() {
            if open.is_some() {
                return Err(fail("the range has no end (Mon..Fri)".into()));
            }
            break;
        }
    }
    // Every day, like none named, is no restriction.
    Ok((bits != 0 && bits < 127).then_some(bits))
}

/// `MONTH-DAY` or `YEAR-MONTH-DAY`, `~` before the day counting from the end of the month.
fn date(word: &str, spec: &mut Spec) -> Result<(), String> {
    let mut parts = Vec::new();
    let mut separators = Vec::new();
    let mut start = 0;
    for (at, c) in word.char_indices() {
        if c == '-' || c == '~' {
            parts.push(&word[start..at]);
            separators.push(c);
            start = at + 1;
        }
    }
    parts.push(&word[start..]);
    let month_day = |separator: char| separator == '~';
    match (parts.as_slice(), separators.as_slice()) {
        ([month, day], [separator]) => {
            spec.end_of_month = month_day(*separator);
            spec.month = chain(month, Field::Month, false)?;
            spec.day = chain(day, Field::Day, spec.end_of_month)?;
        }
        ([year, month, day], ['-', separator]) => {
            spec.end_of_month = month_day(*separator);
            spec.year = chain(year, Field::Year, false)?;
            spec.month = chain(month, Field::Month, false)?;
            spec.day = chain(day, Field::Day, spec.end_of_month)?;
        }
        _ => {
            return Err(format!(
                "date {word:?}: expected MONTH-DAY or YEAR-MONTH-DAY (~ before the day to count \
                 from the end of the month)"
            ))
        }
    }
    if spec.end_of_month && spec.day.is_none() {
        spec.end_of_month = false;
    }
    Ok(())
}

/// `HOUR:MINUTE` (at second 0) or `HOUR:MINUTE:SECOND`.
fn clock_time(word: &str, spec: &mut Spec) -> Result<(), String> {
    let parts: Vec<&str> = word.split(':').collect();
    let (hour, minute, second) = match parts.as_slice() {
        [hour, minute] => (hour, minute, None),
        [hour, minute, second] => (hour, minute, Some(second)),
        _ => {
            return Err(format!(
                "time {word:?}: expected HOUR:MINUTE or HOUR:MINUTE:SECOND"
            ))
        }
    };
    spec.hour = chain(hour, Field::Hour, false)?;
    spec.minute = chain(minute, Field::Minute, false)?;
    spec.second = match second {
        None => Some(vec![Component::single(0)]),
        Some(second) => chain(second, Field::Second, false)?,
    };
    Ok(())
}

/// One field: `*`, or a list of `V`, `A..B`, `V/R`, `A..B/R`; normalised and checked as systemd does.
fn chain(text: &str, field: Field, end_of_month: bool) -> Result<Chain, String> {
    let fail = |why: String| format!("{} {text:?}: {why}", field.name());
    let unit = field.unit();
    if text == "*" {
        // Seconds are a chain even as a star: every whole second.
        return Ok(matches!(field, Field::Second).then(|| {
            vec![Component {
                start: 0,
                stop: -1,
                repeat: unit,
            }]
        }));
    }
    if text.is_empty() {
        return Err(format!("the {} is missing", field.name()));
    }
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > MAX_ITEMS {
        return Err(fail(format!("more than {MAX_ITEMS} items")));
    }
    let mut components = Vec::with_capacity(items.len());
    for item in items {
        let mut component = component(item, field).map_err(|why| match item == text {
            true => fail(why),
            false => fail(format!("{item:?}: {why}")),
        })?;
        if matches!(field, Field::Year) {
            component.start = full_year(component.start);
            component.stop = full_year(component.stop);
        }
        component.normalise();
        check(&component, field, end_of_month).map_err(|why| match item == text {
            true => fail(why),
            false => fail(format!("{item:?}: {why}")),
        })?;
        components.push(component);
    }
    components.sort();
    components.dedup();
    Ok(Some(components))
}

/// `V`, `A..B`, `V/R` or `A..B/R`, in the field's unit.
fn component(item: &str, field: Field) -> Result<Component, String> {
    let unit = field.unit();
    if item.is_empty() {
        return Err("an empty item in the list".into());
    }
    let mut rest = item;
    let start = number(&mut rest, field)?;
    let mut stop = -1;
    let mut repeat = 0;
    if let Some(after) = rest.strip_prefix("..") {
        rest = after;
        stop = number(&mut rest, field)?;
        repeat = unit;
    }
    if let Some(after) = rest.strip_prefix('/') {
        rest = after;
        repeat = number(&mut rest, field)?;
        if repeat == 0 {
            return Err("the repetition must be at least 1".into());
        }
    } else if unit > 1 && stop >= 0 && start + repeat > stop {
        return Err(format!(
            "the range {}..{} holds no whole second after its first",
            start / unit,
            stop / unit
        ));
    }
    if let Some(c) = rest.chars().next() {
        return Err(format!(
            "{c:?} where a value, .. or / was expected (as in 1..5/2)"
        ));
    }
    Ok(Component {
        start,
        stop,
        repeat,
    })
}

/// Digits at the start of `rest`, in the field's unit; a fraction of a second is refused.
fn number(rest: &mut &str, field: Field) -> Result<i32, String> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(match rest.chars().next() {
            Some('*') => {
                "* stands alone (every value); a repetition starts from a value, as in 0/15".into()
            }
            Some(c) => format!("{c:?} where a number was expected"),
            None => "a number is missing".into(),
        });
    }
    let (text, after) = rest.split_at(digits);
    if matches!(field, Field::Second) && after.starts_with('.') && !after.starts_with("..") {
        return Err("fractions of a second are not supported".into());
    }
    let value = text
        .parse::<i64>()
        .ok()
        .and_then(|v| v.checked_mul(i64::from(field.unit())))
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| format!("{text} is too large"))?;
    *rest = after;
    Ok(value)
}

/// systemd's two-digit years: 0-69 are 2000-2069, 70-99 are 1970-1999.
fn full_year(year: i32) -> i32 {
    match year {
        0..=69 => year + 2000,
        70..=99 => year + 1900,
        _ => year,
    }
}

/// Whether a normalised component can be due: values in range, and a repetition that fires.
fn check(c: &Component, field: Field, end_of_month: bool) -> Result<(), String> {
    let (from, mut to) = field.range();
    let unit = field.unit();
    let shown = |v: i32| v / unit;
    if end_of_month {
        to -= 3;
    }
    let range = || match end_of_month {
        true => format!("{from}-{} (days before the end of the month)", to),
        false => format!("{}-{}", shown(from), shown(to)),
    };
    for value in [c.start, c.stop] {
        if value >= 0 && (value < from || value > to) {
            return Err(format!("{} is out of range {}", shown(value), range()));
        }
    }
    if c.repeat > to - from {
        return Err(format!(
            "a repetition of {} is longer than the range {}",
            shown(c.repeat),
            range()
        ));
    }
    if c.stop >= 0 {
        if c.start + c.repeat > c.stop {
            return Err(format!(
                "the range runs backwards ({} is after {})",
                shown(c.start),
                shown(c.stop)
            ));
        }
    } else if end_of_month && c.start - c.repeat < from {
        return Err(format!(
            "repeating every {} from ~{} runs out of the month",
            c.repeat, c.start
        ));
    } else if !end_of_month && c.start + c.repeat > to {
        return Err(format!(
            "repeating every {} from {} goes past {}: it would never repeat",
            shown(c.repeat),
            shown(c.start),
            shown(to)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(expr: &str) -> String {
        match parse(expr) {
            Ok(_) => panic!("{expr:?} was accepted"),
            Err(e) => e,
        }
    }

    fn spec(expr: &str) -> Spec {
        parse(expr).unwrap_or_else(|e| panic!("{e}")).spec
    }

    #[test]
    fn defaults_are_systemds() {
        assert_eq!(spec("Mon..Fri 9:00"), spec("Mon-Fri *-*-* 09:00:00"));
        assert_eq!(spec("2026-01-01"), spec("26-1-1 0:0:0"));
        assert_eq!(spec("daily"), spec("*-*-* 00:00:00"));
        assert_eq!(spec("weekly"), spec("Mon *-*-* 00:00:00"));
        assert_eq!(spec("quarterly"), spec("*-01,04,07,10-01 00:00:00"));
        assert_eq!(spec("minutely"), spec("*:*:00"));
        assert_eq!(spec("Sun,Sat"), spec("Sat,Sun"));
        assert_eq!(spec("Mon..Sun 3:00"), spec("*-*-* 3:00"));
        assert_eq!(spec("*:10..12/5"), spec("*:10"));
        assert_eq!(spec("*:5..5"), spec("*:5"));
        assert_ne!(spec("*:*:*"), spec("*:*"));
        assert_ne!(spec("*-02~03"), spec("*-02-03"));
    }

    #[test]
    fn the_zone_is_the_last_word() {
        let parsed = parse("Mon..Fri 9:00 Europe/Berlin").unwrap();
        assert_eq!(parsed.text, "Mon..Fri 9:00");
        assert_eq!(parsed.zone.unwrap().name(), "Europe/Berlin");
        let parsed = parse("daily utc").unwrap();
        assert_eq!(
            (parsed.text.as_str(), parsed.zone),
            ("daily", Some(Zone::utc()))
        );
        assert!(parse("*-*-* 12:00").unwrap().zone.is_none());
    }

    #[test]
    fn refusals_name_the_part_and_why() {
        for (expr, said) in [
            ("now", "\"now\" is one moment"),
            ("Tomorrow", "is one moment"),
            (
                "dayly",
                "\"dayly\" is not a day of the week (Mon … Sun), a date or a time",
            ),
            (
                "Mon..Fry 9:00",
                "weekdays \"Mon..Fry\": \"Fry\" is not a day of the week",
            ),
            ("Fri..Mon", "the range runs backwards (Fri is after Mon)"),
            ("Mon.. 9:00", "the range has no end"),
            ("*-*-* 25:00", "hour \"25\": 25 is out of range 0-23"),
            ("*-13-01", "month \"13\": 13 is out of range 1-12"),
            (
                "1969-01-01",
                "year \"1969\": 1969 is out of range 1970-2199",
            ),
            (
                "*-*~29",
                "day \"29\": 29 is out of range 1-28 (days before the end of the month)",
            ),
            (
                "*:50/15",
                "minute \"50/15\": repeating every 15 from 50 goes past 59",
            ),
            (
                "*:0/60",
                "minute \"0/60\": a repetition of 60 is longer than the range 0-59",
            ),
            ("*:*/5", "minute \"*/5\": * stands alone"),
            (
                "*:*:1.5",
                "second \"1.5\": fractions of a second are not supported",
            ),
            ("*:*:60", "second \"60\": 60 is out of range 0-59"),
            ("*-*-1,,2", "day \"1,,2\": \"\": an empty item in the list"),
            (
                "*-*-5..3",
                "day \"5..3\": the range runs backwards (5 is after 3)",
            ),
            ("*:0/0", "minute \"0/0\": the repetition must be at least 1"),
            ("Mon 12", "\"12\" is neither a date"),
            ("*-*-* 12", "time \"12\": expected HOUR:MINUTE"),
            ("1:", "the minute is missing"),
            ("2026--01", "the month is missing"),
            (
                "12:00 Mon",
                "\"Mon\" after the time: the days of the week come first",
            ),
            ("2026-01-01T12:00", "day \"01T12:00\": 'T' where a value"),
            (
                "2026~01-01",
                "date \"2026~01-01\": expected MONTH-DAY or YEAR-MONTH-DAY",
            ),
            (
                "9:00 Europe/Berln",
                "\"Europe/Berln\" is not a time zone cronbeat knows",
            ),
            (
                "Europe/Berlin",
                "\"Europe/Berlin\" is not a day of the week",
            ),
        ] {
            let got = error(expr);
            assert!(got.contains(said), "{expr:?}: {got}");
            assert!(!got.contains('\n'), "{got}");
        }
    }
}
