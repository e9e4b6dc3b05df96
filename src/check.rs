//! `cronbeat check`: the first thing to run after editing the config file. It resolves every job (or the one
//! named) exactly as a run would — environment > job > defaults — without running anything, and says per job
//! whether it is usable.

use std::ffi::OsString;
use std::path::Path;

use crate::cli::{self, CheckArgs};
use crate::config::ConfigFile;
use crate::monitor::{self, RetryPolicy, RunInfo};
use crate::outcome::EXIT_USAGE;
use crate::run::Sources;
use crate::settings::{Layer, Settings};

/// Prints one `ok` line per valid job on stdout and one error line per invalid one on stderr; exit status 0
/// when everything is valid, else 2. With `--ping` (and a valid file) each monitor also gets a test message
/// and a line saying whether it was reached; exit status 1 if one was not.
pub fn main(args: &CheckArgs) -> i32 {
    let env = match cli::environment() {
        Ok(env) => env,
        Err(e) => {
            eprintln!(
                "cronbeat: {}",
                cli::usage_message(&e, &[OsString::from("cronbeat")])
            );
            return EXIT_USAGE;
        }
    };
    let file = match ConfigFile::load(&args.config) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("cronbeat: {message}");
            return EXIT_USAGE;
        }
    };
    let names: Vec<&str> = match &args.job {
        Some(name) => match file.job(name) {
            Ok(_) => vec![name.as_str()],
            Err(message) => {
                eprintln!("cronbeat: {message}");
                return EXIT_USAGE;
            }
        },
        None => file.jobs.keys().map(String::as_str).collect(),
    };

    let mut failed = false;
    let mut valid = Vec::new();
    if names.is_empty() {
        match defaults_alone(&env, &file) {
            Ok(settings) => {
                println!("{}: ok: no jobs, [defaults] are valid", file.path.display());
                valid.push(settings);
            }
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    for name in names {
        match resolve(&env, &file, name) {
            Ok(settings) => {
                println!(
                    "{}: ok: {name}: {}",
                    file.path.display(),
                    summary(&settings)
                );
                valid.push(settings);
            }
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    if failed {
        return EXIT_USAGE;
    }
    if args.ping && !probe_all(&file.path, &valid) {
        return EXIT_UNREACHABLE;
    }
    0
}

/// `check --ping` found a monitor it could not reach (the file itself is valid).
pub const EXIT_UNREACHABLE: i32 = 1;

/// Sends each job's monitors a harmless test message (a Healthchecks `/log` ping, which changes no check's
/// state) with the job's own timeout and retries, all jobs at once, and prints one line per monitor.
/// Returns whether every monitor was reached.
fn probe_all(path: &Path, jobs: &[Settings]) -> bool {
    let results: Vec<_> = std::thread::scope(|scope| {
        let probes: Vec<_> = jobs
            .iter()
            .map(|settings| {
                scope.spawn(|| {
                    let policy = RetryPolicy {
                        timeout: settings.ping_timeout,
                        retries: settings.ping_retries,
                    };
                    let run = RunInfo {
                        run_id: uuid::Uuid::new_v4().to_string(),
                        job: settings.job.clone(),
                        host: monitor::host_name(),
                    };
                    monitor::probe(&settings.pings, settings.webhook.as_ref(), policy, run)
                })
            })
            .collect();
        probes
            .into_iter()
            .map(|p| p.join().unwrap_or_default())
            .collect()
    });
    let mut all_reached = true;
    for (settings, results) in jobs.iter().zip(results) {
        let name = settings.job.as_deref().unwrap_or("[defaults]");
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

/// The settings a run of job `name` would get from this file and the current environment.
fn resolve(env: &cli::RunArgs, file: &ConfigFile, name: &str) -> Result<Settings, String> {
    let job = file.job(name)?;
    let sources = Sources {
        args: env,
        file: Some(file),
        job_name: Some(name),
        job: &job,
        defaults: &file.defaults,
    };
    let merged = Layer::from_args(env)
        .over(job.clone())
        .over(file.defaults.clone());
    Settings::resolve(merged, Vec::new(), Some(name.to_string())).map_err(|e| sources.blame(e))
}

/// Validates `[defaults]` of a file without jobs, as `cronbeat --config F -- COMMAND` would use them.
fn defaults_alone(env: &cli::RunArgs, file: &ConfigFile) -> Result<Settings, String> {
    let empty = Layer::default();
    let sources = Sources {
        args: env,
        file: Some(file),
        job_name: None,
        job: &empty,
        defaults: &file.defaults,
    };
    let merged = Layer::from_args(env).over(file.defaults.clone());
    // Such a file is used with a command after `--`; any command stands in for it.
    let stand_in = vec![OsString::from("true")];
    Settings::resolve(merged, stand_in, None).map_err(|e| sources.blame(e))
}

/// What the job will do, in a few words: the command line, its bounds and its monitors.
fn summary(settings: &Settings) -> String {
    let command: Vec<String> = settings
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut notes = Vec::new();
    if let Some(timeout) = settings.timeout {
        notes.push(format!("timeout {}", humantime::format_duration(timeout)));
    }
    if let Some(lock) = &settings.lock {
        notes.push(format!("lock {}", lock.display()));
    }
    notes.push(match settings.pings.len() {
        1 => "1 monitor".to_string(),
        n => format!("{n} monitors"),
    });
    format!("{} ({})", command.join(" "), notes.join(", "))
}
