//! One source of settings, declared once: each field is a flag (its `#[arg]`: name, variable, help), a
//! config-file key (the field's name) and a value that may be unset. The command line with its environment,
//! a `[jobs.NAME]` table and `[defaults]` are each a `Layer`; the first that sets a field wins.

use std::path::PathBuf;

use clap::ArgAction;
use serde::{Deserialize, Deserializer};

use crate::kinds::{JitterSeed, LockUnavailable, LogFormat, OnLockLost, Overlap};
use crate::monitor::WebhookConfig;
use crate::retry::RetryOn;
use crate::units::{parse_duration, parse_exit_codes, Duration, ExitCodes, Secret, Size};

/// A field of a layer: whether it is set, and how a higher layer's value covers a lower one's.
pub trait Field {
    fn is_set(&self) -> bool;
    fn or(self, lower: Self) -> Self;
}

impl<T> Field for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
    fn or(self, lower: Self) -> Self {
        self.or(lower)
    }
}

/// A repeatable option: an empty list is unset, and a set list replaces the lower one whole.
impl<T> Field for Vec<T> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
    fn or(self, lower: Self) -> Self {
        if self.is_empty() {
            lower
        } else {
            self
        }
    }
}

/// Declares the layer and, from the same list of fields, its keys, merge and reset, so no field can be
/// left out of any of them.
macro_rules! layer {
    (
        $(#[$meta:meta])*
        pub struct Layer { $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )* }
    ) => {
        $(#[$meta])*
        pub struct Layer { $( $(#[$field_meta])* pub $field: $ty, )* }

        impl Layer {
            /// Every config key, which is also the flag's clap id.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Fields set here win; the rest come from `lower`.
            pub fn over(self, lower: Layer) -> Layer {
                Layer { $($field: Field::or(self.$field, lower.$field)),* }
            }

            /// Whether this layer sets `key`.
            pub fn sets(&self, key: &str) -> bool {
                match key {
                    $(stringify!($field) => Field::is_set(&self.$field),)*
                    _ => false,
                }
            }

            /// Leaves `key` unset.
            pub fn unset(&mut self, key: &str) {
                match key {
                    $(stringify!($field) => self.$field = Default::default(),)*
                    _ => {}
                }
            }
        }
    };
}

layer! {
    #[derive(Debug, Clone, Default, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields, expecting = "a table of settings")]
    pub struct Layer {
        /// The command of a config-file job; on the command line it follows `--`.
        #[arg(skip)]
        pub command: Option<Vec<String>>,

        /// The job's name across runs and hosts (lock keys, the ledger, messages) [default: the --job name, else the program's file name and a short hash of the command line]
        #[arg(long, env = "CRONBEAT_NAME", value_name = "NAME", help_heading = "Job")]
        pub name: Option<String>,

        /// Who runs the job, in lock records, monitors and logs [default: the host name]
        #[arg(long, env = "CRONBEAT_HOST_ID", value_name = "ID", help_heading = "Job")]
        pub host_id: Option<String>,

        /// When the job is due: a 5-field cron expression (minute hour day-of-month month day-of-week, Vixie cron's rules) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; or a systemd calendar event (systemd.time(7): "Mon..Fri *-*-* 09:00", "*-*~01 23:00 Europe/Berlin", daily, weekly, …, due when systemd-analyze calendar says). Exactly 5 fields or a leading @ is cron, anything else a calendar event
        #[arg(long, env = "CRONBEAT_SCHEDULE", value_name = "EXPR", help_heading = "Job")]
        pub schedule: Option<String>,

        /// The time zone of --schedule, an IANA name such as Europe/Berlin [default: a calendar event's own zone, else TZ, else the host's zone, else UTC]; a different zone than the event names is refused
        #[arg(long, env = "CRONBEAT_TZ", value_name = "ZONE", help_heading = "Job")]
        pub tz: Option<String>,

        /// How late a run may start and still serve its due time; monitors are told the same [default: --jitter + --timeout + --kill-after (1h without --timeout) + --report-timeout + 1m]
        #[arg(long, env = "CRONBEAT_GRACE", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Job")]
        pub grace: Option<Duration>,

        /// Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124
        #[arg(long, env = "CRONBEAT_TIMEOUT", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub timeout: Option<Duration>,

        /// Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]
        #[arg(long, env = "CRONBEAT_KILL_AFTER", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub kill_after: Option<Duration>,

        /// Stop the command when it prints nothing for DUR (treated as hung); exit status 125; 0 turns it off
        #[arg(long, env = "CRONBEAT_IDLE_TIMEOUT", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub idle_timeout: Option<Duration>,

        /// One run at a time: a lock file (flock) held while any process of the run lives, or one run per tick across a fleet of hosts: redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…] (a secret: prefer CRONBEAT_LOCK or the config file)
        #[arg(long, env = "CRONBEAT_LOCK", hide_env_values = true, value_name = "PATH|URL", help_heading = "Bounds")]
        pub lock: Option<PathBuf>,

        /// When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]
        #[arg(long, env = "CRONBEAT_OVERLAP", value_name = "MODE", help_heading = "Bounds")]
        pub overlap: Option<Overlap>,

        /// Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)
        #[arg(long, env = "CRONBEAT_LOCK_WAIT", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub lock_wait: Option<Duration>,

        /// A fleet lock's lease while the command runs: renewed every third of DUR, and lost (see --on-lock-lost) when no renewal succeeds within DUR [default: 30s]
        #[arg(long, env = "CRONBEAT_LOCK_TTL", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub lock_ttl: Option<Duration>,

        /// When a fleet lock's lease is lost while the command runs: kill it (outcome lock_lost, exit status 123) or warn and let it finish [default: kill]
        #[arg(long, env = "CRONBEAT_ON_LOCK_LOST", value_name = "ACTION", help_heading = "Bounds")]
        pub on_lock_lost: Option<OnLockLost>,

        /// When a fleet lock's engine cannot be reached at the start: fail (not run, monitors told, exit 75), skip (not run, exit 75) or run without the lock [default: fail]
        #[arg(long, env = "CRONBEAT_LOCK_UNAVAILABLE", value_name = "ACTION", help_heading = "Bounds")]
        pub lock_unavailable: Option<LockUnavailable>,

        /// Sleep up to DUR before starting, to spread a fleet
        #[arg(long, env = "CRONBEAT_JITTER", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Bounds")]
        pub jitter: Option<Duration>,

        /// How the --jitter delay is chosen [default: random]
        #[arg(long, env = "CRONBEAT_JITTER_SEED", value_name = "SEED", help_heading = "Bounds")]
        pub jitter_seed: Option<JitterSeed>,

        /// Hold the run's processes to SIZE of memory together (e.g. 512M, 2G), swap included, in a cgroup of the run's own: the kernel's OOM killer stops the run at the limit (outcome oom). Where no memory controller can be used, the run is refused (exit status 2)
        #[arg(long, env = "CRONBEAT_MEMORY_MAX", value_name = "SIZE", value_parser = Size::parse, help_heading = "Bounds")]
        pub memory_max: Option<Size>,

        /// Hold the run to N processes and threads at once (a fork bomb stops there), in a cgroup of the run's own. Where no pids controller can be used, the run is refused (exit status 2)
        #[arg(long, env = "CRONBEAT_TASKS_MAX", value_name = "N", help_heading = "Bounds")]
        pub tasks_max: Option<u64>,

        /// Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command's) [default: 0]
        #[arg(long, env = "CRONBEAT_SUCCESS_CODES", value_name = "CODES", value_parser = parse_exit_codes, help_heading = "Success rules")]
        pub success_codes: Option<ExitCodes>,

        /// Report the run as failed when the command wrote anything to stderr
        #[arg(long, env = "CRONBEAT_STDERR_FAILS", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Success rules")]
        pub stderr_fails: Option<bool>,

        /// Report the run as failed when it finished sooner than DUR ("finished too quickly")
        #[arg(long, env = "CRONBEAT_MIN_RUNTIME", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Success rules")]
        pub min_runtime: Option<Duration>,

        /// Attempts after the first when the command fails (see --retry-on): one run, however many attempts; each has its own --timeout, and none starts that could not finish before the next due time [default: 0]
        #[arg(long, env = "CRONBEAT_RETRIES", value_name = "N", help_heading = "Retries")]
        #[serde(default, deserialize_with = "crate::units::count")]
        pub retries: Option<u32>,

        /// Which failed attempts are retried: outcomes (failure, signal, idle, not_started, timeout, lock_lost, oom, …) and exit statuses as the attempt's status reads (1,75 or 1-5; 137 for a SIGKILL, 124 for a timeout), comma-separated; a stop on request never is [default: any failure except timeout, terminated, lock_lost and the statuses 126 and 127]
        #[arg(long, env = "CRONBEAT_RETRY_ON", value_name = "LIST", value_parser = RetryOn::parse, help_heading = "Retries")]
        pub retry_on: Option<RetryOn>,

        /// The longest wait before the first retry: retry k waits a random time up to min(10 × DUR, DUR × 2^(k-1)) (full jitter) [default: 10s]
        #[arg(long, env = "CRONBEAT_RETRY_DELAY", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Retries")]
        pub retry_delay: Option<Duration>,

        /// Variables for the command from this file, in systemd's EnvironmentFile= syntax (KEY=value, quotes, # comments); repeatable, later files win; the values never appear in logs, errors or ps. CRONBEAT_ENV_FILE holds one path
        #[arg(long = "env-file", env = "CRONBEAT_ENV_FILE", value_name = "PATH", help_heading = "Job")]
        #[serde(default, deserialize_with = "paths")]
        pub env_file: Vec<PathBuf>,

        /// Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]
        #[arg(long, env = "CRONBEAT_TAIL", value_name = "BYTES", value_parser = Size::parse, help_heading = "Output")]
        pub tail: Option<Size>,

        /// Remove terminal escape sequences (colours, cursor moves) from the reported tail
        #[arg(long, env = "CRONBEAT_STRIP_ANSI", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Output")]
        pub strip_ansi: Option<bool>,

        /// Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable
        #[arg(long = "redact", env = "CRONBEAT_REDACT", hide_env_values = true, value_name = "REGEX", help_heading = "Output")]
        #[serde(default, deserialize_with = "one_or_many")]
        pub redact: Vec<String>,

        /// Hold the command's output back and show it only when the run fails
        #[arg(short, long, env = "CRONBEAT_QUIET", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Output")]
        pub quiet: Option<bool>,

        /// Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL.
        /// CRONBEAT_PING holds one or more, separated by whitespace
        #[arg(long = "ping", value_name = "URL", help_heading = "Monitors")]
        #[serde(default, deserialize_with = "one_or_many")]
        pub ping: Vec<String>,

        /// Read monitor URLs from this file, one per line (keeps secrets out of `ps`)
        #[arg(long, env = "CRONBEAT_PING_FILE", value_name = "PATH", help_heading = "Monitors")]
        pub ping_file: Option<PathBuf>,

        /// Do not send the start ping
        #[arg(long, env = "CRONBEAT_NO_START_PING", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Monitors")]
        pub no_start_ping: Option<bool>,

        /// While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm; 0 turns it off
        #[arg(long, env = "CRONBEAT_KEEPALIVE", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Monitors")]
        pub keepalive: Option<Duration>,

        /// Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]
        #[arg(long, env = "CRONBEAT_PING_TIMEOUT", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Monitors")]
        pub ping_timeout: Option<Duration>,

        /// Retries after a failed ping attempt [default: 3]
        #[arg(long, env = "CRONBEAT_PING_RETRIES", value_name = "N", help_heading = "Monitors")]
        #[serde(default, deserialize_with = "crate::units::count")]
        pub ping_retries: Option<u32>,

        /// Once the command has ended, time every monitor's finish report gets (all its attempts) before it is given up; after a stop signal they end within --kill-after + DUR of the signal [default: 10s]
        #[arg(long, env = "CRONBEAT_REPORT_TIMEOUT", value_name = "DUR", value_parser = parse_duration, help_heading = "Monitors")]
        pub report_timeout: Option<Duration>,

        /// Healthchecks Management API key: with a schedule, each Healthchecks check's schedule, time zone and grace are kept in step with the job's (a secret: prefer --hc-api-key-file or the variable)
        #[arg(long, env = "CRONBEAT_HC_API_KEY", hide_env_values = true, value_name = "KEY", value_parser = Secret::accept, help_heading = "Schedule sync")]
        pub hc_api_key: Option<Secret>,

        /// Read the Healthchecks API key from this file (--hc-api-key wins when both are given)
        #[arg(long, env = "CRONBEAT_HC_API_KEY_FILE", value_name = "PATH", help_heading = "Schedule sync")]
        pub hc_api_key_file: Option<PathBuf>,

        /// The Healthchecks Management API [default: from the ping URL: https://healthchecks.io/api/v3/ for hc-ping.com, SITE_ROOT/api/v3/ for SITE_ROOT/ping/...]
        #[arg(long, env = "CRONBEAT_HC_API_URL", value_name = "URL", help_heading = "Schedule sync")]
        pub hc_api_url: Option<String>,

        /// Cronitor API key: with a schedule, each Cronitor monitor's schedule, time zone and grace are kept in step with the job's (a secret: prefer --cronitor-api-key-file or the variable)
        #[arg(long, env = "CRONBEAT_CRONITOR_API_KEY", hide_env_values = true, value_name = "KEY", value_parser = Secret::accept, help_heading = "Schedule sync")]
        pub cronitor_api_key: Option<Secret>,

        /// Read the Cronitor API key from this file (--cronitor-api-key wins when both are given)
        #[arg(long, env = "CRONBEAT_CRONITOR_API_KEY_FILE", value_name = "PATH", help_heading = "Schedule sync")]
        pub cronitor_api_key_file: Option<PathBuf>,

        /// The Cronitor API [default: https://cronitor.io/api/]
        #[arg(long, env = "CRONBEAT_CRONITOR_API_URL", value_name = "URL", help_heading = "Schedule sync")]
        pub cronitor_api_url: Option<String>,
        /// Where the ledger of runs is kept, which `cronbeat status`, `history`, `last-output` and `metrics` read [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]
        #[arg(long, env = "CRONBEAT_STATE_DIR", value_name = "DIR", help_heading = "Ledger")]
        pub state_dir: Option<PathBuf>,

        /// Do not record the run in the ledger
        #[arg(long, env = "CRONBEAT_NO_LEDGER", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Ledger")]
        pub no_ledger: Option<bool>,

        /// Runs the ledger keeps per job; it is trimmed back to N each time it has grown by half of N [default: 1000]
        #[arg(long, env = "CRONBEAT_KEEP_RUNS", value_name = "N", help_heading = "Ledger")]
        #[serde(default, deserialize_with = "crate::units::count")]
        pub keep_runs: Option<u32>,

        /// Report a failed run to the monitors as a failure only from the Nth failure in a row; before that each monitor gets its neutral note ("failure 1 of 3"), if it has one [default: 1]
        #[arg(long, env = "CRONBEAT_FAIL_AFTER", value_name = "N", help_heading = "Ledger")]
        #[serde(default, deserialize_with = "crate::units::count")]
        pub fail_after: Option<u32>,

        /// Also record each run on the fleet's PostgreSQL or Redis, for `status --fleet` on any host: a postgres://, redis:// or rediss:// URL in the forms --lock takes (a secret: prefer CRONBEAT_LEDGER_URL or the config file) [default: the fleet lock's URL, with --fleet-ledger]
        #[arg(long, env = "CRONBEAT_LEDGER_URL", hide_env_values = true, value_name = "URL", help_heading = "Ledger")]
        pub ledger_url: Option<String>,

        /// Also record each run on the fleet lock's engine (--lock redis://… or postgres://…), or on --ledger-url
        #[arg(long, env = "CRONBEAT_FLEET_LEDGER", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Ledger")]
        pub fleet_ledger: Option<bool>,

        /// Run only after these jobs' latest runs succeeded (their --name; comma-separated or repeated): in the fleet ledger where --ledger-url is set, else in this host's; otherwise the run is skipped (exit 75) and the monitors are told which job it waited on
        #[arg(long, env = "CRONBEAT_AFTER", value_name = "JOB[,JOB...]", value_delimiter = ',', help_heading = "Dependencies")]
        #[serde(default, deserialize_with = "one_or_many")]
        pub after: Vec<String>,

        /// With --after: the success must have finished within DUR before now [default: since the named job's own latest due time, by its schedule]
        #[arg(long, env = "CRONBEAT_AFTER_WITHIN", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Dependencies")]
        pub after_within: Option<Duration>,

        /// With --after: wait up to DUR for the success instead of skipping at once (asked again every half second)
        #[arg(long, env = "CRONBEAT_AFTER_WAIT", value_name = "DUR", value_parser = parse_duration, allow_hyphen_values = true, help_heading = "Dependencies")]
        pub after_wait: Option<Duration>,

        /// Print a line per event on stderr
        #[arg(short, long, env = "CRONBEAT_VERBOSE", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Logging")]
        pub verbose: Option<bool>,

        /// Format of cronbeat's own lines on stderr [default: text]
        #[arg(long, env = "CRONBEAT_LOG_FORMAT", value_name = "FORMAT", help_heading = "Logging")]
        pub log_format: Option<LogFormat>,

        /// Method, headers and body templates of `webhook+` monitors (config file only).
        #[arg(skip)]
        pub webhook: Option<WebhookConfig>,
    }
}

/// `key = "value"` or `key = ["value", "value"]`.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or an array of strings")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<String>, E> {
            Ok(vec![text.to_string()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut all = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                all.push(item);
            }
            Ok(all)
        }
    }
    d.deserialize_any(Visitor)
}

/// `key = "path"` or `key = ["path", "path"]`.
fn paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    Ok(one_or_many(d)?.into_iter().map(PathBuf::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(key: &str) -> Layer {
        let text = match key {
            "timeout" => "timeout = \"1m\"",
            "ping" => "ping = [\"https://a.example/x\"]",
            "quiet" => "quiet = true",
            _ => unreachable!(),
        };
        toml::from_str(text).unwrap()
    }

    /// Precedence as a table: (layers from highest to lowest, key) → the layer whose value wins.
    #[test]
    fn the_first_layer_that_sets_a_key_wins() {
        let none = Layer::default;
        let cases: [([Layer; 3], &str, Option<usize>); 6] = [
            ([with("timeout"), none(), none()], "timeout", Some(0)),
            (
                [none(), with("timeout"), with("timeout")],
                "timeout",
                Some(1),
            ),
            ([none(), none(), with("timeout")], "timeout", Some(2)),
            ([none(), none(), none()], "timeout", None),
            ([none(), with("ping"), with("ping")], "ping", Some(1)),
            ([none(), none(), with("quiet")], "quiet", Some(2)),
        ];
        for (layers, key, winner) in cases {
            let found = layers.iter().position(|l| l.sets(key));
            assert_eq!(found, winner, "{key}");
            let [a, b, c] = layers;
            assert_eq!(a.over(b).over(c).sets(key), winner.is_some(), "{key}");
        }
    }

    #[test]
    fn a_list_replaces_a_lower_list_whole() {
        let high = Layer {
            ping: vec!["a".into()],
            ..Layer::default()
        };
        let low = Layer {
            ping: vec!["b".into(), "c".into()],
            ..Layer::default()
        };
        assert_eq!(high.over(low).ping, ["a"]);
        let mut layer = with("timeout");
        layer.unset("timeout");
        assert!(!layer.sets("timeout"));
    }
}
