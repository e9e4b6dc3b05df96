//! The fleet recipe as an operator runs it: one crontab on several hosts, each with its own clock,
//! ledger and `status --check`, against the real engines. Hosts' clocks are set with libfaketime
//! (`faketime`), so that twenty daily ticks pass in seconds and one host can run ahead of the others.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::harness::*;

on_both!(
    losing_the_tick_is_no_failure_on_any_host,
    a_host_whose_clock_is_ahead_does_not_burn_the_tick,
    a_lease_that_cannot_be_renewed_ends_the_command_before_it_expires,
);

const DAILY: [&str; 6] = ["--schedule", "0 3 * * *", "--tz", "UTC", "--grace", "1h"];

/// Three hosts run the same daily job for twenty days, all firing at 03:00:0x: each tick runs on exactly
/// one host, the monitor hears of each tick once, and on every host the ledger records the ticks it lost
/// as skipped, so that `status --check` stays OK everywhere.
fn losing_the_tick_is_no_failure_on_any_host(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    if cronbeat_at("2026-01-01 00:00:00").is_none() {
        return;
    }
    let name = unique("twenty");
    let monitor = Server::start();
    let ping = format!(
        "{}/ping/0c1e0d3a-5b7f-4f4e-9a57-1f0e8e4c2b11",
        monitor.url()
    );
    let hosts: Vec<(String, Dir)> = (0..3).map(|i| (format!("h{i}"), Dir::new())).collect();
    let run = |day: u32, (host, state): &(String, Dir), second: u32| {
        cronbeat_at(&format!("2026-01-{day:02} 03:00:{second:02}"))
            .unwrap()
            .env("CRONBEAT_LOCK", &url)
            .env("CRONBEAT_PING", &ping)
            .env("CRONBEAT_STATE_DIR", state.path())
            .args(["--name", &name, "--host-id", host])
            .args(DAILY)
            .args(["--", "sh", "-c", "echo ran"])
            .spawn()
    };
    let mut winners = Vec::new();
    for day in 1..=20u32 {
        let runs: Vec<Running> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| run(day, host, 1 + i as u32))
            .collect();
        let outs: Vec<Output> = runs.into_iter().map(Running::wait).collect();
        let ran: Vec<usize> = (0..3).filter(|i| outs[*i].code() == 0).collect();
        assert_eq!(ran.len(), 1, "day {day}: {outs:#?}");
        for (i, out) in outs.iter().enumerate() {
            if i == ran[0] {
                assert_eq!(out.stdout, "ran\n", "day {day}");
                continue;
            }
            assert_eq!(out.code(), 75, "day {day}, h{i}: {out:?}");
            assert_eq!(out.stdout, "", "day {day}, h{i}");
        }
        winners.push(ran[0]);
    }
    // One start and one finish per tick, from the host that ran it: the others told the monitor nothing.
    let pings = monitor.received();
    assert_eq!(pings.len(), 40, "{pings:#?}");
    for (day, pair) in pings.chunks(2).enumerate() {
        assert!(
            pair[0].path.ends_with("/start"),
            "day {}: {pair:#?}",
            day + 1
        );
        assert!(pair[1].path.ends_with("/0"), "day {}: {pair:#?}", day + 1);
    }
    for (i, (host, state)) in hosts.iter().enumerate() {
        let records = records(state.path(), &name);
        assert_eq!(records.len(), 20, "{host}: {records:#?}");
        for (day, (record, winner)) in records.iter().zip(&winners).enumerate() {
            let (outcome, want) = if *winner == i {
                ("success", true)
            } else {
                ("skipped", false)
            };
            assert_eq!(record["outcome"], outcome, "{host}, day {}", day + 1);
            assert_eq!(record["success"], want, "{host}, day {}", day + 1);
            assert_eq!(record["host"], host.as_str());
        }
        let check = cronbeat_at("2026-01-20 03:10:00")
            .unwrap()
            .env("CRONBEAT_STATE_DIR", state.path())
            .args(["status", "--check"])
            .run();
        assert_eq!(check.code(), 0, "{host}: {check:?}");
        assert!(check.stdout.starts_with("CRONBEAT OK"), "{host}: {check:?}");
        let status = cronbeat_at("2026-01-20 03:10:00")
            .unwrap()
            .env("CRONBEAT_STATE_DIR", state.path())
            .args(["status", "--json"])
            .run();
        let jobs: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        let job = &jobs.as_array().unwrap()[0];
        assert_eq!(job["consecutive_failures"], 0, "{host}: {job}");
    }
}

/// The job's records in a host's ledger, oldest first.
fn records(state: &Path, name: &str) -> Vec<serde_json::Value> {
    let file = state.join("ledger").join(name).join("runs.jsonl");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A job due every minute whose 03:00 run is still going when a host with a clock 3 s ahead sees
/// 03:01: that host skips (the previous run holds the lease) and claims nothing, so the host with the
/// right clock runs the 03:01 tick once the previous run is done.
fn a_host_whose_clock_is_ahead_does_not_burn_the_tick(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let Some(first) = cronbeat_at("2026-01-05 03:00:01") else {
        return;
    };
    let name = unique("ahead");
    let host = |b: Cronbeat, id: &str| {
        b.env("CRONBEAT_LOCK", &url)
            .args(["--name", &name, "--host-id", id])
            .args(["--schedule", "* * * * *", "--tz", "UTC", "--grace", "30s"])
    };
    let gate = Gate::new();
    let mut previous = host(first, "right")
        .args(["--", "sh", "-c"])
        .arg(format!("echo ready; {}", gate.wait_script()))
        .spawn();
    previous.wait_stdout("ready", Duration::from_secs(10));
    let ahead = host(cronbeat_at("2026-01-05 03:01:00").unwrap(), "ahead")
        .args(["--", "echo", "ran ahead"])
        .run();
    assert_eq!(ahead.code(), 75, "{ahead:?}");
    assert!(
        ahead.stderr.contains("a previous run still holds"),
        "{ahead:?}"
    );
    gate.open();
    assert_eq!(previous.wait().code(), 0);
    // 03:01:03 by the right clock: the tick is still there to run.
    let right = host(cronbeat_at("2026-01-05 03:01:03").unwrap(), "right")
        .args(["-v", "--", "echo", "ran"])
        .run();
    assert_eq!(right.code(), 0, "{right:?}");
    assert_eq!(right.stdout, "ran\n");
    assert!(
        right.stderr.contains("tick 2026-01-05T03:01:00Z"),
        "{right:?}"
    );
    // And once run, it is not run again, by either host.
    for (id, when) in [
        ("ahead", "2026-01-05 03:01:20"),
        ("right", "2026-01-05 03:01:21"),
    ] {
        let again = host(cronbeat_at(when).unwrap(), id)
            .args(["--", "echo", "ran again"])
            .run();
        assert_eq!(again.code(), 75, "{id}: {again:?}");
        assert!(again.stderr.is_empty(), "{id}: {again:?}");
    }
}

/// Nanoseconds since the epoch, as `date +%s%N` printed them, one a line.
fn stamps(file: &Path) -> Vec<u128> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The engine stalls mid-run (a proxy that stops forwarding, connections left open): the host that holds
/// the lease cannot renew it, and its command must be dead before the lease expires on the engine, where
/// a second host is waiting to take it. The two commands are never alive at the same instant.
fn a_lease_that_cannot_be_renewed_ends_the_command_before_it_expires(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let name = unique("stall");
    let proxy = Proxy::start(&address(&url));
    let dir = Dir::new();
    let (a_log, b_log) = (dir.join("a.log"), dir.join("b.log"));
    // Each command writes the time, every 10 ms while it lives (the shell's own `date`).
    let stamping = |log: &Path| {
        format!(
            "echo ready; while :; do date +%s%N >>'{}'; sleep 0.01; done",
            log.display()
        )
    };
    let mut a = cronbeat()
        .env("CRONBEAT_LOCK", via(&url, &proxy.addr))
        .args(["--name", &name, "--host-id", "stalled", "-v"])
        .args([
            "--lock-ttl",
            "3s",
            "--on-lock-lost",
            "kill",
            "--kill-after",
            "1s",
        ])
        .args(["--", "sh", "-c", &stamping(&a_log)])
        .spawn();
    a.wait_stdout("ready", Duration::from_secs(10));
    assert!(eventually(Duration::from_secs(5), || !stamps(&a_log).is_empty()));
    proxy.freeze();
    let frozen = Instant::now();
    let b = cronbeat()
        .env("CRONBEAT_LOCK", &url)
        .args(["--name", &name, "--host-id", "next", "-v"])
        .args([
            "--lock-ttl",
            "3s",
            "--overlap",
            "wait",
            "--lock-wait",
            "20s",
        ])
        .args(["--timeout", "1s", "--", "sh", "-c", &stamping(&b_log)])
        .spawn();
    let a = a.wait();
    let stopped = frozen.elapsed();
    let b = b.wait();
    assert!(a.stderr.contains("the fleet lock was lost"), "{}", a.dump());
    assert_eq!(a.code(), 123, "the lock_lost status: {}", a.dump());
    // The last renewal was at most a third of the TTL before the freeze: the run ended within the TTL
    // after it, and a second for cronbeat's own end.
    assert!(
        stopped < Duration::from_secs(4),
        "{stopped:?}: {}",
        a.dump()
    );
    assert!(b.stderr.contains("holding the fleet lock"), "{}", b.dump());
    let (a_stamps, b_stamps) = (stamps(&a_log), stamps(&b_log));
    let (a_last, b_first) = (*a_stamps.last().unwrap(), b_stamps[0]);
    assert!(
        a_last < b_first,
        "both commands alive: the stalled one wrote at {a_last}, {} ms after the next one began at {b_first}",
        (a_last - b_first) / 1_000_000
    );
}
