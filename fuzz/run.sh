#!/usr/bin/env bash
# Builds and runs the fuzz targets (see fuzz/README.md). Used by CI and by humans:
#
#   fuzz/run.sh smoke                    every target for 20 s (CI)
#   fuzz/run.sh long SECONDS [TARGET..]  every (or each named) target for SECONDS, one at a time
#   fuzz/run.sh build                    install cargo-fuzz if missing, build, write the seeds
#
# Each run uses -rss_limit_mb=256 -malloc_limit_mb=2 (SECURITY-TESTS D1): a single allocation
# over 2 MB, 256 MB resident, a panic, a sanitizer report or a 10 s input is a failure. Every
# target runs even after one fails; the script then exits 1 and names the artifacts.
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(open cookie_header plaintext roundtrip key_string)
CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-0.13.2}"
LOGS=artifacts/logs

die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

build() {
    cargo +nightly --version >/dev/null 2>&1 \
        || die "the nightly toolchain is missing (cargo +nightly); cargo-fuzz needs it"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
    fi
    echo "== cargo +nightly fuzz build (all targets and the seed generator)"
    cargo +nightly fuzz build
    local host
    host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    echo "== seed corpus"
    "target/$host/release/seed" corpus
}

# run_target TARGET SECONDS: one libFuzzer run; prints a summary line, returns its status.
run_target() {
    local target="$1" seconds="$2" log="$LOGS/$1.log" status=0
    local args=(-max_total_time="$seconds" -rss_limit_mb=256 -malloc_limit_mb=2 -timeout=10
        -print_final_stats=1)
    if [[ -f "dict/$target.dict" ]]; then
        args+=(-dict="dict/$target.dict")
    fi
    mkdir -p "$LOGS"
    echo "== $target: ${seconds}s (log: fuzz/$log)"
    # RUST_BACKTRACE=0: symbolizing a backtrace allocates more than -malloc_limit_mb, which
    # would turn every panic into an out-of-memory report. Re-run an artifact for the trace.
    # ASan's quarantine of freed memory would otherwise grow towards its 256 MB default and
    # trip -rss_limit_mb on a long run without any leak.
    RUST_BACKTRACE=0 ASAN_OPTIONS="quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        cargo +nightly fuzz run "$target" -- "${args[@]}" >"$log" 2>&1 || status=$?
    local runs execs cov corpus
    runs="$(grep -o '^Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1 || true)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)"
    corpus="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 || true)"
    if [[ "$status" -eq 0 ]]; then
        echo "   ok: ${execs:-?} executions; $runs; $cov; $corpus; 0 findings"
    else
        echo "   FAILED (exit $status): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" || echo 'see log')"
        grep -E "panicked at|^assertion|^Test unit written to" "$log" | sed 's/^/   /' | head -5
        tail -n 40 "$log" | sed 's/^/   | /'
    fi
    return "$status"
}

run_all() {
    local seconds="$1"
    shift
    local targets=("$@") failed=()
    if [[ ${#targets[@]} -eq 0 ]]; then
        targets=("${TARGETS[@]}")
    fi
    for target in "${targets[@]}"; do
        run_target "$target" "$seconds" || failed+=("$target")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzzing found problems in: ${failed[*]} (inputs under fuzz/artifacts/<target>/)" >&2
        echo "reproduce: cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>" >&2
        exit 1
    fi
    echo "== fuzzing: ${#targets[@]} targets, ${seconds}s each, no findings"
}

case "${1:-}" in
    smoke)
        [[ $# -eq 1 ]] || usage
        build
        run_all 20
        ;;
    long)
        [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage
        seconds="$2"
        shift 2
        for target in "$@"; do
            [[ " ${TARGETS[*]} " == *" $target "* ]] || die "unknown target: $target"
        done
        build
        run_all "$seconds" "$@"
        ;;
    build)
        [[ $# -eq 1 ]] || usage
        build
        ;;
    *) usage ;;
esac
