//! What every monitoring service implements: the requests for each moment of a run.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;

use super::delivery::{HttpRequest, Response};
use super::redact::redact;
use super::sync::{Declared, SyncPlan};
use crate::events::Report;
use crate::output::{cut_marker, split_cut_marker};

/// Facts about the run that every protocol may carry.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub run_id: String,
    /// The config file's job name, when the job comes from one.
    pub job: Option<String>,
    pub host: String,
    /// The job's name across runs and hosts (`--name`).
    pub name: String,
    /// The scheduled time this run serves, when it serves one.
    pub tick: Option<SystemTime>,
    /// The job's next due time after this run's tick (or its start, off the schedule).
    pub next_due: Option<SystemTime>,
}

/// One thing to do for a monitor.
#[derive(Debug, Clone)]
pub enum Action {
    Http(HttpRequest),
    /// Write a whole file atomically (temp file + rename), e.g. a node_exporter textfile.
    WriteFile {
        path: PathBuf,
        contents: Vec<u8>,
    },
}

pub trait Protocol: Send {
    /// The kind of monitor, for log lines ("healthchecks").
    fn kind(&self) -> &'static str;
    /// Where it reports to, without secrets ("hc-ping.com/…").
    fn target(&self) -> String;
    fn start(&mut self, run: &RunInfo) -> Vec<Action>;
    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action>;
    /// A message that is neither start nor finish: a test ping from `check`, a skipped run. Services with
    /// no message channel (where any ping would record a run, or metrics) send nothing.
    fn log(&mut self, _run: &RunInfo, _message: &str) -> Vec<Action> {
        Vec::new()
    }
    /// A `--keepalive` ping: the run is still going after `elapsed`. Protocols with a progress state
    /// (a tick, an in-progress check-in) override this; the rest send a log message.
    fn progress(&mut self, run: &RunInfo, elapsed: Duration) -> Vec<Action> {
        self.log(run, &progress_message(elapsed))
    }
    /// Called with each successful HTTP answer, for protocols that adapt to the server.
    fn on_response(&mut self, _response: &Response) {}
    /// The job's schedule (`None` without one), once, when the job is resolved: services that hold a
    /// schedule take what they need. An error is a configuration error; `warnings` are said before the
    /// run.
    fn declare(
        &mut self,
        _declared: Option<&Declared>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        Ok(())
    }
    /// How to keep the service's copy of the schedule in step through its API, when there is a way.
    fn sync_plan(&self) -> Option<SyncPlan> {
        None
    }
    /// Why the service is not told the job's schedule though it could hold one (a schedule it cannot
    /// read): a note with `-v`, and `check --ping`'s line for it.
    fn schedule_note(&self) -> Option<String> {
        None
    }
}

/// A monitor URL: http or https, with a host. Errors never show more of it than `redact` does.
pub fn http_url(spec: &str) -> Result<Url, String> {
    let url = Url::parse(spec).map_err(|e| format!("{}: {e}", redact(spec)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{}: a monitor URL must be http:// or https:// with a host",
            redact(spec)
        ));
    }
    Ok(url)
}

/// `base` with `/suffix` appended to its path (none: the path as is), a trailing slash dropped first:
/// services answer 404 to `//`. The query is kept.
pub fn with_path_suffix(base: &Url, suffix: Option<&str>) -> Url {
    let mut url = base.clone();
    let path = url.path().trim_end_matches('/').to_string();
    match suffix {
        Some(suffix) => url.set_path(&format!("{path}/{suffix}")),
        None => url.set_path(&path),
    }
    url
}

/// cronbeat's closing lines of a report: when the command did not exit on its own terms (deadline,
/// signal, OOM kill, exec failure, a success rule) or was retried, the line saying what happened (with
/// `--retries`, also which attempt ended the run and how the earlier ones failed), then what the run cost
/// (`cronbeat: cpu …, peak memory …`) once the command ran, last: every report ends with its cost.
pub fn outcome_note(report: &Report) -> String {
    let mut note = String::new();
    let what = match report.outcome.plain_exit() {
        Some(_) => None,
        None => Some(report.outcome.describe()),
    };
    let parts: Vec<String> = what
        .into_iter()
        .chain(report.attempts.summary(&report.outcome))
        .collect();
    if !parts.is_empty() {
        note.push_str(&format!("cronbeat: {}\n", parts.join("; ")));
    }
    if !matches!(
        report.outcome.status,
        crate::outcome::ChildStatus::NotStarted { .. }
    ) {
        note.push_str(&format!("cronbeat: {}\n", report.cost.describe()));
    }
    note
}

/// How the note's line that says what the run cost begins (`Cost::describe` begins with `cpu `): under
/// a limit too small for the whole note, it gives way before the line saying what happened.
const COST_LINE_START: &[u8] = b"cronbeat: cpu ";

/// The output tail, then cronbeat's closing lines, within `limit` bytes (see `compose`).
pub fn report_body(report: &Report, limit: usize) -> Vec<u8> {
    compose(&report.tail, &outcome_note(report), limit, Unit::Bytes)
}

/// The report as text for services that take a short message: invalid UTF-8 replaced, at most
/// `max_chars` characters, composed as a body is.
pub fn report_message(report: &Report, max_chars: usize) -> String {
    let tail = String::from_utf8_lossy(&report.tail);
    let text = compose(
        tail.as_bytes(),
        &outcome_note(report),
        max_chars,
        Unit::Chars,
    );
    String::from_utf8_lossy(&text).into_owned()
}

/// What a service's limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    /// Characters of valid UTF-8 (a message: the tail is made valid first).
    Chars,
}

impl Unit {
    fn len(self, text: &[u8]) -> usize {
        match self {
            Unit::Bytes => text.len(),
            Unit::Chars => String::from_utf8_lossy(text).chars().count(),
        }
    }

    /// The end of `text`, at most `max` units, beginning on a character boundary.
    fn last(self, text: &[u8], max: usize) -> &[u8] {
        match (self, std::str::from_utf8(text)) {
            (Unit::Chars, Ok(text)) => last_chars(text, max).as_bytes(),
            _ => tail_within(text, max),
        }
    }

    /// The start of `text`, at most `max` units, ending on a character boundary.
    fn first(self, text: &[u8], max: usize) -> &[u8] {
        let mut end = match (self, std::str::from_utf8(text)) {
            (Unit::Chars, Ok(s)) => s.char_indices().nth(max).map_or(s.len(), |(i, _)| i),
            _ => max.min(text.len()),
        };
        // Do not end inside a character: back up over continuation bytes (at most 3).
        for _ in 0..3 {
            if end < text.len() && end > 0 && (text[end] & 0xC0) == 0x80 {
                end -= 1;
            }
        }
        &text[..end]
    }
}

/// What a finish report says: the output tail, beginning with the cut marker when older output was
/// dropped, then `note` (cronbeat's own lines, each ending in a newline, the run's cost last) after a
/// line break. No output, no line break: the body is the note alone.
///
/// Within `limit` (a server's `Ping-Body-Limit`, a message cap) the note wins and the tail gives way at
/// its front, and the body still begins with a marker saying how much was cut: a reader must not take
/// the tail for the whole output. Should the note itself not fit, its earlier lines go first and the
/// cost line before the line saying what happened, which stays, or as much of its start as fits (a
/// server keeps a body's first bytes: it would have cut the line the same way).
pub fn compose(tail: &[u8], note: &str, limit: usize, unit: Unit) -> Vec<u8> {
    let (already_cut, output) = split_cut_marker(tail);
    let marker = cut_marker(already_cut);
    // Measured by parts, not joined first: the tail may be as large as --tail, and a copy of it only to
    // find it too long would double the run's memory.
    let break_len = usize::from(!output.is_empty() && !note.is_empty());
    let whole_len =
        unit.len(marker.as_bytes()) + unit.len(output) + break_len + unit.len(note.as_bytes());
    if whole_len <= limit {
        return joined(&marker, output, note.as_bytes());
    }
    let note = fit_note(note.as_bytes(), limit, unit);
    let break_len = usize::from(!note.is_empty());
    let room = limit.saturating_sub(unit.len(note) + break_len);
    let cut_after = |kept: &[u8]| already_cut + (output.len() - kept.len()) as u64;
    // The longest marker this body could need: fewer cut bytes never make it longer.
    let widest = cut_marker(cut_after(b""));
    if unit.len(widest.as_bytes()) >= room {
        // No room for a marker and some output: the note alone says what happened, or without one,
        // the end of the output is still better than nothing.
        return if note.is_empty() {
            unit.last(output, limit).to_vec()
        } else {
            note.to_vec()
        };
    }
    let kept = unit.last(output, room - unit.len(widest.as_bytes()));
    // The real count may be a digit shorter, which leaves room for a little more output.
    let marker = cut_marker(cut_after(kept));
    let kept = unit.last(output, room - unit.len(marker.as_bytes()));
    joined(&cut_marker(cut_after(kept)), kept, note)
}

/// The marker, the output and the note, with a line break between output and note; no output, no break.
fn joined(marker: &str, output: &[u8], note: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(marker.len() + output.len() + 1 + note.len());
    body.extend_from_slice(marker.as_bytes());
    body.extend_from_slice(output);
    if !output.is_empty() && !note.is_empty() {
        body.push(b'\n');
    }
    body.extend_from_slice(note);
    body
}

/// As much of the note as fits: whole lines from the front go first, but the cost line goes before the
/// last line left of the others (the one saying what happened); should one line be too long alone, the
/// start of it.
fn fit_note(note: &[u8], limit: usize, unit: Unit) -> &[u8] {
    let mut rest = note;
    while unit.len(rest) > limit {
        let lines: Vec<&[u8]> = rest.split_inclusive(|b| *b == b'\n').collect();
        rest = match lines.as_slice() {
            [] | [_] => return unit.first(rest, limit),
            [what, cost] if cost.starts_with(COST_LINE_START) => what,
            [first, ..] => &rest[first.len()..],
        };
    }
    rest
}

/// The last `max` characters of `text`.
pub fn last_chars(text: &str, max: usize) -> &str {
    if max == 0 {
        return "";
    }
    match text.char_indices().rev().nth(max - 1) {
        Some((start, _)) => &text[start..],
        None => text,
    }
}

/// RFC 4648 base64, padded; with `url`, the URL-safe alphabet (`-` and `_`).
pub fn base64(bytes: &[u8], url: bool) -> String {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    use base64::Engine;
    if url {
        URL_SAFE.encode(bytes)
    } else {
        STANDARD.encode(bytes)
    }
}

/// Seconds with millisecond precision, as monitors expect durations and timestamps.
pub fn seconds(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64())
}

/// Unix time in seconds (millisecond precision).
pub fn unix_seconds(time: SystemTime) -> String {
    seconds(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// The text of a keepalive for protocols that carry a message.
pub fn progress_message(elapsed: Duration) -> String {
    format!("still running after {}", crate::outcome::round(elapsed))
}

/// The tail for a report body: at most `limit` bytes, the end kept, cut on a UTF-8 boundary where one is near.
pub fn tail_within(tail: &[u8], limit: usize) -> &[u8] {
    if tail.len() <= limit {
        return tail;
    }
    let mut start = tail.len() - limit;
    // Skip at most 3 continuation bytes so the body does not begin mid-character.
    for _ in 0..3 {
        if start < tail.len() && (tail[start] & 0xC0) == 0x80 {
            start += 1;
        }
    }
    &tail[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Hygiene;

    #[test]
    fn keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail_within(b"abcdef", 3), b"def");
        assert_eq!(tail_within(b"abc", 10), b"abc");
        let text = "aé€".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(tail_within(text, 4), "€".as_bytes());
    }

    #[test]
    fn last_chars_counts_characters() {
        assert_eq!(last_chars("aé€x", 2), "€x");
        assert_eq!(last_chars("abc", 5), "abc");
        assert_eq!(last_chars("abc", 0), "");
        assert_eq!(seconds(std::time::Duration::from_millis(1500)), "1.500");
    }

    /// `(body, note)` as text, at `limit` bytes.
    fn body(tail: &str, note: &str, limit: usize) -> String {
        String::from_utf8(compose(tail.as_bytes(), note, limit, Unit::Bytes)).unwrap()
    }

    #[test]
    fn the_marker_is_the_one_the_output_side_writes() {
        let tail = Hygiene::default().report_tail(b"kept\n".to_vec(), 105);
        assert_eq!(split_cut_marker(&tail), (100, &b"kept\n"[..]));
        assert_eq!(cut_marker(100).as_bytes(), &tail[..tail.len() - 5]);
        assert_eq!(
            split_cut_marker(b"[\xe2\x80\xa6 x bytes cut"),
            (0, &b"[\xe2\x80\xa6 x bytes cut"[..])
        );
    }

    #[test]
    fn no_output_no_blank_line() {
        assert_eq!(
            body("", "cronbeat: killed by SIGKILL\n", 1000),
            "cronbeat: killed by SIGKILL\n"
        );
        assert_eq!(body("", "", 1000), "");
        assert_eq!(body("a\n", "", 1000), "a\n");
        assert_eq!(body("a\n", "cronbeat: x\n", 1000), "a\n\ncronbeat: x\n");
        assert_eq!(
            body("partial", "cronbeat: x\n", 1000),
            "partial\ncronbeat: x\n"
        );
    }

    #[test]
    fn a_limited_body_is_marked_and_keeps_the_note() {
        let output: String = (1..=100).map(|i| format!("{i}\n")).collect();
        let note = "cronbeat: timed out\n";
        let got = body(&output, note, 60);
        assert_eq!(got.len(), 60, "{got:?}");
        assert!(got.ends_with("100\n\ncronbeat: timed out\n"), "{got:?}");
        let (cut, rest) = split_cut_marker(got.as_bytes());
        let shown = rest.len() - 1 - note.len();
        assert_eq!(cut as usize + shown, output.len(), "{got:?}");
        // A tail the output side cut already: the counts add up.
        let tail = format!("[… 1000 bytes cut …]\n{output}");
        let got = body(&tail, "", 40);
        let (cut, rest) = split_cut_marker(got.as_bytes());
        assert_eq!(cut as usize + rest.len(), 1000 + output.len(), "{got:?}");
        assert!(got.len() <= 40 && got.ends_with("99\n100\n"), "{got:?}");
    }

    #[test]
    fn the_final_line_is_kept_when_the_note_does_not_fit() {
        let note = "cronbeat: duration 3s (Healthchecks counts from the last keepalive)\ncronbeat: timed out\n";
        assert_eq!(body("lots of output\n", note, 25), "cronbeat: timed out\n");
        assert_eq!(body("lots of output\n", note, 12), "cronbeat: ti");
        // Room for the note but not for a marker: the note alone.
        assert_eq!(
            body("lots of output\n", "cronbeat: x\n", 20),
            "cronbeat: x\n"
        );
        assert_eq!(body("x\n", "cronbeat: é\n", 11), "cronbeat: ");
        assert_eq!(body("lots of output\n", "", 8), " output\n");
    }

    fn report(outcome: crate::outcome::Outcome) -> Report {
        Report {
            run_id: "r".into(),
            started_at: SystemTime::now(),
            duration: Duration::from_secs(1),
            outcome,
            tail: std::sync::Arc::new(b"out\n".to_vec()),
            cost: crate::cost::Cost {
                user: Duration::from_millis(300),
                peak_memory: Some(4 << 20),
                ..Default::default()
            },
            attempts: Default::default(),
        }
    }

    #[test]
    fn the_cost_is_the_last_line_and_gives_way_before_what_happened() {
        use crate::outcome::{Cause, ChildStatus, Outcome};
        let timed_out = report(Outcome::with(
            ChildStatus::Signaled(15),
            Cause::Timeout(Duration::from_secs(2)),
        ));
        let what = "cronbeat: timed out after 2s and was stopped (killed by SIGTERM)\n";
        let cost = "cronbeat: cpu 0.300s (user 0.300s, system 0.000s), peak memory 4 MiB\n";
        assert_eq!(outcome_note(&timed_out), format!("{what}{cost}"));
        assert_eq!(
            String::from_utf8(report_body(&timed_out, 1000)).unwrap(),
            format!("out\n\n{what}{cost}")
        );
        // A success says only what it cost; a command that never started, only why.
        let exited = report(Outcome::exited(0));
        assert_eq!(outcome_note(&exited), cost);
        let not_started = report(Outcome {
            status: ChildStatus::NotStarted {
                code: 127,
                reason: "x: not found".into(),
            },
            cause: None,
        });
        assert_eq!(
            outcome_note(&not_started),
            "cronbeat: could not start: x: not found\n"
        );
        // Under a limit too small for the note, its earlier lines go, then the cost: the line saying
        // what happened is the one kept.
        assert_eq!(body("", &format!("{what}{cost}"), what.len() + 10), what);
        let kept = "cronbeat: duration 3s (Healthchecks counts from the last keepalive)\n";
        let note = format!("{kept}{what}{cost}");
        assert_eq!(body("", &note, note.len() - 1), format!("{what}{cost}"));
        assert_eq!(body("", &note, kept.len() + what.len()), what);
        assert_eq!(body("", cost, 14), "cronbeat: cpu ");
    }

    #[test]
    fn messages_count_characters() {
        let output = "é".repeat(50) + "\n";
        let got = compose(output.as_bytes(), "cronbeat: end\n", 40, Unit::Chars);
        let got = String::from_utf8(got).unwrap();
        assert_eq!(got.chars().count(), 40, "{got:?}");
        assert!(
            got.starts_with("[… ") && got.ends_with("éé\n\ncronbeat: end\n"),
            "{got:?}"
        );
    }
}
