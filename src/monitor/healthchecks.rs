//! Healthchecks (hosted or self-hosted, UUID or `<ping-key>/<slug>` URLs):
//! `POST URL/start?rid=R`, `POST URL/<code>?rid=R` with the output tail, `POST URL/fail?rid=R` when the
//! command did not exit on its own terms, `POST URL/log?rid=R` for messages.
//!
//! A keepalive is another `POST URL/start?rid=R`: the server marks a started check down once
//! `last_start + grace` passes, and only a start moves `last_start` (a `/log` does not). It then counts
//! the run's duration from the last keepalive, so after one the finish body says how long the run took.

use reqwest::Url;

use super::delivery::{HttpRequest, Response};
use std::time::Duration;

use super::protocol::{
    compose, http_url, outcome_note, progress_message, tail_within, with_path_suffix, Action,
    Protocol, RunInfo, Unit,
};
use super::redact::redact;
use crate::events::Report;

/// The hosted service keeps at most this much of a body; a server's `Ping-Body-Limit` may lower it.
const DEFAULT_BODY_LIMIT: usize = 100_000;

pub struct Healthchecks {
    base: Url,
    body_limit: usize,
    /// A keepalive restarted the server's timer: its duration for the run is short of the truth.
    kept_alive: bool,
}

impl Healthchecks {
    pub fn new(url: &str) -> Result<Healthchecks, String> {
        Ok(Healthchecks {
            base: http_url(url)?,
            body_limit: DEFAULT_BODY_LIMIT,
            kept_alive: false,
        })
    }

    /// The tail, a line saying what happened when the command did not exit on its own terms, and the
    /// run's duration once a keepalive has restarted the server's count, within the body limit.
    fn finish_body(&self, report: &Report) -> Vec<u8> {
        let mut note = String::new();
        if self.kept_alive {
            note.push_str(&format!(
                "cronbeat: duration {} (Healthchecks counts from the last keepalive)\n",
                crate::outcome::round(report.duration)
            ));
        }
        // Last, so that it is the line a body too long for the server's limit keeps.
        note.push_str(&outcome_note(report));
        compose(&report.tail, &note, self.body_limit, Unit::Bytes)
    }

    /// `base/suffix?<base query>&rid=R`; a trailing slash on the base is dropped (Healthchecks 404s on `//`).
    fn url(&self, suffix: &str, run_id: &str) -> String {
        let mut url = with_path_suffix(&self.base, Some(suffix));
        url.query_pairs_mut().append_pair("rid", run_id);
        url.to_string()
    }
}

impl Protocol for Healthchecks {
    fn kind(&self) -> &'static str {
        "healthchecks"
    }

    fn target(&self) -> String {
        redact(self.base.as_str())
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![Action::Http(HttpRequest::post(
            self.url("start", &run.run_id),
            Vec::new(),
        ))]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        let outcome = &report.outcome;
        let suffix = match outcome.plain_exit() {
            Some(code) => code.to_string(),
            // A requested stop is not a failure: a note, and the check's own grace decides.
            None if outcome.terminated() => "log".to_string(),
            // A success code other than 0, or a failure by rule: the verdict, with the reason.
            None if outcome.succeeded() => "0".to_string(),
            None => "fail".to_string(),
        };
        vec![Action::Http(HttpRequest::post(
            self.url(&suffix, &run.run_id),
            self.finish_body(report),
        ))]
    }

    fn progress(&mut self, run: &RunInfo, elapsed: Duration) -> Vec<Action> {
        self.kept_alive = true;
        vec![Action::Http(HttpRequest::post(
            self.url("start", &run.run_id),
            progress_message(elapsed).into_bytes(),
        ))]
    }

    fn log(&mut self, run: &RunInfo, message: &str) -> Vec<Action> {
        let body = tail_within(message.as_bytes(), self.body_limit).to_vec();
        vec![Action::Http(HttpRequest::post(
            self.url("log", &run.run_id),
            body,
        ))]
    }

    fn on_response(&mut self, response: &Response) {
        let limit = response
            .headers
            .get("ping-body-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(limit) = limit {
            self.body_limit = limit;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_base_query_and_add_the_run_id() {
        let hc = Healthchecks::new("https://hc.example/ping/KEY/my-job/?create=1").unwrap();
        assert_eq!(
            hc.url("start", "r1"),
            "https://hc.example/ping/KEY/my-job/start?create=1&rid=r1"
        );
        let hc = Healthchecks::new("https://hc-ping.com/uuid").unwrap();
        assert_eq!(hc.url("0", "r"), "https://hc-ping.com/uuid/0?rid=r");
    }

    #[test]
    fn rejects_non_http() {
        assert!(Healthchecks::new("ftp://x/y").is_err());
        assert!(Healthchecks::new("nonsense").is_err());
    }
}
