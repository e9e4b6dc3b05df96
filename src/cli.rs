//! The command-line definition. Every option is an `Option` so that the config file can tell "not given"
//! from "given as the default" and the precedence rules (command line > environment > job > defaults) hold.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_exit_codes, parse_size, Duration, ExitCodes};

pub const AFTER_HELP: &str = "\
Exit status: the command's own; 128+N if it died of signal N; 124 when the --timeout deadline stopped it; \
125 when --idle-timeout stopped it (no output for too long); 126 when it could not be executed, 127 when it \
was not found; 2 for cronbeat's own usage or config errors; 75 when --lock is held by another run and this \
run was skipped. Success rules (--success-codes, --stderr-fails, --min-runtime) change what is reported, \
never the exit status.";

#[derive(Debug, Parser)]
#[command(
    name = "cronbeat",
    version,
    about = "Run a scheduled command visibly and bounded: heartbeats, deadlines, signals, reaping, a truthful exit status",
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

    /// One run at a time: a lock file (flock) held while the command runs
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

    /// Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL
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

    /// While the command runs, send a progress ping every DUR (Healthchecks /log) so long jobs raise no false alarm
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
    pub command: Vec<std::ffi::OsString>,
}

/// The clap definition, for the man page and completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
