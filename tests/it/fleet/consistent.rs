//! A reader of the fleet ledger on Redis sees each job at one moment: a run that ends while
//! `status --fleet` or `history --fleet` is reading its keys is either still running or finished,
//! never `stuck` nor missing. The reader is held (by a proxy) between its commands while the run ends.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::harness::*;

/// A run under way; a reader of it held at the command that reads `key_of(name)`; the run ends and
/// its end is recorded; the reader goes on. What the reader printed, and its exit status.
fn read_across_an_end(key_of: fn(&str) -> String, reader: &[&str]) -> Option<(i32, String)> {
    let url = engine(Kind::Redis)?;
    let name = unique("across");
    let gate = Gate::new();
    let mut run = cronbeat()
        .env("CRONBEAT_LEDGER_URL", &url)
        .args(["--name", &name, "--host-id", "ending"])
        .args(["--", "sh", "-c"])
        .arg(format!("echo ready; {}", gate.wait_script()))
        .spawn();
    run.wait_stdout("ready", Duration::from_secs(10));
    let state = |url: &str| {
        let out = cronbeat()
            .args(["status", "--fleet", url, "--json", &name])
            .run();
        serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|jobs| jobs[0]["state"].as_str().map(str::to_string))
    };
    assert!(
        eventually(Duration::from_secs(10), || state(&url).as_deref()
            == Some("running")),
        "the start was not recorded"
    );
    let hold = Hold::start(&address(&url), &key_of(&name));
    let held_url = via(&url, &hold.addr);
    let reading = reader.iter().fold(cronbeat(), |c, arg| {
        c.arg(arg.replace("NAME", &name).replace("URL", &held_url))
    });
    let reading = reading.spawn();
    if !hold.wait_held(Duration::from_secs(10)) {
        panic!("the reader never read the key: {}", reading.wait().dump());
    }
    gate.open();
    run.wait().assert_code(0);
    assert!(
        eventually(Duration::from_secs(10), || state(&url).as_deref()
            == Some("ok")),
        "the end was not recorded"
    );
    hold.release();
    let out = reading.wait();
    Some((out.code(), out.stdout))
}

#[test]
fn status_reads_a_job_at_one_moment() {
    let Some((code, stdout)) = read_across_an_end(
        |name| format!("cronbeat:{{{name}}}:ledger:expect"),
        &["status", "--fleet", "URL", "--json", "NAME"],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{stdout}");
    let jobs: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(jobs[0]["state"], "ok", "{jobs}");
    assert_eq!(jobs[0]["last_outcome"], "success", "{jobs}");
    assert_eq!(jobs[0]["stuck"], false, "{jobs}");
}

#[test]
fn history_reads_a_job_at_one_moment() {
    let Some((code, stdout)) = read_across_an_end(
        |name| format!("cronbeat:{{{name}}}:ledger:live"),
        &["history", "NAME", "--fleet", "URL", "--json"],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{stdout}");
    let runs: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["outcome"], "success", "{runs}");
    assert_eq!(runs[0]["host"], "ending", "{runs}");
}
