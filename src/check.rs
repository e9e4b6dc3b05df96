//! `cronbeat check`: the first thing to run after editing the config file. It resolves every job (or the one
//! named) exactly as a run would — environment > job > defaults — without running anything, and says per job
//! whether it is usable.

use std::ffi::OsString;

use crate::cli::{self, CheckArgs};
use crate::config::ConfigFile;
use crate::outcome::EXIT_USAGE;
use crate::run::Sources;
use crate::settings::{Layer, Settings};

/// Prints one `ok` line per valid job on stdout and one error line per invalid one on stderr; exit status 0
/// when everything is valid, else 2.
pub fn main(args: &CheckArgs) -> i32 {
    let env = match cli::environment() {
        Ok(env) => env,
        Err(e) => {
            eprintln!(
                "cronbeat: {}",
                crate::run::usage_message(&e, &[OsString::from("cronbeat")])
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
    if names.is_empty() {
        match defaults_alone(&env, &file) {
            Ok(()) => println!("{}: ok: no jobs, [defaults] are valid", file.path.display()),
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    for name in names {
        match resolve(&env, &file, name) {
            Ok(settings) => println!(
                "{}: ok: {name}: {}",
                file.path.display(),
                summary(&settings)
            ),
            Err(message) => {
                eprintln!("cronbeat: {message}");
                failed = true;
            }
        }
    }
    if failed {
        return EXIT_USAGE;
    }
    if args.ping {
        eprintln!("cronbeat: check --ping: test pings are not available in this build");
        return EXIT_USAGE;
    }
    0
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
fn defaults_alone(env: &cli::RunArgs, file: &ConfigFile) -> Result<(), String> {
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
    Settings::resolve(merged, stand_in, None)
        .map(drop)
        .map_err(|e| sources.blame(e))
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
