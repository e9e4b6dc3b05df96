//! The monitor side of a run: each `--ping` becomes a protocol, and a dispatcher thread delivers
//! every monitor's pings concurrently, in order per monitor, without ever blocking the job.

mod betterstack;
mod cronhub;
mod cronitor;
mod delivery;
mod dms;
mod healthchecks;
mod metrics;
mod protocol;
mod pushgateway;
mod redact;
mod registry;
mod sentry;
mod sync;
mod textfile;
mod webhook;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Map};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

pub use delivery::RetryPolicy;
use delivery::{Bounds, BoundsRx, Failure, GaveUp};
pub use protocol::{progress_message, Action, Protocol, RunInfo};
pub use redact::redact;
pub use sync::{ApiAccess, Declared, Difference, Found, SyncPlan, Synced};
pub use webhook::WebhookConfig;

use crate::events::{Event, Observer, Report, Running};
use crate::log::Logger;
use crate::supervise::signals::{is_terminating, SignalPipe};

/// Turns one `--ping` value into its protocol, with the default webhook settings.
pub fn parse(spec: &str) -> Result<Box<dyn Protocol>, String> {
    registry::parse(spec, None)
}

pub use registry::{parse as parse_with, Holds, Kind, KINDS};

/// The host name reported to monitors that carry one.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

enum Message {
    Start,
    /// The command started: time to bring the service's copy of the schedule in step.
    Sync,
    Log(String),
    /// A keepalive: the run is still going after this long.
    Progress(Duration),
    Finish(Arc<Report>),
}

impl Message {
    fn moment(&self) -> &'static str {
        match self {
            Message::Start => "start",
            Message::Sync => "sync",
            Message::Log(_) => "log",
            Message::Progress(_) => "progress",
            Message::Finish(_) => "finish",
        }
    }
}

/// `--fail-after N`: a failed run is reported as a failure only from the Nth failure in a row of the job;
/// before that each monitor gets its neutral note. The ledger tells this run's place in the row before the
/// monitors hear how the run ended; until it has (or when it could not), a failure is reported as one.
#[derive(Debug, Clone)]
pub struct FailAfter {
    threshold: u32,
    /// This run's place among the job's failures in a row (0 for a success); `u32::MAX` while unknown.
    place: Arc<AtomicU32>,
}

impl FailAfter {
    pub fn new(threshold: u32) -> FailAfter {
        FailAfter {
            threshold,
            place: Arc::new(AtomicU32::new(u32::MAX)),
        }
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    pub fn set(&self, place: u32) {
        self.place.store(place, Ordering::SeqCst);
    }

    /// The note a failure below the threshold gets instead of its report.
    fn note(&self, report: &Report) -> Option<String> {
        if report.outcome.succeeded() {
            return None;
        }
        let place = self.place.load(Ordering::SeqCst);
        (place != 0 && place < self.threshold).then(|| {
            format!(
                "failure {place} of {}: {} (--fail-after {}: reported as a failure from the {} in a row)",
                self.threshold,
                report.outcome.describe(),
                self.threshold,
                ordinal(self.threshold)
            )
        })
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The delivery thread, and the flag it raises as its last act before it wakes the supervisor: the
/// wake can come before the thread has quite ended, and a waiter that looked only at the thread would
/// sleep one more poll.
struct Delivery {
    handle: JoinHandle<()>,
    done: Arc<AtomicBool>,
}

pub struct Monitors {
    senders: Vec<UnboundedSender<Message>>,
    thread: Option<Delivery>,
    start_ping: bool,
    keepalive: Option<Duration>,
    /// Between attempts (`--retries`), a keepalive at least this often: half the job's grace.
    keepalive_waiting: Option<Duration>,
    /// The run waits to retry: from `Retrying` to the next attempt's start.
    waiting: bool,
    next_keepalive: Option<Instant>,
    /// What every delivery under way follows: the report deadline, and whether a stop was requested.
    bounds: watch::Sender<Bounds>,
    /// `--report-timeout` and `--kill-after`; without them, the retry policy alone bounds a ping.
    budget: Option<Budget>,
    /// When the first stop signal came.
    stop_at: Option<Instant>,
    fail_after: Option<FailAfter>,
}

/// How long the finish reports may take once the command has ended, and the grace a stop gives it.
#[derive(Debug, Clone, Copy)]
struct Budget {
    report_timeout: Duration,
    kill_after: Duration,
}

/// The delivery thread's stack, and that of the runtime's blocking threads (name lookups, textfile
/// writes): half the 2 MiB a thread gets by default, four times what the deepest delivery was measured
/// to need (TLS through a proxy in a debug build: more than 192 KiB, less than 256 KiB). Under a tight
/// `ulimit -v` a smaller stack is what lets the thread be made.
pub const DELIVERY_STACK: usize = 1024 * 1024;

/// How often the wait for the last reports looks whether they are done, between signals (the delivery
/// thread also wakes it when it ends: this is only a backstop).
const WAIT_POLL: Duration = Duration::from_millis(20);

impl Monitors {
    /// Starts the delivery thread. Nothing is sent until the run's events arrive.
    pub fn start(
        protocols: Vec<Box<dyn Protocol>>,
        policy: RetryPolicy,
        start_ping: bool,
        run: RunInfo,
        logger: Logger,
    ) -> Monitors {
        let (bounds, bounds_rx) = watch::channel(Bounds::default());
        if protocols.is_empty() {
            return Monitors {
                senders: Vec::new(),
                thread: None,
                start_ping,
                keepalive: None,
                keepalive_waiting: None,
                waiting: false,
                next_keepalive: None,
                bounds,
                budget: None,
                stop_at: None,
                fail_after: None,
            };
        }
        let mut senders = Vec::new();
        let mut receivers = Vec::new();
        for _ in &protocols {
            let (tx, rx) = unbounded_channel();
            senders.push(tx);
            receivers.push(rx);
        }
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let warn = logger.clone();
        let thread = std::thread::Builder::new()
            .name("monitors".into())
            .stack_size(DELIVERY_STACK)
            .spawn(move || {
                deliver_all(protocols, receivers, policy, bounds_rx, run, logger);
                // The supervisor may be waiting on the signal pipe for this thread to end.
                finished.store(true, Ordering::Release);
                crate::supervise::signals::wake();
            })
            .map_err(|e| {
                // As with a monitor that cannot be reached: the run goes on, and says it is not reported.
                warn.warn(&format!(
                    "cannot start the thread that reports to the monitors ({e}): this run is not reported"
                ));
            })
            .ok()
            .map(|handle| Delivery { handle, done });
        Monitors {
            senders,
            thread,
            start_ping,
            keepalive: None,
            keepalive_waiting: None,
            waiting: false,
            next_keepalive: None,
            bounds,
            budget: None,
            stop_at: None,
            fail_after: None,
        }
    }

    /// Bounds the end of the run: once the command has ended, every ping still to go (the finish
    /// reports, and a start ping still being retried ahead of them) is delivered or given up within
    /// `report_timeout`. After a stop signal, within `kill_after + report_timeout` of the signal too: the
    /// command had `kill_after` to go, and a supervisor (Kubernetes' grace period, systemd's
    /// `TimeoutStopSec`) kills cronbeat at a fixed time after its signal, however long the command took.
    pub fn report_within(&mut self, report_timeout: Duration, kill_after: Duration) {
        self.budget = Some(Budget {
            report_timeout,
            kill_after,
        });
    }

    /// The report deadline, from `now` when the command has ended; the first one set stands.
    fn set_deadline(&mut self, now: Instant) {
        let Some(budget) = self.budget else { return };
        let mut deadline = now + budget.report_timeout;
        if let Some(stop) = self.stop_at {
            deadline = deadline.min(stop + budget.kill_after + budget.report_timeout);
        }
        self.bounds.send_if_modified(|b| {
            let unset = b.deadline.is_none();
            if unset {
                b.deadline = Some(deadline);
            }
            unset
        });
    }

    /// A stop signal: no more retries or backoff, one attempt each for what is left.
    fn stopping(&mut self, now: Instant) {
        self.stop_at.get_or_insert(now);
        self.bounds
            .send_if_modified(|b| !std::mem::replace(&mut b.last_try, true));
    }

    /// `--fail-after`: failures before the threshold become notes.
    pub fn fail_after(&mut self, fail_after: Option<FailAfter>) {
        self.fail_after = fail_after;
    }

    /// While the command runs, a progress ping every `every` (`--keepalive`).
    pub fn keepalive(&mut self, every: Option<Duration>) {
        self.keepalive = every.filter(|d| !d.is_zero());
    }

    /// While the run waits to retry, a keepalive at least every `every`, `--keepalive` or not: a wait
    /// can be ten times `--retry-delay`, longer than a grace meant for one attempt.
    pub fn keepalive_between_attempts(&mut self, every: Duration) {
        self.keepalive_waiting = Some(every).filter(|d| !d.is_zero());
    }

    /// How often a keepalive goes out now: `--keepalive` while an attempt runs, and no less often than
    /// [`Monitors::keepalive_between_attempts`] during a wait.
    fn pace(&self) -> Option<Duration> {
        if self.waiting {
            self.keepalive
                .into_iter()
                .chain(self.keepalive_waiting)
                .min()
        } else {
            self.keepalive
        }
    }

    /// Sends a message to every monitor (Healthchecks `/log`), after any start ping.
    fn log(&self, message: &str) {
        self.broadcast(|| Message::Log(message.to_string()));
    }

    fn broadcast(&self, make: impl Fn() -> Message) {
        for sender in &self.senders {
            let _ = sender.send(make());
        }
    }

    /// Waits until every queued ping was delivered or given up: within the report deadline, which starts
    /// now if the command never ran. A stop signal meanwhile (`signals`) ends the retries.
    pub fn wait(mut self, signals: Option<&SignalPipe>) {
        self.senders.clear();
        let Some(delivery) = self.thread.take() else {
            return;
        };
        self.set_deadline(Instant::now());
        if let Some(signals) = signals {
            // The command is gone: a signal now has nobody to be forwarded to, but whoever sent it is
            // waiting for cronbeat to exit.
            while !delivery.done.load(Ordering::Acquire) {
                let pending = signals.wait(Some(WAIT_POLL));
                if pending.into_iter().any(is_terminating) {
                    self.stopping(Instant::now());
                }
            }
        }
        let _ = delivery.handle.join();
    }
}

impl Observer for Monitors {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { pid, .. } => {
                if self.start_ping {
                    self.broadcast(|| Message::Start);
                }
                self.broadcast(|| Message::Sync);
                if pid.is_some() && !self.senders.is_empty() {
                    self.next_keepalive = self.keepalive.map(|every| Instant::now() + every);
                }
            }
            Event::Skipped { reason } => self.log(reason),
            // Killed, the run's finish report says why; left running, only this note does.
            Event::LockLost {
                reason,
                stopping: false,
            } => self.log(&format!(
                "{reason}; the command goes on (--on-lock-lost warn)"
            )),
            Event::SignalForwarded { signal } => {
                let stop = nix::sys::signal::Signal::try_from(*signal).is_ok_and(is_terminating);
                if stop {
                    self.stopping(Instant::now());
                }
            }
            // Waiting to retry, the run goes on: a keepalive now, then at the pace of the wait, so that
            // a monitor that counts from the latest start (Healthchecks) does not call it down. And when
            // the next attempt starts: the wait and the attempt are each bounded, not their sum.
            Event::Retrying { elapsed, .. } | Event::AttemptStarted { elapsed, .. }
                if !self.senders.is_empty() =>
            {
                self.waiting = matches!(event, Event::Retrying { .. });
                let elapsed = *elapsed;
                self.broadcast(|| Message::Progress(elapsed));
                self.next_keepalive = self.pace().map(|every| Instant::now() + every);
            }
            Event::Finished(report) => {
                self.waiting = false;
                self.next_keepalive = None;
                self.set_deadline(Instant::now());
                if let Some(note) = self.fail_after.as_ref().and_then(|f| f.note(report)) {
                    self.log(&note);
                    return;
                }
                let report = Arc::new((*report).clone());
                self.broadcast(|| Message::Finish(report.clone()));
            }
            _ => {}
        }
    }

    fn next_tick(&self) -> Option<Instant> {
        self.next_keepalive
    }

    fn on_tick(&mut self, now: Instant, running: &Running<'_>) {
        let elapsed = now.saturating_duration_since(running.since);
        self.broadcast(|| Message::Progress(elapsed));
        // From now, not from the missed slot: a stalled loop sends one ping, not a burst.
        self.next_keepalive = self.pace().map(|every| now + every);
    }
}

fn deliver_all(
    protocols: Vec<Box<dyn Protocol>>,
    receivers: Vec<UnboundedReceiver<Message>>,
    policy: RetryPolicy,
    bounds: BoundsRx,
    run: RunInfo,
    logger: Logger,
) {
    let (runtime, client) = match delivery_setup(|warning| logger.warn(warning)) {
        Ok(setup) => setup,
        Err(e) => {
            logger.warn(&format!("monitors disabled: {e}"));
            return;
        }
    };
    let shared = Shared {
        client,
        policy,
        bounds,
        run: Arc::new(run),
        logger,
    };
    runtime.block_on(async {
        let tasks: Vec<_> = protocols
            .into_iter()
            .zip(receivers)
            .enumerate()
            .map(|(index, (protocol, rx))| {
                let label = Label::of(index, protocol.as_ref());
                tokio::spawn(follow(protocol, label, rx, shared.clone()))
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    });
    // A name lookup runs on a blocking thread that no timeout can stop; waiting for it when the runtime
    // drops would let a hanging resolver hold the run past the bound the ping timeout promises.
    runtime.shutdown_background();
}

/// The runtime and HTTP client every delivery needs; a usable-but-degraded TLS setup is passed to `warn`.
fn delivery_setup(
    warn: impl Fn(&str),
) -> Result<(tokio::runtime::Runtime, reqwest::Client), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_stack_size(DELIVERY_STACK)
        .build()
        .map_err(|e| format!("cannot start the delivery runtime: {e}"))?;
    let (client, warning) = delivery::client()?;
    if let Some(warning) = warning {
        warn(&warning);
    }
    Ok((runtime, client))
}

/// Which monitor a line is about. The target alone cannot tell two checks on one host apart (their
/// paths are the secrets), so every line also gives the monitor's position among the run's monitors
/// (from 1, in the order they were given: `--ping` flags, then the `--ping-file`) and its kind.
#[derive(Debug, Clone)]
struct Label {
    position: usize,
    kind: &'static str,
    target: String,
}

impl Label {
    fn of(index: usize, protocol: &dyn Protocol) -> Label {
        Label {
            position: index + 1,
            kind: protocol.kind(),
            target: protocol.target(),
        }
    }

    /// The same facts as JSON fields, so a log pipeline can group lines by monitor.
    fn fields(&self) -> Map<String, serde_json::Value> {
        let mut fields = Map::new();
        fields.insert("monitor".into(), json!(self.kind));
        fields.insert("position".into(), json!(self.position));
        fields.insert("target".into(), json!(self.target));
        fields
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "monitor {} ({}, {})",
            self.position, self.kind, self.target
        )
    }
}

/// What every monitor's deliveries share.
#[derive(Clone)]
struct Shared {
    client: reqwest::Client,
    policy: RetryPolicy,
    bounds: BoundsRx,
    run: Arc<RunInfo>,
    logger: Logger,
}

/// One monitor's life: its messages in order, so a finish never overtakes its start.
async fn follow(
    mut protocol: Box<dyn Protocol>,
    label: Label,
    mut rx: UnboundedReceiver<Message>,
    shared: Shared,
) {
    let Shared {
        client,
        policy,
        bounds,
        run,
        logger,
    } = shared;
    let mut syncing = None;
    while let Some(message) = rx.recv().await {
        // A slow monitor must not make keepalives pile up in front of the finish: only the latest counts.
        if matches!(message, Message::Progress(_)) && !rx.is_empty() {
            continue;
        }
        let actions = match &message {
            Message::Start => protocol.start(&run),
            // Beside the pings, not in their queue: a slow API must not hold back the finish report.
            // After the start ping, so that a slug check the ping creates (`?create=1`) is found.
            Message::Sync => {
                if let Some(plan) = protocol.sync_plan() {
                    let (client, bounds, logger, label) = (
                        client.clone(),
                        bounds.clone(),
                        logger.clone(),
                        label.clone(),
                    );
                    syncing = Some(tokio::spawn(async move {
                        let result = sync::sync(&client, &plan, &policy, &bounds).await;
                        report_sync(&logger, &label, &plan, result);
                    }));
                }
                Vec::new()
            }
            Message::Log(text) => protocol.log(&run, text),
            Message::Progress(elapsed) => protocol.progress(&run, *elapsed),
            Message::Finish(report) => protocol.finish(&run, report),
        };
        for action in actions {
            let result = perform(&client, protocol.as_mut(), action, &policy, &bounds).await;
            report_result(&logger, &label, message.moment(), result);
        }
    }
    if let Some(syncing) = syncing {
        let _ = syncing.await;
    }
}

/// One line for what a schedule sync did: an event when it went well, a warning when it did not.
fn report_sync(
    logger: &Logger,
    label: &Label,
    plan: &SyncPlan,
    result: Result<Synced, sync::SyncError>,
) {
    let mut fields = label.fields();
    let wanted = &plan.wanted;
    let adjusted = wanted.adjustment(plan.service_name());
    match result {
        Ok(Synced::InStep) => {
            fields.insert("in_step".into(), json!(true));
            let message = format!("{label}: schedule in step");
            logger.event("schedule_synced", &message, fields);
        }
        Ok(Synced::Written(differences)) => {
            let written: Vec<&str> = differences.iter().map(|d| d.field).collect();
            let was: Vec<String> = differences.iter().map(|d| d.to_string()).collect();
            fields.insert("written".into(), json!(written));
            let message = format!("{label}: schedule written ({})", was.join("; "));
            logger.event("schedule_synced", &message, fields.clone());
            if let Some(note) = adjusted.filter(|_| written.contains(&"grace")) {
                logger.warn_event("schedule_note", &format!("{label}: {note}"), fields);
            }
        }
        Ok(Synced::Created) => {
            fields.insert("created".into(), json!(true));
            let message = format!(
                "{label}: created with the schedule {:?} ({}, grace {})",
                wanted.schedule.expression(),
                wanted.tz,
                humantime::format_duration(Duration::from_secs(wanted.grace))
            );
            logger.event("schedule_synced", &message, fields.clone());
            if let Some(note) = adjusted {
                logger.warn_event("schedule_note", &format!("{label}: {note}"), fields);
            }
        }
        Err(error) => {
            let given_up = match error.why {
                GaveUp::Failed => "error",
                GaveUp::Deadline => "deadline",
                GaveUp::Stopping => "stop",
            };
            fields.insert("given_up".into(), json!(given_up));
            fields.insert("error".into(), json!(error.reason));
            let message = format!("{label}: schedule not kept in step: {}", error.reason);
            logger.warn_event("schedule_sync_failed", &message, fields);
        }
    }
}

/// Ok((attempts, HTTP status or 0 for a file)), or why it was given up.
type Outcome = Result<(u32, u16), Failure>;

async fn perform(
    client: &reqwest::Client,
    protocol: &mut dyn Protocol,
    action: Action,
    policy: &RetryPolicy,
    bounds: &BoundsRx,
) -> Outcome {
    match action {
        Action::Http(request) => {
            let delivered = delivery::deliver(client, &request, policy, bounds).await?;
            protocol.on_response(&delivered.response);
            Ok((delivered.attempts, delivered.response.status.as_u16()))
        }
        Action::WriteFile { path, contents } => {
            if bounds
                .borrow()
                .deadline
                .is_some_and(|at| at <= Instant::now())
            {
                return Err(Failure::deadline(0, None));
            }
            let write = tokio::task::spawn_blocking(move || write_atomically(&path, &contents));
            // A write stuck on a dead network file system is left behind at the deadline: the temp
            // file and rename keep the target whole either way.
            tokio::select! {
                written = write => written
                    .map_err(|e| e.to_string())
                    .and_then(|r| r)
                    .map(|()| (1, 0))
                    .map_err(|reason| Failure::new(1, reason, GaveUp::Failed)),
                () = delivery::deadline_passes(bounds.clone()) => {
                    Err(Failure::deadline(1, Some("not written by then".to_string())))
                }
            }
        }
    }
}

fn report_result(logger: &Logger, label: &Label, moment: &str, outcome: Outcome) {
    let mut fields = label.fields();
    fields.insert("ping".into(), json!(moment));
    match outcome {
        Ok((attempts, status)) => {
            fields.insert("attempts".into(), json!(attempts));
            fields.insert("status".into(), json!(status));
            let message = format!("{label}: {moment} ping sent");
            logger.event("ping_sent", &message, fields);
        }
        Err(Failure {
            attempts,
            reason,
            why,
            ..
        }) => {
            let tries = format!("{attempts} attempt{}", if attempts == 1 { "" } else { "s" });
            let (given_up, message) = match why {
                GaveUp::Failed => (
                    "error",
                    format!("{label}: {moment} ping failed after {tries}: {reason}"),
                ),
                GaveUp::Deadline if attempts == 0 => (
                    "deadline",
                    format!("{label}: {moment} ping given up at the report deadline: {reason}"),
                ),
                GaveUp::Deadline => (
                    "deadline",
                    format!(
                        "{label}: {moment} ping given up at the report deadline after {tries}: {reason}"
                    ),
                ),
                GaveUp::Stopping => (
                    "stop",
                    format!("{label}: {moment} ping given up after {tries}, stopping: {reason}"),
                ),
            };
            fields.insert("attempts".into(), json!(attempts));
            fields.insert("given_up".into(), json!(given_up));
            fields.insert("error".into(), json!(reason));
            logger.warn_event("ping_failed", &message, fields);
        }
    }
}

/// A reader never sees a half-written file: write a temp file beside it, then rename over.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    // A temp file is private (0600); the collector reading the result usually runs as another user.
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|_| temp.write_all(contents))
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    temp.persist(path)
        .map_err(|e| format!("cannot replace {}: {}", path.display(), e.error))?;
    Ok(())
}

/// `check --ping`: sends a harmless log message to each monitor and says what became of it:
/// `Ok("reached")`, `Ok(why it was not tested)` for kinds with nothing harmless to send, or `Err(reason)`.
pub fn probe(
    protocols: Vec<Box<dyn Protocol>>,
    policy: RetryPolicy,
    run: RunInfo,
) -> Vec<(String, Result<String, String>)> {
    let (runtime, client) = match delivery_setup(|warning| eprintln!("cronbeat: {warning}")) {
        Ok(setup) => setup,
        Err(e) => return vec![("monitors".into(), Err(e))],
    };
    let bounds = delivery::unbounded();
    let results = runtime.block_on(async {
        let mut results = Vec::new();
        for mut protocol in protocols {
            let actions = protocol.log(&run, "cronbeat check: test ping");
            let mut verdict = Ok(if actions.is_empty() {
                format!(
                    "not tested: a {} monitor has no harmless test ping (it would record a run)",
                    protocol.kind()
                )
            } else {
                "reached".to_string()
            });
            for action in actions {
                if let Err(failure) =
                    perform(&client, protocol.as_mut(), action, &policy, &bounds).await
                {
                    verdict = Err(failure.reason);
                }
            }
            results.push((protocol.target(), verdict));
        }
        results
    });
    // As in deliver_all: a hanging name lookup must not outlive its timeout.
    runtime.shutdown_background();
    results
}

/// What `check --ping` found of one monitor's schedule: how it compares with the job's, and with `--fix`
/// what was written. Errors are one line each.
pub struct ScheduleCheck {
    pub found: Result<Found, String>,
    pub fixed: Option<Result<Synced, String>>,
}

/// `check --ping`: reads each plan's monitor and compares it with the job; with `fix`, writes what
/// differs (or creates what is missing).
pub fn check_schedules(plans: Vec<SyncPlan>, policy: RetryPolicy, fix: bool) -> Vec<ScheduleCheck> {
    let (runtime, client) = match delivery_setup(|warning| eprintln!("cronbeat: {warning}")) {
        Ok(setup) => setup,
        Err(e) => {
            return plans
                .iter()
                .map(|_| ScheduleCheck {
                    found: Err(e.clone()),
                    fixed: None,
                })
                .collect()
        }
    };
    let bounds = delivery::unbounded();
    let results = runtime.block_on(async {
        let mut results = Vec::new();
        for plan in plans {
            let found = sync::compare(&client, &plan, &policy, &bounds).await;
            let fixed = match &found {
                Ok(found) if fix && !matches!(found, Found::InStep) => Some(
                    sync::write(&client, &plan, found.clone(), &policy, &bounds)
                        .await
                        .map_err(|e| e.reason),
                ),
                _ => None,
            };
            results.push(ScheduleCheck {
                found: found.map_err(|e| e.reason),
                fixed,
            });
        }
        results
    });
    runtime.shutdown_background();
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(spec: &str) -> &'static str {
        parse(spec).map(|p| p.kind()).unwrap_or("error")
    }

    #[test]
    fn kind_from_prefix_then_host_then_healthchecks() {
        assert_eq!(kind("https://hc-ping.com/uuid"), "healthchecks");
        assert_eq!(kind("https://hc.example/ping/uuid"), "healthchecks");
        assert_eq!(kind("hc+https://cronitor.link/p/k/m"), "healthchecks");
        assert_eq!(kind("https://cronitor.link/p/k/m"), "cronitor");
        assert_eq!(kind("cronitor+http://127.0.0.1:1/p/k/m"), "cronitor");
        assert_eq!(kind("https://k@o1.ingest.sentry.io/4?monitor=m"), "sentry");
        assert_eq!(kind("sentry+http://k@127.0.0.1:1/4?monitor=m"), "sentry");
        assert_eq!(
            kind("https://uptime.betterstack.com/api/v1/heartbeat/t"),
            "betterstack"
        );
        assert_eq!(kind("https://nosnch.in/t"), "dms");
        assert_eq!(kind("https://cronhub.io/ping/u"), "cronhub");
        assert_eq!(kind("pushgateway+http://pgw:9091/?job=j"), "pushgateway");
        assert_eq!(kind("textfile:/tmp/x.prom"), "textfile");
        assert_eq!(kind("webhook+https://ops.example/hook"), "webhook");
        let err = parse("nagios+https://x/y").err().unwrap();
        assert!(err.contains("unknown monitor kind \"nagios\""), "{err}");
        assert!(err.contains("pushgateway"), "{err}");
    }

    #[test]
    fn failures_below_the_threshold_are_notes() {
        use crate::outcome::{ChildStatus, Outcome};
        let report = |code| Report {
            run_id: "r".into(),
            started_at: std::time::SystemTime::now(),
            duration: Duration::from_secs(1),
            outcome: Outcome {
                status: ChildStatus::Exited(code),
                cause: None,
            },
            tail: Arc::new(Vec::new()),
            cost: Default::default(),
            attempts: Default::default(),
        };
        let f = FailAfter::new(3);
        assert_eq!(f.note(&report(1)), None, "unknown place: reported");
        f.set(1);
        assert_eq!(
            f.note(&report(1)).unwrap(),
            "failure 1 of 3: exited with status 1 (--fail-after 3: reported as a failure from the 3rd in a row)"
        );
        f.set(2);
        assert!(f.note(&report(1)).unwrap().starts_with("failure 2 of 3"));
        f.set(3);
        assert_eq!(f.note(&report(1)), None);
        f.set(0);
        assert_eq!(f.note(&report(0)), None);
        assert_eq!(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal),
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn atomic_files_are_readable_by_others_or_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.prom");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        write_atomically(&path, b"a").unwrap();
        assert_eq!(mode(&path), 0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, b"b").unwrap();
        assert_eq!(mode(&path), 0o640);
        assert_eq!(std::fs::read(&path).unwrap(), b"b");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
