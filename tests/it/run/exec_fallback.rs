//! A script without `#!` is run by /bin/sh, as execvp(3) does for `timeout`, `env` and `nice`, instead
//! of failing with "exec format error".

use std::path::{Path, PathBuf};

use crate::harness::*;

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    write_executable(&path, text);
    path
}

#[test]
fn a_script_without_a_shebang_runs_and_its_status_passes_through() {
    let dir = temp_dir();
    let path = script(
        dir.path(),
        "no-shebang",
        "echo \"ran as $0 with $# args: $1 $2\"\nexit 7\n",
    );
    let out = cronbeat()
        .args(["--", path.to_str().unwrap(), "a b", "c"])
        .run();
    out.assert_code(7).assert_silent_stderr();
    assert_eq!(
        out.stdout,
        format!("ran as {} with 2 args: a b c\n", path.display())
    );
}

#[test]
fn a_script_without_a_shebang_is_found_on_path() {
    let dir = temp_dir();
    script(
        dir.path(),
        "cronbeat-test-plain-script",
        "echo found; exit 0\n",
    );
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let out = cronbeat()
        .args(["--", "cronbeat-test-plain-script"])
        .env("PATH", path)
        .run();
    out.assert_code(0).assert_silent_stderr();
    assert_eq!(out.stdout, "found\n");
}

#[test]
fn its_failure_is_reported_as_the_scripts_own() {
    let dir = temp_dir();
    let path = script(dir.path(), "failing", "echo oops >&2\nexit 3\n");
    let out = cronbeat().args(["-v", "--", path.to_str().unwrap()]).run();
    out.assert_code(3);
    let stderr = &out.stderr;
    assert!(stderr.contains("oops"), "{}", out.dump());
    assert!(!stderr.contains("exec format error"), "{}", out.dump());
}
