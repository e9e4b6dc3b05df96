//! `cronbeat check`: the first thing to run after editing the config file. It resolves every job (or the one
//! named) exactly as a run would — environment > job > defaults — without running anything, and says per job
//! whether it is usable. With `--ping` it also reaches each monitor and compares the schedule, time zone
//! and grace each holds with the job's; `--fix` writes the job's where they differ.

use std::ffi::OsString;
use std::path::Path;

use std::time::SystemTime;

use crate::cli::{self, CheckArgs};
use crate::config::{self, ConfigFile, Given, Job};
use crate::exit::Exit;
use crate::monitor::{self, Found, Holds, RunInfo, Synced, KINDS};
use crate::schedule::Schedule;

/// Prints one `ok` line per valid job on stdout and one error line per invalid one on stderr; exit status 0
/// when everything is valid, else 2. With `--ping` (and a valid file) each monitor also gets a test message
/// and a line saying whether it was reached, and each monitor that holds a schedule a line per value that
/// differs from the job's; exit status 1 if one was not reached or one differs (and was not fixed).
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
    let declared = !args.fleet || declare_all(&file.path, &valid);
    if args.ping {
        let verdict = probe_all(&file.path, valid, args.fix);
        if !verdict.reached {
            return Exit::Unreachable;
        }
        if !verdict.in_step {
            return Exit::Drift;
        }
    }
    if !declared {
        return Exit::Unreachable;
    }
    Exit::Done
}

/// `--fleet`: declares every job of the file that has a schedule to its fleet ledger, one line each (on
/// stderr when it could not be); `false` when one with a schedule could not be declared.
fn declare_all(path: &Path, jobs: &[Job]) -> bool {
    // One connection per engine, told apart by all of it (database, user, password, TLS), not by the
    // host and port its name shows: two databases on one server are two ledgers.
    let mut stores: Vec<(crate::lock::Engine, crate::fleet_ledger::Store)> = Vec::new();
    let mut all = true;
    for job in jobs.iter().filter(|j| j.config_job.is_some()) {
        let Some(schedule) = &job.schedule else {
            println!(
                "{}: {}: not declared: the job has no schedule",
                path.display(),
                job.name
            );
            continue;
        };
        let Some(settings) = &job.fleet_ledger else {
            eprintln!(
                "cronbeat: {}: {}: not declared: no fleet ledger (ledger_url, CRONBEAT_LEDGER_URL or fleet_ledger)",
                path.display(),
                job.name
            );
            all = false;
            continue;
        };
        let key = &settings.engine;
        let at = match stores.iter().position(|(k, _)| k == key) {
            Some(at) => at,
            None => match crate::fleet_ledger::Store::open(key) {
                Ok(store) => {
                    stores.push((key.clone(), store));
                    stores.len() - 1
                }
                Err(e) => {
                    eprintln!(
                        "cronbeat: {}: {}: not declared: {e}",
                        path.display(),
                        job.name
                    );
                    all = false;
                    continue;
                }
            },
        };
        let store = &stores[at].1;
        let declaring = crate::declare::Job {
            name: &job.name,
            schedule,
            host: &job.host_id,
        };
        match crate::declare::declare(store, &declaring) {
            Ok(line) => println!("{}: {line}", path.display()),
            Err(line) => {
                eprintln!("cronbeat: {}: {line}", path.display());
                all = false;
            }
        }
    }
    all
}

/// What `--ping` found over all jobs.
struct Verdict {
    /// Every monitor was reached (and every schedule read).
    reached: bool,
    /// Every schedule a monitor holds is the job's (or was made so).
    in_step: bool,
}

/// Sends each job's monitors a harmless test message (a Healthchecks `/log` ping, which changes no check's
/// state) with the job's own timeout and retries, all jobs at once, and prints one line per monitor; then
/// a line per schedule value a monitor holds that is not the job's (with `fix`, writes the job's).
fn probe_all(path: &Path, mut jobs: Vec<Job>, fix: bool) -> Verdict {
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
                    next_due: None,
                };
                let schedule = job.schedule.clone();
                std::thread::Builder::new()
                    .name("probe".into())
                    .stack_size(monitor::DELIVERY_STACK)
                    .spawn_scoped(scope, move || {
                        // Schedules first: a check `--fix` creates is then there for the test ping.
                        let schedules = match &schedule {
                            Some(schedule) => schedule_lines(&monitors, schedule, policy, fix),
                            None => Vec::new(),
                        };
                        (schedules, monitor::probe(monitors, policy, run))
                    })
            })
            .collect();
        probes
            .into_iter()
            .map(|p| match p {
                Ok(probe) => Ok(probe.join().unwrap_or_default()),
                Err(e) => Err(e),
            })
            .collect()
    });
    let mut verdict = Verdict {
        reached: true,
        in_step: true,
    };
    for (job, probed) in jobs.iter().zip(results) {
        let name = job.config_job.as_deref().unwrap_or("[defaults]");
        let (schedules, results) = match probed {
            Ok(probed) => probed,
            Err(e) => {
                verdict.reached = false;
                eprintln!(
                    "cronbeat: {}: ping: {name}: not tried: cannot start a thread for its monitors: {e}",
                    path.display()
                );
                continue;
            }
        };
        if results.is_empty() {
            println!("{}: ping: {name}: no monitors", path.display());
        }
        for (target, result) in results {
            match result {
                Ok(verdict) => println!("{}: ping: {name}: {target}: {verdict}", path.display()),
                Err(reason) => {
                    verdict.reached = false;
                    eprintln!(
                        "cronbeat: {}: ping: {name}: {target}: not reached: {reason}",
                        path.display()
                    );
                }
            }
        }
        let summary = job.schedule.as_ref().map(|s| {
            format!(
                "{:?} in {}, grace {}",
                s.expression(),
                s.tz.name(),
                humantime::format_duration(s.grace)
            )
        });
        for line in schedules {
            let head = format!("{}: schedule: {name}: {}", path.display(), line.label);
            match line.kind {
                LineKind::Fine(text) => println!("{head}: {text}"),
                LineKind::Differs(text) => {
                    verdict.in_step = false;
                    eprintln!("cronbeat: {head}: {text}");
                }
                LineKind::Unread(text) => {
                    verdict.reached = false;
                    eprintln!("cronbeat: {head}: not compared: {text}");
                }
                LineKind::ByHand(text) => println!(
                    "{head}: not told the schedule ({}): set by hand {text}",
                    summary.as_deref().unwrap_or_default()
                ),
            }
        }
    }
    verdict
}

/// One line of the schedule comparison, about one monitor.
struct ScheduleLine {
    label: String,
    kind: LineKind,
}

enum LineKind {
    /// In step, written, or nothing to compare: said on stdout.
    Fine(String),
    /// A value that is not the job's: said on stderr, exit status 1.
    Differs(String),
    /// The monitor's copy could not be read or written.
    Unread(String),
    /// A service that holds only an interval: what to set by hand.
    ByHand(String),
}

/// Compares (and with `fix` writes) every monitor's copy of the job's schedule.
fn schedule_lines(
    monitors: &[Box<dyn monitor::Protocol>],
    schedule: &Schedule,
    policy: monitor::RetryPolicy,
    fix: bool,
) -> Vec<ScheduleLine> {
    let mut lines = Vec::new();
    let mut plans = Vec::new();
    for (index, protocol) in monitors.iter().enumerate() {
        let label = format!(
            "monitor {} ({}, {})",
            index + 1,
            protocol.kind(),
            protocol.target()
        );
        let holds = KINDS
            .iter()
            .find(|k| k.name == protocol.kind())
            .map(|k| &k.holds);
        let line = |kind| ScheduleLine {
            label: label.clone(),
            kind,
        };
        if let Some(note) = protocol.schedule_note() {
            lines.push(line(LineKind::Fine(note)));
            continue;
        }
        match (holds, protocol.sync_plan()) {
            (_, Some(plan)) => plans.push((label.clone(), plan)),
            (Some(Holds::Api(option)), None) => lines.push(line(LineKind::Fine(format!(
                "not compared: no API key ({option}) or no check named by the URL"
            )))),
            (Some(Holds::CheckIns), None) => lines.push(line(LineKind::Fine(
                "sent with every check-in (monitor_config); a DSN cannot read it back".into(),
            ))),
            (Some(Holds::Interval(how)), None) => {
                let gaps = schedule.longest_gap(SystemTime::now()).unwrap_or_default();
                lines.push(line(LineKind::ByHand(how(gaps, schedule.grace))));
            }
            _ => {}
        }
    }
    let (labels, plans): (Vec<String>, Vec<_>) = plans.into_iter().unzip();
    let checks = monitor::check_schedules(plans.clone(), policy, fix);
    for ((label, plan), check) in labels.into_iter().zip(&plans).zip(checks) {
        let line = |kind| ScheduleLine {
            label: label.clone(),
            kind,
        };
        let note = plan.wanted.adjustment(plan.service_name());
        match (check.found, check.fixed) {
            (Err(reason), _) => lines.push(line(LineKind::Unread(reason))),
            (Ok(Found::InStep), _) => {
                lines.push(line(LineKind::Fine("in step".into())));
            }
            (Ok(_), Some(Err(reason))) => {
                lines.push(line(LineKind::Unread(format!("not written: {reason}"))))
            }
            (Ok(_), Some(Ok(Synced::Created))) => {
                lines.push(line(LineKind::Fine(format!(
                    "created with the job's schedule{}",
                    note.map(|n| format!(" ({n})")).unwrap_or_default()
                ))));
            }
            (Ok(_), Some(Ok(Synced::Written(differences)))) => {
                for difference in differences {
                    let extra = match (difference.field, &note) {
                        ("grace", Some(note)) => format!(" ({note})"),
                        _ => String::new(),
                    };
                    lines.push(line(LineKind::Fine(format!(
                        "written: {}{extra}",
                        difference.written()
                    ))));
                }
            }
            (Ok(_), Some(Ok(Synced::InStep))) => lines.push(line(LineKind::Fine("in step".into()))),
            (Ok(Found::Missing), None) => lines.push(line(LineKind::Differs(
                "no such monitor: --fix creates it with the job's schedule".into(),
            ))),
            (Ok(Found::Differs { differences, .. }), None) => {
                for difference in differences {
                    lines.push(line(LineKind::Differs(difference.to_string())));
                }
            }
        }
    }
    lines
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
    if let Some(schedule) = &job.schedule {
        notes.push(format!(
            "schedule {:?} in {}, grace {}",
            schedule.expr,
            schedule.tz.name(),
            humantime::format_duration(schedule.grace)
        ));
    }
    notes.push(match job.monitors.len() {
        1 => "1 monitor".to_string(),
        n => format!("{n} monitors"),
    });
    format!("{} ({})", command.join(" "), notes.join(", "))
}
