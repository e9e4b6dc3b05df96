//! The proof that a wrapped line behaves exactly as before under the real daemon: Debian's cron runs a
//! crontab of tricky lines for one user as written, and the same crontab adopted for another, at the
//! same minute; each line's effect (the arguments, environment, working directory and standard input
//! its program got, the output bytes and exit status cron saw) is recorded, and every effect must be
//! the same, cronbeat's own `CRONBEAT_*` variables aside. Then the undo gives the crontab back byte for
//! byte.
//!
//! What records: `probe ID ARGS…` (a script writing what it was given) and, for the lines after the
//! first `SHELL=`, a shell of the test's own, named after the real one it runs (`shells/dash`,
//! `shells/bash`): run by cron, it records the output and exit status of the real shell under the line's
//! `ID=`; run by cronbeat, it is the real shell and nothing more.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{world_missing, World};
use crate::harness::*;

const ORIGINAL: &str = "cbadopt-a";
const ADOPTED: &str = "cbadopt-b";

/// The crontab: `@W@` is the world's directory. Lines before the first `SHELL=` run under cron's
/// /bin/sh; each later one has an `ID=` for its recorded output and status.
const CRONTAB: &str = r#"# cronbeat adopt: every construct, each line's effect recorded
MAILTO=""
* * * * * @W@/bin/probe L01 plain args
   *   *	* * *   @W@/bin/probe L02   odd   spacing	and tab   
* * * * * @W@/bin/probe L03 %first line%second line%

SHELL=@W@/shells/dash
PATH = @W@/bin:/usr/bin:/bin
MYVAR = "  spaced value"
ID=L04
* * * * * probe L04 via-path "$MYVAR" $HOME ${LOGNAME}x
ID=L05
* * * * * echo out; echo err >&2; probe L05 | cat; exit 3
ID=L06
* * * * * probe L06 100\% 'a\%b' "c\%d" %in\%put%two
ID=L07
* * * * * printf '\%s|' it\'s 'single '\''quote' "dq \"x\""; probe L07 it\'s 'q'\''q' "x  y" a\ b c\\d
ID=L08
* * * * * probe L08 @W@/glob/*.txt ~ ~/sub
ID=L09
* * * * * false && echo never || probe L09 chained
ID=L10
* * * * * cd /tmp && probe L10 cwd; echo "$PWD"
ID=L11
* * * * * FOO=bar probe L11 assign; echo "[$FOO]"
ID=L12
* * * * * probe L12 'x%y'
ID=L13
* * * * * probe L13 %a\\%b\\c%\%d
ID=L14
* * * * * probe L14 trailing\
ID=L15
* * * * * printf 'no newline'; probe L15
ID=L16
* * * * * printf '\377\001bin'; probe L16
ID=L17
* * * * * /nonexistent/program; probe L17 after-missing
ID=L18
* * * * * @W@/bin/cronbeat --name hand-wrapped -- @W@/bin/probe L18 already
ID=L19
* * * * * exec probe L19 exec-d
ID=L20
* * * * * probe L20 "$SHELL" "$0" "[$SHLVL]" # a comment
ID=L21
* * * * * probe L21 @LONG@
ID=L22
* * * * * probe L22 @TOOLONG@
ID=L23
@reboot probe L23 at-the-daemon-start
SHELL=@W@/shells/bash
ID=L24
* * * * * [[ -n $BASH_VERSION ]] && probe L24 bash "[$SHLVL]" "$0" "$((6*7))"
ID=L25
* * * * * shopt -s nullglob; probe L25 @W@/glob/*.none {a,b}c %bash\%%stdin
CRON_TZ=UTC
ID=L26
* * * * * probe L26 cron-tz; echo "$CRON_TZ"
TZ=Asia/Tokyo
ID=L27
* * * * * probe L27 "$TZ" tz-set
SHELL=$NOSUCH
ID=L28
* * * * * probe L28 a-shell-cron-cannot-run
"#;

/// The lines adopt must leave alone, and why.
const LEFT_ALONE: [(&str, &str); 4] = [
    ("L18", "already wrapped"),
    ("L22", "over Debian cron's 998"),
    ("L23", "@reboot"),
    ("L28", "SHELL=$NOSUCH"),
];

fn crontab_text(world: &World) -> String {
    CRONTAB
        .replace("@W@", world.path().to_str().unwrap())
        .replace("@LONG@", &"y".repeat(600))
        .replace("@TOOLONG@", &"z".repeat(940))
}

fn set_up(world: &World) {
    let w = world.path().display().to_string();
    write_executable(
        &world.join("bin/probe"),
        &format!(
            "#!/bin/sh\n\
             d=\"{w}/out/$LOGNAME/$1\"; shift\n\
             printf '%s\\0' \"$@\" > \"$d.args\"\n\
             env | LC_ALL=C sort > \"$d.env\"\n\
             pwd > \"$d.cwd\"\n\
             cat > \"$d.stdin.part\" && mv \"$d.stdin.part\" \"$d.stdin\"\n"
        ),
    );
    for shell in ["dash", "bash"] {
        write_executable(
            &world.join(&format!("shells/{shell}")),
            &format!(
                "#!/bin/sh\n\
                 real=/bin/{shell}\n\
                 if [ -n \"$CRONBEAT_RUN_ID\" ]; then exec \"$real\" \"$@\"; fi\n\
                 \"$real\" \"$@\" > \"{w}/out/$LOGNAME/$ID.out\" 2>&1\n\
                 echo $? > \"{w}/out/$LOGNAME/$ID.status\"\n"
            ),
        );
    }
    std::fs::create_dir(world.join("glob")).unwrap();
    for name in ["b.txt", "a.txt", "c.dat"] {
        std::fs::write(world.join("glob").join(name), "").unwrap();
    }
}

/// Every file a user's lines recorded, by name; the user's name (and so its home) made neutral, and
/// cronbeat's own variables taken out of the environments.
fn effects(world: &World, user: &str) -> BTreeMap<String, Vec<u8>> {
    let mut effects = BTreeMap::new();
    for entry in std::fs::read_dir(world.join("out").join(user)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        let mut bytes = replace(&bytes, user.as_bytes(), b"cbadopt-X");
        if name.ends_with(".env") {
            bytes = bytes
                .split_inclusive(|b| *b == b'\n')
                .filter(|line| !line.starts_with(b"CRONBEAT_"))
                .flatten()
                .copied()
                .collect();
        }
        effects.insert(name, bytes);
    }
    effects
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while at < haystack.len() {
        if haystack[at..].starts_with(from) {
            out.extend_from_slice(to);
            at += from.len();
        } else {
            out.push(haystack[at]);
            at += 1;
        }
    }
    out
}

/// The files the daemon's first minute leaves for a user: every line's record. The probe's `.stdin` is
/// its last file, and appears whole (renamed into place): the lines without a recorded status are done
/// once it is there.
fn expected_files() -> Vec<String> {
    let mut files: Vec<String> = ["L01", "L02", "L03"]
        .iter()
        .map(|id| format!("{id}.stdin"))
        .collect();
    for n in 4..=27 {
        files.push(format!("L{n:02}.status"));
    }
    files
}

fn all_there(world: &World, user: &str) -> bool {
    let dir = world.join("out").join(user);
    expected_files().iter().all(|f| dir.join(f).exists())
}

/// Whether a plan row says the job is wrapped now.
fn wraps(row: &str) -> bool {
    row.ends_with(" wrap") || row.contains(" wrap;")
}

#[test]
fn wrapped_lines_do_under_cron_what_they_did() {
    if let Some(why) = world_missing() {
        return missing(&why);
    }
    let world = World::new(&[ORIGINAL, ADOPTED]);
    set_up(&world);
    let text = crontab_text(&world);

    // The adopted user's crontab, through crontab(1), then adopt as root.
    world.install(ADOPTED, text.as_bytes());
    let plan = world.adopt().run();
    plan.assert_code(0);
    let row = |id: &str| -> String {
        let line = text
            .lines()
            .position(|l| l.contains(&format!(" {id} ")) || l.ends_with(&format!(" {id}")))
            .unwrap_or_else(|| panic!("no line {id}"));
        let at = format!("crontab of {ADOPTED}:{} ", line + 1);
        plan.stdout
            .lines()
            .find(|l| l.starts_with(&at))
            .unwrap_or_else(|| panic!("no plan row for {id} ({at}):\n{}", plan.stdout))
            .to_string()
    };
    for (id, why) in LEFT_ALONE {
        let row = row(id);
        assert!(row.contains(why) && !wraps(&row), "{id}: {row}");
    }
    for n in (1..=27).filter(|n| ![18, 22, 23].contains(n)) {
        let row = row(&format!("L{n:02}"));
        assert!(wraps(&row), "{row}");
    }
    let written = world.adopt().arg("--write").run();
    written.assert_code(0);
    assert!(
        written
            .stdout
            .contains(&format!("wrote crontab of {ADOPTED} (24 lines; backup ")),
        "{written:?}"
    );
    let adopted = world.crontab(ADOPTED);
    assert_ne!(adopted, text.as_bytes());
    world.adopt().arg("--check").run().assert_code(0);
    world.install(ORIGINAL, text.as_bytes());

    // One minute boundary runs both crontabs.
    let started = Instant::now();
    let daemon = world.daemon();
    let ran = eventually(Duration::from_secs(130), || all_there(&world, ORIGINAL));
    // Both crontabs fire at the same minute: what the adopted one has not done by then, it will not do.
    eventually(Duration::from_secs(20), || all_there(&world, ADOPTED));
    drop(daemon);
    assert!(
        ran,
        "after {:?} the daemon had not run every line as written: {:?}",
        started.elapsed(),
        effects(&world, ORIGINAL).keys().collect::<Vec<_>>()
    );

    let before = effects(&world, ORIGINAL);
    let after = effects(&world, ADOPTED);
    let differing: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|name| before.get(*name) != after.get(*name))
        .map(|name| {
            format!(
                "{name}:\n  as written: {:?}\n  adopted:    {:?}",
                before
                    .get(name)
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
                after
                    .get(name)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            )
        })
        .collect();
    assert!(differing.is_empty(), "{}", differing.join("\n"));

    // Not a vacuous sameness: the records hold what the lines did, and cronbeat ran the adopted ones.
    assert_eq!(before["L05.out"], b"out\nerr\n");
    assert_eq!(before["L05.status"], b"3\n");
    assert_eq!(before["L03.stdin"], b"first line\nsecond line\n");
    assert_eq!(before["L06.args"], b"100%\0a%b\0c%d\0");
    assert_eq!(before["L06.stdin"], b"in%put\ntwo\n");
    assert!(String::from_utf8_lossy(&before["L12.out"]).contains("Unterminated quoted string"));
    assert_eq!(before["L16.out"], b"\xff\x01bin");
    assert!(
        before["L24.args"].starts_with(b"bash\0[1]\0"),
        "{:?}",
        before["L24.args"]
    );
    let raw_env = |user: &str, id: &str| {
        std::fs::read_to_string(world.join("out").join(user).join(format!("{id}.env"))).unwrap()
    };
    for n in (1..=27).filter(|n| ![12, 22, 23].contains(n)) {
        let id = format!("L{n:02}");
        assert!(
            raw_env(ADOPTED, &id).contains("CRONBEAT_RUN_ID="),
            "{id} did not run under cronbeat"
        );
    }
    assert!(!raw_env(ORIGINAL, "L01").contains("CRONBEAT_"));
    assert!(!raw_env(ADOPTED, "L22").contains("CRONBEAT_"));

    // Each adopted job is in the ledger from its first run, with its schedule.
    let state = world.join(&format!("home-{ADOPTED}/.local/state/cronbeat"));
    let status = cronbeat()
        .args(["status", "--json", "--state-dir", state.to_str().unwrap()])
        .run();
    status.assert_code(0);
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&status.stdout).unwrap();
    let scheduled = jobs.iter().filter(|j| j["schedule"].is_string()).count();
    assert!(scheduled >= 20, "{}", status.stdout);

    // And the undo gives the crontab back as it was, byte for byte.
    let undo = world.launch(BIN).args(["adopt", "--undo"]).run();
    undo.assert_code(0);
    assert_eq!(
        String::from_utf8_lossy(&world.crontab(ADOPTED)),
        text,
        "{undo:?}"
    );
    world.adopt().arg("--check").run().assert_code(1);
    assert!(Path::new(&world.join("state/adopt")).is_dir());
}
