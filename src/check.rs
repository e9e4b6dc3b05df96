//! `cronbeat check`: the first thing to run after editing the config file. It resolves every job (or the one
//! named) exactly as a run would — environment > job > defaults — without running anything, and says per job
//! whether it is usable.

use std::ffi::OsString;
use std::path::Path;

use crate::cli::{self, CheckArgs};
use crate::config::{self, ConfigFile, Given, Job};
use crate::exit::Exit;
use crate::monitor::{self, RunInfo};

/// Prints one `ok` line per valid job on stdout and one error line per invalid one on stderr; exit status 0
/// when everything is valid, else 2. With `--ping` (and a valid file) each monitor also gets a test message
/// and a line saying whether it was reached; exit status 1 if one was not.
pub fn main(args: &CheckArgs) -> Exit {
    let env = match cli::environment() {
        Ok(env) => env,
        Err(e) => {
            eprintln!(
                "cronbeat: {}",
                cli::usage_message(&e, &[OsString::from("cronbeat")])
            );
            return Exit::Usage;
        }
    };
    let file = match ConfigFile::load(&args.config) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("cronbeat: {message}");
            return Exit::Config;
        }
    };
    let names: Vec<&str> = match &args.job {
        Some(name) => match file.job(name) {
            Ok(_) => vec![name.as_str()],
            Err(message) => {
                eprintln!("cronbeat: {message}");
                return Exit::Config;
            }
        },
        None => file.jobs.keys().map(String::as_str).collect(),
    };

    let mut failed = false;
    let mut valid = Vec::new();
    if names.is_empty() {
        match defaults_alone(&env, &file) {
            Ok(job) => {
                println!("{}: ok: no jobs, [defaults] are valid", file.path.display());
                valid.push(job);
            }
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    for name in names {
        match resolve(&env, &file, name) {
            Ok(job) => {
                println!("{}: ok: {name}: {}", file.path.display(), summary(&job));
                for warning in &job.warnings {
                    eprintln!(
                        "cronbeat: {}: {name}: warning: {warning}",
                        file.path.display()
                    );
                }
                valid.push(job);
            }
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    if failed {
        return Exit::Config;
    }
    if args.ping && !probe_all(&file.path, valid) {
        return Exit::Unreachable;
    }
    Exit::Done
}

/// Sends each job's monitors a harmless test message (a Healthchecks `/log` ping, which changes no check's
/// state) with the job's own timeout and retries, all jobs at once, and prints one line per monitor.
/// Returns whether every monitor was reached.
fn probe_all(path: &Path, mut jobs: Vec<Job>) -> bool {
    let results: Vec<_> = std::thread::scope(|scope| {
        let probes: Vec<_> = jobs
            .iter_mut()
            .map(|job| {
                let monitors = std::mem::take(&mut job.monitors);
                let policy = job.delivery;
                let run = RunInfo {
                    run_id: uuid::Uuid::new_v4().to_string(),
                    job: job.config_job.clone(),
                    host: job.host_id.clone(),
                    name: job.name.clone(),
                    tick: None,
                };
                scope.spawn(move || monitor::probe(monitors, policy, run))
            })
            .collect();
        probes
            .into_iter()
            .map(|p| p.join().unwrap_or_default())
            .collect()
    });
    let mut all_reached = true;
    for (job, results) in jobs.iter().zip(results) {
        let name = job.config_job.as_deref().unwrap_or("[defaults]");
        if results.is_empty() {
            println!("{}: ping: {name}: no monitors", path.display());
        }
        for (target, result) in results {
            match result {
                Ok(verdict) => println!("{}: ping: {name}: {target}: {verdict}", path.display()),
                Err(reason) => {
                    all_reached = false;
                    eprintln!(
                        "cronbeat: {}: ping: {name}: {target}: not reached: {reason}",
                        path.display()
                    );
                }
            }
        }
    }
    all_reached
}

/// The job `name` as a run would get it from this file and the current environment.
fn resolve(env: &Given, file: &ConfigFile, name: &str) -> Result<Job, String> {
    config::resolve(env, Some(file), Some(name), Vec::new())
}

/// Validates `[defaults]` of a file without jobs, as `cronbeat --config F -- COMMAND` would use them.
fn defaults_alone(env: &Given, file: &ConfigFile) -> Result<Job, String> {
    // Such a file is used with a command after `--`; any command stands in for it.
    config::resolve(env, Some(file), None, vec![OsString::from("true")])
}

/// What the job will do, in a few words: the command line, its bounds and its monitors.
fn summary(job: &Job) -> String {
    let command: Vec<String> = job
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut notes = Vec::new();
    if let Some(timeout) = job.timeout {
        notes.push(format!("timeout {}", humantime::format_duration(timeout)));
    }
    if let Some(lock) = &job.lock {
        notes.push(format!("lock {}", lock.shown()));
    }
    notes.push(match job.monitors.len() {
        1 => "1 monitor".to_string(),
        n => format!("{n} monitors"),
    });
    format!("{} ({})", command.join(" "), notes.join(", "))
}
