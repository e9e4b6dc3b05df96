//! How a run ended, and the exit status that tells the truth about it.

use std::time::Duration;

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

/// Why cronbeat stopped the command, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The `--timeout` deadline passed.
    Timeout(Duration),
    /// A terminating signal reached cronbeat and was forwarded.
    Forwarded(i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: ChildStatus,
    pub cause: Option<Cause>,
}

pub const EXIT_TIMEOUT: i32 = 124;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LOCKED: i32 = 75;

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        if let Some(Cause::Timeout(_)) = self.cause {
            return EXIT_TIMEOUT;
        }
        match &self.status {
            ChildStatus::Exited(code) => *code,
            ChildStatus::Signaled(sig) => 128 + sig,
            ChildStatus::NotStarted { code, .. } => *code,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.exit_code() == 0
    }

    /// The plain exit code, when the command exited on its own terms (no deadline, no signal, no exec failure).
    pub fn plain_exit(&self) -> Option<i32> {
        match (&self.status, self.cause) {
            (_, Some(Cause::Timeout(_))) => None,
            (ChildStatus::Exited(code), _) => Some(*code),
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
            Some(Cause::Timeout(limit)) => format!(
                "timed out after {} and was stopped ({what})",
                humantime::format_duration(limit)
            ),
            Some(Cause::Forwarded(sig)) => {
                format!("{what} after cronbeat forwarded {}", signal_name(sig))
            }
            None => what,
        }
    }

    /// A one-word outcome for logs and monitors.
    pub fn word(&self) -> &'static str {
        match (&self.status, self.cause) {
            (_, Some(Cause::Timeout(_))) => "timeout",
            (ChildStatus::NotStarted { .. }, _) => "not_started",
            (ChildStatus::Signaled(_), _) => "signal",
            (ChildStatus::Exited(0), _) => "success",
            (ChildStatus::Exited(_), _) => "failure",
        }
    }

    pub fn signal(&self) -> Option<i32> {
        match self.status {
            ChildStatus::Signaled(sig) => Some(sig),
            _ => None,
        }
    }
}

pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
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
        let nf = ChildStatus::NotStarted {
            code: 127,
            reason: "x".into(),
        };
        assert_eq!(outcome(nf, None).exit_code(), 127);
        let fwd = Some(Cause::Forwarded(15));
        assert_eq!(outcome(ChildStatus::Exited(0), fwd).exit_code(), 0);
    }

    #[test]
    fn descriptions() {
        let o = outcome(
            ChildStatus::Signaled(9),
            Some(Cause::Timeout(Duration::from_secs(2))),
        );
        assert_eq!(
            o.describe(),
            "timed out after 2s and was stopped (killed by SIGKILL)"
        );
        assert_eq!(o.word(), "timeout");
    }
}
