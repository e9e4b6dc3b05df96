//! Schedules: the expression (cron, or a systemd calendar event), its zone and its due times (`cronbeat next`), the tick a run serves
//! (`CRONBEAT_TICK`, the events, the monitors), bad input, and each service's copy of the schedule kept
//! in step through its API (in-test servers that answer as the services document), checked and fixed
//! by `cronbeat check --ping`.

mod bad_input;
mod calendar;
mod check_drift;
mod cronitor_api;
mod healthchecks_api;
mod next;
mod properties;
mod sentry;
mod table;
mod tick;
mod zones;
