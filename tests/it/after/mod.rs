//! `--after JOB[,JOB…]`: a run that waits on other jobs' success, judged by this host's ledger
//! ([`local`]) or by the fleet ledger on the real engines ([`fleet`]).

mod declare;
mod fleet;
mod local;

use crate::harness::*;

/// A ledger record of job `name` written as a run would have, finished `ago` seconds before now.
pub fn record(name: &str, success: bool, ago: u64, schedule: Option<&str>) -> String {
    let at = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
    let at = humantime::format_rfc3339_millis(at).to_string();
    let schedule = schedule.map_or(String::new(), |expr| {
        format!(r#","schedule":{{"expr":"{expr}","tz":"UTC","grace_s":60}}"#)
    });
    let (outcome, status) = if success {
        ("success", 0)
    } else {
        ("failure", 1)
    };
    format!(
        r#"{{"v":1,"run_id":"{}","name":"{name}","host":"elsewhere","tick":null,"started_at":"{at}","finished_at":"{at}","duration_s":0.0,"outcome":"{outcome}","exit_status":{status},"success":{success},"message":"exited with status {status}"{schedule}}}"#,
        uuid_like(ago)
    ) + "\n"
}

fn uuid_like(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The requests a monitor got, as "path body" lines.
pub fn told(server: &Server) -> Vec<String> {
    server
        .received()
        .iter()
        .map(|r| format!("{} {}", r.path, r.text()))
        .collect()
}
