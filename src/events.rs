//! The run as a stream of events, from the phases before the start (lock, jitter) to the finish: the lock,
//! the jitter sleep and the supervisor produce them; the logger, the monitors, the lock and the systemd
//! notifier consume them. Observers have no other interface to the run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::outcome::Outcome;
use crate::output::Capture;

/// Everything a monitor needs to report a finished run.
#[derive(Debug, Clone)]
pub struct Report {
    pub run_id: String,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub outcome: Outcome,
    /// The last bytes of the combined output, in arrival order. Shared, not copied, by the monitors that
    /// take the report: it can be as large as `--tail`.
    pub tail: Arc<Vec<u8>>,
    /// What the run cost (CPU, peak memory, I/O): see `cost` for where each figure comes from.
    pub cost: crate::cost::Cost,
    /// With `--retries`: which attempt ended the run and how the earlier ones failed.
    pub attempts: crate::attempts::Attempts,
}

#[derive(Debug)]
pub enum Event<'a> {
    /// Another run holds the lock and this one waits for it (`--overlap wait`).
    LockWait {
        /// The lock as messages name it: a path, or a fleet lock's engine without its secrets.
        lock: &'a str,
    },
    /// Another host claimed this run's tick first: nothing runs here, and the monitors are not told.
    TickTaken {
        tick: SystemTime,
        holder: &'a str,
    },
    /// The fleet lock is held by this run, with this fencing token.
    FleetLockHeld {
        lock: &'a str,
        fencing_token: i64,
    },
    /// The fleet lock's engine could not be used at the start: what happens next follows
    /// `--lock-unavailable`, said in `action`.
    LockUnavailable {
        reason: &'a str,
        action: &'a str,
    },
    /// The fleet lock's lease was lost while the command ran; `stopping` when the command is stopped for it.
    LockLost {
        reason: &'a str,
        stopping: bool,
    },
    /// Still waiting before the start, for the lock (sent now and then while the wait lasts).
    Waiting {
        what: &'a str,
    },
    /// Stopping the run that holds the lock (`--overlap replace`): SIGTERM to its cronbeat.
    Replacing {
        pid: i32,
    },
    /// The replaced run outlived the grace: SIGKILL sent.
    ReplacedKilled,
    /// The lock's holder is not a cronbeat that can be replaced: waiting for the lock instead.
    NotReplaceable {
        path: &'a Path,
    },
    /// Sleeping this long before the start (`--jitter`).
    Jitter {
        delay: Duration,
    },
    /// Waiting up to `up_to` for the jobs of `--after` to succeed; `what` names them and the ledger asked.
    AfterWait {
        what: &'a str,
        up_to: Duration,
    },
    /// The command will not run: the reason (another run holds the lock).
    Skipped {
        reason: &'a str,
    },
    /// The command was spawned (or its spawn was attempted; a failed spawn still gets `Finished`).
    Started {
        run_id: &'a str,
        pid: Option<u32>,
        /// The job's name (`--name`).
        name: &'a str,
        /// The scheduled time the run serves; none off the schedule.
        tick: Option<SystemTime>,
    },
    SignalForwarded {
        signal: i32,
    },
    TimedOut {
        after: Duration,
    },
    /// The command printed nothing for `--idle-timeout`: SIGTERM sent.
    Idle {
        after: Duration,
    },
    /// The command exited and left processes behind (in its group or not): they are being stopped.
    /// `processes` is how many, when cronbeat can count them.
    Leftovers {
        processes: Option<usize>,
    },
    /// SIGKILL sent to what was left after the grace.
    Killed {
        reason: &'a str,
    },
    /// Leftovers outlived their SIGKILL by the supervisor's bound: cronbeat ends the run without them.
    /// `processes` names them (`pid 123 (sleep)`), when cronbeat can list them.
    GaveUp {
        after: Duration,
        processes: &'a [String],
    },
    /// A later attempt of the run was spawned (`--retries`), `elapsed` after the first started; the
    /// run's `Started` was the first attempt's.
    AttemptStarted {
        number: u32,
        pid: Option<u32>,
        elapsed: Duration,
    },
    /// Attempt `failed` of `allowed` ended so and the next one starts after `delay`; `elapsed` since the
    /// run's first attempt started.
    Retrying {
        failed: u32,
        allowed: u32,
        outcome: &'a Outcome,
        delay: Duration,
        elapsed: Duration,
    },
    Finished(&'a Report),
}

/// The command while it runs, as a timer sees it.
pub struct Running<'a> {
    pub pid: u32,
    pub since: Instant,
    pub capture: &'a Capture,
}

/// Something that follows a run. Implementations must return quickly: the supervisor calls them inline.
pub trait Observer {
    fn on_event(&mut self, event: &Event<'_>);

    /// When this observer next wants `on_tick` while the command runs (keepalive, watchdog); `None` for never.
    fn next_tick(&self) -> Option<Instant> {
        None
    }

    /// Called once `next_tick` has come, while the command runs. Must move `next_tick` on.
    fn on_tick(&mut self, _now: Instant, _running: &Running<'_>) {}
}

/// Several observers, called in order.
pub struct Fanout<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Fanout<'_> {
    fn on_event(&mut self, event: &Event<'_>) {
        for observer in self.0.iter_mut() {
            observer.on_event(event);
        }
    }

    fn next_tick(&self) -> Option<Instant> {
        self.0.iter().filter_map(|o| o.next_tick()).min()
    }

    fn on_tick(&mut self, now: Instant, running: &Running<'_>) {
        for observer in self.0.iter_mut() {
            if observer.next_tick().is_some_and(|at| at <= now) {
                observer.on_tick(now, running);
            }
        }
    }
}
