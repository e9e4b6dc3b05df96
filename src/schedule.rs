//! The job's schedule: a 5-field cron expression (Vixie cron's rules: the day-of-month and day-of-week
//! fields match either when both are restricted) in an IANA time zone, and the grace after a due time
//! within which a run still serves it. The tick of a run is the latest due time at or before its start,
//! if no older than the grace.
//!
//! croner does the calendar arithmetic; chrono-tz carries the time-zone database inside the binary, so a
//! `FROM scratch` image without /usr/share/zoneinfo computes the same times.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written (a macro such as `@daily` stays a macro).
    pub expr: String,
    pub tz: Tz,
    /// How late a run may start and still serve its due time.
    pub grace: Duration,
    cron: Cron,
}

impl Schedule {
    /// `expr` in zone `tz`. Errors say what is wrong in one line.
    pub fn new(expr: &str, tz: Tz, grace: Duration) -> Result<Schedule, String> {
        let expr = expr.trim();
        let pattern = match expr.to_ascii_lowercase().as_str() {
            "@midnight" => "0 0 * * *".to_string(),
            _ => expr.to_string(),
        };
        if !pattern.starts_with('@') && pattern.split_whitespace().count() != 5 {
            return Err(format!(
                "{expr:?}: expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"
            ));
        }
        let cron = croner::parser::CronParser::builder()
            .build()
            .parse(&pattern)
            .map_err(|e| format!("{expr:?}: {e}"))?;
        Ok(Schedule {
            expr: expr.to_string(),
            tz,
            grace,
            cron,
        })
    }

    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: SystemTime) -> Option<DateTime<Tz>> {
        let at = self
            .tz
            .from_utc_datetime(&DateTime::<Utc>::from(after).naive_utc());
        self.cron.find_next_occurrence(&at, false).ok()
    }

    /// The latest due time at or before `at`.
    pub fn latest_at_or_before(&self, at: SystemTime) -> Option<DateTime<Tz>> {
        let at = self
            .tz
            .from_utc_datetime(&DateTime::<Utc>::from(at).naive_utc());
        self.cron.find_previous_occurrence(&at, true).ok()
    }

    /// The due time a run started at `start` serves: the latest at or before it, if within the grace;
    /// `None` for a run off the schedule (started by hand).
    pub fn tick(&self, start: SystemTime) -> Option<SystemTime> {
        let due: SystemTime = self.latest_at_or_before(start)?.with_timezone(&Utc).into();
        let late = start.duration_since(due).unwrap_or_default();
        (late <= self.grace).then_some(due)
    }
}

/// The zone a schedule is read in without `--tz`: `TZ`, else the host's (/etc/localtime), else UTC.
pub fn default_zone() -> Tz {
    let from_tz = std::env::var("TZ")
        .ok()
        .and_then(|tz| tz.trim_start_matches(':').parse().ok());
    let from_host = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let target = target.to_string_lossy();
        let name = &target[target.find("zoneinfo/")? + "zoneinfo/".len()..];
        name.parse().ok()
    };
    from_tz.or_else(from_host).unwrap_or(Tz::UTC)
}

/// A time as RFC 3339 in UTC, to the second (`2026-11-29T03:15:00Z`).
pub fn rfc3339_utc(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
            .into()
    }

    #[test]
    fn ticks_within_the_grace_and_none_outside() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let s = Schedule::new("15 3 * * *", tz, Duration::from_secs(600)).unwrap();
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
        assert_eq!(next.to_rfc3339(), "2026-11-30T03:15:00+01:00");
    }

    #[test]
    fn macros_and_bad_expressions() {
        let utc: Tz = "UTC".parse().unwrap();
        for ok in [
            "@daily",
            "@midnight",
            "@hourly",
            "*/5 * * * *",
            "0 9 * * mon-fri",
        ] {
            assert!(Schedule::new(ok, utc, Duration::ZERO).is_ok(), "{ok}");
        }
        for bad in ["* * * *", "61 * * * *", "0 25 * * *", "@sometimes"] {
            assert!(Schedule::new(bad, utc, Duration::ZERO).is_err(), "{bad}");
        }
    }
}
