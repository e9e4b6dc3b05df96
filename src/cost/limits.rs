//! `--memory-max` and `--tasks-max`: limits of the run's own cgroup, on cgroup v2 where cronbeat's cgroup
//! has the controller delegated, else on the controller's v1 hierarchy. Where neither can be used the run
//! is refused before anything starts: never run without a limit the user asked for.

use std::os::fd::RawFd;
use std::path::Path;

use super::tree::{self, Reading};
use super::v1::Group;

/// The limits asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes.
    pub memory_max: Option<u64>,
    pub tasks_max: Option<u64>,
}

/// The limits made ready for one run: the v1 groups made and limited, and what is to be written to the
/// run's cgroup v2 once it exists.
#[derive(Default)]
pub struct Prepared {
    pub limits: Limits,
    memory: Option<Group>,
    pids: Option<Group>,
    /// (file, value) for the run's cgroup v2.
    v2: Vec<(&'static str, String)>,
}

impl Prepared {
    /// Makes the run's cgroups for `limits`; the line saying why not when a limit cannot be applied.
    /// `v2_controllers` are those cronbeat's cgroup v2 hands down to the run's (its `cgroup.subtree_control`).
    pub fn new(
        limits: Limits,
        run_id: &str,
        v2_controllers: &[String],
    ) -> Result<Prepared, String> {
        let mut prepared = Prepared {
            limits,
            ..Prepared::default()
        };
        let on_v2 = |name: &str| v2_controllers.iter().any(|c| c == name);
        if let Some(max) = limits.memory_max {
            let why = |e: String| {
                format!(
                    "--memory-max {}: the memory controller cannot be used here: {e}; the run was not started",
                    super::bytes(max)
                )
            };
            if on_v2("memory") {
                prepared.v2.push(("memory.max", max.to_string()));
                // Not dodged by swap.
                prepared.v2.push(("memory.swap.max", "0".to_string()));
            } else {
                let group = Group::create("memory", run_id).map_err(why)?;
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
        if let Some(max) = limits.tasks_max {
            let why = |e: String| {
                format!(
                    "--tasks-max {max}: the pids controller cannot be used here: {e}; the run was not started"
                )
            };
            if on_v2("pids") {
                prepared.v2.push(("pids.max", max.to_string()));
            } else {
                let group = Group::create("pids", run_id).map_err(why)?;
                group.set("pids.max", &max.to_string()).map_err(why)?;
                prepared.pids = Some(group);
            }
        }
        Ok(prepared)
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
