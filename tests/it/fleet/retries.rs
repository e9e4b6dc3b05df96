//! A fleet lock's lease is held across every attempt of a run with `--retries`, waits included.

use std::time::Duration;

use super::*;
use crate::harness::*;

on_both!(the_lease_is_held_across_the_attempts_and_their_waits);

fn the_lease_is_held_across_the_attempts_and_their_waits(kind: Kind) {
    let Some(url) = engine(kind) else { return };
    let name = unique("retried");
    let gate = Gate::new();
    // Attempt 1 fails at once; attempt 2 waits at the gate. Both say the fencing token they were given.
    let script = format!(
        "echo \"attempt $CRONBEAT_ATTEMPT token $CRONBEAT_FENCING_TOKEN\"; \
         [ \"$CRONBEAT_ATTEMPT\" = 1 ] && exit 1; {}; echo done",
        gate.wait_script()
    );
    let mut first = cronbeat()
        .env("CRONBEAT_LOCK", &url)
        .args([
            "--name",
            &name,
            "--host-id",
            "first",
            "--lock-ttl",
            "4s",
            "-v",
        ])
        .args([
            "--retries",
            "1",
            "--retry-delay",
            "300ms",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .limit(Duration::from_secs(60))
        .spawn();
    let one = first.wait_stdout("attempt 1 token", Duration::from_secs(20));
    let two = first.wait_stdout("attempt 2 token", Duration::from_secs(20));
    let token = |line: &str| line.rsplit(' ').next().unwrap().to_string();
    assert_eq!(token(&one), token(&two), "one lease, one fencing token");
    // The one token shows the lease was not given up and taken again between the attempts; after
    // longer than its TTL it is still this run's. The TTL leaves a renewal (every third of it) over
    // a second of slack on a loaded machine: with 1 s, one late renewal lost the lease.
    std::thread::sleep(Duration::from_millis(4500));
    let other = cronbeat()
        .env("CRONBEAT_LOCK", &url)
        .args(["--name", &name, "--host-id", "second", "--", "echo", "ran"])
        .run();
    assert_eq!(other.code(), 75, "{other:?}");
    assert!(other.stderr.contains("held by first"), "{}", other.stderr);
    assert_eq!(other.stdout, "");
    gate.open();
    let out = first.wait();
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("succeeded on attempt 2 of 2 after exit 1"),
        "{}",
        out.stderr
    );
}
