//! The fleet ledger's store: every host's runs of every job, on the PostgreSQL or Redis the fleet
//! shares (`postgres.rs`, `redis.rs`), and the jobs declared there with their schedules. Every call is
//! one round trip (a statement, a script or a pipeline), bounded by `limit`, and needs no session state,
//! so it works through PgBouncer in transaction mode.
//!
//! A run is stored as the local ledger's record (its JSON, whatever fields it has), next to the columns
//! the readers select on. A run that started and has not finished carries `expect_by`: the time by which
//! its host promised to finish or renew it. Times are the writing host's clock (as in the local record);
//! readers judge them by their own.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::runtime::Runtime;

use super::postgres::PgLedger;
use super::redis::RedisLedger;
use crate::lock::{Engine, EngineKind};

/// The longest one call to the engine may take, connecting included.
pub const CALL_LIMIT: Duration = Duration::from_secs(2);

/// A job's schedule as declared to the fleet (`adopt --provision`, `check --fleet`), before or without
/// any run: the readers then know when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub name: String,
    /// The schedule's expression, as `--schedule` takes it.
    pub schedule: String,
    /// The IANA zone of the schedule.
    pub tz: String,
    pub grace: Duration,
    /// The host that declares it; each declaring host is added to the job's hosts.
    pub host: String,
}

/// A declared job as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub schedule: String,
    pub tz: String,
    pub grace: Duration,
    /// The first declaration (a later one with the same schedule keeps it).
    pub declared_at: SystemTime,
    /// The latest declaration.
    pub updated_at: SystemTime,
    pub hosts: Vec<String>,
}

/// A run that began: written in the background as the command starts.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    pub name: &'a str,
    pub run_id: &'a str,
    pub host: &'a str,
    pub started_at: SystemTime,
    /// By when the run finishes or renews this, or counts as stuck.
    pub expect_by: SystemTime,
    /// The record so far (outcome `running`), JSON.
    pub record: &'a str,
}

/// A run that ended.
#[derive(Debug, Clone)]
pub struct End<'a> {
    pub name: &'a str,
    pub run_id: &'a str,
    pub host: &'a str,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub outcome: &'a str,
    pub success: bool,
    /// Counts in the failures in a row (a failure that is not a skip or an interruption).
    pub failure: bool,
    /// The local ledger's record, JSON.
    pub record: &'a str,
    /// The output tail of a failed run.
    pub tail: Option<&'a [u8]>,
    /// Runs of the job the store keeps (`--keep-runs`).
    pub keep_runs: usize,
}

/// One stored run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub host: String,
    pub started_at: SystemTime,
    /// None while it runs (or since its host stopped).
    pub finished_at: Option<SystemTime>,
    pub expect_by: Option<SystemTime>,
    /// The record, JSON.
    pub record: String,
}

/// What the store knows of one job across the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub name: String,
    pub declared: Option<Declared>,
    /// The run that started last, finished or not.
    pub latest: Option<StoredRun>,
    /// The run that finished last.
    pub last_finished: Option<StoredRun>,
    /// When the latest success finished, and where it ran.
    pub last_success: Option<(SystemTime, String)>,
    pub consecutive_failures: u32,
    /// Every host that ran the job (or declared it), sorted.
    pub hosts: Vec<String>,
}

/// What `forget` did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forgot {
    /// Its declaration, hosts and runs are gone (this many runs).
    Done { runs: u64 },
    /// Nothing of it was kept.
    Unknown,
    /// Left as it was: a run of it is under way, started then on that host and renewing its record.
    /// Its end would record the job again.
    Running {
        host: String,
        started_at: SystemTime,
    },
}

/// One engine's side of the store.
enum Client {
    Redis(Box<RedisLedger>),
    Postgres(Box<PgLedger>),
}

/// The fleet ledger on one engine. Connects on first use, and again after a failure.
pub struct Store {
    runtime: Option<Runtime>,
    client: Mutex<Client>,
    shown: String,
    limit: Duration,
    /// A tighter bound for the calls of `with_limit`.
    limit_now: std::cell::Cell<Option<Duration>>,
}

macro_rules! call {
    ($self:ident, $c:ident => $body:expr) => {{
        let mut guard = $self.client.lock().unwrap_or_else(|e| e.into_inner());
        let future = async {
            match &mut *guard {
                Client::Redis($c) => $body.await,
                Client::Postgres($c) => $body.await,
            }
        };
        $self.bounded(future)
    }};
}

impl Store {
    /// The store on `engine`; nothing is sent until the first call. `Err` only when no client can be
    /// made at all (no runtime).
    pub fn open(engine: &Engine) -> Result<Store, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the client of {engine}: {e}"))?;
        let client = match engine.kind {
            EngineKind::Redis => Client::Redis(Box::new(RedisLedger::new(engine))),
            EngineKind::Postgres => Client::Postgres(Box::new(PgLedger::new(engine))),
        };
        Ok(Store {
            runtime: Some(runtime),
            client: Mutex::new(client),
            shown: engine.to_string(),
            limit: CALL_LIMIT,
            limit_now: std::cell::Cell::new(None),
        })
    }

    /// The engine as messages name it (no secrets).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Bounds each later call to `limit` instead of `CALL_LIMIT`.
    pub fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
    }

    /// `call` with each of its engine calls bounded to `limit`.
    pub fn with_limit<T>(&self, limit: Duration, call: impl FnOnce(&Store) -> T) -> T {
        let before = self.limit_now.replace(Some(limit));
        let result = call(self);
        self.limit_now.set(before);
        result
    }

    fn bounded<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        // A call given what is left of a bound says the bound.
        let (limit, said) = (self.limit_now.get().unwrap_or(self.limit), self.limit);
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the store");
        runtime.block_on(async {
            tokio::time::timeout(limit, future)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {}",
                        humantime::format_duration(said)
                    ))
                })
        })
    }

    /// Connects now, so that the first call costs one round trip.
    pub fn warm(&self) -> Result<(), String> {
        call!(self, c => c.warm())
    }

    /// Records (or updates) the job's declared schedule, adding `host` to its hosts.
    pub fn declare(&self, declaration: &Declaration) -> Result<(), String> {
        let now = SystemTime::now();
        call!(self, c => c.declare(declaration, now))
    }

    /// When the job's latest successful run finished, on any host, and that host; `None` when no run
    /// of it succeeded (or none is kept any more).
    pub fn latest_success(&self, name: &str) -> Result<Option<(SystemTime, String)>, String> {
        call!(self, c => c.latest_success(name))
    }

    pub fn start(&self, start: &Start<'_>) -> Result<(), String> {
        call!(self, c => c.start(start))
    }

    /// Moves the running run's `expect_by` on.
    pub fn renew(&self, name: &str, run_id: &str, expect_by: SystemTime) -> Result<(), String> {
        call!(self, c => c.renew(name, run_id, expect_by))
    }

    /// Records the run's end (its start too, if that was never written), trimming the job to
    /// `keep_runs` in the same statement or script.
    pub fn end(&self, end: &End<'_>) -> Result<(), String> {
        call!(self, c => c.end(end))
    }

    /// Every job the store knows of (run or declared), or only `names`, sorted by name. A name the store
    /// does not know is left out.
    pub fn jobs(&self, names: &[String]) -> Result<Vec<JobState>, String> {
        call!(self, c => c.jobs(names))
    }

    /// The job's latest `count` runs, newest start first, finished or not.
    pub fn history(&self, name: &str, count: usize) -> Result<Vec<StoredRun>, String> {
        call!(self, c => c.history(name, count))
    }

    /// The latest failed run that kept an output tail, and the tail.
    pub fn last_output(&self, name: &str) -> Result<Option<(StoredRun, Vec<u8>)>, String> {
        call!(self, c => c.last_output(name))
    }

    /// Trims every job (or only `names`) to its latest `keep` runs, keeping each job's latest success;
    /// how many runs were dropped.
    pub fn prune(&self, keep: usize, names: &[String]) -> Result<u64, String> {
        call!(self, c => c.prune(keep, names))
    }

    /// Retires each of `names` (its declaration, hosts and runs) but one with a run under way by `now`
    /// (started, unfinished, its promise not yet past), which is left whole; one answer per name, in
    /// order, duplicates dropped.
    pub fn forget(
        &self,
        names: &[String],
        now: SystemTime,
    ) -> Result<Vec<(String, Forgot)>, String> {
        let mut unique: Vec<String> = Vec::new();
        for name in names {
            if !unique.contains(name) {
                unique.push(name.clone());
            }
        }
        call!(self, c => c.forget(&unique, now))
    }

    /// Hangs up, within a moment.
    pub fn close(&self) {
        let _ = call!(self, c => async { c.close().await; Ok::<(), String>(()) });
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A connection's task may be blocked on a silent server: do not wait for it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Milliseconds since the epoch (before it: zero).
pub fn epoch_ms(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn from_epoch_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}
