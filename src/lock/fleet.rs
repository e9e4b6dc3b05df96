//! A lock shared by a fleet of hosts, on Redis or PostgreSQL: one host per tick, one run at a time.
//!
//! A run takes a lease for `--lock-ttl` (waiting for it under `--overlap wait`), which a keeper thread
//! renews every third of the TTL while the command runs and releases, if still this run's, at the end.
//! Each acquisition gets a fencing token greater than every earlier one for the name. With a schedule,
//! the run then claims its tick, `(name, tick)`, while it holds the lease: the first host to claim it
//! runs it, every other exits 75 at once. A tick is claimed only by a host that holds the lease and so
//! will run it: a host that finds the lease held (a previous tick's run, seen early by a host whose clock
//! is ahead) claims nothing, and a host that finds its tick claimed gives the lease back. The claim stays
//! on the engine for a period of the schedule plus `CLAIM_SKEW`, by the engine's clock, so a host whose
//! clock (and so its cron) is a little behind finds it and does not run the tick again.
//!
//! The lease lasts on the engine until the TTL after the last renewal it acknowledged was sent (by this
//! host's clock: the engine received it later). A renewal the engine refuses loses it at once; when none
//! is acknowledged, the run is stopped in time to be dead before that expiry, less `margin` for the
//! clocks' rates: SIGTERM at `expiry - margin - grace`, SIGKILL at `expiry - margin`, where the grace is
//! `--kill-after`, cut to a third of the TTL when longer ([`lost_lease_grace`]).
//!
//! Every engine call (connecting included) is bounded by `CALL_TIMEOUT`, or a third of the TTL when
//! that is shorter, so a run never hangs on an engine that does not answer.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use super::postgres::PgLock;
use super::redis::RedisLock;
use super::target::{Engine, EngineKind};
use crate::events::{Event, Observer};
use crate::kinds::Overlap;
use crate::outcome::LockLoss;
use crate::supervise::signals::Waker;
use crate::supervise::Lost;
use crate::supervise::SignalPipe;

/// The longest any one engine call may take, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Added to a schedule's period for how long a tick's claim is kept: hosts' clocks may differ this much.
pub const CLAIM_SKEW: Duration = Duration::from_secs(60);
/// A schedule without a next due time keeps its claims this long.
pub const CLAIM_DEFAULT: Duration = Duration::from_secs(24 * 3600);
/// How often a waiting run (`--overlap wait`) tries the lease again.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// How much earlier than the lease's expiry on the engine the command must be dead: the engine's clock
/// may run faster than this host's, and the SIGKILL must have landed. A twentieth of the TTL, at least
/// `MARGIN_MIN`.
const MARGIN_MIN: Duration = Duration::from_millis(250);

fn margin(ttl: Duration) -> Duration {
    (ttl / 20).max(MARGIN_MIN)
}

/// The grace between SIGTERM and SIGKILL when the lease cannot be renewed: `--kill-after`, but no more
/// than a third of the TTL, so that the stop begins only after a renewal had its chance.
pub fn lost_lease_grace(ttl: Duration, kill_after: Duration) -> Duration {
    kill_after.min(ttl / 3)
}

/// The variable that gives the command its fencing token.
pub const FENCING_VARIABLE: &str = "CRONBEAT_FENCING_TOKEN";

/// What a run asks of a fleet lock.
pub struct Wanted<'a> {
    pub engine: &'a Engine,
    pub name: &'a str,
    pub holder: &'a str,
    /// The tick to claim, and how long the claim is kept.
    pub tick: Option<(SystemTime, Duration)>,
    pub ttl: Duration,
    pub overlap: Overlap,
    pub lock_wait: Option<Duration>,
    /// Between SIGTERM and SIGKILL when the lease is lost (`--kill-after`).
    pub kill_after: Duration,
}

impl Wanted<'_> {
    fn call_timeout(&self) -> Duration {
        CALL_TIMEOUT.min(self.ttl / 3)
    }
}

pub enum Obtained {
    Held(Lease),
    /// Another host claimed this tick first.
    TickTaken {
        holder: String,
    },
    /// The lease is held elsewhere (`skip`, or `wait` ran out): the reason.
    Skipped(String),
    /// The engine could not be reached or refused: the reason, naming the engine without secrets.
    Unavailable(String),
    /// A terminating signal arrived while waiting.
    Interrupted(i32),
}

pub enum Acquired {
    Got(i64),
    /// Held by this host, for the run of this tick (none: a run off the schedule, or an older cronbeat).
    HeldBy {
        holder: String,
        tick: Option<SystemTime>,
    },
}

/// One engine's client; it connects on first use and again after a failure.
enum Client {
    Redis(Box<RedisLock>),
    Postgres(Box<PgLock>),
}

impl Client {
    fn new(engine: &Engine) -> Client {
        match engine.kind {
            EngineKind::Redis => Client::Redis(Box::new(RedisLock::new(engine))),
            EngineKind::Postgres => Client::Postgres(Box::new(PgLock::new(engine))),
        }
    }

    async fn claim(
        &mut self,
        name: &str,
        tick: SystemTime,
        holder: &str,
        keep: Duration,
    ) -> Result<Option<String>, String> {
        match self {
            Client::Redis(r) => {
                let tick = crate::schedule::rfc3339_utc(tick);
                r.claim(name, &tick, holder, keep).await
            }
            Client::Postgres(p) => p.claim(name, tick, holder, keep).await,
        }
    }

    /// Who claimed the tick, if anyone did.
    async fn claimant(&mut self, name: &str, tick: SystemTime) -> Result<Option<String>, String> {
        match self {
            Client::Redis(r) => r.claimant(name, &crate::schedule::rfc3339_utc(tick)).await,
            Client::Postgres(p) => p.claimant(name, tick).await,
        }
    }

    async fn acquire(&mut self, lease: &Proof, ttl: Duration) -> Result<Acquired, String> {
        match self {
            Client::Redis(r) => r.acquire(&lease.name, &lease.value(), ttl).await,
            Client::Postgres(p) => {
                p.acquire(&lease.name, &lease.holder, lease.tick, &lease.id, ttl)
                    .await
            }
        }
    }

    async fn renew(&mut self, lease: &Proof, ttl: Duration) -> Result<bool, String> {
        match self {
            Client::Redis(r) => r.renew(&lease.name, &lease.value(), ttl).await,
            Client::Postgres(p) => p.renew(&lease.name, lease.token, ttl).await,
        }
    }

    /// Hangs up politely, within a moment.
    async fn close(&mut self) {
        match self {
            Client::Redis(r) => r.close().await,
            Client::Postgres(p) => p.close().await,
        }
    }

    async fn release(&mut self, lease: &Proof) -> Result<bool, String> {
        match self {
            Client::Redis(r) => r.release(&lease.name, &lease.value()).await,
            Client::Postgres(p) => p.release(&lease.name, lease.token).await,
        }
    }
}

/// What proves a lease is this run's: a random id with the tick it serves and the holder (Redis keeps
/// them in the key's value), and the fencing token it got (PostgreSQL checks that).
struct Proof {
    name: String,
    holder: String,
    tick: Option<SystemTime>,
    id: String,
    token: i64,
}

impl Proof {
    fn value(&self) -> String {
        super::redis::lease_value(&self.id, self.tick, &self.holder)
    }
}

/// Runs `future` on `runtime`, bounded by `limit`.
fn bounded<T>(
    runtime: &Runtime,
    limit: Duration,
    future: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    runtime.block_on(async {
        tokio::time::timeout(limit, future)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {}",
                    humantime::format_duration(limit)
                ))
            })
    })
}

fn unavailable(engine: &Engine, e: String) -> Obtained {
    Obtained::Unavailable(format!("the lock engine {engine} could not be used: {e}"))
}

/// Claims the tick and takes the lease, as `want` says, telling `observer` what it does meanwhile.
pub fn obtain(want: &Wanted<'_>, signals: &SignalPipe, observer: &mut dyn Observer) -> Obtained {
    let engine = want.engine;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return unavailable(engine, format!("cannot start its client: {e}")),
    };
    let mut client = Client::new(engine);
    let mut proof = Proof {
        name: want.name.to_string(),
        holder: want.holder.to_string(),
        tick: want.tick.map(|(tick, _)| tick),
        id: uuid::Uuid::new_v4().to_string(),
        token: 0,
    };
    match contend(&runtime, &mut client, &mut proof, want, signals, observer) {
        Ok(acquired) => match Lease::keep(runtime, client, proof, want, acquired, signals) {
            Ok(lease) => Obtained::Held(lease),
            Err(e) => unavailable(engine, e),
        },
        Err(obtained) => {
            runtime.block_on(client.close());
            obtained
        }
    }
}

/// The lease, then, while holding it, the tick claim: `Ok(when the call that got the lease was sent)`,
/// its token in `proof`; else what the run comes to.
fn contend(
    runtime: &Runtime,
    client: &mut Client,
    proof: &mut Proof,
    want: &Wanted<'_>,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
) -> Result<Instant, Obtained> {
    let engine = want.engine;
    let limit = want.call_timeout();
    let until = want.lock_wait.map(|w| Instant::now() + w);
    let shown = engine.to_string();
    let mut waiting = false;
    loop {
        let sent = Instant::now();
        let holder = match bounded(runtime, limit, client.acquire(proof, want.ttl)) {
            Ok(Acquired::Got(token)) => {
                proof.token = token;
                claim(runtime, client, proof, want)?;
                observer.on_event(&Event::FleetLockHeld {
                    lock: &shown,
                    fencing_token: token,
                });
                return Ok(sent);
            }
            Ok(Acquired::HeldBy { holder, tick }) => {
                // The holder runs this very tick (its claim may still be on its way): nothing to wait
                // for. Else the tick may have been run already, by a run that is over.
                if let Some((mine, _)) = want.tick {
                    match bounded(runtime, limit, client.claimant(want.name, mine)) {
                        Ok(Some(claimant)) => return Err(Obtained::TickTaken { holder: claimant }),
                        Ok(None) if tick == Some(mine) => {
                            return Err(Obtained::TickTaken { holder })
                        }
                        Ok(None) => {}
                        Err(e) => return Err(unavailable(engine, e)),
                    }
                }
                holder
            }
            Err(e) => return Err(unavailable(engine, e)),
        };
        let held = format!("the fleet lock on {shown} ({} held by {holder})", want.name);
        match want.overlap {
            Overlap::Wait if until.map_or(true, |u| Instant::now() < u) => {}
            Overlap::Wait => {
                return Err(Obtained::Skipped(format!(
                    "skipped: {held} was still held after {}",
                    humantime::format_duration(want.lock_wait.unwrap_or_default())
                )))
            }
            _ => {
                return Err(Obtained::Skipped(format!(
                    "skipped: a previous run still holds {held}"
                )))
            }
        }
        if !waiting {
            waiting = true;
            observer.on_event(&Event::LockWait { lock: &held });
        }
        observer.on_event(&Event::Waiting {
            what: &format!("waiting for {held}"),
        });
        let pause = until.map_or(WAIT_POLL, |u| {
            WAIT_POLL.min(u.saturating_duration_since(Instant::now()))
        });
        // Hosts polling in step would keep meeting at the engine: spread them a little.
        let pause = pause.mul_f64(0.75 + fastrand::f64() / 2.0);
        if let Some(sig) = signals.pause(pause) {
            return Err(Obtained::Interrupted(sig as i32));
        }
    }
}

/// Claims the run's tick, if it serves one, for the lease just taken; a tick claimed already, or a claim
/// that failed, gives the lease back.
fn claim(
    runtime: &Runtime,
    client: &mut Client,
    proof: &Proof,
    want: &Wanted<'_>,
) -> Result<(), Obtained> {
    let Some((tick, keep)) = want.tick else {
        return Ok(());
    };
    let limit = want.call_timeout();
    let ended = match bounded(
        runtime,
        limit,
        client.claim(want.name, tick, want.holder, keep),
    ) {
        Ok(None) => return Ok(()),
        Ok(Some(holder)) => Obtained::TickTaken { holder },
        Err(e) => unavailable(want.engine, e),
    };
    // Not given back, it would keep a later tick's host waiting or skipping until the TTL.
    let _ = bounded(runtime, limit, client.release(proof));
    Err(ended)
}

/// How the lease was lost, and by when the command must be dead; none while it is kept.
type Standing = Arc<Mutex<Option<Lost>>>;

/// A held lease and the thread that keeps it. Dropped without `release`, it is released anyway.
pub struct Lease {
    standing: Standing,
    ttl: Duration,
    stop: Option<oneshot::Sender<()>>,
    keeper: Option<JoinHandle<Result<bool, String>>>,
    pub fencing_token: i64,
    shown: String,
}

impl Lease {
    fn keep(
        runtime: Runtime,
        mut client: Client,
        proof: Proof,
        want: &Wanted<'_>,
        acquired: Instant,
        signals: &SignalPipe,
    ) -> Result<Lease, String> {
        let waker = signals
            .waker()
            .map_err(|e| format!("cannot watch the lease: {e}"))?;
        let standing = Standing::default();
        let (stop, stopped) = oneshot::channel();
        let keeping = Keeping {
            ttl: want.ttl,
            limit: want.call_timeout(),
            grace: lost_lease_grace(want.ttl, want.kill_after),
            acquired,
        };
        let fencing_token = proof.token;
        let watched = standing.clone();
        let keeper = std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || {
                let limit = keeping.limit;
                let result = runtime.block_on(async {
                    keeping
                        .renew_until(&mut client, &proof, &watched, &waker, stopped)
                        .await;
                    let released = tokio::time::timeout(limit, client.release(&proof))
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "no answer within {}",
                                humantime::format_duration(limit)
                            ))
                        });
                    client.close().await;
                    released
                });
                // The connection's task may be blocked on a silent server: do not wait for it.
                runtime.shutdown_background();
                result
            })
            .map_err(|e| format!("cannot start the lease keeper: {e}"))?;
        Ok(Lease {
            standing,
            ttl: want.ttl,
            stop: Some(stop),
            keeper: Some(keeper),
            fencing_token,
            shown: want.engine.to_string(),
        })
    }

    /// Stops renewing and gives the lease back, if it is still this run's. A warning when that failed
    /// (the lease then expires by itself within the TTL).
    pub fn release(mut self) -> Option<String> {
        self.finish()
    }

    fn finish(&mut self) -> Option<String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = self.keeper.take()?.join().ok()?;
        match result {
            Err(e) if crate::supervise::Lease::lost(self).is_none() => Some(format!(
                "could not release the fleet lock on {}: {e}; it expires within {}",
                self.shown,
                humantime::format_duration(self.ttl)
            )),
            _ => None,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

impl crate::supervise::Lease for Lease {
    fn lost(&self) -> Option<Lost> {
        *self.standing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the keeper thread needs to know.
struct Keeping {
    ttl: Duration,
    /// The longest one renewal may take.
    limit: Duration,
    /// Between SIGTERM and SIGKILL when the lease cannot be renewed.
    grace: Duration,
    /// When the call that took the lease was sent.
    acquired: Instant,
}

impl Keeping {
    /// Renews the lease every third of the TTL until `stop`. The lease lasts on the engine until the TTL
    /// after the last acknowledged renewal was sent; a failed renewal is tried again soon, and when the
    /// command would no longer have its grace before that expiry (less the margin), the lease counts as
    /// lost, with that expiry less the margin as the moment the command must be dead. A renewal the
    /// engine refuses loses it at once.
    async fn renew_until(
        &self,
        client: &mut Client,
        proof: &Proof,
        standing: &Mutex<Option<Lost>>,
        waker: &Waker,
        mut stop: oneshot::Receiver<()>,
    ) {
        let ttl = self.ttl;
        let every = ttl / 3;
        let retry = (ttl / 10).max(Duration::from_millis(100));
        let mut dead_by = self.acquired + ttl - margin(ttl);
        let mut next = self.acquired + every;
        let lost = loop {
            let give_up = dead_by.checked_sub(self.grace).unwrap_or(self.acquired);
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep_until(next.min(give_up).into()) => {}
            }
            let sent = Instant::now();
            if sent >= give_up {
                break Lost {
                    loss: LockLoss::Unreachable(ttl),
                    dead_by,
                };
            }
            let answer = (sent + self.limit).min(give_up);
            match tokio::time::timeout_at(answer.into(), client.renew(proof, ttl)).await {
                Ok(Ok(true)) => {
                    dead_by = sent + ttl - margin(ttl);
                    next = sent + every;
                }
                Ok(Ok(false)) => {
                    break Lost {
                        loss: LockLoss::Taken,
                        dead_by: dead_by.min(Instant::now() + self.grace),
                    }
                }
                Ok(Err(_)) | Err(_) => next = Instant::now() + retry,
            }
        };
        *standing.lock().unwrap_or_else(|e| e.into_inner()) = Some(lost);
        waker.wake();
        let _ = stop.await;
    }
}
