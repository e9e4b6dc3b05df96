//! One invocation from start to exit: options → validated settings → lock → jitter → the supervised
//! run, whose events feed the logger and the monitors → the exit status.

use std::time::{Duration, Instant};

use crate::cli::{self, Action, JitterSeed, LogFormat, RunArgs};
use crate::config::ConfigFile;
use crate::events::{Fanout, Observer};
use crate::lock::{self, Obtained, Wanted};
use crate::log::Logger;
use crate::monitor::{self, Monitors, RetryPolicy, RunInfo};
use crate::notify::Notifier;
use crate::outcome::{round, EXIT_LOCKED, EXIT_USAGE};
use crate::settings::{Invalid, Layer, Settings, DEFAULT_REPLACE_WAIT};
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

    let run_id = uuid::Uuid::new_v4().to_string();
    let host = monitor::host_name();
    // Started before the lock so that a skipped run can say so; nothing is sent until then.
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
            host: host.clone(),
        },
        logger.clone(),
    );
    monitors.keepalive(settings.keepalive);
    let mut notifier = Notifier::from_env(settings.hygiene.clone(), logger.clone());

    let mut lock = None;
    if let Some(path) = &settings.lock {
        let wanted = Wanted {
            path,
            overlap: settings.overlap,
            lock_wait: settings.lock_wait,
            grace: settings.kill_after,
            replace_wait: DEFAULT_REPLACE_WAIT,
        };
        let mut waiting = |what: &str| {
            if let Some(n) = notifier.as_mut() {
                n.waiting(what, None);
            }
        };
        match lock::obtain(&wanted, &signals, &logger, &mut waiting) {
            Ok(Obtained::Held(held)) => lock = Some(held),
            Ok(Obtained::Skipped(reason)) => {
                logger.warn(&reason);
                monitors.log(&reason);
                monitors.wait();
                logger.release(true);
                return EXIT_LOCKED;
            }
            Ok(Obtained::Interrupted(sig)) => {
                monitors.wait();
                logger.release(true);
                return 128 + sig;
            }
            Err(message) => {
                logger.error(&message);
                monitors.wait();
                logger.release(true);
                return EXIT_USAGE;
            }
        }
    }
    if let Some(limit) = settings.jitter {
        let delay = jitter_delay(limit, settings.jitter_seed, &job_identity(&settings), &host);
        logger.event(
            "jitter",
            &format!("waiting {} (jitter) before starting", round(delay)),
            serde_json::Map::from_iter([(
                "delay_seconds".to_string(),
                serde_json::json!(delay.as_secs_f64()),
            )]),
        );
        if let Some(n) = notifier.as_mut() {
            n.waiting(&format!("waiting {} (jitter)", round(delay)), Some(delay));
        }
        if let Some(sig) = sleep_interruptibly(delay, &signals) {
            monitors.wait();
            logger.release(true);
            return 128 + sig;
        }
    }

    let plan = Plan {
        command: settings.command.clone(),
        run_id,
        lock_fd: lock.as_ref().map(|held| held.raw_fd()),
        timeout: settings.timeout,
        idle_timeout: settings.idle_timeout,
        kill_after: settings.kill_after,
        tail: settings.tail,
        quiet: settings.quiet,
        rules: settings.rules.clone(),
        hygiene: settings.hygiene.clone(),
    };
    let mut log_observer = logger.clone();
    let mut observers: Vec<&mut dyn Observer> = vec![&mut log_observer, &mut monitors];
    if let Some(held) = lock.as_mut() {
        observers.push(held);
    }
    if let Some(n) = notifier.as_mut() {
        observers.push(n);
    }
    let mut fanout = Fanout(observers);
    let finished = supervise::run(&plan, &signals, &mut fanout);
    drop(fanout);
    // The command is gone: a waiting or replacing run may start while the finish pings go out.
    if let Some(held) = lock {
        held.release();
    }

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

/// What names the job for a jitter seed: its config name, else its command line.
fn job_identity(settings: &Settings) -> String {
    match &settings.job {
        Some(name) => name.clone(),
        None => settings
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join("\0"),
    }
}

/// The delay before starting: random, or a fixed slot in [0, limit) from a stable hash, so a host keeps
/// its slot from run to run and across cronbeat versions.
pub fn jitter_delay(limit: Duration, seed: JitterSeed, job: &str, host: &str) -> Duration {
    let fraction = match seed {
        JitterSeed::Random => fastrand::f64(),
        JitterSeed::Job => unit_fraction(job.as_bytes()),
        JitterSeed::Hostname => unit_fraction(format!("{host}\0{job}").as_bytes()),
    };
    limit.mul_f64(fraction)
}

/// FNV-1a, then a SplitMix64 finaliser so that similar names land far apart: a number in [0, 1).
fn unit_fraction(bytes: &[u8]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_slots_are_stable_and_in_range() {
        let limit = Duration::from_secs(600);
        let a = jitter_delay(limit, JitterSeed::Hostname, "backup", "web-1");
        assert_eq!(
            a,
            jitter_delay(limit, JitterSeed::Hostname, "backup", "web-1")
        );
        assert_ne!(
            a,
            jitter_delay(limit, JitterSeed::Hostname, "backup", "web-2")
        );
        let j = jitter_delay(limit, JitterSeed::Job, "backup", "web-1");
        assert_eq!(j, jitter_delay(limit, JitterSeed::Job, "backup", "web-2"));
        // Fixed forever: a fleet keeps its slots across upgrades.
        assert_eq!(format!("{:.6}", unit_fraction(b"backup")), "0.030026");
        // Spread: 1000 hosts fill ten buckets roughly evenly.
        let mut buckets = [0u32; 10];
        for i in 0..1000 {
            let d = jitter_delay(limit, JitterSeed::Hostname, "backup", &format!("host-{i}"));
            assert!(d < limit);
            buckets[(d.as_secs_f64() / 60.0) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|n| (60..=140).contains(n)),
            "{buckets:?}"
        );
    }
}
