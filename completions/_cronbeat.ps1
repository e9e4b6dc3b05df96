
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
            [CompletionResult]::new('--schedule', '--schedule', [CompletionResultType]::ParameterName, 'When the job is due: a 5-field cron expression (minute hour day-of-month month day-of-week, Vixie cron''s rules) or @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually')
            [CompletionResult]::new('--tz', '--tz', [CompletionResultType]::ParameterName, 'The time zone of --schedule, an IANA name such as Europe/Berlin [default: TZ, else the host''s zone, else UTC]')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'How late a run may start and still serve its due time; monitors are told the same [default: the larger of --jitter and --timeout + --kill-after (1h without --timeout), plus 1m]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124')
            [CompletionResult]::new('--kill-after', '--kill-after', [CompletionResultType]::ParameterName, 'Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Stop the command when it prints nothing for DUR (treated as hung); exit status 125; 0 turns it off')
            [CompletionResult]::new('--lock', '--lock', [CompletionResultType]::ParameterName, 'One run at a time: a lock file (flock) held while any process of the run lives')
            [CompletionResult]::new('--overlap', '--overlap', [CompletionResultType]::ParameterName, 'When --lock is held by another run: skip this run, wait for the lock, or replace the running one [default: skip]')
            [CompletionResult]::new('--lock-wait', '--lock-wait', [CompletionResultType]::ParameterName, 'Longest wait for --lock: with --overlap wait (no limit unless given), and with --overlap replace after the running one was killed (5s unless given)')
            [CompletionResult]::new('--jitter', '--jitter', [CompletionResultType]::ParameterName, 'Sleep up to DUR before starting, to spread a fleet')
            [CompletionResult]::new('--jitter-seed', '--jitter-seed', [CompletionResultType]::ParameterName, 'How the --jitter delay is chosen [default: random]')
            [CompletionResult]::new('--success-codes', '--success-codes', [CompletionResultType]::ParameterName, 'Exit statuses that count as success, e.g. 0,3 or 0,10-12 (the exit status itself stays the command''s) [default: 0]')
            [CompletionResult]::new('--min-runtime', '--min-runtime', [CompletionResultType]::ParameterName, 'Report the run as failed when it finished sooner than DUR ("finished too quickly")')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]')
            [CompletionResult]::new('--redact', '--redact', [CompletionResultType]::ParameterName, 'Replace what REGEX matches in the reported tail (its capture groups only, if it has any) with [REDACTED]; repeatable')
            [CompletionResult]::new('--ping', '--ping', [CompletionResultType]::ParameterName, 'Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL. CRONBEAT_PING holds one or more, separated by whitespace')
            [CompletionResult]::new('--ping-file', '--ping-file', [CompletionResultType]::ParameterName, 'Read monitor URLs from this file, one per line (keeps secrets out of `ps`)')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'While the command runs, send a progress ping every DUR (Healthchecks /start, Cronitor tick, Sentry in_progress, webhook progress) so long jobs raise no false alarm; 0 turns it off')
            [CompletionResult]::new('--ping-timeout', '--ping-timeout', [CompletionResultType]::ParameterName, 'Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]')
            [CompletionResult]::new('--ping-retries', '--ping-retries', [CompletionResultType]::ParameterName, 'Retries after a failed ping attempt [default: 3]')
            [CompletionResult]::new('--report-timeout', '--report-timeout', [CompletionResultType]::ParameterName, 'Once the command has ended, time every monitor''s finish report gets (all its attempts) before it is given up; after a stop signal they end within --kill-after + DUR of the signal [default: 10s]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the ledger of runs is kept, which `cronbeat status`, `history`, `last-output` and `metrics` read [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--keep-runs', '--keep-runs', [CompletionResultType]::ParameterName, 'Runs the ledger keeps per job; it is trimmed back to N each time it has grown by half of N [default: 1000]')
            [CompletionResult]::new('--fail-after', '--fail-after', [CompletionResultType]::ParameterName, 'Report a failed run to the monitors as a failure only from the Nth failure in a row; before that each monitor gets its neutral note ("failure 1 of 3"), if it has one [default: 1]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of cronbeat''s own lines on stderr [default: text]')
            [CompletionResult]::new('--stderr-fails', '--stderr-fails', [CompletionResultType]::ParameterName, 'Report the run as failed when the command wrote anything to stderr')
            [CompletionResult]::new('--strip-ansi', '--strip-ansi', [CompletionResultType]::ParameterName, 'Remove terminal escape sequences (colours, cursor moves) from the reported tail')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Hold the command''s output back and show it only when the run fails')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Hold the command''s output back and show it only when the run fails')
            [CompletionResult]::new('--no-start-ping', '--no-start-ping', [CompletionResultType]::ParameterName, 'Do not send the start ping')
            [CompletionResult]::new('--no-ledger', '--no-ledger', [CompletionResultType]::ParameterName, 'Do not record the run in the ledger')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print a line per event on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print a line per event on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration without running anything')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'A job''s latest runs from the ledger, newest first')
            [CompletionResult]::new('last-output', 'last-output', [CompletionResultType]::ParameterValue, 'The output tail of a job''s latest failed run, byte for byte')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'The ledger as Prometheus metrics, per job')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to validate')
            [CompletionResult]::new('--job', '--job', [CompletionResultType]::ParameterName, 'Only validate this job (default: every job)')
            [CompletionResult]::new('--ping', '--ping', [CompletionResultType]::ParameterName, 'Also send a harmless test ping to each monitor and report whether it is reachable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;status' {
            [CompletionResult]::new('--fail-after', '--fail-after', [CompletionResultType]::ParameterName, 'With --check: failures in a row that are CRITICAL (fewer are a WARNING) [default: each job''s own --fail-after, else 1]')
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
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'An array of JSON objects, one per run')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;last-output' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;metrics' {
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the metrics to this file (whole, by a rename: for node_exporter''s textfile collector) instead of standard output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The state directory the runs were recorded in [default: /var/lib/cronbeat for root, else $XDG_STATE_HOME/cronbeat, else ~/.local/state/cronbeat]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'cronbeat;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the configuration without running anything')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Each job''s latest run from the ledger, one line per job; --check for Nagios, Icinga and monit')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'A job''s latest runs from the ledger, newest first')
            [CompletionResult]::new('last-output', 'last-output', [CompletionResultType]::ParameterValue, 'The output tail of a job''s latest failed run, byte for byte')
            [CompletionResult]::new('metrics', 'metrics', [CompletionResultType]::ParameterValue, 'The ledger as Prometheus metrics, per job')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cronbeat;help;check' {
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
        'cronbeat;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
