//! Every item of the cronbeat library that a test calls directly, named once here: when the library's
//! modules move, only these lines change.

/// The clap definition the binary parses its command line with.
pub use cronbeat::cli::command;
/// The environment variable that names monitors (`CRONBEAT_PING`).
pub use cronbeat::cli::PING_ENV;
/// The parser of the config file.
pub use cronbeat::config::ConfigFile;
/// Every setting's key, as the config file and `CRONBEAT_*` variables spell it.
pub use cronbeat::config::Layer;
/// The reader of a run's cgroup v2 files, for a recorded tree.
pub use cronbeat::cost::tree::read_v2 as read_cgroup_v2;
/// A process's own cgroup in a v1 hierarchy, as cronbeat finds the one its run cgroups go below.
pub use cronbeat::cost::v1::own_dir as v1_own_dir;
/// The one table of exit statuses the documentation is written from.
pub use cronbeat::exit::TABLE as EXIT_STATUSES;
/// The fleet ledger's store, and the engine a ledger URL names: tests read declarations through it.
pub use cronbeat::fleet_ledger::{engine_of as fleet_engine, Store as FleetStore};
/// Parsing a `--ping` spec into a monitor.
pub use cronbeat::monitor::parse as parse_monitor;
/// The one table of monitor kinds the documentation is written from.
pub use cronbeat::monitor::KINDS as MONITOR_KINDS;
/// The bounded output tail reported to monitors.
pub use cronbeat::output::Tail;
/// A job's schedule: the cron expression in its zone, its due times and ticks.
pub use cronbeat::schedule::Schedule;
/// Durations and sizes as options take them.
pub use cronbeat::units::{parse_duration, parse_size};
/// An IANA time zone from the database built into cronbeat.
pub use cronbeat::zone::Zone;
