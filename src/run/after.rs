//! The `--after` gate, judged after the locks and the jitter so that the jobs waited on have had every
//! moment to succeed: met, the run goes on; unmet, it is skipped (exit 75) with a note to the monitors
//! naming the job, or with `--after-wait` asked again every half second until the bound; a window that
//! cannot be known is a usage error (exit 2). A stop signal during the wait ends the run `interrupted`.

use std::time::{Instant, SystemTime};

use super::Ended;
use crate::after::{self, After, Gate, Judged, Source};
use crate::events::{Event, Observer};
use crate::exit::Exit;
use crate::log::Logger;
use crate::supervise::SignalPipe;

/// `Ok` when the run may start; `Err` with how it ends otherwise.
pub(super) fn pass(
    after: &After,
    observer: &mut dyn Observer,
    signals: &SignalPipe,
    logger: &Logger,
) -> Result<(), Ended> {
    let now = SystemTime::now();
    if let Some(engine) = &after.fleet {
        let gate = Gate::new(after::Fleet::new(engine), after, now);
        return wait(gate, after, observer, signals, logger);
    }
    let Some(dir) = after.state_dir.clone() else {
        logger.error("--after: there is no ledger to read the jobs' runs in (give --state-dir)");
        return Err(Ended::before_start(Exit::Config));
    };
    wait(
        Gate::new(after::Local::new(dir), after, now),
        after,
        observer,
        signals,
        logger,
    )
}

fn wait<S: Source>(
    mut gate: Gate<S>,
    after: &After,
    observer: &mut dyn Observer,
    signals: &SignalPipe,
    logger: &Logger,
) -> Result<(), Ended> {
    let deadline = after.wait.map(|wait| Instant::now() + wait);
    let mut told = false;
    loop {
        let reason = match gate.judge() {
            Judged::Met => return Ok(()),
            Judged::Refused(message) => {
                logger.error(&message);
                return Err(Ended::before_start(Exit::Config));
            }
            Judged::Unmet(reason) => reason,
        };
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let Some(left) = left.filter(|l| !l.is_zero()) else {
            let waited = match after.wait {
                Some(wait) => format!(", waited {}", humantime::format_duration(wait)),
                None => String::new(),
            };
            let reason = format!(
                "skipped (--after {}{waited}): {reason}",
                after.jobs.join(",")
            );
            observer.on_event(&Event::Skipped { reason: &reason });
            return Err(Ended::before_start(Exit::Locked));
        };
        if !told {
            told = true;
            let what = format!(
                "{} to succeed (by {}): {reason}",
                after.jobs.join(", "),
                gate.source_name()
            );
            observer.on_event(&Event::AfterWait {
                what: &what,
                up_to: after.wait.unwrap_or(left),
            });
            observer.on_event(&Event::Waiting { what: &what });
        }
        if let Some(sig) = signals.pause(left.min(after::POLL)) {
            return Err(Ended::before_start(Exit::Interrupted(sig as i32)));
        }
    }
}
