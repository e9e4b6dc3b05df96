//! A self-pipe for signals: the handler only writes the signal number as one byte, so it is
//! async-signal-safe, and the supervisor reads them at leisure with `poll`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signo: libc::c_int) {
    // SAFETY: only async-signal-safe calls here: errno is saved and restored around one write(2).
    unsafe {
        let errno = *libc::__errno_location();
        let fd = WRITE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = signo as u8;
            libc::write(fd, &byte as *const u8 as *const libc::c_void, 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// Wakes whoever waits on the pipe, as a signal would, without a signal: a byte 0 names none, so
/// `pending` drops it. For a thread whose end the supervisor waits for while it watches for signals.
pub fn wake() {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 0u8;
        // SAFETY: write(2) of one byte from a local to a descriptor number; the pipe is non-blocking, and
        // a full pipe already has the waiter awake.
        unsafe { libc::write(fd, &byte as *const u8 as *const libc::c_void, 1) };
    }
}

/// Signals cronbeat relays to the command's process group.
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Forwarded signals after which the command gets the `--kill-after` grace and then SIGKILL.
pub fn is_terminating(sig: Signal) -> bool {
    matches!(
        sig,
        Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP | Signal::SIGQUIT
    )
}

pub struct SignalPipe {
    read: OwnedFd,
    write: OwnedFd,
}

/// Ends a `SignalPipe::wait` from another thread without a signal (a 0 byte, which is none), so the
/// supervisor looks at once at what that thread changed: a fleet lock's lease lost.
pub struct Waker(OwnedFd);

impl Waker {
    pub fn wake(&self) {
        let _ = nix::unistd::write(&self.0, &[0]);
    }
}

impl SignalPipe {
    /// Installs the handler for every forwarded signal and SIGCHLD. Call once, before spawning.
    pub fn install() -> io::Result<SignalPipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
            SigSet::empty(),
        );
        for sig in FORWARDED.iter().copied().chain([Signal::SIGCHLD]) {
            // SAFETY: the handler is async-signal-safe (see `on_signal`).
            unsafe { sigaction(sig, &action) }?;
        }
        Ok(SignalPipe { read, write })
    }

    pub fn waker(&self) -> io::Result<Waker> {
        Ok(Waker(self.write.try_clone()?))
    }

    /// Waits up to `timeout` (forever when `None`) for a signal, then returns every pending one.
    pub fn wait(&self, timeout: Option<Duration>) -> Vec<Signal> {
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => {
                let ms = t.as_millis().clamp(0, i32::MAX as u128 - 1) as i32;
                // Round up so a timer never fires early and spins.
                let ms = if Duration::from_millis(ms as u64) < t {
                    ms + 1
                } else {
                    ms
                };
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(self.read.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, timeout);
        self.pending()
    }

    /// Before the command starts (the lock wait, the jitter sleep): waits `span`, unless a terminating
    /// signal comes first, which is returned. Other signals have no command to go to yet.
    pub fn pause(&self, span: Duration) -> Option<Signal> {
        let until = Instant::now() + span;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(sig) = self
                .wait(Some(left))
                .into_iter()
                .find(|s| is_terminating(*s))
            {
                return Some(sig);
            }
        }
    }

    pub fn pending(&self) -> Vec<Signal> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend(
                    buf[..n]
                        .iter()
                        .filter_map(|b| Signal::try_from(*b as i32).ok()),
                ),
            }
        }
        out
    }
}
