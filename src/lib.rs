//! cronbeat: run a scheduled command visibly and bounded.

pub mod adopt;
pub mod app;
pub mod calendar;
pub mod check;
pub mod cli;
pub mod config;
pub mod cost;
pub mod crash;
pub mod events;
pub mod exit;
pub mod kinds;
mod layering;
pub mod ledger;
pub mod lock;
pub mod log;
pub mod monitor;
pub mod next;
pub mod notify;
pub mod outcome;
pub mod output;
pub mod run;
pub mod schedule;
pub mod secrets;
pub mod status;
pub mod supervise;
pub mod units;
pub mod zone;
