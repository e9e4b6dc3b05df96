//! systemd timers, read from their unit files: cronbeat's drop-in for each enabled timer's service
//! (`ExecStart=` reset, then cronbeat in front of each command, the `OnCalendar=` expression as its
//! schedule), a monotonic timer wrapped without one, and the undo that removes the drop-ins.

use std::path::Path;

use super::adopt;
use crate::harness::*;

fn units(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write(
        "backup.timer",
        "[Unit]\nDescription=Nightly backup\n\n[Timer]\nOnCalendar=*-*-* 03:00:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n",
    );
    write(
        "backup.service",
        "[Service]\nType=oneshot\nExecStart=-/usr/local/bin/backup --full \"/srv/my data\"\nExecStart=/usr/local/bin/prune --keep %i\n",
    );
    write(
        "warm.timer",
        "[Timer]\nOnBootSec=5min\nOnUnitActiveSec=1h\nUnit=cache-warm.service\n",
    );
    write(
        "cache-warm.service",
        "[Service]\nExecStart=/usr/bin/warm\nUser=www-data\n",
    );
    write("off.timer", "[Timer]\nOnCalendar=weekly\n");
    write("off.service", "[Service]\nExecStart=/usr/bin/off\n");
    std::fs::create_dir(dir.join("timers.target.wants")).unwrap();
    for timer in ["backup.timer", "warm.timer"] {
        std::os::unix::fs::symlink(
            format!("../{timer}"),
            dir.join("timers.target.wants").join(timer),
        )
        .unwrap();
    }
}

const BACKUP_DROP_IN: &str = "\
# Written by cronbeat adopt: cronbeat runs each command of backup.service (started by backup.timer).
# `cronbeat adopt --undo` removes this file.
[Service]
ExecStart=
ExecStart=-/usr/local/bin/cronbeat --name backup --schedule '*-*-* 03:00:00' -- /usr/local/bin/backup --full \"/srv/my data\"
ExecStart=/usr/local/bin/cronbeat --name backup-2 --schedule '*-*-* 03:00:00' -- /usr/local/bin/prune --keep %i
";

#[test]
fn timers_get_a_drop_in_for_their_service() {
    let dir = Dir::new();
    let unit_dir = dir.join("units");
    std::fs::create_dir(&unit_dir).unwrap();
    units(&unit_dir);
    let unit_arg = unit_dir.to_str().unwrap();
    let plan = adopt(&dir).args(["--unit-dir", unit_arg]).run();
    plan.assert_code(0);
    let row = |timer: &str| {
        plan.stdout
            .lines()
            .find(|l| l.starts_with(timer))
            .unwrap_or_else(|| panic!("{timer}: {}", plan.stdout))
    };
    let backup = row("backup.timer");
    assert!(
        backup.contains(" *-*-* 03:00:00 ")
            && backup.contains(" backup, backup-2 ")
            && backup.ends_with("  wrap"),
        "{}",
        plan.stdout
    );
    assert!(row("warm.timer").contains("www-data"), "{}", plan.stdout);
    assert!(
        row("warm.timer").contains("wrap; a monotonic timer (OnBootSec=5min OnUnitActiveSec=1h): wrapped without a schedule"),
        "{}",
        plan.stdout
    );
    assert!(
        row("off.timer").contains("left alone: not enabled"),
        "{}",
        plan.stdout
    );
    let drop_in = unit_dir.join("backup.service.d/cronbeat.conf");
    assert!(
        plan.stdout.contains(&format!(
            "--- /dev/null\n+++ {} (adopted)\n",
            drop_in.display()
        )),
        "{}",
        plan.stdout
    );
    assert!(!drop_in.exists());
    assert!(
        plan.stdout.contains("note: systemd is not running here: after --write, run systemctl daemon-reload where it does"),
        "{}",
        plan.stdout
    );

    let written = adopt(&dir).args(["--unit-dir", unit_arg, "--write"]).run();
    written.assert_code(0);
    assert_eq!(std::fs::read_to_string(&drop_in).unwrap(), BACKUP_DROP_IN);
    assert!(
        std::fs::read_to_string(unit_dir.join("cache-warm.service.d/cronbeat.conf"))
            .unwrap()
            .ends_with(
                "ExecStart=\nExecStart=/usr/local/bin/cronbeat --name warm -- /usr/bin/warm\n"
            )
    );
    assert!(
        written
            .stdout
            .contains("systemd is not running here: run `systemctl daemon-reload` where it does"),
        "{written:?}"
    );
    // The unit files themselves are untouched.
    assert!(std::fs::read_to_string(unit_dir.join("backup.service"))
        .unwrap()
        .starts_with("[Service]\nType=oneshot\nExecStart=-/usr/local/bin/backup"));

    let again = adopt(&dir).args(["--unit-dir", unit_arg, "--write"]).run();
    again.assert_code(0);
    assert!(again.stdout.contains("nothing to write"), "{again:?}");
    adopt(&dir)
        .args(["--unit-dir", unit_arg, "--check"])
        .run()
        .assert_code(0);

    // The timer's schedule changes: the drop-in follows.
    std::fs::write(
        unit_dir.join("backup.timer"),
        "[Timer]\nOnCalendar=Mon *-*-* 04:00:00\n",
    )
    .unwrap();
    let check = adopt(&dir).args(["--unit-dir", unit_arg, "--check"]).run();
    check.assert_code(1);
    assert!(
        check
            .stdout
            .contains("update: the drop-in no longer matches"),
        "{check:?}"
    );
    adopt(&dir)
        .args(["--unit-dir", unit_arg, "--write"])
        .run()
        .assert_code(0);
    assert!(std::fs::read_to_string(&drop_in)
        .unwrap()
        .contains("--name backup --schedule 'Mon *-*-* 04:00:00' --"));

    let undo = cronbeat()
        .args(["adopt", "--undo"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    undo.assert_code(0);
    assert!(
        !drop_in.exists() && !unit_dir.join("backup.service.d").exists(),
        "{undo:?}"
    );
    assert!(!unit_dir.join("cache-warm.service.d").exists(), "{undo:?}");
    assert!(undo.stdout.contains("removed "), "{undo:?}");
}

/// The schedule written into a drop-in is one cronbeat follows (`cronbeat next` reads it as the run will,
/// with systemd's due times); a calendar event it cannot follow leaves the timer wrapped without one, so
/// the service still starts.
#[test]
fn a_timers_calendar_event_is_checked_before_it_is_written() {
    let dir = Dir::new();
    let unit_dir = dir.join("units");
    std::fs::create_dir(&unit_dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(unit_dir.join(name), text).unwrap();
    write(
        "good.timer",
        "[Timer]\nOnCalendar=Mon..Fri *-*-* 04:30 Europe/Berlin\n",
    );
    write("good.service", "[Service]\nExecStart=/usr/bin/good\n");
    write("odd.timer", "[Timer]\nOnCalendar=*-*-* 25:00:00\n");
    write("odd.service", "[Service]\nExecStart=/usr/bin/odd\n");
    std::fs::create_dir(unit_dir.join("timers.target.wants")).unwrap();
    for timer in ["good.timer", "odd.timer"] {
        std::os::unix::fs::symlink(
            format!("../{timer}"),
            unit_dir.join("timers.target.wants").join(timer),
        )
        .unwrap();
    }
    let plan = adopt(&dir)
        .args(["--unit-dir", unit_dir.to_str().unwrap()])
        .run();
    plan.assert_code(0);
    let odd = plan
        .stdout
        .lines()
        .find(|l| l.contains("odd.timer"))
        .unwrap_or_else(|| panic!("{}", plan.stdout));
    assert!(
        odd.contains("is not one cronbeat can follow")
            && odd.contains("wrapped without a schedule"),
        "{odd}"
    );
    assert!(
        !plan.stdout.contains("--schedule '*-*-* 25:00:00'"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("--schedule 'Mon..Fri *-*-* 04:30 Europe/Berlin'"),
        "{}",
        plan.stdout
    );
    let next = cronbeat()
        .args(["next", "--schedule", "Mon..Fri *-*-* 04:30 Europe/Berlin"])
        .run();
    next.assert_code(0);
}
