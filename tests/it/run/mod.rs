//! Running a command: how it is started, its exit status, deadlines, signals, reaping, output, a
//! terminal, locks, quiet mode and jitter, and cronbeat's own log lines.

mod command;
mod cost;
mod exec_fallback;
mod exit_status;
mod interactive;
mod leftovers;
mod lock_quiet_jitter;
mod lock_safety;
mod logging;
mod output;
mod output_order;
mod reaping;
mod signals;
mod timeout;
