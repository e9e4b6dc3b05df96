//! `--jitter DUR --jitter-seed hostname|job|random`: a seeded delay is the same run after run and
//! differs between jobs; a random one differs between runs. Always in [0, DUR).

use crate::harness::*;
fn delay(args: &[&str], env: &[(&str, &str)]) -> f64 {
    let out = cronbeat()
        .envs(env)
        .args(["--log-format", "json", "--jitter", "300ms"])
        .args(args)
        .run();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let seconds = out.event("jitter")["delay_seconds"].as_f64().unwrap();
    assert!((0.0..0.3).contains(&seconds), "{seconds}");
    // The run really waited that long before the command started.
    assert!(
        out.elapsed.as_secs_f64() >= seconds,
        "{seconds} vs {:?}",
        out.elapsed
    );
    seconds
}

#[test]
fn a_seeded_delay_is_stable_per_job() {
    for seed in ["hostname", "job"] {
        let a = delay(&["--jitter-seed", seed, "--", "echo", "a"], &[]);
        assert_eq!(a, delay(&["--jitter-seed", seed, "--", "echo", "a"], &[]));
        assert_eq!(
            a,
            delay(&["--", "echo", "a"], &[("CRONBEAT_JITTER_SEED", seed)])
        );
        let b = delay(&["--jitter-seed", seed, "--", "echo", "b"], &[]);
        assert_ne!(a, b, "{seed}: two jobs got the same slot");
    }
    // The host is part of the hostname seed only.
    let host = delay(&["--jitter-seed", "hostname", "--", "echo", "a"], &[]);
    let job = delay(&["--jitter-seed", "job", "--", "echo", "a"], &[]);
    assert_ne!(host, job);
}

#[test]
fn a_config_job_is_seeded_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[defaults]\njitter_seed = \"job\"\n\n[jobs.one]\ncommand = [\"true\"]\n\n[jobs.two]\ncommand = [\"true\"]\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let one = delay(&["--config", path, "--job", "one"], &[]);
    assert_eq!(one, delay(&["--config", path, "--job", "one"], &[]));
    assert_ne!(one, delay(&["--config", path, "--job", "two"], &[]));
}

#[test]
fn random_is_the_default_and_differs_between_runs() {
    let runs: Vec<f64> = (0..3).map(|_| delay(&["--", "true"], &[])).collect();
    assert!(runs[0] != runs[1] || runs[1] != runs[2], "{runs:?}");
    let explicit = delay(&["--jitter-seed", "random", "--", "true"], &[]);
    assert!(!runs.contains(&explicit), "{runs:?} {explicit}");
}
