//! The TOML config file: `[defaults]` and named `[jobs.NAME]` tables, each a settings layer.
//!
//! Every error is one line that names the file, the line, the key path and what is wrong
//! (`/etc/cronbeat.toml:7: jobs.backup.timeout: invalid duration "5x": …`), because it ends up in a cron
//! mail, a pod log or the journal, where a multi-line report with a source excerpt would be torn apart.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::layer::Layer;

/// The file's frame: what is wrong here (syntax, an unknown table, `[defaults]`) stops every job. Each
/// job is read on its own afterwards, so that its errors stay its own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    defaults: Layer,
    #[serde(default)]
    jobs: BTreeMap<String, serde::de::IgnoredAny>,
}

#[derive(Debug, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub defaults: Layer,
    /// Each job's layer, or the one-line error that makes it unusable.
    pub jobs: BTreeMap<String, Result<Layer, String>>,
    /// The source, kept to point errors found after parsing at their line.
    text: String,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read config file: {e}", path.display()))?;
        ConfigFile::parse(path, text)
    }

    /// Parses `text` as the content of `path` and checks what the types alone cannot: a command in every
    /// job and none in the defaults.
    pub fn parse(path: &Path, text: String) -> Result<ConfigFile, String> {
        let doc = DeTable::parse(&text).map_err(|e| {
            let at = e.span().map(|s| line_of(&text, s.start));
            let mut message = one_line(e.message());
            // toml says "duplicate key" without naming it; the span holds it.
            if let Some(key) = e
                .span()
                .and_then(|s| text.get(s))
                .filter(|key| message.starts_with("duplicate key") && !key.contains('\n'))
            {
                message = format!("{message} `{}`", key.trim());
            }
            locate(path, at, &[], &message)
        })?;
        let blame = |e: toml::de::Error| {
            let mut keys = Vec::new();
            let mut at = None;
            if let Some(span) = e.span() {
                keys = key_path_at(doc.get_ref(), span.start).unwrap_or_default();
                at = Some(line_of(&text, span.start));
            }
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            locate(path, at, &keys, &reword(e.message()))
        };
        let raw: Raw = toml::from_str(&text).map_err(blame)?;
        let mut jobs = BTreeMap::new();
        if let Some(DeValue::Table(table)) = doc.get_ref().get("jobs").map(|v| v.get_ref()) {
            for (name, value) in table.iter() {
                let layer =
                    Layer::deserialize(ValueDeserializer::from(value.clone())).map_err(blame);
                jobs.insert(name.get_ref().to_string(), layer);
            }
        }
        debug_assert_eq!(jobs.len(), raw.jobs.len());
        let mut file = ConfigFile {
            path: path.to_path_buf(),
            defaults: raw.defaults,
            jobs,
            text,
        };
        if file.defaults.command.is_some() {
            return Err(file.error(
                &["defaults", "command"],
                "a command belongs in a [jobs.NAME] table, not in [defaults]",
            ));
        }
        let checked: Vec<(String, String)> = file
            .jobs
            .iter()
            .filter_map(|(name, job)| {
                Some((name.clone(), file.check_command(name, job.as_ref().ok()?)?))
            })
            .collect();
        for (name, error) in checked {
            file.jobs.insert(name, Err(error));
        }
        Ok(file)
    }

    /// Why the job's command cannot be run, if it cannot.
    fn check_command(&self, name: &str, job: &Layer) -> Option<String> {
        let keys = ["jobs", name, "command"];
        let problem = match &job.command {
            None => "missing: every job needs one, e.g. command = [\"/usr/local/bin/backup\", \"--full\"]",
            Some(command) if command.is_empty() => "is empty: name the program to run",
            Some(command) if command[0].is_empty() => "the program name is empty",
            Some(_) => return None,
        };
        Some(self.error(&keys, problem))
    }

    /// The layer of the named job, or an error naming the file and what is wrong with the job, or the jobs
    /// the file does have.
    pub fn job(&self, name: &str) -> Result<Layer, String> {
        if let Some(job) = self.jobs.get(name) {
            return job.clone();
        }
        let known: Vec<&str> = self.jobs.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "the file has none".to_string()
        } else {
            format!("the file has {}", known.join(", "))
        };
        Err(locate(
            &self.path,
            None,
            &["jobs", name],
            &format!("no such job ({known})"),
        ))
    }

    /// One error line about the value at `keys` (e.g. `["jobs", "backup", "timeout"]`), with its line when the
    /// file has it.
    pub fn error(&self, keys: &[&str], message: impl Display) -> String {
        let at = DeTable::parse(&self.text)
            .ok()
            .and_then(|doc| offset_of(doc.get_ref(), keys))
            .map(|offset| line_of(&self.text, offset));
        locate(&self.path, at, keys, &message.to_string())
    }
}

/// `file:line: key.path: message`, leaving out what is unknown.
fn locate(path: &Path, line: Option<usize>, keys: &[&str], message: &str) -> String {
    let mut out = path.display().to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    out.push_str(": ");
    if !keys.is_empty() {
        out.push_str(&dotted(keys));
        out.push_str(": ");
    }
    out.push_str(message);
    out
}

/// Keys joined with dots, quoted where TOML would need quotes (`jobs."nightly backup".timeout`).
fn dotted(keys: &[&str]) -> String {
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    keys.iter()
        .map(|k| {
            if bare(k) {
                k.to_string()
            } else {
                format!("{k:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// toml speaks of serde's fields; the file has keys.
fn reword(message: &str) -> String {
    let message = one_line(message);
    match message.strip_prefix("unknown field ") {
        Some(rest) => format!("unknown key {rest}"),
        None => message,
    }
}

/// The path of keys leading to the key written at `offset`, else to the innermost value that covers it.
/// (The span of a table opened by a `[header]` can start at the header, so keys are looked at first.)
fn key_path_at(table: &DeTable<'_>, offset: usize) -> Option<Vec<String>> {
    find_path(table, &|key, _| key.contains(&offset))
        .or_else(|| find_path(table, &|_, value| value.contains(&offset)))
}

type Span = std::ops::Range<usize>;

fn find_path(table: &DeTable<'_>, hit: &dyn Fn(&Span, &Span) -> bool) -> Option<Vec<String>> {
    for (key, value) in table.iter() {
        if let DeValue::Table(inner) = value.get_ref() {
            if let Some(mut rest) = find_path(inner, hit) {
                rest.insert(0, key.get_ref().to_string());
                return Some(rest);
            }
        }
        if hit(&key.span(), &value.span()) {
            return Some(vec![key.get_ref().to_string()]);
        }
    }
    None
}

/// Where the deepest existing key of `keys` is written.
fn offset_of(table: &DeTable<'_>, keys: &[&str]) -> Option<usize> {
    let (first, rest) = keys.split_first()?;
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    let deeper = match value.get_ref() {
        DeValue::Table(inner) => offset_of(inner, rest),
        _ => None,
    };
    deeper.or(Some(key.span().start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(Path::new("/etc/cronbeat.toml"), text.to_string())
    }

    /// The error of the file, else of its first job that has one.
    fn error(text: &str) -> String {
        match parse(text) {
            Err(e) => e,
            Ok(file) => file
                .jobs
                .into_values()
                .find_map(Result::err)
                .expect("an error"),
        }
    }

    #[test]
    fn jobs_and_defaults() {
        let file = parse(
            "[defaults]\ntimeout = \"30m\"\n\n[jobs.backup]\ncommand = [\"/bin/backup\", \"--full\"]\nping = \"https://hc-ping.com/x\"\ntail = \"4K\"\n",
        )
        .unwrap();
        assert_eq!(file.defaults.timeout.unwrap().get().as_secs(), 1800);
        let job = file.job("backup").unwrap();
        assert_eq!(job.command.unwrap(), ["/bin/backup", "--full"]);
        assert_eq!(job.tail.unwrap().0, 4096);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = error("[jobs.backup]\ncommand = [\"x\"]\ntimeout = \"5x\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:3: jobs.backup.timeout: invalid duration \"5x\""),
            "{e}"
        );
        let e = error("[jobs.backup]\ncommand = [\"x\"]\ntiemout = \"5m\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:3: jobs.backup.tiemout: unknown key `tiemout`"),
            "{e}"
        );
        let e = error("[defaults]\nping_retries = \"three\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:2: defaults.ping_retries: invalid number \"three\""),
            "{e}"
        );
        let e = error("[jobs.a]\ncommand = [\"x\"]\nping = 5\n");
        assert!(e.starts_with("/etc/cronbeat.toml:3: jobs.a.ping: "), "{e}");
        let e = error("[jobs.a]\ncommand = [\"x\"]\ntail = \"lots\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:3: jobs.a.tail: invalid size"),
            "{e}"
        );
        let e = error("[jobs.a]\ncommand = [\"x\"]\nlog_format = \"xml\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:3: jobs.a.log_format: "),
            "{e}"
        );
        let e = error("[job.a]\ncommand = [\"x\"]\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:1: job: unknown key `job`"),
            "{e}"
        );
        let e = error("[jobs.a]\ncommand = [\"x\"\n");
        assert!(e.starts_with("/etc/cronbeat.toml:2: "), "{e}");
        for e in [
            error("[jobs.a]\ncommand = [\"x\"]\ntimeout = \"5x\"\n"),
            error("[jobs.a]\ncommand = [\"x\"\n"),
            error("[jobs.a]\ncommand = [\"x\"]\nquiet = \"yes\"\n"),
        ] {
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn commands_are_checked() {
        let e = error("[jobs.a]\ntimeout = \"5m\"\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:1: jobs.a.command: missing"),
            "{e}"
        );
        let e = error("[jobs.a]\ncommand = []\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:2: jobs.a.command: is empty"),
            "{e}"
        );
        let e = error("[defaults]\ncommand = [\"x\"]\n");
        assert!(
            e.starts_with("/etc/cronbeat.toml:2: defaults.command: "),
            "{e}"
        );
        let file = parse("[jobs.\"nightly backup\"]\ncommand = [\"x\"]\n").unwrap();
        let e = file.error(&["jobs", "nightly backup", "timeout"], "bad");
        assert_eq!(
            e,
            "/etc/cronbeat.toml:1: jobs.\"nightly backup\".timeout: bad"
        );
        let e = file.job("other").unwrap_err();
        assert!(
            e.starts_with("/etc/cronbeat.toml: jobs.other: no such job"),
            "{e}"
        );
        assert!(e.contains("nightly backup"), "{e}");
    }

    #[test]
    fn an_error_in_one_job_stays_in_that_job() {
        let file = parse(
            "[defaults]
timeout = \"1m\"
[jobs.bad]
command = [\"x\"]
tiemout = \"5m\"
[jobs.worse]
timeout = \"5x\"
[jobs.good]
command = [\"y\"]
",
        )
        .unwrap();
        assert_eq!(file.job("good").unwrap().command.unwrap(), ["y"]);
        let bad = file.job("bad").unwrap_err();
        assert!(
            bad.starts_with("/etc/cronbeat.toml:5: jobs.bad.tiemout: unknown key"),
            "{bad}"
        );
        let worse = file.job("worse").unwrap_err();
        assert!(
            worse.starts_with("/etc/cronbeat.toml:7: jobs.worse.timeout: invalid duration"),
            "{worse}"
        );
        // The frame still stops everything.
        assert!(parse(
            "[defaults]
timeout = \"5x\"
[jobs.good]
command = [\"y\"]
"
        )
        .is_err());
        assert!(parse(
            "[jobs.good]
command = [\"y\"]
[jobz]
"
        )
        .is_err());
    }
}
