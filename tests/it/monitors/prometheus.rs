//! Prometheus beyond the table of endings (`endings.rs`): a real Pushgateway keeps the last success
//! through a failure (POST, not PUT), and the node_exporter textfile is replaced whole and passes
//! `promtool`. The Pushgateway comes from CRONBEAT_TEST_PUSHGATEWAY (host:port, started by .ci/run);
//! under CI=true a missing Pushgateway or promtool is a failure, elsewhere a skip.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::{Command, Stdio};

use super::endings::{gauges, Ending, METRICS};
use crate::harness::*;

/// Sample lines (`name{labels} value`) → value, for lines containing `filter`.
fn samples(text: &str, filter: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(filter))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The real Pushgateway's `host:port` from CRONBEAT_TEST_PUSHGATEWAY, if it answers. Without one the
/// test fails under CI and is skipped elsewhere.
fn pushgateway() -> Option<String> {
    let Ok(addr) = std::env::var("CRONBEAT_TEST_PUSHGATEWAY") else {
        missing("CRONBEAT_TEST_PUSHGATEWAY is not set to the host:port of a running Pushgateway (.ci/run starts one)");
        return None;
    };
    let reachable = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(5)).is_ok());
    if !reachable {
        missing(&format!(
            "no Pushgateway answers at CRONBEAT_TEST_PUSHGATEWAY={addr}"
        ));
        return None;
    }
    Some(addr)
}

fn http(addr: &str, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 2") || answer.starts_with("HTTP/1.1 2"),
        "{answer}"
    );
    answer
}

#[test]
fn a_real_pushgateway_keeps_the_last_success_through_a_failure() {
    let Some(addr) = pushgateway() else { return };
    let job = format!(
        "cronbeat_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let spec = format!("pushgateway+http://{addr}/?job={job}&instance=db 1");
    let filter = format!("job=\"{job}\"");

    Ending::Success.run(std::slice::from_ref(&spec));
    let first = samples(&http(&addr, "GET", "/metrics"), &filter);
    let key = |name: &str| {
        first
            .keys()
            .find(|k| k.starts_with(&format!("{name}{{")))
            .unwrap_or_else(|| panic!("no {name} for {job}: {first:#?}"))
            .clone()
    };
    let success = key("cronbeat_last_success_timestamp_seconds");
    assert!(success.contains("instance=\"db 1\""), "{success}");
    assert_eq!(first[&key("cronbeat_exit_status")], 0.0);
    key("push_time_seconds");

    Ending::Failure.run(&[spec]);
    let second = samples(&http(&addr, "GET", "/metrics"), &filter);
    assert_eq!(
        second[&success], first[&success],
        "the last success survives"
    );
    assert_eq!(second[&key("cronbeat_exit_status")], 3.0);
    let outcome = |word: &str| {
        second
            .iter()
            .find(|(k, _)| {
                k.starts_with("cronbeat_outcome{") && k.contains(&format!("outcome=\"{word}\""))
            })
            .map(|(_, v)| *v)
    };
    assert_eq!(outcome("failure"), Some(1.0));
    assert_eq!(outcome("success"), Some(0.0));
    let completion = key("cronbeat_last_completion_timestamp_seconds");
    assert!(second[&completion] >= first[&completion]);

    http(
        &addr,
        "DELETE",
        &format!("/metrics/job/{job}/instance/db%201"),
    );
}

/// `promtool check metrics` on the file. Without promtool the check fails under CI and is skipped
/// elsewhere.
pub fn promtool_check(path: &Path) {
    let input = std::fs::File::open(path).unwrap();
    let checked = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    match checked {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            missing("promtool is not installed (Debian package `prometheus`) to check the textfile")
        }
        Err(e) => panic!("promtool: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn textfile_is_replaced_whole_and_keeps_the_last_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.prom");
    let ping = format!("textfile:{}", path.display());
    // The first run waits for the start's file and shows it: last start only, nothing to keep yet.
    let script = format!(
        "while [ ! -e '{0}' ]; do sleep 0.02; done; echo \"run $CRONBEAT_RUN_ID\"; cat '{0}'",
        path.display()
    );
    let run = cronbeat()
        .args(&[
            "--ping".into(),
            ping.clone(),
            "--".into(),
            "sh".into(),
            "-c".into(),
            script,
        ])
        .run();
    assert_eq!(run.code(), 0, "{run:?}");
    assert_eq!(
        gauges(&run.stdout),
        ["cronbeat_last_start_timestamp_seconds"]
    );

    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(gauges(&first), METRICS);
    let values = samples(&first, "job_name=\"backup\"");
    assert_eq!(values.len(), 14, "{first}");
    assert_eq!(values["cronbeat_exit_status{job_name=\"backup\"}"], 0.0);
    assert_eq!(
        values["cronbeat_outcome{job_name=\"backup\",outcome=\"success\"}"],
        1.0
    );
    promtool_check(&path);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter must be able to read it");

    Ending::Failure.run(&[ping]);
    let second = std::fs::read_to_string(&path).unwrap();
    promtool_check(&path);
    let after = samples(&second, "job_name=\"backup\"");
    let success = "cronbeat_last_success_timestamp_seconds{job_name=\"backup\"}";
    assert_eq!(after[success], values[success], "{second}");
    assert_eq!(after["cronbeat_exit_status{job_name=\"backup\"}"], 3.0);
    assert_eq!(
        after["cronbeat_outcome{job_name=\"backup\",outcome=\"failure\"}"],
        1.0
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["backup.prom"], "no temp file left behind");
}
