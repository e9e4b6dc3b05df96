//! Jobs made known to the fleet ledger before they run: `cronbeat adopt --provision` and `cronbeat check
//! --fleet` declare each job's schedule, zone and grace, so that a job that never ran since it was
//! declared is `overdue` once its first due time and grace have passed, not absent.

use crate::fleet_ledger::{Declaration, Store};
use crate::schedule::Schedule;

/// One job to declare: its name (`--name`), the schedule as the job resolves it (zone and grace
/// included), and the host that declares it.
pub struct Job<'a> {
    pub name: &'a str,
    pub schedule: &'a Schedule,
    pub host: &'a str,
}

/// Declares `job` on `store`; the line that says so, or why it was not.
pub fn declare(store: &Store, job: &Job<'_>) -> Result<String, String> {
    let declaration = Declaration {
        name: job.name.to_string(),
        schedule: job.schedule.expr.clone(),
        tz: job.schedule.tz.name().to_string(),
        grace: job.schedule.grace,
        host: job.host.to_string(),
    };
    let said = format!(
        "{}: schedule {:?} in {}, grace {}",
        job.name,
        declaration.schedule,
        declaration.tz,
        humantime::format_duration(declaration.grace)
    );
    match store.declare(&declaration) {
        Ok(()) => Ok(format!(
            "{said}: declared to the fleet ledger on {}",
            store.shown()
        )),
        Err(e) => Err(format!(
            "{}: not declared to the fleet ledger on {}: {e}",
            job.name,
            store.shown()
        )),
    }
}
