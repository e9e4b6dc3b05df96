//! What the readers print of a job's own text: on a terminal (a pseudo-terminal made by `script`), its
//! control characters shown as `cat -v` shows them and never sent raw; through a pipe, byte for byte.

use serde_json::json;

use super::Ledger;
use crate::harness::*;

/// A window title, a screen clear, a clipboard write (OSC 52), UTF-8 text, a C1 CSI (U+009B) and a byte
/// that is not UTF-8, as a job could print them.
const HOSTILE: &[u8] =
    b"\x1b]0;owned\x07\x1b[2J\x1b]52;c;aGk=\x07\xc3\xa9t\xc3\xa9 \xc2\x9b6n \xff done\n";
/// The same as a terminal must show it.
const SHOWN: &str = "^[]0;owned^G^[[2J^[]52;c;aGk=^Gété M-^[6n M-^? done\n";

/// `cronbeat ARGS` reading `ledger` with a terminal for its stdout and stderr; what it printed there, with
/// the terminal's own `\r\n` line ends made `\n` again. `None` (after `missing`) without `script`.
fn on_terminal(ledger: &Ledger, args: &[&str]) -> Option<(i32, Vec<u8>)> {
    if !have("script") {
        missing("script (util-linux) for a pseudo-terminal");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(BIN)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let out = Cronbeat::program("script")
        .args(["-qec", &format!("exec {}", quoted.join(" ")), "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("CRONBEAT_STATE_DIR", ledger.path())
        .interactive()
        .spawn()
        .wait();
    let mut text = Vec::with_capacity(out.raw_stdout.len());
    let mut bytes = out.raw_stdout.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        text.push(b);
    }
    Some((out.code(), text))
}

#[track_caller]
fn assert_no_raw_controls(text: &[u8]) {
    let shown = String::from_utf8_lossy(text);
    assert!(
        !text.contains(&0x1b) && !text.contains(&0x07) && !shown.contains('\u{9b}'),
        "a control character reached the terminal: {shown:?}"
    );
}

#[test]
fn last_output_shows_escapes_on_a_terminal_and_is_byte_for_byte_in_a_pipe() {
    let ledger = Ledger::new();
    let script = "printf '\\033]0;owned\\007\\033[2J\\033]52;c;aGk=\\007\\303\\251t\\303\\251 \\302\\2336n \\377 done\\n'; exit 4";
    ledger.run("hostile", &[], script).assert_code(4);
    let piped = ledger.cronbeat().args(["last-output", "hostile"]).run();
    piped.assert_code(0).assert_silent_stderr();
    assert_eq!(piped.raw_stdout, HOSTILE);
    let Some((code, shown)) = on_terminal(&ledger, &["last-output", "hostile"]) else {
        return;
    };
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8_lossy(&shown), SHOWN);
    assert_no_raw_controls(&shown);
}

/// A record of job `name` as another writer of the ledger could make it, every text field hostile.
fn hostile_record(name: &str) -> String {
    let record = json!({
        "v": 1,
        "run_id": "\u{1b}[2J0000000-0000-4000-8000-000000000000",
        "name": name,
        "host": "db1\u{1b}]52;c;aGk=\u{7}",
        "tick": null,
        "started_at": "2026-01-01T00:00:00.000Z",
        "finished_at": "2026-01-01T00:00:01.000Z",
        "duration_s": 1.0,
        "outcome": "fail\u{9b}6n",
        "exit_status": 1,
        "success": false,
        "message": "exited \u{1b}]0;owned\u{7}",
        "schedule": null,
        "fail_after": null,
        "tail": null,
    });
    serde_json::to_string(&record).unwrap() + "\n"
}

#[test]
fn status_history_and_metrics_show_escapes_on_a_terminal_and_not_in_a_pipe() {
    let ledger = Ledger::new();
    let name = "evil\u{1b}]0;owned\u{7}";
    let dir = std::path::Path::new(&ledger.path()).join("ledger/evil%1B%5D0%3Bowned%07");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runs.jsonl"), hostile_record(name)).unwrap();

    // Through a pipe: the job's text as it is.
    let piped = ledger.cronbeat().args(["status"]).run();
    piped.assert_code(0).assert_silent_stderr();
    assert!(piped.stdout.contains(name), "{:?}", piped.stdout);
    let piped = ledger.cronbeat().args(["history", name]).run();
    piped.assert_code(0);
    assert!(piped.stdout.contains("fail\u{9b}6n"), "{:?}", piped.stdout);
    let piped = ledger.cronbeat().args(["status", "--json"]).run();
    assert!(piped.stdout.contains("fail\u{9b}6n"), "{:?}", piped.stdout);

    let Some((code, table)) = on_terminal(&ledger, &["status"]) else {
        return;
    };
    assert_eq!(code, 0);
    assert_no_raw_controls(&table);
    let table = String::from_utf8(table).unwrap();
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with("evil^[]0;owned^G  failM-^[6n  "),
        "{table:?}"
    );

    let (code, history) = on_terminal(&ledger, &["history", name]).unwrap();
    assert_eq!(code, 0);
    assert_no_raw_controls(&history);
    let history = String::from_utf8(history).unwrap();
    assert!(
        history.contains("failM-^[6n") && history.contains("db1^[]52;c;aGk=^G"),
        "{history:?}"
    );

    // JSON keeps its value: the C1 control as a \u escape, as serde_json writes the C0 ones.
    let (code, json) = on_terminal(&ledger, &["status", "--json"]).unwrap();
    assert_eq!(code, 0);
    assert_no_raw_controls(&json);
    let jobs: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(jobs[0]["name"], name);
    assert_eq!(jobs[0]["last_outcome"], "fail\u{9b}6n");

    let (code, line) = on_terminal(&ledger, &["status", "--check"]).unwrap();
    assert_eq!(code, 2);
    assert_no_raw_controls(&line);
    assert_eq!(
        String::from_utf8(line).unwrap(),
        "CRONBEAT CRITICAL - evil^[]0;owned^G: failed (exited ^[]0;owned^G)\n"
    );

    let (code, metrics) = on_terminal(&ledger, &["metrics"]).unwrap();
    assert_eq!(code, 0);
    assert_no_raw_controls(&metrics);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("cronbeat_job_last_exit_status{name=\"evil^[]0;owned^G\"} 1\n"),
        "{metrics}"
    );
    let piped = ledger.cronbeat().args(["metrics"]).run();
    assert!(
        piped.stdout.contains(&format!(
            "cronbeat_job_last_exit_status{{name=\"{name}\"}} 1\n"
        )),
        "{}",
        piped.stdout
    );
}
