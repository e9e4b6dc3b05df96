
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
            cand --timeout 'Kill the command when it runs longer than DUR (e.g. 90s, 5m, 1h 30m); exit status 124'
            cand --kill-after 'Grace between SIGTERM and SIGKILL on timeout, forwarded stop signals and leftovers [default: 10s]'
            cand --lock 'Skip this run when another run holds this lock file (flock)'
            cand --jitter 'Sleep a random time in [0, DUR) before starting, to spread a fleet'
            cand --tail 'Bytes of combined output kept for the finish report; 0 keeps none [default: 10240]'
            cand --ping 'Monitor to report to (repeatable): a Healthchecks ping URL, or KIND+URL. CRONBEAT_PING holds one or more, separated by whitespace'
            cand --ping-file 'Read monitor URLs from this file, one per line (keeps secrets out of `ps`)'
            cand --ping-timeout 'Time limit of one ping attempt: connect, TLS, send and receive [default: 5s]'
            cand --ping-retries 'Retries after a failed ping attempt [default: 3]'
            cand --log-format 'Format of cronbeat''s own lines on stderr [default: text]'
            cand -q 'Hold the command''s output back and show it only when the run fails'
            cand --quiet 'Hold the command''s output back and show it only when the run fails'
            cand --no-start-ping 'Do not send the start ping'
            cand -v 'Print a line per event on stderr'
            cand --verbose 'Print a line per event on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Validate the configuration without running anything'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;check'= {
            cand --config 'Config file to validate'
            cand --job 'Only validate this job (default: every job)'
            cand --ping 'Also send a harmless test ping to each monitor and report whether it is reachable'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'cronbeat;help'= {
            cand check 'Validate the configuration without running anything'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cronbeat;help;check'= {
        }
        &'cronbeat;help;help'= {
        }
    ]
    $completions[$command]
}
