//! What the monitor tests share: a recording HTTP server on 127.0.0.1:0, the real cronbeat binary run
//! under a hard outer timeout, and the four ways a run ends (success, failure, overrun, signal).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_cronbeat");

/// No cronbeat run in these tests may take longer; past it the run is killed and the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Without the query string, as sent.
    pub path: String,
    /// Percent-decoded, in order.
    pub params: Vec<(String, String)>,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// Answers every request `200` with `headers`, and hands each one to the test.
pub struct Server {
    pub port: u16,
    requests: Receiver<Request>,
}

impl Server {
    pub fn start() -> Server {
        Server::with_headers(&[])
    }

    pub fn with_headers(headers: &[(&str, &str)]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let extra: String = headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let tx = tx.clone();
                let extra = extra.clone();
                std::thread::spawn(move || serve(stream, tx, &extra));
            }
        });
        Server { port, requests: rx }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far. cronbeat waits for its pings to be answered before it exits, and
    /// the server records a request before answering it, so after a run this is complete.
    pub fn received(&self) -> Vec<Request> {
        self.requests.try_iter().collect()
    }
}

fn serve(stream: TcpStream, tx: Sender<Request>, extra: &str) {
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        assert!(!chunked, "cronbeat must not send chunked bodies");
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let request = Request {
            method,
            path: path.to_string(),
            params: parse_query(query),
            headers,
            body,
        };
        let _ = tx.send(request);
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{extra}\r\nOK");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(n), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
