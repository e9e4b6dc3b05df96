//! What the resolved job asks of the locks, in the lock layer's own terms.

use std::time::SystemTime;

use crate::config::{Job, DEFAULT_REPLACE_WAIT};
use crate::lock::fleet::{self, CLAIM_DEFAULT, CLAIM_SKEW};
use crate::lock::{Target, Wanted};

/// The lock file `job` asks for, if any.
pub fn file_lock(job: &Job) -> Option<Wanted<'_>> {
    let Some(Target::File(path)) = &job.lock else {
        return None;
    };
    Some(Wanted {
        path,
        overlap: job.overlap,
        lock_wait: job.lock_wait,
        grace: job.kill_after,
        replace_wait: DEFAULT_REPLACE_WAIT,
    })
}

/// The fleet lock `job` asks for, if any, for the run serving `tick`: the tick's claim is kept a period
/// of the schedule plus the clocks' skew.
pub fn fleet_lock(job: &Job, tick: Option<SystemTime>) -> Option<fleet::Wanted<'_>> {
    let Some(Target::Fleet(engine)) = &job.lock else {
        return None;
    };
    let tick = tick.map(|tick| {
        let period = job
            .schedule
            .as_ref()
            .and_then(|s| s.next_after(tick))
            .and_then(|next| SystemTime::from(next).duration_since(tick).ok())
            .unwrap_or(CLAIM_DEFAULT);
        (tick, period + CLAIM_SKEW)
    });
    Some(fleet::Wanted {
        engine,
        name: &job.name,
        holder: &job.host_id,
        tick,
        ttl: job.lock_ttl,
        overlap: job.overlap,
        lock_wait: job.lock_wait,
        kill_after: job.kill_after,
    })
}
