//! One invocation from start to exit: options → validated settings → lock → jitter → the supervised
//! run, whose events feed the logger and the monitors → the exit status.

use std::time::{Duration, Instant};

use clap::Parser;

use crate::cli::{Cli, JitterSeed, RunArgs};
use crate::config::ConfigFile;
use crate::events::{Fanout, Observer};
use crate::lock::{self, Obtained, Wanted};
use crate::log::Logger;
use crate::monitor::{self, Monitors, RetryPolicy, RunInfo};
use crate::notify::Notifier;
use crate::outcome::{round, EXIT_LOCKED, EXIT_USAGE};
use crate::settings::{Layer, Settings, DEFAULT_REPLACE_WAIT};
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
        .map(|spec| monitor::parse(spec))
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
                logger.warn(&message);
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
