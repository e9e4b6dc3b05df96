//! The ledger's files. Under the state directory, one directory per job:
//!
//! ```text
//! STATE_DIR/ledger/<job>/runs.jsonl          one record per line, appended
//! STATE_DIR/ledger/<job>/tails/<ms>-<run id>  the output tail of a failed run, one file each
//! ```
//!
//! A run appends its record with one write(2) on a descriptor opened with O_APPEND, while holding a shared
//! flock on the file: appends of overlapping runs never interleave (the kernel serialises writes to one
//! file) and need no turn-taking among themselves. Trimming the file to `--keep-runs` rewrites it into a
//! temporary file and renames that over it, under an exclusive flock taken without waiting: when any run is
//! appending, the trim is simply left to a later run. An appender that opened the file just before it was
//! replaced notices (its descriptor no longer names the file at that path) and opens it again, so no
//! record goes into a file nobody will read.
//!
//! Every folder and file is opened relative to the folder that holds it, never through a link, and a run
//! writes only where the rules of [`strict`](super::strict) allow (see [`nofollow`](super::nofollow)).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::nofollow::{Dir, Open};
use super::record::START;
use super::{scan, strict};

/// The records of one job.
pub const LOG: &str = "runs.jsonl";
/// The output tails of its failed runs.
pub const TAILS: &str = "tails";
/// The folder of the jobs, in the state directory.
const LEDGER: &str = "ledger";
/// How many failed runs' tails a job keeps (the newest; `last-output` needs only one).
pub const TAILS_KEPT: usize = 10;
/// Longest an append waits for a trim under way (which holds the file for a few milliseconds).
const APPEND_WAIT: Duration = Duration::from_secs(1);
/// A temporary file this old was left by a crash, not by a run writing it now.
const STALE_TEMP: Duration = Duration::from_secs(3600);
/// The temporary files of a trim, in a job's folder.
const RUNS_TEMP: &str = ".runs.";
/// The temporary files of a tail being written, in `tails`.
const TAIL_TEMP: &str = ".tail.";

/// The ledger under one state directory.
#[derive(Debug, Clone)]
pub struct Store {
    state_dir: PathBuf,
    root: PathBuf,
}

impl Store {
    pub fn new(state_dir: &Path) -> Store {
        Store {
            state_dir: state_dir.to_path_buf(),
            root: state_dir.join(LEDGER),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of job `name`.
    pub fn job_dir(&self, name: &str) -> PathBuf {
        self.root.join(dir_name(name))
    }

    /// The folder of job `name`, made when missing, for a run to record itself in: refused (an error that
    /// says why) unless every folder from `/` to it passes the rules of `strict`.
    pub fn job_for_writing(&self, name: &str) -> io::Result<Job> {
        let state = strict::open_state_dir(&self.state_dir)?;
        let ledger = state.child(LEDGER, Some(0o755))?.expect("made");
        let dir = ledger.child(&dir_name(name), Some(0o755))?.expect("made");
        // What a run will write is checked now, so that a refusal is one warning and nothing written (not
        // an output tail without its record). Each is checked again when it is opened.
        if let Some(file) = dir.file(LOG, Open::Read)? {
            strict::check_file(&nix::sys::stat::fstat(&file)?, &dir.path().join(LOG))?;
        }
        dir.child(TAILS, None)?;
        Ok(Job { dir })
    }

    /// The folder of job `name`, to read; `None` when nothing was recorded.
    pub fn job(&self, name: &str) -> io::Result<Option<Job>> {
        let Some(ledger) = self.ledger()? else {
            return Ok(None);
        };
        Ok(ledger.child(&dir_name(name), None)?.map(|dir| Job { dir }))
    }

    fn ledger(&self) -> io::Result<Option<Dir>> {
        match Dir::open_for_reading(&self.state_dir)? {
            Some(state) => state.child(LEDGER, None),
            None => Ok(None),
        }
    }

    /// Every job folder that holds a ledger file, in no particular order; none when nothing was recorded.
    /// What the ledger did not make (a link, a file) is passed over.
    pub fn jobs(&self) -> io::Result<Vec<Job>> {
        let Some(ledger) = self.ledger()? else {
            return Ok(Vec::new());
        };
        let mut jobs = Vec::new();
        for name in ledger.names()? {
            if let Ok(Some(dir)) = ledger.child(&name, None) {
                if dir.has_file(LOG) {
                    jobs.push(Job { dir });
                }
            }
        }
        Ok(jobs)
    }
}

/// One job's folder in the ledger, open.
#[derive(Debug)]
pub struct Job {
    dir: Dir,
}

/// A job's name as a directory name: letters, digits, `-`, `_` and `.` (not first) as they are, every other
/// byte as `%XX`; a very long name is cut and given a hash of the whole, so that it stays a valid file name.
pub fn dir_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() > 200 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.truncate(180);
        let _ = write!(out, "~{hash:016x}");
    }
    out
}

impl Job {
    /// Where the folder is, for messages.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The job's ledger file, to read; `None` when there is none.
    pub fn log(&self) -> io::Result<Option<File>> {
        self.dir.file(LOG, Open::Read)
    }

    /// Appends `line` (one whole record) to the job's file with a single write, and returns the file's
    /// size after it.
    pub fn append(&self, line: &[u8]) -> io::Result<u64> {
        for _ in 0..8 {
            let file = self.dir.file(LOG, Open::Append)?.expect("created");
            if !lock_within(&file, libc::LOCK_SH, APPEND_WAIT)? {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "another run kept the ledger file locked",
                ));
            }
            // A trim replaced the file between the open and the lock: this descriptor names the old one.
            if !self.names(&file)? {
                continue;
            }
            write_once(&file, line)?;
            return Ok(file.metadata()?.len());
        }
        Err(io::Error::other("the ledger file kept being replaced"))
    }

    /// Whether `file` is the job's ledger file now.
    fn names(&self, file: &File) -> io::Result<bool> {
        let open = nix::sys::stat::fstat(file)?;
        Ok(self
            .dir
            .stat(LOG)?
            .is_some_and(|now| open.st_ino == now.st_ino && open.st_dev == now.st_dev))
    }

    /// Keeps the newest `keep` whole records of the job's file (and drops pieces that are not whole
    /// records), unless another run holds the file right now. Read twice, a block at a time (once to
    /// count, once to copy), while the exclusive lock keeps every appender out.
    pub fn trim(&self, keep: usize) -> io::Result<Trim> {
        let file = self
            .dir
            .file(LOG, Open::Read)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        strict::check_file(&nix::sys::stat::fstat(&file)?, &self.dir.path().join(LOG))?;
        if !try_lock(&file, libc::LOCK_EX)? || !self.names(&file)? {
            return Ok(Trim::Busy);
        }
        let (mut pieces, mut whole) = (0, 0);
        scan::forward(&file, |piece| {
            pieces += 1;
            whole += usize::from(piece.bytes.is_some_and(is_whole));
            ControlFlow::Continue(())
        })?;
        if whole <= keep && pieces == whole {
            return Ok(Trim::Done(whole));
        }
        let (temp, out) = self.dir.create_temp(RUNS_TEMP, 0o644)?;
        let written = copy_newest(&file, out, whole.saturating_sub(keep))
            .and_then(|()| self.dir.rename(&temp, LOG));
        if let Err(e) = written {
            self.dir.remove(&temp);
            return Err(e);
        }
        remove_stale_temps(&self.dir, RUNS_TEMP);
        Ok(Trim::Done(whole.min(keep)))
    }

    /// Writes a failed run's tail whole or not at all (temporary file, then rename), readable by the owner
    /// only: the output of a job is nobody else's business.
    pub fn write_tail(&self, file_name: &str, bytes: &[u8]) -> io::Result<()> {
        let tails = self.dir.child(TAILS, Some(0o700))?.expect("made");
        let (temp, mut out) = tails.create_temp(TAIL_TEMP, 0o600)?;
        let written = out
            .write_all(bytes)
            .and_then(|()| tails.rename(&temp, file_name));
        if let Err(e) = written {
            tails.remove(&temp);
            return Err(e);
        }
        Ok(())
    }

    /// Keeps the newest `keep` tails of the job, and drops temporary files a crash left.
    pub fn prune_tails(&self, keep: usize) -> io::Result<()> {
        let Some(tails) = self.dir.child(TAILS, None)? else {
            return Ok(());
        };
        remove_stale_temps(&tails, ".");
        let mut names: Vec<String> = tails
            .names()?
            .into_iter()
            .filter(|name| !name.starts_with('.'))
            .collect();
        if names.len() <= keep {
            return Ok(());
        }
        names.sort();
        for name in &names[..names.len() - keep] {
            // Another run pruning at the same moment may have removed it already.
            match tails.unlink(name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The tail `file_name` (in `tails`), to read: never through a link, nor a file with a second name.
    pub fn tail(&self, file_name: &str) -> io::Result<Option<File>> {
        match self.dir.child(TAILS, None)? {
            Some(tails) => tails.file_with_one_name(file_name),
            None => Ok(None),
        }
    }
}

/// Whether a piece is a whole record, for the trim: it starts as one, and is one JSON value.
fn is_whole(piece: &[u8]) -> bool {
    piece.starts_with(START) && serde_json::from_slice::<serde::de::IgnoredAny>(piece).is_ok()
}

/// Copies the whole records of `file` after the first `skip` of them to `out`, flushed to the disk.
fn copy_newest(file: &File, out: File, skip: usize) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut seen = 0;
    let mut failed = None;
    scan::forward(file, |piece| {
        let Some(bytes) = piece.bytes.filter(|b| is_whole(b)) else {
            return ControlFlow::Continue(());
        };
        seen += 1;
        if seen <= skip {
            return ControlFlow::Continue(());
        }
        match out.write_all(bytes).and_then(|()| out.write_all(b"\n")) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let out = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    // The rename must not reach the disk before the data does: a crash would leave an empty ledger.
    out.sync_data()
}

/// One write(2): a record is never written in pieces that another run's record could come between.
fn write_once(mut file: &File, line: &[u8]) -> io::Result<()> {
    loop {
        match file.write(line) {
            Ok(n) if n == line.len() => return Ok(()),
            Ok(n) => {
                return Err(io::Error::other(format!(
                    "only {n} of {} bytes written (disk full?)",
                    line.len()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// flock `how` (LOCK_SH or LOCK_EX), polling without blocking until `within` has passed: a blocking flock
/// could not be given up on.
fn lock_within(file: &File, how: libc::c_int, within: Duration) -> io::Result<bool> {
    let until = Instant::now() + within;
    loop {
        if try_lock(file, how)? {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn try_lock(file: &File, how: libc::c_int) -> io::Result<bool> {
    // SAFETY: flock(2) on a descriptor this function's caller owns; no memory is touched.
    let rc = unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        Some(libc::EINTR) => Ok(false),
        _ => Err(e),
    }
}

/// Whether a file of `size` bytes, whose records are about `line_len` bytes each, is due for a trim to
/// `keep` records. The file is let grow by half of `keep` before it is trimmed, so a trim (reading and
/// rewriting the file) comes once every `keep / 2` runs, not every run.
pub fn trim_due(size: u64, line_len: usize, keep: usize) -> bool {
    let line_len = line_len.max(1) as u64;
    let estimate = (size + line_len / 2) / line_len;
    estimate > (keep + slack(keep)) as u64
}

/// How far past `keep` the file may grow before it is trimmed.
pub fn slack(keep: usize) -> usize {
    (keep / 2).max(1)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Trim {
    /// Another run holds the file (appending, or trimming it): left for later.
    Busy,
    /// The file now holds this many records.
    Done(usize),
}

/// Removes the temporary files named `prefix…` in `dir` that a crash left (older than an hour: a run
/// writing one now is not disturbed).
fn remove_stale_temps(dir: &Dir, prefix: &str) {
    let Ok(names) = dir.names() else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for name in names.iter().filter(|n| n.starts_with(prefix)) {
        let stale =
            dir.stat(name).ok().flatten().is_some_and(|st| {
                now.saturating_sub(st.st_mtime.max(0) as u64) > STALE_TEMP.as_secs()
            });
        if stale {
            dir.remove(name);
        }
    }
}

/// The name of the tail file of a run that started at `started` (milliseconds since the epoch first, so
/// that names sort oldest first), in `tails`.
pub fn tail_file(started: SystemTime, run_id: &str) -> String {
    let ms = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{ms:013}-{run_id}")
}

/// A tail as a record names it: relative to the job's folder.
pub fn tail_name(file: &str) -> String {
    format!("{TAILS}/{file}")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn job() -> (tempfile::TempDir, Job) {
        let state = tempfile::tempdir().unwrap();
        let job = Store::new(state.path()).job_for_writing("j").unwrap();
        (state, job)
    }

    fn text(job: &Job) -> String {
        let mut text = String::new();
        job.log()
            .unwrap()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn job_names_become_safe_directory_names() {
        assert_eq!(dir_name("backup"), "backup");
        assert_eq!(dir_name("db.backup-1_x"), "db.backup-1_x");
        assert_eq!(dir_name("../etc"), "%2E.%2Fetc");
        assert_eq!(dir_name("a b/é"), "a%20b%2F%C3%A9");
        let long = dir_name(&"x".repeat(300));
        assert_eq!(long.len(), 197);
        assert_ne!(long, dir_name(&"x".repeat(301)));
    }

    /// A trim when no run holds the file. Another test thread's child, forked while an append or trim
    /// here had the file open, keeps that descriptor's lock until it execs: a `Busy` is waited out.
    fn settled_trim(job: &Job, keep: usize) -> Trim {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match job.trim(keep).unwrap() {
                Trim::Busy if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                trim => return trim,
            }
        }
    }

    #[test]
    fn a_trim_keeps_the_newest_whole_records() {
        let (_state, job) = job();
        let dir = job.path().to_path_buf();
        let line = |i: usize| format!("{{\"v\":1,\"i\":{i}}}\n");
        for i in 0..10 {
            job.append(line(i).as_bytes()).unwrap();
        }
        job.append(b"{\"v\":1,\"cut").unwrap();
        job.append(line(10).as_bytes()).unwrap();
        assert_eq!(settled_trim(&job, 3), Trim::Done(3));
        assert_eq!(text(&job), format!("{}{}{}", line(8), line(9), line(10)));
        assert_eq!(settled_trim(&job, 3), Trim::Done(3));
        // An appender holds the file: the trim waits for another day.
        let held = File::open(dir.join(LOG)).unwrap();
        // A child another test thread forks while a trim holds the file keeps the trim's exclusive lock
        // until it execs: wait that moment out.
        assert!(
            lock_within(&held, libc::LOCK_SH, Duration::from_secs(5)).unwrap(),
            "the trim's lock outlived it"
        );
        job.append(line(11).as_bytes()).unwrap();
        assert_eq!(job.trim(1).unwrap(), Trim::Busy);
        drop(held);
        // A crash in an earlier trim left its temporary file: it goes once it is an hour old.
        let crashed = dir.join(".runs.crashed");
        let fresh = dir.join(".runs.fresh");
        std::fs::write(&crashed, b"x").unwrap();
        std::fs::write(&fresh, b"x").unwrap();
        File::options()
            .write(true)
            .open(&crashed)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_TEMP)
            .unwrap();
        assert_eq!(settled_trim(&job, 1), Trim::Done(1));
        assert!(!crashed.exists() && fresh.exists());
        std::fs::remove_file(&fresh).unwrap();
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "a temp file was left"
        );
    }

    #[test]
    fn an_append_after_a_trim_goes_to_the_new_file() {
        let (_state, job) = job();
        job.append(b"{\"v\":1,\"i\":0}\n").unwrap();
        let stale = File::options()
            .append(true)
            .open(job.path().join(LOG))
            .unwrap();
        job.append(b"{\"v\":1,\"i\":1}\n").unwrap();
        assert_eq!(settled_trim(&job, 1), Trim::Done(1));
        assert!(!job.names(&stale).unwrap());
        job.append(b"{\"v\":1,\"i\":2}\n").unwrap();
        assert_eq!(text(&job), "{\"v\":1,\"i\":1}\n{\"v\":1,\"i\":2}\n");
    }

    #[test]
    fn trims_come_every_half_keep() {
        assert!(!trim_due(1500 * 100, 100, 1000));
        assert!(trim_due(1501 * 100, 100, 1000));
        assert!(trim_due(3 * 100, 100, 1));
        assert!(!trim_due(2 * 100, 100, 1));
    }

    #[test]
    fn tails_are_pruned_oldest_first() {
        let (_state, job) = job();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..5u64 {
            let name = tail_file(t0 + Duration::from_secs(i), &format!("r{i}"));
            job.write_tail(&name, format!("out {i}").as_bytes())
                .unwrap();
        }
        job.prune_tails(2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(job.path().join(TAILS))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["0001000003000-r3", "0001000004000-r4"]);
        let mut kept = String::new();
        job.tail("0001000004000-r4")
            .unwrap()
            .unwrap()
            .read_to_string(&mut kept)
            .unwrap();
        assert_eq!(kept, "out 4");
    }

    #[test]
    fn links_and_second_names_are_refused() {
        let (state, job) = job();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, b"untouched").unwrap();
        std::os::unix::fs::symlink(&target, job.path().join(LOG)).unwrap();
        let e = job.append(b"{\"v\":1}\n").unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(job.log().is_err());
        std::fs::remove_file(job.path().join(LOG)).unwrap();
        std::fs::hard_link(&target, job.path().join(LOG)).unwrap();
        let e = job.append(b"{\"v\":1}\n").unwrap_err();
        assert!(e.to_string().contains("has 2 hard links"), "{e}");
        std::os::unix::fs::symlink(outside.path(), job.path().join(TAILS)).unwrap();
        assert!(job.write_tail("t", b"x").is_err());
        assert!(job.tail("target").is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        // The job's folder itself a link: neither written nor read through.
        let other = Store::new(state.path());
        std::os::unix::fs::symlink(outside.path(), state.path().join("ledger/k")).unwrap();
        assert!(other.job_for_writing("k").is_err());
        assert!(other.job("k").is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }
}
