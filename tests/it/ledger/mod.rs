//! The ledger: every run recorded under the state directory and read back by `status`, `history`,
//! `last-output` and `metrics`; overlapping runs, cut records, retention, an unwritable or full state
//! directory; what the ledger refuses to write through (links, second names, folders others can write);
//! what the readers show of a job's text on a terminal; `--fail-after` against the test server.

mod due;
mod fail_after;
mod faults;
mod readers;
mod records;
mod refusals;
mod terminal;
mod trend;

use serde_json::Value;

use crate::harness::*;

/// A state directory of the test's own, and cronbeat launches that record into it.
pub struct Ledger {
    dir: Dir,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger { dir: Dir::new() }
    }

    pub fn path(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    /// `cronbeat` recording into this ledger.
    pub fn cronbeat(&self) -> Cronbeat {
        cronbeat().env("CRONBEAT_STATE_DIR", self.path())
    }

    /// A run of job `name`: `cronbeat --name NAME OPTIONS -- sh -c SCRIPT`.
    pub fn run(&self, name: &str, options: &[&str], script: &str) -> Output {
        self.cronbeat()
            .args(["--name", name])
            .args(options)
            .args(["--", "sh", "-c", script])
            .run()
    }

    /// `cronbeat history NAME -n 1000 --json`, newest first; its stderr too.
    pub fn history(&self, name: &str) -> (Vec<Value>, String) {
        let out = self
            .cronbeat()
            .args(["history", name, "-n", "1000", "--json"])
            .run();
        out.assert_code(0);
        let runs: Value = serde_json::from_str(&out.stdout).expect("history --json is JSON");
        (runs.as_array().expect("an array").clone(), out.stderr)
    }

    /// `cronbeat status --json`: one object per job.
    pub fn status(&self) -> Vec<Value> {
        let out = self.cronbeat().args(["status", "--json"]).run();
        out.assert_code(0);
        assert_eq!(out.stderr, "", "status --json warned");
        let jobs: Value = serde_json::from_str(&out.stdout).expect("status --json is JSON");
        jobs.as_array().expect("an array").clone()
    }

    /// The job's ledger file as written.
    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("ledger").join(name).join("runs.jsonl"))
            .expect("the job's ledger file")
    }
}

/// The run ids of `runs`, in their order.
pub fn run_ids(runs: &[Value]) -> Vec<String> {
    runs.iter()
        .map(|r| r["run_id"].as_str().expect("a run id").to_string())
        .collect()
}
