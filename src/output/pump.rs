//! One thread per pipe from the command copies it to cronbeat's own stream. Threads rather than a poll
//! loop so a slow reader of cronbeat's stdout stalls only the copy, never the deadline or signals.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{write_all_fd, Spool, Stream, Tail};

const BUFFER: usize = 128 * 1024;
const PIPE_SIZE: libc::c_int = 1 << 20;

/// What the pumps share: the tail, the quiet spool, and when output was last seen.
pub struct Capture {
    held: Mutex<Held>,
    epoch: Instant,
    last_output_ms: AtomicU64,
    saw_stderr: AtomicBool,
}

/// The tail and the spool under one lock, so that with two pipes both keep chunks in the same order:
/// the order in which cronbeat read them, the closest it can get to the order they were written in.
struct Held {
    tail: Tail,
    /// `Some` while output is held back; `None` when passing through (or when the spool failed).
    spool: Option<Spool>,
}

impl Capture {
    pub fn new(tail_capacity: usize, spool: Option<Spool>) -> Arc<Capture> {
        Arc::new(Capture {
            held: Mutex::new(Held {
                tail: Tail::new(tail_capacity),
                spool,
            }),
            epoch: Instant::now(),
            last_output_ms: AtomicU64::new(0),
            saw_stderr: AtomicBool::new(false),
        })
    }

    /// The last `max` bytes of the tail, for a glance at the latest output while the command runs.
    pub fn recent(&self, max: usize) -> Vec<u8> {
        lock(&self.held).tail.recent(max)
    }

    /// Takes the tail out, with how many bytes were printed in all; what comes after is counted, not kept.
    /// The ring's buffer itself is handed over: a large tail is never copied.
    pub fn take_tail(&self) -> (Vec<u8>, u64) {
        let tail = std::mem::take(&mut lock(&self.held).tail);
        let seen = tail.total_seen();
        (tail.into_contents(), seen)
    }

    pub fn saw_stderr(&self) -> bool {
        self.saw_stderr.load(Ordering::Relaxed)
    }

    /// When the command last printed anything.
    pub fn last_output(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_output_ms.load(Ordering::Relaxed))
    }

    /// Shows the held-back output (the run failed) and stops holding back.
    pub fn release_spool(&self, show: bool) {
        // Under the lock, so a pump still copying cannot write between the replayed chunks.
        let mut held = lock(&self.held);
        if let Some(mut spool) = held.spool.take() {
            if show {
                let _ = spool.replay();
            }
        }
    }

    /// Notes when and where output came.
    fn note(&self, stream: Stream) {
        self.last_output_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        if stream == Stream::Stderr {
            self.saw_stderr.store(true, Ordering::Relaxed);
        }
    }

    /// Keeps a chunk in the tail only (cronbeat's own stream can no longer be written).
    fn record(&self, stream: Stream, chunk: &[u8]) {
        self.note(stream);
        lock(&self.held).tail.push(chunk);
    }

    /// Records one chunk and passes it on; returns an error only when writing to cronbeat's own stream failed.
    fn deliver(&self, stream: Stream, chunk: &[u8]) -> io::Result<()> {
        self.note(stream);
        let mut held = lock(&self.held);
        held.tail.push(chunk);
        let Some(spool) = held.spool.as_mut() else {
            // Written outside the lock: a slow reader of one stream must not hold up the other's copy.
            drop(held);
            return write_all_fd(stream.fd(), chunk);
        };
        if spool.record(stream, chunk).is_ok() {
            return Ok(());
        }
        // The spool is full or broken: nothing may be lost, so show what it held and pass through from now
        // on; this chunk too before the lock goes, so it cannot overtake another pump's next one.
        let _ = spool.replay();
        held.spool = None;
        write_all_fd(stream.fd(), chunk)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The way a ready pump is given the pipe it copies.
pub struct Feed(std::sync::mpsc::SyncSender<OwnedFd>);

impl Feed {
    pub fn give(self, source: OwnedFd) {
        // A larger pipe means fewer wake-ups when the command prints a lot; failure is harmless.
        // SAFETY: F_SETPIPE_SZ takes an int and touches no memory.
        unsafe {
            libc::fcntl(source.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
        }
        // Non-blocking, so the loop can wait for data or for `finish` at once (see `copy`). Should
        // that fail, the copy still works, only without waking for `finish` while a writer is silent.
        let _ = fcntl(&source, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        // The channel holds one: this never blocks, and the pump's thread is waiting for it.
        let _ = self.0.send(source);
    }
}

pub struct Pump {
    handle: Option<JoinHandle<()>>,
    done: Arc<AtomicBool>,
    last_read: Arc<AtomicU64>,
    epoch: Instant,
    /// Set by `finish`; dropping the write end `stop` wakes a copy loop that waits for data.
    stopping: Arc<AtomicBool>,
    stop: Option<OwnedFd>,
}

impl Pump {
    /// Starts the pump's thread before the command exists, so that a thread that cannot start (no memory
    /// left) is known before anything runs: the command's output is never left without a reader. The
    /// thread waits for the pipe, given by [`Feed::give`]; `finished` receives one message when the copy
    /// ends (pipe closed, `finish`, or the feed dropped unused).
    pub fn ready(
        stream: Stream,
        capture: Arc<Capture>,
        finished: Sender<()>,
    ) -> io::Result<(Pump, Feed)> {
        let (stop_rx, stop_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (feed, fed) = std::sync::mpsc::sync_channel::<OwnedFd>(1);
        let done = Arc::new(AtomicBool::new(false));
        let stopping = Arc::new(AtomicBool::new(false));
        let last_read = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let (d, s, l) = (done.clone(), stopping.clone(), last_read.clone());
        let handle = std::thread::Builder::new()
            .name(format!("pump-{stream:?}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                if let Ok(source) = fed.recv() {
                    copy(source, &stop_rx, &s, stream, &capture, &l, epoch);
                }
                d.store(true, Ordering::Release);
                let _ = finished.send(());
            })?;
        let pump = Pump {
            handle: Some(handle),
            done,
            last_read,
            epoch,
            stopping,
            stop: Some(stop_tx),
        };
        Ok((pump, Feed(feed)))
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Nothing has come through the pipe for `quiet`.
    pub fn is_quiet(&self, quiet: Duration) -> bool {
        let last = Duration::from_millis(self.last_read.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last) >= quiet
    }

    /// Copies what is in the pipe now, then stops, even if a process outside the command's
    /// group still holds the pipe open. Blocks only while writing to a slow reader.
    pub fn finish(mut self) {
        self.stopping.store(true, Ordering::Release);
        drop(self.stop.take());
        self.join();
    }

    /// Copies until the pipe is closed by every writer.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn copy(
    source: OwnedFd,
    stop: &OwnedFd,
    stopping: &AtomicBool,
    stream: Stream,
    capture: &Capture,
    last_read: &AtomicU64,
    epoch: Instant,
) {
    let mut buf = vec![0u8; BUFFER];
    let mut forwarding = true;
    // Past `finish`, only what was in the pipe at that moment: a writer outside the group could go on forever.
    let mut budget: Option<usize> = None;
    loop {
        if budget.is_none() && stopping.load(Ordering::Acquire) {
            budget = Some(buffered(&source));
        }
        let want = budget.map_or(BUFFER, |b| b.min(BUFFER));
        if want == 0 {
            return;
        }
        // SAFETY: buf is valid for BUFFER >= want bytes and the fd is owned by this thread.
        let n = unsafe {
            libc::read(
                source.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                want,
            )
        };
        if n < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) if budget.is_none() => {
                    // On a stop, the check at the top of the loop sets the budget.
                    wait_readable(&source, stop);
                    continue;
                }
                _ => return,
            }
        }
        if n == 0 {
            return;
        }
        let n = n as usize;
        if let Some(b) = budget.as_mut() {
            *b -= n.min(*b);
        }
        last_read.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let chunk = &buf[..n];
        if forwarding {
            if let Err(e) = capture.deliver(stream, chunk) {
                if e.raw_os_error() == Some(libc::EPIPE) {
                    // Our reader went away: close the pipe so the command gets SIGPIPE, as it would without us.
                    return;
                }
                // Any other write error: keep draining so the command never blocks, but stop writing.
                forwarding = false;
            }
        } else {
            capture.record(stream, chunk);
        }
    }
}

/// Blocks until the pipe has data (or is closed) or `finish` was called.
fn wait_readable(source: &OwnedFd, stop: &OwnedFd) {
    let mut fds = [
        PollFd::new(source.as_fd(), PollFlags::POLLIN),
        PollFd::new(stop.as_fd(), PollFlags::POLLIN),
    ];
    // EINTR or any other error just sends the loop round again.
    let _ = poll(&mut fds, PollTimeout::NONE);
}

/// Bytes waiting in the pipe.
fn buffered(source: &OwnedFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer given.
    let rc = unsafe { libc::ioctl(source.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}
