//! What runs cost, read back: `status` marks a job `slower` or `bigger` when its latest successful run
//! took more than 3 times (`--slow-factor X`) the median time or peak memory of its 20 successful runs
//! before; `status --check --slow-factor X` makes that a WARNING; `history` shows CPU and PEAK; `metrics`
//! the latest run's peak memory and CPU.

use super::Ledger;

/// A successful run as the ledger writes it, `n` minutes into 2026, that took `took` seconds and peaked
/// at `peak` MiB.
fn run(name: &str, n: u32, took: f64, peak: u64) -> String {
    let at = format!("2026-01-01T{:02}:{:02}:00.000Z", n / 60, n % 60);
    format!(
        r#"{{"v":1,"run_id":"00000000-0000-4000-8000-{n:012}","name":"{name}","host":"h","tick":null,"started_at":"{at}","finished_at":"{at}","duration_s":{took},"outcome":"success","exit_status":0,"success":true,"message":"exited with status 0","schedule":null,"fail_after":null,"tail":null,"cost":{{"cpu_user_s":{took},"cpu_system_s":0.5,"peak_memory_bytes":{},"io_read_bytes":null,"io_write_bytes":null,"tasks_peak":null,"cpu_source":"cgroup","memory_source":"rusage"}}}}"#,
        peak << 20
    ) + "\n"
}

/// A ledger where job `name` ran 30 times at 10 s and 100 MiB, then once at `took` s and `peak` MiB;
/// a failure at 500 s in between does not count.
fn job(ledger: &Ledger, name: &str, took: f64, peak: u64) {
    let dir = std::path::Path::new(&ledger.path())
        .join("ledger")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text: String = (0..30)
        .map(|n| run(name, n, 10.0 + (n % 3) as f64, 100))
        .collect();
    text.push_str(&run(name, 30, 500.0, 100).replace(
        r#""outcome":"success","exit_status":0,"success":true"#,
        r#""outcome":"failure","exit_status":1,"success":false"#,
    ));
    text.push_str(&run(name, 31, took, peak));
    std::fs::write(dir.join("runs.jsonl"), text).unwrap();
}

#[test]
fn a_job_that_grew_is_marked_slower_and_bigger() {
    let ledger = Ledger::new();
    // The median of the 20 successful runs before the latest: 11 s, 100 MiB.
    job(&ledger, "grew", 40.0, 350);
    job(&ledger, "steady", 30.0, 250);

    let jobs = ledger.status();
    let of = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap().clone();
    assert_eq!(of("grew")["marks"], serde_json::json!(["slower", "bigger"]));
    assert_eq!(of("steady")["marks"], serde_json::json!([]));
    assert_eq!(of("grew")["last_peak_memory_bytes"], 350u64 << 20);

    let table = ledger.cronbeat().args(["status"]).run();
    table.assert_code(0);
    let row = |name: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    assert!(
        table.stdout.lines().next().unwrap().ends_with("TREND"),
        "{}",
        table.stdout
    );
    assert!(row("grew").ends_with("slower,bigger"), "{}", table.stdout);
    assert!(row("steady").ends_with('-'), "{}", table.stdout);

    // A lower factor marks the steady job too.
    let out = ledger
        .cronbeat()
        .args(["status", "--json", "--slow-factor", "2"])
        .run();
    out.assert_code(0);
    let jobs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let steady = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "steady")
        .unwrap();
    assert_eq!(steady["marks"], serde_json::json!(["slower", "bigger"]));

    // --check warns only when asked to.
    let check = |args: &[&str]| {
        let out = ledger
            .cronbeat()
            .args(["status", "--check"])
            .args(args)
            .run();
        (out.code(), out.stdout.trim_end().to_string())
    };
    let (code, line) = check(&[]);
    assert_eq!(
        (code, line.as_str()),
        (0, "CRONBEAT OK - 2 jobs, none failing or overdue")
    );
    let (code, line) = check(&["--slow-factor", "3"]);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("CRONBEAT WARNING - grew: slower: the latest successful run took 40s, 3.6 times the median 11s")
            && line.contains("; bigger: the latest successful run peaked at 350 MiB, 3.5 times the median 100 MiB")
            && !line.contains("steady"),
        "{line}"
    );
    // CRONBEAT_SLOW_FACTOR is the option's variable: the same warning.
    let out = ledger
        .cronbeat()
        .env("CRONBEAT_SLOW_FACTOR", "3")
        .args(["status", "--check"])
        .run();
    assert_eq!((out.code(), out.stdout.trim_end()), (1, line.as_str()));
    let out = ledger
        .cronbeat()
        .args(["status", "--check", "--slow-factor", "1"])
        .run();
    out.assert_code(3);
    assert!(out.stdout.contains("--slow-factor"), "{out:?}");
}

#[test]
fn history_and_metrics_show_what_runs_cost() {
    let ledger = Ledger::new();
    ledger
        .run("real", &[], "echo hi")
        .assert_code(0)
        .assert_silent_stderr();
    let (runs, _) = ledger.history("real");
    let cost = &runs[0]["cost"];
    assert!(cost["cpu_user_s"].as_f64().is_some(), "{cost}");
    assert!(cost["peak_memory_bytes"].as_u64().unwrap() > 0, "{cost}");
    assert!(["cgroup", "rusage"].contains(&cost["cpu_source"].as_str().unwrap()));

    let table = ledger.cronbeat().args(["history", "real"]).run();
    table.assert_code(0);
    let header: Vec<&str> = table
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["STARTED", "OUTCOME", "EXIT", "TOOK", "CPU", "PEAK", "RUN", "HOST"]
    );

    job(&ledger, "grew", 40.0, 350);
    let metrics = ledger.cronbeat().args(["metrics"]).run();
    metrics.assert_code(0);
    assert!(
        metrics
            .stdout
            .contains("cronbeat_job_last_peak_memory_bytes{name=\"grew\"} 367001600\n")
            && metrics
                .stdout
                .contains("cronbeat_job_last_cpu_seconds{name=\"grew\"} 40.500\n")
            && metrics
                .stdout
                .contains("# TYPE cronbeat_job_last_cpu_seconds gauge\n"),
        "{}",
        metrics.stdout
    );
}

/// A success after retries is not the job grown slower: its time is its successful attempt's, though
/// the run's duration spans the failed attempt and the wait too.
#[test]
fn a_success_after_retries_is_measured_by_its_successful_attempt() {
    let ledger = Ledger::new();
    for _ in 0..3 {
        ledger
            .run("flaky", &[], "sleep 0.3")
            .assert_code(0)
            .assert_silent_stderr();
    }
    // The first attempt takes 1 s and fails; the second takes 0.3 s, as every run before it did.
    let retried = ledger.run(
        "flaky",
        &["--retries", "1", "--retry-delay", "10ms"],
        "if [ \"$CRONBEAT_ATTEMPT\" = 1 ]; then sleep 1; exit 1; fi; sleep 0.3",
    );
    retried.assert_code(0);
    let (runs, _) = ledger.history("flaky");
    let last = runs
        .iter()
        .find(|r| r["attempts"] == 2)
        .expect("the retried run");
    let whole = last["duration_s"].as_f64().unwrap();
    let attempt = ledger
        .file("flaky")
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|r| r["last_attempt_s"].as_f64())
        .expect("the record's last_attempt_s");
    assert!(whole >= 1.3, "the run took {whole}s: {last}");
    assert!((0.3..whole - 1.0).contains(&attempt), "{attempt}: {last}");
    // More than 3 times the runs before it as a whole, not as the attempt that succeeded.
    let jobs = ledger.status();
    assert_eq!(jobs[0]["name"], "flaky");
    assert_eq!(jobs[0]["marks"], serde_json::json!([]), "{}", jobs[0]);
    // The same run without its last attempt's time would be marked: the check can tell.
    let dir = std::path::Path::new(&ledger.path())
        .join("ledger")
        .join("flaky");
    let file = ledger.file("flaky");
    assert_eq!(file.matches("\"last_attempt_s\":").count(), 1, "{file}");
    let without = file.replace("\"last_attempt_s\":", "\"a_field_of_no_meaning\":");
    std::fs::write(dir.join("runs.jsonl"), without).unwrap();
    assert_eq!(ledger.status()[0]["marks"], serde_json::json!(["slower"]));
}
