//! The command-line definition. Every option is an `Option` so that the config file can tell "not given"
//! from "given as the default" and the precedence rules (command line > environment > job > defaults) hold.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_exit_codes, parse_size, Duration, ExitCodes};

pub const AFTER_HELP: &str = "\
Exit status: the command's own; 128+N if it died of signal N; 124 when the --timeout deadline stopped it; \
125 when --idle-timeout stopped it (no output for too long); 126 when it could not be executed, 127 when it \
was not found; 2 for cronbeat's own usage or config errors; 75 when --lock is held by another run and this \
run was skipped. Success rules (--success-codes, --stderr-fails, --min-runtime) change what is reported, \
never the exit status.";

const LONG_ABOUT: &str = "\
Run a scheduled command visibly and bounded.

cronbeat starts COMMAND directly (no shell) in its own process group, tells every monitor that the run \
started, passes the command's output through untouched while keeping a bounded tail of it, kills the command \
when it overruns --timeout, forwards signals so shutdowns are graceful, reaps zombies when it runs as PID 1, \
reports how the run ended (exit status, duration, output tail) and exits with a status that tells the truth \
about the run. A monitor that cannot be reached never changes that status: it is a warning.

Settings come from the command line, then CRONBEAT_* environment variables, then the config file's \
[jobs.NAME] table, then its [defaults]. When all is well cronbeat prints nothing of its own.";

#[derive(Debug, Parser)]
#[command(
    name = "cronbeat",
    version,
    about = "Run a scheduled command visibly and bounded: heartbeats, deadlines, signals, reaping, a truthful exit status",
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub action: Option<Action>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Validate the configuration without running anything
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config file to validate
    #[arg(long, env = "CRONBEAT_CONFIG", value_name = "PATH")]
    pub config: PathBuf,

    /// Only validate this job (default: every job)
    #[arg(long, env = "CRONBEAT_JOB", value_name = "NAME")]
    pub job: Option<String>,

    /// Also send a harmless test ping to each monitor and report whether it is reachable
    #[arg(long)]
    pub ping: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// What a run does when `--lock` is held by another run (Kubernetes' concurrency policies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Do not run; exit 75 and tell the monitors
    #[default]
    Skip,
    /// Wait for the lock (at most --lock-wait)
    Wait,
    /// Stop the running one (SIGTERM, the grace, SIGKILL), then run
    Replace,
}

/// Where the `--jitter` delay comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterSeed {
    /// A hash of the host name and the job: each host keeps its own slot, a fleet spreads out
    Hostname,
    /// A hash of the job alone: the same slot on every host, different jobs spread out
    Job,
    /// A new random delay every run
    #[default]
    Random,
}

#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Read settings from this TOML file
    #[arg(
        long,
        env = "CRONBEAT_CONFIG",
        value_name = "PATH",
        help_heading = "Configuration"
    )]
    pub config: Option<PathBuf>,

    /// Run the job of this name from the config file
    #[arg(
        long,
        env = "CRONBEAT_JOB",
        value_name = "NAME",
        help_heading = "Configuration"
    )]
    pub job: Option<String>,

    /// Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124
    #[arg(long, env = "CRONBEAT_TIMEOUT", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub timeout: Option<Duration>,

    /// Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]
    #[arg(long, env = "CRONBEAT_KILL_AFTER", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub kill_after: Option<Duration>,

    /// Stop the command when it prints nothing for DUR (treated as hung); exit status 125
    #[arg(long, env = "CRONBEAT_IDLE_TIMEOUT", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub idle_timeout: Option<Duration>,

    /// One run at a time: a lock file (flock) held while any process of the run lives
    #[arg(
        long,
        env = "CRONBEAT_LOCK",
        value_name = "PATH",
        help_heading = "Bounds"
    )]
    pub lock: Option<PathBuf>,

    /// When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]
    #[arg(
        long,
        env = "CRONBEAT_OVERLAP",
        value_name = "MODE",
        help_heading = "Bounds"
    )]
    pub overlap: Option<Overlap>,

    /// Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)
    #[arg(long, env = "CRONBEAT_LOCK_WAIT", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub lock_wait: Option<Duration>,

    /// Sleep up to DUR before starting, to spread a fleet
    #[arg(long, env = "CRONBEAT_JITTER", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub jitter: Option<Duration>,

    /// How the --jitter delay is chosen [default: random]
    #[arg(
        long,
        env = "CRONBEAT_JITTER_SEED",
        value_name = "SEED",
        help_heading = "Bounds"
    )]
    pub jitter_seed: Option<JitterSeed>,

    /// Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command's) [default: 0]
    #[arg(long, env = "CRONBEAT_SUCCESS_CODES", value_name = "CODES", value_parser = parse_exit_codes, help_heading = "Success rules")]
    pub success_codes: Option<ExitCodes>,

    /// Report the run as failed when the command wrote anything to stderr
    #[arg(long, env = "CRONBEAT_STDERR_FAILS", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Success rules")]
    pub stderr_fails: Option<bool>,

    /// Report the run as failed when it finished sooner than DUR ("finished too quickly")
    #[arg(long, env = "CRONBEAT_MIN_RUNTIME", value_name = "DUR", value_parser = parse_duration, help_heading = "Success rules")]
    pub min_runtime: Option<Duration>,

    /// Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]
    #[arg(long, env = "CRONBEAT_TAIL", value_name = "BYTES", value_parser = parse_size, help_heading = "Output")]
    pub tail: Option<u64>,

    /// Remove terminal escape sequences (colours, cursor moves) from the reported tail
    #[arg(long, env = "CRONBEAT_STRIP_ANSI", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Output")]
    pub strip_ansi: Option<bool>,

    /// Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable
    #[arg(
        long = "redact",
        env = "CRONBEAT_REDACT",
        value_name = "REGEX",
        help_heading = "Output"
    )]
    pub redact: Vec<String>,

    /// Hold the command's output back and show it only when the run fails
    #[arg(short, long, env = "CRONBEAT_QUIET", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Output")]
    pub quiet: Option<bool>,

    /// Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL.
    /// CRONBEAT_PING holds one or more, separated by whitespace
    #[arg(long = "ping", value_name = "URL", help_heading = "Monitors")]
    pub pings: Vec<String>,

    /// Read monitor URLs from this file, one per line (keeps secrets out of `ps`)
    #[arg(
        long,
        env = "CRONBEAT_PING_FILE",
        value_name = "PATH",
        help_heading = "Monitors"
    )]
    pub ping_file: Option<PathBuf>,

    /// Do not send the start ping
    #[arg(long, env = "CRONBEAT_NO_START_PING", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Monitors")]
    pub no_start_ping: Option<bool>,

    /// While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm
    #[arg(long, env = "CRONBEAT_KEEPALIVE", value_name = "DUR", value_parser = parse_duration, help_heading = "Monitors")]
    pub keepalive: Option<Duration>,

    /// Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]
    #[arg(long, env = "CRONBEAT_PING_TIMEOUT", value_name = "DUR", value_parser = parse_duration, help_heading = "Monitors")]
    pub ping_timeout: Option<Duration>,

    /// Retries after a failed ping attempt [default: 3]
    #[arg(
        long,
        env = "CRONBEAT_PING_RETRIES",
        value_name = "N",
        help_heading = "Monitors"
    )]
    pub ping_retries: Option<u32>,

    /// Print a line per event on stderr
    #[arg(short, long, env = "CRONBEAT_VERBOSE", action = ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Logging")]
    pub verbose: Option<bool>,

    /// Format of cronbeat's own lines on stderr [default: text]
    #[arg(
        long,
        env = "CRONBEAT_LOG_FORMAT",
        value_name = "FORMAT",
        help_heading = "Logging"
    )]
    pub log_format: Option<LogFormat>,

    /// The command to run and its arguments
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,

    /// Config keys whose value came from a `CRONBEAT_*` environment variable rather than the command line.
    #[arg(skip)]
    pub from_env: Vec<&'static str>,
}

impl RunArgs {
    fn note_sources(&mut self, matches: &ArgMatches) {
        // clap reports an absent flag as `false`; absent must stay unset so the config file decides, while an
        // explicit `CRONBEAT_QUIET=0` is a value like any other and overrides the file.
        let absent = |id: &str| matches.value_source(id) == Some(ValueSource::DefaultValue);
        if absent("quiet") {
            self.quiet = None;
        }
        if absent("no_start_ping") {
            self.no_start_ping = None;
        }
        if absent("verbose") {
            self.verbose = None;
        }
        if absent("stderr_fails") {
            self.stderr_fails = None;
        }
        if absent("strip_ansi") {
            self.strip_ansi = None;
        }
        for key in crate::settings::Layer::KEYS {
            let id = if *key == "ping" { "pings" } else { key };
            // Asking clap about an id it does not know panics in debug builds; config-only keys have none.
            let from_env = matches.ids().any(|present| present.as_str() == id)
                && matches.value_source(id) == Some(ValueSource::EnvVariable);
            let ping_from_env = *key == "ping"
                && self.pings.is_empty()
                && std::env::var_os(PING_ENV).is_some_and(|v| !v.is_empty());
            if from_env || ping_from_env {
                self.from_env.push(key);
            }
        }
    }

    /// Where the value of config key `key` came from: its flag or its environment variable.
    pub fn origin(&self, key: &str) -> String {
        if self.from_env.contains(&key) {
            env_name(key)
        } else {
            format!("--{}", key.replace('_', "-"))
        }
    }
}

/// `--ping` is repeatable, so its variable is read by hand (clap would split on one fixed character).
pub const PING_ENV: &str = "CRONBEAT_PING";

/// The environment variable of config key `key`: `ping_timeout` → `CRONBEAT_PING_TIMEOUT`.
pub fn env_name(key: &str) -> String {
    format!("CRONBEAT_{}", key.to_ascii_uppercase())
}

/// Parses a command line (the program name first), keeping track of what the environment supplied.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if matches.subcommand().is_none() {
        cli.run.note_sources(&matches);
    }
    Ok(cli)
}

/// The settings the `CRONBEAT_*` environment gives on its own, as a run without options would see them.
pub fn environment() -> Result<RunArgs, clap::Error> {
    parse_from(["cronbeat"]).map(|cli| cli.run)
}

/// clap's error as one line, naming the environment variable when that is where the bad value came from.
pub fn usage_message(e: &clap::Error, args: &[OsString]) -> String {
    // The first paragraph says what is wrong (a list of missing options spans several lines); the rest is
    // tips and usage.
    let rendered = e.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let joined = paragraph.join(" ");
    let first = match joined.trim_start_matches("error: ") {
        "" => "invalid arguments",
        text => text,
    };
    match env_culprit(e, args) {
        Some(var) => format!("{var}: {first}"),
        None => format!("{first} (see cronbeat --help)"),
    }
}

/// The environment variable that supplied a rejected value, when the option was not on the command line:
/// clap's message names only the option, which sends the reader looking in the wrong place.
fn env_culprit(e: &clap::Error, args: &[OsString]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let ContextValue::String(arg) = e.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let command = command();
    let definition = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    let var = definition.get_env()?.to_str()?.to_string();
    let given = options_part(args).any(|a| {
        a == format!("--{long}").as_str()
            || a.starts_with(&format!("--{long}="))
            || definition
                .get_short()
                .is_some_and(|s| a.starts_with('-') && !a.starts_with("--") && a.contains(s))
    });
    (!given && std::env::var_os(&var).is_some()).then_some(var)
}

/// The arguments before `--`, lossily as text (enough to recognise cronbeat's own options).
fn options_part(args: &[OsString]) -> impl Iterator<Item = String> + '_ {
    args.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .take_while(|a| a != "--")
}

/// Whether JSON lines were asked for, judged from the raw arguments because parsing them failed.
pub fn wants_json(args: &[OsString]) -> bool {
    let words: Vec<String> = options_part(args).collect();
    let on_command_line = words.iter().enumerate().find_map(|(i, w)| {
        if w == "--log-format" {
            words.get(i + 1).map(|v| v == "json")
        } else {
            w.strip_prefix("--log-format=").map(|v| v == "json")
        }
    });
    on_command_line
        .unwrap_or_else(|| std::env::var(env_name("log_format")).is_ok_and(|v| v.trim() == "json"))
}

/// The clap definition, for the man page and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
