//! Processes and files around a launch: checks on other processes by pid, killing what a failed test
//! left, scratch directories, and gates a test script waits on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn signal_pid(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// One line of /proc/PID/stat, split after the command name: (state, ppid, pgid, sid).
pub fn proc_stat(pid: i32) -> Option<(char, i32, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    let sid = fields.next()?.parse().ok()?;
    Some((state, ppid, pgid, sid))
}

pub fn pgid_of(pid: i32) -> i32 {
    proc_stat(pid)
        .unwrap_or_else(|| panic!("no process {pid}"))
        .2
}

/// True when nothing runs under `pid` any more: no such process, or only its zombie.
pub fn is_dead(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    matches!(proc_stat(pid), None | Some(('Z', ..)) | Some(('X', ..)))
}

#[track_caller]
pub fn assert_all_dead(pids: &[i32]) {
    let alive: Vec<i32> = pids.iter().copied().filter(|p| !is_dead(*p)).collect();
    assert!(
        alive.is_empty(),
        "still alive: {:?}",
        alive
            .iter()
            .map(|p| (p, proc_stat(*p), cmdline(*p)))
            .collect::<Vec<_>>()
    );
}

pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The environment `pid` was started with, one `NAME=value` a line.
pub fn environ(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', "\n"))
        .unwrap_or_default()
}

/// Every live process whose parent chain leads to `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            {
                if let Some((_, ppid, ..)) = proc_stat(pid) {
                    parent_of.push((pid, ppid));
                }
            }
        }
    }
    let mut found: HashSet<i32> = HashSet::from([root]);
    loop {
        let before = found.len();
        for (pid, ppid) in &parent_of {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.remove(&root);
    found.into_iter().collect()
}

/// `pid` and its descendants, one line each, for a failure message.
pub fn describe_tree(pid: i32) -> String {
    std::iter::once(pid)
        .chain(descendants(pid))
        .map(|p| {
            let wchan = std::fs::read_to_string(format!("/proc/{p}/wchan")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            let masks: Vec<&str> = status
                .lines()
                .filter(|l| l.starts_with("Sig") || l.starts_with("ShdPnd"))
                .collect();
            format!(
                "  {p} {:?} wchan={wchan} {} {}",
                proc_stat(p),
                cmdline(p),
                masks.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Kills `pid` and everything under it, so a failing test leaves nothing running.
pub fn kill_tree(pid: i32) {
    let below = descendants(pid);
    for p in std::iter::once(pid).chain(below) {
        // SAFETY: kill(2) takes plain integers.
        unsafe {
            libc::kill(p, libc::SIGKILL);
        }
    }
}

/// Kills one process by pid when dropped, so a process a test started through cronbeat is gone however
/// the test ends.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes plain integers.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

/// A fresh temporary directory.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cronbeat-test-")
        .tempdir()
        .expect("temp dir")
}

/// Parses whitespace-separated pids printed by a test script.
pub fn pids_in(line: &str) -> Vec<i32> {
    line.split_whitespace()
        .map(|w| {
            w.parse()
                .unwrap_or_else(|_| panic!("not a pid: {w:?} in {line:?}"))
        })
        .collect()
}

/// True when `program` can be found on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A file a test script waits for: the test opens the gate when it has checked what it wanted.
pub struct Gate {
    dir: tempfile::TempDir,
}

impl Gate {
    pub fn new() -> Gate {
        Gate { dir: temp_dir() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("open")
    }

    /// A shell snippet that opens the gate, for one process of a script to let another go on.
    pub fn open_script(&self) -> String {
        format!("touch '{}'", self.path().display())
    }

    /// A shell snippet that blocks until the gate is opened.
    pub fn wait_script(&self) -> String {
        format!(
            "while [ ! -e '{}' ]; do sleep 0.01; done",
            self.path().display()
        )
    }

    pub fn open(&self) {
        std::fs::write(self.path(), b"").expect("open the gate");
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

/// Waits until `pid` has a handler for `sig` (its /proc status lists the signal as caught), so a
/// signal sent afterwards reaches the handler and not the default action.
pub fn wait_until_catching(pid: i32, sig: i32, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let caught = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            });
        if caught.is_some_and(|mask| mask & (1 << (sig - 1)) != 0) {
            return;
        }
        assert!(
            Instant::now() < until,
            "process {pid} never installed a handler for signal {sig}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `check` until it holds; false after `timeout`.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// True while a process with this pid exists (zombies included).
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits until `pid` is gone (reaped); false on timeout.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    eventually(timeout, || !alive(pid))
}

/// A scratch directory for config files and the like; removed on drop.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        Dir(temp_dir())
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `name` and returns its absolute path as text.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

impl Default for Dir {
    fn default() -> Self {
        Dir::new()
    }
}

/// Writes `text` to `path` as an executable (mode 0755) from a short-lived `sh`, not from this process.
/// A descriptor this process held open for writing would be inherited by any child another test thread
/// forks at that moment, and exec(2) of the file fails with ETXTBSY ("Text file busy") until that child
/// has exec'd; the writer process closes the only write descriptor before anything runs the file.
pub fn write_executable(path: &Path, text: &str) {
    let status = std::process::Command::new("sh")
        .args(["-c", r#"printf %s "$2" >"$1" && chmod 755 "$1""#, "sh"])
        .arg(path)
        .arg(text)
        .status()
        .unwrap();
    assert!(status.success(), "writing {}: {status}", path.display());
}

/// Copies the executable `from` to `to` with `cp`, for the reason [`write_executable`] gives.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("--")
        .args([from, to])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp {} {}: {status}",
        from.display(),
        to.display()
    );
}
