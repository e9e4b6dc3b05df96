//! The fleet ledger: every run of every host, remembered on the PostgreSQL or Redis the fleet shares
//! (`--ledger-url`, or the fleet lock's engine with `--fleet-ledger`), so that any host, or the
//! monitoring box, can ask what happened to a job anywhere (`status --fleet` and the other readers).

pub mod postgres;
pub mod redis;
pub mod store;

pub use store::{Declaration, Declared, End, JobState, Start, Store, StoredRun, CALL_LIMIT};

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
            .replace("lock engine", "ledger engine")),
    }
}
