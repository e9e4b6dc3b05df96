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

/// The fleet ledger reaches the engine over the fleet lock's TLS code: a run is recorded and read back
/// over a checked certificate; with a certificate it cannot check, the run still runs (one warning) and
/// the check is UNKNOWN.
#[test]
fn the_fleet_ledger_checks_the_certificate_as_the_lock_does() {
    let Some(dir) = tls_dir() else { return };
    let Some(url) = engine(Kind::Postgres) else {
        return;
    };
    let Some(redis) = PrivateRedis::start_tls(&dir) else {
        return;
    };
    let ca = dir.join("ca.pem");
    let trusted = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let untrusted = format!("{url}?sslmode=verify-full");
    for (good, bad, cert_file) in [
        (trusted.as_str(), untrusted.as_str(), None),
        (redis.url.as_str(), redis.url.as_str(), Some(&ca)),
    ] {
        let name = unique("tls-ledger");
        let with_ca = |c: Cronbeat| match cert_file {
            Some(ca) => c.env("SSL_CERT_FILE", ca),
            None => c,
        };
        let out = with_ca(cronbeat())
            .args([
                "--ledger-url",
                good,
                "--name",
                &name,
                "--host-id",
                "tls-host",
            ])
            .args(["--", "echo", "ran"])
            .run();
        out.assert_code(0);
        assert_eq!(out.stderr, "", "{good}");
        let status = with_ca(cronbeat())
            .args(["status", "--fleet", good, "--json", &name])
            .run();
        status.assert_code(0);
        let jobs: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(jobs[0]["last_host"], "tls-host", "{}", status.stdout);
        // Not trusted: the command runs and exits as it did, with one warning; the check cannot tell.
        let out = cronbeat()
            .args(["--ledger-url", bad, "--name", &name, "--", "echo", "ran"])
            .run();
        out.assert_code(0);
        assert_eq!(out.stdout, "ran\n");
        let line = out.one_error_line();
        assert!(line.contains("fleet ledger"), "{line}");
        let check = cronbeat()
            .args(["status", "--fleet", bad, "--check", &name])
            .run();
        assert_eq!(check.code(), 3, "{}", check.dump());
        assert!(
            check.stdout.starts_with("CRONBEAT UNKNOWN"),
            "{}",
            check.stdout
        );
    }
}
