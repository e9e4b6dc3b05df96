//! The rewrite of one job's command, and reading it back.
//!
//! The original command is given to the line's own shell, in single quotes, after cronbeat's options:
//!
//! ```text
//! CRONBEAT --name NAME [--schedule 'EXPR'] [--tz ZONE] [--ping-file PATH] -- SHELL -c 'COMMAND'STDIN
//! ```
//!
//! Why this gives the command what cron gave it:
//! - cron runs the line as `SHELL -c TEXT`, TEXT being the command with each `\%` made `%`; the wrapped
//!   line runs cronbeat the same way, and cronbeat starts `SHELL -c TEXT` itself: same shell, same text,
//!   same environment (cronbeat adds only its `CRONBEAT_*` variables), same working directory.
//! - Only the part before cron's first unescaped `%` goes inside the quotes; the `%` and the standard
//!   input after it stay outside, byte for byte, so cron splits the wrapped line at the same byte and
//!   feeds the same input (cronbeat hands its standard input to the command).
//! - Inside the quotes every byte is the line's own except each `'`, written `'\''`. cron gives meaning
//!   only to `%` and to a `\` right before one; the quoting adds a `\` only before a `'` and never puts a
//!   byte between a `\` and the byte after it, so cron's reading of every `\` and `%` of the command is
//!   unchanged, and the shell's single quotes then give it back whole.
//! - The shell the wrapped line starts in execs cronbeat (bash and dash exec a `-c` text's last simple
//!   command), so even bash's `SHLVL` is what the command saw before: bash counts one level down on exec,
//!   one up again in the shell cronbeat starts.
//!
//! Every command goes through its shell, even a plain `prog args`: the shell's own handling of a program
//! that is missing or cannot run (its message, status 127 or 126) is part of what the line did.

use super::words::{quote, quote_always, unquote};

/// cronbeat's part of a wrapped line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapping {
    /// The cronbeat binary, as the line runs it.
    pub cronbeat: Vec<u8>,
    pub name: String,
    /// `--schedule`: the line's time fields (joined by one blank) or its macro.
    pub schedule: Option<String>,
    pub tz: Option<String>,
    /// `--ping-file`: where the job's monitor URL is kept (a secret, out of the crontab).
    pub ping_file: Option<Vec<u8>>,
    /// The shell cron runs the line with (`SHELL=`), which runs the command.
    pub shell: Vec<u8>,
}

/// A wrapped command read back: cronbeat's part and the command it runs, as the line had it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub wrapping: Wrapping,
    /// The original command, as written in the line, before cron's first unescaped `%`.
    pub command: Vec<u8>,
    /// From that `%` on, as written (empty when there is none).
    pub stdin: Vec<u8>,
}

/// The wrapped line's command: `command` is the part before cron's first unescaped `%`, `stdin` the rest.
pub fn wrap(wrapping: &Wrapping, command: &[u8], stdin: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(command.len() + stdin.len() + 100);
    out.extend_from_slice(&quote(&wrapping.cronbeat));
    out.extend_from_slice(b" --name ");
    out.extend_from_slice(&quote(wrapping.name.as_bytes()));
    if let Some(schedule) = &wrapping.schedule {
        out.extend_from_slice(b" --schedule ");
        out.extend_from_slice(&quote_always(schedule.as_bytes()));
    }
    if let Some(tz) = &wrapping.tz {
        out.extend_from_slice(b" --tz ");
        out.extend_from_slice(&quote(tz.as_bytes()));
    }
    if let Some(path) = &wrapping.ping_file {
        out.extend_from_slice(b" --ping-file ");
        out.extend_from_slice(&quote(path));
    }
    out.extend_from_slice(b" -- ");
    out.extend_from_slice(&quote(&wrapping.shell));
    out.extend_from_slice(b" -c ");
    out.extend_from_slice(&quote_always(command));
    out.extend_from_slice(stdin);
    out
}

/// Reads back a command [`wrap`] wrote. `None` when the command is not in that form (a line wrapped by
/// hand, or edited since).
pub fn unwrap(command: &[u8]) -> Option<Wrapped> {
    let mut at = 0;
    let word = |at: &mut usize| -> Option<Vec<u8>> {
        let (value, end) = unquote(command, *at)?;
        *at = end;
        Some(value)
    };
    let expect = |at: &mut usize, text: &[u8]| -> Option<()> {
        command[*at..].starts_with(text).then(|| *at += text.len())
    };
    let cronbeat = word(&mut at)?;
    if !is_cronbeat(&cronbeat) {
        return None;
    }
    expect(&mut at, b" --name ")?;
    let name = String::from_utf8(word(&mut at)?).ok()?;
    let optional = |flag: &[u8], at: &mut usize| -> Option<Option<Vec<u8>>> {
        if command[*at..].starts_with(flag) {
            *at += flag.len();
            let value = word(at)?;
            Some(Some(value))
        } else {
            Some(None)
        }
    };
    let schedule = optional(b" --schedule ", &mut at)?;
    let tz = optional(b" --tz ", &mut at)?;
    let ping_file = optional(b" --ping-file ", &mut at)?;
    expect(&mut at, b" -- ")?;
    let shell = word(&mut at)?;
    expect(&mut at, b" -c ")?;
    if command.get(at) != Some(&b'\'') {
        return None;
    }
    let (inner, end) = unquote(command, at)?;
    let stdin = &command[end..];
    if !(stdin.is_empty() || stdin[0] == b'%') {
        return None;
    }
    let text = |v: Option<Vec<u8>>| v.map(String::from_utf8).transpose().ok();
    let wrapping = Wrapping {
        cronbeat,
        name,
        schedule: text(schedule)?,
        tz: text(tz)?,
        ping_file,
        shell,
    };
    let back = Wrapped {
        wrapping,
        command: inner,
        stdin: stdin.to_vec(),
    };
    // Only what `wrap` writes itself, byte for byte: anything else was written or edited by hand.
    (wrap(&back.wrapping, &back.command, &back.stdin) == command).then_some(back)
}

/// Whether a program path names cronbeat.
pub fn is_cronbeat(program: &[u8]) -> bool {
    let name = program.rsplit(|b| *b == b'/').next().unwrap_or_default();
    name == b"cronbeat"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapping() -> Wrapping {
        Wrapping {
            cronbeat: b"/usr/local/bin/cronbeat".to_vec(),
            name: "backup".into(),
            schedule: Some("*/5 * * * *".into()),
            tz: None,
            ping_file: None,
            shell: b"/bin/sh".to_vec(),
        }
    }

    #[test]
    fn wraps_and_reads_back() {
        let w = wrapping();
        let line = wrap(&w, b"echo it's 100\\% done > /tmp/x", b"%line 1%line 2");
        assert_eq!(
            String::from_utf8_lossy(&line),
            "/usr/local/bin/cronbeat --name backup --schedule '*/5 * * * *' -- /bin/sh -c \
             'echo it'\\''s 100\\% done > /tmp/x'%line 1%line 2"
        );
        let back = unwrap(&line).unwrap();
        assert_eq!(back.wrapping, w);
        assert_eq!(back.command, b"echo it's 100\\% done > /tmp/x");
        assert_eq!(back.stdin, b"%line 1%line 2");

        let w = Wrapping {
            tz: Some("Europe/Berlin".into()),
            ping_file: Some(b"/etc/cronbeat/ping/backup".to_vec()),
            cronbeat: b"/opt/my tools/cronbeat".to_vec(),
            schedule: None,
            ..wrapping()
        };
        let line = wrap(&w, b"x", b"");
        assert_eq!(unwrap(&line).unwrap().wrapping, w);
        assert!(String::from_utf8_lossy(&line).starts_with("'/opt/my tools/cronbeat' --name"));
    }

    #[test]
    fn only_its_own_form_reads_back() {
        let line = wrap(&wrapping(), b"x", b"");
        for edited in [
            line.clone().into_iter().chain(*b" y").collect::<Vec<u8>>(),
            String::from_utf8_lossy(&line)
                .replace("--name", "--timeout 5m --name")
                .into_bytes(),
            b"cronbeat -- /bin/x".to_vec(),
            b"/bin/backup --name x".to_vec(),
        ] {
            assert_eq!(
                unwrap(&edited),
                None,
                "{:?}",
                String::from_utf8_lossy(&edited)
            );
        }
    }

    /// The claims of the module's comment, checked by cron's own reading and a real shell: what the inner
    /// shell gets is the text cron gave the original line's shell.
    #[test]
    fn cron_and_the_shell_give_the_command_back() {
        use super::super::crontab::{as_run, split_stdin};
        for original in [
            "echo 'a b' \"c\"",
            "printf '%s' x",
            "date +\\%Y-\\%m",
            "echo it's",
            "x\\\\%y",
            "echo \\'\\%'",
            "a\\",
            "echo '\\''",
        ] {
            let (command, stdin) = split_stdin(original.as_bytes());
            let wrapped = wrap(&wrapping(), command, stdin);
            let (wrapped_command, wrapped_stdin) = split_stdin(&wrapped);
            assert_eq!(wrapped_stdin, stdin, "{original:?}");
            let (seen_by_shell, _) = as_run(wrapped_command);
            // The outer shell reads the wrapped text; print what cronbeat would be given after -c.
            let script = format!(
                "set -- {}; shift $(($# - 1)); printf %s \"$1\"",
                String::from_utf8_lossy(&seen_by_shell)
                    .split_once(" -- ")
                    .unwrap()
                    .1
            );
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert_eq!(out.stdout, as_run(command).0, "{original:?}");
        }
    }
}
