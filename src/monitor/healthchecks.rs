//! Healthchecks (hosted or self-hosted, UUID or `<ping-key>/<slug>` URLs):
//! `POST URL/start?rid=R`, `POST URL/<code>?rid=R` with the output tail, `POST URL/fail?rid=R` when the
//! command did not exit on its own terms, `POST URL/log?rid=R` for messages.
//!
//! With a schedule and an API key, the check's schedule, time zone and grace are kept in step through the
//! Management API (`sync`): its address comes from the ping URL (`hc-ping.com` →
//! `https://healthchecks.io/api/v3/`, `SITE_ROOT/ping/…` → `SITE_ROOT/api/v3/`) unless given.
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
use super::sync::{Declared, HcCheck, Service, SyncPlan, Wanted};
use crate::events::Report;

/// The hosted service keeps at most this much of a body; a server's `Ping-Body-Limit` may lower it.
const DEFAULT_BODY_LIMIT: usize = 100_000;
/// The grace Healthchecks takes, in seconds.
const GRACE_BOUNDS: (u64, u64) = (60, 31_536_000);

pub struct Healthchecks {
    base: Url,
    body_limit: usize,
    /// A keepalive restarted the server's timer: its duration for the run is short of the truth.
    kept_alive: bool,
    sync: Option<SyncPlan>,
}

/// The Management API of the server a ping URL belongs to.
fn api_of(ping: &Url) -> Option<Url> {
    if ping.host_str() == Some("hc-ping.com") {
        return Url::parse("https://healthchecks.io/api/v3/").ok();
    }
    let segments: Vec<&str> = ping.path_segments()?.collect();
    let at = segments.iter().position(|s| *s == "ping")?;
    let mut api = ping.clone();
    api.set_query(None);
    api.set_fragment(None);
    let root = segments[..at].join("/");
    let path = if root.is_empty() {
        "/api/v3/".to_string()
    } else {
        format!("/{root}/api/v3/")
    };
    api.set_path(&path);
    Some(api)
}

/// The check a ping URL names: a UUID last, else the slug after the ping key.
fn check_of(ping: &Url) -> Option<HcCheck> {
    let segments: Vec<&str> = ping.path_segments()?.filter(|s| !s.is_empty()).collect();
    let after = segments
        .iter()
        .position(|s| *s == "ping")
        .map_or(0, |at| at + 1);
    match &segments[after.min(segments.len())..] {
        [.., uuid] if uuid::Uuid::try_parse(uuid).is_ok() => Some(HcCheck::Uuid(uuid.to_string())),
        [_key, slug] => Some(HcCheck::Slug(slug.to_string())),
        _ => None,
    }
}

impl Healthchecks {
    pub fn new(url: &str) -> Result<Healthchecks, String> {
        Ok(Healthchecks {
            base: http_url(url)?,
            body_limit: DEFAULT_BODY_LIMIT,
            kept_alive: false,
            sync: None,
        })
    }

    /// The tail, the run's duration once a keepalive has restarted the server's count, a line saying what
    /// happened when the command did not exit on its own terms, and the run's cost, within the body limit.
    fn finish_body(&self, report: &Report) -> Vec<u8> {
        let mut note = String::new();
        if self.kept_alive {
            note.push_str(&format!(
                "cronbeat: duration {} (Healthchecks counts from the last keepalive)\n",
                crate::outcome::round(report.duration)
            ));
        }
        // cronbeat's closing lines end the body: a body too long for the server's limit keeps them.
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

    fn declare(
        &mut self,
        declared: Option<&Declared>,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let Some((declared, access)) =
            declared.and_then(|d| d.healthchecks.as_ref().map(|access| (d, access)))
        else {
            return Ok(());
        };
        let target = self.target();
        let Some(check) = check_of(&self.base) else {
            warnings.push(format!(
                "{target}: the schedule is not kept in step: the ping URL names no check (…/UUID or \
                 …/PING-KEY/SLUG)"
            ));
            return Ok(());
        };
        let Some(api) = access.url.clone().or_else(|| api_of(&self.base)) else {
            warnings.push(format!(
                "{target}: the schedule is not kept in step: cannot tell the Management API from the \
                 ping URL (give hc_api_url)"
            ));
            return Ok(());
        };
        self.sync = Some(SyncPlan {
            service: Service::Healthchecks(check),
            api,
            key: access.key.clone(),
            wanted: Wanted::of(&declared.schedule, GRACE_BOUNDS.0, GRACE_BOUNDS.1),
        });
        Ok(())
    }

    fn sync_plan(&self) -> Option<SyncPlan> {
        self.sync.clone()
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
    fn the_api_and_the_check_from_the_ping_url() {
        let api = |url: &str| api_of(&Url::parse(url).unwrap()).map(|u| u.to_string());
        let uuid = "6e1fbf8f-1b0d-4f55-9c3e-aa05fe5e6d3e";
        assert_eq!(
            api(&format!("https://hc-ping.com/{uuid}")).as_deref(),
            Some("https://healthchecks.io/api/v3/")
        );
        assert_eq!(
            api("https://hc.example/ping/KEY/slug?create=1").as_deref(),
            Some("https://hc.example/api/v3/")
        );
        assert_eq!(
            api("http://127.0.0.1:8000/hc/ping/x").as_deref(),
            Some("http://127.0.0.1:8000/hc/api/v3/")
        );
        assert_eq!(api("https://other.example/x"), None);
        let check = |url: &str| check_of(&Url::parse(url).unwrap());
        assert_eq!(
            check(&format!("https://hc-ping.com/{uuid}")),
            Some(HcCheck::Uuid(uuid.into()))
        );
        assert_eq!(
            check("https://hc.example/ping/KEY/my-job"),
            Some(HcCheck::Slug("my-job".into()))
        );
        assert_eq!(check("https://hc.example/ping/not-a-uuid"), None);
    }

    #[test]
    fn rejects_non_http() {
        assert!(Healthchecks::new("ftp://x/y").is_err());
        assert!(Healthchecks::new("nonsense").is_err());
    }
}
