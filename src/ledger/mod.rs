//! The ledger: a local record of every run, under the state directory, that `cronbeat status`, `history`,
//! `last-output` and `metrics` read, and that `--fail-after` counts failures in a row from.
//!
//! As an observer it records a run when the run's story ends: the finish (whatever way the command ended),
//! a skip (the lock was held, or another host claimed the tick), or, from the teardown, a run that ended
//! before its command could begin. A ledger that cannot be written costs the record and one warning;
//! never the exit status or a ping. So does one that is not safe to write (a link in it, a folder others
//! can write: see `strict`), refused before anything is written.

pub mod nofollow;
pub mod record;
pub mod scan;
pub mod store;
pub mod strict;
pub mod summary;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::events::{Event, Observer, Report};
use crate::exit::Exit;
use crate::log::Logger;
use crate::monitor::FailAfter;
use crate::outcome::signal_name;
use crate::schedule::{rfc3339_utc, Schedule};
use record::{millis, stored_time, Record, ScheduleRecord, Streak, VERSION};
use store::{Job, Store};

/// Runs kept per job when `--keep-runs` is not given.
pub const DEFAULT_KEEP_RUNS: usize = 1000;

/// Where the ledger lives and how much of it a job keeps.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None` on a host with no state directory (a warning said so): only the fleet ledger records.
    pub state_dir: Option<PathBuf>,
    pub keep_runs: usize,
}

/// The state directory when none is given: `/var/lib/cronbeat` for root, else `$XDG_STATE_HOME/cronbeat`,
/// else `~/.local/state/cronbeat` (the XDG Base Directory default). `Err` says why there is none.
pub fn default_state_dir() -> Result<PathBuf, String> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/cronbeat"));
    }
    // The XDG specification says a relative path in one of its variables is to be ignored.
    let set = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(xdg) = set("XDG_STATE_HOME") {
        return Ok(xdg.join("cronbeat"));
    }
    match set("HOME") {
        Some(home) => Ok(home.join(".local/state/cronbeat")),
        None => Err(
            "no state directory for the ledger: HOME and XDG_STATE_HOME are not set (give --state-dir, or --no-ledger)"
                .to_string(),
        ),
    }
}

/// What every record of this run carries.
struct Facts {
    run_id: String,
    name: String,
    host: String,
    tick: Option<String>,
    schedule: Option<ScheduleRecord<'static>>,
    fail_after: Option<u32>,
}

/// The ledger's side of one run.
pub struct Ledger {
    /// `None` with no state directory: the run is for the fleet ledger only.
    store: Option<Store>,
    dir: PathBuf,
    /// The job's folder, opened when the run is first recorded; `Err` once it could not be (and said so).
    job: Option<Result<Job, ()>>,
    keep_runs: usize,
    facts: Facts,
    /// When cronbeat began: the start of a run whose command never began.
    began: SystemTime,
    logger: Logger,
    /// `--fail-after`: told this run's place in the job's failures in a row, before the monitors hear of it.
    fail_after: Option<FailAfter>,
    recorded: bool,
    trim_due: bool,
    /// The fleet ledger, which gets every record this one does but skips, and the start as it happens.
    fleet: Option<crate::fleet_ledger::Writer>,
    /// The finished run's output tail, for the fleet ledger's record of a failure.
    fleet_tail: Option<std::sync::Arc<Vec<u8>>>,
}

/// The run the ledger records.
pub struct Run<'a> {
    pub run_id: &'a str,
    pub name: &'a str,
    pub host: &'a str,
    pub tick: Option<SystemTime>,
    pub schedule: Option<&'a Schedule>,
}

impl Ledger {
    pub fn new(
        settings: &Settings,
        run: Run<'_>,
        fail_after: Option<FailAfter>,
        began: SystemTime,
        logger: Logger,
    ) -> Ledger {
        let store = settings.state_dir.as_deref().map(Store::new);
        Ledger {
            dir: store
                .as_ref()
                .map_or_else(PathBuf::new, |s| s.job_dir(run.name)),
            store,
            job: None,
            keep_runs: settings.keep_runs,
            facts: Facts {
                run_id: run.run_id.to_string(),
                name: run.name.to_string(),
                host: run.host.to_string(),
                tick: run.tick.map(rfc3339_utc),
                schedule: run.schedule.map(|s| ScheduleRecord {
                    expr: s.expr.clone().into(),
                    tz: s.tz.name().to_string().into(),
                    grace_s: s.grace.as_secs(),
                }),
                fail_after: fail_after.as_ref().map(FailAfter::threshold),
            },
            began,
            logger,
            fail_after,
            recorded: false,
            trim_due: false,
            fleet: None,
            fleet_tail: None,
        }
    }

    /// Records the run in the fleet ledger too.
    pub fn with_fleet(&mut self, settings: &crate::fleet_ledger::Settings) {
        let facts = &self.facts;
        self.fleet = Some(crate::fleet_ledger::Writer::new(
            settings,
            &facts.name,
            &facts.run_id,
            &facts.host,
        ));
    }

    /// Waits (boundedly) for the fleet ledger's writes: the teardown's, after the local record.
    pub fn close_fleet(&mut self) {
        if let Some(warning) = self
            .fleet
            .take()
            .and_then(crate::fleet_ledger::Writer::finish)
        {
            self.logger.warn(&warning);
        }
    }

    /// A record for the fleet ledger: every one but a skip (a tick another host took is no run there).
    fn send_to_fleet(&mut self, line: &[u8]) {
        let Ok(record) = serde_json::from_slice::<Record<'_>>(line) else {
            return;
        };
        if record.outcome == record::SKIPPED {
            return;
        }
        let time = |t: &str| record::parse_time(t).unwrap_or_else(SystemTime::now);
        let finished = crate::fleet_ledger::Finished {
            started_at: time(&record.started_at),
            finished_at: time(&record.finished_at),
            outcome: record.outcome.to_string(),
            success: record.success,
            failure: record.streak() == Streak::Failure,
            record: String::from_utf8_lossy(line).trim_end().to_string(),
        };
        let tail = self.fleet_tail.take();
        if let Some(fleet) = self.fleet.as_mut() {
            fleet.end(finished, tail, self.keep_runs);
        }
    }

    /// The command began: the fleet ledger's record of a run under way.
    fn fleet_started(&mut self) {
        if self.fleet.is_none() {
            return;
        }
        let now = SystemTime::now();
        let line = self
            .record(
                now,
                Duration::ZERO,
                "running",
                0,
                false,
                "running".to_string(),
            )
            .line();
        let record = String::from_utf8_lossy(&line).trim_end().to_string();
        if let Some(fleet) = self.fleet.as_mut() {
            fleet.start(now, record);
        }
    }

    /// The job's directory in the ledger.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record<'a>(
        &'a self,
        started: SystemTime,
        duration: Duration,
        outcome: &'a str,
        exit_status: i32,
        success: bool,
        message: String,
    ) -> Record<'a> {
        let facts = &self.facts;
        Record {
            v: VERSION,
            run_id: facts.run_id.as_str().into(),
            name: facts.name.as_str().into(),
            host: facts.host.as_str().into(),
            tick: facts.tick.as_deref().map(Into::into),
            started_at: stored_time(started).into(),
            finished_at: stored_time(started + duration).into(),
            duration_s: millis(duration),
            outcome: outcome.into(),
            exit_status,
            success,
            message: message.into(),
            schedule: facts.schedule.clone(),
            fail_after: facts.fail_after,
            tail: None,
            cost: None,
            attempts: None,
            failed_attempts: Vec::new(),
            last_attempt_s: None,
        }
    }

    /// The job's folder, opened (and made) the first time; `None`, after one warning, when it cannot be.
    /// That warning is the run's only one from the ledger: nothing else is tried.
    fn job(&mut self) -> Option<&Job> {
        if self.job.is_none() {
            let Some(store) = &self.store else {
                self.recorded = true;
                self.job = Some(Err(()));
                return None;
            };
            let opened = store.job_for_writing(&self.facts.name);
            if let Err(e) = &opened {
                self.recorded = true;
                let counted = match self.fail_after {
                    Some(_) => "; a failure is reported as one",
                    None => "",
                };
                self.logger.warn(&format!(
                    "ledger: the run was not recorded in {}: {e}{counted} (--no-ledger turns the ledger off)",
                    self.dir.display()
                ));
            }
            self.job = Some(opened.map_err(|_| ()));
        }
        self.job.as_ref().and_then(|job| job.as_ref().ok())
    }

    fn opened(&self) -> Option<&Job> {
        self.job.as_ref().and_then(|job| job.as_ref().ok())
    }

    fn finished(&mut self, report: &Report) {
        if self.job().is_none() {
            // The fleet ledger still gets the run a local ledger that cannot be written loses.
            if self.fleet.is_some() {
                let outcome = &report.outcome;
                let line = self
                    .record(
                        report.started_at,
                        report.duration,
                        outcome.word(),
                        outcome.exit_code(),
                        outcome.succeeded(),
                        outcome.describe(),
                    )
                    .line();
                self.send_to_fleet(&line);
            }
            return;
        }
        let job = self.opened().expect("opened");
        let outcome = &report.outcome;
        let mut record = self.record(
            report.started_at,
            report.duration,
            outcome.word(),
            outcome.exit_code(),
            outcome.succeeded(),
            outcome.describe(),
        );
        // A run whose command never began cost nothing worth a record.
        if !matches!(
            outcome.status,
            crate::outcome::ChildStatus::NotStarted { .. }
        ) {
            record.cost = Some(record::CostRecord::of(&report.cost));
        }
        if report.attempts.allowed > 1 {
            record.attempts = Some(report.attempts.made);
            record.last_attempt_s = report.attempts.last_took.map(millis);
            record.failed_attempts = report
                .attempts
                .earlier
                .iter()
                .map(|f| record::AttemptRecord {
                    outcome: f.outcome.word().into(),
                    exit_status: f.outcome.exit_code(),
                    message: f.outcome.describe().into(),
                })
                .collect();
        }
        if let Some(fail_after) = &self.fail_after {
            // Counted before this run's record is added, so that a record that cannot be written still counts.
            match failures_before(job) {
                Ok(before) => fail_after.set(match record.streak() {
                    Streak::Reset => 0,
                    Streak::Failure => before + 1,
                    Streak::Neither => before,
                }),
                Err(e) => self.logger.warn(&format!(
                    "ledger: cannot count the failures in a row in {}: {e}; a failure is reported as one",
                    self.dir.display()
                )),
            }
        }
        let mut lost_tail = None;
        if !record.success {
            let file = store::tail_file(report.started_at, &self.facts.run_id);
            match job.write_tail(&file, &report.tail) {
                Ok(()) => {
                    record.tail = Some(store::tail_name(&file).into());
                    let _ = job.prune_tails(store::TAILS_KEPT);
                }
                Err(e) => lost_tail = Some(e),
            }
        }
        let line = record.line();
        self.append(&line, lost_tail);
    }

    fn skipped(&mut self, reason: &str) {
        let took = self.began.elapsed().unwrap_or_default();
        let record = self.record(
            self.began,
            took,
            record::SKIPPED,
            Exit::Locked.code(),
            false,
            reason.to_string(),
        );
        let line = record.line();
        self.append(&line, None);
    }

    /// The teardown: a run that ended before its command began and before any other record (a signal
    /// during the lock wait or the jitter, cronbeat's own failure) is recorded here.
    pub fn end(&mut self, exit: Exit) {
        if self.recorded {
            return;
        }
        let (outcome, message) = match exit {
            Exit::Interrupted(sig) => (
                record::INTERRUPTED,
                format!("stopped by {} before the command started", signal_name(sig)),
            ),
            _ => (
                record::ERROR,
                "cronbeat failed before the command started".to_string(),
            ),
        };
        let took = self.began.elapsed().unwrap_or_default();
        let record = self.record(self.began, took, outcome, exit.code(), false, message);
        let line = record.line();
        self.append(&line, None);
    }

    /// Trims the job's records to `--keep-runs` when they have grown past it, unless another run holds them:
    /// after the command, while the monitors' reports are on their way.
    pub fn trim(&mut self) {
        if !std::mem::take(&mut self.trim_due) {
            return;
        }
        let Some(job) = self.opened() else {
            return;
        };
        if let Err(e) = job.trim(self.keep_runs) {
            self.logger.warn(&format!(
                "ledger: cannot trim {} to {} runs: {e}",
                self.dir.join(store::LOG).display(),
                self.keep_runs
            ));
        }
    }

    fn append(&mut self, line: &[u8], lost_tail: Option<std::io::Error>) {
        if self.fleet.is_some() {
            self.send_to_fleet(line);
        }
        let Some(job) = self.job() else {
            return;
        };
        let appended = job.append(line);
        self.recorded = true;
        match appended {
            Ok(size) => {
                self.trim_due = store::trim_due(size, line.len(), self.keep_runs);
                if let Some(e) = lost_tail {
                    self.logger.warn(&format!(
                        "ledger: the run is recorded in {} without its output: {e}",
                        self.dir.display()
                    ));
                }
            }
            Err(e) => self.logger.warn(&format!(
                "ledger: the run was not recorded in {}: {e} (--no-ledger turns the ledger off)",
                self.dir.display()
            )),
        }
    }
}

/// The job's failures in a row before this run: its records newest first, until a success. Read from the
/// end of the file, which usually has one in its last few records; the whole file only when it has none.
fn failures_before(job: &Job) -> std::io::Result<u32> {
    let Some(file) = job.log()? else {
        return Ok(0);
    };
    let mut failures = 0;
    scan::backward(&file, |piece| {
        let Some(record) = piece
            .bytes
            .and_then(|bytes| serde_json::from_slice::<Record<'_>>(bytes).ok())
        else {
            return ControlFlow::Continue(());
        };
        match record.streak() {
            Streak::Reset => return ControlFlow::Break(()),
            Streak::Failure => failures += 1,
            Streak::Neither => {}
        }
        ControlFlow::Continue(())
    })?;
    Ok(failures)
}

impl Observer for Ledger {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Skipped { reason } => self.skipped(reason),
            // Another host runs this tick: nothing failed here, and the count of failures stays.
            Event::TickTaken { tick, holder } => self.skipped(&format!(
                "not run here: the tick {} was claimed first by {holder}",
                rfc3339_utc(*tick)
            )),
            Event::Finished(report) => {
                self.fleet_tail = Some(report.tail.clone());
                self.finished(report)
            }
            Event::Started { .. } => self.fleet_started(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(outcome: &str, success: bool) -> String {
        format!(
            r#"{{"v":1,"run_id":"r","name":"j","host":"h","tick":null,"started_at":"t","finished_at":"t","duration_s":1.0,"outcome":"{outcome}","exit_status":0,"success":{success},"message":"m"}}"#
        ) + "\n"
    }

    #[test]
    fn failures_are_counted_back_to_the_last_success() {
        let state = tempfile::tempdir().unwrap();
        let job = Store::new(state.path()).job_for_writing("j").unwrap();
        assert_eq!(failures_before(&job).unwrap(), 0);
        for (outcome, success) in [
            ("failure", false),
            ("success", true),
            ("failure", false),
            ("skipped", false),
            ("timeout", false),
        ] {
            job.append(line(outcome, success).as_bytes()).unwrap();
        }
        job.append(b"{\"v\":1,\"cut").unwrap();
        assert_eq!(failures_before(&job).unwrap(), 2);
        // No success at all: every record counts, back to the start of the file.
        let job = Store::new(state.path()).job_for_writing("k").unwrap();
        for _ in 0..3000 {
            job.append(line("failure", false).as_bytes()).unwrap();
        }
        assert_eq!(failures_before(&job).unwrap(), 3000);
    }
}
