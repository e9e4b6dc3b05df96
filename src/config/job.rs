//! The one resolution: (command line + environment, config file, job name) → one typed, validated `Job`
//! that every later stage reads, for a run and for `cronbeat check` alike. Where each value came from is
//! recorded as data (`Origins`), so an error names the flag, the variable, or the file, line and key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use super::file::ConfigFile;
use super::layer::Layer;
use crate::kinds::{JitterSeed, LockUnavailable, LogFormat, OnLockLost, Overlap};
use crate::ledger;
use crate::lock::Target;
use crate::monitor::{self, Protocol, RetryPolicy, WebhookConfig};
use crate::outcome::Rules;
use crate::output::Hygiene;
use crate::schedule::{self, Schedule};
use crate::secrets::Secrets;
use crate::units;

pub const DEFAULT_KILL_AFTER: Duration = Duration::from_secs(10);
pub const DEFAULT_TAIL: u64 = 10 * 1024;
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_PING_RETRIES: u32 = 3;
/// With the default `--kill-after`, a stopped run ends within 20 s of its SIGTERM: inside Kubernetes'
/// default 30 s grace period, with room to spare.
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a replacing run waits for the lock after killing the run it replaces, unless `--lock-wait` says.
pub const DEFAULT_REPLACE_WAIT: Duration = Duration::from_secs(5);

/// A fleet lock's lease: long enough that a renewal every third of it rides out a slow engine, short
/// enough that a crashed host holds the fleet up for half a minute at most.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);
/// Below this a lease would be renewed more often than an engine call may take.
pub const MIN_LOCK_TTL: Duration = Duration::from_secs(1);
pub const MAX_LOCK_TTL: Duration = Duration::from_secs(24 * 3600);

/// The run time the default grace allows for when there is no `--timeout` (Healthchecks' own default).
pub const DEFAULT_RUN_ALLOWANCE: Duration = Duration::from_secs(3600);
/// Added to the default grace, for clocks and networks: a run that starts on time and ends within its
/// timeout never alerts.
pub const GRACE_MARGIN: Duration = Duration::from_secs(60);
/// The longest grace: a year, the most Healthchecks takes.
pub const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Bounds beyond which a value is a mistake (a unit typed wrong), not a wish: a jitter is a spread within
/// a schedule, a grace is for a clean shutdown, a ping is either answered within minutes or not at all.
pub const MAX_JITTER: Duration = Duration::from_secs(24 * 3600);
pub const MAX_KILL_AFTER: Duration = Duration::from_secs(3600);
pub const MAX_PING_TIMEOUT: Duration = Duration::from_secs(300);
pub const MAX_PING_RETRIES: u32 = 10;
/// A ledger of more runs than this per job is a number typed wrong (and `status` would read it slowly).
pub const MAX_KEEP_RUNS: u32 = 1_000_000;
/// Failures in a row beyond any schedule's patience.
pub const MAX_FAIL_AFTER: u32 = 10_000;
/// Below this no program starts: a limit this small is a unit typed wrong.
pub const MIN_MEMORY_MAX: u64 = 1 << 20;
/// Every other duration: a year, far beyond any schedule, and safe from clock arithmetic overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Where the value of one key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Its flag on the command line.
    Flag,
    /// This environment variable.
    Env(String),
    /// The config file's `[jobs.NAME]` table.
    Job(String),
    /// The config file's `[defaults]`.
    Defaults,
}

/// The origin of every key that some source set; a key not listed has its built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(pub BTreeMap<&'static str, Origin>);

impl Origins {
    pub fn of(&self, key: &str) -> Option<&Origin> {
        self.0.get(key)
    }

    /// `message` about the value of `key`, prefixed with where that value came from.
    pub fn blame(&self, key: &str, message: &str, file: Option<&ConfigFile>) -> String {
        match (self.of(key), file) {
            (Some(Origin::Flag), _) => format!("--{}: {message}", key.replace('_', "-")),
            (Some(Origin::Env(var)), _) => format!("{var}: {message}"),
            (Some(Origin::Job(name)), Some(file)) => file.error(&["jobs", name, key], message),
            (Some(Origin::Defaults), Some(file)) => file.error(&["defaults", key], message),
            _ => message.to_string(),
        }
    }
}

/// What the command line and the environment say, with the origin of each key they set.
#[derive(Debug, Clone, Default)]
pub struct Given {
    pub layer: Layer,
    pub origins: Origins,
    /// What was given but came to nothing (a blank `CRONBEAT_PING`), to be said before the run.
    pub warnings: Vec<String>,
}

/// Everything one run needs, validated.
pub struct Job {
    /// The `--job` name, when the job comes from the config file.
    pub config_job: Option<String>,
    /// The job's name across runs and hosts (`--name`).
    pub name: String,
    /// Who runs it (`--host-id`).
    pub host_id: String,
    pub schedule: Option<Schedule>,
    /// The schedule and what monitors need to hold it (API keys), when the job has a schedule.
    pub declared: Option<monitor::Declared>,
    pub command: Vec<OsString>,
    pub timeout: Option<Duration>,
    pub kill_after: Duration,
    pub idle_timeout: Option<Duration>,
    /// `--lock`: a file on this host, or a lock engine the fleet shares.
    pub lock: Option<Target>,
    pub overlap: Overlap,
    pub lock_wait: Option<Duration>,
    /// A fleet lock's lease, renewed every third of it.
    pub lock_ttl: Duration,
    pub on_lock_lost: OnLockLost,
    pub lock_unavailable: LockUnavailable,
    pub jitter: Option<Duration>,
    pub jitter_seed: JitterSeed,
    /// `--memory-max` and `--tasks-max`.
    pub run_limits: crate::cost::Limits,
    pub rules: Rules,
    pub tail: usize,
    pub hygiene: Hygiene,
    pub quiet: bool,
    /// Every monitor, parsed once.
    pub monitors: Vec<Box<dyn Protocol>>,
    pub start_ping: bool,
    pub keepalive: Option<Duration>,
    /// `--grace`, or the default that allows for one attempt: with a schedule also the schedule's.
    pub grace: Duration,
    pub delivery: RetryPolicy,
    /// Once the command has ended, every finish report is delivered or given up within this.
    pub report_timeout: Duration,
    /// Where runs are recorded; `None` with `--no-ledger` (or when there is nowhere to record them).
    pub ledger: Option<ledger::Settings>,
    /// `--fail-after N`, when N is more than 1.
    pub fail_after: Option<u32>,
    /// `--retries`, `--retry-on`, `--retry-delay`.
    pub retry: crate::retry::Policy,
    /// The command's variables from `--env-file`, in order: a later one of a name wins.
    pub env_files: Vec<(String, OsString)>,
    /// Where the fleet records runs too (`--ledger-url`, `--fleet-ledger`); none by default.
    pub fleet_ledger: Option<crate::fleet_ledger::Settings>,
    /// `--after`: the jobs whose success this run waits on.
    pub after: Option<crate::after::After>,
    pub verbose: bool,
    pub log_format: LogFormat,
    pub origins: Origins,
    /// Said once before the run (and by `check`): settings that were given but have no effect.
    pub warnings: Vec<String>,
}

/// A value that cannot be used, and the key it belongs to.
struct Invalid {
    key: &'static str,
    message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        key,
        message: message.into(),
    }
}

/// Resolves job `name` of `file` (or the file's defaults, or nothing) under what the command line and the
/// environment give. `command` is what followed `--`. Precedence: command line and environment > job >
/// defaults > built-in defaults.
pub fn resolve(
    given: &Given,
    file: Option<&ConfigFile>,
    name: Option<&str>,
    command: Vec<OsString>,
) -> Result<Job, String> {
    let (job, defaults) = match (file, name) {
        (Some(file), Some(name)) => (file.job(name)?, file.defaults.clone()),
        (Some(file), None) => (Layer::default(), file.defaults.clone()),
        (None, Some(_)) => return Err("--job needs --config (or CRONBEAT_CONFIG)".to_string()),
        (None, None) => (Layer::default(), Layer::default()),
    };
    if let (Some(file), None, true) = (file, name, command.is_empty()) {
        let jobs: Vec<&str> = file.jobs.keys().map(String::as_str).collect();
        let which = match jobs.as_slice() {
            [] => "the file has no jobs".to_string(),
            _ => format!("the file has {}", jobs.join(", ")),
        };
        return Err(format!(
            "no command given: name a job of {} with --job ({which}), or give a command after `--`",
            file.path.display()
        ));
    }
    let mut origins = given.origins.clone();
    for key in Layer::KEYS {
        if origins.of(key).is_none() {
            if let Some(name) = name.filter(|_| job.sets(key)) {
                origins.0.insert(key, Origin::Job(name.to_string()));
            } else if defaults.sets(key) {
                origins.0.insert(key, Origin::Defaults);
            }
        }
    }
    let merged = given.layer.clone().over(job).over(defaults);
    let mut job = build(merged, command, name.map(str::to_string), origins.clone())
        .map_err(|Invalid { key, message }| origins.blame(key, &message, file))?;
    job.warnings.splice(0..0, given.warnings.iter().cloned());
    Ok(job)
}

fn build(
    merged: Layer,
    command_line: Vec<OsString>,
    name: Option<String>,
    origins: Origins,
) -> Result<Job, Invalid> {
    let command = match (command_line.is_empty(), merged.command) {
        (false, Some(_)) => {
            return Err(invalid(
                "command",
                "a command is also given after `--`; give it once",
            ))
        }
        (false, None) if command_line[0].is_empty() => {
            return Err(invalid("command", "the program name is empty"))
        }
        (false, None) => command_line,
        (true, Some(cmd)) if cmd.first().is_some_and(|program| !program.is_empty()) => {
            cmd.into_iter().map(OsString::from).collect()
        }
        (true, Some(cmd)) if cmd.is_empty() => {
            return Err(invalid(
                "command",
                "is empty (expected e.g. [\"/usr/local/bin/backup\", \"--full\"])",
            ))
        }
        (true, Some(_)) => return Err(invalid("command", "the program name is empty")),
        (true, None) => {
            return Err(invalid(
                "command",
                "no command given (usage: cronbeat [OPTIONS] -- <COMMAND> [ARGS]...)",
            ))
        }
    };
    let mut warnings = Vec::new();
    let (ledger, fail_after) = ledger_settings(
        merged.state_dir.clone(),
        merged.no_ledger.unwrap_or(false),
        merged.keep_runs,
        merged.fail_after,
        &mut warnings,
    )?;
    let webhook = merged.webhook;
    if let Some(config) = &webhook {
        config.validate().map_err(|e| invalid("webhook", e))?;
    }
    // What of the settings the reported tail must not show (see `secrets`).
    let mut secrets = Secrets::default();
    let monitors = monitors(
        &merged.ping,
        merged.ping_file.as_deref(),
        webhook.as_ref(),
        &mut warnings,
        &mut secrets,
    )?;
    for (name, value) in webhook.iter().flat_map(|w| &w.headers) {
        secrets.header(name, value);
    }
    let ping_timeout = merged
        .ping_timeout
        .map_or(DEFAULT_PING_TIMEOUT, units::Duration::get);
    if ping_timeout.is_zero() {
        return Err(invalid("ping_timeout", "must be greater than zero"));
    }
    let report_timeout = merged
        .report_timeout
        .map_or(DEFAULT_REPORT_TIMEOUT, units::Duration::get);
    if report_timeout.is_zero() {
        return Err(invalid("report_timeout", "must be greater than zero"));
    }
    let tail = merged.tail.map_or(DEFAULT_TAIL, |s| s.0);
    let tail = usize::try_from(tail)
        .ok()
        .filter(|t| *t <= 1 << 30)
        .ok_or_else(|| invalid("tail", format!("{tail} bytes is too large (at most 1GiB)")))?;
    let lock = merged
        .lock
        .as_deref()
        .map(Target::parse)
        .transpose()
        .map_err(|e| invalid("lock", e))?;
    if lock.is_none() {
        if merged.overlap.is_some() {
            return Err(invalid("overlap", "needs a lock file (--lock)"));
        }
        if merged.lock_wait.is_some() {
            return Err(invalid("lock_wait", "needs a lock file (--lock)"));
        }
    }
    if let (Some(Target::Fleet(engine)), Some(url)) = (&lock, merged.lock.as_deref()) {
        secrets.engine(&url.to_string_lossy(), engine.password().as_deref());
    }
    if let Some(Target::Fleet(engine)) = &lock {
        if merged.overlap == Some(Overlap::Replace) {
            return Err(invalid(
                "overlap",
                format!(
                    "replace cannot stop a run on another host: with the fleet lock {engine} use skip or wait"
                ),
            ));
        }
    } else {
        for (key, set) in [
            ("lock_ttl", merged.lock_ttl.is_some()),
            ("on_lock_lost", merged.on_lock_lost.is_some()),
            ("lock_unavailable", merged.lock_unavailable.is_some()),
        ] {
            if set {
                return Err(invalid(
                    key,
                    "needs a fleet lock (--lock redis://… or --lock postgres://…)",
                ));
            }
        }
    }
    let lock_ttl = merged
        .lock_ttl
        .map_or(DEFAULT_LOCK_TTL, units::Duration::get);
    if lock_ttl < MIN_LOCK_TTL {
        return Err(invalid(
            "lock_ttl",
            format!(
                "{} is too short (at least {})",
                humantime::format_duration(lock_ttl),
                humantime::format_duration(MIN_LOCK_TTL)
            ),
        ));
    }
    for (key, value, limit) in [
        ("jitter", merged.jitter, MAX_JITTER),
        ("kill_after", merged.kill_after, MAX_KILL_AFTER),
        ("ping_timeout", merged.ping_timeout, MAX_PING_TIMEOUT),
        ("report_timeout", merged.report_timeout, MAX_KILL_AFTER),
        ("timeout", merged.timeout, MAX_DURATION),
        ("idle_timeout", merged.idle_timeout, MAX_DURATION),
        ("lock_wait", merged.lock_wait, MAX_DURATION),
        ("lock_ttl", merged.lock_ttl, MAX_LOCK_TTL),
        ("min_runtime", merged.min_runtime, MAX_DURATION),
        ("keepalive", merged.keepalive, MAX_DURATION),
        ("after_within", merged.after_within, MAX_DURATION),
        ("after_wait", merged.after_wait, MAX_DURATION),
    ] {
        if let Some(value) = value.map(units::Duration::get).filter(|v| *v > limit) {
            return Err(invalid(
                key,
                format!(
                    "{} is too long (at most {})",
                    humantime::format_duration(value),
                    humantime::format_duration(limit)
                ),
            ));
        }
    }
    let run_limits = crate::cost::Limits {
        memory_max: merged.memory_max.map(|s| s.0),
        tasks_max: merged.tasks_max,
    };
    if let Some(max) = run_limits.memory_max.filter(|m| *m < MIN_MEMORY_MAX) {
        return Err(invalid(
            "memory_max",
            format!("{max} bytes is too small (at least 1MiB)"),
        ));
    }
    if run_limits.tasks_max == Some(0) {
        return Err(invalid("tasks_max", "must be at least 1"));
    }
    if let Some(retries) = merged.ping_retries.filter(|r| *r > MAX_PING_RETRIES) {
        return Err(invalid(
            "ping_retries",
            format!("{retries} is too many (at most {MAX_PING_RETRIES})"),
        ));
    }
    let retry = retry_policy(
        merged.retries,
        merged.retry_on.clone(),
        merged.retry_delay,
        &mut warnings,
    )?;
    let mut env_files = Vec::new();
    for path in &merged.env_file {
        env_files.extend(super::env_file::read(path).map_err(|e| invalid("env_file", e))?);
    }
    for (_, value) in &env_files {
        secrets.env_value(value.as_bytes());
    }
    let hygiene = Hygiene::new(merged.strip_ansi.unwrap_or(false), &merged.redact)
        .map_err(|e| invalid("redact", e))?;
    let positive =
        |d: Option<units::Duration>| d.map(units::Duration::get).filter(|t| !t.is_zero());
    let job_name = match merged.name.as_deref().map(str::trim) {
        Some("") => return Err(invalid("name", "is empty")),
        Some(given) => given.to_string(),
        None => name.clone().unwrap_or_else(|| derived_name(&command)),
    };
    let fleet = fleet_ledger_settings(
        merged.ledger_url.as_deref(),
        merged.fleet_ledger,
        lock.as_ref(),
        lock_ttl,
        &mut secrets,
    )?;
    // The variables are set crontab-wide, as the README has it: a line's --no-ledger turns the fleet's
    // record off as well as its own, and the command still runs; --after still reads the fleet's.
    let after_engine = fleet.as_ref().map(|f| f.engine.clone());
    let fleet_ledger = fleet.filter(|_| !merged.no_ledger.unwrap_or(false));
    // A host with no state directory (said in a warning) still records its runs in the fleet ledger.
    let ledger = ledger.filter(|l| l.state_dir.is_some() || fleet_ledger.is_some());
    let host_id = match merged.host_id.as_deref().map(str::trim) {
        Some("") => return Err(invalid("host_id", "is empty")),
        Some(given) => given.to_string(),
        None => crate::monitor::host_name(),
    };
    let after = after(
        &merged.after,
        merged.after_within,
        merged.after_wait,
        &job_name,
        merged.state_dir.clone(),
        after_engine,
    )?;
    let kill_after = merged
        .kill_after
        .map_or(DEFAULT_KILL_AFTER, units::Duration::get);
    let on_lock_lost = merged.on_lock_lost.unwrap_or_default();
    // The command must be dead before a lease it cannot renew expires: the grace after SIGTERM is cut to
    // fit. Said only when the grace was asked for: the defaults fit (a third of 30 s is 10 s).
    let lost_grace = crate::lock::fleet::lost_lease_grace(lock_ttl, kill_after);
    if matches!(lock, Some(Target::Fleet(_)))
        && on_lock_lost == OnLockLost::Kill
        && merged.kill_after.is_some()
        && lost_grace < kill_after
    {
        warnings.push(format!(
            "--kill-after {} does not fit in a third of --lock-ttl {}: a run whose lease cannot be renewed gets {} between SIGTERM and SIGKILL",
            humantime::format_duration(kill_after),
            humantime::format_duration(lock_ttl),
            humantime::format_duration(lost_grace)
        ));
    }
    let timeout = positive(merged.timeout);
    let jitter = positive(merged.jitter);
    let grace = match merged.grace.map(units::Duration::get) {
        Some(grace) if grace.is_zero() => {
            return Err(invalid("grace", "must be greater than zero"))
        }
        Some(grace) if grace > MAX_GRACE => {
            return Err(invalid("grace", "is too long (at most 365 days)"))
        }
        Some(grace) => grace,
        None => default_grace(jitter, timeout, kill_after, report_timeout),
    };
    let schedule = match (&merged.schedule, &merged.tz) {
        (Some(expr), tz) => {
            let zone = match tz {
                Some(name) => name.trim().parse().map_err(|_| {
                    invalid(
                        "tz",
                        format!(
                            "unknown time zone {name:?} (expected an IANA name such as Europe/Berlin)"
                        ),
                    )
                })?,
                None => {
                    let (zone, warning) = schedule::default_zone();
                    warnings.extend(warning);
                    zone
                }
            };
            let schedule = Schedule::new(expr, zone, grace).map_err(|e| invalid("schedule", e))?;
            // A calendar event's own zone and a different --tz cannot both hold: refused, not guessed.
            if let (Some(name), Some(own)) = (tz, schedule.own_zone()) {
                let given: Option<crate::zone::Zone> = name.trim().parse().ok();
                if given.as_ref() != Some(own) {
                    return Err(invalid(
                        "tz",
                        format!(
                            "{name:?} conflicts with the zone {own} the schedule names: give one of \
                             them"
                        ),
                    ));
                }
            }
            Some(schedule)
        }
        (None, Some(_)) => return Err(invalid("tz", "needs a schedule (--schedule)")),
        (None, None) => None,
    };
    let healthchecks = api_access(
        merged.hc_api_key.as_ref(),
        merged.hc_api_key_file.as_deref(),
        merged.hc_api_url.as_deref(),
        ["hc_api_key", "hc_api_key_file", "hc_api_url"],
    )?;
    let cronitor = api_access(
        merged.cronitor_api_key.as_ref(),
        merged.cronitor_api_key_file.as_deref(),
        merged.cronitor_api_url.as_deref(),
        [
            "cronitor_api_key",
            "cronitor_api_key_file",
            "cronitor_api_url",
        ],
    )?;
    for access in healthchecks.iter().chain(&cronitor) {
        secrets.key(access.key.expose());
        if let Some(url) = &access.url {
            secrets.api_url(url);
        }
    }
    let hygiene = hygiene.with_secrets(&secrets);
    let declared = schedule.as_ref().map(|schedule| monitor::Declared {
        schedule: schedule.clone(),
        max_runtime: timeout.map(|t| t + kill_after),
        healthchecks,
        cronitor,
    });
    let mut monitors = monitors;
    for protocol in &mut monitors {
        protocol
            .declare(declared.as_ref(), &mut warnings)
            .map_err(|e| invalid("ping", e))?;
    }
    Ok(Job {
        config_job: name,
        name: job_name,
        host_id,
        schedule,
        declared,
        command,
        timeout,
        kill_after,
        idle_timeout: positive(merged.idle_timeout),
        lock,
        overlap: merged.overlap.unwrap_or_default(),
        lock_wait: merged.lock_wait.map(units::Duration::get),
        lock_ttl,
        on_lock_lost,
        lock_unavailable: merged.lock_unavailable.unwrap_or_default(),
        jitter,
        jitter_seed: merged.jitter_seed.unwrap_or_default(),
        run_limits,
        rules: Rules {
            success_codes: merged.success_codes.map(|c| c.0).unwrap_or_default(),
            stderr_fails: merged.stderr_fails.unwrap_or(false),
            min_runtime: positive(merged.min_runtime),
        },
        tail,
        hygiene,
        quiet: merged.quiet.unwrap_or(false),
        monitors,
        start_ping: !merged.no_start_ping.unwrap_or(false),
        keepalive: positive(merged.keepalive),
        grace,
        delivery: RetryPolicy {
            timeout: ping_timeout,
            retries: merged.ping_retries.unwrap_or(DEFAULT_PING_RETRIES),
        },
        report_timeout,
        ledger,
        fail_after,
        retry,
        env_files,
        fleet_ledger,
        after,
        verbose: merged.verbose.unwrap_or(false),
        log_format: merged.log_format.unwrap_or_default(),
        origins,
        warnings,
    })
}

/// How late a run may start by default: a run due at D starts by D + jitter, is stopped by its start +
/// timeout + kill-after (an hour is allowed without a timeout), and its finish report is delivered
/// within the report timeout after that; a minute more for clocks and networks. So a run that starts on
/// time and ends within its timeout is reported before any monitor told this grace counts it missed,
/// even when its start ping was lost.
pub fn default_grace(
    jitter: Option<Duration>,
    timeout: Option<Duration>,
    kill_after: Duration,
    report_timeout: Duration,
) -> Duration {
    let run = timeout.map_or(DEFAULT_RUN_ALLOWANCE, |t| t + kill_after);
    (jitter.unwrap_or_default() + run + report_timeout + GRACE_MARGIN).min(MAX_GRACE)
}

/// `--after` and its options, checked: the names (a config file's `"a,b"` is split as the flag's value is),
/// each once and none the job's own; `--after-within` and `--after-wait` only with it. The ledger to read
/// is the state directory's, given or the default, even with `--no-ledger` (which only stops this job's
/// own records).
fn after(
    names: &[String],
    within: Option<units::Duration>,
    wait: Option<units::Duration>,
    job_name: &str,
    state_dir: Option<PathBuf>,
    fleet: Option<crate::lock::Engine>,
) -> Result<Option<crate::after::After>, Invalid> {
    let mut jobs: Vec<String> = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        if name.is_empty() {
            return Err(invalid("after", "names an empty job (JOB[,JOB...])"));
        }
        if name == job_name {
            return Err(invalid(
                "after",
                format!("names the job itself ({name}): a run cannot wait on its own success"),
            ));
        }
        if !jobs.iter().any(|j| j == name) {
            jobs.push(name.to_string());
        }
    }
    if jobs.is_empty() {
        for (key, set) in [
            ("after_within", within.is_some()),
            ("after_wait", wait.is_some()),
        ] {
            if set {
                return Err(invalid(key, "needs --after JOB"));
            }
        }
        return Ok(None);
    }
    let within = within.map(units::Duration::get);
    if within.is_some_and(|w| w.is_zero()) {
        return Err(invalid("after_within", "must be greater than zero"));
    }
    let state_dir = match state_dir {
        Some(dir) if dir.as_os_str().is_empty() => return Err(invalid("state_dir", "is empty")),
        Some(dir) => Some(dir),
        None => match ledger::default_state_dir() {
            Ok(dir) => Some(dir),
            Err(why) => {
                return Err(invalid(
                    "after",
                    format!("cannot read the jobs' runs: {why}"),
                ))
            }
        },
    };
    Ok(Some(crate::after::After {
        jobs,
        within,
        wait: wait.map(units::Duration::get).filter(|w| !w.is_zero()),
        state_dir,
        fleet,
    }))
}

/// A management API's access from a key (or a file holding it) and an address; none without a key.
/// Errors never show the key.
fn api_access(
    key: Option<&units::Secret>,
    file: Option<&std::path::Path>,
    url: Option<&str>,
    keys: [&'static str; 3],
) -> Result<Option<monitor::ApiAccess>, Invalid> {
    let url = match url.map(str::trim) {
        None => None,
        Some(text) => {
            let mut parsed = reqwest::Url::parse(text)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    invalid(
                        keys[2],
                        format!("{text:?} is not an http:// or https:// URL"),
                    )
                })?;
            if !parsed.path().ends_with('/') {
                let path = format!("{}/", parsed.path());
                parsed.set_path(&path);
            }
            Some(parsed)
        }
    };
    let key = match (key, file) {
        (Some(key), _) => {
            key.check().map_err(|e| invalid(keys[0], e))?;
            key.clone()
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(keys[1], format!("cannot read {}: {e}", path.display())))?;
            let key = units::Secret::new(&text);
            key.check()
                .map_err(|e| invalid(keys[1], format!("{}: the key {e}", path.display())))?;
            key
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(monitor::ApiAccess { key, url }))
}

/// `--retries`, `--retry-on` and `--retry-delay`; the last two say nothing without the first.
fn retry_policy(
    retries: Option<u32>,
    on: Option<crate::retry::RetryOn>,
    delay: Option<units::Duration>,
    warnings: &mut Vec<String>,
) -> Result<crate::retry::Policy, Invalid> {
    use crate::retry::{Policy, DEFAULT_RETRY_DELAY, MAX_RETRIES, MAX_RETRY_DELAY};
    let retries = retries.unwrap_or(0);
    if retries > MAX_RETRIES {
        return Err(invalid(
            "retries",
            format!("{retries} is too many (at most {MAX_RETRIES})"),
        ));
    }
    if retries == 0 {
        for (flag, set) in [
            ("--retry-on", on.is_some()),
            ("--retry-delay", delay.is_some()),
        ] {
            if set {
                warnings.push(format!("{flag} has no effect without --retries"));
            }
        }
    }
    let delay = delay.map_or(DEFAULT_RETRY_DELAY, units::Duration::get);
    if delay > MAX_RETRY_DELAY {
        return Err(invalid(
            "retry_delay",
            format!(
                "{} is too long (at most {})",
                humantime::format_duration(delay),
                humantime::format_duration(MAX_RETRY_DELAY)
            ),
        ));
    }
    Ok(Policy {
        retries,
        on: on.unwrap_or_default(),
        delay,
    })
}

/// The fleet ledger: `--ledger-url`'s engine, else with `--fleet-ledger` the fleet lock's. A run that
/// stops renewing its record counts as stuck after the lease: a fleet lock's TTL, else
/// `fleet_ledger::DEFAULT_LEASE`.
fn fleet_ledger_settings(
    url: Option<&str>,
    wanted: Option<bool>,
    lock: Option<&Target>,
    lock_ttl: Duration,
    secrets: &mut crate::secrets::Secrets,
) -> Result<Option<crate::fleet_ledger::Settings>, Invalid> {
    let url = url.map(str::trim);
    if url == Some("") {
        return Err(invalid("ledger_url", "is empty"));
    }
    let engine =
        match (url, wanted) {
            (_, Some(false)) | (None, None) => return Ok(None),
            (Some(url), _) => {
                let engine =
                    crate::fleet_ledger::engine_of(url).map_err(|e| invalid("ledger_url", e))?;
                secrets.engine(url, engine.password().as_deref());
                engine
            }
            (None, Some(true)) => match lock {
                Some(Target::Fleet(engine)) => engine.clone(),
                _ => return Err(invalid(
                    "fleet_ledger",
                    "needs a fleet lock (--lock redis://… or --lock postgres://…) or --ledger-url",
                )),
            },
        };
    let lease = match lock {
        Some(Target::Fleet(_)) => lock_ttl,
        _ => crate::fleet_ledger::DEFAULT_LEASE,
    };
    Ok(Some(crate::fleet_ledger::Settings { engine, lease }))
}

/// The ledger's settings and `--fail-after`. A ledger with nowhere to go (no `--state-dir`, no HOME) is a
/// warning, as one that cannot be written is: the run goes on unrecorded.
fn ledger_settings(
    state_dir: Option<PathBuf>,
    no_ledger: bool,
    keep_runs: Option<u32>,
    fail_after: Option<u32>,
    warnings: &mut Vec<String>,
) -> Result<(Option<ledger::Settings>, Option<u32>), Invalid> {
    let keep_runs = keep_runs.unwrap_or(ledger::DEFAULT_KEEP_RUNS as u32);
    if keep_runs == 0 {
        return Err(invalid("keep_runs", "must be at least 1"));
    }
    if keep_runs > MAX_KEEP_RUNS {
        return Err(invalid(
            "keep_runs",
            format!("{keep_runs} is too many (at most {MAX_KEEP_RUNS})"),
        ));
    }
    let fail_after = fail_after.unwrap_or(1);
    if fail_after == 0 {
        return Err(invalid("fail_after", "must be at least 1"));
    }
    if fail_after > MAX_FAIL_AFTER {
        return Err(invalid(
            "fail_after",
            format!("{fail_after} is too many (at most {MAX_FAIL_AFTER})"),
        ));
    }
    let fail_after = (fail_after > 1).then_some(fail_after);
    if no_ledger {
        if fail_after.is_some() {
            return Err(invalid(
                "fail_after",
                "counts failures in the ledger, which --no-ledger turns off",
            ));
        }
        return Ok((None, None));
    }
    let state_dir = match state_dir {
        Some(dir) if dir.as_os_str().is_empty() => return Err(invalid("state_dir", "is empty")),
        Some(dir) => dir,
        None => match ledger::default_state_dir() {
            Ok(dir) => dir,
            Err(why) => {
                let counted = match fail_after {
                    Some(_) => "; --fail-after reports every failure",
                    None => "",
                };
                warnings.push(format!("{why}{counted}"));
                return Ok((
                    Some(ledger::Settings {
                        state_dir: None,
                        keep_runs: keep_runs as usize,
                    }),
                    None,
                ));
            }
        },
    };
    Ok((
        Some(ledger::Settings {
            state_dir: Some(state_dir),
            keep_runs: keep_runs as usize,
        }),
        fail_after,
    ))
}

/// A job without a name: the program's file name and a short hash of the whole command line, so that
/// the same line on every host is the same job and two lines running one program are not.
fn derived_name(command: &[OsString]) -> String {
    let program = std::path::Path::new(&command[0])
        .file_name()
        .map_or_else(|| command[0].to_string_lossy(), |n| n.to_string_lossy())
        .into_owned();
    let mut hash: u32 = 0x811c_9dc5;
    for (i, arg) in command.iter().enumerate() {
        // A 0 byte between arguments: `a b` and `ab` are different command lines.
        if i > 0 {
            hash = hash.wrapping_mul(0x0100_0193);
        }
        for byte in arg.as_encoded_bytes() {
            hash = (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
        }
    }
    format!("{program}-{hash:08x}")
}

/// Every monitor of `ping` and the `ping_file`, parsed once; a bad one is blamed on the key that holds it.
fn monitors(
    pings: &[String],
    ping_file: Option<&std::path::Path>,
    webhook: Option<&WebhookConfig>,
    warnings: &mut Vec<String>,
    secrets: &mut Secrets,
) -> Result<Vec<Box<dyn Protocol>>, Invalid> {
    let mut monitors = Vec::new();
    for spec in pings {
        monitors.push(monitor::parse_with(spec, webhook).map_err(|e| invalid("ping", e))?);
        secrets.monitor(spec);
    }
    if let Some(path) = ping_file {
        let specs = read_ping_file(path).map_err(|e| invalid("ping_file", e))?;
        if specs.is_empty() {
            warnings.push(format!(
                "{}: the ping file names no monitor; this run is not monitored",
                path.display()
            ));
        }
        for (line, spec) in specs {
            let parsed = monitor::parse_with(&spec, webhook)
                .map_err(|e| invalid("ping_file", format!("{}:{line}: {e}", path.display())))?;
            monitors.push(parsed);
            secrets.monitor(&spec);
        }
    }
    Ok(monitors)
}

/// One monitor URL a line, with its line number; blank lines and `#` comments (a whole line, or after a
/// blank) are skipped. A URL with a blank inside is refused: it would be sent as `%20` and fail at run time.
fn read_ping_file(path: &std::path::Path) -> Result<Vec<(usize, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut specs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_number = i + 1;
        let uncommented = match line.find('#') {
            Some(0) => "",
            Some(at) if line[..at].ends_with(char::is_whitespace) => &line[..at],
            _ => line,
        };
        let spec = uncommented.trim();
        if spec.is_empty() {
            continue;
        }
        if spec.contains(char::is_whitespace) {
            return Err(format!(
                "{}:{line_number}: a monitor URL cannot contain blanks (one URL a line; a comment starts with #)",
                path.display()
            ));
        }
        specs.push((line_number, spec.to_string()));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("/etc/cronbeat.toml"), text.to_string()).unwrap()
    }

    fn given(layer: Layer, origins: &[(&'static str, Origin)]) -> Given {
        Given {
            layer,
            origins: Origins(origins.iter().cloned().collect()),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn precedence_and_origins() {
        let f = file(
            "[defaults]\ntimeout = \"30m\"\ntail = 100\n[jobs.a]\ncommand = [\"x\"]\ntimeout = \"1h\"\n",
        );
        let job = resolve(&Given::default(), Some(&f), Some("a"), vec![]).unwrap();
        assert_eq!(job.timeout, Some(Duration::from_secs(3600)));
        assert_eq!(job.tail, 100);
        assert_eq!(job.origins.of("timeout"), Some(&Origin::Job("a".into())));
        assert_eq!(job.origins.of("tail"), Some(&Origin::Defaults));
        assert_eq!(job.origins.of("quiet"), None);

        let cli = Layer {
            timeout: Some(units::parse_duration("5s").unwrap()),
            ..Layer::default()
        };
        let env = given(cli, &[("timeout", Origin::Env("CRONBEAT_TIMEOUT".into()))]);
        let job = resolve(&env, Some(&f), Some("a"), vec![]).unwrap();
        assert_eq!(job.timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            job.origins.of("timeout"),
            Some(&Origin::Env("CRONBEAT_TIMEOUT".into()))
        );
    }

    #[test]
    fn errors_name_the_source_of_the_value() {
        let f = file("[defaults]\nping_timeout = \"0s\"\n[jobs.a]\ncommand = [\"x\"]\n");
        let e = resolve(&Given::default(), Some(&f), Some("a"), vec![])
            .err()
            .unwrap();
        assert_eq!(
            e,
            "/etc/cronbeat.toml:2: defaults.ping_timeout: must be greater than zero"
        );
        let cli = Layer {
            ping_timeout: Some(units::parse_duration("0").unwrap()),
            ..Layer::default()
        };
        let flag = given(cli.clone(), &[("ping_timeout", Origin::Flag)]);
        let e = resolve(&flag, None, None, vec!["true".into()])
            .err()
            .unwrap();
        assert_eq!(e, "--ping-timeout: must be greater than zero");
        let env = given(
            cli,
            &[("ping_timeout", Origin::Env("CRONBEAT_PING_TIMEOUT".into()))],
        );
        let e = resolve(&env, None, None, vec!["true".into()])
            .err()
            .unwrap();
        assert_eq!(e, "CRONBEAT_PING_TIMEOUT: must be greater than zero");
        let e = resolve(&Given::default(), None, Some("a"), vec![])
            .err()
            .unwrap();
        assert!(e.starts_with("--job needs --config"), "{e}");
    }
}
