//! systemd's notify protocol, when `NOTIFY_SOCKET` is set (`Type=notify`): `READY=1` once the command
//! runs, `STATUS=` lines (running since, last output line), `WATCHDOG=1` at half of `WATCHDOG_USEC`
//! while the command lives, `STOPPING=1` at the end, and `EXTEND_TIMEOUT_USEC=` while waiting for a
//! lock or a jitter delay so the start timeout does not kill a run that has not started yet.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::events::{Event, Observer, Running};
use crate::log::Logger;
use crate::outcome::round;
use crate::output::{strip_ansi, Hygiene};

/// How often the status line follows the command's output.
const STATUS_EVERY: Duration = Duration::from_secs(5);
/// While waiting before the start: the start timeout is pushed this far ahead, every `EXTEND_EVERY`.
const EXTEND_BY: Duration = Duration::from_secs(30);
const EXTEND_EVERY: Duration = Duration::from_secs(10);
/// The longest one message may hold up the run when systemd is not reading.
const SEND_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest last-output line in a status.
const STATUS_LINE_MAX: usize = 200;
/// How much of the end of the tail is searched for that line: a copy of all of a large `--tail` on every
/// status would multiply what it costs.
const STATUS_SCAN: usize = 64 * 1024;

/// The variables systemd sets for a notify service; the command does not inherit them.
pub const VARIABLES: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

enum Target {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

pub struct Notifier {
    socket: UnixDatagram,
    target: Target,
    /// Half of `WATCHDOG_USEC`, when the watchdog is ours.
    watchdog: Option<Duration>,
    hygiene: Hygiene,
    logger: Logger,
    failed: bool,
    running_since: Option<SystemTime>,
    next_watchdog: Option<Instant>,
    next_status: Option<Instant>,
    last_status: String,
    last_extend: Option<Instant>,
}

impl Notifier {
    /// A notifier when systemd asked for one. The hygiene cleans the output line shown in the status.
    pub fn from_env(hygiene: Hygiene, logger: Logger) -> Option<Notifier> {
        let socket_var = std::env::var_os("NOTIFY_SOCKET").filter(|v| !v.is_empty())?;
        let target = match socket_var.as_encoded_bytes() {
            [b'@', name @ ..] => Target::Abstract(name.to_vec()),
            _ => Target::Path(PathBuf::from(&socket_var)),
        };
        // A receiver that does not read fills its short datagram queue; the supervise loop must not
        // block behind it, so a message that cannot go out at once is given up.
        let socket = match UnixDatagram::unbound()
            .and_then(|s| s.set_write_timeout(Some(SEND_TIMEOUT)).map(|_| s))
        {
            Ok(s) => s,
            Err(e) => {
                logger.warn(&format!("cannot notify systemd: {e}"));
                return None;
            }
        };
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .map_or(true, |p| p.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && ours)
            .map(|usec| Duration::from_micros(usec) / 2);
        Some(Notifier {
            socket,
            target,
            watchdog,
            hygiene,
            logger,
            failed: false,
            running_since: None,
            next_watchdog: None,
            next_status: None,
            last_status: String::new(),
            last_extend: None,
        })
    }

    fn send(&mut self, message: &str) {
        let sent = match &self.target {
            Target::Path(path) => self.socket.send_to(message.as_bytes(), path),
            Target::Abstract(name) => SocketAddr::from_abstract_name(name)
                .and_then(|addr| self.socket.send_to_addr(message.as_bytes(), &addr)),
        };
        if let Err(e) = sent {
            if !self.failed {
                self.failed = true;
                self.logger
                    .warn(&format!("cannot notify systemd (NOTIFY_SOCKET): {e}"));
            }
        }
    }

    /// Before the command starts (lock, jitter): say why, and keep the start timeout from running out.
    /// `for_at_most` is how long this wait can last, when known.
    fn waiting(&mut self, what: &str, for_at_most: Option<Duration>) {
        let now = Instant::now();
        let status = format!("STATUS={what}");
        if status == self.last_status && self.last_extend.is_some_and(|t| now - t < EXTEND_EVERY) {
            return;
        }
        self.last_extend = Some(now);
        let extend = for_at_most.unwrap_or_default() + EXTEND_BY;
        let message = format!("{status}\nEXTEND_TIMEOUT_USEC={}", extend.as_micros());
        self.last_status = status;
        self.send(&message);
    }

    fn status_while_running(&self, running: &Running<'_>) -> String {
        let since = self
            .running_since
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        let mut status = format!("STATUS=running since {since} (pid {})", running.pid);
        if let Some(line) = last_line(
            &self
                .hygiene
                .clean_window(&strip_ansi(&running.capture.recent(STATUS_SCAN))),
        ) {
            status.push_str("; last output: ");
            status.push_str(&line);
        }
        status
    }
}

/// The last non-empty line, as a terminal would show it (after the last carriage return), shortened.
fn last_line(text: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(text);
    let line = text
        .lines()
        .map(|l| {
            l.rsplit('\r')
                .find(|part| !part.trim().is_empty())
                .unwrap_or("")
        })
        .rfind(|l| !l.trim().is_empty())?
        .trim();
    let mut line: String = line.chars().filter(|c| !c.is_control()).collect();
    if line.len() > STATUS_LINE_MAX {
        let mut cut = STATUS_LINE_MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    Some(line)
}

impl Observer for Notifier {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::Started { pid: Some(pid), .. } => {
                let now = SystemTime::now();
                self.running_since = Some(now);
                let status = format!(
                    "STATUS=running since {} (pid {pid})",
                    humantime::format_rfc3339_seconds(now)
                );
                self.send(&format!("READY=1\n{status}"));
                self.last_status = status;
                let at = Instant::now();
                self.next_watchdog = self.watchdog.map(|half| at + half);
                self.next_status = Some(at + STATUS_EVERY);
            }
            Event::Waiting { what } => self.waiting(what, None),
            Event::Jitter { delay } => {
                self.waiting(&format!("waiting {} (jitter)", round(*delay)), Some(*delay))
            }
            Event::Finished(report) => {
                self.next_watchdog = None;
                self.next_status = None;
                let message = format!(
                    "STOPPING=1\nSTATUS=finished: {}",
                    report.outcome.describe().replace('\n', " ")
                );
                self.send(&message);
            }
            _ => {}
        }
    }

    fn next_tick(&self) -> Option<Instant> {
        [self.next_watchdog, self.next_status]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_tick(&mut self, now: Instant, running: &Running<'_>) {
        let mut lines = Vec::new();
        let mut refresh = self.next_status.is_some_and(|at| at <= now);
        if self.next_watchdog.is_some_and(|at| at <= now) {
            lines.push("WATCHDOG=1".to_string());
            self.next_watchdog = self.watchdog.map(|half| now + half);
            // Cheap to add, and it keeps the status fresh when the watchdog is short.
            refresh = true;
        }
        if refresh {
            let status = self.status_while_running(running);
            if status != self.last_status {
                lines.push(status.clone());
                self.last_status = status;
            }
            self.next_status = Some(now + STATUS_EVERY);
        }
        if !lines.is_empty() {
            self.send(&lines.join("\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_line;

    #[test]
    fn last_line_is_what_a_terminal_shows() {
        assert_eq!(last_line(b"one\ntwo\n\n").as_deref(), Some("two"));
        assert_eq!(last_line(b"10%\r50%\r\n").as_deref(), Some("50%"));
        assert_eq!(last_line(b"\n  \n"), None);
        let long = "é".repeat(150);
        let shown = last_line(long.as_bytes()).unwrap();
        assert!(shown.len() <= 200 + '…'.len_utf8() && shown.ends_with('…'));
    }
}
