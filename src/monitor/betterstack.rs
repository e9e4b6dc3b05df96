//! Better Stack heartbeats: `POST …/heartbeat/<token>` on success, `…/<token>/<exit code>` when the
//! command exited non-zero, `…/<token>/fail` when it did not exit on its own terms; the body is the
//! output tail. Better Stack has no start ping and no messages.

use reqwest::Url;

use super::delivery::HttpRequest;
use super::protocol::{http_url, report_body, with_path_suffix, Action, Protocol, RunInfo};
use super::redact::redact;
use crate::events::Report;

/// More output than a heartbeat page shows is not worth sending.
const BODY_LIMIT: usize = 100_000;

pub struct BetterStack {
    base: Url,
}

impl BetterStack {
    pub fn new(spec: &str) -> Result<BetterStack, String> {
        let base = http_url(spec)?;
        if base.path().trim_matches('/').is_empty() {
            return Err(format!(
                "{}: a Better Stack heartbeat URL ends with its token",
                redact(spec)
            ));
        }
        Ok(BetterStack { base })
    }

    fn url(&self, suffix: Option<&str>) -> String {
        with_path_suffix(&self.base, suffix).to_string()
    }
}

impl Protocol for BetterStack {
    fn kind(&self) -> &'static str {
        "betterstack"
    }

    fn target(&self) -> String {
        redact(self.base.as_str())
    }

    fn start(&mut self, _run: &RunInfo) -> Vec<Action> {
        Vec::new()
    }

    fn finish(&mut self, _run: &RunInfo, report: &Report) -> Vec<Action> {
        // The verdict decides (success codes and rules included); a plain failing exit keeps its code.
        let suffix = match report.outcome.plain_exit() {
            _ if report.outcome.succeeded() => None,
            Some(code) if code != 0 => Some(code.to_string()),
            _ => Some("fail".to_string()),
        };
        vec![Action::Http(HttpRequest::post(
            self.url(suffix.as_deref()),
            report_body(report, BODY_LIMIT),
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let b = BetterStack::new("https://uptime.betterstack.com/api/v1/heartbeat/TOK/").unwrap();
        assert_eq!(
            b.url(None),
            "https://uptime.betterstack.com/api/v1/heartbeat/TOK"
        );
        assert_eq!(
            b.url(Some("3")),
            "https://uptime.betterstack.com/api/v1/heartbeat/TOK/3"
        );
        assert!(BetterStack::new("https://uptime.betterstack.com/").is_err());
    }
}
