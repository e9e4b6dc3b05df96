//! systemd timers, read from their unit files (systemd need not run here): each timer's schedule
//! (`OnCalendar=`, or the monotonic `OnBootSec=`-style settings) and its service's `ExecStart=` lines, as
//! the service file and its drop-ins leave them. cronbeat goes in front of each command through a drop-in
//! of cronbeat's own, `UNIT.service.d/cronbeat.conf`, so the unit files stay as they are:
//!
//! ```text
//! [Service]
//! ExecStart=
//! ExecStart=/usr/bin/cronbeat --name backup --schedule 'daily' -- /usr/local/bin/backup --full
//! ```
//!
//! The original command follows `--` as written, so systemd reads its quotes, `$VARIABLES` and `%`
//! specifiers as before; an `ExecStart=` prefix (`-`, `+`, `!`, `:`) stays in front of cronbeat.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::rewrite::is_cronbeat;
use super::words::quote_always;

/// Where unit files are looked for, most important first.
pub const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

/// The drop-in file cronbeat writes in `UNIT.service.d/`.
pub const DROP_IN: &str = "cronbeat.conf";

/// The settings that make a timer monotonic: no calendar, so no schedule for cronbeat.
const MONOTONIC: [&str; 5] = [
    "OnBootSec",
    "OnStartupSec",
    "OnActiveSec",
    "OnUnitActiveSec",
    "OnUnitInactiveSec",
];

/// One timer and the service it starts.
#[derive(Debug, Clone)]
pub struct Timer {
    /// `backup.timer`.
    pub name: String,
    pub enabled: bool,
    /// `OnCalendar=` expressions, as written.
    pub calendars: Vec<String>,
    /// `OnBootSec=5min`-style settings.
    pub monotonic: Vec<String>,
    /// `backup.service`.
    pub service: String,
    /// The service's unit file, when there is one.
    pub service_path: Option<PathBuf>,
    /// The service's `ExecStart=` values, drop-ins applied (cronbeat's own left out).
    pub exec_start: Vec<String>,
    /// `User=` of the service.
    pub user: Option<String>,
    /// Where cronbeat's drop-in is (or goes).
    pub drop_in: PathBuf,
    /// What cronbeat's drop-in holds now.
    pub current: Option<Vec<u8>>,
}

/// `(section, key, value)` of a unit file, in order; a line ending in `\` goes on on the next.
fn settings(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if pending.is_empty() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with('[') && trimmed.ends_with(']') {
                section = trimmed[1..trimmed.len() - 1].to_string();
                continue;
            }
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let whole = std::mem::take(&mut pending);
        if let Some((key, value)) = whole.split_once('=') {
            out.push((
                section.clone(),
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    out
}

fn read(path: &Path) -> Option<String> {
    // A masked unit is a link to /dev/null.
    if std::fs::canonicalize(path).ok()? == Path::new("/dev/null") {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The first of `dirs` that has unit `name` (a template's file for an instance: `a@.timer` for `a@x.timer`).
fn unit_file(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    let template = name.split_once('@').and_then(|(prefix, rest)| {
        let suffix = rest.rsplit_once('.').map(|(_, s)| s)?;
        Some(format!("{prefix}@.{suffix}"))
    });
    for candidate in std::iter::once(name.to_string()).chain(template) {
        for dir in dirs {
            let path = dir.join(&candidate);
            if path.exists() {
                return Some(path);
            }
        }
    }
    None
}

/// Unit names linked from some `*.wants`, `*.requires` or `*.upholds` directory: the enabled ones.
fn enabled_units(dirs: &[PathBuf]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if [".wants", ".requires", ".upholds"]
                .iter()
                .any(|s| file_name.ends_with(s))
            {
                if let Ok(links) = std::fs::read_dir(entry.path()) {
                    names.extend(
                        links
                            .flatten()
                            .map(|l| l.file_name().to_string_lossy().into_owned()),
                    );
                }
            }
        }
    }
    names
}

/// Every timer under `dirs`, by name; cronbeat's drop-ins go under `drop_in_root`.
pub fn find(dirs: &[PathBuf], drop_in_root: &Path) -> Vec<Timer> {
    let enabled = enabled_units(dirs);
    let mut names: BTreeSet<String> = enabled
        .iter()
        .filter(|n| n.ends_with(".timer"))
        .cloned()
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".timer") && !name.contains("@.") {
                names.insert(name);
            }
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let path = unit_file(dirs, &name)?;
            let text = read(&path)?;
            Some(timer(dirs, drop_in_root, &enabled, name, &text))
        })
        .collect()
}

fn timer(
    dirs: &[PathBuf],
    drop_in_root: &Path,
    enabled: &BTreeSet<String>,
    name: String,
    text: &str,
) -> Timer {
    let mut calendars = Vec::new();
    let mut monotonic = Vec::new();
    let mut service = format!("{}.service", name.trim_end_matches(".timer"));
    for (section, key, value) in settings(text) {
        if section != "Timer" {
            continue;
        }
        match key.as_str() {
            "OnCalendar" if value.is_empty() => calendars.clear(),
            "OnCalendar" => calendars.push(value),
            "Unit" => service = value,
            key if MONOTONIC.contains(&key) && !value.is_empty() => {
                monotonic.push(format!("{key}={value}"))
            }
            _ => {}
        }
    }
    let service_path = unit_file(dirs, &service);
    // The service file, then its drop-ins in the order systemd reads them (by file name; a name in a more
    // important directory hides the same name in another), cronbeat's own left out.
    let mut texts: Vec<String> = service_path.iter().filter_map(|p| read(p)).collect();
    let mut drop_ins: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("{service}.d"))) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.ends_with(".conf")
                && file != DROP_IN
                && !drop_ins.iter().any(|(name, _)| *name == file)
            {
                drop_ins.push((file, entry.path()));
            }
        }
    }
    drop_ins.sort();
    texts.extend(drop_ins.iter().filter_map(|(_, p)| read(p)));
    let mut exec_start = Vec::new();
    let mut user = None;
    for text in &texts {
        for (section, key, value) in settings(text) {
            match (section.as_str(), key.as_str()) {
                ("Service", "ExecStart") if value.is_empty() => exec_start.clear(),
                ("Service", "ExecStart") => exec_start.push(value),
                ("Service", "User") => user = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
    }
    let drop_in = drop_in_root.join(format!("{service}.d")).join(DROP_IN);
    let current = std::fs::read(&drop_in).ok();
    Timer {
        enabled: enabled.contains(&name),
        name,
        calendars,
        monotonic,
        service,
        service_path,
        exec_start,
        user,
        drop_in,
        current,
    }
}

/// An `ExecStart=` value's prefix (`-`, `+`, `!`, `!!`, `:`, `@`) and its command.
fn prefix(value: &str) -> (&str, &str) {
    let end = value
        .find(|c: char| !"-+!:@|".contains(c))
        .unwrap_or(value.len());
    (&value[..end], &value[end..])
}

/// Whether a service's command already runs cronbeat.
pub fn runs_cronbeat(exec_start: &str) -> bool {
    let (_, command) = prefix(exec_start);
    let program = command
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(['"', '\'']);
    is_cronbeat(program.as_bytes())
}

/// What a word of cronbeat's part of `ExecStart=` may not hold: systemd would read it otherwise.
fn unit_safe(text: &str) -> bool {
    !text.contains(['%', '$', '\\', '\'', '"', ';', '\n'])
}

/// cronbeat's drop-in for the service: `names` (one for each `ExecStart=`), the schedule when the timer
/// has one, and the cronbeat binary.
pub fn drop_in(
    timer: &Timer,
    names: &[String],
    schedule: Option<&str>,
    cronbeat: &str,
    ping_file: Option<&Path>,
) -> Result<Vec<u8>, String> {
    let word = |text: &str, what: &str| {
        if !unit_safe(text) {
            return Err(format!("{what} {text:?} cannot be written in a unit file"));
        }
        Ok(if text.contains([' ', '\t']) {
            String::from_utf8_lossy(&quote_always(text.as_bytes())).into_owned()
        } else {
            text.to_string()
        })
    };
    let program = word(cronbeat, "the cronbeat path")?;
    let ping_file = ping_file
        .map(|p| word(&p.to_string_lossy(), "the ping file"))
        .transpose()?;
    let mut text = format!(
        "# Written by cronbeat adopt: cronbeat runs each command of {} (started by {}).\n\
         # `cronbeat adopt --undo` removes this file.\n[Service]\nExecStart=\n",
        timer.service, timer.name
    );
    for (index, (value, name)) in timer.exec_start.iter().zip(names).enumerate() {
        let (prefix, command) = prefix(value);
        if prefix.contains('@') {
            return Err("an ExecStart= with @ (its own argv[0]): left alone".into());
        }
        text.push_str(&format!("ExecStart={prefix}{program} --name {name}"));
        if let Some(schedule) = schedule {
            if !unit_safe(schedule) {
                return Err(format!(
                    "OnCalendar={schedule} cannot be written in a unit file"
                ));
            }
            text.push_str(&format!(" --schedule '{schedule}'"));
        }
        if let Some(path) = ping_file.as_ref().filter(|_| index == 0) {
            text.push_str(&format!(" --ping-file {path}"));
        }
        text.push_str(&format!(" -- {command}\n"));
    }
    Ok(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unit_files_as_systemd_does() {
        let s = settings(
            "# c\n[Unit]\nDescription=x\n\n[Service]\nExecStart=/bin/a \\\n  --b\n; c\nExecStart = /bin/c\n",
        );
        assert_eq!(
            s,
            [
                ("Unit".into(), "Description".into(), "x".into()),
                ("Service".into(), "ExecStart".into(), "/bin/a    --b".into()),
                ("Service".into(), "ExecStart".into(), "/bin/c".into()),
            ]
        );
        assert_eq!(prefix("-/bin/x y"), ("-", "/bin/x y"));
        assert_eq!(prefix("!!/bin/x"), ("!!", "/bin/x"));
        assert!(runs_cronbeat("-/usr/bin/cronbeat --name x -- y"));
        assert!(!runs_cronbeat("/usr/bin/backup"));
    }

    #[test]
    fn finds_timers_and_their_commands() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("backup.timer"),
            "[Timer]\nOnCalendar=daily\nOnCalendar=\nOnCalendar=Mon *-*-* 03:00\nPersistent=true\n",
        )
        .unwrap();
        std::fs::write(
            d.join("backup.service"),
            "[Service]\nType=oneshot\nUser=backup\nExecStart=/bin/old\n",
        )
        .unwrap();
        std::fs::create_dir(d.join("backup.service.d")).unwrap();
        std::fs::write(
            d.join("backup.service.d/override.conf"),
            "[Service]\nExecStart=\nExecStart=-/usr/local/bin/backup --full\n",
        )
        .unwrap();
        std::fs::write(
            d.join("boot.timer"),
            "[Timer]\nOnBootSec=5min\nUnit=other.service\n",
        )
        .unwrap();
        std::fs::create_dir(d.join("timers.target.wants")).unwrap();
        std::os::unix::fs::symlink(
            "../backup.timer",
            d.join("timers.target.wants/backup.timer"),
        )
        .unwrap();
        let timers = find(&[d.to_path_buf()], d);
        assert_eq!(timers.len(), 2);
        let backup = &timers[0];
        assert_eq!(backup.name, "backup.timer");
        assert!(backup.enabled);
        assert_eq!(backup.calendars, ["Mon *-*-* 03:00"]);
        assert_eq!(backup.exec_start, ["-/usr/local/bin/backup --full"]);
        assert_eq!(backup.user.as_deref(), Some("backup"));
        assert_eq!(backup.drop_in, d.join("backup.service.d/cronbeat.conf"));
        let text = drop_in(
            backup,
            &["backup".into()],
            Some("Mon *-*-* 03:00"),
            "/usr/bin/cronbeat",
            None,
        )
        .unwrap();
        assert!(String::from_utf8(text).unwrap().ends_with(
            "[Service]\nExecStart=\nExecStart=-/usr/bin/cronbeat --name backup --schedule 'Mon *-*-* 03:00' -- /usr/local/bin/backup --full\n"
        ));
        let boot = &timers[1];
        assert!(!boot.enabled);
        assert_eq!(boot.monotonic, ["OnBootSec=5min"]);
        assert_eq!(boot.service, "other.service");
        assert_eq!(boot.service_path, None);
    }
}
