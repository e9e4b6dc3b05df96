//! What the ledger records, and that it keeps it whole: overlapping runs of one job and of many, a
//! record cut in half, retention, every way a run can end.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{run_ids, Ledger};
use crate::harness::*;

/// `count` runs started at once, held at a gate until all of them run, then let go together so that their
/// records are written at the same moment. `name(i)` is run i's job name. Returns each run's id.
fn overlapping(
    ledger: &Ledger,
    count: usize,
    options: &[&str],
    name: impl Fn(usize) -> String,
) -> Vec<String> {
    let gate = Gate::new();
    let ready = Dir::new();
    let runs: Vec<Running> = (0..count)
        .map(|i| {
            let script = format!(
                "echo \"run $CRONBEAT_RUN_ID\"; touch '{}/{i}'; {}; echo done {i}; exit {}",
                ready.path().display(),
                gate.wait_script(),
                i % 3
            );
            ledger
                .cronbeat()
                .args(["--name", &name(i)])
                .args(options)
                .args(["--", "sh", "-c", &script])
                .limit(Duration::from_secs(60))
                .spawn()
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(30), || {
            std::fs::read_dir(ready.path()).unwrap().count() == count
        }),
        "not every run started"
    );
    gate.open();
    runs.into_iter()
        .enumerate()
        .map(|(i, run)| {
            let out = run.wait();
            out.assert_code((i % 3) as i32);
            out.assert_silent_stderr();
            out.run_id()
        })
        .collect()
}

#[test]
fn twenty_overlapping_runs_of_one_job_are_each_recorded_whole() {
    let ledger = Ledger::new();
    let ids = overlapping(&ledger, 20, &[], |_| "shared".to_string());
    let (runs, stderr) = ledger.history("shared");
    assert_eq!(stderr, "", "a record was unreadable");
    let recorded: BTreeSet<String> = run_ids(&runs).into_iter().collect();
    let started: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(recorded, started);
    // Every line of the file is one whole record, and each run has its own exit status.
    let file = ledger.file("shared");
    assert_eq!(file.lines().count(), 20, "{file}");
    for line in file.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("a whole record a line");
        assert_eq!(record["name"], "shared");
    }
    let failures = runs.iter().filter(|r| r["success"] == false).count();
    assert_eq!(failures, 13, "runs 1, 2, 4, 5, … exit non-zero");
    let status = ledger.status();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["runs"], 20);
}

#[test]
fn twenty_overlapping_runs_of_twenty_jobs_are_each_recorded_whole() {
    let ledger = Ledger::new();
    let ids = overlapping(&ledger, 20, &[], |i| format!("job-{i:02}"));
    let status = ledger.status();
    assert_eq!(status.len(), 20);
    for (i, id) in ids.iter().enumerate() {
        let name = format!("job-{i:02}");
        let (runs, stderr) = ledger.history(&name);
        assert_eq!(stderr, "");
        assert_eq!(run_ids(&runs), std::slice::from_ref(id), "{name}");
        assert_eq!(runs[0]["exit_status"], (i % 3) as i64);
        let job = status.iter().find(|j| j["name"] == name.as_str()).unwrap();
        assert_eq!(
            (job["runs"].as_i64(), job["last_exit_status"].as_i64()),
            (Some(1), Some((i % 3) as i64))
        );
    }
}

#[test]
fn a_burst_past_keep_runs_is_trimmed_whole_and_the_next_run_bounds_it() {
    let ledger = Ledger::new();
    // Twenty appends and trims at once: a trim never runs while a record is being appended, so no record is
    // lost in a replaced file and none is cut.
    overlapping(&ledger, 20, &["--keep-runs", "4"], |_| "busy".to_string());
    let (runs, stderr) = ledger.history("busy");
    assert_eq!(stderr, "");
    assert!(!runs.is_empty());
    for line in ledger.file("busy").lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("a whole record a line");
    }
    let last = ledger.run(
        "busy",
        &["--keep-runs", "4"],
        "echo \"run $CRONBEAT_RUN_ID\"",
    );
    last.assert_code(0);
    let (runs, _) = ledger.history("busy");
    assert!(runs.len() <= 4 + 2, "{} runs kept", runs.len());
    assert_eq!(
        run_ids(&runs)[0],
        last.run_id(),
        "the newest run is kept, first"
    );
}

#[test]
fn a_record_cut_in_half_is_skipped_with_one_warning_and_the_rest_is_read() {
    let ledger = Ledger::new();
    let mut ids = Vec::new();
    for code in [0, 1, 2] {
        let out = ledger.run(
            "cut",
            &[],
            &format!("echo \"run $CRONBEAT_RUN_ID\"; exit {code}"),
        );
        ids.push(out.run_id());
    }
    // A crash in the middle of the third record's write: half of it reached the file.
    let path = std::path::Path::new(&ledger.path()).join("ledger/cut/runs.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let third = text.lines().nth(2).unwrap();
    let kept = text.len() - third.len() / 2 - 1;
    std::fs::write(&path, &text.as_bytes()[..kept]).unwrap();
    // The next run appends right after the cut record, on the same line.
    let out = ledger.run("cut", &[], "echo \"run $CRONBEAT_RUN_ID\"; exit 4");
    out.assert_code(4).assert_silent_stderr();
    ids[2] = out.run_id();

    let (runs, stderr) = ledger.history("cut");
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(run_ids(&runs), newest_first);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [format!(
            "cronbeat: warning: {}: skipped 1 unreadable record (line 3)",
            path.display()
        )]
    );
    let status = ledger.cronbeat().args(["status", "cut"]).run();
    status.assert_code(0);
    assert_eq!(status.stderr_lines().len(), 1, "{}", status.stderr);
    assert!(status.stdout.contains("cut  failure"), "{}", status.stdout);
    let json = ledger.cronbeat().args(["status", "--json"]).run();
    let jobs: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(jobs[0]["runs"], 3);
    // The success, then exit 1 and exit 4: the cut record (exit 2) is lost, nothing else.
    assert_eq!(jobs[0]["consecutive_failures"], 2);
}

#[test]
fn retention_keeps_the_newest_runs_and_failed_outputs() {
    let ledger = Ledger::new();
    let mut ids = Vec::new();
    for i in 0..14 {
        let out = ledger.run(
            "kept",
            &["--keep-runs", "4"],
            &format!("echo \"run $CRONBEAT_RUN_ID\"; echo output {i}; exit 1"),
        );
        out.assert_code(1).assert_silent_stderr();
        ids.push(out.run_id());
        let (runs, _) = ledger.history("kept");
        // Trimmed back to 4 whenever it grows past 4 + 4/2.
        assert!(runs.len() <= 6, "{} runs after run {i}", runs.len());
        let expected: Vec<String> = ids.iter().rev().take(runs.len()).cloned().collect();
        assert_eq!(run_ids(&runs), expected, "the newest runs, newest first");
    }
    let tails = std::fs::read_dir(std::path::Path::new(&ledger.path()).join("ledger/kept/tails"))
        .unwrap()
        .count();
    assert_eq!(tails, 10, "the outputs of the newest ten failed runs");
    let out = ledger.cronbeat().args(["last-output", "kept"]).run();
    out.assert_code(0);
    assert_eq!(out.stdout, format!("run {}\noutput 13\n", ids[13]));
}

#[test]
fn every_way_a_run_ends_is_recorded() {
    let ledger = Ledger::new();
    let dir = Dir::new();
    let lock = dir.join("lock");
    let lock = lock.to_str().unwrap();
    // Skipped: another run holds the lock.
    let mut holder = ledger
        .cronbeat()
        .args([
            "--name",
            "holder",
            "--lock",
            lock,
            "--",
            "sh",
            "-c",
            "echo held; sleep 30",
        ])
        .spawn();
    holder.wait_stdout("held", Duration::from_secs(10));
    ledger
        .run("ends", &["--lock", lock], "true")
        .assert_code(75);
    holder.signal(libc::SIGTERM);
    holder.wait();
    ledger
        .cronbeat()
        .args(["--name", "ends", "--", "/nonexistent/program"])
        .run()
        .assert_code(127);
    ledger
        .run(
            "ends",
            &["--timeout", "1s", "--kill-after", "1s"],
            "sleep 10",
        )
        .assert_code(124);
    // Interrupted before the command started, in the jitter's sleep.
    let waiting = ledger
        .cronbeat()
        .args(["--name", "ends", "--jitter", "1h", "-v", "--", "true"])
        .spawn();
    std::thread::sleep(Duration::from_millis(300));
    wait_until_catching(waiting.pid(), libc::SIGTERM, Duration::from_secs(10));
    waiting.signal(libc::SIGTERM);
    waiting.wait().assert_code(143);
    ledger.run("ends", &[], "exit 0").assert_code(0);

    let (runs, stderr) = ledger.history("ends");
    assert_eq!(stderr, "");
    let seen: Vec<(&str, i64, bool)> = runs
        .iter()
        .rev()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["exit_status"].as_i64().unwrap(),
                r["success"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("skipped", 75, false),
            ("not_started", 127, false),
            ("timeout", 124, false),
            ("interrupted", 143, false),
            ("success", 0, true),
        ]
    );
    for run in &runs {
        assert_eq!(run["name"], "ends");
        assert!(run["host"].as_str().is_some_and(|h| !h.is_empty()));
        assert!(run["duration_s"].as_f64().is_some());
    }
    let status = ledger.status();
    let job = status.iter().find(|j| j["name"] == "ends").unwrap();
    assert_eq!(job["consecutive_failures"], 0);
    assert_eq!(job["runs"], 5);
}
