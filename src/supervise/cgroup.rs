//! A cgroup (v2) of the run's own, where cronbeat may make one: the command is born in it, so does every
//! process it starts, and none of them can leave it (only a process that may write an ancestor's
//! `cgroup.procs`, root as a rule, can move itself out), so
//! `cgroup.kill` stops everything of the run at once, whatever it forked, wherever it re-parented.
//!
//! cronbeat makes it under its own cgroup when that is cgroup v2, writable, and not a systemd unit's
//! that was not delegated to it (`Delegate=`): a unit's cgroup belongs to systemd, which must not find
//! cgroups it did not make. `cgroup.kill` came with Linux 5.14. Anywhere else there is no cgroup and the
//! shell finds the run's processes in /proc instead: this is an optimisation, never a requirement.
//!
//! The directory is `cronbeat-<pid>-<run>`, removed once the run's processes are gone. One left by a
//! cronbeat that was killed is removed by the next run that finds it empty. For `--memory-max` or
//! `--tasks-max` cronbeat may first have moved itself into a leaf `cronbeat-<pid>-self` of its cgroup
//! (`cost::v2`): the run's cgroup is then that leaf's sibling, and the leaf, which cannot be removed while
//! cronbeat is in it, is swept the same way once cronbeat is gone.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::cost::v2::Home;

pub struct Cgroup {
    /// The run's cgroup, below cronbeat's own.
    dir: PathBuf,
}

/// The name prefix of a run's cgroup; the cronbeat's pid follows.
const PREFIX: &str = "cronbeat-";

impl Cgroup {
    /// The run's cgroup, made now in `home` (cronbeat's own cgroup, found by [`home`] when the run
    /// began and not barred), or `None` where it cannot be.
    pub fn create(home: &Path, run_id: &str) -> Option<Cgroup> {
        remove_stale(home);
        let dir = ours(home, &run_id.chars().take(8).collect::<String>());
        std::fs::create_dir(&dir).ok()?;
        let cgroup = Cgroup { dir };
        // Without `cgroup.kill` (before Linux 5.14) the cgroup would stop nothing; dropping removes it.
        cgroup.dir.join("cgroup.kill").exists().then_some(cgroup)
    }

    /// The run's cgroup directory, open for the command to be born in (`CLONE_INTO_CGROUP`); where it
    /// cannot be, `cgroup.procs` is opened in it for the command to move itself into between fork and
    /// exec.
    pub fn dir_file(&self) -> Option<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&self.dir)
            .ok()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the process `pid` is in the run's cgroup itself.
    pub fn holds(&self, pid: u32) -> bool {
        lists(&self.dir, pid)
    }

    /// Every process in the cgroup and below (the command may have made cgroups of its own), as pids of
    /// cronbeat's pid namespace. Processes that exited are not listed.
    pub fn procs(&self) -> Vec<i32> {
        // The usual end: nothing left anywhere below, which one read tells.
        if !self.populated() {
            return Vec::new();
        }
        let mut pids = Vec::new();
        let mut dirs = vec![self.dir.clone()];
        while let Some(dir) = dirs.pop() {
            pids.extend(pids_in(&dir));
            dirs.extend(subdirs(&dir));
        }
        pids
    }

    /// Whether any process lives in the cgroup or below.
    pub fn populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|events| events.lines().any(|l| l == "populated 1"))
            .unwrap_or(false)
    }

    /// SIGKILL to every process in the cgroup and below, in one go: one being forked meanwhile is
    /// killed too.
    pub fn kill(&self) {
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.populated() {
            // Something of the run outlived it (cronbeat stopped waiting for it): the cgroup stays
            // with it, and a later run removes it once it is empty.
            return;
        }
        // A cgroup whose last process just exited can be busy for a moment.
        for _ in 0..20 {
            match remove_tree(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => return,
            }
        }
    }
}

/// cronbeat's own cgroup v2 as found when the run begins (once cronbeat has moved itself into its leaf,
/// /proc/self/cgroup names the leaf); `None` where no cgroup2 mount shows it.
pub fn home() -> Option<Home> {
    let dir = own_dir()?;
    let barred = if !writable(&dir) {
        Some(format!(
            "cronbeat may not write to its cgroup v2 {}",
            dir.display()
        ))
    } else {
        undelegated_unit(&dir).map(|unit| {
            format!(
                "cronbeat's cgroup v2 {} belongs to the systemd unit {unit}, which does not delegate it (Delegate=yes)",
                dir.display()
            )
        })
    };
    Some(Home {
        leaf: ours(&dir, "self"),
        dir,
        barred,
    })
}

/// The directory of a cgroup of cronbeat's in `home`: `cronbeat-<pid>-<what>`, the run's (`what` its
/// id's first 8 characters) or the leaf cronbeat moves itself into (`self`), which the sweep of
/// `remove_stale` removes alike once that cronbeat is gone.
pub fn ours(home: &Path, what: &str) -> PathBuf {
    home.join(format!("{PREFIX}{}-{what}", std::process::id()))
}

/// cronbeat's own cgroup v2 directory: its path from /proc/self/cgroup under the cgroup2 mount that
/// shows it (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid system).
fn own_dir() -> Option<PathBuf> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    // Where cgroup2 usually is, found without reading every mount of the system. The directory must
    // list cronbeat itself: in a cgroup namespace the path is relative to the namespace's root, and a
    // mount of the host's hierarchy would show another cgroup there.
    let usual = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .filter(|mount| is_cgroup2(Path::new(mount)))
        .map(|mount| Path::new(mount).join(path.trim_start_matches('/')))
        .find(|dir| lists(dir, std::process::id()));
    if usual.is_some() {
        return usual;
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        // id parent major:minor root mount-point options [optional fields] - type source super-options
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().position(|f| *f == "-")?;
        let (root, mount_point) = (*fields.get(3)?, *fields.get(4)?);
        if fields.get(dash + 1) != Some(&"cgroup2") || mount_point.contains('\\') {
            return None;
        }
        let below = path.strip_prefix(root.trim_end_matches('/'))?;
        if !(below.is_empty() || below.starts_with('/')) {
            return None;
        }
        Some(Path::new(mount_point).join(below.trim_start_matches('/')))
    })
}

/// Whether the cgroup `dir` itself (not below) holds the process `pid`.
fn lists(dir: &Path, pid: u32) -> bool {
    pids_in(dir).contains(&(pid as i32))
}

/// The processes in the cgroup `dir` itself (not below), as pids of cronbeat's pid namespace; none
/// when `cgroup.procs` cannot be read.
fn pids_in(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Whether a cgroup2 file system is mounted at `dir`.
fn is_cgroup2(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Whether cronbeat may make cgroups in `dir` and start processes in them, which takes write access to
/// `dir`'s `cgroup.procs` (a read-only mount, as in most containers, or another owner, says no).
fn writable(dir: &Path) -> bool {
    [dir.to_path_buf(), dir.join("cgroup.procs")]
        .iter()
        .all(|path| {
            let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
                return false;
            };
            // SAFETY: access(2) reads the NUL-terminated path, which outlives the call.
            unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
        })
}

/// Unit types whose cgroups systemd makes and owns.
const UNIT_SUFFIXES: [&str; 6] = [".service", ".scope", ".slice", ".socket", ".mount", ".swap"];

/// The systemd unit whose cgroup `dir` is (or is below: `DelegateSubgroup=`) when that unit was not
/// delegated to cronbeat: cgroups under `dir` are then systemd's, not cronbeat's to make. Outside
/// systemd's units (a container's own cgroup, a plain tree) they are cronbeat's. systemd marks a delegated
/// unit's cgroup with a `trusted.delegate` (system manager) or `user.delegate` (user manager) attribute.
fn undelegated_unit(dir: &Path) -> Option<String> {
    let unit = dir.ancestors().find(|d| {
        d.file_name().is_some_and(|n| {
            UNIT_SUFFIXES
                .iter()
                .any(|s| n.as_bytes().ends_with(s.as_bytes()))
        })
    })?;
    let name = unit.file_name()?.to_string_lossy().into_owned();
    let Ok(path) = CString::new(unit.as_os_str().as_bytes()) else {
        return Some(name);
    };
    let delegated = [c"trusted.delegate", c"user.delegate"]
        .iter()
        .any(|attribute| {
            // SAFETY: getxattr(2) with a null buffer of size 0 only reports the value's size; both
            // strings are NUL-terminated and outlive the call.
            unsafe {
                libc::getxattr(path.as_ptr(), attribute.as_ptr(), std::ptr::null_mut(), 0) >= 0
            }
        });
    (!delegated).then_some(name)
}

/// The cgroups directly below `dir`.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes a cgroup and the cgroups below it, deepest first. Only empty cgroups can be removed.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    // Most runs make no cgroups of their own: one rmdir then does.
    if std::fs::remove_dir(dir).is_ok() {
        return Ok(());
    }
    for sub in subdirs(dir) {
        remove_tree(&sub)?;
    }
    std::fs::remove_dir(dir)
}

/// Removes the cgroups of runs whose cronbeat is gone (killed before it could clean up) once they are
/// empty; one that still holds a process of its run stays. A pid reused since only delays this.
fn remove_stale(home: &Path) {
    for dir in subdirs(home) {
        let owner = dir.file_name().and_then(|n| {
            n.to_str()?
                .strip_prefix(PREFIX)?
                .split('-')
                .next()?
                .parse()
                .ok()
        });
        if let Some(pid) = owner {
            if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
                let _ = remove_tree(&dir);
            }
        }
    }
}
