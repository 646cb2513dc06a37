#!/usr/bin/env bash
# HTTP cost of the session layer: req/s and server CPU time per request of a server pinned to
# one core, loaded by wrk pinned to another, over loopback; each configuration against its
# stack's bare server and its inline limit, from the same run.
#
#   benches/http.sh                      # all fifteen configurations, 3 x (2 s warm-up + 10 s)
#   ONLY='hyper' benches/http.sh         # configurations whose name matches a regex
#   DURATION=5 REPS=1 benches/http.sh    # a quick look
#   RUSTFLAGS='--cfg poly1305_force_soft --cfg chacha20_force_sse2' benches/http.sh
#                                        # XChaCha20-Poly1305 without the AVX2 backends, which
#                                        # are ~4x slower on cookie-sized messages here
#   MODE=instructions benches/http.sh    # instructions, allocations and syscalls per request
#                                        # under callgrind: the same at any machine load
#
# Environment: DURATION (s, 10), WARMUP (s, 2), REPS (3; the median is reported),
# CONNECTIONS (32), SERVER_CPU (0), CLIENT_CPU (1), PORT (38080), ONLY (regex, all),
# NICE (-10: server and wrk run at this niceness when allowed, so that other work on a shared
# machine takes less of their cores; 0 to turn off).
#
# Configurations, each against the bare server and the inline limit of its own stack:
#   (a) bare            `service_fn` / axum handler answering "hello, world"
#   (b) inline          no layer; the handler does the read-modify-reseal by hand (postcard, a
#                       cached AES-256-GCM, base64url, a user-space ChaCha20 nonce): the limit
#   (c) session ALG     SessionLayer; every request opens the cookie, bumps a counter and
#                       re-seals it (a fixed Cookie header, so the counter goes 1 -> 2 each time)
#   (d) untouched       SessionLayer; the handler never touches the session (cookie still sent)
#   (e) handle          (MODE=instructions only) a layer that only puts a shared flag into the
#                       request's extensions and reads it on the response: the floor of any
#                       Extensions-based layer on a route that never uses it, for (d)
#   (f) codec           (MODE=instructions only) no layer; the handler does (b)'s work through
#                       the crate's public Codec and writes the layer's line: the crate's
#                       format without its engine (session - codec - (handle - bare) is what
#                       the engine and the layer's own work add)
# and actix-web 4 (one worker): bare, this crate's actix SessionMiddleware (session ALG,
# untouched), and actix-session 0.11's cookie store doing the same read-modify-reseal; actix
# has no inline limit (their /limit column is -).
# Every configuration sends the same-shaped Cookie header, the bare ones included.
#
# Besides req/s the table shows the server's CPU use and its CPU time per request (from
# /proc/PID/schedstat): on a busy machine the per-request CPU time is the steadier number. Each
# run's line also shows how long the server waited for its core (other work on it); on a quiet
# machine that stays near 0%.
#
# MODE=instructions (the default is MODE=wrk, all of the above) counts instead of timing: each
# server runs under `valgrind --tool=callgrind` (GLIBC_TUNABLES keeps glibc's memset/memcpy off
# `rep stosb`/`rep movsb`, which valgrind counts per byte) and benches/callgrind.py sends it, on
# one keep-alive connection, N1 and then N2 identical GET / requests with the Cookie header wrk
# sends, each once the answer to the previous one has arrived and the server sleeps again in
# epoll_wait; callgrind's counters are dumped after each phase. Per request is
# (phase N2 - phase N1) / (N2 - N1): instructions (Ir), allocations (calls into malloc, calloc,
# realloc; what a counting GlobalAlloc sees) and syscalls (callgrind's sysCount less the clock
# reads, which valgrind makes syscalls but natively read the vDSO: what `strace -c` counts on
# the native server; the clock reads are shown apart). Two runs agree to about 0.01% (the 8 KiB
# sessions to about 0.1%: glibc malloc's heap layout, and with it the cost of its calls, differs
# a little from run to run). This mode adds (e), (f) and two configurations more, against the
# same baselines:
#   (g) session aes-256-gcm chunked     an 8 KiB string of random characters more, in three
#                                       cookies (max_chunks(3))
#   (h) session aes-256-gcm compressed  an 8 KiB repetitive string more, compressed into one
#                                       cookie (compression(true))
# Environment: N1 (200), N2 (2200), ONLY, PORT, NICE (10 in this mode: the counts do not depend
# on load, so the servers yield to other work), CALLGRIND_DIR (where each configuration's
# profiles stay, ${CARGO_TARGET_DIR:-target}/callgrind). Where the instructions go, per request:
#   benches/callgrind.py top DIR/n1.out DIR/n2.out N1 N2 [COUNT] [MATCH]
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${MODE:-wrk}
case $MODE in
wrk | instructions) ;;
*) printf 'http.sh: MODE must be wrk or instructions, not %s\n' "$MODE" >&2 && exit 1 ;;
esac
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
REPS=${REPS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-38080}
ONLY=${ONLY:-}
if [ "$MODE" = instructions ]; then
    NICE=${NICE:-10}
else
    NICE=${NICE:--10}
fi
N1=${N1:-200}
N2=${N2:-2200}
CALLGRIND_DIR=${CALLGRIND_DIR:-${CARGO_TARGET_DIR:-target}/callgrind}

# name | server arguments | bare baseline | inline limit | target (CPU/request over the
# limit for session routes, over bare for untouched ones; or -)
CONFIGS=(
    "hyper bare|bare-hyper|hyper bare|hyper inline|-"
    "hyper inline|hyper-inline|hyper bare|hyper inline|-"
    "hyper session aes-256-gcm|hyper-session aes|hyper bare|hyper inline|1.05"
    "hyper session xchacha20-poly1305|hyper-session xchacha|hyper bare|hyper inline|-"
    "hyper untouched|hyper-untouched aes|hyper bare|hyper inline|1.01"
    "axum bare|bare-axum|axum bare|axum inline|-"
    "axum inline|axum-inline|axum bare|axum inline|-"
    "axum session aes-256-gcm|axum-session aes|axum bare|axum inline|1.05"
    "axum session xchacha20-poly1305|axum-session xchacha|axum bare|axum inline|-"
    "axum untouched|axum-untouched aes|axum bare|axum inline|1.01"
    "actix bare|bare-actix|actix bare|-|-"
    "actix session aes-256-gcm|actix-session aes|actix bare|-|-"
    "actix session xchacha20-poly1305|actix-session xchacha|actix bare|-|-"
    "actix untouched|actix-untouched aes|actix bare|-|-"
    "actix-session cookie store|actix-session-store private|actix bare|-|-"
)
if [ "$MODE" = instructions ]; then
    CONFIGS=(
        "${CONFIGS[@]:0:5}"
        "hyper handle|handle-hyper|hyper bare|hyper inline|-"
        "hyper codec|hyper-codec aes|hyper bare|hyper inline|-"
        "hyper session aes-256-gcm chunked|hyper-session aes-chunked|hyper bare|hyper inline|-"
        "hyper session aes-256-gcm compressed|hyper-session aes-compressed|hyper bare|hyper inline|-"
        "${CONFIGS[@]:5:5}"
        "axum handle|handle-axum|axum bare|axum inline|-"
        "axum codec|axum-codec aes|axum bare|axum inline|-"
        "axum session aes-256-gcm chunked|axum-session aes-chunked|axum bare|axum inline|-"
        "axum session aes-256-gcm compressed|axum-session aes-compressed|axum bare|axum inline|-"
        "${CONFIGS[@]:10}"
    )
    # The issue's targets in instructions (over the limit for session routes, over bare for
    # untouched ones), in place of the CPU-time targets above.
    declare -A INSTRUCTION_TARGET=(
        ["hyper session aes-256-gcm"]=1.25
        ["axum session aes-256-gcm"]=1.22
        ["hyper untouched"]=1.05
        ["axum untouched"]=1.05
    )
fi

log() { printf '%s\n' "$*" >&2; }
die() { log "http.sh: $*"; exit 1; }

# ---- tools ----------------------------------------------------------------------------------
install_debian() {
    command -v apt-get >/dev/null || die "$1 is missing and apt-get is not available"
    log "installing $1 from Debian's packages"
    apt-get install -y "$1" >/dev/null 2>&1 ||
        { apt-get update >/dev/null && apt-get install -y "$1" >/dev/null; } ||
        die "could not install $1"
}
if [ "$MODE" = instructions ]; then
    command -v valgrind >/dev/null || install_debian valgrind
    command -v python3 >/dev/null || die "python3 is missing (benches/callgrind.py needs it)"
else
    command -v wrk >/dev/null || install_debian wrk
fi
command -v curl >/dev/null || install_debian curl
command -v taskset >/dev/null || install_debian util-linux

PRIO=()
if [ "$NICE" != 0 ] && nice -n "$NICE" true 2>/dev/null; then
    PRIO=(nice -n "$NICE")
fi
PIN_SERVER=("${PRIO[@]}" taskset -c "$SERVER_CPU")
PIN_CLIENT=("${PRIO[@]}" taskset -c "$CLIENT_CPU")
if [ "$(nproc)" -lt 2 ]; then
    log "warning: fewer than 2 CPUs; server and load generator share the CPU (numbers are not comparable)"
    PIN_SERVER=("${PRIO[@]}")
    PIN_CLIENT=("${PRIO[@]}")
fi

# ---- build ----------------------------------------------------------------------------------
# The `bench` profile is `release` plus line tables (Cargo.toml), so `perf` can read it too.
log "building the server (cargo build --profile bench -p sealed-session-bench --bin http_server)"
BUILD_PRIO=()
if [ "$MODE" = instructions ]; then BUILD_PRIO=("${PRIO[@]}"); fi
SERVER=$("${BUILD_PRIO[@]}" cargo build --profile bench -p sealed-session-bench --bin http_server \
    --message-format=json-render-diagnostics |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$SERVER" ] || die "no server binary from cargo"

# ---- one run --------------------------------------------------------------------------------
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

start_server() { # ARGS...
    "${PIN_SERVER[@]}" "$SERVER" "$@" "$PORT" >/dev/null &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/start" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "server '$*' exited"
        sleep 0.05
    done
    die "server '$*' did not answer on port $PORT"
}

# The `name=value` of the Set-Cookie on GET PATH (empty if none), sending COOKIE if given.
set_cookie_of() { # PATH [COOKIE]
    curl -s -D - -o /dev/null ${2:+-H "Cookie: $2"} "http://127.0.0.1:$PORT$1" |
        tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: *\([^;]*\).*/\1/p' | head -n 1
}

# PID: "on-CPU ns, runnable-but-waiting ns" of the server, summed over its threads (actix-web
# serves from a worker thread; the others are single-threaded): schedstat is exact; without it,
# clock ticks from stat and no wait time.
cpu_ns() {
    if [ -r "/proc/$1/schedstat" ]; then
        cat /proc/"$1"/task/*/schedstat | awk '{ on += $1; waited += $2 } END { printf "%.0f %.0f\n", on, waited }'
    else
        awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f 0\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"
    fi
}

# A cookie of the real shape for the bare servers (they ignore it; it only sizes the request).
start_server hyper-session aes
SAMPLE_COOKIE=$(set_cookie_of /start)
stop_server
[ -n "$SAMPLE_COOKIE" ] || die "the session server sent no Set-Cookie on /start"

# Sets RESULT to "req/s cpu_percent us_per_request wait_percent" for one configuration (no subshell, so
# that a failure stops the server through the EXIT trap).
RESULT=
run_once() { # SERVER_ARGS
    # shellcheck disable=SC2086 # the server arguments are words
    start_server $1
    local cookie=$SAMPLE_COOKIE
    case $1 in
    *session* | *inline*)
        cookie=$(set_cookie_of /start)
        # Check the measured route really re-seals on every request with this cookie.
        [ -n "$(set_cookie_of / "$cookie")" ] || die "'$1': GET / with the cookie sent no Set-Cookie"
        ;;
    *untouched*)
        cookie=$(set_cookie_of /start)
        [ -z "$(set_cookie_of / "$cookie")" ] || die "'$1': GET / sent a Set-Cookie"
        ;;
    esac
    [ -n "$cookie" ] || die "'$1': no cookie"
    local url="http://127.0.0.1:$PORT/"
    "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -H "Cookie: $cookie" "$url" >/dev/null
    local ns0 ns1 wait0 wait1 out
    read -r ns0 wait0 <<<"$(cpu_ns "$SERVER_PID")"
    out=$("${PIN_CLIENT[@]}" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Cookie: $cookie" "$url")
    read -r ns1 wait1 <<<"$(cpu_ns "$SERVER_PID")"
    stop_server
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        log "warning: '$1': $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')"
    fi
    RESULT=$(awk -v t0="$ns0" -v t1="$ns1" -v w0="$wait0" -v w1="$wait1" '
        /requests in/ { n = $1; secs = $4; sub(/s,?$/, "", secs) }
        /^Requests\/sec:/ { rps = $2 }
        END {
            if (rps == "" || n == 0) exit 1
            cpu = (t1 - t0) / 1e9
            printf "%.0f %.0f %.2f %.0f\n", rps, 100 * cpu / secs, 1e6 * cpu / n, 100 * (w1 - w0) / 1e9 / secs
        }' <<<"$out") || die "'$1': could not read wrk's output"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---- all runs, round-robin so that drift hits every configuration alike --------------------
declare -A RPS CPU USR
BUSY_RUNS=0
TOTAL_RUNS=0
SELECTED=()
WANTED=" "
for config in "${CONFIGS[@]}"; do
    IFS='|' read -r name _ base limit _ <<<"$config"
    if [ -z "$ONLY" ] || [[ $name =~ $ONLY ]]; then
        WANTED+="$name|$base|$limit|"
    fi
done
for config in "${CONFIGS[@]}"; do # the wanted ones and their baselines, in table order
    IFS='|' read -r name _ _ _ _ <<<"$config"
    if [[ $WANTED == *"|$name|"* || $WANTED == *" $name|"* ]]; then
        SELECTED+=("$config")
    fi
done
[ ${#SELECTED[@]} -gt 0 ] || die "no configuration matches ONLY='$ONLY'"

# ---- MODE=instructions: callgrind counts, one run per configuration ------------------------
TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0x1000000000:glibc.cpu.x86_rep_movsb_threshold=0x1000000000
declare -A INSTRUCTIONS ALLOCATIONS SYSCALLS CLOCKS
measure_instructions() { # NAME SERVER_ARGS
    local dir=$CALLGRIND_DIR/${1// /-} expect=any cookie=$SAMPLE_COOKIE
    case $2 in
    *session* | *inline* | *codec*) expect=session cookie= ;; # its own cookie, from GET /start
    *untouched*) expect=untouched cookie= ;;
    esac
    rm -rf "$dir"
    mkdir -p "$dir"
    # shellcheck disable=SC2086 # the server arguments are words
    GLIBC_TUNABLES=$TUNABLES "${PRIO[@]}" valgrind --tool=callgrind --collect-systime=yes \
        --callgrind-out-file="$dir/callgrind.out" "$SERVER" $2 "$PORT" >/dev/null 2>"$dir/valgrind.log" &
    SERVER_PID=$!
    local out
    out=$(python3 benches/callgrind.py measure --pid "$SERVER_PID" --port "$PORT" --dir "$dir" \
        --expect "$expect" ${cookie:+--cookie "$cookie"} --n1 "$N1" --n2 "$N2") ||
        die "'$1': the measurement failed (valgrind's log: $dir/valgrind.log)"
    stop_server
    read -r "INSTRUCTIONS[$1]" "ALLOCATIONS[$1]" "SYSCALLS[$1]" "CLOCKS[$1]" <<<"$out"
    log "  $(printf '%-38s %9s instructions  %6s allocations  %5s syscalls  %5s clock reads per request' \
        "$1" "${INSTRUCTIONS[$1]}" "${ALLOCATIONS[$1]}" "${SYSCALLS[$1]}" "${CLOCKS[$1]}")"
}

thousands() { printf '%.0f' "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }

if [ "$MODE" = instructions ]; then
    log "callgrind ($(valgrind --version)), GET / x ($N2 - $N1) on one keep-alive connection, nice ${PRIO[2]:-0}"
    log "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(rustc --version)"
    for config in "${SELECTED[@]}"; do
        IFS='|' read -r name args _ _ _ <<<"$config"
        measure_instructions "$name" "$args"
    done
    printf '\n%-38s %12s %8s %8s %8s %9s %7s %7s\n' \
        config 'instr/req' '/limit' '/bare' 'allocs' 'syscalls' 'clocks' target
    for config in "${SELECTED[@]}"; do
        IFS='|' read -r name _ base limit _ <<<"$config"
        ratio() { # BASELINE: this one's instructions over the baseline's, or -
            if [ -n "${INSTRUCTIONS[$1]:-}" ]; then
                awk -v a="${INSTRUCTIONS[$name]}" -v b="${INSTRUCTIONS[$1]}" 'BEGIN { printf "%.3f", a / b }'
            else
                printf -- -
            fi
        }
        vs_limit=$(ratio "$limit")
        vs_bare=$(ratio "$base")
        target=${INSTRUCTION_TARGET[$name]:--}
        verdict=
        if [ "$target" != - ]; then
            measured=$vs_limit
            case $name in *untouched*) measured=$vs_bare ;; esac
            if [ "$measured" != - ]; then
                verdict=$(awk -v r="$measured" -v t="$target" 'BEGIN { print (r <= t ? "ok" : "MISS") }')
            fi
        fi
        printf '%-38s %12s %8s %8s %8s %9s %7s %7s %s\n' "$name" \
            "$(thousands "${INSTRUCTIONS[$name]}")" "$vs_limit" "$vs_bare" \
            "${ALLOCATIONS[$name]}" "${SYSCALLS[$name]}" "${CLOCKS[$name]}" "$target" "$verdict"
    done
    printf '\nPer request, (phase of %s requests - phase of %s) / %s, under callgrind: instructions\n' \
        "$N2" "$N1" "$((N2 - N1))"
    printf '(Ir), allocations (malloc, calloc, realloc calls), syscalls as natively (clock reads,\n'
    printf 'which use the vDSO natively, are the clocks column). /limit, /bare: instructions over\n'
    printf 'those of the same stack'"'"'s inline limit and bare server. The target applies to /limit\n'
    printf 'for session routes and to /bare for untouched ones. Profiles: %s/CONFIG/{n1,n2}.out;\n' \
        "$CALLGRIND_DIR"
    printf 'benches/callgrind.py top DIR/n1.out DIR/n2.out %s %s [COUNT] [MATCH] shows where it goes.\n' \
        "$N1" "$N2"
    exit 0
fi

log "server on CPU $SERVER_CPU, wrk -t1 -c$CONNECTIONS on CPU $CLIENT_CPU, nice ${PRIO[2]:-0}; ${WARMUP}s warm-up + ${DURATION}s x $REPS"
log "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$REPS"); do
    for config in "${SELECTED[@]}"; do
        IFS='|' read -r name args _ _ _ <<<"$config"
        run_once "$args"
        read -r rps cpu us wait <<<"$RESULT"
        log "  run $rep/$REPS  $(printf '%-34s %9s req/s  server CPU %3s%%  %6s us/req  runnable but waiting %3s%%' \
            "$name" "$rps" "$cpu" "$us" "$wait")"
        TOTAL_RUNS=$((TOTAL_RUNS + 1))
        if [ "${wait:-0}" -gt 10 ]; then BUSY_RUNS=$((BUSY_RUNS + 1)); fi
        RPS[$name]+="$rps "
        CPU[$name]+="$cpu "
        USR[$name]+="$us "
    done
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- table ----------------------------------------------------------------------------------
printf '\n%-34s %9s %8s %8s %9s %9s %7s   %s\n' \
    config 'req/s' 'srv CPU' 'us/req' '/bare' '/limit' target 'runs (us/req)'
for config in "${SELECTED[@]}"; do
    IFS='|' read -r name _ base limit target <<<"$config"
    rps=$(median <<<"${RPS[$name]}")
    cpu=$(median <<<"${CPU[$name]}")
    us=$(median <<<"${USR[$name]}")
    over() { # BASELINE: this one's us/req over the baseline's, or -
        if [ -n "${USR[$1]:-}" ]; then
            awk -v a="$us" -v b="$(median <<<"${USR[$1]}")" 'BEGIN { printf "%.3f", a / b }'
        else
            printf -- -
        fi
    }
    vs_bare=$(over "$base")
    vs_limit=$(over "$limit")
    verdict=
    if [ "$target" != - ]; then
        measured=$vs_limit
        case $name in *untouched*) measured=$vs_bare ;; esac
        if [ "$measured" != - ]; then
            verdict=$(awk -v r="$measured" -v t="$target" 'BEGIN { print (r <= t ? "ok" : "MISS") }')
        fi
    fi
    printf '%-34s %9s %7s%% %8s %9s %9s %7s   %s %s\n' \
        "$name" "$rps" "$cpu" "$us" "$vs_bare" "$vs_limit" "$target" "${USR[$name]% }" "$verdict"
done
printf '\n/bare, /limit: server CPU time per request over that of the bare server and of the inline\n'
printf 'limit of the same stack, from this run (medians). The target applies to /limit for session\n'
printf 'routes and to /bare for untouched ones. req/s swings more than CPU time on a shared machine.\n'
if [ "$BUSY_RUNS" -gt 0 ]; then
    printf 'WARNING: in %d of %d runs the server waited >10%% of the time for its core: other\n' \
        "$BUSY_RUNS" "$TOTAL_RUNS"
    printf 'work was running on it, so req/s (and less so us/req) are not reliable; rerun when quiet.\n'
fi
