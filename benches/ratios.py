#!/usr/bin/env python3
"""Prints ours/floor ratios from the last `cargo bench --bench seal_open` run.

Reads target/criterion/**/new/{benchmark,estimates}.json (or the criterion folder given as the
first argument) and prints ns/op (criterion's median estimate) for ours and the floor, and
ours/floor, for seal, open and seal+open per algorithm; then the sealed lengths the bench
recorded. Python 3 standard library only.
"""

import json
import pathlib
import sys

TARGET = 1.25  # the bound on ours/floor, for seal and for open


def load(root):
    times = {}
    for bench in root.glob("**/new/benchmark.json"):
        estimates = bench.with_name("estimates.json")
        if not estimates.exists():
            continue
        full_id = json.loads(bench.read_text())["full_id"]
        times[full_id] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return times


def main():
    here = pathlib.Path(__file__).resolve().parent
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here / "target" / "criterion"
    times = load(root)
    algorithms = sorted({i.split("/")[0] for i in times if i.endswith("/seal/ours")})
    if not algorithms:
        sys.exit(f"no seal_open results under {root}; run cargo bench --bench seal_open first")

    print(f"{'benchmark':<30} {'ours ns':>9} {'floor ns':>9} {'ratio':>6}")
    over = []
    for alg in algorithms:
        total = {"ours": 0.0, "floor": 0.0}
        for op in ("seal", "open"):
            ours, floor = times.get(f"{alg}/{op}/ours"), times.get(f"{alg}/{op}/floor")
            if ours is None or floor is None:
                print(f"{alg + '/' + op:<30} {'missing':>9}")
                continue
            total["ours"] += ours
            total["floor"] += floor
            ratio = ours / floor
            flag = "" if ratio <= TARGET else f"  > {TARGET}x"
            if flag:
                over.append(f"{alg}/{op}")
            print(f"{alg + '/' + op:<30} {ours:9.1f} {floor:9.1f} {ratio:6.2f}{flag}")
        if total["floor"]:
            ratio = total["ours"] / total["floor"]
            print(f"{alg + '/seal+open':<30} {total['ours']:9.1f} {total['floor']:9.1f} {ratio:6.2f}")
        sealed_len = times.get(f"{alg}/sealed_len/ours")
        if sealed_len is not None:
            print(f"{alg + '/sealed_len':<30} {sealed_len:9.1f}")

    lengths = root / "seal_open_sealed_len.json"
    if lengths.exists():
        for alg, info in sorted(json.loads(lengths.read_text()).items()):
            print(
                f"{alg}: sealed length {info['ours']} chars (floor {info['floor']}, "
                f"plaintext {info['plaintext']} bytes)"
            )
    print("all within" if not over else "over", f"{TARGET}x" + ("" if not over else ": " + ", ".join(over)))


if __name__ == "__main__":
    main()
