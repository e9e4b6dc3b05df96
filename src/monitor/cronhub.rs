//! Cronhub: `GET …/start/<uuid>` at the start, `…/finish/<uuid>` on success, `…/fail/<uuid>` otherwise
//! (the action comes before the id). The spec is any of the monitor's URLs, usually `…/ping/<uuid>`.

use reqwest::Url;

use super::delivery::HttpRequest;
use super::protocol::{http_url, Action, Protocol, RunInfo};
use super::redact::redact;
use crate::events::Report;

const ACTIONS: [&str; 4] = ["ping", "start", "finish", "fail"];

pub struct Cronhub {
    /// The URL without the action and the id.
    base: Url,
    id: String,
}

impl Cronhub {
    pub fn new(spec: &str) -> Result<Cronhub, String> {
        let url = http_url(spec)?;
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let id = segments.pop().ok_or_else(|| {
            format!(
                "{}: a Cronhub URL ends with the monitor's id (…/ping/UUID)",
                redact(spec)
            )
        })?;
        if segments
            .last()
            .is_some_and(|s| ACTIONS.contains(&s.as_str()))
        {
            segments.pop();
        }
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        base.path_segments_mut()
            .map_err(|_| format!("{}: not a usable URL", redact(spec)))?
            .clear()
            .extend(&segments);
        Ok(Cronhub { base, id })
    }

    fn url(&self, action: &str) -> String {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend([action, &self.id]);
        }
        url.to_string()
    }
}

impl Protocol for Cronhub {
    fn kind(&self) -> &'static str {
        "cronhub"
    }

    fn target(&self) -> String {
        redact(&self.url("ping"))
    }

    fn start(&mut self, _run: &RunInfo) -> Vec<Action> {
        vec![Action::Http(HttpRequest::get(self.url("start")))]
    }

    fn finish(&mut self, _run: &RunInfo, report: &Report) -> Vec<Action> {
        let action = if report.outcome.succeeded() {
            "finish"
        } else {
            "fail"
        };
        vec![Action::Http(HttpRequest::get(self.url(action)))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_before_the_id() {
        let c = Cronhub::new("https://cronhub.io/ping/1f2e-33").unwrap();
        assert_eq!(c.url("start"), "https://cronhub.io/start/1f2e-33");
        let c = Cronhub::new("http://127.0.0.1:8080/prefix/finish/abc/").unwrap();
        assert_eq!(c.url("fail"), "http://127.0.0.1:8080/prefix/fail/abc");
        let c = Cronhub::new("https://cronhub.io/abc").unwrap();
        assert_eq!(c.url("finish"), "https://cronhub.io/finish/abc");
        assert!(Cronhub::new("https://cronhub.io/").is_err());
    }
}
