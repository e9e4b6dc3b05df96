//! The one table of monitor kinds: how a `--ping` value names its kind (a prefix, or the service's
//! well-known host), what builds its protocol, and what the documentation calls it. Parsing, `check`
//! and the man page all read this table.

use super::protocol::Protocol;
use super::webhook::WebhookConfig;
use super::{betterstack, cronhub, cronitor, dms, healthchecks, pushgateway, redact, sentry};
use super::{textfile, webhook};
use crate::schedule::Gaps;

type Build = fn(&str, Option<&WebhookConfig>) -> Result<Box<dyn Protocol>, String>;

/// What a service can hold of a job's schedule (for `check --ping` and the documentation).
pub enum Holds {
    /// Nothing: metrics and webhooks carry the run, not the schedule.
    Nothing,
    /// A schedule, time zone and grace kept in step through its API with this option's key.
    Api(&'static str),
    /// A schedule sent with every check-in.
    CheckIns,
    /// Only an interval: the settings to make by hand, given the longest waits between due times and
    /// the grace.
    Interval(fn(Gaps, std::time::Duration) -> String),
}

fn shown(d: std::time::Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

/// Dead Man's Snitch offers fixed intervals, windows of the calendar: the shortest that covers the
/// longest wait as the wall clock counts it.
fn snitch_interval(gaps: Gaps, _grace: std::time::Duration) -> String {
    let period = gaps.wall;
    const INTERVALS: [(&str, u64); 6] = [
        ("15 minutes", 15 * 60),
        ("30 minutes", 30 * 60),
        ("hourly", 3600),
        ("daily", 24 * 3600),
        ("weekly", 7 * 24 * 3600),
        ("monthly", 31 * 24 * 3600),
    ];
    match INTERVALS.iter().find(|(_, secs)| period.as_secs() <= *secs) {
        Some((name, _)) => format!("the snitch's interval {name}"),
        None => format!(
            "none: its longest interval (monthly) is shorter than the {} between due times",
            shown(period)
        ),
    }
}

pub struct Kind {
    /// The name in log lines and `check` output (`Protocol::kind`).
    pub name: &'static str,
    /// The service, as the documentation calls it.
    pub title: &'static str,
    /// The explicit prefix: `KIND+` before a URL, or `textfile:` before a path.
    pub prefix: &'static str,
    /// Well-known hosts that imply the kind; `*` stands for one or more labels.
    pub hosts: &'static [&'static str],
    /// What the service is told, for the documentation.
    pub about: &'static str,
    /// A command line using it, for the documentation (its URL also serves the table's own test).
    pub example: &'static str,
    /// What it holds of the job's schedule.
    pub holds: Holds,
    build: Build,
}

fn boxed<P: Protocol + 'static>(p: Result<P, String>) -> Result<Box<dyn Protocol>, String> {
    p.map(|p| Box::new(p) as Box<dyn Protocol>)
}

/// Every kind; the first is the default for a URL whose host implies none.
pub const KINDS: [Kind; 9] = [
    Kind {
        name: "healthchecks",
        title: "Healthchecks",
        prefix: "hc+",
        hosts: &["hc-ping.com"],
        about: "POST URL/start, then URL/<exit code> or URL/fail (stopped, crashed, not started, or failed by a \
                success rule), each with ?rid=<run id>; the body is the output tail, then the line saying what \
                happened; cut to the server's Ping-Body-Limit at the front, behind a line counting the bytes \
                cut. Keepalives are URL/start again with the same rid (only a start keeps a \
                started check up), and the finish then gives the run's duration; terminated runs are URL/log \
                notes. With --schedule and --hc-api-key, the check's schedule, tz and grace are kept in step \
                through the Management API.",
        example: "cronbeat --ping https://hc-ping.com/UUID -- sync.sh",
        holds: Holds::Api("--hc-api-key"),
        build: |url, _| boxed(healthchecks::Healthchecks::new(url)),
    },
    Kind {
        name: "cronitor",
        title: "Cronitor",
        prefix: "cronitor+",
        hosts: &["cronitor.link"],
        about: "Telemetry state=run, then complete or fail, with series (the run id), host, status_code, duration \
                and the last 2000 characters of output as message; env from the URL's env= parameter. Keepalives \
                are ticks: no state, a message. With --schedule and --cronitor-api-key, the monitor's schedule, \
                timezone and grace_seconds are kept in step through the monitors API.",
        example: "cronbeat --ping 'https://cronitor.link/p/KEY/backup?env=prod' -- backup.sh",
        holds: Holds::Api("--cronitor-api-key"),
        build: |url, _| boxed(cronitor::Cronitor::new(url)),
    },
    Kind {
        name: "sentry",
        title: "Sentry Crons",
        prefix: "sentry+",
        hosts: &["*.ingest.sentry.io", "*.ingest.*.sentry.io"],
        about: "The project DSN plus ?monitor=SLUG: check-ins in_progress, then ok or error with duration, the run \
                id as check_in_id; keepalives repeat in_progress with that id. With --schedule, monitor_config \
                (schedule, timezone, checkin_margin, max_runtime) creates or updates the monitor; the DSN's \
                schedule=, checkin_margin=, max_runtime=, timezone= win.",
        example: "cronbeat --ping 'https://KEY@o1.ingest.sentry.io/42?monitor=backup' -- backup.sh",
        holds: Holds::CheckIns,
        build: |url, _| boxed(sentry::Sentry::new(url)),
    },
    Kind {
        name: "betterstack",
        title: "Better Stack",
        prefix: "betterstack+",
        hosts: &["uptime.betterstack.com"],
        about: "One POST at the end: the heartbeat URL on success, URL/<exit code> on a failing exit, else URL/fail; \
                the output tail as body.",
        example: "cronbeat --ping https://uptime.betterstack.com/api/v1/heartbeat/TOKEN -- backup.sh",
        holds: Holds::Interval(|gaps, grace| {
            format!(
                "the heartbeat's period {} and grace {}",
                shown(gaps.elapsed),
                shown(grace)
            )
        }),
        build: |url, _| boxed(betterstack::BetterStack::new(url)),
    },
    Kind {
        name: "dms",
        title: "Dead Man's Snitch",
        prefix: "dms+",
        hosts: &["nosnch.in"],
        about: "One check-in at the end with s=<exit status> (0 for any success, 1 when a success rule failed an \
                exit 0) and m=<last 1000 characters of output>.",
        example: "cronbeat --ping https://nosnch.in/TOKEN -- backup.sh",
        holds: Holds::Interval(snitch_interval),
        build: |url, _| boxed(dms::DeadMansSnitch::new(url)),
    },
    Kind {
        name: "cronhub",
        title: "Cronhub",
        prefix: "cronhub+",
        hosts: &["cronhub.io"],
        about: "/start/UUID, then /finish/UUID or /fail/UUID.",
        example: "cronbeat --ping https://cronhub.io/ping/UUID -- backup.sh",
        holds: Holds::Interval(|gaps, grace| {
            format!(
                "the monitor's interval {} and grace {}",
                shown(gaps.elapsed),
                shown(grace)
            )
        }),
        build: |url, _| boxed(cronhub::Cronhub::new(url)),
    },
    Kind {
        name: "pushgateway",
        title: "Prometheus Pushgateway",
        prefix: "pushgateway+",
        hosts: &[],
        about: "POST to /metrics/job/JOB[/instance/I]: last start, last completion, duration, exit status, outcome \
                (success, failure, timeout, idle, terminated, lock_lost, oom, signal, not_started), and the last \
                success only after a success (a failure leaves it in place).",
        example: "cronbeat --ping 'pushgateway+http://pgw:9091/?job=backup' -- backup.sh",
        holds: Holds::Nothing,
        build: |url, _| boxed(pushgateway::Pushgateway::new(url)),
    },
    Kind {
        name: "textfile",
        title: "node_exporter textfile",
        prefix: "textfile:",
        hosts: &[],
        about: "The same metrics in a *.prom file, replaced whole (temp file and rename) at the start and the end.",
        example: "cronbeat --ping textfile:/var/lib/node_exporter/textfile/backup.prom -- backup.sh",
        holds: Holds::Nothing,
        build: |path, _| boxed(textfile::Textfile::new(path)),
    },
    Kind {
        name: "webhook",
        title: "Webhook",
        prefix: "webhook+",
        hosts: &[],
        about: "A JSON POST per event (start, success, failure, progress, log) with run_id, job, host, exit_status, \
                signal, duration, outcome, message and output_tail; a terminated run is a failure event with the \
                outcome terminated. Method, headers and body templates come from the webhook table of the config \
                file.",
        example: "cronbeat --ping webhook+https://ops.example/hooks/cron -- backup.sh",
        holds: Holds::Nothing,
        build: |url, config| boxed(webhook::Webhook::new(url, config)),
    },
];

/// Turns one `--ping` value into its protocol. The kind comes from an explicit prefix, else the
/// service's well-known host, else it is Healthchecks-compatible. `webhook` is the config file's
/// `webhook` table, for `webhook+` monitors.
pub fn parse(spec: &str, webhook: Option<&WebhookConfig>) -> Result<Box<dyn Protocol>, String> {
    let spec = spec.trim();
    for kind in &KINDS {
        if let Some(rest) = spec.strip_prefix(kind.prefix) {
            return (kind.build)(rest, webhook);
        }
    }
    if let Some((name, rest)) = spec.split_once('+') {
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric())
            && rest.contains("://")
        {
            let known: Vec<&str> = KINDS
                .iter()
                .filter_map(|k| k.prefix.strip_suffix('+'))
                .collect();
            return Err(format!(
                "{}: unknown monitor kind {name:?} (known: {}, and textfile:PATH)",
                redact(spec),
                known.join(", ")
            ));
        }
    }
    let host = reqwest::Url::parse(spec)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string));
    let kind = host
        .and_then(|host| {
            KINDS
                .iter()
                .find(|k| k.hosts.iter().any(|p| host_matches(p, &host)))
        })
        .unwrap_or(&KINDS[0]);
    (kind.build)(spec, webhook)
}

/// `pattern` against a host name, label by label; `*` stands for one or more labels.
fn host_matches(pattern: &str, host: &str) -> bool {
    fn matches(pattern: &[&str], host: &[&str]) -> bool {
        match (pattern.split_first(), host.split_first()) {
            (None, None) => true,
            (Some((&"*", rest)), Some(_)) => (1..=host.len()).any(|n| matches(rest, &host[n..])),
            (Some((p, rest)), Some((h, more))) => p.eq_ignore_ascii_case(h) && matches(rest, more),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let host: Vec<&str> = host.split('.').collect();
    matches(&pattern, &host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_label_by_label() {
        assert!(host_matches("hc-ping.com", "hc-ping.com"));
        assert!(!host_matches("hc-ping.com", "x.hc-ping.com"));
        assert!(host_matches("*.ingest.sentry.io", "o1.ingest.sentry.io"));
        assert!(!host_matches("*.ingest.sentry.io", "ingest.sentry.io"));
        assert!(host_matches(
            "*.ingest.*.sentry.io",
            "o1.ingest.us.sentry.io"
        ));
        assert!(!host_matches(
            "*.ingest.sentry.io",
            "o1.ingest.sentry.io.evil.example"
        ));
    }

    /// Each kind's documented example is a monitor of that kind, and the protocol agrees on the name.
    #[test]
    fn examples_parse_to_their_kind() {
        for kind in &KINDS {
            let spec = kind
                .example
                .split_whitespace()
                .skip_while(|w| *w != "--ping")
                .nth(1)
                .expect("an example with --ping")
                .trim_matches('\'');
            let protocol = parse(spec, None).unwrap_or_else(|e| panic!("{}: {e}", kind.name));
            assert_eq!(protocol.kind(), kind.name);
        }
    }

    #[test]
    fn names_and_prefixes_are_unique() {
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert!(!a.prefix.starts_with(b.prefix) && !b.prefix.starts_with(a.prefix));
            }
        }
    }
}
