//! The command's output: passed through byte for byte, a bounded tail kept for the report,
//! or held back in a spool with `--quiet`.

mod hygiene;
mod pump;
mod spool;
mod tail;

pub use hygiene::{strip_ansi, Hygiene};
pub use pump::{Capture, Pump};
pub use spool::Spool;
pub use tail::Tail;

use std::io;

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
