//! Cronhub beyond the table of endings (`endings.rs`): `--no-start-ping` sends only the finish.

use super::endings::Ending;
use crate::harness::*;

const UUID: &str = "8d2ae4b6-3c8a-4a4b-9a51-0f6e5b1c2d3e";

#[test]
fn no_start_ping_sends_only_the_finish() {
    let server = Server::start();
    let mut args = vec![
        "--no-start-ping".to_string(),
        "--ping".into(),
        format!("cronhub+{}/ping/{UUID}", server.url()),
    ];
    args.extend(Ending::Success.args());
    assert_eq!(cronbeat().args(&args).run().code(), 0);
    let paths: Vec<String> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [format!("/finish/{UUID}")]);
}
