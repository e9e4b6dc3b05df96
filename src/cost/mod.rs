//! What a run cost: CPU time (user and system), peak memory, I/O bytes, and whether the kernel's OOM
//! killer took a process of the run; and the limits a run may be held to (`--memory-max`, `--tasks-max`).
//!
//! Each figure comes from the best source the run has, and says which:
//! - the run's cgroup v2 (`supervise/cgroup.rs`) where cronbeat made one: `cpu.stat` for CPU (every
//!   cgroup v2 has it), `memory.peak` and `memory.events` where the memory controller is enabled there,
//!   `io.stat` where the io controller is, `pids.peak` and `pids.events` where the pids controller is;
//! - the run's cgroup v1 of each hierarchy cronbeat made one in (made only for a limit: see [`v1`]):
//!   `memory.max_usage_in_bytes` and `memory.oom_control` for memory, `pids.peak` and `pids.events` for
//!   tasks;
//! - else `getrusage(RUSAGE_CHILDREN)`: the CPU of every process cronbeat reaped during the run (as a
//!   subreaper, orphans of the run too), and as the peak the largest resident set of any single process
//!   cronbeat reaped since it started (the kernel keeps no sum over a tree), which for a job of one
//!   process is what GNU time reports.
//!
//! An OOM kill is known for sure from a memory cgroup of the run (its OOM-kill count rose). Without one,
//! the machine's count (`oom_kill` in /proc/vmstat) rising during the run while the command died of
//! SIGKILL is taken as one: a strong hint, not a proof, since another process of the machine may have
//! been OOM-killed meanwhile and the command killed by someone else.

pub mod json;
pub mod limits;
pub mod tree;
pub mod v1;
pub mod v2;

use std::time::Duration;

pub use limits::{Limits, Prepared};
pub use tree::Reading;

/// Where a figure came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// The run's own cgroup (v2 or v1): the whole process tree, whatever left the command's group.
    Cgroup,
    /// getrusage(2) of the processes cronbeat reaped.
    #[default]
    Rusage,
}

impl Source {
    pub fn word(self) -> &'static str {
        match self {
            Source::Cgroup => "cgroup",
            Source::Rusage => "rusage",
        }
    }
}

/// What one run cost: of one attempt, or of all of them once `Cost::after` has added the earlier ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub user: Duration,
    pub system: Duration,
    pub cpu_source: Source,
    /// Bytes; `None` where no source tells (a run that never started).
    pub peak_memory: Option<u64>,
    pub memory_source: Source,
    /// Bytes read and written to block devices, where the run's cgroup v2 has the io controller.
    pub io_read: Option<u64>,
    pub io_write: Option<u64>,
    /// The most processes and threads the run had at once, where its cgroup has the pids controller.
    pub tasks_peak: Option<u64>,
    /// How many forks or clones the task limit refused.
    pub tasks_refused: Option<u64>,
    /// `--memory-max` and `--tasks-max`, when given.
    pub memory_limit: Option<u64>,
    pub tasks_limit: Option<u64>,
    /// The kernel's OOM killer killed a process of the run (see the module's text for how it is known).
    pub oom_killed: bool,
}

impl Cost {
    /// What a run of several attempts cost, this being its last attempt's: CPU time and I/O add up,
    /// the peaks are the highest, and the OOM kill is the last attempt's, the one that ended the run.
    pub fn after(self, earlier: &Cost) -> Cost {
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        Cost {
            user: self.user + earlier.user,
            system: self.system + earlier.system,
            peak_memory: self.peak_memory.max(earlier.peak_memory),
            io_read: sum(self.io_read, earlier.io_read),
            io_write: sum(self.io_write, earlier.io_write),
            tasks_peak: self.tasks_peak.max(earlier.tasks_peak),
            tasks_refused: sum(self.tasks_refused, earlier.tasks_refused),
            ..self
        }
    }

    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }

    /// One line, as the `-v` finished line and a report's last line say it:
    /// `cpu 0.512s (user 0.500s, system 0.012s), peak memory 100.2 MiB, io read 0 B, written 4.0 KiB`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "cpu {:.3}s (user {:.3}s, system {:.3}s)",
            self.cpu().as_secs_f64(),
            self.user.as_secs_f64(),
            self.system.as_secs_f64()
        );
        if let Some(peak) = self.peak_memory {
            text.push_str(&format!(", peak memory {}", bytes(peak)));
        }
        if let (Some(read), Some(written)) = (self.io_read, self.io_write) {
            text.push_str(&format!(
                ", io read {}, written {}",
                bytes(read),
                bytes(written)
            ));
        }
        if let Some(peak) = self.tasks_peak {
            text.push_str(&format!(", peak tasks {peak}"));
        }
        if let (Some(limit), Some(refused)) = (self.tasks_limit, self.tasks_refused) {
            if refused > 0 {
                text.push_str(&format!(
                    ", {refused} forks refused at the task limit {limit}"
                ));
            }
        }
        text
    }
}

/// Bytes as people read them: `512 MiB`, `100.2 MiB`, `4.0 KiB`, `812 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// What cronbeat knows of its reaped children before a run, to tell the run's share after it.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    before: Usage,
    machine_oom_kills: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    user: Duration,
    system: Duration,
    /// Bytes.
    max_rss: u64,
}

fn children_usage() -> Usage {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a local rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return Usage::default();
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Usage {
        user: time(usage.ru_utime),
        system: time(usage.ru_stime),
        max_rss: (usage.ru_maxrss.max(0) as u64) * 1024,
    }
}

/// The machine's count of OOM kills since boot (`oom_kill` in /proc/vmstat, Linux 4.13 on).
pub fn machine_oom_kills() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/vmstat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

impl Meter {
    /// Read just before the command starts.
    pub fn start() -> Meter {
        Meter {
            before: children_usage(),
            machine_oom_kills: machine_oom_kills(),
        }
    }

    /// The run's cost, once every process of it is reaped, from `cgroup` (what the run's cgroups say)
    /// and the rest from getrusage. `killed_by_sigkill`: the command died of SIGKILL that cronbeat did
    /// not send, for the machine-wide OOM hint.
    pub fn finish(&self, cgroup: &Reading, limits: &Limits, killed_by_sigkill: bool) -> Cost {
        let after = children_usage();
        let mut cost = Cost {
            user: after.user.saturating_sub(self.before.user),
            system: after.system.saturating_sub(self.before.system),
            cpu_source: Source::Rusage,
            peak_memory: Some(after.max_rss).filter(|n| *n > 0),
            memory_source: Source::Rusage,
            io_read: cgroup.io_read,
            io_write: cgroup.io_write,
            tasks_peak: cgroup.tasks_peak,
            tasks_refused: cgroup.tasks_refused,
            memory_limit: limits.memory_max,
            tasks_limit: limits.tasks_max,
            oom_killed: false,
        };
        if let (Some(user), Some(system)) = (cgroup.user, cgroup.system) {
            cost.user = user;
            cost.system = system;
            cost.cpu_source = Source::Cgroup;
        }
        if let Some(peak) = cgroup.memory_peak {
            cost.peak_memory = Some(peak);
            cost.memory_source = Source::Cgroup;
        }
        cost.oom_killed = match cgroup.oom_kills {
            Some(n) => n > 0,
            None => {
                killed_by_sigkill
                    && matches!(
                        (self.machine_oom_kills, machine_oom_kills()),
                        (Some(before), Some(after)) if after > before
                    )
            }
        };
        cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(512 << 20), "512 MiB");
        assert_eq!(bytes(105_067_724), "100.2 MiB");
    }

    #[test]
    fn a_cost_in_one_line() {
        let cost = Cost {
            user: Duration::from_millis(500),
            system: Duration::from_millis(12),
            peak_memory: Some(100 << 20),
            io_read: Some(0),
            io_write: Some(4096),
            ..Cost::default()
        };
        assert_eq!(
            cost.describe(),
            "cpu 0.512s (user 0.500s, system 0.012s), peak memory 100 MiB, io read 0 B, written 4 KiB"
        );
    }
}
