//! Sentry Crons check-ins, from a DSN and a monitor slug:
//! `sentry+https://<public-key>@<ingest-host>/<project>?monitor=<slug>[&environment=…][&schedule=…]…`.
//!
//! Each check-in is `POST https://<ingest-host>/api/<project>/cron/<slug>/<public-key>/` with a JSON body:
//! `in_progress` at the start, `ok` or `error` with `duration` (seconds) at the finish, both with the run id
//! as `check_in_id` so overlapping runs stay apart. With a schedule (the job's `--schedule`, or one in the
//! spec), every check-in also carries `monitor_config`, so the monitor is created (or updated) by the
//! first run: the job's schedule, time zone, grace (`checkin_margin`) and `--timeout` + `--kill-after`
//! (`max_runtime`), in whole minutes rounded up; a setting in the spec wins over the job's.
//!
//! Query parameters of the spec:
//! - `monitor` (required): the monitor slug.
//! - `environment`: the check-ins' environment.
//! - `schedule`: a crontab (`0 * * * *`, write the spaces as `+` or `%20`) or an interval `<n><unit>` with
//!   unit `m`/`min`, `h`, `d`, `w`, `mo`/`month`, `y` (`30m`, `2h`, `1d`).
//! - `checkin_margin`, `max_runtime`: minutes, or a duration (`90s`, `2h`) rounded up to whole minutes.
//! - `timezone` (e.g. `Europe/Berlin`), `failure_issue_threshold`, `recovery_threshold`.

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde_json::{json, Map, Value};

use super::delivery::HttpRequest;
use super::protocol::{http_url, Action, Protocol, RunInfo};
use super::redact::redact;
use super::sync::Declared;
use crate::events::Report;

pub struct Sentry {
    endpoint: Url,
    environment: Option<String>,
    /// The settings the spec gives (they win over the job's).
    given: Map<String, Value>,
    monitor_config: Option<Value>,
    /// Set when the job's schedule is a calendar event, which Sentry cannot hold.
    untold: Option<String>,
}

impl Sentry {
    pub fn new(spec: &str) -> Result<Sentry, String> {
        let dsn = http_url(spec)?;
        let fail = |what: &str| format!("{}: {what}", redact(spec));
        let key = dsn.username();
        if key.is_empty() {
            return Err(fail(
                "a Sentry DSN needs the public key before the host (https://KEY@HOST/PROJECT)",
            ));
        }
        let mut segments: Vec<&str> = dsn
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let project = match segments.pop() {
            Some(p) if p.chars().all(|c| c.is_ascii_digit()) => p.to_string(),
            _ => return Err(fail("a Sentry DSN ends with the numeric project id")),
        };

        let mut slug = None;
        let mut environment = None;
        let mut schedule = None;
        let mut config = Map::new();
        for (name, value) in dsn.query_pairs() {
            let value = value.trim().to_string();
            match name.as_ref() {
                "monitor" => slug = Some(value),
                "environment" => environment = Some(value),
                "schedule" => schedule = Some(parse_schedule(&value).map_err(|e| fail(&e))?),
                "checkin_margin" | "max_runtime" => {
                    let minutes = parse_minutes(&value).map_err(|e| fail(&format!("{name}: {e}")))?;
                    config.insert(name.to_string(), json!(minutes));
                }
                "failure_issue_threshold" | "recovery_threshold" => {
                    let count: u64 = value
                        .parse()
                        .map_err(|_| fail(&format!("{name}: expected a whole number")))?;
                    config.insert(name.to_string(), json!(count));
                }
                "timezone" => {
                    config.insert("timezone".into(), json!(value));
                }
                other => {
                    return Err(fail(&format!(
                        "unknown Sentry parameter {other:?} (known: monitor, environment, schedule, \
                         checkin_margin, max_runtime, timezone, failure_issue_threshold, recovery_threshold)"
                    )))
                }
            }
        }
        let slug = slug
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail("a Sentry monitor needs ?monitor=SLUG"))?;
        if let Some(schedule) = schedule {
            config.insert("schedule".into(), schedule);
        }
        let monitor_config = config
            .contains_key("schedule")
            .then(|| Value::Object(config.clone()));

        let mut endpoint = dsn.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let _ = endpoint.set_username("");
        let _ = endpoint.set_password(None);
        endpoint
            .path_segments_mut()
            .map_err(|_| fail("not a usable DSN"))?
            .clear()
            .extend(segments)
            .extend(["api", &project, "cron", &slug, key, ""]);
        Ok(Sentry {
            endpoint,
            environment: environment.filter(|e| !e.is_empty()),
            given: config,
            monitor_config,
            untold: None,
        })
    }

    fn check_in(&self, run: &RunInfo, status: &str, duration: Option<f64>) -> Action {
        let mut body = Map::new();
        body.insert("check_in_id".into(), json!(run.run_id));
        body.insert("status".into(), json!(status));
        if let Some(duration) = duration {
            body.insert("duration".into(), json!(duration));
        }
        if let Some(environment) = &self.environment {
            body.insert("environment".into(), json!(environment));
        }
        if let Some(config) = &self.monitor_config {
            body.insert("monitor_config".into(), config.clone());
        }
        let mut request = HttpRequest::post(
            self.endpoint.to_string(),
            Value::Object(body).to_string().into_bytes(),
        );
        request
            .headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        Action::Http(request)
    }
}

/// `0 * * * *` (anything with a space, or `@daily`) is a crontab; `2h` is an interval.
fn parse_schedule(text: &str) -> Result<Value, String> {
    if text.contains(char::is_whitespace) || text.starts_with('@') {
        return Ok(json!({"type": "crontab", "value": text}));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit = match unit.trim() {
        "m" | "min" | "mins" | "minute" | "minutes" => "minute",
        "h" | "hour" | "hours" => "hour",
        "d" | "day" | "days" => "day",
        "w" | "week" | "weeks" => "week",
        "mo" | "month" | "months" => "month",
        "y" | "year" | "years" => "year",
        _ => "",
    };
    match digits.parse::<u64>() {
        Ok(value) if value > 0 && !unit.is_empty() => {
            Ok(json!({"type": "interval", "value": value, "unit": unit}))
        }
        _ => Err(format!(
            "schedule {text:?}: expected a crontab (0 * * * *) or an interval such as 30m, 2h, 1d"
        )),
    }
}

/// Whole minutes, rounded up: how Sentry counts a margin or a run time.
fn minutes(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos().div_ceil(60_000_000_000)).unwrap_or(u64::MAX)
}

/// Minutes as Sentry counts them: a whole number, or a duration rounded up to the minute.
fn parse_minutes(text: &str) -> Result<u64, String> {
    if let Ok(minutes) = text.parse::<u64>() {
        return Ok(minutes);
    }
    let duration = humantime::parse_duration(text)
        .map_err(|_| format!("expected minutes or a duration such as 90s, 2h, not {text:?}"))?;
    Ok(duration.as_secs().div_ceil(60))
}

impl Protocol for Sentry {
    fn kind(&self) -> &'static str {
        "sentry"
    }

    fn target(&self) -> String {
        redact(self.endpoint.as_str())
    }

    fn start(&mut self, run: &RunInfo) -> Vec<Action> {
        vec![self.check_in(run, "in_progress", None)]
    }

    fn finish(&mut self, run: &RunInfo, report: &Report) -> Vec<Action> {
        let status = if report.outcome.succeeded() {
            "ok"
        } else {
            "error"
        };
        let duration = (report.duration.as_secs_f64() * 1000.0).round() / 1000.0;
        vec![self.check_in(run, status, Some(duration))]
    }

    fn declare(
        &mut self,
        declared: Option<&Declared>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut config = Map::new();
        if let Some((declared, cron)) =
            declared.and_then(|d| Some((d, d.schedule.cron_expression()?)))
        {
            let schedule = &declared.schedule;
            config.insert("schedule".into(), json!({"type": "crontab", "value": cron}));
            config.insert("timezone".into(), json!(schedule.tz.name()));
            config.insert(
                "checkin_margin".into(),
                json!(minutes(schedule.grace).max(1)),
            );
            if let Some(limit) = declared.max_runtime {
                config.insert("max_runtime".into(), json!(minutes(limit).max(1)));
            }
        }
        // A calendar event has no exact cron form: the monitor is told none of the job's settings.
        let calendar = declared.filter(|d| d.schedule.cron_expression().is_none());
        if let Some(declared) = calendar {
            self.untold = Some(format!(
                "not told the schedule {:?}: Sentry Crons takes only cron expressions",
                declared.schedule.expr
            ));
        }
        // The spec's own settings win, key by key.
        config.extend(self.given.clone());
        if !config.contains_key("schedule") {
            if config.is_empty() {
                return Ok(());
            }
            let hint = match calendar {
                Some(_) => "a calendar --schedule is not one Sentry takes: give a cron schedule= in the URL",
                None => "--schedule, or schedule= in the URL",
            };
            return Err(format!(
                "{}: monitor settings need a schedule ({hint})",
                self.target()
            ));
        }
        self.monitor_config = Some(Value::Object(config));
        Ok(())
    }

    fn schedule_note(&self) -> Option<String> {
        self.untold.clone()
    }

    /// A keepalive repeats `in_progress` with the same check-in id, which keeps the check-in open.
    fn progress(&mut self, run: &RunInfo, _elapsed: Duration) -> Vec<Action> {
        vec![self.check_in(run, "in_progress", None)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_the_dsn() {
        let s = Sentry::new("https://abc@o1.ingest.sentry.io/42?monitor=nightly-backup").unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "https://o1.ingest.sentry.io/api/42/cron/nightly-backup/abc/"
        );
        assert!(s.monitor_config.is_none());
        let s =
            Sentry::new("http://k:secret@127.0.0.1:9000/sub/7?monitor=m&environment=prod").unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "http://127.0.0.1:9000/sub/api/7/cron/m/k/"
        );
        assert_eq!(s.environment.as_deref(), Some("prod"));
    }

    #[test]
    fn monitor_config_from_the_query() {
        let s = Sentry::new(
            "https://k@o1.ingest.sentry.io/1?monitor=m&schedule=0+*+*+*+*&checkin_margin=5\
             &max_runtime=2h&timezone=Europe/Berlin&failure_issue_threshold=2",
        )
        .unwrap();
        assert_eq!(
            s.monitor_config.unwrap(),
            json!({
                "schedule": {"type": "crontab", "value": "0 * * * *"},
                "checkin_margin": 5,
                "max_runtime": 120,
                "timezone": "Europe/Berlin",
                "failure_issue_threshold": 2,
            })
        );
        assert_eq!(
            parse_schedule("2h").unwrap(),
            json!({"type": "interval", "value": 2, "unit": "hour"})
        );
        assert_eq!(parse_schedule("@daily").unwrap()["type"], "crontab");
        assert!(parse_schedule("2x").is_err());
        assert_eq!(parse_minutes("90s").unwrap(), 2);
    }

    #[test]
    fn bad_specs_are_refused() {
        assert!(Sentry::new("https://o1.ingest.sentry.io/42?monitor=m").is_err());
        assert!(Sentry::new("https://k@o1.ingest.sentry.io/42").is_err());
        assert!(Sentry::new("https://k@o1.ingest.sentry.io/x?monitor=m").is_err());
        assert!(Sentry::new("https://k@o1.ingest.sentry.io/4?monitor=m&typo=1").is_err());
        let mut settings_alone =
            Sentry::new("https://k@o1.ingest.sentry.io/4?monitor=m&max_runtime=5").unwrap();
        assert!(settings_alone.declare(None, &mut Vec::new()).is_err());
    }

    #[test]
    fn the_jobs_schedule_fills_what_the_spec_leaves_out() {
        let schedule = crate::schedule::Schedule::new(
            "@daily",
            "Europe/Berlin".parse().unwrap(),
            Duration::from_secs(330),
        )
        .unwrap();
        let declared = Declared {
            schedule,
            max_runtime: Some(Duration::from_secs(3610)),
            healthchecks: None,
            cronitor: None,
        };
        let mut s = Sentry::new("https://k@o1.ingest.sentry.io/4?monitor=m&max_runtime=5").unwrap();
        s.declare(Some(&declared), &mut Vec::new()).unwrap();
        assert_eq!(
            s.monitor_config.unwrap(),
            json!({
                "schedule": {"type": "crontab", "value": "0 0 * * *"},
                "timezone": "Europe/Berlin",
                "checkin_margin": 6,
                "max_runtime": 5,
            })
        );
        let mut s = Sentry::new("https://k@o1.ingest.sentry.io/4?monitor=m&schedule=2h").unwrap();
        s.declare(Some(&declared), &mut Vec::new()).unwrap();
        assert_eq!(
            s.monitor_config.unwrap()["schedule"],
            json!({"type": "interval", "value": 2, "unit": "hour"})
        );
        assert_eq!(minutes(Duration::from_secs(60)), 1);
        assert_eq!(minutes(Duration::from_millis(60_001)), 2);
    }
}
