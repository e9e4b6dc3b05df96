//! `cronbeat next`: the next due times of a job (`--job NAME`) or of an expression (`--schedule EXPR
//! [--tz ZONE]`), one RFC 3339 time with its zone's offset per line, as `systemd-analyze calendar` shows
//! a timer's. The job is resolved as a run would resolve it (environment > job > defaults), so what is
//! printed is what its runs and monitors go by.

use std::ffi::OsString;
use std::time::SystemTime;

use crate::cli::{self, NextArgs};
use crate::config::{self, ConfigFile, Origin};
use crate::exit::Exit;
use crate::schedule::rfc3339_local;

pub fn main(args: &NextArgs) -> Exit {
    let mut given = match cli::environment() {
        Ok(given) => given,
        Err(e) => {
            eprintln!(
                "cronbeat: {}",
                cli::usage_message(&e, &[OsString::from("cronbeat")])
            );
            return Exit::Usage;
        }
    };
    // Given here, they are the command line's: they win over the job's, as on a run's command line.
    if let Some(expr) = &args.schedule {
        given.layer.schedule = Some(expr.clone());
        given.origins.0.insert("schedule", Origin::Flag);
    }
    if let Some(zone) = &args.tz {
        given.layer.tz = Some(zone.clone());
        given.origins.0.insert("tz", Origin::Flag);
    }
    let file = match args.config.as_deref().map(ConfigFile::load).transpose() {
        Ok(file) => file,
        Err(message) => {
            eprintln!("cronbeat: {message}");
            return Exit::Config;
        }
    };
    // Without a job, any command stands in for the one a run would have.
    let command = match args.job {
        Some(_) => Vec::new(),
        None => vec![OsString::from("true")],
    };
    let job = match config::resolve(&given, file.as_ref(), args.job.as_deref(), command) {
        Ok(job) => job,
        Err(message) => {
            eprintln!("cronbeat: {message}");
            return Exit::Usage;
        }
    };
    let Some(schedule) = job.schedule else {
        let what = match &args.job {
            Some(name) => format!("job {name} has no schedule"),
            None => "no schedule".to_string(),
        };
        eprintln!("cronbeat: {what}: give --schedule EXPR, or --job NAME of a job with a schedule");
        return Exit::Usage;
    };
    for warning in &job.warnings {
        eprintln!("cronbeat: warning: {warning}");
    }
    let mut from = match &args.after {
        None => SystemTime::now(),
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text.trim()) {
            Ok(at) => at.with_timezone(&chrono::Utc).into(),
            Err(e) => {
                eprintln!(
                    "cronbeat: --after: {text:?} is not an RFC 3339 time such as \
                     2026-11-29T03:15:00+01:00 ({e})"
                );
                return Exit::Usage;
            }
        },
    };
    let mut out = String::new();
    for _ in 0..args.count {
        let Some(next) = schedule.next_after(from) else {
            break;
        };
        out.push_str(&rfc3339_local(&next));
        out.push('\n');
        from = next.with_timezone(&chrono::Utc).into();
    }
    print!("{out}");
    Exit::Done
}
