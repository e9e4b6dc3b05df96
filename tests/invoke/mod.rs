//! Runs the real cronbeat binary with a controlled environment and a hard outer timeout.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cronbeat");

/// Past this a run is killed and the test fails, so a hang can never block the suite.
const LIMIT: Duration = Duration::from_secs(20);

pub struct Output {
    pub code: Option<i32>,
    /// The bytes as written, for byte-exact comparisons.
    pub raw_stdout: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

/// `cronbeat ARGS` with exactly the `CRONBEAT_*` variables given in `env` (the test's own are removed).
pub fn cronbeat(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy().to_ascii_uppercase();
        // Pings in tests go to servers on 127.0.0.1, never through a proxy.
        if name.starts_with("CRONBEAT_") || name.ends_with("_PROXY") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("cronbeat starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cronbeat {args:?} still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let raw_stdout = out.join().unwrap();
    Output {
        code: status.code(),
        stdout: String::from_utf8_lossy(&raw_stdout).into_owned(),
        raw_stdout,
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        elapsed,
    }
}

/// A scratch directory holding config files; removed on drop.
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
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

/// Asserts a usage or config error: status 2, exactly one line on stderr, `cronbeat: ` first, and every
/// `needle` in it.
pub fn assert_one_line_error(out: &Output, needles: &[&str]) {
    assert_eq!(out.code, Some(2), "stderr: {}", out.stderr);
    assert_one_line_error_with(out, needles);
}

/// One `cronbeat: ` line on stderr naming each of `needles`, whatever the exit status.
pub fn assert_one_line_error_with(out: &Output, needles: &[&str]) {
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "one line expected: {:?}", out.stderr);
    assert!(lines[0].starts_with("cronbeat: "), "{}", lines[0]);
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{needle:?} missing in {}",
            lines[0]
        );
    }
}
