//! Supervision of one run: spawn, deadline, signal forwarding, reaping, and clean-up of leftovers.

mod reaper;
pub mod signals;
mod spawn;
mod terminal;

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::events::{Event, Observer, Report, Running};
use crate::outcome::{Cause, ChildStatus, Outcome, Rules};
use crate::output::{Capture, Hygiene, Pump, Spool, Stream};
pub use signals::SignalPipe;

/// After the group is gone, a pipe still silent this long is held by an escaped process: stop reading.
const DRAIN_QUIET: Duration = Duration::from_millis(250);
/// How often a drain that is taking long checks whether the pipe's holder is still ours.
const DRAIN_CHECK: Duration = Duration::from_millis(50);
/// After the group is gone, output from an escaped process is passed on at most this long.
const DRAIN_CAP: Duration = Duration::from_secs(1);
/// How often to look again at a group whose members are not our children (no SIGCHLD for them).
const GROUP_POLL: Duration = Duration::from_millis(20);

pub struct Plan {
    pub command: Vec<OsString>,
    pub run_id: String,
    /// The `--lock` descriptor: the command inherits it, so the lock is held while any process of the
    /// run lives, even one that outlives a killed cronbeat, as with flock(1).
    pub lock_fd: Option<RawFd>,
    pub timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub kill_after: Duration,
    pub tail: usize,
    pub quiet: bool,
    pub rules: Rules,
    pub hygiene: Hygiene,
}

pub struct Finished {
    pub report: Report,
    pub capture: Arc<Capture>,
}

pub fn prepare() -> std::io::Result<SignalPipe> {
    reaper::become_subreaper();
    SignalPipe::install()
}

/// Runs the command to its end and returns how it ended. Never fails: an exec failure is an outcome.
pub fn run(plan: &Plan, signals: &SignalPipe, observer: &mut dyn Observer) -> Finished {
    let spool = if plan.quiet {
        // No spool, no hiding: the output is shown rather than lost.
        Spool::create().ok()
    } else {
        None
    };
    let capture = Capture::new(plan.tail, spool);
    let started_at = SystemTime::now();
    let start = Instant::now();

    let spawned = match spawn::spawn(&plan.command, &plan.run_id, plan.lock_fd) {
        Ok(s) => s,
        Err(e) => {
            observer.on_event(&Event::Started {
                run_id: &plan.run_id,
                pid: None,
            });
            let outcome = Outcome {
                status: ChildStatus::NotStarted {
                    code: e.code,
                    reason: e.reason,
                },
                cause: None,
            };
            return finish(plan, capture, started_at, start, outcome, observer);
        }
    };
    let pid = Pid::from_raw(spawned.pid as i32);
    let (finished_tx, finished_rx) = mpsc::channel();
    let pumps: Vec<Pump> = [
        (spawned.stdout, Stream::Stdout),
        (spawned.stderr, Stream::Stderr),
    ]
    .into_iter()
    .filter_map(|(fd, stream)| Pump::start(fd, stream, capture.clone(), finished_tx.clone()).ok())
    .collect();
    drop(finished_tx);
    let foreground = terminal::Foreground::hand_over(pid);
    observer.on_event(&Event::Started {
        run_id: &plan.run_id,
        pid: Some(spawned.pid),
    });

    let (status, cause) = watch(plan, pid, start, &capture, signals, observer);
    drop(foreground);
    let running = Running {
        pid: spawned.pid,
        since: start,
        capture: &capture,
    };
    clean_up_group(pid, plan.kill_after, signals, observer, &running);
    drain(pumps, &finished_rx, pid);

    let status = match status {
        WaitStatus::Exited(_, code) => ChildStatus::Exited(code),
        WaitStatus::Signaled(_, sig, _) => ChildStatus::Signaled(sig as i32),
        _ => unreachable!("watch returns only exit statuses"),
    };
    finish(
        plan,
        capture,
        started_at,
        start,
        Outcome { status, cause },
        observer,
    )
}

fn finish(
    plan: &Plan,
    capture: Arc<Capture>,
    started_at: SystemTime,
    start: Instant,
    mut outcome: Outcome,
    observer: &mut dyn Observer,
) -> Finished {
    let duration = start.elapsed();
    outcome.cause = plan.rules.judge(&outcome, duration, capture.saw_stderr());
    let (kept, seen) = capture.tail_and_total();
    let report = Report {
        run_id: plan.run_id.clone(),
        started_at,
        duration,
        outcome,
        tail: plan.hygiene.report_tail(&kept, seen),
    };
    observer.on_event(&Event::Finished(&report));
    Finished { report, capture }
}

/// Waits for the main child, enforcing the deadline and the idle timeout, relaying signals and
/// running the observers' timers, until it has exited.
fn watch(
    plan: &Plan,
    pid: Pid,
    start: Instant,
    capture: &Capture,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
) -> (WaitStatus, Option<Cause>) {
    let deadline = plan.timeout.map(|t| start + t);
    let mut cause: Option<Cause> = None;
    // Set once cronbeat itself stopped the command (deadline or idle): the first reason stands.
    let mut enforced = false;
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    let running = Running {
        pid: pid.as_raw() as u32,
        since: start,
        capture,
    };
    loop {
        if let Some(status) = reaper::reap(pid) {
            return (status, cause);
        }
        let now = Instant::now();
        let silent_until = plan.idle_timeout.map(|idle| capture.last_output() + idle);
        if !enforced {
            let stop = match (plan.timeout, deadline, plan.idle_timeout, silent_until) {
                (Some(limit), Some(at), _, _) if now >= at => {
                    observer.on_event(&Event::TimedOut { after: limit });
                    Some(Cause::Timeout(limit))
                }
                (_, _, Some(idle), Some(at)) if now >= at => {
                    observer.on_event(&Event::Idle { after: idle });
                    Some(Cause::Idle(idle))
                }
                _ => None,
            };
            if let Some(stop) = stop {
                enforced = true;
                if !matches!(cause, Some(Cause::Forwarded(_))) {
                    cause = Some(stop);
                }
                terminate(pid);
                kill_at =
                    Some(kill_at.map_or(now + plan.kill_after, |k| k.min(now + plan.kill_after)));
            }
        }
        if let Some(at) = kill_at {
            if !killed && now >= at {
                killed = true;
                observer.on_event(&Event::Killed {
                    reason: "still running after the --kill-after grace",
                });
                reaper::signal_group(pid, Signal::SIGKILL);
            }
        }
        if observer.next_tick().is_some_and(|at| at <= now) {
            observer.on_tick(now, &running);
        }
        let next = [
            deadline.filter(|_| !enforced),
            silent_until.filter(|_| !enforced),
            kill_at.filter(|_| !killed),
            observer.next_tick(),
        ]
        .into_iter()
        .flatten()
        .min();
        let wait = next.map(|at| at.saturating_duration_since(Instant::now()));
        for sig in signals.wait(wait) {
            if sig == Signal::SIGCHLD {
                continue;
            }
            reaper::signal_group(pid, sig);
            observer.on_event(&Event::SignalForwarded { signal: sig as i32 });
            if signals::is_terminating(sig) {
                // A stopped command could not act on the signal.
                reaper::signal_group(pid, Signal::SIGCONT);
                if cause.is_none() {
                    cause = Some(Cause::Forwarded(sig as i32));
                }
                if kill_at.is_none() {
                    kill_at = Some(Instant::now() + plan.kill_after);
                }
            }
        }
    }
}

fn terminate(group: Pid) {
    reaper::signal_group(group, Signal::SIGTERM);
    // A stopped process cannot act on SIGTERM until it is continued (systemd does the same).
    reaper::signal_group(group, Signal::SIGCONT);
}

/// What is left of the group after the main child exited: SIGTERM, the grace, then SIGKILL.
/// The observers' timers keep running meanwhile: the job is not over while its leftovers live.
fn clean_up_group(
    group: Pid,
    grace: Duration,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
    running: &Running<'_>,
) {
    if !reaper::group_alive(group) {
        return;
    }
    terminate(group);
    let kill_at = Instant::now() + grace;
    let mut killed = false;
    while reaper::group_alive(group) {
        let _ = reaper::reap(group);
        if !killed && Instant::now() >= kill_at {
            killed = true;
            observer.on_event(&Event::Killed {
                reason: "processes left in the command's group after the grace",
            });
            reaper::signal_group(group, Signal::SIGKILL);
        }
        let now = Instant::now();
        if observer.next_tick().is_some_and(|at| at <= now) {
            observer.on_tick(now, running);
        }
        for sig in signals.wait(Some(GROUP_POLL)) {
            if sig != Signal::SIGCHLD {
                reaper::signal_group(group, sig);
            }
        }
    }
    let _ = reaper::reap(group);
}

/// Waits for the pumps to copy everything. Once the group is gone all of its output is in the
/// pipes; a pipe that stays open after that is held by a process that escaped the group, whose
/// output is passed on only until the pipe falls silent or `DRAIN_CAP` passes. Then the pumps
/// copy what is buffered and stop. A pump writing to a slow reader is waited for: nothing is dropped.
fn drain(pumps: Vec<Pump>, finished: &mpsc::Receiver<()>, group: Pid) {
    let mut open = pumps.len();
    let mut gone_at: Option<Instant> = None;
    while open > 0 {
        match finished.recv_timeout(DRAIN_CHECK) {
            Ok(()) => open -= 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if gone_at.is_none() && !reaper::group_alive(group) {
                    gone_at = Some(Instant::now());
                }
                if let Some(at) = gone_at {
                    let quiet = pumps.iter().all(|p| p.is_done() || p.is_quiet(DRAIN_QUIET));
                    if quiet || at.elapsed() >= DRAIN_CAP {
                        pumps.into_iter().for_each(Pump::finish);
                        return;
                    }
                }
            }
        }
    }
    for pump in pumps {
        pump.join();
    }
}
