//! The commands that read the ledger: `status` (one line per job, JSON, or one plugin line for Nagios,
//! Icinga and monit), `history` (a job's latest runs), `last-output` (the tail of its latest failed run,
//! byte for byte) and `metrics` (Prometheus text). Tables fit an 80-column terminal; times are RFC 3339
//! with the local offset. Each reads a job's file a block at a time, whatever its size, and shows a job's
//! own text on a terminal with its control characters escaped ([`shown`]).

pub mod fleet;
mod shown;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use chrono::SecondsFormat;
use serde_json::{json, Value};

use crate::cli::{HistoryArgs, LastOutputArgs, LedgerArgs, MetricsArgs, StatusArgs};
use crate::exit::Exit;
use crate::ledger::default_state_dir;
use crate::ledger::record::{self, local_time, parse_time, Record, Streak};
use crate::ledger::scan::{self, Unreadable};
use crate::ledger::store::{self, Job, Store};
use crate::ledger::summary::{self, owned, Summary};
use shown::Sink;

/// A terminal's width that every table fits in.
const WIDTH: usize = 80;

fn error(message: &str) {
    eprintln!("cronbeat: {message}");
}

fn warn(message: &str) {
    eprintln!("cronbeat: warning: {message}");
}

fn store_of(args: &LedgerArgs) -> Result<Store, String> {
    match &args.state_dir {
        Some(dir) if dir.as_os_str().is_empty() => Err("--state-dir: is empty".to_string()),
        Some(dir) => Ok(Store::new(dir)),
        None => default_state_dir().map(|dir| Store::new(&dir)),
    }
}

/// The ledger and the job's folder in it, `None` when nothing was recorded for the job; an error line and
/// the exit value when the ledger cannot be had.
fn job_of(ledger: &LedgerArgs, name: &str) -> Result<(Store, Option<Job>), Exit> {
    let store = store_of(ledger).map_err(|message| {
        error(&message);
        Exit::Usage
    })?;
    let job = store.job(name).map_err(|e| {
        error(&format!(
            "cannot read {}: {e}",
            store.job_dir(name).display()
        ));
        Exit::NoRecord
    })?;
    Ok((store, job))
}

/// One warning for the pieces of a job's file that are not whole records (a crash or a full disk cut them).
fn warn_unreadable(file: &Path, unreadable: &Unreadable) {
    if unreadable.count == 0 {
        return;
    }
    let mut list: Vec<String> = unreadable.lines.iter().map(usize::to_string).collect();
    if unreadable.count > unreadable.lines.len() {
        list.push("…".to_string());
    }
    let (what, where_) = match unreadable.count {
        1 => ("record", "line"),
        _ => ("records", "lines"),
    };
    warn(&format!(
        "{}: skipped {} unreadable {what} ({where_} {})",
        file.display(),
        unreadable.count,
        list.join(", ")
    ));
}

/// The jobs asked for (all of them when `names` is empty), sorted by name; the names with nothing recorded;
/// and what could not be read.
struct Found {
    summaries: Vec<Summary>,
    missing: Vec<String>,
    errors: Vec<String>,
}

fn find(store: &Store, names: &[String]) -> Found {
    let mut found = Found {
        summaries: Vec::new(),
        missing: Vec::new(),
        errors: Vec::new(),
    };
    let jobs: Vec<(Option<&String>, Job)> = if names.is_empty() {
        match store.jobs() {
            Ok(jobs) => jobs.into_iter().map(|j| (None, j)).collect(),
            Err(e) => {
                found
                    .errors
                    .push(format!("cannot read {}: {e}", store.root().display()));
                Vec::new()
            }
        }
    } else {
        let mut jobs = Vec::new();
        for name in names {
            match store.job(name) {
                Ok(Some(job)) => jobs.push((Some(name), job)),
                Ok(None) => found.missing.push(name.clone()),
                Err(e) => found.errors.push(format!(
                    "cannot read {}: {e}",
                    store.job_dir(name).display()
                )),
            }
        }
        jobs
    };
    for (name, job) in jobs {
        let file = job.path().join(store::LOG);
        match Summary::of(&job) {
            Ok(Some(summary)) => {
                warn_unreadable(&file, &summary.unreadable);
                found.summaries.push(summary);
            }
            Ok(None) => found.missing.extend(name.cloned()),
            Err(e) => found
                .errors
                .push(format!("cannot read {}: {e}", file.display())),
        }
    }
    found
        .summaries
        .sort_by(|a, b| a.last.name.cmp(&b.last.name));
    found
}

// ---------------------------------------------------------------------------------------------------------
// status

pub fn status(args: &StatusArgs) -> Exit {
    if let Some(url) = &args.fleet {
        return fleet::status(args, url);
    }
    if args.fail_after.is_some() && !args.check {
        error("--fail-after: only with --check (a run's own --fail-after is given when it runs)");
        return Exit::Usage;
    }
    let store = match store_of(&args.ledger) {
        Ok(store) => store,
        Err(message) if args.check => return plugin(Exit::Unknown, &message),
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    let found = find(&store, &args.names);
    let now = SystemTime::now();
    if args.check {
        return check(&store, &found, args.fail_after, args.slow_factor, now);
    }
    let factor = args.slow_factor.unwrap_or(summary::DEFAULT_SLOW_FACTOR);
    let sink = Sink::of_stdout();
    if args.json {
        let all: Vec<Value> = found
            .summaries
            .iter()
            .map(|s| status_json(s, now, factor))
            .collect();
        println!(
            "{}",
            sink.json(serde_json::to_string_pretty(&all).expect("JSON always serializes"))
        );
    } else if !found.summaries.is_empty() {
        print!("{}", status_table(&found.summaries, now, sink, factor));
    }
    for name in &found.missing {
        error(&format!(
            "{name}: no run recorded in {}",
            store.root().display()
        ));
    }
    for message in &found.errors {
        error(message);
    }
    if found.summaries.is_empty() && args.names.is_empty() && found.errors.is_empty() {
        error(&format!("no run recorded in {}", store.root().display()));
        return Exit::NoRecord;
    }
    if found.missing.is_empty() && found.errors.is_empty() {
        Exit::Done
    } else {
        Exit::NoRecord
    }
}

fn status_json(s: &Summary, now: SystemTime, factor: f64) -> Value {
    let last = &s.last;
    let due = s.due(now);
    let trend = s.trend(factor);
    let mut value = status_json_fields(s, last, due);
    if let Value::Object(map) = &mut value {
        map.insert("marks".into(), json!(trend.marks()));
        map.insert("slower".into(), json!(trend.slower.is_some()));
        map.insert("bigger".into(), json!(trend.bigger.is_some()));
        map.insert(
            "last_cpu_s".into(),
            json!(last.cost.as_ref().map(|c| c.cpu_s())),
        );
        map.insert(
            "last_peak_memory_bytes".into(),
            json!(last.cost.as_ref().and_then(|c| c.peak_memory_bytes)),
        );
    }
    value
}

fn status_json_fields(
    s: &Summary,
    last: &Record<'static>,
    due: Option<crate::ledger::summary::Due>,
) -> Value {
    json!({
        "name": last.name,
        "host": last.host,
        "last_outcome": last.outcome,
        "last_exit_status": last.exit_status,
        "last_success": last.success,
        "last_message": last.message,
        "last_started_at": local_time(&last.started_at, SecondsFormat::Millis),
        "last_finished_at": local_time(&last.finished_at, SecondsFormat::Millis),
        "last_duration_s": last.duration_s,
        "last_success_at": s.last_success_at.as_deref().map(|t| local_time(t, SecondsFormat::Millis)),
        "consecutive_failures": s.consecutive_failures,
        "runs": s.runs,
        "schedule": last.schedule.as_ref().map(|sc| sc.expr.as_ref()),
        "tz": last.schedule.as_ref().map(|sc| sc.tz.as_ref()),
        "next_due_at": due.as_ref().and_then(|d| d.next).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false)),
        "overdue": due.as_ref().is_some_and(|d| d.overdue),
        "fail_after": last.fail_after.unwrap_or(1),
    })
}

fn status_table(summaries: &[Summary], now: SystemTime, sink: Sink, factor: f64) -> String {
    let scheduled = summaries.iter().any(|s| s.schedule().is_some());
    let marks: Vec<String> = summaries
        .iter()
        .map(|s| s.trend(factor).marks().join(","))
        .collect();
    let marked = marks.iter().any(|m| !m.is_empty());
    let mut header = vec!["JOB", "LAST", "WHEN", "TOOK", "LAST OK", "FAILS"];
    if scheduled {
        header.push("NEXT");
    }
    if marked {
        header.push("TREND");
    }
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let last = &s.last;
            let mut row = vec![
                sink.cell(&last.name),
                sink.cell(&last.outcome),
                ago(&last.started_at, now),
                took(last.duration_s),
                s.last_success_at
                    .as_deref()
                    .map_or_else(|| "never".to_string(), |t| ago(t, now)),
                s.consecutive_failures.to_string(),
            ];
            if scheduled {
                row.push(match s.due(now) {
                    Some(d) if d.overdue => "overdue".to_string(),
                    Some(d) => d
                        .next
                        .map(|next| {
                            let at: SystemTime = next.with_timezone(&chrono::Utc).into();
                            format!("in {}", short(at.duration_since(now).unwrap_or_default()))
                        })
                        .unwrap_or_else(|| "-".to_string()),
                    None => "-".to_string(),
                });
            }
            row
        })
        .zip(&marks)
        .map(|(mut row, mark)| {
            if marked {
                row.push(if mark.is_empty() {
                    "-".into()
                } else {
                    mark.clone()
                });
            }
            row
        })
        .collect();
    render(&header, &rows, 0, &[5])
}

// ---------------------------------------------------------------------------------------------------------
// status --check

/// How one job stands for a monitoring plugin.
fn judge(
    s: &Summary,
    threshold: Option<u32>,
    slow_factor: Option<f64>,
    now: SystemTime,
) -> (Exit, String) {
    let name = &s.last.name;
    let threshold = threshold.or(s.last.fail_after).unwrap_or(1);
    let failures = s.consecutive_failures;
    if let Some(missed) = s.due(now).and_then(|d| d.missed) {
        let due = record::local_rfc3339(missed);
        return (Exit::Critical, format!("{name}: overdue, due at {due}"));
    }
    let last_failure = || {
        if s.last.streak() == Streak::Failure {
            s.last.message.to_string()
        } else {
            format!("last run {}", s.last.outcome)
        }
    };
    if let Some(verdict) = failure_verdict(name, failures, threshold, last_failure) {
        return verdict;
    }
    if let Some(factor) = slow_factor {
        let trend = s.trend(factor);
        let mut said = Vec::new();
        if let Some((latest, median)) = trend.slower {
            said.push(format!(
                "slower: the latest successful run took {}, {:.1} times the median {} of the runs before it",
                took(latest),
                latest / median.max(0.001),
                took(median)
            ));
        }
        if let Some((latest, median)) = trend.bigger {
            said.push(format!(
                "bigger: the latest successful run peaked at {}, {:.1} times the median {} of the runs before it",
                crate::cost::bytes(latest),
                latest as f64 / (median.max(1) as f64),
                crate::cost::bytes(median)
            ));
        }
        if !said.is_empty() {
            return (Exit::Warning, format!("{name}: {}", said.join("; ")));
        }
    }
    (Exit::Done, format!("{name}: ok"))
}

/// The plugin verdict of a job's failures in a row, on this host or across the fleet: CRITICAL from
/// `threshold` on, WARNING below it, none without a failure. `last_failure` says what the last one was.
fn failure_verdict(
    name: &str,
    failures: u32,
    threshold: u32,
    last_failure: impl FnOnce() -> String,
) -> Option<(Exit, String)> {
    if failures >= threshold {
        let times = if failures == 1 {
            "failed".to_string()
        } else {
            format!("{failures} failures in a row")
        };
        return Some((
            Exit::Critical,
            format!("{name}: {times} ({})", last_failure()),
        ));
    }
    (failures > 0).then(|| {
        (
            Exit::Warning,
            format!(
                "{name}: failure {failures} of {threshold} ({})",
                last_failure()
            ),
        )
    })
}

fn check(
    store: &Store,
    found: &Found,
    threshold: Option<u32>,
    slow_factor: Option<f64>,
    now: SystemTime,
) -> Exit {
    let mut judged: Vec<(Exit, String)> = found
        .summaries
        .iter()
        .map(|s| judge(s, threshold, slow_factor, now))
        .collect();
    for name in &found.missing {
        judged.push((Exit::Unknown, format!("{name}: no run recorded")));
    }
    for message in &found.errors {
        judged.push((Exit::Unknown, message.clone()));
    }
    if judged.is_empty() {
        return plugin(
            Exit::Unknown,
            &format!("no run recorded in {}", store.root().display()),
        );
    }
    let rank = |e: Exit| match e {
        Exit::Critical => 0,
        Exit::Warning => 1,
        Exit::Unknown => 2,
        _ => 3,
    };
    judged.sort_by_key(|(e, _)| rank(*e));
    let worst = judged[0].0;
    if worst == Exit::Done {
        let jobs = judged.len();
        let noun = if jobs == 1 { "job" } else { "jobs" };
        return plugin(
            Exit::Done,
            &format!("{jobs} {noun}, none failing or overdue"),
        );
    }
    let problems: Vec<&str> = judged
        .iter()
        .filter(|(e, _)| *e != Exit::Done)
        .map(|(_, m)| m.as_str())
        .collect();
    plugin(worst, &problems.join("; "))
}

/// The plugin's one line (`CRONBEAT CRITICAL - …`) on standard output, and its exit value.
pub fn plugin(state: Exit, text: &str) -> Exit {
    let word = match state {
        Exit::Done => "OK",
        Exit::Warning => "WARNING",
        Exit::Critical => "CRITICAL",
        _ => "UNKNOWN",
    };
    let text = Sink::of_stdout().cell(&text.replace(['\n', '|'], " "));
    println!("CRONBEAT {word} - {text}");
    match state {
        Exit::Done | Exit::Warning | Exit::Critical => state,
        _ => Exit::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------------------
// history

pub fn history(args: &HistoryArgs) -> Exit {
    if let Some(url) = &args.fleet {
        return fleet::history(args, url);
    }
    let (store, job) = match job_of(&args.ledger, &args.name) {
        Ok(found) => found,
        Err(exit) => return exit,
    };
    let runs = match job.as_ref().map(|job| newest_runs(job, args.runs)) {
        Some(Ok(runs)) => runs,
        Some(Err(e)) => {
            let file = store.job_dir(&args.name).join(store::LOG);
            error(&format!("cannot read {}: {e}", file.display()));
            return Exit::NoRecord;
        }
        None => Vec::new(),
    };
    if runs.is_empty() && args.runs > 0 {
        error(&format!(
            "{}: no run recorded in {}",
            args.name,
            store.root().display()
        ));
        return Exit::NoRecord;
    }
    let sink = Sink::of_stdout();
    if args.json {
        let all: Vec<Value> = runs.iter().map(run_json).collect();
        println!(
            "{}",
            sink.json(serde_json::to_string_pretty(&all).expect("JSON always serializes"))
        );
    } else {
        print!("{}", history_table(&runs, sink));
    }
    Exit::Done
}

/// The newest `count` whole records of the job, newest first, after one warning for the pieces that are
/// not. One pass from the start keeps where the newest `count` are, not the records themselves; those are
/// read again at the end.
fn newest_runs(job: &Job, count: usize) -> std::io::Result<Vec<Record<'static>>> {
    let Some(file) = job.log()? else {
        return Ok(Vec::new());
    };
    let mut unreadable = Unreadable::default();
    let mut newest: VecDeque<(u64, usize)> = VecDeque::new();
    scan::forward(&file, |piece| {
        let whole = piece
            .bytes
            .filter(|bytes| serde_json::from_slice::<Record<'_>>(bytes).is_ok());
        match whole {
            Some(bytes) if count > 0 => {
                if newest.len() == count {
                    newest.pop_front();
                }
                newest.push_back((piece.offset, bytes.len()));
            }
            Some(_) => {}
            None => unreadable.push(piece.line),
        }
        ControlFlow::Continue(())
    })?;
    warn_unreadable(&job.path().join(store::LOG), &unreadable);
    let mut runs = Vec::with_capacity(newest.len());
    let mut bytes = Vec::new();
    for &(offset, len) in newest.iter().rev() {
        bytes.resize(len, 0);
        file.read_exact_at(&mut bytes, offset)?;
        // The file only grows by appends while it is open: what was a record there still is.
        if let Ok(record) = serde_json::from_slice::<Record<'_>>(&bytes) {
            runs.push(owned(record));
        }
    }
    Ok(runs)
}

fn run_json(r: &Record<'_>) -> Value {
    json!({
        "run_id": r.run_id,
        "name": r.name,
        "host": r.host,
        "tick": r.tick.as_deref().map(|t| local_time(t, SecondsFormat::Secs)),
        "started_at": local_time(&r.started_at, SecondsFormat::Millis),
        "finished_at": local_time(&r.finished_at, SecondsFormat::Millis),
        "duration_s": r.duration_s,
        "outcome": r.outcome,
        "exit_status": r.exit_status,
        "success": r.success,
        "message": r.message,
        "output_kept": r.tail.is_some(),
        "attempts": r.attempts.unwrap_or(1),
        "cost": r.cost,
    })
}

fn history_table(runs: &[Record<'_>], sink: Sink) -> String {
    // The cost columns where a run has a cost: records older than the cost have none.
    let costed = runs.iter().any(|r| r.cost.is_some());
    let mut header = vec!["STARTED", "OUTCOME", "EXIT", "TOOK"];
    if costed {
        header.extend(["CPU", "PEAK"]);
    }
    header.extend(["RUN", "HOST"]);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let mut row = vec![
                sink.cell(&local_time(&r.started_at, SecondsFormat::Secs)),
                sink.cell(&r.outcome),
                r.exit_status.to_string(),
                took(r.duration_s),
            ];
            if costed {
                let cost = r.cost.as_ref();
                row.push(cost.map_or_else(|| "-".to_string(), |c| took(c.cpu_s())));
                row.push(
                    cost.and_then(|c| c.peak_memory_bytes)
                        .map_or_else(|| "-".to_string(), short_bytes),
                );
            }
            row.push(sink.cell(&r.run_id.chars().take(8).collect::<String>()));
            row.push(sink.cell(&r.host));
            row
        })
        .collect();
    if costed {
        render(&header, &rows, 7, &[2, 4, 5])
    } else {
        render(&header, &rows, 5, &[2])
    }
}

/// Bytes in a narrow column: `512M`, `100.2M`, `4K`.
fn short_bytes(n: u64) -> String {
    crate::cost::bytes(n)
        .replace(" MiB", "M")
        .replace(" GiB", "G")
        .replace(" KiB", "K")
        .replace(" TiB", "T")
        .replace(" B", "B")
}

// ---------------------------------------------------------------------------------------------------------
// last-output

pub fn last_output(args: &LastOutputArgs) -> Exit {
    if let Some(url) = &args.fleet {
        return fleet::last_output(args, url);
    }
    let (store, job) = match job_of(&args.ledger, &args.name) {
        Ok(found) => found,
        Err(exit) => return exit,
    };
    let name = &args.name;
    let log = store.job_dir(name).join(store::LOG);
    let file = match job.as_ref().map(Job::log).transpose() {
        Ok(file) => file.flatten(),
        Err(e) => {
            error(&format!("cannot read {}: {e}", log.display()));
            return Exit::NoRecord;
        }
    };
    let recorded = file
        .as_ref()
        .is_some_and(|f| f.metadata().is_ok_and(|m| m.len() > 0));
    let failed = match file
        .as_ref()
        .map(|file| summary::newest_where(file, |r| r.streak() == Streak::Failure))
    {
        Some(Ok(failed)) => failed,
        Some(Err(e)) => {
            error(&format!("cannot read {}: {e}", log.display()));
            return Exit::NoRecord;
        }
        None => None,
    };
    let (Some(job), Some(run)) = (job, failed) else {
        let what = if recorded { "no failed run" } else { "no run" };
        error(&format!(
            "{name}: {what} recorded in {}",
            store.root().display()
        ));
        return Exit::NoRecord;
    };
    let started = local_time(&run.started_at, SecondsFormat::Secs);
    let Some(tail) = run.tail.as_deref().and_then(tail_file) else {
        error(&format!(
            "{name}: the output of the latest failed run (started {started}) was not kept"
        ));
        return Exit::NoRecord;
    };
    let path = job.path().join(store::TAILS).join(tail);
    let mut bytes = Vec::new();
    match job.tail(tail).and_then(|file| match file {
        Some(mut file) => file.read_to_end(&mut bytes).map(Some),
        None => Ok(None),
    }) {
        Ok(Some(_)) => {
            let mut out = std::io::stdout().lock();
            let shown = Sink::of_stdout().text(&bytes);
            // A reader that went away (`| head`) is not an error of ours.
            let _ = out.write_all(&shown).and_then(|()| out.flush());
            Exit::Done
        }
        Ok(None) => {
            error(&format!(
                "{name}: the output of the latest failed run (started {started}) is no longer kept"
            ));
            Exit::NoRecord
        }
        Err(e) => {
            error(&format!("cannot read {}: {e}", path.display()));
            Exit::NoRecord
        }
    }
}

/// The file of a tail as the ledger names it, `tails/<file>`: a record cannot point outside its folder.
fn tail_file(name: &str) -> Option<&str> {
    name.strip_prefix("tails/")
        .filter(|file| !file.is_empty() && !file.contains('/') && !file.starts_with('.'))
}

// ---------------------------------------------------------------------------------------------------------
// metrics

pub fn metrics(args: &MetricsArgs) -> Exit {
    if let Some(url) = &args.fleet {
        return fleet::metrics(args, url);
    }
    let store = match store_of(&args.ledger) {
        Ok(store) => store,
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    let found = find(&store, &[]);
    for message in &found.errors {
        error(message);
    }
    let text = exposition(&found.summaries, SystemTime::now());
    match &args.output {
        Some(path) => {
            if let Err(e) = crate::monitor::write_atomically(path, text.as_bytes()) {
                error(&e);
                return Exit::NoRecord;
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            let shown = Sink::of_stdout().text(text.as_bytes());
            let _ = out.write_all(&shown).and_then(|()| out.flush());
        }
    }
    if found.errors.is_empty() {
        Exit::Done
    } else {
        Exit::NoRecord
    }
}

/// One metric family: its name, help, and one sample per job (with an extra label, for runs by outcome).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, Option<String>, String)>,
}

fn exposition(summaries: &[Summary], now: SystemTime) -> String {
    let family = |name, help| Family {
        name,
        help,
        samples: Vec::new(),
    };
    let mut families = [
        family(
            "cronbeat_job_last_run_timestamp_seconds",
            "Unix time the job's latest recorded run started.",
        ),
        family(
            "cronbeat_job_last_success_timestamp_seconds",
            "Unix time the job's latest successful run finished.",
        ),
        family(
            "cronbeat_job_last_duration_seconds",
            "How long the job's latest recorded run took, in seconds.",
        ),
        family(
            "cronbeat_job_last_exit_status",
            "Exit status of the job's latest recorded run.",
        ),
        family(
            "cronbeat_job_consecutive_failures",
            "Failed runs of the job since its last success (skipped runs not counted).",
        ),
        family(
            "cronbeat_job_runs",
            "Runs of the job the ledger holds (its latest --keep-runs), by outcome.",
        ),
        family(
            "cronbeat_job_next_due_timestamp_seconds",
            "Unix time the job is next due by its schedule.",
        ),
        family(
            "cronbeat_job_overdue",
            "1 when a due run of the job has not started within its grace, else 0.",
        ),
        family(
            "cronbeat_job_last_peak_memory_bytes",
            "Peak memory of the job's latest recorded run, in bytes (its cgroup's peak, else the largest process's).",
        ),
        family(
            "cronbeat_job_last_cpu_seconds",
            "CPU time (user and system) of the job's latest recorded run, in seconds.",
        ),
    ];
    for s in summaries {
        let name = s.last.name.to_string();
        let mut put =
            |i: usize, value: String| families[i].samples.push((name.clone(), None, value));
        if let Some(t) = record::unix_seconds(&s.last.started_at) {
            put(0, format!("{t:.3}"));
        }
        if let Some(t) = s.last_success_at.as_deref().and_then(record::unix_seconds) {
            put(1, format!("{t:.3}"));
        }
        put(2, format!("{:.3}", s.last.duration_s));
        put(3, s.last.exit_status.to_string());
        put(4, s.consecutive_failures.to_string());
        if let Some(due) = s.due(now) {
            if let Some(next) = due.next {
                put(6, format!("{}", next.timestamp()));
            }
            put(7, u8::from(due.overdue).to_string());
        }
        if let Some(cost) = &s.last.cost {
            if let Some(peak) = cost.peak_memory_bytes {
                put(8, peak.to_string());
            }
            put(9, format!("{:.3}", cost.cpu_s()));
        }
        for (outcome, n) in &s.by_outcome {
            families[5]
                .samples
                .push((name.clone(), Some(outcome.clone()), n.to_string()));
        }
    }
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} gauge", f.name);
        for (job, outcome, value) in &f.samples {
            let _ = match outcome {
                Some(o) => writeln!(
                    out,
                    "{}{{name=\"{}\",outcome=\"{}\"}} {value}",
                    f.name,
                    label(job),
                    label(o)
                ),
                None => writeln!(out, "{}{{name=\"{}\"}} {value}", f.name, label(job)),
            };
        }
    }
    out
}

/// A label value as the exposition format escapes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

// ---------------------------------------------------------------------------------------------------------
// Tables

/// Columns of `rows` under `header`, two spaces apart, within 80 columns: column `squeeze` gives way
/// (cut with `…`) when the whole would be wider; columns in `right` are aligned right.
fn render(header: &[&str], rows: &[Vec<String>], squeeze: usize, right: &[usize]) -> String {
    let len = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| len(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(len(cell));
        }
    }
    let others: usize = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != squeeze)
        .map(|(_, w)| w)
        .sum::<usize>()
        + 2 * (widths.len() - 1);
    widths[squeeze] = widths[squeeze]
        .min(WIDTH.saturating_sub(others))
        .max(len(header[squeeze]));
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            let cell = fit(cell, *w);
            let pad = w - len(&cell);
            if i > 0 {
                line.push_str("  ");
            }
            if right.contains(&i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(&cell);
            } else {
                line.push_str(&cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` in at most `width` characters, cut with `…`.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// How long ago a stored time was, in one unit (`3m ago`).
fn ago(stored: &str, now: SystemTime) -> String {
    match parse_time(stored) {
        Some(at) => match now.duration_since(at) {
            Ok(d) => format!("{} ago", short(d)),
            Err(_) => "just now".to_string(),
        },
        None => "?".to_string(),
    }
}

/// A span in its largest sensible unit: `42s`, `12m`, `5h`, `3d`.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=89 => format!("{s}s"),
        90..=5399 => format!("{}m", (s + 30) / 60),
        5400..=172_799 => format!("{}h", (s + 1800) / 3600),
        _ => format!("{}d", (s + 43200) / 86400),
    }
}

/// A run's duration, compact: `0.02s`, `42s`, `12m 5s`, `3h 4m`, `2d 3h`.
fn took(seconds: f64) -> String {
    if seconds < 10.0 {
        return format!("{seconds:.2}s");
    }
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_fit_eighty_columns() {
        let rows = vec![
            vec![
                "a-job-with-a-name-far-too-long-for-any-table".to_string(),
                "not_started".to_string(),
                "59m ago".to_string(),
                "59m 59s".to_string(),
                "never".to_string(),
                "12".to_string(),
                "overdue".to_string(),
            ],
            vec![
                "b".to_string(),
                "success".to_string(),
                "1s ago".to_string(),
                "0.01s".to_string(),
                "1s ago".to_string(),
                "0".to_string(),
                "in 5m".to_string(),
            ],
        ];
        let header = ["JOB", "LAST", "WHEN", "TOOK", "LAST OK", "FAILS", "NEXT"];
        let text = render(&header, &rows, 0, &[5]);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?}");
        }
        assert!(
            text.contains("a-job-with-a-name-far-t…  not_started"),
            "{text}"
        );
        assert!(text.lines().nth(2).unwrap().starts_with("b  "), "{text}");
    }

    #[test]
    fn spans_and_durations() {
        assert_eq!(short(Duration::from_secs(42)), "42s");
        assert_eq!(short(Duration::from_secs(600)), "10m");
        assert_eq!(short(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(short(Duration::from_secs(3 * 86400)), "3d");
        assert_eq!(took(0.016), "0.02s");
        assert_eq!(took(42.4), "42s");
        assert_eq!(took(725.0), "12m 5s");
        assert_eq!(took(3.0 * 3600.0 + 240.0), "3h 4m");
        assert_eq!(took(2.0 * 86400.0 + 3.0 * 3600.0), "2d 3h");
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(tail_file("tails/0001-r"), Some("0001-r"));
        for bad in [
            "tails/../x",
            "/etc/passwd",
            "tails/",
            "tails/.tmp",
            "x/tails/y",
        ] {
            assert_eq!(tail_file(bad), None, "{bad}");
        }
    }
}
