//! A state directory that cannot be written, read-only or full: the run's exit status and its pings are
//! untouched, and the ledger costs one warning and the record, nothing more. The read-only and the full
//! directory are tmpfs mounts in a mount namespace of the test's own (`unshare -rm`), gone with it, and of
//! mode 0755: a tmpfs is 1777 by default, which the ledger refuses for a state directory.

use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// Whether `unshare -rm` (a user and a mount namespace, so tmpfs can be mounted without privileges) works
/// here; when it does not, the test fails under CI and is skipped elsewhere.
fn namespaces() -> bool {
    let works = have("unshare")
        && Cronbeat::program("unshare")
            .args(["-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
            .run()
            .status
            .success();
    if !works {
        missing("unshare -rm cannot mount a tmpfs here (user and mount namespaces)");
    }
    works
}

/// The `cronbeat:` lines of a run's stderr file.
fn cronbeat_lines(dir: &Dir, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cronbeat:"))
        .map(str::to_string)
        .collect()
}

fn read(dir: &Dir, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[test]
fn a_state_directory_that_cannot_be_created_costs_one_warning() {
    let server = Server::start();
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", "/proc/cronbeat-no-such-dir")
        .args([
            "--ping",
            &format!("{}/u", server.url()),
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .run();
    out.assert_code(3);
    let line = out.one_error_line();
    assert!(
        line.starts_with(
            "cronbeat: ledger: the run was not recorded in /proc/cronbeat-no-such-dir/ledger/"
        ),
        "{line}"
    );
    let paths: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/u/start", "/u/3"]);
}

#[test]
fn a_read_only_state_directory_costs_one_warning() {
    if !namespaces() {
        return;
    }
    let server = Server::start();
    let dir = Dir::new();
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    let script = r#"mount -t tmpfs -o ro,size=64k,mode=0755 tmpfs "$1" || exit 99
"$2" --state-dir "$1" --name ro --ping "$3/u" -- sh -c 'echo out; exit 3'"#;
    let out = Cronbeat::program("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&state)
        .args([BIN, &server.url()])
        .run();
    out.assert_code(3);
    assert_eq!(out.stdout, "out\n");
    let line = out.one_error_line();
    assert!(
        line.contains("ledger: the run was not recorded in"),
        "{line}"
    );
    assert!(line.contains("Read-only file system"), "{line}");
    let paths: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/u/start", "/u/3"]);
}

#[test]
fn a_full_state_directory_costs_only_the_record() {
    if !namespaces() {
        return;
    }
    let server = Server::start();
    let dir = Dir::new();
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    // In a 64 KiB tmpfs: a first run recorded, then the disk filled. A run of the job already there still
    // gets its record into the file's last page, but not its output; a new job's first record cannot be
    // written at all. Once space is freed, runs are recorded again and nothing before is lost.
    let script = r#"set -u
d=$1 bin=$2 url=$3 out=$4
mount -t tmpfs -o size=64k,mode=0755 tmpfs "$d" || exit 99
"$bin" --state-dir "$d" --name old -- true 2>"$out/first.err"
head -c 1M /dev/zero >"$d/fill" 2>/dev/null
"$bin" --state-dir "$d" --name old --ping "$url/a" -- sh -c 'echo lost; exit 3' 2>"$out/old.err" >/dev/null
echo "old=$?" >>"$out/codes"
"$bin" --state-dir "$d" --name new --ping "$url/b" -- sh -c 'exit 4' 2>"$out/new.err"
echo "new=$?" >>"$out/codes"
"$bin" last-output old --state-dir "$d" >/dev/null 2>"$out/last-output.err"
echo "last-output=$?" >>"$out/codes"
rm "$d/fill"
"$bin" --state-dir "$d" --name new -- true 2>"$out/after.err"
"$bin" history old --json --state-dir "$d" >"$out/old.json" 2>"$out/old-history.err"
"$bin" history new --json --state-dir "$d" >"$out/new.json" 2>"$out/new-history.err"
"#;
    let out = Cronbeat::program("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&state)
        .args([BIN, &server.url(), dir.path().to_str().unwrap()])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    assert_eq!(read(&dir, "codes"), "old=3\nnew=4\nlast-output=1\n");
    assert_eq!(cronbeat_lines(&dir, "first.err"), Vec::<String>::new());

    let old = cronbeat_lines(&dir, "old.err");
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(
        old[0].contains("is recorded in") && old[0].contains("without its output"),
        "{old:?}"
    );
    assert!(old[0].contains("No space left on device"), "{old:?}");
    let new = cronbeat_lines(&dir, "new.err");
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].contains("the run was not recorded in"), "{new:?}");
    assert!(new[0].contains("No space left on device"), "{new:?}");
    let last = cronbeat_lines(&dir, "last-output.err");
    assert!(last[0].contains("was not kept"), "{last:?}");
    let paths: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/a/start", "/a/3", "/b/start", "/b/4"]);

    assert_eq!(read(&dir, "after.err"), "");
    assert_eq!(read(&dir, "old-history.err"), "");
    assert_eq!(read(&dir, "new-history.err"), "");
    let old: Value = serde_json::from_str(&read(&dir, "old.json")).unwrap();
    let outcomes: Vec<(&str, bool)> = old
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["output_kept"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, [("failure", false), ("success", false)]);
    let new: Value = serde_json::from_str(&read(&dir, "new.json")).unwrap();
    let outcomes: Vec<&str> = new
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success"]);
}
