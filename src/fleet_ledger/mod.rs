//! The fleet ledger: every run of every host, remembered on the PostgreSQL or Redis the fleet shares
//! (`--ledger-url`, or the fleet lock's engine with `--fleet-ledger`), so that any host, or the
//! monitoring box, can ask what happened to a job anywhere (`status --fleet` and the other readers).

pub mod postgres;
pub mod redis;
pub mod store;

pub use store::{
    Declaration, Declared, End, Forgot, JobState, Start, Store, StoredRun, CALL_LIMIT,
};

use crate::lock::{Engine, Target};

/// The engine a fleet ledger URL names (`postgres://…`, `postgresql://…`, `redis://…`, `rediss://…`,
/// the forms `--lock` takes); errors never show the URL's password.
pub fn engine_of(url: &str) -> Result<Engine, String> {
    match Target::parse(std::path::Path::new(url)) {
        Ok(Target::Fleet(engine)) => Ok(engine),
        Ok(Target::File(_)) => {
            Err("expected a postgres://, postgresql://, redis:// or rediss:// URL".to_string())
        }
        Err(e) => Err(e
            .replace("lock URL", "ledger URL")
            .replace("lock engine", "ledger engine")
            .replace("give a file path, ", "give ")),
    }
}

pub mod writer;

pub use writer::{Finished, Writer};

/// How long a run's record promises it is still running, without a fleet lock whose TTL says: renewed
/// every third of it while the command runs, and past it (its host gone) the run is `stuck`.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Where a job's runs are recorded across the fleet.
#[derive(Debug, Clone)]
pub struct Settings {
    pub engine: Engine,
    /// A running run renews its record every third of this; past it without a renewal, it is stuck.
    pub lease: std::time::Duration,
}
