//! The one table of monitor kinds: how a `--ping` value names its kind (a prefix, or the service's
//! well-known host), what builds its protocol, and what the documentation calls it. Parsing, `check`
//! and the man page all read this table.

use super::protocol::Protocol;
use super::webhook::WebhookConfig;
use super::{betterstack, cronhub, cronitor, dms, healthchecks, pushgateway, redact, sentry};
use super::{textfile, webhook};

type Build = fn(&str, Option<&WebhookConfig>) -> Result<Box<dyn Protocol>, String>;

pub struct Kind {
    /// The name in log lines and `check` output (`Protocol::kind`).
    pub name: &'static str,
    /// The service, as the documentation calls it.
    pub title: &'static str,
    /// The explicit prefix: `KIND+` before a URL, or `textfile:` before a path.
    pub prefix: &'static str,
    /// Well-known hosts that imply the kind; `*` stands for one or more labels.
    pub hosts: &'static [&'static str],
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
        build: |url, _| boxed(healthchecks::Healthchecks::new(url)),
    },
    Kind {
        name: "cronitor",
        title: "Cronitor",
        prefix: "cronitor+",
        hosts: &["cronitor.link"],
        build: |url, _| boxed(cronitor::Cronitor::new(url)),
    },
    Kind {
        name: "sentry",
        title: "Sentry Crons",
        prefix: "sentry+",
        hosts: &["*.ingest.sentry.io", "*.ingest.*.sentry.io"],
        build: |url, _| boxed(sentry::Sentry::new(url)),
    },
    Kind {
        name: "betterstack",
        title: "Better Stack",
        prefix: "betterstack+",
        hosts: &["uptime.betterstack.com"],
        build: |url, _| boxed(betterstack::BetterStack::new(url)),
    },
    Kind {
        name: "dms",
        title: "Dead Man's Snitch",
        prefix: "dms+",
        hosts: &["nosnch.in"],
        build: |url, _| boxed(dms::DeadMansSnitch::new(url)),
    },
    Kind {
        name: "cronhub",
        title: "Cronhub",
        prefix: "cronhub+",
        hosts: &["cronhub.io"],
        build: |url, _| boxed(cronhub::Cronhub::new(url)),
    },
    Kind {
        name: "pushgateway",
        title: "Prometheus Pushgateway",
        prefix: "pushgateway+",
        hosts: &[],
        build: |url, _| boxed(pushgateway::Pushgateway::new(url)),
    },
    Kind {
        name: "textfile",
        title: "node_exporter textfile",
        prefix: "textfile:",
        hosts: &[],
        build: |path, _| boxed(textfile::Textfile::new(path)),
    },
    Kind {
        name: "webhook",
        title: "generic webhook",
        prefix: "webhook+",
        hosts: &[],
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
