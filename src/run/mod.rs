//! One run, from the resolved job to its exit value: the lock, the jitter sleep and the supervised command,
//! each phase told to the observers (log, monitors, lock, systemd notifier) as events, then one teardown
//! whatever way the run ended.

mod after;
mod attempts;
mod jitter;
mod locks;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;

use crate::attempts::Failed;
use attempts::Attempt;
pub use jitter::jitter_delay;

use crate::config::Job;
use crate::events::{Event, Fanout, Observer, Report};
use crate::exit::Exit;
use crate::kinds::LockUnavailable;
use crate::ledger::{self, Ledger};
use crate::lock::{self, fleet, Obtained};
use crate::log::Logger;
use crate::monitor::{FailAfter, Monitors, RunInfo};
use crate::notify::Notifier;
use crate::outcome::{Cause, ChildStatus, Outcome};
use crate::output::Capture;
use crate::retry;
use crate::supervise::{self, Holding, SignalPipe};

/// Runs `job` and returns how cronbeat ends.
pub fn execute(mut job: Job) -> Exit {
    let logger = Logger::new(job.verbose, job.log_format, job.quiet);
    for warning in &job.warnings {
        logger.warn(warning);
    }
    let began = SystemTime::now();
    let run_id = uuid::Uuid::new_v4().to_string();
    // A limit asked for that cannot be applied refuses the run before anything is told or run.
    let limits_of_run =
        match crate::cost::Prepared::new(job.run_limits, &run_id, supervise::cgroup::home()) {
            Ok(prepared) => prepared,
            Err(message) => {
                logger.error(&message);
                return Exit::Usage;
            }
        };
    let host = job.host_id.clone();
    // The run serves the due time it was started for, however long the lock and the jitter take.
    let now = SystemTime::now();
    let tick = job.schedule.as_ref().and_then(|s| s.tick(now));
    let next_due = job.schedule.as_ref().and_then(|s| {
        let due = s.next_after(tick.unwrap_or(now))?;
        Some(SystemTime::from(due.with_timezone(&chrono::Utc)))
    });
    for (index, protocol) in job.monitors.iter().enumerate() {
        if let Some(note) = protocol.schedule_note() {
            let label = format!(
                "monitor {} ({}, {})",
                index + 1,
                protocol.kind(),
                protocol.target()
            );
            logger.event(
                "schedule_not_told",
                &format!("{label}: {note}"),
                serde_json::Map::new(),
            );
        }
    }
    // Started before the lock so that a skipped run can say so; nothing is sent until an event asks.
    let mut monitors = Monitors::start(
        std::mem::take(&mut job.monitors),
        job.delivery,
        job.start_ping,
        RunInfo {
            run_id: run_id.clone(),
            job: job.config_job.clone(),
            host: host.clone(),
            name: job.name.clone(),
            tick,
            next_due,
        },
        logger.clone(),
    );
    monitors.keepalive(job.keepalive);
    // Half the grace: a keepalive that is late, or needs a retry of its delivery, still lands within it.
    monitors.keepalive_between_attempts(job.grace / 2);
    monitors.report_within(job.report_timeout, job.kill_after);
    let fail_after = job.fail_after.map(FailAfter::new);
    monitors.fail_after(fail_after.clone());
    let ledger = job.ledger.as_ref().map(|settings| {
        let run = ledger::Run {
            run_id: &run_id,
            name: &job.name,
            host: &host,
            tick,
            schedule: job.schedule.as_ref(),
        };
        let mut ledger = Ledger::new(settings, run, fail_after, began, logger.clone());
        if let Some(fleet) = &job.fleet_ledger {
            ledger.with_fleet(fleet);
        }
        ledger
    });
    let mut session = Session {
        notifier: Notifier::from_env(job.hygiene.clone(), logger.clone()),
        logger,
        ledger,
        monitors,
    };
    let signals = match supervise::prepare().context("cannot set up signal handling") {
        Ok(signals) => signals,
        Err(e) => {
            session.logger.error(&format!("{e:#}"));
            return session.end(Ended::before_start(Exit::Internal), None);
        }
    };
    let ended = session.run(
        &job,
        &run_id,
        &host,
        (tick, next_due),
        &signals,
        &limits_of_run,
    );
    session.end(ended, Some(&signals))
}

/// The observers of one run.
struct Session {
    logger: Logger,
    /// Ahead of the monitors: with `--fail-after` they need the count it reads before the finish report.
    ledger: Option<Ledger>,
    monitors: Monitors,
    notifier: Option<Notifier>,
}

/// How a run ended, for the teardown.
struct Ended {
    exit: Exit,
    failed: bool,
    /// The command's output, once it ran, of each attempt: its spool is shown or dropped at the end.
    captures: Vec<Arc<Capture>>,
}

impl Ended {
    /// The command never started: a failure for the held lines of `--quiet`.
    fn before_start(exit: Exit) -> Ended {
        Ended {
            exit,
            failed: true,
            captures: Vec::new(),
        }
    }
}

impl Session {
    fn observers<'a>(&'a mut self, logger: &'a mut Logger) -> Vec<&'a mut dyn Observer> {
        let mut observers: Vec<&mut dyn Observer> = vec![logger];
        if let Some(ledger) = self.ledger.as_mut() {
            observers.push(ledger);
        }
        observers.push(&mut self.monitors);
        if let Some(n) = self.notifier.as_mut() {
            observers.push(n);
        }
        observers
    }

    fn run(
        &mut self,
        job: &Job,
        run_id: &str,
        host: &str,
        (tick, next_due): (Option<SystemTime>, Option<SystemTime>),
        signals: &SignalPipe,
        limits_of_run: &crate::cost::Prepared,
    ) -> Ended {
        let mut logger = self.logger.clone();
        let mut lock = None;
        let mut lease = None;
        if let Some(wanted) = locks::fleet_lock(job, tick) {
            match self.fleet_lock(&wanted, job, run_id, signals) {
                Ok(held) => lease = held,
                Err(ended) => return ended,
            }
        }
        if let Some(wanted) = locks::file_lock(job) {
            let obtained = {
                let mut before = Fanout(self.observers(&mut logger));
                let obtained = lock::obtain(&wanted, signals, &mut before);
                if let Ok(Obtained::Skipped(reason)) = &obtained {
                    before.on_event(&Event::Skipped { reason });
                }
                obtained
            };
            match obtained {
                Ok(Obtained::Held(held)) => lock = Some(held),
                Ok(Obtained::Skipped(_)) => return Ended::before_start(Exit::Locked),
                Ok(Obtained::Interrupted(sig)) => {
                    return Ended::before_start(Exit::Interrupted(sig))
                }
                Err(message) => {
                    self.logger.error(&message);
                    return Ended::before_start(Exit::Internal);
                }
            }
        }
        if let Some(limit) = job.jitter {
            let delay = jitter_delay(limit, job.jitter_seed, &jitter::job_identity(job), host);
            Fanout(self.observers(&mut logger)).on_event(&Event::Jitter { delay });
            if let Some(sig) = signals.pause(delay) {
                return Ended::before_start(Exit::Interrupted(sig as i32));
            }
        }

        if let Some(after) = &job.after {
            let errors = self.logger.clone();
            let mut observers = Fanout(self.observers(&mut logger));
            if let Err(ended) = after::pass(after, &mut observers, signals, &errors) {
                return ended;
            }
        }
        // A lease lost during the jitter sleep (or the wait for --after): another host may run the job by now.
        if let Some(lost) = lease.as_ref().and_then(supervise::Lease::lost) {
            let reason = format!("skipped: {} before the command started", lost.loss);
            Fanout(self.observers(&mut logger)).on_event(&Event::Skipped { reason: &reason });
            return Ended::before_start(Exit::Locked);
        }
        let base_env: Vec<(&'static str, String)> = lease
            .as_ref()
            .map(|l| vec![(fleet::FENCING_VARIABLE, l.fencing_token.to_string())])
            .unwrap_or_default();
        let plan = plan(job, limits_of_run);
        let policy = &job.retry;
        let allowed = policy.retries.saturating_add(1);
        let mut rng = fastrand::Rng::new();
        let mut earlier = Vec::new();
        let mut captures = Vec::new();
        let mut number = 1;
        let run_start = Instant::now();
        let mut first_started = None;
        let mut spent = crate::cost::Cost::default();
        let (mut report, mut attempts) = loop {
            let mut env = base_env.clone();
            env.push((ATTEMPT_VARIABLE, number.to_string()));
            let holding = Holding {
                fd: lock.as_ref().map(|held| held.raw_fd()),
                env,
                lease: lease.as_ref().map(|l| l as &dyn supervise::Lease),
            };
            let mut observers = self.observers(&mut logger);
            if let Some(held) = lock.as_mut() {
                observers.push(held);
            }
            let mut fanout = Fanout(observers);
            let mut attempt = Attempt {
                inner: &mut fanout,
                number,
                pid: None,
                since: run_start,
            };
            let finished = supervise::run(&plan, run_id, tick, &holding, signals, &mut attempt);
            let pid = attempt.pid;
            captures.push(finished.capture.clone());
            let report = finished.report;
            first_started.get_or_insert(report.started_at);
            spent = report.cost.after(&spent);
            let after = retry::After {
                attempt: number,
                outcome: &report.outcome,
                took: report.duration,
                timeout: job.timeout,
                kill_after: job.kill_after,
                now: SystemTime::now(),
                next_due,
            };
            let attempts = |earlier: &[Failed], no_retry| crate::attempts::Attempts {
                made: number,
                allowed,
                earlier: earlier.to_vec(),
                no_retry,
                stopped_waiting: false,
                last_took: None,
            };
            let next = match policy.next(&after, &mut rng) {
                // Asked to stop during the attempt: the run ends with it, whatever its outcome.
                retry::Next::Retry(_) | retry::Next::NoRetry(_) if finished.stop_requested => {
                    retry::Next::NoRetry(STOPPED_ON_REQUEST.to_string())
                }
                next => next,
            };
            let delay = match next {
                retry::Next::End => break (report, attempts(&earlier, None)),
                retry::Next::NoRetry(why) => break (report, attempts(&earlier, Some(why))),
                retry::Next::Retry(delay) => delay,
            };
            fanout.on_event(&Event::Retrying {
                failed: number,
                allowed,
                outcome: &report.outcome,
                delay,
                elapsed: run_start.elapsed(),
            });
            let stop = attempts::wait(
                delay,
                signals,
                &mut fanout,
                pid.unwrap_or(0),
                run_start,
                &finished.capture,
            );
            if let Some(sig) = stop {
                // Stopped on request with no command running: told as a run the signal terminated.
                earlier.push(Failed::new(report.outcome.clone(), &report.tail));
                let mut attempts = attempts(&earlier, None);
                attempts.stopped_waiting = true;
                let stopped = Report {
                    duration: report.duration,
                    outcome: Outcome {
                        status: ChildStatus::Signaled(sig),
                        cause: Some(Cause::Forwarded(sig)),
                    },
                    ..report
                };
                break (stopped, attempts);
            }
            // A lease lost during the wait: another host may run the job by now.
            if let Some(lost) = lease.as_ref().and_then(supervise::Lease::lost) {
                break (report, attempts(&earlier, Some(lost.loss.to_string())));
            }
            earlier.push(Failed::new(report.outcome.clone(), &report.tail));
            number += 1;
        };
        // The run's report: its first start, the whole span, the last attempt's outcome and tail after a
        // line for each earlier failure.
        if number > 1 || attempts.stopped_waiting {
            attempts.last_took = (number > 1).then_some(report.duration);
            report.started_at = first_started.unwrap_or(report.started_at);
            report.duration = run_start.elapsed();
            report.tail = Arc::new(crate::output::after_marker(
                &report.tail,
                &attempts.tail_lines(),
            ));
        }
        report.attempts = attempts;
        report.cost = spent;
        {
            let mut observers = self.observers(&mut logger);
            if let Some(held) = lock.as_mut() {
                observers.push(held);
            }
            Fanout(observers).on_event(&Event::Finished(&report));
        }
        // The command is gone: a waiting or replacing run may start while the finish pings go out.
        if let Some(held) = lock {
            held.release();
        }
        if let Some(warning) = lease.and_then(fleet::Lease::release) {
            self.logger.warn(&warning);
        }
        let outcome = &report.outcome;
        if let ChildStatus::NotStarted { reason, .. } = &outcome.status {
            self.logger.warn(reason);
        }
        // The output that --quiet releases does not say why a success rule failed the run; this line does.
        if job.quiet && matches!(outcome.cause, Some(Cause::Rule(_))) {
            self.logger
                .warn(&format!("the run failed: {}", outcome.describe()));
        }
        Ended {
            exit: outcome.exit(),
            failed: !outcome.succeeded(),
            captures,
        }
    }

    /// Claims the tick and takes the lease of a fleet lock. `Ok(None)`: run without it
    /// (`--lock-unavailable run`); `Err`: the run ends here.
    fn fleet_lock(
        &mut self,
        wanted: &fleet::Wanted<'_>,
        job: &Job,
        run_id: &str,
        signals: &SignalPipe,
    ) -> Result<Option<fleet::Lease>, Ended> {
        let mut logger = self.logger.clone();
        let mut before = Fanout(self.observers(&mut logger));
        let quiet = |exit| Ended {
            exit,
            failed: false,
            captures: Vec::new(),
        };
        match fleet::obtain(wanted, signals, &mut before) {
            fleet::Obtained::Held(lease) => Ok(Some(lease)),
            fleet::Obtained::TickTaken { holder } => {
                if let Some((tick, _)) = wanted.tick {
                    before.on_event(&Event::TickTaken {
                        tick,
                        holder: &holder,
                    });
                }
                Err(quiet(Exit::Locked))
            }
            fleet::Obtained::Skipped(reason) => {
                before.on_event(&Event::Skipped { reason: &reason });
                Err(Ended::before_start(Exit::Locked))
            }
            fleet::Obtained::Interrupted(sig) => Err(Ended::before_start(Exit::Interrupted(sig))),
            fleet::Obtained::Unavailable(reason) => {
                let action = match job.lock_unavailable {
                    LockUnavailable::Fail => "not run (--lock-unavailable fail)",
                    LockUnavailable::Skip => "skipped (--lock-unavailable skip)",
                    LockUnavailable::Run => "running without the lock (--lock-unavailable run)",
                };
                before.on_event(&Event::LockUnavailable {
                    reason: &reason,
                    action,
                });
                match job.lock_unavailable {
                    LockUnavailable::Run => Ok(None),
                    LockUnavailable::Skip => Err(Ended::before_start(Exit::Locked)),
                    LockUnavailable::Fail => {
                        // Told as a run that could not start, as an exec failure is: the monitors
                        // hear that it failed, and why.
                        before.on_event(&Event::Started {
                            run_id,
                            pid: None,
                            name: &job.name,
                            tick: wanted.tick.map(|(tick, _)| tick),
                        });
                        let report = Report {
                            run_id: run_id.to_string(),
                            started_at: SystemTime::now(),
                            duration: std::time::Duration::ZERO,
                            outcome: Outcome {
                                status: ChildStatus::NotStarted {
                                    code: crate::exit::LOCKED,
                                    reason,
                                },
                                cause: None,
                            },
                            tail: Arc::new(Vec::new()),
                            cost: Default::default(),
                            attempts: Default::default(),
                        };
                        before.on_event(&Event::Finished(&report));
                        Err(Ended::before_start(Exit::Locked))
                    }
                }
            }
        }
    }

    /// The one teardown: a run that ended before its command began recorded, the ledger trimmed while
    /// the reports are on their way, the quiet spool shown or dropped, every monitor drained (within the
    /// report deadline; a stop signal meanwhile ends their retries), held lines released.
    fn end(mut self, ended: Ended, signals: Option<&SignalPipe>) -> Exit {
        if let Some(ledger) = self.ledger.as_mut() {
            ledger.end(ended.exit);
            ledger.trim();
            ledger.close_fleet();
        }
        for capture in &ended.captures {
            capture.release_spool(ended.failed);
        }
        self.monitors.wait(signals);
        self.logger.release(ended.failed);
        ended.exit
    }
}

/// Why no retry follows an attempt during which cronbeat was asked to stop.
const STOPPED_ON_REQUEST: &str = "stopped on request";

/// The attempt's number, 1 for the first, in the command's environment.
pub const ATTEMPT_VARIABLE: &str = "CRONBEAT_ATTEMPT";

/// What the supervisor is given of `job`.
fn plan<'a>(job: &'a Job, limits_of_run: &'a crate::cost::Prepared) -> supervise::Plan<'a> {
    supervise::Plan {
        command: &job.command,
        name: &job.name,
        limits: supervise::Limits {
            timeout: job.timeout,
            idle_timeout: job.idle_timeout,
            kill_after: job.kill_after,
            stop_on_lock_lost: job.on_lock_lost == crate::kinds::OnLockLost::Kill,
        },
        quiet: job.quiet,
        tail: job.tail,
        rules: &job.rules,
        hygiene: &job.hygiene,
        limits_of_run,
        env_files: &job.env_files,
    }
}

/// A closed stdin, stdout or stderr would be reused by the next file cronbeat opens (a pipe, the lock),
/// and the command's output would land there. Park /dev/null on them instead.
pub fn guard_standard_fds() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only queries the descriptor; open(2) of a constant path touches no Rust memory.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}
