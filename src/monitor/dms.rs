//! Dead Man's Snitch: one check-in at the finish, `GET https://nosnch.in/<token>?s=<exit status>&m=<message>`.
//! `s=0` is a success, anything else an error; the message is the end of the output (and what
//! happened, when the command did not exit on its own terms). The snitch has no start ping.

use reqwest::Url;

use super::delivery::HttpRequest;
use super::protocol::{http_url, report_message, Action, Protocol, RunInfo};
use super::redact::redact;
use crate::events::Report;

/// Check-in messages are meant to be short; this keeps the URL well within what servers accept.
pub const MESSAGE_LIMIT: usize = 1000;

pub struct DeadMansSnitch {
    base: Url,
}

impl DeadMansSnitch {
    pub fn new(spec: &str) -> Result<DeadMansSnitch, String> {
        let base = http_url(spec)?;
        if base.path().trim_matches('/').is_empty() {
            return Err(format!(
                "{}: a Dead Man's Snitch URL ends with the snitch token",
                redact(spec)
            ));
        }
        Ok(DeadMansSnitch { base })
    }

    fn url(&self, status: i32, message: &str) -> String {
        let mut url = self.base.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("s", &status.to_string());
            if !message.is_empty() {
                query.append_pair("m", message);
            }
        }
        url.to_string()
    }
}

impl Protocol for DeadMansSnitch {
    fn kind(&self) -> &'static str {
        "dms"
    }

    fn target(&self) -> String {
        redact(self.base.as_str())
    }

    fn start(&mut self, _run: &RunInfo) -> Vec<Action> {
        Vec::new()
    }

    fn finish(&mut self, _run: &RunInfo, report: &Report) -> Vec<Action> {
        let message = report_message(report, MESSAGE_LIMIT);
        vec![Action::Http(HttpRequest::get(
            self.url(status(report), &message),
        ))]
    }
}

/// The `s=` DMS reads as the verdict: 0 for a success (success codes included), else the exit status,
/// or 1 when a rule failed a run that exited 0.
fn status(report: &Report) -> i32 {
    match report.outcome.exit_code() {
        _ if report.outcome.succeeded() => 0,
        0 => 1,
        code => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_message_in_the_query() {
        let d = DeadMansSnitch::new("https://nosnch.in/c2354d53d2").unwrap();
        assert_eq!(
            d.url(3, "a b&c"),
            "https://nosnch.in/c2354d53d2?s=3&m=a+b%26c"
        );
        assert_eq!(d.url(0, ""), "https://nosnch.in/c2354d53d2?s=0");
    }
}
