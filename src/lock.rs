//! `--lock PATH`: one run at a time, by flock(2), and what to do when another run holds it
//! (`--overlap skip|wait|replace`). The lock lives as long as the returned `Lock`.
//!
//! The holder writes `pid=<cronbeat pid>` into the file once it has the lock and adds
//! `pgid=<command's process group>` once the command runs, so a replacing run can stop it: SIGTERM to
//! that cronbeat (which relays it to its command with the grace and reports the run as terminated),
//! the grace, then SIGKILL to the command's group and to that cronbeat. A pid is only signalled while
//! `/proc/locks` shows it holding this very file, so a stale file never gets a stranger killed.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::config::{Job, DEFAULT_REPLACE_WAIT};
use crate::events::{Event, Observer};
use crate::kinds::Overlap;
use crate::supervise::SignalPipe;

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(50);
/// How long a replacing run gives a fresh holder to write its pid into the file.
const HOLDER_GRACE: Duration = Duration::from_millis(500);
/// How long a replaced cronbeat whose command was killed gets to release the lock before it is killed too.
const REPORT_GRACE: Duration = Duration::from_secs(1);

/// What a run asks of the lock.
#[derive(Clone, Copy)]
pub struct Wanted<'a> {
    pub path: &'a Path,
    pub overlap: Overlap,
    /// The longest wait: for `wait` (no limit when `None`), and after killing the run `replace` stops.
    pub lock_wait: Option<Duration>,
    /// Between SIGTERM and SIGKILL when replacing (`--kill-after`).
    pub grace: Duration,
    /// `replace`'s wait after SIGKILL when `lock_wait` is not given.
    pub replace_wait: Duration,
}

impl Wanted<'_> {
    /// The lock `job` asks for, if any.
    pub fn of(job: &Job) -> Option<Wanted<'_>> {
        Some(Wanted {
            path: job.lock.as_deref()?,
            overlap: job.overlap,
            lock_wait: job.lock_wait,
            grace: job.kill_after,
            replace_wait: DEFAULT_REPLACE_WAIT,
        })
    }
}

pub enum Obtained {
    Held(Lock),
    /// Not run: the reason, for stderr and the monitors.
    Skipped(String),
    /// A terminating signal arrived while waiting.
    Interrupted(i32),
}

/// A held lock. Dropping it unlocks; `release` also empties the file so no stale pid is left behind.
pub struct Lock {
    file: File,
}

impl Lock {
    fn record(&self, group: Option<u32>) {
        let mut text = format!("pid={}\n", std::process::id());
        if let Some(group) = group {
            text.push_str(&format!("pgid={group}\n"));
        }
        // Written over the old contents, then cut to length: a reader never sees an empty file.
        let _ = self.file.write_all_at(text.as_bytes(), 0);
        let _ = self.file.set_len(text.len() as u64);
    }

    pub fn release(self) {
        let _ = self.file.set_len(0);
    }
}

impl Observer for Lock {
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::Started { pid: Some(pid), .. } = event {
            self.record(Some(*pid));
        }
    }
}

/// Takes the lock as `want.overlap` says, telling `observer` what it does meanwhile.
pub fn obtain(
    want: &Wanted<'_>,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
) -> Result<Obtained, String> {
    let path = want.path;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        // flock works on a read-only descriptor, so an existing lock file on a read-only mount still serves.
        .or_else(|e| File::open(path).map_err(|_| e))
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    if try_flock(&file, path)? {
        return Ok(held(file));
    }
    let status = format!("waiting for the lock {}", path.display());
    let waited = match want.overlap {
        Overlap::Skip => {
            return Ok(Obtained::Skipped(format!(
                "skipped: a previous run still holds the lock {}",
                path.display()
            )))
        }
        Overlap::Wait => {
            observer.on_event(&Event::LockWait { path });
            let mut waiting = Waiter {
                observer,
                status: &status,
            };
            wait_for(&file, path, want.lock_wait, signals, &mut waiting)?
        }
        Overlap::Replace => {
            let waited = replace(want, &file, signals, observer, &status)?;
            if let Waited::TimedOut = waited {
                return Ok(Obtained::Skipped(format!(
                    "skipped: the lock {} was still held after stopping the previous run",
                    path.display()
                )));
            }
            waited
        }
    };
    Ok(match waited {
        Waited::Held => held(file),
        Waited::Interrupted(sig) => Obtained::Interrupted(sig),
        Waited::TimedOut => Obtained::Skipped(format!(
            "skipped: a previous run still held the lock {} after {}",
            path.display(),
            humantime::format_duration(want.lock_wait.unwrap_or_default())
        )),
    })
}

fn held(file: File) -> Obtained {
    let lock = Lock { file };
    lock.record(None);
    Obtained::Held(lock)
}

enum Waited {
    Held,
    TimedOut,
    Interrupted(i32),
}

/// Stops the run holding the lock and takes it.
fn replace(
    want: &Wanted<'_>,
    file: &File,
    signals: &SignalPipe,
    observer: &mut dyn Observer,
    status: &str,
) -> Result<Waited, String> {
    let path = want.path;
    let mut waiting = Waiter { observer, status };
    let inode = file
        .metadata()
        .map_err(|e| format!("cannot stat lock file {}: {e}", path.display()))?
        .ino();
    // A holder that has just locked may not have written its pid yet.
    let looking_until = Instant::now() + HOLDER_GRACE;
    let holder = loop {
        if let Some(holder) = read_holder(path).filter(|h| holds_flock(h.pid, inode)) {
            break Some(holder);
        }
        if Instant::now() >= looking_until {
            break None;
        }
        match wait_for(file, path, Some(POLL), signals, &mut waiting)? {
            Waited::TimedOut => {}
            done => return Ok(done),
        }
    };
    let after_kill = want.lock_wait.unwrap_or(want.replace_wait);
    let Some(holder) = holder else {
        waiting.observer.on_event(&Event::NotReplaceable { path });
        return wait_for(file, path, Some(after_kill), signals, &mut waiting);
    };
    waiting
        .observer
        .on_event(&Event::Replacing { pid: holder.pid });
    let _ = kill(Pid::from_raw(holder.pid), Signal::SIGTERM);
    match wait_for(file, path, Some(want.grace), signals, &mut waiting)? {
        Waited::TimedOut => {}
        done => return Ok(done),
    }
    waiting.observer.on_event(&Event::ReplacedKilled);
    // The command's group first, while its cronbeat still lives and its pgid cannot have been reused;
    // that cronbeat then reaps it, releases the lock and reports its run, if given a moment.
    if let Some(group) = holder.group.filter(|g| *g > 1) {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        match wait_for(file, path, Some(REPORT_GRACE), signals, &mut waiting)? {
            Waited::TimedOut => {}
            done => return Ok(done),
        }
    }
    if holds_flock(holder.pid, inode) {
        let _ = kill(Pid::from_raw(holder.pid), Signal::SIGKILL);
    }
    wait_for(file, path, Some(after_kill), signals, &mut waiting)
}

/// Who hears about a wait, and what it waits for.
struct Waiter<'a, 'o> {
    observer: &'a mut (dyn Observer + 'o),
    status: &'a str,
}

/// Polls for the lock until it is ours, `limit` has passed, or a terminating signal arrives.
fn wait_for(
    file: &File,
    path: &Path,
    limit: Option<Duration>,
    signals: &SignalPipe,
    waiting: &mut Waiter<'_, '_>,
) -> Result<Waited, String> {
    let until = limit.map(|l| Instant::now() + l);
    loop {
        if try_flock(file, path)? {
            return Ok(Waited::Held);
        }
        let now = Instant::now();
        if until.is_some_and(|u| now >= u) {
            return Ok(Waited::TimedOut);
        }
        waiting.observer.on_event(&Event::Waiting {
            what: waiting.status,
        });
        let slice = until.map_or(POLL, |u| POLL.min(u - now));
        if let Some(sig) = signals.pause(slice) {
            return Ok(Waited::Interrupted(sig as i32));
        }
    }
}

fn try_flock(file: &File, path: &Path) -> Result<bool, String> {
    // SAFETY: flock on an fd we own; no memory is touched.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(format!("cannot lock {}: {err}", path.display()))
    }
}

struct Holder {
    pid: i32,
    group: Option<i32>,
}

fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(name))
            .find_map(|v| v.parse::<i32>().ok())
    };
    let pid = field("pid=").filter(|p| *p > 1 && *p != std::process::id() as i32)?;
    Some(Holder {
        pid,
        group: field("pgid="),
    })
}

/// True when `/proc/locks` shows `pid` holding an flock on the file with this inode.
fn holds_flock(pid: i32, inode: u64) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    holds_flock_in(&text, pid, inode)
}

/// `/proc/locks` lines: `1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF` (waiters have `->` after the number).
fn holds_flock_in(text: &str, pid: i32, inode: u64) -> bool {
    text.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields.get(4).and_then(|p| p.parse::<i32>().ok()) == Some(pid)
            && fields
                .get(5)
                .and_then(|dev| dev.rsplit(':').next())
                .and_then(|i| i.parse::<u64>().ok())
                == Some(inode)
    })
}

#[cfg(test)]
mod tests {
    use super::holds_flock_in;

    #[test]
    fn reads_proc_locks() {
        let text = "1: POSIX  ADVISORY  WRITE 77 00:2a:900 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 99 fd:01:5678 0 EOF\n";
        assert!(holds_flock_in(text, 1234, 5678));
        assert!(!holds_flock_in(text, 1234, 5679));
        assert!(!holds_flock_in(text, 99, 5678));
        assert!(!holds_flock_in(text, 77, 900));
    }
}
