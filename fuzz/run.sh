#!/usr/bin/env bash
# Builds and runs the fuzz targets (see fuzz/README.md). Used by CI and by humans:
#
#   fuzz/run.sh smoke                    every target for 20 s, from the committed corpus (CI)
#   fuzz/run.sh long SECONDS [TARGET..]  every (or each named) target for SECONDS, one at a time
#   fuzz/run.sh cmin [TARGET..]          fold runs/ and seeds/ into the committed corpus, minimized
#   fuzz/run.sh build                    install cargo-fuzz if missing, build, write the seeds
#
# Two builds of every target: the runs' build, without a sanitizer (the crate and the harnesses
# have no `unsafe` code, and AddressSanitizer made each input cost 1.7-3.8 times as much), and
# an AddressSanitizer build that replays every input the run kept and every committed and seed
# input after it (`-runs=0`), for the `unsafe` code of the dependencies and for leaks
# (README.md, "Sanitizers").
# Each run and replay uses -rss_limit_mb=256 -malloc_limit_mb=2 (SECURITY-TESTS D1; in the
# runs' build the fuzz crate's allocator enforces the 2 MB): a single allocation of 2 MB or
# more, 256 MB resident, a panic, a sanitizer report or a 10 s input is a failure. Every
# target runs even after one fails; the script then exits 1 and names the artifacts.
#
# Corpora: corpus/<target>/ is committed and minimized (runs only read it); seeds/<target>/ is
# written by the seed generator on every build; runs/<target>/ collects what the runs find. The
# last two are ignored by git.
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(open cookie_header cookie_parser chunks plaintext bridge_record roundtrip key_string ring_text)
CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-0.13.2}"
LOGS=artifacts/logs
# Without comparison tracing every byte compare in the crate and the harness calls into
# libFuzzer: that halves the cookie targets' speed. Comparisons of byte strings (memcmp, so
# cookie names, key strings, state words) still guide the mutations, and the dictionaries and
# seeds hold the header values.
# -O: cargo-fuzz's release build (without it, cargo-fuzz adds -Cdebug-assertions to every crate
# through RUSTFLAGS); the overflow checks and debug assertions come from Cargo.toml's profile.
BUILD_FLAGS=(-O --no-trace-compares)
RUN_FLAGS=("${BUILD_FLAGS[@]}" -s none)
# The replaying build: cargo-fuzz's default sanitizer (address), in a target directory of its own.
ASAN_DIR="${CARGO_TARGET_DIR:-target}/asan"
ASAN_FLAGS=("${BUILD_FLAGS[@]}" --target-dir "$ASAN_DIR")
# cc (1.2+) instruments C++ with ASan when the Rust code is: libFuzzer's own per-feature
# bookkeeping then runs instrumented and costs more than the targets. The targets stay
# instrumented; only libFuzzer's runtime is built without ASan.
export CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }-fno-sanitize=address"
ASAN_RUN="quarantine_size_mb=16:malloc_context_size=2:detect_stack_use_after_return=0"
HOST="" # set by build(), which every command runs first

die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

build() {
    cargo +nightly --version >/dev/null 2>&1 \
        || die "the nightly toolchain is missing (cargo +nightly); cargo-fuzz needs it"
    # The runs' build depends on it: the capped allocator and the crash handlers' stack.
    local missing
    missing="$(grep -L 'fuzz_target!(init: sealed_session_fuzz::init()' fuzz_targets/*.rs || true)"
    [[ -z "$missing" ]] || die "targets without fuzz_target!(init: sealed_session_fuzz::init(), ...): $missing"
    HOST="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    [[ -n "$HOST" ]] || die "rustc +nightly -vV names no host"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
    fi
    echo "== cargo +nightly fuzz build ${ASAN_FLAGS[*]} (the replaying build and the seed generator)"
    cargo +nightly fuzz build "${ASAN_FLAGS[@]}"
    # Target by target: the seed generator does not link libFuzzer, and without a sanitizer's
    # runtime nothing else defines the coverage hooks its code calls.
    echo "== cargo +nightly fuzz build ${RUN_FLAGS[*]} TARGET (the runs' build, each target)"
    local target
    for target in "${TARGETS[@]}"; do
        cargo +nightly fuzz build "${RUN_FLAGS[@]}" "$target"
    done
    echo "== seeds"
    "$ASAN_DIR/$HOST/release/seed" seeds
}

# limits TARGET: the options of every run and replay of TARGET.
limits() {
    local target="$1"
    printf '%s\n' -rss_limit_mb=256 -malloc_limit_mb=2 -timeout=10
    # `open` reads values up to codec D's 16 KiB limit (and one byte more).
    if [[ "$target" == open ]]; then
        printf '%s\n' -max_len=16500
    fi
}

# run_target TARGET SECONDS: one libFuzzer run of the runs' build, then the replay of what it
# kept under AddressSanitizer; prints a summary line each, returns the first failure's status.
run_target() {
    local target="$1" seconds="$2" log="$LOGS/$1.log" status=0
    local args=(-max_total_time="$seconds" -print_final_stats=1)
    mapfile -t -O "${#args[@]}" args < <(limits "$target")
    if [[ -f "dict/$target.dict" ]]; then
        args+=(-dict="dict/$target.dict")
    fi
    mkdir -p "$LOGS" "runs/$target" "corpus/$target" "seeds/$target"
    echo "== $target: ${seconds}s (log: fuzz/$log)"
    # RUST_BACKTRACE=0: symbolizing a backtrace allocates more than -malloc_limit_mb, which
    # would turn every panic into an out-of-memory report. Re-run an artifact for the trace.
    # New inputs go to runs/ (the first directory); corpus/ and seeds/ are only read.
    RUST_BACKTRACE=0 cargo +nightly fuzz run "${RUN_FLAGS[@]}" "$target" \
        "runs/$target" "corpus/$target" "seeds/$target" -- "${args[@]}" >"$log" 2>&1 \
        || status=$?
    local runs execs rate cov corpus
    runs="$(grep -o '^Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1 || true)"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 || true)"
    cov="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)"
    corpus="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 || true)"
    if [[ "$status" -eq 0 ]]; then
        echo "   ok: ${execs:-?} executions; $runs; $rate; $cov; $corpus; 0 findings"
    else
        report_failure "$status" "$log"
    fi
    local replayed=0
    replay_target "$target" || replayed=$?
    [[ "$status" -ne 0 ]] || status="$replayed"
    return "$status"
}

# replay_target TARGET: every input of runs/, corpus/ and seeds/ once through the
# AddressSanitizer build (libFuzzer's -runs=0 executes the given corpora and stops).
replay_target() {
    local target="$1" log="$LOGS/$1.asan.log" status=0
    local args=(-runs=0 -artifact_prefix="artifacts/$target/")
    mapfile -t -O 2 args < <(limits "$target")
    mkdir -p "artifacts/$target"
    # ASan's quarantine of freed memory would otherwise grow towards its 256 MB default and
    # trip -rss_limit_mb without any leak. malloc_context_size=2 keeps two frames of each
    # allocation's stack instead of 30, and detect_stack_use_after_return=0 gives every frame
    # a plain stack instead of a fake one (safe Rust cannot return a dangling stack
    # reference). Re-run an artifact without them for full allocation stacks.
    RUST_BACKTRACE=0 ASAN_OPTIONS="$ASAN_RUN${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        "$ASAN_DIR/$HOST/release/$target" "${args[@]}" \
        "runs/$target" "corpus/$target" "seeds/$target" >"$log" 2>&1 || status=$?
    if [[ "$status" -eq 0 ]]; then
        echo "   asan replay ok: $(grep -o '^Done [0-9]* runs' "$log" | tail -1 | sed 's/Done //; s/runs/inputs/')"
    else
        report_failure "$status" "$log"
    fi
    return "$status"
}

report_failure() {
    local status="$1" log="$2"
    echo "   FAILED (exit $status): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|==CappedAlloc' "$log" || echo 'see log')"
    grep -E "panicked at|^assertion|^Test unit written to" "$log" | sed 's/^/   /' | head -5
    tail -n 40 "$log" | sed 's/^/   | /'
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
        echo "reproduce (in fuzz/, with CXXFLAGS=-fno-sanitize=address):" >&2
        echo "  cargo +nightly fuzz run ${RUN_FLAGS[*]} <target> artifacts/<target>/<file>" >&2
        echo "  or, for a report of the replay: cargo +nightly fuzz run ${ASAN_FLAGS[*]} <target> artifacts/<target>/<file>" >&2
        exit 1
    fi
    echo "== fuzzing: ${#targets[@]} targets, ${seconds}s each, no findings"
}

# cmin TARGET: the committed corpus, runs/ and seeds/ merged and minimized into corpus/
# (`cargo fuzz cmin`, which keeps the smallest inputs that reach every feature).
cmin() {
    local target="$1"
    mkdir -p "runs/$target" "corpus/$target" "seeds/$target"
    cp -n "runs/$target/"* "seeds/$target/"* "corpus/$target/" 2>/dev/null || true
    echo "== cmin $target: $(find "corpus/$target" -type f | wc -l) inputs"
    RUST_BACKTRACE=0 cargo +nightly fuzz cmin "${RUN_FLAGS[@]}" "$target" "corpus/$target" \
        -- -rss_limit_mb=256 -malloc_limit_mb=2 -timeout=10 >"$LOGS/cmin-$target.log" 2>&1
    echo "   kept $(find "corpus/$target" -type f | wc -l) inputs, $(du -sk "corpus/$target" | cut -f1) KB"
}

check_targets() {
    for target in "$@"; do
        [[ " ${TARGETS[*]} " == *" $target "* ]] || die "unknown target: $target"
    done
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
        check_targets "$@"
        build
        run_all "$seconds" "$@"
        ;;
    cmin)
        shift
        check_targets "$@"
        build
        mkdir -p "$LOGS"
        if [[ $# -eq 0 ]]; then
            set -- "${TARGETS[@]}"
        fi
        for target in "$@"; do
            cmin "$target"
        done
        echo "== committed corpus: $(du -sk corpus | cut -f1) KB"
        ;;
    build)
        [[ $# -eq 1 ]] || usage
        build
        ;;
    *) usage ;;
esac
