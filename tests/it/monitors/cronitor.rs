//! Cronitor beyond the table of endings (`endings.rs`): `message` is the end of the output, cut to
//! 2000 characters.

use crate::harness::*;

#[test]
fn message_is_the_last_2000_characters() {
    let server = Server::start();
    let run = cronbeat()
        .args(&[
            "--ping".into(),
            format!("cronitor+{}/p/KEY/m", server.url()),
            "--".into(),
            "sh".into(),
            "-c".into(),
            "i=0; while [ $i -lt 500 ]; do printf 'é%04d\\n' $i; i=$((i+1)); done".into(),
        ])
        .run();
    assert_eq!(run.code(), 0, "{run:?}");
    let requests = server.received();
    let message = requests[1].param("message").unwrap();
    assert_eq!(message.chars().count(), 2000);
    assert!(run.stdout.ends_with(message), "{message:?}");
    assert!(message.ends_with("é0499\n"));
}
