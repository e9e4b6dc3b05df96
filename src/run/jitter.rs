//! `--jitter`: the delay before the start, random or a stable slot per host or job.

use std::time::Duration;

use crate::config::Job;
use crate::kinds::JitterSeed;

/// What names the job for a jitter seed: its config name, else its command line.
pub fn job_identity(job: &Job) -> String {
    match &job.config_job {
        Some(name) => name.clone(),
        None => job
            .command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join("\0"),
    }
}

/// The delay before starting: random, or a fixed slot in [0, limit) from a stable hash, so a host keeps
/// its slot from run to run and across cronbeat versions.
pub fn jitter_delay(limit: Duration, seed: JitterSeed, job: &str, host: &str) -> Duration {
    let fraction = match seed {
        JitterSeed::Random => fastrand::f64(),
        JitterSeed::Job => unit_fraction(job.as_bytes()),
        JitterSeed::Hostname => unit_fraction(format!("{host}\0{job}").as_bytes()),
    };
    limit.mul_f64(fraction)
}

/// FNV-1a, then a SplitMix64 finaliser so that similar names land far apart: a number in [0, 1).
fn unit_fraction(bytes: &[u8]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_slots_are_stable_and_in_range() {
        let limit = Duration::from_secs(600);
        let a = jitter_delay(limit, JitterSeed::Hostname, "backup", "web-1");
        assert_eq!(
            a,
            jitter_delay(limit, JitterSeed::Hostname, "backup", "web-1")
        );
        assert_ne!(
            a,
            jitter_delay(limit, JitterSeed::Hostname, "backup", "web-2")
        );
        let j = jitter_delay(limit, JitterSeed::Job, "backup", "web-1");
        assert_eq!(j, jitter_delay(limit, JitterSeed::Job, "backup", "web-2"));
        // Fixed forever: a fleet keeps its slots across upgrades.
        assert_eq!(format!("{:.6}", unit_fraction(b"backup")), "0.030026");
        // Spread: 1000 hosts fill ten buckets roughly evenly.
        let mut buckets = [0u32; 10];
        for i in 0..1000 {
            let d = jitter_delay(limit, JitterSeed::Hostname, "backup", &format!("host-{i}"));
            assert!(d < limit);
            buckets[(d.as_secs_f64() / 60.0) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|n| (60..=140).contains(n)),
            "{buckets:?}"
        );
    }
}
