//! `cronbeat adopt`: the plan, the write, the undo, the conversions and the timers, and the real cron
//! daemon running the same tricky crontab before and after adoption.

mod convert;
mod plan;
mod provision;
mod real_cron;
mod timers;
mod write_undo;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

/// A crontab file in a scratch directory, for `adopt --crontab`.
pub fn crontab_file(dir: &Dir, text: &str) -> PathBuf {
    let path = dir.join("crontab");
    std::fs::write(&path, text).unwrap();
    path
}

/// `cronbeat adopt` with a state directory and a ping directory of the test's, and the cronbeat path
/// the wrapped lines get fixed, so the text of a plan does not depend on where the tests run.
pub fn adopt(dir: &Dir) -> Cronbeat {
    adopt_with(dir, "/usr/local/bin/cronbeat")
}

/// `cronbeat adopt` whose wrapped lines run the binary under test, for tests that run them.
pub fn adopt_running(dir: &Dir) -> Cronbeat {
    adopt_with(dir, BIN)
}

fn adopt_with(dir: &Dir, cronbeat_path: &str) -> Cronbeat {
    cronbeat()
        .arg("adopt")
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .args(["--ping-dir", dir.join("ping").to_str().unwrap()])
        .args(["--cronbeat", cronbeat_path])
}

/// The command of an every-minute line (`* * * * * COMMAND`), as cron hands it to the shell when it has
/// no `%`.
pub fn command_of(line: &str) -> &str {
    line.strip_prefix("* * * * * ")
        .unwrap_or_else(|| panic!("not an every-minute line: {line}"))
}

/// Runs a line's command as cron would (`sh -c COMMAND`, for a line without `%`).
pub fn run_as_cron(line: &str) -> Output {
    assert!(!line.contains('%'), "{line}");
    Cronbeat::program("/bin/sh")
        .args(["-c", command_of(line)])
        .run()
}

/// A private cron world for the tests that need the real `crontab` and cron daemon, as root: a scratch
/// directory whose spool, `/etc/cron.d`, `/etc/crontab`, users (`/etc/passwd`, `/etc/group`,
/// `/etc/shadow`: the host's and the test's own) and `/run` (cron's pid file) are bound over the host's
/// in a mount namespace of each launch's own, so no job of the host is seen or touched.
pub struct World {
    dir: Dir,
}

/// Why a world cannot be made here, if it cannot.
pub fn world_missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: the cron daemon tests need mount namespaces and users".into());
    }
    for (what, path) in [
        ("unshare (util-linux)", "/usr/bin/unshare"),
        ("Debian's cron daemon", "/usr/sbin/cron"),
        ("crontab (cron)", "/usr/bin/crontab"),
        (
            "the spool /var/spool/cron/crontabs (cron)",
            "/var/spool/cron/crontabs",
        ),
        ("/etc/cron.d (cron)", "/etc/cron.d"),
        ("/etc/crontab (cron)", "/etc/crontab"),
        ("/etc/shadow", "/etc/shadow"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!("{what} is not installed ({path})"));
        }
    }
    None
}

impl World {
    /// A world with these users (uids from 64100 on), each with a home of their own and an `out/USER`
    /// directory they may write.
    pub fn new(users: &[&str]) -> World {
        let dir = Dir::new();
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["spool", "cron.d", "out", "state", "bin", "shells"] {
            std::fs::create_dir(root.join(sub)).unwrap();
            std::fs::set_permissions(root.join(sub), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        std::fs::write(root.join("crontab"), "").unwrap();
        let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let mut group = std::fs::read_to_string("/etc/group").unwrap();
        let mut shadow = std::fs::read_to_string("/etc/shadow").unwrap();
        for (i, user) in users.iter().enumerate() {
            let uid = 64100 + i as u32;
            let home = root.join(format!("home-{user}"));
            passwd.push_str(&format!(
                "{user}:x:{uid}:{uid}::{}:/bin/sh\n",
                home.display()
            ));
            group.push_str(&format!("{user}:x:{uid}:\n"));
            shadow.push_str(&format!("{user}:*:19000:0:99999:7:::\n"));
            for path in [home, root.join("out").join(user)] {
                std::fs::create_dir(&path).unwrap();
                std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
            }
        }
        std::fs::write(root.join("passwd"), passwd).unwrap();
        std::fs::write(root.join("group"), group).unwrap();
        std::fs::write(root.join("shadow"), shadow).unwrap();
        std::fs::set_permissions(root.join("shadow"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        World { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `program args…` in a namespace where this world's files are the system's.
    pub fn launch(&self, program: &str) -> Cronbeat {
        let w = self.path().display().to_string();
        let script = format!(
            "set -e\n\
             mount --make-rprivate /\n\
             mount -t tmpfs tmpfs /run\n\
             mount --bind '{w}/spool' /var/spool/cron/crontabs\n\
             mount --bind '{w}/cron.d' /etc/cron.d\n\
             mount --bind '{w}/crontab' /etc/crontab\n\
             mount --bind '{w}/passwd' /etc/passwd\n\
             mount --bind '{w}/group' /etc/group\n\
             mount --bind '{w}/shadow' /etc/shadow\n\
             exec \"$@\""
        );
        Cronbeat::program("unshare")
            .args(["-m", "sh", "-c", &script, "sh", program])
            .env("CRONBEAT_STATE_DIR", self.join("state"))
    }

    /// `cronbeat adopt …` in this world, wrapping with a copy of the binary everyone may run.
    pub fn adopt(&self) -> Cronbeat {
        let copy = self.join("bin/cronbeat");
        if !copy.exists() {
            copy_executable(Path::new(BIN), &copy);
        }
        self.launch(BIN)
            .arg("adopt")
            .args(["--cronbeat", copy.to_str().unwrap()])
            .args(["--ping-dir", self.join("ping").to_str().unwrap()])
    }

    /// Installs `text` as `user`'s crontab with `crontab -u USER -`.
    pub fn install(&self, user: &str, text: &[u8]) {
        self.launch("crontab")
            .args(["-u", user, "-"])
            .stdin(text.to_vec())
            .run()
            .assert_code(0);
    }

    /// `user`'s crontab, as `crontab -l -u USER` prints it.
    pub fn crontab(&self, user: &str) -> Vec<u8> {
        let out = self.launch("crontab").args(["-l", "-u", user]).run();
        out.assert_code(0);
        out.raw_stdout
    }

    /// The cron daemon of this world, in the foreground; stopped (with what it started) when dropped.
    pub fn daemon(&self) -> Running {
        self.launch("/usr/sbin/cron")
            .args(["-f", "-L", "0"])
            .limit(Duration::from_secs(150))
            .spawn()
    }
}
