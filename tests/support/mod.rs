//! Running the real cronbeat binary from integration tests: a builder with a hard outer timeout,
//! line-by-line reading of a running child's stdout, and checks on other processes by pid.
#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cronbeat");

/// How long any single cronbeat run may take before the test kills it and fails.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(20);

/// A cronbeat invocation being prepared: `cronbeat ARGS...`, usually ending in `-- COMMAND...`.
pub struct Cronbeat {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    interactive: bool,
    limit: Duration,
}

/// `cronbeat ARGS...`.
pub fn cronbeat<I, S>(args: I) -> Cronbeat
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Cronbeat::program(BIN).args(args)
}

/// `cronbeat OPTIONS... -- sh -c SCRIPT`.
pub fn cronbeat_sh(options: &[&str], script: &str) -> Cronbeat {
    cronbeat(options.iter().copied().chain(["--", "sh", "-c", script]))
}

impl Cronbeat {
    /// Any program run the same way (used to wrap cronbeat in `unshare` or `script`).
    pub fn program(program: impl AsRef<OsStr>) -> Cronbeat {
        Cronbeat {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            stdin: None,
            interactive: false,
            limit: DEFAULT_LIMIT,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Bytes written to stdin, which is then closed (default: stdin is /dev/null).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Keeps stdin open for [`Running::write_stdin`] instead.
    pub fn interactive(mut self) -> Self {
        self.interactive = true;
        self
    }

    /// The hard outer timeout: past it the run is killed (with its descendants) and the test fails.
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        // The tests' own environment must not change cronbeat's settings.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CRONBEAT_") {
                cmd.env_remove(key);
            }
        }
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(if self.stdin.is_some() || self.interactive {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    fn describe(&self) -> String {
        let mut words = vec![self.program.to_string_lossy().into_owned()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        words.join(" ")
    }

    /// Runs to the end and returns what happened. Panics if the run outlives the limit.
    pub fn run(self) -> Output {
        self.spawn_inner(false).wait()
    }

    /// Starts the run; its stdout is read line by line through [`Running::line`] and friends.
    pub fn spawn(self) -> Running {
        self.spawn_inner(true)
    }

    fn spawn_inner(self, by_lines: bool) -> Running {
        let started = Instant::now();
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.describe()));
        let pid = child.id() as i32;
        if let Some(bytes) = self.stdin.clone() {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let input = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (line_tx, lines) = mpsc::channel();
        let stdout_reader = std::thread::spawn(move || {
            if by_lines {
                read_lines(stdout, line_tx)
            } else {
                read_to_end(stdout)
            }
        });
        let stderr_reader = std::thread::spawn(move || read_to_end(stderr));
        let (exit_tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(wait_child(child));
        });
        Running {
            pid,
            started,
            deadline: started + self.limit,
            what: self.describe(),
            lines,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            exited,
            status: None,
            seen: Vec::new(),
            input,
        }
    }
}

fn wait_child(mut child: Child) -> (ExitStatus, Instant) {
    let status = child.wait().expect("wait for the child");
    (status, Instant::now())
}

fn read_to_end(mut source: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = source.read_to_end(&mut out);
    out
}

/// Sends each line (without its newline) as it comes; returns every byte read.
fn read_lines(source: impl Read, tx: mpsc::Sender<String>) -> Vec<u8> {
    let mut reader = BufReader::new(source);
    let mut all = Vec::new();
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                all.extend_from_slice(&line);
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\n', '\r'])
                    .to_string();
                let _ = tx.send(text);
            }
        }
    }
    all
}

/// A cronbeat run in progress. Dropping it kills what is left of it.
pub struct Running {
    pid: i32,
    started: Instant,
    deadline: Instant,
    what: String,
    lines: Receiver<String>,
    stdout_reader: Option<JoinHandle<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<Vec<u8>>>,
    exited: Receiver<(ExitStatus, Instant)>,
    status: Option<(ExitStatus, Instant)>,
    seen: Vec<String>,
    input: Option<std::process::ChildStdin>,
}

impl Running {
    /// Writes to the stdin of an [`Cronbeat::interactive`] run.
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let input = self.input.as_mut().expect("an interactive run");
        input.write_all(bytes).expect("write to stdin");
        input.flush().expect("flush stdin");
    }

    pub fn close_stdin(&mut self) {
        self.input = None;
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The next stdout line, waiting at most until the run's limit.
    pub fn line(&mut self) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => self.fail("timed out waiting for a line on stdout"),
            Err(RecvTimeoutError::Disconnected) => {
                self.fail("stdout closed while waiting for a line")
            }
        }
    }

    /// Reads stdout lines until one equals `wanted`; returns the lines before it.
    pub fn wait_for_line(&mut self, wanted: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            let line = self.line();
            if line == wanted {
                return before;
            }
            before.push(line);
        }
    }

    /// Reads stdout lines until one contains `wanted`; returns that line.
    pub fn wait_for_line_containing(&mut self, wanted: &str) -> String {
        loop {
            let line = self.line();
            if line.contains(wanted) {
                return line;
            }
        }
    }

    /// Sends `sig` to the cronbeat process itself.
    pub fn signal(&self, sig: i32) {
        signal_pid(self.pid, sig);
    }

    /// Waits for cronbeat to exit and for both of its streams to close, within the limit.
    pub fn wait(mut self) -> Output {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let (status, ended) = match self.exited.recv_timeout(left) {
            Ok(s) => s,
            Err(_) => self.fail("still running at the outer time limit"),
        };
        self.status = Some((status, ended));
        // Cronbeat is gone; only something it left behind could still hold its streams open.
        let streams_by = Instant::now() + Duration::from_secs(5);
        let stdout = self.join_reader(|r| r.stdout_reader.take(), streams_by, "stdout");
        let stderr = self.join_reader(|r| r.stderr_reader.take(), streams_by, "stderr");
        Output {
            status,
            stdout,
            stderr,
            elapsed: ended.duration_since(self.started),
            what: self.what.clone(),
        }
    }

    fn join_reader(
        &mut self,
        take: impl FnOnce(&mut Self) -> Option<JoinHandle<Vec<u8>>>,
        by: Instant,
        name: &str,
    ) -> Vec<u8> {
        let handle = take(self).expect("reader joined once");
        while !handle.is_finished() {
            if Instant::now() >= by {
                self.fail(&format!("cronbeat exited but its {name} stayed open"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.join().expect("reader thread")
    }

    fn fail(&mut self, why: &str) -> ! {
        let tree = describe_tree(self.pid);
        kill_tree(self.pid);
        panic!(
            "{why}: {} (after {:?}; lines so far: {:?})\nprocesses:\n{tree}",
            self.what,
            self.started.elapsed(),
            self.seen
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            kill_tree(self.pid);
        }
    }
}

/// The end of a run.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// From spawn to exit.
    pub elapsed: Duration,
    what: String,
}

impl Output {
    /// The exit code; panics (with the output) if the process died of a signal.
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(c) => c,
            None => panic!(
                "{} died of signal {:?}\n{}",
                self.what,
                self.status.signal(),
                self.dump()
            ),
        }
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn dump(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--- elapsed {:?}",
            truncate(&self.stdout_text()),
            truncate(&self.stderr_text()),
            self.elapsed
        )
    }

    /// Asserts the exit code, showing the whole output when it differs.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "exit status of {} (signal {:?})\n{}",
            self.what,
            self.status.signal(),
            self.dump()
        );
        self
    }

    #[track_caller]
    pub fn assert_silent_stderr(&self) -> &Self {
        assert!(
            self.stderr.is_empty(),
            "expected nothing on stderr from {}\n{}",
            self.what,
            self.dump()
        );
        self
    }

    /// Asserts cronbeat added no line of its own to stderr (the command's lines may be there).
    #[track_caller]
    pub fn assert_no_cronbeat_lines(&self) -> &Self {
        assert!(
            !self
                .stderr_text()
                .lines()
                .any(|l| l.starts_with("cronbeat:")),
            "expected no `cronbeat:` line on stderr from {}\n{}",
            self.what,
            self.dump()
        );
        self
    }

    /// Asserts stderr is exactly one `cronbeat: ...` line, and returns it.
    #[track_caller]
    pub fn one_error_line(&self) -> String {
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() == 1 && text.ends_with('\n') && lines[0].starts_with("cronbeat: "),
            "expected one `cronbeat: ...` line on stderr from {}\n{}",
            self.what,
            self.dump()
        );
        lines[0].to_string()
    }
}

fn truncate(text: &str) -> String {
    const MAX: usize = 4000;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

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

/// Waits up to `within` for every pid to be dead; returns whether they all died.
pub fn wait_all_dead(pids: &[i32], within: Duration) -> bool {
    let until = Instant::now() + within;
    loop {
        if pids.iter().all(|p| is_dead(*p)) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
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
