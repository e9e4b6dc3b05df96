//! What every monitoring service implements: the requests for each moment of a run.

use std::path::PathBuf;
use std::time::Duration;

use super::delivery::{HttpRequest, Response};
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
    /// A message that is neither start nor finish: a test ping from `check`, a skipped run.
    fn log(&mut self, run: &RunInfo, message: &str) -> Vec<Action>;
    /// A `--keepalive` ping: the run is still going after `elapsed`. Protocols with a progress state
    /// (a tick, an in-progress check-in) override this; the rest send a log message.
    fn progress(&mut self, run: &RunInfo, elapsed: Duration) -> Vec<Action> {
        self.log(run, &progress_message(elapsed))
    }
    /// Called with each successful HTTP answer, for protocols that adapt to the server.
    fn on_response(&mut self, _response: &Response) {}
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
    use super::tail_within;

    #[test]
    fn keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail_within(b"abcdef", 3), b"def");
        assert_eq!(tail_within(b"abc", 10), b"abc");
        let text = "aé€".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(tail_within(text, 4), "€".as_bytes());
    }
}
