//! The validated settings of one run, merged from every source:
//! command line > environment (`CRONBEAT_*`) > config file job > config file defaults > built-in defaults.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{JitterSeed, LogFormat, Overlap, RunArgs};
use crate::monitor::WebhookConfig;
use crate::outcome::Rules;
use crate::output::Hygiene;
use crate::{monitor, units};

pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(10);
pub const DEFAULT_TAIL: u64 = 10 * 1024;
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_PING_RETRIES: u32 = 3;
/// How long a replacing run waits for the lock after killing the run it replaces, unless `--lock-wait` says.
pub const DEFAULT_REPLACE_WAIT: Duration = Duration::from_secs(5);

/// A size in the config file: a number of bytes or a string such as "10K".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of bytes or a size such as \"10K\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Size, E> {
                Ok(Size(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Size, E> {
                u64::try_from(n)
                    .map(Size)
                    .map_err(|_| E::custom(format!("invalid size {n}: must not be negative")))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                units::parse_size(text).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `ping = "url"` or `ping = ["url", "url"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a URL or an array of URLs")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(text.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(url) = seq.next_element::<String>()? {
                    all.push(url);
                }
                Ok(OneOrMany::Many(all))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// One source of settings. Every field is optional; the first source that sets a field wins.
/// Field names are the config file's keys.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of settings")]
pub struct Layer {
    pub command: Option<Vec<String>>,
    pub timeout: Option<units::Duration>,
    pub kill_after: Option<units::Duration>,
    pub idle_timeout: Option<units::Duration>,
    pub lock: Option<PathBuf>,
    pub overlap: Option<Overlap>,
    pub lock_wait: Option<units::Duration>,
    pub jitter: Option<units::Duration>,
    pub jitter_seed: Option<JitterSeed>,
    pub success_codes: Option<units::ExitCodes>,
    pub stderr_fails: Option<bool>,
    pub min_runtime: Option<units::Duration>,
    pub tail: Option<Size>,
    pub strip_ansi: Option<bool>,
    pub redact: Option<OneOrMany>,
    pub quiet: Option<bool>,
    pub ping: Option<OneOrMany>,
    pub ping_file: Option<PathBuf>,
    pub no_start_ping: Option<bool>,
    pub keepalive: Option<units::Duration>,
    pub ping_timeout: Option<units::Duration>,
    pub ping_retries: Option<u32>,
    pub verbose: Option<bool>,
    pub log_format: Option<LogFormat>,
    /// Method, headers and body templates of `webhook+` monitors.
    pub webhook: Option<WebhookConfig>,
}

/// Declares the merge and the key list from one list of fields, so a new field cannot be forgotten in either.
macro_rules! layer_fields {
    ($($field:ident),* $(,)?) => {
        impl Layer {
            /// Every config key.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Fields set here win; the rest come from `lower`.
            pub fn over(self, lower: Layer) -> Layer {
                Layer { $($field: self.$field.or(lower.$field)),* }
            }

            /// Whether this layer sets `key`: the merged value of `key` came from the first layer that does.
            pub fn sets(&self, key: &str) -> bool {
                match key {
                    $(stringify!($field) => self.$field.is_some(),)*
                    _ => false,
                }
            }
        }
    };
}

layer_fields!(
    command,
    timeout,
    kill_after,
    idle_timeout,
    lock,
    overlap,
    lock_wait,
    jitter,
    jitter_seed,
    success_codes,
    stderr_fails,
    min_runtime,
    tail,
    strip_ansi,
    redact,
    quiet,
    ping,
    ping_file,
    no_start_ping,
    keepalive,
    ping_timeout,
    ping_retries,
    verbose,
    log_format,
    webhook,
);

impl Layer {
    /// The command line and environment (clap has already applied the environment variables, and left
    /// unset what neither gave). `--ping` reads `CRONBEAT_PING` here: several URLs, whitespace-separated.
    pub fn from_args(args: &RunArgs) -> Layer {
        let ping = if !args.pings.is_empty() {
            Some(OneOrMany::Many(args.pings.clone()))
        } else {
            std::env::var("CRONBEAT_PING")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| OneOrMany::Many(v.split_whitespace().map(str::to_string).collect()))
        };
        Layer {
            command: None,
            timeout: args.timeout,
            kill_after: args.kill_after,
            idle_timeout: args.idle_timeout,
            lock: args.lock.clone(),
            overlap: args.overlap,
            lock_wait: args.lock_wait,
            jitter: args.jitter,
            jitter_seed: args.jitter_seed,
            success_codes: args.success_codes.clone(),
            stderr_fails: args.stderr_fails,
            min_runtime: args.min_runtime,
            tail: args.tail.map(Size),
            strip_ansi: args.strip_ansi,
            redact: (!args.redact.is_empty()).then(|| OneOrMany::Many(args.redact.clone())),
            quiet: args.quiet,
            ping,
            ping_file: args.ping_file.clone(),
            no_start_ping: args.no_start_ping,
            keepalive: args.keepalive,
            ping_timeout: args.ping_timeout,
            ping_retries: args.ping_retries,
            verbose: args.verbose,
            log_format: args.log_format,
            webhook: None,
        }
    }
}

/// Everything one run needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub command: Vec<OsString>,
    pub job: Option<String>,
    pub timeout: Option<Duration>,
    pub kill_after: Duration,
    pub idle_timeout: Option<Duration>,
    pub lock: Option<PathBuf>,
    pub overlap: Overlap,
    pub lock_wait: Option<Duration>,
    pub jitter: Option<Duration>,
    pub jitter_seed: JitterSeed,
    pub rules: Rules,
    pub tail: usize,
    pub hygiene: Hygiene,
    pub quiet: bool,
    /// Monitor specifications, as written (`URL` or `KIND+URL`).
    pub pings: Vec<String>,
    pub start_ping: bool,
    pub keepalive: Option<Duration>,
    pub ping_timeout: Duration,
    pub ping_retries: u32,
    pub verbose: bool,
    pub log_format: LogFormat,
    pub webhook: Option<WebhookConfig>,
}

/// A setting that cannot be used, and the key it belongs to, so the caller can name where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: &'static str,
    pub message: String,
}

impl Invalid {
    fn new(key: &'static str, message: impl Into<String>) -> Invalid {
        Invalid {
            key,
            message: message.into(),
        }
    }
}

impl Settings {
    /// Builds the settings from the merged layers. `command_line` is what followed `--`.
    pub fn resolve(
        merged: Layer,
        command_line: Vec<OsString>,
        job: Option<String>,
    ) -> Result<Settings, Invalid> {
        let command = match (command_line.is_empty(), merged.command) {
            (false, Some(_)) => {
                return Err(Invalid::new(
                    "command",
                    "a command is also given after `--`; give it once",
                ))
            }
            (false, None) => command_line,
            (true, Some(cmd)) if cmd.first().is_some_and(|program| !program.is_empty()) => {
                cmd.into_iter().map(OsString::from).collect()
            }
            (true, Some(cmd)) if cmd.is_empty() => {
                return Err(Invalid::new(
                    "command",
                    "is empty (expected e.g. [\"/usr/local/bin/backup\", \"--full\"])",
                ))
            }
            (true, Some(_)) => return Err(Invalid::new("command", "the program name is empty")),
            (true, None) => {
                return Err(Invalid::new(
                    "command",
                    "no command given (usage: cronbeat [OPTIONS] -- <COMMAND> [ARGS]...)",
                ))
            }
        };
        // Monitors are parsed here, not when the run starts, so a bad URL is blamed on the key that holds it
        // and `check` catches it.
        let mut pings = merged.ping.map(OneOrMany::into_vec).unwrap_or_default();
        let webhook = merged.webhook.as_ref();
        for spec in &pings {
            monitor::parse_with(spec, webhook).map_err(|e| Invalid::new("ping", e))?;
        }
        if let Some(path) = &merged.ping_file {
            for spec in read_ping_file(path).map_err(|e| Invalid::new("ping_file", e))? {
                monitor::parse_with(&spec, webhook)
                    .map_err(|e| Invalid::new("ping_file", format!("{}: {e}", path.display())))?;
                pings.push(spec);
            }
        }
        let ping_timeout = merged
            .ping_timeout
            .map_or(DEFAULT_PING_TIMEOUT, units::Duration::get);
        if ping_timeout.is_zero() {
            return Err(Invalid::new("ping_timeout", "must be greater than zero"));
        }
        let tail = merged.tail.map_or(DEFAULT_TAIL, |s| s.0);
        let tail = usize::try_from(tail)
            .ok()
            .filter(|t| *t <= 1 << 30)
            .ok_or_else(|| {
                Invalid::new("tail", format!("{tail} bytes is too large (at most 1GiB)"))
            })?;
        if merged.lock.is_none() {
            if merged.overlap.is_some() {
                return Err(Invalid::new("overlap", "needs a lock file (--lock)"));
            }
            if merged.lock_wait.is_some() {
                return Err(Invalid::new("lock_wait", "needs a lock file (--lock)"));
            }
        }
        let hygiene = Hygiene::new(
            merged.strip_ansi.unwrap_or(false),
            &merged.redact.map(OneOrMany::into_vec).unwrap_or_default(),
        )
        .map_err(|e| Invalid::new("redact", e))?;
        let positive =
            |d: Option<units::Duration>| d.map(units::Duration::get).filter(|t| !t.is_zero());
        Ok(Settings {
            command,
            job,
            timeout: merged
                .timeout
                .map(units::Duration::get)
                .filter(|t| !t.is_zero()),
            kill_after: merged
                .kill_after
                .map_or(DEFAULT_KILL_AFTER, units::Duration::get),
            idle_timeout: positive(merged.idle_timeout),
            lock: merged.lock,
            overlap: merged.overlap.unwrap_or_default(),
            lock_wait: merged.lock_wait.map(units::Duration::get),
            jitter: positive(merged.jitter),
            jitter_seed: merged.jitter_seed.unwrap_or_default(),
            rules: Rules {
                success_codes: merged.success_codes.map(|c| c.0).unwrap_or_default(),
                stderr_fails: merged.stderr_fails.unwrap_or(false),
                min_runtime: positive(merged.min_runtime),
            },
            tail,
            hygiene,
            quiet: merged.quiet.unwrap_or(false),
            pings,
            start_ping: !merged.no_start_ping.unwrap_or(false),
            keepalive: positive(merged.keepalive),
            ping_timeout,
            ping_retries: merged.ping_retries.unwrap_or(DEFAULT_PING_RETRIES),
            verbose: merged.verbose.unwrap_or(false),
            log_format: merged.log_format.unwrap_or(LogFormat::Text),
            webhook: merged.webhook,
        })
    }
}

/// One monitor URL a line; blank lines and `#` comments are skipped.
fn read_ping_file(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}
