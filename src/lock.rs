//! `--lock PATH`: one run at a time, by flock(2). The lock lives as long as the returned file.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

pub enum Acquired {
    Held(File),
    Busy,
}

pub fn try_lock(path: &Path) -> Result<Acquired, String> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        // flock works on a read-only descriptor, so an existing lock file on a read-only mount still serves.
        .or_else(|e| File::open(path).map_err(|_| e))
        .map_err(|e| format!("cannot open lock file {}: {e}", path.display()))?;
    // SAFETY: flock on an fd we own; no memory is touched.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Acquired::Held(file));
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(Acquired::Busy)
    } else {
        Err(format!("cannot lock {}: {err}", path.display()))
    }
}
