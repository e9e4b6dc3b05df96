//! The runs of other jobs as the fleet ledger holds them, every host's: the job's state in one call,
//! and, only when the run that finished last was skipped or interrupted, its latest runs in a second.

use std::time::{Duration, SystemTime};

use super::{Finished, Known, Source};
use crate::fleet_ledger::{JobState, Store, StoredRun};
use crate::ledger::record::{Record, Streak};
use crate::lock::Engine;
use crate::schedule::Schedule;
use crate::zone::Zone;

/// How far back a job's runs are searched for one that began, past its skipped ones.
const HISTORY: usize = 100;

/// The fleet ledger on one engine.
pub struct Fleet {
    store: Result<Store, String>,
    shown: String,
}

impl Fleet {
    pub fn new(engine: &Engine) -> Fleet {
        Fleet {
            store: Store::open(engine),
            shown: engine.to_string(),
        }
    }

    fn store(&self) -> Result<&Store, String> {
        self.store.as_ref().map_err(Clone::clone)
    }
}

impl Source for Fleet {
    fn name(&self) -> String {
        format!("the fleet ledger on {}", self.shown)
    }

    fn known(&mut self, job: &str) -> Result<Known, String> {
        let store = self.store()?;
        let state = store
            .jobs(&[job.to_string()])?
            .into_iter()
            .find(|s| s.name == job);
        let Some(state) = state else {
            return Ok(Known::default());
        };
        let schedule = schedule_of(&state);
        let latest = match state.last_finished.as_ref().map(began) {
            Some(Some(run)) => Some(run),
            Some(None) => store.history(job, HISTORY)?.iter().find_map(began),
            None => None,
        };
        Ok(Known { latest, schedule })
    }
}

/// The job's schedule: as declared to the fleet, else as its latest run's record holds it.
fn schedule_of(state: &JobState) -> Option<Schedule> {
    if let Some(declared) = &state.declared {
        let tz: Zone = declared.tz.parse().ok()?;
        return Schedule::new(&declared.schedule, tz, declared.grace).ok();
    }
    let latest = state.latest.as_ref()?;
    let record: Record<'_> = serde_json::from_str(&latest.record).ok()?;
    let s = record.schedule.as_ref()?;
    let tz: Zone = s.tz.parse().ok()?;
    Schedule::new(&s.expr, tz, Duration::from_secs(s.grace_s)).ok()
}

/// A finished run whose command began, as the gate reads it; `None` for a run still going, a skipped or
/// interrupted one, or a record this version cannot read.
fn began(run: &StoredRun) -> Option<Finished> {
    let at: SystemTime = run.finished_at?;
    let record: Record<'_> = serde_json::from_str(&run.record).ok()?;
    if record.streak() == Streak::Neither {
        return None;
    }
    Some(Finished {
        at,
        success: record.success,
        what: record.message.to_string(),
        host: run.host.clone(),
    })
}
