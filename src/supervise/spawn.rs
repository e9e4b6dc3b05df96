//! Starting the command: directly (no shell), in its own process group, with the run id in its
//! environment. A failed exec is mapped to the shell's statuses: 127 not found, 126 not executable.
//! An executable text file without `#!` is run by `/bin/sh`, as execvp(3) and so `timeout`, `env` and
//! `nice` do.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
    let mut child = match start(program.as_os_str(), args, run_id) {
        // The kernel knows no format for the file: execvp's rule is that such a file is a shell script.
        // Nothing ran, so starting again is safe.
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => match locate_executable(program) {
            Some(script) => {
                let args: Vec<OsString> = std::iter::once(script.into_os_string())
                    .chain(args.iter().cloned())
                    .collect();
                start(OsStr::new(SHELL), &args, run_id)
            }
            None => Err(e),
        },
        started => started,
    }
    .map_err(|e| classify(program, &e))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Spawned {
        pid: child.id(),
        stdout: stdout.into(),
        stderr: stderr.into(),
    })
}

/// The shell execvp(3) runs a script without `#!` with.
const SHELL: &str = "/bin/sh";

fn start(program: &OsStr, args: &[OsString], run_id: &str) -> io::Result<Child> {
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
    command.spawn()
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

/// The file execvp(3) would have run: the program itself when it names a path, else the first
/// executable file of that name on `PATH`.
fn locate_executable(program: &OsString) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.as_encoded_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    let search = std::env::var_os("PATH")?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}
