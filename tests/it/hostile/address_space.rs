//! An address space too small for cronbeat (`ulimit -v`): whatever of cronbeat's own fails (an
//! allocation, a thread's stack, the main stack that cannot grow, the runtime's start-up), it ends with
//! one `cronbeat: internal error: …` line and status 71, or the job runs and its status is kept. Never
//! 134 or 139, which read as the job's SIGABRT or SIGSEGV.
//!
//! How much cronbeat needs depends on the build and the machine, so the test measures it: the smallest
//! limit under which the job runs (by bisection), then every limit below it, step by step, down to where
//! cronbeat does not start at all (the loader cannot map its libraries, or the kernel cannot load it).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::harness::*;

/// KiB, as `ulimit -v` counts.
const STEP: u64 = 32;
/// Below the smallest working limit, at most this far down: start-up is far closer than this.
const DEEPEST: u64 = 8 * 1024;

/// The job: a shell that prints and exits with a status of its own, needing a fraction of what
/// cronbeat does.
const JOB: &str = "echo ran; exit 7";

/// `program ARGS...` under `ulimit -v limit`.
fn limited(program: &Path, limit: u64, args: &[&str]) -> Output {
    Cronbeat::program("sh")
        .args(["-c", "ulimit -v \"$1\" && shift && exec \"$@\"", "sh"])
        .arg(limit.to_string())
        .arg(program)
        .args(args)
        .run()
}

fn run(program: &Path, limit: u64) -> Output {
    limited(program, limit, &["--", "sh", "-c", JOB])
}

/// What a run under a limit came to.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The job ran, its output and status are the job's.
    Ran,
    /// One line, status 71 (after one of the C library's, where it gave up first).
    Internal,
    /// The command could not be started for want of memory (its exec, or the stack cronbeat maps to
    /// start it): status 126, as a shell gives, with the reason in one line.
    NotStarted,
    /// cronbeat's own code never ran: the loader or the kernel could not map the binary.
    NoStart,
}

/// The ending of `out`; panics on any other, such as a death by SIGABRT or SIGSEGV.
#[track_caller]
fn ending(out: &Output, limit: u64) -> Ending {
    let lines = out.stderr_lines();
    let one_line = |prefix: &str| lines.len() == 1 && lines[0].starts_with(prefix);
    // glibc gives up on its own in one place (registering a thread-local's destructor), with a line of
    // its own before it aborts. In the thread that ends the run, cronbeat's line then comes second; in
    // another thread, while the first is ending on an error of its own, it may come after cronbeat's
    // (that thread's abort then waits for the first one's exit). One line of cronbeat's either way.
    let ours = lines
        .iter()
        .filter(|l| l.starts_with("cronbeat: internal error: "))
        .count();
    let internal = ours == 1
        && lines.iter().all(|l| {
            l.starts_with("cronbeat: internal error: ") || l.starts_with("Fatal glibc error: ")
        });
    match (out.status.code(), out.status.signal()) {
        (Some(7), _) if out.stdout == "ran\n" && out.stderr.is_empty() => Ending::Ran,
        (Some(71), _) if internal && ["", "ran\n"].contains(&&*out.stdout) => Ending::Internal,
        (Some(126), _)
            if one_line("cronbeat: sh: ")
                && (lines[0].contains("Cannot allocate memory")
                    || lines[0].contains("Out of memory"))
                && out.stdout.is_empty() =>
        {
            Ending::NotStarted
        }
        (Some(127), _) if out.stderr.contains("error while loading shared libraries") => {
            Ending::NoStart
        }
        // The kernel failed the exec after the point of no return: nothing of cronbeat ran, and
        // nothing was printed.
        (None, Some(libc::SIGSEGV | libc::SIGKILL)) if out.stderr.is_empty() => Ending::NoStart,
        _ => panic!("under ulimit -v {limit}: {out:?}"),
    }
}

/// Whether cronbeat's own code runs under `limit`: its `--version` gets as far as an exit of its own.
fn starts(program: &Path, limit: u64) -> bool {
    let out = limited(program, limit, &["--version"]);
    match out.status.code() {
        Some(0) => true,
        Some(71) => {
            ending(&out, limit);
            true
        }
        _ => false,
    }
}

/// The smallest limit (to `STEP`) under which the job runs.
fn smallest_that_runs(program: &Path) -> u64 {
    let (mut low, mut high) = (STEP, 4 * 1024 * 1024);
    assert_eq!(ending(&run(program, high), high), Ending::Ran);
    while high - low > STEP {
        let middle = (low + high) / 2;
        match run(program, middle) {
            out if out.status.code() == Some(7) && out.stdout == "ran\n" => high = middle,
            _ => low = middle,
        }
    }
    high
}

/// Every limit from just above the smallest that runs down to start-up; returns the limits seen and
/// how each ended.
fn survey(program: &Path) -> Vec<(u64, Ending)> {
    let runs = smallest_that_runs(program);
    let mut seen = Vec::new();
    for limit in (runs..runs + 4 * STEP).step_by(STEP as usize) {
        seen.push((limit, ending(&run(program, limit), limit)));
    }
    let mut limit = runs - STEP;
    while limit + DEEPEST > runs && starts(program, limit) {
        let out = run(program, limit);
        let end = ending(&out, limit);
        if end == Ending::NoStart {
            break;
        }
        seen.push((limit, end));
        limit -= STEP;
    }
    seen.sort_by_key(|(limit, _)| *limit);
    eprintln!("{}: {seen:?}", program.display());
    seen
}

#[track_caller]
fn assert_survey(program: &Path) {
    let seen = survey(program);
    let internal = seen.iter().filter(|(_, e)| *e == Ending::Internal).count();
    // Below the smallest limit that runs the job and above start-up, cronbeat did start and then
    // failed: each of those failures is an internal error (or the command could not be started).
    assert!(
        internal >= 3,
        "too few limits ended as internal errors to have tried the failures: {seen:?}"
    );
}

#[test]
fn a_tight_address_space_is_an_internal_error_or_the_job_runs() {
    assert_survey(Path::new(BIN));
}

/// The build that ships (panic = "abort", musl, the allocator of its own), where a panic and a failed
/// allocation ended in SIGABRT.
#[test]
fn the_static_binary_too() {
    let Some(program) = crate::ship::static_binary::path() else {
        return;
    };
    assert_survey(program);
}
