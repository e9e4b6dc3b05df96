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

use std::fmt::Write as _;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::record::{self, START};

/// The records of one job.
pub const LOG: &str = "runs.jsonl";
/// The output tails of its failed runs.
pub const TAILS: &str = "tails";
/// How many failed runs' tails a job keeps (the newest; `last-output` needs only one).
pub const TAILS_KEPT: usize = 10;
/// Longest an append waits for a trim under way (which holds the file for a few milliseconds).
const APPEND_WAIT: Duration = Duration::from_secs(1);
/// A temporary file this old was left by a crash, not by a run writing it now.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The ledger under one state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(state_dir: &Path) -> Store {
        Store {
            root: state_dir.join("ledger"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of job `name`.
    pub fn job_dir(&self, name: &str) -> PathBuf {
        self.root.join(dir_name(name))
    }

    /// Every job directory that holds a ledger file, in no particular order; none when nothing was recorded.
    pub fn job_dirs(&self) -> io::Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.join(LOG).is_file() {
                dirs.push(path);
            }
        }
        Ok(dirs)
    }
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

fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(mode).create(dir)
}

/// Appends `line` (one whole record) to the job's file in `dir` with a single write, and returns the file's
/// size after it.
pub fn append(dir: &Path, line: &[u8]) -> io::Result<u64> {
    create_dir(dir, 0o755)?;
    let path = dir.join(LOG);
    for _ in 0..8 {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(&path)?;
        if !lock_within(&file, libc::LOCK_SH, APPEND_WAIT)? {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another run kept the ledger file locked",
            ));
        }
        // A trim replaced the file between the open and the lock: this descriptor names the old one.
        if !names(&file, &path)? {
            continue;
        }
        write_once(&file, line)?;
        return Ok(file.metadata()?.len());
    }
    Err(io::Error::other("the ledger file kept being replaced"))
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

/// Whether `file` is the file at `path` now.
fn names(file: &File, path: &Path) -> io::Result<bool> {
    let open = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(open.ino() == now.ino() && open.dev() == now.dev()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
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

/// Keeps the newest `keep` whole records of the job's file in `dir` (and drops pieces that are not whole
/// records), unless another run holds the file right now.
pub fn trim(dir: &Path, keep: usize) -> io::Result<Trim> {
    let path = dir.join(LOG);
    let mut file = File::open(&path)?;
    if !try_lock(&file, libc::LOCK_EX)? || !names(&file, &path)? {
        return Ok(Trim::Busy);
    }
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    let mut pieces = 0;
    let whole: Vec<&[u8]> = record::pieces(&text)
        .inspect(|_| pieces += 1)
        .map(|(_, piece)| piece)
        .filter(|piece| {
            piece.starts_with(START)
                && serde_json::from_slice::<serde::de::IgnoredAny>(piece).is_ok()
        })
        .collect();
    if whole.len() <= keep && pieces == whole.len() {
        return Ok(Trim::Done(whole.len()));
    }
    let kept = &whole[whole.len().saturating_sub(keep)..];
    let temp = tempfile::Builder::new().prefix(".runs.").tempfile_in(dir)?;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))?;
    let mut out = Vec::with_capacity(text.len());
    for piece in kept {
        out.extend_from_slice(piece);
        out.push(b'\n');
    }
    temp.as_file().write_all(&out)?;
    // The rename must not reach the disk before the data does: a crash would leave an empty ledger.
    temp.as_file().sync_data()?;
    temp.persist(&path).map_err(|e| e.error)?;
    remove_stale_temps(dir, ".runs.");
    Ok(Trim::Done(kept.len()))
}

/// Removes the temporary files named `prefix…` in `dir` that a crash left (older than an hour: a run
/// writing one now is not disturbed).
fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Everything in the job's file, or nothing when there is none.
pub fn read_log(dir: &Path) -> io::Result<Vec<u8>> {
    match fs::read(dir.join(LOG)) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The last `window` bytes of the job's file, and whether that is the whole of it.
pub fn read_log_end(dir: &Path, window: u64) -> io::Result<(Vec<u8>, bool)> {
    use std::io::{Seek, SeekFrom};
    let mut file = match File::open(dir.join(LOG)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), true)),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let from = size.saturating_sub(window);
    file.seek(SeekFrom::Start(from))?;
    let mut text = Vec::with_capacity((size - from) as usize);
    file.read_to_end(&mut text)?;
    Ok((text, from == 0))
}

/// The name of the tail file of a run that started at `started` (milliseconds since the epoch first, so
/// that names sort oldest first).
pub fn tail_name(started: SystemTime, run_id: &str) -> String {
    let ms = started
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{TAILS}/{ms:013}-{run_id}")
}

/// Writes a tail whole or not at all (temporary file, then rename), readable by the owner only: the output
/// of a job is nobody else's business.
pub fn write_tail(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir);
    create_dir(dir, 0o755)?;
    create_dir(parent, 0o700)?;
    let temp = tempfile::Builder::new()
        .prefix(".tail.")
        .tempfile_in(parent)?;
    // Through the file itself: tempfile's own writer names the temporary file in its errors.
    temp.as_file().write_all(bytes)?;
    temp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// Keeps the newest `keep` tails of the job in `dir`, and drops temporary files a crash left.
pub fn prune_tails(dir: &Path, keep: usize) -> io::Result<()> {
    let tails = dir.join(TAILS);
    remove_stale_temps(&tails, ".");
    let mut names = Vec::new();
    for entry in fs::read_dir(&tails)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    if names.len() <= keep {
        return Ok(());
    }
    names.sort();
    for name in &names[..names.len() - keep] {
        // Another run pruning at the same moment may have removed it already.
        match fs::remove_file(tails.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_trim_keeps_the_newest_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let line = |i: usize| format!("{{\"v\":1,\"i\":{i}}}\n");
        for i in 0..10 {
            append(dir.path(), line(i).as_bytes()).unwrap();
        }
        append(dir.path(), b"{\"v\":1,\"cut").unwrap();
        append(dir.path(), line(10).as_bytes()).unwrap();
        assert_eq!(trim(dir.path(), 3).unwrap(), Trim::Done(3));
        let text = String::from_utf8(read_log(dir.path()).unwrap()).unwrap();
        assert_eq!(text, format!("{}{}{}", line(8), line(9), line(10)));
        assert_eq!(trim(dir.path(), 3).unwrap(), Trim::Done(3));
        // An appender holds the file: the trim waits for another day.
        let held = File::open(dir.path().join(LOG)).unwrap();
        assert!(try_lock(&held, libc::LOCK_SH).unwrap());
        append(dir.path(), line(11).as_bytes()).unwrap();
        assert_eq!(trim(dir.path(), 1).unwrap(), Trim::Busy);
        drop(held);
        // A crash in an earlier trim left its temporary file: it goes once it is an hour old.
        let crashed = dir.path().join(".runs.crashed");
        let fresh = dir.path().join(".runs.fresh");
        fs::write(&crashed, b"x").unwrap();
        fs::write(&fresh, b"x").unwrap();
        File::options()
            .write(true)
            .open(&crashed)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_TEMP)
            .unwrap();
        assert_eq!(trim(dir.path(), 1).unwrap(), Trim::Done(1));
        assert!(!crashed.exists() && fresh.exists());
        fs::remove_file(&fresh).unwrap();
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "a temp file was left"
        );
    }

    #[test]
    fn an_append_after_a_trim_goes_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), b"{\"v\":1,\"i\":0}\n").unwrap();
        let stale = OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG))
            .unwrap();
        append(dir.path(), b"{\"v\":1,\"i\":1}\n").unwrap();
        trim(dir.path(), 1).unwrap();
        assert!(!names(&stale, &dir.path().join(LOG)).unwrap());
        append(dir.path(), b"{\"v\":1,\"i\":2}\n").unwrap();
        let text = String::from_utf8(read_log(dir.path()).unwrap()).unwrap();
        assert_eq!(text, "{\"v\":1,\"i\":1}\n{\"v\":1,\"i\":2}\n");
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
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..5u64 {
            let name = tail_name(t0 + Duration::from_secs(i), &format!("r{i}"));
            write_tail(dir.path(), &name, format!("out {i}").as_bytes()).unwrap();
        }
        prune_tails(dir.path(), 2).unwrap();
        let mut left: Vec<String> = fs::read_dir(dir.path().join(TAILS))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["0001000003000-r3", "0001000004000-r4"]);
    }
}
