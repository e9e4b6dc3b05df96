//! `--lock PATH`: one run at a time, by flock(2), and what to do when another run holds it
//! (`--overlap skip|wait|replace`). The lock lives as long as the returned `Lock` and every process of
//! the run, which inherit its descriptor (see `supervise::spawn`).
//!
//! Locking never costs a file its contents: the file is opened without truncating it and without
//! following a symlink (which could point anywhere), and it is written only when it is cronbeat's own:
//! created by this run, or empty, or holding nothing but cronbeat's record (and it is emptied again on
//! release). Any other file (a script locking itself, `flock "$0"`-style, or a data file) is locked as
//! it is, as flock(1) does, and never written.
//!
//! In its own file the holder writes `pid=<cronbeat pid>` once it has the lock and adds
//! `pgid=<command's process group>` once the command runs; for any other file a replacing run finds
//! the holding cronbeat through `/proc/locks` and its command as that cronbeat's child leading its own
//! group. A replacing run stops it: SIGTERM to that cronbeat (which relays it to its command with the
//! grace and reports the run as terminated), the grace, then SIGKILL to the command's group and to that
//! cronbeat. A pid is only signalled while `/proc/locks` shows it holding this very file, so a stale
//! file never gets a stranger killed.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::events::{Event, Observer};
use crate::kinds::Overlap;
use crate::supervise::SignalPipe;

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(50);
/// How long a replacing run gives a fresh holder to write its pid into the file.
const HOLDER_GRACE: Duration = Duration::from_millis(500);
/// How long a replaced cronbeat whose command was killed gets to release the lock before it is killed too.
const REPORT_GRACE: Duration = Duration::from_secs(1);
/// A record is two short lines; anything longer is not one.
const RECORD_MAX: u64 = 64;

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

pub enum Obtained {
    Held(Lock),
    /// Not run: the reason, for stderr and the monitors.
    Skipped(String),
    /// A terminating signal arrived while waiting.
    Interrupted(i32),
}

/// A held lock. Dropping it unlocks; `release` also empties cronbeat's own file so no stale pid is
/// left behind.
pub struct Lock {
    /// Holds the flock. The command inherits it, so the lock ends when the last process of the run
    /// closes it, not when cronbeat does.
    file: File,
    /// Where the record goes: only cronbeat's own file is ever written (see the module's comment).
    own: Option<File>,
}

impl Lock {
    fn record(&self, group: Option<u32>) {
        let Some(own) = &self.own else {
            return;
        };
        let mut text = format!("pid={}\n", std::process::id());
        if let Some(group) = group {
            text.push_str(&format!("pgid={group}\n"));
        }
        // Written over the old contents, then cut to length: a reader never sees an empty file.
        let _ = own.write_all_at(text.as_bytes(), 0);
        let _ = own.set_len(text.len() as u64);
    }

    /// The locked descriptor, for the command to inherit.
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    pub fn release(self) {
        if let Some(own) = &self.own {
            let _ = own.set_len(0);
        }
    }
}

impl Observer for Lock {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { pid: Some(pid), .. }
            | Event::AttemptStarted { pid: Some(pid), .. } => self.record(Some(*pid)),
            _ => {}
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
    let (file, created) = open(path)?;
    if try_flock(&file, path)? {
        return Ok(held(file, created, path));
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
            observer.on_event(&Event::LockWait {
                lock: &path.display().to_string(),
            });
            let mut waiting = Waiter {
                observer,
                status: &status,
            };
            wait_for(&file, path, want.lock_wait, signals, &mut waiting)?
        }
        Overlap::Replace => {
            let waited = replace(want, &file, signals, observer, &status)?;
            match waited {
                Waited::TimedOut => {
                    return Ok(Obtained::Skipped(format!(
                        "skipped: the lock {} was still held after stopping the previous run",
                        path.display()
                    )))
                }
                waited => waited,
            }
        }
    };
    Ok(match waited {
        Waited::Held => held(file, created, path),
        Waited::Interrupted(sig) => Obtained::Interrupted(sig),
        Waited::TimedOut => Obtained::Skipped(format!(
            "skipped: a previous run still held the lock {} after {}",
            path.display(),
            humantime::format_duration(want.lock_wait.unwrap_or_default())
        )),
        Waited::NotStopped(waited) => Obtained::Skipped(format!(
            "skipped: the lock {} is held by something that is not a running cronbeat, so nothing was \
             stopped, and it was still held after {}",
            path.display(),
            humantime::format_duration(waited)
        )),
    })
}

/// Opens the lock file without changing it: never truncated, and a symlink as the last component is
/// refused rather than followed, so `--lock` cannot be made to write to whatever the link points at.
/// A file that was there already is opened read-only (flock needs no more): a descriptor open for
/// writing would make exec of that file fail with ETXTBSY, as when a script locks itself. Says
/// whether this run created the file.
fn open(path: &Path) -> Result<(File, bool), String> {
    let cannot = |e: io::Error| format!("cannot open lock file {}: {e}", path.display());
    // Another run may remove the file between the two opens; then it is created again.
    for _ in 0..3 {
        // O_EXCL: with it a symlink, even a dangling one, is "already there", never created through.
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(file) => return Ok((file, true)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(cannot(e)),
        }
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
        {
            Ok(file) => return Ok((file, false)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e)
                if e.raw_os_error() == Some(libc::ELOOP)
                    && path.symlink_metadata().is_ok_and(|m| m.is_symlink()) =>
            {
                return Err(format!(
                    "cannot use lock file {}: it is a symbolic link, which cronbeat does not follow \
                     (give the path of the file itself)",
                    path.display()
                ))
            }
            Err(e) => return Err(cannot(e)),
        }
    }
    Err(format!(
        "cannot open lock file {}: it keeps being removed",
        path.display()
    ))
}

fn held(file: File, created: bool, path: &Path) -> Obtained {
    let own = if created {
        file.try_clone().ok()
    } else if is_own(&file) {
        writable(&file, path)
    } else {
        None
    };
    let lock = Lock { file, own };
    lock.record(None);
    Obtained::Held(lock)
}

/// A regular file that is empty or holds only cronbeat's record (left by an earlier run): one whose
/// contents nobody else cares about.
fn is_own(file: &File) -> bool {
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.len() <= RECORD_MAX)
        && read_small(file).is_some_and(|t| is_record(&t))
}

/// The locked file opened again for writing, if the path still leads to it and writing is allowed
/// (a read-only mount still locks, it only keeps no record).
fn writable(locked: &File, path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let (a, b) = (locked.metadata().ok()?, file.metadata().ok()?);
    (a.dev() == b.dev() && a.ino() == b.ino()).then_some(file)
}

fn read_small(file: &File) -> Option<Vec<u8>> {
    let mut buf = vec![0; RECORD_MAX as usize + 1];
    let n = file.read_at(&mut buf, 0).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Nothing, or only `pid=N` and `pgid=N` lines, as `Lock::record` writes them.
fn is_record(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    (text.is_empty() || text.ends_with('\n'))
        && text.len() as u64 <= RECORD_MAX
        && text.lines().all(|line| {
            line.strip_prefix("pid=")
                .or_else(|| line.strip_prefix("pgid="))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

enum Waited {
    Held,
    TimedOut,
    Interrupted(i32),
    /// `replace` found nothing it could stop, and the lock stayed held this long.
    NotStopped(Duration),
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
    let locked = file
        .metadata()
        .map_err(|e| format!("cannot stat lock file {}: {e}", path.display()))?;
    // A holder that has just locked may not have written its pid yet.
    let looking_until = Instant::now() + HOLDER_GRACE;
    let holder = loop {
        if let Some(holder) = find_holder(file, &locked) {
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
        return Ok(
            match wait_for(file, path, Some(after_kill), signals, &mut waiting)? {
                Waited::TimedOut => Waited::NotStopped(after_kill),
                done => done,
            },
        );
    };
    waiting.observer.on_event(&Event::Replacing { pid: holder });
    let _ = kill(Pid::from_raw(holder), Signal::SIGTERM);
    match wait_for(file, path, Some(want.grace), signals, &mut waiting)? {
        Waited::TimedOut => {}
        done => return Ok(done),
    }
    waiting.observer.on_event(&Event::ReplacedKilled);
    // The command's group first, while its cronbeat still lives and its pgid cannot have been reused;
    // that cronbeat then reaps it, releases the lock and reports its run, if given a moment.
    if let Some(group) = command_group(file, holder).filter(|g| *g > 1) {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        match wait_for(file, path, Some(REPORT_GRACE), signals, &mut waiting)? {
            Waited::TimedOut => {}
            done => return Ok(done),
        }
    }
    if holds_flock(holder, &locked) {
        let _ = kill(Pid::from_raw(holder), Signal::SIGKILL);
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

/// What a holder wrote in its own file.
struct Record {
    pid: i32,
    group: Option<i32>,
}

/// The record in the file, read through the locked descriptor (the path may name another file by now).
fn read_record(file: &File) -> Option<Record> {
    let bytes = read_small(file).filter(|b| is_record(b))?;
    let text = String::from_utf8(bytes).ok()?;
    let field = |name: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(name))
            .find_map(|v| v.parse::<i32>().ok())
    };
    let pid = field("pid=").filter(|p| *p > 1 && *p != std::process::id() as i32)?;
    Some(Record {
        pid,
        group: field("pgid="),
    })
}

/// The pid of the cronbeat holding the lock: the one its record names, if `/proc/locks` confirms it;
/// else, for a file cronbeat does not write to, a cronbeat that `/proc/locks` shows holding it.
fn find_holder(file: &File, locked: &Metadata) -> Option<i32> {
    if let Some(pid) = read_record(file)
        .map(|r| r.pid)
        .filter(|p| holds_flock(*p, locked))
    {
        return Some(pid);
    }
    let me = std::process::id() as i32;
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    flock_holders_in(&text, locked.ino())
        .into_iter()
        .find(|pid| *pid > 1 && *pid != me && has_open(*pid, locked) && is_cronbeat(*pid))
}

/// Whether `pid` runs under cronbeat's own name: another tool's flock (flock(1), a script) is never
/// signalled. By name, not by executable, so a cronbeat started before an upgrade still counts.
fn is_cronbeat(pid: i32) -> bool {
    let comm = |who: &str| std::fs::read_to_string(format!("/proc/{who}/comm")).ok();
    comm(&pid.to_string()).is_some_and(|name| Some(name) == comm("self"))
}

/// The process group of the holder's command: from its record, else the holder's child that leads its
/// own group in the holder's session, as cronbeat starts its command. (A leftover the holder adopted as
/// subreaper that called setsid has a session of its own, and is not taken for the command.)
fn command_group(file: &File, holder: i32) -> Option<i32> {
    if let Some(group) = read_record(file)
        .filter(|r| r.pid == holder)
        .and_then(|r| r.group)
    {
        return Some(group);
    }
    let (_, _, session) = proc_stat(holder)?;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            proc_stat(*pid)
                .is_some_and(|(ppid, group, sid)| ppid == holder && group == *pid && sid == session)
        })
}

/// (parent, process group, session) from `/proc/PID/stat`, read after the command name, which may hold
/// spaces and parentheses.
fn proc_stat(pid: i32) -> Option<(i32, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text[text.rfind(')')? + 1..].split_whitespace().skip(1);
    let mut next = || fields.next()?.parse::<i32>().ok();
    Some((next()?, next()?, next()?))
}

/// True when `/proc/locks` shows `pid` holding an flock on this file and `pid` has the file open. The
/// second half matters because the command inherits the lock: a cronbeat that was killed stays listed
/// as the holder while what is left of its run keeps the lock, and its pid may have been reused since.
fn holds_flock(pid: i32, locked: &Metadata) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    flock_holders_in(&text, locked.ino()).contains(&pid) && has_open(pid, locked)
}

/// Whether one of `pid`'s descriptors is open on this file.
fn has_open(pid: i32, locked: &Metadata) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path())
            .is_ok_and(|m| m.dev() == locked.dev() && m.ino() == locked.ino())
    })
}

/// The pids holding an flock on the file with this inode, from `/proc/locks` lines:
/// `1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF` (waiters have `->` after the number). A holder
/// that has exited while others still share its lock shows as pid 0.
fn flock_holders_in(text: &str, inode: u64) -> Vec<i32> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let on_file = fields.get(1) == Some(&"FLOCK")
                && fields
                    .get(5)
                    .and_then(|dev| dev.rsplit(':').next())
                    .and_then(|i| i.parse::<u64>().ok())
                    == Some(inode);
            on_file.then(|| fields.get(4)?.parse::<i32>().ok())?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{flock_holders_in, is_record};

    #[test]
    fn reads_proc_locks() {
        let text = "1: POSIX  ADVISORY  WRITE 77 00:2a:900 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 99 fd:01:5678 0 EOF\n";
        assert_eq!(flock_holders_in(text, 5678), [1234]);
        assert!(flock_holders_in(text, 5679).is_empty());
        assert!(flock_holders_in(text, 900).is_empty());
    }

    #[test]
    fn only_cronbeats_own_record_counts_as_its_file() {
        for own in ["", "pid=12\n", "pid=12\npgid=13\n"] {
            assert!(is_record(own.as_bytes()), "{own:?}");
        }
        for foreign in [
            "pid=12",
            "pid=\n",
            "pid=12\nx\n",
            "#!/bin/sh\n",
            "12\n",
            "\n",
            "pid=1111111111111111111111111111111111111111111111111111111111111111\n",
        ] {
            assert!(!is_record(foreign.as_bytes()), "{foreign:?}");
        }
    }
}
