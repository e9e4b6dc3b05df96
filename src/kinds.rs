//! The choices a job is made of, shared by the command line, the config file and the stages that act on
//! them. They live here, not beside the flags, so that the lock and the logger need nothing of the CLI.

use clap::ValueEnum;
use serde::Deserialize;

/// Format of cronbeat's own lines on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What a run does when `--lock` is held by another run (Kubernetes' concurrency policies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Do not run; exit 75 and tell the monitors
    #[default]
    Skip,
    /// Wait for the lock (at most --lock-wait)
    Wait,
    /// Stop the running one (SIGTERM, the grace, SIGKILL), then run
    Replace,
}

/// Where the `--jitter` delay comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterSeed {
    /// A hash of the host name and the job: each host keeps its own slot, a fleet spreads out
    Hostname,
    /// A hash of the job alone: the same slot on every host, different jobs spread out
    Job,
    /// A new random delay every run
    #[default]
    Random,
}

/// What a run does when its fleet lock's lease is lost while the command runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLockLost {
    /// Stop the command (SIGTERM, the --kill-after grace, SIGKILL); outcome lock_lost
    #[default]
    Kill,
    /// Let the command finish; a warning, and a note to the monitors
    Warn,
}

/// What a run does when its fleet lock's engine cannot be reached (or refuses cronbeat) at the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockUnavailable {
    /// Do not run; tell the monitors the run failed; exit 75
    #[default]
    Fail,
    /// Do not run; tell nobody but stderr; exit 75
    Skip,
    /// Run without the lock, with a warning
    Run,
}
