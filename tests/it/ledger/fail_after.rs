//! `--fail-after 3`: the first two failures in a row are neutral notes ("failure 1 of 3"), the third is
//! reported as a failure, a success resets the count; the exit status is always the command's.

use super::Ledger;
use crate::harness::*;

/// What each monitor heard of one run.
#[derive(Debug, Default)]
struct Told {
    /// Healthchecks: (path, body).
    hc: Vec<(String, String)>,
    /// The webhook: "event message".
    webhook: Vec<String>,
    /// Dead Man's Snitch: the `s` it was sent.
    dms: Vec<String>,
}

#[test]
fn two_notes_then_a_failure_then_a_success_resets() {
    let ledger = Ledger::new();
    let server = Server::start();
    let url = server.url();
    let monitors = [
        format!("{url}/hc"),
        format!("webhook+{url}/hook"),
        format!("dms+{url}/snitch"),
    ];
    let mut options = vec!["--fail-after", "3"];
    for m in &monitors {
        options.extend(["--ping", m.as_str()]);
    }
    let mut seen = 0;
    // What each monitor was told by one run, in its own order (the monitors are told concurrently).
    let mut run = |code: i32| {
        let out = ledger.run("flaky", &options, &format!("echo working; exit {code}"));
        out.assert_code(code).assert_silent_stderr();
        let requests = server.received();
        let mut told = Told::default();
        for r in &requests[seen..] {
            match r.path.as_str() {
                "/hook" => {
                    let body = r.json();
                    let message = body["message"].as_str().unwrap_or("");
                    told.webhook
                        .push(format!("{} {message}", body["event"].as_str().unwrap()));
                }
                "/snitch" => told.dms.push(r.param("s").unwrap_or("").to_string()),
                path => told.hc.push((path.to_string(), without_cost(&r.text()))),
            }
        }
        seen = requests.len();
        told
    };
    let note = |n: u32| {
        format!(
            "failure {n} of 3: exited with status 1 (--fail-after 3: reported as a failure from the 3rd in a row)"
        )
    };
    let hc = |path: &str, body: &str| (path.to_string(), body.to_string());
    for n in [1, 2] {
        let told = run(1);
        assert_eq!(told.hc, [hc("/hc/start", ""), hc("/hc/log", &note(n))]);
        assert_eq!(
            told.webhook,
            ["start ".to_string(), format!("log {}", note(n))]
        );
        assert_eq!(
            told.dms,
            Vec::<String>::new(),
            "Dead Man's Snitch has no note"
        );
    }
    // The third in a row is a failure for every monitor.
    let told = run(1);
    assert_eq!(told.hc, [hc("/hc/start", ""), hc("/hc/1", "working\n")]);
    assert_eq!(told.webhook, ["start ", "failure exited with status 1"]);
    assert_eq!(told.dms, ["1"]);
    // From the threshold on, every failure is reported.
    assert_eq!(run(1).dms, ["1"]);

    let told = run(0);
    assert_eq!(told.hc[1], hc("/hc/0", "working\n"));
    assert_eq!(told.dms, ["0"]);

    // The count starts again.
    let told = run(1);
    assert_eq!(told.hc[1], hc("/hc/log", &note(1)));
    assert_eq!(told.dms, Vec::<String>::new());

    // The ledger has every run, the threshold with it, and status --check takes it from there.
    let (runs, _) = ledger.history("flaky");
    assert_eq!(runs.len(), 6);
    let check = ledger.cronbeat().args(["status", "--check"]).run();
    assert_eq!(
        (check.code(), check.stdout.as_str()),
        (
            1,
            "CRONBEAT WARNING - flaky: failure 1 of 3 (exited with status 1)\n"
        )
    );
}

#[test]
fn fail_after_needs_the_ledger() {
    let out = cronbeat()
        .args(["--fail-after", "3", "--no-ledger", "--", "true"])
        .run();
    out.assert_one_line_error(&["--fail-after", "--no-ledger"]);
    let out = cronbeat().args(["--fail-after", "0", "--", "true"]).run();
    out.assert_one_line_error(&["--fail-after", "at least 1"]);
    let out = cronbeat()
        .args(["--", "true"])
        .env("CRONBEAT_KEEP_RUNS", "0")
        .run();
    out.assert_one_line_error(&["CRONBEAT_KEEP_RUNS", "at least 1"]);
}

#[test]
fn no_ledger_records_nothing() {
    let ledger = Ledger::new();
    ledger
        .run("quiet", &["--no-ledger"], "exit 1")
        .assert_code(1);
    assert!(!std::path::Path::new(&ledger.path()).join("ledger").exists());
}

#[test]
fn the_ledger_keys_work_from_the_config_file() {
    let state = Dir::new();
    let server = Server::start();
    let dir = Dir::new();
    let config = dir.write(
        "cronbeat.toml",
        &format!(
            "[defaults]\nstate_dir = {:?}\nkeep_runs = 2\nfail_after = \"2\"\n\n[jobs.nightly]\ncommand = [\"sh\", \"-c\", \"exit 1\"]\nping = \"{}/hc\"\n",
            state.path().display(),
            server.url()
        ),
    );
    for _ in 0..4 {
        // The file's state_dir, not the harness's (which, from the environment, would win over the file).
        cronbeat()
            .args(["--config", &config, "--job", "nightly"])
            .without_state_dir()
            .run()
            .assert_code(1)
            .assert_silent_stderr();
    }
    let finishes: Vec<String> = server
        .received()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| !p.ends_with("/start"))
        .collect();
    assert_eq!(finishes, ["/hc/log", "/hc/1", "/hc/1", "/hc/1"]);
    // The job is named after the config file's job, and keeps 2 runs (3 before a trim).
    let out = cronbeat()
        .args(["history", "nightly", "--json"])
        .env("CRONBEAT_STATE_DIR", state.path())
        .run();
    out.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!((2..=3).contains(&runs.as_array().unwrap().len()), "{runs}");
}
