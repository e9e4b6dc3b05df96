//! Keepalives under the run policies, as each kind of monitor is told them: where the service has a
//! progress state, and nothing where it has none. One run reports to every kind at once, all on the
//! test's own server (and a textfile in a temporary directory). What each is told at the finish, for
//! each way a run ends, is the table in `monitors::endings`.

use std::path::PathBuf;

use crate::harness::*;

use serde_json::Value;

/// Every kind of monitor, on one server, each under its own path.
struct Monitors {
    server: Server,
    _dir: tempfile::TempDir,
    textfile: PathBuf,
}

const CRONITOR: &str = "/p/KEY/nightly";
const SENTRY: &str = "/api/42/cron/nightly/KEY/";
const BETTERSTACK: &str = "/beat";
const DMS: &str = "/snitch";
const CRONHUB_ID: &str = "/5b1c8f1e";
const PUSHGATEWAY: &str = "/metrics/job/nightly";
const WEBHOOK: &str = "/hook";

impl Monitors {
    fn new() -> Monitors {
        let dir = tempfile::tempdir().unwrap();
        Monitors {
            server: Server::start(),
            textfile: dir.path().join("nightly.prom"),
            _dir: dir,
        }
    }

    /// `--ping` options for every kind.
    fn args(&self) -> Vec<String> {
        let url = self.server.url();
        let keyed = url.replacen("http://", "http://KEY@", 1);
        let pings = [
            format!("cronitor+{url}{CRONITOR}"),
            format!("sentry+{keyed}/42?monitor=nightly"),
            format!("betterstack+{url}{BETTERSTACK}"),
            format!("dms+{url}{DMS}"),
            format!("cronhub+{url}/ping{CRONHUB_ID}"),
            format!("pushgateway+{url}/?job=nightly"),
            format!("textfile:{}", self.textfile.display()),
            format!("webhook+{url}{WEBHOOK}"),
        ];
        pings
            .into_iter()
            .flat_map(|p| ["--ping".to_string(), p])
            .collect()
    }

    /// The requests to one service, in arrival order (cronbeat waits for every ping before it exits,
    /// and the server records a request before answering it, so after a run this is complete).
    fn to(&self, service: &str) -> Vec<Request> {
        let requests = self.server.requests();
        requests
            .into_iter()
            .filter(|r| match service {
                "cronhub" => r.path.ends_with(CRONHUB_ID),
                BETTERSTACK => r.path.starts_with(BETTERSTACK),
                path => r.path == path,
            })
            .collect()
    }

    /// The one finish request to a service that gets nothing before it.
    fn only(&self, service: &str) -> Request {
        let requests = self.to(service);
        assert_eq!(requests.len(), 1, "{service}: {requests:#?}");
        requests.into_iter().next().unwrap()
    }

    fn last(&self, service: &str) -> Request {
        let requests = self.to(service);
        requests
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("nothing sent to {service}"))
    }

    /// The Sentry check-in statuses, in order.
    fn sentry_statuses(&self) -> Vec<String> {
        self.to(SENTRY)
            .iter()
            .map(|r| json(r)["status"].as_str().unwrap().to_string())
            .collect()
    }

    /// The metrics of the last push and of the textfile.
    fn metrics(&self) -> [String; 2] {
        let pushed = self.last(PUSHGATEWAY).text();
        let file = std::fs::read_to_string(&self.textfile).expect("the textfile");
        [pushed, file]
    }
}

fn json(request: &Request) -> Value {
    serde_json::from_slice(&request.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", request.text()))
}

fn cronitor_state(request: &Request) -> Option<&str> {
    request.param("state")
}

/// The value of `cronbeat_outcome{…outcome="WORD"}`, and which words are 1.
fn outcomes(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("cronbeat_outcome{") && l.ends_with(" 1"))
        .filter_map(|l| l.split_once("outcome=\"").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('"').map(|(word, _)| word.to_string()))
        .collect()
}

fn sample(metrics: &str, name: &str) -> Option<String> {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit_once(' '))
        .map(|(_, value)| value.to_string())
}

/// Every outcome word is listed (0 or 1), so an alert on any of them can test for 0.
fn assert_metrics(metrics: &str, word: &str, exit_status: &str, last_success: bool) {
    assert_eq!(outcomes(metrics), [word], "{metrics}");
    for listed in METRIC_OUTCOMES {
        assert!(
            metrics.contains(&format!("outcome=\"{listed}\"}}")),
            "{listed} is missing: {metrics}"
        );
    }
    assert_eq!(
        sample(metrics, "cronbeat_exit_status").as_deref(),
        Some(exit_status),
        "{metrics}"
    );
    assert_eq!(
        sample(metrics, "cronbeat_last_success_timestamp_seconds").is_some(),
        last_success,
        "{metrics}"
    );
}

fn run_all(monitors: &Monitors, args: &[&str]) -> Output {
    cronbeat().args(monitors.args()).args(args).run()
}

#[test]
fn cronitor_keepalives_are_ticks_in_the_runs_series() {
    let monitors = Monitors::new();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("cronitor+{}{CRONITOR}", monitors.server.url()),
        ])
        .args(["--keepalive", "300ms", "--", "sleep", "1.2"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let requests = monitors.to(CRONITOR);
    let states: Vec<Option<&str>> = requests.iter().map(cronitor_state).collect();
    assert_eq!(states.first(), Some(&Some("run")), "{states:?}");
    assert_eq!(states.last(), Some(&Some("complete")), "{states:?}");
    let ticks = &requests[1..requests.len() - 1];
    // 1.2 s at one every 0.3 s: three or four, with room for a slow machine.
    assert!((2..=4).contains(&ticks.len()), "{states:?}");
    let series = requests[0].param("series").unwrap();
    for tick in ticks {
        assert_eq!(cronitor_state(tick), None, "a tick has no state");
        assert_eq!(tick.param("series"), Some(series));
        assert!(tick.param("host").is_some_and(|h| !h.is_empty()));
        let message = tick.param("message").unwrap_or_default();
        assert!(message.starts_with("still running after "), "{message:?}");
        assert_eq!(tick.param("status_code"), None);
    }
}

#[test]
fn services_without_a_progress_state_get_no_keepalives() {
    let monitors = Monitors::new();
    let out = run_all(&monitors, &["--keepalive", "200ms", "--", "sleep", "1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);

    assert_eq!(monitors.only(BETTERSTACK).path, BETTERSTACK);
    assert_eq!(monitors.only(DMS).param("s"), Some("0"));
    let cronhub: Vec<String> = monitors.to("cronhub").into_iter().map(|r| r.path).collect();
    assert_eq!(
        cronhub,
        [
            format!("/start{CRONHUB_ID}"),
            format!("/finish{CRONHUB_ID}")
        ]
    );
    assert_eq!(monitors.to(PUSHGATEWAY).len(), 2, "the start and the end");
    for metrics in monitors.metrics() {
        assert_metrics(&metrics, "success", "0", true);
    }

    // The services with a progress state did get keepalives in the same run.
    let cronitor_ticks = monitors
        .to(CRONITOR)
        .iter()
        .filter(|r| cronitor_state(r).is_none())
        .count();
    assert!(cronitor_ticks >= 2, "{cronitor_ticks}");
    let sentry = monitors.sentry_statuses();
    assert!(sentry.len() >= 4, "{sentry:?}");
    let events: Vec<String> = monitors
        .to(WEBHOOK)
        .iter()
        .map(|r| json(r)["event"].as_str().unwrap().to_string())
        .collect();
    assert!(
        events.iter().filter(|e| *e == "progress").count() >= 2,
        "{events:?}"
    );
    let progress = monitors
        .to(WEBHOOK)
        .iter()
        .map(json)
        .find(|b| b["event"] == "progress")
        .unwrap();
    assert!(progress["duration"].as_f64().unwrap() > 0.1, "{progress}");
    assert!(
        progress["message"]
            .as_str()
            .unwrap()
            .starts_with("still running after "),
        "{progress}"
    );
    assert_eq!(progress["outcome"], Value::Null);
}
