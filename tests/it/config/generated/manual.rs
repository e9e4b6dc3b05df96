//! The man page: clap_mangen renders what the clap definition knows (name, synopsis, description, options);
//! the sections an operator looks for next (check mode, next due times, schedules, config file, environment,
//! exit status, signals, monitors, examples) are written here with roff, partly generated from the same definition so they cannot
//! drift from it (the option list of `check`, every config key, every environment variable).

use clap::{Arg, ArgAction, Command};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

use crate::harness::library;

/// The rendered page. Nothing in it depends on the build (no date, no long version), so a fresh checkout
/// regenerates it byte for byte.
pub fn render() -> Vec<u8> {
    let cmd = library::command().long_version(None);
    let man = Man::new(cmd.clone())
        .date("")
        .manual("User Commands")
        .source(format!(
            "cronbeat {}",
            cmd.get_version().unwrap_or_default()
        ));
    let mut page = Page::default();
    page.add(|w| title(w, &cmd));
    page.add(|w| man.render_name_section(w));
    page.roff(synopsis(&cmd));
    page.roff(synopsis_of_check());
    page.roff(synopsis_of_next());
    page.roff(synopsis_of_ledger(&cmd));
    page.add(|w| man.render_description_section(w));
    page.add(|w| man.render_options_section(w));
    page.roff(check_section(&cmd));
    page.roff(next_section(&cmd));
    page.roff(schedules_section());
    page.roff(ledger_section(&cmd));
    page.roff(config_file_section(&cmd));
    page.roff(environment_section(&cmd));
    page.roff(exit_status_section());
    page.roff(signals_section());
    page.roff(heartbeats_section());
    page.roff(monitor_kinds_section());
    page.roff(examples_section());
    page.roff(see_also_section());
    page.0
}

/// Sections rendered one by one; each rendering starts with the same apostrophe preamble, kept only once.
#[derive(Default)]
struct Page(Vec<u8>);

impl Page {
    fn add(&mut self, render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) {
        let mut chunk = Vec::new();
        render(&mut chunk).expect("rendering to memory");
        let preamble = Roff::new().render();
        if !self.0.is_empty() {
            if let Some(rest) = chunk.strip_prefix(preamble.as_bytes()) {
                chunk = rest.to_vec();
            }
        }
        self.0.extend(chunk);
    }

    fn roff(&mut self, roff: Roff) {
        self.add(|w| roff.to_writer(w));
    }
}

fn section(title: &str) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", [title]);
    roff
}

fn paragraph(roff: &mut Roff, text: impl Into<Vec<Inline>>) {
    roff.control("PP", []);
    roff.text(text);
}

/// A `.TP` item: a bold term, then its description.
fn item(roff: &mut Roff, term: Vec<Inline>, text: &str) {
    roff.control("TP", []);
    roff.text(term);
    roff.text([roman(text)]);
}

/// A block shown as written (commands, files), indented.
fn example(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    roff.text([roman(text.trim_matches('\n'))]);
    roff.control("fi", []);
    roff.control("RE", []);
}

fn help_of(arg: &Arg) -> String {
    arg.get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string().replace('\n', " "))
        .unwrap_or_default()
}

fn is_flag(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

/// `.TH` with every field, the date left empty but present: clap_mangen drops an empty date, which moves
/// the source into the date's place and leaves man(1) to print "General Commands Manual".
/// (The roff writer drops an empty argument too, hence the line written by hand.)
fn title(w: &mut dyn std::io::Write, cmd: &Command) -> std::io::Result<()> {
    w.write_all(Roff::new().render().as_bytes())?;
    let source = format!("cronbeat {}", cmd.get_version().unwrap_or_default());
    writeln!(w, ".TH CRONBEAT 1 \"\" \"{source}\" \"User Commands\"")
}

/// The run's synopsis: every option with its value, then `--` and the command, as it must be typed.
fn synopsis(cmd: &Command) -> Roff {
    let mut roff = section("SYNOPSIS");
    let mut line = vec![bold("cronbeat")];
    for arg in cmd.get_arguments().filter(|a| a.get_long().is_some()) {
        let long = format!("--{}", arg.get_long().unwrap_or_default());
        if matches!(long.as_str(), "--help" | "--version") {
            continue;
        }
        line.push(roman(" ["));
        if let Some(short) = arg.get_short() {
            line.push(bold(format!("-{short}")));
            line.push(roman("|"));
        }
        line.push(bold(long));
        if !is_flag(arg) {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| "VALUE".to_string());
            line.push(roman(" "));
            line.push(italic(value));
        }
        line.push(roman("]"));
    }
    line.extend([
        roman(" "),
        bold("--"),
        roman(" "),
        italic("COMMAND"),
        roman(" ["),
        italic("ARGS"),
        roman("]..."),
    ]);
    roff.text(line);
    roff
}

fn synopsis_of_check() -> Roff {
    let mut roff = Roff::new();
    roff.control("br", []);
    roff.text([
        bold("cronbeat check"),
        roman(" "),
        bold("--config"),
        roman(" "),
        italic("PATH"),
        roman(" ["),
        bold("--job"),
        roman(" "),
        italic("NAME"),
        roman("] ["),
        bold("--ping"),
        roman(" ["),
        bold("--fix"),
        roman("]]"),
    ]);
    roff
}

fn synopsis_of_next() -> Roff {
    let mut roff = Roff::new();
    roff.control("br", []);
    roff.text([
        bold("cronbeat next"),
        roman(" ["),
        bold("--config"),
        roman(" "),
        italic("PATH"),
        roman(" "),
        bold("--job"),
        roman(" "),
        italic("NAME"),
        roman(" | "),
        bold("--schedule"),
        roman(" "),
        italic("EXPR"),
        roman(" ["),
        bold("--tz"),
        roman(" "),
        italic("ZONE"),
        roman("]] ["),
        bold("-n"),
        roman(" "),
        italic("N"),
        roman("] ["),
        bold("--after"),
        roman(" "),
        italic("TIME"),
        roman("]"),
    ]);
    roff
}

/// The commands that read the ledger, each with its options, from their clap definitions.
const LEDGER_COMMANDS: [&str; 4] = ["status", "history", "last-output", "metrics"];

fn synopsis_of_ledger(cmd: &Command) -> Roff {
    let mut roff = Roff::new();
    for name in LEDGER_COMMANDS {
        let sub = subcommand(cmd, name);
        let mut line = vec![bold(format!("cronbeat {name}"))];
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| "VALUE".to_string());
            match arg.get_long() {
                Some("help") => continue,
                Some(long) => {
                    line.push(roman(" ["));
                    if let Some(short) = arg.get_short() {
                        line.push(bold(format!("-{short}")));
                        line.push(roman("|"));
                    }
                    line.push(bold(format!("--{long}")));
                    if !is_flag(arg) {
                        line.push(roman(" "));
                        line.push(italic(value));
                    }
                    line.push(roman("]"));
                }
                None if arg.is_required_set() => {
                    line.push(roman(" "));
                    line.push(italic(value));
                }
                None => {
                    line.push(roman(" ["));
                    line.push(italic(value));
                    line.push(roman("]..."));
                }
            }
        }
        roff.control("br", []);
        roff.text(line);
    }
    roff
}

fn subcommand<'a>(cmd: &'a Command, name: &str) -> &'a Command {
    cmd.get_subcommands()
        .find(|s| s.get_name() == name)
        .unwrap_or_else(|| panic!("the {name} subcommand"))
}

fn ledger_section(cmd: &Command) -> Roff {
    // Not "LEDGER": the options under that heading already have a section of that name.
    let mut roff = section("LEDGER COMMANDS");
    roff.text([roman(
        "Every run is recorded in the ledger under --state-dir (default /var/lib/cronbeat for root, else \
         $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat): run id, name, host, tick, start and end, \
         duration, outcome, exit status, the verdict, and for a failed run its output tail. --no-ledger turns \
         it off; --keep-runs bounds it per job; a ledger that cannot be written is one warning and never \
         changes the exit status or a ping. --fail-after N reports a failed run to the monitors as a failure \
         only from the Nth failure in a row; before that each monitor that has a neutral note (Healthchecks \
         /log, Cronitor's tick, the webhook's log event) gets one saying \"failure 1 of N\", and the others \
         hear nothing. Four commands read the ledger:",
    )]);
    for name in LEDGER_COMMANDS {
        let sub = subcommand(cmd, name);
        item(
            &mut roff,
            vec![bold(format!("cronbeat {name}"))],
            &sub.get_about().map(|a| a.to_string()).unwrap_or_default(),
        );
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let value = arg.get_value_names().map(|v| v.join(" "));
            let term = match arg.get_long() {
                Some("help") => continue,
                Some(long) => {
                    let mut term = vec![roman("    "), bold(format!("--{long}"))];
                    if let Some(v) = value.filter(|_| !is_flag(arg)) {
                        term.push(roman(" "));
                        term.push(italic(v));
                    }
                    term
                }
                None => vec![roman("    "), italic(value.unwrap_or_default())],
            };
            item(&mut roff, term, &help_of(arg));
        }
    }
    paragraph(
        &mut roff,
        [roman(
            "status --check prints one line (CRONBEAT OK, WARNING, CRITICAL or UNKNOWN) and exits 0, 1, 2 or 3 \
             as monitoring plugins do: WARNING for a job failing fewer times in a row than its --fail-after, \
             CRITICAL for one failing at or above it or overdue, UNKNOWN when nothing is recorded.",
        )],
    );
    roff
}

fn check_section(cmd: &Command) -> Roff {
    let check = cmd
        .get_subcommands()
        .find(|s| s.get_name() == "check")
        .expect("the check subcommand");
    let mut roff = section("CHECK");
    roff.text([
        bold("cronbeat check"),
        roman(
            " validates a config file without running anything: every job (or the one named) is resolved \
             exactly as a run would resolve it, environment included, and each valid job gets one line on \
             standard output. Any error is one line on standard error and the exit status is 2. With --ping \
             each job's monitors also get a harmless test message (a Healthchecks /log ping, which changes no \
             check's state) and one line each says whether it was reached; the exit status is 1 if one was \
             not. For a job with a schedule, --ping also reads the schedule, time zone and grace each monitor \
             holds (Healthchecks and Cronitor through their APIs) and prints a line on standard error per \
             value that is not the job's, exit status 1; --fix writes the job's values instead. Services that \
             hold only an interval are named with the setting to make by hand. It is the first thing to run \
             after editing the file.",
        ),
    ]);
    options_of(&mut roff, check);
    roff
}

fn next_section(cmd: &Command) -> Roff {
    let next = cmd
        .get_subcommands()
        .find(|s| s.get_name() == "next")
        .expect("the next subcommand");
    let mut roff = section("NEXT");
    roff.text([
        bold("cronbeat next"),
        roman(
            " prints the next due times of a job's schedule (the job resolved as its runs resolve it) or of \
             an expression, one RFC 3339 time with its zone's offset per line, as systemd-analyze calendar \
             shows a timer's. Errors are one line and exit status 2.",
        ),
    ]);
    options_of(&mut roff, next);
    roff
}

fn schedules_section() -> Roff {
    let mut roff = section("SCHEDULES");
    roff.text([
        bold("--schedule"),
        roman(" "),
        italic("EXPR"),
        roman(
            " declares when the job is due: five cron fields (minute hour day-of-month month day-of-week: \
             numbers, *, ranges, steps, lists, month and day names; day-of-week 0 and 7 are Sunday) or \
             @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, with Vixie cron's rules: when \
             both day fields are restricted a day matches either, and when either begins with * it must match \
             both. An invalid expression is one line naming the field and its position, exit status 2. ",
        ),
        bold("--tz"),
        roman(
            " names its IANA time zone (default TZ, else the host's zone, else UTC); the zone database is \
             built in.",
        ),
    ]);
    paragraph(
        &mut roff,
        [roman(
            "Daylight saving, as Debian's cron: a fixed-time job (neither the minute nor the hour field begins \
             with *) whose time is skipped is due once at the first instant after the skip, and in a repeated \
             hour once, the first time; a job with * in its minute or hour field follows the clock (none in a \
             skipped hour, both passes of a repeated one). A change of 3 hours or more is taken as a new time.",
        )],
    );
    paragraph(
        &mut roff,
        [
            roman("The tick of a run is the latest due time at or before cronbeat's start, if no older than "),
            bold("--grace"),
            roman(
                " (default --jitter + --timeout + --kill-after, or 1h without a timeout, + --report-timeout + \
                 1m: an on-time run that ends within its timeout never counts as missed). The command gets it \
                 as CRONBEAT_TICK; the JSON started event, webhook templates ({tick}, {name}) and the metrics \
                 (cronbeat_last_tick_timestamp_seconds, cronbeat_next_due_timestamp_seconds) carry it. A run \
                 off the schedule has none.",
            ),
        ],
    );
    paragraph(
        &mut roff,
        [
            roman("Monitors are told the schedule, time zone and grace: Healthchecks with "),
            bold("--hc-api-key"),
            roman(" through its Management API, Cronitor with "),
            bold("--cronitor-api-key"),
            roman(
                " through its monitors API (only a difference is written; a missing slug check or monitor is \
                 created), Sentry in monitor_config on every check-in. The calls run beside the command and \
                 never change its exit status; a refusal is one warning. API keys are secrets: give them from \
                 a file or the environment to keep them out of ps(1).",
            ),
        ],
    );
    roff
}

/// A subcommand's options, one item each.
fn options_of(roff: &mut Roff, sub: &Command) {
    for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" {
            continue;
        }
        let mut term = vec![bold(format!("--{long}"))];
        if let Some(short) = arg.get_short() {
            term.insert(0, bold(format!("-{short}, ")));
        }
        if let Some(names) = arg.get_value_names().filter(|_| !is_flag(arg)) {
            term.push(roman(" "));
            term.push(italic(names.join(" ")));
        }
        item(roff, term, &help_of(arg));
    }
}

/// The TOML type a key takes, from the value name its option uses.
fn toml_type(arg: &Arg) -> &'static str {
    if is_flag(arg) {
        return "boolean";
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.as_str())
        .unwrap_or("");
    match name {
        "DUR" => "duration string",
        "BYTES" => "integer or size string",
        "N" => "integer",
        "URL" if arg.get_id() == "ping" => "string or array of strings",
        "FORMAT" => "\"text\" or \"json\"",
        _ => "string",
    }
}

fn config_file_section(cmd: &Command) -> Roff {
    let mut roff = section("CONFIG FILE");
    roff.text([
        roman("With "),
        bold("--config"),
        roman(" "),
        italic("PATH"),
        roman(" (conventionally "),
        italic("/etc/cronbeat.toml"),
        roman(
            ") cronbeat reads a TOML file with an optional [defaults] table and named [jobs.NAME] tables. \
             ",
        ),
        bold("--job"),
        roman(" "),
        italic("NAME"),
        roman(
            " runs that job's command with its settings. A job's keys override [defaults]; environment \
             variables override both; the command line overrides everything. Durations are strings such as \
             \"90s\", \"5m\" or \"1h 30m\", or a bare number of seconds; a number may also be written as a \
             string (\"3\"), as on the command line. Unknown keys are an error, as are a job without a command \
             and a command given both in the job and after --; every error is one line naming the file, the \
             line and the key. An error in one [jobs.NAME] table stays in that job: the others still run and \
             check still reports them; an error in [defaults] or in the file's syntax stops every job.",
        ),
    ]);
    example(
        &mut roff,
        r#"
[defaults]
timeout = "30m"
ping_timeout = "5s"

[jobs.backup]
command = ["/usr/local/bin/backup", "--full"]
ping = "https://hc-ping.com/UUID"
timeout = "2h"
lock = "/run/lock/backup.lock"
"#,
    );
    paragraph(
        &mut roff,
        [roman(
            "Keys (each also a command-line option and an environment variable, see OPTIONS and ENVIRONMENT):",
        )],
    );
    item(
        &mut roff,
        vec![bold("command"), roman(" (array of strings, jobs only)")],
        "The program and its arguments, run directly without a shell.",
    );
    for key in library::Layer::KEYS.iter().filter(|k| **k != "command") {
        let long = key.replace('_', "-");
        let arg = cmd.get_arguments().find(|a| a.get_long() == Some(&long));
        let (kind, text) = match arg {
            Some(arg) => (toml_type(arg), help_of(arg)),
            None => ("see the README", String::new()),
        };
        item(
            &mut roff,
            vec![bold(*key), roman(format!(" ({kind})"))],
            &text,
        );
    }
    roff
}

fn environment_section(cmd: &Command) -> Roff {
    let mut roff = section("ENVIRONMENT");
    roff.text([roman(
        "Every option can be set by an environment variable, which the command line overrides and which \
         overrides the config file. Boolean variables take true/false, yes/no, on/off or 1/0.",
    )]);
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "ping" {
            item(
                &mut roff,
                vec![bold(library::PING_ENV)],
                "Monitor URLs separated by whitespace, as if each were given with --ping. Set from a secret, \
                 it keeps the URLs out of ps(1), crontabs and manifests.",
            );
            continue;
        }
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        item(&mut roff, vec![bold(var)], &format!("As --{long}."));
    }
    item(
        &mut roff,
        vec![bold("CRONBEAT_RUN_ID")],
        "Set by cronbeat in the command's environment: the run's id (a UUID), the same one every monitor \
         receives, to correlate the job's own logs with its pings.",
    );
    item(
        &mut roff,
        vec![bold("CRONBEAT_TICK")],
        "Set by cronbeat in the command's environment when the run serves a scheduled time: that time, \
         RFC 3339 in UTC (2026-11-29T02:15:00Z). Not set for a run off the schedule.",
    );
    item(
        &mut roff,
        vec![bold("TZ")],
        "The zone of --schedule when --tz is not given (an IANA name).",
    );
    item(
        &mut roff,
        vec![bold("HTTPS_PROXY"), roman(", "), bold("NO_PROXY")],
        "Honoured for pings.",
    );
    roff
}

fn exit_status_section() -> Roff {
    let mut roff = section("EXIT STATUS");
    roff.text([roman(
        "cronbeat exits with a status that tells the truth about the run. A monitor that cannot be reached \
         never changes it: that is a warning on standard error.",
    )]);
    for row in &library::EXIT_STATUSES {
        item(&mut roff, vec![bold(row.status)], row.meaning);
    }
    roff
}

fn signals_section() -> Roff {
    let mut roff = section("SIGNALS");
    roff.text([roman(
        "SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH received by cronbeat are forwarded to \
         the command's process group. After a terminating one (TERM, INT, HUP, QUIT) the command has \
         --kill-after (default 10s) to exit; then what is left of its process group gets SIGKILL. The \
         --timeout deadline sends SIGTERM to every process of the run, in the command's group or not, then \
         after the grace SIGKILL.",
    )]);
    paragraph(
        &mut roff,
        [roman(
            "When the command exits, every process it left behind, in its group or not (a setsid daemon, a \
             double fork), gets SIGTERM and, after the grace, SIGKILL; -v says how many. Where cronbeat may \
             (cgroup v2, its own cgroup writable and not a systemd unit's without Delegate=), the command \
             runs in a cgroup of its own, which nothing it starts can leave; elsewhere cronbeat finds the \
             leftovers among its descendants in /proc. As PID 1 (in a container) cronbeat reaps every zombie \
             it inherits; elsewhere on Linux it makes itself a child subreaper, so every orphan of the run \
             becomes its child. Interactive use in a terminal (Ctrl-C, a command that reads the terminal) \
             keeps working; a run stopped by Ctrl-C is terminated, not failed.",
        )],
    );
    roff
}

fn heartbeats_section() -> Roff {
    // Not "MONITORS": the options under that heading already have a section of that name.
    let mut roff = section("HEARTBEATS");
    roff.text([
        bold("--ping"),
        roman(" "),
        italic("URL"),
        roman(
            " (repeatable) names a monitor. A Healthchecks ping URL (https://hc-ping.com/UUID, or a \
             self-hosted .../ping/UUID) gets a start ping when the command starts and, when it ends, a ping \
             with its exit status or a failure, the output tail as the body; every request of one run carries \
             the same run id. Other services are recognised by their host or by a KIND+ prefix on the URL \
             (cronitor+, sentry+, betterstack+, dms+, cronhub+, pushgateway+, textfile:, webhook+). The start \
             ping is sent while the command starts: a slow monitor never delays the job.",
        ),
    ]);
    paragraph(
        &mut roff,
        [roman(
            "Each attempt is limited by --ping-timeout (default 5s); connection errors, timeouts, HTTP 5xx, \
             408 and 429 are retried up to --ping-retries times (default 3) with backoff. Worst case per \
             ping: (retries+1) \u{d7} ping-timeout + retries \u{d7} 5 s; with defaults 35 s. Once the command \
             has ended, every monitor's finish report (and a start ping still being retried ahead of it) \
             is delivered or given up within --report-timeout (default 10s): a warning names each monitor \
             given up.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "Shutdown budget. After a stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) the command has \
             --kill-after to exit, then the finish reports end within --kill-after + --report-timeout of the \
             signal: 10 s + 10 s = 20 s with the defaults, inside Kubernetes' default \
             terminationGracePeriodSeconds of 30 s. Once stopping, no time goes to backoff: each monitor \
             gets one attempt, which may use all the time left. Set terminationGracePeriodSeconds, or \
             systemd's TimeoutStopSec, above --kill-after + --report-timeout with a few seconds to spare. \
             (A command that exits during its grace but leaves processes in its group gives them a grace of \
             their own: up to 2 \u{d7} --kill-after + 1 s.)",
        )],
    );
    paragraph(
        &mut roff,
        [
            roman("Ping URLs are secrets: logs show only their host. Give them with "),
            bold("--ping-file"),
            roman(" or "),
            bold(library::PING_ENV),
            roman(" to keep them out of ps(1)."),
        ],
    );
    roff
}

/// One short entry per monitoring service: how it is recognised, what it receives, a copy-paste example.
fn monitor_kinds_section() -> Roff {
    let mut roff = section("MONITOR KINDS");
    for (i, kind) in library::MONITOR_KINDS.iter().enumerate() {
        let mut recognised = vec![kind.prefix.to_string()];
        recognised.extend(kind.hosts.iter().map(|h| h.to_string()));
        if i == 0 {
            recognised.push("or any other URL".to_string());
        }
        let name = format!("{} ({})", kind.title, recognised.join(", "));
        item(&mut roff, vec![bold(&name)], kind.about);
        example(&mut roff, kind.example);
    }
    roff
}

fn examples_section() -> Roff {
    let mut roff = section("EXAMPLES");
    roff.text([roman(
        "A crontab line: heartbeats to Healthchecks, killed after 4 minutes, silent unless something is wrong:",
    )]);
    example(
        &mut roff,
        "*/5 * * * * cronbeat --ping https://hc-ping.com/UUID --timeout 4m -- /usr/local/bin/sync.sh",
    );
    paragraph(
        &mut roff,
        [roman(
            "The same with the settings in the config file, and the job's output mailed only when it fails:",
        )],
    );
    example(
        &mut roff,
        "30 2 * * * cronbeat --quiet --config /etc/cronbeat.toml --job backup",
    );
    paragraph(
        &mut roff,
        [roman(
            "A Kubernetes CronJob container, cronbeat as PID 1, the ping URL from a Secret. The pod's grace \
             period must exceed --kill-after + --report-timeout (here 20 s + 10 s), so the command's own \
             shutdown gets its full grace and the finish reports still go out before the kubelet's SIGKILL:",
        )],
    );
    example(
        &mut roff,
        r#"
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 60
      containers:
        - name: report
          image: registry.example/report:1.4
          command: ["cronbeat", "--timeout", "50m", "--kill-after", "20s",
                    "--", "python", "report.py"]
          env:
            - name: CRONBEAT_PING
              valueFrom:
                secretKeyRef: {name: report-monitor, key: ping-url}
            - name: CRONBEAT_LOG_FORMAT
              value: json
"#,
    );
    paragraph(
        &mut roff,
        [roman(
            "A systemd service and timer. KillMode=mixed sends systemctl stop's SIGTERM to cronbeat alone, \
             which forwards it and applies its grace; TimeoutStopSec must exceed --kill-after + \
             --report-timeout (20 s with the defaults). Delegate=yes gives cronbeat the unit's cgroup to \
             divide: the run gets a cgroup of its own, and --memory-max and --tasks-max work on cgroup v2 \
             (cronbeat moves itself into a leaf of that cgroup, cronbeat-PID-self, and must be the \
             service's main process, not started by a shell):",
        )],
    );
    example(
        &mut roff,
        r#"
# /etc/systemd/system/backup.service
[Unit]
Description=Nightly backup

[Service]
Type=oneshot
ExecStart=/usr/bin/cronbeat --config /etc/cronbeat.toml --job backup
KillMode=mixed
Delegate=yes
TimeoutStopSec=30

# /etc/systemd/system/backup.timer
[Unit]
Description=Nightly backup

[Timer]
OnCalendar=*-*-* 02:30
RandomizedDelaySec=10m
Persistent=true

[Install]
WantedBy=timers.target
"#,
    );
    paragraph(
        &mut roff,
        [roman(
            "The Debian package installs a fuller service and timer, and the config file they use, in \
             /usr/share/doc/cronbeat/examples.",
        )],
    );
    paragraph(
        &mut roff,
        [roman(
            "The schedule declared once: the tick for the command, the check's schedule kept in step \
             through the Healthchecks API, the key from a file:",
        )],
    );
    example(
        &mut roff,
        "15 3 * * * cronbeat --schedule '15 3 * * *' --tz Europe/Berlin --hc-api-key-file /etc/cronbeat/hc-key --ping https://hc-ping.com/UUID -- backup.sh",
    );
    paragraph(&mut roff, [roman("Its next due times:")]);
    example(
        &mut roff,
        "cronbeat next --schedule '15 3 * * *' --tz Europe/Berlin",
    );
    paragraph(&mut roff, [roman("Validate the file after editing it:")]);
    example(&mut roff, "cronbeat check --config /etc/cronbeat.toml");
    roff
}

fn see_also_section() -> Roff {
    let mut roff = section("SEE ALSO");
    roff.text([roman(
        "crontab(5), systemd.service(5), systemd.timer(5), flock(1), timeout(1)",
    )]);
    roff
}
