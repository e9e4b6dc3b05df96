//! Monitors that misbehave: whatever they do, the job's status and output are untouched and the run
//! stays within the documented bound.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::*;

const SECRET: &str = "0f3a5c1e-9d2b-4c7a-8e6f-1b2c3d4e5f60";

/// A run of `sh -c 'echo job; exit 3'` against `url` with short ping limits.
fn job_against(url: &str, env: &[(&str, &str)]) -> Output {
    let dir = Dir::new();
    cronbeat()
        .args([
            "--ping-timeout",
            "1s",
            "--ping-retries",
            "1",
            "--ping",
            url,
            "--",
            "sh",
            "-c",
            "echo job; exit 3",
        ])
        .envs(env)
        .dir(dir.path())
        .run()
}

/// Status and output untouched, within (retries+1)·timeout + retries·5 s per ping, two pings.
fn assert_job_untouched(out: &Output) {
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr);
    assert_eq!(out.stdout, "job\n");
    assert!(out.elapsed < Duration::from_secs(14), "{:?}", out.elapsed);
    assert!(
        !out.stderr.contains(SECRET),
        "secret leaked: {}",
        out.stderr
    );
}

#[test]
fn a_monitor_that_drips_one_byte_a_second() {
    let server = Server::start();
    server.respond("", Behavior::Drip);
    let out = job_against(&format!("{}/{SECRET}", server.url()), &[]);
    assert_job_untouched(&out);
}

#[test]
fn a_multi_gigabyte_answer_is_never_read_to_the_end() {
    let server = Server::start();
    server.respond("", Behavior::HugeBody);
    let out = job_against(&format!("{}/{SECRET}", server.url()), &[]);
    assert_job_untouched(&out);
    // 8 GiB cannot be read in the time the run took; it hung up after a small part.
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    assert!(server.wait_closed(Duration::from_secs(5)));
}

#[test]
fn redirects_are_not_followed_so_the_secret_is_not_resent() {
    let elsewhere = Server::start();
    let server = Server::start();
    server.respond(
        "/loop",
        Behavior::Redirect(format!("{}/loop/{SECRET}", server.url())),
    );
    server.respond(
        "/away",
        Behavior::Redirect(format!("{}/{SECRET}", elsewhere.url())),
    );
    for path in ["loop", "away"] {
        let out = job_against(&format!("{}/{path}/{SECRET}", server.url()), &[]);
        assert_job_untouched(&out);
        assert!(out.stderr.contains("redirect"), "{}", out.stderr);
    }
    // One request per ping, no retry, nothing at the other host.
    assert_eq!(server.requests().len(), 4);
    assert!(elsewhere.requests().is_empty());
}

#[test]
fn garbage_instead_of_http() {
    let server = Server::start();
    server.respond("", Behavior::Garbage);
    let out = job_against(&format!("{}/{SECRET}", server.url()), &[]);
    assert_job_untouched(&out);
    assert!(out.stderr.contains("failed"), "{}", out.stderr);
}

#[test]
fn a_name_that_does_not_resolve() {
    let out = job_against(&format!("http://no-such-monitor.invalid/{SECRET}"), &[]);
    assert_job_untouched(&out);
    assert!(
        out.stderr.contains("no-such-monitor.invalid"),
        "{}",
        out.stderr
    );
}

/// `openssl s_server` with a fresh self-signed certificate, counting connections in its output.
struct TlsServer {
    child: Child,
    port: u16,
    _dir: Dir,
}

impl TlsServer {
    /// A private CA (`ca.pem`) and a server certificate it signed for 127.0.0.1.
    fn start() -> Option<TlsServer> {
        let dir = Dir::new();
        let key = dir.join("key.pem");
        let cert = dir.join("cert.pem");
        let ext = dir.write(
            "ext.cnf",
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        );
        let run = |args: &[&str]| {
            Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        let made = run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=cronbeat test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]) && run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ]) && run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "cert.pem",
            "-extfile",
            &ext,
        ]);
        if !made {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-key")
            .arg(&key)
            .arg("-cert")
            .arg(&cert)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        // Ready once it accepts connections.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(TlsServer {
                    child,
                    port,
                    _dir: dir,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_without_retries() {
    let Some(server) = TlsServer::start() else {
        missing("openssl, to make a TLS server");
        return;
    };
    let url = format!("https://127.0.0.1:{}/{SECRET}", server.port);
    let dir = Dir::new();
    let out = cronbeat()
        .args([
            "--ping-retries",
            "3",
            "--ping",
            &url,
            "--",
            "sh",
            "-c",
            "echo job; exit 3",
        ])
        .dir(dir.path())
        .run();
    assert_job_untouched(&out);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    for line in lines {
        assert!(line.contains("certificate"), "{line}");
        // Given up at the first attempt: a certificate does not become trusted by asking again.
        assert!(line.contains("after 1 attempt:"), "{line}");
    }
    // No backoff waits were spent either.
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
}

#[test]
fn a_private_ca_in_ssl_cert_file_is_trusted() {
    let Some(server) = TlsServer::start() else {
        missing("openssl, to make a TLS server");
        return;
    };
    let ca = server._dir.join("ca.pem");
    let url = format!("https://127.0.0.1:{}/{SECRET}", server.port);
    let dir = Dir::new();
    // s_server answers no HTTP, so the ping fails, but past the handshake: not a certificate error.
    let out = cronbeat()
        .args([
            "--ping-timeout",
            "1s",
            "--ping-retries",
            "0",
            "--ping",
            &url,
            "--",
            "true",
        ])
        .envs(&[("SSL_CERT_FILE", ca.to_str().unwrap())])
        .dir(dir.path())
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stderr.contains("certificate"), "{}", out.stderr);
}

/// A resolver that never answers holds a lookup thread that no timeout can stop; the run must still end
/// within its bound. Made here by replacing `/etc/hosts` with a FIFO nobody writes, in a private mount
/// namespace (needs `unshare -m` and bind mounts: root or CAP_SYS_ADMIN).
#[test]
fn a_name_lookup_that_hangs_is_cut_at_the_ping_timeout() {
    let dir = Dir::new();
    let fifo = dir.join("hosts");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let in_namespace = |program: &[&str]| {
        Cronbeat::program("unshare")
            .args(["-m", "sh", "-c"])
            .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
            .arg(&fifo)
            .args(program)
    };
    if !in_namespace(&["true"]).run().status.success() {
        missing("a private mount namespace (unshare -m), to make a resolver hang");
        return;
    }
    let url = format!("http://monitor.example/{SECRET}");
    // Two pings of one 1 s attempt each; a wait for the stuck lookup would never end.
    let out = in_namespace(&[
        BIN,
        "--ping-timeout",
        "1s",
        "--ping-retries",
        "0",
        "--ping",
        &url,
        "--",
        "sh",
        "-c",
        "echo job; exit 3",
    ])
    .limit(Duration::from_secs(10))
    .run();
    let (status, stdout, stderr, elapsed) = (out.status, out.stdout, out.stderr, out.elapsed);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_eq!(stdout, "job\n");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    for line in lines {
        assert!(line.contains("monitor.example"), "{line}");
        assert!(line.contains("no answer within 1s"), "{line}");
    }
    assert!(!stderr.contains(SECRET), "secret leaked: {stderr}");
}
