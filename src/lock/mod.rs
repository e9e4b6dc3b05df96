//! `--lock`: one run at a time. A path is a lock file on this host (flock, `flock.rs`); a
//! `redis://`, `rediss://`, `postgres://` or `postgresql://` URL is a lock engine a fleet of hosts
//! shares (`fleet.rs`, over `redis.rs` and `postgres.rs`), for one host per tick.

pub mod fleet;
mod flock;
pub(crate) mod postgres;
pub(crate) mod redis;
mod target;

pub use flock::{obtain, Lock, Obtained, Wanted};
pub use target::{Engine, EngineKind, Target, Tls};
