//! Supervision of one run: spawn, deadline, signal forwarding, reaping, and clean-up of leftovers.

pub mod cgroup;
mod machine;
mod reaper;
mod scope;
pub mod signals;
mod spawn;
mod terminal;

use std::os::fd::RawFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use crate::events::{Event, Observer, Report, Running};
use crate::outcome::{ChildStatus, Outcome};
use crate::output::{Capture, Pump, Spool, Stream};
use machine::{Action, Ending, Input, Left, Machine, Notice, Target, KILL_WAIT};
pub use machine::{Limits, Lost};
use scope::Scope;
pub use signals::SignalPipe;

/// After the group is gone, a pipe still silent this long is held by an escaped process: stop reading.
const DRAIN_QUIET: Duration = Duration::from_millis(250);
/// How often a drain that is taking long checks whether the pipe's holder is still ours.
const DRAIN_CHECK: Duration = Duration::from_millis(50);
/// After the group is gone, output from an escaped process is passed on at most this long.
const DRAIN_CAP: Duration = Duration::from_secs(1);
/// The longest the supervisor waits without looking whether the command has exited.
const REAP_CHECK: Duration = Duration::from_secs(1);
/// How often to look again at leftovers that are not our children (no SIGCHLD for them).
const LEFTOVERS_POLL: Duration = Duration::from_millis(20);

/// What the run's lock gives the command and asks of the supervisor.
#[derive(Default)]
pub struct Holding<'a> {
    /// The held `--lock` file: the command inherits it, so the lock is held while any process of the
    /// run lives, even one that outlives a killed cronbeat, as with flock(1).
    pub fd: Option<RawFd>,
    /// Added to the command's environment (`CRONBEAT_FENCING_TOKEN`).
    pub env: Vec<(&'static str, String)>,
    /// A fleet lock's lease, asked at every wake whether it was lost (its keeper wakes the supervisor
    /// when it is).
    pub lease: Option<&'a dyn Lease>,
}

/// What the supervisor is given of the job: the command, the bounds of its run and how its end counts.
pub struct Plan<'a> {
    pub command: &'a [std::ffi::OsString],
    /// The job's name (`--name`), for the observers.
    pub name: &'a str,
    pub limits: Limits,
    /// `--quiet`: the output is spooled and shown only if the run fails.
    pub quiet: bool,
    /// How many bytes of output the report keeps (`--tail`).
    pub tail: usize,
    pub rules: &'a crate::outcome::Rules,
    pub hygiene: &'a crate::output::Hygiene,
    /// The run's cgroups made ready: where its cgroup v2 is made, and `--memory-max` and `--tasks-max`.
    pub limits_of_run: &'a crate::cost::Prepared,
    /// The command's variables from `--env-file`.
    pub env_files: &'a [(String, std::ffi::OsString)],
}

pub trait Lease {
    fn lost(&self) -> Option<Lost>;
}

pub struct Finished {
    pub report: Report,
    pub capture: Arc<Capture>,
    /// A terminating signal reached cronbeat during the attempt: the run was asked to stop, whatever
    /// the outcome says (the deadline's stop was under way, or only leftovers lived), so no retry follows.
    pub stop_requested: bool,
}

pub fn prepare() -> std::io::Result<SignalPipe> {
    reaper::become_subreaper();
    SignalPipe::install()
}

/// Runs the command to its end and returns how it ended. Never fails: an exec failure is an outcome.
/// `lock_fd` is the held `--lock`: the command inherits it, so the lock is held while any process of the
/// run lives, even one that outlives a killed cronbeat, as with flock(1). `tick` is the scheduled time
/// the run serves, for the command (`CRONBEAT_TICK`) and the observers.
pub fn run(
    plan: &Plan<'_>,
    run_id: &str,
    tick: Option<SystemTime>,
    held: &Holding<'_>,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
) -> Finished {
    let spool = if plan.quiet {
        // No spool, no hiding: the output is shown rather than lost.
        Spool::create().ok()
    } else {
        None
    };
    let capture = Capture::new(plan.tail, spool);
    let started_at = SystemTime::now();
    let start = Instant::now();

    // `--stderr-fails` must see whether stderr was written, which one pipe cannot tell: it keeps two.
    let one_pipe = !plan.rules.stderr_fails && crate::output::same_destination();
    let tick_text = tick.map(crate::schedule::rfc3339_utc);
    let (finished_tx, finished_rx) = mpsc::channel();
    // The readers of the command's output exist before the command does: one that cannot start (no
    // memory left) is cronbeat's own failure, found before anything runs, never output left unread.
    let streams = if one_pipe {
        &[Stream::Stdout][..]
    } else {
        &[Stream::Stdout, Stream::Stderr][..]
    };
    let mut pumps = Vec::new();
    let mut feeds = Vec::new();
    for stream in streams {
        match Pump::ready(*stream, capture.clone(), finished_tx.clone()) {
            Ok((pump, feed)) => {
                pumps.push(pump);
                feeds.push(feed);
            }
            // Without memory for a thread, the orderly end (the ledger, the reports) would fail
            // too, each in its own way: one line and the internal-failure status, before anything ran.
            Err(e) => crate::crash::internal_error(format_args!(
                "cannot start a reader of the command's output: {e}; the command was not started"
            )),
        }
    }
    drop(finished_tx);
    let mut scope = Scope::new(run_id, plan.limits_of_run.home());
    let join = plan.limits_of_run.join_fds();
    let meter = crate::cost::Meter::start();
    let counted_before = plan.limits_of_run.begin_attempt();
    let spawned = match scope.spawn(plan.limits_of_run, |cgroup| {
        let launch = spawn::Launch {
            run_id,
            tick: tick_text.as_deref(),
            lock_fd: held.fd,
            env: &held.env,
            env_files: plan.env_files,
            cgroup,
            one_pipe,
            join: &join,
            limited: plan.limits_of_run.needs_v2(),
        };
        spawn::spawn(plan.command, &launch)
    }) {
        Ok(s) => s,
        Err(e) => {
            observer.on_event(&Event::Started {
                run_id,
                pid: None,
                name: plan.name,
                tick,
            });
            let outcome = Outcome {
                status: ChildStatus::NotStarted {
                    code: e.code,
                    reason: e.reason,
                },
                cause: None,
            };
            let cost = crate::cost::Cost {
                memory_limit: plan.limits_of_run.limits.memory_max,
                tasks_limit: plan.limits_of_run.limits.tasks_max,
                ..Default::default()
            };
            return finish(
                plan, run_id, capture, started_at, start, outcome, cost, observer,
            );
        }
    };
    let pid = Pid::from_raw(spawned.pid as i32);
    // One shared pipe is copied to cronbeat's stdout, the same place as its stderr.
    let mut feeds = feeds.into_iter();
    for fd in std::iter::once(spawned.stdout).chain(spawned.stderr) {
        if let Some(feed) = feeds.next() {
            feed.give(fd);
        }
    }
    let foreground = terminal::Foreground::hand_over(pid);
    observer.on_event(&Event::Started {
        run_id,
        pid: Some(spawned.pid),
        name: plan.name,
        tick,
    });

    let mut machine = Machine::new(plan.limits, start);
    let running = Running {
        pid: spawned.pid,
        since: start,
        capture: &capture,
    };
    let shell = Shell {
        group: pid,
        scope: &scope,
    };
    let status = watch(
        &mut machine,
        &shell,
        &running,
        held.lease,
        signals,
        observer,
    );
    let ending = Ending {
        signal: match status {
            WaitStatus::Signaled(_, sig, _) => Some(sig),
            _ => None,
        },
        held_terminal: foreground.held_by(pid),
    };
    drop(foreground);
    clean_up(
        &mut machine,
        &shell,
        ending,
        held.lease,
        signals,
        observer,
        &running,
    );
    let cause = machine.cause();
    let stop_requested = machine.stop_requested();
    let status = match status {
        WaitStatus::Exited(_, code) => ChildStatus::Exited(code),
        WaitStatus::Signaled(_, sig, _) => ChildStatus::Signaled(sig as i32),
        _ => unreachable!("watch returns only exit statuses"),
    };
    // Read before the cgroups go: what they counted goes with them.
    let counted = scope
        .reading()
        .or(plan.limits_of_run.read().since(&counted_before));
    let sigkill_unsent = cause.is_none() && status == ChildStatus::Signaled(libc::SIGKILL);
    let cost = meter.finish(&counted, &plan.limits_of_run.limits, sigkill_unsent);
    // Nothing of the run is left in its cgroup: remove it.
    drop(scope);
    drain(pumps, &finished_rx, pid);

    let mut finished = finish(
        plan,
        run_id,
        capture,
        started_at,
        start,
        Outcome { status, cause },
        cost,
        observer,
    );
    finished.stop_requested = stop_requested;
    finished
}

#[allow(clippy::too_many_arguments)]
fn finish(
    plan: &Plan<'_>,
    run_id: &str,
    capture: Arc<Capture>,
    started_at: SystemTime,
    start: Instant,
    mut outcome: Outcome,
    cost: crate::cost::Cost,
    observer: &mut dyn Observer,
) -> Finished {
    let duration = start.elapsed();
    outcome.cause = plan.rules.judge(&outcome, duration, capture.saw_stderr());
    // The OOM killer's part is told where the run failed and nothing of cronbeat's stopped it.
    if cost.oom_killed
        && !outcome.succeeded()
        && matches!(outcome.cause, None | Some(crate::outcome::Cause::Rule(_)))
    {
        outcome.cause = Some(crate::outcome::Cause::Oom {
            peak: cost.peak_memory,
            limit: cost.memory_limit,
        });
    }
    let (kept, seen) = capture.take_tail();
    let report = Report {
        run_id: run_id.to_string(),
        started_at,
        duration,
        outcome,
        tail: Arc::new(plan.hygiene.report_tail(kept, seen)),
        cost,
        attempts: Default::default(),
    };
    observer.on_event(&Event::Finished(&report));
    Finished {
        report,
        capture,
        stop_requested: false,
    }
}

/// Waits for the main child while the machine enforces the bounds and relays signals, and runs the
/// observers' timers, until the child has exited.
fn watch(
    machine: &mut Machine,
    shell: &Shell<'_>,
    running: &Running<'_>,
    lease: Option<&dyn Lease>,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
) -> WaitStatus {
    loop {
        if let Some(status) = reaper::reap(shell.group) {
            return status;
        }
        let now = Instant::now();
        let last_output = running.capture.last_output();
        shell.heed(machine, lease, now, last_output, observer);
        shell.perform(machine.step(Input::Tick, now, last_output), observer);
        if observer.next_tick().is_some_and(|at| at <= now) {
            observer.on_tick(now, running);
        }
        let next = [machine.next_wake(last_output), observer.next_tick()]
            .into_iter()
            .flatten()
            .min();
        // SIGCHLD wakes the wait; a wake-up lost anyway (seen once in some forty test-suite runs, the
        // command gone and cronbeat still waiting) costs at most `REAP_CHECK`, never the run.
        let wait = Some(next.map_or(REAP_CHECK, |at| {
            at.saturating_duration_since(Instant::now()).min(REAP_CHECK)
        }));
        for sig in signals.wait(wait) {
            let actions = machine.step(Input::Signal(sig), Instant::now(), last_output);
            shell.perform(actions, observer);
        }
    }
}

/// What the command left behind, in its group or not: SIGTERM, the grace, then SIGKILL, as the machine
/// says, until nothing of the run is left. The observers' timers keep running meanwhile: the job is not
/// over while its leftovers live.
fn clean_up(
    machine: &mut Machine,
    shell: &Shell<'_>,
    ending: Ending,
    lease: Option<&dyn Lease>,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
    running: &Running<'_>,
) {
    // Whatever exited already is no leftover.
    let _ = reaper::reap(shell.group);
    let leftovers = shell.scope.census(shell.group);
    let now = Instant::now();
    let last_output = running.capture.last_output();
    shell.perform(
        machine.step(Input::ChildExited { ending, leftovers }, now, last_output),
        observer,
    );
    while !machine.is_done() {
        let _ = reaper::reap(shell.group);
        let now = Instant::now();
        if !shell.scope.alive(shell.group) {
            shell.perform(machine.step(Input::AllGone, now, last_output), observer);
            break;
        }
        shell.heed(machine, lease, now, last_output, observer);
        shell.perform(machine.step(Input::Tick, now, last_output), observer);
        if observer.next_tick().is_some_and(|at| at <= now) {
            observer.on_tick(now, running);
        }
        for sig in signals.wait(Some(LEFTOVERS_POLL)) {
            let actions = machine.step(Input::Signal(sig), Instant::now(), last_output);
            shell.perform(actions, observer);
        }
    }
    let _ = reaper::reap(shell.group);
}

/// What the machine's actions act on: the command's process group, and everything of the run.
struct Shell<'a> {
    group: Pid,
    scope: &'a Scope,
}

impl Shell<'_> {
    /// Tells the machine of a lost lease (it acts on the first news only).
    fn heed(
        &self,
        machine: &mut Machine,
        lease: Option<&dyn Lease>,
        now: Instant,
        last_output: Instant,
        observer: &mut dyn Observer,
    ) {
        if let Some(lost) = lease.and_then(|l| l.lost()) {
            let actions = machine.step(Input::LockLost(lost), now, last_output);
            self.perform(actions, observer);
        }
    }

    /// Carries out the machine's decisions.
    fn perform(&self, actions: Vec<Action>, observer: &mut dyn Observer) {
        for action in actions {
            match action {
                Action::Send(Target::Group, sig) => reaper::signal_group(self.group, sig),
                Action::Send(Target::All, sig) => self.scope.signal(self.group, sig),
                Action::Emit(Notice::TimedOut(after)) => {
                    observer.on_event(&Event::TimedOut { after })
                }
                Action::Emit(Notice::Idle(after)) => observer.on_event(&Event::Idle { after }),
                Action::Emit(Notice::Forwarded(sig)) => {
                    observer.on_event(&Event::SignalForwarded { signal: sig as i32 })
                }
                Action::Emit(Notice::LeftBehind(left)) => {
                    let processes = match left {
                        Left::Counted(n) => Some(n),
                        Left::Nothing | Left::Uncounted => None,
                    };
                    observer.on_event(&Event::Leftovers { processes })
                }
                Action::Emit(Notice::Killed(reason)) => {
                    observer.on_event(&Event::Killed { reason })
                }
                Action::Emit(Notice::GaveUp) => observer.on_event(&Event::GaveUp {
                    after: KILL_WAIT,
                    processes: &self.scope.remaining(),
                }),
                Action::Emit(Notice::LockLost { loss, stopping }) => {
                    observer.on_event(&Event::LockLost {
                        reason: &loss.to_string(),
                        stopping,
                    })
                }
                Action::Done => {}
            }
        }
    }
}

/// Waits for the pumps to copy everything. Once the group is gone all of its output is in the
/// pipes; a pipe that stays open after that is held by a process beyond cronbeat's reach (another
/// user's, or one handed on to a process outside the run: the clean-up stopped everything it could
/// find), whose output is passed on only until the pipe falls silent or `DRAIN_CAP` passes. Then the pumps
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
