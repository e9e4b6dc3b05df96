#!/usr/bin/env bash
# Benchmark report: cronbeat side by side with the tools it replaces, measured in one run on this machine.
#
#   benches/run.sh                     build the release binaries, measure, print the report (1 GiB pass-through)
#   benches/run.sh --quick             the same with a 256 MiB pass-through and fewer repetitions
#   benches/run.sh --bin PATH          measure an already built binary instead of building one
#   benches/run.sh --static-bin PATH   the same for the static binary
#   benches/run.sh --no-static         leave the static binary out
#   benches/run.sh --baseline PATH     also measure what the cost accounting adds to -- true against PATH, a
#                                      cronbeat built without it (the commit before "What a run cost")
#
# Two builds: the usual one (glibc, dynamically linked) for every part, and the static one of the README's
# Install section (musl, a static position-independent executable) for the start-up and its peak RSS, where the
# two differ; the static one is built where the x86_64-unknown-linux-musl target and musl-gcc are installed.
#
# Parts: startup against coreutils `timeout` and bare `true`; output pass-through against a `cat` pipe; peak RSS
# (GNU time), also with a 100 MiB --tail that 300 MiB of output fills three times over; the cost of a start and a
# finish ping against a local HTTP server; the hand-written curl wrapper from the Healthchecks docs against the
# same server; what a fleet lock (acquire and release) adds on a Redis and a PostgreSQL started here on
# loopback, and its peak RSS; the fleet ledger on both (what --ledger-url adds to a run, and `status --fleet` over
# 20 hosts x 100 jobs x 1,000 runs: time and peak RSS); the ledger (what recording a run adds, and `cronbeat status` over 100,000 runs of
# 100 jobs and over 1,000,000 runs of one job, about 400 MB, which it reads in bounded memory: time and peak
# RSS); `cronbeat adopt` over a crontab of 1,000 jobs. Times are medians (robust to other load on a shared machine).
#
# The figures are a report, not a test: the exit status is 0 whatever they are, and non-zero only when a step
# itself failed (build, a tool, a benchmarked command, a ping that did not reach the server).
# hyperfine, GNU time and curl are installed with apt-get when missing and possible; without hyperfine the
# timings fall back to a timed loop.
set -uo pipefail

usage() {
    echo "usage:"
    sed -n 's/^#   benches/  benches/p' "${BASH_SOURCE[0]}"
}

quick=0
bin=
static_bin=
baseline=
no_static=0
while (($#)); do
    case $1 in
    --quick) quick=1 ;;
    --bin | --static-bin | --baseline)
        [[ $# -ge 2 ]] || { echo "benches/run.sh: $1 needs a path" >&2; exit 2; }
        case $1 in
        --bin) bin=$2 ;;
        --static-bin) static_bin=$2 ;;
        *) baseline=$2 ;;
        esac
        shift
        ;;
    --no-static) no_static=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "benches/run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if ((quick)); then
    size=256M size_bytes=$((256 << 20)) size_label="256 MiB"
    startup_runs=200 startup_warmup=20
    pass_runs=5 pass_warmup=1 rss_pass_runs=1
    ping_runs=50 ping_warmup=5
    curl_runs=20 curl_warmup=3
else
    size=1G size_bytes=$((1 << 30)) size_label="1 GiB"
    startup_runs=500 startup_warmup=50
    pass_runs=9 pass_warmup=1 rss_pass_runs=2
    ping_runs=150 ping_warmup=10
    curl_runs=50 curl_warmup=5
fi
rss_runs=5
rounds=5

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/cronbeat-bench.XXXXXX") || exit 1
server_pid=
redis_pid=
pg_ctl=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    if [[ -n $redis_pid ]]; then
        kill "$redis_pid" 2>/dev/null
        wait "$redis_pid" 2>/dev/null
    fi
    if [[ -n $pg_ctl ]]; then
        su postgres -s /bin/sh -c "'$pg_ctl' -D '$work/pg/data' -m immediate stop" >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Settings from the caller's environment would change what is measured (a CRONBEAT_PING would add pings to
# the plain runs), and a proxy would sit between the clients and the local server.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^CRONBEAT_')
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
export LC_ALL=C
# Every run records itself in the ledger: here, not in the real state directory.
export CRONBEAT_STATE_DIR=$work/state

say() { printf '%s\n' "$*" >&2; }

errors=0
rows=()
notes=()

# row WHAT CRONBEAT REFERENCE RATIO TARGET RESULT
row() {
    local IFS=$'\x1f'
    rows+=("$*")
}
failed_step() { # failed_step WHAT REASON
    errors=1
    row "$1" "-" "-" "-" "-" "ERROR"
    notes+=("$1: $2")
    say "ERROR: $1: $2"
}
not_available() { # not_available WHAT TARGET: the part needs a working --ping
    if [[ $ping_state == unsupported ]]; then
        row "$1" "n/a" "-" "-" "$2" "n/a (no --ping support yet)"
    else
        row "$1" "-" "-" "-" "$2" "skipped (no working ping)"
    fi
}

# Numbers are formatted and compared in awk: bash has no floating point.
calc() { awk "BEGIN { $1 }" </dev/null; }
fmt_ms() { calc "v = $1; printf (v < 10 ? \"%.2f ms\" : \"%.1f ms\"), v"; }
fmt_mib() { calc "printf \"%.1f MiB\", $1 / 1024"; }
ratio() { calc "printf \"%.2fx\", $1 / $2"; }
verdict() { calc "print (($1) ? \"PASS\" : \"MISS\")"; } # verdict 'AWK-CONDITION'

apt_install() { # apt_install PACKAGE...
    local sudo=()
    command -v apt-get >/dev/null || return 1
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || return 1
        sudo=(sudo -n)
    fi
    say "installing $* with apt-get"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >>"$work/apt.log" 2>&1 && return 0
    "${sudo[@]}" apt-get update -qq >>"$work/apt.log" 2>&1 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >>"$work/apt.log" 2>&1
}

gnu_time_works() { /usr/bin/time -f %M -o "$work/probe" true 2>/dev/null && [[ -s $work/probe ]]; }

# ---------------------------------------------------------------------------------------------------------------
# Tools

have_hyperfine=1
if ! command -v hyperfine >/dev/null; then
    if ! apt_install hyperfine || ! command -v hyperfine >/dev/null; then
        have_hyperfine=0
        notes+=("hyperfine unavailable: timings come from a timed loop in bash (a fork of bash included)")
    fi
fi
have_time=1
if ! gnu_time_works; then
    apt_install time >/dev/null 2>&1
    gnu_time_works || have_time=0
fi
have_curl=1
command -v curl >/dev/null || { apt_install curl && command -v curl >/dev/null; } || have_curl=0
have_python=1
command -v python3 >/dev/null || { apt_install python3 && command -v python3 >/dev/null; } || have_python=0

# ---------------------------------------------------------------------------------------------------------------
# The binaries

# Where cargo builds, as cargo itself says (CARGO_TARGET_DIR or the configuration may move it).
target_dir() {
    (cd "$root" && cargo metadata --locked --format-version 1 --no-deps) |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

if [[ -z $bin ]]; then
    say "building the release binary (cargo build --release --locked)"
    if ! (cd "$root" && cargo build --release --locked) >&2; then
        say "benches/run.sh: the release build failed"
        exit 1
    fi
    bin=$(target_dir)/release/cronbeat
fi
if [[ ! -x $bin ]]; then
    say "benches/run.sh: no executable at $bin"
    exit 1
fi
bin_q=$(printf '%q' "$bin")

musl=x86_64-unknown-linux-musl
if ((no_static)); then
    static_bin=
elif [[ -z $static_bin ]]; then
    if ! rustc --print target-libdir --target "$musl" 2>/dev/null | xargs test -d 2>/dev/null; then
        notes+=("static build left out: the $musl target is not installed (rustup target add $musl)")
    elif ! command -v musl-gcc >/dev/null; then
        notes+=("static build left out: musl-gcc is not installed (apt-get install musl-tools)")
    else
        say "building the static binary (cargo build --release --locked --target $musl)"
        if ! (cd "$root" && cargo build --release --locked --target "$musl") >&2; then
            say "benches/run.sh: the static build failed"
            exit 1
        fi
        static_bin=$(target_dir)/$musl/release/cronbeat
    fi
fi
if [[ -n $static_bin && ! -x $static_bin ]]; then
    say "benches/run.sh: no executable at $static_bin"
    exit 1
fi
static_q=$(printf '%q' "$static_bin")

# ---------------------------------------------------------------------------------------------------------------
# Timing: bench MODE ROUNDS RUNS WARMUP NAME COMMAND [NAME COMMAND]...
# MODE exec runs COMMAND as a word list (no shell in the measurement); MODE shell runs it with sh -c.
# The commands take turns: ROUNDS rounds of RUNS runs each, the order reversed every other round, so that a change
# of load on a shared machine falls on all of them alike. Warmup runs precede the first round.
# Sets median_ms[NAME] (median of the round medians) and min_ms[NAME] (fastest run) for each command.

declare -A median_ms min_ms

bench() {
    local mode=$1 rounds=$2 runs=$3 warmup=$4 round i
    shift 4
    local names=() cmds=() order
    while (($#)); do
        names+=("$1")
        cmds+=("$2")
        shift 2
    done
    : >"$work/rounds"
    for ((round = 0; round < rounds; round++)); do
        order=()
        for ((i = 0; i < ${#names[@]}; i++)); do
            if ((round % 2)); then order=("$i" "${order[@]}"); else order+=("$i"); fi
        done
        bench_round "$mode" "$runs" "$((round == 0 ? warmup : 0))" "${order[@]}" || return 1
    done
    local name
    for name in "${names[@]}"; do
        median_ms[$name]=$(awk -v n="$name" '$1 == n { print $2 }' "$work/rounds" | sort -g |
            awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        min_ms[$name]=$(awk -v n="$name" '$1 == n { print $3 }' "$work/rounds" | sort -g | head -n 1)
    done
}

# bench_round MODE RUNS WARMUP INDEX... (indexes into names/cmds) appends "NAME MEDIAN MIN" lines to $work/rounds.
bench_round() {
    local mode=$1 runs=$2 warmup=$3 i
    shift 3
    if ((have_hyperfine)); then
        local args=(--style none --warmup "$warmup" --runs "$runs" --export-csv "$work/hf.csv") list=()
        [[ $mode == exec ]] && args+=(-N)
        for i; do
            args+=(--command-name "${names[i]}")
            list+=("${cmds[i]}")
        done
        if ! hyperfine "${args[@]}" "${list[@]}" >"$work/hf.out" 2>&1; then
            cat "$work/hf.out" >&2
            return 1
        fi
        awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                 { printf "%s %.6f %.6f\n", $col["command"], $col["median"] * 1000, $col["min"] * 1000 }' \
            "$work/hf.csv" >>"$work/rounds"
    else
        local stats
        for i; do
            stats=$(loop_bench "$mode" "$runs" "$warmup" "${cmds[i]}") || return 1
            echo "${names[i]} $stats" >>"$work/rounds"
        done
    fi
}

loop_bench() { # loop_bench MODE RUNS WARMUP COMMAND -> "MEDIAN MIN" in ms
    local mode=$1 runs=$2 warmup=$3 cmd=$4 i t0 t1 times=()
    one() {
        if [[ $mode == exec ]]; then
            (eval "exec $cmd") >/dev/null 2>&1 </dev/null
        else
            sh -c "$cmd" >/dev/null 2>&1 </dev/null
        fi
    }
    for ((i = 0; i < warmup; i++)); do one || return 1; done
    for ((i = 0; i < runs; i++)); do
        t0=${EPOCHREALTIME/[.,]/}
        one || return 1
        t1=${EPOCHREALTIME/[.,]/}
        times+=($((t1 - t0)))
    done
    printf '%s\n' "${times[@]}" | sort -n |
        awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.6f %.6f\n", m / 1000, v[1] / 1000 }'
}

# peak_rss RUNS COMMAND... -> the largest peak RSS in KiB over RUNS runs.
# GNU time reports the larger of cronbeat's own peak and that of the children it reaped.
peak_rss() {
    local runs=$1 i v max=0
    shift
    for ((i = 0; i < runs; i++)); do
        if ! /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/rss.err" </dev/null; then
            cat "$work/rss.err" "$work/rss" >&2
            return 1
        fi
        v=$(tail -n 1 "$work/rss")
        ((v > max)) && max=$v
    done
    echo "$max"
}

# ---------------------------------------------------------------------------------------------------------------
# The local monitor: answers every request at once with 200 and an empty body, logs "METHOD PATH" per request.

server_url=
start_server() {
    cat >"$work/server.py" <<'EOF'
import http.server, os, sys

log = open(sys.argv[1], "a", buffering=1)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        log.write(f"{self.command} {self.path}\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_PUT = answer

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
EOF
    : >"$work/requests.log"
    python3 "$work/server.py" "$work/requests.log" "$work/port" 2>"$work/server.err" &
    server_pid=$!
    local i
    for ((i = 0; i < 200; i++)); do
        if [[ -s $work/port ]]; then
            server_url=http://127.0.0.1:$(cat "$work/port")
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$work/server.err" >&2
    return 1
}

new_check() { echo "$server_url/$(cat /proc/sys/kernel/random/uuid)"; }
requests_to() { # requests_to CHECK-URL SUFFIX -> how many requests the server got for CHECK/SUFFIX
    local path=${1#"$server_url"}
    grep -c -E -- " $path/$2(\?|\$)" "$work/requests.log"
}

# ---------------------------------------------------------------------------------------------------------------

say "cronbeat benchmark ($size_label pass-through): $bin"
started=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Startup --------------------------------------------------------------------------------------------------
say "1/8 startup: cronbeat -- true vs timeout 60 true vs true"
what="startup: -- true vs timeout 60 true"
startup=(cb_true "$bin_q -- true" timeout_true "timeout 60 true" bare_true "true")
[[ -n $static_bin ]] && startup+=(cb_static "$static_q -- true")
if bench exec "$rounds" "$((startup_runs / rounds))" "$startup_warmup" "${startup[@]}"; then
    cb=${median_ms[cb_true]} ref=${median_ms[timeout_true]} bare=${median_ms[bare_true]}
    # The goal: within 1 ms of `timeout 60 true`.
    row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(ratio "$cb" "$ref") $(calc "printf \"(%+.2f ms)\", $cb - $ref")" \
        "+ < 1 ms" "$(verdict "$cb - $ref < 1")"
    if [[ -n $static_bin ]]; then
        st=${median_ms[cb_static]}
        row "startup, static: -- true vs timeout 60 true" "$(fmt_ms "$st")" "$(fmt_ms "$ref")" \
            "$(ratio "$st" "$ref") $(calc "printf \"(%+.2f ms)\", $st - $ref")" "+ < 1 ms" "$(verdict "$st - $ref < 1")"
    fi
    row "startup: -- true vs bare true" "$(fmt_ms "$cb")" "$(fmt_ms "$bare")" "$(ratio "$cb" "$bare")" "-" "info"
    # The fastest run is what the machine gives with no competition; the median includes the load of the moment.
    cb=${min_ms[cb_true]} ref=${min_ms[timeout_true]} bare=${min_ms[bare_true]}
    fastest="cronbeat $(fmt_ms "$cb") ($(ratio "$cb" "$ref"))"
    [[ -n $static_bin ]] && fastest+=", static $(fmt_ms "${min_ms[cb_static]}") ($(ratio "${min_ms[cb_static]}" "$ref"))"
    notes+=("startup, fastest runs: $fastest, timeout $(fmt_ms "$ref"), true $(fmt_ms "$bare")")
else
    failed_step "$what" "the startup benchmark failed"
fi

# What a run cost: the accounting of every run (getrusage, /proc/vmstat, the run's cgroup v2 files) against a
# build without it, and what a cgroup v1 of the run's own costs (mkdir, limits, the move, rmdir), which
# cronbeat makes only for --memory-max and --tasks-max.
if [[ -n $baseline ]]; then
    what="cost: -- true vs the build without accounting"
    if bench exec "$rounds" "$((startup_runs / rounds))" "$startup_warmup" \
        cb_cost "$bin_q -- true" cb_base "$(printf '%q' "$baseline") -- true"; then
        cb=${median_ms[cb_cost]} ref=${median_ms[cb_base]}
        row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.3f ms\", $cb - $ref")" \
            "+ < 0.2 ms" "$(verdict "$cb - $ref < 0.2")"
    else
        failed_step "$what" "the accounting benchmark failed"
    fi
fi
what="cost: --memory-max 1G --tasks-max 10000 -- true vs -- true"
if "$bin" --no-ledger --memory-max 1G --tasks-max 10000 -- true 2>/dev/null; then
    if bench exec "$rounds" "$((startup_runs / rounds))" "$startup_warmup" \
        cb_limited "$bin_q --memory-max 1G --tasks-max 10000 -- true" cb_plain "$bin_q -- true"; then
        cb=${median_ms[cb_limited]} ref=${median_ms[cb_plain]}
        row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.3f ms\", $cb - $ref")" "-" "info"
    else
        failed_step "$what" "the limits benchmark failed"
    fi
else
    row "$what" "n/a" "-" "-" "-" "n/a (no memory and pids controller for cronbeat here)"
fi

# 2. Pass-through ---------------------------------------------------------------------------------------------
say "2/8 pass-through: cronbeat -- head -c $size /dev/zero vs head -c $size /dev/zero | cat"
what="pass-through $size_label vs head | cat"
if bench shell "$pass_runs" 1 "$pass_warmup" \
    cb_pass "$bin_q -- head -c $size /dev/zero > /dev/null" \
    cat_pass "head -c $size /dev/zero | cat > /dev/null"; then
    cb=${median_ms[cb_pass]} ref=${median_ms[cat_pass]}
    row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(ratio "$cb" "$ref")" "< 1.15x" "$(verdict "$cb / $ref < 1.15")"
    notes+=("pass-through throughput: cronbeat $(calc "printf \"%.2f\", $size_bytes / 1073741824 / ($cb / 1000)") GiB/s, cat pipe $(calc "printf \"%.2f\", $size_bytes / 1073741824 / ($ref / 1000)") GiB/s")
else
    failed_step "$what" "the pass-through benchmark failed"
fi
# A fast pass-through that loses bytes would be worthless: count them once.
passed=$("$bin" -- head -c "$size" /dev/zero | wc -c)
if [[ $passed != "$size_bytes" ]]; then
    failed_step "pass-through byte count" "cronbeat passed $passed bytes of $size_bytes"
fi

# Monitor (needed by parts 3-monitor, 4 and 5) ----------------------------------------------------------------
# --ping counts as supported when a wrapped `true` delivers both its start and its finish ping.
ping_state=unsupported
if ((!have_python)); then
    failed_step "local monitor" "python3 is not available to run the local HTTP server"
    ping_state=error
elif ! start_server; then
    failed_step "local monitor" "the local HTTP server did not start"
    ping_state=error
else
    check=$(new_check)
    "$bin" --ping "$check" -- true >/dev/null 2>"$work/probe.err" </dev/null
    rc=$?
    starts=$(requests_to "$check" start) finishes=$(requests_to "$check" 0)
    if ((rc == 0 && starts == 1 && finishes == 1)); then
        ping_state=ok
    elif ((starts + finishes == 0)) && [[ ! -s $work/requests.log ]]; then
        say "note: cronbeat --ping sent nothing (exit status $rc): no --ping support yet"
        ping_state=unsupported
    else
        cat "$work/probe.err" >&2
        failed_step "ping probe" "cronbeat --ping exit $rc; server got $starts start and $finishes finish requests (want 1 and 1)"
        ping_state=error
    fi
fi

# 3. Peak RSS -------------------------------------------------------------------------------------------------
say "3/8 peak RSS (GNU time %M)"
if ((!have_time)); then
    failed_step "peak RSS" "GNU time (/usr/bin/time -f %M) is not available"
else
    if kib=$(peak_rss "$rss_runs" "$bin" -- true) && ref=$(peak_rss "$rss_runs" true); then
        row "peak RSS: -- true (ref: true alone)" "$(fmt_mib "$kib")" "$(fmt_mib "$ref")" "-" "< 8 MiB" "$(verdict "$kib < 8192")"
    else
        failed_step "peak RSS: -- true" "the measured run failed"
    fi
    if [[ -n $static_bin ]]; then
        if kib=$(peak_rss "$rss_runs" "$static_bin" -- true); then
            row "peak RSS, static: -- true" "$(fmt_mib "$kib")" "-" "-" "< 8 MiB" "$(verdict "$kib < 8192")"
        else
            failed_step "peak RSS, static: -- true" "the measured run failed"
        fi
    fi
    if kib=$(peak_rss "$rss_pass_runs" "$bin" -- head -c "$size" /dev/zero) &&
        ref=$(peak_rss 1 head -c "$size" /dev/zero); then
        row "peak RSS: $size_label pass-through (ref: head)" "$(fmt_mib "$kib")" "$(fmt_mib "$ref")" "-" "< 8 MiB" "$(verdict "$kib < 8192")"
    else
        failed_step "peak RSS: $size_label pass-through" "the measured run failed"
    fi
    # A large --tail costs about its own size: the ring is the only copy of it, and the report is cleaned in
    # that same buffer. 300 MiB printed sends the ring round three times.
    what="peak RSS: --tail 100M, 300 MiB printed"
    if kib=$(peak_rss "$rss_pass_runs" "$bin" --tail 100M -- sh -c 'head -c 300M /dev/zero'); then
        row "$what" "$(fmt_mib "$kib")" "100.0 MiB" "$(ratio "$kib" 102400)" "< 116 MiB" "$(verdict "$kib < 118784")"
    else
        failed_step "$what" "the measured run failed"
    fi
    what="peak RSS: the same, held back by --quiet"
    if kib=$(peak_rss "$rss_pass_runs" "$bin" --quiet --tail 100M -- sh -c 'head -c 300M /dev/zero'); then
        row "$what" "$(fmt_mib "$kib")" "100.0 MiB" "$(ratio "$kib" 102400)" "< 116 MiB" "$(verdict "$kib < 118784")"
    else
        failed_step "$what" "the measured run failed"
    fi
    what="peak RSS: --ping URL -- true"
    case $ping_state in
    ok)
        check=$(new_check)
        if kib=$(peak_rss "$rss_runs" "$bin" --ping "$check" -- true); then
            got=$(requests_to "$check" 0)
            if ((got == rss_runs)); then
                row "$what" "$(fmt_mib "$kib")" "-" "-" "< 8 MiB" "$(verdict "$kib < 8192")"
            else
                failed_step "$what" "server got $got finish requests for $rss_runs runs"
            fi
        else
            failed_step "$what" "the measured run failed"
        fi
        ;;
    *) not_available "$what" "< 8 MiB" ;;
    esac
    what="peak RSS: --tail 100M with --ping URL"
    case $ping_state in
    ok)
        check=$(new_check)
        if kib=$(peak_rss "$rss_pass_runs" "$bin" --ping "$check" --tail 100M -- sh -c 'head -c 300M /dev/zero'); then
            row "$what" "$(fmt_mib "$kib")" "100.0 MiB" "$(ratio "$kib" 102400)" "< 116 MiB" "$(verdict "$kib < 118784")"
        else
            failed_step "$what" "the measured run failed"
        fi
        ;;
    *) not_available "$what" "< 116 MiB" ;;
    esac
fi

# 4. Cost of the pings ----------------------------------------------------------------------------------------
say "4/8 pings: cronbeat --ping URL -- true vs cronbeat -- true"
what="pings: --ping URL -- true vs -- true"
case $ping_state in
ok)
    check=$(new_check)
    if bench exec "$rounds" "$((ping_runs / rounds))" "$ping_warmup" \
        cb_ping "$bin_q --ping $check -- true" cb_plain "$bin_q -- true"; then
        cb=${median_ms[cb_ping]} ref=${median_ms[cb_plain]}
        want=$((ping_runs / rounds * rounds + ping_warmup))
        starts=$(requests_to "$check" start) finishes=$(requests_to "$check" 0)
        if ((starts == want && finishes == want)); then
            row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(ratio "$cb" "$ref") $(calc "printf \"(%+.2f ms)\", $cb - $ref")" \
                "+ < 10 ms" "$(verdict "$cb - $ref < 10")"
            notes+=("pings: the server received $starts start and $finishes finish requests for $want runs")
        else
            failed_step "$what" "server got $starts start and $finishes finish requests for $want runs"
        fi
    else
        failed_step "$what" "the ping benchmark failed"
    fi
    ;;
*) not_available "$what" "+ < 10 ms" ;;
esac

# 5. The hand-written curl wrapper ----------------------------------------------------------------------------
say "5/8 cronbeat --ping URL -- true vs the curl wrapper from the Healthchecks docs"
what="--ping URL -- true vs curl wrapper"
# dash expands $? before the command substitution runs, so the finish URL carries the job's status.
cat >"$work/classic.sh" <<'EOF'
url=$1 log=$2
curl -fsS -m 10 --retry 5 -o /dev/null "$url/start"
true >"$log" 2>&1
curl -fsS -m 10 --retry 5 --data-raw "$(tail -c 10000 "$log")" -o /dev/null "$url/$?"
EOF
case $ping_state in
ok)
    if ((!have_curl)); then
        failed_step "$what" "curl is not available"
    else
        check=$(new_check) classic_check=$(new_check)
        if bench exec "$rounds" "$((curl_runs / rounds))" "$curl_warmup" \
            cb_hc "$bin_q --ping $check -- true" \
            classic "sh $(printf '%q' "$work/classic.sh") $classic_check $(printf '%q' "$work/classic.log")"; then
            cb=${median_ms[cb_hc]} ref=${median_ms[classic]}
            want=$((curl_runs / rounds * rounds + curl_warmup))
            got=("$(requests_to "$check" start)" "$(requests_to "$check" 0)"
                "$(requests_to "$classic_check" start)" "$(requests_to "$classic_check" 0)")
            if [[ ${got[*]} == "$want $want $want $want" ]]; then
                row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(ratio "$cb" "$ref")" "<= 1.00x" "$(verdict "$cb <= $ref")"
            else
                failed_step "$what" "server got start/finish ${got[0]}/${got[1]} (cronbeat) and ${got[2]}/${got[3]} (curl wrapper) for $want runs"
            fi
        else
            failed_step "$what" "the curl wrapper benchmark failed"
        fi
    fi
    ;;
*) not_available "$what" "<= 1.00x" ;;
esac

# 6. Fleet lock ------------------------------------------------------------------------------------------------
say "6/8 fleet lock: cronbeat --lock redis://… / postgres://… -- true vs cronbeat -- true"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_url= pg_url=
if ! command -v redis-server >/dev/null && ! apt_install redis-server; then
    notes+=("fleet lock: redis-server unavailable")
elif ((have_python)); then
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >/dev/null 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then redis_url=redis://127.0.0.1:$port; break; fi
        sleep 0.05
    done
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z $pg_bin ]] && apt_install postgresql; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [[ -z $pg_bin ]] || ! id postgres >/dev/null 2>&1 || [[ $(id -u) -ne 0 ]] || ((!have_python)); then
    notes+=("fleet lock: no PostgreSQL to measure against (needs Debian's postgresql and root)")
else
    port=$(free_port)
    mkdir -p "$work/pg" && chown postgres "$work/pg" && chmod o+x "$work"
    if su postgres -s /bin/sh -c "'$pg_bin/initdb' -A trust -U postgres -D '$work/pg/data' >'$work/pg/initdb.log' 2>&1 &&
        '$pg_bin/pg_ctl' -D '$work/pg/data' -l '$work/pg/server.log' -w \
          -o \"-p $port -k $work/pg -c listen_addresses=127.0.0.1\" start >/dev/null"; then
        pg_ctl=$pg_bin/pg_ctl
        pg_url=postgres://postgres@127.0.0.1:$port/postgres
    else
        notes+=("fleet lock: PostgreSQL did not start ($(tail -n 1 "$work/pg/server.log" 2>/dev/null))")
    fi
fi
for engine in redis postgres; do
    if [[ $engine == redis ]]; then url=$redis_url target=5; else url=$pg_url target=20; fi
    what="fleet lock: --lock $engine:// -- true vs -- true"
    if [[ -z $url ]]; then
        row "$what" "-" "-" "-" "+ < $target ms" "skipped (no $engine)"
        continue
    fi
    # The first run creates PostgreSQL's tables; every measured run acquires and releases the lease.
    if ! "$bin" --lock "$url" --name bench -- true >/dev/null 2>"$work/lock.err"; then
        failed_step "$what" "cronbeat --lock $engine failed: $(head -n 1 "$work/lock.err")"
        continue
    fi
    if bench exec "$rounds" "$((ping_runs / rounds))" "$ping_warmup" \
        "cb_$engine" "$bin_q --lock $url --name bench -- true" cb_plain "$bin_q -- true"; then
        cb=${median_ms[cb_$engine]} ref=${median_ms[cb_plain]}
        row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.2f ms\", $cb - $ref")" \
            "+ < $target ms" "$(verdict "$cb - $ref < $target")"
    else
        failed_step "$what" "the fleet lock benchmark failed"
    fi
    if ((have_time)); then
        if kib=$(peak_rss "$rss_runs" "$bin" --lock "$url" --name bench -- true); then
            row "peak RSS: --lock $engine:// -- true" "$(fmt_mib "$kib")" "-" "-" "< 8 MiB" "$(verdict "$kib < 8192")"
        else
            failed_step "peak RSS: --lock $engine:// -- true" "the measured run failed"
        fi
    fi
done
# 6b. The fleet ledger -----------------------------------------------------------------------------------------
say "6/8 fleet ledger: what --ledger-url adds to a run; status --fleet over 20 hosts x 100 jobs x 1,000 runs (2,000,000)"

# gen_fleet ENGINE URL: 100 jobs of 20,000 runs each, taking turns on 20 hosts (1,000 runs per job and host,
# 2,000,000 in all), written the way the runs write them (the local record's JSON, failures with a 1.2 KB output
# tail), straight into the engine. A job's own --keep-runs would trim it to 1,000 at its next run; the readers do
# not depend on the trim, so this is the worst an estate that raised --keep-runs can ask of them.
fleet_runs=20000
gen_fleet() {
    local engine=$1 url=$2 j
    # The first run creates the tables.
    "$bin" --ledger-url "$url" --name bench-first -- true >/dev/null 2>&1 || return 1
    if [[ $engine == postgres ]]; then
        "$pg_bin/psql" -q -v ON_ERROR_STOP=1 -v fleet_runs="$fleet_runs" "$url" >/dev/null <<'SQL' || return 1
INSERT INTO cronbeat_jobs (name) SELECT 'bench-' || j FROM generate_series(0, 99) j ON CONFLICT DO NOTHING;
INSERT INTO cronbeat_hosts (name, host, last_seen)
SELECT 'bench-' || j, 'host-' || h, now() FROM generate_series(0, 99) j, generate_series(0, 19) h
ON CONFLICT DO NOTHING;
INSERT INTO cronbeat_runs (name, run_id, host, started_at, finished_at, outcome, success, failure, record, tail)
SELECT 'bench-' || j, md5(j || '-' || i), 'host-' || (i % 20), t, t + interval '2 seconds',
       CASE WHEN i % 50 = 7 THEN 'failure' ELSE 'success' END, i % 50 <> 7, i % 50 = 7,
       json_build_object('v', 1, 'run_id', md5(j || '-' || i), 'name', 'bench-' || j, 'host', 'host-' || (i % 20),
         'tick', null, 'started_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'finished_at', to_char((t + interval '2 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'duration_s', 2.0, 'outcome', CASE WHEN i % 50 = 7 THEN 'failure' ELSE 'success' END,
         'exit_status', CASE WHEN i % 50 = 7 THEN 1 ELSE 0 END, 'success', i % 50 <> 7,
         'message', CASE WHEN i % 50 = 7 THEN 'exited with status 1' ELSE 'exited with status 0' END,
         'schedule', json_build_object('expr', '*/5 * * * *', 'tz', 'UTC', 'grace_s', 3900),
         'fail_after', null, 'tail', null)::text,
       CASE WHEN i % 50 = 7 THEN convert_to(repeat('an output line of the job', 48), 'UTF8') END
FROM generate_series(0, 99) j, generate_series(0, :fleet_runs - 1) i,
     LATERAL (SELECT now() - (:fleet_runs - i) * interval '5 minutes' AS t) x;
ANALYZE cronbeat_runs;
SQL
    else
        local port=${url##*:}
        for ((j = 0; j < 100; j++)); do
            redis-cli -p "$port" EVAL '
local now = tonumber(redis.call("TIME")[1]) * 1000
local last
local runs = tonumber(ARGV[2])
for i = 0, runs - 1 do
  local t = now - (runs - i) * 300000
  local failed = i % 50 == 7
  local record = string.format([[{"v":1,"run_id":"%s-%d","name":"%s","host":"host-%d","tick":null,"started_at":"x","finished_at":"x","duration_s":2.0,"outcome":"%s","exit_status":%d,"success":%s,"message":"exited","schedule":{"expr":"*/5 * * * *","tz":"UTC","grace_s":3900},"fail_after":null,"tail":null}]],
    ARGV[1], i, ARGV[1], i % 20, failed and "failure" or "success", failed and 1 or 0, failed and "false" or "true")
  last = cjson.encode({host = "host-" .. (i % 20), started = t, finished = t + 2000, record = record})
  if failed then
    redis.call("XADD", KEYS[1], "*", "run", last, "tail", string.rep("an output line of the job", 48))
  else
    redis.call("XADD", KEYS[1], "*", "run", last)
  end
end
redis.call("HSET", KEYS[2], "latest", last, "finished", last, "latest_started", now, "latest_id", ARGV[1] .. "-" .. (runs - 1),
  "finished_at", now, "success_at", now, "success_host", "host-19", "fails", 0)
for h = 0, 19 do redis.call("HSET", KEYS[3], "host-" .. h, now) end
return 1' 3 "cronbeat:{bench-$j}:ledger:runs" "cronbeat:{bench-$j}:ledger:state" "cronbeat:{bench-$j}:ledger:hosts" \
                "bench-$j" "$fleet_runs" >/dev/null || return 1
            redis-cli -p "$port" SADD cronbeat:ledger:jobs "bench-$j" >/dev/null || return 1
        done
    fi
}

for engine in postgres redis; do
    if [[ $engine == redis ]]; then url=$redis_url target=3; else url=$pg_url target=10; fi
    what="fleet ledger: --ledger-url $engine:// -- true vs -- true"
    if [[ -z $url ]]; then
        row "$what" "-" "-" "-" "+ < $target ms" "skipped (no $engine)"
        continue
    fi
    what_status="status --fleet ($engine): 20 hosts x 100 jobs x 1,000 runs (2,000,000 runs)"
    if ! gen_fleet "$engine" "$url"; then
        failed_step "$what_status" "the fleet ledger could not be written"
    else
        lines=$("$bin" status --fleet "$url" 2>"$work/status.err" | wc -l)
        if [[ $lines != 102 || -s $work/status.err ]]; then
            cat "$work/status.err" >&2
            failed_step "$what_status" "cronbeat status --fleet printed $lines lines (want 102) or warned"
        elif bench exec 3 10 2 \
            "cb_fleet_status_$engine" "$bin_q status --fleet $url" \
            "cb_fleet_check_$engine" "$bin_q status --fleet $url --check" \
            "cb_fleet_metrics_$engine" "$bin_q metrics --fleet $url"; then
            cb=${median_ms[cb_fleet_status_$engine]}
            if [[ $engine == postgres ]]; then
                row "$what_status" "$(fmt_ms "$cb")" "-" "-" "< 300 ms" "$(verdict "$cb < 300")"
            else
                row "$what_status" "$(fmt_ms "$cb")" "-" "-" "-" "info"
            fi
            row "status --fleet --check ($engine), the same" "$(fmt_ms "${median_ms[cb_fleet_check_$engine]}")" "-" "-" "-" "info"
            row "metrics --fleet ($engine), the same" "$(fmt_ms "${median_ms[cb_fleet_metrics_$engine]}")" "-" "-" "-" "info"
        else
            failed_step "$what_status" "the status --fleet benchmark failed"
        fi
        if ((have_time)); then
            if kib=$(peak_rss 3 "$bin" status --fleet "$url"); then
                row "peak RSS: status --fleet ($engine), the same" "$(fmt_mib "$kib")" "-" "-" "< 16 MiB" "$(verdict "$kib < 16384")"
            else
                failed_step "peak RSS: status --fleet ($engine)" "the measured run failed"
            fi
        fi
    fi
    # Each measured run writes its start and its end; the job keeps 1,000 runs (trimmed in the end's statement).
    if bench exec "$rounds" "$((ping_runs / rounds))" "$ping_warmup" \
        "cb_ledger_$engine" "$bin_q --ledger-url $url --name bench-run -- true" cb_plain "$bin_q -- true"; then
        cb=${median_ms[cb_ledger_$engine]} ref=${median_ms[cb_plain]}
        row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.2f ms\", $cb - $ref")" \
            "+ < $target ms" "$(verdict "$cb - $ref < $target")"
    else
        failed_step "$what" "the fleet ledger benchmark failed"
    fi
done

# 7. The ledger -----------------------------------------------------------------------------------------------
say "7/8 ledger: what recording a run adds; cronbeat status over 100,000 runs of 100 jobs and 1,000,000 of one"

# gen_ledger DIR JOBS RUNS: a ledger as runs write it (the fields and their order of src/ledger/record.rs), RUNS
# records for each of JOBS jobs: mostly successes, some failures and timeouts with a kept output, a schedule in
# every record.
gen_ledger() {
    python3 - "$@" <<'EOF'
import os, sys, time, uuid

root, jobs, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
schedule = '{"expr":"*/5 * * * *","tz":"Europe/Berlin","grace_s":3660}'


def stamp(t, ms=None):
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return text + "Z" if ms is None else "%s.%03dZ" % (text, ms)


for j in range(jobs):
    name = "bench" if jobs == 1 else "job-%03d" % j
    d = os.path.join(root, "ledger", name)
    os.makedirs(d, exist_ok=True)
    lines = []
    for i in range(runs):
        due = 1_700_000_000 + i * 300
        rid = str(uuid.UUID(int=(j << 64) | i, version=4))
        kind = i % 50
        if kind in (7, 19, 33, 41):
            outcome, code, ok, message = "failure", 1, "false", "exited with status 1"
        elif kind == 45:
            outcome, code, ok = "timeout", 124, "false"
            message = "timed out after 4m and was stopped (killed by SIGTERM)"
        else:
            outcome, code, ok, message = "success", 0, "true", "exited with status 0"
        tail = "null" if ok == "true" else '"tails/%013d-%s"' % (due * 1000 + 120, rid)
        lines.append(
            '{"v":1,"run_id":"%s","name":"%s","host":"db1.example.org","tick":"%s","started_at":"%s",'
            '"finished_at":"%s","duration_s":12.225,"outcome":"%s","exit_status":%d,"success":%s,"message":"%s",'
            '"schedule":%s,"fail_after":null,"tail":%s}\n'
            % (rid, name, stamp(due), stamp(due, 120), stamp(due + 12, 345), outcome, code, ok, message, schedule, tail)
        )
    with open(os.path.join(d, "runs.jsonl"), "w") as f:
        f.writelines(lines)
EOF
}

if ((!have_python)); then
    failed_step "ledger" "python3 is not available to write the benchmark's ledger"
else
    # A job in its steady state: a full ledger of 1,000 runs, so that reading, appending and the trim every 500
    # runs are all in the measurement.
    what="ledger: -- true vs --no-ledger -- true"
    run_ledger=$work/ledger-run
    if ! gen_ledger "$run_ledger" 1 1000; then
        failed_step "$what" "the ledger could not be written"
    elif bench exec "$rounds" "$((startup_runs / rounds))" "$startup_warmup" \
        cb_ledger "$bin_q --state-dir $run_ledger --name bench -- true" \
        cb_failafter "$bin_q --state-dir $run_ledger --name bench --fail-after 3 -- true" \
        cb_noledger "$bin_q --no-ledger --name bench -- true"; then
        cb=${median_ms[cb_ledger]} fa=${median_ms[cb_failafter]} ref=${median_ms[cb_noledger]}
        row "$what" "$(fmt_ms "$cb")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.2f ms\", $cb - $ref")" "+ < 1 ms" "$(verdict "$cb - $ref < 1")"
        row "ledger: the same with --fail-after 3" "$(fmt_ms "$fa")" "$(fmt_ms "$ref")" "$(calc "printf \"%+.2f ms\", $fa - $ref")" "+ < 1 ms" "$(verdict "$fa - $ref < 1")"
        kept=$(wc -l <"$run_ledger/ledger/bench/runs.jsonl")
        notes+=("ledger: the measured job held $kept runs at the end (--keep-runs 1000: trimmed back to 1,000 at 1,500)")
    else
        failed_step "$what" "the ledger benchmark failed"
    fi

    what="status: 100 jobs x 1,000 runs"
    big=$work/ledger-big
    if ! gen_ledger "$big" 100 1000; then
        failed_step "$what" "the ledger could not be written"
    else
        lines=$("$bin" status --state-dir "$big" 2>"$work/status.err" | wc -l)
        if [[ $lines != 101 || -s $work/status.err ]]; then
            cat "$work/status.err" >&2
            failed_step "$what" "cronbeat status printed $lines lines (want 101) or warned"
        elif bench exec 3 10 2 \
            cb_status "$bin_q status --state-dir $big" \
            cb_status_json "$bin_q status --json --state-dir $big" \
            cb_metrics "$bin_q metrics --state-dir $big"; then
            cb=${median_ms[cb_status]}
            row "$what" "$(fmt_ms "$cb")" "-" "-" "< 200 ms" "$(verdict "$cb < 200")"
            row "status --json, the same ledger" "$(fmt_ms "${median_ms[cb_status_json]}")" "-" "-" "-" "info"
            row "metrics, the same ledger" "$(fmt_ms "${median_ms[cb_metrics]}")" "-" "-" "-" "info"
            notes+=("ledger: 100,000 runs of 100 jobs are $(cat "$big"/ledger/*/runs.jsonl | wc -c) bytes of records")
        else
            failed_step "$what" "the status benchmark failed"
        fi
        if ((have_time)); then
            if kib=$(peak_rss 3 "$bin" status --state-dir "$big"); then
                row "peak RSS: status, 100 jobs x 1,000 runs" "$(fmt_mib "$kib")" "-" "-" "< 16 MiB" "$(verdict "$kib < 16384")"
            else
                failed_step "peak RSS: status" "the measured run failed"
            fi
        fi
    fi
    rm -rf "$big"

    # One job of a million runs (--keep-runs 1000000): the file is read a block at a time, never held whole, so
    # neither the time nor the memory grows with more than the file's length and its longest line.
    what="status: 1 job x 1,000,000 runs"
    huge=$work/ledger-huge
    if ! gen_ledger "$huge" 1 1000000; then
        failed_step "$what" "the ledger could not be written"
    else
        lines=$("$bin" status --state-dir "$huge" 2>"$work/status.err" | wc -l)
        if [[ $lines != 2 || -s $work/status.err ]]; then
            cat "$work/status.err" >&2
            failed_step "$what" "cronbeat status printed $lines lines (want 2) or warned"
        elif bench exec 3 3 1 cb_status_huge "$bin_q status --state-dir $huge"; then
            cb=${median_ms[cb_status_huge]}
            row "$what" "$(fmt_ms "$cb")" "-" "-" "< 1 s" "$(verdict "$cb < 1000")"
            notes+=("ledger: 1,000,000 runs of one job are $(wc -c <"$huge/ledger/bench/runs.jsonl") bytes of records")
        else
            failed_step "$what" "the status benchmark failed"
        fi
        if ((have_time)); then
            if kib=$(peak_rss 3 "$bin" status --state-dir "$huge"); then
                row "peak RSS: status, 1 job x 1,000,000 runs" "$(fmt_mib "$kib")" "-" "-" "< 16 MiB" "$(verdict "$kib < 16384")"
            else
                failed_step "peak RSS: status, 1,000,000 runs" "the measured run failed"
            fi
        fi
    fi
    rm -rf "$huge"
fi

# 8. adopt -----------------------------------------------------------------------------------------------------
say "8/8 adopt: the plan for a crontab of 1,000 jobs"

# gen_crontab FILE: 1,000 jobs of five kinds (a plain command, a pipeline after cd, the Healthchecks curl recipe, a
# command with % input, a macro with \% in the command), with the environment lines crontabs have.
gen_crontab() {
    python3 - "$1" <<'EOF'
import sys

lines = ["# 1,000 jobs", "SHELL=/bin/bash", "PATH=/usr/local/bin:/usr/bin:/bin", "MAILTO=ops@example.com"]
for i in range(1000):
    kind = i % 5
    if kind == 0:
        lines.append(f"{i % 60} {i % 24} * * * /usr/local/bin/job{i}.sh --flag >/dev/null 2>&1")
    elif kind == 1:
        lines.append(f"*/5 * * * * cd /srv/app{i} && ./run.sh | logger -t job{i}")
    elif kind == 2:
        lines.append(f"0 3 * * mon-fri /usr/bin/backup{i} --full && curl -fsS -m 10 --retry 5 -o /dev/null "
                     f"https://hc-ping.com/00000000-0000-4000-8000-{i:012d}")
    elif kind == 3:
        lines.append(f"15 4 1 * * mysql db{i} %SELECT 1;%")
    else:
        lines.append(f"@daily date +\\%Y-\\%m-\\%d >> /var/log/day{i}")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(lines) + "\n")
EOF
}

what="adopt: plan and diff of 1,000 crontab lines"
if ((!have_python)); then
    failed_step "$what" "python3 is not available to write the benchmark's crontab"
elif ! gen_crontab "$work/crontab-1000"; then
    failed_step "$what" "the crontab could not be written"
else
    adopt_cmd="$bin_q adopt --crontab $work/crontab-1000 --state-dir $work/adopt-state --ping-dir $work/adopt-ping"
    planned=$(eval "$adopt_cmd" 2>"$work/adopt.err" | grep -c '^1000 jobs: 800 to wrap, 200 to convert\.$')
    if [[ $planned != 1 || -s $work/adopt.err ]]; then
        cat "$work/adopt.err" >&2
        failed_step "$what" "cronbeat adopt did not plan 800 wraps and 200 conversions"
    elif bench exec 3 10 2 cb_adopt "$adopt_cmd"; then
        cb=${median_ms[cb_adopt]}
        row "$what" "$(fmt_ms "$cb")" "-" "-" "< 200 ms" "$(verdict "$cb < 200")"
    else
        failed_step "$what" "the adopt benchmark failed"
    fi
fi

# ---------------------------------------------------------------------------------------------------------------
# Report

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "cronbeat benchmark report ($size_label pass-through$( ((quick)) && echo ", --quick"))"
echo "machine:  ${cpu:-unknown CPU}, $(nproc) cores, $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576; exit }' /proc/meminfo) RAM, $(uname -sr)"
echo "load:     $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "binary:   $bin ($(stat -c %s "$bin") bytes, $("$bin" --version 2>/dev/null), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown))"
[[ -n $static_bin ]] && echo "static:   $static_bin ($(stat -c %s "$static_bin") bytes, $(file -b "$static_bin" 2>/dev/null | cut -d, -f1-2 || echo ELF))"
if ((have_hyperfine)); then
    timer=$(hyperfine --version)
else
    timer="a timed bash loop"
fi
echo "timing:   $timer, medians, commands taking turns; runs each: startup $startup_runs, pass-through $pass_runs, pings $ping_runs, curl $curl_runs"
echo
fmt='%-46s %12s %12s %22s %10s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" what cronbeat reference ratio target result
# shellcheck disable=SC2059
printf "$fmt" "$(printf '%.0s-' {1..46})" "------------" "------------" "----------------------" "----------" "------"
for r in "${rows[@]}"; do
    IFS=$'\x1f' read -r -a f <<<"$r"
    # shellcheck disable=SC2059
    printf "$fmt" "${f[@]}"
done
if ((${#notes[@]})); then
    echo
    for n in "${notes[@]}"; do echo "note: $n"; done
fi
echo
echo "measured in $((SECONDS - started)) s"
exit "$errors"
