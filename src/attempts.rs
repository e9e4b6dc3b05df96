//! What a run's report says of its attempts (`--retries`): which one ended the run, how the earlier ones
//! failed, and why no retry followed when attempts were left.

use std::time::Duration;

use crate::outcome::{ChildStatus, Outcome};

/// An attempt's end in a few words, for the list of earlier failures: `exit 1`, `SIGSEGV`, `timeout`.
pub fn short(outcome: &Outcome) -> String {
    match (&outcome.status, outcome.plain_exit()) {
        (_, Some(code)) => format!("exit {code}"),
        (ChildStatus::Signaled(sig), _) if outcome.cause.is_none() => {
            crate::outcome::signal_name(*sig)
        }
        _ => outcome.word().to_string(),
    }
}

/// How much of an earlier attempt's last line its failure line in the tail carries: enough for an error
/// message, and a hundred attempts still add only some 26 KB to the tail.
pub const LAST_LINE_MAX: usize = 200;

/// An attempt before the one the report tells of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub outcome: Outcome,
    /// The last line it printed that is not blank, cleaned as its tail was (`--strip-ansi`, secrets,
    /// `--redact`) and cut to [`LAST_LINE_MAX`] bytes: the transient error that explains the retry.
    pub last_line: Vec<u8>,
}

impl Failed {
    /// An attempt that ended as `outcome`, with `tail` its reported (cleaned) tail.
    pub fn new(outcome: Outcome, tail: &[u8]) -> Failed {
        Failed {
            outcome,
            last_line: crate::output::last_line(tail, LAST_LINE_MAX),
        }
    }
}

/// The attempts behind a run's report: which one ended the run and how the earlier ones failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    /// The attempts made (1 for the first alone).
    pub made: u32,
    /// The attempts the run could make: 1 + `--retries`.
    pub allowed: u32,
    /// How the attempts before the one the report tells of failed, in order.
    pub earlier: Vec<Failed>,
    /// Why the run ended without using the attempts it had left, when it did.
    pub no_retry: Option<String>,
    /// A stop signal came while the run waited to retry: the report's outcome is that stop, and
    /// `earlier` holds every attempt made.
    pub stopped_waiting: bool,
    /// How long the attempt that ended the run took, once it was not the first: the run's duration
    /// spans every attempt and wait, and a success after two long waits is not the job grown slower.
    pub last_took: Option<Duration>,
}

impl Default for Attempts {
    fn default() -> Attempts {
        Attempts {
            made: 1,
            allowed: 1,
            earlier: Vec::new(),
            no_retry: None,
            stopped_waiting: false,
            last_took: None,
        }
    }
}

impl Attempts {
    /// One line about the attempts, for the finish report: `succeeded on attempt 3 of 4 after exit 1,
    /// exit 1`; none for a run without retries.
    pub fn summary(&self, last: &Outcome) -> Option<String> {
        if self.allowed <= 1 {
            return None;
        }
        let after = match self.earlier.as_slice() {
            [] => String::new(),
            earlier => format!(
                " after {}",
                earlier
                    .iter()
                    .map(|f| short(&f.outcome))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut line = if self.stopped_waiting {
            format!(
                "stopped while waiting for attempt {} of {}, {}",
                self.made + 1,
                self.allowed,
                after.trim_start()
            )
        } else {
            let verb = if last.succeeded() {
                "succeeded"
            } else if last.terminated() {
                "terminated"
            } else {
                "failed"
            };
            format!("{verb} on attempt {} of {}{after}", self.made, self.allowed)
        };
        if let Some(why) = &self.no_retry {
            line.push_str("; no retry: ");
            line.push_str(why);
        }
        Some(line)
    }

    /// The lines that precede the last attempt's output in the reported tail, one per earlier failure,
    /// each ending with that attempt's last line of output when it printed one.
    pub fn tail_lines(&self) -> Vec<u8> {
        let mut text = Vec::new();
        for (i, failed) in self.earlier.iter().enumerate() {
            text.extend_from_slice(
                format!(
                    "[cronbeat] attempt {} of {} failed: {}",
                    i + 1,
                    self.allowed,
                    failed.outcome.describe()
                )
                .as_bytes(),
            );
            if !failed.last_line.is_empty() {
                text.extend_from_slice(b": ");
                text.extend_from_slice(&failed.last_line);
            }
            text.push(b'\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Cause;

    #[test]
    fn summaries() {
        let attempts = Attempts {
            made: 3,
            allowed: 4,
            earlier: vec![
                Failed::new(Outcome::exited(1), b"working\nerror: API 503\n\n"),
                Failed::new(Outcome::exited(1), b""),
            ],
            no_retry: None,
            stopped_waiting: false,
            last_took: None,
        };
        assert_eq!(
            attempts.summary(&Outcome::exited(0)).unwrap(),
            "succeeded on attempt 3 of 4 after exit 1, exit 1"
        );
        assert_eq!(
            String::from_utf8(attempts.tail_lines()).unwrap(),
            "[cronbeat] attempt 1 of 4 failed: exited with status 1: error: API 503\n\
             [cronbeat] attempt 2 of 4 failed: exited with status 1\n"
        );
        let timeout = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::Timeout(Duration::from_secs(1)),
        );
        let stopped = Attempts {
            made: 1,
            no_retry: Some("timeout is not retried by default (see --retry-on)".into()),
            earlier: vec![],
            ..attempts.clone()
        };
        assert_eq!(
            stopped.summary(&timeout).unwrap(),
            "failed on attempt 1 of 4; no retry: timeout is not retried by default (see --retry-on)"
        );
        let waiting = Attempts {
            made: 2,
            stopped_waiting: true,
            ..attempts.clone()
        };
        assert_eq!(
            waiting.summary(&Outcome::exited(1)).unwrap(),
            "stopped while waiting for attempt 3 of 4, after exit 1, exit 1"
        );
        assert_eq!(Attempts::default().summary(&Outcome::exited(1)), None);
    }
}
