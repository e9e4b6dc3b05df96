//! Job names for adopted lines: read from the command (`/usr/local/bin/backup.sh --full` → `backup`,
//! `run-parts /etc/cron.daily` → `cron-daily`), prefixed with the user for everyone but root, unique on
//! the host. Names already written in wrapped lines are taken first, so running adopt again gives every
//! line the name it had.

use std::collections::BTreeSet;

use super::words::{lex, Kind};

/// Commands that say nothing about the job: a simple command of theirs is passed over.
const SAY_NOTHING: [&str; 15] = [
    "cd", "test", "[", "true", "false", "export", "set", ":", ".", "source", "sleep", "echo",
    "printf", "umask", "exit",
];

/// Commands that run another one (and how many of their own arguments come first, after their
/// options): the name comes from what they run.
const RUNNERS: [(&str, usize); 13] = [
    ("exec", 0),
    ("nice", 0),
    ("ionice", 0),
    ("nohup", 0),
    ("env", 0),
    ("sudo", 0),
    ("chronic", 0),
    ("cronic", 0),
    ("time", 0),
    ("command", 0),
    ("run-one", 0),
    ("timeout", 1),
    ("flock", 1),
];

/// Interpreters: the name comes from the script they are given.
const INTERPRETERS: [&str; 10] = [
    "sh", "bash", "dash", "zsh", "python", "python3", "perl", "ruby", "php", "node",
];

/// The names taken on this host.
#[derive(Debug, Default)]
pub struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// Marks a name as taken (one already in a wrapped line or a drop-in).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    /// `base`, or `base-2`, `base-3`… when it is taken.
    pub fn claim(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// Letters, digits and `-` only (a Healthchecks slug's alphabet), lower case, at most 48 bytes.
pub fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    out.truncate(48);
    out.trim_end_matches('-').to_string()
}

/// The name a job's command suggests (`text` as the shell gets it), before uniqueness.
pub fn derive(text: &[u8], user: &str, hint: Option<&str>) -> String {
    let base = hint
        .map(sanitize)
        .filter(|h| !h.is_empty())
        .or_else(|| program(text))
        .unwrap_or_else(|| "job".to_string());
    if user == "root" || user.is_empty() {
        base
    } else {
        let user = sanitize(user);
        if base.starts_with(&format!("{user}-")) || base == user {
            base
        } else {
            format!("{user}-{base}")
        }
    }
}

fn program(text: &[u8]) -> Option<String> {
    let tokens = lex(text).ok()?;
    let mut words: Vec<&[u8]> = Vec::new();
    let mut candidates = Vec::new();
    let mut flush = |words: &mut Vec<&[u8]>| {
        if let Some(name) = of_simple_command(words) {
            candidates.push(name);
        }
        words.clear();
    };
    for token in &tokens {
        match &token.kind {
            Kind::Op(op) if op.contains(['>', '<']) => {}
            Kind::Op(_) => flush(&mut words),
            Kind::Word(Some(value)) => words.push(value),
            Kind::Word(None) => words.push(b"?"),
        }
    }
    flush(&mut words);
    // A command of nothing but `echo`s and the like is still named by its first program.
    let first = || {
        let word = tokens.first()?.literal()?;
        Some(sanitize(&file_stem(&String::from_utf8_lossy(word)))).filter(|n| !n.is_empty())
    };
    candidates.into_iter().next().or_else(first)
}

/// The name one simple command suggests: its program's, or its script's, or the directory run-parts runs.
fn of_simple_command(words: &[&[u8]]) -> Option<String> {
    let words: Vec<String> = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let mut at = 0;
    let base = loop {
        while words.get(at).is_some_and(|w| is_assignment(w)) {
            at += 1;
        }
        let program = words.get(at)?;
        let base = file_stem(program);
        if SAY_NOTHING.contains(&base.as_str()) || program == "?" {
            return None;
        }
        at += 1;
        let Some((_, own)) = RUNNERS.iter().find(|(name, _)| *name == base) else {
            break base;
        };
        // Their options (`-n 10`), then their own arguments.
        while words
            .get(at)
            .is_some_and(|w| w.starts_with('-') || w.chars().all(|c| c.is_ascii_digit()))
        {
            at += 1;
        }
        at += own;
    };
    let rest = &words[at..];
    let named = if base == "run-parts" {
        rest.iter()
            .rev()
            .find(|w| !w.starts_with('-'))
            .map(|dir| file_stem(dir))
            .unwrap_or(base)
    } else if INTERPRETERS.contains(&base.as_str()) {
        match rest.iter().find(|w| !w.starts_with('-')) {
            Some(script) if rest.first().map(String::as_str) != Some("-c") => file_stem(script),
            _ => return None,
        }
    } else {
        base
    };
    Some(sanitize(&named)).filter(|n| !n.is_empty())
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// `/usr/local/bin/backup.sh` → `backup`; `/etc/cron.daily` → `cron.daily`.
fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = match name.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && ["sh", "bash", "py", "pl", "rb", "php", "js"].contains(&ext) =>
        {
            stem
        }
        _ => name,
    };
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_commands() {
        let name = |text: &str, user: &str| derive(text.as_bytes(), user, None);
        assert_eq!(name("/usr/local/bin/backup.sh --full", "root"), "backup");
        assert_eq!(
            name("cd / && run-parts --report /etc/cron.daily", "root"),
            "cron-daily"
        );
        assert_eq!(
            name(
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.weekly )",
                "root"
            ),
            "cron-weekly"
        );
        assert_eq!(
            name("FOO=1 nice -n 10 python3 /opt/jobs/Sync_DB.py", "alice"),
            "alice-sync-db"
        );
        assert_eq!(name("echo hi > /tmp/x", "root"), "echo");
        assert_eq!(name("cd /tmp && echo hi", "root"), "cd");
        assert_eq!(name("$HOME/bin/x", "root"), "job");
        assert_eq!(
            name("flock -n /run/x.lock timeout 5m /usr/bin/sync-all", "root"),
            "sync-all"
        );
        assert_eq!(name("mysqldump db | gzip > /b/db.gz", "root"), "mysqldump");
        assert_eq!(derive(b"x", "bob", Some("Nightly DB")), "bob-nightly-db");
        assert_eq!(derive(b"x", "bob", Some("bob-db")), "bob-db");
    }

    #[test]
    fn unique_names() {
        let mut names = Names::default();
        names.reserve("backup");
        assert_eq!(names.claim("backup"), "backup-2");
        assert_eq!(names.claim("backup"), "backup-3");
        assert_eq!(names.claim("sync"), "sync");
        assert_eq!(sanitize("--A__b..c--"), "a-b-c");
    }
}
