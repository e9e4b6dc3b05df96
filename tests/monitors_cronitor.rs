//! Cronitor telemetry: `state=run` then `state=complete|fail` with the run id as `series`, the host,
//! the exit status, the duration and the end of the output as `message`; the URL's own query is kept.

mod http_server;
mod monitors_support;

use monitors_support::*;

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn check(ending: Ending) {
    let server = Server::start();
    let spec = format!(
        "cronitor+{}/p/KEY123/nightly-backup?env=staging",
        server.base()
    );
    let run = ending.run(&[spec]);
    let rid = run.run_id();
    let host = host_name();
    let requests = server.received();
    assert_eq!(requests.len(), 2, "{requests:#?}");

    let start = &requests[0];
    assert_eq!(start.method, "GET");
    assert_eq!(start.path, "/p/KEY123/nightly-backup");
    assert_eq!(
        start.params,
        params(&[
            ("env", "staging"),
            ("state", "run"),
            ("series", &rid),
            ("host", &host)
        ])
    );

    let finish = &requests[1];
    assert_eq!(finish.method, "GET");
    assert_eq!(finish.path, "/p/KEY123/nightly-backup");
    assert!(finish.body.is_empty());
    assert_eq!(
        finish.param_names(),
        [
            "env",
            "state",
            "series",
            "host",
            "status_code",
            "duration",
            "message"
        ]
    );
    let state = if ending == Ending::Success {
        "complete"
    } else {
        "fail"
    };
    assert_eq!(finish.param("state"), Some(state));
    assert_eq!(finish.param("series"), Some(rid.as_str()));
    assert_eq!(finish.param("host"), Some(host.as_str()));
    let code = ending.code().to_string();
    assert_eq!(finish.param("status_code"), Some(code.as_str()));
    let duration: f64 = finish.param("duration").unwrap().parse().unwrap();
    let least = if ending == Ending::Overrun { 0.5 } else { 0.0 };
    assert!((least..20.0).contains(&duration), "duration {duration}");
    let message = finish.param("message").unwrap();
    assert!(message.starts_with(&format!("run {rid}\n")), "{message:?}");
    assert_eq!(message.trim_end().lines().last(), Some(ending.last_line()));
}

#[test]
fn success() {
    check(Ending::Success);
}

#[test]
fn failure() {
    check(Ending::Failure);
}

#[test]
fn overrun() {
    check(Ending::Overrun);
}

#[test]
fn signal() {
    check(Ending::Signal);
}

#[test]
fn message_is_the_last_2000_characters() {
    let server = Server::start();
    let run = cronbeat(&[
        "--ping".into(),
        format!("cronitor+{}/p/KEY/m", server.base()),
        "--".into(),
        "sh".into(),
        "-c".into(),
        "i=0; while [ $i -lt 500 ]; do printf 'é%04d\\n' $i; i=$((i+1)); done".into(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let requests = server.received();
    let message = requests[1].param("message").unwrap();
    assert_eq!(message.chars().count(), 2000);
    assert!(run.stdout.ends_with(message), "{message:?}");
    assert!(message.ends_with("é0499\n"));
}
