//! One run, several services: each hears the start and the finish in its own protocol, all with the
//! same run id, the one the command sees in CRONBEAT_RUN_ID.

use super::endings::Ending;
use crate::harness::*;

#[test]
fn three_services_one_run_id() {
    let hc = Server::start();
    let cronitor = Server::start();
    let sentry = Server::start();
    let pings = [
        format!("{}/uuid", hc.url()),
        format!("cronitor+{}/p/KEY/job", cronitor.url()),
        format!("sentry+http://PK@127.0.0.1:{}/9?monitor=job", sentry.port()),
    ];
    let run = Ending::Failure.run(&pings);
    let rid = run.run_id();

    let hc = hc.received();
    let paths: Vec<&str> = hc.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/uuid/start", "/uuid/3"]);
    assert!(hc.iter().all(|r| r.param("rid") == Some(rid.as_str())));

    let cronitor = cronitor.received();
    let states: Vec<&str> = cronitor.iter().filter_map(|r| r.param("state")).collect();
    assert_eq!(states, ["run", "fail"]);
    assert!(cronitor
        .iter()
        .all(|r| r.param("series") == Some(rid.as_str())));

    let sentry = sentry.received();
    let statuses: Vec<String> = sentry
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["in_progress", "error"]);
    assert!(sentry
        .iter()
        .all(|r| r.json()["check_in_id"] == rid.as_str()));
}
