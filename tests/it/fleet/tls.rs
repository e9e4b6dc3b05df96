//! TLS to the engines: `rediss://` and `sslmode=`, against servers with a certificate for 127.0.0.1
//! from a CA of the test's own (CRONBEAT_TEST_TLS_DIR: `ca.pem`, `server.pem`, `server.key`, made by
//! .ci/run, whose PostgreSQL serves that certificate).

use std::path::PathBuf;

use super::*;
use crate::harness::*;

fn tls_dir() -> Option<PathBuf> {
    match std::env::var_os("CRONBEAT_TEST_TLS_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            missing("CRONBEAT_TEST_TLS_DIR is not set to a directory with ca.pem, server.pem and server.key (.ci/run makes one)");
            None
        }
    }
}

fn token_run(url: &str) -> Cronbeat {
    cronbeat()
        .env("CRONBEAT_LOCK", url)
        .args(["--name", &unique("tls")])
        .args(["--", "sh", "-c", "echo token=$CRONBEAT_FENCING_TOKEN"])
}

#[test]
fn rediss_checks_the_certificate() {
    let Some(dir) = tls_dir() else { return };
    let Some(server) = PrivateRedis::start_tls(&dir) else {
        return;
    };
    let ca = dir.join("ca.pem");
    let out = token_run(&server.url).env("SSL_CERT_FILE", &ca).run();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.starts_with("token="), "{}", out.stdout);
    // Not trusted without the CA: not run, and the reason said.
    let out = token_run(&server.url).run();
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
    // Plain text to a TLS port gets no answer a client could take for one.
    let plain = server.url.replace("rediss://", "redis://");
    let out = token_run(&plain).run();
    assert_eq!(out.code(), 75, "{out:?}");
}

#[test]
fn postgres_sslmode_as_libpq_reads_it() {
    let Some(dir) = tls_dir() else { return };
    let Some(url) = engine(Kind::Postgres) else {
        return;
    };
    let ca = dir.join("ca.pem").display().to_string();
    for (query, works) in [
        ("?sslmode=require", true),
        ("?sslmode=prefer", true),
        (&format!("?sslmode=verify-full&sslrootcert={ca}")[..], true),
        (&format!("?sslmode=verify-ca&sslrootcert={ca}")[..], true),
        // The bundled roots do not know the test's CA.
        ("?sslmode=verify-full", false),
        ("?sslmode=disable", true),
    ] {
        let out = token_run(&format!("{url}{query}")).run();
        if works {
            assert_eq!(out.code(), 0, "{query}: {out:?}");
            assert!(out.stdout.starts_with("token="), "{query}: {}", out.stdout);
        } else {
            assert_eq!(out.code(), 75, "{query}: {out:?}");
            assert!(
                out.stderr.contains("certificate"),
                "{query}: {}",
                out.stderr
            );
        }
    }
    // A CA that did not sign the server's certificate is refused too.
    let other = Dir::new();
    let bogus = other.write(
        "bogus.pem",
        &std::fs::read_to_string(dir.join("server.pem")).unwrap(),
    );
    let out = token_run(&format!("{url}?sslmode=verify-full&sslrootcert={bogus}")).run();
    assert_eq!(out.code(), 75, "{out:?}");
}
