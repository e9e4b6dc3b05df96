//! The supervision rules as a pure state machine: what to do about the deadline, the idle timeout, a
//! signal cronbeat received, the grace before SIGKILL, how the command's end counts (a Ctrl-C in the
//! terminal) and what the command left behind when it exited. It makes no system calls and reads no
//! clock: the shell in `mod.rs` feeds it inputs with the time and carries out its actions, so every
//! rule is unit-tested here.
//!
//! Two targets for signals: the command's process group, where forwarded signals go, and everything
//! of the run (the group and every process the command started that left it: daemons, double forks),
//! which cronbeat stops when it ends the run itself (deadline, idle) and after the command exited.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::signals::is_terminating;
use crate::outcome::{Cause, LockLoss};

/// The bounds of one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL, for every stop (deadline, idle, forwarded signal, leftovers).
    pub kill_after: Duration,
    /// `--on-lock-lost kill`: a lost fleet lease stops the command (else it is only reported).
    pub stop_on_lock_lost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Time has passed: look at the timers.
    Tick,
    /// cronbeat received this signal.
    Signal(Signal),
    /// The command (the group leader) was reaped; `leftovers` is what of the run still lives.
    ChildExited { ending: Ending, leftovers: Left },
    /// Nothing of the run is left.
    AllGone,
    /// The fleet lock's lease was lost: another holder may start the job once it expires.
    LockLost(Lost),
}

/// A lost lease, and the moment by which nothing of the run may live (under `--on-lock-lost kill`):
/// before the lease can expire on the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lost {
    pub loss: LockLoss,
    pub dead_by: Instant,
}

/// How the command ended, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ending {
    /// The signal it died of, if it did.
    pub signal: Option<Signal>,
    /// Its group held the terminal's foreground: a Ctrl-C or Ctrl-\ typed there went to it, not to
    /// cronbeat, so its death by SIGINT or SIGQUIT is someone's request, not a crash.
    pub held_terminal: bool,
}

/// What the command left behind when it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    Nothing,
    /// This many processes.
    Counted(usize),
    /// Some, but cronbeat cannot tell which or how many (no cgroup, and /proc is not this pid
    /// namespace's); it signals them as a whole.
    Uncounted,
}

/// What the run should be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    TimedOut(Duration),
    Idle(Duration),
    Forwarded(Signal),
    /// Stopping what the command left behind.
    LeftBehind(Left),
    Killed(&'static str),
    /// Leftovers still there [`KILL_WAIT`] after their SIGKILL: cronbeat stops waiting for them.
    GaveUp,
    /// The fleet lease was lost; `stopping` when the command is stopped for it.
    LockLost {
        loss: LockLoss,
        stopping: bool,
    },
}

/// Whom a signal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The command's process group.
    Group,
    /// Every process of the run: the group and whatever left it.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to this target.
    Send(Target, Signal),
    Emit(Notice),
    /// Supervision is over.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The command runs.
    Running,
    /// The command exited; what it left behind lives on and is being stopped.
    Leftovers,
    Done,
}

pub const KILLED_AFTER_GRACE: &str = "still running after the --kill-after grace";
pub const KILLED_LEFTOVERS: &str =
    "processes the command left behind, still running after the grace";

/// How long leftovers may take to go after their SIGKILL before cronbeat stops waiting for them, as
/// systemd gives up after `TimeoutStopSec=`. SIGKILL takes effect within milliseconds unless the
/// process is held in the kernel (uninterruptible sleep on a dead NFS server or a stuck device, a
/// frozen cgroup): waiting longer for that would hold up the run's report and the next run for nothing.
pub const KILL_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Machine {
    limits: Limits,
    deadline: Option<Instant>,
    phase: Phase,
    cause: Option<Cause>,
    /// Set once cronbeat itself stopped the command (deadline or idle): the first reason stands, and
    /// everything of the run had SIGTERM.
    enforced: bool,
    kill_at: Option<Instant>,
    killed: bool,
    /// When what is left last got its first SIGKILL: the start of [`KILL_WAIT`].
    killed_at: Option<Instant>,
    /// A lost lease was seen (it is acted on once).
    lock_lost: bool,
    /// A terminating signal reached cronbeat while the command or its leftovers lived: whatever the
    /// attempt's outcome, the run was asked to stop, and no further attempt may start.
    stop_requested: bool,
}

impl Machine {
    pub fn new(limits: Limits, start: Instant) -> Machine {
        Machine {
            limits,
            deadline: limits.timeout.map(|t| start + t),
            phase: Phase::Running,
            cause: None,
            enforced: false,
            kill_at: None,
            killed: false,
            killed_at: None,
            lock_lost: false,
            stop_requested: false,
        }
    }

    /// Why cronbeat stopped the command, if it did.
    pub fn cause(&self) -> Option<Cause> {
        self.cause
    }

    /// Whether cronbeat was asked to stop (a terminating signal came) during the attempt.
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next time a `Tick` has something to do; `last_output` is when the command last printed.
    pub fn next_wake(&self, last_output: Instant) -> Option<Instant> {
        let running = self.phase == Phase::Running && !self.enforced;
        [
            self.deadline.filter(|_| running),
            self.silent_until(last_output).filter(|_| running),
            self.kill_at
                .filter(|_| !self.killed && self.phase != Phase::Done),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn silent_until(&self, last_output: Instant) -> Option<Instant> {
        self.limits.idle_timeout.map(|idle| last_output + idle)
    }

    pub fn step(&mut self, input: Input, now: Instant, last_output: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match (self.phase, input) {
            (Phase::Done, _) => {}
            (_, Input::AllGone) => {
                self.phase = Phase::Done;
                actions.push(Action::Done);
            }
            (Phase::Running, Input::ChildExited { ending, leftovers }) => {
                self.judge_ending(ending);
                if leftovers == Left::Nothing {
                    self.phase = Phase::Done;
                    actions.push(Action::Done);
                } else {
                    self.phase = Phase::Leftovers;
                    self.stop_leftovers(leftovers, now, &mut actions);
                }
            }
            (Phase::Leftovers, Input::ChildExited { .. }) => {}
            (Phase::Running, Input::Tick) => {
                self.enforce(now, last_output, &mut actions);
                // Only a stop of cronbeat's own sent SIGTERM beyond the group.
                let target = if self.enforced {
                    Target::All
                } else {
                    Target::Group
                };
                self.kill_when_due(now, KILLED_AFTER_GRACE, target, &mut actions);
            }
            (Phase::Leftovers, Input::Tick) => {
                if self.killed && self.killed_at.is_some_and(|at| now >= at + KILL_WAIT) {
                    self.phase = Phase::Done;
                    actions.push(Action::Emit(Notice::GaveUp));
                    actions.push(Action::Done);
                } else if self.killed {
                    // A process forked while the last SIGKILL went round escaped it: go round again.
                    actions.push(Action::Send(Target::All, Signal::SIGKILL));
                } else {
                    self.kill_when_due(now, KILLED_LEFTOVERS, Target::All, &mut actions);
                }
            }
            (_, Input::Signal(Signal::SIGCHLD)) => {}
            (Phase::Running, Input::Signal(sig)) => {
                actions.push(Action::Send(Target::Group, sig));
                actions.push(Action::Emit(Notice::Forwarded(sig)));
                if is_terminating(sig) {
                    self.stop_requested = true;
                    // A stopped command could not act on the signal.
                    actions.push(Action::Send(Target::Group, Signal::SIGCONT));
                    if self.cause.is_none() {
                        self.cause = Some(Cause::Forwarded(sig as i32));
                    }
                    if self.kill_at.is_none() {
                        self.kill_at = Some(now + self.limits.kill_after);
                    }
                }
            }
            // The leftovers are stopped already; a signal still reaches them, without another grace.
            (Phase::Leftovers, Input::Signal(sig)) => {
                self.stop_requested |= is_terminating(sig);
                actions.push(Action::Send(Target::All, sig));
            }
            (Phase::Running, Input::LockLost(lost)) => self.lock_lost(lost, now, &mut actions),
            // The command has ended: what it left is being stopped anyway, but must be gone in time too.
            (Phase::Leftovers, Input::LockLost(lost)) => {
                if !self.lock_lost && self.limits.stop_on_lock_lost {
                    self.lock_lost = true;
                    self.kill_by(lost.dead_by);
                }
            }
        }
        actions
    }

    /// A lost lease means another host may run the job once it expires: unless told only to warn, the
    /// run is stopped as at the deadline, with SIGKILL no later than `dead_by`, and the loss is the cause
    /// unless the run was already being stopped for a reason of its own (the first reason stands; a
    /// stop under way is not signalled again, but its SIGKILL comes by `dead_by` and reaches everything).
    fn lock_lost(&mut self, lost: Lost, now: Instant, actions: &mut Vec<Action>) {
        if self.lock_lost {
            return;
        }
        self.lock_lost = true;
        let stopping = self.limits.stop_on_lock_lost;
        actions.push(Action::Emit(Notice::LockLost {
            loss: lost.loss,
            stopping,
        }));
        if !stopping {
            return;
        }
        if self.cause.is_none() {
            self.cause = Some(Cause::LockLost(lost.loss));
        }
        if !self.enforced && self.kill_at.is_none() {
            terminate(Target::All, actions);
            self.kill_at = Some(now + self.limits.kill_after);
        }
        self.enforced = true;
        self.kill_by(lost.dead_by);
    }

    /// SIGKILL no later than `at`.
    fn kill_by(&mut self, at: Instant) {
        self.kill_at = Some(self.kill_at.map_or(at, |k| k.min(at)));
    }

    /// What the command left behind gets SIGTERM, the grace, SIGKILL. When the command exited during a
    /// stop (the deadline, idle, a forwarded SIGTERM, SIGINT, SIGHUP or SIGQUIT) that stop has one
    /// grace, which its leftovers share, so a stop ends within one `--kill-after` (the platform's own
    /// grace, `TimeoutStopSec=` or `terminationGracePeriodSeconds`, is planned on that): they get
    /// SIGTERM unless the stop already sent it to everything (cronbeat's own stops do; a forwarded
    /// signal reaches only the group, and a second SIGTERM can cut a shutdown short), and SIGKILL when
    /// the stop's grace ends, or at once when it has ended.
    fn stop_leftovers(&mut self, leftovers: Left, now: Instant, actions: &mut Vec<Action>) {
        actions.push(Action::Emit(Notice::LeftBehind(leftovers)));
        let stopping = self.kill_at.is_some();
        if !stopping {
            terminate(Target::All, actions);
            self.kill_at = Some(now + self.limits.kill_after);
        } else if self.killed {
            self.killed_at = Some(now);
            actions.push(Action::Emit(Notice::Killed(KILLED_LEFTOVERS)));
            actions.push(Action::Send(Target::All, Signal::SIGKILL));
        } else if !self.enforced {
            terminate(Target::All, actions);
        }
    }

    /// A death by SIGINT or SIGQUIT while the command held the terminal came from the keyboard: the
    /// run was stopped on request, as if cronbeat had forwarded the signal. A reason found earlier (the
    /// deadline, a forwarded signal) stands.
    fn judge_ending(&mut self, ending: Ending) {
        if let (Some(sig @ (Signal::SIGINT | Signal::SIGQUIT)), true, None) =
            (ending.signal, ending.held_terminal, self.cause)
        {
            self.cause = Some(Cause::Interrupted(sig as i32));
        }
    }

    fn enforce(&mut self, now: Instant, last_output: Instant, actions: &mut Vec<Action>) {
        if self.enforced {
            return;
        }
        let stop = match (self.limits.timeout, self.deadline) {
            (Some(limit), Some(at)) if now >= at => {
                Some((Notice::TimedOut(limit), Cause::Timeout(limit)))
            }
            _ => match (self.limits.idle_timeout, self.silent_until(last_output)) {
                (Some(idle), Some(at)) if now >= at => {
                    Some((Notice::Idle(idle), Cause::Idle(idle)))
                }
                _ => None,
            },
        };
        let Some((notice, cause)) = stop else {
            return;
        };
        actions.push(Action::Emit(notice));
        self.enforced = true;
        if !matches!(self.cause, Some(Cause::Forwarded(_))) {
            self.cause = Some(cause);
        }
        // The run is over: whatever the command started goes too, in its group or not.
        terminate(Target::All, actions);
        let grace_end = now + self.limits.kill_after;
        self.kill_at = Some(self.kill_at.map_or(grace_end, |k| k.min(grace_end)));
    }

    fn kill_when_due(
        &mut self,
        now: Instant,
        reason: &'static str,
        target: Target,
        actions: &mut Vec<Action>,
    ) {
        if !self.killed && self.kill_at.is_some_and(|at| now >= at) {
            self.killed = true;
            self.killed_at = Some(now);
            actions.push(Action::Emit(Notice::Killed(reason)));
            actions.push(Action::Send(target, Signal::SIGKILL));
        }
    }
}

/// SIGTERM, then SIGCONT: a stopped process cannot act on SIGTERM until it is continued (systemd does
/// the same).
fn terminate(target: Target, actions: &mut Vec<Action>) {
    actions.push(Action::Send(target, Signal::SIGTERM));
    actions.push(Action::Send(target, Signal::SIGCONT));
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Signal::*;
    use Target::{All, Group};

    const S: Duration = Duration::from_secs(1);

    fn limits(timeout: Option<u64>, idle: Option<u64>) -> Limits {
        Limits {
            timeout: timeout.map(Duration::from_secs),
            idle_timeout: idle.map(Duration::from_secs),
            kill_after: 10 * S,
            stop_on_lock_lost: true,
        }
    }

    /// One row: the limits, then inputs at seconds after the start (with the last output at a second too),
    /// the actions each must give, and the cause at the end.
    struct Case {
        name: &'static str,
        limits: Limits,
        steps: Vec<(u64, u64, Input, Vec<Action>)>,
        cause: Option<Cause>,
        done: bool,
    }

    /// SIGTERM and SIGCONT to `target`.
    fn term(target: Target) -> Vec<Action> {
        vec![Send(target, SIGTERM), Send(target, SIGCONT)]
    }

    /// A terminating signal forwarded to the group.
    fn forwarded(sig: Signal) -> Vec<Action> {
        vec![
            Send(Group, sig),
            Emit(Notice::Forwarded(sig)),
            Send(Group, SIGCONT),
        ]
    }

    fn killed(reason: &'static str, target: Target) -> Vec<Action> {
        vec![Emit(Notice::Killed(reason)), Send(target, SIGKILL)]
    }

    /// The command exited by itself, leaving `leftovers`.
    fn exited(leftovers: Left) -> Input {
        Input::ChildExited {
            ending: Ending::default(),
            leftovers,
        }
    }

    /// Stopping `leftovers`: the notice, then SIGTERM to everything.
    fn left_behind(leftovers: Left) -> Vec<Action> {
        with(vec![Emit(Notice::LeftBehind(leftovers))], term(All))
    }

    /// The command died of `sig`, holding the terminal or not.
    fn died(sig: Signal, held_terminal: bool) -> Input {
        Input::ChildExited {
            ending: Ending {
                signal: Some(sig),
                held_terminal,
            },
            leftovers: Left::Nothing,
        }
    }

    fn lost(loss: LockLoss, stopping: bool) -> Notice {
        Notice::LockLost { loss, stopping }
    }

    fn with(mut first: Vec<Action>, rest: Vec<Action>) -> Vec<Action> {
        first.extend(rest);
        first
    }

    #[test]
    fn transitions() {
        let t0 = Instant::now();
        // The lease lost, the run to be dead by `secs` after the start.
        let gone = |loss, secs| {
            Input::LockLost(Lost {
                loss,
                dead_by: t0 + Duration::from_secs(secs),
            })
        };
        let timeout = |secs| Cause::Timeout(Duration::from_secs(secs));
        let timed_out = |secs| with(vec![Emit(Notice::TimedOut(secs * S))], term(All));
        let cases = vec![
            Case {
                name: "exits before any limit",
                limits: limits(Some(5), None),
                steps: vec![
                    (1, 0, Input::Tick, vec![]),
                    (2, 0, exited(Left::Nothing), vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "timeout: SIGTERM to everything, SIGKILL to everything after the grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (4, 0, Input::Tick, vec![]),
                    (5, 0, Input::Tick, timed_out(5)),
                    (6, 0, Input::Tick, vec![]),
                    (15, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                    (16, 0, Input::Tick, vec![]),
                    (16, 0, exited(Left::Nothing), vec![Done]),
                ],
                cause: Some(timeout(5)),
                done: true,
            },
            Case {
                name: "timeout, then SIGTERM: the deadline stays the cause, one grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (5, 0, Input::Tick, timed_out(5)),
                    (7, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (15, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "SIGTERM, then timeout: terminated, and the grace is not extended",
                limits: limits(Some(5), None),
                steps: vec![
                    (1, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (5, 0, Input::Tick, timed_out(5)),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
                done: false,
            },
            Case {
                name: "a forwarded SIGTERM's grace ends in SIGKILL to the group only",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::Signal(SIGINT), forwarded(SIGINT)),
                    (10, 0, Input::Tick, vec![]),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, Group)),
                ],
                cause: Some(Cause::Forwarded(SIGINT as i32)),
                done: false,
            },
            Case {
                name: "idle before the deadline",
                limits: limits(Some(60), Some(3)),
                steps: vec![
                    (3, 1, Input::Tick, vec![]),
                    (
                        4,
                        1,
                        Input::Tick,
                        with(vec![Emit(Notice::Idle(3 * S))], term(All)),
                    ),
                    (13, 1, Input::Tick, vec![]),
                    (14, 1, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(Cause::Idle(3 * S)),
                done: false,
            },
            Case {
                name: "the deadline before idle, and output keeps idle away",
                limits: limits(Some(5), Some(3)),
                steps: vec![
                    (4, 2, Input::Tick, vec![]),
                    (5, 4, Input::Tick, timed_out(5)),
                    (8, 4, Input::Tick, vec![]),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "a non-terminating signal is only forwarded, to the group",
                limits: limits(None, None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Signal(SIGUSR1),
                        vec![Send(Group, SIGUSR1), Emit(Notice::Forwarded(SIGUSR1))],
                    ),
                    (100, 0, Input::Tick, vec![]),
                    (100, 0, Input::Signal(SIGCHLD), vec![]),
                ],
                cause: None,
                done: false,
            },
            Case {
                name: "leftovers: counted, SIGTERM, the grace, SIGKILL until all are gone",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, exited(Left::Counted(2)), left_behind(Left::Counted(2))),
                    (5, 0, Input::Tick, vec![]),
                    (6, 0, Input::Signal(SIGHUP), vec![Send(All, SIGHUP)]),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                    // A process forked while SIGKILL went round is caught by the next round.
                    (11, 0, Input::Tick, vec![Send(All, SIGKILL)]),
                    (12, 0, Input::AllGone, vec![Done]),
                    (13, 0, Input::Tick, vec![]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "leftovers still there a while after SIGKILL are given up on",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, exited(Left::Counted(1)), left_behind(Left::Counted(1))),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                    (15, 0, Input::Tick, vec![Send(All, SIGKILL)]),
                    (16, 0, Input::Tick, vec![Emit(Notice::GaveUp), Done]),
                    (17, 0, Input::Tick, vec![]),
                    (17, 0, Input::AllGone, vec![]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "the wait after SIGKILL starts when the leftovers get theirs",
                limits: limits(Some(1), None),
                steps: vec![
                    (1, 0, Input::Tick, timed_out(1)),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                    (
                        14,
                        0,
                        exited(Left::Counted(1)),
                        with(
                            vec![Emit(Notice::LeftBehind(Left::Counted(1)))],
                            killed(KILLED_LEFTOVERS, All),
                        ),
                    ),
                    (18, 0, Input::Tick, vec![Send(All, SIGKILL)]),
                    (19, 0, Input::Tick, vec![Emit(Notice::GaveUp), Done]),
                ],
                cause: Some(timeout(1)),
                done: true,
            },
            Case {
                name: "leftovers that cannot be counted are stopped just the same",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, exited(Left::Uncounted), left_behind(Left::Uncounted)),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                    (11, 0, Input::AllGone, vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "leftovers of a command stopped at the deadline had their SIGTERM and share its grace",
                limits: limits(Some(1), None),
                steps: vec![
                    (1, 0, Input::Tick, timed_out(1)),
                    (
                        3,
                        0,
                        exited(Left::Counted(1)),
                        vec![Emit(Notice::LeftBehind(Left::Counted(1)))],
                    ),
                    (10, 0, Input::Tick, vec![]),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                ],
                cause: Some(timeout(1)),
                done: false,
            },
            Case {
                name: "leftovers after the deadline's grace are killed at once",
                limits: limits(Some(1), None),
                steps: vec![
                    (1, 0, Input::Tick, timed_out(1)),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                    (
                        12,
                        0,
                        exited(Left::Counted(1)),
                        with(
                            vec![Emit(Notice::LeftBehind(Left::Counted(1)))],
                            killed(KILLED_LEFTOVERS, All),
                        ),
                    ),
                    (12, 0, Input::Tick, vec![Send(All, SIGKILL)]),
                    (12, 0, Input::AllGone, vec![Done]),
                ],
                cause: Some(timeout(1)),
                done: true,
            },
            Case {
                name: "leftovers of a forwarded stop, which only the group had, get SIGTERM and the rest of its grace",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (2, 0, exited(Left::Counted(1)), left_behind(Left::Counted(1))),
                    (10, 0, Input::Tick, vec![]),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
                done: false,
            },
            Case {
                name: "leftovers after a forwarded stop's grace are killed at once",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, Group)),
                    (
                        12,
                        0,
                        exited(Left::Uncounted),
                        with(
                            vec![Emit(Notice::LeftBehind(Left::Uncounted))],
                            killed(KILLED_LEFTOVERS, All),
                        ),
                    ),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
                done: false,
            },
            Case {
                name: "a non-terminating signal starts no stop: leftovers get a grace of their own",
                limits: limits(None, None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Signal(SIGUSR1),
                        vec![Send(Group, SIGUSR1), Emit(Notice::Forwarded(SIGUSR1))],
                    ),
                    (2, 0, exited(Left::Counted(3)), left_behind(Left::Counted(3))),
                    (11, 0, Input::Tick, vec![]),
                    (12, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                ],
                cause: None,
                done: false,
            },
            Case {
                name: "Ctrl-C in the terminal: SIGINT is a stop on request",
                limits: limits(Some(5), None),
                steps: vec![(1, 0, died(SIGINT, true), vec![Done])],
                cause: Some(Cause::Interrupted(SIGINT as i32)),
                done: true,
            },
            Case {
                name: "Ctrl-\\ in the terminal: SIGQUIT is a stop on request",
                limits: limits(None, None),
                steps: vec![(1, 0, died(SIGQUIT, true), vec![Done])],
                cause: Some(Cause::Interrupted(SIGQUIT as i32)),
                done: true,
            },
            Case {
                name: "a crash in the terminal stays a crash",
                limits: limits(None, None),
                steps: vec![(1, 0, died(SIGSEGV, true), vec![Done])],
                cause: None,
                done: true,
            },
            Case {
                name: "SIGINT without the terminal is no keyboard's: a crash",
                limits: limits(None, None),
                steps: vec![(1, 0, died(SIGINT, false), vec![Done])],
                cause: None,
                done: true,
            },
            Case {
                name: "Ctrl-C after the deadline: the deadline stays the cause",
                limits: limits(Some(1), None),
                steps: vec![
                    (1, 0, Input::Tick, timed_out(1)),
                    (2, 0, died(SIGINT, true), vec![Done]),
                ],
                cause: Some(timeout(1)),
                done: true,
            },
            Case {
                name: "Ctrl-C after a forwarded SIGTERM: the forwarded signal stays the cause",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (2, 0, died(SIGINT, true), vec![Done]),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
                done: true,
            },
            Case {
                name: "a stopped child at the deadline is continued after SIGTERM",
                limits: limits(Some(2), None),
                steps: vec![(
                    2,
                    0,
                    Input::Tick,
                    vec![
                        Emit(Notice::TimedOut(2 * S)),
                        Send(All, SIGTERM),
                        Send(All, SIGCONT),
                    ],
                )],
                cause: Some(timeout(2)),
                done: false,
            },
            Case {
                name: "lock lost: SIGTERM to everything, the grace, SIGKILL, and the loss is the cause",
                limits: limits(Some(60), None),
                steps: vec![
                    (
                        3,
                        0,
                        gone(LockLoss::Taken, 100),
                        with(vec![Emit(lost(LockLoss::Taken, true))], term(All)),
                    ),
                    (12, 0, Input::Tick, vec![]),
                    (13, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                    // The deadline passing meanwhile is no second stop.
                    (60, 0, Input::Tick, vec![]),
                    (61, 0, exited(Left::Nothing), vec![Done]),
                ],
                cause: Some(Cause::LockLost(LockLoss::Taken)),
                done: true,
            },
            Case {
                name: "lock lost with warn: said once, the command runs on to its own end",
                limits: Limits {
                    stop_on_lock_lost: false,
                    ..limits(None, None)
                },
                steps: vec![
                    (
                        3,
                        0,
                        gone(LockLoss::Unreachable(30 * S), 100),
                        vec![Emit(lost(LockLoss::Unreachable(30 * S), false))],
                    ),
                    (4, 0, gone(LockLoss::Taken, 100), vec![]),
                    (100, 0, Input::Tick, vec![]),
                    (101, 0, exited(Left::Nothing), vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "lock lost after the deadline stopped the command: the deadline stays the cause, one grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (5, 0, Input::Tick, timed_out(5)),
                    (
                        7,
                        0,
                        gone(LockLoss::Taken, 100),
                        vec![Emit(lost(LockLoss::Taken, true))],
                    ),
                    (15, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "SIGTERM, then lock lost: terminated, no second SIGTERM, the SIGKILL for everything",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (
                        2,
                        0,
                        gone(LockLoss::Taken, 100),
                        vec![Emit(lost(LockLoss::Taken, true))],
                    ),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
                done: false,
            },
            Case {
                name: "lock lost, then SIGTERM: the loss stays the cause",
                limits: limits(None, None),
                steps: vec![
                    (
                        1,
                        0,
                        gone(LockLoss::Taken, 100),
                        with(vec![Emit(lost(LockLoss::Taken, true))], term(All)),
                    ),
                    (2, 0, Input::Signal(SIGTERM), forwarded(SIGTERM)),
                    (11, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(Cause::LockLost(LockLoss::Taken)),
                done: false,
            },
            Case {
                name: "lock lost while leftovers are stopped: no notice, but they are killed in time",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, exited(Left::Counted(1)), left_behind(Left::Counted(1))),
                    (2, 0, gone(LockLoss::Taken, 5), vec![]),
                    (4, 0, Input::Tick, vec![]),
                    (5, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                    (6, 0, Input::AllGone, vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "lock lost with little time left: SIGKILL when it runs out, not after the grace",
                limits: limits(None, None),
                steps: vec![
                    (
                        3,
                        0,
                        gone(LockLoss::Unreachable(30 * S), 6),
                        with(
                            vec![Emit(lost(LockLoss::Unreachable(30 * S), true))],
                            term(All),
                        ),
                    ),
                    (5, 0, Input::Tick, vec![]),
                    (6, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(Cause::LockLost(LockLoss::Unreachable(30 * S))),
                done: false,
            },
            Case {
                name: "lock lost during the deadline's grace: the SIGKILL comes sooner if the lease needs it",
                limits: limits(Some(5), None),
                steps: vec![
                    (5, 0, Input::Tick, timed_out(5)),
                    (
                        7,
                        0,
                        gone(LockLoss::Taken, 9),
                        vec![Emit(lost(LockLoss::Taken, true))],
                    ),
                    (9, 0, Input::Tick, killed(KILLED_AFTER_GRACE, All)),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "lock lost under warn while leftovers are stopped: their grace stands",
                limits: Limits {
                    stop_on_lock_lost: false,
                    ..limits(None, None)
                },
                steps: vec![
                    (1, 0, exited(Left::Counted(1)), left_behind(Left::Counted(1))),
                    (2, 0, gone(LockLoss::Taken, 5), vec![]),
                    (5, 0, Input::Tick, vec![]),
                    (11, 0, Input::Tick, killed(KILLED_LEFTOVERS, All)),
                ],
                cause: None,
                done: false,
            },
        ];
        for case in cases {
            let start = t0;
            let mut machine = Machine::new(case.limits, start);
            for (i, (at, output_at, input, expected)) in case.steps.into_iter().enumerate() {
                let now = start + Duration::from_secs(at);
                let last_output = start + Duration::from_secs(output_at);
                let actions = machine.step(input, now, last_output);
                assert_eq!(
                    actions, expected,
                    "{}: step {i} ({input:?} at {at}s)",
                    case.name
                );
            }
            assert_eq!(machine.cause(), case.cause, "{}", case.name);
            assert_eq!(machine.is_done(), case.done, "{}", case.name);
        }
    }

    #[test]
    fn a_stop_request_is_remembered_whatever_cause_stands() {
        let start = Instant::now();
        // During cronbeat's own stop: the timeout stays the cause, the request is still known.
        let mut timed_out = Machine::new(limits(Some(1), None), start);
        timed_out.step(Input::Tick, start + S, start);
        assert!(!timed_out.stop_requested());
        timed_out.step(Input::Signal(SIGTERM), start + 2 * S, start);
        assert_eq!(timed_out.cause(), Some(Cause::Timeout(S)));
        assert!(timed_out.stop_requested());
        // While leftovers are stopped: no cause, a request all the same.
        let mut leftovers = Machine::new(limits(None, None), start);
        leftovers.step(exited(Left::Counted(1)), start + S, start);
        leftovers.step(Input::Signal(SIGTERM), start + 2 * S, start);
        assert_eq!(leftovers.cause(), None);
        assert!(leftovers.stop_requested());
        // A signal that asks for no stop is no request.
        let mut relayed = Machine::new(limits(None, None), start);
        relayed.step(Input::Signal(SIGUSR1), start + S, start);
        relayed.step(Input::Signal(SIGCHLD), start + S, start);
        assert!(!relayed.stop_requested());
    }

    #[test]
    fn wakes_at_the_nearest_timer() {
        let start = Instant::now();
        let mut machine = Machine::new(limits(Some(60), Some(5)), start);
        assert_eq!(machine.next_wake(start), Some(start + 5 * S));
        assert_eq!(machine.next_wake(start + 58 * S), Some(start + 60 * S));
        machine.step(Input::Tick, start + 5 * S, start);
        assert_eq!(machine.next_wake(start), Some(start + 15 * S));
        let mut bare = Machine::new(limits(None, None), start);
        assert_eq!(bare.next_wake(start), None);
        bare.step(exited(Left::Counted(1)), start + S, start);
        assert_eq!(bare.next_wake(start), Some(start + 11 * S));
    }
}
