//! Never losing a crontab: the backup of every changed source, the write that keeps a file's owner and
//! mode (and a link), `crontab -u` for users' crontabs, the undo by each line's text (other edits kept),
//! a second write that changes nothing, and a source that changed since it was read left as it is.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{adopt, crontab_file, world_missing, World};
use crate::harness::*;

/// Not UTF-8, a CRLF line, odd spacing, comments, blank lines, an environment line with quotes.
const ODD: &[u8] = b"# caf\xe9 jobs\r\n\
MAILTO = \"ops@example.com\"\n\
\n\
   # indented comment\n\
*/10\t* * * *    /usr/bin/backup --dir /srv/\xe9t\xe9 \n\
0 3 * * * /usr/bin/report > /dev/null\r\n\
0 4 * * * /usr/bin/rotate\n";

fn backup_path(out: &Output) -> String {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("wrote "))
        .unwrap_or_else(|| panic!("{out:?}"));
    line.rsplit_once("backup ")
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string()
}

#[test]
fn write_then_undo_gives_every_byte_back_even_after_other_edits() {
    let dir = Dir::new();
    let path = dir.join("crontab");
    std::fs::write(&path, ODD).unwrap();
    let written = adopt(&dir).arg("--crontab").arg(&path).arg("--write").run();
    written.assert_code(0).assert_silent_stderr();
    let backup = backup_path(&written);
    assert!(
        backup.starts_with(dir.join("state/adopt/").to_str().unwrap()),
        "{backup}"
    );
    assert_eq!(std::fs::read(&backup).unwrap(), ODD);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let after = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = after.split(|b| *b == b'\n').collect();
    let before: Vec<&[u8]> = ODD.split(|b| *b == b'\n').collect();
    assert_eq!(lines.len(), before.len());
    // Everything but the three jobs is as it was, byte for byte.
    for i in [0, 1, 2, 3, 7] {
        assert_eq!(lines[i], before[i], "line {}", i + 1);
    }
    for i in [4, 5, 6] {
        assert!(
            lines[i].windows(6).any(|w| w == b"--name"),
            "line {}",
            i + 1
        );
    }
    assert!(lines[4].starts_with(b"*/10\t* * * *    /usr/local/bin/cronbeat"));

    // A second write changes nothing and keeps no new backup.
    let again = adopt(&dir).arg("--crontab").arg(&path).arg("--write").run();
    again.assert_code(0);
    assert!(again.stdout.contains("nothing to write"), "{again:?}");
    assert_eq!(std::fs::read(&path).unwrap(), after);
    assert_eq!(
        std::fs::read_dir(dir.join("state/adopt")).unwrap().count(),
        1
    );

    // Other lines edited since: a comment changed, a job added. The undo keeps those.
    let mut edited = after.clone();
    edited.splice(0..0, b"# edited since\n".iter().copied());
    edited.extend_from_slice(b"5 5 * * * /usr/bin/new-job\n");
    std::fs::write(&path, &edited).unwrap();
    let undo = cronbeat()
        .args(["adopt", "--undo"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    undo.assert_code(0).assert_silent_stderr();
    assert!(
        undo.stdout
            .contains(&format!("restored {}", path.display())),
        "{undo:?}"
    );
    let mut expected = b"# edited since\n".to_vec();
    expected.extend_from_slice(ODD);
    expected.extend_from_slice(b"5 5 * * * /usr/bin/new-job\n");
    assert_eq!(std::fs::read(&path).unwrap(), expected);

    // Undone once: a second undo has nothing to do.
    let twice = cronbeat()
        .args(["adopt", "--undo"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    twice.assert_code(0);
    assert!(twice.stdout.contains("nothing to undo"), "{twice:?}");
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

#[test]
fn an_undo_leaves_a_wrapped_line_edited_since_as_it_is() {
    let dir = Dir::new();
    let path = crontab_file(&dir, "0 3 * * * /bin/a\n0 4 * * * /bin/b\n");
    adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .arg("--write")
        .run()
        .assert_code(0);
    let written = std::fs::read_to_string(&path).unwrap();
    let edited = written.replace("--name b", "--name b --timeout 5m");
    std::fs::write(&path, &edited).unwrap();
    let undo = cronbeat()
        .args(["adopt", "--undo"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    undo.assert_code(1);
    assert!(
        undo.stderr.contains(
            "1 wrapped line(s) edited or removed since adopt wrote them: left as they are"
        ),
        "{undo:?}"
    );
    let now = std::fs::read_to_string(&path).unwrap();
    assert!(now.starts_with("0 3 * * * /bin/a\n"), "{now}");
    assert!(now.contains("--name b --timeout 5m"), "{now}");
}

#[test]
fn a_file_keeps_its_owner_its_mode_and_its_link() {
    if !nix::unistd::geteuid().is_root() {
        return missing("not root: cannot give a file to another user");
    }
    let dir = Dir::new();
    let target = dir.join("real-crontab");
    std::fs::write(&target, "0 3 * * * /bin/a\n").unwrap();
    std::os::unix::fs::chown(&target, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("crontab");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = adopt(&dir).arg("--crontab").arg(&link).arg("--write").run();
    out.assert_code(0);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let meta = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (65534, 65534, 0o640)
    );
    let text = std::fs::read_to_string(&target).unwrap();
    // The user crontab's owner runs it: the name says so.
    assert!(text.contains("--name nobody-a "), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "a temporary file left behind"
    );
}

#[test]
fn a_system_crontab_has_a_user_field() {
    let dir = Dir::new();
    let path = dir.join("system");
    std::fs::write(
        &path,
        "SHELL=/bin/bash\n17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n",
    )
    .unwrap();
    let out = adopt(&dir)
        .arg("--system-crontab")
        .arg(&path)
        .arg("--write")
        .run();
    out.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "SHELL=/bin/bash\n17 *\t* * *\troot\t/usr/local/bin/cronbeat --name cron-hourly --schedule '17 * * * *' -- /bin/bash -c 'cd / && run-parts --report /etc/cron.hourly'\n"
    );
}

/// A `crontab` of the test's first on PATH: `-l` gives the file `tab`, and the text changes after the
/// first read when `tab.next` exists; an install is recorded in `installed`.
fn fake_crontab(dir: &Dir) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let d = dir.path().display();
    write_executable(
        &bin.join("crontab"),
        &format!(
            "#!/bin/sh\n\
             user=; prev=; for a; do [ \"$prev\" = -u ] && user=$a; prev=$a; done\n\
             case \" $* \" in\n\
             *' -l '*) [ \"$user\" = adoptee ] || {{ echo \"no crontab for $user\" >&2; exit 1; }}\n\
               cat '{d}/tab'; [ -e '{d}/tab.next' ] && mv '{d}/tab.next' '{d}/tab'; exit 0 ;;\n\
             *) cat > '{d}/installed'; exit 0 ;;\n\
             esac\n"
        ),
    );
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

#[test]
fn a_crontab_that_changed_since_it_was_read_is_not_written() {
    if let Some(why) = world_missing() {
        return missing(&why);
    }
    let world = World::new(&["adoptee"]);
    let dir = Dir::new();
    std::fs::write(dir.join("tab"), "0 3 * * * /bin/a\n").unwrap();
    std::fs::write(dir.join("tab.next"), "0 3 * * * /bin/a\n0 4 * * * /bin/b\n").unwrap();
    let path = fake_crontab(&dir);
    let out = world.adopt().arg("--write").env("PATH", &path).run();
    out.assert_code(1);
    assert!(
        out.stderr.contains(
            "crontab of adoptee: changed since adopt read it: not written (run cronbeat adopt again)"
        ),
        "{out:?}"
    );
    assert!(!dir.join("installed").exists(), "{out:?}");
    // Read again, it is written, through crontab.
    let out = world.adopt().arg("--write").env("PATH", &path).run();
    out.assert_code(0);
    let installed = std::fs::read_to_string(dir.join("installed")).unwrap();
    assert!(
        installed.contains("--name adoptee-a ") && installed.contains("--name adoptee-b "),
        "{installed}"
    );
}

#[test]
fn users_crontabs_are_installed_through_crontab() {
    if let Some(why) = world_missing() {
        return missing(&why);
    }
    let world = World::new(&["cbadopt-u"]);
    let text = b"MAILTO=\"\"\n*/15 * * * * /usr/bin/true\n";
    world.install("cbadopt-u", text);
    let out = world.adopt().arg("--write").run();
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("wrote crontab of cbadopt-u (1 line; backup "),
        "{out:?}"
    );
    let adopted = String::from_utf8(world.crontab("cbadopt-u")).unwrap();
    assert!(
        adopted.contains("--name cbadopt-u-true --schedule '*/15 * * * *'"),
        "{adopted}"
    );
    // crontab(1) made the spool file: the user's, with its header.
    let spool = world.join("spool/cbadopt-u");
    assert_eq!(std::fs::metadata(&spool).unwrap().uid(), 64100);
    assert!(std::fs::read_to_string(&spool)
        .unwrap()
        .starts_with("# DO NOT EDIT THIS FILE"));
    world
        .launch(BIN)
        .args(["adopt", "--undo"])
        .run()
        .assert_code(0);
    assert_eq!(world.crontab("cbadopt-u"), text);
    assert!(Path::new(&world.join("state/adopt")).is_dir());
}
