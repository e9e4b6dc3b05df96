//! Dead Man's Snitch beyond the table of endings (`endings.rs`): `m` is the end of the output, cut to
//! 1000 characters and marked as cut.

use super::cut_marker;
use crate::harness::*;

#[test]
fn long_output_sends_its_last_1000_characters() {
    let server = Server::start();
    let run = cronbeat()
        .args(&[
            "--ping".into(),
            format!("dms+{}/tok", server.url()),
            "--".into(),
            "sh".into(),
            "-c".into(),
            "i=0; while [ $i -lt 400 ]; do echo \"line $i\"; i=$((i+1)); done; exit 1".into(),
        ])
        .run();
    assert_eq!(run.code(), 1);
    let requests = server.received();
    let message = requests[0].param("m").unwrap();
    assert_eq!(message.chars().count(), 1000);
    let message = &without_cost(message);
    // Marked as cut, like a body cut to a server's limit.
    let (cut, shown) = cut_marker(message);
    assert!(run.stdout.ends_with(shown), "{message:?}");
    assert_eq!(cut + shown.len(), run.stdout.len());
    assert_eq!(requests[0].param("s"), Some("1"));
}
