//! `--ping-template` with `--provision`: every adopted job gets its Healthchecks check, created at adopt
//! time with the job's schedule, zone and grace through the Management API (the schedule push `check
//! --ping --fix` uses), so a job that never runs again is still caught. The keys are never shown.

use std::time::Duration;

use serde_json::json;

use super::{adopt_running, crontab_file, run_as_cron};
use crate::harness::*;

const KEY: &str = "hcw_adoptK3y";

#[test]
fn provision_creates_each_jobs_check_with_its_schedule() {
    let server = Server::start();
    // No check has the slug yet; a creation is answered as Healthchecks answers it.
    server.respond(
        "/api/v3/checks/",
        Behavior::status(200)
            .header("Content-Type", "application/json")
            .body(json!({ "checks": [] }).to_string()),
    );
    let dir = Dir::new();
    let path = crontab_file(
        &dir,
        "CRON_TZ=Europe/Berlin\n15 3 * * * /usr/bin/backup\n* * * * * /bin/echo rotated\n",
    );
    let template = format!("{}/ping/pingk3y/{{name}}?create=1", server.url());
    let out = adopt_running(&dir)
        .arg("--crontab")
        .arg(&path)
        .args(["--ping-template", &template, "--write", "--provision"])
        .env("CRONBEAT_HC_API_KEY", KEY)
        .run();
    out.assert_code(0);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(KEY) && !text.contains("pingk3y"), "{out:?}");
    }
    assert!(
        out.stdout.contains(&format!(
            "provisioned backup: 127.0.0.1:{}/…: created with schedule \"15 3 * * *\" in Europe/Berlin",
            server.port()
        )),
        "{out:?}"
    );
    let api: Vec<Request> = server
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .collect();
    let created: Vec<serde_json::Value> = api
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            assert_eq!(r.header("x-api-key"), Some(KEY));
            r.json()
        })
        .collect();
    assert_eq!(created.len(), 2, "{api:?}");
    let backup = created.iter().find(|c| c["slug"] == "backup").unwrap();
    assert_eq!(backup["schedule"], "15 3 * * *");
    assert_eq!(backup["tz"], "Europe/Berlin");
    assert_eq!(backup["unique"], json!(["slug"]));
    assert!(backup["grace"].as_u64().unwrap() >= 60);
    assert!(created
        .iter()
        .any(|c| c["slug"] == "echo" && c["schedule"] == "* * * * *"));

    // The job pings its check, found through its file.
    let line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .nth(2)
        .unwrap()
        .to_string();
    let before = server.received().len();
    run_as_cron(&line).assert_code(0);
    let pings = server.wait_for(before + 2, Duration::from_secs(10));
    assert_eq!(pings[before].path, "/ping/pingk3y/echo/start");
    assert_eq!(pings[before].param("create"), Some("1"));
    assert_eq!(pings[before + 1].path, "/ping/pingk3y/echo/0");
}
