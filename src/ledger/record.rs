//! One run as the ledger keeps it: a JSON object on one line, and how lines that a crash or a full disk cut
//! are told apart from whole ones.
//!
//! Every record begins with the same bytes, `{"v":`, which cannot occur anywhere else in a record (inside a
//! JSON string a quote is always escaped). A reader therefore splits the file at line ends *and* at every
//! such start: a record cut short by a crash or a full disk, and the whole record appended after it on the
//! same line, come apart, and only the cut one is lost.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// What every record starts with.
pub const START: &[u8] = b"{\"v\":";
/// The version of the record format written.
pub const VERSION: u32 = 1;

/// The outcome words of runs the command never began: they neither count as failures nor reset the count.
pub const SKIPPED: &str = "skipped";
pub const INTERRUPTED: &str = "interrupted";
/// cronbeat itself failed before the command could start (exit status 71): counted as a failure.
pub const ERROR: &str = "error";

/// Every outcome word a record may carry: the run's (see `Outcome::word`) and the ledger's own.
pub const OUTCOMES: [&str; 12] = [
    "success",
    "failure",
    "timeout",
    "idle",
    "terminated",
    "signal",
    "not_started",
    SKIPPED,
    INTERRUPTED,
    ERROR,
    "oom",
    "lock_lost",
];

/// One run. Borrowed when read (a ledger of 100,000 runs is read without copying its strings), owned when
/// written. `v` stays the first field: it is the record's start marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<'a> {
    pub v: u32,
    #[serde(borrow)]
    pub run_id: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub host: Cow<'a, str>,
    /// The scheduled time the run served (RFC 3339, UTC), if it served one.
    #[serde(borrow)]
    pub tick: Option<Cow<'a, str>>,
    /// RFC 3339 in UTC with milliseconds: fixed width, so later is greater as text too.
    #[serde(borrow)]
    pub started_at: Cow<'a, str>,
    #[serde(borrow)]
    pub finished_at: Cow<'a, str>,
    pub duration_s: f64,
    #[serde(borrow)]
    pub outcome: Cow<'a, str>,
    pub exit_status: i32,
    /// The verdict after the success rules.
    pub success: bool,
    /// What happened, in one line (`exited with status 3`).
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    /// The job's schedule when the run was made, so `status` can tell when the next run is due.
    #[serde(borrow, default)]
    pub schedule: Option<ScheduleRecord<'a>>,
    /// The job's `--fail-after`, so `status --check` knows its threshold.
    #[serde(default)]
    pub fail_after: Option<u32>,
    /// The file holding the output tail of a failed run, relative to the job's directory.
    #[serde(borrow, default)]
    pub tail: Option<Cow<'a, str>>,
    /// What the run cost; none for a run whose command never began, and in records older than this field.
    #[serde(default)]
    pub cost: Option<CostRecord>,
    /// With `--retries`: the attempts the run made; absent for a run without retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// How the attempts before the last failed, in order.
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub failed_attempts: Vec<AttemptRecord<'a>>,
    /// With several attempts: how long the last one took (seconds), where `duration_s` spans them all
    /// and the waits between them. A trend compares a success by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_s: Option<f64>,
}

/// A run's cost as the ledger keeps it (see `cost` for the sources).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CostRecord {
    pub cpu_user_s: f64,
    pub cpu_system_s: f64,
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
    #[serde(default)]
    pub io_read_bytes: Option<u64>,
    #[serde(default)]
    pub io_write_bytes: Option<u64>,
    #[serde(default)]
    pub tasks_peak: Option<u64>,
    /// `cgroup` or `rusage`, for the CPU and the memory figures.
    #[serde(default)]
    pub cpu_source: Option<CostSource>,
    #[serde(default)]
    pub memory_source: Option<CostSource>,
}

/// Where a figure came from, as a record says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    Cgroup,
    Rusage,
}

impl CostRecord {
    pub fn of(cost: &crate::cost::Cost) -> CostRecord {
        let source = |s: crate::cost::Source| match s {
            crate::cost::Source::Cgroup => CostSource::Cgroup,
            crate::cost::Source::Rusage => CostSource::Rusage,
        };
        CostRecord {
            cpu_user_s: millis(cost.user),
            cpu_system_s: millis(cost.system),
            peak_memory_bytes: cost.peak_memory,
            io_read_bytes: cost.io_read,
            io_write_bytes: cost.io_write,
            tasks_peak: cost.tasks_peak,
            cpu_source: Some(source(cost.cpu_source)),
            memory_source: cost.peak_memory.map(|_| source(cost.memory_source)),
        }
    }

    pub fn cpu_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_system_s
    }
}

/// An earlier attempt's failure, as the run's own outcome is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRecord<'a> {
    #[serde(borrow)]
    pub outcome: Cow<'a, str>,
    pub exit_status: i32,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleRecord<'a> {
    #[serde(borrow)]
    pub expr: Cow<'a, str>,
    #[serde(borrow)]
    pub tz: Cow<'a, str>,
    pub grace_s: u64,
}

/// How a run bears on the count of failures in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streak {
    /// A success: the count starts again.
    Reset,
    /// A failure: one more.
    Failure,
    /// The command was never begun (skipped for the lock, interrupted before the start): no change.
    Neither,
}

impl Record<'_> {
    pub fn streak(&self) -> Streak {
        streak_of(self.success, &self.outcome)
    }

    /// The line as written: the JSON object and a line end.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a record always serializes");
        line.push(b'\n');
        line
    }
}

pub fn streak_of(success: bool, outcome: &str) -> Streak {
    match outcome {
        _ if success => Streak::Reset,
        SKIPPED | INTERRUPTED => Streak::Neither,
        _ => Streak::Failure,
    }
}

/// The records of a ledger file in the order they were appended, each with its line number, or `Err` with
/// the line number of a piece that is not a whole record.
pub fn records(text: &[u8]) -> impl Iterator<Item = (usize, Result<Record<'_>, ()>)> {
    pieces(text).map(|(line, piece)| (line, serde_json::from_slice(piece).map_err(|_| ())))
}

/// The same, newest first.
pub fn records_rev(text: &[u8]) -> impl Iterator<Item = (usize, Result<Record<'_>, ()>)> {
    let all: Vec<(usize, &[u8])> = pieces(text).collect();
    all.into_iter()
        .rev()
        .map(|(line, piece)| (line, serde_json::from_slice(piece).map_err(|_| ())))
}

/// The non-blank pieces of `text` that may be records: its lines, each split again before every `{"v":`
/// that does not begin it.
pub fn pieces(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    lines(text)
        .enumerate()
        .flat_map(|(index, line)| split_at_starts(line).map(move |piece| (index + 1, piece)))
        .filter(|(_, piece)| !piece.iter().all(u8::is_ascii_whitespace))
}

/// The lines of `text` without their line ends (memchr: a ledger of 100,000 runs is 40 MB of text).
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match memchr::memchr(b'\n', text) {
            Some(end) => {
                rest = Some(&text[end + 1..]);
                Some(&text[..end])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// The pieces of one line: split again before every `{"v":` that does not begin it.
pub(crate) fn split_at_starts(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = line;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let next = next_start(rest).unwrap_or(rest.len());
        let (piece, after) = rest.split_at(next);
        rest = after;
        Some(piece)
    })
}

/// Where the next record starts in `text`, after its first byte. A record has few braces: look for those.
fn next_start(text: &[u8]) -> Option<usize> {
    let mut from = 1;
    while let Some(at) = memchr::memchr(b'{', text.get(from..)?) {
        let at = from + at;
        if text[at..].starts_with(START) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A time as the ledger stores it: RFC 3339, UTC, milliseconds (`2026-11-29T03:15:00.123Z`).
pub fn stored_time(at: SystemTime) -> String {
    DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(text: &str) -> Option<SystemTime> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).into())
}

/// A stored time as people read it: RFC 3339 in the local zone, with its offset.
pub fn local_time(text: &str, precision: SecondsFormat) -> String {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Local).to_rfc3339_opts(precision, false),
        Err(_) => text.to_string(),
    }
}

/// A `SystemTime` in the local zone, RFC 3339 with its offset, to the second.
pub fn local_rfc3339(at: SystemTime) -> String {
    DateTime::<Local>::from(at).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Unix seconds of a stored time, with millisecond precision.
pub fn unix_seconds(text: &str) -> Option<f64> {
    let at = parse_time(text)?;
    Some(
        at.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64(),
    )
}

/// Seconds rounded to the millisecond, as records keep durations.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: &str, success: bool) -> Record<'static> {
        Record {
            v: VERSION,
            run_id: "r".into(),
            name: "job \"x\"\n".into(),
            host: "h".into(),
            tick: None,
            started_at: "2026-11-29T03:15:00.000Z".into(),
            finished_at: "2026-11-29T03:15:01.000Z".into(),
            duration_s: 1.0,
            outcome: outcome.to_string().into(),
            exit_status: 0,
            success,
            message: "said {\"v\":1} inside".into(),
            schedule: None,
            fail_after: None,
            tail: None,
            cost: None,
            attempts: None,
            failed_attempts: Vec::new(),
            last_attempt_s: None,
        }
    }

    #[test]
    fn a_record_starts_with_the_marker_and_nowhere_else() {
        let line = record("success", true).line();
        assert!(line.starts_with(START));
        assert_eq!(line.windows(START.len()).filter(|w| *w == START).count(), 1);
    }

    #[test]
    fn a_cut_record_is_one_bad_piece_and_the_next_survives() {
        let a = record("failure", false).line();
        let b = record("success", true).line();
        let mut text = a.clone();
        // A crash mid-write: half a record, then the next run appends a whole one on the same line.
        text.extend_from_slice(&b[..b.len() / 2]);
        text.extend_from_slice(&b);
        text.extend_from_slice(b"\0\0\0\n\n");
        let got: Vec<(usize, bool)> = records(&text).map(|(l, r)| (l, r.is_ok())).collect();
        assert_eq!(got, [(1, true), (2, false), (2, true), (3, false)]);
        let newest: Vec<bool> = records_rev(&text).map(|(_, r)| r.is_ok()).collect();
        assert_eq!(newest, [false, true, false, true]);
        let whole = records(&text).filter_map(|(_, r)| r.ok()).last().unwrap();
        assert_eq!(whole.name, "job \"x\"\n");
        assert!(whole.success);
    }

    #[test]
    fn streaks() {
        assert_eq!(record("success", true).streak(), Streak::Reset);
        assert_eq!(record("failure", false).streak(), Streak::Failure);
        assert_eq!(record("terminated", false).streak(), Streak::Failure);
        assert_eq!(record(ERROR, false).streak(), Streak::Failure);
        assert_eq!(record(SKIPPED, false).streak(), Streak::Neither);
        assert_eq!(record(INTERRUPTED, false).streak(), Streak::Neither);
    }

    #[test]
    fn stored_times_are_fixed_width_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_386_100_120);
        assert_eq!(stored_time(t), "2025-11-29T03:15:00.120Z");
        assert_eq!(parse_time(&stored_time(t)), Some(t));
        assert_eq!(
            unix_seconds("2025-11-29T03:15:00.120Z"),
            Some(1_764_386_100.12)
        );
    }
}
