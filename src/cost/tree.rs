//! Reading what a run's cgroup counted: the files of cgroup v2 (`cpu.stat`, `memory.peak`,
//! `memory.events`, `io.stat`, `pids.peak`, `pids.events`) and of the v1 memory and pids hierarchies.
//! A file that is not there (its controller not enabled in the cgroup) leaves its figure unknown.

use std::path::Path;
use std::time::Duration;

/// What the run's cgroups say; `None` for what they do not tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub user: Option<Duration>,
    pub system: Option<Duration>,
    /// Bytes.
    pub memory_peak: Option<u64>,
    /// OOM kills of processes in the cgroup.
    pub oom_kills: Option<u64>,
    pub io_read: Option<u64>,
    pub io_write: Option<u64>,
    pub tasks_peak: Option<u64>,
    /// Forks refused at `pids.max`.
    pub tasks_refused: Option<u64>,
}

impl Reading {
    /// The counts of `self` less those of `before`, read from the same groups earlier: the peaks stay.
    pub fn since(self, before: &Reading) -> Reading {
        let less =
            |now: Option<u64>, then: Option<u64>| now.map(|n| n.saturating_sub(then.unwrap_or(0)));
        Reading {
            oom_kills: less(self.oom_kills, before.oom_kills),
            tasks_refused: less(self.tasks_refused, before.tasks_refused),
            ..self
        }
    }

    /// What `self` does not tell, taken from `other`.
    pub fn or(self, other: Reading) -> Reading {
        Reading {
            user: self.user.or(other.user),
            system: self.system.or(other.system),
            memory_peak: self.memory_peak.or(other.memory_peak),
            oom_kills: self.oom_kills.or(other.oom_kills),
            io_read: self.io_read.or(other.io_read),
            io_write: self.io_write.or(other.io_write),
            tasks_peak: self.tasks_peak.or(other.tasks_peak),
            tasks_refused: self.tasks_refused.or(other.tasks_refused),
        }
    }
}

/// A cgroup v2 directory: the run's, or a recorded copy of one.
pub fn read_v2(dir: &Path) -> Reading {
    let cpu = read(dir, "cpu.stat");
    let micros = |key| field(cpu.as_deref()?, key).map(Duration::from_micros);
    let (io_read, io_write) = match read(dir, "io.stat") {
        Some(text) => {
            let (read, written) = io_bytes(&text);
            (Some(read), Some(written))
        }
        None => (None, None),
    };
    Reading {
        user: micros("user_usec"),
        system: micros("system_usec"),
        memory_peak: number(dir, "memory.peak"),
        // `oom_kill` counts kills in the cgroup and below (`memory.events`, not `.local`).
        oom_kills: read(dir, "memory.events").and_then(|t| field(&t, "oom_kill")),
        io_read,
        io_write,
        tasks_peak: number(dir, "pids.peak"),
        tasks_refused: read(dir, "pids.events").and_then(|t| field(&t, "max")),
    }
}

/// The run's cgroup of the v1 memory hierarchy.
pub fn read_v1_memory(dir: &Path) -> Reading {
    Reading {
        memory_peak: number(dir, "memory.max_usage_in_bytes"),
        oom_kills: read(dir, "memory.oom_control").and_then(|t| field(&t, "oom_kill")),
        ..Reading::default()
    }
}

/// The run's cgroup of the v1 pids hierarchy.
pub fn read_v1_pids(dir: &Path) -> Reading {
    Reading {
        tasks_peak: number(dir, "pids.peak"),
        tasks_refused: read(dir, "pids.events").and_then(|t| field(&t, "max")),
        ..Reading::default()
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// A file of one number.
fn number(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`key value` lines).
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The bytes read and written over every device of `io.stat` (`8:0 rbytes=… wbytes=… …` lines).
fn io_bytes(text: &str) -> (u64, u64) {
    let mut read = 0u64;
    let mut written = 0u64;
    for pair in text.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "rbytes" => read = read.saturating_add(value),
            "wbytes" => written = written.saturating_add(value),
            _ => {}
        }
    }
    (read, written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files() {
        assert_eq!(field("low 0\noom 2\noom_kill 1\n", "oom_kill"), Some(1));
        assert_eq!(
            field("oom_kill_disable 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(field("max 0\n", "oom_kill"), None);
        assert_eq!(
            io_bytes("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2\n"),
            (4097, 8194)
        );
    }
}
