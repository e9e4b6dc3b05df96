//! The one way the tests start cronbeat: a builder that runs the real binary (or a wrapper around it,
//! such as `unshare`, `script` or a shell pipeline) with the same environment policy and a hard outer
//! time limit on every launch, to its end ([`Cronbeat::run`]) or in the background with its stdout and
//! stderr lines on channels ([`Cronbeat::spawn`]).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::process::{describe_tree, kill_tree, signal_pid, temp_dir};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cronbeat");

/// How long any launch may take before the test kills it (with its descendants) and fails. Tests that
/// need more, or want a hang to fail sooner, set their own with [`Cronbeat::limit`].
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(30);

/// Once cronbeat has exited, how long something it left behind may hold its stdout or stderr open.
const STREAMS_CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// Whether the test's own environment variable `name` reaches a launched process. Nothing that would
/// change cronbeat's settings or where its pings go leaks in from the environment running the tests:
/// every `CRONBEAT_*` variable, every proxy variable in either case (pings go to servers on 127.0.0.1,
/// never through a proxy), and systemd's notify socket and watchdog. A test sets what it needs itself.
pub fn inherited(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    let upper = name.to_ascii_uppercase();
    !(name.starts_with("CRONBEAT_")
        || upper.ends_with("_PROXY")
        || ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(&name.as_ref()))
}

/// The ledger's variable. Every launch records its runs in a state directory of its own, removed with
/// the launch, unless the test names one: a test never writes the real state directory
/// (`/var/lib/cronbeat` for root, `~/.local/state/cronbeat` otherwise), and the ledger stays on, as it is
/// for every run outside the tests.
pub const STATE_DIR_ENV: &str = "CRONBEAT_STATE_DIR";

/// A launch being prepared: `cronbeat ARGS...`, usually ending in `-- COMMAND...`.
pub struct Cronbeat {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    clear_env: bool,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    interactive: bool,
    limit: Duration,
    /// Whether the launch gets a state directory of its own (unless the test sets the variable).
    own_state_dir: bool,
    /// System calls a seccomp filter refuses to the launch and everything it starts, each with what
    /// the filter does instead (at most [`MAX_REFUSED`]).
    refused: Vec<(libc::c_long, u32)>,
}

/// `cronbeat` with no arguments yet.
pub fn cronbeat() -> Cronbeat {
    Cronbeat::program(BIN)
}

/// `cronbeat` on a host whose clock reads `when` (UTC, `YYYY-MM-DD HH:MM:SS`) as it starts, and runs on
/// from there (libfaketime). `None` without faketime (skipped; a failure under CI=true).
pub fn cronbeat_at(when: &str) -> Option<Cronbeat> {
    if !super::process::have("faketime") {
        super::missing("faketime is not installed (.ci/run installs it)");
        return None;
    }
    Some(
        Cronbeat::program("faketime")
            .env("TZ", "UTC")
            // Only the wall clock is the host's: timers and timeouts keep real time.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .args(["-m", "-f", &format!("@{when}"), BIN]),
    )
}

/// `cronbeat OPTIONS... -- sh -c SCRIPT`.
pub fn cronbeat_sh(options: &[&str], script: &str) -> Cronbeat {
    cronbeat().args(options).args(["--", "sh", "-c", script])
}

impl Cronbeat {
    /// Another program launched the same way, for a wrapper that runs cronbeat ([`BIN`]) itself:
    /// `unshare`, `script`, `flock`, a shell pipeline.
    pub fn program(program: impl AsRef<OsStr>) -> Cronbeat {
        Cronbeat {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            dir: None,
            stdin: None,
            interactive: false,
            limit: DEFAULT_LIMIT,
            own_state_dir: true,
            refused: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
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
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter().fold(self, |b, (k, v)| b.env(k, v))
    }

    /// Starts from an empty environment (then only what [`Cronbeat::env`] adds).
    pub fn env_clear(mut self) -> Self {
        self.clear_env = true;
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

    /// Leaves the ledger's directory to cronbeat's default (for a test of that default, which must see
    /// to it that nothing is written where it should not be).
    pub fn without_state_dir(mut self) -> Self {
        self.own_state_dir = false;
        self
    }

    /// Runs the launch under a seccomp filter that refuses clone3 with ENOSYS, as container runtimes
    /// whose profiles predate the call do.
    pub fn refuse_clone3(self) -> Self {
        self.refuse(libc::SYS_clone3, libc::ENOSYS)
    }

    /// Runs the launch under a seccomp filter that answers pidfd_open with EPERM, as Docker's default
    /// profile before 20.10 and systemd's `SystemCallFilter=` do.
    pub fn refuse_pidfd_open(self) -> Self {
        self.refuse(libc::SYS_pidfd_open, libc::EPERM)
    }

    /// Runs the launch under a seccomp filter that kills any process of it that calls `call`
    /// (SIGSYS).
    pub fn kill_on(self, call: libc::c_long) -> Self {
        self.filter(call, SECCOMP_RET_KILL_PROCESS)
    }

    fn refuse(self, call: libc::c_long, errno: i32) -> Self {
        self.filter(call, SECCOMP_RET_ERRNO | errno as u32)
    }

    fn filter(mut self, call: libc::c_long, action: u32) -> Self {
        assert!(self.refused.len() < MAX_REFUSED, "too many refused calls");
        self.refused.push((call, action));
        self
    }

    /// Keeps stdin open for [`Running::write_stdin`] instead.
    pub fn interactive(mut self) -> Self {
        self.interactive = true;
        self
    }

    /// The hard outer time limit: past it the launch is killed (with its descendants) and the test fails.
    pub fn limit(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    fn command(&self, state_dir: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if self.clear_env {
            cmd.env_clear();
        } else {
            for (key, _) in std::env::vars_os() {
                if !inherited(&key) {
                    cmd.env_remove(key);
                }
            }
        }
        if let Some(state_dir) = state_dir {
            cmd.env(STATE_DIR_ENV, state_dir);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.stdin(if self.stdin.is_some() || self.interactive {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if !self.refused.is_empty() {
            let refused = self.refused.clone();
            // SAFETY: the closure builds the filter on its stack and makes two prctl calls: nothing is
            // allocated between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || refuse(&refused));
            }
        }
        cmd
    }

    fn describe(&self) -> String {
        let mut words = vec![self.program.to_string_lossy().into_owned()];
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        words.join(" ")
    }

    /// Runs to the end and returns what happened. Panics if the run outlives the limit.
    pub fn run(self) -> Output {
        self.start(false).wait()
    }

    /// Starts the run; its stdout and stderr lines come through [`Running::line`] and friends.
    pub fn spawn(self) -> Running {
        self.start(true)
    }

    fn start(self, by_lines: bool) -> Running {
        let started = Instant::now();
        let state_dir = (self.own_state_dir && !self.env.iter().any(|(k, _)| k == STATE_DIR_ENV))
            .then(temp_dir);
        let mut child = self
            .command(state_dir.as_ref().map(|d| d.path()))
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
        let (stdout_reader, lines) =
            reader(child.stdout.take().expect("stdout is piped"), by_lines);
        let (stderr_reader, stderr_lines) =
            reader(child.stderr.take().expect("stderr is piped"), by_lines);
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
            stderr_lines,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            exited,
            status: None,
            seen: Vec::new(),
            input,
            _state_dir: state_dir,
        }
    }
}

fn wait_child(mut child: Child) -> (ExitStatus, Instant) {
    let status = child.wait().expect("wait for the child");
    (status, Instant::now())
}

/// A thread reading `source` to its end, returning every byte; with `by_lines`, each line (without
/// its line ending) is also sent on the channel as it comes.
fn reader(
    source: impl Read + Send + 'static,
    by_lines: bool,
) -> (JoinHandle<Vec<u8>>, Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        if by_lines {
            read_lines(source, tx)
        } else {
            let mut all = Vec::new();
            let mut source = source;
            let _ = source.read_to_end(&mut all);
            all
        }
    });
    (handle, rx)
}

fn read_lines(source: impl Read, tx: Sender<String>) -> Vec<u8> {
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

/// A launch in progress. Dropping it kills what is left of it.
pub struct Running {
    pid: i32,
    started: Instant,
    deadline: Instant,
    what: String,
    lines: Receiver<String>,
    stderr_lines: Receiver<String>,
    stdout_reader: Option<JoinHandle<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<Vec<u8>>>,
    exited: Receiver<(ExitStatus, Instant)>,
    status: Option<(ExitStatus, Instant)>,
    seen: Vec<String>,
    input: Option<ChildStdin>,
    /// The ledger's directory when the test named none; removed when the launch is over.
    _state_dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Writes to the stdin of an [`Cronbeat::interactive`] run.
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let input = self.input.as_mut().expect("an interactive run");
        input.write_all(bytes).expect("write to stdin");
        input.flush().expect("flush stdin");
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The next stdout line, waiting at most until the run's limit.
    pub fn line(&mut self) -> String {
        let deadline = self.deadline;
        self.next_line(Stream::Stdout, deadline)
    }

    fn next_line(&mut self, stream: Stream, by: Instant) -> String {
        let left = by.saturating_duration_since(Instant::now());
        let lines = match stream {
            Stream::Stdout => &self.lines,
            Stream::Stderr => &self.stderr_lines,
        };
        match lines.recv_timeout(left) {
            Ok(line) => {
                self.seen.push(format!("{stream}: {line}"));
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                self.fail(&format!("timed out waiting for a line on {stream}"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.fail(&format!("{stream} closed while waiting for a line"))
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

    /// Reads stdout lines until one contains `wanted`, within the run's limit; returns that line.
    pub fn wait_for_line_containing(&mut self, wanted: &str) -> String {
        let deadline = self.deadline;
        self.wait_in(Stream::Stdout, wanted, deadline)
    }

    /// Reads stdout lines until one contains `wanted`, failing after `within`; returns that line.
    pub fn wait_stdout(&mut self, wanted: &str, within: Duration) -> String {
        let by = self.deadline.min(Instant::now() + within);
        self.wait_in(Stream::Stdout, wanted, by)
    }

    /// Reads stderr lines until one contains `wanted`, failing after `within`; returns that line (it
    /// stays in [`Output::stderr`] too).
    pub fn wait_stderr(&mut self, wanted: &str, within: Duration) -> String {
        let by = self.deadline.min(Instant::now() + within);
        self.wait_in(Stream::Stderr, wanted, by)
    }

    fn wait_in(&mut self, stream: Stream, wanted: &str, by: Instant) -> String {
        loop {
            let line = self.next_line(stream, by);
            if line.contains(wanted) {
                return line;
            }
        }
    }

    /// Sends `sig` to the launched process itself.
    pub fn signal(&self, sig: i32) {
        signal_pid(self.pid, sig);
    }

    /// Waits for the process to exit and for both of its streams to close, within the limit.
    pub fn wait(mut self) -> Output {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let (status, ended) = match self.exited.recv_timeout(left) {
            Ok(s) => s,
            Err(_) => self.fail("still running at the outer time limit"),
        };
        self.status = Some((status, ended));
        // It is gone; only something it left behind could still hold its streams open.
        let streams_by = Instant::now() + STREAMS_CLOSE_WITHIN;
        let raw_stdout = self.join_reader(|r| r.stdout_reader.take(), streams_by, "stdout");
        let raw_stderr = self.join_reader(|r| r.stderr_reader.take(), streams_by, "stderr");
        Output {
            status,
            stdout: String::from_utf8_lossy(&raw_stdout).into_owned(),
            stderr: String::from_utf8_lossy(&raw_stderr).into_owned(),
            raw_stdout,
            raw_stderr,
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
                self.fail(&format!("exited but its {name} stayed open"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        handle.join().expect("reader thread")
    }

    fn fail(&mut self, why: &str) -> ! {
        let tree = describe_tree(self.pid);
        kill_tree(self.pid);
        // The lines not read yet say why, above all stderr's when stdout closed early: those the
        // readers have, or get within a moment of the kill.
        let by = Instant::now() + Duration::from_millis(500);
        let mut unread = Vec::new();
        for (stream, lines) in [
            (Stream::Stdout, &self.lines),
            (Stream::Stderr, &self.stderr_lines),
        ] {
            while let Ok(line) = lines.recv_timeout(by.saturating_duration_since(Instant::now())) {
                unread.push(format!("{stream}: {line}"));
            }
        }
        panic!(
            "{why}: {} (after {:?}; lines so far: {:?}; not read yet: {unread:?})\nprocesses:\n{tree}",
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

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// The end of a launch.
pub struct Output {
    pub status: ExitStatus,
    /// Stdout as text (invalid UTF-8 replaced); [`Output::raw_stdout`] has the bytes as written.
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
    pub raw_stderr: Vec<u8>,
    /// From spawn to exit.
    pub elapsed: Duration,
    what: String,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})\n{}", self.what, self.status, self.dump())
    }
}

impl Output {
    /// The exit code; panics (with the output) if the process died of a signal.
    #[track_caller]
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

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    pub fn dump(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--- elapsed {:?}",
            truncate(&self.stdout),
            truncate(&self.stderr),
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
            !self.stderr.lines().any(|l| l.starts_with("cronbeat:")),
            "expected no `cronbeat:` line on stderr from {}\n{}",
            self.what,
            self.dump()
        );
        self
    }

    /// Asserts stderr is exactly one `cronbeat: ...` line, and returns it.
    #[track_caller]
    pub fn one_error_line(&self) -> String {
        let lines = self.stderr_lines();
        assert!(
            lines.len() == 1 && self.stderr.ends_with('\n') && lines[0].starts_with("cronbeat: "),
            "expected one `cronbeat: ...` line on stderr from {}\n{}",
            self.what,
            self.dump()
        );
        lines[0].to_string()
    }

    /// Asserts a usage or config error: status 2, exactly one line on stderr, `cronbeat: ` first, and
    /// every `needle` in it.
    #[track_caller]
    pub fn assert_one_line_error(&self, needles: &[&str]) {
        self.assert_code(2);
        let line = self.one_error_line();
        for needle in needles {
            assert!(line.contains(needle), "{needle:?} missing in {line}");
        }
    }

    /// The JSON objects cronbeat printed on stderr with `--log-format json`.
    pub fn events(&self) -> Vec<Value> {
        json_events(&self.stderr)
    }

    /// The first `--log-format json` event named `name`.
    #[track_caller]
    pub fn event(&self, name: &str) -> Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name:?} event in stderr: {}", self.stderr))
    }

    /// The run id the command saw in `CRONBEAT_RUN_ID`, from its `run <id>` line on stdout.
    #[track_caller]
    pub fn run_id(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("run "))
            .unwrap_or_else(|| panic!("no run id in the output: {self:?}"))
            .to_string()
    }
}

/// cronbeat's `--log-format json` events in `text`: the lines that are JSON objects. Other lines (the
/// command's own stderr) are left out, and so is a line the command's output cut into: cronbeat's
/// line and its newline can reach a shared stderr in two writes, with the command's bytes between.
pub fn json_events(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object)
        .collect()
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

/// How many calls one launch's filter may refuse.
const MAX_REFUSED: usize = 4;

const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// Installs a seccomp filter: each call in `refused` gets its action (an errno, or the process
/// killed), every other call is allowed. Between fork and exec: no allocation.
fn refuse(refused: &[(libc::c_long, u32)]) -> std::io::Result<()> {
    const LOAD_WORD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut filter = [op(0, 0, 0, 0); 4 + 2 * MAX_REFUSED];
    let n = refused.len().min(MAX_REFUSED);
    filter[0] = op(LOAD_WORD, 0, 0, 4); // seccomp_data.arch
                                        // Another architecture: straight to the final allow.
    filter[1] = op(JUMP_IF_EQUAL, 0, (1 + 2 * n) as u8, AUDIT_ARCH_X86_64);
    filter[2] = op(LOAD_WORD, 0, 0, 0); // seccomp_data.nr
    for (i, (call, action)) in refused.iter().take(n).enumerate() {
        filter[3 + 2 * i] = op(JUMP_IF_EQUAL, 0, 1, *call as u32);
        filter[4 + 2 * i] = op(RETURN, 0, 0, *action);
    }
    filter[3 + 2 * n] = op(RETURN, 0, 0, SECCOMP_RET_ALLOW);
    let len = 4 + 2 * n;
    let program = libc::sock_fprog {
        len: len as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with integer arguments, and with a pointer to the program, which outlives the call.
    let installed = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) == 0
    };
    if installed {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
