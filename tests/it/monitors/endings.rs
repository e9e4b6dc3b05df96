//! What every kind of monitor is told for every way a run ends: one table of service × ending, each
//! cell the word the service hears at the finish (a path, a state, a status, an outcome), checked
//! against the whole exchange that service's protocol makes. Each ending is one run reporting to every
//! service at once, each on a server (or textfile) of its own; a failing cell names its service and
//! ending.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// The ways a run ends, each printing `run <CRONBEAT_RUN_ID>` first, then [`Ending::output`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Success,
    Failure,
    Overrun,
    Signal,
    /// Exit 0, failed by `--min-runtime`.
    FailedByRule,
    /// Exit 3, listed in `--success-codes`.
    SuccessCode,
    /// cronbeat itself asked to stop (SIGTERM).
    Terminated,
    /// No output within `--idle-timeout`.
    Idle,
}

/// In the order of the table's columns.
pub const ENDINGS: [Ending; 8] = [
    Ending::Success,
    Ending::Failure,
    Ending::Overrun,
    Ending::Signal,
    Ending::FailedByRule,
    Ending::SuccessCode,
    Ending::Terminated,
    Ending::Idle,
];

impl Ending {
    /// cronbeat's options and command for this ending, after the `--ping` options.
    pub fn args(self) -> Vec<String> {
        let (options, rest): (&[&str], &str) = match self {
            Ending::Success => (&[], "echo all good"),
            Ending::Failure => (&[], "echo broken; exit 3"),
            Ending::Overrun => (&["--timeout", "500ms"], "exec sleep 30"),
            Ending::Signal => (&[], "kill -KILL $$"),
            Ending::FailedByRule => (&["--min-runtime", "5s"], "echo done"),
            Ending::SuccessCode => (&["--success-codes", "0,3"], "echo partial; exit 3"),
            Ending::Terminated => (&["--kill-after", "2s"], "echo ready; exec sleep 20"),
            Ending::Idle => (
                &["--idle-timeout", "300ms", "--kill-after", "2s"],
                "echo hi; exec sleep 20",
            ),
        };
        let script = format!("echo \"run $CRONBEAT_RUN_ID\"; {rest}");
        ["--ping-timeout", "5s"]
            .iter()
            .chain(options)
            .map(|s| s.to_string())
            .chain(["--", "sh", "-c"].map(String::from))
            .chain([script])
            .collect()
    }

    /// What the command prints after its `run` line.
    pub fn output(self) -> &'static str {
        match self {
            Ending::Success => "all good\n",
            Ending::Failure => "broken\n",
            Ending::Overrun | Ending::Signal => "",
            Ending::FailedByRule => "done\n",
            Ending::SuccessCode => "partial\n",
            Ending::Terminated => "ready\n",
            Ending::Idle => "hi\n",
        }
    }

    /// The exit status cronbeat reports.
    pub fn code(self) -> i32 {
        match self {
            Ending::Success | Ending::FailedByRule => 0,
            Ending::Failure | Ending::SuccessCode => 3,
            Ending::Overrun => 124,
            Ending::Signal => 137,
            Ending::Terminated => 143,
            Ending::Idle => 125,
        }
    }

    /// The last line of what a monitor is told, after the output.
    fn last_line(self) -> Message {
        match self {
            Ending::Success => Message::Is("all good"),
            Ending::Failure => Message::Is("broken"),
            Ending::Overrun => {
                Message::Is("cronbeat: timed out after 500ms and was stopped (killed by SIGTERM)")
            }
            Ending::Signal => Message::Is("cronbeat: killed by SIGKILL"),
            Ending::FailedByRule => Message::StartsWith("cronbeat: finished too quickly"),
            Ending::SuccessCode => Message::Is("cronbeat: exited with status 3, a success code"),
            Ending::Terminated => Message::Is("cronbeat: terminated by SIGTERM"),
            Ending::Idle => Message::StartsWith("cronbeat: no output for 300ms"),
        }
    }

    /// The least duration a monitor may be told, in seconds.
    fn least_duration(self) -> f64 {
        match self {
            Ending::Overrun => 0.5,
            Ending::Idle => 0.3,
            _ => 0.0,
        }
    }

    /// Runs this ending with the given monitors; asserts the exit status.
    pub fn run(self, pings: &[String]) -> Output {
        let launch = cronbeat()
            .args(pings.iter().flat_map(|p| ["--ping", p.as_str()]))
            .args(self.args());
        let out = if self == Ending::Terminated {
            let mut running = launch.spawn();
            running.wait_stdout("ready", Duration::from_secs(10));
            running.signal(libc::SIGTERM);
            running.wait()
        } else {
            launch.run()
        };
        assert_eq!(out.status.code(), Some(self.code()), "{self}: {out:?}");
        out
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ending::Success => "success",
            Ending::Failure => "failure",
            Ending::Overrun => "overrun",
            Ending::Signal => "signal",
            Ending::FailedByRule => "failed by a rule",
            Ending::SuccessCode => "success code",
            Ending::Terminated => "terminated",
            Ending::Idle => "idle",
        })
    }
}

/// The host name cronbeat reports.
pub fn host_name() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Healthchecks,
    Cronitor,
    Sentry,
    BetterStack,
    DeadMansSnitch,
    Cronhub,
    Pushgateway,
    Textfile,
    Webhook,
}

/// What a service is told at the finish.
enum Told {
    /// Healthchecks: the last path segment. Cronitor: `state`. Sentry: `status`. Better Stack: what
    /// follows the heartbeat URL. Dead Man's Snitch: `s`. Cronhub: the first path segment.
    /// Pushgateway and textfile: the outcome that is 1.
    Word(&'static str),
    /// The webhook's finish document.
    Event {
        event: &'static str,
        outcome: &'static str,
        signal: Option<&'static str>,
        message: Message,
    },
}

/// A message given exactly, or only its start where it holds a measured time.
enum Message {
    Is(&'static str),
    StartsWith(&'static str),
}

impl Message {
    #[track_caller]
    fn assert_matches(&self, said: &str) {
        match self {
            Message::Is(text) => assert_eq!(said, *text),
            Message::StartsWith(text) => assert!(said.starts_with(text), "{said:?} is not {text}…"),
        }
    }
}

const fn w(word: &'static str) -> Told {
    Told::Word(word)
}

const fn event(
    event: &'static str,
    outcome: &'static str,
    signal: Option<&'static str>,
    message: Message,
) -> Told {
    Told::Event {
        event,
        outcome,
        signal,
        message,
    }
}

/// The table. Columns, as [`ENDINGS`]: success, failure (exit 3), overrun (`--timeout`), killed by a
/// signal, failed by a rule (exit 0), a success code (exit 3), terminated (SIGTERM), idle.
#[rustfmt::skip]
const TABLE: [(Service, [Told; 8]); 9] = {
    use Message::*;
    use Service::*;
    const TERM: Option<&str> = Some("SIGTERM");
    [
        //                 success        failure       overrun       signal       by a rule     success code   terminated       idle
        (Healthchecks,    [w("0"),        w("3"),       w("fail"),    w("fail"),   w("fail"),    w("0"),        w("log"),        w("fail")]),
        (Cronitor,        [w("complete"), w("fail"),    w("fail"),    w("fail"),   w("fail"),    w("complete"), w("fail"),       w("fail")]),
        (Sentry,          [w("ok"),       w("error"),   w("error"),   w("error"),  w("error"),   w("ok"),       w("error"),      w("error")]),
        (BetterStack,     [w(""),         w("/3"),      w("/fail"),   w("/fail"),  w("/fail"),   w(""),         w("/fail"),      w("/fail")]),
        (DeadMansSnitch,  [w("0"),        w("3"),       w("124"),     w("137"),    w("1"),       w("0"),        w("143"),        w("125")]),
        (Cronhub,         [w("finish"),   w("fail"),    w("fail"),    w("fail"),   w("fail"),    w("finish"),   w("fail"),       w("fail")]),
        (Pushgateway,     [w("success"),  w("failure"), w("timeout"), w("signal"), w("failure"), w("success"),  w("terminated"), w("idle")]),
        (Textfile,        [w("success"),  w("failure"), w("timeout"), w("signal"), w("failure"), w("success"),  w("terminated"), w("idle")]),
        (Webhook, [
            event("success", "success",    None,            Is("exited with status 0")),
            event("failure", "failure",    None,            Is("exited with status 3")),
            event("failure", "timeout",    TERM,            Is("timed out after 500ms and was stopped (killed by SIGTERM)")),
            event("failure", "signal",     Some("SIGKILL"), Is("killed by SIGKILL")),
            event("failure", "failure",    None,            StartsWith("finished too quickly")),
            event("success", "success",    None,            Is("exited with status 3, a success code")),
            event("failure", "terminated", TERM,            Is("terminated by SIGTERM")),
            event("failure", "idle",       TERM,            StartsWith("no output for 300ms")),
        ]),
    ]
};

#[test]
fn success() {
    every_service_is_told(Ending::Success);
}

#[test]
fn failure() {
    every_service_is_told(Ending::Failure);
}

#[test]
fn overrun() {
    every_service_is_told(Ending::Overrun);
}

#[test]
fn signal() {
    every_service_is_told(Ending::Signal);
}

#[test]
fn failed_by_a_rule() {
    every_service_is_told(Ending::FailedByRule);
}

#[test]
fn a_success_code() {
    every_service_is_told(Ending::SuccessCode);
}

#[test]
fn terminated() {
    every_service_is_told(Ending::Terminated);
}

#[test]
fn idle() {
    every_service_is_told(Ending::Idle);
}

/// One server per service, and a directory for the textfile.
struct Monitors {
    servers: Vec<(Service, Server)>,
    dir: Dir,
}

const UUID: &str = "8d2ae4b6-3c8a-4a4b-9a51-0f6e5b1c2d3e";

impl Monitors {
    fn start() -> Monitors {
        let servers = TABLE
            .iter()
            .map(|(service, _)| *service)
            .filter(|s| *s != Service::Textfile)
            .map(|s| (s, Server::start()))
            .collect();
        Monitors {
            servers,
            dir: Dir::new(),
        }
    }

    fn server(&self, service: Service) -> &Server {
        &self.servers.iter().find(|(s, _)| *s == service).unwrap().1
    }

    fn textfile(&self) -> PathBuf {
        self.dir.join("backup.prom")
    }

    fn ping(&self, service: Service) -> String {
        if service == Service::Textfile {
            return format!("textfile:{}", self.textfile().display());
        }
        let server = self.server(service);
        let url = server.url();
        let port = server.port();
        match service {
            Service::Healthchecks => format!("{url}/ping/KEY/nightly?create=1"),
            Service::Cronitor => format!("cronitor+{url}/p/KEY123/nightly-backup?env=staging"),
            Service::Sentry => format!(
                "sentry+http://PUBKEY@127.0.0.1:{port}/42?monitor=nightly-backup&environment=staging"
            ),
            Service::BetterStack => format!("betterstack+{url}/api/v1/heartbeat/TOKEN123"),
            Service::DeadMansSnitch => format!("dms+{url}/c2354d53d2"),
            Service::Cronhub => format!("cronhub+{url}/ping/{UUID}"),
            Service::Pushgateway => format!("pushgateway+{url}/?job=backup&instance=db1"),
            Service::Webhook => format!("webhook+{url}/hooks/cron?team=ops"),
            Service::Textfile => unreachable!(),
        }
    }
}

/// One run of `ending` reporting to every service; then every cell of its column is checked, and the
/// test fails naming each service and ending whose check failed.
fn every_service_is_told(ending: Ending) {
    let column = ENDINGS.iter().position(|e| *e == ending).unwrap();
    let monitors = Monitors::start();
    let pings: Vec<String> = TABLE.iter().map(|(s, _)| monitors.ping(*s)).collect();
    let run = ending.run(&pings);
    let seen = Seen {
        ending,
        rid: run.run_id(),
        monitors: &monitors,
    };
    let failures: Vec<String> = TABLE
        .iter()
        .filter_map(|(service, told)| {
            let checked =
                panic::catch_unwind(AssertUnwindSafe(|| seen.check(*service, &told[column])));
            checked.err().map(|e| {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{service:?} × {ending}: {why}")
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}\n{run:?}", failures.join("\n\n"));
}

/// What one run left with the monitors.
struct Seen<'a> {
    ending: Ending,
    rid: String,
    monitors: &'a Monitors,
}

impl Seen<'_> {
    fn check(&self, service: Service, told: &Told) {
        match (service, told) {
            (Service::Webhook, Told::Event { .. }) => self.webhook(told),
            (Service::Textfile, Told::Word(word)) => self.textfile(word),
            (_, Told::Word(word)) => {
                let requests = self.monitors.server(service).received();
                match service {
                    Service::Healthchecks => self.healthchecks(requests, word),
                    Service::Cronitor => self.cronitor(requests, word),
                    Service::Sentry => self.sentry(requests, word),
                    Service::BetterStack => self.betterstack(requests, word),
                    Service::DeadMansSnitch => self.dms(requests, word),
                    Service::Cronhub => cronhub(requests, word),
                    Service::Pushgateway => self.pushgateway(requests, word),
                    Service::Textfile | Service::Webhook => unreachable!(),
                }
            }
            _ => panic!("{service:?} has no such cell"),
        }
    }

    /// The output tail a service is told: the command's output from the start, cronbeat's closing
    /// line last.
    fn assert_tail(&self, tail: &str) {
        let tail = &without_cost(tail);
        let head = format!("run {}\n{}", self.rid, self.ending.output());
        assert!(
            tail.starts_with(&head),
            "{tail:?} does not start with {head:?}"
        );
        let last = tail.trim_end().lines().last().unwrap_or_default();
        self.ending.last_line().assert_matches(last);
        assert!(tail.ends_with('\n'), "{tail:?}");
    }

    fn assert_duration(&self, duration: f64) {
        let least = self.ending.least_duration();
        assert!((least..20.0).contains(&duration), "duration {duration}");
    }

    /// `/start`, then `/<code>`, `/fail` or `/log`, all with the run id as `rid`; the tail as the body.
    fn healthchecks(&self, requests: Vec<Request>, last: &str) {
        assert_eq!(requests.len(), 2, "{requests:#?}");
        let params = vec![
            ("create".to_string(), "1".to_string()),
            ("rid".to_string(), self.rid.clone()),
        ];
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].path, "/ping/KEY/nightly/start");
        assert_eq!(requests[0].params, params);
        assert!(requests[0].body.is_empty());
        assert_eq!(requests[1].method, "POST");
        assert_eq!(requests[1].path, format!("/ping/KEY/nightly/{last}"));
        assert_eq!(requests[1].params, params);
        self.assert_tail(&requests[1].text());
    }

    /// `state=run` then the state, with the run id as `series`, the host, the exit status, the
    /// duration and the end of the output as `message`; the URL's own query is kept.
    fn cronitor(&self, requests: Vec<Request>, state: &str) {
        let host = host_name();
        let rid = self.rid.as_str();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        let start = &requests[0];
        assert_eq!(start.method, "GET");
        assert_eq!(start.path, "/p/KEY123/nightly-backup");
        let expected: Vec<(String, String)> = [
            ("env", "staging"),
            ("state", "run"),
            ("series", rid),
            ("host", &host),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(start.params, expected);

        let finish = &requests[1];
        assert_eq!(finish.method, "GET");
        assert_eq!(finish.path, "/p/KEY123/nightly-backup");
        assert!(finish.body.is_empty());
        assert_eq!(
            finish.param_names(),
            [
                "env",
                "state",
                "series",
                "host",
                "status_code",
                "duration",
                "message"
            ]
        );
        assert_eq!(finish.param("state"), Some(state));
        assert_eq!(finish.param("series"), Some(rid));
        assert_eq!(finish.param("host"), Some(host.as_str()));
        let code = self.ending.code().to_string();
        assert_eq!(finish.param("status_code"), Some(code.as_str()));
        self.assert_duration(finish.param("duration").unwrap().parse().unwrap());
        self.assert_tail(finish.param("message").unwrap());
    }

    /// Two JSON check-ins to `/api/<project>/cron/<slug>/<key>/`, `in_progress` then the status,
    /// sharing the run id as `check_in_id`.
    fn sentry(&self, requests: Vec<Request>, status: &str) {
        assert_eq!(requests.len(), 2, "{requests:#?}");
        for request in &requests {
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/api/42/cron/nightly-backup/PUBKEY/");
            assert!(request.params.is_empty(), "{:?}", request.params);
            assert_eq!(request.header("content-type"), Some("application/json"));
            assert!(request.header("authorization").is_none());
        }
        let rid = &self.rid;
        assert_eq!(
            requests[0].json(),
            json!({"check_in_id": rid, "status": "in_progress", "environment": "staging"})
        );
        let mut finish = requests[1].json();
        let duration = finish
            .as_object_mut()
            .unwrap()
            .remove("duration")
            .and_then(|d| d.as_f64())
            .expect("a duration in seconds");
        self.assert_duration(duration);
        assert_eq!(
            finish,
            json!({"check_in_id": rid, "status": status, "environment": "staging"})
        );
    }

    /// One POST at the finish, to the heartbeat URL with `suffix`, the output as the body; no start.
    fn betterstack(&self, requests: Vec<Request>, suffix: &str) {
        assert_eq!(requests.len(), 1, "{requests:#?}");
        let finish = &requests[0];
        assert_eq!(finish.method, "POST");
        assert_eq!(finish.path, format!("/api/v1/heartbeat/TOKEN123{suffix}"));
        assert!(finish.params.is_empty());
        self.assert_tail(&finish.text());
        assert_eq!(
            finish.header("content-length"),
            Some(finish.body.len().to_string().as_str())
        );
    }

    /// One check-in at the finish, `GET /<token>?s=<status>&m=<message>`.
    fn dms(&self, requests: Vec<Request>, status: &str) {
        assert_eq!(requests.len(), 1, "{requests:#?}");
        let checkin = &requests[0];
        assert_eq!(checkin.method, "GET");
        assert_eq!(checkin.path, "/c2354d53d2");
        assert!(checkin.body.is_empty());
        assert_eq!(checkin.param_names(), ["s", "m"]);
        assert_eq!(checkin.param("s"), Some(status));
        self.assert_tail(checkin.param("m").unwrap());
    }

    /// Metrics POSTed to the grouping key (a PUT would erase the last success): the last start, then
    /// the whole set.
    fn pushgateway(&self, requests: Vec<Request>, outcome: &str) {
        assert_eq!(requests.len(), 2, "{requests:#?}");
        for request in &requests {
            assert_eq!(request.method, "POST", "a PUT would erase the last success");
            assert_eq!(request.path, "/metrics/job/backup/instance/db1");
            assert!(request.params.is_empty());
            assert_eq!(
                request.header("content-type"),
                Some("text/plain; version=0.0.4")
            );
        }
        let start = requests[0].text();
        assert_eq!(gauges(&start), ["cronbeat_last_start_timestamp_seconds"]);
        self.assert_metrics(&requests[1].text(), outcome);
    }

    /// The node_exporter textfile after the run: the whole set.
    fn textfile(&self, outcome: &str) {
        let path = self.monitors.textfile();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.assert_metrics(&text, outcome);
    }

    /// Every gauge (the last success only after a success), the exit status, and every outcome word
    /// listed, `outcome` alone 1, so an alert on any of them can test for 0.
    fn assert_metrics(&self, metrics: &str, outcome: &str) {
        let succeeded = outcome == "success";
        let expected: Vec<&str> = METRICS
            .iter()
            .copied()
            .filter(|m| succeeded || !m.contains("success"))
            .collect();
        assert_eq!(gauges(metrics), expected, "{metrics}");
        assert_eq!(
            value(metrics, "cronbeat_exit_status", None),
            Some(f64::from(self.ending.code())),
            "{metrics}"
        );
        for word in METRIC_OUTCOMES {
            let expected = if word == outcome { 1.0 } else { 0.0 };
            assert_eq!(
                value(metrics, "cronbeat_outcome", Some(word)),
                Some(expected),
                "outcome {word}: {metrics}"
            );
        }
        let value = |name| value(metrics, name, None).unwrap();
        let start = value("cronbeat_last_start_timestamp_seconds");
        let completion = value("cronbeat_last_completion_timestamp_seconds");
        let duration = value("cronbeat_duration_seconds");
        assert!((completion - start - duration).abs() < 0.01, "{metrics}");
    }

    /// A JSON document per event, to the URL with its query, start and finish.
    fn webhook(&self, told: &Told) {
        let Told::Event {
            event,
            outcome,
            signal,
            message,
        } = told
        else {
            unreachable!()
        };
        let requests = self.monitors.server(Service::Webhook).received();
        let rid = &self.rid;
        let host = host_name();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        for request in &requests {
            assert_eq!(request.method, "POST");
            assert_eq!(request.path, "/hooks/cron");
            assert_eq!(request.params, [("team".to_string(), "ops".to_string())]);
            assert_eq!(request.header("content-type"), Some("application/json"));
        }
        // Without --name, the program's name and a hash of the command line; no schedule, no tick.
        let name = requests[0].json()["name"].clone();
        assert!(
            name.as_str().is_some_and(|n| n.starts_with("sh-")),
            "{name}"
        );
        assert_eq!(
            requests[0].json(),
            json!({
                "event": "start", "run_id": rid, "job": null, "name": name, "host": host,
                "tick": null, "exit_status": null, "signal": null, "duration": null, "outcome": null,
                "message": null, "output_tail": null, "cost": null,
            })
        );
        let mut finish = requests[1].json();
        let fields = finish.as_object_mut().unwrap();
        let duration = fields.remove("duration").and_then(|d| d.as_f64()).unwrap();
        self.assert_duration(duration);
        // The command's output alone: cronbeat's account of the end is the message.
        let tail = fields.remove("output_tail").unwrap();
        assert_eq!(tail, format!("run {rid}\n{}", self.ending.output()));
        let cost = fields.remove("cost").unwrap();
        assert!(cost["cpu_user_seconds"].as_f64().is_some(), "{cost}");
        let said = fields.remove("message").unwrap();
        let said = said.as_str().unwrap();
        message.assert_matches(said);
        assert_eq!(
            finish,
            json!({
                "event": event, "run_id": rid, "job": null, "name": name, "host": host, "tick": null,
                "exit_status": self.ending.code(), "signal": signal.map_or(Value::Null, Value::from),
                "outcome": outcome,
            })
        );
    }
}

/// `GET /start/<uuid>` then `/<word>/<uuid>`, from a `/ping/<uuid>` URL.
fn cronhub(requests: Vec<Request>, word: &str) {
    let seen: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let start = format!("/start/{UUID}");
    let finish = format!("/{word}/{UUID}");
    assert_eq!(seen, [("GET", start.as_str()), ("GET", finish.as_str())]);
    assert!(requests
        .iter()
        .all(|r| r.params.is_empty() && r.body.is_empty()));
}

/// Every gauge cronbeat writes at the finish, in order.
pub const METRICS: [&str; 6] = [
    "cronbeat_last_start_timestamp_seconds",
    "cronbeat_last_success_timestamp_seconds",
    "cronbeat_last_completion_timestamp_seconds",
    "cronbeat_duration_seconds",
    "cronbeat_exit_status",
    "cronbeat_outcome",
];

/// The metric names that have a `# TYPE … gauge` line.
pub fn gauges(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" gauge"))
        .map(str::to_string)
        .collect()
}

/// The value of the sample of metric `name` (whatever its labels), with `outcome="WORD"` among them
/// when given.
fn value(text: &str, name: &str, outcome: Option<&str>) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(key, _)| {
            let metric = key.split('{').next().unwrap_or_default();
            metric == name && outcome.map_or(true, |o| key.contains(&format!("outcome=\"{o}\"")))
        })
        .and_then(|(_, v)| v.parse().ok())
}
