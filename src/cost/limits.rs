//! `--memory-max` and `--tasks-max`: limits of the run's own cgroup, on cgroup v2 where cronbeat's cgroup
//! has the controller (handed down to the run's cgroup as `v2` says), else on the controller's v1
//! hierarchy. Where neither can be used the run is refused before anything starts: never run without a
//! limit the user asked for.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use super::tree::{self, Reading};
use super::v1::Group;
use super::v2::{self, Home, Offer};

/// The limits asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes.
    pub memory_max: Option<u64>,
    pub tasks_max: Option<u64>,
}

/// The run's cgroups made ready: where its cgroup v2 is made, the v1 groups made and limited, and what
/// is to be written to the run's cgroup v2 once it exists.
#[derive(Default)]
pub struct Prepared {
    pub limits: Limits,
    /// cronbeat's own cgroup v2, found when the run began, where cronbeat may make the run's.
    home: Option<PathBuf>,
    memory: Option<Group>,
    pids: Option<Group>,
    /// (file, value) for the run's cgroup v2.
    v2: Vec<(&'static str, String)>,
}

impl Prepared {
    /// Makes the run's cgroups ready for `limits` in `home`, cronbeat's own cgroup v2 (`None` where it
    /// has none); the line saying why not when a limit cannot be applied.
    pub fn new(limits: Limits, run_id: &str, home: Option<Home>) -> Result<Prepared, String> {
        Prepared::made(&v2::Kernel, limits, run_id, home, std::process::id())
    }

    /// `new` on the cgroup file system `fs`, for cronbeat as process `pid`.
    pub(super) fn made(
        fs: &dyn v2::Fs,
        limits: Limits,
        run_id: &str,
        home: Option<Home>,
        pid: u32,
    ) -> Result<Prepared, String> {
        let mut prepared = Prepared {
            limits,
            home: home.as_ref().and_then(Home::usable).map(Path::to_path_buf),
            ..Prepared::default()
        };
        // (flag, controller) to be handed down to the run's cgroup v2.
        let mut to_hand_down: Vec<(String, &str)> = Vec::new();
        if let Some(max) = limits.memory_max {
            let flag = format!("--memory-max {}", super::bytes(max));
            match v2::offer(fs, home.as_ref(), "memory") {
                offer @ (Offer::Enabled | Offer::Available) => {
                    if offer == Offer::Available {
                        to_hand_down.push((flag, "memory"));
                    }
                    prepared.v2.push(("memory.max", max.to_string()));
                    // Not dodged by swap.
                    prepared.v2.push(("memory.swap.max", "0".to_string()));
                }
                Offer::Barred(why) => return Err(refusal(&flag, &["memory"], &why)),
                Offer::Absent(why_not_v2) => {
                    let why = |e: String| refusal(&flag, &["memory"], &e);
                    let group = Group::create("memory", run_id, &why_not_v2).map_err(why)?;
                    group
                        .set("memory.limit_in_bytes", &max.to_string())
                        .map_err(why)?;
                    if group.has("memory.memsw.limit_in_bytes") {
                        // memory + swap: the same number, so swap adds nothing.
                        group
                            .set("memory.memsw.limit_in_bytes", &max.to_string())
                            .map_err(why)?;
                    }
                    // The OOM killer acts at the limit, rather than the run hanging there.
                    group.set("memory.oom_control", "0").map_err(why)?;
                    prepared.memory = Some(group);
                }
            }
        }
        if let Some(max) = limits.tasks_max {
            let flag = format!("--tasks-max {max}");
            match v2::offer(fs, home.as_ref(), "pids") {
                offer @ (Offer::Enabled | Offer::Available) => {
                    if offer == Offer::Available {
                        to_hand_down.push((flag, "pids"));
                    }
                    prepared.v2.push(("pids.max", max.to_string()));
                }
                Offer::Barred(why) => return Err(refusal(&flag, &["pids"], &why)),
                Offer::Absent(why_not_v2) => {
                    let why = |e: String| refusal(&flag, &["pids"], &e);
                    let group = Group::create("pids", run_id, &why_not_v2).map_err(why)?;
                    group.set("pids.max", &max.to_string()).map_err(why)?;
                    prepared.pids = Some(group);
                }
            }
        }
        if let (Some(home), false) = (home.as_ref(), to_hand_down.is_empty()) {
            let controllers: Vec<&str> = to_hand_down.iter().map(|(_, c)| *c).collect();
            v2::hand_down(fs, home, pid, &controllers).map_err(|e| {
                let flags: Vec<&str> = to_hand_down.iter().map(|(f, _)| f.as_str()).collect();
                refusal(&flags.join(", "), &controllers, &e)
            })?;
        }
        Ok(prepared)
    }

    /// Where the run's cgroup v2 is made, if cronbeat may make one.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The `cgroup.procs` of each v1 group, which the command writes itself into before exec.
    pub fn join_fds(&self) -> Vec<RawFd> {
        [&self.memory, &self.pids]
            .into_iter()
            .flatten()
            .map(Group::procs_fd)
            .collect()
    }

    /// Whether limits remain to be written to the run's cgroup v2.
    pub fn needs_v2(&self) -> bool {
        !self.v2.is_empty()
    }

    /// Writes the v2 limits into the run's cgroup `dir`, before the command starts there.
    pub fn apply_v2(&self, dir: &Path) -> Result<(), String> {
        for (file, value) in &self.v2 {
            let path = dir.join(file);
            // memory.swap.max is missing where the kernel has no swap accounting: nothing to dodge then.
            if *file != "memory.max" && *file != "pids.max" && !path.exists() {
                continue;
            }
            std::fs::write(&path, value).map_err(|e| {
                format!(
                    "cannot write {value} to {}: {e}; the run was not started",
                    path.display()
                )
            })?;
        }
        Ok(())
    }

    /// Before each attempt of the run: the v1 memory peak counted afresh (writing 0 resets it), and the
    /// counters as they stand, so that `Reading::since` gives the attempt its own OOM kills and refused
    /// forks. The groups outlive the attempts: without this an attempt after an OOM kill would be one.
    pub fn begin_attempt(&self) -> Reading {
        if let Some(group) = &self.memory {
            let _ = std::fs::write(group.dir().join("memory.max_usage_in_bytes"), "0");
        }
        self.read()
    }

    /// What the v1 groups counted.
    pub fn read(&self) -> Reading {
        let memory = self.memory.as_ref().map(|g| tree::read_v1_memory(g.dir()));
        let pids = self.pids.as_ref().map(|g| tree::read_v1_pids(g.dir()));
        memory.unwrap_or_default().or(pids.unwrap_or_default())
    }
}

/// The line that refuses the run: the limits, the controllers, why.
fn refusal(flags: &str, controllers: &[&str], why: &str) -> String {
    let (names, noun) = match controllers {
        [one] => (one.to_string(), "controller"),
        _ => (controllers.join(" and "), "controllers"),
    };
    format!("{flags}: the {names} {noun} cannot be used here: {why}; the run was not started")
}
