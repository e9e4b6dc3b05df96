//! One host per tick, leases, fencing and the engine's failures, on both engines.

use std::time::{Duration, Instant};

use super::*;
use crate::harness::*;

on_both!(
    five_hosts_race_for_each_tick,
    a_crashed_holder_blocks_only_until_the_ttl,
    a_lease_taken_away_stops_the_command,
    an_engine_stopped_before_the_run,
    an_engine_stopped_during_the_run,
    an_engine_that_never_answers_is_given_up,
    fencing_tokens_only_grow,
    a_wrong_password_is_a_clear_error,
    wait_runs_once_the_other_host_is_done,
);

const SCHEDULED: [&str; 6] = ["--schedule", "@daily", "--tz", "UTC", "--grace", "1d"];

fn fleet_run(url: &str, name: &str, host: &str) -> Cronbeat {
    cronbeat()
        .env("CRONBEAT_LOCK", url)
        .args(["--name", name, "--host-id", host])
}

/// `--lock URL` with a password the output must never show, pointing at `addr`.
fn with_password(kind: Kind, addr: &str) -> String {
    match kind {
        Kind::Redis => format!("redis://:hunter2@{addr}"),
        Kind::Postgres => format!("postgres://postgres:hunter2@{addr}/postgres?sslmode=disable"),
    }
}

fn five_hosts_race_for_each_tick(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    for round in 0..50 {
        let name = unique("race");
        let runs: Vec<Running> = (0..5)
            .map(|i| {
                fleet_run(&url, &name, &format!("host{i}"))
                    .args(["-v"])
                    .args(SCHEDULED)
                    .args(["--", "echo", "ran"])
                    .spawn()
            })
            .collect();
        let outs: Vec<Output> = runs.into_iter().map(Running::wait).collect();
        let ran: Vec<usize> = (0..5).filter(|i| outs[*i].code() == 0).collect();
        assert_eq!(ran.len(), 1, "round {round}: {outs:#?}");
        let winner = ran[0];
        assert_eq!(outs[winner].stdout, "ran\n");
        for (i, out) in outs.iter().enumerate().filter(|(i, _)| *i != winner) {
            assert_eq!(out.code(), 75, "round {round}, host{i}: {out:?}");
            assert_eq!(out.stdout, "", "round {round}, host{i}");
            assert!(
                out.stderr
                    .contains(&format!("was claimed first by host{winner}")),
                "round {round}, host{i}: {}",
                out.stderr
            );
        }
    }
}

fn a_crashed_holder_blocks_only_until_the_ttl(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let ttl = Duration::from_secs(2);
    let (name, tick_name) = (unique("crash"), unique("crash-tick"));
    let mut crashed = Vec::new();
    for (name, extra) in [(&name, &[][..]), (&tick_name, &SCHEDULED[..])] {
        let mut holder = fleet_run(&url, name, "crashed")
            .args(["--lock-ttl", "2s"])
            .args(extra)
            .args(["--", "sh", "-c", "echo ready; exec sleep 30"])
            .spawn();
        holder.wait_stdout("ready", Duration::from_secs(10));
        let command = descendants(holder.pid());
        signal_pid(holder.pid(), libc::SIGKILL);
        let _ = holder.wait();
        crashed.push((Instant::now(), command));
    }
    let (killed_at, command) = &crashed[0];
    assert!(
        command
            .iter()
            .all(|pid| wait_gone(*pid, Duration::from_secs(5))),
        "the command died with its cronbeat"
    );
    let out = fleet_run(&url, &name, "next")
        .args(["--", "echo", "ran"])
        .run();
    if killed_at.elapsed() < ttl - Duration::from_millis(300) {
        assert_eq!(out.code(), 75, "{out:?}");
        assert!(out.stderr.contains("held by crashed"), "{}", out.stderr);
    }
    std::thread::sleep(ttl.saturating_sub(killed_at.elapsed()));
    let proceeded = within(Duration::from_secs(5), || {
        fleet_run(&url, &name, "next")
            .args(["--", "echo", "ran"])
            .run()
            .code()
            == 0
    });
    assert!(
        proceeded.is_some(),
        "the lease of the killed holder never expired"
    );
    // The tick the crashed host claimed is not run again, even once its lease is gone.
    let out = fleet_run(&url, &tick_name, "next")
        .args(["-v"])
        .args(SCHEDULED)
        .args(["--", "echo", "ran"])
        .run();
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("claimed first by crashed"),
        "{}",
        out.stderr
    );
}

/// An engine a test may disturb: on Redis a server of its own (kept running by the guard returned
/// with it), since FLUSHALL would reach every other test's keys on the shared one; on PostgreSQL the
/// shared engine, where the test touches only its own rows.
fn engine_to_disturb(kind: Kind) -> Option<(String, Option<PrivateRedis>)> {
    match kind {
        Kind::Redis => {
            let server = PrivateRedis::start(&[])?;
            Some((server.url.clone(), Some(server)))
        }
        Kind::Postgres => Some((engine(kind)?, None)),
    }
}

fn a_lease_taken_away_stops_the_command(kind: Kind) {
    let Some((url, _private)) = engine_to_disturb(kind) else {
        return;
    };
    let name = unique("taken");
    let monitor = Server::start();
    let mut holder = fleet_run(&url, &name, "here")
        .args([
            "--lock-ttl",
            "1500ms",
            "--kill-after",
            "2s",
            "--log-format",
            "json",
        ])
        .args(["--ping", &format!("{}/c", monitor.url())])
        .args(["--", "sh", "-c", "echo ready; exec sleep 30"])
        .spawn();
    holder.wait_stdout("ready", Duration::from_secs(10));
    let taken = Instant::now();
    match kind {
        Kind::Redis => engine_command(kind, &url, "FLUSHALL"),
        Kind::Postgres => engine_command(
            kind,
            &url,
            &format!("UPDATE cronbeat_leases SET token = token + 1, holder = 'thief' WHERE name = '{name}'"),
        ),
    };
    let out = holder.wait();
    assert_eq!(out.code(), 123, "{out:?}");
    assert!(
        taken.elapsed() < Duration::from_secs(5),
        "{:?}",
        taken.elapsed()
    );
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "lock_lost", "{finished}");
    assert_eq!(finished["success"], false);
    assert_eq!(
        finished["signal"], "SIGTERM",
        "stopped with SIGTERM: {finished}"
    );
    let lost = out.event("lock_lost");
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .contains("no longer holds it"),
        "{lost}"
    );
    let requests = monitor.wait_for(2, Duration::from_secs(5));
    let fail = requests
        .iter()
        .find(|r| r.path == "/c/fail")
        .expect("a /fail report");
    assert!(
        fail.text().contains("the fleet lock was lost"),
        "{}",
        fail.text()
    );
}

fn an_engine_stopped_before_the_run(kind: Kind) {
    let addr = format!("127.0.0.1:{}", closed_port());
    let url = with_password(kind, &addr);
    let run = |extra: &[&str], monitor: &Server| {
        cronbeat()
            .env("CRONBEAT_LOCK", &url)
            .args(extra)
            .args(["--ping", &format!("{}/c", monitor.url())])
            .args([
                "--",
                "sh",
                "-c",
                "echo ran; echo token=${CRONBEAT_FENCING_TOKEN-none}",
            ])
            .run()
    };
    // fail (the default): not run, every monitor told why, 75.
    let monitor = Server::start();
    let out = run(&[], &monitor);
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(&addr), "{}", out.stderr);
    assert!(
        out.stderr.contains("not run (--lock-unavailable fail)"),
        "{}",
        out.stderr
    );
    let requests = monitor.wait_for(2, Duration::from_secs(5));
    let fail = requests
        .iter()
        .find(|r| r.path == "/c/fail")
        .expect("a /fail report");
    assert!(
        fail.text().contains("could not start: the lock engine"),
        "{}",
        fail.text()
    );
    assert!(fail.text().contains(&addr), "{}", fail.text());
    for text in [&out.stderr, &fail.text()] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // skip: not run, nobody but stderr told.
    let monitor = Server::start();
    let out = run(&["--lock-unavailable", "skip"], &monitor);
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("skipped (--lock-unavailable skip)"),
        "{}",
        out.stderr
    );
    assert_eq!(monitor.requests().len(), 0, "{:?}", monitor.requests());
    // run: run unlocked, with a warning and no fencing token.
    let monitor = Server::start();
    let out = run(&["--lock-unavailable", "run"], &monitor);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "ran\ntoken=none\n");
    assert!(
        out.stderr.contains("running without the lock"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"));
}

fn an_engine_stopped_during_the_run(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let mut proxy = Proxy::start(&address(&url));
    let name = unique("stopped");
    let mut holder = fleet_run(&via(&url, &proxy.addr), &name, "here")
        .args([
            "--lock-ttl",
            "1500ms",
            "--kill-after",
            "2s",
            "--log-format",
            "json",
        ])
        .args(["--", "sh", "-c", "echo ready; exec sleep 30"])
        .spawn();
    holder.wait_stdout("ready", Duration::from_secs(10));
    proxy.cut();
    let cut = Instant::now();
    let out = holder.wait();
    assert_eq!(out.code(), 123, "{out:?}");
    // Given up only once a renewal had its chance: no earlier than the TTL after the last one (at most a
    // third of the TTL before the cut), less the margin (250 ms) and the grace (a third of the TTL).
    assert!(
        cut.elapsed() >= Duration::from_millis(200),
        "{:?}",
        cut.elapsed()
    );
    assert!(
        cut.elapsed() < Duration::from_secs(6),
        "{:?}",
        cut.elapsed()
    );
    let lost = out.event("lock_lost");
    assert!(
        lost["message"]
            .as_str()
            .unwrap()
            .contains("no renewal reached the engine in time to keep its lease (TTL 1s 500ms)"),
        "{lost}"
    );
    assert_eq!(out.event("finished")["outcome"], "lock_lost");
}

fn an_engine_that_never_answers_is_given_up(kind: Kind) {
    let silent = Silent::start();
    let out = cronbeat()
        .env("CRONBEAT_LOCK", with_password(kind, &silent.addr))
        .args(["--lock-unavailable", "skip", "--", "echo", "ran"])
        .limit(Duration::from_secs(15))
        .run();
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
    assert!(out.stderr.contains("no answer within 2s"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"));
}

fn fencing_tokens_only_grow(kind: Kind) {
    // On Redis, a server of our own: halfway through it loses every key, counter included.
    let Some((url, _private)) = engine_to_disturb(kind) else {
        return;
    };
    let name = unique("fencing");
    let mut tokens: Vec<i64> = Vec::new();
    for i in 0..100 {
        if kind == Kind::Redis && i == 50 {
            engine_command(kind, &url, "FLUSHALL");
        }
        let out = fleet_run(&url, &name, "here")
            .args(["--", "sh", "-c", "echo $CRONBEAT_FENCING_TOKEN"])
            .run();
        assert_eq!(out.code(), 0, "{out:?}");
        tokens.push(
            out.stdout
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{out:?}")),
        );
    }
    for pair in tokens.windows(2) {
        assert!(pair[0] < pair[1], "not increasing: {tokens:?}");
    }
}

fn a_wrong_password_is_a_clear_error(kind: Kind) {
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
            let Some(role) = PasswordRole::create(&shared) else {
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
    let out = cronbeat()
        .env("CRONBEAT_LOCK", &url)
        .args(["--", "echo", "ran"])
        .run();
    assert_eq!(out.code(), 75, "{out:?}");
    assert_eq!(out.stdout, "");
    let said = match kind {
        Kind::Redis => "authentication failed: the server refused the user or password",
        Kind::Postgres => "password authentication failed",
    };
    assert!(out.stderr.contains(said), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

/// A role of the shared PostgreSQL with a password of its own, dropped afterwards. The cluster trusts
/// every local user but the members of `cronbeat_pw`, whom .ci/run's pg_hba.conf asks for a password
/// (scram-sha-256): the role is made one of them.
pub(super) struct PasswordRole {
    shared: String,
    pub(super) name: String,
}

impl PasswordRole {
    /// `None` (after [`missing`]) when the server lets the role in without its password.
    pub(super) fn create(shared: &str) -> Option<PasswordRole> {
        engine_command(
            Kind::Postgres,
            shared,
            "DO $$ BEGIN CREATE ROLE cronbeat_pw NOLOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        );
        let name = unique("cronbeat_pw").replace('-', "_");
        let role = PasswordRole {
            shared: shared.to_string(),
            name,
        };
        engine_command(
            Kind::Postgres,
            shared,
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD 'the-right-one' IN ROLE cronbeat_pw",
                role.name
            ),
        );
        // The server must ask: with no password at all, psql is refused.
        let url = shared.replacen(
            "postgres://postgres@",
            &format!("postgres://{}@", role.name),
            1,
        );
        let asked = Command::new("psql")
            .args([&url, "-w", "-tAc", "SELECT 1"])
            .output()
            .is_ok_and(|out| !out.status.success());
        if !asked {
            missing(&format!(
                "a PostgreSQL that asks the members of cronbeat_pw for a password (.ci/run's \
                 pg_hba.conf line); it let {} in without one",
                role.name
            ));
            return None;
        }
        Some(role)
    }
}

impl Drop for PasswordRole {
    fn drop(&mut self) {
        let drop = format!("DROP ROLE IF EXISTS {}", self.name);
        let _ = Command::new("psql")
            .args([&self.shared, "-tAc", &drop])
            .output();
    }
}

fn wait_runs_once_the_other_host_is_done(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let name = unique("wait");
    let dir = Dir::new();
    let done = dir.join("first-done");
    let mut first = fleet_run(&url, &name, "first")
        .args([
            "--",
            "sh",
            "-c",
            &format!("echo ready; sleep 1; touch '{}'", done.display()),
        ])
        .spawn();
    first.wait_stdout("ready", Duration::from_secs(10));
    let skipped = fleet_run(&url, &name, "second")
        .args(["--", "echo", "ran"])
        .run();
    assert_eq!(skipped.code(), 75, "{skipped:?}");
    assert!(
        skipped.stderr.contains("held by first"),
        "{}",
        skipped.stderr
    );
    let out = fleet_run(&url, &name, "second")
        .args(["--overlap", "wait", "--lock-wait", "10s", "--"])
        .args([
            "sh",
            "-c",
            &format!("test -e '{}' && echo after-first", done.display()),
        ])
        .run();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "after-first\n");
    assert_eq!(first.wait().code(), 0);
}

/// Through PgBouncer in transaction mode (CRONBEAT_TEST_PGBOUNCER, started by .ci/run), where clients
/// share two server connections: no session state may be relied on.
#[test]
fn postgres_through_pgbouncer_in_transaction_mode() {
    let Ok(url) = std::env::var("CRONBEAT_TEST_PGBOUNCER") else {
        missing("CRONBEAT_TEST_PGBOUNCER is not set to a PgBouncer in transaction mode (.ci/run starts one)");
        return;
    };
    for round in 0..10 {
        let name = unique("bouncer");
        let runs: Vec<Running> = (0..5)
            .map(|i| {
                fleet_run(&url, &name, &format!("host{i}"))
                    .args(SCHEDULED)
                    .args(["--", "echo", "ran"])
                    .spawn()
            })
            .collect();
        let codes: Vec<i32> = runs.into_iter().map(|r| r.wait().code()).collect();
        assert_eq!(
            codes.iter().filter(|c| **c == 0).count(),
            1,
            "round {round}: {codes:?}"
        );
        assert_eq!(
            codes.iter().filter(|c| **c == 75).count(),
            4,
            "round {round}: {codes:?}"
        );
    }
    // A lease renewed several times over while other clients use the same server connections.
    let name = unique("bouncer-lease");
    let long = fleet_run(&url, &name, "long")
        .args(["--lock-ttl", "1s", "--", "sh", "-c", "sleep 2.5; echo done"])
        .spawn();
    let fencing = unique("bouncer-fencing");
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let out = fleet_run(&url, &fencing, "here")
            .args(["--", "sh", "-c", "echo $CRONBEAT_FENCING_TOKEN"])
            .run();
        assert_eq!(out.code(), 0, "{out:?}");
        tokens.push(out.stdout.trim().parse::<i64>().unwrap());
    }
    assert!(tokens.windows(2).all(|p| p[0] < p[1]), "{tokens:?}");
    let out = long.wait();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "done\n");
    let out = fleet_run(&url, &name, "next").args(["--", "true"]).run();
    assert_eq!(out.code(), 0, "released at the end: {out:?}");
}

/// `--on-lock-lost warn`: the command finishes on its own terms; stderr and the monitors hear of the loss.
#[test]
fn a_lost_lease_under_warn_lets_the_command_finish() {
    let Some(url) = engine(Kind::Postgres) else {
        return;
    };
    let name = unique("warn");
    let monitor = Server::start();
    let dir = Dir::new();
    let go = dir.join("go");
    let mut holder = fleet_run(&url, &name, "here")
        .args(["--lock-ttl", "1s", "--on-lock-lost", "warn"])
        .args(["--ping", &format!("{}/c", monitor.url())])
        .args([
            "--",
            "sh",
            "-c",
            &format!(
                "echo ready; while [ ! -e '{}' ]; do sleep 0.05; done; echo finished",
                go.display()
            ),
        ])
        .spawn();
    holder.wait_stdout("ready", Duration::from_secs(10));
    engine_command(
        Kind::Postgres,
        &url,
        &format!("UPDATE cronbeat_leases SET token = token + 1 WHERE name = '{name}'"),
    );
    holder.wait_stderr(
        "the command goes on (--on-lock-lost warn)",
        Duration::from_secs(5),
    );
    std::fs::write(&go, "").unwrap();
    let out = holder.wait();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "ready\nfinished\n");
    let requests = monitor.wait_for(3, Duration::from_secs(5));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/c/start", "/c/log", "/c/0"], "{requests:?}");
    assert!(
        requests[1].text().contains("the fleet lock was lost"),
        "{}",
        requests[1].text()
    );
}
