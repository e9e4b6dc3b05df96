//! Cronitor telemetry: `GET …/p/<api-key>/<monitor>?state=run|complete|fail` with `series` (the run id),
//! `host`, and on the finish `status_code`, `duration` and the output tail as `message`.
//! Query parameters already on the URL (`env=production`) are kept on every request.
//! Messages and `--keepalive` pings are ticks: no `state`, so the run stays open, with `message`.
//! With a schedule and `--cronitor-api-key`, the monitor's schedule, time zone and grace are kept in step
//! through the monitors API (`sync`); the monitor's key is the URL's last path segment.

use std::time::Duration;

use reqwest::Url;

use super::delivery::HttpRequest;
use super::protocol::{
    http_url, last_chars, progress_message, report_message, seconds, Action, Protocol, RunInfo,
};
use super::redact::redact;
use super::sync::{Declared, Service, SyncPlan, Wanted};
use crate::events::Report;

/// Cronitor keeps at most this many characters of a message.
pub const MESSAGE_LIMIT: usize = 2000;

/// The monitors API, unless `--cronitor-api-url` says otherwise.
const API: &str = "https://cronitor.io/api/";

pub struct Cronitor {
    base: Url,
    sync: Option<SyncPlan>,
    /// Set when the job's schedule is a calendar event, which Cronitor cannot hold.
    untold: Option<String>,
}

impl Cronitor {
    pub fn new(spec: &str) -> Result<Cronitor, String> {
        Ok(Cronitor {
            base: http_url(spec)?,
            sync: None,
            untold: None,
        })
    }

    fn url(&self, state: Option<&str>, run: &RunInfo, extra: &[(&str, &str)]) -> String {
        let mut url = self.base.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            query.append_pair("series", &run.run_id);
            query.append_pair("host", &run.host);
            for (name, value) in extra {
                query.append_pair(name, value);
            }
        }
        url.to_string()
    }
}

impl Protocol for Cronitor {
    fn kind(&self) -> &'static str {
        "cronitor"
    }

    fn target(&self) -> String {
        redact(self.base.as_str())
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![Action::Http(HttpRequest::get(self.url(
            Some("run"),
            run,
            &[],
        )))]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        let state = if report.outcome.succeeded() {
            "complete"
        } else {
            "fail"
        };
        let status = report.outcome.exit_code().to_string();
        let duration = seconds(report.duration);
        let message = report_message(report, MESSAGE_LIMIT);
        let mut extra = vec![("status_code", status.as_str()), ("duration", &duration)];
        if !message.is_empty() {
            extra.push(("message", &message));
        }
        vec![Action::Http(HttpRequest::get(self.url(
            Some(state),
            run,
            &extra,
        )))]
    }

    /// A tick (no `state`) carrying the message.
    fn log(&mut self, run: &RunInfo, message: &str) -> Vec<Action> {
        let message = last_chars(message, MESSAGE_LIMIT);
        vec![Action::Http(HttpRequest::get(self.url(
            None,
            run,
            &[("message", message)],
        )))]
    }

    /// A tick in the run's series: with a `state` it would count as another start or an end.
    fn progress(&mut self, run: &RunInfo, elapsed: Duration) -> Vec<Action> {
        self.log(run, &progress_message(elapsed))
    }

    fn declare(
        &mut self,
        declared: Option<&Declared>,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let Some((declared, access)) =
            declared.and_then(|d| d.cronitor.as_ref().map(|access| (d, access)))
        else {
            return Ok(());
        };
        if declared.schedule.cron_expression().is_none() {
            self.untold = Some(format!(
                "schedule {:?} not kept in step: Cronitor takes only cron expressions",
                declared.schedule.expr
            ));
            return Ok(());
        }
        let key = self
            .base
            .path_segments()
            .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
            .map(str::to_string);
        let (Some(key), Ok(api)) = (key, Url::parse(API)) else {
            warnings.push(format!(
                "{}: the schedule is not kept in step: the URL names no monitor (…/p/KEY/MONITOR)",
                self.target()
            ));
            return Ok(());
        };
        self.sync = Some(SyncPlan {
            service: Service::Cronitor(key),
            api: access.url.clone().unwrap_or(api),
            key: access.key.clone(),
            // Cronitor takes any whole number of seconds.
            wanted: Wanted::of(&declared.schedule, 0, u64::MAX),
        });
        Ok(())
    }

    fn sync_plan(&self) -> Option<SyncPlan> {
        self.sync.clone()
    }

    fn schedule_note(&self) -> Option<String> {
        self.untold.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunInfo {
        RunInfo {
            run_id: "r1".into(),
            job: None,
            host: "web 1".into(),
            ..RunInfo::default()
        }
    }

    #[test]
    fn keeps_the_users_query_and_adds_the_run() {
        let c = Cronitor::new("https://cronitor.link/p/KEY/nightly?env=staging").unwrap();
        assert_eq!(
            c.url(Some("run"), &run(), &[]),
            "https://cronitor.link/p/KEY/nightly?env=staging&state=run&series=r1&host=web+1"
        );
    }

    #[test]
    fn a_keepalive_is_a_tick_without_state() {
        let mut c = Cronitor::new("https://cronitor.link/p/KEY/nightly").unwrap();
        let actions = c.progress(&run(), Duration::from_secs(90));
        let [Action::Http(request)] = actions.as_slice() else {
            panic!("one request: {actions:?}");
        };
        assert_eq!(
            request.url,
            "https://cronitor.link/p/KEY/nightly?series=r1&host=web+1\
             &message=still+running+after+1m+30s"
        );
    }
}
