//! The test HTTP server, checked with a raw TcpStream client so heartbeat tests can trust what it records.

use crate::harness::{refused_url, Behavior, Server};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(3);

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    stream.set_write_timeout(Some(T)).unwrap();
    stream
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_response(r: &mut BufReader<TcpStream>) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .expect("status line")
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        match line.trim_end().split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
            None => break,
        }
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len = resp
        .header("content-length")
        .expect("Content-Length")
        .parse()
        .unwrap();
    resp.body = vec![0; len];
    r.read_exact(&mut resp.body).unwrap();
    resp
}

/// One request on a fresh connection.
fn get(server: &Server, path: &str) -> Response {
    let stream = connect(server);
    write!(
        &stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_response(&mut BufReader::new(stream))
}

/// Sends one request head and returns the connection, unanswered.
fn send(server: &Server, path: &str) -> TcpStream {
    let mut stream = connect(server);
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream
}

#[test]
fn records_method_path_query_headers_and_body() {
    let server = Server::start();
    let stream = connect(&server);
    let head = "POST /key/slug/start?rid=a%2Fb%20c&create=1&m=x+y&flag HTTP/1.1\r\n\
                Host: x\r\nUser-Agent: probe/1\r\nContent-Length: 11\r\n\r\n";
    write!(&stream, "{head}hello world").unwrap();
    assert_eq!(read_response(&mut BufReader::new(stream)).status, 200);

    let req = server.next_request(T).expect("request recorded");
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/key/slug/start")
    );
    assert_eq!(req.query, "rid=a%2Fb%20c&create=1&m=x+y&flag");
    assert_eq!(req.param("rid"), Some("a/b c"));
    assert_eq!(req.param("create"), Some("1"));
    assert_eq!(req.param("m"), Some("x y"));
    assert_eq!(req.param("flag"), Some(""));
    assert_eq!(req.header("user-agent"), Some("probe/1"));
    assert_eq!(req.header("USER-AGENT"), Some("probe/1"));
    assert_eq!(req.text(), "hello world");
    assert!(!req.chunked);
    assert!(server.next_request(Duration::from_millis(100)).is_none());
}

#[test]
fn chunked_bodies_are_decoded_and_flagged() {
    let server = Server::start();
    let stream = connect(&server);
    let head = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    write!(
        &stream,
        "{head}5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut BufReader::new(stream)).status, 200);
    let req = server.next_request(T).unwrap();
    assert!(req.chunked);
    assert_eq!(req.text(), "hello world");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start();
    let stream = connect(&server);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for path in ["/a", "/b"] {
        write!(
            &stream,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        )
        .unwrap();
        assert_eq!(read_response(&mut reader).status, 200);
    }
    get(&server, "/c");
    let reqs = server.wait_for(3, T);
    let conns: Vec<usize> = reqs.iter().map(|r| r.conn).collect();
    assert_eq!(
        reqs.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/a", "/b", "/c"]
    );
    assert_eq!(conns[0], conns[1]);
    assert_ne!(conns[1], conns[2]);
}

#[test]
fn queue_runs_before_default_and_longest_prefix_wins() {
    let server = Server::start();
    server.respond("", Behavior::status(200).body("fine"));
    server.respond_seq("/hc", [Behavior::status(500), Behavior::status(503)]);
    server.respond("/other", Behavior::status(404));
    server.respond(
        "/other/special",
        Behavior::status(429).header("Retry-After", "1"),
    );

    let statuses: Vec<u16> = (0..4).map(|_| get(&server, "/hc/start").status).collect();
    assert_eq!(statuses, [500, 503, 200, 200]);
    assert_eq!(get(&server, "/hc/0").body, b"fine");
    assert_eq!(get(&server, "/other/x").status, 404);
    let limited = get(&server, "/other/special?rid=1");
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("1"))
    );
    server.respond("", Behavior::status(200).header("Ping-Body-Limit", "100"));
    assert_eq!(get(&server, "/x").header("ping-body-limit"), Some("100"));
}

#[test]
fn wait_for_returns_once_enough_requests_arrived() {
    let server = Server::start();
    thread::scope(|s| {
        for i in 0..3 {
            let server = &server;
            s.spawn(move || get(server, &format!("/{i}")));
        }
    });
    assert_eq!(server.wait_for(3, T).len(), 3);
    let started = Instant::now();
    assert_eq!(server.wait_for(4, Duration::from_millis(200)).len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn hang_reads_the_request_and_never_answers_until_dropped() {
    let server = Server::start();
    server.respond("/slow", Behavior::Hang);
    let mut stream = send(&server, "/slow/start");
    assert_eq!(server.next_request(T).unwrap().path, "/slow/start");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = stream.read(&mut [0; 16]).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );

    stream.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    drop(server);
    assert_eq!(
        stream.read(&mut [0; 16]).unwrap(),
        0,
        "closed without an answer"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn reset_closes_the_connection_with_a_tcp_reset() {
    let server = Server::start();
    server.respond("", Behavior::Reset);
    let mut stream = send(&server, "/x");
    let err = stream.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn drip_answers_one_byte_per_second() {
    let server = Server::start();
    server.respond("", Behavior::Drip);
    let mut stream = send(&server, "/x");
    let mut byte = [0; 1];
    stream.read_exact(&mut byte).unwrap();
    let first = Instant::now();
    assert_eq!(byte[0], b'H');
    stream.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0], b'T');
    assert!(
        first.elapsed() >= Duration::from_millis(700),
        "{:?}",
        first.elapsed()
    );
}

#[test]
fn garbage_is_not_http() {
    let server = Server::start();
    server.respond("", Behavior::Garbage);
    let mut stream = send(&server, "/x");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert!(!got.is_empty() && !got.starts_with(b"HTTP/"));
}

#[test]
fn huge_body_streams_until_the_client_hangs_up() {
    let server = Server::start();
    server.respond("", Behavior::HugeBody);
    let mut reader = BufReader::new(send(&server, "/x"));
    let mut line = String::new();
    let mut length = 0u64;
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    assert!(length >= 4 << 30, "{length}");
    let mut chunk = vec![1u8; 4 << 20];
    reader.read_exact(&mut chunk).unwrap();
    assert!(chunk.iter().all(|&b| b == 0));
    assert_eq!(server.open_connections(), 1);
    drop(reader);
    assert!(
        server.wait_closed(T),
        "server stops writing once the client is gone"
    );
}

#[test]
fn redirect_sends_location() {
    let server = Server::start();
    let target = format!("{}/elsewhere", server.url());
    server.respond("/r", Behavior::Redirect(target.clone()));
    let resp = get(&server, "/r");
    assert_eq!(
        (resp.status, resp.header("location")),
        (302, Some(target.as_str()))
    );
}

#[test]
fn refused_url_refuses_connections() {
    let url = refused_url();
    let addr = url.strip_prefix("http://127.0.0.1:").expect(&url);
    let err = TcpStream::connect(("127.0.0.1", addr.parse::<u16>().unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn drop_closes_idle_connections_and_the_listener_promptly() {
    let server = Server::start();
    let addr = server.addr();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let stream = connect(&server);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    write!(&stream, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut reader).status, 200);

    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        reader.read(&mut [0; 16]).unwrap(),
        0,
        "idle keep-alive connection closed"
    );
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}
