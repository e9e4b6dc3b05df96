//! The example files the Debian package installs in /usr/share/doc/cronbeat/examples: the README's own
//! config file and systemd units, cut out of it verbatim, so the packaged examples are the text operators
//! read and the tests check. A block becomes a file when its first line is a comment naming where it goes
//! (`# /etc/systemd/system/backup.service`); the file keeps that line.

use std::path::PathBuf;

/// Where the generated examples live in the repository: beside the man page, the other documentation
/// the package installs from generated, checked-in files.
pub const DIR: &str = "man/examples";

/// The README blocks that become example files: the path named on their first line, and the file name.
const EXAMPLES: &[(&str, &str)] = &[
    ("/etc/cronbeat.toml", "cronbeat.toml"),
    ("/etc/systemd/system/backup.service", "backup.service"),
    ("/etc/systemd/system/backup.timer", "backup.timer"),
];

/// Every example file: its path relative to the repository root, and its content.
pub fn render(readme: &str) -> Vec<(PathBuf, Vec<u8>)> {
    EXAMPLES
        .iter()
        .map(|(installed_as, file)| {
            let block = fenced_block(readme, &format!("# {installed_as}\n")).unwrap_or_else(|| {
                panic!("README.md has no fenced block starting with `# {installed_as}`")
            });
            (PathBuf::from(DIR).join(file), block.into_bytes())
        })
        .collect()
}

/// The body of the one fenced block (```lang ... ```) whose first line is `first_line`.
fn fenced_block(readme: &str, first_line: &str) -> Option<String> {
    let mut found = Vec::new();
    let mut rest = readme;
    while let Some(open) = rest.find("\n```") {
        let after_fence = &rest[open + 4..];
        let body_start = after_fence.find('\n')? + 1;
        let body = &after_fence[body_start..];
        let close = body.find("```\n")?;
        if body[..close].starts_with(first_line) {
            found.push(body[..close].to_string());
        }
        rest = &body[close + 3..];
    }
    assert!(
        found.len() <= 1,
        "README.md has {} blocks starting with {first_line:?}",
        found.len()
    );
    found.pop()
}

#[test]
fn a_fenced_block_is_found_by_its_first_line() {
    let text = "intro\n```ini\n# /a\nx=1\n```\n\n```toml\n# /b\ny = 2\n```\ntail\n";
    assert_eq!(fenced_block(text, "# /a\n").as_deref(), Some("# /a\nx=1\n"));
    assert_eq!(
        fenced_block(text, "# /b\n").as_deref(),
        Some("# /b\ny = 2\n")
    );
    assert_eq!(fenced_block(text, "# /c\n"), None);
}

/// The example service runs a job of the example config file: `cronbeat check` accepts that job, with the
/// options the unit's `ExecStart=` gives, the file swapped for the example beside it.
#[test]
fn the_example_service_runs_a_valid_job_of_the_example_config() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let files = render(&readme);
    let text = |name: &str| {
        let (_, content) = files.iter().find(|(p, _)| p.ends_with(name)).unwrap();
        String::from_utf8(content.clone()).unwrap()
    };
    let service = text("backup.service");
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the example service has an ExecStart= line");
    let mut words = exec.split_whitespace();
    assert_eq!(
        words.next(),
        Some("/usr/bin/cronbeat"),
        "the package installs cronbeat in /usr/bin"
    );
    let dir = crate::harness::Dir::new();
    let config = dir.write("cronbeat.toml", &text("cronbeat.toml"));
    let args: Vec<&str> = words
        .map(|w| {
            if w == "/etc/cronbeat.toml" {
                &config
            } else {
                w
            }
        })
        .collect();
    assert!(
        args.contains(&config.as_str()),
        "ExecStart= names no /etc/cronbeat.toml: {exec}"
    );
    let out = crate::harness::cronbeat().arg("check").args(&args).run();
    out.assert_code(0);
    assert!(out.stdout.contains(": ok: backup: "), "{}", out.dump());
}
