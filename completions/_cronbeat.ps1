
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'cronbeat' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'cronbeat'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'cronbeat' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read settings from this TOML file')
            [CompletionResult]::new('--job', '--job', [CompletionResultType]::ParameterName, 'Run the job of this name from the config file')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The job''s name across runs and hosts (lock keys, the ledger, messages) [default: the --job name, else the program''s file name and a short hash of the command line]')
            [CompletionResult]::new('--host-id', '--host-id', [CompletionResultType]::ParameterName, 'Who runs the job, in lock records, monitors and logs [default: the host name]')
            [CompletionResult]::new('--schedule', '--schedule', [CompletionResultType]::ParameterName, 'When the job is due: a 5-field cron expression (minute hour day-of-month month day-of-week, Vixie cron''s rules) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually; or a systemd calendar event (systemd.time(7): "Mon..Fri *-*-* 09:00", "*-*~01 23:00 Europe/Berlin", daily, weekly, …, due when systemd-analyze calendar says). Exactly 5 fields or a leading @ is cron, anything else a calendar event')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'The time zone of --schedule, an IANA name such as Europe/Berlin [default: a calendar event''s own zone, else TZ, else the host''s zone, else UTC]; a different zone than the event names is refused')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'How late a run may start and still serve its due time; monitors are told the same [default: --jitter + --timeout + --kill-after (1h without --timeout) + --report-timeout + 1m]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124')
            [CompletionResult]::new('--kill-after', '--kill-after', [CompletionResultType]::ParameterName, 'Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Stop the command when it prints nothing for DUR (treated as hung); exit status 125; 0 turns it off')
            [CompletionResult]::new('--lock', '--lock', [CompletionResultType]::ParameterName, 'One run at a time: a lock file (flock) held while any process of the run lives, or one run per tick across a fleet of hosts: redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…] (a secret: prefer CRONBEAT_LOCK or the config file)')
            [CompletionResult]::new('--overlap', '--overlap', [CompletionResultType]::ParameterName, 'When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]')
            [CompletionResult]::new('--lock-wait', '--lock-wait', [CompletionResultType]::ParameterName, 'Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)')
            [CompletionResult]::new('--lock-ttl', '--lock-ttl', [CompletionResultType]::ParameterName, 'A fleet lock''s lease while the command runs: renewed every third of DUR, and lost (see --on-lock-lost) when no renewal succeeds within DUR [default: 30s]')
            [CompletionResult]::new('--on-lock-lost', '--on-lock-lost', [CompletionResultType]::ParameterName, 'When a fleet lock''s lease is lost while the command runs: kill it (outcome lock_lost, exit status 123) or warn and let it finish [default: kill]')
            [CompletionResult]::new('--lock-unavailable', '--lock-unavailable', [CompletionResultType]::ParameterName, 'When a fleet lock''s engine cannot be reached at the start: fail (not run, monitors told, exit 75), skip (not run, exit 75) or run without the lock [default: fail]')
            [CompletionResult]::new('--jitter', '--jitter', [CompletionResultType]::ParameterName, 'Sleep up to DUR before starting, to spread a fleet')
            [CompletionResult]::new('--jitter-seed', '--jitter-seed', [CompletionResultType]::ParameterName, 'How the --jitter delay is chosen [default: random]')
            [CompletionResult]::new('--memory-max', '--memory-max', [CompletionResultType]::ParameterName, 'Hold the run''s processes to SIZE of memory together (e.g. 512M, 2G), swap included, in a cgroup of the run''s own: the kernel''s OOM killer stops the run at the limit (outcome oom). Where no memory controller can be used, the run is refused (exit status 2)')
            [CompletionResult]::new('--tasks-max', '--tasks-max', [CompletionResultType]::ParameterName, 'Hold the run to N processes and threads at once (a fork bomb stops there), in a cgroup of the run''s own. Where no pids controller can be used, the run is refused (exit status 2)')
            [CompletionResult]::new('--success-codes', '--success-codes', [CompletionResultType]::ParameterName, 'Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command''s) [default: 0]')
            [CompletionResult]::new('--min-runtime', '--min-runtime', [CompletionResultType]::ParameterName, 'Report the run as failed when it finished sooner than DUR ("finished too quickly")')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Attempts after the first when the command fails (see --retry-on): one run, however many attempts; each has its own --timeout, and none starts that could not finish before the next due time [default: 0]')
            [CompletionResult]::new('--retry-on', '--retry-on', [CompletionResultType]::ParameterName, 'Which failed attempts are retried: outcomes (failure, signal, idle, not_started, timeout, lock_lost, oom, …) and exit statuses as the attempt''s status reads (1,75 or 1-5; 137 for a SIGKILL, 124 for a timeout), comma-separated; a stop on request never is [default: any failure except timeout, terminated, lock_lost and the statuses 126 and 127]')
            [CompletionResult]::new('--retry-delay', '--retry-delay', [CompletionResultType]::ParameterName, 'The longest wait before the first retry: retry k waits a random time up to min(10 × DUR, DUR × 2^(k-1)) (full jitter) [default: 10s]')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Variables for the command from this file, in systemd''s EnvironmentFile= syntax (KEY=value, quotes, # comments); repeatable, later files win; the values never appear in logs, errors or ps. CRONBEAT_ENV_FILE holds one path')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]')
            [CompletionResult]::new('--redact', '--redact', [CompletionResultType]::ParameterName, 'Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable')
            [CompletionResult]::new('--ping', '--ping', [CompletionResultType]::ParameterName, 'Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL. CRONBEAT_PING holds one or more, separated by whitespace')
            [CompletionResult]::new('--ping-file', '--ping-file', [CompletionResultType]::ParameterName, 'Read monitor URLs from this file, one per line (keeps secrets out of `ps`)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm; 0 turns it off')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]')
            [CompletionResult]::new('--ping-retries', '--ping-retries', [CompletionResultType]::ParameterName, 'Retries after a failed ping attempt [default: 3]')
            [CompletionResult]::new('--report-timeout', '--report-timeout', [CompletionResultType]::ParameterName, 'Once the command has ended, time every monitor''s finish report gets (all its attempts) before it is given up; after a stop signal they end within --kill-after + DUR of the signal [default: 10s]')
            [CompletionResult]::new('--hc-api-key', '--hc-api-key', [CompletionResultType]::ParameterName, 'Healthchecks Management API key: with a schedule, each Healthchecks check''s schedule, time zone and grace are kept in step with the job''s (a secret: prefer --hc-api-key-file or the variable)')
            [CompletionResult]::new('--hc-api-key-file', '--hc-api-key-file', [CompletionResultType]::ParameterName, 'Read the Healthchecks API key from this file (--hc-api-key wins when both are given)')
            [CompletionResult]::new('--hc-api-url', '--hc-api-url', [CompletionResultType]::ParameterName, 'The Healthchecks Management API [default: from the ping URL: https://healthchecks.io/api/v3/ for hc-ping.com, SITE_ROOT/api/v3/ for SITE_ROOT/ping/...]')
            [CompletionResult]::new('--cronitor-api-key', '--cronitor-api-key', [CompletionResultType]::ParameterName, 'Cronitor API key: with a schedule, each Cronitor monitor''s schedule, time zone and grace are kept in step with the job''s (a secret: prefer --cronitor-api-key-file or the variable)')
            [CompletionResult]::new('--cronitor-api-key-file', '--cronitor-api-key-file', [CompletionResultType]::ParameterName, 'Read the Cronitor API key from this file (--cronitor-api-key wins when both are given)')
            [CompletionResult]::new('--cronitor-api-url', '--cronitor-api-url', [CompletionResultType]::ParameterName, 'The Cronitor API [default: https://cronitor.io/api/]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the ledger of runs is kept, which `cronbeat status`, `history`, `last-output` and `metrics` read [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--keep-runs', '--keep-runs', [CompletionResultType]::ParameterName, 'Runs the ledger keeps per job; it is trimmed back to N each time it has grown by half of N [default: 1000]')
            [CompletionResult]::new('--fail-after', '--fail-after', [CompletionResultType]::ParameterName, 'Report a failed run to the monitors as a failure only from the Nth failure in a row; before that each monitor gets its neutral note ("failure 1 of 3"), if it has one [default: 1]')
            [CompletionResult]::new('--ledger-url', '--ledger-url', [CompletionResultType]::ParameterName, 'Also record each run on the fleet''s PostgreSQL or Redis, for `status --fleet` on any host: a postgres://, redis:// or rediss:// URL in the forms --lock takes (a secret: prefer CRONBEAT_LEDGER_URL or the config file) [default: the fleet lock''s URL, with --fleet-ledger]')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Run only after these jobs'' latest runs succeeded (their --name; comma-separated or repeated): in the fleet ledger where --ledger-url is set, else in this host''s; otherwise the run is skipped (exit 75) and the monitors are told which job it waited on')
            [CompletionResult]::new('--after-within', '--after-within', [CompletionResultType]::ParameterName, 'With --after: the success must have finished within DUR before now [default: since the named job''s own latest due time, by its schedule]')
            [CompletionResult]::new('--after-wait', '--after-wait', [CompletionResultType]::ParameterName, 'With --after: wait up to DUR for the success instead of skipping at once (asked again every half second)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of cronbeat''s own lines on stderr [default: text]')
            [CompletionResult]::new('--stderr-fails', '--stderr-fails', [CompletionResultType]::ParameterName, 'Report the run as failed when the command wrote anything to stderr')
            [CompletionResult]::new('--strip-ansi', '--strip-ansi', [CompletionResultType]::ParameterName, 'Remove terminal escape sequences (colours, cursor moves) from the reported tail')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Hold the command''s output back and show it only when the run fails')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Hold the command''s output back and show it only when the run fails')
            [CompletionResult]::new('--no-start-ping', '--no-start-ping', [CompletionResultType]::ParameterName, 'Do not send the start ping')
            [CompletionResult]::new('--no-ledger', '--no-ledger', [CompletionResultType]::ParameterName, 'Do not record the run in the ledger')
            [CompletionResult]::new('--fleet-ledger', '--fleet-ledger', [CompletionResultType]::ParameterName, 'Also record each run on the fleet lock''s engine (--lock redis://… or postgres://…), or on --ledger-url')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a line per event on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a line per event on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('adopt', 'adopt', [CompletionResultType]::ParameterValue, 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration without running anything')
            [CompletionResult]::new('next', 'next', [CompletionResultType]::ParameterValue, 'Print the next due times of a job''s schedule, one RFC 3339 time per line')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'A job''s latest runs from the ledger, newest first')
            [CompletionResult]::new('last-output', 'last-output', [CompletionResultType]::ParameterValue, 'The output tail of a job''s latest failed run, byte for byte')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'The ledger as Prometheus metrics, per job')
            [CompletionResult]::new('ledger', 'ledger', [CompletionResultType]::ParameterValue, 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;adopt' {
            [CompletionResult]::new('--crontab', '--crontab', [CompletionResultType]::ParameterName, 'A user crontab file (the format of crontab -e) to adopt instead of what cron runs; repeatable')
            [CompletionResult]::new('--system-crontab', '--system-crontab', [CompletionResultType]::ParameterName, 'A system crontab file (with a user field, as /etc/crontab) to adopt instead of what cron runs; repeatable')
            [CompletionResult]::new('--unit-dir', '--unit-dir', [CompletionResultType]::ParameterName, 'Read timer and service units from DIR instead of /etc/systemd/system, /lib/systemd/system and /usr/lib/systemd/system, and write the drop-ins there; repeatable')
            [CompletionResult]::new('--ping-template', '--ping-template', [CompletionResultType]::ParameterName, 'Every adopted job''s monitor: a URL with {name} for the job''s name, e.g. https://hc-ping.com/PING-KEY/{name}?create=1 (a secret: kept in --ping-dir, not in the crontab)')
            [CompletionResult]::new('--ping-dir', '--ping-dir', [CompletionResultType]::ParameterName, 'Where each job''s monitor URL is kept, a file per job readable by its user only [default: /etc/cronbeat/ping for root, else ~/.config/cronbeat/ping]')
            [CompletionResult]::new('--ledger-url', '--ledger-url', [CompletionResultType]::ParameterName, 'With --provision: also declare each adopted job''s schedule to this fleet ledger (postgres://… or redis://…, as --ledger-url takes it), so a job that never runs is overdue, not absent; with this alone --provision needs no API key (a secret: prefer the variable)')
            [CompletionResult]::new('--cronbeat', '--cronbeat', [CompletionResultType]::ParameterName, 'The cronbeat binary the wrapped lines run, an absolute path [default: this binary''s]')
            [CompletionResult]::new('--hc-api-key', '--hc-api-key', [CompletionResultType]::ParameterName, 'Healthchecks Management API key, for --provision (a secret: prefer the variable)')
            [CompletionResult]::new('--hc-api-key-file', '--hc-api-key-file', [CompletionResultType]::ParameterName, 'Read the Healthchecks API key from this file')
            [CompletionResult]::new('--hc-api-url', '--hc-api-url', [CompletionResultType]::ParameterName, 'The Healthchecks Management API [default: from the ping URL]')
            [CompletionResult]::new('--cronitor-api-key', '--cronitor-api-key', [CompletionResultType]::ParameterName, 'Cronitor API key, for --provision and for the URL of a converted cronitor exec line (a secret: prefer the variable)')
            [CompletionResult]::new('--cronitor-api-key-file', '--cronitor-api-key-file', [CompletionResultType]::ParameterName, 'Read the Cronitor API key from this file')
            [CompletionResult]::new('--cronitor-api-url', '--cronitor-api-url', [CompletionResultType]::ParameterName, 'The Cronitor API [default: https://cronitor.io/api/]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--timers', '--timers', [CompletionResultType]::ParameterName, 'Also systemd timers (by default only where systemd runs, as root)')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Apply the plan')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Change nothing; exit status 1 when a job is not wrapped or its wrapping is not what its line says (for Ansible and CI)')
            [CompletionResult]::new('--undo', '--undo', [CompletionResultType]::ParameterName, 'Put back every line and drop-in adopt wrote, as they were')
            [CompletionResult]::new('--provision', '--provision', [CompletionResultType]::ParameterName, 'With --write: create or update each job''s monitor with its schedule, time zone and grace now, through the service''s API (--hc-api-key, --cronitor-api-key)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to validate')
            [CompletionResult]::new('--job', '--job', [CompletionResultType]::ParameterName, 'Only validate this job (default: every job)')
            [CompletionResult]::new('--ping', '--ping', [CompletionResultType]::ParameterName, 'Also send a harmless test ping to each monitor and report whether it is reachable, and compare the schedule, time zone and grace each monitor holds with the job''s (exit status 1 when one differs)')
            [CompletionResult]::new('--fix', '--fix', [CompletionResultType]::ParameterName, 'With --ping: write the job''s schedule, time zone and grace to the monitors that differ')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Declare each job''s schedule, time zone and grace to its fleet ledger (ledger_url, CRONBEAT_LEDGER_URL or fleet_ledger), so a job that never ran is overdue, not absent (exit status 1 when one could not be)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;next' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file that holds --job')
            [CompletionResult]::new('--job', '--job', [CompletionResultType]::ParameterName, 'The job whose due times to print')
            [CompletionResult]::new('--schedule', '--schedule', [CompletionResultType]::ParameterName, 'A schedule (5 cron fields, a macro such as @daily, or a systemd calendar event such as "Mon..Fri 9:00"); with --job, it replaces the job''s')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'The time zone of the schedule, an IANA name [default: the job''s, else TZ, else the host''s zone, else UTC]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many due times to print')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'How many due times to print')
            [CompletionResult]::new('--after', '--after', [CompletionResultType]::ParameterName, 'Count from this time (RFC 3339, e.g. 2026-11-29T03:15:00+01:00) instead of now')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;status' {
            [CompletionResult]::new('--fail-after', '--fail-after', [CompletionResultType]::ParameterName, 'With --check: failures in a row that are CRITICAL (fewer are a WARNING) [default: each job''s own --fail-after, else 1]')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('--slow-factor', '--slow-factor', [CompletionResultType]::ParameterName, 'Mark a job slower (bigger) when its latest successful run took more than X times the median time (peak memory) of its 20 successful runs before; with --check such a job is a WARNING [default: 3, and no WARNING]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'An array of JSON objects, one per job')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'One line for Nagios, Icinga or monit; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;history' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many runs to show [default: 20]')
            [CompletionResult]::new('--runs', '--runs', [CompletionResultType]::ParameterName, 'How many runs to show [default: 20]')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'An array of JSON objects, one per run')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;last-output' {
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;metrics' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the metrics to this file (whole, by a rename: for node_exporter''s textfile collector) instead of standard output')
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'Read the fleet ledger instead of this host''s: every host''s runs, from URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;ledger' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;ledger;prune' {
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('--keep-runs', '--keep-runs', [CompletionResultType]::ParameterName, 'Runs kept per job')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;ledger;forget' {
            [CompletionResult]::new('--fleet', '--fleet', [CompletionResultType]::ParameterName, 'The fleet ledger: URL, else CRONBEAT_LEDGER_URL, else CRONBEAT_LOCK (a secret: prefer the variables)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;ledger;help' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;ledger;help;prune' {
            break
        }
        'cronbeat;ledger;help;forget' {
            break
        }
        'cronbeat;ledger;help;help' {
            break
        }
        'cronbeat;help' {
            [CompletionResult]::new('adopt', 'adopt', [CompletionResultType]::ParameterValue, 'Find the scheduled jobs (crontabs, /etc/cron.d, systemd timers) and wrap them in cronbeat: the plan and a diff, --write to apply, --undo to restore')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration without running anything')
            [CompletionResult]::new('next', 'next', [CompletionResultType]::ParameterValue, 'Print the next due times of a job''s schedule, one RFC 3339 time per line')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'A job''s latest runs from the ledger, newest first')
            [CompletionResult]::new('last-output', 'last-output', [CompletionResultType]::ParameterValue, 'The output tail of a job''s latest failed run, byte for byte')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'The ledger as Prometheus metrics, per job')
            [CompletionResult]::new('ledger', 'ledger', [CompletionResultType]::ParameterValue, 'Look after the fleet ledger: `ledger prune --fleet` trims it to --keep-runs per job, `ledger forget NAME --fleet` retires a job')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;help;adopt' {
            break
        }
        'cronbeat;help;check' {
            break
        }
        'cronbeat;help;next' {
            break
        }
        'cronbeat;help;status' {
            break
        }
        'cronbeat;help;history' {
            break
        }
        'cronbeat;help;last-output' {
            break
        }
        'cronbeat;help;metrics' {
            break
        }
        'cronbeat;help;ledger' {
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Drop all but each job''s latest --keep-runs runs (its latest success is kept) from the fleet ledger')
            [CompletionResult]::new('forget', 'forget', [CompletionResultType]::ParameterValue, 'Retire jobs from the fleet ledger (their declarations, hosts and runs), so that they are no longer overdue; a job with a run under way is left as it is')
            break
        }
        'cronbeat;help;ledger;prune' {
            break
        }
        'cronbeat;help;ledger;forget' {
            break
        }
        'cronbeat;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
