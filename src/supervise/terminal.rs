//! Interactive use: when cronbeat runs in the foreground of a terminal, the command's process group
//! becomes the terminal's foreground group so it can read the terminal and gets Ctrl-C itself.

use std::os::fd::BorrowedFd;

use nix::sys::signal::{signal, SigHandler, Signal};
use nix::unistd::{getpgrp, isatty, tcgetpgrp, tcsetpgrp, Pid};

pub struct Foreground {
    restore_to: Option<Pid>,
}

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

impl Foreground {
    /// Hands the terminal to `group` if cronbeat itself holds it.
    pub fn hand_over(group: Pid) -> Foreground {
        let fd = stdin_fd();
        let ours = getpgrp();
        let holds = isatty(fd).unwrap_or(false) && tcgetpgrp(fd).ok() == Some(ours);
        if holds && tcsetpgrp(fd, group).is_ok() {
            // The command may have tried to read before it owned the terminal and been stopped.
            let _ = nix::sys::signal::killpg(group, Signal::SIGCONT);
            return Foreground {
                restore_to: Some(ours),
            };
        }
        Foreground { restore_to: None }
    }

    /// Whether `group`, handed the terminal, holds it still: then the keys that send signals (Ctrl-C,
    /// Ctrl-\) reach it and not cronbeat. The terminal keeps naming the group after its last member exits.
    pub fn held_by(&self, group: Pid) -> bool {
        self.restore_to.is_some() && tcgetpgrp(stdin_fd()).ok() == Some(group)
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if let Some(ours) = self.restore_to {
            // Taking the terminal back from the background raises SIGTTOU; ignore it for that one call.
            // SAFETY: swapping a disposition to SIG_IGN and back installs no handler code.
            unsafe {
                let old = signal(Signal::SIGTTOU, SigHandler::SigIgn);
                let _ = tcsetpgrp(stdin_fd(), ours);
                if let Ok(old) = old {
                    let _ = signal(Signal::SIGTTOU, old);
                }
            }
        }
    }
}
