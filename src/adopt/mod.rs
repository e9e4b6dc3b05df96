//! `cronbeat adopt`: find the scheduled jobs already on the host and wrap them in cronbeat, as a plan
//! first (the `cargo fmt --check` and `terraform plan` habit), then `--write`, with `--undo` to go back.
//!
//! - `sources`: where jobs are (crontabs, `/etc/cron.d`, users' crontabs) and how each is read;
//! - `crontab`: the format, as cron reads it; `words`: the shell's words, as far as adopt needs them;
//! - `rewrite`: the wrapping of one line, and reading it back; `convert`: the old wrappers (the
//!   Healthchecks curl recipe, runitor, cronitor exec) turned into the job's monitor; `names`;
//! - `timers`: systemd timers and cronbeat's drop-in for their services;
//! - `plan`: what is done with each job and each source's new text; `diff`: how it is shown;
//! - `apply`: the write, its backups and journal, and the undo; `monitors`: monitor URLs kept out of
//!   crontabs, and `--provision`.

mod apply;
mod convert;
mod crontab;
mod diff;
mod monitors;
mod names;
mod plan;
mod rewrite;
mod sources;
mod timers;
mod words;

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cli::AdoptArgs;
use crate::config::Layer;
use crate::exit::Exit;
use plan::{Action, Options, Plan};
use sources::{Place, Wanted};

pub fn main(args: &AdoptArgs) -> Exit {
    match run(args) {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("cronbeat: adopt: {message}");
            Exit::Usage
        }
    }
}

fn run(args: &AdoptArgs) -> Result<Exit, String> {
    let state_dir = match &args.ledger.state_dir {
        Some(dir) => dir.clone(),
        None => crate::ledger::default_state_dir()?,
    };
    if args.undo {
        let outcome = apply::undo(&state_dir);
        return Ok(report(&outcome));
    }
    let options = options(args)?;
    let keys = monitors::Keys {
        layer: Layer {
            hc_api_key: args.hc_api_key.clone(),
            hc_api_key_file: args.hc_api_key_file.clone(),
            hc_api_url: args.hc_api_url.clone(),
            cronitor_api_key: args.cronitor_api_key.clone(),
            cronitor_api_key_file: args.cronitor_api_key_file.clone(),
            cronitor_api_url: args.cronitor_api_url.clone(),
            ..Layer::default()
        },
    };
    let fleet = match args.ledger_url.as_deref().map(str::trim) {
        None => None,
        Some("") => return Err("--ledger-url is empty".into()),
        Some(url) => {
            Some(crate::fleet_ledger::engine_of(url).map_err(|e| format!("--ledger-url: {e}"))?)
        }
    };
    if fleet.is_some() && !args.provision {
        return Err("--ledger-url declares the jobs with --provision: add --provision".into());
    }
    if args.provision && !keys.any() && fleet.is_none() {
        return Err(
            "--provision needs an API key (--hc-api-key or --cronitor-api-key) or a fleet ledger (--ledger-url)"
                .into(),
        );
    }
    let wanted = Wanted {
        crontabs: args.crontab.clone(),
        system_crontabs: args.system_crontab.clone(),
        unit_dirs: args.unit_dir.clone(),
        timers: args.timers,
    };
    let (found, notes) = sources::find(&wanted)?;
    let timers = if wanted.wants_timers() {
        let (dirs, drop_in_root) = wanted.timer_dirs();
        timers::find(&dirs, &drop_in_root)
    } else {
        Vec::new()
    };
    let plan = plan::plan(&found, &timers, &options);
    print_rows(&plan);
    for note in &notes {
        println!("note: {note}");
    }
    if plan
        .changes
        .iter()
        .any(|c| matches!(c.place, Place::DropIn { .. }))
    {
        println!(
            "note: {}",
            if apply::systemd_runs() {
                "after writing the drop-ins, adopt runs systemctl daemon-reload"
            } else {
                "systemd is not running here: after --write, run systemctl daemon-reload where it does"
            }
        );
    }
    if args.write {
        let mut outcome = apply::write(&plan, &state_dir);
        if args.provision && outcome.failed.is_empty() {
            if keys.any() {
                for line in monitors::provision(&plan.monitored, &keys) {
                    match line {
                        Ok(line) => outcome.done.push(format!("provisioned {line}")),
                        Err(line) => outcome.failed.push(line),
                    }
                }
            }
            if let Some(engine) = &fleet {
                for line in monitors::declare(&plan.scheduled, engine) {
                    match line {
                        Ok(line) => outcome.done.push(line),
                        Err(line) => outcome.failed.push(line),
                    }
                }
            }
        }
        return Ok(report(&outcome));
    }
    for change in &plan.changes {
        let label = change.place.label();
        let old_label = match &change.place {
            Place::DropIn { .. } if change.before.is_empty() => "/dev/null".to_string(),
            _ => label.clone(),
        };
        print!(
            "\n{}",
            diff::unified(
                &old_label,
                &format!("{label} (adopted)"),
                &change.before,
                &change.after,
                &shown
            )
        );
    }
    println!("\n{}", summary(&plan));
    if args.check {
        return Ok(if plan.pending() {
            Exit::Pending
        } else {
            Exit::Done
        });
    }
    if !plan.changes.is_empty() || !plan.ping_files.is_empty() {
        println!("Nothing was changed: apply this plan with cronbeat adopt --write (and the same options).");
    }
    Ok(Exit::Done)
}

fn options(args: &AdoptArgs) -> Result<Options, String> {
    let cronbeat = match &args.cronbeat {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot tell where this binary is ({e}): give --cronbeat PATH"))?,
    };
    if !cronbeat.is_absolute() {
        return Err(format!(
            "--cronbeat {}: an absolute path (cron's PATH is short)",
            cronbeat.display()
        ));
    }
    let ping_dir = match &args.ping_dir {
        Some(dir) => dir.clone(),
        None => monitors::default_ping_dir()?,
    };
    for (path, what) in [(&cronbeat, "--cronbeat"), (&ping_dir, "--ping-dir")] {
        let bytes = path.as_os_str().as_bytes();
        if !monitors::usable_in_a_line(path) || bytes.contains(&b'\n') || bytes.contains(&b'\'') {
            return Err(format!(
                "{what} {}: a path with a %, a quote or a newline cannot be written in a crontab line",
                path.display()
            ));
        }
    }
    if let Some(template) = &args.ping_template {
        if !template.contains("{name}") {
            return Err(
                "--ping-template: the URL needs {name}, else every job would report to one check"
                    .into(),
            );
        }
        crate::monitor::parse(&template.replace("{name}", "job"))
            .map_err(|e| format!("--ping-template: {e}"))?;
    }
    Ok(Options {
        cronbeat: cronbeat.as_os_str().as_bytes().to_vec(),
        ping_template: args.ping_template.clone(),
        ping_dir: PathBuf::from(&ping_dir),
        cronitor_key: args
            .cronitor_api_key
            .as_ref()
            .map(|k| k.expose().to_string()),
    })
}

/// A line of a crontab as the plan prints it: a URL in it (a ping URL is a secret) shown by its host only.
fn shown(line: &[u8]) -> String {
    static URL: OnceLock<regex::Regex> = OnceLock::new();
    let url =
        URL.get_or_init(|| regex::Regex::new(r#"(https?://)[^\s'"]+"#).expect("a valid regex"));
    let text = String::from_utf8_lossy(line);
    url.replace_all(&text, |m: &regex::Captures| {
        format!("{}{}", &m[1], crate::monitor::redact(&m[0]))
    })
    .into_owned()
}

fn print_rows(plan: &Plan) {
    let header = ["SOURCE", "USER", "SCHEDULE", "NAME", "ACTION"];
    let cells: Vec<[String; 5]> = plan
        .rows
        .iter()
        .map(|row| {
            let mut action = row.action.describe();
            for note in &row.notes {
                action.push_str("; ");
                action.push_str(note);
            }
            [
                row.at.clone(),
                row.user.clone(),
                row.schedule.clone(),
                row.name.clone().unwrap_or_else(|| "-".into()),
                action,
            ]
        })
        .collect();
    if cells.is_empty() {
        println!("No scheduled jobs found.");
        return;
    }
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", shown(out.trim_end().as_bytes()));
    };
    line(&header.map(String::from));
    for row in &cells {
        line(row);
    }
}

fn summary(plan: &Plan) -> String {
    let count = |f: &dyn Fn(&Action) -> bool| plan.rows.iter().filter(|r| f(&r.action)).count();
    let parts = [
        (count(&|a| *a == Action::Wrap), "to wrap"),
        (count(&|a| matches!(a, Action::Convert(_))), "to convert"),
        (count(&|a| matches!(a, Action::Update(_))), "to update"),
        (count(&|a| *a == Action::Wrapped), "already wrapped"),
        (count(&|a| matches!(a, Action::Drifted(_))), "drifted"),
        (count(&|a| matches!(a, Action::LeftAlone(_))), "left alone"),
    ];
    let said: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    match plan.rows.len() {
        0 => "No jobs.".into(),
        1 => format!("1 job: {}.", said.join(", ")),
        n => format!("{n} jobs: {}.", said.join(", ")),
    }
}

fn report(outcome: &apply::Outcome) -> Exit {
    for line in &outcome.done {
        println!("{line}");
    }
    for line in &outcome.failed {
        eprintln!("cronbeat: adopt: {line}");
    }
    if outcome.failed.is_empty() {
        Exit::Done
    } else {
        Exit::NotWritten
    }
}
