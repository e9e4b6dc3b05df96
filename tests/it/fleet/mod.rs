//! Fleet locks against real engines: Redis from CRONBEAT_TEST_REDIS (`redis://127.0.0.1:PORT`) and
//! PostgreSQL from CRONBEAT_TEST_POSTGRES (`postgres://postgres@127.0.0.1:PORT/postgres`), both started
//! by .ci/run. Each test uses job names of its own, so they share the engines safely; what would touch
//! every key (FLUSHALL, stopping the server) gets a server of its own, or a proxy in front of the shared
//! one that the test cuts. Without the variables the tests are skipped (a failure under CI=true).

/// Each scenario (a `fn(Kind)` of the module that names it) on Redis and on PostgreSQL.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn redis() {
                super::$scenario(super::Kind::Redis)
            }
            #[test]
            fn postgres() {
                super::$scenario(super::Kind::Postgres)
            }
        }
    )*};
}
pub(crate) use on_both;

/// Each scenario (a `fn(Via)` of the module that names it) on Redis, on PostgreSQL, and on PostgreSQL
/// through PgBouncer in transaction mode (CRONBEAT_TEST_PGBOUNCER).
macro_rules! on_all {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn redis() {
                super::$scenario($crate::fleet::Via::Redis)
            }
            #[test]
            fn postgres() {
                super::$scenario($crate::fleet::Via::Postgres)
            }
            #[test]
            fn pgbouncer() {
                super::$scenario($crate::fleet::Via::PgBouncer)
            }
        }
    )*};
}
pub(crate) use on_all;

mod consistent;
mod engines;
mod forget;
mod memory;
mod readers;
mod retries;
mod tls;
mod truth;
mod usage;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Redis,
    Postgres,
}

/// The shared engine's URL, or `None` (skipped; a failure under CI=true) when it is not configured.
pub fn engine(kind: Kind) -> Option<String> {
    let var = match kind {
        Kind::Redis => "CRONBEAT_TEST_REDIS",
        Kind::Postgres => "CRONBEAT_TEST_POSTGRES",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            missing(&format!(
                "{var} is not set to a running engine (.ci/run starts one)"
            ));
            None
        }
    }
}

/// `host:port` of an engine URL.
pub fn address(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap().to_string()
}

/// `url` with its host and port replaced by `addr`.
pub fn via(url: &str, addr: &str) -> String {
    url.replacen(&address(url), addr, 1)
}

/// A job name no other test and no earlier run uses.
pub fn unique(what: &str) -> String {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{what}-{}-{nanos}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A command on the engine, through its own client (`redis-cli`, `psql`); panics with its output on failure.
pub fn engine_command(kind: Kind, url: &str, command: &str) -> String {
    let out = match kind {
        Kind::Redis => {
            let (host, port) = address(url)
                .rsplit_once(':')
                .map(|(h, p)| (h.to_string(), p.to_string()))
                .unwrap();
            Command::new("redis-cli")
                .args(["-h", &host, "-p", &port])
                .args(command.split_whitespace())
                .output()
        }
        Kind::Postgres => Command::new("psql").args([url, "-tAc", command]).output(),
    }
    .unwrap_or_else(|e| panic!("cannot run the engine's client for {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Redis,
    Postgres,
    PgBouncer,
}

/// The engine's URL as `via` reaches it, or `None` (skipped; a failure under CI=true).
pub fn url(via: Via) -> Option<String> {
    let var = match via {
        Via::Redis => "CRONBEAT_TEST_REDIS",
        Via::Postgres => "CRONBEAT_TEST_POSTGRES",
        Via::PgBouncer => "CRONBEAT_TEST_PGBOUNCER",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            missing(&format!("{var} is not set to a running engine"));
            None
        }
    }
}

pub fn kind(via: Via) -> Kind {
    match via {
        Via::Redis => Kind::Redis,
        _ => Kind::Postgres,
    }
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of the test's own, on a free port, stopped when dropped.
pub struct PrivateRedis {
    child: Child,
    pub url: String,
}

impl PrivateRedis {
    /// `None` (skipped, or a failure under CI=true) without redis-server.
    pub fn start(extra: &[&str]) -> Option<PrivateRedis> {
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        Self::launch("redis", move |port| {
            let mut args = vec!["--port".to_string(), port.to_string()];
            args.extend(extra.iter().cloned());
            args
        })
    }

    /// Speaking TLS only, with the certificate and key in `dir` (`server.pem`, `server.key`).
    pub fn start_tls(dir: &std::path::Path) -> Option<PrivateRedis> {
        let file = |name: &str| dir.join(name).display().to_string();
        let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
        Self::launch("rediss", move |port| {
            let port = port.to_string();
            [
                "--port",
                "0",
                "--tls-port",
                &port,
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
            ]
            .into_iter()
            .chain(["--tls-ca-cert-file", &ca, "--tls-auth-clients", "no"])
            .map(str::to_string)
            .collect()
        })
    }

    fn launch(scheme: &str, args: impl Fn(u16) -> Vec<String>) -> Option<PrivateRedis> {
        if !have("redis-server") {
            missing("redis-server is not installed (.ci/run installs it)");
            return None;
        }
        for _ in 0..5 {
            let port = closed_port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(args(port))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut server = PrivateRedis {
                child,
                url: format!("{scheme}://127.0.0.1:{port}"),
            };
            let up = eventually(Duration::from_secs(5), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && server.child.try_wait().unwrap().is_none() {
                return Some(server);
            }
            let _ = server.child.kill();
        }
        panic!("redis-server did not start");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fleet ledger of the test's own, empty at first: a redis-server of its own, or a database of its own
/// on the shared PostgreSQL (dropped with it), for what reads every job of the ledger.
pub struct OwnLedger {
    pub url: String,
    _redis: Option<PrivateRedis>,
    /// The shared server's URL and the database's name.
    database: Option<(String, String)>,
}

impl OwnLedger {
    pub fn start(kind: Kind) -> Option<OwnLedger> {
        match kind {
            Kind::Redis => {
                let redis = PrivateRedis::start(&[])?;
                Some(OwnLedger {
                    url: redis.url.clone(),
                    _redis: Some(redis),
                    database: None,
                })
            }
            Kind::Postgres => {
                let shared = engine(kind)?;
                let name = unique("cronbeat_own").replace('-', "_");
                engine_command(kind, &shared, &format!("CREATE DATABASE {name}"));
                let (server, _) = shared.rsplit_once('/').unwrap();
                Some(OwnLedger {
                    url: format!("{server}/{name}"),
                    _redis: None,
                    database: Some((shared, name)),
                })
            }
        }
    }
}

impl Drop for OwnLedger {
    fn drop(&mut self) {
        if let Some((shared, name)) = &self.database {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = Command::new("psql").args([shared, "-tAc", &drop]).output();
        }
    }
}

/// A TCP proxy in front of an engine, which a test can cut (the engine seems gone, its connections
/// closed and new ones refused) or freeze (the engine seems stalled: connections stay open, and nothing
/// more is forwarded either way).
pub struct Proxy {
    pub addr: String,
    cut: Arc<AtomicBool>,
    frozen: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    listener: Option<TcpListener>,
}

impl Proxy {
    pub fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let frozen = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let accepting = listener.try_clone().unwrap();
        let (target, c, f, o) = (
            target.to_string(),
            cut.clone(),
            frozen.clone(),
            open.clone(),
        );
        std::thread::spawn(move || {
            for client in accepting.incoming() {
                let Ok(client) = client else { break };
                if c.load(Ordering::SeqCst) {
                    break;
                }
                o.lock().unwrap().push(client.try_clone().unwrap());
                if f.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                o.lock().unwrap().push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), &f);
                pipe(server, client, &f);
            }
        });
        Proxy {
            addr,
            cut,
            frozen,
            open,
            listener: Some(listener),
        }
    }

    /// The engine stalls: what is sent either way from now on is held, never delivered, and new
    /// connections are accepted and left unanswered.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// The engine is gone: every connection is closed, and no new one is accepted.
    pub fn cut(&mut self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some(listener) = self.listener.take() {
            // SAFETY: shutdown(2) on a socket we own wakes the accepting thread, which then exits.
            unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(&listener), libc::SHUT_RDWR) };
        }
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, frozen: &Arc<AtomicBool>) {
    let frozen = frozen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if frozen.load(Ordering::SeqCst) {
                // Held: read and dropped until the connection closes, as a stalled peer would.
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A proxy in front of Redis that lets a reader's pipeline through up to the first command naming
/// `key` and holds the rest until released: whatever the engine does meanwhile falls between the
/// reader's commands (or, inside a MULTI, before all of them are run). One connection; the replies
/// pass freely.
pub struct Hold {
    pub addr: String,
    held: std::sync::mpsc::Receiver<()>,
    release: std::sync::mpsc::Sender<()>,
}

impl Hold {
    pub fn start(target: &str, key: &str) -> Hold {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tell_held, held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (target, key) = (target.to_string(), key.as_bytes().to_vec());
        std::thread::spawn(move || {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let mut server = TcpStream::connect(&target).unwrap();
            pipe(
                server.try_clone().unwrap(),
                client.try_clone().unwrap(),
                &Arc::new(AtomicBool::new(false)),
            );
            // What the client sent that is not yet forwarded: a command not yet whole.
            let mut seen = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            let mut holding = true;
            while holding {
                let n = match client.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                seen.extend_from_slice(&buf[..n]);
                while let Some(len) = command_len(&seen) {
                    let command: Vec<u8> = seen.drain(..len).collect();
                    if holding && command.windows(key.len()).any(|w| w == key.as_slice()) {
                        holding = false;
                        let _ = tell_held.send(());
                        let _ = released.recv();
                    }
                    server.write_all(&command).unwrap();
                }
            }
            server.write_all(&seen).unwrap();
            pipe(client, server, &Arc::new(AtomicBool::new(false)));
        });
        Hold {
            addr,
            held,
            release,
        }
    }

    /// Whether the reader reached the key within `within`.
    pub fn wait_held(&self, within: Duration) -> bool {
        self.held.recv_timeout(within).is_ok()
    }

    pub fn release(&self) {
        let _ = self.release.send(());
    }
}

/// The length of the whole RESP command (`*N`, then N bulk strings) `buf` starts with, if it is whole.
fn command_len(buf: &[u8]) -> Option<usize> {
    let line = |from: usize| -> Option<(usize, usize)> {
        let end = from + buf.get(from..)?.windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[from + 1..end])
            .ok()?
            .parse()
            .ok()?;
        Some((n, end + 2))
    };
    let (count, mut at) = line(0)?;
    for _ in 0..count {
        let (len, data) = line(at)?;
        at = data + len + 2;
        if at > buf.len() {
            return None;
        }
    }
    Some(at)
}

/// A server that accepts connections and never says a word.
pub struct Silent {
    pub addr: String,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        Silent { addr, _held: held }
    }
}

/// Polls `check` until it holds or `within` passes; returns how long it took.
pub fn within(within: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
