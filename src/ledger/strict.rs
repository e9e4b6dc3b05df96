//! Whether a folder or file may be written by the ledger, by the rules of OpenSSH's StrictModes
//! (`safe_path` in its misc.c): its owner is root or the user running cronbeat, and it is not writable by
//! its group or by others. Anyone else who could write the state directory, a folder in it, or a folder
//! above it, could put a link or another folder where the ledger writes, and choose what cronbeat (often
//! root) writes or creates.
//!
//! One difference from `safe_path`: a folder *above* the state directory that has the sticky bit (`/tmp`)
//! may be writable by others, as the kernel lets nobody but its owner rename or remove an entry of such a
//! folder; the state directory itself, if it was made there by someone else, is refused for its owner.
//!
//! The state directory is reached from `/` one folder at a time, each opened relative to the one above it
//! without following links and checked once open (no check-then-open race). A link on the way, in the
//! path the user gave, is followed only when it is owned by root or the running user, since in a folder
//! that passes the checks no one else could have made it, and in a sticky one anyone could.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, mkdirat, FileStat, Mode, SFlag};

use super::nofollow::Dir;

/// Links followed on the way to the state directory before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

fn owner_allowed(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

fn check_owner(st: &FileStat, path: &Path) -> io::Result<()> {
    if owner_allowed(st.st_uid) {
        return Ok(());
    }
    Err(refused(format!(
        "{} is owned by uid {}, neither root nor the user running cronbeat",
        path.display(),
        st.st_uid
    )))
}

fn writable_by_others(st: &FileStat) -> bool {
    st.st_mode & 0o022 != 0
}

/// A folder the ledger writes in (`above` false) or one on the way to the state directory (`above`).
pub fn check_dir(st: &FileStat, path: &Path, above: bool) -> io::Result<()> {
    check_owner(st, path)?;
    let sticky = st.st_mode & 0o1000 != 0;
    if writable_by_others(st) && !(above && sticky) {
        return Err(refused(format!(
            "{} is writable by its group or by others (mode {:04o})",
            path.display(),
            st.st_mode & 0o7777
        )));
    }
    Ok(())
}

/// A file the ledger writes to: the rules of a folder, and a single link.
pub fn check_file(st: &FileStat, path: &Path) -> io::Result<()> {
    check_owner(st, path)?;
    if writable_by_others(st) {
        return Err(refused(format!(
            "{} is writable by its group or by others (mode {:04o})",
            path.display(),
            st.st_mode & 0o7777
        )));
    }
    check_links(st, path)
}

/// A file with a second name (a hard link) is another file too, perhaps one outside the ledger.
pub fn check_links(st: &FileStat, path: &Path) -> io::Result<()> {
    if st.st_nlink > 1 {
        return Err(refused(format!(
            "{} has {} hard links, and the ledger writes or shows a file of its own only",
            path.display(),
            st.st_nlink
        )));
    }
    Ok(())
}

/// The state directory, made (mode 0755) with the folders above it that are missing, for writing: every
/// folder from `/` to it checked as the module says.
pub fn open_state_dir(path: &Path) -> io::Result<Dir> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut pending: VecDeque<OsString> = components(&absolute);
    let root = openat(
        AT_FDCWD,
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    check_dir(&fstat(&root)?, Path::new("/"), !pending.is_empty())?;
    // The folders open from `/` down, and where they are.
    let mut open: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if open.len() > 1 {
                open.pop();
            }
            continue;
        }
        let (parent, parent_path) = open.last().expect("`/` is never popped");
        let path = parent_path.join(&name);
        match step(parent, &name, &path)? {
            Step::Dir(fd) => {
                check_dir(&fstat(&fd)?, &path, !pending.is_empty())?;
                open.push((fd, path));
            }
            Step::Link(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Errno::ELOOP.into());
                }
                if target.is_absolute() {
                    open.truncate(1);
                }
                for part in components(&target).into_iter().rev() {
                    pending.push_front(part);
                }
            }
        }
    }
    let (fd, _) = open.pop().expect("`/` is never popped");
    Ok(Dir::new(fd, path.to_path_buf(), true))
}

/// The names of a path, in order: `..` kept (resolved against the folders as opened), `.` and `/` dropped.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn not_a_dir(path: &Path) -> io::Error {
    io::Error::other(format!("{} is not a directory", path.display()))
}

enum Step {
    Dir(OwnedFd),
    /// A link that may be followed, and where it points.
    Link(PathBuf),
}

/// The folder `name` in `parent` (made when missing), or the target of the link there when its owner is
/// root or the running user.
fn step(parent: &OwnedFd, name: &OsStr, path: &Path) -> io::Result<Step> {
    // O_PATH: a folder on the way needs only to be searchable, as it does for a path, not readable.
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dir = |fd: OwnedFd| -> io::Result<Step> {
        let st = fstat(&fd)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
            return Err(not_a_dir(path));
        }
        Ok(Step::Dir(fd))
    };
    match openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => return dir(fd),
        Err(Errno::ENOENT) => {
            match mkdirat(parent, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            match openat(parent, name, flags, Mode::empty()) {
                Ok(fd) => return dir(fd),
                Err(Errno::ELOOP | Errno::ENOTDIR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // A link, or not a folder at all.
        Err(Errno::ELOOP | Errno::ENOTDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFLNK {
        return Err(not_a_dir(path));
    }
    if !owner_allowed(st.st_uid) {
        return Err(refused(format!(
            "{} is a symbolic link owned by uid {}, neither root nor the user running cronbeat",
            path.display(),
            st.st_uid
        )));
    }
    let target = readlinkat(parent, name)?;
    if target.as_bytes().is_empty() {
        return Err(Errno::ENOENT.into());
    }
    Ok(Step::Link(PathBuf::from(target)))
}
