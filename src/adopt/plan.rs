//! The plan: for every job found, what adopt does with it (wrap, convert, nothing because it is already
//! wrapped, update a wrapping that drifted from its line, or leave it alone and why), and for every source
//! the text it would have. Nothing is written here.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::convert::{self, Found};
use super::crontab::{self, Entry, JobLine, When, MAX_COMMAND};
use super::names::{self, Names};
use super::rewrite::{self, Wrapping};
use super::sources::{Place, Source};
use super::timers::{self, Timer};
use super::words::lex;
use crate::config::{self, Given, Layer};
use crate::schedule::Schedule;
use crate::zone::Zone;

/// What adopt is told on the command line, for planning.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cronbeat binary new wrappings run.
    pub cronbeat: Vec<u8>,
    /// `--ping-template`: every adopted job's monitor, `{name}` replaced by its name (a secret).
    pub ping_template: Option<String>,
    /// Where each job's monitor URL is kept.
    pub ping_dir: PathBuf,
    /// The Cronitor API key a `cronitor exec` line's URL needs.
    pub cronitor_key: Option<String>,
}

/// What adopt does with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Wrap,
    /// Wrapped, its old wrapper's ping dropped (what was dropped).
    Convert(String),
    /// Already wrapped, in step with its line.
    Wrapped,
    /// Wrapped by adopt, but no longer as its line says (what differs): `--write` rewrites it.
    Update(String),
    /// Wrapped by hand, and it says something else than its line (what): to be fixed by hand.
    Drifted(String),
    /// Not touched, and why.
    LeftAlone(String),
}

impl Action {
    /// Whether `--check` counts it: the job is not wrapped as its line says.
    pub fn pending(&self) -> bool {
        matches!(
            self,
            Action::Wrap | Action::Convert(_) | Action::Update(_) | Action::Drifted(_)
        )
    }

    pub fn describe(&self) -> String {
        match self {
            Action::Wrap => "wrap".into(),
            Action::Convert(what) => format!("convert: {what} dropped, cronbeat reports instead"),
            Action::Wrapped => "already wrapped".into(),
            Action::Update(what) => format!("update: {what}"),
            Action::Drifted(what) => format!("drifted: {what} (fix by hand)"),
            Action::LeftAlone(why) => format!("left alone: {why}"),
        }
    }
}

/// One line of the plan: a job.
#[derive(Debug, Clone)]
pub struct Row {
    /// `/etc/crontab:17`, `crontab of alice:3`, `backup.timer`.
    pub at: String,
    pub user: String,
    pub schedule: String,
    pub name: Option<String>,
    pub action: Action,
    /// Said after the action: a monitor given, a note.
    pub notes: Vec<String>,
}

/// A source's new text, and the lines that change (before, after), for the journal.
#[derive(Debug, Clone)]
pub struct Change {
    pub place: Place,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub lines: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A job's monitor URL, kept in a file only the job's user reads.
#[derive(Debug, Clone)]
pub struct PingFile {
    pub path: PathBuf,
    /// A secret.
    pub url: String,
    pub user: String,
}

/// A job given a monitor, for `--provision`.
#[derive(Debug, Clone)]
pub struct Monitored {
    pub name: String,
    pub url: String,
    pub schedule: Option<String>,
    pub tz: Option<String>,
}

/// A job adopt wraps (or found wrapped as adopt wraps), with the schedule its line gives: what
/// `--provision` declares to the fleet ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub name: String,
    pub schedule: String,
    pub tz: Option<String>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub rows: Vec<Row>,
    pub changes: Vec<Change>,
    pub ping_files: Vec<PingFile>,
    pub monitored: Vec<Monitored>,
    pub scheduled: Vec<Scheduled>,
}

impl Plan {
    pub fn pending(&self) -> bool {
        self.rows.iter().any(|r| r.action.pending())
    }
}

/// The shells whose `-c` and single quotes the rewrite relies on.
const SHELLS: [&str; 10] = [
    "sh", "dash", "bash", "ksh", "mksh", "zsh", "ash", "busybox", "posh", "yash",
];

/// A crontab's variables, as of one line: each setting applies to the lines after it.
#[derive(Debug, Default)]
struct Env {
    vars: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Env {
    fn set(&mut self, name: &[u8], value: Vec<u8>) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_vec(), value));
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// What the line's settings give the wrapping: the shell, and the schedule's zone.
struct Context {
    shell: Vec<u8>,
    tz: Option<String>,
}

fn context(env: &Env) -> Result<Context, String> {
    if let Some((name, _)) = env.vars.iter().find(|(n, _)| n.starts_with(b"CRONBEAT_")) {
        return Err(format!(
            "{} is set in the crontab: cronbeat would read it as its own setting",
            String::from_utf8_lossy(name)
        ));
    }
    let shell = env.get("SHELL").unwrap_or(b"/bin/sh").to_vec();
    let shown = String::from_utf8_lossy(&shell).into_owned();
    if shell.contains(&b'$') {
        return Err(format!(
            "SHELL={shown}: cron does not expand variables, so which shell that is cannot be told"
        ));
    }
    if !shell.starts_with(b"/") {
        return Err(format!("SHELL={shown} is not an absolute path"));
    }
    if shell.contains(&b'%') {
        return Err(format!("SHELL={shown} holds a %, which cron would cut at"));
    }
    let path = Path::new(std::ffi::OsStr::from_bytes(&shell));
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let kind = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !SHELLS.contains(&kind.as_str()) {
        return Err(format!(
            "SHELL={shown}: not a POSIX shell whose quoting cronbeat relies on ({})",
            SHELLS.join(", ")
        ));
    }
    let tz = match env.text("CRON_TZ") {
        Some(tz) if tz.contains('$') => {
            return Err(format!(
                "CRON_TZ={tz}: cron does not expand variables, so the zone cannot be told"
            ))
        }
        Some(tz) => Some(tz),
        // A TZ for the commands does not move the daemon's clock: the schedule stays in the host's zone,
        // which cronbeat would otherwise take from TZ.
        None if env.get("TZ").is_some() => Some(host_zone()),
        None => None,
    };
    Ok(Context { shell, tz })
}

/// The zone the cron daemon keeps time in: the host's.
fn host_zone() -> String {
    let linked = std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| {
            let text = target.to_string_lossy().into_owned();
            let name = text.split("zoneinfo/").nth(1)?.to_string();
            name.parse::<Zone>().ok().map(|_| name)
        });
    let named = || {
        let name = std::fs::read_to_string("/etc/timezone").ok()?;
        let name = name.trim().to_string();
        name.parse::<Zone>().ok().map(|_| name)
    };
    linked
        .or_else(named)
        .unwrap_or_else(|| Zone::utc().name().to_string())
}

/// Whether cronbeat takes the wrapped line's options, as the run itself will check them: a line it
/// would refuse would no longer run its command.
fn check(wrapping: &Wrapping, text: &[u8]) -> Result<(), String> {
    let layer = Layer {
        name: Some(wrapping.name.clone()),
        schedule: wrapping.schedule.clone(),
        tz: wrapping.tz.clone(),
        no_ledger: Some(true),
        ..Layer::default()
    };
    let command = vec![
        OsString::from_vec(wrapping.shell.clone()),
        OsString::from("-c"),
        OsString::from_vec(text.to_vec()),
    ];
    let given = Given {
        layer,
        ..Given::default()
    };
    config::resolve(&given, None, None, command).map(|_| ())
}

/// A line wrapped by hand: its `--name` and `--schedule`, when it has them as plain words.
struct ByHand {
    name: Option<String>,
    schedule: Option<String>,
}

fn by_hand(command: &[u8]) -> Option<ByHand> {
    let (text, _) = crontab::as_run(crontab::split_stdin(command).0);
    let tokens = lex(&text).ok()?;
    let words: Vec<Option<String>> = tokens
        .iter()
        .map(|t| t.literal().map(|v| String::from_utf8_lossy(v).into_owned()))
        .collect();
    let at = words.iter().position(|w| {
        w.as_deref()
            .is_some_and(|w| rewrite::is_cronbeat(w.as_bytes()))
    })?;
    let mut found = ByHand {
        name: None,
        schedule: None,
    };
    let rest = &words[at + 1..];
    for (i, word) in rest.iter().enumerate() {
        let Some(word) = word else { continue };
        if word == "--" {
            break;
        }
        for (flag, slot) in [
            ("--name", &mut found.name),
            ("--schedule", &mut found.schedule),
        ] {
            if word == flag {
                *slot = rest.get(i + 1).cloned().flatten();
            } else if let Some(value) = word.strip_prefix(&format!("{flag}=")) {
                *slot = Some(value.to_string());
            }
        }
    }
    Some(found)
}

/// The plan for `sources` and `timers`.
pub fn plan(sources: &[Source], timers: &[Timer], options: &Options) -> Plan {
    let mut names = Names::default();
    // The names already written come first, so that a second run gives every job the name it has.
    for source in sources {
        let (lines, _) = crontab::lines(&source.text);
        for line in lines {
            if let Entry::Job(job) = crontab::parse_line(line, source.place.format()) {
                if let Some(back) = rewrite::unwrap(job.command) {
                    names.reserve(&back.wrapping.name);
                } else if let Some(name) = by_hand(job.command).and_then(|b| b.name) {
                    names.reserve(&name);
                }
            }
        }
    }
    for timer in timers {
        for name in drop_in_names(timer) {
            names.reserve(&name);
        }
    }
    let mut plan = Plan::default();
    for source in sources {
        plan_crontab(&mut plan, source, &mut names, options);
    }
    for timer in timers {
        plan_timer(&mut plan, timer, &mut names, options);
    }
    plan
}

fn plan_crontab(plan: &mut Plan, source: &Source, names: &mut Names, options: &Options) {
    let (lines, ends_in_newline) = crontab::lines(&source.text);
    let mut env = Env::default();
    let mut after: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
    let mut changed = Vec::new();
    let label = source.place.label();
    for (index, line) in lines.iter().enumerate() {
        let at = format!("{label}:{}", index + 1);
        match crontab::parse_line(line, source.place.format()) {
            Entry::Blank | Entry::Comment => {}
            Entry::Env { name, value } => env.set(name, value),
            Entry::Rejected(reason) => plan.rows.push(Row {
                at,
                user: source.place.user().to_string(),
                schedule: "-".into(),
                name: None,
                action: Action::LeftAlone(format!(
                    "cron rejects this line ({reason}); Debian's cron ignores the whole crontab for it"
                )),
                notes: Vec::new(),
            }),
            Entry::Job(job) => {
                let last_unended = index + 1 == lines.len() && !ends_in_newline;
                let (row, new_command, monitor) =
                    plan_job(&job, &env, &source.place, last_unended, names, options);
                let declared = matches!(
                    row.action,
                    Action::Wrap | Action::Convert(_) | Action::Wrapped | Action::Update(_)
                );
                // The line as it runs once adopted: its wrapping says the job's name and schedule.
                let wrapped = rewrite::unwrap(new_command.as_deref().unwrap_or(job.command));
                if let Some(wrapping) = wrapped.filter(|_| declared).map(|w| w.wrapping) {
                    if let Some(schedule) = wrapping.schedule {
                        plan.scheduled.push(Scheduled {
                            name: wrapping.name,
                            schedule,
                            tz: wrapping.tz,
                        });
                    }
                }
                plan.rows.push(Row { at, ..row });
                if let Some(command) = new_command {
                    let mut new_line = job.head.to_vec();
                    new_line.extend_from_slice(&command);
                    if new_line != *line {
                        changed.push((line.to_vec(), new_line.clone()));
                        after[index] = new_line;
                    }
                }
                if let Some((ping_file, monitored)) = monitor {
                    plan.ping_files.push(ping_file);
                    plan.monitored.push(monitored);
                }
            }
        }
    }
    if !changed.is_empty() {
        plan.changes.push(Change {
            place: source.place.clone(),
            before: source.text.clone(),
            after: crontab::join(&after, ends_in_newline),
            lines: changed,
        });
    }
}

type Planned = (Row, Option<Vec<u8>>, Option<(PingFile, Monitored)>);

fn plan_job(
    job: &JobLine<'_>,
    env: &Env,
    place: &Place,
    last_unended: bool,
    names: &mut Names,
    options: &Options,
) -> Planned {
    let user = job.user.clone().unwrap_or_else(|| place.user().to_string());
    let schedule = match &job.when {
        When::Reboot => "@reboot".to_string(),
        When::Schedule(s) => s.clone(),
    };
    let mut row = Row {
        at: String::new(),
        user: user.clone(),
        schedule: schedule.clone(),
        name: None,
        action: Action::Wrap,
        notes: Vec::new(),
    };
    let alone = |mut row: Row, why: String| {
        row.action = Action::LeftAlone(why);
        (row, None, None)
    };
    if job.when == When::Reboot {
        return alone(
            row,
            "@reboot has no schedule: cronbeat could not tell when it is due".into(),
        );
    }
    if last_unended {
        return alone(
            row,
            "the last line has no newline: cron does not read it whole".into(),
        );
    }
    let (command, stdin) = crontab::split_stdin(job.command);

    if let Some(back) = rewrite::unwrap(job.command) {
        row.name = Some(back.wrapping.name.clone());
        let context = match context(env) {
            Ok(context) => context,
            Err(why) => {
                row.action = Action::Drifted(why);
                return (row, None, None);
            }
        };
        let mut wanted = Wrapping {
            schedule: Some(schedule.clone()),
            tz: context.tz,
            shell: context.shell,
            ..back.wrapping.clone()
        };
        let mut monitor = None;
        if wanted.ping_file.is_none() {
            if let Some(template) = &options.ping_template {
                let url = template.replace("{name}", &wanted.name);
                let path = options.ping_dir.join(&wanted.name);
                wanted.ping_file = Some(path.as_os_str().as_bytes().to_vec());
                row.notes.push(format!(
                    "monitor {} (in {})",
                    crate::monitor::redact(&url),
                    path.display()
                ));
                monitor = Some((
                    PingFile {
                        path,
                        url: url.clone(),
                        user: user.clone(),
                    },
                    Monitored {
                        name: wanted.name.clone(),
                        url,
                        schedule: wanted.schedule.clone(),
                        tz: wanted.tz.clone(),
                    },
                ));
            }
        }
        if wanted == back.wrapping {
            row.action = Action::Wrapped;
            return (row, None, None);
        }
        let (text, _) = crontab::as_run(&back.command);
        if let Err(e) = check(&wanted, &text) {
            row.action = Action::Drifted(format!("cronbeat would not take the update: {e}"));
            return (row, None, None);
        }
        row.action = Action::Update(differences(&back.wrapping, &wanted));
        let new_command = rewrite::wrap(&wanted, &back.command, &back.stdin);
        return (row, Some(new_command), monitor);
    }

    if let Some(hand) = by_hand(job.command) {
        row.name = hand.name;
        row.action = match hand.schedule {
            Some(theirs) => {
                let same =
                    Schedule::new(&schedule, Zone::utc(), std::time::Duration::from_secs(60))
                        .is_ok_and(|s| s.same_times(&theirs));
                if same {
                    Action::Wrapped
                } else {
                    Action::Drifted(format!(
                        "--schedule '{theirs}', but the line is due at '{schedule}'"
                    ))
                }
            }
            None => {
                row.notes
                    .push("no --schedule: cronbeat status cannot tell when it is overdue".into());
                Action::Wrapped
            }
        };
        return (row, None, None);
    }

    let context = match context(env) {
        Ok(context) => context,
        Err(why) => return alone(row, why),
    };
    if command.iter().all(|b| b.is_ascii_whitespace()) {
        return alone(row, "no command before the % that starts its input".into());
    }
    let found = convert::convert(
        command,
        &|var| env.text(var),
        options.cronitor_key.as_deref(),
    );
    let (inner, mut url, hint) = match found {
        Found::Converted(converted) => {
            row.action = Action::Convert(converted.dropped);
            (converted.command, Some(converted.monitor), converted.name)
        }
        Found::Kept(why) => {
            row.notes.push(why);
            (command.to_vec(), None, None)
        }
        Found::Nothing => (command.to_vec(), None, None),
    };
    let (text, _) = crontab::as_run(&inner);
    let name = names.claim(&names::derive(&text, &user, hint.as_deref()));
    row.name = Some(name.clone());
    if url.is_none() {
        url = options
            .ping_template
            .as_ref()
            .map(|t| t.replace("{name}", &name));
    }
    let ping_file = url.as_ref().map(|_| options.ping_dir.join(&name));
    let wrapping = Wrapping {
        cronbeat: options.cronbeat.clone(),
        name: name.clone(),
        schedule: Some(schedule.clone()),
        tz: context.tz,
        ping_file: ping_file
            .as_ref()
            .map(|p| p.as_os_str().as_bytes().to_vec()),
        shell: context.shell,
    };
    if let Err(e) = check(&wrapping, &text) {
        row.name = None;
        return alone(row, format!("cronbeat would not take it: {e}"));
    }
    if let Some(url) = &url {
        if let Err(e) = crate::monitor::parse(url) {
            row.name = None;
            return alone(
                row,
                format!("its monitor {}: {e}", crate::monitor::redact(url)),
            );
        }
    }
    let new_command = rewrite::wrap(&wrapping, &inner, stdin);
    if new_command.len() > MAX_COMMAND {
        row.name = None;
        return alone(
            row,
            format!(
                "wrapped, the command would be {} bytes, over Debian cron's {MAX_COMMAND}",
                new_command.len()
            ),
        );
    }
    let monitor = match (url, ping_file) {
        (Some(url), Some(path)) => {
            row.notes.push(format!(
                "monitor {} (in {})",
                crate::monitor::redact(&url),
                path.display()
            ));
            Some((
                PingFile {
                    path,
                    url: url.clone(),
                    user,
                },
                Monitored {
                    name,
                    url,
                    schedule: wrapping.schedule.clone(),
                    tz: wrapping.tz.clone(),
                },
            ))
        }
        _ => None,
    };
    (row, Some(new_command), monitor)
}

/// What changed between the wrapping a line has and the one its line now asks for.
fn differences(had: &Wrapping, wanted: &Wrapping) -> String {
    let mut what = Vec::new();
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if had.schedule != wanted.schedule {
        what.push(format!(
            "schedule '{}' is now '{}'",
            shown(&had.schedule),
            shown(&wanted.schedule)
        ));
    }
    if had.tz != wanted.tz {
        what.push(format!(
            "zone {} is now {}",
            shown(&had.tz),
            shown(&wanted.tz)
        ));
    }
    if had.shell != wanted.shell {
        what.push(format!(
            "shell {} is now {}",
            String::from_utf8_lossy(&had.shell),
            String::from_utf8_lossy(&wanted.shell)
        ));
    }
    if had.ping_file != wanted.ping_file {
        what.push("a monitor is added".into());
    }
    what.join(", ")
}

/// The `--name` values of cronbeat's drop-in for a timer, in order.
fn drop_in_names(timer: &Timer) -> Vec<String> {
    let Some(text) = &timer.current else {
        return Vec::new();
    };
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .filter_map(|l| {
            let rest = l.split_once(" --name ")?.1;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

fn plan_timer(plan: &mut Plan, timer: &Timer, names: &mut Names, options: &Options) {
    let user = timer.user.clone().unwrap_or_else(|| "root".into());
    let mut row = Row {
        at: timer.name.clone(),
        user: user.clone(),
        schedule: if timer.calendars.is_empty() {
            timer.monotonic.join(" ")
        } else {
            timer.calendars.join("; ")
        },
        name: None,
        action: Action::Wrap,
        notes: Vec::new(),
    };
    if row.schedule.is_empty() {
        row.schedule = "-".into();
    }
    let reason = if !timer.enabled {
        Some("not enabled".to_string())
    } else if timer.service_path.is_none() {
        Some(format!("no unit file for {}", timer.service))
    } else if timer.exec_start.is_empty() {
        Some(format!("{} has no ExecStart=", timer.service))
    } else {
        None
    };
    if let Some(reason) = reason {
        row.action = Action::LeftAlone(reason);
        plan.rows.push(row);
        return;
    }
    if timer.exec_start.iter().any(|e| timers::runs_cronbeat(e)) {
        row.action = Action::Wrapped;
        plan.rows.push(row);
        return;
    }
    let existing = drop_in_names(timer);
    let base = names::sanitize(timer.name.trim_end_matches(".timer"));
    let job_names: Vec<String> = (0..timer.exec_start.len())
        .map(|i| match existing.get(i) {
            Some(name) => name.clone(),
            None => names.claim(if base.is_empty() { "timer" } else { &base }),
        })
        .collect();
    row.name = Some(job_names.join(", "));
    let schedule = match timer.calendars.as_slice() {
        [one] => Some(one.as_str()),
        [] => {
            row.notes.push(format!(
                "a monotonic timer ({}): wrapped without a schedule",
                timer.monotonic.join(" ")
            ));
            None
        }
        more => {
            row.notes.push(format!(
                "{} OnCalendar= expressions: wrapped without a schedule",
                more.len()
            ));
            None
        }
    };
    // A calendar event cronbeat cannot follow would make the wrapped service refuse to start: such a
    // timer is wrapped without a schedule, and the plan says why.
    let schedule = match schedule.map(|expr| (expr, calendar_refusal(expr))) {
        Some((expr, Some(why))) => {
            row.notes.push(format!(
                "OnCalendar={expr} is not one cronbeat can follow ({why}): wrapped without a schedule"
            ));
            None
        }
        other => other.map(|(expr, _)| expr),
    };
    let url = options
        .ping_template
        .as_ref()
        .map(|t| t.replace("{name}", &job_names[0]));
    let ping_file = url.as_ref().map(|_| options.ping_dir.join(&job_names[0]));
    let text = match timers::drop_in(
        timer,
        &job_names,
        schedule,
        &String::from_utf8_lossy(&options.cronbeat),
        ping_file.as_deref(),
    ) {
        Ok(text) => text,
        Err(why) => {
            row.name = None;
            row.action = Action::LeftAlone(why);
            plan.rows.push(row);
            return;
        }
    };
    row.action = match &timer.current {
        Some(current) if *current == text => Action::Wrapped,
        Some(_) => Action::Update("the drop-in no longer matches the service and its timer".into()),
        None => Action::Wrap,
    };
    if let Some(schedule) = schedule {
        for name in &job_names {
            plan.scheduled.push(Scheduled {
                name: name.clone(),
                schedule: schedule.to_string(),
                tz: None,
            });
        }
    }
    if row.action != Action::Wrapped {
        if let (Some(url), Some(path)) = (url, ping_file) {
            row.notes.push(format!(
                "monitor {} (in {})",
                crate::monitor::redact(&url),
                path.display()
            ));
            plan.ping_files.push(PingFile {
                path,
                url: url.clone(),
                user: user.clone(),
            });
            plan.monitored.push(Monitored {
                name: job_names[0].clone(),
                url,
                schedule: schedule.map(str::to_string),
                tz: None,
            });
        }
        plan.changes.push(Change {
            place: Place::DropIn {
                path: timer.drop_in.clone(),
                timer: timer.name.clone(),
            },
            before: timer.current.clone().unwrap_or_default(),
            after: text,
            lines: Vec::new(),
        });
    }
    plan.rows.push(row);
}

/// Why cronbeat would refuse `expr` as a `--schedule`, if it would.
fn calendar_refusal(expr: &str) -> Option<String> {
    let (zone, _) = crate::schedule::default_zone();
    crate::schedule::Schedule::new(expr, zone, std::time::Duration::from_secs(60)).err()
}
