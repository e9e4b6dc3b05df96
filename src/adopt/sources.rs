//! Where scheduled jobs are found, and how each place is read: as root `/etc/crontab`, `/etc/cron.d/*` and
//! every user's crontab (through `crontab -l -u USER`, so whatever the distribution's spool directory), as
//! another user that user's own crontab, or the files named on the command line; and systemd timers.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::crontab::Format;

/// Where a crontab lives, which says how it is read and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A user's crontab, read with `crontab -l` and installed with `crontab -u USER -`, so that the
    /// daemon reloads it and crontab's own checks apply.
    Spool { user: String },
    /// A crontab file, replaced in place; `user` runs its jobs when it has no user field.
    File {
        path: PathBuf,
        format: Format,
        user: String,
    },
    /// cronbeat's drop-in for a timer's service.
    DropIn { path: PathBuf, timer: String },
}

impl Place {
    /// How the plan names it.
    pub fn label(&self) -> String {
        match self {
            Place::Spool { user } => format!("crontab of {user}"),
            Place::File { path, .. } | Place::DropIn { path, .. } => path.display().to_string(),
        }
    }

    /// The user whose jobs a line without a user field runs.
    pub fn user(&self) -> &str {
        match self {
            Place::Spool { user } | Place::File { user, .. } => user,
            Place::DropIn { .. } => "root",
        }
    }

    pub fn format(&self) -> Format {
        match self {
            Place::File { format, .. } => *format,
            _ => Format::User,
        }
    }
}

/// A source as read.
#[derive(Debug, Clone)]
pub struct Source {
    pub place: Place,
    pub text: Vec<u8>,
}

/// What to look at: the files named, or (none named) everything this user's cron runs.
#[derive(Debug, Default)]
pub struct Wanted {
    pub crontabs: Vec<PathBuf>,
    pub system_crontabs: Vec<PathBuf>,
    pub unit_dirs: Vec<PathBuf>,
    /// systemd timers, even where systemd does not run.
    pub timers: bool,
}

impl Wanted {
    pub fn explicit(&self) -> bool {
        !(self.crontabs.is_empty() && self.system_crontabs.is_empty() && self.unit_dirs.is_empty())
    }

    /// The directories timers are read from, and where cronbeat's drop-ins go.
    pub fn timer_dirs(&self) -> (Vec<PathBuf>, PathBuf) {
        if self.unit_dirs.is_empty() {
            let dirs: Vec<PathBuf> = super::timers::UNIT_DIRS.iter().map(PathBuf::from).collect();
            (dirs, PathBuf::from(super::timers::UNIT_DIRS[0]))
        } else {
            (self.unit_dirs.clone(), self.unit_dirs[0].clone())
        }
    }

    /// Whether timers are looked at: asked for, or by default where systemd is the init, as root.
    pub fn wants_timers(&self) -> bool {
        self.timers
            || !self.unit_dirs.is_empty()
            || (!self.explicit()
                && nix::unistd::geteuid().is_root()
                && Path::new("/run/systemd/system").is_dir())
    }
}

/// The crontab sources, and notes on what was passed over. `Err` for a file named on the command line
/// that cannot be read.
pub fn find(wanted: &Wanted) -> Result<(Vec<Source>, Vec<String>), String> {
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    for (paths, format) in [
        (&wanted.crontabs, Format::User),
        (&wanted.system_crontabs, Format::System),
    ] {
        for path in paths {
            let text =
                std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            // The journal names it: an undo from another directory must find it.
            let path =
                &std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let user = match format {
                Format::User => owner_name(path),
                Format::System => "root".to_string(),
            };
            sources.push(Source {
                place: Place::File {
                    path: path.clone(),
                    format,
                    user,
                },
                text,
            });
        }
    }
    if wanted.explicit() {
        return Ok((sources, notes));
    }
    let root = nix::unistd::geteuid().is_root();
    if root {
        system_files(&mut sources, &mut notes);
        for user in passwd_users() {
            match read_spool(&user) {
                Ok(Some(text)) => sources.push(Source {
                    place: Place::Spool { user },
                    text,
                }),
                Ok(None) => {}
                // No crontab program: no user has a crontab to read (and cron is not installed).
                Err(e) if e.starts_with("cannot run") => {
                    notes.push(e);
                    break;
                }
                Err(e) => notes.push(e),
            }
        }
    } else {
        let user = current_user();
        match read_spool(&user) {
            Ok(Some(text)) => sources.push(Source {
                place: Place::Spool { user },
                text,
            }),
            Ok(None) => {}
            Err(e) => notes.push(e),
        }
    }
    Ok((sources, notes))
}

fn owner_name(path: &Path) -> String {
    let uid = std::fs::metadata(path).map_or(0, |m| m.uid());
    user_name(uid)
}

pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

pub fn current_user() -> String {
    user_name(nix::unistd::geteuid().as_raw())
}

/// `/etc/crontab` and the files of `/etc/cron.d` that Debian's cron reads: not those with a dot in their
/// name (package leftovers such as `x.dpkg-old`), and not those it refuses (not root's, or writable by
/// others).
fn system_files(sources: &mut Vec<Source>, notes: &mut Vec<String>) {
    let mut paths = vec![PathBuf::from("/etc/crontab")];
    if let Ok(entries) = std::fs::read_dir("/etc/cron.d") {
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if name.contains('.') || name.ends_with('~') {
                notes.push(format!(
                    "{}: not read: cron skips file names with a dot",
                    path.display()
                ));
                continue;
            }
            paths.push(path);
        }
    }
    for path in paths {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            notes.push(format!(
                "{}: not read: cron ignores a file that is not root's or that others may write",
                path.display()
            ));
            continue;
        }
        match std::fs::read(&path) {
            Ok(text) => sources.push(Source {
                place: Place::File {
                    path,
                    format: Format::System,
                    user: "root".into(),
                },
                text,
            }),
            Err(e) => notes.push(format!("{}: cannot read: {e}", path.display())),
        }
    }
}

/// Every user in the password database (`/etc/passwd`), once each, in its order.
fn passwd_users() -> Vec<String> {
    let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut users: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some(name) = line.split(':').next().filter(|n| !n.is_empty()) else {
            continue;
        };
        if !name.starts_with(['+', '-', '#']) && !users.iter().any(|u| u == name) {
            users.push(name.to_string());
        }
    }
    users
}

/// `crontab` with `-u USER` only when it is someone else's: a user may not name themselves on some
/// systems.
pub fn crontab_command(user: &str) -> Command {
    let mut command = Command::new("crontab");
    if nix::unistd::geteuid().is_root() || user != current_user() {
        command.args(["-u", user]);
    }
    command
}

/// A user's crontab through `crontab -l`; `None` when the user has none.
pub fn read_spool(user: &str) -> Result<Option<Vec<u8>>, String> {
    let output = crontab_command(user)
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run crontab -l for {user}: {e}"))?;
    if output.status.success() {
        return Ok(Some(output.stdout));
    }
    let said = String::from_utf8_lossy(&output.stderr);
    if said.contains("no crontab for") {
        return Ok(None);
    }
    Err(format!(
        "crontab -l for {user} failed: {}",
        said.split_whitespace().collect::<Vec<_>>().join(" ")
    ))
}
