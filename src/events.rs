//! The run as a stream of events: the supervisor produces them, the logger and the monitors consume them.

use std::time::{Duration, SystemTime};

use crate::outcome::Outcome;

/// Everything a monitor needs to report a finished run.
#[derive(Debug, Clone)]
pub struct Report {
    pub run_id: String,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub outcome: Outcome,
    /// The last bytes of the combined output, in arrival order.
    pub tail: Vec<u8>,
}

#[derive(Debug)]
pub enum Event<'a> {
    /// The command was spawned (or its spawn was attempted; a failed spawn still gets `Finished`).
    Started {
        run_id: &'a str,
        pid: Option<u32>,
    },
    SignalForwarded {
        signal: i32,
    },
    TimedOut {
        after: Duration,
    },
    /// SIGKILL sent to what was left after the grace.
    Killed {
        reason: &'a str,
    },
    Finished(&'a Report),
}

/// Something that follows a run. Implementations must return quickly: the supervisor calls them inline.
pub trait Observer {
    fn on_event(&mut self, event: &Event<'_>);
}

/// Several observers, called in order.
pub struct Fanout<'a>(pub Vec<&'a mut dyn Observer>);

impl Observer for Fanout<'_> {
    fn on_event(&mut self, event: &Event<'_>) {
        for observer in self.0.iter_mut() {
            observer.on_event(event);
        }
    }
}
