//! Running the real binary under a hard timeout, in the foreground or in the background with its
//! output lines on a channel. Use it from a test file with `mod policies_support;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// No single run in these tests may take longer than this; a hang fails instead of blocking.
pub const HARD_LIMIT: Duration = Duration::from_secs(30);

pub fn cronbeat() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cronbeat"));
    // The tests decide what cronbeat sees; nothing leaks in from the environment running them.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().to_string();
        if name.starts_with("CRONBEAT_")
            || ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(&name.as_str())
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub took: Duration,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| {
            panic!(
                "cronbeat died of a signal: {:?}; stderr: {}",
                self.status, self.stderr
            )
        })
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The JSON objects cronbeat printed on stderr with `--log-format json`.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn event(&self, name: &str) -> serde_json::Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name:?} event in stderr: {}", self.stderr))
    }
}

/// Runs to the end, killing it and failing the test if it takes longer than `HARD_LIMIT`.
pub fn run(cmd: &mut Command) -> Output {
    Background::spawn(cmd).finish()
}

/// A run in the background: its stdout lines arrive on a channel, so a test waits for "ready" lines
/// instead of sleeping. Killed when dropped.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<u8>,
    stdout_reader: Option<thread::JoinHandle<()>>,
    stderr_reader: Option<thread::JoinHandle<String>>,
    raw: Receiver<Vec<u8>>,
    stderr_lines: Receiver<String>,
    started: Instant,
}

impl Background {
    pub fn spawn(cmd: &mut Command) -> Background {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cronbeat");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (line_tx, lines) = mpsc::channel();
        let (raw_tx, raw) = mpsc::channel();
        let stdout_reader = thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let _ = line_tx.send(String::from_utf8_lossy(&line).trim_end().to_string());
                        let _ = raw_tx.send(line);
                    }
                }
            }
        });
        let (err_tx, stderr_lines) = mpsc::channel();
        let stderr_reader = thread::spawn(move || {
            let mut text = String::new();
            let mut reader = BufReader::new(&mut stderr);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&line).into_owned();
                        let _ = err_tx.send(line.trim_end().to_string());
                        text.push_str(&line);
                    }
                }
            }
            text
        });
        Background {
            child,
            lines,
            stdout: Vec::new(),
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            raw,
            stderr_lines,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a stdout line containing `text`; returns it.
    pub fn wait_line(&mut self, text: &str, timeout: Duration) -> String {
        wait_in(&self.lines, &mut self.child, text, timeout)
    }

    /// Waits for a stderr line containing `text`; returns it (the line stays in `Output::stderr`).
    pub fn wait_stderr_line(&mut self, text: &str, timeout: Duration) -> String {
        wait_in(&self.stderr_lines, &mut self.child, text, timeout)
    }

    /// Sends a signal to cronbeat itself.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits for the end under `HARD_LIMIT`.
    pub fn finish(mut self) -> Output {
        let until = self.started + HARD_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("cronbeat still running after {HARD_LIMIT:?}: killed");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let took = self.started.elapsed();
        if let Some(r) = self.stdout_reader.take() {
            let _ = r.join();
        }
        while let Ok(chunk) = self.raw.try_recv() {
            self.stdout.extend(chunk);
        }
        let stderr = self
            .stderr_reader
            .take()
            .map(|r| r.join().unwrap())
            .unwrap_or_default();
        Output {
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr,
            took,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_in(lines: &Receiver<String>, child: &mut Child, text: &str, timeout: Duration) -> String {
    let until = Instant::now() + timeout;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("no line containing {text:?} within {timeout:?}");
            }
        }
    }
}

/// Polls `check` until it holds; false after `timeout`.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// True while a process with this pid exists (zombies included).
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits until `pid` is gone; false on timeout.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let until = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}
