//! cronbeat: run a scheduled command visibly and bounded.

pub mod check;
pub mod cli;
pub mod config;
pub mod events;
pub mod lock;
pub mod log;
pub mod monitor;
pub mod notify;
pub mod outcome;
pub mod output;
pub mod run;
pub mod settings;
pub mod supervise;
pub mod units;
