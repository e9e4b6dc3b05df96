//! A run's cost as the JSON `finished` event and the ledger's record carry it: flat fields, `null` for a
//! figure no source gave, and the source of the CPU and memory figures (`cgroup` or `rusage`).

use serde_json::{json, Map, Value};

use super::Cost;

/// Adds the cost's fields to `f`.
pub fn fields(cost: &Cost, f: &mut Map<String, Value>) {
    f.insert("cpu_user_seconds".into(), json!(cost.user.as_secs_f64()));
    f.insert(
        "cpu_system_seconds".into(),
        json!(cost.system.as_secs_f64()),
    );
    f.insert("cpu_source".into(), json!(cost.cpu_source.word()));
    f.insert("peak_memory_bytes".into(), json!(cost.peak_memory));
    f.insert("memory_source".into(), json!(cost.memory_source.word()));
    f.insert("io_read_bytes".into(), json!(cost.io_read));
    f.insert("io_write_bytes".into(), json!(cost.io_write));
    f.insert("tasks_peak".into(), json!(cost.tasks_peak));
    f.insert("tasks_refused".into(), json!(cost.tasks_refused));
    f.insert("memory_max_bytes".into(), json!(cost.memory_limit));
    f.insert("tasks_max".into(), json!(cost.tasks_limit));
    f.insert("oom_killed".into(), json!(cost.oom_killed));
}
