//! The fleet ledger against the real engines: PostgreSQL directly and through PgBouncer in
//! transaction mode, and Redis. Every host writes its runs there (`--ledger-url`, `--fleet-ledger`),
//! and `status --fleet` on any machine tells what happened: the runs, the hosts, the failures in a
//! row across hosts, `stuck` for a host that died mid-run, `overdue` when every host stopped.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;
use crate::harness::*;

on_all!(
    fifty_ticks_on_three_hosts_add_up,
    a_host_killed_mid_run_is_stuck,
    a_declared_job_that_never_ran_becomes_overdue,
    a_grace_longer_than_the_period_still_ends_in_overdue,
    no_ledger_runs_the_command_and_writes_nothing_to_the_fleet,
    an_engine_lost_during_the_run_costs_one_warning,
    an_engine_that_never_answers_delays_nothing,
    runs_are_kept_per_job,
    a_host_with_no_state_directory_still_records_in_the_fleet,
);
on_both!(a_wrong_password_is_never_shown);

/// `status --fleet --json NAMES` as a machine with no ledger of its own sees it, at `when` by its clock
/// (UTC, `YYYY-MM-DD HH:MM:SS`) or now.
fn fleet_status(url: &str, names: &[&str], when: Option<&str>) -> Vec<Value> {
    let reader = match when {
        Some(when) => cronbeat_at(when).unwrap(),
        None => cronbeat(),
    };
    let out = reader
        .env("CRONBEAT_LEDGER_URL", url)
        .args(["status", "--fleet", "--json"])
        .args(names)
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    let jobs: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    jobs.as_array().unwrap().clone()
}

/// The job's state as `status --fleet` says it now; `None` while the fleet ledger does not know it.
fn state_of(url: &str, name: &str) -> Option<String> {
    let out = cronbeat()
        .args(["status", "--fleet", url, "--json", name])
        .run();
    let jobs: Value = serde_json::from_str(&out.stdout).ok()?;
    Some(jobs.get(0)?["state"].as_str()?.to_string())
}

fn one(url: &str, name: &str, when: Option<&str>) -> Value {
    let jobs = fleet_status(url, &[name], when);
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    jobs[0].clone()
}

fn history(url: &str, name: &str) -> Vec<Value> {
    let out = cronbeat()
        .args(["history", name, "--fleet", url, "--json", "-n", "1000"])
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Three hosts run five jobs every minute for fifty minutes (their clocks set with faketime): four jobs
/// run on one host each tick, turn by turn, failing now and then; the fifth is run by all three under the
/// fleet lock, so two of them lose every tick. What `status --fleet` and `history --fleet` say on a
/// machine that ran nothing is what happened: the latest run and its host, the failures in a row across
/// hosts, the last success and where, the hosts seen, no run for a lost tick. Then every host stops: a
/// minute and the grace later, the one fleet check is CRITICAL, every job overdue.
fn fifty_ticks_on_three_hosts_add_up(via: Via) {
    let Some(url) = url(via) else { return };
    if cronbeat_at("2026-02-01 00:00:00").is_none() {
        return;
    }
    let jobs: Vec<String> = (0..5).map(|j| unique(&format!("fifty{j}"))).collect();
    let every = ["--schedule", "* * * * *", "--tz", "UTC", "--grace", "30s"];
    // What happened, per job: (host, succeeded) for each run, oldest first.
    let mut happened: Vec<Vec<(String, bool)>> = vec![Vec::new(); 5];
    for tick in 0..50u32 {
        let mut launches = Vec::new();
        for (j, name) in jobs.iter().enumerate().take(4) {
            let host = format!("h{}", (tick as usize + j) % 3);
            // Job 3 fails from tick 44 on, on whichever host runs it: six failures in a row, across hosts.
            let fails = if j == 3 {
                tick >= 44
            } else {
                (tick as usize * (j + 1)) % 7 == 3
            };
            let code = if fails { "3" } else { "0" };
            let run = cronbeat_at(&format!("2026-02-01 00:{tick:02}:0{}", 1 + j))
                .unwrap()
                .env("CRONBEAT_LEDGER_URL", &url)
                .args(["--name", name, "--host-id", &host])
                .args(every)
                .args(["--", "sh", "-c", &format!("exit {code}")])
                .spawn();
            launches.push((j, host, !fails, run));
        }
        for h in 0..3 {
            let host = format!("h{h}");
            let run = cronbeat_at(&format!("2026-02-01 00:{tick:02}:0{}", 5 + h))
                .unwrap()
                .env("CRONBEAT_LOCK", &url)
                .args(["--fleet-ledger", "--name", &jobs[4], "--host-id", &host])
                .args(every)
                .args(["--", "true"])
                .spawn();
            launches.push((4, host, true, run));
        }
        let mut winners = 0;
        for (j, host, ok, run) in launches {
            let out = run.wait();
            assert!(
                !out.stderr.contains("fleet ledger"),
                "tick {tick}: {}",
                out.dump()
            );
            if j == 4 {
                match out.code() {
                    0 => {
                        winners += 1;
                        happened[4].push((host, true));
                    }
                    75 => {}
                    _ => panic!("tick {tick}: {}", out.dump()),
                }
                continue;
            }
            assert_eq!(out.code(), if ok { 0 } else { 3 }, "{}", out.dump());
            happened[j].push((host, ok));
        }
        assert_eq!(winners, 1, "tick {tick}");
    }
    let names: Vec<&str> = jobs.iter().map(String::as_str).collect();
    let seen = fleet_status(&url, &names, Some("2026-02-01 00:50:10"));
    assert_eq!(seen.len(), 5, "{seen:#?}");
    for (j, (job, runs)) in seen.iter().zip(&happened).enumerate() {
        assert_eq!(job["name"], jobs[j]);
        let (last_host, last_ok) = runs.last().unwrap();
        assert_eq!(job["last_host"], last_host.as_str(), "{job}");
        let word = if *last_ok { "success" } else { "failure" };
        assert_eq!(job["last_outcome"], word, "{job}");
        let in_a_row = runs.iter().rev().take_while(|(_, ok)| !ok).count();
        assert_eq!(job["consecutive_failures"], in_a_row, "{job}");
        let last_success = runs
            .iter()
            .rev()
            .find(|(_, ok)| *ok)
            .map(|(h, _)| h.as_str());
        assert_eq!(job["last_success_host"].as_str(), last_success, "{job}");
        let mut hosts: Vec<&str> = runs.iter().map(|(h, _)| h.as_str()).collect();
        hosts.sort();
        hosts.dedup();
        assert_eq!(job["hosts"], serde_json::json!(hosts), "{job}");
        assert_eq!(job["overdue"], false, "{job}");
        assert_eq!(job["stuck"], false, "{job}");
        let state = if in_a_row > 0 { "failing" } else { "ok" };
        assert_eq!(job["state"], state, "{job}");
        // Every run once, newest first, from the host that ran it; no lost tick is a run.
        let told = history(&url, &jobs[j]);
        assert_eq!(told.len(), runs.len(), "job {j}");
        assert_eq!(told.len(), 50, "job {j}");
        for (run, (host, ok)) in told.iter().zip(runs.iter().rev()) {
            assert_eq!(run["host"], host.as_str(), "{run}");
            assert_eq!(run["success"], *ok, "{run}");
        }
    }
    assert_eq!(seen[3]["consecutive_failures"], 6);
    // Every host stopped after the 00:49 runs: the 00:50 tick passes its 30 s of grace unstarted.
    let check = cronbeat_at("2026-02-01 00:50:20")
        .unwrap()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["status", "--fleet", "--check"])
        .args(&names[..3])
        .run();
    assert_eq!(check.code(), 0, "{}", check.dump());
    assert_eq!(
        check.stdout,
        "CRONBEAT OK - 3 jobs on 3 hosts, none failing, overdue or stuck\n"
    );
    let check = cronbeat_at("2026-02-01 00:50:31")
        .unwrap()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["status", "--fleet", "--check"])
        .args(&names)
        .run();
    assert_eq!(check.code(), 2, "{}", check.dump());
    assert!(
        check.stdout.starts_with("CRONBEAT CRITICAL - "),
        "{check:?}"
    );
    assert_eq!(check.stdout.lines().count(), 1, "{check:?}");
    for name in &names {
        assert!(
            check.stdout.contains(&format!(
                "{name}: overdue, due at 2026-02-01T00:50:00+00:00"
            )),
            "{name}: {check:?}"
        );
    }
}

/// A host dies mid-run (cronbeat and its command killed). While it lived, its run showed as running,
/// and kept doing so past its lease because it renewed its record; once the renewals stop, the run is
/// `stuck` on that host within the lease, and the fleet check is CRITICAL.
fn a_host_killed_mid_run_is_stuck(via: Via) {
    let Some(url) = url(via) else { return };
    let name = unique("killed");
    let mut run = cronbeat()
        .env("CRONBEAT_LOCK", &url)
        .args(["--fleet-ledger", "--lock-ttl", "3s", "--kill-after", "1s"])
        .args(["--name", &name, "--host-id", "doomed"])
        .args(["--", "sh", "-c", "echo $$; exec sleep 60"])
        .spawn();
    let child: i32 = run.line().trim().parse().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            state_of(&url, &name).as_deref() == Some("running")
        }),
        "{:?}",
        state_of(&url, &name)
    );
    // Past the lease: still running, by the renewals.
    std::thread::sleep(Duration::from_millis(4500));
    let job = one(&url, &name, None);
    assert_eq!(job["state"], "running", "{job}");
    assert_eq!(job["last_host"], "doomed", "{job}");
    run.signal(libc::SIGKILL);
    // SAFETY: kill(2) of the command's pid, which the test read from it and which has not been reaped.
    unsafe { libc::kill(child, libc::SIGKILL) };
    let killed = Instant::now();
    let _ = run.wait();
    assert!(
        eventually(Duration::from_secs(15), || {
            state_of(&url, &name).as_deref() == Some("stuck")
        }),
        "{:?}",
        state_of(&url, &name)
    );
    // Within the lease (3 s from the last renewal) and the polls' own time: well before the 60 s the
    // command would have slept, with room for a loaded machine.
    assert!(
        killed.elapsed() < Duration::from_secs(9),
        "{:?}",
        killed.elapsed()
    );
    let job = one(&url, &name, None);
    assert_eq!(job["last_outcome"], "stuck", "{job}");
    assert_eq!(job["stuck"], true, "{job}");
    let check = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["status", "--fleet", "--check", &name])
        .run();
    assert_eq!(check.code(), 2, "{}", check.dump());
    assert!(
        check
            .stdout
            .contains(&format!("{name}: stuck on doomed (started ")),
        "{check:?}"
    );
    let told = history(&url, &name);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["outcome"], "stuck");
    assert_eq!(told[0]["finished_at"], Value::Null);
}

/// A job declared (as `adopt --provision` and `check --fleet` do) and never run: `never run` until its
/// first due time after the declaration and the grace have passed, then `overdue`.
fn a_declared_job_that_never_ran_becomes_overdue(via: Via) {
    let Some(url) = url(via) else { return };
    if cronbeat_at("2026-03-01 12:00:00").is_none() {
        return;
    }
    let name = unique("declared");
    // 2026-03-01T12:00:00Z, in milliseconds.
    let declared_at: u64 = 1_772_366_400_000;
    match kind(via) {
        Kind::Postgres => {
            // The tables exist once any run was recorded.
            cronbeat()
                .env("CRONBEAT_LEDGER_URL", &url)
                .args(["--name", &unique("declared-first"), "--", "true"])
                .run()
                .assert_code(0);
            engine_command(
                Kind::Postgres,
                &url,
                &format!(
                    "INSERT INTO cronbeat_jobs (name, schedule, tz, grace_ms, declared_at, updated_at, hosts) \
                     VALUES ('{name}', '@daily', 'UTC', 3600000, to_timestamp({declared_at} / 1000.0), \
                     to_timestamp({declared_at} / 1000.0), ARRAY['h1'])"
                ),
            );
        }
        Kind::Redis => {
            engine_command(
                Kind::Redis,
                &url,
                &format!(
                    "HSET cronbeat:{{{name}}}:ledger:job schedule @daily tz UTC grace_ms 3600000 \
                     declared_at {declared_at} updated_at {declared_at} hosts h1"
                ),
            );
            engine_command(
                Kind::Redis,
                &url,
                &format!("SADD cronbeat:ledger:jobs {name}"),
            );
        }
    }
    for (when, state) in [
        ("2026-03-01 13:00:00", "never_run"),
        ("2026-03-02 00:59:00", "never_run"),
        ("2026-03-02 01:01:00", "overdue"),
    ] {
        let job = one(&url, &name, Some(when));
        assert_eq!(job["state"], state, "{when}: {job}");
        assert_eq!(job["hosts"], serde_json::json!(["h1"]), "{job}");
    }
    let check = cronbeat_at("2026-03-02 01:01:00")
        .unwrap()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["status", "--fleet", "--check", &name])
        .run();
    assert_eq!(check.code(), 2, "{}", check.dump());
    assert!(
        check.stdout.contains(&format!(
            "{name}: overdue, due at 2026-03-02T00:00:00+00:00, no run started on any host"
        )),
        "{check:?}"
    );
}

/// Every minute with 90 s of grace (more than the period, as the default grace of an hourly job is),
/// run on three hosts in turn, then every host stops: the latest due time before now always lies within
/// its grace, yet the first due time after the last tick served is missed once its grace has passed, and
/// the fleet check turns CRITICAL then, and stays so.
fn a_grace_longer_than_the_period_still_ends_in_overdue(via: Via) {
    let Some(url) = url(via) else { return };
    if cronbeat_at("2026-04-01 10:00:00").is_none() {
        return;
    }
    let name = unique("longgrace");
    let every = ["--schedule", "* * * * *", "--tz", "UTC", "--grace", "90s"];
    for minute in 0..3 {
        cronbeat_at(&format!("2026-04-01 10:0{minute}:05"))
            .unwrap()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["--name", &name, "--host-id", &format!("h{minute}")])
            .args(every)
            .args(["--", "true"])
            .run()
            .assert_code(0);
    }
    let check = |when: &str| {
        cronbeat_at(when)
            .unwrap()
            .env("CRONBEAT_LEDGER_URL", &url)
            .args(["status", "--fleet", "--check", &name])
            .run()
    };
    // The 10:03 tick is within its grace until 10:04:30.
    let out = check("2026-04-01 10:04:20");
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert!(out.stdout.starts_with("CRONBEAT OK - "), "{out:?}");
    assert_eq!(one(&url, &name, Some("2026-04-01 10:04:20"))["state"], "ok");
    for when in [
        "2026-04-01 10:04:40",
        "2026-04-01 10:30:00",
        "2026-04-02 09:00:00",
    ] {
        let out = check(when);
        assert_eq!(out.code(), 2, "{when}: {}", out.dump());
        assert!(
            out.stdout.contains(&format!(
                "{name}: overdue, due at 2026-04-01T10:03:00+00:00, no run started on any host"
            )),
            "{when}: {out:?}"
        );
        let job = one(&url, &name, Some(when));
        assert_eq!(job["state"], "overdue", "{when}: {job}");
        assert_eq!(job["hosts"], serde_json::json!(["h0", "h1", "h2"]), "{job}");
    }
}

/// A way to ask for no ledger: its name, the variables set, the arguments given.
type Way<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

/// `CRONBEAT_LEDGER_URL`, or `CRONBEAT_LOCK` with `CRONBEAT_FLEET_LEDGER`, set crontab-wide, and a line
/// with `--no-ledger` (or `CRONBEAT_NO_LEDGER`): the command runs, its output and status untouched, and
/// neither ledger has the run.
fn no_ledger_runs_the_command_and_writes_nothing_to_the_fleet(via: Via) {
    let Some(url) = url(via) else { return };
    let ways: [Way; 4] = [
        ("url", &[("CRONBEAT_LEDGER_URL", &url)], &["--no-ledger"]),
        (
            "lock",
            &[("CRONBEAT_LOCK", &url), ("CRONBEAT_FLEET_LEDGER", "1")],
            &["--no-ledger"],
        ),
        ("flag", &[], &["--no-ledger", "--ledger-url", &url]),
        (
            "variable",
            &[("CRONBEAT_LEDGER_URL", &url), ("CRONBEAT_NO_LEDGER", "1")],
            &[],
        ),
    ];
    for (way, vars, args) in ways {
        let name = unique(&format!("unrecorded-{way}"));
        let state = Dir::new();
        let mut run = cronbeat()
            .env("CRONBEAT_STATE_DIR", state.path())
            .args(["--name", &name, "--host-id", "quiet"])
            .args(args);
        for (var, value) in vars {
            run = run.env(var, value);
        }
        let out = run.args(["--", "sh", "-c", "echo ran; exit 4"]).run();
        assert_eq!(out.code(), 4, "{way}: {}", out.dump());
        assert_eq!(out.stdout, "ran\n", "{way}: {}", out.dump());
        assert_eq!(out.stderr, "", "{way}: {}", out.dump());
        let seen = cronbeat()
            .args(["status", "--fleet", &url, "--json", &name])
            .run();
        assert_eq!(seen.code(), 1, "{way}: {}", seen.dump());
        assert!(
            seen.stderr
                .contains(&format!("{name}: no run recorded in the fleet ledger")),
            "{way}: {}",
            seen.dump()
        );
        let told = cronbeat()
            .args(["history", &name, "--fleet", &url, "--json"])
            .run();
        assert!(!told.stdout.contains("quiet"), "{way}: {}", told.dump());
        assert!(
            !state.path().join("ledger").join(&name).exists(),
            "{way}: the local ledger has the run"
        );
    }
}

/// The engine goes away while the command runs: the command's output and exit status are untouched,
/// cronbeat says so in one warning, and the local ledger has the run.
fn an_engine_lost_during_the_run_costs_one_warning(via: Via) {
    let Some(url) = url(via) else { return };
    let name = unique("lost");
    let mut proxy = Proxy::start(&address(&url));
    let state = Dir::new();
    let gate = Gate::new();
    let run = cronbeat()
        .env("CRONBEAT_LEDGER_URL", via_addr(&url, &proxy.addr))
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--name", &name, "--host-id", "cut-off"])
        .args(["--", "sh", "-c"])
        .arg(format!("echo ready; {}; exit 3", gate.wait_script()))
        .spawn();
    assert!(
        eventually(Duration::from_secs(10), || {
            state_of(&url, &name).as_deref() == Some("running")
        }),
        "the start was not recorded"
    );
    proxy.cut();
    gate.open();
    let out = run.wait();
    assert_eq!(out.code(), 3, "{}", out.dump());
    assert_eq!(out.stdout, "ready\n");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.dump());
    assert!(
        lines[0].contains("fleet ledger: the run was not recorded on ")
            && lines[0].contains("(the local ledger has it)"),
        "{}",
        out.dump()
    );
    let local = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["status", "--json", &name])
        .run();
    assert_eq!(local.code(), 0, "{}", local.dump());
    let jobs: Value = serde_json::from_str(&local.stdout).unwrap();
    assert_eq!(jobs[0]["last_outcome"], "failure", "{jobs}");
    assert_eq!(jobs[0]["last_exit_status"], 3, "{jobs}");
    // An engine down from the start: the same, one warning.
    let out = cronbeat()
        .env(
            "CRONBEAT_LEDGER_URL",
            via_addr(&url, &format!("127.0.0.1:{}", closed_port())),
        )
        .args(["--name", &name, "--", "sh", "-c", "echo ran; exit 4"])
        .run();
    assert_eq!(out.code(), 4, "{}", out.dump());
    assert_eq!(out.stdout, "ran\n");
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.dump());
    assert!(
        out.stderr
            .contains("fleet ledger: the run was not recorded on ")
            && out.stderr.contains("://127.0.0.1:"),
        "{}",
        out.dump()
    );
}

/// `url` with its host and port replaced by `addr` (PgBouncer's URL keeps its `sslmode`).
fn via_addr(url: &str, addr: &str) -> String {
    via(url, addr)
}

/// An engine that accepts connections and never answers: the command starts at once, and cronbeat
/// ends no more than the 2 s bound after it, with one warning.
fn an_engine_that_never_answers_delays_nothing(via: Via) {
    let Some(url) = url(via) else { return };
    let silent = Silent::start();
    let started = Instant::now();
    let mut run = cronbeat()
        .env("CRONBEAT_LEDGER_URL", via_addr(&url, &silent.addr))
        .args(["--name", &unique("silent"), "--", "sh", "-c", "echo ready"])
        .spawn();
    run.wait_stdout("ready", Duration::from_secs(10));
    let began = started.elapsed();
    let out = run.wait();
    let took = started.elapsed();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert!(began < Duration::from_millis(1500), "{began:?}");
    assert!(took < Duration::from_secs(4), "{took:?}: {}", out.dump());
    assert!(took >= Duration::from_secs(2), "{took:?}: {}", out.dump());
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.dump());
    assert!(out.stderr.contains("no answer within 2s"), "{}", out.dump());
}

/// `--keep-runs` holds in the engine too, per job; `ledger prune --fleet` trims further.
fn runs_are_kept_per_job(via: Via) {
    let Some(url) = url(via) else { return };
    let (name, other) = (unique("kept"), unique("kept-other"));
    for i in 0..8 {
        for job in [&name, &other] {
            let keep = if job == &name { "5" } else { "100" };
            cronbeat()
                .env("CRONBEAT_LEDGER_URL", &url)
                .args(["--name", job, "--keep-runs", keep])
                .args(["--host-id", &format!("h{i}"), "--", "true"])
                .run()
                .assert_code(0);
        }
    }
    let told = history(&url, &name);
    let hosts: Vec<&str> = told.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["h7", "h6", "h5", "h4", "h3"]);
    assert_eq!(history(&url, &other).len(), 8);
    let out = cronbeat()
        .args([
            "ledger",
            "prune",
            "--fleet",
            &url,
            "--keep-runs",
            "2",
            &name,
        ])
        .run();
    assert_eq!(out.code(), 0, "{}", out.dump());
    assert!(
        out.stdout
            .starts_with("dropped 3 runs from the fleet ledger on "),
        "{out:?}"
    );
    let told = history(&url, &name);
    let hosts: Vec<&str> = told.iter().map(|r| r["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["h7", "h6"]);
    assert_eq!(history(&url, &other).len(), 8);
    let job = one(&url, &name, None);
    assert_eq!(job["last_success_host"], "h7", "{job}");
}

/// The engine refuses the password: one warning that says so, the run's status untouched, and the
/// password nowhere, neither in the run's warning nor in a reader's error.
fn a_wrong_password_is_never_shown(kind: Kind) {
    let (url, _server, _role);
    match kind {
        Kind::Redis => {
            let Some(server) = PrivateRedis::start(&["--requirepass", "s3cret"]) else {
                return;
            };
            url = server.url.replace("redis://", "redis://:hunter2@");
            _server = Some(server);
        }
        Kind::Postgres => {
            let Some(shared) = engine(kind) else { return };
            let Some(role) = super::engines::PasswordRole::create(&shared) else {
                return;
            };
            url = format!(
                "postgres://{}:hunter2@{}/postgres?sslmode=disable",
                role.name,
                address(&shared)
            );
            _role = Some(role);
        }
    }
    let said = match kind {
        Kind::Redis => "authentication failed: the server refused the user or password",
        Kind::Postgres => "password authentication failed",
    };
    let out = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args([
            "--name",
            &unique("pw"),
            "--",
            "sh",
            "-c",
            "echo ran; exit 5",
        ])
        .run();
    assert_eq!(out.code(), 5, "{}", out.dump());
    assert_eq!(out.stdout, "ran\n");
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.dump());
    assert!(out.stderr.contains(said), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    for reader in [
        vec!["status", "--fleet", &url],
        vec!["status", "--fleet", &url, "--check"],
        vec!["history", "x", "--fleet", &url],
    ] {
        let out = cronbeat().args(&reader).run();
        assert_ne!(out.code(), 0, "{}", out.dump());
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(text.contains(said), "{reader:?}: {text}");
        assert!(!text.contains("hunter2"), "{reader:?}: {text}");
    }
}

/// The fleet ledger's URL is cronbeat's: the command does not inherit `CRONBEAT_LEDGER_URL`, and its
/// password, printed by the command, is masked in the tail the fleet ledger keeps.
#[test]
fn the_ledger_url_is_kept_from_the_command() {
    let Some(shared) = url(Via::Postgres) else {
        return;
    };
    // The shared server trusts the postgres user: any password gets in.
    let url = shared.replacen("postgres://postgres@", "postgres://postgres:hunter22@", 1);
    assert_ne!(url, shared);
    let name = unique("secret");
    let out = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", &name, "--", "sh", "-c"])
        .arg("env | grep -c CRONBEAT_LEDGER_URL; echo the password is hunter22; exit 1")
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert_eq!(
        out.stdout,
        "0\nthe password is hunter22\n",
        "{}",
        out.dump()
    );
    assert_eq!(out.stderr, "", "{}", out.dump());
    let kept = cronbeat()
        .args(["last-output", &name, "--fleet", &shared])
        .run();
    assert_eq!(kept.code(), 0, "{}", kept.dump());
    assert_eq!(
        kept.stdout,
        "0\nthe password is [REDACTED]\n",
        "{}",
        kept.dump()
    );
}

/// `PGPASSWORD` is the engine client's own variable, not cronbeat's: the command keeps it (a `pg_dump`
/// job needs it), and the password cronbeat read from it is masked in the tail the fleet ledger keeps.
#[test]
fn pgpassword_stays_the_commands_and_is_masked_in_the_tail() {
    let Some(url) = url(Via::Postgres) else {
        return;
    };
    let name = unique("pgpassword");
    let out = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .env("PGPASSWORD", "hunter33")
        .args(["--name", &name, "--", "sh", "-c"])
        .arg("echo \"$PGPASSWORD\"; exit 1")
        .run();
    assert_eq!(out.code(), 1, "{}", out.dump());
    assert_eq!(out.stdout, "hunter33\n", "{}", out.dump());
    assert_eq!(out.stderr, "", "{}", out.dump());
    let kept = cronbeat()
        .args(["last-output", &name, "--fleet", &url])
        .run();
    assert_eq!(kept.code(), 0, "{}", kept.dump());
    assert_eq!(kept.stdout, "[REDACTED]\n", "{}", kept.dump());
}

/// A fleet ledger that cannot be had is one line naming the setting, exit status 2, before anything
/// runs, and never the password.
#[test]
fn a_bad_ledger_url_is_refused_in_one_line() {
    for (args, said) in [
        (
            vec!["--ledger-url", "etcd://:hunter2@h"],
            "--ledger-url: unknown ledger engine \"etcd\": give redis://",
        ),
        (
            vec!["--ledger-url", "postgres://:hunter2@h/db"],
            "--ledger-url: postgres:// ledger URL: no user",
        ),
        (
            vec!["--ledger-url", "/tmp/x"],
            "--ledger-url: expected a postgres://",
        ),
        (vec!["--fleet-ledger"], "--fleet-ledger: needs a fleet lock"),
    ] {
        let out = cronbeat().args(&args).args(["--", "echo", "ran"]).run();
        assert_eq!(out.code(), 2, "{args:?}: {}", out.dump());
        assert_eq!(out.stdout, "", "{args:?}");
        out.assert_one_line_error(&[said]);
        assert!(!out.stderr.contains("hunter2"), "{args:?}: {}", out.stderr);
    }
    let out = cronbeat().args(["status", "--fleet", "--check"]).run();
    assert_eq!(out.code(), 3, "{}", out.dump());
    assert!(
        out.stdout
            .starts_with("CRONBEAT UNKNOWN - --fleet: no fleet ledger"),
        "{out:?}"
    );
}

/// A local ledger that cannot be written loses the run there (one warning); the fleet ledger has it.
#[test]
fn the_fleet_ledger_has_the_run_the_local_one_cannot_write() {
    let Some(url) = url(Via::Postgres) else {
        return;
    };
    let state = Dir::new();
    let file = state.join("not-a-folder");
    std::fs::write(&file, "").unwrap();
    let name = unique("no-local");
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", &file)
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", &name, "--", "sh", "-c", "exit 6"])
        .run();
    assert_eq!(out.code(), 6, "{}", out.dump());
    assert_eq!(out.stderr_lines().len(), 1, "{}", out.dump());
    assert!(
        out.stderr.contains("ledger: the run was not recorded in"),
        "{}",
        out.dump()
    );
    let job = one(&url, &name, None);
    assert_eq!(job["last_outcome"], "failure", "{job}");
    assert_eq!(job["last_exit_status"], 6, "{job}");
}

/// A host where the local ledger has nowhere to go (no `--state-dir`, no HOME, not root): one warning
/// says so, and the fleet ledger still has the run, with its host and outcome.
fn a_host_with_no_state_directory_still_records_in_the_fleet(via: Via) {
    let Some(url) = url(via) else { return };
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !have("setpriv") {
        missing("root and setpriv, to run cronbeat as a user with no home");
        return;
    }
    let name = unique("homeless");
    let out = Cronbeat::program("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["--name", &name, "--host-id", "homeless"])
        .args(["--", "sh", "-c", "echo ran; exit 7"])
        .env_clear()
        .without_state_dir()
        .env("PATH", "/usr/bin:/bin")
        .env("CRONBEAT_LEDGER_URL", &url)
        .run();
    assert_eq!(out.code(), 7, "{}", out.dump());
    assert_eq!(out.stdout, "ran\n", "{}", out.dump());
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", out.dump());
    assert!(
        lines[0].contains("no state directory for the ledger"),
        "{}",
        out.dump()
    );
    let job = one(&url, &name, None);
    assert_eq!(job["last_host"], "homeless", "{job}");
    assert_eq!(job["last_outcome"], "failure", "{job}");
    assert_eq!(job["last_exit_status"], 7, "{job}");
    // The fleet's copy is whole: the failure's tail too.
    let kept = cronbeat()
        .args(["last-output", &name, "--fleet", &url])
        .run();
    assert_eq!(kept.code(), 0, "{}", kept.dump());
    assert_eq!(kept.stdout, "ran\n", "{}", kept.dump());
}
