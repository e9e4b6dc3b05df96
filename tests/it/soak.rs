//! Soak: thousands of consecutive wrapped runs against a monitor that fails at random.
//! Excluded from the default run; start it with
//! `cargo test --release --test it soak -- --ignored --nocapture` (bounded: it stops after SOAK_SECONDS, default 600).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

fn fds_of_self() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Processes whose environment carries `marker`: anything a run left behind.
fn survivors(marker: &str) -> Vec<String> {
    let needle = format!("SOAK_MARK={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(env) = std::fs::read(entry.path().join("environ")) {
            if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                found.push(stat);
            }
        }
    }
    found
}

#[test]
#[ignore = "soak: run with --ignored"]
fn two_thousand_runs_against_a_flaky_monitor() {
    let runs: usize = std::env::var("SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let budget = Duration::from_secs(
        std::env::var("SOAK_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600),
    );
    let server = Server::start();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    // A monitor that fails about one answer in four, in several ways.
    let script: Vec<Behavior> = (0..runs * 4)
        .map(|_| match rng.u8(0..32) {
            0 => Behavior::status(500),
            1 => Behavior::Reset,
            2..=7 => Behavior::status(503).header("Retry-After", "0"),
            _ => Behavior::status(200),
        })
        .collect();
    server.respond_seq("", script);
    let marker = format!("{}-{}", std::process::id(), rng.u64(..));
    let fds_before = fds_of_self();
    // What the same shell script started without cronbeat holds: the baseline for what cronbeat may pass on.
    let bare = Command::new("sh")
        .args(["-c", "sleep 0 & echo rid; ls /proc/self/fd"])
        .output()
        .unwrap();
    let bare_fds = String::from_utf8_lossy(&bare.stdout).lines().count() - 1;
    let started = Instant::now();
    let mut expected: HashMap<String, i32> = HashMap::new();
    let mut warned = 0usize;

    for i in 0..runs {
        assert!(
            started.elapsed() < budget,
            "soak exceeded its {budget:?} budget at run {i}"
        );
        let code = (i % 7) as i32;
        let out = cronbeat()
            .args(["--ping", &format!("{}/soak-check", server.url())])
            .args([
                "--ping-timeout",
                "2s",
                "--ping-retries",
                "3",
                "--timeout",
                "20s",
            ])
            .env("SOAK_MARK", &marker)
            .args(["--", "sh", "-c"])
            .arg(format!(
                "sleep 30 & echo \"$CRONBEAT_RUN_ID\"; ls /proc/self/fd; exit {code}"
            ))
            .run();
        assert_eq!(out.status.code(), Some(code), "run {i}: {:?}", out);
        let mut lines = out.stdout.lines();
        let rid = lines.next().unwrap().to_string();
        let fds = lines.count();
        assert_eq!(
            fds, bare_fds,
            "run {i}: cronbeat passed descriptors of its own to the command"
        );
        warned += out
            .stderr
            .lines()
            .filter(|l| l.contains("failed after"))
            .count();
        expected.insert(rid, code);
    }

    // Every run's start and finish reached the monitor (the finish with the run's exit code), each
    // tried at most retries+1 times: no ping lost, no retry storm.
    let requests = server.wait_for(runs * 2, Duration::from_secs(5));
    let mut attempts: HashMap<(String, String), usize> = HashMap::new();
    for r in &requests {
        let rid = r.param("rid").unwrap_or_default().to_string();
        let moment = r.path.rsplit('/').next().unwrap_or_default().to_string();
        *attempts.entry((rid, moment)).or_default() += 1;
    }
    for (rid, code) in &expected {
        for moment in ["start".to_string(), code.to_string()] {
            let tries = attempts
                .get(&(rid.clone(), moment.clone()))
                .copied()
                .unwrap_or(0);
            assert!(
                (1..=4).contains(&tries),
                "run {rid}: {moment} ping tried {tries} times"
            );
        }
    }
    assert_eq!(
        attempts.len(),
        runs * 2,
        "requests for unknown runs or moments"
    );
    let left = survivors(&marker);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    // The recording server's connections close as cronbeat exits; give them a moment, then compare.
    assert!(server.wait_closed(Duration::from_secs(5)));
    assert!(
        fds_of_self() <= fds_before + 2,
        "descriptors leaked in the test process"
    );
    println!(
        "soak: {runs} runs in {:.1}s, {} requests, {warned} pings given up after every retry",
        started.elapsed().as_secs_f64(),
        requests.len()
    );
}
