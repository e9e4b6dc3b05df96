//! How a run ended, the verdict the success rules give it, and the exit status that tells the truth.
//!
//! For protocols: `succeeded()` is the verdict (success rules included), `terminated()` says the run was
//! stopped on request (neither success nor failure), `exit_code()` is the number cronbeat exits with,
//! `word()` and `describe()` say what happened.

use std::time::Duration;

use crate::exit::{self, Exit};

/// What the command itself did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildStatus {
    Exited(i32),
    Signaled(i32),
    /// exec failed: 126 (found but not executable) or 127 (not found), with the reason.
    NotStarted {
        code: i32,
        reason: String,
    },
}

/// What, besides the command's own exit, decided how the run is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The `--timeout` deadline passed and cronbeat stopped the command.
    Timeout(Duration),
    /// The command printed nothing for `--idle-timeout` and cronbeat stopped it.
    Idle(Duration),
    /// A terminating signal reached cronbeat and was forwarded: the run was stopped on request.
    Forwarded(i32),
    /// The command died of SIGINT or SIGQUIT while it held the terminal: Ctrl-C or Ctrl-\ typed there
    /// went to it, not to cronbeat, and stopped the run on request just the same.
    Interrupted(i32),
    /// A non-zero exit status listed in `--success-codes`: the run counts as a success.
    Accepted,
    /// A success rule failed a run whose exit status alone would have been a success.
    Rule(Rule),
    /// The fleet lock's lease was lost and cronbeat stopped the command (`--on-lock-lost kill`).
    LockLost(LockLoss),
    /// The kernel's OOM killer killed a process of the run, which failed: the run's peak memory and
    /// `--memory-max` (bytes), where known. The exit status stays the command's (137 for the command
    /// itself killed).
    Oom {
        peak: Option<u64>,
        limit: Option<u64>,
    },
}

/// How a fleet lock's lease was lost while the command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockLoss {
    /// A renewal found the lease no longer this run's: it expired and another host took it, or it was
    /// removed from the engine.
    Taken,
    /// No renewal reached the engine in time for the command to be stopped before the lease (of this
    /// TTL) could expire there.
    Unreachable(Duration),
}

impl std::fmt::Display for LockLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockLoss::Taken => {
                f.write_str("the fleet lock was lost: the engine no longer holds it for this run")
            }
            LockLoss::Unreachable(ttl) => write!(
                f,
                "the fleet lock was lost: no renewal reached the engine in time to keep its lease (TTL {})",
                humantime::format_duration(*ttl)
            ),
        }
    }
}

/// A success rule that failed the run. The exit status stays the command's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Exited with a status that `--success-codes` does not list (only possible for 0).
    Unlisted,
    /// Wrote to stderr under `--stderr-fails`.
    Stderr,
    /// Finished in `took`, sooner than `--min-runtime`.
    TooQuick { took: Duration, min: Duration },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: ChildStatus,
    pub cause: Option<Cause>,
}

/// The success rules: which runs count as a success. They change what is reported, never the exit status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// Exit statuses that count as success; empty means just 0.
    pub success_codes: Vec<i32>,
    pub stderr_fails: bool,
    pub min_runtime: Option<Duration>,
}

impl Rules {
    /// The cause a finished run gets from the rules, if any. A run that was stopped (deadline, idle,
    /// signal) or never started keeps its own story; a crash is never a success.
    pub fn judge(&self, outcome: &Outcome, took: Duration, wrote_stderr: bool) -> Option<Cause> {
        if outcome.cause.is_some() {
            return outcome.cause;
        }
        let ChildStatus::Exited(code) = outcome.status else {
            return None;
        };
        let listed = if self.success_codes.is_empty() {
            code == 0
        } else {
            self.success_codes.contains(&code)
        };
        if !listed {
            return (code == 0).then_some(Cause::Rule(Rule::Unlisted));
        }
        if self.stderr_fails && wrote_stderr {
            return Some(Cause::Rule(Rule::Stderr));
        }
        if let Some(min) = self.min_runtime.filter(|min| took < *min) {
            return Some(Cause::Rule(Rule::TooQuick { took, min }));
        }
        (code != 0).then_some(Cause::Accepted)
    }
}

impl Outcome {
    /// How cronbeat ends after this run: the command's own status, except when cronbeat stopped it for
    /// overrunning or idling.
    pub fn exit(&self) -> Exit {
        match self.cause {
            Some(Cause::Timeout(_)) => return Exit::Timeout,
            Some(Cause::Idle(_)) => return Exit::Idle,
            Some(Cause::LockLost(_)) => return Exit::LockLost,
            _ => {}
        }
        match &self.status {
            ChildStatus::Exited(code) => Exit::Exited(*code),
            ChildStatus::Signaled(sig) => Exit::Signaled(*sig),
            ChildStatus::NotStarted { code, .. } if *code == exit::NOT_FOUND => Exit::NotFound,
            ChildStatus::NotStarted { code, .. } if *code == exit::LOCKED => Exit::Locked,
            // A limit asked for could not be applied: refused as a usage error is.
            ChildStatus::NotStarted { code, .. } if *code == exit::USAGE => Exit::Usage,
            ChildStatus::NotStarted { .. } => Exit::NotExecutable,
        }
    }

    /// The exit status.
    pub fn exit_code(&self) -> i32 {
        self.exit().code()
    }

    /// The verdict: success by exit status, as amended by the success rules.
    pub fn succeeded(&self) -> bool {
        match self.cause {
            Some(Cause::Accepted) => true,
            Some(_) => false,
            None => self.exit_code() == 0,
        }
    }

    /// Stopped by a forwarded SIGTERM, SIGINT, SIGHUP or SIGQUIT, or by Ctrl-C in the terminal: a
    /// requested end, not a failure.
    pub fn terminated(&self) -> bool {
        matches!(
            self.cause,
            Some(Cause::Forwarded(_) | Cause::Interrupted(_))
        )
    }

    /// The exit code when the command exited on its own terms and nothing but that code decides the
    /// verdict (no deadline, no signal, no exec failure, no success rule).
    pub fn plain_exit(&self) -> Option<i32> {
        match (&self.status, self.cause) {
            (ChildStatus::Exited(code), None) => Some(*code),
            _ => None,
        }
    }

    /// One line saying what happened, for logs and failure reports.
    pub fn describe(&self) -> String {
        let what = match &self.status {
            ChildStatus::Exited(code) => format!("exited with status {code}"),
            ChildStatus::Signaled(sig) => format!("killed by {}", signal_name(*sig)),
            ChildStatus::NotStarted { reason, .. } => format!("could not start: {reason}"),
        };
        match self.cause {
            None => what,
            Some(Cause::Timeout(limit)) => format!(
                "timed out after {} and was stopped ({what})",
                humantime::format_duration(limit)
            ),
            Some(Cause::Idle(limit)) => format!(
                "no output for {} and was stopped ({what})",
                humantime::format_duration(limit)
            ),
            Some(Cause::Forwarded(sig)) if self.status == ChildStatus::Signaled(sig) => {
                format!("terminated by {}", signal_name(sig))
            }
            Some(Cause::Forwarded(sig)) => format!("terminated by {} ({what})", signal_name(sig)),
            Some(Cause::Interrupted(sig)) => {
                format!("terminated by {} from the terminal", signal_name(sig))
            }
            Some(Cause::Accepted) => format!("{what}, a success code"),
            Some(Cause::Rule(Rule::Unlisted)) => {
                format!("{what}, which --success-codes does not count as success")
            }
            Some(Cause::Rule(Rule::Stderr)) => {
                format!("wrote to stderr, a failure under --stderr-fails ({what})")
            }
            Some(Cause::LockLost(loss)) => format!("{loss}, and the command was stopped ({what})"),
            Some(Cause::Oom { peak, limit }) => {
                let mut figures = Vec::new();
                if let Some(peak) = peak {
                    figures.push(format!("peak {}", crate::cost::bytes(peak)));
                }
                if let Some(limit) = limit {
                    figures.push(format!("limit {}", crate::cost::bytes(limit)));
                }
                let figures = match figures.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", figures.join(", ")),
                };
                if self.status == ChildStatus::Signaled(libc::SIGKILL) {
                    format!("killed by the kernel's OOM killer{figures}")
                } else {
                    format!("a process of the run was killed by the kernel's OOM killer{figures}, and the command {what}")
                }
            }
            Some(Cause::Rule(Rule::TooQuick { took, min })) => format!(
                "finished too quickly: after {}, sooner than the minimum runtime {} ({what})",
                round(took),
                humantime::format_duration(min)
            ),
        }
    }

    /// A one-word outcome for logs, JSON and monitors: success, failure, timeout, idle, terminated,
    /// lock_lost, oom, signal, not_started.
    pub fn word(&self) -> &'static str {
        match (&self.status, self.cause) {
            (_, Some(Cause::Timeout(_))) => "timeout",
            (_, Some(Cause::Idle(_))) => "idle",
            (_, Some(Cause::Forwarded(_) | Cause::Interrupted(_))) => "terminated",
            (_, Some(Cause::LockLost(_))) => "lock_lost",
            (_, Some(Cause::Oom { .. })) => "oom",
            (ChildStatus::NotStarted { .. }, _) => "not_started",
            (ChildStatus::Signaled(_), _) => "signal",
            _ if self.succeeded() => "success",
            _ => "failure",
        }
    }

    pub fn signal(&self) -> Option<i32> {
        match self.status {
            ChildStatus::Signaled(sig) => Some(sig),
            _ => None,
        }
    }
}

/// A duration as people read it: whole seconds from ten seconds on, milliseconds below.
pub fn round(d: Duration) -> humantime::FormattedDuration {
    let rounded = if d >= Duration::from_secs(10) {
        Duration::from_secs(d.as_secs_f64().round() as u64)
    } else {
        Duration::from_millis(d.as_millis() as u64)
    };
    humantime::format_duration(rounded)
}

pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
    }
}

/// Shorthands for the tests of the modules that judge outcomes (retries, attempts).
#[cfg(test)]
impl Outcome {
    pub fn exited(code: i32) -> Outcome {
        Outcome {
            status: ChildStatus::Exited(code),
            cause: None,
        }
    }

    pub fn with(status: ChildStatus, cause: Cause) -> Outcome {
        Outcome {
            status,
            cause: Some(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: ChildStatus, cause: Option<Cause>) -> Outcome {
        Outcome { status, cause }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(outcome(ChildStatus::Exited(3), None).exit_code(), 3);
        assert_eq!(outcome(ChildStatus::Signaled(15), None).exit_code(), 143);
        let timeout = Some(Cause::Timeout(Duration::from_secs(1)));
        assert_eq!(outcome(ChildStatus::Exited(0), timeout).exit_code(), 124);
        assert_eq!(outcome(ChildStatus::Signaled(9), timeout).exit_code(), 124);
        let idle = Some(Cause::Idle(Duration::from_secs(1)));
        assert_eq!(outcome(ChildStatus::Signaled(15), idle).exit_code(), 125);
        let nf = ChildStatus::NotStarted {
            code: 127,
            reason: "x".into(),
        };
        assert_eq!(outcome(nf, None).exit_code(), 127);
        let fwd = Some(Cause::Forwarded(15));
        assert_eq!(outcome(ChildStatus::Exited(0), fwd).exit_code(), 0);
        let rule = Some(Cause::Rule(Rule::Stderr));
        assert_eq!(outcome(ChildStatus::Exited(0), rule).exit_code(), 0);
        assert_eq!(
            outcome(ChildStatus::Exited(3), Some(Cause::Accepted)).exit_code(),
            3
        );
    }

    #[test]
    fn descriptions_and_words() {
        let o = outcome(
            ChildStatus::Signaled(9),
            Some(Cause::Timeout(Duration::from_secs(2))),
        );
        assert_eq!(
            o.describe(),
            "timed out after 2s and was stopped (killed by SIGKILL)"
        );
        assert_eq!(o.word(), "timeout");
        let o = outcome(
            ChildStatus::Signaled(15),
            Some(Cause::Idle(Duration::from_secs(3))),
        );
        assert_eq!(
            o.describe(),
            "no output for 3s and was stopped (killed by SIGTERM)"
        );
        assert_eq!(o.word(), "idle");
        let o = outcome(ChildStatus::Signaled(15), Some(Cause::Forwarded(15)));
        assert_eq!(o.describe(), "terminated by SIGTERM");
        assert_eq!(o.word(), "terminated");
        assert!(!o.succeeded() && o.terminated());
        let o = outcome(ChildStatus::Exited(0), Some(Cause::Forwarded(2)));
        assert_eq!(o.describe(), "terminated by SIGINT (exited with status 0)");
        // Ctrl-C in the terminal: terminated, and the exit status is still the truth, 128+2.
        let o = outcome(ChildStatus::Signaled(2), Some(Cause::Interrupted(2)));
        assert_eq!(o.describe(), "terminated by SIGINT from the terminal");
        assert_eq!(o.word(), "terminated");
        assert!(!o.succeeded() && o.terminated());
        assert_eq!(o.exit_code(), 130);
        let o = outcome(ChildStatus::Exited(3), Some(Cause::Accepted));
        assert_eq!(o.word(), "success");
        assert!(o.succeeded());
        let o = outcome(ChildStatus::Exited(0), Some(Cause::Rule(Rule::Stderr)));
        assert_eq!(o.word(), "failure");
        assert!(!o.succeeded());
        let o = outcome(
            ChildStatus::Signaled(15),
            Some(Cause::LockLost(LockLoss::Taken)),
        );
        assert_eq!(o.word(), "lock_lost");
        assert_eq!(o.exit_code(), 123);
        assert!(!o.succeeded() && !o.terminated());
        assert_eq!(
            o.describe(),
            "the fleet lock was lost: the engine no longer holds it for this run, and the command \
             was stopped (killed by SIGTERM)"
        );
        let o = outcome(
            ChildStatus::NotStarted {
                code: 75,
                reason: "x".into(),
            },
            None,
        );
        assert_eq!((o.exit_code(), o.word()), (75, "not_started"));
    }

    #[test]
    fn an_oom_kill_keeps_the_exit_status_and_says_so() {
        let oom = Some(Cause::Oom {
            peak: Some(512 << 20),
            limit: Some(512 << 20),
        });
        let o = outcome(ChildStatus::Signaled(9), oom);
        assert_eq!(
            o.describe(),
            "killed by the kernel's OOM killer (peak 512 MiB, limit 512 MiB)"
        );
        assert_eq!(
            (o.word(), o.exit_code(), o.succeeded()),
            ("oom", 137, false)
        );
        let o = outcome(
            ChildStatus::Exited(1),
            Some(Cause::Oom {
                peak: Some(300 << 20),
                limit: None,
            }),
        );
        assert_eq!(
            o.describe(),
            "a process of the run was killed by the kernel's OOM killer (peak 300 MiB), and the \
             command exited with status 1"
        );
        assert_eq!((o.word(), o.exit_code()), ("oom", 1));
    }

    #[test]
    fn rules() {
        let exited = |code| outcome(ChildStatus::Exited(code), None);
        let second = Duration::from_secs(1);
        let plain = Rules::default();
        assert_eq!(plain.judge(&exited(0), second, true), None);
        assert_eq!(plain.judge(&exited(1), second, false), None);

        let codes = Rules {
            success_codes: vec![0, 3],
            ..Rules::default()
        };
        assert_eq!(
            codes.judge(&exited(3), second, false),
            Some(Cause::Accepted)
        );
        assert_eq!(codes.judge(&exited(0), second, false), None);
        assert_eq!(codes.judge(&exited(1), second, false), None);
        let only_three = Rules {
            success_codes: vec![3],
            ..Rules::default()
        };
        assert_eq!(
            only_three.judge(&exited(0), second, false),
            Some(Cause::Rule(Rule::Unlisted))
        );

        let strict = Rules {
            success_codes: vec![0, 3],
            stderr_fails: true,
            min_runtime: Some(2 * second),
        };
        assert_eq!(
            strict.judge(&exited(3), 3 * second, true),
            Some(Cause::Rule(Rule::Stderr))
        );
        assert_eq!(
            strict.judge(&exited(0), second, false),
            Some(Cause::Rule(Rule::TooQuick {
                took: second,
                min: 2 * second
            }))
        );
        assert_eq!(strict.judge(&exited(0), 3 * second, false), None);
        // A failure stays a plain failure; a crash or a stopped run is not judged again.
        assert_eq!(strict.judge(&exited(1), second, true), None);
        let crashed = outcome(ChildStatus::Signaled(11), None);
        assert_eq!(strict.judge(&crashed, second, true), None);
        let stopped = outcome(ChildStatus::Exited(0), Some(Cause::Forwarded(15)));
        assert_eq!(
            strict.judge(&stopped, second, true),
            Some(Cause::Forwarded(15))
        );
    }
}
