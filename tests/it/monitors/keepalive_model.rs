//! `--keepalive` keeps a Healthchecks check up. The test server applies Healthchecks' own rule to the
//! pings it gets (measured on a real server): a started check is down once `last_start + grace` passes
//! without another start; a `/log` does not move `last_start`; an exit status or `/fail` ends the run.

use std::time::{Duration, Instant};

use crate::harness::*;

/// One check as a Healthchecks server sees it.
struct Check {
    grace: Duration,
    last_start: Option<Instant>,
    /// How long after its first ping the check went down, if it did.
    down_after: Option<Duration>,
    first: Option<Instant>,
}

impl Check {
    fn new(grace: Duration) -> Check {
        Check {
            grace,
            last_start: None,
            down_after: None,
            first: None,
        }
    }

    /// Moves the check's clock to `now`: a started check whose grace has run out is down.
    fn tick(&mut self, now: Instant) {
        if let (Some(start), None) = (self.last_start, self.down_after) {
            if now > start + self.grace {
                let first = self.first.unwrap_or(start);
                self.down_after = Some(start + self.grace - first);
            }
        }
    }

    fn ping(&mut self, request: &Request) {
        self.first.get_or_insert(request.at);
        self.tick(request.at);
        match request.path.rsplit('/').next().unwrap() {
            "start" => self.last_start = Some(request.at),
            "log" => {}
            // An exit status, /fail or success: the run is over, the check waits for the next period.
            _ => self.last_start = None,
        }
    }

    /// Replays the pings of one run, then looks at `end`.
    fn replay(grace: Duration, pings: &[Request], end: Instant) -> Check {
        let mut check = Check::new(grace);
        for ping in pings {
            check.ping(ping);
        }
        check.tick(end);
        check
    }
}

const GRACE: Duration = Duration::from_millis(1200);

fn pings_to(server: &Server, check: &str) -> Vec<Request> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(&format!("/{check}/")))
        .collect()
}

#[test]
fn the_model_sees_a_long_run_without_keepalives_go_down() {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/plain", server.url()),
            "--",
            "sleep",
            "2",
        ])
        .run();
    out.assert_code(0);
    let pings = pings_to(&server, "plain");
    let check = Check::replay(GRACE, &pings, Instant::now());
    assert!(
        check.down_after.is_some(),
        "a 2 s run with a 1.2 s grace should go down: {:?}",
        pings.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[test]
fn keepalives_shorter_than_the_grace_keep_the_check_up_and_the_finish_says_how_long() {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/hc", server.url()),
            "--keepalive",
            "300ms",
            "--",
            "sleep",
            "2.5",
        ])
        .run();
    out.assert_code(0).assert_silent_stderr();
    let pings = pings_to(&server, "hc");
    let paths: Vec<&str> = pings.iter().map(|r| r.path.as_str()).collect();
    let check = Check::replay(GRACE, &pings, Instant::now());
    assert_eq!(check.down_after, None, "the check went down: {paths:?}");

    // Every keepalive is a start of the same run, never a /log.
    assert_eq!(paths.first(), Some(&"/hc/start"), "{paths:?}");
    assert_eq!(paths.last(), Some(&"/hc/0"), "{paths:?}");
    assert!(!paths.contains(&"/hc/log"), "{paths:?}");
    let keepalives = &pings[1..pings.len() - 1];
    assert!(keepalives.len() >= 3, "{paths:?}");
    let rid = pings[0].param("rid").unwrap();
    for ping in &pings {
        assert_eq!(ping.method, "POST");
        assert_eq!(ping.param("rid"), Some(rid), "{:?}", ping.query);
    }
    for keepalive in keepalives {
        assert_eq!(keepalive.path, "/hc/start");
        assert!(keepalive.text().starts_with("still running after "));
    }

    // Healthchecks now counts from the last keepalive, so the body carries the run's true duration.
    let body = pings.last().unwrap().text();
    let line = body
        .lines()
        .find_map(|l| l.strip_prefix("cronbeat: duration "))
        .unwrap_or_else(|| panic!("no duration in the finish body: {body:?}"));
    let took = humantime::parse_duration(line.split(" (").next().unwrap()).unwrap();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(10),
        "{line:?}"
    );
}

#[test]
fn without_keepalives_the_finish_body_is_the_tail_alone() {
    let server = Server::start();
    let out = cronbeat()
        .args([
            "--ping",
            &format!("{}/hc", server.url()),
            "--",
            "echo",
            "hi",
        ])
        .run();
    out.assert_code(0);
    let pings = pings_to(&server, "hc");
    assert_eq!(pings.last().unwrap().path, "/hc/0");
    assert_eq!(without_cost(&pings.last().unwrap().text()), "hi\n");
}

/// A wait to retry longer than the grace, without `--keepalive`: cronbeat sends a keepalive at least
/// every half grace while it waits, so the check is never down between the attempts. The wait is
/// random (full jitter, up to 8 s): runs are made until one waited 3 s or more (each run has a
/// 5 in 8 chance), and every run's check must stay up.
#[test]
fn a_wait_longer_than_the_grace_keeps_the_check_up_without_keepalive() {
    let grace = Duration::from_secs(2);
    for _ in 0..10 {
        let server = Server::start();
        let out = cronbeat()
            .args(["--ping", &format!("{}/hc", server.url())])
            .args(["--grace", "2s", "--retries", "1", "--retry-delay", "8s"])
            .args(["-v", "--log-format", "json"])
            .args(["--", "sh", "-c", "[ \"$CRONBEAT_ATTEMPT\" -ge 2 ]"])
            .limit(Duration::from_secs(60))
            .run();
        out.assert_code(0);
        let pings = pings_to(&server, "hc");
        let paths: Vec<&str> = pings.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths.first(), Some(&"/hc/start"), "{paths:?}");
        assert_eq!(paths.last(), Some(&"/hc/0"), "{paths:?}");
        let end = pings.last().unwrap().at;
        let check = Check::replay(grace, &pings, end);
        assert_eq!(check.down_after, None, "the check went down: {pings:?}");
        let wait = out.event("retrying")["delay_seconds"].as_f64().unwrap();
        if wait >= 3.0 {
            // A keepalive as the wait began, then one every second at least, then the retry's.
            let keepalives = paths[1..paths.len() - 1].len();
            assert!(keepalives >= 3, "{wait} s wait: {paths:?}");
            return;
        }
    }
    panic!("ten runs, and none waited 3 s: the waits are not uniform up to --retry-delay");
}
