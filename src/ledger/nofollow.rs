//! The ledger's folders and files, each opened relative to the descriptor of the folder that holds it and
//! never through a symbolic link: the ledger makes no links, so a link under the state directory was put
//! there by someone else, and following it would let them choose what cronbeat writes (as root) or shows.
//!
//! A folder opened for writing is also held to the rules of [`strict`](super::strict): its owner is root or
//! the user running cronbeat, and neither its group nor others may write it; a file written is a regular
//! file with one link, under the same rules. Readers only refuse links (and, for an output tail, a file
//! with more than one name).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, AtFlags, OFlag, AT_FDCWD};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::strict;

/// A folder of the ledger, open.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// Where it is, for messages.
    path: PathBuf,
    /// Opened for writing: what is in it is held to the rules of `strict`.
    strict: bool,
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// To read it; `None` when there is none.
    Read,
    /// To append to it, created (mode 0644) when there is none.
    Append,
}

fn is_link(parent: &OwnedFd, name: &OsStr) -> bool {
    fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

/// The error for `path`, a symbolic link.
fn link_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} is a symbolic link, which the ledger does not follow",
            path.display()
        ),
    )
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

impl Dir {
    pub(super) fn new(fd: OwnedFd, path: PathBuf, strict: bool) -> Dir {
        Dir { fd, path, strict }
    }

    /// A folder named by the reader, links in its path followed as usual (the user named it); what is in
    /// it is opened without following links. `None` when there is none.
    pub fn open_for_reading(path: &Path) -> io::Result<Option<Dir>> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        match openat(AT_FDCWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(Dir::new(fd, path.to_path_buf(), false))),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder `name` in this one, never through a link; made with `mode` when `create` and it is not
    /// there, else `None`.
    pub fn child(&self, name: &str, create: Option<u32>) -> io::Result<Option<Dir>> {
        let path = self.path.join(name);
        let fd = match open_dir_at(&self.fd, name.as_ref(), &path) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let Some(mode) = create else {
                    return Ok(None);
                };
                match mkdirat(&self.fd, name, Mode::from_bits_truncate(mode)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                open_dir_at(&self.fd, name.as_ref(), &path)?
            }
            Err(e) => return Err(e),
        };
        if self.strict {
            strict::check_dir(&fstat(&fd)?, &path, false)?;
        }
        Ok(Some(Dir::new(fd, path, self.strict)))
    }

    /// The file `name` in this folder, never through a link, and a regular file. Appending also needs it
    /// to have one link, and an owner and modes the rules of `strict` allow.
    pub fn file(&self, name: &str, how: Open) -> io::Result<Option<File>> {
        let path = self.path.join(name);
        // O_NONBLOCK: a FIFO put in the file's place answers at once instead of holding the run up; on a
        // regular file the flag changes nothing.
        let mut flags = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        flags |= match how {
            Open::Read => OFlag::O_RDONLY,
            Open::Append => OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
        };
        let fd = match openat(&self.fd, name, flags, Mode::from_bits_truncate(0o644)) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if how == Open::Read => return Ok(None),
            Err(Errno::ELOOP) if is_link(&self.fd, name.as_ref()) => {
                return Err(link_refused(&path))
            }
            Err(e) => return Err(e.into()),
        };
        let st = fstat(&fd)?;
        if file_type(&st) != SFlag::S_IFREG {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a regular file", path.display()),
            ));
        }
        if how == Open::Append {
            strict::check_file(&st, &path)?;
        }
        Ok(Some(File::from(fd)))
    }

    /// A file of this folder that is read whole and shown: one with more than one link is refused too.
    pub fn file_with_one_name(&self, name: &str) -> io::Result<Option<File>> {
        let Some(file) = self.file(name, Open::Read)? else {
            return Ok(None);
        };
        strict::check_links(&fstat(&file)?, &self.path.join(name))?;
        Ok(Some(file))
    }

    /// A new file in this folder, named `prefix` and a random suffix, with `mode` (whatever the umask).
    pub fn create_temp(&self, prefix: &str, mode: u32) -> io::Result<(String, File)> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(mode);
        for _ in 0..16 {
            let name = format!("{prefix}{:016x}", fastrand::u64(..));
            match openat(&self.fd, name.as_str(), flags, mode) {
                Ok(fd) => {
                    if let Err(e) = fchmod(&fd, mode) {
                        self.remove(&name);
                        return Err(e.into());
                    }
                    return Ok((name, File::from(fd)));
                }
                Err(Errno::EEXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free temporary name in {}", self.path.display()),
        ))
    }

    /// Renames `from` to `to`, both in this folder (`to` replaced, never followed: rename(2) replaces a
    /// link itself).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        renameat(&self.fd, from, &self.fd, to).map_err(Into::into)
    }

    /// Removes the file `name`, best effort: what a crash left, or a temporary file that failed.
    pub fn remove(&self, name: &str) {
        let _ = self.unlink(name);
    }

    /// Removes the file `name` of this folder (a link itself, not what it points to).
    pub fn unlink(&self, name: &str) -> io::Result<()> {
        unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir).map_err(Into::into)
    }

    /// What `name` in this folder is, itself (a link is not followed); `None` when there is none.
    pub fn stat(&self, name: &str) -> io::Result<Option<FileStat>> {
        match fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `name` in this folder is a regular file (a link to one is not).
    pub fn has_file(&self, name: &str) -> bool {
        self.stat(name)
            .ok()
            .flatten()
            .is_some_and(|st| file_type(&st) == SFlag::S_IFREG)
    }

    /// The names in this folder, but `.` and `..`, in no particular order.
    pub fn names(&self) -> io::Result<Vec<String>> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let mut dir = nix::dir::Dir::openat(&self.fd, ".", flags, Mode::empty())?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy();
            if name != "." && name != ".." {
                names.push(name.into_owned());
            }
        }
        Ok(names)
    }
}

/// The folder `name` in `parent`, never through a link: a link is refused with a message that says so.
pub fn open_dir_at(parent: &impl AsFd, name: &OsStr, path: &Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let parent = parent.as_fd();
    match openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => Ok(fd),
        // A link named with O_NOFOLLOW | O_DIRECTORY fails with ELOOP or ENOTDIR, by kernel version.
        Err(Errno::ELOOP | Errno::ENOTDIR)
            if fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| file_type(&st) == SFlag::S_IFLNK) =>
        {
            Err(link_refused(path))
        }
        Err(Errno::ENOTDIR) => Err(io::Error::other(format!(
            "{} is not a directory",
            path.display()
        ))),
        Err(e) => Err(e.into()),
    }
}
