//! Keeping a monitor's schedule, time zone and grace in step with the job's, through the service's
//! management API: read what the monitor holds, compare, write only what differs (or create the monitor
//! when it does not exist). A run does this beside the command, on the delivery thread, as it does the
//! start ping; `cronbeat check --ping` compares, and with `--fix` writes.
//!
//! - Healthchecks (API v3, header `X-Api-Key`): `GET checks/<uuid>`, or for a slug ping URL
//!   `GET checks/?slug=<slug>`; `POST checks/<uuid>` with the fields that differ; a missing slug check is
//!   created with `POST checks/` and `unique: ["slug"]`, so two runs at once cannot make two.
//! - Cronitor (key as Basic auth): `GET monitors/<key>`; `PUT monitors` with `{"monitors": [...]}`,
//!   which creates or updates.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::{json, Map, Value};

use super::delivery::{self, BoundsRx, Failure, GaveUp, HttpRequest, RetryPolicy};
use super::protocol::base64;
use super::redact::redact;
use crate::schedule::Schedule;
use crate::units::Secret;

/// What a job declares about when it runs, for the monitors that can hold it.
#[derive(Debug, Clone)]
pub struct Declared {
    pub schedule: Schedule,
    /// How long a run may last before it is stopped: `--timeout` + `--kill-after`.
    pub max_runtime: Option<Duration>,
    pub healthchecks: Option<ApiAccess>,
    pub cronitor: Option<ApiAccess>,
}

/// A management API's key, and its address when given (else the monitor derives it).
#[derive(Debug, Clone)]
pub struct ApiAccess {
    pub key: Secret,
    pub url: Option<Url>,
}

/// A Healthchecks check, as its ping URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HcCheck {
    Uuid(String),
    Slug(String),
}

#[derive(Debug, Clone)]
pub enum Service {
    Healthchecks(HcCheck),
    /// The monitor's key.
    Cronitor(String),
}

/// What the monitor should hold, as the service counts it.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub schedule: Schedule,
    pub tz: String,
    /// Whole seconds, within the service's bounds.
    pub grace: u64,
    /// Set when the service's bounds changed the job's grace: the job's own value.
    pub grace_adjusted_from: Option<Duration>,
}

impl Wanted {
    /// The job's values, the grace in whole seconds (rounded up) within `min..=max`.
    pub fn of(schedule: &Schedule, min: u64, max: u64) -> Wanted {
        let exact = schedule.grace.as_secs() + u64::from(schedule.grace.subsec_nanos() > 0);
        let grace = exact.clamp(min, max);
        Wanted {
            schedule: schedule.clone(),
            tz: schedule.tz.name().to_string(),
            grace,
            grace_adjusted_from: (grace != exact).then_some(schedule.grace),
        }
    }

    /// What the run says when the service's bounds changed the grace it holds.
    pub fn adjustment(&self, service: &str) -> Option<String> {
        let given = self.grace_adjusted_from?;
        let held = humantime::format_duration(Duration::from_secs(self.grace));
        let bound = if Duration::from_secs(self.grace) > given {
            "the least"
        } else {
            "the most"
        };
        Some(format!(
            "grace {} held as {held}, {bound} {service} takes",
            humantime::format_duration(given)
        ))
    }
}

/// One monitor's conversation with its service.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub service: Service,
    /// The API's base, ending in `/`.
    pub api: Url,
    pub key: Secret,
    pub wanted: Wanted,
}

impl SyncPlan {
    /// The service, as its documentation calls it.
    pub fn service_name(&self) -> &'static str {
        match self.service {
            Service::Healthchecks(_) => "Healthchecks",
            Service::Cronitor(_) => "Cronitor",
        }
    }

    fn url(&self, path: &str) -> Url {
        // The base ends in `/` and `path` holds no `..`: this only appends.
        self.api.join(path).unwrap_or_else(|_| self.api.clone())
    }

    fn request(&self, method: Method, url: Url, body: Option<Value>) -> HttpRequest {
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let secret = match self.service {
            Service::Healthchecks(_) => (
                HeaderName::from_static("x-api-key"),
                self.key.expose().to_string(),
            ),
            Service::Cronitor(_) => (
                AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64(format!("{}:", self.key.expose()).as_bytes(), false)
                ),
            ),
        };
        // The key was checked when the job was resolved; an unusable one sends no header at all.
        if let Ok(mut value) = HeaderValue::from_str(&secret.1) {
            value.set_sensitive(true);
            headers.push((secret.0, value));
        }
        let body = match body {
            Some(body) => {
                headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        HttpRequest {
            method,
            url: url.to_string(),
            headers,
            body,
            keep_body: true,
        }
    }
}

/// One value the monitor holds that is not the job's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: &'static str,
    /// As the monitor holds it, for people.
    pub held: String,
    /// As the job has it.
    pub wanted: String,
}

impl Difference {
    /// What writing it changed.
    pub fn written(&self) -> String {
        format!("{} was {}, now {}", self.field, self.held, self.wanted)
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, the job's is {}",
            self.field, self.held, self.wanted
        )
    }
}

/// What the monitor holds, compared with the job.
#[derive(Debug, Clone)]
pub enum Found {
    InStep,
    /// Where to write, and what differs.
    Differs {
        differences: Vec<Difference>,
        target: Option<Url>,
        /// Cronitor's monitor type, kept when writing.
        kind: Option<String>,
    },
    /// No such monitor: it is created with the schedule.
    Missing,
}

/// What a sync did.
#[derive(Debug, Clone)]
pub enum Synced {
    InStep,
    Written(Vec<Difference>),
    Created,
}

/// Why a sync did not happen: one line, never holding the key.
#[derive(Debug, Clone)]
pub struct SyncError {
    pub reason: String,
    pub why: GaveUp,
}

/// Reads the monitor and compares it with the job.
pub async fn compare(
    client: &reqwest::Client,
    plan: &SyncPlan,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
) -> Result<Found, SyncError> {
    match &plan.service {
        Service::Healthchecks(HcCheck::Uuid(uuid)) => {
            let url = plan.url(&format!("checks/{uuid}"));
            let check = call(
                client,
                plan,
                plan.request(Method::GET, url.clone(), None),
                policy,
                bounds,
                Some("no such check for this API key (is it the key of the check's project?)"),
            )
            .await?;
            Ok(hc_compare(plan, &check, Some(url)))
        }
        Service::Healthchecks(HcCheck::Slug(slug)) => {
            let mut url = plan.url("checks/");
            url.query_pairs_mut().append_pair("slug", slug);
            let list = call(
                client,
                plan,
                plan.request(Method::GET, url, None),
                policy,
                bounds,
                None,
            )
            .await?;
            let checks = list
                .get("checks")
                .and_then(Value::as_array)
                .ok_or_else(|| unexpected(plan, "no \"checks\" list in the answer"))?;
            match checks.as_slice() {
                [] => Ok(Found::Missing),
                [check] => {
                    let target = hc_uuid(check).map(|uuid| plan.url(&format!("checks/{uuid}")));
                    Ok(hc_compare(plan, check, target))
                }
                more => Err(SyncError {
                    reason: format!(
                        "{} checks have the slug {slug:?}: cannot tell which is this job's",
                        more.len()
                    ),
                    why: GaveUp::Failed,
                }),
            }
        }
        Service::Cronitor(key) => {
            let url = plan.url(&format!("monitors/{key}"));
            let request = plan.request(Method::GET, url, None);
            match delivery::deliver(client, &request, policy, bounds).await {
                Ok(delivered) => {
                    let monitor = json_of(plan, &delivered.response.body)?;
                    Ok(cronitor_compare(plan, &monitor))
                }
                Err(failure) if status_of(&failure) == Some(404) => Ok(Found::Missing),
                Err(failure) => Err(explain(plan, failure, None)),
            }
        }
    }
}

/// Writes what `found` says differs, or creates the monitor.
pub async fn write(
    client: &reqwest::Client,
    plan: &SyncPlan,
    found: Found,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
) -> Result<Synced, SyncError> {
    let wanted = &plan.wanted;
    let fields = |differences: &[Difference], names: [&str; 3]| {
        let mut body = Map::new();
        for difference in differences {
            let (name, value) = match difference.field {
                "schedule" => (names[0], json!(wanted.schedule.expression())),
                "time zone" => (names[1], json!(wanted.tz)),
                _ => (names[2], json!(wanted.grace)),
            };
            body.insert(name.to_string(), value);
        }
        body
    };
    match (&plan.service, found) {
        (_, Found::InStep) => Ok(Synced::InStep),
        (
            Service::Healthchecks(_),
            Found::Differs {
                differences,
                target,
                ..
            },
        ) => {
            let target = target.ok_or_else(|| SyncError {
                reason: "the API key is read-only: the check cannot be updated".into(),
                why: GaveUp::Failed,
            })?;
            let body = fields(&differences, ["schedule", "tz", "grace"]);
            let request = plan.request(Method::POST, target, Some(Value::Object(body)));
            call(client, plan, request, policy, bounds, None).await?;
            Ok(Synced::Written(differences))
        }
        (Service::Healthchecks(check), Found::Missing) => {
            let HcCheck::Slug(slug) = check else {
                return Err(unexpected(plan, "the check is missing"));
            };
            let body = json!({
                "name": slug,
                "slug": slug,
                "schedule": wanted.schedule.expression(),
                "tz": wanted.tz,
                "grace": wanted.grace,
                "unique": ["slug"],
            });
            let request = plan.request(Method::POST, plan.url("checks/"), Some(body));
            call(client, plan, request, policy, bounds, None).await?;
            Ok(Synced::Created)
        }
        (Service::Cronitor(key), found) => {
            let (mut monitor, result) = match found {
                Found::Differs {
                    differences, kind, ..
                } => {
                    let mut monitor =
                        fields(&differences, ["schedule", "timezone", "grace_seconds"]);
                    monitor.insert("type".into(), json!(kind.unwrap_or_else(|| "job".into())));
                    (monitor, Synced::Written(differences))
                }
                _ => {
                    let mut monitor = Map::new();
                    monitor.insert("type".into(), json!("job"));
                    monitor.insert("schedule".into(), json!(wanted.schedule.expression()));
                    monitor.insert("timezone".into(), json!(wanted.tz));
                    monitor.insert("grace_seconds".into(), json!(wanted.grace));
                    (monitor, Synced::Created)
                }
            };
            monitor.insert("key".into(), json!(key));
            let body = json!({ "monitors": [Value::Object(monitor)] });
            let request = plan.request(Method::PUT, plan.url("monitors"), Some(body));
            call(client, plan, request, policy, bounds, None).await?;
            Ok(result)
        }
    }
}

/// Compares, then writes what differs.
pub async fn sync(
    client: &reqwest::Client,
    plan: &SyncPlan,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
) -> Result<Synced, SyncError> {
    let found = compare(client, plan, policy, bounds).await?;
    write(client, plan, found, policy, bounds).await
}

/// One API request whose answer is JSON; `not_found` explains a 404 where it has a meaning.
async fn call(
    client: &reqwest::Client,
    plan: &SyncPlan,
    request: HttpRequest,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
    not_found: Option<&str>,
) -> Result<Value, SyncError> {
    match delivery::deliver(client, &request, policy, bounds).await {
        Ok(delivered) if delivered.response.body.iter().all(u8::is_ascii_whitespace) => {
            Ok(Value::Null)
        }
        Ok(delivered) => json_of(plan, &delivered.response.body),
        Err(failure) => Err(explain(plan, failure, not_found)),
    }
}

fn json_of(plan: &SyncPlan, body: &[u8]) -> Result<Value, SyncError> {
    serde_json::from_slice(body)
        .map_err(|e| unexpected(plan, &format!("the answer is not JSON ({e})")))
}

fn unexpected(plan: &SyncPlan, what: &str) -> SyncError {
    SyncError {
        reason: format!(
            "unexpected answer from the {} API at {}: {what}",
            plan.service_name(),
            redact(plan.api.as_str())
        ),
        why: GaveUp::Failed,
    }
}

fn status_of(failure: &Failure) -> Option<u16> {
    failure.answer.as_ref().map(|a| a.status.as_u16())
}

/// A failed request as one line: what the status means for this API, and the server's own words.
fn explain(plan: &SyncPlan, failure: Failure, not_found: Option<&str>) -> SyncError {
    let Some(answer) = &failure.answer else {
        return SyncError {
            reason: failure.reason,
            why: failure.why,
        };
    };
    let status = answer.status.as_u16();
    let service = plan.service_name();
    let meaning = match status {
        401 => format!("the {service} API key was refused"),
        403 => match plan.service {
            Service::Healthchecks(_) => "the API key may not do this (a read-only key, a key of another project, or the project's check limit)".to_string(),
            Service::Cronitor(_) => "the API key may not do this".to_string(),
        },
        404 => not_found.unwrap_or("not found").to_string(),
        _ => String::new(),
    };
    let said = server_words(&answer.body, plan.key.expose());
    let reason = match (meaning.is_empty(), said.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => format!("HTTP {status}: {meaning}"),
        (true, false) => format!("HTTP {status}: {said}"),
        (false, false) => format!("HTTP {status}: {meaning} ({said})"),
    };
    SyncError {
        reason,
        why: failure.why,
    }
}

/// What an error answer says, on one line and short: Healthchecks' `error`, else the text itself.
/// The key is cut out should a server echo it.
fn server_words(body: &[u8], key: &str) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => match object.get("error").or_else(|| object.get("detail")) {
            Some(Value::String(message)) => message.clone(),
            _ => Value::Object(object).to_string(),
        },
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = if key.is_empty() {
        line
    } else {
        line.replace(key, "…")
    };
    let mut short: String = line.chars().take(200).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// A Healthchecks check's UUID: its `uuid` field (read-write keys), else the end of its `update_url`.
fn hc_uuid(check: &Value) -> Option<String> {
    if let Some(uuid) = check.get("uuid").and_then(Value::as_str) {
        return Some(uuid.to_string());
    }
    let url = check.get("update_url").and_then(Value::as_str)?;
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn hc_compare(plan: &SyncPlan, check: &Value, target: Option<Url>) -> Found {
    let held_schedule = match check.get("schedule").and_then(Value::as_str) {
        Some(schedule) => Held::Text(schedule.to_string()),
        None => match check.get("timeout").and_then(Value::as_u64) {
            Some(period) => Held::Described(format!(
                "none (a simple check with a period of {})",
                humantime::format_duration(Duration::from_secs(period))
            )),
            None => Held::Described("none".into()),
        },
    };
    let held_tz = check.get("tz").and_then(Value::as_str).map(str::to_string);
    let held_grace = check.get("grace").and_then(Value::as_u64);
    let differences = differences(&plan.wanted, held_schedule, held_tz, held_grace);
    match differences.is_empty() {
        true => Found::InStep,
        false => Found::Differs {
            differences,
            target,
            kind: None,
        },
    }
}

fn cronitor_compare(plan: &SyncPlan, monitor: &Value) -> Found {
    let held_schedule = match monitor.get("schedule").and_then(Value::as_str) {
        Some(schedule) => Held::Text(schedule.to_string()),
        None => Held::Described("none".into()),
    };
    let held_tz = monitor
        .get("timezone")
        .and_then(Value::as_str)
        .map(str::to_string);
    let held_grace = monitor.get("grace_seconds").and_then(Value::as_u64);
    let differences = differences(&plan.wanted, held_schedule, held_tz, held_grace);
    match differences.is_empty() {
        true => Found::InStep,
        false => Found::Differs {
            differences,
            target: None,
            kind: monitor
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
    }
}

/// A schedule as a monitor holds it: an expression, or a description of what it holds instead.
enum Held {
    Text(String),
    Described(String),
}

fn differences(
    wanted: &Wanted,
    schedule: Held,
    tz: Option<String>,
    grace: Option<u64>,
) -> Vec<Difference> {
    let mut differences = Vec::new();
    let same_schedule = matches!(&schedule, Held::Text(text) if wanted.schedule.same_times(text));
    if !same_schedule {
        differences.push(Difference {
            field: "schedule",
            held: match schedule {
                Held::Text(text) => format!("{text:?}"),
                Held::Described(text) => text,
            },
            wanted: format!("{:?}", wanted.schedule.expression()),
        });
    }
    if tz.as_deref() != Some(wanted.tz.as_str()) {
        differences.push(Difference {
            field: "time zone",
            held: tz.map_or_else(|| "none".into(), |tz| format!("{tz:?}")),
            wanted: format!("{:?}", wanted.tz),
        });
    }
    if grace != Some(wanted.grace) {
        let shown = |secs: u64| humantime::format_duration(Duration::from_secs(secs)).to_string();
        differences.push(Difference {
            field: "grace",
            held: grace.map_or_else(|| "none".into(), shown),
            wanted: shown(wanted.grace),
        });
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(service: Service) -> SyncPlan {
        let schedule = Schedule::new(
            "15 3 * * *",
            "Europe/Berlin".parse().unwrap(),
            Duration::from_secs(30),
        )
        .unwrap();
        SyncPlan {
            service,
            api: Url::parse("https://healthchecks.io/api/v3/").unwrap(),
            key: Secret::accept("k3y").unwrap(),
            wanted: Wanted::of(&schedule, 60, 31_536_000),
        }
    }

    #[test]
    fn grace_within_the_bounds_and_said_so() {
        let plan = plan(Service::Cronitor("m".into()));
        assert_eq!(plan.wanted.grace, 60);
        assert_eq!(
            plan.wanted.adjustment("Healthchecks").unwrap(),
            "grace 30s held as 1m, the least Healthchecks takes"
        );
    }

    #[test]
    fn only_what_differs() {
        let plan = plan(Service::Healthchecks(HcCheck::Slug("s".into())));
        let check = json!({"schedule": "15 3 * * *", "tz": "Europe/Berlin", "grace": 60});
        assert!(matches!(hc_compare(&plan, &check, None), Found::InStep));
        let check = json!({"timeout": 86400, "tz": "UTC", "grace": 60});
        let Found::Differs { differences, .. } = hc_compare(&plan, &check, None) else {
            panic!("differs");
        };
        let lines: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            lines,
            [
                "schedule is none (a simple check with a period of 1day), the job's is \"15 3 * * *\"",
                "time zone is \"UTC\", the job's is \"Europe/Berlin\"",
            ]
        );
    }

    #[test]
    fn errors_say_what_the_status_means_without_the_key() {
        assert_eq!(
            server_words(
                br#"{"error": "json validation error: grace is too small"}"#,
                "k"
            ),
            "json validation error: grace is too small"
        );
        assert_eq!(
            server_words(b"bad key k3y\n here", "k3y"),
            "bad key \u{2026} here"
        );
        assert_eq!(server_words(&[b'x'; 300], "k").chars().count(), 201);
        assert_eq!(
            hc_uuid(&json!({"update_url": "https://h/api/v3/checks/abc"})).as_deref(),
            Some("abc")
        );
    }
}
