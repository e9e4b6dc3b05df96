//! Reaping: cronbeat owns every `waitpid(-1)`, so orphans re-parented to it (as PID 1 or as a
//! child subreaper) never linger as zombies, and the main child's status is picked out by pid.

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Outside PID 1, become a child subreaper so the job's orphans are re-parented to cronbeat.
pub fn become_subreaper() {
    if std::process::id() != 1 {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers and touches no memory.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    }
}

/// Reaps every child that has exited; returns the main child's status if it was among them.
pub fn reap(main: Pid) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(status) => {
                if status.pid() == Some(main)
                    && matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..))
                {
                    found = Some(status);
                }
            }
        }
    }
    found
}

/// Whether cronbeat has any child, exited or not; nothing is reaped.
pub fn has_children() -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    waitid(Id::All, flags) != Err(Errno::ECHILD)
}

/// True while any process is left in the group.
pub fn group_alive(group: Pid) -> bool {
    !matches!(killpg(group, None), Err(Errno::ESRCH))
}

/// Signals the whole group; a group that is already gone is not an error.
///
/// A pgid is a pid, and pids are reused (`pid_max` may be 32768), so this must only be called while the
/// number surely still names the command's group: while the command, its leader, is not reaped, or
/// while a member lives. A member keeps the pgid from reuse until it is reaped, by its parent, another
/// member (so the group lives on), or by cronbeat, whose child every orphaned member becomes (it is
/// PID 1 or the subreaper), in `reap` only: so after `reap`, a `group_alive` that says yes holds until
/// the next `reap`. Being the subreaper is what makes this hold once the command is gone.
pub fn signal_group(group: Pid, sig: Signal) {
    let _ = killpg(group, sig);
}
