//! What a run cost: CPU and peak memory in every report, against GNU time's figures; a real OOM kill
//! under `--memory-max` (outcome `oom`, exit status 137), and a global one with no limit of cronbeat's;
//! a fork bomb held by `--tasks-max`; a limit that cannot be applied refuses the run; the cgroup v2
//! reader on a recorded tree (this machine's cgroup v2 has no memory, io or pids controller).

use std::path::Path;
use std::time::Duration;

use crate::harness::cgroup::{v1_own_dir, MemoryGroup};
use crate::harness::library::read_cgroup_v2;
use crate::harness::*;

/// A job that allocates 256 MiB at once and says `done` if it was let.
const ALLOCATES_256_MIB: &str = "my $s = 'x' x (256 << 20); print qq(done\\n);";

/// The perl job of the comparison: a string of 100 MiB written (perl builds it, then copies it: about
/// 200 MiB at the peak), then half a second of CPU in user mode.
const KNOWN_JOB: &str =
    "my $s = 'x' x (100 << 20); my ($u) = times; while (((times)[0]) - $u < 0.5) {} print length($s), qq(\\n);";

/// Whether cronbeat, as root here, can make cgroups in the v1 hierarchy of `controller`; why not, for
/// `missing`.
fn controller_usable(controller: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("the limits need root to make cgroups".to_string());
    }
    match v1_own_dir(controller) {
        Some(_) => Ok(()),
        None => Err(format!(
            "no cgroup v1 {controller} hierarchy at /sys/fs/cgroup/{controller}"
        )),
    }
}

#[test]
fn an_allocation_past_memory_max_is_an_oom_kill() {
    if let Err(why) = controller_usable("memory") {
        return missing(&why);
    }
    let server = Server::start();
    let state = Dir::new();
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args([
            "--log-format",
            "json",
            "--name",
            "hog",
            "--memory-max",
            "64M",
        ])
        .args(["--ping", &format!("{}/hc", server.url())])
        .args(["--", "perl", "-e", ALLOCATES_256_MIB])
        .limit(Duration::from_secs(60))
        .run();
    // The exit status stays the command's truth: killed by SIGKILL.
    out.assert_code(137);
    assert!(!out.stdout.contains("done"), "{out:?}");
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "oom", "{finished}");
    assert_eq!(finished["exit_status"], 137);
    assert_eq!(finished["signal"], "SIGKILL");
    assert_eq!(finished["oom_killed"], true);
    assert_eq!(finished["memory_max_bytes"], 64u64 << 20);
    let message = finished["message"].as_str().unwrap();
    assert!(
        message.starts_with("finished: killed by the kernel's OOM killer (peak ")
            && message.contains(", limit 64 MiB) in "),
        "{message}"
    );
    // The peak is the cgroup's, at the limit: the kernel let it go no further.
    let peak = finished["peak_memory_bytes"].as_u64().unwrap();
    assert!(
        peak <= 64 << 20 && peak > 32 << 20,
        "peak {peak}: {finished}"
    );
    assert_eq!(finished["memory_source"], "cgroup");

    // The report says so too, on the line before its last, the cost.
    let requests = server.received();
    let finish = requests
        .iter()
        .find(|r| r.path == "/hc/fail")
        .expect("a /fail ping");
    let body = finish.text();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines[lines.len() - 2].starts_with("cronbeat: killed by the kernel's OOM killer (peak ")
            && lines[lines.len() - 1].starts_with("cronbeat: cpu "),
        "{body:?}"
    );

    // And the ledger: the outcome and the cost.
    let history = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["history", "hog", "--json"])
        .run();
    history.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(runs[0]["outcome"], "oom");
    assert_eq!(runs[0]["exit_status"], 137);
    assert_eq!(runs[0]["cost"]["peak_memory_bytes"], peak);
    // No cgroup of the run is left behind.
    assert_no_run_cgroups("memory");
}

#[test]
fn a_fork_bomb_under_tasks_max_is_contained_and_reported() {
    if let Err(why) = controller_usable("pids") {
        return missing(&why);
    }
    // Each function call forks two more, in the background, for ever: without a limit the machine's.
    let bomb = "f() { f 2>/dev/null | f 2>/dev/null & }; f; exec sleep 2";
    let out = cronbeat()
        .args([
            "--log-format",
            "json",
            "--tasks-max",
            "50",
            "--kill-after",
            "1s",
        ])
        .args(["--", "bash", "-c", bomb])
        .limit(Duration::from_secs(60))
        .run();
    let finished = out.event("finished");
    assert_eq!(finished["tasks_max"], 50, "{finished}");
    let peak = finished["tasks_peak"].as_u64().expect("the peak of tasks");
    assert!((40..=50).contains(&peak), "peak {peak}: {finished}");
    let refused = finished["tasks_refused"].as_u64().unwrap();
    assert!(refused > 0, "{finished}");
    let message = finished["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "peak tasks {peak}, {refused} forks refused at the task limit 50"
        )),
        "{message}"
    );
    // Every process of the bomb was stopped: nothing is left in the run's cgroup, which is gone.
    assert_no_run_cgroups("pids");
}

/// No `cronbeat-<pid>-…` cgroup of a cronbeat that is gone stays in cronbeat's own v1 `controller` cgroup.
fn assert_no_run_cgroups(controller: &str) {
    let dir = v1_own_dir(controller).unwrap();
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("cronbeat-"))
        .filter(|n| {
            let pid: i32 = n
                .split('-')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // A cronbeat of another test, still running, has its own.
            pid > 0 && is_dead(pid)
        })
        .collect();
    assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
}

/// A global OOM kill, of no limit of cronbeat's: cronbeat itself is in a memory cgroup of 96 MiB (the
/// test's), runs without `--memory-max`, and its command allocates 256 MiB. The kernel's OOM killer
/// takes the command, the largest process there; the machine's OOM-kill count rose while the command
/// died of a SIGKILL cronbeat did not send, so the outcome is `oom`, and the exit status stays 137.
#[test]
fn a_global_oom_kill_of_the_command_is_named() {
    let group = match MemoryGroup::new(96 << 20) {
        Ok(group) => group,
        Err(why) => return missing(&why),
    };
    let state = Dir::new();
    let out = Cronbeat::program("sh")
        .args([
            "-c",
            &format!("{} && exec \"$0\" \"$@\"", group.join_script()),
        ])
        .arg(BIN)
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--log-format", "json", "--name", "global-hog"])
        .args(["--", "perl", "-e", ALLOCATES_256_MIB])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(137);
    assert!(!out.stdout.contains("done"), "{out:?}");
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "oom", "{finished}");
    assert_eq!(finished["signal"], "SIGKILL");
    assert_eq!(finished["oom_killed"], true);
    assert_eq!(finished["memory_max_bytes"], serde_json::Value::Null);
    // No memory cgroup of the run's: the peak is getrusage's, which the kill stopped short of 256 MiB.
    assert_eq!(finished["memory_source"], "rusage", "{finished}");
    let message = finished["message"].as_str().unwrap();
    assert!(
        message.starts_with("finished: killed by the kernel's OOM killer (peak ")
            && !message.contains("limit"),
        "{message}"
    );
    let history = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["history", "global-hog", "--json"])
        .run();
    history.assert_code(0);
    let runs: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(
        (&runs[0]["outcome"], &runs[0]["exit_status"]),
        (&"oom".into(), &137.into()),
        "{runs}"
    );
}

#[test]
fn cpu_and_peak_memory_agree_with_gnu_time() {
    if !Path::new("/usr/bin/time").exists() {
        return missing("GNU time (/usr/bin/time, the time package)");
    }
    let dir = Dir::new();
    let report = dir.join("time.txt");
    // GNU time around the job, cronbeat around both: both read the same process.
    let out = cronbeat()
        .args(["--log-format", "json", "--"])
        .args(["/usr/bin/time", "-v", "-o", report.to_str().unwrap()])
        .args(["perl", "-e", KNOWN_JOB])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, format!("{}\n", 100 << 20));
    let time = std::fs::read_to_string(&report).unwrap();
    let figure = |label: &str| -> f64 {
        time.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in {time}"))
            .trim()
            .parse()
            .unwrap()
    };
    let time_cpu = figure("User time (seconds):") + figure("System time (seconds):");
    let time_peak = figure("Maximum resident set size (kbytes):") * 1024.0;

    let finished = out.event("finished");
    let cpu = finished["cpu_user_seconds"].as_f64().unwrap()
        + finished["cpu_system_seconds"].as_f64().unwrap();
    let peak = finished["peak_memory_bytes"].as_f64().unwrap();
    assert!(time_cpu >= 0.45 && time_peak > 100.0 * 1048576.0, "{time}");
    let within = |ours: f64, theirs: f64| (ours - theirs).abs() <= 0.1 * theirs;
    assert!(
        within(cpu, time_cpu),
        "cpu {cpu} s against GNU time's {time_cpu} s: {finished}"
    );
    assert!(
        within(peak, time_peak),
        "peak {peak} B against GNU time's {time_peak} B: {finished}"
    );
    let message = finished["message"].as_str().unwrap();
    assert!(
        message.contains("; cpu ") && message.contains(", peak memory "),
        "{message}"
    );
}

#[test]
fn a_limit_that_cannot_be_applied_refuses_the_run() {
    if let Err(why) = controller_usable("memory").and(controller_usable("pids")) {
        return missing(&why);
    }
    // As nobody, cronbeat may make no cgroup: the limit cannot be applied, and the run is refused.
    let dir = Dir::new();
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let marker = dir.join("ran");
    let server = Server::start();
    for limit in [["--memory-max", "64M"], ["--tasks-max", "10"]] {
        let out = Cronbeat::program("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(["--no-ledger", "--ping", &format!("{}/hc", server.url())])
            .args(limit)
            .args(["--", "touch", marker.to_str().unwrap()])
            .env_clear()
            .without_state_dir()
            .env("PATH", "/usr/bin:/bin")
            .limit(Duration::from_secs(20))
            .run();
        out.assert_code(2);
        let controller = if limit[0] == "--memory-max" {
            "memory"
        } else {
            "pids"
        };
        out.assert_one_line_error(&[
            limit[0],
            &format!("the {controller} controller cannot be used here"),
            "the run was not started",
        ]);
        assert!(!marker.exists(), "the command ran without its limit");
    }
    assert!(server.received().is_empty(), "a refused run pings nothing");
}

#[test]
fn a_recorded_cgroup_v2_tree_is_read_as_the_runs_cgroup_is() {
    let dir = Dir::new();
    dir.write("memory.peak", "536870912\n");
    dir.write(
        "memory.events",
        "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
    );
    dir.write(
        "cpu.stat",
        "usage_usec 1500000\nuser_usec 1200000\nsystem_usec 300000\nnr_periods 0\n",
    );
    dir.write(
        "io.stat",
        "8:0 rbytes=4096 wbytes=1048576 rios=1 wios=16 dbytes=0 dios=0\n253:0 rbytes=8192 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n",
    );
    dir.write("pids.peak", "50\n");
    dir.write("pids.events", "max 7\n");
    let reading = read_cgroup_v2(dir.path());
    assert_eq!(reading.user, Some(Duration::from_millis(1200)));
    assert_eq!(reading.system, Some(Duration::from_millis(300)));
    assert_eq!(reading.memory_peak, Some(512 << 20));
    assert_eq!(reading.oom_kills, Some(1));
    assert_eq!(reading.io_read, Some(12288));
    assert_eq!(reading.io_write, Some(1 << 20));
    assert_eq!(reading.tasks_peak, Some(50));
    assert_eq!(reading.tasks_refused, Some(7));

    // A cgroup without the controllers (as on this machine's cgroup v2): only the CPU is known.
    let bare = Dir::new();
    bare.write("cpu.stat", "usage_usec 10\nuser_usec 7\nsystem_usec 3\n");
    let reading = read_cgroup_v2(bare.path());
    assert_eq!(reading.user, Some(Duration::from_micros(7)));
    assert_eq!(
        (
            reading.memory_peak,
            reading.oom_kills,
            reading.io_read,
            reading.tasks_peak
        ),
        (None, None, None, None)
    );
}

#[test]
fn every_report_says_what_the_run_cost() {
    let server = Server::start();
    let out = cronbeat()
        .args(["-v", "--ping", &format!("{}/hc", server.url())])
        .args(["--ping", &format!("webhook+{}/hook", server.url())])
        .args(["--", "sh", "-c", "echo hi"])
        .run();
    out.assert_code(0);
    let finished = out
        .stderr_lines()
        .into_iter()
        .find(|l| l.starts_with("cronbeat: finished: "))
        .unwrap_or_else(|| panic!("no finished line: {out:?}"))
        .to_string();
    assert!(
        finished.contains(", exit status 0; cpu ") && finished.contains(", peak memory "),
        "{finished}"
    );
    let requests = server.received();
    let hook = requests
        .iter()
        .rfind(|r| r.path == "/hook")
        .expect("the webhook's finish");
    let cost = &hook.json()["cost"];
    assert!(
        cost["peak_memory_bytes"].as_u64().unwrap() > 0
            && cost["cpu_user_seconds"].as_f64().is_some()
            && cost["oom_killed"] == false,
        "{cost}"
    );
    let body = requests
        .iter()
        .find(|r| r.path == "/hc/0")
        .expect("the finish ping")
        .text();
    let last = body.lines().last().unwrap();
    assert!(
        body.starts_with("hi\n\ncronbeat: cpu ") && last.contains(", peak memory "),
        "{body:?}"
    );
}

/// A run of several attempts costs what all of them cost: each attempt burns at least 0.3 s of CPU in
/// user mode, the first fails and the second succeeds, and the run is told, and recorded, as having used
/// more than either alone.
#[test]
fn the_cost_of_a_run_adds_up_its_attempts() {
    let state = Dir::new();
    let server = Server::start();
    let burn = "my ($u) = times; while (((times)[0]) - $u < 0.3) {} exit($ENV{CRONBEAT_ATTEMPT} == 1 ? 1 : 0);";
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--log-format", "json", "--name", "burner"])
        .args(["--ping", &format!("{}/hc", server.url())])
        .args(["--retries", "1", "--retry-delay", "10ms"])
        .args(["--", "perl", "-e", burn])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    let finished = out.event("finished");
    let cpu = |cost: &serde_json::Value, user: &str, system: &str| {
        cost[user].as_f64().unwrap() + cost[system].as_f64().unwrap()
    };
    let told = cpu(&finished, "cpu_user_seconds", "cpu_system_seconds");
    assert!(told >= 0.5, "cpu {told}: {finished}");

    let text =
        std::fs::read_to_string(state.join("ledger").join("burner").join("runs.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let run = &records[0];
    assert_eq!(
        (&run["outcome"], &run["attempts"]),
        (&"success".into(), &2.into()),
        "{run}"
    );
    let recorded = cpu(&run["cost"], "cpu_user_s", "cpu_system_s");
    assert!(recorded >= 0.5, "cpu {recorded}: {run}");

    // The report's cost line says the same sum.
    let body = server
        .received()
        .into_iter()
        .find(|r| r.path == "/hc/0")
        .expect("the finish ping")
        .text();
    let last = body.lines().last().unwrap();
    let said: f64 = last
        .strip_prefix("cronbeat: cpu ")
        .and_then(|rest| rest.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{body:?}"));
    assert!(said >= 0.5, "{body:?}");
}

/// The run's memory group outlives its attempts: an attempt after an OOM kill is not one, and the run
/// reports what all its attempts cost.
#[test]
fn an_attempt_after_an_oom_kill_is_judged_on_its_own() {
    if let Err(why) = controller_usable("memory") {
        return missing(&why);
    }
    let state = Dir::new();
    let dir = Dir::new();
    let once = dir.join("once");
    let script = format!(
        "if [ -e '{once}' ]; then echo fine; exit 0; fi; : > '{once}'; \
         exec perl -e \"my \\$s = 'x' x (256 << 20); print qq(done\\\\n);\"",
        once = once.display()
    );
    let out = cronbeat()
        .env("CRONBEAT_STATE_DIR", state.path())
        .args(["--log-format", "json", "--name", "hog-once"])
        .args([
            "--memory-max",
            "64M",
            "--retries",
            "1",
            "--retry-delay",
            "10ms",
        ])
        .args(["--", "sh", "-c", &script])
        .limit(Duration::from_secs(60))
        .run();
    out.assert_code(0);
    assert_eq!(out.stdout, "fine\n", "{out:?}");
    let finished = out.event("finished");
    assert_eq!(finished["outcome"], "success", "{finished}");
    assert_eq!(finished["oom_killed"], false, "{finished}");
    // The first attempt's peak (at the limit) is the run's.
    let peak = finished["peak_memory_bytes"].as_u64().unwrap();
    assert!(
        peak > 32 << 20 && peak <= 64 << 20,
        "peak {peak}: {finished}"
    );

    let text =
        std::fs::read_to_string(state.join("ledger").join("hog-once").join("runs.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "success");
    assert_eq!(records[0]["attempts"], 2);
    assert_eq!(
        records[0]["failed_attempts"][0]["outcome"], "oom",
        "{records:?}"
    );
    assert_eq!(records[0]["failed_attempts"][0]["exit_status"], 137);
}

/// A command that cannot be placed in the cgroup of its limit is not started unlimited: the run is
/// refused (exit 2), and a refusal is not retried. The first attempt moves itself out of the run's
/// memory group and removes it, so the next attempt cannot move in.
#[test]
fn a_command_that_cannot_join_its_limited_cgroup_is_refused_not_retried() {
    if let Err(why) = controller_usable("memory") {
        return missing(&why);
    }
    let dir = Dir::new();
    let count = dir.join("count");
    let script = format!(
        "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'; \
         if [ $n -eq 1 ]; then \
           g=$(sed -n 's|^[0-9]*:memory:|/sys/fs/cgroup/memory|p' /proc/self/cgroup); \
           echo $$ > \"$g/../cgroup.procs\" && rmdir \"$g\" && echo removed; exit 1; \
         fi; echo unlimited",
        c = count.display()
    );
    let out = cronbeat()
        .args(["--memory-max", "64M", "-v"])
        .args(["--retries", "3", "--retry-on", "failure,not_started"])
        .args(["--retry-delay", "50ms", "--", "sh", "-c", &script])
        .run();
    out.assert_code(2);
    assert_eq!(out.stdout, "removed\n", "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().trim(),
        "1",
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("cannot place the command in the cgroup of --memory-max/--tasks-max"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("no retry: a run refused before its command started is never retried"),
        "{}",
        out.stderr
    );
}
