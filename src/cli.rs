//! The command line: the subcommands, `--config`/`--job` and the command after `--`. The options a job is
//! made of are the config layer's (`config::Layer`), flattened in here, so a flag and its key are declared once.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches, Parser, Subcommand};

use crate::config::{Given, Layer, Origin, Origins};

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
    after_help = crate::exit::help_text(),
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
    /// Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore
    Adopt(Box<AdoptArgs>),
    /// Validate the configuration without running anything
    Check(CheckArgs),
    /// Print the next due times of a job's schedule, one RFC 3339 time per line
    Next(NextArgs),
    /// Each job's latest run from the ledger, one line per job; --check for Nagios, Icinga and monit
    Status(StatusArgs),
    /// A job's latest runs from the ledger, newest first
    History(HistoryArgs),
    /// The output tail of a job's latest failed run, byte for byte
    LastOutput(LastOutputArgs),
    /// The ledger as Prometheus metrics, per job
    Metrics(MetricsArgs),
    /// Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job
    #[command(subcommand)]
    Ledger(LedgerAction),
}

#[derive(Debug, Subcommand)]
pub enum LedgerAction {
    /// Drop all but each job's latest --keep-runs runs (its latest success is kept) from the fleet ledger
    Prune(PruneArgs),
    /// Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is
    Forget(ForgetArgs),
}

#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// The jobs to forget
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "", required = true)]
    pub fleet: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Only these jobs (default: every job in the fleet ledger)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "", required = true)]
    pub fleet: Option<String>,

    /// Runs kept per job
    #[arg(long, env = "CRONBEAT_KEEP_RUNS", value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_runs: u32,
}

const ADOPT_ABOUT: &str = "\
Find every scheduled job this user's cron runs (as root: /etc/crontab, /etc/cron.d and every user's \
crontab, and systemd timers where systemd runs) and wrap each in cronbeat, so that its runs are \
recorded and reported with its schedule from the first one.

Without --write nothing is changed: the plan (one line per job: source and line, user, schedule, name, \
and what is done with it) and a unified diff per source. --write applies it, keeping a backup of every \
source it changes under the state directory; --undo puts the original lines back, byte for byte.

A wrapped line gives its command the same shell (SHELL=), text, standard input (after an unescaped %), \
environment and working directory as before, and cronbeat exits with the command's status. A line \
ending in the Healthchecks curl recipe, a runitor line and a cronitor exec line become one cronbeat line \
whose monitor is that URL, kept in a file only the job's user reads (--ping-dir), never in the crontab.";

#[derive(Debug, clap::Args)]
#[command(long_about = ADOPT_ABOUT)]
pub struct AdoptArgs {
    /// A user crontab file (the format of crontab -e) to adopt instead of what cron runs; repeatable
    #[arg(long, value_name = "FILE")]
    pub crontab: Vec<PathBuf>,

    /// A system crontab file (with a user field, as /etc/crontab) to adopt instead of what cron runs; repeatable
    #[arg(long, value_name = "FILE")]
    pub system_crontab: Vec<PathBuf>,

    /// Also systemd timers (by default only where systemd runs, as root)
    #[arg(long)]
    pub timers: bool,

    /// Read timer and service units from DIR instead of /etc/systemd/system, /lib/systemd/system and /usr/lib/systemd/system, and write the drop-ins there; repeatable
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Vec<PathBuf>,

    /// Apply the plan
    #[arg(long, conflicts_with_all = ["check", "undo"])]
    pub write: bool,

    /// Change nothing; exit status 1 when a job is not wrapped or its wrapping is not what its line says (for Ansible and CI)
    #[arg(long, conflicts_with = "undo")]
    pub check: bool,

    /// Put back every line and drop-in adopt wrote, as they were
    #[arg(long)]
    pub undo: bool,

    /// Every adopted job's monitor: a URL with {name} for the job's name, e.g. https://hc-ping.com/PING-KEY/{name}?create=1 (a secret: kept in --ping-dir, not in the crontab)
    #[arg(
        long,
        env = "CRONBEAT_PING_TEMPLATE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub ping_template: Option<String>,

    /// Where each job's monitor URL is kept, a file per job readable by its user only [default: /etc/cronbeat/ping for root, else ~/.config/cronbeat/ping]
    #[arg(long, value_name = "DIR")]
    pub ping_dir: Option<PathBuf>,

    /// With --write: create or update each job's monitor with its schedule, time zone and grace now, through the service's API (--hc-api-key, --cronitor-api-key)
    #[arg(long)]
    pub provision: bool,

    /// With --provision: also declare each adopted job's schedule to this fleet ledger (postgres://… or redis://…, as --ledger-url takes it), so a job that never runs is overdue, not absent; with this alone --provision needs no API key (a secret: prefer the variable)
    #[arg(
        long,
        env = "CRONBEAT_LEDGER_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub ledger_url: Option<String>,

    /// The cronbeat binary the wrapped lines run, an absolute path [default: this binary's]
    #[arg(long, value_name = "PATH")]
    pub cronbeat: Option<PathBuf>,

    /// Healthchecks Management API key, for --provision (a secret: prefer the variable)
    #[arg(long, env = "CRONBEAT_HC_API_KEY", hide_env_values = true, value_name = "KEY", value_parser = crate::units::Secret::accept)]
    pub hc_api_key: Option<crate::units::Secret>,

    /// Read the Healthchecks API key from this file
    #[arg(long, env = "CRONBEAT_HC_API_KEY_FILE", value_name = "PATH")]
    pub hc_api_key_file: Option<PathBuf>,

    /// The Healthchecks Management API [default: from the ping URL]
    #[arg(long, env = "CRONBEAT_HC_API_URL", value_name = "URL")]
    pub hc_api_url: Option<String>,

    /// Cronitor API key, for --provision and for the URL of a converted cronitor exec line (a secret: prefer the variable)
    #[arg(long, env = "CRONBEAT_CRONITOR_API_KEY", hide_env_values = true, value_name = "KEY", value_parser = crate::units::Secret::accept)]
    pub cronitor_api_key: Option<crate::units::Secret>,

    /// Read the Cronitor API key from this file
    #[arg(long, env = "CRONBEAT_CRONITOR_API_KEY_FILE", value_name = "PATH")]
    pub cronitor_api_key_file: Option<PathBuf>,

    /// The Cronitor API [default: https://cronitor.io/api/]
    #[arg(long, env = "CRONBEAT_CRONITOR_API_URL", value_name = "URL")]
    pub cronitor_api_url: Option<String>,

    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// Where the ledger is, for the commands that read it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LedgerArgs {
    /// The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]
    #[arg(long, env = "CRONBEAT_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only these jobs (default: every job in the ledger)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    /// An array of JSON objects, one per job
    #[arg(long, conflicts_with = "check")]
    pub json: bool,

    /// One line for Nagios, Icinga or monit; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    #[arg(long)]
    pub check: bool,

    /// With --check: failures in a row that are CRITICAL (fewer are a WARNING) [default: each job's own --fail-after, else 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub fail_after: Option<u32>,

    /// Read the fleet ledger instead of this host's: every host's runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub fleet: Option<String>,

    /// Mark a job slower (bigger) when its latest successful run took more than X times the median time (peak memory) of its 20 successful runs before; with --check such a job is a WARNING [default: 3, and no WARNING]
    #[arg(long, env = "CRONBEAT_SLOW_FACTOR", value_name = "X", value_parser = parse_slow_factor)]
    pub slow_factor: Option<f64>,

    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// A factor above 1 (a run as long as the median is no news), and not absurd.
fn parse_slow_factor(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 1.0 && x <= 1000.0 => Ok(x),
        _ => Err(format!(
            "invalid factor {text:?} (expected a number above 1 and at most 1000, e.g. 3 or 1.5)"
        )),
    }
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The job's name (--name)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// How many runs to show [default: 20]
    #[arg(
        short = 'n',
        long = "runs",
        value_name = "N",
        default_value_t = 20,
        hide_default_value = true
    )]
    pub runs: usize,

    /// An array of JSON objects, one per run
    #[arg(long)]
    pub json: bool,

    /// Read the fleet ledger instead of this host's: every host's runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub fleet: Option<String>,

    #[command(flatten)]
    pub ledger: LedgerArgs,
}

#[derive(Debug, clap::Args)]
pub struct LastOutputArgs {
    /// The job's name (--name)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Read the fleet ledger instead of this host's: every host's runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub fleet: Option<String>,

    #[command(flatten)]
    pub ledger: LedgerArgs,
}

#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    /// Write the metrics to this file (whole, by a rename: for node_exporter's textfile collector) instead of standard output
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Read the fleet ledger instead of this host's: every host's runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub fleet: Option<String>,

    #[command(flatten)]
    pub ledger: LedgerArgs,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config file to validate
    #[arg(long, env = "CRONBEAT_CONFIG", value_name = "PATH")]
    pub config: PathBuf,

    /// Only validate this job (default: every job)
    #[arg(long, env = "CRONBEAT_JOB", value_name = "NAME")]
    pub job: Option<String>,

    /// Also send a harmless test ping to each monitor and report whether it is reachable, and compare
    /// the schedule, time zone and grace each monitor holds with the job's (exit status 1 when one differs)
    #[arg(long)]
    pub ping: bool,

    /// With --ping: write the job's schedule, time zone and grace to the monitors that differ
    #[arg(long, requires = "ping")]
    pub fix: bool,

    /// Declare each job's schedule, time zone and grace to its fleet ledger (ledger_url, CRONBEAT_LEDGER_URL or fleet_ledger), so a job that never ran is overdue, not absent (exit status 1 when one could not be)
    #[arg(long)]
    pub fleet: bool,
}

#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// Config file that holds --job
    #[arg(long, env = "CRONBEAT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The job whose due times to print
    #[arg(long, env = "CRONBEAT_JOB", value_name = "NAME")]
    pub job: Option<String>,

    /// A schedule (5 cron fields, a macro such as @daily, or a systemd calendar event such as "Mon..Fri 9:00"); with --job, it replaces the job's
    #[arg(long, value_name = "EXPR")]
    pub schedule: Option<String>,

    /// The time zone of the schedule, an IANA name [default: the job's, else TZ, else the host's zone, else UTC]
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// How many due times to print
    #[arg(short = 'n', long = "count", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: u32,

    /// Count from this time (RFC 3339, e.g. 2026-11-29T03:15:00+01:00) instead of now
    #[arg(long, value_name = "TIME")]
    pub after: Option<String>,
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

    #[command(flatten)]
    pub options: Layer,

    /// The command to run and its arguments
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,

    /// Where each option the command line or the environment set came from.
    #[arg(skip)]
    pub origins: Origins,

    /// What was given but came to nothing.
    #[arg(skip)]
    pub warnings: Vec<String>,
}

impl RunArgs {
    fn note_sources(&mut self, matches: &ArgMatches) {
        // Config-only keys have no flag (and `command` is the trailing command's id too); asking clap about
        // an id it does not know panics in debug builds.
        let flags = <Layer as clap::Args>::augment_args(clap::Command::new("layer"));
        for key in Layer::KEYS {
            if !flags.get_arguments().any(|arg| arg.get_id() == *key) {
                continue;
            }
            match matches.value_source(key) {
                Some(ValueSource::CommandLine) => {
                    self.origins.0.insert(key, Origin::Flag);
                }
                Some(ValueSource::EnvVariable) => {
                    self.origins.0.insert(key, Origin::Env(env_name(key)));
                }
                // clap reports an absent flag as `false`; absent must stay unset so the config file decides,
                // while an explicit `CRONBEAT_QUIET=0` is a value like any other and overrides the file.
                _ => self.options.unset(key),
            }
        }
        if self.options.ping.is_empty() {
            match std::env::var(PING_ENV) {
                Ok(value) if !value.trim().is_empty() => {
                    self.options.ping = value.split_whitespace().map(str::to_string).collect();
                    self.origins
                        .0
                        .insert("ping", Origin::Env(PING_ENV.to_string()));
                }
                // Set but blank: typically a Secret that was not mounted.
                Ok(_) => self
                    .warnings
                    .push(format!("{PING_ENV} is set but blank: it names no monitor")),
                Err(_) => {}
            }
        }
    }

    /// What the command line and the environment give, for the resolution.
    pub fn given(&self) -> Given {
        Given {
            layer: self.options.clone(),
            origins: self.origins.clone(),
            warnings: self.warnings.clone(),
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
pub fn environment() -> Result<Given, clap::Error> {
    parse_from(["cronbeat"]).map(|cli| cli.run.given())
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
        None => match stray_command(e).filter(|_| !names_a_subcommand(args)) {
            Some(word) => format!(
                "{first}: to run a command, put it after `--`, as in cronbeat [OPTIONS] -- {word} ..."
            ),
            None => format!("{first} (see cronbeat --help)"),
        },
    }
}

/// Whether a word of the arguments names a subcommand: such a word is not a command typed without `--`.
/// The names come from the definition itself, so a new subcommand cannot be left out.
fn names_a_subcommand(args: &[OsString]) -> bool {
    let command = command();
    let names: Vec<&str> = command.get_subcommands().map(|s| s.get_name()).collect();
    options_part(args).any(|a| names.contains(&a.as_str()))
}

/// Whether these arguments ask for `status --check`, whose every ending, a usage error included, must be
/// one of a monitoring plugin's four statuses.
pub fn wants_plugin_status(args: &[OsString]) -> bool {
    let words: Vec<String> = options_part(args).collect();
    words.first().is_some_and(|w| w == "status") && words.iter().any(|w| w == "--check")
}

/// The word clap refused when it looks like a command typed without `--` before it.
fn stray_command(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand
    ) {
        return None;
    }
    let context = e
        .get(ContextKind::InvalidArg)
        .or_else(|| e.get(ContextKind::InvalidSubcommand))?;
    let ContextValue::String(word) = context else {
        return None;
    };
    (!word.starts_with('-')).then(|| word.clone())
}

/// A `CRONBEAT_*` variable that is not UTF-8: clap would only say "invalid UTF-8" without naming it.
pub fn unreadable_variable() -> Option<String> {
    std::env::vars_os()
        .filter(|(name, _)| name.to_str().is_some_and(|n| n.starts_with("CRONBEAT_")))
        .find(|(_, value)| value.to_str().is_none())
        .map(|(name, _)| format!("{}: the value is not valid UTF-8", name.to_string_lossy()))
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
