//! Cronitor beyond the table of endings (`endings.rs`): `message` is the end of the output, cut to
//! 2000 characters and marked as cut.

use super::cut_marker;
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
    let message = &without_cost(message);
    // Marked as cut, like a body cut to a server's limit.
    let (cut, shown) = cut_marker(message);
    assert!(run.stdout.ends_with(shown), "{message:?}");
    assert_eq!(cut + shown.len(), run.stdout.len());
    assert!(message.ends_with("é0499\n"));
}
