//! Jobs declared to the fleet ledger before they ever run: `adopt --write --provision --ledger-url`
//! (which then needs no API key) and `check --fleet` put each job's schedule, zone and grace on the
//! engine (PostgreSQL also through PgBouncer), read back here through the store.

use crate::fleet::{engine, on_all, on_both, unique, url, Kind, OwnLedger, Via};
use crate::harness::library::{fleet_engine, FleetStore};
use crate::harness::*;

/// The declaration of `name` on `url`, as the store gives it: (schedule, zone, grace in seconds, hosts).
pub fn declared(url: &str, name: &str) -> Option<(String, String, u64, Vec<String>)> {
    let store = FleetStore::open(&fleet_engine(url).unwrap()).unwrap();
    let jobs = store.jobs(&[name.to_string()]).unwrap();
    let job = jobs.into_iter().find(|j| j.name == name)?;
    let d = job.declared?;
    Some((d.schedule, d.tz, d.grace.as_secs(), d.hosts))
}

fn adopt_declares_each_job_without_an_api_key(via: Via) {
    let Some(url) = url(via) else { return };
    let name = unique("nightly");
    let dir = Dir::new();
    let crontab = dir.join("crontab");
    std::fs::write(
        &crontab,
        format!(
            "CRON_TZ=Europe/Berlin\n15 3 * * * /usr/local/bin/{name} --full\n@reboot /bin/true\n"
        ),
    )
    .unwrap();
    let out = cronbeat()
        .args(["adopt", "--crontab", crontab.to_str().unwrap()])
        .args(["--ping-dir", dir.join("ping").to_str().unwrap()])
        .args(["--write", "--provision"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .env("CRONBEAT_LEDGER_URL", &url)
        .env("CRONBEAT_HOST_ID", "adopter")
        .run();
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!(
            "{name}: schedule \"15 3 * * *\" in Europe/Berlin, grace 1h 1m 10s: declared to the fleet ledger on"
        )),
        "{}",
        out.dump()
    );
    assert_eq!(
        declared(&url, &name),
        Some((
            "15 3 * * *".to_string(),
            "Europe/Berlin".to_string(),
            3670,
            vec!["adopter".to_string()]
        ))
    );
}

fn check_fleet_declares_the_jobs_with_a_schedule(via: Via) {
    let Some(url) = url(via) else { return };
    let (due, by_hand) = (unique("due"), unique("by-hand"));
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[defaults]\nledger_url = \"{url}\"\nhost_id = \"checker\"\n\
             [jobs.a]\nname = \"{due}\"\ncommand = [\"true\"]\nschedule = \"*/10 * * * *\"\ntz = \"UTC\"\ngrace = \"2m\"\n\
             [jobs.b]\nname = \"{by_hand}\"\ncommand = [\"true\"]\n"
        ),
    );
    let out = cronbeat()
        .args(["check", "--config", &config, "--fleet"])
        .run();
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!(
            "{due}: schedule \"*/10 * * * *\" in UTC, grace 2m: declared to the fleet ledger on"
        )),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout
            .contains(&format!("{by_hand}: not declared: the job has no schedule")),
        "{}",
        out.dump()
    );
    assert_eq!(
        declared(&url, &due),
        Some((
            "*/10 * * * *".into(),
            "UTC".into(),
            120,
            vec!["checker".into()]
        ))
    );
    assert_eq!(declared(&url, &by_hand), None);
    // Without --fleet nothing is declared.
    let other = unique("quiet");
    let config = dir.write(
        "other.toml",
        &format!("[jobs.a]\nname = \"{other}\"\ncommand = [\"true\"]\nschedule = \"@daily\"\nledger_url = \"{url}\"\n"),
    );
    cronbeat()
        .args(["check", "--config", &config])
        .run()
        .assert_code(0);
    assert_eq!(declared(&url, &other), None);
}

#[test]
fn adopt_provision_needs_a_key_or_a_ledger() {
    let dir = Dir::new();
    let crontab = dir.join("crontab");
    std::fs::write(&crontab, "15 3 * * * /usr/bin/backup\n").unwrap();
    let out = cronbeat()
        .args([
            "adopt",
            "--crontab",
            crontab.to_str().unwrap(),
            "--write",
            "--provision",
        ])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["--provision needs an API key", "--ledger-url"]);
    let out = cronbeat()
        .args(["adopt", "--crontab", crontab.to_str().unwrap()])
        .args(["--ledger-url", "redis://127.0.0.1:1"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    out.assert_code(2);
    out.assert_one_line_error(&["--ledger-url", "--provision"]);
}

#[test]
fn check_fleet_without_a_fleet_ledger_says_which_job() {
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        "[jobs.a]\nname = \"lonely\"\ncommand = [\"true\"]\nschedule = \"@daily\"\n",
    );
    let out = cronbeat()
        .args(["check", "--config", &config, "--fleet"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    out.assert_code(1);
    let line = out.one_error_line();
    assert!(
        line.contains("lonely: not declared: no fleet ledger (ledger_url"),
        "{line}"
    );
}

on_all!(
    adopt_declares_each_job_without_an_api_key,
    check_fleet_declares_the_jobs_with_a_schedule,
);

/// Two jobs whose ledgers share a server (host and port) but not a database: each is declared in its
/// own, not both in the first one's.
fn check_fleet_declares_each_job_to_its_own_ledger(kind: Kind) {
    let Some(first) = engine(kind) else { return };
    // Redis: database 5 of the same server; PostgreSQL: a database of its own on the same server.
    let own = match kind {
        Kind::Redis => None,
        Kind::Postgres => match OwnLedger::start(kind) {
            Some(own) => Some(own),
            None => return,
        },
    };
    let second = match &own {
        Some(own) => own.url.clone(),
        None => format!("{}/5", first.trim_end_matches('/')),
    };
    let (a, b) = (unique("first-db"), unique("second-db"));
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[jobs.a]\nname = \"{a}\"\ncommand = [\"true\"]\nschedule = \"@daily\"\nledger_url = \"{first}\"\n\
             [jobs.b]\nname = \"{b}\"\ncommand = [\"true\"]\nschedule = \"@hourly\"\nledger_url = \"{second}\"\n"
        ),
    );
    cronbeat()
        .args(["check", "--config", &config, "--fleet"])
        .run()
        .assert_code(0);
    let schedule = |url: &str, name: &str| declared(url, name).map(|d| d.0);
    assert_eq!(schedule(&first, &a).as_deref(), Some("@daily"));
    assert_eq!(schedule(&second, &b).as_deref(), Some("@hourly"));
    assert_eq!(
        schedule(&first, &b),
        None,
        "declared in the first job's ledger"
    );
    assert_eq!(schedule(&second, &a), None);
}

on_both!(check_fleet_declares_each_job_to_its_own_ledger);
