//! Every way cronbeat ends, and the one table of exit statuses that `--help`, the man page and the README
//! are written from (the README's copy is tested against it).

use std::process::ExitCode;

/// A usage or configuration error: the command was not run.
pub const USAGE: i32 = 2;
/// `--lock` held by another run or another host, or a fleet lock's engine unreachable (EX_TEMPFAIL):
/// this run was not started.
pub const LOCKED: i32 = 75;
/// cronbeat itself could not do its work (EX_OSERR): signal handling, a lock file it cannot open.
pub const INTERNAL: i32 = 71;
/// The `--timeout` deadline stopped the command (as coreutils `timeout`).
pub const TIMEOUT: i32 = 124;
/// The `--idle-timeout` stopped the command: it printed nothing for too long.
pub const IDLE: i32 = 125;
/// The fleet lock's lease was lost and the command stopped (`--on-lock-lost kill`): beside the deadline's
/// 124 and idle's 125, the other way cronbeat stops a running command on its own.
pub const LOCK_LOST: i32 = 123;
/// The command was found but could not be executed (the shell's convention).
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found (the shell's convention).
pub const NOT_FOUND: i32 = 127;
/// `cronbeat check --ping` could not reach a monitor (the file itself is valid).
pub const UNREACHABLE: i32 = 1;
/// `status`, `history`, `last-output`: nothing recorded for the job named, or the ledger unreadable.
pub const NO_RECORD: i32 = 1;
/// `adopt --check`: a job to adopt; `adopt --write` or `--undo`: something not written.
pub const ADOPT_PENDING: i32 = 1;
/// `status --check`, as monitoring plugins (Nagios, Icinga, monit) report: 0 is OK.
pub const PLUGIN_WARNING: i32 = 1;
pub const PLUGIN_CRITICAL: i32 = 2;
pub const PLUGIN_UNKNOWN: i32 = 3;

/// How cronbeat ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// cronbeat's own command succeeded: help, version, a valid `check`.
    Done,
    /// The command exited by itself with this status.
    Exited(i32),
    /// The command died of this signal.
    Signaled(i32),
    Timeout,
    Idle,
    /// The fleet lock was lost and the command stopped.
    LockLost,
    NotExecutable,
    NotFound,
    /// A terminating signal stopped cronbeat before the command started.
    Interrupted(i32),
    /// Bad options or environment variables.
    Usage,
    /// A config file that cannot be used.
    Config,
    /// The lock is held by another run: skipped.
    Locked,
    /// `check --ping` could not reach a monitor.
    Unreachable,
    /// `check --ping` found a monitor whose schedule, time zone or grace is not the job's.
    Drift,
    /// cronbeat's own failure, not the command's.
    Internal,
    /// `status`, `history`, `last-output`: nothing to show for the job named.
    NoRecord,
    /// `adopt --check`: a job is not wrapped, or its wrapping is not what its line says.
    Pending,
    /// `adopt --write` or `--undo`: a source could not be written (refused, changed since it was read).
    NotWritten,
    /// `status --check`: a job fails, fewer times in a row than its threshold.
    Warning,
    /// `status --check`: a job fails at or above its threshold, or is overdue.
    Critical,
    /// `status --check`: nothing to judge (nothing recorded, an unreadable ledger, bad arguments).
    Unknown,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Done => 0,
            Exit::Exited(code) => code,
            Exit::Signaled(sig) | Exit::Interrupted(sig) => 128 + sig,
            Exit::Timeout => TIMEOUT,
            Exit::Idle => IDLE,
            Exit::LockLost => LOCK_LOST,
            Exit::NotExecutable => NOT_EXECUTABLE,
            Exit::NotFound => NOT_FOUND,
            Exit::Usage | Exit::Config => USAGE,
            Exit::Locked => LOCKED,
            Exit::Unreachable | Exit::Drift => UNREACHABLE,
            Exit::Internal => INTERNAL,
            Exit::NoRecord => NO_RECORD,
            Exit::Pending | Exit::NotWritten => ADOPT_PENDING,
            Exit::Warning => PLUGIN_WARNING,
            Exit::Critical => PLUGIN_CRITICAL,
            Exit::Unknown => PLUGIN_UNKNOWN,
        }
    }

    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(u8::try_from(self.code()).unwrap_or(u8::MAX))
    }
}

/// One documented exit status.
pub struct Status {
    /// The status, as the documentation writes it.
    pub status: &'static str,
    /// What it means, as a sentence (man page, README).
    pub meaning: &'static str,
    /// What it means, as a clause after the status (`--help`).
    pub clause: &'static str,
}

/// The exit statuses, in the order the documentation lists them.
pub const TABLE: [Status; 12] = [
    Status {
        status: "0, or the command's own",
        meaning: "The command exited by itself with this status.",
        clause: "the command's own",
    },
    Status {
        status: "128+N",
        meaning: "The command died of signal N (143 for SIGTERM, 137 for SIGKILL), or a signal stopped cronbeat before the command started.",
        clause: "if it died of signal N",
    },
    Status {
        status: "124",
        meaning: "The --timeout deadline passed and the command was stopped.",
        clause: "when the --timeout deadline stopped it",
    },
    Status {
        status: "125",
        meaning: "--idle-timeout: the command printed nothing for too long and was stopped.",
        clause: "when --idle-timeout stopped it (no output for too long)",
    },
    Status {
        status: "123",
        meaning: "The fleet lock's lease was lost while the command ran (--on-lock-lost kill) and the command was stopped.",
        clause: "when the fleet lock was lost and the command stopped",
    },
    Status {
        status: "126",
        meaning: "The command was found but could not be executed.",
        clause: "when it could not be executed",
    },
    Status {
        status: "127",
        meaning: "The command was not found.",
        clause: "when it was not found",
    },
    Status {
        status: "2",
        meaning: "cronbeat's own usage or configuration error; the command was not run.",
        clause: "for cronbeat's own usage or config errors",
    },
    Status {
        status: "75",
        meaning: "Not started: another run holds the --lock file (monitors get a log ping saying so), another host claimed this tick or holds the fleet lock, or the fleet lock's engine could not be reached (monitors are told the run failed, unless --lock-unavailable skip).",
        clause: "when the run was not started for its lock (held by another run or host, or the engine unreachable)",
    },
    Status {
        status: "71",
        meaning: "cronbeat itself failed: it could not set up signal handling, or open or lock the --lock file, and the command was not run; or it ran out of memory, panicked or crashed (one line, cronbeat: internal error: …), and a command that had started was killed with it.",
        clause: "when cronbeat itself failed (signal set-up, an unusable lock file, no memory left, a crash)",
    },
    Status {
        status: "1",
        meaning: "cronbeat check --ping: a monitor could not be reached, or holds a schedule, time zone or grace other than the job's (and --fix did not write it). cronbeat status, history, last-output: nothing recorded for the job named, or the ledger could not be read. cronbeat ledger prune and forget: the fleet ledger could not be reached; forget: a job named is not in it, or has a run under way (and is kept). cronbeat adopt --check: a job is not wrapped, or its wrapping is not what its line says; adopt --write or --undo: a source was not written (changed since it was read, or refused).",
        clause: "from check --ping when a monitor could not be reached or holds another schedule, from status, history and last-output when nothing is recorded, and from adopt --check when a job is to adopt",
    },
    Status {
        status: "3",
        meaning: "cronbeat status --check only: UNKNOWN (nothing recorded, an unreadable ledger, bad arguments). As monitoring plugins do, it exits 0 for OK, 1 for WARNING (a job failing fewer times in a row than --fail-after) and 2 for CRITICAL (a job failing at or above --fail-after, or overdue).",
        clause: "from status --check when UNKNOWN (there 0, 1 and 2 are OK, WARNING and CRITICAL)",
    },
];

/// The table as one paragraph, for `--help`.
pub fn help_text() -> String {
    let clauses: Vec<String> = TABLE
        .iter()
        .map(|row| match row.status {
            "0, or the command's own" => row.clause.to_string(),
            status => format!("{status} {}", row.clause),
        })
        .collect();
    format!(
        "Exit status: {}. Success rules (--success-codes, --stderr-fails, --min-runtime) change what is \
         reported, never the exit status.",
        clauses.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_status_is_in_the_table() {
        let documented = |code: i32| {
            TABLE
                .iter()
                .any(|row| row.status.split([',', ' ']).any(|s| s == code.to_string()))
        };
        for exit in [
            Exit::Done,
            Exit::Timeout,
            Exit::Idle,
            Exit::LockLost,
            Exit::NotExecutable,
            Exit::NotFound,
            Exit::Usage,
            Exit::Config,
            Exit::Locked,
            Exit::Unreachable,
            Exit::Drift,
            Exit::Internal,
            Exit::NoRecord,
            Exit::Pending,
            Exit::NotWritten,
            Exit::Warning,
            Exit::Critical,
            Exit::Unknown,
        ] {
            assert!(
                documented(exit.code()),
                "{exit:?} ({}) is undocumented",
                exit.code()
            );
        }
        assert_eq!(Exit::Signaled(15).code(), 143);
        assert_eq!(Exit::Interrupted(2).code(), 130);
        assert_eq!(Exit::Exited(3).code(), 3);
    }

    #[test]
    fn own_failures_are_not_the_commands() {
        let own = [
            Exit::Usage.code(),
            Exit::Locked.code(),
            Exit::Internal.code(),
        ];
        for command in [TIMEOUT, IDLE, LOCK_LOST, NOT_EXECUTABLE, NOT_FOUND] {
            assert!(!own.contains(&command));
        }
    }
}
