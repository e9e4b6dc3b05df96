# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cronbeat_global_optspecs
    string join \n config= job= name= host-id= schedule= tz= grace= timeout= kill-after= idle-timeout= lock= overlap= lock-wait= lock-ttl= on-lock-lost= lock-unavailable= jitter= jitter-seed= memory-max= tasks-max= success-codes= stderr-fails min-runtime= retries= retry-on= retry-delay= env-file= tail= strip-ansi redact= q/quiet ping= ping-file= no-start-ping keepalive= ping-timeout= ping-retries= report-timeout= hc-api-key= hc-api-key-file= hc-api-url= cronitor-api-key= cronitor-api-key-file= cronitor-api-url= state-dir= no-ledger keep-runs= fail-after= ledger-url= fleet-ledger after= after-within= after-wait= v/verbose log-format= h/help V/version
end

function __fish_cronbeat_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cronbeat_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cronbeat_using_subcommand
    set -l cmd (__fish_cronbeat_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cronbeat -n "__fish_cronbeat_needs_command" -l config -d 'Read settings from this TOML file' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l job -d 'Run the job of this name from the config file' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l name -d 'The job\'s name across runs and hosts (lock keys, the ledger, messages) [default: the --job name, else the program\'s file name and a short hash of the command line]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l host-id -d 'Who runs the job, in lock records, monitors and logs [default: the host name]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l schedule -d 'When the job is due: a 5-field cron expression (minute hour day-of-month month day-of-week, Vixie cron\'s rules) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; or a systemd calendar event (systemd.time(7): "Mon..Fri *-*-* 09:00", "*-*~01 23:00 Europe/Berlin", daily, weekly, …, due when systemd-analyze calendar says). Exactly 5 fields or a leading @ is cron, anything else a calendar event' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l tz -d 'The time zone of --schedule, an IANA name such as Europe/Berlin [default: a calendar event\'s own zone, else TZ, else the host\'s zone, else UTC]; a different zone than the event names is refused' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l grace -d 'How late a run may start and still serve its due time; monitors are told the same [default: --jitter + --timeout + --kill-after (1h without --timeout) + --report-timeout + 1m]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l timeout -d 'Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l kill-after -d 'Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l idle-timeout -d 'Stop the command when it prints nothing for DUR (treated as hung); exit status 125; 0 turns it off' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l lock -d 'One run at a time: a lock file (flock) held while any process of the run lives, or one run per tick across a fleet of hosts: redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…] (a secret: prefer CRONBEAT_LOCK or the config file)' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l overlap -d 'When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]' -r -f -a "skip\t'Do not run; exit 75 and tell the monitors'
wait\t'Wait for the lock (at most --lock-wait)'
replace\t'Stop the running one (SIGTERM, the grace, SIGKILL), then run'"
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l lock-wait -d 'Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l lock-ttl -d 'A fleet lock\'s lease while the command runs: renewed every third of DUR, and lost (see --on-lock-lost) when no renewal succeeds within DUR [default: 30s]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l on-lock-lost -d 'When a fleet lock\'s lease is lost while the command runs: kill it (outcome lock_lost, exit status 123) or warn and let it finish [default: kill]' -r -f -a "kill\t'Stop the command (SIGTERM, the --kill-after grace, SIGKILL); outcome lock_lost'
warn\t'Let the command finish; a warning, and a note to the monitors'"
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l lock-unavailable -d 'When a fleet lock\'s engine cannot be reached at the start: fail (not run, monitors told, exit 75), skip (not run, exit 75) or run without the lock [default: fail]' -r -f -a "fail\t'Do not run; tell the monitors the run failed; exit 75'
skip\t'Do not run; tell nobody but stderr; exit 75'
run\t'Run without the lock, with a warning'"
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l jitter -d 'Sleep up to DUR before starting, to spread a fleet' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l jitter-seed -d 'How the --jitter delay is chosen [default: random]' -r -f -a "hostname\t'A hash of the host name and the job: each host keeps its own slot, a fleet spreads out'
job\t'A hash of the job alone: the same slot on every host, different jobs spread out'
random\t'A new random delay every run'"
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l memory-max -d 'Hold the run\'s processes to SIZE of memory together (e.g. 512M, 2G), swap included, in a cgroup of the run\'s own: the kernel\'s OOM killer stops the run at the limit (outcome oom). Where no memory controller can be used, the run is refused (exit status 2)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l tasks-max -d 'Hold the run to N processes and threads at once (a fork bomb stops there), in a cgroup of the run\'s own. Where no pids controller can be used, the run is refused (exit status 2)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l success-codes -d 'Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command\'s) [default: 0]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l min-runtime -d 'Report the run as failed when it finished sooner than DUR ("finished too quickly")' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l retries -d 'Attempts after the first when the command fails (see --retry-on): one run, however many attempts; each has its own --timeout, and none starts that could not finish before the next due time [default: 0]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l retry-on -d 'Which failed attempts are retried: outcomes (failure, signal, idle, not_started, timeout, lock_lost, oom, …) and exit statuses as the attempt\'s status reads (1,75 or 1-5; 137 for a SIGKILL, 124 for a timeout), comma-separated; a stop on request never is [default: any failure except timeout, terminated, lock_lost and the statuses 126 and 127]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l retry-delay -d 'The longest wait before the first retry: retry k waits a random time up to min(10 × DUR, DUR × 2^(k-1)) (full jitter) [default: 10s]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l env-file -d 'Variables for the command from this file, in systemd\'s EnvironmentFile= syntax (KEY=value, quotes, # comments); repeatable, later files win; the values never appear in logs, errors or ps. CRONBEAT_ENV_FILE holds one path' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l tail -d 'Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l redact -d 'Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l ping -d 'Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL. CRONBEAT_PING holds one or more, separated by whitespace' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l ping-file -d 'Read monitor URLs from this file, one per line (keeps secrets out of `ps`)' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l keepalive -d 'While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm; 0 turns it off' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l ping-timeout -d 'Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l ping-retries -d 'Retries after a failed ping attempt [default: 3]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l report-timeout -d 'Once the command has ended, time every monitor\'s finish report gets (all its attempts) before it is given up; after a stop signal they end within --kill-after + DUR of the signal [default: 10s]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l hc-api-key -d 'Healthchecks Management API key: with a schedule, each Healthchecks check\'s schedule, time zone and grace are kept in step with the job\'s (a secret: prefer --hc-api-key-file or the variable)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l hc-api-key-file -d 'Read the Healthchecks API key from this file (--hc-api-key wins when both are given)' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l hc-api-url -d 'The Healthchecks Management API [default: from the ping URL: https://healthchecks.io/api/v3/ for hc-ping.com, SITE_ROOT/api/v3/ for SITE_ROOT/ping/...]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l cronitor-api-key -d 'Cronitor API key: with a schedule, each Cronitor monitor\'s schedule, time zone and grace are kept in step with the job\'s (a secret: prefer --cronitor-api-key-file or the variable)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l cronitor-api-key-file -d 'Read the Cronitor API key from this file (--cronitor-api-key wins when both are given)' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l cronitor-api-url -d 'The Cronitor API [default: https://cronitor.io/api/]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l state-dir -d 'Where the ledger of runs is kept, which `cronbeat status`, `history`, `last-output` and `metrics` read [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l keep-runs -d 'Runs the ledger keeps per job; it is trimmed back to N each time it has grown by half of N [default: 1000]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l fail-after -d 'Report a failed run to the monitors as a failure only from the Nth failure in a row; before that each monitor gets its neutral note ("failure 1 of 3"), if it has one [default: 1]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l ledger-url -d 'Also record each run on the fleet\'s PostgreSQL or Redis, for `status --fleet` on any host: a postgres://, redis:// or rediss:// URL in the forms --lock takes (a secret: prefer CRONBEAT_LEDGER_URL or the config file) [default: the fleet lock\'s URL, with --fleet-ledger]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l after -d 'Run only after these jobs\' latest runs succeeded (their --name; comma-separated or repeated): in the fleet ledger where --ledger-url is set, else in this host\'s; otherwise the run is skipped (exit 75) and the monitors are told which job it waited on' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l after-within -d 'With --after: the success must have finished within DUR before now [default: since the named job\'s own latest due time, by its schedule]' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l after-wait -d 'With --after: wait up to DUR for the success instead of skipping at once (asked again every half second)' -r
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l log-format -d 'Format of cronbeat\'s own lines on stderr [default: text]' -r -f -a "text\t''
json\t''"
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l stderr-fails -d 'Report the run as failed when the command wrote anything to stderr'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l strip-ansi -d 'Remove terminal escape sequences (colours, cursor moves) from the reported tail'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -s q -l quiet -d 'Hold the command\'s output back and show it only when the run fails'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l no-start-ping -d 'Do not send the start ping'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l no-ledger -d 'Do not record the run in the ledger'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -l fleet-ledger -d 'Also record each run on the fleet lock\'s engine (--lock redis://… or postgres://…), or on --ledger-url'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -s v -l verbose -d 'Print a line per event on stderr'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -s V -l version -d 'Print version'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "adopt" -d 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "check" -d 'Validate the configuration without running anything'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "next" -d 'Print the next due times of a job\'s schedule, one RFC 3339 time per line'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "status" -d 'Each job\'s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "history" -d 'A job\'s latest runs from the ledger, newest first'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "last-output" -d 'The output tail of a job\'s latest failed run, byte for byte'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "metrics" -d 'The ledger as Prometheus metrics, per job'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "ledger" -d 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job'
complete -c cronbeat -n "__fish_cronbeat_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l crontab -d 'A user crontab file (the format of crontab -e) to adopt instead of what cron runs; repeatable' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l system-crontab -d 'A system crontab file (with a user field, as /etc/crontab) to adopt instead of what cron runs; repeatable' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l unit-dir -d 'Read timer and service units from DIR instead of /etc/systemd/system, /lib/systemd/system and /usr/lib/systemd/system, and write the drop-ins there; repeatable' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l ping-template -d 'Every adopted job\'s monitor: a URL with {name} for the job\'s name, e.g. https://hc-ping.com/PING-KEY/{name}?create=1 (a secret: kept in --ping-dir, not in the crontab)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l ping-dir -d 'Where each job\'s monitor URL is kept, a file per job readable by its user only [default: /etc/cronbeat/ping for root, else ~/.config/cronbeat/ping]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l ledger-url -d 'With --provision: also declare each adopted job\'s schedule to this fleet ledger (postgres://… or redis://…, as --ledger-url takes it), so a job that never runs is overdue, not absent; with this alone --provision needs no API key (a secret: prefer the variable)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l cronbeat -d 'The cronbeat binary the wrapped lines run, an absolute path [default: this binary\'s]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l hc-api-key -d 'Healthchecks Management API key, for --provision (a secret: prefer the variable)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l hc-api-key-file -d 'Read the Healthchecks API key from this file' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l hc-api-url -d 'The Healthchecks Management API [default: from the ping URL]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l cronitor-api-key -d 'Cronitor API key, for --provision and for the URL of a converted cronitor exec line (a secret: prefer the variable)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l cronitor-api-key-file -d 'Read the Cronitor API key from this file' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l cronitor-api-url -d 'The Cronitor API [default: https://cronitor.io/api/]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l state-dir -d 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l timers -d 'Also systemd timers (by default only where systemd runs, as root)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l write -d 'Apply the plan'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l check -d 'Change nothing; exit status 1 when a job is not wrapped or its wrapping is not what its line says (for Ansible and CI)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l undo -d 'Put back every line and drop-in adopt wrote, as they were'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -l provision -d 'With --write: create or update each job\'s monitor with its schedule, time zone and grace now, through the service\'s API (--hc-api-key, --cronitor-api-key)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand adopt" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -l config -d 'Config file to validate' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -l job -d 'Only validate this job (default: every job)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -l ping -d 'Also send a harmless test ping to each monitor and report whether it is reachable, and compare the schedule, time zone and grace each monitor holds with the job\'s (exit status 1 when one differs)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -l fix -d 'With --ping: write the job\'s schedule, time zone and grace to the monitors that differ'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -l fleet -d 'Declare each job\'s schedule, time zone and grace to its fleet ledger (ledger_url, CRONBEAT_LEDGER_URL or fleet_ledger), so a job that never ran is overdue, not absent (exit status 1 when one could not be)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand check" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -l config -d 'Config file that holds --job' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -l job -d 'The job whose due times to print' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -l schedule -d 'A schedule (5 cron fields, a macro such as @daily, or a systemd calendar event such as "Mon..Fri 9:00"); with --job, it replaces the job\'s' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -l tz -d 'The time zone of the schedule, an IANA name [default: the job\'s, else TZ, else the host\'s zone, else UTC]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -s n -l count -d 'How many due times to print' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -l after -d 'Count from this time (RFC 3339, e.g. 2026-11-29T03:15:00+01:00) instead of now' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand next" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l fail-after -d 'With --check: failures in a row that are CRITICAL (fewer are a WARNING) [default: each job\'s own --fail-after, else 1]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l fleet -d 'Read the fleet ledger instead of this host\'s: every host\'s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l slow-factor -d 'Mark a job slower (bigger) when its latest successful run took more than X times the median time (peak memory) of its 20 successful runs before; with --check such a job is a WARNING [default: 3, and no WARNING]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l state-dir -d 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l json -d 'An array of JSON objects, one per job'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -l check -d 'One line for Nagios, Icinga or monit; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand status" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand history" -s n -l runs -d 'How many runs to show [default: 20]' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand history" -l fleet -d 'Read the fleet ledger instead of this host\'s: every host\'s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand history" -l state-dir -d 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand history" -l json -d 'An array of JSON objects, one per run'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand history" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand last-output" -l fleet -d 'Read the fleet ledger instead of this host\'s: every host\'s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand last-output" -l state-dir -d 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand last-output" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand metrics" -l output -d 'Write the metrics to this file (whole, by a rename: for node_exporter\'s textfile collector) instead of standard output' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand metrics" -l fleet -d 'Read the fleet ledger instead of this host\'s: every host\'s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand metrics" -l state-dir -d 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]' -r -F
complete -c cronbeat -n "__fish_cronbeat_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and not __fish_seen_subcommand_from prune forget help" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and not __fish_seen_subcommand_from prune forget help" -f -a "prune" -d 'Drop all but each job\'s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and not __fish_seen_subcommand_from prune forget help" -f -a "forget" -d 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and not __fish_seen_subcommand_from prune forget help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from prune" -l fleet -d 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from prune" -l keep-runs -d 'Runs kept per job' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from forget" -l fleet -d 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)' -r
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from forget" -s h -l help -d 'Print help'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Drop all but each job\'s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "forget" -d 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "adopt" -d 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "check" -d 'Validate the configuration without running anything'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "next" -d 'Print the next due times of a job\'s schedule, one RFC 3339 time per line'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "status" -d 'Each job\'s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "history" -d 'A job\'s latest runs from the ledger, newest first'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "last-output" -d 'The output tail of a job\'s latest failed run, byte for byte'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "metrics" -d 'The ledger as Prometheus metrics, per job'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "ledger" -d 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and not __fish_seen_subcommand_from adopt check next status history last-output metrics ledger help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "prune" -d 'Drop all but each job\'s latest --keep-runs runs (its latest success is kept) from the fleet ledger'
complete -c cronbeat -n "__fish_cronbeat_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "forget" -d 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is'
