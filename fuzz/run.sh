#!/usr/bin/env bash
# Builds and runs the fuzz targets (see fuzz/README.md). Used by CI and by humans:
#
#   fuzz/run.sh smoke                    every target for 20 s, from the committed corpus (CI)
#   fuzz/run.sh long SECONDS [TARGET..]  every (or each named) target for SECONDS, one at a time
#   fuzz/run.sh cmin [TARGET..]          fold runs/ and seeds/ into the committed corpus, minimized
#   fuzz/run.sh build                    install cargo-fuzz if missing, build, write the seeds
#
# Each run uses -rss_limit_mb=256 -malloc_limit_mb=2 (SECURITY-TESTS D1): a single allocation
# over 2 MB, 256 MB resident, a panic, a sanitizer report or a 10 s input is a failure. Every
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
# cc (1.2+) instruments C++ with ASan when the Rust code is: libFuzzer's own per-feature
# bookkeeping then runs instrumented and costs more than the targets. The targets stay
# instrumented; only libFuzzer's runtime is built without ASan.
export CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }-fno-sanitize=address"
ASAN_RUN="quarantine_size_mb=16:malloc_context_size=2:detect_stack_use_after_return=0"

die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

build() {
    cargo +nightly --version >/dev/null 2>&1 \
        || die "the nightly toolchain is missing (cargo +nightly); cargo-fuzz needs it"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
        cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
    fi
    echo "== cargo +nightly fuzz build ${BUILD_FLAGS[*]} (all targets and the seed generator)"
    cargo +nightly fuzz build "${BUILD_FLAGS[@]}"
    local host
    host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    echo "== seeds"
    "${CARGO_TARGET_DIR:-target}/$host/release/seed" seeds
}

# run_target TARGET SECONDS: one libFuzzer run; prints a summary line, returns its status.
run_target() {
    local target="$1" seconds="$2" log="$LOGS/$1.log" status=0
    local args=(-max_total_time="$seconds" -rss_limit_mb=256 -malloc_limit_mb=2 -timeout=10
        -print_final_stats=1)
    if [[ -f "dict/$target.dict" ]]; then
        args+=(-dict="dict/$target.dict")
    fi
    # `open` reads values up to codec D's 16 KiB limit (and one byte more).
    if [[ "$target" == open ]]; then
        args+=(-max_len=16500)
    fi
    mkdir -p "$LOGS" "runs/$target" "corpus/$target" "seeds/$target"
    echo "== $target: ${seconds}s (log: fuzz/$log)"
    # RUST_BACKTRACE=0: symbolizing a backtrace allocates more than -malloc_limit_mb, which
    # would turn every panic into an out-of-memory report. Re-run an artifact for the trace.
    # ASan's quarantine of freed memory would otherwise grow towards its 256 MB default and
    # trip -rss_limit_mb on a long run without any leak. malloc_context_size=2 keeps two frames
    # of each allocation's stack instead of 30, and detect_stack_use_after_return=0 gives every
    # frame a plain stack instead of a fake one (a quarter of the targets' time each; safe Rust
    # cannot return a dangling stack reference). Re-run an artifact without them for full
    # allocation stacks.
    # New inputs go to runs/ (the first directory); corpus/ and seeds/ are only read.
    RUST_BACKTRACE=0 \
        ASAN_OPTIONS="$ASAN_RUN${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$target" \
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
        echo "reproduce: cargo +nightly fuzz run ${BUILD_FLAGS[*]} <target> fuzz/artifacts/<target>/<file>" >&2
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
    RUST_BACKTRACE=0 ASAN_OPTIONS="$ASAN_RUN" \
        cargo +nightly fuzz cmin "${BUILD_FLAGS[@]}" "$target" "corpus/$target" \
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
