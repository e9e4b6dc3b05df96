//! A cgroup of the run's own in one cgroup v1 hierarchy (memory, pids), made under cronbeat's own cgroup
//! there, for a limit the user asked for: the command moves itself in between fork and exec (it writes
//! its pid, `0`, to `cgroup.procs`), so everything it runs and allocates is inside, and every process it
//! forks is born inside. Made only for a limit: without one, a run costs no mkdir, rmdir or move (see the
//! README's "What a run cost" for the measurement).
//!
//! The directory is `cronbeat-<pid>-<run>`, removed once the run's processes are gone; one left by a
//! cronbeat that was killed is removed by the next run that finds it empty, as the v2 cgroup is.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

const PREFIX: &str = "cronbeat-";

pub struct Group {
    dir: PathBuf,
    /// The group's `cgroup.procs`, open for writing: the child writes itself into it.
    procs: File,
}

impl Group {
    /// The run's cgroup in the v1 hierarchy of `controller`, made now; why not, when it cannot be
    /// (`why_not_v2` says why cgroup v2 did not serve instead).
    pub fn create(controller: &str, run_id: &str, why_not_v2: &str) -> Result<Group, String> {
        let home = own_dir(controller).ok_or_else(|| {
            format!("no cgroup v1 hierarchy of the {controller} controller is mounted, and {why_not_v2}")
        })?;
        remove_stale(&home);
        let run: String = run_id.chars().take(8).collect();
        let dir = home.join(format!("{PREFIX}{}-{run}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| {
            format!(
                "cannot make a cgroup in {} ({e}): the {controller} controller is not delegated to cronbeat",
                home.display()
            )
        })?;
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("cgroup.procs"));
        match procs {
            Ok(procs) => Ok(Group { dir, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(format!("cannot open {}/cgroup.procs: {e}", dir.display()))
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The descriptor the child writes its pid to.
    pub fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// Writes `value` to the group's `file`.
    pub fn set(&self, file: &str, value: &str) -> Result<(), String> {
        std::fs::write(self.dir.join(file), value)
            .map_err(|e| format!("cannot write {value} to {}/{file}: {e}", self.dir.display()))
    }

    pub fn has(&self, file: &str) -> bool {
        self.dir.join(file).exists()
    }

    /// Whether a process is left in the group.
    fn populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|t| !t.trim().is_empty())
            .unwrap_or(false)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.populated() {
            // Something of the run outlived it: a later run removes the group once it is empty.
            return;
        }
        for _ in 0..20 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => return,
            }
        }
    }
}

/// cronbeat's own cgroup in the v1 hierarchy of `controller`: its path from /proc/self/cgroup under
/// the mount of that hierarchy, when the directory lists cronbeat (not so in a cgroup namespace whose
/// mount shows another part of the tree). Of the calling process: the tests find their own with it.
pub fn own_dir(controller: &str) -> Option<PathBuf> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        // id parent major:minor root mount-point options [optional fields] - type source super-options
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().position(|f| *f == "-")?;
        let (root, mount_point) = (*fields.get(3)?, *fields.get(4)?);
        let options = fields.get(dash + 3)?;
        if fields.get(dash + 1) != Some(&"cgroup")
            || !options.split(',').any(|o| o == controller)
            || mount_point.contains('\\')
        {
            return None;
        }
        let below = path.strip_prefix(root.trim_end_matches('/'))?;
        if !(below.is_empty() || below.starts_with('/')) {
            return None;
        }
        let dir = Path::new(mount_point).join(below.trim_start_matches('/'));
        dir.join("cgroup.procs").exists().then_some(dir)
    })
}

/// Removes the groups of runs whose cronbeat is gone, once they are empty.
fn remove_stale(home: &Path) {
    let Ok(entries) = std::fs::read_dir(home) else {
        return;
    };
    for entry in entries.flatten() {
        let owner = entry.file_name().to_str().and_then(|n| {
            n.strip_prefix(PREFIX)?
                .split('-')
                .next()?
                .parse::<i32>()
                .ok()
        });
        if let Some(pid) = owner {
            if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}
