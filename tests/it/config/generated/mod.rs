//! The man page and shell completions are generated from the clap definition the binary parses with, the
//! packaged examples are cut out of the README (`examples`), and all are checked in. This test
//! regenerates them in memory and fails when the checked-in files differ; with `CRONBEAT_REGENERATE=1` it
//! writes them instead:
//!
//!     CRONBEAT_REGENERATE=1 cargo test --test it generated

mod examples;
mod manual;

use std::path::{Path, PathBuf};

use clap_complete::{Generator, Shell};

use crate::harness::{library, missing, Dir};

const REGENERATE: &str = "CRONBEAT_REGENERATE=1 cargo test --test it generated";

/// Every generated file: its path relative to the repository root, and its content.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = vec![(PathBuf::from("man/cronbeat.1"), manual::render())];
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = library::command();
        let mut content = Vec::new();
        clap_complete::generate(shell, &mut cmd, "cronbeat", &mut content);
        if shell == Shell::Bash {
            content = complete_after_double_dash(&content);
        }
        let path = Path::new("completions").join(shell.file_name("cronbeat"));
        files.push((path, content));
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    files.extend(examples::render(&readme));
    files
}

/// What follows `--` is a command line of its own: its first word is a command name and the rest are
/// that command's arguments (bash-completion's `_command_offset` completes them as the command would;
/// without bash-completion, command names, then files). clap_complete's bash script knows only options.
const BASH_AFTER_DOUBLE_DASH: &str = r#"    local dashdash
    for (( dashdash = 1; dashdash < COMP_CWORD; dashdash++ )); do
        if [[ "${COMP_WORDS[dashdash]}" == "--" ]]; then
            if declare -F _command_offset >/dev/null; then
                _command_offset $((dashdash + 1))
            elif (( COMP_CWORD == dashdash + 1 )); then
                COMPREPLY=( $(compgen -c -- "${COMP_WORDS[COMP_CWORD]}") )
            else
                COMPREPLY=( $(compgen -f -- "${COMP_WORDS[COMP_CWORD]}") )
            fi
            return 0
        fi
    done
"#;

fn complete_after_double_dash(script: &[u8]) -> Vec<u8> {
    let script = String::from_utf8(script.to_vec()).unwrap();
    let anchor = "    COMPREPLY=()\n";
    assert!(
        script.contains(anchor),
        "clap_complete's bash script changed shape"
    );
    script
        .replacen(anchor, &format!("{anchor}{BASH_AFTER_DOUBLE_DASH}"), 1)
        .into_bytes()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn generated_files_are_up_to_date() {
    let files = generated();
    if std::env::var_os("CRONBEAT_REGENERATE").is_some_and(|v| v == "1") {
        for (path, content) in &files {
            let path = root().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            eprintln!("wrote {}", path.display());
        }
        return;
    }
    let stale: Vec<String> = files
        .iter()
        .filter(|(path, content)| std::fs::read(root().join(path)).ok().as_ref() != Some(content))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "generated files are stale or missing: {}; regenerate them with: {REGENERATE}",
        stale.join(", ")
    );
}

#[test]
fn the_man_page_has_the_sections_operators_look_for() {
    let page = String::from_utf8(manual::render()).unwrap();
    for heading in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "CHECK",
        "NEXT",
        "SCHEDULES",
        "\"CONFIG FILE\"",
        "ENVIRONMENT",
        "\"EXIT STATUS\"",
        "SIGNALS",
        "MONITORS",
        "HEARTBEATS",
        "EXAMPLES",
    ] {
        assert!(
            page.contains(&format!("\n.SH {heading}\n")),
            "no {heading} section"
        );
    }
    for needle in [
        "CRONBEAT_PING_TIMEOUT",
        "CRONBEAT_PING\\fR",
        "terminationGracePeriodSeconds",
        "OnCalendar",
        "*/5 * * * *",
        "with defaults 35 s",
        "\\fB75\\fR",
        "\\fBping_retries\\fR (integer)",
        "\\fBtimeout\\fR (duration string)",
    ] {
        assert!(
            page.contains(needle),
            "{needle:?} missing from the man page"
        );
    }
    assert_eq!(
        page.matches(".ie \\n(.g .ds Aq").count(),
        1,
        "the preamble is repeated"
    );
    // Five fields, so man(1) shows "User Commands", not "General Commands Manual".
    assert!(
        page.contains("\n.TH CRONBEAT 1 \"\" \"cronbeat "),
        "the title line lost its empty date"
    );
    let synopsis = page
        .split("\n.SH SYNOPSIS\n")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .unwrap();
    for needle in [
        "\\fB\\-\\-timeout\\fR \\fIDUR\\fR",
        "\\fB\\-\\-ping\\fR \\fIURL\\fR",
        "\\fB\\-\\-\\fR \\fICOMMAND\\fR",
    ] {
        assert!(
            synopsis.contains(needle),
            "{needle:?} missing from the synopsis: {synopsis}"
        );
    }
}

/// The README's exit-status table is the one table the binary's --help and the man page are written from.
#[test]
fn the_readme_lists_the_exit_statuses_of_the_one_table() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Exit status\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has an Exit status section");
    let rows: Vec<(String, String)> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| status") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            (cells[0].replace('`', ""), cells[1].replace('`', ""))
        })
        .collect();
    let table: Vec<(String, String)> = library::EXIT_STATUSES
        .iter()
        .map(|row| (row.status.to_string(), row.meaning.to_string()))
        .collect();
    assert_eq!(
        rows, table,
        "README.md's exit statuses differ from exit::TABLE"
    );
}

/// groff, where installed, renders the page without a warning.
#[test]
fn the_man_page_renders_cleanly() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("groff")
        .args(["-man", "-ww", "-z", "-K", "utf8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        missing("groff is not installed (apt-get install groff-base)");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&manual::render())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// bash, where installed, parses its completion script.
#[test]
fn the_bash_completion_parses() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (_, script) = generated()
        .into_iter()
        .find(|(path, _)| path.ends_with("cronbeat.bash"))
        .unwrap();
    let Ok(mut child) = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        missing("bash is not installed");
        return;
    };
    child.stdin.take().unwrap().write_all(&script).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// After `--` bash completes a command name (here without bash-completion's helpers: from `compgen -c`),
/// and before it cronbeat's own options.
#[test]
fn bash_completes_a_command_after_the_double_dash() {
    let (_, script) = generated()
        .into_iter()
        .find(|(path, _)| path.ends_with("cronbeat.bash"))
        .unwrap();
    let dir = Dir::new();
    let script_path = dir.write("cronbeat.bash", &String::from_utf8(script).unwrap());
    let complete = |words: &str| {
        let probe = format!(
            "source {script_path}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _cronbeat cronbeat \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &probe])
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let after = complete("cronbeat --timeout 5m -- ech");
    assert!(
        after.lines().any(|l| l == "echo"),
        "no `echo` after --: {after:?}"
    );
    let before = complete("cronbeat --time");
    assert!(before.lines().any(|l| l == "--timeout"), "{before:?}");
}

/// The README's key table lists every config key with its environment variable, so it cannot fall behind.
#[test]
fn the_readme_documents_every_key() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for key in library::Layer::KEYS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("README.md has no row for the key `{key}`"));
        // `command` and the `webhook` table exist only in the file.
        if !["command", "webhook"].contains(key) {
            let var = format!("CRONBEAT_{}", key.to_uppercase());
            assert!(
                row.contains(&format!("`{var}`")),
                "README row of `{key}` lacks {var}"
            );
        }
    }
    assert!(
        readme.contains(REGENERATE),
        "README.md must name: {REGENERATE}"
    );
}
