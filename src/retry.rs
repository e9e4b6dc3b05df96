//! Bounded retries of the command (`--retries`, `--retry-on`, `--retry-delay`): which failed attempts are
//! tried again, how long to wait before each, and whether the next attempt could still finish before the
//! job is due again. The decisions are pure, so they are tested here as tables; the loop that acts on
//! them is `run::attempts`, and what a run's report says of its attempts is `attempts`.
//!
//! The wait before retry k (1 for the first) is full jitter, as in AWS's "exponential backoff and
//! jitter": uniform in `[0, min(10 × base, base × 2^(k-1))]`. Doubling spreads a failing fleet out, the
//! jitter keeps the hosts that failed together from retrying together, and the cap of ten times the first
//! wait keeps a long series of retries from waiting longer than the job runs.

use std::time::{Duration, SystemTime};

use crate::attempts::short;
use crate::ledger::record::{ERROR, INTERRUPTED, OUTCOMES, SKIPPED};
use crate::outcome::{ChildStatus, Outcome};

/// `--retry-delay` when it is not given.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(10);
/// Beyond this many retries a job has no transient error but a broken one.
pub const MAX_RETRIES: u32 = 100;
/// The longest `--retry-delay`: its waits reach ten times it.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// The longest wait is this many times the first.
pub const CAP_FACTOR: u32 = 10;

/// What failed attempts are tried again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RetryOn {
    /// Any failure except a timeout, a stop on request, a lost fleet lock and the statuses 126 and 127 (a
    /// command that cannot be run fails the same way next time; a timeout would run into the next tick).
    #[default]
    Failures,
    /// These outcome words and exit statuses only.
    Listed {
        words: Vec<&'static str>,
        codes: Vec<i32>,
    },
}

/// The outcomes the default leaves alone, and the exit statuses of a command that cannot be run.
const NOT_BY_DEFAULT: [&str; 3] = ["timeout", "terminated", "lock_lost"];
const CANNOT_RUN: [i32; 2] = [126, 127];

/// The outcome words `--retry-on` takes: every word a run's outcome can have that is a failure. Taken
/// from the ledger's list, so that a new outcome is retried by name as soon as runs can have it.
pub fn failure_words() -> Vec<&'static str> {
    OUTCOMES
        .iter()
        .copied()
        .filter(|w| !["success", "terminated", SKIPPED, INTERRUPTED, ERROR].contains(w))
        .collect()
}

impl RetryOn {
    /// `failure,timeout`, `1,75`, `1-5,idle`: outcome words and exit statuses (or ranges of them).
    pub fn parse(text: &str) -> Result<RetryOn, String> {
        let known = failure_words();
        let mut words = Vec::new();
        let mut codes = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!(
                    "{text:?} has an empty item (expected e.g. failure,timeout or 1,75)"
                ));
            }
            if part.starts_with(|c: char| c.is_ascii_digit()) {
                codes.extend(crate::units::parse_exit_codes(part)?.0);
            } else if let Some(word) = known.iter().find(|w| **w == part) {
                words.push(*word);
            } else if part == "success" {
                return Err("success is not a failure: it is never retried".to_string());
            } else if part == "terminated" {
                return Err("terminated: a run stopped on request is never retried".to_string());
            } else {
                return Err(format!(
                    "unknown outcome {part:?} (expected exit statuses such as 1,75 or outcomes: {})",
                    known.join(", ")
                ));
            }
        }
        words.dedup();
        codes.sort_unstable();
        codes.dedup();
        Ok(RetryOn::Listed { words, codes })
    }

    /// Whether a failed attempt that ended so is tried again. A stop on request never is, nor a refusal.
    pub fn retries(&self, outcome: &Outcome) -> bool {
        if outcome.succeeded() || outcome.terminated() || refused(outcome) {
            return false;
        }
        let word = outcome.word();
        let code = exit_status_of(outcome);
        match self {
            RetryOn::Failures => !NOT_BY_DEFAULT.contains(&word) && !CANNOT_RUN.contains(&code),
            RetryOn::Listed { words, codes } => words.contains(&word) || codes.contains(&code),
        }
    }
}

impl<'de> serde::Deserialize<'de> for RetryOn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(i64),
            Text(String),
            Many(Vec<Item>),
        }
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Item {
            Code(i64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::One(n) => n.to_string(),
            Raw::Text(t) => t,
            Raw::Many(items) => items
                .into_iter()
                .map(|i| match i {
                    Item::Code(n) => n.to_string(),
                    Item::Text(t) => t,
                })
                .collect::<Vec<_>>()
                .join(","),
        };
        RetryOn::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A command cronbeat would not start (exit 2: a limit it could not apply): the next attempt would be
/// refused the same way, and running it anyway would lose the limit.
fn refused(outcome: &Outcome) -> bool {
    matches!(outcome.status, ChildStatus::NotStarted { code, .. } if code == crate::exit::USAGE)
}

/// The exit status an attempt's outcome is matched on: the one the attempt reads as, which cronbeat would
/// exit with had the run ended there and the ledger records for it. The command's own status whatever
/// the outcome word (`failure`, `oom`, a failure by a success rule), 128 + N for a signal N (137 for a
/// SIGKILL, the OOM killer's included), cronbeat's 124, 125 and 123 for an attempt it stopped for its
/// `--timeout`, its `--idle-timeout` or a lost lease (what the command died of then is cronbeat's doing,
/// not the job's), and 126 or 127 for a command that could not be started.
fn exit_status_of(outcome: &Outcome) -> i32 {
    outcome.exit_code()
}

/// The job's retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Attempts after the first.
    pub retries: u32,
    pub on: RetryOn,
    /// The ceiling of the first wait, doubled for each further one.
    pub delay: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            retries: 0,
            on: RetryOn::default(),
            delay: DEFAULT_RETRY_DELAY,
        }
    }
}

/// The longest wait before retry `k` (1 for the first): `min(CAP_FACTOR × base, base × 2^(k-1))`.
pub fn ceiling(base: Duration, k: u32) -> Duration {
    let cap = base.saturating_mul(CAP_FACTOR);
    let doubling = 1u32.checked_shl(k.saturating_sub(1)).unwrap_or(u32::MAX);
    base.saturating_mul(doubling).min(cap)
}

/// The wait before retry `k`: uniform in `[0, ceiling(base, k)]` (full jitter).
pub fn backoff(base: Duration, k: u32, rng: &mut fastrand::Rng) -> Duration {
    let most = u64::try_from(ceiling(base, k).as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(0..=most))
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then start the next attempt.
    Retry(Duration),
    /// The run ends with this attempt.
    End,
    /// The run ends with this attempt although attempts are left, for the reason given.
    NoRetry(String),
}

/// Where the run stands after an attempt: which one it was (1 for the first), how it ended, how long it
/// took, the attempt's `--timeout` and `--kill-after`, and the job's next due time, if it has a schedule.
pub struct After<'a> {
    pub attempt: u32,
    pub outcome: &'a Outcome,
    pub took: Duration,
    pub timeout: Option<Duration>,
    /// The grace after the timeout's SIGTERM, which an attempt that times out may run for too.
    pub kill_after: Duration,
    pub now: SystemTime,
    pub next_due: Option<SystemTime>,
}

impl Policy {
    /// Whether to retry, and after what wait. A retry is started only when it could finish before the next
    /// due time: now + the wait + its `--timeout` and `--kill-after` (without a timeout, as long as the
    /// attempt before it took).
    pub fn next(&self, after: &After<'_>, rng: &mut fastrand::Rng) -> Next {
        let outcome = after.outcome;
        if outcome.succeeded() || outcome.terminated() || after.attempt > self.retries {
            return Next::End;
        }
        if refused(outcome) {
            return Next::NoRetry(
                "a run refused before its command started is never retried".into(),
            );
        }
        if !self.on.retries(outcome) {
            let rule = match self.on {
                RetryOn::Failures => "by default (see --retry-on)",
                RetryOn::Listed { .. } => "by --retry-on",
            };
            return Next::NoRetry(format!("{} is not retried {rule}", short(outcome)));
        }
        let wait = backoff(self.delay, after.attempt, rng);
        if let Some(due) = after.next_due {
            let needs = wait
                + after
                    .timeout
                    .map_or(after.took, |timeout| timeout + after.kill_after);
            if after.now + needs > due {
                return Next::NoRetry(format!(
                    "attempt {} could not finish before the next due time {} (it would need {})",
                    after.attempt + 1,
                    crate::schedule::rfc3339_utc(due),
                    crate::outcome::round(needs)
                ));
            }
        }
        Next::Retry(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Cause;

    #[test]
    fn the_waits_stay_within_their_ceilings_and_fill_them() {
        let base = Duration::from_millis(100);
        let ceilings: Vec<u128> = (1..=7).map(|k| ceiling(base, k).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(ceiling(base, 1000), base * CAP_FACTOR);
        assert_eq!(ceiling(Duration::ZERO, 3), Duration::ZERO);
        for seed in 0..20 {
            let mut rng = fastrand::Rng::with_seed(seed);
            for k in 1..=6 {
                let most = ceiling(base, k);
                let waits: Vec<Duration> = (0..500).map(|_| backoff(base, k, &mut rng)).collect();
                assert!(waits.iter().all(|w| *w <= most), "k={k}");
                // Full jitter: the waits spread over the whole range, from near 0 to near the ceiling.
                assert!(waits.iter().any(|w| *w < most / 10), "k={k}");
                assert!(waits.iter().any(|w| *w > most * 9 / 10), "k={k}");
            }
        }
    }

    #[test]
    fn what_is_retried() {
        let timeout = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::Timeout(Duration::from_secs(1)),
        );
        let stopped = Outcome::with(ChildStatus::Signaled(15), Cause::Forwarded(15));
        let lost = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::LockLost(crate::outcome::LockLoss::Taken),
        );
        let idle = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::Idle(Duration::from_secs(1)),
        );
        let crashed = Outcome {
            status: ChildStatus::Signaled(11),
            cause: None,
        };
        let not_found = Outcome {
            status: ChildStatus::NotStarted {
                code: 127,
                reason: "x".into(),
            },
            cause: None,
        };
        let default = RetryOn::default();
        let cases = [
            (&Outcome::exited(1), true),
            (&Outcome::exited(75), true),
            (&Outcome::exited(0), false),
            (&Outcome::exited(126), false),
            (&Outcome::exited(127), false),
            (&not_found, false),
            (&timeout, false),
            (&stopped, false),
            (&lost, false),
            (&idle, true),
            (&crashed, true),
        ];
        for (outcome, retried) in cases {
            assert_eq!(default.retries(outcome), retried, "{outcome:?}");
        }
        let listed = RetryOn::parse("timeout, 75,100-102").unwrap();
        assert!(listed.retries(&timeout));
        assert!(listed.retries(&Outcome::exited(75)) && listed.retries(&Outcome::exited(101)));
        assert!(!listed.retries(&Outcome::exited(1)) && !listed.retries(&crashed));
        // A stop on request is never retried, whatever the list says.
        assert!(RetryOn::parse("terminated").is_err());
        assert!(!RetryOn::parse("signal,failure").unwrap().retries(&stopped));
        assert!(RetryOn::parse("not_started,failure")
            .unwrap()
            .retries(&not_found));
        // A refusal (a limit that could not be applied) is never retried, whatever the list says.
        let refusal = Outcome {
            status: ChildStatus::NotStarted {
                code: crate::exit::USAGE,
                reason: "cannot place the command".into(),
            },
            cause: None,
        };
        for on in [
            RetryOn::default(),
            RetryOn::parse("not_started").unwrap(),
            RetryOn::parse("2,failure,not_started").unwrap(),
        ] {
            assert!(!on.retries(&refusal), "{on:?}");
        }
    }

    #[test]
    fn an_exit_status_matches_every_attempt_that_reads_as_it() {
        let oom = |status| {
            Outcome::with(
                status,
                Cause::Oom {
                    peak: Some(64 << 20),
                    limit: Some(64 << 20),
                },
            )
        };
        let killed = Outcome {
            status: ChildStatus::Signaled(libc::SIGKILL),
            cause: None,
        };
        let by_stderr = Outcome::with(
            ChildStatus::Exited(3),
            Cause::Rule(crate::outcome::Rule::Stderr),
        );
        let timeout = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::Timeout(Duration::from_secs(1)),
        );
        let idle = Outcome::with(
            ChildStatus::Exited(143),
            Cause::Idle(Duration::from_secs(1)),
        );
        let lost = Outcome::with(
            ChildStatus::Signaled(15),
            Cause::LockLost(crate::outcome::LockLoss::Taken),
        );
        let terminated = Outcome::with(ChildStatus::Signaled(15), Cause::Forwarded(15));
        let stopped_after_exit = Outcome::with(ChildStatus::Exited(1), Cause::Forwarded(15));
        let from_terminal = Outcome::with(ChildStatus::Signaled(2), Cause::Interrupted(2));
        let term = Outcome {
            status: ChildStatus::Signaled(15),
            cause: None,
        };
        let matches =
            |list: &str, outcome: &Outcome| RetryOn::parse(list).unwrap().retries(outcome);
        // 137: a SIGKILL, the OOM killer's or another's, and a command that exited 137 itself.
        for outcome in [
            &oom(ChildStatus::Signaled(libc::SIGKILL)),
            &killed,
            &Outcome::exited(137),
        ] {
            assert!(matches("137", outcome), "{outcome:?}");
            assert!(!matches("1,9,143", outcome), "{outcome:?}");
        }
        // The command's own status, whatever the outcome word: an OOM kill of another process of the
        // run, a failure by a success rule.
        assert!(matches("1", &oom(ChildStatus::Exited(1))));
        assert!(!matches("137", &oom(ChildStatus::Exited(1))));
        assert!(matches("3", &by_stderr) && !matches("1", &by_stderr));
        assert!(matches("1", &Outcome::exited(1)) && !matches("2", &Outcome::exited(1)));
        // A signal N reads as 128 + N; an attempt cronbeat stopped reads as cronbeat's status for it,
        // never as the signal it sent.
        assert!(matches("143", &term));
        assert!(matches("124", &timeout) && !matches("143", &timeout));
        assert!(matches("125", &idle) && !matches("143", &idle));
        assert!(matches("123", &lost) && !matches("143", &lost));
        // A stop on request is never retried, whatever its status reads as.
        for outcome in [&terminated, &stopped_after_exit, &from_terminal] {
            assert!(!matches("0-255", outcome), "{outcome:?}");
        }
        // The default is unchanged: any failure but a timeout, a lost lease and 126 or 127.
        let default = RetryOn::default();
        for outcome in [
            &oom(ChildStatus::Signaled(libc::SIGKILL)),
            &oom(ChildStatus::Exited(1)),
            &killed,
            &term,
            &by_stderr,
            &idle,
        ] {
            assert!(default.retries(outcome), "{outcome:?}");
        }
        for outcome in [
            &timeout,
            &lost,
            &terminated,
            &Outcome::exited(126),
            &Outcome::exited(127),
        ] {
            assert!(!default.retries(outcome), "{outcome:?}");
        }
    }

    #[test]
    fn every_failure_word_of_a_run_is_accepted() {
        for word in failure_words() {
            assert!(RetryOn::parse(word).is_ok(), "{word}");
        }
        for word in [
            "failure",
            "timeout",
            "idle",
            "signal",
            "not_started",
            "lock_lost",
        ] {
            assert!(failure_words().contains(&word), "{word}");
        }
        assert!(RetryOn::parse("success")
            .unwrap_err()
            .contains("never retried"));
        let e = RetryOn::parse("flaky").unwrap_err();
        assert!(e.contains("\"flaky\"") && e.contains("timeout"), "{e}");
        assert!(RetryOn::parse("1,,2").is_err());
        assert!(RetryOn::parse("300").is_err());
    }

    #[test]
    fn a_retry_that_could_not_finish_before_the_next_due_time_is_not_started() {
        let policy = Policy {
            retries: 3,
            on: RetryOn::default(),
            delay: Duration::from_secs(10),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let failed = Outcome::exited(1);
        let after = |attempt, timeout, next_due| After {
            attempt,
            outcome: &failed,
            took: Duration::from_secs(30),
            timeout,
            kill_after: Duration::from_secs(10),
            now,
            next_due,
        };
        let mut rng = fastrand::Rng::with_seed(7);
        assert!(matches!(
            policy.next(&after(1, None, None), &mut rng),
            Next::Retry(w) if w <= Duration::from_secs(10)
        ));
        // The wait (at most 10 s) and the timeout fit before a due time 5 minutes away; 1 hour does not.
        let soon = Some(now + Duration::from_secs(300));
        let minute = Some(Duration::from_secs(60));
        assert!(matches!(
            policy.next(&after(1, minute, soon), &mut rng),
            Next::Retry(_)
        ));
        let hour = Some(Duration::from_secs(3600));
        match policy.next(&after(1, hour, soon), &mut rng) {
            Next::NoRetry(why) => assert!(
                why.starts_with(
                    "attempt 2 could not finish before the next due time 1970-01-12T13:51:40Z"
                ),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // The timeout's grace counts: a wait of up to 10 s, 270 s of timeout and 10 s of --kill-after
        // may need 290 s, more than the 285 s left; without the grace 280 s would fit.
        let tight = Some(now + Duration::from_secs(285));
        let almost = Some(Duration::from_secs(270));
        for _ in 0..50 {
            match policy.next(&after(1, almost, tight), &mut rng) {
                Next::Retry(wait) => assert!(wait <= Duration::from_secs(5), "{wait:?}"),
                Next::NoRetry(why) => assert!(why.contains("could not finish"), "{why}"),
                Next::End => panic!("a failure with retries left ends the run"),
            }
        }
        let no_grace = After {
            kill_after: Duration::ZERO,
            ..after(1, almost, tight)
        };
        assert!(matches!(policy.next(&no_grace, &mut rng), Next::Retry(_)));
        // Without a timeout, the attempt before it is the measure: 30 s fits, 30 s does not fit in 20 s.
        let close = Some(now + Duration::from_secs(20));
        assert!(matches!(
            policy.next(&after(1, None, close), &mut rng),
            Next::NoRetry(_)
        ));
        assert_eq!(policy.next(&after(4, None, None), &mut rng), Next::End);
        let ok = Outcome::exited(0);
        let done = After {
            outcome: &ok,
            ..after(1, None, None)
        };
        assert_eq!(policy.next(&done, &mut rng), Next::End);
        let refusal = Outcome {
            status: ChildStatus::NotStarted {
                code: crate::exit::USAGE,
                reason: "x".into(),
            },
            cause: None,
        };
        let refused = After {
            outcome: &refusal,
            ..after(1, None, None)
        };
        assert_eq!(
            policy.next(&refused, &mut rng),
            Next::NoRetry("a run refused before its command started is never retried".into())
        );
    }
}
