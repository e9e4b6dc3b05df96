//! Settings from the command line, the environment and the config file; `cronbeat check`; usage
//! errors; and the man page and completions generated from the same definition.

mod check;
mod config_file;
mod env_file;
mod first_hour;
mod generated;
mod usage_errors;
