//! cronbeat's own lines on stderr: silent when all is well, one `cronbeat: …` line per warning,
//! a line per event with `-v`, one JSON object per event with `--log-format json`.
//! Stepping in on the command (the deadline, a SIGKILL) is a warning: without it a cron job killed at its
//! deadline would leave no trace in the mail cron sends.
//! In `--quiet` mode lines are held back and shown only if the run fails.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::events::{Event, Observer};
use crate::kinds::LogFormat;
use crate::outcome::{round, signal_name};

#[derive(Clone)]
pub struct Logger {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    verbose: bool,
    format: LogFormat,
    /// `Some` while lines are held back (quiet mode).
    held: Option<Vec<String>>,
}

impl Logger {
    pub fn new(verbose: bool, format: LogFormat, hold: bool) -> Self {
        // The line of an internal error comes in the same format as the lines before it.
        crate::crash::set_json(format == LogFormat::Json);
        Logger {
            inner: Arc::new(Mutex::new(Inner {
                verbose,
                format,
                held: hold.then(Vec::new),
            })),
        }
    }

    /// A warning: always shown (unless held back by quiet mode and the run succeeds).
    pub fn warn(&self, message: &str) {
        self.emit("warning", "warning", message, Map::new());
    }

    /// An event that is also a warning (cronbeat stepped in, a ping failed): always shown, with its fields.
    pub fn warn_event(&self, name: &str, message: &str, fields: Map<String, Value>) {
        self.emit("warning", name, message, fields);
    }

    /// An error that stops cronbeat: always shown (it fails the run, so quiet mode releases it too).
    pub fn error(&self, message: &str) {
        self.emit("error", "error", message, Map::new());
    }

    /// An event line: shown with `-v` or in JSON format.
    pub fn event(&self, name: &str, message: &str, fields: Map<String, Value>) {
        let show = {
            let inner = self.lock();
            inner.verbose || inner.format == LogFormat::Json
        };
        if show {
            self.emit("info", name, message, fields);
        }
    }

    /// `level` lets a log pipeline filter on severity without knowing every event name.
    fn emit(&self, level: &str, name: &str, message: &str, fields: Map<String, Value>) {
        let mut inner = self.lock();
        let line = match inner.format {
            LogFormat::Text => format!("cronbeat: {message}"),
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("time".into(), json!(rfc3339_now()));
                object.insert("level".into(), json!(level));
                object.insert("event".into(), json!(name));
                object.insert("message".into(), json!(message));
                object.extend(fields);
                Value::Object(object).to_string()
            }
        };
        match inner.held.as_mut() {
            Some(held) => held.push(line),
            None => write_line(&line),
        }
    }

    /// End of quiet mode: print the held lines (run failed) or drop them (run succeeded).
    pub fn release(&self, show: bool) {
        let held = self.lock().held.take().unwrap_or_default();
        if show {
            for line in held {
                write_line(&line);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn write_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl Observer for Logger {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::LockWait { lock } => {
                let msg = format!("waiting for the lock {lock}: another run holds it");
                self.event("lock_wait", &msg, Map::new());
            }
            Event::TickTaken { tick, holder } => {
                let mut f = Map::new();
                let tick = crate::schedule::rfc3339_utc(*tick);
                f.insert("tick".into(), json!(tick));
                f.insert("holder".into(), json!(holder));
                let msg = format!("not run here: the tick {tick} was claimed first by {holder}");
                self.event("tick_taken", &msg, f);
            }
            Event::FleetLockHeld {
                lock,
                fencing_token,
            } => {
                let mut f = Map::new();
                f.insert("fencing_token".into(), json!(fencing_token));
                let msg = format!("holding the fleet lock on {lock}, fencing token {fencing_token}");
                self.event("lock_held", &msg, f);
            }
            Event::LockUnavailable { reason, action } => {
                let mut f = Map::new();
                f.insert("action".into(), json!(action));
                self.warn_event("lock_unavailable", &format!("{reason}; {action}"), f);
            }
            Event::LockLost { reason, stopping } => {
                let mut f = Map::new();
                f.insert("stopping".into(), json!(stopping));
                let msg = if *stopping {
                    format!("{reason}: stopping the command (--on-lock-lost kill)")
                } else {
                    format!("{reason}: the command goes on (--on-lock-lost warn)")
                };
                self.warn_event("lock_lost", &msg, f);
            }
            Event::Waiting { .. } => {}
            Event::Replacing { pid } => {
                let mut f = Map::new();
                f.insert("pid".into(), json!(pid));
                let msg = format!("stopping the previous run (cronbeat pid {pid}) to replace it");
                self.event("replacing", &msg, f);
            }
            Event::ReplacedKilled => self.event(
                "killed",
                "sent SIGKILL: the previous run was still holding the lock after the --kill-after grace",
                Map::new(),
            ),
            Event::NotReplaceable { path } => self.warn(&format!(
                "cannot replace the holder of {}: it is not a running cronbeat; waiting for the lock",
                path.display()
            )),
            Event::Jitter { delay } => {
                let mut f = Map::new();
                f.insert("delay_seconds".into(), json!(delay.as_secs_f64()));
                let msg = format!("waiting {} (jitter) before starting", round(*delay));
                self.event("jitter", &msg, f);
            }
            Event::AfterWait { what, up_to } => {
                let mut f = Map::new();
                f.insert("up_to_seconds".into(), json!(up_to.as_secs_f64()));
                let msg = format!("waiting up to {} for {what}", round(*up_to));
                self.event("after_wait", &msg, f);
            }
            Event::Skipped { reason } => self.warn(reason),
            Event::Started {
                run_id,
                pid,
                name,
                tick,
            } => {
                let tick = tick.map(crate::schedule::rfc3339_utc);
                let mut f = Map::new();
                f.insert("run_id".into(), json!(run_id));
                f.insert("pid".into(), json!(pid));
                f.insert("name".into(), json!(name));
                f.insert("tick".into(), json!(tick));
                let serving = tick.map(|t| format!(", tick {t}")).unwrap_or_default();
                let msg = match pid {
                    Some(pid) => format!("started pid {pid}, run id {run_id}{serving}"),
                    None => format!("starting, run id {run_id}{serving}"),
                };
                self.event("started", &msg, f);
            }
            Event::SignalForwarded { signal } => {
                let mut f = Map::new();
                f.insert("signal".into(), json!(signal_name(*signal)));
                let msg = format!("forwarded {} to the command", signal_name(*signal));
                self.event("signal_forwarded", &msg, f);
            }
            Event::TimedOut { after } => {
                let mut f = Map::new();
                f.insert("timeout_seconds".into(), json!(after.as_secs_f64()));
                let msg = format!(
                    "timed out after {}, sending SIGTERM",
                    humantime::format_duration(*after)
                );
                self.warn_event("timed_out", &msg, f);
            }
            Event::Idle { after } => {
                let mut f = Map::new();
                f.insert("idle_timeout_seconds".into(), json!(after.as_secs_f64()));
                let msg = format!(
                    "no output for {}, sending SIGTERM",
                    humantime::format_duration(*after)
                );
                self.event("idle_timeout", &msg, f);
            }
            Event::Leftovers { processes } => {
                let mut f = Map::new();
                f.insert("processes".into(), json!(processes));
                let msg = match processes {
                    Some(1) => "stopping 1 process the command left behind".to_string(),
                    Some(n) => format!("stopping {n} processes the command left behind"),
                    None => "stopping the processes the command left behind".to_string(),
                };
                self.event("leftovers", &msg, f);
            }
            Event::Killed { reason } => {
                let mut f = Map::new();
                f.insert("reason".into(), json!(reason));
                self.warn_event("killed", &format!("sent SIGKILL: {reason}"), f);
            }
            Event::GaveUp { after, processes } => {
                let mut f = Map::new();
                f.insert("processes".into(), json!(processes));
                let which = if processes.is_empty() {
                    "processes cronbeat cannot list".to_string()
                } else {
                    processes.join(", ")
                };
                let msg = format!(
                    "giving up on what the command left behind, still there {} after SIGKILL \
                     (held in the kernel): {which}",
                    humantime::format_duration(*after)
                );
                self.warn_event("gave_up", &msg, f);
            }
            Event::AttemptStarted { number, pid, .. } => {
                let mut f = Map::new();
                f.insert("attempt".into(), json!(number));
                f.insert("pid".into(), json!(pid));
                let msg = match pid {
                    Some(pid) => format!("attempt {number} started pid {pid}"),
                    None => format!("attempt {number} starting"),
                };
                self.event("attempt_started", &msg, f);
            }
            Event::Retrying {
                failed,
                allowed,
                outcome,
                delay,
                ..
            } => {
                let mut f = Map::new();
                f.insert("attempt".into(), json!(failed));
                f.insert("attempts".into(), json!(allowed));
                f.insert("outcome".into(), json!(outcome.word()));
                f.insert("exit_status".into(), json!(outcome.exit_code()));
                f.insert("delay_seconds".into(), json!(delay.as_secs_f64()));
                let msg = format!(
                    "attempt {failed} of {allowed} failed: {}; retrying in {}",
                    outcome.describe(),
                    round(*delay)
                );
                self.event("retrying", &msg, f);
            }
            Event::Finished(report) => {
                let mut f = Map::new();
                f.insert("run_id".into(), json!(report.run_id));
                f.insert("outcome".into(), json!(report.outcome.word()));
                f.insert("success".into(), json!(report.outcome.succeeded()));
                f.insert("exit_status".into(), json!(report.outcome.exit_code()));
                f.insert(
                    "signal".into(),
                    json!(report.outcome.signal().map(signal_name)),
                );
                f.insert(
                    "duration_seconds".into(),
                    json!(report.duration.as_secs_f64()),
                );
                crate::cost::json::fields(&report.cost, &mut f);
                let msg = format!(
                    "finished: {} in {:.3}s, exit status {}",
                    report.outcome.describe(),
                    report.duration.as_secs_f64(),
                    report.outcome.exit_code(),
                );
                let mut msg = msg;
                if let Some(summary) = report.attempts.summary(&report.outcome) {
                    f.insert("attempts".into(), json!(report.attempts.made));
                    msg.push_str(&format!(" ({summary})"));
                }
                // A command that never began cost nothing to tell.
                if !matches!(
                    report.outcome.status,
                    crate::outcome::ChildStatus::NotStarted { .. }
                ) {
                    msg.push_str(&format!("; {}", report.cost.describe()));
                }
                self.event("finished", &msg, f);
            }
        }
    }
}
