//! The fleet ledger's side of one run: a thread that writes the start record as the command starts
//! (so the start is never delayed by the engine), renews it every third of the lease while the command
//! runs, and writes the end record, all within `CALL_LIMIT` each. The teardown waits for the end write
//! no longer than `CALL_LIMIT` after the run ended. Whatever fails is one warning, said then; the local
//! ledger has the run either way.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::store::{End, Start, Store, CALL_LIMIT};
use super::Settings;

enum Message {
    Start {
        started_at: SystemTime,
        record: String,
    },
    End {
        sent: Instant,
        started_at: SystemTime,
        finished_at: SystemTime,
        outcome: String,
        success: bool,
        failure: bool,
        record: String,
        tail: Option<Arc<Vec<u8>>>,
        keep_runs: usize,
    },
}

/// A run that ended, as the local ledger recorded it.
pub struct Finished {
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub outcome: String,
    pub success: bool,
    /// Counts in the failures in a row.
    pub failure: bool,
    /// The record, JSON.
    pub record: String,
}

/// What identifies the run in the store.
struct Run {
    name: String,
    run_id: String,
    host: String,
    lease: Duration,
}

pub struct Writer {
    to_thread: Option<Sender<Message>>,
    /// The thread's warning, if any, once it is done.
    done: Receiver<Option<String>>,
    ended: Option<Instant>,
    /// Whether anything was given to the thread to write.
    sent: bool,
    shown: String,
}

impl Writer {
    /// Starts the thread; nothing is sent to the engine before `start` or `end`.
    pub fn new(settings: &Settings, name: &str, run_id: &str, host: &str) -> Writer {
        let (to_thread, messages) = mpsc::channel();
        let (report, done) = mpsc::channel();
        let engine = settings.engine.clone();
        let run = Run {
            name: name.to_string(),
            run_id: run_id.to_string(),
            host: host.to_string(),
            lease: settings.lease,
        };
        let spawned = thread::Builder::new()
            .name("fleet-ledger".into())
            .spawn(move || {
                let warning = match Store::open(&engine) {
                    Ok(store) => write(&store, &run, &messages),
                    Err(e) => Some(e),
                };
                let _ = report.send(warning);
            });
        let (to_thread, done) = match spawned {
            Ok(_) => (Some(to_thread), done),
            Err(e) => {
                let (report, done) = mpsc::channel();
                let _ = report.send(Some(format!("cannot start its writer: {e}")));
                (None, done)
            }
        };
        Writer {
            to_thread,
            done,
            ended: None,
            sent: false,
            shown: settings.engine.to_string(),
        }
    }

    /// The command started: its record so far (outcome `running`).
    pub fn start(&mut self, started_at: SystemTime, record: String) {
        if let Some(tx) = &self.to_thread {
            self.sent = true;
            let _ = tx.send(Message::Start { started_at, record });
        }
    }

    /// The run ended: its record as the local ledger writes it.
    pub fn end(&mut self, finished: Finished, tail: Option<Arc<Vec<u8>>>, keep_runs: usize) {
        let message = Message::End {
            sent: Instant::now(),
            started_at: finished.started_at,
            finished_at: finished.finished_at,
            outcome: finished.outcome,
            success: finished.success,
            failure: finished.failure,
            record: finished.record,
            tail: tail.filter(|_| !finished.success),
            keep_runs,
        };
        if let Some(tx) = &self.to_thread {
            self.ended = Some(Instant::now());
            self.sent = true;
            let _ = tx.send(message);
        }
    }

    /// Waits for the writes, no longer than `CALL_LIMIT` after the end was sent: the warning, if
    /// something could not be recorded.
    pub fn finish(mut self) -> Option<String> {
        drop(self.to_thread.take());
        // A run that never began (a tick another host took) has nothing to wait for.
        if !self.sent {
            return None;
        }
        let until =
            self.ended.unwrap_or_else(Instant::now) + CALL_LIMIT + Duration::from_millis(250);
        let warning = match self
            .done
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(warning) => warning,
            Err(_) => Some(format!(
                "no answer within {}",
                humantime::format_duration(CALL_LIMIT)
            )),
        }?;
        Some(format!(
            "fleet ledger: the run was not recorded on {}: {warning} (the local ledger has it)",
            self.shown
        ))
    }
}

/// The thread: the start, renewals while the command runs, the end. `Some` when the run is not on the
/// engine whole: the end failed, or (with no end) the start did.
fn write(store: &Store, run: &Run, messages: &Receiver<Message>) -> Option<String> {
    let every = (run.lease / 3).max(Duration::from_millis(100));
    let mut renew_at: Option<Instant> = None;
    let mut failed: Option<String> = None;
    let mut pending = None;
    // While the lock and the spawn go on: the start's write is then one round trip. A failure here is
    // tried again by the start.
    let _ = store.warm();
    loop {
        let message = match pending.take() {
            Some(message) => message,
            None => match renew_at {
                Some(at) => {
                    match messages.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(message) => message,
                        Err(RecvTimeoutError::Timeout) => {
                            renew_at = Some(Instant::now() + every);
                            let expect_by = SystemTime::now() + run.lease;
                            if let Err(e) = store.renew(&run.name, &run.run_id, expect_by) {
                                failed.get_or_insert(e);
                            }
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match messages.recv() {
                    Ok(message) => message,
                    Err(_) => break,
                },
            },
        };
        match message {
            Message::Start { started_at, record } => {
                // A command that is over already: its end says all the start would.
                if let Ok(next) = messages.try_recv() {
                    pending = Some(next);
                    continue;
                }
                let start = Start {
                    name: &run.name,
                    run_id: &run.run_id,
                    host: &run.host,
                    started_at,
                    expect_by: started_at + run.lease,
                    record: &record,
                };
                if let Err(e) = store.start(&start) {
                    failed.get_or_insert(e);
                }
                renew_at = Some(Instant::now() + every);
            }
            Message::End {
                sent,
                started_at,
                finished_at,
                outcome,
                success,
                failure,
                record,
                tail,
                keep_runs,
            } => {
                let end = End {
                    name: &run.name,
                    run_id: &run.run_id,
                    host: &run.host,
                    started_at,
                    finished_at,
                    outcome: &outcome,
                    success,
                    failure,
                    record: &record,
                    tail: tail.as_deref().map(Vec::as_slice),
                    keep_runs,
                };
                let left = (sent + CALL_LIMIT).saturating_duration_since(Instant::now());
                let result = if left.is_zero() {
                    Err(format!(
                        "no answer within {}",
                        humantime::format_duration(CALL_LIMIT)
                    ))
                } else {
                    store.with_limit(left, |store| store.end(&end))
                };
                return match result {
                    Ok(()) => {
                        store.close();
                        None
                    }
                    Err(e) => Some(e),
                };
            }
        }
    }
    failed
}
