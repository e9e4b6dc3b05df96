//! The command-line definition. Every option is an `Option` so that the config file can tell "not given"
//! from "given as the default" and the precedence rules (command line > environment > job > defaults) hold.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_size, Duration};

pub const AFTER_HELP: &str = "\
Exit status: the command's own; 128+N if it died of signal N; 124 when the --timeout deadline killed it; \
126 when it could not be executed, 127 when it was not found; 2 for cronbeat's own usage or config errors; \
75 when --lock is held by another run and this run was skipped.";

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

    /// Skip this run when another run holds this lock file (flock)
    #[arg(
        long,
        env = "CRONBEAT_LOCK",
        value_name = "PATH",
        help_heading = "Bounds"
    )]
    pub lock: Option<PathBuf>,

    /// Sleep a random time in [0, DUR) before starting, to spread a fleet
    #[arg(long, env = "CRONBEAT_JITTER", value_name = "DUR", value_parser = parse_duration, help_heading = "Bounds")]
    pub jitter: Option<Duration>,

    /// Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]
    #[arg(long, env = "CRONBEAT_TAIL", value_name = "BYTES", value_parser = parse_size, help_heading = "Output")]
    pub tail: Option<u64>,

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
