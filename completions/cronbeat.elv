
use builtin;
use str;

set edit:completion:arg-completer[cronbeat] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'cronbeat'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'cronbeat'= {
            cand --config 'Read settings from this TOML file'
            cand --job 'Run the job of this name from the config file'
            cand --name 'The job''s name across runs and hosts (lock keys, the ledger, messages) [default: the --job name, else the program''s file name and a short hash of the command line]'
            cand --host-id 'Who runs the job, in lock records, monitors and logs [default: the host name]'
            cand --schedule 'When the job is due: a 5-field cron expression (minute hour day-of-month month day-of-week, Vixie cron''s rules) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; or a systemd calendar event (systemd.time(7): "Mon..Fri *-*-* 09:00", "*-*~01 23:00 Europe/Berlin", daily, weekly, …, due when systemd-analyze calendar says). Exactly 5 fields or a leading @ is cron, anything else a calendar event'
            cand --tz 'The time zone of --schedule, an IANA name such as Europe/Berlin [default: a calendar event''s own zone, else TZ, else the host''s zone, else UTC]; a different zone than the event names is refused'
            cand --grace 'How late a run may start and still serve its due time; monitors are told the same [default: --jitter + --timeout + --kill-after (1h without --timeout) + --report-timeout + 1m]'
            cand --timeout 'Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124'
            cand --kill-after 'Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]'
            cand --idle-timeout 'Stop the command when it prints nothing for DUR (treated as hung); exit status 125; 0 turns it off'
            cand --lock 'One run at a time: a lock file (flock) held while any process of the run lives, or one run per tick across a fleet of hosts: redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…] (a secret: prefer CRONBEAT_LOCK or the config file)'
            cand --overlap 'When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]'
            cand --lock-wait 'Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)'
            cand --lock-ttl 'A fleet lock''s lease while the command runs: renewed every third of DUR, and lost (see --on-lock-lost) when no renewal succeeds within DUR [default: 30s]'
            cand --on-lock-lost 'When a fleet lock''s lease is lost while the command runs: kill it (outcome lock_lost, exit status 123) or warn and let it finish [default: kill]'
            cand --lock-unavailable 'When a fleet lock''s engine cannot be reached at the start: fail (not run, monitors told, exit 75), skip (not run, exit 75) or run without the lock [default: fail]'
            cand --jitter 'Sleep up to DUR before starting, to spread a fleet'
            cand --jitter-seed 'How the --jitter delay is chosen [default: random]'
            cand --memory-max 'Hold the run''s processes to SIZE of memory together (e.g. 512M, 2G), swap included, in a cgroup of the run''s own: the kernel''s OOM killer stops the run at the limit (outcome oom). Where no memory controller can be used, the run is refused (exit status 2)'
            cand --tasks-max 'Hold the run to N processes and threads at once (a fork bomb stops there), in a cgroup of the run''s own. Where no pids controller can be used, the run is refused (exit status 2)'
            cand --success-codes 'Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command''s) [default: 0]'
            cand --min-runtime 'Report the run as failed when it finished sooner than DUR ("finished too quickly")'
            cand --retries 'Attempts after the first when the command fails (see --retry-on): one run, however many attempts; each has its own --timeout, and none starts that could not finish before the next due time [default: 0]'
            cand --retry-on 'Which failed attempts are retried: outcomes (failure, signal, idle, not_started, timeout, lock_lost, oom, …) and exit statuses as the attempt''s status reads (1,75 or 1-5; 137 for a SIGKILL, 124 for a timeout), comma-separated; a stop on request never is [default: any failure except timeout, terminated, lock_lost and the statuses 126 and 127]'
            cand --retry-delay 'The longest wait before the first retry: retry k waits a random time up to min(10 × DUR, DUR × 2^(k-1)) (full jitter) [default: 10s]'
            cand --env-file 'Variables for the command from this file, in systemd''s EnvironmentFile= syntax (KEY=value, quotes, # comments); repeatable, later files win; the values never appear in logs, errors or ps. CRONBEAT_ENV_FILE holds one path'
            cand --tail 'Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]'
            cand --redact 'Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable'
            cand --ping 'Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL. CRONBEAT_PING holds one or more, separated by whitespace'
            cand --ping-file 'Read monitor URLs from this file, one per line (keeps secrets out of `ps`)'
            cand --keepalive 'While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm; 0 turns it off'
            cand --ping-timeout 'Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]'
            cand --ping-retries 'Retries after a failed ping attempt [default: 3]'
            cand --report-timeout 'Once the command has ended, time every monitor''s finish report gets (all its attempts) before it is given up; after a stop signal they end within --kill-after + DUR of the signal [default: 10s]'
            cand --hc-api-key 'Healthchecks Management API key: with a schedule, each Healthchecks check''s schedule, time zone and grace are kept in step with the job''s (a secret: prefer --hc-api-key-file or the variable)'
            cand --hc-api-key-file 'Read the Healthchecks API key from this file (--hc-api-key wins when both are given)'
            cand --hc-api-url 'The Healthchecks Management API [default: from the ping URL: https://healthchecks.io/api/v3/ for hc-ping.com, SITE_ROOT/api/v3/ for SITE_ROOT/ping/...]'
            cand --cronitor-api-key 'Cronitor API key: with a schedule, each Cronitor monitor''s schedule, time zone and grace are kept in step with the job''s (a secret: prefer --cronitor-api-key-file or the variable)'
            cand --cronitor-api-key-file 'Read the Cronitor API key from this file (--cronitor-api-key wins when both are given)'
            cand --cronitor-api-url 'The Cronitor API [default: https://cronitor.io/api/]'
            cand --state-dir 'Where the ledger of runs is kept, which `cronbeat status`, `history`, `last-output` and `metrics` read [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand --keep-runs 'Runs the ledger keeps per job; it is trimmed back to N each time it has grown by half of N [default: 1000]'
            cand --fail-after 'Report a failed run to the monitors as a failure only from the Nth failure in a row; before that each monitor gets its neutral note ("failure 1 of 3"), if it has one [default: 1]'
            cand --ledger-url 'Also record each run on the fleet''s PostgreSQL or Redis, for `status --fleet` on any host: a postgres://, redis:// or rediss:// URL in the forms --lock takes (a secret: prefer CRONBEAT_LEDGER_URL or the config file) [default: the fleet lock''s URL, with --fleet-ledger]'
            cand --after 'Run only after these jobs'' latest runs succeeded (their --name; comma-separated or repeated): in the fleet ledger where --ledger-url is set, else in this host''s; otherwise the run is skipped (exit 75) and the monitors are told which job it waited on'
            cand --after-within 'With --after: the success must have finished within DUR before now [default: since the named job''s own latest due time, by its schedule]'
            cand --after-wait 'With --after: wait up to DUR for the success instead of skipping at once (asked again every half second)'
            cand --log-format 'Format of cronbeat''s own lines on stderr [default: text]'
            cand --stderr-fails 'Report the run as failed when the command wrote anything to stderr'
            cand --strip-ansi 'Remove terminal escape sequences (colours, cursor moves) from the reported tail'
            cand -q 'Hold the command''s output back and show it only when the run fails'
            cand --quiet 'Hold the command''s output back and show it only when the run fails'
            cand --no-start-ping 'Do not send the start ping'
            cand --no-ledger 'Do not record the run in the ledger'
            cand --fleet-ledger 'Also record each run on the fleet lock''s engine (--lock redis://… or postgres://…), or on --ledger-url'
            cand -v 'Print a line per event on stderr'
            cand --verbose 'Print a line per event on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand adopt 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore'
            cand check 'Validate the configuration without running anything'
            cand next 'Print the next due times of a job''s schedule, one RFC 3339 time per line'
            cand status 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit'
            cand history 'A job''s latest runs from the ledger, newest first'
            cand last-output 'The output tail of a job''s latest failed run, byte for byte'
            cand metrics 'The ledger as Prometheus metrics, per job'
            cand ledger 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;adopt'= {
            cand --crontab 'A user crontab file (the format of crontab -e) to adopt instead of what cron runs; repeatable'
            cand --system-crontab 'A system crontab file (with a user field, as /etc/crontab) to adopt instead of what cron runs; repeatable'
            cand --unit-dir 'Read timer and service units from DIR instead of /etc/systemd/system, /lib/systemd/system and /usr/lib/systemd/system, and write the drop-ins there; repeatable'
            cand --ping-template 'Every adopted job''s monitor: a URL with {name} for the job''s name, e.g. https://hc-ping.com/PING-KEY/{name}?create=1 (a secret: kept in --ping-dir, not in the crontab)'
            cand --ping-dir 'Where each job''s monitor URL is kept, a file per job readable by its user only [default: /etc/cronbeat/ping for root, else ~/.config/cronbeat/ping]'
            cand --ledger-url 'With --provision: also declare each adopted job''s schedule to this fleet ledger (postgres://… or redis://…, as --ledger-url takes it), so a job that never runs is overdue, not absent; with this alone --provision needs no API key (a secret: prefer the variable)'
            cand --cronbeat 'The cronbeat binary the wrapped lines run, an absolute path [default: this binary''s]'
            cand --hc-api-key 'Healthchecks Management API key, for --provision (a secret: prefer the variable)'
            cand --hc-api-key-file 'Read the Healthchecks API key from this file'
            cand --hc-api-url 'The Healthchecks Management API [default: from the ping URL]'
            cand --cronitor-api-key 'Cronitor API key, for --provision and for the URL of a converted cronitor exec line (a secret: prefer the variable)'
            cand --cronitor-api-key-file 'Read the Cronitor API key from this file'
            cand --cronitor-api-url 'The Cronitor API [default: https://cronitor.io/api/]'
            cand --state-dir 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand --timers 'Also systemd timers (by default only where systemd runs, as root)'
            cand --write 'Apply the plan'
            cand --check 'Change nothing; exit status 1 when a job is not wrapped or its wrapping is not what its line says (for Ansible and CI)'
            cand --undo 'Put back every line and drop-in adopt wrote, as they were'
            cand --provision 'With --write: create or update each job''s monitor with its schedule, time zone and grace now, through the service''s API (--hc-api-key, --cronitor-api-key)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;check'= {
            cand --config 'Config file to validate'
            cand --job 'Only validate this job (default: every job)'
            cand --ping 'Also send a harmless test ping to each monitor and report whether it is reachable, and compare the schedule, time zone and grace each monitor holds with the job''s (exit status 1 when one differs)'
            cand --fix 'With --ping: write the job''s schedule, time zone and grace to the monitors that differ'
            cand --fleet 'Declare each job''s schedule, time zone and grace to its fleet ledger (ledger_url, CRONBEAT_LEDGER_URL or fleet_ledger), so a job that never ran is overdue, not absent (exit status 1 when one could not be)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;next'= {
            cand --config 'Config file that holds --job'
            cand --job 'The job whose due times to print'
            cand --schedule 'A schedule (5 cron fields, a macro such as @daily, or a systemd calendar event such as "Mon..Fri 9:00"); with --job, it replaces the job''s'
            cand --tz 'The time zone of the schedule, an IANA name [default: the job''s, else TZ, else the host''s zone, else UTC]'
            cand -n 'How many due times to print'
            cand --count 'How many due times to print'
            cand --after 'Count from this time (RFC 3339, e.g. 2026-11-29T03:15:00+01:00) instead of now'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;status'= {
            cand --fail-after 'With --check: failures in a row that are CRITICAL (fewer are a WARNING) [default: each job''s own --fail-after, else 1]'
            cand --fleet 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand --slow-factor 'Mark a job slower (bigger) when its latest successful run took more than X times the median time (peak memory) of its 20 successful runs before; with --check such a job is a WARNING [default: 3, and no WARNING]'
            cand --state-dir 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand --json 'An array of JSON objects, one per job'
            cand --check 'One line for Nagios, Icinga or monit; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;history'= {
            cand -n 'How many runs to show [default: 20]'
            cand --runs 'How many runs to show [default: 20]'
            cand --fleet 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand --state-dir 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand --json 'An array of JSON objects, one per run'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;last-output'= {
            cand --fleet 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand --state-dir 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;metrics'= {
            cand --output 'Write the metrics to this file (whole, by a rename: for node_exporter''s textfile collector) instead of standard output'
            cand --fleet 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand --state-dir 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;ledger'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand prune 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
            cand forget 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;ledger;prune'= {
            cand --fleet 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand --keep-runs 'Runs kept per job'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;ledger;forget'= {
            cand --fleet 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;ledger;help'= {
            cand prune 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
            cand forget 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;ledger;help;prune'= {
        }
        &'cronbeat;ledger;help;forget'= {
        }
        &'cronbeat;ledger;help;help'= {
        }
        &'cronbeat;help'= {
            cand adopt 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore'
            cand check 'Validate the configuration without running anything'
            cand next 'Print the next due times of a job''s schedule, one RFC 3339 time per line'
            cand status 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit'
            cand history 'A job''s latest runs from the ledger, newest first'
            cand last-output 'The output tail of a job''s latest failed run, byte for byte'
            cand metrics 'The ledger as Prometheus metrics, per job'
            cand ledger 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;help;adopt'= {
        }
        &'cronbeat;help;check'= {
        }
        &'cronbeat;help;next'= {
        }
        &'cronbeat;help;status'= {
        }
        &'cronbeat;help;history'= {
        }
        &'cronbeat;help;last-output'= {
        }
        &'cronbeat;help;metrics'= {
        }
        &'cronbeat;help;ledger'= {
            cand prune 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
            cand forget 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
        }
        &'cronbeat;help;ledger;prune'= {
        }
        &'cronbeat;help;ledger;forget'= {
        }
        &'cronbeat;help;help'= {
        }
    ]
    $completions[$command]
}
