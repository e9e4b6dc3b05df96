//! Starting the command: directly (no shell), in its own process group, with the run id and the tick
//! (the scheduled time the run serves) in its environment, and without cronbeat's secret variables.
//! A failed exec is mapped to the shell's statuses: 127 not found, 126 not executable.
//! An executable text file without `#!` is run by `/bin/sh`, as execvp(3) and so `timeout`, `env` and
//! `nice` do.
//!
//! The command inherits the `--lock` descriptor, and the kernel sends it SIGKILL if cronbeat dies
//! (`PR_SET_PDEATHSIG`): a cronbeat killed with SIGKILL leaves no command running unsupervised, and
//! whatever of the run still lives (a daemon the command started) keeps the lock, as with flock(1).
//! SIGKILL, not SIGTERM: with cronbeat gone nobody enforces a grace, follows an ignored SIGTERM up, or
//! reports the run, so a polite signal could leave the job running on unseen. (A graceful stop is what
//! cronbeat itself does when it is sent SIGTERM.)

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    /// `None` when the command's stderr is the same pipe as its stdout.
    pub stderr: Option<OwnedFd>,
    /// The command was born in the run's cgroup (`CLONE_INTO_CGROUP`), not moved there.
    pub born_in_cgroup: bool,
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
    /// The variables of `--env-file`, over what cronbeat inherited (cronbeat's own names are refused there).
    pub env_files: &'a [(String, OsString)],
    /// The run's cgroup directory, which the command is started in.
    pub cgroup: Option<RawFd>,
    /// One pipe for stdout and stderr, so what the command writes to them keeps its order.
    pub one_pipe: bool,
    /// The `cgroup.procs` of the run's cgroups v1 (for `--memory-max`, `--tasks-max`): the command
    /// writes itself into each before exec, and is not run if it cannot.
    pub join: &'a [RawFd],
    /// The run's cgroup v2 carries a limit (`--memory-max`, `--tasks-max`): a command that cannot be
    /// placed in it is not started, rather than run unlimited.
    pub limited: bool,
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
    match start(program.as_os_str(), args, launch) {
        // The kernel knows no format for the file: execvp's rule is that such a file is a shell script.
        // glibc's execvpe applies it in the child already; musl's does not. Nothing ran, so starting
        // again is safe.
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
    .map_err(|e| classify(program, &e))
}

/// The shell execvp(3) runs a script without `#!` with.
const SHELL: &str = "/bin/sh";

/// Everything the child needs, made before the fork: between fork and exec the child may allocate
/// nothing (another thread could have held the allocator's lock at the fork).
struct Exec {
    program: CString,
    _argv: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp: Vec<*const libc::c_char>,
}

impl Exec {
    fn new(program: &OsStr, args: &[OsString], launch: &Launch<'_>) -> io::Result<Exec> {
        let text = |s: &OsStr| {
            CString::new(s.as_bytes()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "an argument holds a NUL byte")
            })
        };
        let program = text(program)?;
        let argv = std::iter::once(Ok(program.clone()))
            .chain(args.iter().map(|a| text(a)))
            .collect::<io::Result<Vec<_>>>()?;
        let envp = environment(launch)
            .iter()
            .map(|(name, value)| {
                let mut entry = name.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                text(OsStr::from_bytes(&entry))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let pointers = |strings: &[CString]| {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect()
        };
        Ok(Exec {
            argv: pointers(&argv),
            envp: pointers(&envp),
            program,
            _argv: argv,
            _envp: envp,
        })
    }
}

/// cronbeat's environment, with the run's variables set and what must not reach the command removed.
fn environment(launch: &Launch<'_>) -> Vec<(OsString, OsString)> {
    let ours = |name: &OsStr| {
        name == "CRONBEAT_RUN_ID"
            || name == "CRONBEAT_TICK"
            // cronbeat answers systemd itself; a command that also did would report ready too early.
            || crate::notify::VARIABLES.iter().any(|v| name == *v)
            // cronbeat's secrets are its own: a command that prints its environment must not show them.
            || crate::secrets::WITHHELD.iter().any(|v| name == *v)
            || launch.env.iter().any(|(v, _)| name == *v)
            || launch.env_files.iter().any(|(v, _)| name == v.as_str())
    };
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| !ours(name))
        .collect();
    // A later file's value of a name wins, as with systemd's EnvironmentFile=.
    for (i, (name, value)) in launch.env_files.iter().enumerate() {
        if !launch.env_files[i + 1..].iter().any(|(n, _)| n == name) {
            vars.push((name.into(), value.clone()));
        }
    }
    vars.push(("CRONBEAT_RUN_ID".into(), launch.run_id.into()));
    vars.extend(launch.env.iter().map(|(n, v)| ((*n).into(), v.into())));
    // Off the schedule there is no tick, whatever an enclosing cronbeat gave this one.
    if let Some(tick) = launch.tick {
        vars.push(("CRONBEAT_TICK".into(), tick.into()));
    }
    vars
}

/// The pipes of the command's stdout and stderr: cronbeat's read ends, the command's write ends.
struct Pipes {
    stdout: (OwnedFd, OwnedFd),
    /// `None` with one pipe for both.
    stderr: Option<(OwnedFd, OwnedFd)>,
}

impl Pipes {
    fn new(one_pipe: bool) -> io::Result<Pipes> {
        // Close-on-exec: only the child's fds 1 and 2 (dup2'd, so without the flag) may hold the
        // write ends, or the pump would never see the end of the output.
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from);
        Ok(Pipes {
            stdout: pipe()?,
            stderr: if one_pipe { None } else { Some(pipe()?) },
        })
    }

    fn write_ends(&self) -> (RawFd, RawFd) {
        let out = self.stdout.1.as_raw_fd();
        (out, self.stderr.as_ref().map_or(out, |e| e.1.as_raw_fd()))
    }
}

/// Starts the command: its pid, the read ends of its output, and whether it was born in the cgroup.
fn start(program: &OsStr, args: &[OsString], launch: &Launch<'_>) -> io::Result<Spawned> {
    let exec = Exec::new(program, args, launch)?;
    let pipes = Pipes::new(launch.one_pipe)?;
    // The child writes the errno of what failed here; exec closes it, so end-of-file is success.
    let (report_read, report_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut child = Child {
        exec: &exec,
        output: pipes.write_ends(),
        report: report_write.as_raw_fd(),
        join: None,
        join_required: launch.limited,
        lock_fd: launch.lock_fd,
        supervisor: std::process::id() as libc::pid_t,
        join_v1: launch.join,
    };
    // Where the command cannot be born in the cgroup, it moves itself there through this.
    let mut procs: Option<OwnedFd> = None;
    let mut born_in_cgroup = false;
    // Until the child has put cronbeat's handlers back to the defaults, a signal must not run them
    // there: the handler would tell cronbeat's own loop of a signal meant for the child.
    let blocked = block_signals();
    // SAFETY: the child runs only `in_child`, which is async-signal-safe and allocates nothing, on
    // its copy of `child` and of what it points to.
    let pid = match unsafe { clone3_child(launch.cgroup, &child) } {
        Ok(pid) => {
            born_in_cgroup = launch.cgroup.is_some();
            Ok(pid)
        }
        // Seccomp filters that refuse clone3 (container runtimes whose profiles predate it): fork,
        // and the child moves itself into the cgroup.
        Err(e) if refused(&e) => {
            procs = launch.cgroup.and_then(open_procs);
            child.join = procs.as_ref().map(|fd| fd.as_raw_fd());
            if launch.limited && procs.is_none() {
                Err(io::Error::other(NotPlaced(io::Error::last_os_error())))
            } else {
                // SAFETY: as above.
                unsafe { fork_child(&child) }
            }
        }
        // The limits are the cgroup's: outside it the command would run without them.
        Err(e) if launch.limited => Err(io::Error::other(NotPlaced(e))),
        // The kernel refuses this cgroup (moving into it would fail the same way): start the
        // command outside it, and the scope falls back to /proc. Not for a lack of processes or
        // memory, which the cgroup's limits may mean: the command must not escape them.
        // SAFETY: as above.
        Err(e)
            if launch.cgroup.is_some()
                && !matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOMEM)) =>
        unsafe { clone3_child(None, &child).or_else(|_| fork_child(&child)) },
        Err(e) => Err(e),
    };
    restore_signals(&blocked);
    drop(procs);
    let pid = pid?;
    drop(report_write);
    let Pipes { stdout, stderr } = pipes;
    let stderr = stderr.map(|(read, _)| read);
    let stdout = stdout.0;
    match read_report(&report_read) {
        None => match killed_before_exec(pid) {
            None => Ok(Spawned {
                pid: pid as u32,
                stdout,
                stderr,
                born_in_cgroup,
            }),
            Some(status) => Err(io::Error::other(KilledBeforeExec(status))),
        },
        Some(errno) => {
            // The child exited without running anything: reap it here, before anyone else looks.
            let mut status = 0;
            // SAFETY: waitpid on our own child with a valid status pointer.
            while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
            if errno & NOT_PLACED != 0 {
                let cause = io::Error::from_raw_os_error(errno & !NOT_PLACED);
                return Err(io::Error::other(NotPlaced(cause)));
            }
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// The child closed its report pipe without a word: it executed the command, or a signal killed it
/// before it could (a Ctrl-C that reached cronbeat's process group in the moment before the child left
/// it, a `cgroup.kill`, the OOM killer). Then it still bears the name it took after the fork, and has no
/// memory left, so `/proc/PID/exe` cannot be read: one that is past exec's point of no return has the
/// program's memory already, even before exec renames it. The dead child is reaped here, and its
/// signal returned. `None` for a child that executed, and where /proc cannot tell (not mounted).
///
/// The name is taken by the child's first call: a signal before it (SIGKILL only: the rest are
/// blocked until exec) leaves cronbeat's name, and the child is taken as started.
fn killed_before_exec(pid: libc::pid_t) -> Option<i32> {
    let comm = std::fs::read(format!("/proc/{pid}/comm")).ok()?;
    if comm.strip_suffix(b"\n") != Some(NOT_YET_EXECUTED.to_bytes()) {
        return None;
    }
    if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok() {
        return None;
    }
    // Dying or dead: wait for it.
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

/// A child killed by this signal before it executed the command.
#[derive(Debug)]
struct KilledBeforeExec(i32);

impl std::fmt::Display for KilledBeforeExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = nix::sys::signal::Signal::try_from(self.0)
            .map_or_else(|_| format!("signal {}", self.0), |s| s.as_str().to_string());
        write!(f, "killed by {name} before it was executed")
    }
}

impl std::error::Error for KilledBeforeExec {}

/// Marks the errno the child reports when it could not move itself into a cgroup of the run's limits.
const NOT_PLACED: i32 = 1 << 24;

/// The command could not be placed in the cgroup that carries the run's limits: it is not started.
#[derive(Debug)]
pub struct NotPlaced(io::Error);

impl std::fmt::Display for NotPlaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot place the command in the cgroup of --memory-max/--tasks-max ({}); the command was not started",
            self.0
        )
    }
}

impl std::error::Error for NotPlaced {}

/// Blocks every signal in this thread; the mask before, for [`restore_signals`].
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, filled by sigfillset; pthread_sigmask reads and writes the two
    // local sets.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut before);
        before
    }
}

fn restore_signals(before: &libc::sigset_t) {
    // SAFETY: pthread_sigmask reads a set that `block_signals` filled.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, before, std::ptr::null_mut()) };
}

/// Whether clone3 was refused as a call (no such call, or a seccomp filter's answer), rather than for
/// the cgroup.
fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EPERM | libc::E2BIG | libc::EINVAL)
    )
}

/// The errno the child reported, or `None` when exec closed the pipe (success). A read that fails
/// cannot tell; the child is then taken as started and is waited for like any command.
fn read_report(pipe: &OwnedFd) -> Option<i32> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: read(2) into the unfilled rest of a local buffer.
        let n = unsafe {
            libc::read(
                pipe.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => break,
        }
    }
    match got {
        0 => None,
        4 => Some(i32::from_ne_bytes(buf)),
        // The child writes its four bytes at once; fewer means it failed on the way.
        _ => Some(libc::EIO),
    }
}

/// The cgroup's `cgroup.procs`, open for writing.
fn open_procs(dir: RawFd) -> Option<OwnedFd> {
    // SAFETY: openat(2) with a descriptor number and a NUL-terminated path.
    let fd = unsafe {
        libc::openat(
            dir,
            c"cgroup.procs".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    };
    // SAFETY: a descriptor openat just returned, owned by nothing else.
    (fd >= 0).then(|| unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// What the child needs, in its copy of cronbeat's memory.
struct Child<'a> {
    exec: &'a Exec,
    /// The write ends that become the command's stdout and stderr.
    output: (RawFd, RawFd),
    /// Where the child writes the errno of what failed.
    report: RawFd,
    /// The cgroup's `cgroup.procs`, to move into where the child could not be born in the cgroup.
    join: Option<RawFd>,
    /// A failed move into `join` stops the command: the cgroup carries the run's limits.
    join_required: bool,
    lock_fd: Option<RawFd>,
    supervisor: libc::pid_t,
    /// The run's cgroups v1 (`cgroup.procs`), to move into: a limit the command must not escape.
    join_v1: &'a [RawFd],
}

#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

impl CloneArgs {
    fn new(cgroup: Option<RawFd>) -> CloneArgs {
        CloneArgs {
            flags: cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
            pidfd: 0,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: libc::SIGCHLD as u64,
            stack: 0,
            stack_size: 0,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            cgroup: cgroup.map_or(0, |fd| fd as u64),
        }
    }
}

/// Starts the child with `clone3` as a fork, born in the cgroup `cgroup` when given: moving a process
/// into a cgroup afterwards (writing `cgroup.procs`) waits for an RCU grace period in the kernel, from
/// a fraction of a millisecond to several; being born there does not. The child gets a copy of
/// cronbeat's memory (no `CLONE_VM`: nothing of cronbeat's is shared with a process that runs
/// without its signal handlers), and returns here.
///
/// # Safety
/// As fork(2): in a multi-threaded process the child may only make async-signal-safe calls.
unsafe fn clone3_child(cgroup: Option<RawFd>, child: &Child<'_>) -> io::Result<libc::pid_t> {
    let args = CloneArgs::new(cgroup);
    let pid = libc::syscall(
        libc::SYS_clone3,
        &args as *const CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    ) as libc::pid_t;
    forked(pid, child)
}

/// fork(2), where clone3 is refused.
///
/// # Safety
/// As fork(2): in a multi-threaded process the child may only make async-signal-safe calls.
unsafe fn fork_child(child: &Child<'_>) -> io::Result<libc::pid_t> {
    forked(libc::fork(), child)
}

/// After a fork-like call that returned `pid`: in the child, the child's work (which never returns);
/// in cronbeat, the child's pid or the call's error.
///
/// # Safety
/// As fork(2): in a multi-threaded process the child may only make async-signal-safe calls.
unsafe fn forked(pid: libc::pid_t, child: &Child<'_>) -> io::Result<libc::pid_t> {
    match pid {
        0 => in_child(child),
        pid if pid < 0 => Err(io::Error::last_os_error()),
        pid => Ok(pid),
    }
}

/// The child's name from the fork until exec gives it the program's (`comm`, 15 bytes at most). exec
/// takes the name from the file's name, which never holds a `/`: a child still so named did not
/// execute the command.
const NOT_YET_EXECUTED: &std::ffi::CStr = c"cronbeat/spawn";

/// Between fork and exec, in the child: stdout and stderr onto the pipes, a process group of its own,
/// default signal handling, the cgroup (when not born in it), the lock, the parent-death signal, then
/// exec. What fails is reported through `report` as an errno.
///
/// # Safety
/// Only in the child of a fork-like call: nothing is allocated (another thread may have held the
/// allocator's lock at the fork). Every call is async-signal-safe but execvpe, which POSIX does not
/// list; glibc's and musl's allocate nothing and take no lock. PATH is read without the environment
/// lock: nothing in cronbeat changes its environment.
unsafe fn in_child(child: &Child<'_>) -> ! {
    let Child {
        exec,
        output: (stdout, stderr),
        report,
        join,
        join_required,
        lock_fd,
        supervisor,
        join_v1,
    } = *child;
    // First of all: the name that tells cronbeat, should the child die before exec, that it did.
    libc::prctl(libc::PR_SET_NAME, NOT_YET_EXECUTED.as_ptr());
    let fail = |errno: i32| -> ! {
        let bytes = errno.to_ne_bytes();
        libc::write(report, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    };
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    for (from, to) in [(stdout, 1), (stderr, 2)] {
        // dup2 onto itself would leave close-on-exec set: clear it instead.
        let done = loop {
            let done = if from == to {
                libc::fcntl(to, libc::F_SETFD, 0)
            } else {
                libc::dup2(from, to)
            };
            if done >= 0 || !matches!(errno(), libc::EINTR | libc::EBUSY) {
                break done;
            }
        };
        if done < 0 {
            fail(errno());
        }
    }
    if libc::setpgid(0, 0) != 0 {
        fail(errno());
    }
    // The command starts with the default action for every signal cronbeat handles (its own, and the
    // standard library's SIGSEGV and SIGBUS for stack overflows), SIGPIPE at its default too (the
    // standard library ignores it), and no signal blocked. A handler of cronbeat's must not run here
    // once the signals are unblocked: it would tell cronbeat's loop of a signal meant for the child.
    // Signals ignored when cronbeat started stay ignored, as across any exec.
    let default: libc::sigaction = std::mem::zeroed();
    for sig in 1..=libc::SIGRTMAX() {
        let mut now: libc::sigaction = std::mem::zeroed();
        let handled = libc::sigaction(sig, std::ptr::null(), &mut now) == 0
            && now.sa_sigaction != libc::SIG_DFL
            && now.sa_sigaction != libc::SIG_IGN;
        if handled || sig == libc::SIGPIPE {
            libc::sigaction(sig, &default, std::ptr::null_mut());
        }
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    if let Some(procs) = join {
        // Without limits, a failure is left for the parent to notice (it checks the cgroup) rather
        // than failing the run; with them, the command must not run outside them.
        if libc::write(procs, b"0".as_ptr().cast(), 1) != 1 && join_required {
            fail(NOT_PLACED | errno());
        }
    }
    // Before exec, so that nothing the program allocates or forks is outside the limits.
    for procs in join_v1 {
        if libc::write(*procs, b"0".as_ptr().cast(), 1) != 1 {
            fail(NOT_PLACED | errno());
        }
    }
    if let Some(fd) = lock_fd {
        // The child has its own copy of the descriptor table: clearing close-on-exec here leaves
        // cronbeat's descriptor as it was.
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) != 0 {
            fail(errno());
        }
    }
    // Kept across exec, except into a set-user-ID or set-group-ID program, which the kernel clears it for.
    if libc::prctl(
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
        0,
        0,
        0,
    ) != 0
    {
        fail(errno());
    }
    // A cronbeat that died before the prctl would never send the signal: do not run orphaned.
    if libc::getppid() != supervisor {
        fail(libc::ESRCH);
    }
    libc::execvpe(
        exec.program.as_ptr(),
        exec.argv.as_ptr(),
        exec.envp.as_ptr(),
    );
    fail(errno())
}

fn classify(program: &OsString, err: &io::Error) -> SpawnError {
    if let Some(not_placed) = err.get_ref().and_then(|e| e.downcast_ref::<NotPlaced>()) {
        return SpawnError {
            code: crate::exit::USAGE,
            reason: not_placed.to_string(),
        };
    }
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
