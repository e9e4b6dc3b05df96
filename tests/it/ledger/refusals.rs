//! What the ledger will not write through: a link it did not make (the job's file, the job's folder, its
//! `tails`), a file with a second name, a state directory (or a folder in it, or above it) that another
//! user could write. Each costs one warning and no write, and the run's exit status and pings stay. The
//! readers do not follow such links either.
//!
//! The tests run as root, as cronbeat does in the case that matters, with the links made here standing for
//! another user's.

use std::os::unix::fs::{chown, lchown, symlink, PermissionsExt};
use std::path::Path;

use crate::harness::*;

const TARGET: &str = "precious: not the ledger's\n";

/// A state directory others cannot write, and a folder outside it with a file the ledger must not touch.
struct Scene {
    state: Dir,
    outside: Dir,
}

impl Scene {
    fn new() -> Scene {
        let scene = Scene {
            state: Dir::new(),
            outside: Dir::new(),
        };
        scene.outside.write("target", TARGET);
        scene
    }

    fn state(&self) -> &Path {
        self.state.path()
    }

    fn job(&self) -> std::path::PathBuf {
        self.state.join("ledger/job")
    }

    /// `cronbeat --name job OPTIONS -- sh -c 'echo out; exit 3'` recording into `state`.
    fn run(&self, state: &Path, options: &[&str]) -> Output {
        let out = cronbeat()
            .env("CRONBEAT_STATE_DIR", state)
            .args(["--name", "job"])
            .args(options)
            .args(["--", "sh", "-c", "echo out; exit 3"])
            .run();
        out.assert_code(3);
        assert_eq!(out.stdout, "out\n");
        out
    }

    /// The run's one warning: it was not recorded, for `reason`.
    #[track_caller]
    fn assert_refused(&self, out: &Output, reason: &str) {
        let line = out.one_error_line();
        assert!(
            line.starts_with("cronbeat: ledger: the run was not recorded in "),
            "{line}"
        );
        assert!(line.contains(reason), "{reason:?} not in {line}");
    }

    /// Nothing outside was written or created.
    #[track_caller]
    fn assert_outside_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside.join("target")).unwrap(),
            TARGET
        );
        let names: Vec<String> = std::fs::read_dir(self.outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["target"], "something was created outside");
    }
}

fn mkdirs(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_linked_runs_file_is_not_written_through() {
    let scene = Scene::new();
    mkdirs(&scene.job());
    symlink(scene.outside.join("target"), scene.job().join("runs.jsonl")).unwrap();
    let server = Server::start();
    // --fail-after reads the file too: still one warning.
    let out = scene.run(
        scene.state(),
        &[
            "--fail-after",
            "2",
            "--ping",
            &format!("{}/u", server.url()),
        ],
    );
    scene.assert_refused(&out, "runs.jsonl is a symbolic link");
    scene.assert_outside_untouched();
    // Not even the output tail: nothing is written once the job's folder is refused.
    assert_eq!(names(&scene.job()), ["runs.jsonl"]);
    // Unknown count: the failure is reported as one, and the pings are the run's.
    let paths: Vec<String> = server.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/u/start", "/u/3"]);

    // A link to a file that is not there is not created through either.
    std::fs::remove_file(scene.job().join("runs.jsonl")).unwrap();
    symlink(scene.outside.join("new"), scene.job().join("runs.jsonl")).unwrap();
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(&out, "runs.jsonl is a symbolic link");
    scene.assert_outside_untouched();
}

#[test]
fn a_linked_job_folder_is_not_written_through() {
    let scene = Scene::new();
    mkdirs(&scene.state().join("ledger"));
    symlink(scene.outside.path(), scene.job()).unwrap();
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(&out, "ledger/job is a symbolic link");
    scene.assert_outside_untouched();
}

#[test]
fn a_linked_tails_folder_is_not_written_through() {
    let scene = Scene::new();
    mkdirs(&scene.job());
    symlink(scene.outside.path(), scene.job().join("tails")).unwrap();
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(&out, "job/tails is a symbolic link");
    scene.assert_outside_untouched();
    assert_eq!(names(&scene.job()), ["tails"]);
}

#[test]
fn a_runs_file_with_a_second_name_is_not_written_through() {
    let scene = Scene::new();
    mkdirs(&scene.job());
    std::fs::hard_link(scene.outside.join("target"), scene.job().join("runs.jsonl")).unwrap();
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(&out, "runs.jsonl has 2 hard links");
    scene.assert_outside_untouched();
    assert_eq!(names(&scene.job()), ["runs.jsonl"]);
}

#[test]
fn a_state_directory_others_can_write_is_refused() {
    for mode in [0o770, 0o707, 0o1777] {
        let scene = Scene::new();
        chmod(scene.state(), mode);
        let out = scene.run(scene.state(), &[]);
        scene.assert_refused(
            &out,
            &format!(
                "{} is writable by its group or by others (mode {mode:04o})",
                scene.state().display()
            ),
        );
        assert_eq!(names(scene.state()), Vec::<String>::new(), "mode {mode:o}");
    }
}

#[test]
fn a_state_directory_owned_by_another_user_is_refused() {
    let scene = Scene::new();
    chown(scene.state(), Some(65534), Some(65534)).unwrap();
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(
        &out,
        &format!(
            "{} is owned by uid 65534, neither root nor the user running cronbeat",
            scene.state().display()
        ),
    );
    assert_eq!(names(scene.state()), Vec::<String>::new());
}

#[test]
fn a_folder_in_the_state_directory_others_can_write_is_refused() {
    let scene = Scene::new();
    let ledger = scene.state().join("ledger");
    mkdirs(&ledger);
    chmod(&ledger, 0o777);
    let out = scene.run(scene.state(), &[]);
    scene.assert_refused(
        &out,
        "ledger is writable by its group or by others (mode 0777)",
    );
    assert_eq!(names(&ledger), Vec::<String>::new());
}

#[test]
fn a_state_directory_under_a_parent_others_can_write_is_refused() {
    let scene = Scene::new();
    let parent = scene.state().join("shared");
    let state = parent.join("state");
    mkdirs(&state);
    chmod(&parent, 0o777);
    let out = scene.run(&state, &[]);
    scene.assert_refused(
        &out,
        &format!(
            "{} is writable by its group or by others (mode 0777)",
            parent.display()
        ),
    );
    assert_eq!(names(&state), Vec::<String>::new());
    // A folder made there by someone else is refused for its owner, so a sticky parent (as /tmp is) may
    // be writable by others: nobody else can rename or remove the state directory in it.
    chmod(&parent, 0o1777);
    let out = scene.run(&state, &[]);
    out.assert_silent_stderr();
    assert!(state.join("ledger/job/runs.jsonl").is_file());
}

#[test]
fn a_link_on_the_way_to_the_state_directory_is_followed_only_when_trusted() {
    let scene = Scene::new();
    let real = scene.state().join("real");
    mkdirs(&real);
    let sticky = scene.state().join("sticky");
    mkdirs(&sticky);
    chmod(&sticky, 0o1777);
    // root's own link (as /var/run is one to /run): followed.
    let link = sticky.join("mine");
    symlink(&real, &link).unwrap();
    let out = scene.run(&link, &[]);
    out.assert_silent_stderr();
    assert!(real.join("ledger/job/runs.jsonl").is_file());
    // Another user's link in a sticky folder, where anyone can make one: not followed.
    let theirs = sticky.join("theirs");
    symlink(scene.outside.path(), &theirs).unwrap();
    lchown(&theirs, Some(65534), Some(65534)).unwrap();
    let out = scene.run(&theirs.join("state"), &[]);
    scene.assert_refused(
        &out,
        &format!(
            "{} is a symbolic link owned by uid 65534, neither root nor the user running cronbeat",
            theirs.display()
        ),
    );
    scene.assert_outside_untouched();
}

/// `cronbeat ARGS` reading the scene's ledger.
fn read(scene: &Scene, args: &[&str]) -> Output {
    cronbeat()
        .env("CRONBEAT_STATE_DIR", scene.state())
        .args(args)
        .run()
}

#[test]
fn readers_do_not_follow_links_the_ledger_did_not_make() {
    let scene = Scene::new();
    // A job with a kept output, then its tail replaced by a link to a secret.
    scene.run(scene.state(), &[]).assert_silent_stderr();
    let tails = scene.job().join("tails");
    let tail = names(&tails).pop().expect("a kept tail");
    std::fs::remove_file(tails.join(&tail)).unwrap();
    symlink(scene.outside.join("target"), tails.join(&tail)).unwrap();
    let out = read(&scene, &["last-output", "job"]);
    out.assert_code(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.one_error_line().contains("is a symbolic link"),
        "{out:?}"
    );
    // A second name of the secret, in its place: not shown either.
    std::fs::remove_file(tails.join(&tail)).unwrap();
    std::fs::hard_link(scene.outside.join("target"), tails.join(&tail)).unwrap();
    let out = read(&scene, &["last-output", "job"]);
    out.assert_code(1);
    assert_eq!(out.stdout, "");
    assert!(out.one_error_line().contains("has 2 hard links"), "{out:?}");

    // A job's file that is a link: neither summed up nor listed.
    let other = scene.state().join("ledger/other");
    mkdirs(&other);
    std::fs::copy(scene.job().join("runs.jsonl"), scene.outside.join("runs")).unwrap();
    symlink(scene.outside.join("runs"), other.join("runs.jsonl")).unwrap();
    let out = read(&scene, &["history", "other"]);
    out.assert_code(1);
    assert!(
        out.one_error_line()
            .contains("runs.jsonl is a symbolic link"),
        "{out:?}"
    );
    let out = read(&scene, &["status", "other"]);
    out.assert_code(1);
    assert!(
        out.one_error_line()
            .contains("runs.jsonl is a symbolic link"),
        "{out:?}"
    );
    // A job folder that is a link: `status` of every job passes it over, `status NAME` refuses it.
    symlink(&other, scene.state().join("ledger/linked")).unwrap();
    std::fs::remove_file(other.join("runs.jsonl")).unwrap();
    std::fs::copy(scene.outside.join("runs"), other.join("runs.jsonl")).unwrap();
    let out = read(&scene, &["status", "--json"]);
    out.assert_code(0).assert_silent_stderr();
    let jobs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");
    let out = read(&scene, &["status", "linked"]);
    out.assert_code(1);
    assert!(
        out.one_error_line()
            .contains("ledger/linked is a symbolic link"),
        "{out:?}"
    );
}
