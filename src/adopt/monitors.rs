//! Monitors for adopted jobs. A job's monitor URL is a secret, so it is never written into a crontab (nor
//! into `/etc/cron.d`, which everyone may read) but into a file of its own that only the job's user reads
//! (mode 0600), named by `--ping-file` in the wrapped line. With `--provision`, each monitor that holds
//! a schedule is created or brought in step at adopt time, through the schedule push `cronbeat check
//! --ping --fix` uses, so a job that never runs again is still caught.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::plan::{Monitored, PingFile, Scheduled};
use crate::config::{self, Given, Layer};
use crate::monitor::{self, Found, Holds, Synced, KINDS};

/// Where monitor URLs are kept when `--ping-dir` is not given: `/etc/cronbeat/ping` for root, else
/// `$XDG_CONFIG_HOME/cronbeat/ping`, else `~/.config/cronbeat/ping`.
pub fn default_ping_dir() -> Result<PathBuf, String> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/etc/cronbeat/ping"));
    }
    let set = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(config) = set("XDG_CONFIG_HOME") {
        return Ok(config.join("cronbeat/ping"));
    }
    set("HOME")
        .map(|home| home.join(".config/cronbeat/ping"))
        .ok_or_else(|| "no directory for monitor URLs: HOME is not set (give --ping-dir)".into())
}

/// Writes a job's monitor URL into its file (0600, the job's user's). `Ok(false)` when it already holds it.
pub fn write_ping_file(file: &PingFile) -> Result<bool, String> {
    let content = format!("{}\n", file.url);
    if std::fs::read(&file.path).is_ok_and(|held| held == content.as_bytes()) {
        return Ok(false);
    }
    let dir = file
        .path
        .parent()
        .ok_or_else(|| format!("{}: no directory", file.path.display()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let user = nix::unistd::User::from_name(&file.user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("{}: no such user {:?}", file.path.display(), file.user))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".cronbeat-adopt.")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", file.path.display());
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(failed)?;
    if nix::unistd::geteuid().is_root() {
        nix::unistd::fchown(temp.as_file(), Some(user.uid), Some(user.gid))
            .map_err(|e| format!("cannot give {} to {}: {e}", file.path.display(), file.user))?;
    }
    temp.write_all(content.as_bytes()).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(&file.path)
        .map_err(|e| format!("cannot write {}: {}", file.path.display(), e.error))?;
    Ok(true)
}

/// The API keys `--provision` uses, as a run takes them.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub layer: Layer,
}

impl Keys {
    pub fn any(&self) -> bool {
        let l = &self.layer;
        l.hc_api_key.is_some()
            || l.hc_api_key_file.is_some()
            || l.cronitor_api_key.is_some()
            || l.cronitor_api_key_file.is_some()
    }
}

/// Creates or updates each job's monitor with its schedule, zone and grace. One line per job.
pub fn provision(jobs: &[Monitored], keys: &Keys) -> Vec<Result<String, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| scope.spawn(move || provision_one(job, keys)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("provisioning failed".into()))
            })
            .collect()
    })
}

fn provision_one(job: &Monitored, keys: &Keys) -> Result<String, String> {
    let head = format!("{}: {}", job.name, monitor::redact(&job.url));
    let layer = Layer {
        name: Some(job.name.clone()),
        ping: vec![job.url.clone()],
        schedule: job.schedule.clone(),
        tz: job.tz.clone(),
        no_ledger: Some(true),
        ..keys.layer.clone()
    };
    let given = Given {
        layer,
        ..Given::default()
    };
    let resolved = config::resolve(&given, None, None, vec!["true".into()])
        .map_err(|e| format!("{head}: not provisioned: {e}"))?;
    let Some(schedule) = &resolved.schedule else {
        return Ok(format!("{head}: not provisioned: the job has no schedule"));
    };
    let plans: Vec<_> = resolved
        .monitors
        .iter()
        .filter_map(|m| m.sync_plan())
        .collect();
    if plans.is_empty() {
        let kind = resolved
            .monitors
            .first()
            .map(|m| m.kind())
            .unwrap_or_default();
        let holds = KINDS.iter().find(|k| k.name == kind).map(|k| &k.holds);
        return Ok(match holds {
            Some(Holds::CheckIns) => {
                format!("{head}: told the schedule with each check-in, from the job's first run")
            }
            Some(Holds::Api(option)) => {
                format!(
                    "{head}: not provisioned: no API key ({option}) or no check named by the URL"
                )
            }
            _ => format!("{head}: not provisioned: a {kind} monitor holds no schedule"),
        });
    }
    let checks = monitor::check_schedules(plans, resolved.delivery, true);
    let mut said = Vec::new();
    for check in checks {
        match (check.found, check.fixed) {
            (Err(e), _) | (Ok(_), Some(Err(e))) => {
                return Err(format!("{head}: not provisioned: {e}"))
            }
            (Ok(Found::InStep), _) | (Ok(_), Some(Ok(Synced::InStep))) => {
                said.push("in step".to_string())
            }
            (Ok(_), Some(Ok(Synced::Created))) => said.push(format!(
                "created with schedule {:?} in {}",
                schedule.expression(),
                schedule.tz.name()
            )),
            (Ok(_), Some(Ok(Synced::Written(differences)))) => said.push(format!(
                "updated: {}",
                differences
                    .iter()
                    .map(|d| d.written())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (Ok(_), None) => said.push("not written".into()),
        }
    }
    Ok(format!("{head}: {}", said.join("; ")))
}

/// Declares each job's schedule, zone and grace to the fleet ledger on `engine`, as the wrapped line
/// resolves them (the zone: the line's `CRON_TZ`, else the host's; the grace: the default). One line per
/// job; the host is `CRONBEAT_HOST_ID`, else the host name, as a run's.
pub fn declare(jobs: &[Scheduled], engine: &crate::lock::Engine) -> Vec<Result<String, String>> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let store = match crate::fleet_ledger::Store::open(engine) {
        Ok(store) => store,
        Err(e) => return vec![Err(format!("not declared to the fleet ledger: {e}"))],
    };
    let host = std::env::var("CRONBEAT_HOST_ID")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(crate::monitor::host_name);
    jobs.iter()
        .map(|job| {
            let layer = Layer {
                name: Some(job.name.clone()),
                schedule: Some(job.schedule.clone()),
                tz: job.tz.clone(),
                no_ledger: Some(true),
                ..Layer::default()
            };
            let given = Given {
                layer,
                ..Given::default()
            };
            let resolved = config::resolve(&given, None, None, vec!["true".into()])
                .map_err(|e| format!("{}: not declared: {e}", job.name))?;
            let schedule = resolved.schedule.as_ref().expect("a schedule was given");
            crate::declare::declare(
                &store,
                &crate::declare::Job {
                    name: &job.name,
                    schedule,
                    host: &host,
                },
            )
        })
        .collect()
}

/// Whether `path` may be written in a crontab line: cron would cut at a `%`.
pub fn usable_in_a_line(path: &Path) -> bool {
    !path.as_os_str().as_encoded_bytes().contains(&b'%')
}
