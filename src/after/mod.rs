//! `--after JOB[,JOB…]`: a run that starts only once the jobs it depends on have succeeded. Each named
//! job's latest run (a run whose command began: skipped and interrupted runs are passed over) must have
//! succeeded and finished within the window: `--after-within DUR` back from now, else since that job's
//! own latest due time (its schedule as its ledger knows it). The ledger asked is the fleet's where one is
//! set, else this host's.
//!
//! The window is fixed when the run first judges it: a `--after-wait` that outlasts the job's next due
//! time still waits for the success it began waiting for.

mod fleet;
mod local;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::ledger::record::stored_time;
use crate::schedule::Schedule;

pub use fleet::Fleet;
pub use local::Local;

/// How often a waiting run asks the ledger again.
pub const POLL: Duration = Duration::from_millis(500);

/// What `--after`, `--after-within` and `--after-wait` ask of a run.
#[derive(Debug, Clone)]
pub struct After {
    /// The jobs' names (`--name`), each once, in the order given.
    pub jobs: Vec<String>,
    pub within: Option<Duration>,
    /// How long to wait for the success; none: judge once.
    pub wait: Option<Duration>,
    /// The state directory whose ledger is read when there is no fleet ledger.
    pub state_dir: Option<PathBuf>,
    /// The fleet ledger's engine, which is read instead when set.
    pub fleet: Option<crate::lock::Engine>,
}

/// The latest run of a job whose command began, as a ledger recorded it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub at: SystemTime,
    pub success: bool,
    /// What happened, in one line (`exited with status 3`).
    pub what: String,
    pub host: String,
}

/// What a ledger knows of a job.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub latest: Option<Finished>,
    /// Its schedule: from its latest record, or (in the fleet) its declaration.
    pub schedule: Option<Schedule>,
}

/// Where the runs of other jobs are read.
pub trait Source {
    /// The ledger as messages name it (`the local ledger in /var/lib/cronbeat`).
    fn name(&self) -> String;
    fn known(&mut self, job: &str) -> Result<Known, String>;
}

/// The start of the window in which `job`'s success counts, and how messages say it.
/// `Err`: the window cannot be known (no schedule and no `--after-within`), a usage error.
pub fn window(
    job: &str,
    known: &Known,
    within: Option<Duration>,
    now: SystemTime,
    source: &str,
) -> Result<(SystemTime, String), String> {
    if let Some(within) = within {
        let since = now.checked_sub(within).unwrap_or(SystemTime::UNIX_EPOCH);
        return Ok((
            since,
            format!("within {}", humantime::format_duration(within)),
        ));
    }
    let Some(schedule) = &known.schedule else {
        return Err(format!(
            "--after {job}: {source} holds no schedule of {job}, so its latest due time is unknown: \
             give --after-within DUR"
        ));
    };
    match schedule.latest_at_or_before(now) {
        Some(due) => {
            let due = SystemTime::from(due.with_timezone(&chrono::Utc));
            Ok((due, format!("since its due time {}", stored_time(due))))
        }
        // Never due yet: any success counts.
        None => Ok((
            SystemTime::UNIX_EPOCH,
            "ever (it was never due)".to_string(),
        )),
    }
}

/// `None` when `job`'s latest run succeeded at or after `since`; else why not, naming the job.
pub fn unmet(job: &str, known: &Known, since: SystemTime, window: &str) -> Option<String> {
    match &known.latest {
        None => Some(format!("{job} has never run")),
        Some(run) if !run.success => Some(format!(
            "the latest run of {job} failed ({}; finished {} on {})",
            run.what,
            stored_time(run.at),
            run.host
        )),
        Some(run) if run.at < since => Some(format!(
            "{job} has not succeeded {window} (its latest run succeeded at {} on {})",
            stored_time(run.at),
            run.host
        )),
        Some(_) => None,
    }
}

/// One job the run waits on, with its window once known.
struct Waited {
    job: String,
    window: Option<(SystemTime, String)>,
}

/// Where the gate stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Judged {
    /// Every job succeeded within its window.
    Met,
    /// This one has not (the reason names it).
    Unmet(String),
    /// The window of a job cannot be known: a usage error, said in one line.
    Refused(String),
}

/// The jobs of one `--after`, judged again and again against the same windows.
pub struct Gate<S: Source> {
    source: S,
    within: Option<Duration>,
    jobs: Vec<Waited>,
    now: SystemTime,
}

impl<S: Source> Gate<S> {
    pub fn new(source: S, after: &After, now: SystemTime) -> Gate<S> {
        Gate {
            source,
            within: after.within,
            jobs: after
                .jobs
                .iter()
                .map(|job| Waited {
                    job: job.clone(),
                    window: None,
                })
                .collect(),
            now,
        }
    }

    pub fn source_name(&self) -> String {
        self.source.name()
    }

    /// Asks the ledger about every job, in order, until one is not met. A ledger that cannot be read
    /// leaves the dependency unmet: nothing says it succeeded.
    pub fn judge(&mut self) -> Judged {
        let source = self.source.name();
        for waited in &mut self.jobs {
            let known = match self.source.known(&waited.job) {
                Ok(known) => known,
                Err(e) => {
                    return Judged::Unmet(format!(
                        "cannot read the runs of {} from {source}: {e}",
                        waited.job
                    ))
                }
            };
            if waited.window.is_none() {
                match window(&waited.job, &known, self.within, self.now, &source) {
                    Ok(w) => waited.window = Some(w),
                    Err(message) => return Judged::Refused(message),
                }
            }
            let (since, said) = waited.window.as_ref().expect("set");
            if let Some(reason) = unmet(&waited.job, &known, *since, said) {
                return Judged::Unmet(reason);
            }
        }
        Judged::Met
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixed(HashMap<String, Known>);

    impl Source for Fixed {
        fn name(&self) -> String {
            "the test ledger".into()
        }
        fn known(&mut self, job: &str) -> Result<Known, String> {
            self.0
                .get(job)
                .cloned()
                .ok_or_else(|| "no such ledger".to_string())
        }
    }

    fn at(s: &str) -> SystemTime {
        crate::ledger::record::parse_time(s).unwrap()
    }

    fn run(when: &str, success: bool) -> Option<Finished> {
        Some(Finished {
            at: at(when),
            success,
            what: if success {
                "exited with status 0"
            } else {
                "exited with status 1"
            }
            .into(),
            host: "db1".into(),
        })
    }

    fn hourly() -> Option<Schedule> {
        Some(
            Schedule::new(
                "0 * * * *",
                crate::zone::Zone::utc(),
                Duration::from_secs(60),
            )
            .unwrap(),
        )
    }

    fn after(jobs: &[&str], within: Option<u64>) -> After {
        After {
            jobs: jobs.iter().map(|j| j.to_string()).collect(),
            within: within.map(Duration::from_secs),
            wait: None,
            state_dir: None,
            fleet: None,
        }
    }

    /// (latest run, schedule, --after-within in seconds) at 12:30 → the verdict's first words.
    #[test]
    fn verdicts_as_a_table() {
        let now = at("2026-12-07T12:30:00Z");
        type Case = (
            Option<Finished>,
            Option<Schedule>,
            Option<u64>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (run("2026-12-07T12:05:00Z", true), hourly(), None, "met"),
            (
                run("2026-12-07T11:59:00Z", true),
                hourly(),
                None,
                "a has not succeeded since its due time 2026-12-07T12:00:00.000Z",
            ),
            (
                run("2026-12-07T12:05:00Z", false),
                hourly(),
                None,
                "the latest run of a failed (exited with status 1",
            ),
            (None, hourly(), None, "a has never run"),
            (
                run("2026-12-07T12:05:00Z", true),
                None,
                None,
                "refused: --after a: the test ledger holds no schedule of a",
            ),
            (run("2026-12-07T11:59:00Z", true), None, Some(3600), "met"),
            (
                run("2026-12-07T11:29:00Z", true),
                hourly(),
                Some(3600),
                "a has not succeeded within 1h",
            ),
        ];
        for (latest, schedule, within, want) in cases {
            let known = Known { latest, schedule };
            let source = Fixed(HashMap::from([("a".to_string(), known)]));
            let got = match Gate::new(source, &after(&["a"], within), now).judge() {
                Judged::Met => "met".to_string(),
                Judged::Unmet(reason) => reason,
                Judged::Refused(message) => format!("refused: {message}"),
            };
            assert!(
                got.starts_with(want),
                "{got:?} does not start with {want:?}"
            );
        }
    }

    #[test]
    fn every_job_must_be_met_and_the_first_unmet_is_named() {
        let now = at("2026-12-07T12:30:00Z");
        let good = Known {
            latest: run("2026-12-07T12:05:00Z", true),
            schedule: hourly(),
        };
        let bad = Known {
            latest: run("2026-12-07T12:05:00Z", false),
            schedule: hourly(),
        };
        let source = Fixed(HashMap::from([
            ("a".to_string(), good),
            ("b".to_string(), bad),
        ]));
        let mut gate = Gate::new(source, &after(&["a", "b"], None), now);
        assert!(matches!(gate.judge(), Judged::Unmet(r) if r.contains(" b failed")));
        let source = Fixed(HashMap::new());
        let mut gate = Gate::new(source, &after(&["a"], None), now);
        assert!(
            matches!(gate.judge(), Judged::Unmet(r) if r.contains("cannot read the runs of a"))
        );
    }
}
