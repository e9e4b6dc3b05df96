//! One invocation from start to exit: options → validated settings → lock → jitter → the supervised
//! run, whose events feed the logger and the monitors → the exit status.

use std::time::{Duration, Instant};

use crate::cli::{self, Action, LogFormat, RunArgs};
use crate::config::ConfigFile;
use crate::events::Fanout;
use crate::lock::{self, Acquired};
use crate::log::Logger;
use crate::monitor::{self, Monitors, RetryPolicy, RunInfo};
use crate::outcome::{EXIT_LOCKED, EXIT_USAGE};
use crate::settings::{Invalid, Layer, Settings};
use crate::supervise::{self, signals, Plan, SignalPipe};

/// Parses the command line, runs, and returns the process exit status.
pub fn main() -> i32 {
    guard_standard_fds();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match cli::parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &args),
    };
    match cli.action {
        Some(Action::Check(check)) => crate::check::main(&check),
        None => {
            let format = cli.run.log_format.unwrap_or(LogFormat::Text);
            match settings_from(cli.run) {
                Ok(settings) => execute(settings),
                Err(message) => {
                    Logger::new(false, format, false).error(&message);
                    EXIT_USAGE
                }
            }
        }
    }
}

/// clap's help and version go to stdout with status 0; its errors become one line and status 2.
fn usage_error(e: clap::Error, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    let message = cli::usage_message(&e, args);
    let format = if cli::wants_json(args) {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    Logger::new(false, format, false).error(&message);
    EXIT_USAGE
}

/// Merges command line and environment > job > defaults into the settings of this run. Errors name where the
/// offending value came from: an option, an environment variable or the file, line and key.
fn settings_from(args: RunArgs) -> Result<Settings, String> {
    let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let (job, defaults) = match (&file, &args.job) {
        (Some(file), Some(name)) => (file.job(name)?, file.defaults.clone()),
        (Some(file), None) => (Layer::default(), file.defaults.clone()),
        (None, Some(_)) => {
            return Err(format!(
                "--job needs --config (or {})",
                cli::env_name("config")
            ))
        }
        (None, None) => (Layer::default(), Layer::default()),
    };
    let sources = Sources {
        args: &args,
        file: file.as_ref(),
        job_name: args.job.as_deref(),
        job: &job,
        defaults: &defaults,
    };
    let cli_layer = Layer::from_args(&args);
    let merged = cli_layer.over(job.clone()).over(defaults.clone());
    Settings::resolve(merged, args.command.clone(), args.job.clone())
        .map_err(|invalid| sources.blame(invalid))
}

/// The layers of one resolution, to say which one an invalid value came from.
pub(crate) struct Sources<'a> {
    pub args: &'a RunArgs,
    pub file: Option<&'a ConfigFile>,
    pub job_name: Option<&'a str>,
    pub job: &'a Layer,
    pub defaults: &'a Layer,
}

impl Sources<'_> {
    pub fn blame(&self, invalid: Invalid) -> String {
        let Invalid { key, message } = invalid;
        let cli_layer = Layer::from_args(self.args);
        if cli_layer.sets(key) {
            return format!("{}: {message}", self.args.origin(key));
        }
        if let Some(file) = self.file {
            if let (Some(name), true) = (self.job_name, self.job.sets(key)) {
                return file.error(&["jobs", name, key], message);
            }
            if self.defaults.sets(key) {
                return file.error(&["defaults", key], message);
            }
        }
        message
    }
}

fn execute(settings: Settings) -> i32 {
    let logger = Logger::new(settings.verbose, settings.log_format, settings.quiet);
    // Settings::resolve has parsed every monitor already; this only turns them into protocols.
    let protocols = match settings
        .pings
        .iter()
        .map(|spec| monitor::parse_with(spec, settings.webhook.as_ref()))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(p) => p,
        Err(message) => {
            logger.error(&format!("--ping: {message}"));
            logger.release(true);
            return EXIT_USAGE;
        }
    };
    let signals = match supervise::prepare() {
        Ok(s) => s,
        Err(e) => {
            logger.error(&format!("cannot set up signal handling: {e}"));
            logger.release(true);
            return 126;
        }
    };
    let _lock = match &settings.lock {
        None => None,
        Some(path) => match lock::try_lock(path) {
            Ok(Acquired::Held(file)) => Some(file),
            Ok(Acquired::Busy) => {
                logger.warn(&format!(
                    "skipped: another run holds the lock {}",
                    path.display()
                ));
                logger.release(true);
                return EXIT_LOCKED;
            }
            Err(message) => {
                logger.error(&message);
                logger.release(true);
                return EXIT_USAGE;
            }
        },
    };
    if let Some(limit) = settings.jitter {
        if let Some(sig) = sleep_interruptibly(random_below(limit), &signals) {
            logger.release(true);
            return 128 + sig;
        }
    }

    let run_id = uuid::Uuid::new_v4().to_string();
    let mut monitors = Monitors::start(
        protocols,
        RetryPolicy {
            timeout: settings.ping_timeout,
            retries: settings.ping_retries,
        },
        settings.start_ping,
        RunInfo {
            run_id: run_id.clone(),
            job: settings.job.clone(),
            host: monitor::host_name(),
        },
        logger.clone(),
    );
    let plan = Plan {
        command: settings.command.clone(),
        run_id,
        timeout: settings.timeout,
        kill_after: settings.kill_after,
        tail: settings.tail,
        quiet: settings.quiet,
    };
    let mut log_observer = logger.clone();
    let mut fanout = Fanout(vec![&mut log_observer, &mut monitors]);
    let finished = supervise::run(&plan, &signals, &mut fanout);
    drop(fanout);

    let outcome = &finished.report.outcome;
    let failed = !outcome.succeeded();
    if let crate::outcome::ChildStatus::NotStarted { reason, .. } = &outcome.status {
        logger.warn(reason);
    }
    finished.capture.release_spool(failed);
    monitors.wait();
    logger.release(failed);
    outcome.exit_code()
}

fn random_below(limit: Duration) -> Duration {
    limit.mul_f64(fastrand::f64())
}

/// Sleeps, but a terminating signal ends the wait: returns that signal's number.
fn sleep_interruptibly(span: Duration, signals: &SignalPipe) -> Option<i32> {
    let until = Instant::now() + span;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        if let Some(sig) = signals
            .wait(Some(left))
            .into_iter()
            .find(|s| signals::is_terminating(*s))
        {
            return Some(sig as i32);
        }
    }
}

/// A closed stdin, stdout or stderr would be reused by the next file cronbeat opens (a pipe, the lock),
/// and the command's output would land there. Park /dev/null on them instead.
fn guard_standard_fds() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only queries the descriptor; open(2) of a constant path touches no Rust memory.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}
