//! Everything of the run, the command's process group and whatever left it (a daemon that called
//! setsid, a double fork): where cronbeat finds those processes, counts them and signals them all.
//!
//! In order of preference:
//! - a cgroup of the run's own (`cgroup.rs`), which nothing can leave;
//! - cronbeat's descendants in /proc: as PID 1 or as a child subreaper, every orphan of the run is
//!   re-parented to cronbeat, so the run's processes are exactly the processes below it, except the
//!   children cronbeat already had when it started (a shell's `x & exec cronbeat ...`), which are left
//!   alone with everything below them;
//! - as PID 1 of a pid namespace whose /proc is another namespace's, every other process of the
//!   namespace (`kill(-1)`): all descend from cronbeat, and die with it anyway;
//! - else only the command's process group.
//!
//! /proc is used only when it is this pid namespace's: a pid read in another's names another process.
//! A process found in /proc or in the cgroup is signalled through a pidfd opened before it is
//! checked again, so a pid that was freed and reused since it was read is never signalled.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpid, Pid};

use super::cgroup::Cgroup;
use super::machine::Left;
use super::reaper;
use super::spawn::{SpawnError, Spawned};

pub struct Scope {
    kind: Kind,
}

enum Kind {
    Cgroup(Cgroup),
    /// cronbeat's descendants in /proc, without the children it had before the run.
    Descendants {
        before: Vec<Process>,
    },
    /// PID 1 of a namespace whose /proc is not its own: the whole namespace.
    Namespace,
    /// Only the command's process group.
    Group,
}

impl Scope {
    /// Chooses how the run's processes will be found; call before the command starts. `home` is
    /// where the run's cgroup v2 may be made.
    pub fn new(run_id: &str, home: Option<&std::path::Path>) -> Scope {
        let kind = match home.and_then(|home| Cgroup::create(home, run_id)) {
            Some(cgroup) => Kind::Cgroup(cgroup),
            None => without_cgroup(),
        };
        Scope { kind }
    }

    /// Runs `spawn`, which starts the command, giving it the run's cgroup to start it in if there is
    /// one. If the command did not land in it, the cgroup is given up for /proc.
    ///
    /// Limits for the run's cgroup v2 are written there first; without that cgroup, or when they cannot
    /// be written, the command is not started.
    pub fn spawn(
        &mut self,
        limits: &crate::cost::Prepared,
        spawn: impl FnOnce(Option<RawFd>) -> Result<Spawned, SpawnError>,
    ) -> Result<Spawned, SpawnError> {
        if limits.needs_v2() {
            let applied = match &self.kind {
                Kind::Cgroup(cgroup) => limits.apply_v2(cgroup.dir()),
                _ => Err(
                    "the run's cgroup v2 could not be made; the run was not started".to_string(),
                ),
            };
            if let Err(reason) = applied {
                return Err(SpawnError {
                    code: crate::exit::USAGE,
                    reason,
                });
            }
        }
        let Kind::Cgroup(cgroup) = &self.kind else {
            return spawn(None);
        };
        // Found before the command starts, in case the cgroup must be given up after.
        let fallback = without_cgroup();
        let Some(dir) = cgroup.dir_file() else {
            if limits.needs_v2() {
                return Err(SpawnError {
                    code: crate::exit::USAGE,
                    reason: "the run's cgroup v2 cannot be opened; the run was not started".into(),
                });
            }
            self.kind = fallback;
            return spawn(None);
        };
        let spawned = spawn(Some(dir.as_raw_fd()));
        if let Ok(command) = &spawned {
            if !command.born_in_cgroup && !cgroup.holds(command.pid) {
                if limits.needs_v2() {
                    // Outside the cgroup the limits are not the command's: it must not run on.
                    let pid = Pid::from_raw(command.pid as i32);
                    let _ = kill(pid, Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(pid, None);
                    return Err(SpawnError {
                        code: crate::exit::USAGE,
                        reason: "the command is not in the run's cgroup v2, which holds its limits; the run was not started".into(),
                    });
                }
                self.kind = fallback;
            }
        }
        spawned
    }

    /// What the run's cgroup v2 counted, where it has one.
    pub fn reading(&self) -> crate::cost::Reading {
        match &self.kind {
            Kind::Cgroup(cgroup) => crate::cost::tree::read_v2(cgroup.dir()),
            _ => crate::cost::Reading::default(),
        }
    }

    /// What of the run is alive besides the command: run after the command was reaped.
    pub fn census(&self, group: Pid) -> Left {
        let count = |n: usize| {
            if n == 0 {
                Left::Nothing
            } else {
                Left::Counted(n)
            }
        };
        match &self.kind {
            Kind::Cgroup(cgroup) => count(cgroup.procs().len()),
            Kind::Descendants { before } => count(descendants(before).len()),
            Kind::Namespace | Kind::Group if self.alive(group) => Left::Uncounted,
            Kind::Namespace | Kind::Group => Left::Nothing,
        }
    }

    /// Whether anything of the run is alive.
    pub fn alive(&self, group: Pid) -> bool {
        match &self.kind {
            Kind::Cgroup(cgroup) => cgroup.populated(),
            Kind::Descendants { before } => !descendants(before).is_empty(),
            // As PID 1, kill(-1) reaches every other process of the namespace.
            Kind::Namespace => kill(Pid::from_raw(-1), None).is_ok(),
            Kind::Group => reaper::group_alive(group),
        }
    }

    /// The processes of the run still alive, as `pid 123 (name)`; empty where they cannot be listed.
    pub fn remaining(&self) -> Vec<String> {
        let pids = match &self.kind {
            Kind::Cgroup(cgroup) => cgroup.procs(),
            Kind::Descendants { before } => descendants(before).iter().map(|p| p.pid).collect(),
            Kind::Namespace | Kind::Group => Vec::new(),
        };
        pids.into_iter()
            .map(
                |pid| match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                    Ok(name) => format!("pid {pid} ({})", name.trim_end()),
                    Err(_) => format!("pid {pid}"),
                },
            )
            .collect()
    }

    /// Sends `sig` to every process of the run, once each. The command's group is signalled as a group
    /// only when there is no list of the run's processes: see `reaper::signal_group` for why its pgid
    /// is safe to use then, and not in general once the command is reaped.
    pub fn signal(&self, group: Pid, sig: Signal) {
        match &self.kind {
            Kind::Cgroup(cgroup) if sig == Signal::SIGKILL => cgroup.kill(),
            Kind::Cgroup(cgroup) => {
                // Pinned first, then kept only if still in the cgroup: the pid is still theirs.
                let pinned: Vec<(i32, Pinned)> = cgroup
                    .procs()
                    .into_iter()
                    .filter_map(|pid| Some((pid, Pinned::new(pid)?)))
                    .collect();
                let still = cgroup.procs();
                for (pid, process) in pinned {
                    if still.contains(&pid) {
                        process.signal(sig);
                    }
                }
            }
            Kind::Descendants { before } => {
                for found in descendants(before) {
                    let Some(process) = Pinned::new(found.pid) else {
                        continue;
                    };
                    if stat(found.pid).is_some_and(|now| now.start == found.start) {
                        process.signal(sig);
                    }
                }
            }
            Kind::Namespace => {
                // Every process of the namespace but cronbeat.
                let _ = kill(Pid::from_raw(-1), sig);
            }
            Kind::Group => reaper::signal_group(group, sig),
        }
    }
}

fn without_cgroup() -> Kind {
    if proc_is_ours() {
        Kind::Descendants { before: children() }
    } else if getpid().as_raw() == 1 {
        Kind::Namespace
    } else {
        Kind::Group
    }
}

/// Whether /proc shows this pid namespace: /proc/self then names cronbeat by its own pid. Not so
/// after `unshare --pid --fork` without mounting a new /proc.
fn proc_is_ours() -> bool {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|link| link.to_str()?.parse::<i32>().ok())
        == Some(getpid().as_raw())
}

/// A process as /proc/PID/stat shows it. The start time tells a process from a later one with the
/// same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Process {
    pid: i32,
    ppid: i32,
    state: char,
    /// Clock ticks after boot.
    start: u64,
}

fn stat(pid: i32) -> Option<Process> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may contain anything: the fields follow the last `)`.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(Process {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn all_processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter_map(stat)
        .collect()
}

/// The children cronbeat has now, before the run: those of the program that exec'd it.
fn children() -> Vec<Process> {
    if !reaper::has_children() {
        return Vec::new();
    }
    let me = getpid().as_raw();
    // Children a program had when it exec'd belong to its one remaining thread, the main one.
    match std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")) {
        Ok(list) => list
            .split_whitespace()
            .filter_map(|pid| stat(pid.parse().ok()?))
            .collect(),
        // A kernel without CONFIG_PROC_CHILDREN.
        Err(_) => all_processes()
            .into_iter()
            .filter(|p| p.ppid == me)
            .collect(),
    }
}

/// The live processes below cronbeat that are the run's and that it may signal, without `before` and
/// what is below them. Zombies are not counted: they are dead, and cronbeat or their parent reaps them.
fn descendants(before: &[Process]) -> Vec<Process> {
    // An orphan is re-parented to cronbeat, so without children cronbeat has no descendants at all.
    if !reaper::has_children() {
        return Vec::new();
    }
    let all = all_processes();
    let mut below: HashMap<i32, Vec<&Process>> = HashMap::new();
    for process in &all {
        below.entry(process.ppid).or_default().push(process);
    }
    let mut found = Vec::new();
    let mut next = vec![getpid().as_raw()];
    while let Some(parent) = next.pop() {
        for child in below.get(&parent).into_iter().flatten() {
            let started_before = || {
                before
                    .iter()
                    .any(|b| (b.pid, b.start) == (child.pid, child.start))
            };
            if parent == getpid().as_raw() && started_before() {
                continue;
            }
            next.push(child.pid);
            // Another user's process (a set-user-ID program) is not cronbeat's to stop or wait for.
            let ours = kill(Pid::from_raw(child.pid), None) != Err(Errno::EPERM);
            if !matches!(child.state, 'Z' | 'X') && ours {
                found.push(**child);
            }
        }
    }
    found
}

/// A process held by a pidfd: signals reach that process or none, even once its pid is reused.
enum Pinned {
    Fd(OwnedFd),
    /// No pidfd to be had: the bare pid, which the caller has just checked is still the process's.
    Pid(i32),
}

impl Pinned {
    /// `None` when the process is gone. Any other failure falls back to the bare pid: a kernel
    /// before Linux 5.3 answers ENOSYS, and a seccomp filter may answer anything (Docker's default
    /// profile before 20.10 and systemd's `SystemCallFilter=` say EPERM). Skipping the process instead
    /// would leave it unsignalled while it still counts as alive, and the clean-up would wait forever.
    fn new(pid: i32) -> Option<Pinned> {
        // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            // SAFETY: the descriptor was just opened and nothing else owns it.
            return Some(Pinned::Fd(unsafe { OwnedFd::from_raw_fd(fd as i32) }));
        }
        (Errno::last() != Errno::ESRCH).then_some(Pinned::Pid(pid))
    }

    fn signal(&self, sig: Signal) {
        match self {
            Pinned::Fd(fd) => {
                // SAFETY: pidfd_send_signal(2) on a pidfd this value owns, with no siginfo and no flags.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd.as_raw_fd(),
                        sig as libc::c_int,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    );
                }
            }
            Pinned::Pid(pid) => {
                let _ = kill(Pid::from_raw(*pid), sig);
            }
        }
    }
}
