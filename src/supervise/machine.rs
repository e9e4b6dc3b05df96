//! The supervision rules as a pure state machine: what to do about the deadline, the idle timeout, a
//! signal cronbeat received, the grace before SIGKILL and what is left of the group after the command
//! exited. It makes no system calls and reads no clock: the shell in `mod.rs` feeds it inputs with the
//! time and carries out its actions, so every rule is unit-tested here.

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
    /// Stop the command when its fleet lock is lost (`--on-lock-lost kill`), rather than only say so.
    pub stop_on_lock_lost: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Time has passed: look at the timers.
    Tick,
    /// cronbeat received this signal.
    Signal(Signal),
    /// The command (the group leader) was reaped; `leftovers` when members of its group still live.
    ChildExited { leftovers: bool },
    /// Nothing of the command's group is left.
    GroupGone,
    /// The fleet lock's lease was lost: another holder may start the job now.
    LockLost(LockLoss),
}

/// What the run should be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    TimedOut(Duration),
    Idle(Duration),
    Forwarded(Signal),
    Killed(&'static str),
    /// The lease was lost; `stopping` when the command is being stopped for it.
    LockLost {
        loss: LockLoss,
        stopping: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to the command's process group.
    SignalGroup(Signal),
    Emit(Notice),
    /// Supervision is over.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The command runs.
    Running,
    /// The command exited; members of its group live on and are being stopped.
    Leftovers,
    Done,
}

pub const KILLED_AFTER_GRACE: &str = "still running after the --kill-after grace";
pub const KILLED_LEFTOVERS: &str = "processes left in the command's group after the grace";

#[derive(Debug)]
pub struct Machine {
    limits: Limits,
    deadline: Option<Instant>,
    phase: Phase,
    cause: Option<Cause>,
    /// Set once cronbeat itself stopped the command (deadline or idle): the first reason stands.
    enforced: bool,
    kill_at: Option<Instant>,
    killed: bool,
    /// The lease loss was acted on: it is said and acted on once.
    lock_lost: bool,
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
            lock_lost: false,
        }
    }

    /// Why cronbeat stopped the command, if it did.
    pub fn cause(&self) -> Option<Cause> {
        self.cause
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
            (_, Input::GroupGone) | (Phase::Running, Input::ChildExited { leftovers: false }) => {
                self.phase = Phase::Done;
                actions.push(Action::Done);
            }
            (Phase::Running, Input::ChildExited { leftovers: true }) => {
                self.phase = Phase::Leftovers;
                self.killed = false;
                self.kill_at = Some(now + self.limits.kill_after);
                terminate(&mut actions);
            }
            (Phase::Leftovers, Input::ChildExited { .. }) => {}
            (Phase::Running, Input::Tick) => {
                self.enforce(now, last_output, &mut actions);
                self.kill_when_due(now, KILLED_AFTER_GRACE, &mut actions);
            }
            (Phase::Leftovers, Input::Tick) => {
                self.kill_when_due(now, KILLED_LEFTOVERS, &mut actions);
            }
            (_, Input::Signal(Signal::SIGCHLD)) => {}
            (Phase::Running, Input::Signal(sig)) => {
                actions.push(Action::SignalGroup(sig));
                actions.push(Action::Emit(Notice::Forwarded(sig)));
                if is_terminating(sig) {
                    // A stopped command could not act on the signal.
                    actions.push(Action::SignalGroup(Signal::SIGCONT));
                    if self.cause.is_none() {
                        self.cause = Some(Cause::Forwarded(sig as i32));
                    }
                    if self.kill_at.is_none() {
                        self.kill_at = Some(now + self.limits.kill_after);
                    }
                }
            }
            // The leftovers are stopped already; a signal still reaches them, without another grace.
            (Phase::Leftovers, Input::Signal(sig)) => actions.push(Action::SignalGroup(sig)),
            (Phase::Running, Input::LockLost(loss)) => self.lock_lost(loss, now, &mut actions),
            // The command has ended: its leftovers are being stopped anyway.
            (Phase::Leftovers, Input::LockLost(_)) => {}
        }
        actions
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
        terminate(actions);
        let grace_end = now + self.limits.kill_after;
        self.kill_at = Some(self.kill_at.map_or(grace_end, |k| k.min(grace_end)));
    }

    /// A lost lease means another host may run the job now: unless told only to warn, the command is
    /// stopped as at the deadline, and the loss is the cause unless the run was already being stopped
    /// for a reason of its own (the first reason stands).
    fn lock_lost(&mut self, loss: LockLoss, now: Instant, actions: &mut Vec<Action>) {
        if self.lock_lost {
            return;
        }
        self.lock_lost = true;
        let stopping = self.limits.stop_on_lock_lost;
        actions.push(Action::Emit(Notice::LockLost { loss, stopping }));
        if !stopping {
            return;
        }
        if self.cause.is_none() {
            self.cause = Some(Cause::LockLost(loss));
        }
        if self.enforced || self.kill_at.is_some() {
            return;
        }
        self.enforced = true;
        terminate(actions);
        self.kill_at = Some(now + self.limits.kill_after);
    }

    fn kill_when_due(&mut self, now: Instant, reason: &'static str, actions: &mut Vec<Action>) {
        if !self.killed && self.kill_at.is_some_and(|at| now >= at) {
            self.killed = true;
            actions.push(Action::Emit(Notice::Killed(reason)));
            actions.push(Action::SignalGroup(Signal::SIGKILL));
        }
    }
}

/// SIGTERM, then SIGCONT: a stopped process cannot act on SIGTERM until it is continued (systemd does
/// the same).
fn terminate(actions: &mut Vec<Action>) {
    actions.push(Action::SignalGroup(Signal::SIGTERM));
    actions.push(Action::SignalGroup(Signal::SIGCONT));
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Signal::*;

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

    fn term() -> Vec<Action> {
        vec![SignalGroup(SIGTERM), SignalGroup(SIGCONT)]
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
        let timeout = |secs| Cause::Timeout(Duration::from_secs(secs));
        let cases = vec![
            Case {
                name: "exits before any limit",
                limits: limits(Some(5), None),
                steps: vec![
                    (1, 0, Input::Tick, vec![]),
                    (2, 0, Input::ChildExited { leftovers: false }, vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "timeout, then SIGKILL after the grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (4, 0, Input::Tick, vec![]),
                    (
                        5,
                        0,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(5 * S))], term()),
                    ),
                    (6, 0, Input::Tick, vec![]),
                    (
                        15,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                    (16, 0, Input::Tick, vec![]),
                    (16, 0, Input::ChildExited { leftovers: false }, vec![Done]),
                ],
                cause: Some(timeout(5)),
                done: true,
            },
            Case {
                name: "timeout, then SIGTERM: the deadline stays the cause, one grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (
                        5,
                        0,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(5 * S))], term()),
                    ),
                    (
                        7,
                        0,
                        Input::Signal(SIGTERM),
                        vec![
                            SignalGroup(SIGTERM),
                            Emit(Notice::Forwarded(SIGTERM)),
                            SignalGroup(SIGCONT),
                        ],
                    ),
                    (
                        15,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "SIGTERM, then timeout: terminated, and the grace is not extended",
                limits: limits(Some(5), None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Signal(SIGTERM),
                        vec![
                            SignalGroup(SIGTERM),
                            Emit(Notice::Forwarded(SIGTERM)),
                            SignalGroup(SIGCONT),
                        ],
                    ),
                    (
                        5,
                        0,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(5 * S))], term()),
                    ),
                    (
                        11,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                ],
                cause: Some(Cause::Forwarded(SIGTERM as i32)),
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
                        with(vec![Emit(Notice::Idle(3 * S))], term()),
                    ),
                    (13, 1, Input::Tick, vec![]),
                    (
                        14,
                        1,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                ],
                cause: Some(Cause::Idle(3 * S)),
                done: false,
            },
            Case {
                name: "the deadline before idle, and output keeps idle away",
                limits: limits(Some(5), Some(3)),
                steps: vec![
                    (4, 2, Input::Tick, vec![]),
                    (
                        5,
                        4,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(5 * S))], term()),
                    ),
                    (8, 4, Input::Tick, vec![]),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "a non-terminating signal is only forwarded",
                limits: limits(None, None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Signal(SIGUSR1),
                        vec![SignalGroup(SIGUSR1), Emit(Notice::Forwarded(SIGUSR1))],
                    ),
                    (100, 0, Input::Tick, vec![]),
                    (100, 0, Input::Signal(SIGCHLD), vec![]),
                ],
                cause: None,
                done: false,
            },
            Case {
                name: "leftovers: SIGTERM, the grace, SIGKILL, then done when the group is gone",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::ChildExited { leftovers: true }, term()),
                    (5, 0, Input::Tick, vec![]),
                    (6, 0, Input::Signal(SIGHUP), vec![SignalGroup(SIGHUP)]),
                    (
                        11,
                        0,
                        Input::Tick,
                        vec![Emit(Notice::Killed(KILLED_LEFTOVERS)), SignalGroup(SIGKILL)],
                    ),
                    (12, 0, Input::Tick, vec![]),
                    (12, 0, Input::GroupGone, vec![Done]),
                    (13, 0, Input::Tick, vec![]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "leftovers after a timeout get a grace of their own",
                limits: limits(Some(1), None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(S))], term()),
                    ),
                    (
                        11,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                    (12, 0, Input::ChildExited { leftovers: true }, term()),
                    (
                        22,
                        0,
                        Input::Tick,
                        vec![Emit(Notice::Killed(KILLED_LEFTOVERS)), SignalGroup(SIGKILL)],
                    ),
                ],
                cause: Some(timeout(1)),
                done: false,
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
                        SignalGroup(SIGTERM),
                        SignalGroup(SIGCONT),
                    ],
                )],
                cause: Some(timeout(2)),
                done: false,
            },
            Case {
                name: "lock lost: SIGTERM, the grace, SIGKILL, and the loss is the cause",
                limits: limits(Some(60), None),
                steps: vec![
                    (
                        3,
                        0,
                        Input::LockLost(LockLoss::Taken),
                        with(vec![Emit(lost(LockLoss::Taken, true))], term()),
                    ),
                    (12, 0, Input::Tick, vec![]),
                    (
                        13,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                    // The deadline passing meanwhile is no second stop.
                    (60, 0, Input::Tick, vec![]),
                    (61, 0, Input::ChildExited { leftovers: false }, vec![Done]),
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
                        Input::LockLost(LockLoss::Unreachable(30 * S)),
                        vec![Emit(lost(LockLoss::Unreachable(30 * S), false))],
                    ),
                    (4, 0, Input::LockLost(LockLoss::Taken), vec![]),
                    (100, 0, Input::Tick, vec![]),
                    (101, 0, Input::ChildExited { leftovers: false }, vec![Done]),
                ],
                cause: None,
                done: true,
            },
            Case {
                name: "lock lost after the deadline stopped the command: the deadline stays the cause, one grace",
                limits: limits(Some(5), None),
                steps: vec![
                    (
                        5,
                        0,
                        Input::Tick,
                        with(vec![Emit(Notice::TimedOut(5 * S))], term()),
                    ),
                    (
                        7,
                        0,
                        Input::LockLost(LockLoss::Taken),
                        vec![Emit(lost(LockLoss::Taken, true))],
                    ),
                    (
                        15,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                ],
                cause: Some(timeout(5)),
                done: false,
            },
            Case {
                name: "SIGTERM, then lock lost: terminated, no second SIGTERM",
                limits: limits(None, None),
                steps: vec![
                    (
                        1,
                        0,
                        Input::Signal(SIGTERM),
                        vec![
                            SignalGroup(SIGTERM),
                            Emit(Notice::Forwarded(SIGTERM)),
                            SignalGroup(SIGCONT),
                        ],
                    ),
                    (
                        2,
                        0,
                        Input::LockLost(LockLoss::Taken),
                        vec![Emit(lost(LockLoss::Taken, true))],
                    ),
                    (
                        11,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
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
                        Input::LockLost(LockLoss::Taken),
                        with(vec![Emit(lost(LockLoss::Taken, true))], term()),
                    ),
                    (
                        2,
                        0,
                        Input::Signal(SIGTERM),
                        vec![
                            SignalGroup(SIGTERM),
                            Emit(Notice::Forwarded(SIGTERM)),
                            SignalGroup(SIGCONT),
                        ],
                    ),
                    (
                        11,
                        0,
                        Input::Tick,
                        vec![
                            Emit(Notice::Killed(KILLED_AFTER_GRACE)),
                            SignalGroup(SIGKILL),
                        ],
                    ),
                ],
                cause: Some(Cause::LockLost(LockLoss::Taken)),
                done: false,
            },
            Case {
                name: "lock lost while leftovers are stopped: nothing more to do",
                limits: limits(None, None),
                steps: vec![
                    (1, 0, Input::ChildExited { leftovers: true }, term()),
                    (2, 0, Input::LockLost(LockLoss::Taken), vec![]),
                    (3, 0, Input::GroupGone, vec![Done]),
                ],
                cause: None,
                done: true,
            },
        ];
        for case in cases {
            let start = Instant::now();
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
    fn wakes_at_the_nearest_timer() {
        let start = Instant::now();
        let mut machine = Machine::new(limits(Some(60), Some(5)), start);
        assert_eq!(machine.next_wake(start), Some(start + 5 * S));
        assert_eq!(machine.next_wake(start + 58 * S), Some(start + 60 * S));
        machine.step(Input::Tick, start + 5 * S, start);
        assert_eq!(machine.next_wake(start), Some(start + 15 * S));
        let mut bare = Machine::new(limits(None, None), start);
        assert_eq!(bare.next_wake(start), None);
        bare.step(Input::ChildExited { leftovers: true }, start + S, start);
        assert_eq!(bare.next_wake(start), Some(start + 11 * S));
    }
}
