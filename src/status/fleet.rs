//! The readers of the fleet ledger: `status --fleet` (one line per job across every host, JSON, or one
//! plugin line), `history NAME --fleet`, `last-output NAME --fleet`, `metrics --fleet`, and
//! `ledger prune --fleet` and `ledger forget --fleet`. Each is one or two round trips to the engine, whatever the number of runs.
//!
//! A job is `stuck` when its latest run started and neither finished nor renewed its record by the time
//! it promised (`expect_by`: the lease), and `overdue` when the first due time after the tick its latest
//! run served (or after its declaration, when no run is newer) passed by more than its grace. Times
//! are judged by this host's clock.

use std::time::{Duration, SystemTime};

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::shown::Sink;
use super::{error, plugin, render, short, took, WIDTH};
use crate::cli::{ForgetArgs, HistoryArgs, LastOutputArgs, MetricsArgs, PruneArgs, StatusArgs};
use crate::exit::Exit;
use crate::fleet_ledger::{self, Forgot, JobState, Store, StoredRun};
use crate::ledger::record::{self, local_time, Record, Streak};
use crate::schedule::Schedule;
use crate::zone::Zone;

/// How long a reader waits for the engine: within a monitoring plugin's usual 10 s.
const READ_LIMIT: Duration = Duration::from_secs(5);
/// `ledger prune` may have many runs to drop.
const PRUNE_LIMIT: Duration = Duration::from_secs(120);

/// The URL `--fleet` gave, else the variables'; a value that is no URL is a job name that followed a
/// bare `--fleet` (`status --fleet backup`).
fn url_of(given: &str) -> (Option<String>, Option<String>) {
    let given = given.trim();
    if given.contains("://") {
        return (Some(given.to_string()), None);
    }
    let name = (!given.is_empty()).then(|| given.to_string());
    let from_env = ["CRONBEAT_LEDGER_URL", "CRONBEAT_LOCK"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| u.contains("://"));
    (from_env, name)
}

/// The store `--fleet` names, or the line that says why there is none.
fn open(given: &str, limit: Duration) -> Result<(Store, Option<String>), String> {
    let (url, name) = url_of(given);
    let url = url.ok_or(
        "--fleet: no fleet ledger (give --fleet URL, or set CRONBEAT_LEDGER_URL or CRONBEAT_LOCK)",
    )?;
    let engine = fleet_ledger::engine_of(&url).map_err(|e| format!("--fleet: {e}"))?;
    let mut store = Store::open(&engine)?;
    store.set_limit(limit);
    Ok((store, name))
}

/// The store `--fleet` names, and the jobs the command names (a NAME given where `--fleet`'s URL would
/// be counts among them); a usage error is said here.
fn open_for(
    fleet: Option<&str>,
    names: &[String],
    limit: Duration,
) -> Result<(Store, Vec<String>), Exit> {
    let (store, name) = open(fleet.unwrap_or(""), limit).map_err(|message| {
        error(&message);
        Exit::Usage
    })?;
    let mut names = names.to_vec();
    names.extend(name);
    Ok((store, names))
}

fn unreadable(store: &Store, e: &str) -> String {
    format!("cannot read the fleet ledger on {}: {e}", store.shown())
}

/// A stored record, read.
fn record_of(run: &StoredRun) -> Option<Record<'_>> {
    serde_json::from_str(&run.record).ok()
}

/// Where a job stands across the fleet, now.
struct Standing<'a> {
    job: &'a JobState,
    /// The latest run's record, and the latest finished run's.
    latest: Option<Record<'a>>,
    finished: Option<Record<'a>>,
    schedule: Option<Schedule>,
    /// The latest run has not finished and is past its promise: since when, on which host.
    stuck: bool,
    running: bool,
    /// The due time no host started a run for, within its grace.
    missed: Option<SystemTime>,
    next: Option<SystemTime>,
}

impl<'a> Standing<'a> {
    fn of(job: &'a JobState, now: SystemTime) -> Standing<'a> {
        let latest = job.latest.as_ref().and_then(record_of);
        let finished = job.last_finished.as_ref().and_then(record_of);
        // The newer of the declared schedule and the one the latest run had.
        let declared = job.declared.as_ref().and_then(|d| {
            let tz: Zone = d.tz.parse().ok()?;
            Some((d.updated_at, Schedule::new(&d.schedule, tz, d.grace).ok()?))
        });
        let ran = job
            .latest
            .as_ref()
            .zip(latest.as_ref())
            .and_then(|(run, r)| {
                let s = r.schedule.as_ref()?;
                let tz: Zone = s.tz.parse().ok()?;
                let schedule = Schedule::new(&s.expr, tz, Duration::from_secs(s.grace_s)).ok()?;
                Some((run.started_at, schedule))
            });
        let schedule = match (declared, ran) {
            (Some(d), Some(r)) => Some(if d.0 > r.0 { d.1 } else { r.1 }),
            (d, r) => d.or(r).map(|(_, s)| s),
        };
        let unfinished = job.latest.as_ref().filter(|r| r.finished_at.is_none());
        let stuck = unfinished.is_some_and(|r| r.expect_by.map_or(true, |by| by < now));
        let running = unfinished.is_some() && !stuck;
        // Healthchecks' rule, period and grace after the last ping: the first due time after the tick the
        // latest run served (its start, for a run off the schedule), or after the declaration when no run
        // is newer, is missed once its grace has passed. The latest due time before now would always lie
        // within a grace as long as the period, and such a job would never be overdue.
        let served = job.latest.as_ref().map(|run| {
            latest
                .as_ref()
                .and_then(|r| r.tick.as_deref())
                .and_then(record::parse_time)
                .unwrap_or(run.started_at)
        });
        let since = match (job.latest.as_ref(), job.declared.as_ref()) {
            (Some(run), Some(d)) if d.declared_at > run.started_at => Some(d.declared_at),
            (Some(_), _) => served,
            (None, d) => d.map(|d| d.declared_at),
        };
        let missed = schedule.as_ref().and_then(|s| {
            let due: SystemTime = s.next_after(since?)?.with_timezone(&chrono::Utc).into();
            (due + s.grace < now).then_some(due)
        });
        let next = schedule
            .as_ref()
            .and_then(|s| s.next_after(now))
            .map(|t| t.with_timezone(&chrono::Utc).into());
        Standing {
            job,
            latest,
            finished,
            schedule,
            stuck,
            running,
            missed,
            next,
        }
    }

    /// The word for the job's state: `stuck`, `overdue`, `running`, `failing`, `ok` or `never_run`.
    fn state(&self) -> &'static str {
        if self.stuck {
            "stuck"
        } else if self.missed.is_some() {
            "overdue"
        } else if self.running {
            "running"
        } else if self.job.latest.is_none() {
            "never_run"
        } else if self.job.consecutive_failures > 0 {
            "failing"
        } else {
            "ok"
        }
    }

    /// What the LAST column says: the latest run's outcome, or that it runs, or is stuck.
    fn last_word(&self) -> String {
        if self.stuck {
            return "stuck".into();
        }
        if self.running {
            return "running".into();
        }
        match &self.latest {
            Some(r) => r.outcome.to_string(),
            None if self.job.latest.is_some() => "?".into(),
            None => "never run".into(),
        }
    }

    fn fail_after(&self) -> u32 {
        self.finished
            .as_ref()
            .and_then(|r| r.fail_after)
            .or(self.latest.as_ref().and_then(|r| r.fail_after))
            .unwrap_or(1)
    }
}

fn ago(at: SystemTime, now: SystemTime) -> String {
    match now.duration_since(at) {
        Ok(d) => format!("{} ago", short(d)),
        Err(_) => "just now".to_string(),
    }
}

fn local(at: SystemTime) -> String {
    local_time(&record::stored_time(at), SecondsFormat::Millis)
}

// ---------------------------------------------------------------------------------------------------------
// status --fleet

pub fn status(args: &StatusArgs, given: &str) -> Exit {
    if args.fail_after.is_some() && !args.check {
        error("--fail-after: only with --check (a run's own --fail-after is given when it runs)");
        return Exit::Usage;
    }
    let (store, name) = match open(given, READ_LIMIT) {
        Ok(opened) => opened,
        Err(message) if args.check => return plugin(Exit::Unknown, &message),
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    let mut names = args.names.clone();
    names.extend(name);
    let jobs = match store.jobs(&names) {
        Ok(jobs) => jobs,
        Err(e) if args.check => return plugin(Exit::Unknown, &unreadable(&store, &e)),
        Err(e) => {
            error(&unreadable(&store, &e));
            return Exit::NoRecord;
        }
    };
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !jobs.iter().any(|j| &j.name == *n))
        .collect();
    let now = SystemTime::now();
    let standings: Vec<Standing<'_>> = jobs.iter().map(|j| Standing::of(j, now)).collect();
    if args.check {
        return check(&store, &standings, &missing, args.fail_after);
    }
    let sink = Sink::of_stdout();
    if args.json {
        let all: Vec<Value> = standings.iter().map(|s| status_json(s)).collect();
        println!(
            "{}",
            sink.json(serde_json::to_string_pretty(&all).expect("JSON always serializes"))
        );
    } else if !standings.is_empty() {
        print!("{}", status_table(&standings, now, sink));
    }
    for name in &missing {
        error(&format!(
            "{name}: no run recorded in the fleet ledger on {}",
            store.shown()
        ));
    }
    if standings.is_empty() && names.is_empty() {
        error(&format!(
            "no run recorded in the fleet ledger on {}",
            store.shown()
        ));
        return Exit::NoRecord;
    }
    if missing.is_empty() {
        Exit::Done
    } else {
        Exit::NoRecord
    }
}

fn status_json(s: &Standing<'_>) -> Value {
    let job = s.job;
    let latest = job.latest.as_ref();
    let r = s.latest.as_ref();
    json!({
        "name": job.name,
        "state": s.state(),
        "last_outcome": s.last_word(),
        "last_host": latest.map(|l| &l.host),
        "last_started_at": latest.map(|l| local(l.started_at)),
        "last_finished_at": latest.and_then(|l| l.finished_at).map(local),
        "last_expected_by": latest.and_then(|l| l.expect_by).map(local),
        "last_exit_status": r.filter(|_| latest.is_some_and(|l| l.finished_at.is_some())).map(|r| r.exit_status),
        "last_message": r.filter(|_| latest.is_some_and(|l| l.finished_at.is_some())).map(|r| r.message.as_ref()),
        "last_success_at": job.last_success.as_ref().map(|(at, _)| local(*at)),
        "last_success_host": job.last_success.as_ref().map(|(_, h)| h),
        "consecutive_failures": job.consecutive_failures,
        "hosts": job.hosts,
        "schedule": s.schedule.as_ref().map(|sc| sc.expr.clone()),
        "tz": s.schedule.as_ref().map(|sc| sc.tz.name().to_string()),
        "grace_s": s.schedule.as_ref().map(|sc| sc.grace.as_secs()),
        "declared_at": job.declared.as_ref().map(|d| local(d.declared_at)),
        "next_due_at": s.next.map(record::local_rfc3339),
        "overdue": s.missed.is_some(),
        "missed_due_at": s.missed.map(record::local_rfc3339),
        "stuck": s.stuck,
        "fail_after": s.fail_after(),
    })
}

fn status_table(standings: &[Standing<'_>], now: SystemTime, sink: Sink) -> String {
    let header = [
        "JOB", "LAST", "HOST", "WHEN", "LAST OK", "FAILS", "HOSTS", "NEXT",
    ];
    let rows: Vec<Vec<String>> = standings
        .iter()
        .map(|s| {
            let job = s.job;
            let latest = job.latest.as_ref();
            vec![
                sink.cell(&job.name),
                sink.cell(&s.last_word()),
                latest.map_or_else(|| "-".into(), |l| sink.cell(&l.host)),
                latest.map_or_else(|| "-".into(), |l| ago(l.started_at, now)),
                job.last_success
                    .as_ref()
                    .map_or_else(|| "never".into(), |(at, _)| ago(*at, now)),
                job.consecutive_failures.to_string(),
                job.hosts.len().to_string(),
                if s.missed.is_some() {
                    "overdue".into()
                } else {
                    s.next.map_or_else(
                        || "-".into(),
                        |at| format!("in {}", short(at.duration_since(now).unwrap_or_default())),
                    )
                },
            ]
        })
        .collect();
    let text = render(&header, &rows, 0, &[5, 6]);
    debug_assert!(text
        .lines()
        .all(|l| l.chars().count() <= WIDTH || rows.is_empty()));
    text
}

// ---------------------------------------------------------------------------------------------------------
// status --check --fleet

fn judge(s: &Standing<'_>, threshold: Option<u32>) -> (Exit, String) {
    let job = s.job;
    let name = &job.name;
    if s.stuck {
        let l = job.latest.as_ref().expect("a stuck job has a latest run");
        let since = record::local_rfc3339(l.started_at);
        return (
            Exit::Critical,
            format!(
                "{name}: stuck on {} (started {since}, neither finished nor renewed)",
                l.host
            ),
        );
    }
    if let Some(missed) = s.missed {
        let due = record::local_rfc3339(missed);
        return (
            Exit::Critical,
            format!("{name}: overdue, due at {due}, no run started on any host"),
        );
    }
    let threshold = threshold.unwrap_or_else(|| s.fail_after());
    let failures = job.consecutive_failures;
    let last_failure = || match &s.finished {
        Some(r) if r.streak() == Streak::Failure => {
            let host = job.last_finished.as_ref().map_or("", |f| f.host.as_str());
            format!("{} on {host}", r.message)
        }
        Some(r) => format!("last run {}", r.outcome),
        None => "no run finished".to_string(),
    };
    super::failure_verdict(name, failures, threshold, last_failure)
        .unwrap_or_else(|| (Exit::Done, format!("{name}: ok")))
}

fn check(
    store: &Store,
    standings: &[Standing<'_>],
    missing: &[&String],
    threshold: Option<u32>,
) -> Exit {
    let mut judged: Vec<(Exit, String)> = standings.iter().map(|s| judge(s, threshold)).collect();
    for name in missing {
        judged.push((
            Exit::Unknown,
            format!("{name}: no run recorded in the fleet ledger"),
        ));
    }
    if judged.is_empty() {
        return plugin(
            Exit::Unknown,
            &format!("no run recorded in the fleet ledger on {}", store.shown()),
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
        let hosts: std::collections::BTreeSet<&String> =
            standings.iter().flat_map(|s| &s.job.hosts).collect();
        let host_noun = if hosts.len() == 1 { "host" } else { "hosts" };
        return plugin(
            Exit::Done,
            &format!(
                "{jobs} {noun} on {} {host_noun}, none failing, overdue or stuck",
                hosts.len()
            ),
        );
    }
    let problems: Vec<&str> = judged
        .iter()
        .filter(|(e, _)| *e != Exit::Done)
        .map(|(_, m)| m.as_str())
        .collect();
    plugin(worst, &problems.join("; "))
}

// ---------------------------------------------------------------------------------------------------------
// history --fleet, last-output --fleet

pub fn history(args: &HistoryArgs, given: &str) -> Exit {
    let (store, _) = match open(given, READ_LIMIT) {
        Ok(opened) => opened,
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    let runs = match store.history(&args.name, args.runs) {
        Ok(runs) => runs,
        Err(e) => {
            error(&unreadable(&store, &e));
            return Exit::NoRecord;
        }
    };
    if runs.is_empty() && args.runs > 0 {
        error(&format!(
            "{}: no run recorded in the fleet ledger on {}",
            args.name,
            store.shown()
        ));
        return Exit::NoRecord;
    }
    let now = SystemTime::now();
    let sink = Sink::of_stdout();
    let runs: Vec<(&StoredRun, Record<'_>)> = runs
        .iter()
        .filter_map(|run| record_of(run).map(|r| (run, r)))
        .collect();
    let outcome = |run: &StoredRun, r: &Record<'_>| -> String {
        match run.finished_at {
            Some(_) => r.outcome.to_string(),
            None if run.expect_by.map_or(true, |by| by < now) => "stuck".into(),
            None => "running".into(),
        }
    };
    if args.json {
        let all: Vec<Value> = runs
            .iter()
            .map(|(run, r)| {
                let finished = run.finished_at.is_some();
                json!({
                    "run_id": r.run_id,
                    "name": r.name,
                    "host": run.host,
                    "tick": r.tick.as_deref().map(|t| local_time(t, SecondsFormat::Secs)),
                    "started_at": local(run.started_at),
                    "finished_at": run.finished_at.map(local),
                    "duration_s": finished.then_some(r.duration_s),
                    "outcome": outcome(run, r),
                    "exit_status": finished.then_some(r.exit_status),
                    "success": r.success,
                    "message": r.message,
                })
            })
            .collect();
        println!(
            "{}",
            sink.json(serde_json::to_string_pretty(&all).expect("JSON always serializes"))
        );
        return Exit::Done;
    }
    let header = ["STARTED", "OUTCOME", "EXIT", "TOOK", "RUN", "HOST"];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|(run, r)| {
            let finished = run.finished_at.is_some();
            vec![
                sink.cell(&local_time(
                    &record::stored_time(run.started_at),
                    SecondsFormat::Secs,
                )),
                sink.cell(&outcome(run, r)),
                if finished {
                    r.exit_status.to_string()
                } else {
                    "-".into()
                },
                if finished {
                    took(r.duration_s)
                } else {
                    "-".into()
                },
                sink.cell(&r.run_id.chars().take(8).collect::<String>()),
                sink.cell(&run.host),
            ]
        })
        .collect();
    print!("{}", render(&header, &rows, 5, &[2]));
    Exit::Done
}

pub fn last_output(args: &LastOutputArgs, given: &str) -> Exit {
    let (store, _) = match open(given, READ_LIMIT) {
        Ok(opened) => opened,
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    match store.last_output(&args.name) {
        Ok(Some((_, tail))) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let shown = Sink::of_stdout().text(&tail);
            let _ = out.write_all(&shown).and_then(|()| out.flush());
            Exit::Done
        }
        Ok(None) => {
            error(&format!(
                "{}: no failed run with its output in the fleet ledger on {}",
                args.name,
                store.shown()
            ));
            Exit::NoRecord
        }
        Err(e) => {
            error(&unreadable(&store, &e));
            Exit::NoRecord
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// metrics --fleet

pub fn metrics(args: &MetricsArgs, given: &str) -> Exit {
    let (store, _) = match open(given, READ_LIMIT) {
        Ok(opened) => opened,
        Err(message) => {
            error(&message);
            return Exit::Usage;
        }
    };
    // An engine that cannot be read is said in the metrics too (`cronbeat_fleet_ledger_up 0`, no job's
    // samples): a textfile left as it was would go on showing the last good read as if it were now.
    let (jobs, failed) = match store.jobs(&[]) {
        Ok(jobs) => (jobs, None),
        Err(e) => (Vec::new(), Some(unreadable(&store, &e))),
    };
    let now = SystemTime::now();
    let text = exposition(&jobs, failed.is_none(), now);
    match &args.output {
        Some(path) => {
            if let Err(e) = crate::monitor::write_atomically(path, text.as_bytes()) {
                error(&e);
                return Exit::NoRecord;
            }
        }
        None => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let shown = Sink::of_stdout().text(text.as_bytes());
            let _ = out.write_all(&shown).and_then(|()| out.flush());
        }
    }
    match failed {
        Some(message) => {
            error(&message);
            Exit::NoRecord
        }
        None => Exit::Done,
    }
}

fn seconds(at: SystemTime) -> String {
    let t = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    format!("{t:.3}")
}

fn exposition(jobs: &[JobState], read: bool, now: SystemTime) -> String {
    let families: [(&str, &str); 10] = [
        (
            "cronbeat_fleet_ledger_up",
            "1 when the fleet ledger was read, 0 when it could not be (and no job's samples are given).",
        ),
        (
            "cronbeat_fleet_job_last_run_timestamp_seconds",
            "Unix time the job's latest run started, on any host.",
        ),
        (
            "cronbeat_fleet_job_last_success_timestamp_seconds",
            "Unix time the job's latest successful run finished, on any host.",
        ),
        (
            "cronbeat_fleet_job_consecutive_failures",
            "Failed runs of the job since its last success, across the fleet.",
        ),
        (
            "cronbeat_fleet_job_running",
            "1 while the job's latest run is under way and renewing its record, else 0.",
        ),
        (
            "cronbeat_fleet_job_stuck",
            "1 when the job's latest run neither finished nor renewed its record in time, else 0.",
        ),
        (
            "cronbeat_fleet_job_overdue",
            "1 when a due time of the job passed by more than its grace with no run started on any host.",
        ),
        (
            "cronbeat_fleet_job_next_due_timestamp_seconds",
            "Unix time the job is next due by its schedule.",
        ),
        (
            "cronbeat_fleet_job_hosts",
            "Hosts that ran (or declared) the job.",
        ),
        (
            "cronbeat_fleet_job_last_run_info",
            "1, with the host and the outcome of the job's latest run as labels.",
        ),
    ];
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); families.len()];
    samples[0].push(format!(" {}", u8::from(read)));
    for job in jobs {
        let s = Standing::of(job, now);
        let name = format!("name=\"{}\"", super::label(&job.name));
        let mut put = |i: usize, value: String| samples[i].push(format!("{{{name}}} {value}"));
        if let Some(l) = &job.latest {
            put(1, seconds(l.started_at));
        }
        if let Some((at, _)) = &job.last_success {
            put(2, seconds(*at));
        }
        put(3, job.consecutive_failures.to_string());
        put(4, u8::from(s.running).to_string());
        put(5, u8::from(s.stuck).to_string());
        if s.schedule.is_some() {
            put(6, u8::from(s.missed.is_some()).to_string());
        }
        if let Some(next) = s.next {
            put(7, seconds(next));
        }
        put(8, job.hosts.len().to_string());
        if let Some(l) = &job.latest {
            samples[9].push(format!(
                "{{{name},host=\"{}\",outcome=\"{}\"}} 1",
                super::label(&l.host),
                super::label(&s.last_word())
            ));
        }
    }
    let mut out = String::new();
    for ((family, help), lines) in families.iter().zip(&samples) {
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("# HELP {family} {help}\n# TYPE {family} gauge\n"));
        for line in lines {
            out.push_str(family);
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// ledger prune --fleet

pub fn prune(args: &PruneArgs) -> Exit {
    let (store, names) = match open_for(args.fleet.as_deref(), &args.names, PRUNE_LIMIT) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    match store.prune(args.keep_runs as usize, &names) {
        Ok(dropped) => {
            let noun = if dropped == 1 { "run" } else { "runs" };
            println!(
                "dropped {dropped} {noun} from the fleet ledger on {}, keeping {} per job",
                store.shown(),
                args.keep_runs
            );
            Exit::Done
        }
        Err(e) => {
            error(&format!(
                "cannot prune the fleet ledger on {}: {e}",
                store.shown()
            ));
            Exit::NoRecord
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ledger forget --fleet

/// Retires the jobs named: one line each on stdout for a job forgotten, on stderr for one that is not
/// there or has a run under way (left whole: its end would record the job again), then exit status 1.
pub fn forget(args: &ForgetArgs) -> Exit {
    let (store, names) = match open_for(args.fleet.as_deref(), &args.names, READ_LIMIT) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    if names.is_empty() {
        error(
            "ledger forget: name the jobs to forget (cronbeat ledger forget NAME... --fleet [URL])",
        );
        return Exit::Usage;
    }
    let forgotten = match store.forget(&names, SystemTime::now()) {
        Ok(forgotten) => forgotten,
        Err(e) => {
            error(&format!(
                "cannot forget in the fleet ledger on {}: {e}",
                store.shown()
            ));
            return Exit::NoRecord;
        }
    };
    let mut exit = Exit::Done;
    for (name, forgot) in forgotten {
        match forgot {
            Forgot::Done { runs } => {
                let noun = if runs == 1 { "run" } else { "runs" };
                println!(
                    "forgot {name} and its {runs} {noun} in the fleet ledger on {}",
                    store.shown()
                );
            }
            Forgot::Unknown => {
                error(&format!(
                    "{name}: no such job in the fleet ledger on {}",
                    store.shown()
                ));
                exit = Exit::NoRecord;
            }
            Forgot::Running { host, started_at } => {
                error(&format!(
                    "{name}: not forgotten: a run is under way on {host} (started {}); forget it once that run has ended",
                    record::local_rfc3339(started_at)
                ));
                exit = Exit::NoRecord;
            }
        }
    }
    exit
}
