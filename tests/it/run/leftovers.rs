//! What the command leaves behind outside its process group: a daemon that called setsid, a
//! double-forked one, one that ignores SIGTERM. Each is a descendant of cronbeat (re-parented to it, the
//! subreaper, when its parent exits), so after the command exits, or at the deadline, each gets SIGTERM,
//! the `--kill-after` grace and SIGKILL, and `-v` says how many there were. Processes that are not the
//! run's are never touched.
//!
//! Where cronbeat can make a cgroup for the command (root here, with a writable cgroup2 hierarchy) it
//! uses it; an unprivileged cronbeat cannot, and finds the leftovers in /proc instead. The scenarios run
//! both ways: `Who::Invoker` is cronbeat as the tests run, `Who::Nobody` the fallback.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

/// Who runs cronbeat.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// The user the tests run as.
    Invoker,
    /// An unprivileged user (through `setpriv` when the tests run as root): no cgroup of its own.
    Nobody,
}

fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The words that run a program as `who`, before the program's own.
fn run_as(who: Who) -> &'static [&'static str] {
    match who {
        Who::Nobody if is_root() => &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ],
        _ => &[],
    }
}

/// `cronbeat ARGS...` as `who`.
fn cronbeat_as(who: Who, args: &[&str]) -> Cronbeat {
    match run_as(who).split_first() {
        Some((program, options)) => Cronbeat::program(program).args(options).arg(BIN).args(args),
        None => cronbeat().args(args),
    }
}

/// A directory every process of a test may use: the daemon script, and a file per daemon that runs.
struct Scene {
    dir: tempfile::TempDir,
}

/// How the command leaves its daemon behind.
#[derive(Clone, Copy, Debug)]
enum Daemon {
    /// `setsid daemon &`: a session and process group of its own; its parent, the command, exits later.
    Setsid,
    /// Fork, setsid, fork, and the middle process exits at once: re-parented while the command runs.
    DoubleForked,
    /// Like `Setsid`, ignoring SIGTERM.
    Stubborn,
}

impl Scene {
    fn new() -> Scene {
        let dir = temp_dir();
        std::fs::create_dir(dir.path().join("ready")).unwrap();
        for sub in [dir.path(), &dir.path().join("ready")] {
            std::fs::set_permissions(sub, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        // The daemon says who it is and that it runs with shell builtins only: a `touch` child could
        // still be exiting when the command counts the ready files, and be counted as a leftover.
        let ready = dir.path().join("ready");
        let body = format!(
            "echo daemon $$; : > '{}'/$$; exec sleep 300 >/dev/null 2>&1\n",
            ready.display()
        );
        std::fs::write(dir.path().join("daemon.sh"), &body).unwrap();
        std::fs::write(
            dir.path().join("stubborn.sh"),
            format!("trap '' TERM; {body}"),
        )
        .unwrap();
        Scene { dir }
    }

    fn script(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Shell words that start `daemon` in the background.
    fn start(&self, daemon: Daemon) -> String {
        let plain = self.script("daemon.sh");
        let stubborn = self.script("stubborn.sh");
        match daemon {
            Daemon::Setsid => format!("setsid sh '{}' </dev/null &", plain.display()),
            Daemon::DoubleForked => format!("(setsid sh '{}' </dev/null &)", plain.display()),
            Daemon::Stubborn => format!("setsid sh '{}' </dev/null &", stubborn.display()),
        }
    }

    /// A command that starts `daemon`, waits until it runs, then does `then`.
    fn command(&self, daemon: Daemon, then: &str) -> String {
        format!("{}\n{}\n{then}", self.start(daemon), self.wait_ready(1))
    }

    /// Shell words that wait until `n` daemons run.
    fn wait_ready(&self, n: usize) -> String {
        format!(
            "while [ $(ls '{}' | wc -l) -lt {n} ]; do sleep 0.01; done",
            self.dir.path().join("ready").display()
        )
    }
}

/// Reads `daemon PID` lines until `n` pids are known.
fn daemon_pids(run: &mut Running, n: usize) -> Vec<KillOnDrop> {
    (0..n)
        .map(|_| {
            let line = run.wait_for_line_containing("daemon ");
            KillOnDrop(line.strip_prefix("daemon ").unwrap().parse().unwrap())
        })
        .collect()
}

/// The command starts `daemon`, waits until it runs, then `then`.
/// The daemon is killed when the returned guard is dropped: check it before.
fn leave_behind(who: Who, options: &[&str], daemon: Daemon, then: &str) -> (Output, KillOnDrop) {
    let scene = Scene::new();
    let script = scene.command(daemon, then);
    let mut args = vec!["-v"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--", "sh", "-c", &script]);
    let mut run = cronbeat_as(who, &args).spawn();
    let guard = daemon_pids(&mut run, 1).remove(0);
    let out = run.wait();
    (out, guard)
}

#[track_caller]
fn assert_line(out: &Output, wanted: &str) {
    assert!(
        out.stderr_lines().contains(&wanted),
        "no line {wanted:?}: {}",
        out.dump()
    );
}

fn after_exit(who: Who, daemon: Daemon) {
    let (out, daemon) = leave_behind(who, &["--kill-after", "5s"], daemon, "exit 3");
    out.assert_code(3);
    assert_all_dead(&[daemon.0]);
    assert_line(&out, "cronbeat: stopping 1 process the command left behind");
    assert!(out.elapsed < Duration::from_secs(3), "{}", out.dump());
}

#[test]
fn a_setsid_daemon_is_stopped_when_the_command_exits() {
    after_exit(Who::Invoker, Daemon::Setsid);
}

#[test]
fn a_double_forked_daemon_is_stopped_when_the_command_exits() {
    after_exit(Who::Invoker, Daemon::DoubleForked);
}

#[test]
fn without_a_cgroup_a_setsid_daemon_is_stopped_when_the_command_exits() {
    after_exit(Who::Nobody, Daemon::Setsid);
}

#[test]
fn without_a_cgroup_a_double_forked_daemon_is_stopped_when_the_command_exits() {
    after_exit(Who::Nobody, Daemon::DoubleForked);
}

fn at_the_deadline(who: Who, daemon: Daemon) {
    let (out, daemon) = leave_behind(
        who,
        &["--timeout", "1s", "--kill-after", "5s"],
        daemon,
        "exec sleep 100",
    );
    out.assert_code(124);
    assert_all_dead(&[daemon.0]);
    // The deadline's SIGTERM went to the daemon too: nobody waited for the grace.
    assert!(out.elapsed < Duration::from_secs(4), "{}", out.dump());
}

#[test]
fn a_setsid_daemon_is_stopped_at_the_deadline() {
    at_the_deadline(Who::Invoker, Daemon::Setsid);
}

#[test]
fn a_double_forked_daemon_is_stopped_at_the_deadline() {
    at_the_deadline(Who::Invoker, Daemon::DoubleForked);
}

#[test]
fn without_a_cgroup_a_setsid_daemon_is_stopped_at_the_deadline() {
    at_the_deadline(Who::Nobody, Daemon::Setsid);
}

#[test]
fn without_a_cgroup_a_double_forked_daemon_is_stopped_at_the_deadline() {
    at_the_deadline(Who::Nobody, Daemon::DoubleForked);
}

fn stubborn_after_exit(who: Who) {
    let (out, daemon) = leave_behind(who, &["--kill-after", "1s"], Daemon::Stubborn, "exit 0");
    out.assert_code(0);
    assert_all_dead(&[daemon.0]);
    assert_line(&out, "cronbeat: stopping 1 process the command left behind");
    assert!(
        out.stderr.contains("cronbeat: sent SIGKILL: "),
        "{}",
        out.dump()
    );
    assert!(
        out.elapsed >= Duration::from_millis(900) && out.elapsed < Duration::from_secs(5),
        "the daemon should get the 1 s grace, then KILL: {}",
        out.dump()
    );
}

#[test]
fn a_daemon_ignoring_term_is_killed_after_the_grace() {
    stubborn_after_exit(Who::Invoker);
}

#[test]
fn without_a_cgroup_a_daemon_ignoring_term_is_killed_after_the_grace() {
    stubborn_after_exit(Who::Nobody);
}

/// Where pidfd_open is refused (EPERM from Docker's default seccomp profile before 20.10, or from
/// systemd's `SystemCallFilter=`), the leftovers are still signalled, by pid: the daemon gets its
/// SIGTERM at once, not only the cgroup's SIGKILL after the grace, and the clean-up ends.
fn pidfd_open_refused(who: Who) {
    let scene = Scene::new();
    let script = format!(
        "grep ^Seccomp: /proc/self/status\n{}",
        scene.command(Daemon::Setsid, "exit 0")
    );
    let mut run = cronbeat_as(
        who,
        &["-v", "--kill-after", "10s", "--", "sh", "-c", &script],
    )
    .refuse_pidfd_open()
    .limit(Duration::from_secs(20))
    .spawn();
    let daemon = daemon_pids(&mut run, 1).remove(0);
    let out = run.wait();
    out.assert_code(0);
    // The filter was in force for cronbeat, and so for the command it started.
    assert!(out.stdout.contains("Seccomp:\t2"), "{}", out.dump());
    assert_all_dead(&[daemon.0]);
    assert_line(&out, "cronbeat: stopping 1 process the command left behind");
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

#[test]
fn where_pidfd_open_is_refused_a_daemon_is_still_stopped() {
    pidfd_open_refused(Who::Invoker);
}

#[test]
fn without_a_cgroup_where_pidfd_open_is_refused_a_daemon_is_still_stopped() {
    pidfd_open_refused(Who::Nobody);
}

/// The command takes 1.5 s of its 2 s grace to shut down.
const SLOW_TO_STOP: &str =
    "trap 'sleep 1.5; exit 0' TERM; echo ready; while :; do sleep 0.05; done";

fn stubborn_at_the_deadline(who: Who) {
    let (out, daemon) = leave_behind(
        who,
        &["--timeout", "500ms", "--kill-after", "2s"],
        Daemon::Stubborn,
        SLOW_TO_STOP,
    );
    out.assert_code(124);
    assert_all_dead(&[daemon.0]);
    // It had its SIGTERM at the deadline, so SIGKILL when that grace ends (2.5 s), not a grace of its
    // own after the command exited (4 s).
    assert!(
        out.elapsed >= Duration::from_millis(2400) && out.elapsed < Duration::from_millis(3500),
        "the KILL should come after timeout + grace (2.5 s): {}",
        out.dump()
    );
}

#[test]
fn a_daemon_ignoring_term_at_the_deadline_is_killed_after_one_grace() {
    stubborn_at_the_deadline(Who::Invoker);
}

#[test]
fn without_a_cgroup_a_daemon_ignoring_term_at_the_deadline_is_killed_after_one_grace() {
    stubborn_at_the_deadline(Who::Nobody);
}

/// A SIGTERM forwarded to the command (`systemctl stop`, pod deletion) reaches only its group; the
/// daemon it left behind gets SIGTERM when the command exits, and SIGKILL when the stop's one grace
/// ends: the platform's grace, planned on `--kill-after`, is not overrun.
fn stop_on_request(who: Who) {
    let scene = Scene::new();
    let script = scene.command(Daemon::Stubborn, SLOW_TO_STOP);
    let mut run = cronbeat_as(
        who,
        &["-v", "--kill-after", "2s", "--", "sh", "-c", &script],
    )
    .spawn();
    let daemon = daemon_pids(&mut run, 1).remove(0);
    run.wait_for_line("ready");
    let stopped = std::time::Instant::now();
    if matches!(who, Who::Nobody) && is_root() {
        // setpriv exec'd cronbeat: the launched process is cronbeat.
        assert!(
            cmdline(run.pid()).starts_with(BIN),
            "{}",
            cmdline(run.pid())
        );
    }
    run.signal(libc::SIGTERM);
    let out = run.wait();
    let took = stopped.elapsed();
    out.assert_code(0);
    assert_all_dead(&[daemon.0]);
    assert_line(&out, "cronbeat: stopping 1 process the command left behind");
    // SIGKILL when the stop's 2 s grace ends, not a grace of its own after the command exited (3.5 s).
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3000),
        "the daemon should be killed when the stop's 2 s grace ends, took {took:?}: {}",
        out.dump()
    );
}

#[test]
fn a_stop_on_request_takes_one_grace() {
    stop_on_request(Who::Invoker);
}

#[test]
fn without_a_cgroup_a_stop_on_request_takes_one_grace() {
    stop_on_request(Who::Nobody);
}

/// At the deadline every process of the run gets one SIGTERM, in the group or not, and no second one
/// when the command exits during the grace: a second SIGTERM can cut a shutdown short.
fn one_sigterm_each(who: Who) {
    let scene = Scene::new();
    let counter = scene.script("counter.sh");
    // Counts its SIGTERMs in the file it is given; shuts down 0.5 s after the first.
    std::fs::write(
        &counter,
        format!(
            "trap 'echo term >> \"$1\"; n=1' TERM; n=0; echo daemon $$; : > '{}'/$$\n\
             while [ $n = 0 ]; do sleep 0.05; done; sleep 0.5; exit 0\n",
            scene.dir.path().join("ready").display()
        ),
    )
    .unwrap();
    let (in_group, outside) = (
        scene.dir.path().join("group"),
        scene.dir.path().join("outside"),
    );
    let script = format!(
        "sh '{c}' '{g}' </dev/null &\nsetsid sh '{c}' '{o}' </dev/null &\n{}\nexec sleep 100",
        scene.wait_ready(2),
        c = counter.display(),
        g = in_group.display(),
        o = outside.display(),
    );
    let mut run = cronbeat_as(
        who,
        &[
            "--timeout",
            "500ms",
            "--kill-after",
            "5s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .spawn();
    let guards = daemon_pids(&mut run, 2);
    let out = run.wait();
    out.assert_code(124);
    assert_all_dead(&guards.iter().map(|g| g.0).collect::<Vec<_>>());
    for file in [in_group, outside] {
        let terms = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(terms, "term\n", "{}: {}", file.display(), out.dump());
    }
    assert!(out.elapsed < Duration::from_secs(4), "{}", out.dump());
}

#[test]
fn at_the_deadline_every_process_gets_one_sigterm() {
    one_sigterm_each(Who::Invoker);
}

#[test]
fn without_a_cgroup_at_the_deadline_every_process_gets_one_sigterm() {
    one_sigterm_each(Who::Nobody);
}

fn counted(who: Who) {
    let scene = Scene::new();
    let script = format!(
        "{}\n{}\n{}\nsleep 300 & echo daemon $!\n{}\nexit 0",
        scene.start(Daemon::Setsid),
        scene.start(Daemon::DoubleForked),
        scene.start(Daemon::Stubborn),
        scene.wait_ready(3)
    );
    let mut run = cronbeat_as(
        who,
        &[
            "--log-format",
            "json",
            "--kill-after",
            "1s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .spawn();
    let guards = daemon_pids(&mut run, 4);
    let out = run.wait();
    out.assert_code(0);
    assert_all_dead(&guards.iter().map(|g| g.0).collect::<Vec<_>>());
    let event = out.event("leftovers");
    assert_eq!(event["processes"], 4, "{}", out.dump());
    assert_eq!(
        event["message"],
        "stopping 4 processes the command left behind"
    );
}

#[test]
fn the_leftovers_are_counted() {
    counted(Who::Invoker);
}

#[test]
fn without_a_cgroup_the_leftovers_are_counted() {
    counted(Who::Nobody);
}

/// A daemon that starts a child ignoring SIGTERM every 10 ms: the children born while cronbeat stops
/// them must be stopped too. They all sleep a time no other test uses, to be found afterwards; should
/// cronbeat fail to stop it, the daemon gives up by itself after about ten seconds.
fn forking(who: Who) {
    let scene = Scene::new();
    let marker = format!("60.{}{}", std::process::id(), who as u8);
    let forker = scene.script("forker.sh");
    let ready = scene.dir.path().join("ready");
    std::fs::write(
        &forker,
        format!(
            "trap '' TERM; : > '{}'/$$\n\
             i=0; while [ $i -lt 1000 ]; do sleep {marker} & sleep 0.01; i=$((i+1)); done\n",
            ready.display()
        ),
    )
    .unwrap();
    let script = format!(
        "setsid sh '{}' </dev/null >/dev/null 2>&1 &\n{}\nsleep 0.2; exit 0",
        forker.display(),
        scene.wait_ready(1)
    );
    let out = cronbeat_as(who, &["--kill-after", "1s", "--", "sh", "-c", &script]).run();
    // The daemon's pid names its ready file.
    let daemon: Vec<KillOnDrop> = std::fs::read_dir(&ready)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .map(KillOnDrop)
        .collect();
    let left: Vec<i32> = all_pids()
        .into_iter()
        .filter(|p| cmdline(*p).contains(&marker) && !is_dead(*p))
        .collect();
    let alive = daemon.iter().any(|d| !is_dead(d.0));
    drop(daemon);
    for pid in &left {
        drop(KillOnDrop(*pid));
    }
    out.assert_code(0);
    assert!(!alive, "the daemon is still running\n{}", out.dump());
    assert!(left.is_empty(), "left running: {left:?}\n{}", out.dump());
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.dump());
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn a_forking_daemon_is_stopped() {
    forking(Who::Invoker);
}

#[test]
fn without_a_cgroup_a_forking_daemon_is_stopped() {
    forking(Who::Nobody);
}

/// A process cronbeat already had as a child when it started (`sh -c 'x & exec cronbeat ...'`) is not
/// the run's: it is left alone.
fn bystander(who: Who) {
    let scene = Scene::new();
    let command = scene.command(Daemon::Setsid, "exit 0");
    let words: Vec<String> = run_as(who)
        .iter()
        .map(|w| w.to_string())
        .chain([BIN, "-v", "--", "sh", "-c", &command].map(String::from))
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let outer = format!(
        "sleep 300 >/dev/null 2>&1 & echo bystander $!; exec {}",
        words.join(" ")
    );
    let mut run = Cronbeat::program("sh").args(["-c", &outer]).spawn();
    let bystander = KillOnDrop(
        run.wait_for_line_containing("bystander ")
            .strip_prefix("bystander ")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let daemon = daemon_pids(&mut run, 1);
    let out = run.wait();
    out.assert_code(0);
    assert_all_dead(&[daemon[0].0]);
    assert_line(&out, "cronbeat: stopping 1 process the command left behind");
    assert!(
        !is_dead(bystander.0),
        "the bystander was stopped: {}",
        out.dump()
    );
}

#[test]
fn a_child_cronbeat_had_before_the_run_is_left_alone() {
    bystander(Who::Invoker);
}

#[test]
fn without_a_cgroup_a_child_cronbeat_had_before_the_run_is_left_alone() {
    bystander(Who::Nobody);
}

// ---- the cgroup ----

/// The cgroup v2 path in a /proc/PID/cgroup text (its `0::PATH` line).
fn v2_path(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// This process's cgroup v2 directory, if cgroup2 is mounted so that it can be found.
fn own_cgroup_dir() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = v2_path(&own)?.to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let dash = fields.iter().position(|f| *f == "-")?;
        if fields.get(dash + 1) != Some(&"cgroup2") {
            return None;
        }
        let rest = path.strip_prefix(fields[3].trim_end_matches('/'))?;
        Some(Path::new(fields[4]).join(rest.trim_start_matches('/')))
    })
}

/// Whether cronbeat, run as the tests run, should put the command in a cgroup of its own: root, a
/// writable cgroup2 directory, and not a systemd unit's (which is systemd's unless delegated).
fn cgroup_expected() -> Option<PathBuf> {
    let dir = own_cgroup_dir()?;
    let unit = dir.components().any(|c| {
        [".service", ".scope", ".slice"]
            .iter()
            .any(|s| c.as_os_str().to_string_lossy().ends_with(s))
    });
    (is_root() && !unit && dir.join("cgroup.procs").exists()).then_some(dir)
}

/// Runs `launch` (whose job prints its `0::` line of /proc/self/cgroup first) and checks that the job
/// ran in a cgroup of the run's own below cronbeat's, removed after. The job's output.
fn runs_in_a_cgroup_of_its_own(launch: Cronbeat) -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = v2_path(&own).unwrap_or("").to_string();
    let out = launch.run();
    out.assert_code(0);
    let theirs = v2_path(&out.stdout).unwrap_or("").to_string();
    let Some(dir) = cgroup_expected() else {
        missing(&format!(
            "a cgroup cronbeat can make (it ran in {theirs:?})"
        ));
        return None;
    };
    let name = Path::new(&theirs)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        Path::new(&theirs).parent() == Some(Path::new(&own)) && name.starts_with("cronbeat-"),
        "the command ran in {theirs:?}, cronbeat's own cgroup is {own:?}"
    );
    assert!(
        !dir.join(&name).exists(),
        "{} is still there",
        dir.join(&name).display()
    );
    Some(out.stdout)
}

#[test]
fn the_command_runs_in_a_cgroup_of_its_own_that_is_removed_after() {
    runs_in_a_cgroup_of_its_own(cronbeat().args(["--", "sh", "-c", "grep ^0:: /proc/self/cgroup"]));
}

/// Where clone3 is refused (a container runtime's seccomp profile that predates it), the command
/// cannot be born in the run's cgroup: it moves itself there before exec instead.
#[test]
fn where_clone3_is_refused_the_command_still_runs_in_a_cgroup_of_its_own() {
    let script = "grep ^0:: /proc/self/cgroup; grep ^Seccomp: /proc/self/status";
    let launch = cronbeat().refuse_clone3().args(["--", "sh", "-c", script]);
    if let Some(out) = runs_in_a_cgroup_of_its_own(launch) {
        // The filter was in force for cronbeat, and so for the command it started.
        assert!(out.contains("Seccomp:\t2"), "{out}");
    }
}

/// In a cgroup namespace whose root is not the root of the mounted hierarchy (`unshare --cgroup` from a
/// cgroup below it, as in a container that sees the host's /sys/fs/cgroup), /proc/self/cgroup says `/`
/// while the mount's `/` is another cgroup: cronbeat must not take that one for its own and start the
/// command there, outside the cgroup it was given.
#[test]
fn in_a_cgroup_namespace_the_command_is_not_started_outside_cronbeats_cgroup() {
    let Some(own) = cgroup_expected() else {
        missing("a cgroup cronbeat can make");
        return;
    };
    if !have("unshare") {
        missing("unshare (apt-get install util-linux)");
        return;
    }
    let given = own.join(format!("cronbeat-test-ns-{}", std::process::id()));
    std::fs::create_dir(&given).unwrap();
    let script = format!(
        "echo $$ > '{}/cgroup.procs' && exec unshare --cgroup '{BIN}' -- cat /proc/self/cgroup",
        given.display()
    );
    let out = Cronbeat::program("sh").args(["-c", &script]).run();
    let _ = std::fs::remove_dir(&given);
    out.assert_code(0);
    let path = v2_path(&out.stdout).unwrap_or("");
    // `/` is the cgroup cronbeat was started in (the namespace's root); a run's own cgroup below it
    // would do too. Anything with `..` lies outside.
    assert!(
        path == "/" || path.starts_with("/cronbeat-"),
        "the command ran in {path:?}\n{}",
        out.dump()
    );
}

#[test]
fn without_a_cgroup_the_command_runs_in_cronbeats_cgroup() {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let out = cronbeat_as(Who::Nobody, &["--", "cat", "/proc/self/cgroup"]).run();
    out.assert_code(0);
    if !is_root() && out.stdout != own {
        missing("a user without a cgroup of its own");
        return;
    }
    assert_eq!(out.stdout, own);
}

// ---- a PID namespace whose /proc is not its own ----

#[test]
fn as_pid_1_with_a_foreign_proc_only_the_namespace_is_stopped() {
    // `unshare --pid --fork` without --mount-proc: /proc shows the outer namespace, where "the
    // descendants of pid 1" would be everything. cronbeat must not go by it.
    if !have("unshare") {
        missing("unshare (apt-get install util-linux)");
        return;
    }
    let probe = Cronbeat::program("unshare")
        .args(["--pid", "--fork", "true"])
        .run();
    if !probe.status.success() {
        missing(&format!(
            "unshare --pid permitted here: {}",
            probe.stderr.trim()
        ));
        return;
    }
    let scene = Scene::new();
    // Outside the namespace, and as the same user as cronbeat: nothing but the namespace protects it.
    let mut sleeper = std::process::Command::new("sleep");
    if is_root() {
        std::os::unix::process::CommandExt::uid(&mut sleeper, 65534);
    }
    let outside = KillOnDrop(sleeper.arg("300").spawn().unwrap().id() as i32);
    let command = scene.command(Daemon::Setsid, "exit 0");
    // Unprivileged, so that no cgroup stands in for /proc.
    let out = Cronbeat::program("unshare")
        .args(["--pid", "--fork"])
        .args(run_as(Who::Nobody))
        .args([BIN, "-v", "--kill-after", "5s", "--", "sh", "-c", &command])
        .run();
    out.assert_code(0);
    // Nothing in /proc can be counted as the run's; the namespace is stopped as a whole.
    assert_line(
        &out,
        "cronbeat: stopping the processes the command left behind",
    );
    assert!(out.elapsed < Duration::from_secs(3), "{}", out.dump());
    assert!(
        !is_dead(outside.0),
        "a process outside the namespace was stopped"
    );
}

// ---- a leftover that SIGKILL cannot end in time ----

/// A cgroup v1 freezer cgroup of the test's own: a process frozen there does not act on SIGKILL until
/// it is thawed, as a process held in uninterruptible sleep does not. Thawed and removed when dropped.
struct Freezer {
    dir: PathBuf,
}

impl Freezer {
    const ROOT: &'static str = "/sys/fs/cgroup/freezer";

    fn new() -> Option<Freezer> {
        let dir = Path::new(Self::ROOT).join(format!("cronbeat-test-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(Freezer { dir })
    }

    fn freeze(&self, pid: i32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
        std::fs::write(self.dir.join("freezer.state"), "FROZEN").unwrap();
        assert!(
            eventually(Duration::from_secs(10), || self.state() == "FROZEN"),
            "the freezer says {}",
            self.state()
        );
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.dir.join("freezer.state"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn thaw(&self) {
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        self.thaw();
        let procs = self.dir.join("cgroup.procs");
        eventually(Duration::from_secs(10), || {
            std::fs::read_to_string(&procs).is_ok_and(|p| p.trim().is_empty())
        });
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A leftover that outlives its SIGKILL (here a frozen one; in production one in uninterruptible
/// sleep) does not hold the run forever: cronbeat waits a bounded time after SIGKILL (5 s), then ends the
/// run with the command's own status and a warning that names what is left.
#[test]
fn a_leftover_that_survives_sigkill_is_given_up_on_after_a_bound() {
    let Some(freezer) = is_root().then(Freezer::new).flatten() else {
        missing("a cgroup v1 freezer at /sys/fs/cgroup/freezer, writable by root");
        return;
    };
    let scene = Scene::new();
    let frozen = scene.dir.path().join("frozen");
    let wait_frozen = format!(
        "while [ ! -e '{}' ]; do sleep 0.01; done; exit 3",
        frozen.display()
    );
    let script = scene.command(Daemon::Setsid, &wait_frozen);
    let mut run = cronbeat()
        .args(["-v", "--kill-after", "1s", "--", "sh", "-c", &script])
        .limit(Duration::from_secs(40))
        .spawn();
    let daemon = daemon_pids(&mut run, 1).remove(0);
    freezer.freeze(daemon.0);
    std::fs::write(&frozen, "").unwrap();
    let out = run.wait();
    out.assert_code(3);
    let warning = out
        .stderr_lines()
        .into_iter()
        .find(|l| l.starts_with("cronbeat: giving up on what the command left behind"))
        .unwrap_or_else(|| panic!("no warning of giving up: {}", out.dump()))
        .to_string();
    assert!(
        warning.contains("still there 5s after SIGKILL")
            && warning.contains(&format!("pid {} (", daemon.0)),
        "{warning}"
    );
    // The grace, then the bound after SIGKILL, then the run ends.
    assert!(
        out.elapsed >= Duration::from_secs(6) && out.elapsed < Duration::from_secs(20),
        "{}",
        out.dump()
    );
    assert!(!is_dead(daemon.0), "the frozen daemon died: {}", out.dump());
    // The SIGKILL was sent: thawed, the daemon dies.
    freezer.thaw();
    assert!(
        eventually(Duration::from_secs(10), || is_dead(daemon.0)),
        "the thawed daemon lives on"
    );
}
