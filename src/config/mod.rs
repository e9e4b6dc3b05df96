//! From options to one job: the layers of settings (command line and environment, the TOML file's job
//! and defaults), and the one resolution that merges and validates them.

pub mod env_file;
mod file;
mod job;
mod layer;

pub use file::ConfigFile;
pub use job::{
    resolve, Given, Job, Origin, Origins, DEFAULT_KILL_AFTER, DEFAULT_PING_RETRIES,
    DEFAULT_PING_TIMEOUT, DEFAULT_REPLACE_WAIT, DEFAULT_TAIL,
};
pub use layer::Layer;
