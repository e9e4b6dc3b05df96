//! The README's `FROM scratch` recipe, without a container runtime: an empty directory with only the
//! static binary, a static busybox for the job and a mount point for /proc becomes the root of a fresh
//! PID namespace, with cronbeat as its PID 1. There is no /etc, /tmp, /dev, no certificate and no
//! time-zone file; the network is the host's, so a monitor on 127.0.0.1 is reachable.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::Duration;

use super::static_binary::{self, linking};
use crate::harness::*;

/// The busybox applets the jobs here use, as links in /bin.
const APPLETS: &[&str] = &["sh", "sleep", "echo", "true"];

/// An empty root holding only `/cronbeat`, `/bin/busybox` (with its applet links) and `/proc`.
struct EmptyRoot {
    dir: Dir,
}

impl EmptyRoot {
    /// `None` (after [`missing`]) when the static binary, a static busybox or `unshare` is not available.
    fn new() -> Option<EmptyRoot> {
        let cronbeat = static_binary::path()?;
        let Some(busybox) = static_busybox() else {
            missing("a static busybox (apt-get install busybox-static)");
            return None;
        };
        if let Err(why) = unshare_works() {
            missing(&why);
            return None;
        }
        let dir = Dir::new();
        let root = dir.path();
        copy_executable(cronbeat, &root.join("cronbeat"));
        std::fs::create_dir(root.join("bin")).unwrap();
        copy_executable(&busybox, &root.join("bin/busybox"));
        for applet in APPLETS {
            symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        std::fs::create_dir(root.join("proc")).unwrap();
        Some(EmptyRoot { dir })
    }

    /// `/cronbeat ARGS...` as PID 1 in the root, with `PATH=/bin` as its whole environment. The ledger
    /// goes where it goes in a container, /var/lib/cronbeat, here inside the root and removed with it.
    fn cronbeat<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Cronbeat {
        Cronbeat::program("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--root"])
            .arg(self.dir.path())
            .arg("/cronbeat")
            .args(args)
            .env_clear()
            .env("PATH", "/bin")
            .without_state_dir()
    }
}

/// Debian's busybox-static, or another busybox on PATH that needs no loader.
fn static_busybox() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("busybox"))
        .find(|p| p.is_file())
        .filter(|p| !linking(p).interpreter)
}

fn unshare_works() -> Result<(), String> {
    if !have("unshare") {
        return Err("unshare is not installed (apt-get install util-linux)".into());
    }
    let probe = Cronbeat::program("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .limit(Duration::from_secs(10))
        .run();
    if probe.status.success() {
        Ok(())
    } else {
        Err(format!(
            "unshare --pid --fork --mount-proc is not permitted here: {}",
            probe.stderr.trim()
        ))
    }
}

#[test]
fn the_root_holds_only_the_binary_the_job_and_proc() {
    let Some(root) = EmptyRoot::new() else { return };
    let mut entries: Vec<String> = std::fs::read_dir(root.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bin", "cronbeat", "proc"]);
    // The job sees the same: no /etc, /tmp or /dev, and its parent is PID 1.
    let out = root
        .cronbeat(["--", "sh", "-c", "echo /*; echo parent $PPID"])
        .run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(out.stdout, "/bin /cronbeat /proc\nparent 1\n");
}

#[test]
fn in_an_empty_root_the_job_runs_and_its_status_comes_through() {
    let Some(root) = EmptyRoot::new() else { return };
    let out = root
        .cronbeat(["--", "sh", "-c", "echo out; echo err >&2; exit 3"])
        .run();
    out.assert_code(3).assert_no_cronbeat_lines();
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    // The run is in the ledger, in the root's own /var/lib/cronbeat.
    assert!(
        root.dir.join("var/lib/cronbeat").is_dir(),
        "no ledger in the root's /var/lib/cronbeat"
    );
    // A command that does not exist: the shell's 127, from cronbeat itself.
    let out = root.cronbeat(["--", "/no/such/program"]).run();
    out.assert_code(127);
}

/// Three orphans (a subshell starts each and exits) that end while the job still runs, then what is
/// left of them, read from /proc: a zombie stays until PID 1 reaps it.
const ORPHANS: &str = r#"
    pids=
    for i in 1 2 3; do pids="$pids $( (sleep 0.2 >&- 2>&- & echo $!) )"; done
    set -- $pids
    n=0
    while :; do
        left=0 zombies=0
        for pid in $pids; do
            if read -r _ _ state _ 2>&- </proc/$pid/stat; then
                left=$((left+1))
                if [ "$state" = Z ]; then zombies=$((zombies+1)); fi
            fi
        done
        [ $left -eq 0 ] && break
        [ $left -eq $zombies ] && [ $n -ge 50 ] && break
        [ $n -ge 500 ] && break
        sleep 0.02
        n=$((n+1))
    done
    echo "orphans $# left $left zombies $zombies"
"#;

#[test]
fn in_an_empty_root_orphans_are_reaped() {
    let Some(root) = EmptyRoot::new() else { return };
    let out = root.cronbeat(["--", "sh", "-c", ORPHANS]).run();
    out.assert_code(0);
    assert_eq!(out.stdout, "orphans 3 left 0 zombies 0\n", "{}", out.dump());
}

#[test]
fn in_an_empty_root_the_timeout_holds() {
    let Some(root) = EmptyRoot::new() else { return };
    let out = root
        .cronbeat(["--timeout", "1s", "--kill-after", "2s", "--", "sleep", "30"])
        .run();
    out.assert_code(124);
    assert!(out.stderr.contains("timed out after 1s"), "{}", out.dump());
    assert!(out.elapsed < Duration::from_secs(10), "{}", out.dump());
}

#[test]
fn in_an_empty_root_the_pings_reach_a_monitor() {
    let Some(root) = EmptyRoot::new() else { return };
    let server = Server::start();
    let check = format!("{}/empty-root", server.url());
    let out = root
        .cronbeat(["--ping", &check, "--", "sh", "-c", "echo from the job"])
        .run();
    out.assert_code(0).assert_no_cronbeat_lines();
    let requests = server.wait_for(2, Duration::from_secs(10));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/empty-root/start", "/empty-root/0"],
        "{}",
        out.dump()
    );
    assert_eq!(without_cost(&requests[1].text()), "from the job\n");
}

#[test]
fn in_an_empty_root_a_schedule_is_read_in_its_zone() {
    let Some(root) = EmptyRoot::new() else { return };
    // Berlin is an hour ahead of UTC until the last Sunday of March 2026, then two: the zone's rules
    // come from inside the binary, there being no /usr/share/zoneinfo here.
    let out = root
        .cronbeat([
            "next",
            "--schedule",
            "0 3 * * *",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-03-27T12:00:00Z",
            "-n",
            "3",
        ])
        .run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(
        out.stdout,
        "2026-03-28T03:00:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-30T03:00:00+02:00\n"
    );
    // A run with that schedule knows the zone too; a made-up zone is refused before anything runs.
    let out = root
        .cronbeat([
            "--schedule",
            "0 3 * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "true",
        ])
        .run();
    out.assert_code(0).assert_silent_stderr();
    let out = root
        .cronbeat([
            "--schedule",
            "0 3 * * *",
            "--tz",
            "Europe/Nowhere",
            "--",
            "true",
        ])
        .run();
    out.assert_one_line_error(&["--tz", "Europe/Nowhere"]);
}
