//! A large tail, kept in a ring that went round many times and cleaned in place, is reported exactly:
//! the last `--tail` bytes, the cut marker, escapes stripped, secrets redacted (matches that grow and
//! matches that shrink the text).

use std::time::Duration;

use regex::bytes::{NoExpand, Regex};

use crate::harness::*;

const TAIL: usize = 2 << 20;
const GROWS: &str = "77777";
const SHRINKS: &str = "8[0-9]{5}\n8[0-9]{5}\n";

#[test]
fn a_large_tail_that_went_round_many_times_is_reported_exactly() {
    let server = Server::with_headers(&[("Ping-Body-Limit", "10000000")]);
    let script = r#"seq 1 1000000 | awk '{ if ($1 % 7 == 0) printf "\033[1m%s\033[0m\n", $1; else print $1 }'"#;
    let out = cronbeat()
        .args(["--ping", &format!("{}/c", server.url())])
        .args(["--tail", &TAIL.to_string(), "--strip-ansi"])
        .args(["--redact", GROWS, "--redact", SHRINKS])
        .args(["--", "sh", "-c", script])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);

    let printed: String = (1..=1_000_000u32)
        .map(|i| {
            if i % 7 == 0 {
                format!("\x1b[1m{i}\x1b[0m\n")
            } else {
                format!("{i}\n")
            }
        })
        .collect();
    assert!(
        out.raw_stdout == printed.as_bytes(),
        "the output passes unchanged"
    );

    let kept = &printed.as_bytes()[printed.len() - TAIL..];
    let mut cleaned = Regex::new(r"\x1b\[[0-9]*m")
        .unwrap()
        .replace_all(kept, NoExpand(b""))
        .into_owned();
    for pattern in [GROWS, SHRINKS] {
        cleaned = Regex::new(pattern)
            .unwrap()
            .replace_all(&cleaned, NoExpand(b"[REDACTED]"))
            .into_owned();
    }
    let mut expected = format!("[… {} bytes cut …]\n", printed.len() - TAIL).into_bytes();
    expected.extend_from_slice(&cleaned);

    let requests = server.wait_for(2, Duration::from_secs(5));
    let finish = requests.last().unwrap();
    assert_eq!(finish.path, "/c/0");
    let body = without_cost(&finish.text()).into_bytes();
    if body != expected {
        let at = finish
            .body
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(body.len().min(expected.len()));
        panic!(
            "the tail differs at byte {at} (got {} bytes, expected {}): {:?} vs {:?}",
            body.len(),
            expected.len(),
            String::from_utf8_lossy(&body[at..(at + 40).min(body.len())]),
            String::from_utf8_lossy(&expected[at..(at + 40).min(expected.len())]),
        );
    }
    assert!(cleaned.windows(10).filter(|w| w == b"[REDACTED]").count() > 100);
}
