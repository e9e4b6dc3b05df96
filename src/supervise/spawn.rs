//! Starting the command: directly (no shell), in its own process group, with the run id in its
//! environment. A failed exec is mapped to the shell's statuses: 127 not found, 126 not executable.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

pub struct SpawnError {
    pub code: i32,
    pub reason: String,
}

pub fn spawn(argv: &[OsString], run_id: &str) -> Result<Spawned, SpawnError> {
    let (program, args) = argv.split_first().ok_or_else(|| SpawnError {
        code: 127,
        reason: "no command given".into(),
    })?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env("CRONBEAT_RUN_ID", run_id)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // cronbeat answers systemd itself; a command that also did would report ready too early.
    for name in crate::notify::VARIABLES {
        command.env_remove(name);
    }
    let mut child = command.spawn().map_err(|e| classify(program, &e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Spawned {
        pid: child.id(),
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

fn classify(program: &OsString, err: &io::Error) -> SpawnError {
    let name = Path::new(program).display().to_string();
    let located = locate(program);
    let (code, why) = match err.raw_os_error() {
        Some(libc::ENOENT) if located.is_some() => (
            126,
            "bad interpreter (the #! line names a program that does not exist)".to_string(),
        ),
        Some(libc::ENOENT) => (127, "command not found".to_string()),
        Some(libc::EACCES) if located.as_deref().is_some_and(Path::is_dir) => {
            (126, "is a directory".to_string())
        }
        Some(libc::EACCES) => (126, "permission denied (not executable)".to_string()),
        Some(libc::ENOEXEC) => (126, "exec format error".to_string()),
        _ => (126, err.to_string()),
    };
    SpawnError {
        code,
        reason: format!("{name}: {why}"),
    }
}

/// Where the program would be found, to tell "not found" from "found but unusable".
fn locate(program: &OsString) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 || program.to_string_lossy().contains('/') {
        return path.exists().then(|| path.to_path_buf());
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(path))
        .find(|candidate| candidate.exists())
}
