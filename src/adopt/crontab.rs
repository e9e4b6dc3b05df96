//! The crontab format, as Debian's cron (3.0pl1) and cronie read it (crontab(5)), byte for byte: a line
//! is blank, a comment, an environment setting or a job. Debian's cron was run on each rule here: a line it
//! cannot read (a bad field, `A=` with no value, an unbalanced quote, an unknown user, a command over 998
//! bytes) makes it ignore the whole crontab, so such a line is reported and never touched.
//!
//! A job's command is split by cron itself: the first `%` not preceded by `\` ends it and the rest is the
//! command's standard input (each further `%` a newline); `\%` becomes `%`. Everything is kept as bytes:
//! a crontab need not be UTF-8.

use crate::schedule::{FieldSpec, FIELDS};

/// The longest command (the bytes after the time fields, and the user field, and the blanks after them)
/// Debian's cron accepts: 998 bytes run, 999 make it reject the crontab. cronie allows far more.
pub const MAX_COMMAND: usize = 998;

/// A user's crontab (`crontab -e`, the spool) or the system's (`/etc/crontab`, `/etc/cron.d`), which has a
/// user field after the time fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    User,
    System,
}

/// When a job is due, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `@reboot`: at the daemon's start, no schedule.
    Reboot,
    /// Five fields (joined by one blank) or a macro such as `@daily`: what `--schedule` is given.
    Schedule(String),
}

/// A job line, cut into its parts. `head` and `command` together are the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLine<'a> {
    /// Everything before the command: indentation, the time fields, the user field, the blanks.
    pub head: &'a [u8],
    pub when: When,
    /// The user field of a system crontab.
    pub user: Option<String>,
    /// The rest of the line: the command, and its standard input after an unescaped `%`.
    pub command: &'a [u8],
}

/// One line of a crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    Blank,
    Comment,
    /// `NAME=VALUE`: the value as cron sets it (quotes removed, trailing blanks dropped).
    Env {
        name: &'a [u8],
        value: Vec<u8>,
    },
    Job(JobLine<'a>),
    /// A line cron refuses, and why.
    Rejected(String),
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && is_blank(line[at]) {
        at += 1;
    }
    at
}

fn word_end(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && !is_blank(line[at]) {
        at += 1;
    }
    at
}

/// Reads one line (without its newline).
pub fn parse_line(line: &[u8], format: Format) -> Entry<'_> {
    let start = skip_blanks(line, 0);
    if start == line.len() {
        return Entry::Blank;
    }
    if line[start] == b'#' {
        return Entry::Comment;
    }
    if line.contains(&0) {
        return Entry::Rejected("a NUL byte in the line".into());
    }
    if let Some(entry) = env_line(line, start) {
        return entry;
    }
    match job_line(line, start, format) {
        Ok(job) => Entry::Job(job),
        Err(reason) => Entry::Rejected(reason),
    }
}

/// `NAME = VALUE` (blanks around `=` optional): a name is what comes before a blank or `=`, and an `=`
/// must follow it, after blanks. `None` when the line is not one (it is then read as a job).
fn env_line(line: &[u8], start: usize) -> Option<Entry<'_>> {
    let mut at = start;
    while at < line.len() && !is_blank(line[at]) && line[at] != b'=' {
        at += 1;
    }
    let name = &line[start..at];
    let eq = skip_blanks(line, at);
    if name.is_empty() || line.get(eq) != Some(&b'=') {
        return None;
    }
    let value_start = skip_blanks(line, eq + 1);
    let mut value = &line[value_start..];
    while value.last().is_some_and(|b| is_blank(*b)) {
        value = &value[..value.len() - 1];
    }
    if value.is_empty() {
        // Debian's cron then reads the line as a job, and rejects it.
        return Some(Entry::Rejected(format!(
            "{}= has no value (write {}=\"\" for an empty one)",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(name)
        )));
    }
    let value = match value[0] {
        quote @ (b'"' | b'\'') => {
            if value.len() < 2 || value[value.len() - 1] != quote {
                return Some(Entry::Rejected(format!(
                    "{}: the value's quotes do not match",
                    String::from_utf8_lossy(name)
                )));
            }
            // Measured: cron drops the blanks at the end of a quoted value too.
            let mut inner = &value[1..value.len() - 1];
            while inner.last().is_some_and(|b| is_blank(*b)) {
                inner = &inner[..inner.len() - 1];
            }
            inner.to_vec()
        }
        _ => value.to_vec(),
    };
    Some(Entry::Env { name, value })
}

const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

fn job_line(line: &[u8], start: usize, format: Format) -> Result<JobLine<'_>, String> {
    let mut at;
    let when = if line[start] == b'@' {
        at = word_end(line, start);
        let word = &line[start..at];
        if word == b"@reboot" {
            When::Reboot
        } else if MACROS.iter().any(|m| m.as_bytes() == word) {
            When::Schedule(String::from_utf8_lossy(word).into_owned())
        } else {
            return Err(format!(
                "{:?} is not a schedule cron knows",
                String::from_utf8_lossy(word)
            ));
        }
    } else {
        let mut fields = Vec::with_capacity(5);
        at = start;
        for spec in &FIELDS {
            at = skip_blanks(line, at);
            let end = word_end(line, at);
            if at == end {
                return Err(format!("the {} field is missing", spec.name));
            }
            let text = &line[at..end];
            check_field(text, spec).map_err(|reason| {
                format!(
                    "{} field {:?}: {reason}",
                    spec.name,
                    String::from_utf8_lossy(text)
                )
            })?;
            fields.push(String::from_utf8_lossy(text).into_owned());
            at = end;
        }
        When::Schedule(fields.join(" "))
    };
    let mut user = None;
    if format == Format::System {
        let from = skip_blanks(line, at);
        let end = word_end(line, from);
        if from == end {
            return Err("the user field is missing".into());
        }
        let name = String::from_utf8_lossy(&line[from..end]).into_owned();
        if !matches!(nix::unistd::User::from_name(&name), Ok(Some(_))) {
            return Err(format!("unknown user {name:?}"));
        }
        user = Some(name);
        at = end;
    }
    let command_start = skip_blanks(line, at);
    let command = &line[command_start..];
    if command.is_empty() {
        return Err("no command".into());
    }
    if command.len() > MAX_COMMAND {
        return Err(format!(
            "the command is {} bytes, over Debian cron's {MAX_COMMAND}",
            command.len()
        ));
    }
    Ok(JobLine {
        head: &line[..command_start],
        when,
        user,
        command,
    })
}

/// A field as Vixie cron's `get_list` reads it: items separated by commas, each `*`, `N` or `N-M`
/// (numbers or, in the month and day-of-week fields, three-letter names in any case), with `/STEP`
/// after `*` or a range. Debian's cron also takes `*-N` (as `*`); cronbeat's `--schedule` does not, which
/// the plan says.
fn check_field(text: &[u8], spec: &FieldSpec) -> Result<(), String> {
    for item in text.split(|b| *b == b',') {
        if item.is_empty() {
            return Err("an empty list item".into());
        }
        let (range, step) = match item.iter().position(|b| *b == b'/') {
            Some(at) => (&item[..at], Some(&item[at + 1..])),
            None => (item, None),
        };
        let ranged = if range == b"*" {
            true
        } else if let Some(rest) = range.strip_prefix(b"*-") {
            value(rest, spec)?;
            true
        } else {
            match range.iter().position(|b| *b == b'-') {
                Some(at) => {
                    value(&range[..at], spec)?;
                    value(&range[at + 1..], spec)?;
                    true
                }
                None => {
                    value(range, spec)?;
                    false
                }
            }
        };
        if let Some(step) = step {
            if !ranged {
                return Err("a step needs * or a range before it".into());
            }
            let n = number(step).ok_or("the step is not a number")?;
            if n == 0 {
                return Err("a step of 0".into());
            }
        }
    }
    Ok(())
}

fn number(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn value(text: &[u8], spec: &FieldSpec) -> Result<u32, String> {
    if let Some(n) = number(text) {
        if n < spec.min || n > spec.max {
            return Err(format!("{n} is out of range {}-{}", spec.min, spec.max));
        }
        return Ok(n);
    }
    let lower = text.to_ascii_lowercase();
    spec.names
        .iter()
        .position(|name| name.as_bytes() == lower.as_slice())
        .map(|i| i as u32 + spec.first_named)
        .ok_or_else(|| format!("{:?} is not a value", String::from_utf8_lossy(text)))
}

/// Where cron ends the command: the first `%` that no `\` escapes (a `\` escapes the byte after it, so
/// `\\%` still ends it). Returns the command and the rest from that `%` on (empty when there is none).
pub fn split_stdin(command: &[u8]) -> (&[u8], &[u8]) {
    let mut escaped = false;
    for (at, b) in command.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if *b == b'\\' {
            escaped = true;
        } else if *b == b'%' {
            return (&command[..at], &command[at..]);
        }
    }
    (command, &[])
}

/// The command as the shell receives it: cron drops the `\` of each `\%`. Also where each byte came from
/// in the line (one more entry for the end), so that what is found in the shell's text can be cut from
/// the line's.
pub fn as_run(command: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut text = Vec::with_capacity(command.len());
    let mut from = Vec::with_capacity(command.len() + 1);
    let mut escaped = false;
    for (at, b) in command.iter().enumerate() {
        if escaped && *b == b'%' {
            // The `\` before it goes.
            text.pop();
            from.pop();
        }
        escaped = !escaped && *b == b'\\';
        text.push(*b);
        from.push(at);
    }
    from.push(command.len());
    (text, from)
}

/// The line's bytes that make cron give the shell `text`: each `%` escaped. `None` when that cannot be
/// written (a `\` right before a `%`: cron would read `\\%` as the end of the command).
pub fn escaped_for_cron(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for (at, b) in text.iter().enumerate() {
        if *b == b'%' {
            if at > 0 && text[at - 1] == b'\\' {
                return None;
            }
            out.push(b'\\');
        }
        out.push(*b);
    }
    Some(out)
}

/// A crontab's text as lines (without their newline), and whether the last one has a newline.
pub fn lines(text: &[u8]) -> (Vec<&[u8]>, bool) {
    if text.is_empty() {
        return (Vec::new(), true);
    }
    let ends_in_newline = text.ends_with(b"\n");
    let body = if ends_in_newline {
        &text[..text.len() - 1]
    } else {
        text
    };
    (body.split(|b| *b == b'\n').collect(), ends_in_newline)
}

/// Lines joined back, each followed by a newline except the last when `ends_in_newline` is false.
pub fn join(lines: &[Vec<u8>], ends_in_newline: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line);
        if i + 1 < lines.len() || ends_in_newline {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(line: &str) -> JobLine<'_> {
        match parse_line(line.as_bytes(), Format::User) {
            Entry::Job(job) => job,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn rejected(line: &str, format: Format) -> String {
        match parse_line(line.as_bytes(), format) {
            Entry::Rejected(reason) => reason,
            other => panic!("{line:?} should be rejected: {other:?}"),
        }
    }

    #[test]
    fn lines_as_debian_cron_reads_them() {
        assert_eq!(parse_line(b"", Format::User), Entry::Blank);
        assert_eq!(parse_line(b" \t ", Format::User), Entry::Blank);
        assert_eq!(parse_line(b"  # c", Format::User), Entry::Comment);
        let j = job("*/5\t*  * * *   /bin/x  a%b");
        assert_eq!(j.head, b"*/5\t*  * * *   ");
        assert_eq!(j.when, When::Schedule("*/5 * * * *".into()));
        assert_eq!(j.command, b"/bin/x  a%b");
        assert_eq!(job("@daily x").when, When::Schedule("@daily".into()));
        assert_eq!(job("@reboot x").when, When::Reboot);
        assert_eq!(
            job("0 9 * jan-mar,MAY mon-fri x").when,
            When::Schedule("0 9 * jan-mar,MAY mon-fri".into())
        );
        // Measured on Debian's cron: these are taken.
        for line in [
            "*/60 * * * * x",
            "*/100 * * * * x",
            "007 * * * * x",
            "5-1 * * * * x",
            "*-5 * * * * x",
            "* * * * 7 x",
            "* * * * 0-7 x",
        ] {
            job(line);
        }
        // ... and these make it ignore the whole crontab.
        for line in [
            "61 * * * * x",
            "*/0 * * * * x",
            "0-59/0 * * * * x",
            "5/10 * * * * x",
            "* * 0 * * x",
            "* 24 * * * x",
            "* * * 13 * x",
            "1,,2 * * * * x",
            "1, * * * * x",
            "@DAILY x",
            "@every x",
            "* * * * *",
            "R x=1",
        ] {
            rejected(line, Format::User);
        }
        let long = format!("* * * * * {}", "x".repeat(999));
        assert!(rejected(&long, Format::User).contains("999 bytes"));
        job(&format!("* * * * * {}", "x".repeat(998)));
    }

    #[test]
    fn environment_settings() {
        let env = |line: &str| match parse_line(line.as_bytes(), Format::User) {
            Entry::Env { name, value } => (
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            ),
            other => panic!("{line:?}: {other:?}"),
        };
        assert_eq!(env("SHELL=/bin/bash"), ("SHELL".into(), "/bin/bash".into()));
        assert_eq!(env(" C = \"q v\""), ("C".into(), "q v".into()));
        assert_eq!(env("D='s'"), ("D".into(), "s".into()));
        assert_eq!(env("G=trail   "), ("G".into(), "trail".into()));
        assert_eq!(env("I=\"  sp  \""), ("I".into(), "  sp".into()));
        assert_eq!(env("B=x#y"), ("B".into(), "x#y".into()));
        assert_eq!(env("L==x"), ("L".into(), "=x".into()));
        assert_eq!(env("MAILTO=\"\""), ("MAILTO".into(), "".into()));
        rejected("A=", Format::User);
        rejected("E=\"unbal", Format::User);
        rejected("H=\"a\"b", Format::User);
        rejected("M='x\"", Format::User);
    }

    #[test]
    fn system_lines_have_a_user() {
        let Entry::Job(j) = parse_line(b"17 * * * *\troot\tcd / && run-parts x", Format::System)
        else {
            panic!()
        };
        assert_eq!(j.user.as_deref(), Some("root"));
        assert_eq!(j.command, b"cd / && run-parts x");
        assert!(rejected("* * * * * nosuchuser-cb x", Format::System).contains("unknown user"));
        rejected("* * * * * root", Format::System);
    }

    #[test]
    fn percent_signs_as_cron_splits_them() {
        assert_eq!(split_stdin(b"a%b%c"), (&b"a"[..], &b"%b%c"[..]));
        assert_eq!(split_stdin(b"a\\%b%c"), (&b"a\\%b"[..], &b"%c"[..]));
        assert_eq!(split_stdin(b"a\\\\%b"), (&b"a\\\\"[..], &b"%b"[..]));
        assert_eq!(split_stdin(b"date +\\%s"), (&b"date +\\%s"[..], &b""[..]));
        let (text, from) = as_run(b"a\\%b\\\\%c\\x");
        assert_eq!(text, b"a%b\\\\%c\\x");
        assert_eq!(from.len(), text.len() + 1);
        assert_eq!(from[1], 2, "the % came from after the backslash");
        assert_eq!(escaped_for_cron(b"100%"), Some(b"100\\%".to_vec()));
        assert_eq!(escaped_for_cron(b"a\\%"), None);
    }

    #[test]
    fn lines_and_back() {
        for text in ["", "a\n", "a\nb", "a\n\nb\n", "\n"] {
            let (lines, nl) = lines(text.as_bytes());
            let owned: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
            assert_eq!(join(&owned, nl), text.as_bytes(), "{text:?}");
        }
    }
}
