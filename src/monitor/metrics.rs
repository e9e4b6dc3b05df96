//! Batch-job metrics in the Prometheus text exposition format, shared by the Pushgateway and the
//! node_exporter textfile: when the job last started, succeeded and completed, how long it took,
//! its exit status and its outcome; with a schedule, the last due time a run served and the next one
//! (`time() > cronbeat_next_due_timestamp_seconds + GRACE` is a missed run).

use std::fmt::Write;
use std::time::SystemTime;

use super::protocol::{seconds, unix_seconds, RunInfo};
use crate::events::Report;

pub const LAST_START: &str = "cronbeat_last_start_timestamp_seconds";
pub const LAST_SUCCESS: &str = "cronbeat_last_success_timestamp_seconds";
pub const LAST_COMPLETION: &str = "cronbeat_last_completion_timestamp_seconds";
pub const DURATION: &str = "cronbeat_duration_seconds";
pub const EXIT_STATUS: &str = "cronbeat_exit_status";
pub const OUTCOME: &str = "cronbeat_outcome";
pub const LAST_TICK: &str = "cronbeat_last_tick_timestamp_seconds";
pub const NEXT_DUE: &str = "cronbeat_next_due_timestamp_seconds";

/// Every metric, in the order they are written.
pub const ALL: [&str; 8] = [
    LAST_START,
    LAST_SUCCESS,
    LAST_COMPLETION,
    DURATION,
    EXIT_STATUS,
    OUTCOME,
    LAST_TICK,
    NEXT_DUE,
];

/// The values `cronbeat_outcome{outcome=…}` always has, so alerts can test for 0; see `Outcome::word`.
/// A word not listed here still gets its sample.
pub const OUTCOMES: [&str; 9] = [
    "success",
    "failure",
    "timeout",
    "idle",
    "terminated",
    "lock_lost",
    "oom",
    "signal",
    "not_started",
];

fn help(name: &str) -> &'static str {
    match name {
        LAST_START => "Unix time the job's last run started.",
        LAST_SUCCESS => "Unix time the job's last successful run finished.",
        LAST_COMPLETION => "Unix time the job's last run finished, successful or not.",
        DURATION => "How long the job's last run took, in seconds.",
        EXIT_STATUS => {
            "Exit status of the job's last run (128+N when killed by signal N, 124 on overrun, 125 when idle)."
        }
        LAST_TICK => "Unix time of the scheduled time the job's last run on the schedule served.",
        NEXT_DUE => "Unix time the job is next due, by its schedule.",
        _ => "How the job's last run ended: 1 for what happened, 0 for the other outcomes.",
    }
}

/// One sample: its `outcome` label value (only `cronbeat_outcome` has one) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub outcome: Option<String>,
    pub value: String,
}

/// Metric name → samples, for the metrics a run has values for.
pub type Values = Vec<(&'static str, Vec<Sample>)>;

fn plain(value: String) -> Vec<Sample> {
    vec![Sample {
        outcome: None,
        value,
    }]
}

/// The start of a run; the schedule's metrics when the run has them (a run by hand leaves the last
/// tick in place).
pub fn at_start(now: SystemTime, run: &RunInfo) -> Values {
    let mut values = vec![(LAST_START, plain(unix_seconds(now)))];
    values.extend(schedule(run));
    values
}

fn schedule(run: &RunInfo) -> Values {
    let mut values = Vec::new();
    if let Some(tick) = run.tick {
        values.push((LAST_TICK, plain(unix_seconds(tick))));
    }
    if let Some(next) = run.next_due {
        values.push((NEXT_DUE, plain(unix_seconds(next))));
    }
    values
}

/// The finish of a run; `cronbeat_last_success_timestamp_seconds` only when it succeeded.
pub fn at_finish(report: &Report, run: &RunInfo) -> Values {
    let completed = report.started_at + report.duration;
    let mut values = vec![(LAST_START, plain(unix_seconds(report.started_at)))];
    values.extend(schedule(run));
    if report.outcome.succeeded() {
        values.push((LAST_SUCCESS, plain(unix_seconds(completed))));
    }
    values.push((LAST_COMPLETION, plain(unix_seconds(completed))));
    values.push((DURATION, plain(seconds(report.duration))));
    values.push((EXIT_STATUS, plain(report.outcome.exit_code().to_string())));
    let word = report.outcome.word();
    let mut words = OUTCOMES.to_vec();
    if !words.contains(&word) {
        words.push(word);
    }
    values.push((
        OUTCOME,
        words
            .iter()
            .map(|o| Sample {
                outcome: Some(o.to_string()),
                value: if *o == word { "1" } else { "0" }.to_string(),
            })
            .collect(),
    ));
    values
}

/// The exposition text, with `# HELP` and `# TYPE` lines; `labels` go on every sample.
pub fn render(values: &Values, labels: &[(String, String)]) -> String {
    let mut text = String::new();
    for name in ALL {
        let Some((_, samples)) = values.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let _ = writeln!(text, "# HELP {name} {}", help(name));
        let _ = writeln!(text, "# TYPE {name} gauge");
        for sample in samples {
            let mut pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(outcome) = &sample.outcome {
                pairs.push(("outcome", outcome));
            }
            let rendered: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            if rendered.is_empty() {
                let _ = writeln!(text, "{name} {}", sample.value);
            } else {
                let _ = writeln!(text, "{name}{{{}}} {}", rendered.join(","), sample.value);
            }
        }
    }
    text
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Reads back what `render` wrote (our metrics only; anything else is dropped).
pub fn parse(text: &str) -> Values {
    let mut values: Values = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let Some(name) = ALL.iter().find(|n| **n == &line[..name_end]) else {
            continue;
        };
        let Some(value) = line.rsplit(' ').next().filter(|v| v.parse::<f64>().is_ok()) else {
            continue;
        };
        let outcome = line
            .split_once("outcome=\"")
            .and_then(|(_, rest)| rest.split_once('"').map(|(word, _)| word.to_string()));
        let sample = Sample {
            outcome,
            value: value.to_string(),
        };
        match values.iter_mut().find(|(n, _)| n == name) {
            Some((_, samples)) => samples.push(sample),
            None => values.push((name, vec![sample])),
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ChildStatus, Outcome};
    use std::time::{Duration, UNIX_EPOCH};

    fn report(code: i32) -> Report {
        Report {
            run_id: "r".into(),
            started_at: UNIX_EPOCH + Duration::from_secs(1000),
            duration: Duration::from_millis(2500),
            outcome: Outcome {
                status: ChildStatus::Exited(code),
                cause: None,
            },
            tail: Default::default(),
            cost: Default::default(),
            attempts: Default::default(),
        }
    }

    #[test]
    fn success_has_every_metric_and_reads_back() {
        let values = at_finish(&report(0), &RunInfo::default());
        let text = render(&values, &[("job_name".into(), "a\"b".into())]);
        assert!(text
            .contains("cronbeat_last_success_timestamp_seconds{job_name=\"a\\\"b\"} 1002.500\n"));
        assert!(text.contains("cronbeat_outcome{job_name=\"a\\\"b\",outcome=\"success\"} 1\n"));
        assert!(text.contains("# TYPE cronbeat_duration_seconds gauge\n"));
        assert_eq!(parse(&text), values);
    }

    #[test]
    fn failure_has_no_last_success() {
        let text = render(&at_finish(&report(3), &RunInfo::default()), &[]);
        assert!(!text.contains(LAST_SUCCESS));
        assert!(text.contains("cronbeat_exit_status 3\n"));
        assert!(text.contains("cronbeat_outcome{outcome=\"failure\"} 1\n"));
        assert!(!text.contains(LAST_TICK));
    }

    #[test]
    fn the_schedule_when_the_run_has_one() {
        let run = RunInfo {
            tick: Some(UNIX_EPOCH + Duration::from_secs(900)),
            next_due: Some(UNIX_EPOCH + Duration::from_secs(1800)),
            ..RunInfo::default()
        };
        let text = render(&at_start(UNIX_EPOCH + Duration::from_secs(901), &run), &[]);
        assert!(
            text.contains("cronbeat_last_tick_timestamp_seconds 900.000\n"),
            "{text}"
        );
        assert!(
            text.contains("cronbeat_next_due_timestamp_seconds 1800.000\n"),
            "{text}"
        );
        assert_eq!(parse(&text).len(), 3);
    }
}
