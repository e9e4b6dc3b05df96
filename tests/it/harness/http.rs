//! A small HTTP/1.1 server for tests: it binds 127.0.0.1:0, records every request, and answers as scripted,
//! including the ways a real monitor misbehaves (hanging, resetting, dripping, garbage, endless bodies).

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How the server answers one request. The request is always read in full and recorded first.
#[derive(Clone, Debug, PartialEq)]
pub enum Behavior {
    /// A complete response with `Content-Length`; the connection stays open for the next request.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answer; the socket stays open until the client hangs up or the server is dropped.
    Hang,
    /// Close with `SO_LINGER` 0 so the client gets a TCP RST (`ECONNRESET`) instead of an answer.
    Reset,
    /// `200` with the body `ok`, written one byte per second.
    Drip,
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// `200` announcing an 8 GiB body, then zeros until the client hangs up.
    HugeBody,
    /// `302 Found` with `Location: <url>`.
    Redirect(String),
}

impl Behavior {
    pub fn status(status: u16) -> Self {
        Behavior::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a response header; only for `Respond`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            Behavior::Respond { headers, .. } => headers.push((name.into(), value.into())),
            other => panic!("header() needs Behavior::Respond, not {other:?}"),
        }
        self
    }

    /// Sets the response body; only for `Respond`.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        match &mut self {
            Behavior::Respond { body, .. } => *body = bytes.into(),
            other => panic!("body() needs Behavior::Respond, not {other:?}"),
        }
        self
    }
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path as sent: without the query string, not decoded.
    pub path: String,
    /// The raw query string without `?`; empty when there is none.
    pub query: String,
    /// Query parameters in order, percent-decoded (`+` as a space).
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// The body, already decoded when it came chunked.
    pub body: Vec<u8>,
    /// The body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// When the request line arrived.
    pub at: Instant,
    /// Index of the TCP connection, from 0 in accept order: equal values mean a reused connection.
    pub conn: usize,
}

impl Request {
    /// First header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// First query parameter with this name, decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The query parameters' names, in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }
}

/// For one path prefix: one-shot answers, then the default.
type Script = (VecDeque<Behavior>, Option<Behavior>);

struct Shared {
    stop: AtomicBool,
    rules: Mutex<HashMap<String, Script>>,
    log: Mutex<Vec<Request>>,
    arrived: Condvar,
    /// Clones of the open connections, so dropping the server can shut them down.
    open: Mutex<HashMap<usize, TcpStream>>,
}

impl Shared {
    /// The longest matching prefix that has something to give decides: its queue first, then its default.
    fn choose(&self, path: &str) -> Behavior {
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .filter(|(prefix, (queue, default))| {
                path.starts_with(prefix.as_str()) && (!queue.is_empty() || default.is_some())
            })
            .max_by_key(|(prefix, _)| prefix.len());
        match rule {
            Some((_, (queue, default))) => queue.pop_front().or_else(|| default.clone()).unwrap(),
            None => Behavior::status(200),
        }
    }
}

/// The server; it stops when dropped: the listener closes and every open connection is shut down.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    rx: Mutex<Receiver<Request>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server that answers `200` with an empty body until told otherwise.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            rules: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            open: Mutex::new(HashMap::new()),
        });
        let (tx, rx) = mpsc::channel();
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept_loop(listener, shared, tx))
        };
        Server {
            addr,
            shared,
            rx: Mutex::new(rx),
            acceptor: Some(acceptor),
        }
    }

    /// A server that answers every request `200` with these headers.
    pub fn with_headers(headers: &[(&str, &str)]) -> Server {
        let server = Server::start();
        let answer = headers
            .iter()
            .fold(Behavior::status(200), |b, (n, v)| b.header(n, v));
        server.respond("", answer);
        server
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on, answer requests whose path starts with `prefix` this way once their queue is empty.
    /// `""` matches every path; the longest matching prefix wins.
    pub fn respond(&self, prefix: &str, behavior: Behavior) {
        let mut rules = self.shared.rules.lock().unwrap();
        rules.entry(prefix.into()).or_default().1 = Some(behavior);
    }

    /// Queues one-shot answers for `prefix`, used in order before its default (e.g. `[500]` then `200`).
    pub fn respond_seq(&self, prefix: &str, seq: impl IntoIterator<Item = Behavior>) {
        let mut rules = self.shared.rules.lock().unwrap();
        rules.entry(prefix.into()).or_default().0.extend(seq);
    }

    /// The next request not yet taken by this method, in arrival order, or `None` after `timeout`.
    pub fn next_request(&self, timeout: Duration) -> Option<Request> {
        self.rx.lock().unwrap().recv_timeout(timeout).ok()
    }

    /// Every request recorded so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Every request so far, none of them with a chunked body. cronbeat waits for its pings to be
    /// answered before it exits, and the server records a request before answering it, so after a run
    /// this is complete.
    #[track_caller]
    pub fn received(&self) -> Vec<Request> {
        let requests = self.requests();
        assert!(
            requests.iter().all(|r| !r.chunked),
            "cronbeat must not send chunked bodies: {requests:#?}"
        );
        requests
    }

    /// Waits until at least `n` requests were recorded or `timeout` passed; returns all recorded so far.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let log = self.shared.log.lock().unwrap();
        let (log, _) = self
            .shared
            .arrived
            .wait_timeout_while(log, timeout, |l| l.len() < n)
            .unwrap();
        log.clone()
    }

    /// Connections currently open on the server side.
    pub fn open_connections(&self) -> usize {
        self.shared.open.lock().unwrap().len()
    }

    /// Waits until every connection was closed (e.g. the client hung up on `HugeBody`); false on timeout.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.open_connections() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the loop sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in self.shared.open.lock().unwrap().values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens, so connecting is refused.
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    format!("http://{}", listener.local_addr().unwrap())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tx: Sender<Request>) {
    for (conn, stream) in listener.incoming().enumerate() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if let Ok(clone) = stream.try_clone() {
            shared.open.lock().unwrap().insert(conn, clone);
        }
        let (shared, tx) = (shared.clone(), tx.clone());
        thread::spawn(move || {
            let _ = serve(conn, stream, &shared, &tx);
            shared.open.lock().unwrap().remove(&conn);
        });
    }
}

fn serve(conn: usize, stream: TcpStream, shared: &Shared, tx: &Sender<Request>) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    while let Some(req) = read_request(&mut reader, conn)? {
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let behavior = shared.choose(&req.path);
        // Recorded before answering, so a client that got its answer finds the request already there.
        shared.log.lock().unwrap().push(req.clone());
        shared.arrived.notify_all();
        let _ = tx.send(req);
        match behavior {
            Behavior::Respond {
                status,
                headers,
                body,
            } => write_response(&mut out, status, &headers, &body)?,
            Behavior::Redirect(url) => {
                write_response(&mut out, 302, &[("Location".into(), url)], b"")?
            }
            Behavior::Hang => {
                // Reads to EOF: the client hanging up or the server's shutdown on drop ends it.
                io::copy(&mut reader, &mut io::sink())?;
                return Ok(());
            }
            Behavior::Reset => return set_linger_zero(&out), // the last close then sends RST
            Behavior::Drip => {
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                    out.write_all(&[*byte])?;
                    thread::sleep(Duration::from_secs(1));
                }
                return Ok(());
            }
            Behavior::Garbage => {
                return out.write_all(b"\x00\xff\xfeSSH-2.0-not-http\r\n\x1b[2J\r\n\r\n")
            }
            Behavior::HugeBody => {
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8589934592\r\n\r\n")?;
                let zeros = [0u8; 64 * 1024];
                loop {
                    out.write_all(&zeros)?;
                }
            }
        }
        if close {
            break;
        }
    }
    Ok(())
}

fn read_request(r: &mut BufReader<TcpStream>, conn: usize) -> io::Result<Option<Request>> {
    let mut line = String::new();
    // Tolerates stray CRLFs between keep-alive requests.
    while line.trim().is_empty() {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
    }
    let at = Instant::now();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut req = Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        params: parse_query(query),
        headers,
        body: Vec::new(),
        chunked: false,
        at,
        conn,
    };
    req.chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if req.chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad Content-Length"))?;
        req.body = vec![0; len];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn read_chunked(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line.clear();
        r.read_line(&mut line)?; // the CRLF after the chunk
    }
    loop {
        line.clear(); // trailers, up to the empty line
        if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(body);
        }
    }
}

fn write_response(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    out.write_all(&bytes)
}

/// Clients act on the code; the phrase only has to be there.
fn reason(status: u16) -> &'static str {
    match status / 100 {
        2 => "OK",
        3 => "Redirect",
        4 => "Client Error",
        _ => "Server Error",
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    let pairs = query.split('&').filter(|p| !p.is_empty());
    pairs
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn set_linger_zero(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open while `stream` lives, and the pointer and length describe `linger`.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
