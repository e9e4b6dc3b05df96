//! The old wrappers become cronbeat's monitor: the Healthchecks curl recipe (against a local server,
//! as written and then adopted), runitor and cronitor exec. The URL moves from the line into a file only
//! the job's user reads, and is never shown.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::{adopt, adopt_running, crontab_file, run_as_cron};
use crate::harness::*;

const UUID: &str = "0b8f0c5e-2d7a-4c1e-9f3b-6a5d4c3b2a19";

/// The one line of an adopted one-line crontab.
fn adopted_line(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

/// A recipe line (`{curl}` and `{url}` filled in), the pings it sends as written and adopted (suffixes
/// of the check's path), the output and the exit status.
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    i32,
);

#[test]
fn the_curl_recipe_becomes_cronbeats_monitor() {
    if !have("curl") {
        return missing("curl is not installed");
    }
    let curl = "curl -fsS -m 10 --retry 5 -o /dev/null";
    let cases: [Case; 3] = [
        (
            "/bin/echo hi && {curl} {url}",
            &[""],
            &["/start", "/0"],
            "hi\n",
            0,
        ),
        (
            "/bin/sh -c 'echo broke; exit 3'; {curl} {url}/$?",
            &["/3"],
            &["/start", "/3"],
            "broke\n",
            3,
        ),
        (
            "{curl} {url}/start ; /bin/echo paired ; {curl} \"{url}/$?\"",
            &["/start", "/0"],
            &["/start", "/0"],
            "paired\n",
            0,
        ),
    ];
    for (command, as_written, adopted, output, status) in cases {
        let server = Server::start();
        let url = format!("{}/ping/{UUID}", server.url());
        let line = format!(
            "* * * * * {}",
            command.replace("{curl}", curl).replace("{url}", &url)
        );
        let expect = |suffixes: &[&str]| -> Vec<String> {
            suffixes
                .iter()
                .map(|s| format!("/ping/{UUID}{s}"))
                .collect()
        };
        // As written, the recipe pings.
        run_as_cron(&line);
        let got: Vec<String> = server
            .wait_for(as_written.len(), Duration::from_secs(10))
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(got, expect(as_written), "{line}");

        let dir = Dir::new();
        let path = crontab_file(&dir, &format!("{line}\n"));
        let plan = adopt_running(&dir).arg("--crontab").arg(&path).run();
        plan.assert_code(0);
        assert!(
            plan.stdout.contains("convert: Healthchecks curl recipe"),
            "{plan:?}"
        );
        assert!(
            !plan.stdout.contains(UUID) && !plan.stderr.contains(UUID),
            "{plan:?}"
        );
        let written = adopt_running(&dir)
            .arg("--crontab")
            .arg(&path)
            .arg("--write")
            .run();
        written.assert_code(0);
        assert!(!written.stdout.contains(UUID), "{written:?}");
        let new_line = adopted_line(&path);
        assert!(
            !new_line.contains("curl") && !new_line.contains(UUID),
            "{new_line}"
        );
        let files: Vec<_> = std::fs::read_dir(dir.join("ping"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 1);
        let ping_file = files[0].path();
        assert_eq!(
            std::fs::read_to_string(&ping_file).unwrap(),
            format!("{url}\n")
        );
        assert_eq!(
            std::fs::metadata(&ping_file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        // Adopted, cronbeat reports start and exit status, with the output in the body.
        let before = server.received().len();
        let out = run_as_cron(&new_line);
        out.assert_code(status);
        assert_eq!(out.stdout, output, "{out:?}");
        let got =
            server.wait_for(before + adopted.len(), Duration::from_secs(10))[before..].to_vec();
        let got_paths: Vec<String> = got.iter().map(|r| r.path.clone()).collect();
        assert_eq!(got_paths, expect(adopted), "{new_line}");
        assert!(got
            .iter()
            .all(|r| r.method == "POST" && r.param("rid").is_some()));
        assert!(
            got[1].text().contains(output.trim_end()),
            "{:?}",
            got[1].text()
        );
    }
}

#[test]
fn runitor_and_cronitor_lines() {
    let server = Server::start();
    let dir = Dir::new();
    let path = crontab_file(
        &dir,
        &format!(
            "* * * * * runitor -api-url {}/ping -uuid {UUID} -- /bin/echo from-runitor\n\
             0 6 * * * cronitor exec nightly-report /usr/bin/report --all\n\
             0 7 * * * runitor -every 1h -uuid {UUID} -- /bin/true\n",
            server.url()
        ),
    );
    let out = adopt_running(&dir)
        .arg("--crontab")
        .arg(&path)
        .args(["--write", "--cronitor-api-key", "cr0n1t0r-k3y"])
        .run();
    out.assert_code(0);
    assert!(
        !out.stdout.contains("cr0n1t0r-k3y") && !out.stdout.contains(UUID),
        "{out:?}"
    );
    assert!(out.stdout.contains("convert: runitor dropped"), "{out:?}");
    assert!(
        out.stdout.contains("convert: cronitor exec dropped"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("wrap; runitor option -every: not converted"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("ping/nightly-report")).unwrap(),
        "https://cronitor.link/p/cr0n1t0r-k3y/nightly-report\n"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("--name nightly-report --schedule '0 6 * * *' --ping-file"),
        "{text}"
    );
    assert!(text.contains("-c '/usr/bin/report --all'"), "{text}");
    assert!(
        text.contains("runitor -every 1h"),
        "the unconverted runitor stays: {text}"
    );
    let first = text.lines().next().unwrap();
    assert!(!first.contains("runitor -"), "{first}");
    let out = run_as_cron(first);
    out.assert_code(0);
    assert_eq!(out.stdout, "from-runitor\n");
    let got = server.wait_for(2, Duration::from_secs(10));
    assert_eq!(got[0].path, format!("/ping/{UUID}/start"));
    assert_eq!(got[1].path, format!("/ping/{UUID}/0"));
}

#[test]
fn a_ping_template_names_every_job_and_stays_out_of_the_crontab() {
    let dir = Dir::new();
    let path = crontab_file(
        &dir,
        "0 3 * * * /usr/bin/backup\n0 4 * * * /usr/bin/rotate\n",
    );
    let template = "https://hc-ping.com/s3cr3tp1ngk3y/{name}?create=1";
    let out = adopt(&dir)
        .arg("--crontab")
        .arg(&path)
        .args(["--ping-template", template, "--write"])
        .run();
    out.assert_code(0);
    assert!(!out.stdout.contains("s3cr3tp1ngk3y"), "{out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("s3cr3tp1ngk3y"), "{text}");
    for name in ["backup", "rotate"] {
        assert!(
            text.contains(&format!(
                "--ping-file {}",
                dir.join(&format!("ping/{name}")).display()
            )),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join(&format!("ping/{name}"))).unwrap(),
            format!("https://hc-ping.com/s3cr3tp1ngk3y/{name}?create=1\n")
        );
    }
    // Undone, the monitor files go too.
    let undo = cronbeat()
        .args(["adopt", "--undo"])
        .env("CRONBEAT_STATE_DIR", dir.join("state"))
        .run();
    undo.assert_code(0);
    assert!(!dir.join("ping/backup").exists(), "{undo:?}");
}
