//! Writing the plan, and undoing it, without ever losing a crontab:
//!
//! - a user's crontab is installed with `crontab -u USER -`, so the daemon reloads it and crontab's own
//!   checks apply; a file is replaced by a rename, keeping its owner and mode (a link's target is
//!   replaced, the link kept); a source whose text is no longer what the plan was made from is refused;
//! - before anything is written, each source's text is copied under the state directory
//!   (`STATE_DIR/adopt/STAMP/N.orig`, 0600), beside a journal of every line changed (before, after);
//! - `--undo` puts each changed line back as it was, by its text, so lines edited since stay as they are;
//!   a drop-in goes away (or gets back what it held).
//!
//! The journal is text, one record a line, each line of a crontab after `- ` (before) or `+ ` (after), so
//! that it keeps any byte a crontab holds.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::crontab::{self, Format};
use super::monitors;
use super::plan::{Change, Plan};
use super::sources::{self, Place};

const JOURNAL: &str = "journal";
const UNDONE: &str = "journal.undone";
const HEADER: &[u8] = b"cronbeat adopt journal 1\n";

/// What a write or an undo did: a line per thing done, and whether everything that was to be done was.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<String>,
    pub failed: Vec<String>,
}

/// `STATE_DIR/adopt`, made if missing: a directory of this user's, that no one else may enter.
fn adopt_dir(state_dir: &Path) -> Result<PathBuf, String> {
    let dir = state_dir.join("adopt");
    // The state directory as the ledger makes it; only adopt's own part is private.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(state_dir)
        .map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        })
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{}: not a directory of this user's that only it may write: backups are not kept there",
            dir.display()
        ));
    }
    Ok(dir)
}

/// A new directory for this write's backups: named by the time, unique.
fn stamp_dir(adopt: &Path) -> Result<PathBuf, String> {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    for n in 1..1000 {
        let name = if n == 1 {
            now.clone()
        } else {
            format!("{now}-{n}")
        };
        let dir = adopt.join(name);
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot create a backup directory in {}",
        adopt.display()
    ))
}

/// A private file that did not exist (never through a link).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What a place holds now (an absent drop-in or crontab is empty).
pub fn read(place: &Place) -> Result<Vec<u8>, String> {
    let absent_is_empty = |r: std::io::Result<Vec<u8>>, path: &Path| match r {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    };
    match place {
        Place::Spool { user } => sources::read_spool(user).map(Option::unwrap_or_default),
        Place::File { path, .. } | Place::DropIn { path, .. } => {
            absent_is_empty(std::fs::read(path), path)
        }
    }
}

/// Replaces what `place` holds with `after`, unless it no longer holds `before`.
fn store(place: &Place, before: &[u8], after: &[u8]) -> Result<(), String> {
    if read(place)? != before {
        return Err(format!(
            "{}: changed since adopt read it: not written (run cronbeat adopt again)",
            place.label()
        ));
    }
    match place {
        Place::Spool { user } => install_crontab(user, after),
        Place::File { path, .. } => replace_file(path, after),
        Place::DropIn { path, .. } if after.is_empty() => {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
            }
            // Its directory, if nothing else is in it.
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            Ok(())
        }
        Place::DropIn { path, .. } => {
            if let Some(dir) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            if !path.exists() {
                std::fs::write(path, b"")
                    .and_then(|_| {
                        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                    })
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            replace_file(path, after)
        }
    }
}

/// `crontab -u USER -`, the new text on its input; crontab's own complaint when it refuses it.
fn install_crontab(user: &str, text: &[u8]) -> Result<(), String> {
    let mut child = sources::crontab_command(user)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run crontab for {user}: {e}"))?;
    let mut input = child.stdin.take().expect("stdin is piped");
    let fed = input.write_all(text);
    drop(input);
    let output = child
        .wait_with_output()
        .map_err(|e| format!("crontab for {user}: {e}"))?;
    if output.status.success() && fed.is_ok() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "crontab refused the crontab of {user}: {}",
        said.split_whitespace().collect::<Vec<_>>().join(" ")
    ))
}

/// Replaces a file by a rename, with its owner and mode; through a link, the link's target.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let target = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = std::fs::metadata(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    // A name with dots: Debian's cron skips it in /etc/cron.d while it is being written.
    let mut temp = tempfile::Builder::new()
        .prefix(".cronbeat-adopt.")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", target.display());
    temp.write_all(bytes).map_err(failed)?;
    if nix::unistd::geteuid().is_root() {
        nix::unistd::fchown(
            temp.as_file(),
            Some(meta.uid().into()),
            Some(meta.gid().into()),
        )
        .map_err(|e| format!("cannot keep the owner of {}: {e}", target.display()))?;
    }
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(&target)
        .map_err(|e| format!("cannot replace {}: {}", target.display(), e.error))?;
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// One source in a journal.
#[derive(Debug, Clone)]
struct Entry {
    place: Place,
    /// The file under the journal's directory holding the source as it was.
    backup: String,
    /// A drop-in: the file holding what was written, and whether it was new.
    written: Option<String>,
    created: bool,
    lines: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, Default)]
struct Journal {
    entries: Vec<Entry>,
    ping_files: Vec<PathBuf>,
}

fn encode(journal: &Journal) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    let path_bytes = |p: &Path| p.as_os_str().as_bytes().to_vec();
    for entry in &journal.entries {
        let head = match &entry.place {
            Place::Spool { user } => format!("source spool {user}").into_bytes(),
            Place::File { path, format, .. } => {
                let format = match format {
                    Format::User => "user",
                    Format::System => "system",
                };
                [
                    format!("source file {format} ").into_bytes(),
                    path_bytes(path),
                ]
                .concat()
            }
            Place::DropIn { path, timer } => [
                format!("source drop-in {timer} ").into_bytes(),
                path_bytes(path),
            ]
            .concat(),
        };
        out.extend_from_slice(&head);
        out.push(b'\n');
        out.extend_from_slice(format!("backup {}\n", entry.backup).as_bytes());
        if let Some(written) = &entry.written {
            out.extend_from_slice(format!("written {written}\n").as_bytes());
        }
        if entry.created {
            out.extend_from_slice(b"created\n");
        }
        for (before, after) in &entry.lines {
            for (mark, line) in [(b'-', before), (b'+', after)] {
                out.extend_from_slice(&[mark, b' ']);
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
    }
    for path in &journal.ping_files {
        out.extend_from_slice(b"ping-file ");
        out.extend_from_slice(&path_bytes(path));
        out.push(b'\n');
    }
    out
}

fn decode(bytes: &[u8]) -> Result<Journal, String> {
    use std::os::unix::ffi::OsStringExt;
    let body = bytes
        .strip_prefix(HEADER)
        .ok_or("not a journal cronbeat adopt wrote")?;
    let path = |b: &[u8]| PathBuf::from(std::ffi::OsString::from_vec(b.to_vec()));
    let mut journal = Journal::default();
    let mut before: Option<Vec<u8>> = None;
    for line in body.split(|b| *b == b'\n') {
        if line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        let entry = journal.entries.last_mut();
        if let Some(rest) = line.strip_prefix(b"- ") {
            before = Some(rest.to_vec());
        } else if let Some(rest) = line.strip_prefix(b"+ ") {
            let (Some(entry), Some(was)) = (entry, before.take()) else {
                return Err("a line change without its source".into());
            };
            entry.lines.push((was, rest.to_vec()));
        } else if let Some(rest) = line.strip_prefix(b"source ") {
            let place = match rest.split(|b| *b == b' ').next() {
                Some(b"spool") => Place::Spool {
                    user: String::from_utf8_lossy(&rest[6..]).into_owned(),
                },
                Some(b"file") => {
                    let rest = &rest[5..];
                    let (format, at) = match rest {
                        r if r.starts_with(b"user ") => (Format::User, 5),
                        r if r.starts_with(b"system ") => (Format::System, 7),
                        _ => return Err(format!("a bad source line: {text}")),
                    };
                    let path = path(&rest[at..]);
                    let user = match format {
                        Format::User => {
                            sources::user_name(std::fs::metadata(&path).map_or(0, |m| m.uid()))
                        }
                        Format::System => "root".into(),
                    };
                    Place::File { path, format, user }
                }
                Some(b"drop-in") => {
                    let rest = &rest[8..];
                    let space = rest
                        .iter()
                        .position(|b| *b == b' ')
                        .ok_or_else(|| format!("a bad source line: {text}"))?;
                    Place::DropIn {
                        timer: String::from_utf8_lossy(&rest[..space]).into_owned(),
                        path: path(&rest[space + 1..]),
                    }
                }
                _ => return Err(format!("a bad source line: {text}")),
            };
            journal.entries.push(Entry {
                place,
                backup: String::new(),
                written: None,
                created: false,
                lines: Vec::new(),
            });
        } else if let Some(rest) = text.strip_prefix("backup ") {
            entry.ok_or("a backup without its source")?.backup = rest.to_string();
        } else if let Some(rest) = text.strip_prefix("written ") {
            entry.ok_or("a drop-in without its source")?.written = Some(rest.to_string());
        } else if text == "created" {
            entry.ok_or("a drop-in without its source")?.created = true;
        } else if let Some(rest) = line.strip_prefix(b"ping-file ") {
            journal.ping_files.push(path(rest));
        } else {
            return Err(format!("an unknown record: {text}"));
        }
    }
    Ok(journal)
}

/// Whether systemd runs here (its runtime directory exists).
pub fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// `systemctl daemon-reload` after drop-ins changed, where systemd runs; else what to do.
fn reload(outcome: &mut Outcome) {
    if !systemd_runs() {
        outcome.done.push(
            "systemd is not running here: run `systemctl daemon-reload` where it does".into(),
        );
        return;
    }
    match Command::new("systemctl").arg("daemon-reload").status() {
        Ok(status) if status.success() => outcome.done.push("ran systemctl daemon-reload".into()),
        Ok(status) => outcome
            .failed
            .push(format!("systemctl daemon-reload failed ({status})")),
        Err(e) => outcome
            .failed
            .push(format!("cannot run systemctl daemon-reload: {e}")),
    }
}

/// Applies the plan: monitor files first (a wrapped line must find its file), then each source.
pub fn write(plan: &Plan, state_dir: &Path) -> Outcome {
    let mut outcome = Outcome::default();
    let mut journal = Journal::default();
    for file in &plan.ping_files {
        match monitors::write_ping_file(file) {
            Ok(true) => {
                outcome
                    .done
                    .push(format!("wrote the monitor URL in {}", file.path.display()));
                journal.ping_files.push(file.path.clone());
            }
            Ok(false) => {}
            Err(e) => outcome.failed.push(e),
        }
    }
    if !outcome.failed.is_empty() {
        outcome
            .failed
            .push("nothing else was written: a job could not find its monitor".into());
        return outcome;
    }
    if plan.changes.is_empty() && journal.ping_files.is_empty() {
        outcome.done.push("nothing to write".into());
        return outcome;
    }
    let dir = match adopt_dir(state_dir).and_then(|adopt| stamp_dir(&adopt)) {
        Ok(dir) => dir,
        Err(e) => {
            outcome
                .failed
                .push(format!("{e}: nothing was written without a backup"));
            return outcome;
        }
    };
    for (n, change) in plan.changes.iter().enumerate() {
        let backup = format!("{}.orig", n + 1);
        let mut entry = Entry {
            place: change.place.clone(),
            backup: backup.clone(),
            written: None,
            created: false,
            lines: change.lines.clone(),
        };
        let mut saved = write_private(&dir.join(&backup), &change.before);
        if let Place::DropIn { path, .. } = &change.place {
            let written = format!("{}.new", n + 1);
            saved = saved.and_then(|_| write_private(&dir.join(&written), &change.after));
            entry.written = Some(written);
            entry.created = !path.exists();
        }
        if let Err(e) = saved {
            outcome
                .failed
                .push(format!("{e}: nothing was written without a backup"));
            return outcome;
        }
        journal.entries.push(entry);
    }
    let journal_path = dir.join(JOURNAL);
    if let Err(e) = write_private(&journal_path, &encode(&journal)) {
        outcome
            .failed
            .push(format!("{e}: nothing was written without a journal"));
        return outcome;
    }
    let mut applied = Journal {
        entries: Vec::new(),
        ping_files: journal.ping_files.clone(),
    };
    let mut reload_due = false;
    for (change, entry) in plan.changes.iter().zip(&journal.entries) {
        match store(&change.place, &change.before, &change.after) {
            Ok(()) => {
                outcome.done.push(format!(
                    "wrote {} ({}; backup {})",
                    change.place.label(),
                    what_changed(change),
                    dir.join(&entry.backup).display()
                ));
                reload_due |= matches!(change.place, Place::DropIn { .. });
                applied.entries.push(entry.clone());
            }
            Err(e) => outcome.failed.push(e),
        }
    }
    // The journal holds what was written, and only that.
    let _ = std::fs::remove_file(&journal_path);
    if applied.entries.is_empty() && applied.ping_files.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    } else if let Err(e) = write_private(&journal_path, &encode(&applied)) {
        outcome.failed.push(e);
    }
    if reload_due {
        reload(&mut outcome);
    }
    outcome
}

fn what_changed(change: &Change) -> String {
    match (&change.place, change.lines.len()) {
        (Place::DropIn { timer, .. }, _) => format!("cronbeat's drop-in for {timer}"),
        (_, 1) => "1 line".into(),
        (_, n) => format!("{n} lines"),
    }
}

/// Puts back what every write changed, the latest write first.
pub fn undo(state_dir: &Path) -> Outcome {
    let mut outcome = Outcome::default();
    let adopt = state_dir.join("adopt");
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&adopt) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join(JOURNAL).is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            outcome
                .failed
                .push(format!("cannot read {}: {e}", adopt.display()));
            return outcome;
        }
    };
    if dirs.is_empty() {
        outcome.done.push(format!(
            "nothing to undo: no journal of adopt in {}",
            adopt.display()
        ));
        return outcome;
    }
    if let Err(e) = adopt_dir(state_dir) {
        outcome.failed.push(e);
        return outcome;
    }
    dirs.sort();
    let mut reload_due = false;
    for dir in dirs.iter().rev() {
        reload_due |= undo_one(dir, &mut outcome);
    }
    if reload_due {
        reload(&mut outcome);
    }
    outcome
}

/// Undoes one journal; whether a drop-in changed.
fn undo_one(dir: &Path, outcome: &mut Outcome) -> bool {
    let journal_path = dir.join(JOURNAL);
    let journal = match std::fs::read(&journal_path)
        .map_err(|e| e.to_string())
        .and_then(|b| decode(&b))
    {
        Ok(journal) => journal,
        Err(e) => {
            outcome
                .failed
                .push(format!("{}: {e}", journal_path.display()));
            return false;
        }
    };
    let mut remaining = Journal::default();
    let mut reload_due = false;
    for (n, entry) in journal.entries.iter().enumerate().rev() {
        let label = entry.place.label();
        let current = match read(&entry.place) {
            Ok(current) => current,
            Err(e) => {
                outcome.failed.push(e);
                remaining.entries.insert(0, entry.clone());
                continue;
            }
        };
        let restored = match &entry.place {
            Place::DropIn { .. } => {
                let written = entry
                    .written
                    .as_ref()
                    .and_then(|w| std::fs::read(dir.join(w)).ok());
                if written.as_deref() != Some(current.as_slice()) {
                    outcome.failed.push(format!(
                        "{label}: edited since adopt wrote it: left as it is"
                    ));
                    remaining.entries.insert(0, entry.clone());
                    continue;
                }
                let before = if entry.created {
                    Ok(Vec::new())
                } else {
                    std::fs::read(dir.join(&entry.backup)).map_err(|e| e.to_string())
                };
                match before {
                    Ok(before) => before,
                    Err(e) => {
                        outcome.failed.push(format!("{label}: its backup: {e}"));
                        remaining.entries.insert(0, entry.clone());
                        continue;
                    }
                }
            }
            _ => {
                let (lines, ends_in_newline) = crontab::lines(&current);
                let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
                let mut used = vec![false; lines.len()];
                let mut missing = Vec::new();
                for (before, after) in &entry.lines {
                    match (0..lines.len()).find(|i| !used[*i] && lines[*i] == *after) {
                        Some(i) => {
                            lines[i] = before.clone();
                            used[i] = true;
                        }
                        None => missing.push((before.clone(), after.clone())),
                    }
                }
                if !missing.is_empty() {
                    outcome.failed.push(format!(
                        "{label}: {} wrapped line(s) edited or removed since adopt wrote them: left as they are",
                        missing.len()
                    ));
                    let mut rest = entry.clone();
                    rest.lines = missing;
                    remaining.entries.insert(0, rest);
                }
                crontab::join(&lines, ends_in_newline)
            }
        };
        if restored == current {
            continue;
        }
        let backup = dir.join(format!("{}.before-undo", n + 1));
        let _ = std::fs::remove_file(&backup);
        if let Err(e) = write_private(&backup, &current) {
            outcome
                .failed
                .push(format!("{e}: {label} not restored without a backup"));
            remaining.entries.insert(0, entry.clone());
            continue;
        }
        match store(&entry.place, &current, &restored) {
            Ok(()) => {
                reload_due |= matches!(entry.place, Place::DropIn { .. });
                outcome.done.push(match &entry.place {
                    Place::DropIn { timer, .. } if restored.is_empty() => {
                        format!("removed {label} (cronbeat's drop-in for {timer})")
                    }
                    _ => format!(
                        "restored {label} (backup of what it held {})",
                        backup.display()
                    ),
                });
            }
            Err(e) => {
                outcome.failed.push(e);
                remaining.entries.insert(0, entry.clone());
            }
        }
    }
    for path in &journal.ping_files {
        match std::fs::remove_file(path) {
            Ok(()) => outcome
                .done
                .push(format!("removed the monitor URL file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => outcome
                .failed
                .push(format!("cannot remove {}: {e}", path.display())),
        }
    }
    let result = if remaining.entries.is_empty() {
        std::fs::rename(&journal_path, dir.join(UNDONE))
    } else {
        std::fs::remove_file(&journal_path).and_then(|_| {
            write_private(&journal_path, &encode(&remaining)).map_err(std::io::Error::other)
        })
    };
    if let Err(e) = result {
        outcome
            .failed
            .push(format!("{}: {e}", journal_path.display()));
    }
    reload_due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_keeps_every_byte() {
        let journal = Journal {
            entries: vec![
                Entry {
                    place: Place::Spool {
                        user: "alice".into(),
                    },
                    backup: "1.orig".into(),
                    written: None,
                    created: false,
                    lines: vec![(b"* * * * * a \xff\r".to_vec(), b"- + x".to_vec())],
                },
                Entry {
                    place: Place::File {
                        path: "/etc/cron.d/my jobs".into(),
                        format: Format::System,
                        user: "root".into(),
                    },
                    backup: "2.orig".into(),
                    written: None,
                    created: false,
                    lines: vec![(b"".to_vec(), b"source spool x".to_vec())],
                },
                Entry {
                    place: Place::DropIn {
                        path: "/etc/systemd/system/b.service.d/cronbeat.conf".into(),
                        timer: "b.timer".into(),
                    },
                    backup: "3.orig".into(),
                    written: Some("3.new".into()),
                    created: true,
                    lines: Vec::new(),
                },
            ],
            ping_files: vec!["/etc/cronbeat/ping/b".into()],
        };
        let back = decode(&encode(&journal)).unwrap();
        assert_eq!(encode(&back), encode(&journal));
        assert_eq!(back.entries[0].lines, journal.entries[0].lines);
        assert!(back.entries[2].created);
        assert!(decode(b"something else").is_err());
    }
}
