//! A generic webhook for in-house systems: `webhook+https://ops.example/hooks/cron`.
//!
//! Each event (start, success, failure, progress for `--keepalive`, and log messages) is one request,
//! `POST` with a JSON body by default: `{"event", "run_id", "job", "name", "host", "tick",
//! "exit_status", "signal", "duration", "outcome", "message", "output_tail", "cost"}` (null where the event has
//! no value; `tick` is the scheduled time the run serves, RFC 3339 in UTC, null off the schedule). The event is
//! the verdict of the success rules; `outcome` is the finer word, so a terminated run is a `failure`
//! event with the outcome `terminated`. A `webhook` table in the config file
//! (in `[defaults]` or a job) changes the method, adds headers, and replaces the body of any event
//! with a template:
//!
//! ```toml
//! [jobs.backup.webhook]
//! method = "PUT"
//! headers = { Authorization = "Bearer s3cr3t" }
//! failure = '{"text": "{job} failed on {host}: {message}\n{output_tail}"}'
//! ```
//!
//! Placeholders `{run_id} {job} {name} {host} {tick} {exit_status} {signal} {duration} {outcome}
//! {output_tail} {message} {event}` are replaced by their value JSON-escaped without quotes, so they fit
//! inside a JSON string, and numbers (`exit_status`, `duration`) fit bare. At the start only `run_id`,
//! `job`, `name`, `host`, `tick` and `event` have values; the others are empty. Each template must be
//! valid JSON once filled.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{json, Value};

use super::delivery::HttpRequest;
use super::protocol::{http_url, progress_message, seconds, Action, Protocol, RunInfo};
use super::redact::redact;
use crate::events::Report;
use crate::outcome::signal_name;

/// The config file's `webhook` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// HTTP method, `POST` when not given.
    pub method: Option<String>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body templates per event.
    pub start: Option<String>,
    pub success: Option<String>,
    pub failure: Option<String>,
    pub log: Option<String>,
    pub progress: Option<String>,
}

pub struct Webhook {
    url: Url,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    templates: WebhookConfig,
}

const PLACEHOLDERS: [&str; 12] = [
    "event",
    "run_id",
    "job",
    "name",
    "host",
    "tick",
    "exit_status",
    "signal",
    "duration",
    "outcome",
    "output_tail",
    "message",
];

/// What one event knows about the run.
#[derive(Clone)]
struct Fields {
    event: &'static str,
    run_id: String,
    job: Option<String>,
    name: String,
    host: String,
    tick: Option<String>,
    exit_status: Option<i32>,
    signal: Option<String>,
    duration: Option<String>,
    outcome: Option<&'static str>,
    output_tail: Option<String>,
    message: Option<String>,
    /// What the run cost (the JSON `finished` event's fields), at the finish.
    cost: Option<Value>,
}

impl Fields {
    fn new(event: &'static str, run: &RunInfo) -> Fields {
        Fields {
            event,
            run_id: run.run_id.clone(),
            job: run.job.clone(),
            name: run.name.clone(),
            host: run.host.clone(),
            tick: run.tick.map(crate::schedule::rfc3339_utc),
            exit_status: None,
            signal: None,
            duration: None,
            outcome: None,
            output_tail: None,
            message: None,
            cost: None,
        }
    }

    fn finished(run: &RunInfo, report: &Report) -> Fields {
        let event = if report.outcome.succeeded() {
            "success"
        } else {
            "failure"
        };
        Fields {
            exit_status: Some(report.outcome.exit_code()),
            signal: report.outcome.signal().map(signal_name),
            duration: Some(seconds(report.duration)),
            outcome: Some(report.outcome.word()),
            output_tail: Some(String::from_utf8_lossy(&report.tail).into_owned()),
            // With `--retries`, also which attempt ended the run and how the earlier ones failed.
            message: Some(match report.attempts.summary(&report.outcome) {
                Some(summary) => format!("{}; {summary}", report.outcome.describe()),
                None => report.outcome.describe(),
            }),
            cost: Some({
                let mut f = serde_json::Map::new();
                crate::cost::json::fields(&report.cost, &mut f);
                Value::Object(f)
            }),
            ..Fields::new(event, run)
        }
    }

    /// The value of a placeholder as text: strings raw, numbers as written, absent values empty.
    fn text(&self, name: &str) -> String {
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        match name {
            "event" => self.event.to_string(),
            "run_id" => self.run_id.clone(),
            "job" => or_empty(&self.job),
            "name" => self.name.clone(),
            "host" => self.host.clone(),
            "tick" => or_empty(&self.tick),
            "exit_status" => self.exit_status.map(|c| c.to_string()).unwrap_or_default(),
            "signal" => or_empty(&self.signal),
            "duration" => or_empty(&self.duration),
            "outcome" => self.outcome.unwrap_or_default().to_string(),
            "output_tail" => or_empty(&self.output_tail),
            _ => or_empty(&self.message),
        }
    }

    fn default_body(&self) -> Value {
        json!({
            "event": self.event,
            "run_id": self.run_id,
            "job": self.job,
            "name": self.name,
            "host": self.host,
            "tick": self.tick,
            "exit_status": self.exit_status,
            "signal": self.signal,
            "duration": self.duration.as_ref().and_then(|d| d.parse::<f64>().ok()),
            "outcome": self.outcome,
            "message": self.message,
            "output_tail": self.output_tail,
            "cost": self.cost,
        })
    }
}

/// The first `{name}` in `template` that looks like a placeholder but is none (JSON's own braces are
/// followed by a quote, a blank or another brace, never by a bare name and `}`).
fn unknown_placeholder(template: &str) -> Option<&str> {
    template.match_indices('{').find_map(|(at, _)| {
        let after = &template[at + 1..];
        let name = &after[..after.find('}')?];
        let looks_like_one = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        (looks_like_one && !PLACEHOLDERS.contains(&name)).then_some(name)
    })
}

impl WebhookConfig {
    /// Whether the table can be used (method, headers, templates), judged before any monitor uses it, so
    /// that an error is blamed on the table and not on a `ping` line.
    pub fn validate(&self) -> Result<(), String> {
        Webhook::new("http://webhook.invalid/", Some(self)).map(|_| ())
    }
}

/// Fills the placeholders of a template in one pass (a value is never searched for placeholders).
fn fill(template: &str, fields: &Fields) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let known = PLACEHOLDERS
            .iter()
            .find(|name| after.starts_with(*name) && after[name.len()..].starts_with('}'));
        match known {
            Some(name) => {
                let quoted = Value::String(fields.text(name)).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Webhook {
    pub fn new(spec: &str, config: Option<&WebhookConfig>) -> Result<Webhook, String> {
        let url = http_url(spec)?;
        let config = config.cloned().unwrap_or_default();
        let method = match &config.method {
            None => Method::POST,
            Some(m) => Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("webhook method {m:?} is not an HTTP method"))?,
        };
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| format!("webhook header name {name:?} is not valid"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("webhook header {name} has an invalid value"))?;
            headers.push((name, value));
        }
        if !headers.iter().any(|(name, _)| name == CONTENT_TYPE) {
            headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        }
        let webhook = Webhook {
            url,
            method,
            headers,
            templates: config,
        };
        webhook.check_templates()?;
        Ok(webhook)
    }

    /// A template that would send broken JSON, or names a placeholder that does not exist, is a
    /// configuration error, found before the run.
    fn check_templates(&self) -> Result<(), String> {
        let templates = [
            ("start", &self.templates.start),
            ("success", &self.templates.success),
            ("failure", &self.templates.failure),
            ("log", &self.templates.log),
            ("progress", &self.templates.progress),
        ];
        for (event, template) in templates {
            if let Some(unknown) = template.as_deref().and_then(unknown_placeholder) {
                let known: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect();
                return Err(format!(
                    "webhook template `{event}`: unknown placeholder {{{unknown}}} (known: {})",
                    known.join(" ")
                ));
            }
        }
        let run = RunInfo {
            run_id: "00000000-0000-4000-8000-000000000000".into(),
            job: Some("job".into()),
            name: "name".into(),
            host: "host".into(),
            tick: Some(std::time::UNIX_EPOCH),
            ..RunInfo::default()
        };
        let finished = |event| Fields {
            exit_status: Some(1),
            signal: Some("SIGTERM".into()),
            duration: Some("1.000".into()),
            outcome: Some("failure"),
            output_tail: Some("output".into()),
            message: Some("message".into()),
            ..Fields::new(event, &run)
        };
        let log = Fields {
            message: Some("message".into()),
            ..Fields::new("log", &run)
        };
        let cases = [
            ("start", &self.templates.start, Fields::new("start", &run)),
            ("success", &self.templates.success, finished("success")),
            ("failure", &self.templates.failure, finished("failure")),
            ("log", &self.templates.log, log.clone()),
            (
                "progress",
                &self.templates.progress,
                Fields {
                    event: "progress",
                    ..log
                },
            ),
        ];
        for (event, template, fields) in cases {
            if let Some(template) = template {
                serde_json::from_str::<Value>(&fill(template, &fields)).map_err(|e| {
                    format!("webhook template `{event}` is not valid JSON once filled: {e}")
                })?;
            }
        }
        Ok(())
    }

    fn request(&self, template: Option<&String>, fields: &Fields) -> Action {
        let body = match template {
            Some(template) => fill(template, fields),
            None => fields.default_body().to_string(),
        };
        let body = if matches!(self.method, Method::GET | Method::HEAD) {
            Vec::new()
        } else {
            body.into_bytes()
        };
        Action::Http(HttpRequest {
            method: self.method.clone(),
            url: self.url.to_string(),
            headers: self.headers.clone(),
            body,
            keep_body: false,
        })
    }
}

impl Protocol for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn target(&self) -> String {
        redact(self.url.as_str())
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![self.request(self.templates.start.as_ref(), &Fields::new("start", run))]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        let fields = Fields::finished(run, report);
        let template = if fields.event == "success" {
            self.templates.success.as_ref()
        } else {
            self.templates.failure.as_ref()
        };
        vec![self.request(template, &fields)]
    }

    fn log(&mut self, run: &RunInfo, message: &str) -> Vec<Action> {
        let fields = Fields {
            message: Some(message.to_string()),
            ..Fields::new("log", run)
        };
        vec![self.request(self.templates.log.as_ref(), &fields)]
    }

    fn progress(&mut self, run: &RunInfo, elapsed: Duration) -> Vec<Action> {
        let fields = Fields {
            message: Some(progress_message(elapsed)),
            duration: Some(seconds(elapsed)),
            ..Fields::new("progress", run)
        };
        vec![self.request(self.templates.progress.as_ref(), &fields)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunInfo {
        RunInfo {
            run_id: "r1".into(),
            job: Some("backup".into()),
            host: "h".into(),
            ..RunInfo::default()
        }
    }

    #[test]
    fn placeholders_are_json_escaped_and_filled_once() {
        let mut fields = Fields::new("log", &run());
        fields.message = Some("say \"{job}\"\n".into());
        assert_eq!(
            fill(r#"{"t": "{job}: {message}", "n": {nope}}"#, &fields),
            r#"{"t": "backup: say \"{job}\"\n", "n": {nope}}"#
        );
    }

    #[test]
    fn bad_config_is_refused() {
        let bad = |config: WebhookConfig| Webhook::new("https://x/hook", Some(&config)).is_err();
        assert!(bad(WebhookConfig {
            method: Some("NOT A METHOD".into()),
            ..Default::default()
        }));
        assert!(bad(WebhookConfig {
            success: Some(r#"{"text": {job}}"#.into()),
            ..Default::default()
        }));
        assert!(bad(WebhookConfig {
            start: Some(r#"{"code": {exit_status}}"#.into()),
            ..Default::default()
        }));
        assert!(!bad(WebhookConfig {
            success: Some(r#"{"code": {exit_status}, "d": {duration}}"#.into()),
            ..Default::default()
        }));
    }
}
