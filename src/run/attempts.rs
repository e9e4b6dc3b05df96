//! The attempts of one run (`--retries`): the observers hear one start and one finish whatever the
//! attempts, a failed attempt that is retried is told as `Retrying`, and the waits between attempts keep
//! the observers' timers going (keepalives, the systemd watchdog) and end at once on a stop signal.

use std::time::{Duration, Instant};

use crate::events::{Event, Observer, Running};
use crate::output::Capture;
use crate::supervise::SignalPipe;

/// An attempt's events as the run's observers hear them: a later attempt's start is `AttemptStarted`,
/// and no attempt's finish is passed on (the run's finish is told once, after the last attempt).
pub struct Attempt<'a> {
    pub inner: &'a mut dyn Observer,
    /// 1 for the first.
    pub number: u32,
    /// The attempt's pid once it started, for the observers' timers during the wait after it.
    pub pid: Option<u32>,
    /// When the run's first attempt started.
    pub since: Instant,
}

impl Observer for Attempt<'_> {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { pid, .. } => {
                self.pid = *pid;
                if self.number == 1 {
                    self.inner.on_event(event);
                } else {
                    self.inner.on_event(&Event::AttemptStarted {
                        number: self.number,
                        pid: *pid,
                        elapsed: self.since.elapsed(),
                    });
                }
            }
            Event::Finished(_) => {}
            other => self.inner.on_event(other),
        }
    }

    fn next_tick(&self) -> Option<Instant> {
        self.inner.next_tick()
    }

    fn on_tick(&mut self, now: Instant, running: &Running<'_>) {
        self.inner.on_tick(now, running)
    }
}

/// Waits `delay` before the next attempt while the observers' timers run as they do while the command
/// runs (`running` is the attempt before: its pid and output). A stop signal ends the wait at once and is
/// returned.
pub fn wait(
    delay: Duration,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
    pid: u32,
    since: Instant,
    capture: &Capture,
) -> Option<i32> {
    let until = Instant::now() + delay;
    let running = Running {
        pid,
        since,
        capture,
    };
    loop {
        let now = Instant::now();
        if now >= until {
            return None;
        }
        if observer.next_tick().is_some_and(|at| at <= now) {
            observer.on_tick(now, &running);
        }
        let next = observer.next_tick().map_or(until, |at| at.min(until));
        let span = next.saturating_duration_since(Instant::now());
        if let Some(sig) = signals.pause(span) {
            return Some(sig as i32);
        }
    }
}
