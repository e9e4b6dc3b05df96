//! The command's output: passed through byte for byte, a bounded tail kept for the report,
//! or held back in a spool with `--quiet`.

mod cut;
mod hygiene;
mod pump;
mod spool;
mod tail;

pub use cut::{after_marker, cut_marker, last_line, split_cut_marker};
pub use hygiene::{strip_ansi, Hygiene};
pub use pump::{Capture, Pump};
pub use spool::Spool;
pub use tail::Tail;

use std::io;
use std::os::fd::AsFd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stream {
    Stdout = 1,
    Stderr = 2,
}

impl Stream {
    pub fn fd(self) -> i32 {
        self as i32
    }
}

/// Whether cronbeat's own stdout and stderr are one file, pipe, socket or terminal (`>log 2>&1`, cron's
/// mail pipe, journald's stream). Then the command gets one pipe for both: with two, the order in which it
/// wrote to them is lost between the pipes, and nothing downstream could tell them apart anyway.
pub fn same_destination() -> bool {
    let id = |fd: std::os::fd::BorrowedFd<'_>| {
        nix::sys::stat::fstat(fd)
            .ok()
            .map(|st| (st.st_dev, st.st_ino))
    };
    match (id(io::stdout().as_fd()), id(io::stderr().as_fd())) {
        (Some(out), Some(err)) => out == err,
        _ => false,
    }
}

/// Writes to a raw fd with no user-space buffering, so a `tail -f` of the log sees output as it comes.
pub fn write_all_fd(fd: i32, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid slice for its length; fd is one of our standard streams.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n as usize..];
    }
    Ok(())
}
