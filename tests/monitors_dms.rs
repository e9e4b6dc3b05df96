//! Dead Man's Snitch: one check-in at the finish, `GET /<token>?s=<exit status>&m=<message>`.

mod http_server;
mod monitors_support;

use monitors_support::*;

fn check(ending: Ending) {
    let server = Server::start();
    let run = ending.run(&[format!("dms+{}/c2354d53d2", server.base())]);
    let requests = server.received();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let checkin = &requests[0];
    assert_eq!(checkin.method, "GET");
    assert_eq!(checkin.path, "/c2354d53d2");
    assert!(checkin.body.is_empty());
    assert_eq!(checkin.param_names(), ["s", "m"]);
    let code = ending.code().to_string();
    assert_eq!(checkin.param("s"), Some(code.as_str()));
    let message = checkin.param("m").unwrap();
    assert!(
        message.starts_with(&format!("run {}\n", run.run_id())),
        "{message:?}"
    );
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
fn long_output_sends_its_last_1000_characters() {
    let server = Server::start();
    let run = cronbeat(&[
        "--ping".into(),
        format!("dms+{}/tok", server.base()),
        "--".into(),
        "sh".into(),
        "-c".into(),
        "i=0; while [ $i -lt 400 ]; do echo \"line $i\"; i=$((i+1)); done; exit 1".into(),
    ]);
    assert_eq!(run.code, 1);
    let requests = server.received();
    let message = requests[0].param("m").unwrap();
    assert_eq!(message.chars().count(), 1000);
    assert!(run.stdout.ends_with(message));
    assert_eq!(requests[0].param("s"), Some("1"));
}
