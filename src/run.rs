//! One invocation from start to exit: options → validated settings → lock → jitter → the supervised
//! run, whose events feed the logger and the monitors → the exit status.

use std::time::{Duration, Instant};

use clap::Parser;

use crate::cli::{Cli, RunArgs};
use crate::config::ConfigFile;
use crate::events::Fanout;
use crate::lock::{self, Acquired};
use crate::log::Logger;
use crate::monitor::{self, Monitors, RetryPolicy, RunInfo};
use crate::outcome::{EXIT_LOCKED, EXIT_USAGE};
use crate::settings::{Layer, Settings};
use crate::supervise::{self, signals, Plan, SignalPipe};

/// Parses the command line, runs, and returns the process exit status.
pub fn main() -> i32 {
    guard_standard_fds();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.action {
        Some(crate::cli::Action::Check(_)) => {
            eprintln!("cronbeat: check is not available yet");
            EXIT_USAGE
        }
        None => match settings_from(cli.run) {
            Ok(settings) => execute(settings),
            Err(message) => {
                eprintln!("cronbeat: {message}");
                EXIT_USAGE
            }
        },
    }
}

/// clap's help and version go to stdout with status 0; its errors become one line and status 2.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    eprintln!("cronbeat: {first} (see cronbeat --help)");
    EXIT_USAGE
}

fn settings_from(args: RunArgs) -> Result<Settings, String> {
    let cli_layer = Layer::from_args(&args);
    let (job_layer, defaults) = match &args.config {
        Some(path) => {
            let file = ConfigFile::load(path)?;
            let job = match &args.job {
                Some(name) => file.job(name)?,
                None => Layer::default(),
            };
            (job, file.defaults.clone())
        }
        None if args.job.is_some() => {
            return Err("--job needs --config (or CRONBEAT_CONFIG)".into())
        }
        None => (Layer::default(), Layer::default()),
    };
    let merged = cli_layer.over(job_layer).over(defaults);
    Settings::resolve(merged, args.command, args.job)
}

fn execute(settings: Settings) -> i32 {
    let protocols = match settings
        .pings
        .iter()
        .map(|spec| monitor::parse_with(spec, settings.webhook.as_ref()))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(p) => p,
        Err(message) => {
            eprintln!("cronbeat: --ping {message}");
            return EXIT_USAGE;
        }
    };
    let logger = Logger::new(settings.verbose, settings.log_format, settings.quiet);
    let signals = match supervise::prepare() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cronbeat: cannot set up signal handling: {e}");
            return 126;
        }
    };
    let _lock = match &settings.lock {
        None => None,
        Some(path) => match lock::try_lock(path) {
            Ok(Acquired::Held(file)) => Some(file),
            Ok(Acquired::Busy) => {
                eprintln!(
                    "cronbeat: skipped: another run holds the lock {}",
                    path.display()
                );
                return EXIT_LOCKED;
            }
            Err(message) => {
                eprintln!("cronbeat: {message}");
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
