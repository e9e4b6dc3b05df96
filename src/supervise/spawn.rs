//! Starting the command: directly (no shell), in its own process group, with the run id and the tick
//! (the scheduled time the run serves) in its environment. A failed exec is mapped to the shell's statuses: 127 not found, 126 not executable.
//! An executable text file without `#!` is run by `/bin/sh`, as execvp(3) and so `timeout`, `env` and
//! `nice` do.
//!
//! The command inherits the `--lock` descriptor, and the kernel sends it SIGKILL if cronbeat dies
//! (`PR_SET_PDEATHSIG`): a cronbeat killed with SIGKILL leaves no command running unsupervised, and
//! whatever of the run still lives (a daemon the command started) keeps the lock, as with flock(1).
//! SIGKILL, not SIGTERM: with cronbeat gone nobody enforces a grace, follows an ignored SIGTERM up, or
//! reports the run, so a polite signal could leave the job running on unseen. (A graceful stop is what
//! cronbeat itself does when it is sent SIGTERM.)

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    /// `None` when the command's stderr is the same pipe as its stdout.
    pub stderr: Option<OwnedFd>,
}

pub struct SpawnError {
    pub code: i32,
    pub reason: String,
}

/// How the command is started, besides its command line.
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    /// `CRONBEAT_RUN_ID`.
    pub run_id: &'a str,
    /// `CRONBEAT_TICK` (RFC 3339, UTC); `None` removes one inherited from an enclosing cronbeat.
    pub tick: Option<&'a str>,
    /// The held `--lock`, inherited by the command.
    pub lock_fd: Option<RawFd>,
    /// Added to the command's environment (a fleet lock's `CRONBEAT_FENCING_TOKEN`).
    pub env: &'a [(&'static str, String)],
    /// The run's `cgroup.procs`, which the command joins before exec.
    pub cgroup_procs: Option<RawFd>,
    /// One pipe for stdout and stderr, so what the command writes to them keeps its order.
    pub one_pipe: bool,
}

/// With `one_pipe` the command's stdout and stderr are one pipe, so what it writes to them keeps its order.
pub fn spawn(argv: &[OsString], launch: &Launch<'_>) -> Result<Spawned, SpawnError> {
    let (program, args) = argv.split_first().ok_or_else(|| SpawnError {
        code: 127,
        reason: "no command given".into(),
    })?;
    // The parent-death signal fires when the thread that forked exits, not the process: only the main
    // thread, which lives until cronbeat exits, may start the command.
    debug_assert_eq!(nix::unistd::gettid(), nix::unistd::getpid());
    let (mut child, shared) = match start(program.as_os_str(), args, launch) {
        // The kernel knows no format for the file: execvp's rule is that such a file is a shell script.
        // glibc's execvp applies it in the child already; musl's and posix_spawn do not. Nothing ran,
        // so starting again is safe.
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => match locate_executable(program) {
            Some(script) => {
                let args: Vec<OsString> = std::iter::once(script.into_os_string())
                    .chain(args.iter().cloned())
                    .collect();
                start(OsStr::new(SHELL), &args, launch)
            }
            None => Err(e),
        },
        started => started,
    }
    .map_err(|e| classify(program, &e))?;
    let (stdout, stderr) = match shared {
        Some(both) => (both, None),
        None => (
            child.stdout.take().expect("stdout is piped").into(),
            Some(child.stderr.take().expect("stderr is piped").into()),
        ),
    };
    Ok(Spawned {
        pid: child.id(),
        stdout,
        stderr,
    })
}

/// The shell execvp(3) runs a script without `#!` with.
const SHELL: &str = "/bin/sh";

/// The child and, with `one_pipe`, the read end of the pipe that is both its stdout and its stderr.
fn start(
    program: &OsStr,
    args: &[OsString],
    launch: &Launch<'_>,
) -> io::Result<(Child, Option<OwnedFd>)> {
    let Launch {
        run_id,
        tick,
        lock_fd,
        env,
        cgroup_procs,
        one_pipe,
    } = *launch;
    let mut command = Command::new(program);
    command
        .args(args)
        .env("CRONBEAT_RUN_ID", run_id)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::inherit())
        .process_group(0);
    // Off the schedule there is no tick, whatever an enclosing cronbeat gave this one.
    match tick {
        Some(tick) => command.env("CRONBEAT_TICK", tick),
        None => command.env_remove("CRONBEAT_TICK"),
    };
    let mut shared = None;
    if one_pipe {
        // Close-on-exec: only the child's fds 1 and 2 (dup2'd, so without the flag) may hold the write end.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        command
            .stdout(Stdio::from(write.try_clone()?))
            .stderr(Stdio::from(write));
        shared = Some(read);
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // cronbeat answers systemd itself; a command that also did would report ready too early.
    for name in crate::notify::VARIABLES {
        command.env_remove(name);
    }
    let supervisor = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec; `in_child` makes only async-signal-safe
    // calls (fcntl, prctl, getppid) and allocates nothing.
    unsafe {
        command.pre_exec(move || in_child(lock_fd, cgroup_procs, supervisor));
    }
    let child = command.spawn()?;
    // Our copies of the write end go with `command`: only the command's side may keep the pipe open,
    // or the pump would never see the end of its output.
    drop(command);
    Ok((child, shared))
}

/// Between fork and exec, in the child.
fn in_child(
    lock_fd: Option<RawFd>,
    cgroup_procs: Option<RawFd>,
    supervisor: libc::pid_t,
) -> io::Result<()> {
    if let Some(fd) = cgroup_procs {
        // Joins the run's cgroup before exec, so nothing the command starts is born outside it. A
        // failure is left for the parent to notice (it checks the cgroup) rather than failing the run.
        // SAFETY: write(2) of a static one-byte buffer to a descriptor number.
        let _ = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    }
    if let Some(fd) = lock_fd {
        // The child has its own copy of the descriptor table: clearing close-on-exec here leaves
        // cronbeat's descriptor as it was.
        // SAFETY: fcntl on a descriptor number with integer arguments touches no memory.
        let cleared = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) == 0
        };
        if !cleared {
            return Err(io::Error::last_os_error());
        }
    }
    // Kept across exec, except into a set-user-ID or set-group-ID program, which the kernel clears it for.
    // SAFETY: prctl with integer arguments touches no memory.
    if unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // A cronbeat that died before the prctl would never send the signal: do not run orphaned.
    // SAFETY: getppid takes no arguments and cannot fail.
    if unsafe { libc::getppid() } != supervisor {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
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
