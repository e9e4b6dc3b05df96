//! What the monitor tests share: a few helpers over the recording HTTP server (`tests/http_server`), the
//! real cronbeat binary run under a hard outer timeout, and the four ways a run ends (success, failure,
//! overrun, signal). A test file declares `mod http_server;` before `mod monitors_support;`.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_cronbeat");

/// No cronbeat run in these tests may take longer; past it the run is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

pub use crate::http_server::{Behavior, Request, Server};

/// What the monitor tests ask of a recorded request besides the shared server's own helpers.
pub trait RequestExt {
    fn param_names(&self) -> Vec<&str>;
    fn json(&self) -> serde_json::Value;
}

impl RequestExt for Request {
    fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

pub trait ServerExt {
    /// A server that answers every request `200` with these headers.
    fn with_headers(headers: &[(&str, &str)]) -> Server;
    /// `http://127.0.0.1:PORT`
    fn base(&self) -> String;
    fn port(&self) -> u16;
    /// Every request so far. cronbeat waits for its pings to be answered before it exits, and the
    /// server records a request before answering it, so after a run this is complete.
    fn received(&self) -> Vec<Request>;
}

impl ServerExt for Server {
    fn with_headers(headers: &[(&str, &str)]) -> Server {
        let server = Server::start();
        let answer = headers
            .iter()
            .fold(Behavior::status(200), |b, (n, v)| b.header(n, v));
        server.respond("", answer);
        server
    }

    fn base(&self) -> String {
        self.url()
    }

    fn port(&self) -> u16 {
        self.addr().port()
    }

    fn received(&self) -> Vec<Request> {
        let requests = self.requests();
        assert!(
            requests.iter().all(|r| !r.chunked),
            "cronbeat must not send chunked bodies: {requests:#?}"
        );
        requests
    }
}

/// A finished cronbeat run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run id the command saw in `CRONBEAT_RUN_ID` (the scenarios print it first).
    pub fn run_id(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("run "))
            .unwrap_or_else(|| panic!("no run id in the output: {self:?}"))
            .to_string()
    }
}

/// Runs `cronbeat ARGS` to its end, killing it and failing the test past `RUN_LIMIT`.
pub fn cronbeat(args: &[String]) -> Run {
    cronbeat_env(args, &[])
}

pub fn cronbeat_env(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("CRONBEAT_PING")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("spawn cronbeat");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(RUN_LIMIT) {
        Ok(output) => {
            let output = output.expect("wait for cronbeat");
            Run {
                code: output.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("cronbeat {args:?} still running after {RUN_LIMIT:?}: killed");
        }
    }
}

/// The four ways a run ends, each printing `run <CRONBEAT_RUN_ID>` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Success,
    Failure,
    Overrun,
    Signal,
}

pub const ENDINGS: [Ending; 4] = [
    Ending::Success,
    Ending::Failure,
    Ending::Overrun,
    Ending::Signal,
];

impl Ending {
    /// cronbeat's options and command for this ending, after the `--ping` options.
    pub fn args(self) -> Vec<String> {
        let script = match self {
            Ending::Success => "echo \"run $CRONBEAT_RUN_ID\"; echo all good",
            Ending::Failure => "echo \"run $CRONBEAT_RUN_ID\"; echo broken; exit 3",
            Ending::Overrun => "echo \"run $CRONBEAT_RUN_ID\"; exec sleep 30",
            Ending::Signal => "echo \"run $CRONBEAT_RUN_ID\"; kill -KILL $$",
        };
        let mut args: Vec<String> = vec!["--ping-timeout".into(), "5s".into()];
        if self == Ending::Overrun {
            args.extend(["--timeout".into(), "500ms".into()]);
        }
        args.extend(["--", "sh", "-c", script].map(String::from));
        args
    }

    /// The exit status cronbeat reports.
    pub fn code(self) -> i32 {
        match self {
            Ending::Success => 0,
            Ending::Failure => 3,
            Ending::Overrun => 124,
            Ending::Signal => 137,
        }
    }

    /// The last line of what a monitor is told, after the output.
    pub fn last_line(self) -> &'static str {
        match self {
            Ending::Success => "all good",
            Ending::Failure => "broken",
            Ending::Overrun => {
                "cronbeat: timed out after 500ms and was stopped (killed by SIGTERM)"
            }
            Ending::Signal => "cronbeat: killed by SIGKILL",
        }
    }

    /// Runs this ending with the given monitors; asserts the exit status.
    pub fn run(self, pings: &[String]) -> Run {
        let mut args = Vec::new();
        for ping in pings {
            args.push("--ping".to_string());
            args.push(ping.clone());
        }
        args.extend(self.args());
        let run = cronbeat(&args);
        assert_eq!(run.code, self.code(), "{self:?}: {run:?}");
        run
    }
}

/// The host name cronbeat reports.
pub fn host_name() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}
