//! The test's own cgroups of the v1 hierarchies (this machine has v1 memory and pids, the tests run as
//! root): where cronbeat's run cgroups appear, and a memory group a test puts cronbeat itself in, to
//! bring on an OOM kill that is not of cronbeat's limits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use super::library::v1_own_dir;

/// A v1 memory cgroup of the test's, limited to `limit` bytes, swap included; removed when dropped (its
/// processes gone by then).
pub struct MemoryGroup {
    dir: PathBuf,
}

impl MemoryGroup {
    /// Made below the test's own memory cgroup; why not, where it cannot be.
    pub fn new(limit: u64) -> Result<MemoryGroup, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("a memory cgroup of the test's needs root".to_string());
        }
        let home =
            v1_own_dir("memory").ok_or("no cgroup v1 memory hierarchy mounted for this process")?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = home.join(format!(
            "it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let group = MemoryGroup { dir };
        let set = |file: &str| {
            std::fs::write(group.dir.join(file), limit.to_string())
                .map_err(|e| format!("cannot set {file}: {e}"))
        };
        set("memory.limit_in_bytes")?;
        if group.dir.join("memory.memsw.limit_in_bytes").exists() {
            set("memory.memsw.limit_in_bytes")?;
        }
        Ok(group)
    }

    /// A shell snippet that moves the shell into the group, for `sh -c 'SNIPPET && exec cronbeat …'`.
    pub fn join_script(&self) -> String {
        format!("echo $$ > '{}'", self.dir.join("cgroup.procs").display())
    }
}

impl Drop for MemoryGroup {
    fn drop(&mut self) {
        // Its last process may have exited a moment ago.
        for _ in 0..200 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
