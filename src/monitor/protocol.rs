//! What every monitoring service implements: the requests for each moment of a run.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;

use super::delivery::{HttpRequest, Response};
use super::redact::redact;
use crate::events::Report;

/// Facts about the run that every protocol may carry.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub job: Option<String>,
    pub host: String,
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

/// The output tail, plus one line saying what happened when the command did not exit on its own
/// terms (deadline, signal, exec failure), within `limit` bytes: the line is kept, the tail gives way.
pub fn report_body(report: &Report, limit: usize) -> Vec<u8> {
    let note = match report.outcome.plain_exit() {
        Some(_) => String::new(),
        None => format!("cronbeat: {}\n", report.outcome.describe()),
    };
    tail_with_note(&report.tail, &note, limit)
}

/// The tail, then `note` (cronbeat's own lines, each ending in a newline) after a line break, within
/// `limit` bytes: the note is kept, the tail gives way.
pub fn tail_with_note(tail: &[u8], note: &str, limit: usize) -> Vec<u8> {
    if note.is_empty() {
        return tail_within(tail, limit).to_vec();
    }
    let note = format!("\n{note}");
    let room = limit.saturating_sub(note.len());
    let mut body = tail_within(tail, room).to_vec();
    body.extend_from_slice(&note.as_bytes()[..note.len().min(limit)]);
    body
}

/// The report as text for services that take a short message: invalid UTF-8 replaced, at most
/// `max_chars` characters, the end kept.
pub fn report_message(report: &Report, max_chars: usize) -> String {
    let body = report_body(report, max_chars.saturating_mul(4));
    let text = String::from_utf8_lossy(&body);
    last_chars(text.trim_start_matches('\n'), max_chars).to_string()
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
    use super::{last_chars, seconds, tail_within};

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
}
