#!/usr/bin/env bash
# Instructions of one compression (with the compressor's reset) per DEFLATE level and data set,
# under callgrind, and the compressed sizes: what chose `LEVEL` in src/codec/compress.rs.
#
#   benches/deflate_levels.sh                  # levels 1-6 and 9, every data set, 20 runs each
#   LEVELS='1 6' SETS='shop-60 urls-120' REPS=50 benches/deflate_levels.sh
#
# Data sets and levels are those of benches/src/bin/deflate_levels.rs. GLIBC_TUNABLES keeps
# glibc's memset/memcpy off `rep stosb`/`rep movsb`, which valgrind counts per byte.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-20}
LEVELS=${LEVELS:-1 2 3 4 5 6 9}
SETS=${SETS:-shop-5 shop-20 shop-60 map-40 map-200 urls-20 urls-120 tokens bench-8k page-9k}
BIN=$(cargo build --profile bench -p sealed-session-bench --bin deflate_levels \
    --message-format=json-render-diagnostics |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$BIN" ] || { echo "deflate_levels.sh: no binary from cargo" >&2; exit 1; }
export GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0x1000000000:glibc.cpu.x86_rep_movsb_threshold=0x1000000000
echo "compressed bytes (- : not shorter than the data)"
"$BIN"
echo
echo "instructions per compression (callgrind, $REPS runs each)"
printf '%-10s' data
for level in $LEVELS; do printf ' %9s' "L$level"; done
echo
for set in $SETS; do
    printf '%-10s' "$set"
    for level in $LEVELS; do
        ir=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null --collect-atstart=no \
            --toggle-collect='*compress_once*' "$BIN" "$level" "$set" "$REPS" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        printf ' %9d' $((ir / REPS))
    done
    echo
done
