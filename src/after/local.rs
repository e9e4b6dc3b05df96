//! The runs of other jobs as this host's ledger recorded them: each job's file read backward from its
//! end, a block at a time, until its latest run whose command began (usually the last record or two).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use super::{Finished, Known, Source};
use crate::ledger::record::{parse_time, Record, Streak};
use crate::ledger::scan;
use crate::ledger::store::Store;
use crate::schedule::Schedule;
use crate::zone::Zone;

/// The ledger under one state directory.
pub struct Local {
    state_dir: PathBuf,
}

impl Local {
    pub fn new(state_dir: PathBuf) -> Local {
        Local { state_dir }
    }
}

impl Source for Local {
    fn name(&self) -> String {
        format!("the ledger in {}", self.state_dir.display())
    }

    fn known(&mut self, job: &str) -> Result<Known, String> {
        let store = Store::new(&self.state_dir);
        let file = match store.job(job).and_then(|dir| match dir {
            Some(dir) => dir.log(),
            None => Ok(None),
        }) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(Known::default()),
            Err(e) => return Err(format!("{}: {e}", store.job_dir(job).display())),
        };
        let mut known = Known::default();
        // The newest record says what the job is now, its schedule included.
        let mut newest = true;
        scan::backward(&file, |piece| {
            let Some(record) = piece
                .bytes
                .and_then(|bytes| serde_json::from_slice::<Record<'_>>(bytes).ok())
            else {
                return ControlFlow::Continue(());
            };
            if std::mem::take(&mut newest) {
                known.schedule = schedule_of(&record);
            }
            if record.streak() == Streak::Neither {
                return ControlFlow::Continue(());
            }
            match parse_time(&record.finished_at) {
                Some(at) => {
                    known.latest = Some(Finished {
                        at,
                        success: record.success,
                        what: record.message.to_string(),
                        host: record.host.to_string(),
                    });
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        })
        .map_err(|e| format!("{}: {e}", store.job_dir(job).display()))?;
        Ok(known)
    }
}

/// The schedule a record carries; none when it has none or it no longer parses.
fn schedule_of(record: &Record<'_>) -> Option<Schedule> {
    let s = record.schedule.as_ref()?;
    let tz: Zone = s.tz.parse().ok()?;
    Schedule::new(&s.expr, tz, Duration::from_secs(s.grace_s)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(outcome: &str, success: bool, finished: &str, schedule: bool) -> String {
        let schedule = if schedule {
            r#","schedule":{"expr":"0 3 * * *","tz":"UTC","grace_s":60}"#
        } else {
            ""
        };
        format!(
            r#"{{"v":1,"run_id":"r","name":"j","host":"h","tick":null,"started_at":"{finished}","finished_at":"{finished}","duration_s":1.0,"outcome":"{outcome}","exit_status":0,"success":{success},"message":"m"{schedule}}}"#
        ) + "\n"
    }

    #[test]
    fn the_latest_run_that_began_and_the_newest_schedule() {
        let state = tempfile::tempdir().unwrap();
        let mut local = Local::new(state.path().to_path_buf());
        let none = local.known("j").unwrap();
        assert!(none.latest.is_none() && none.schedule.is_none());
        let job = Store::new(state.path()).job_for_writing("j").unwrap();
        for _ in 0..5000 {
            job.append(line("success", true, "2026-12-01T03:00:01.000Z", false).as_bytes())
                .unwrap();
        }
        job.append(line("failure", false, "2026-12-07T03:00:01.000Z", false).as_bytes())
            .unwrap();
        job.append(line("skipped", false, "2026-12-07T04:00:01.000Z", true).as_bytes())
            .unwrap();
        job.append(b"{\"v\":1,\"cut").unwrap();
        let known = local.known("j").unwrap();
        let latest = known.latest.unwrap();
        assert!(!latest.success);
        assert_eq!(latest.at, parse_time("2026-12-07T03:00:01Z").unwrap());
        assert_eq!(known.schedule.unwrap().expr, "0 3 * * *");
    }
}
