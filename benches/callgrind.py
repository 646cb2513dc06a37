#!/usr/bin/env python3
"""The client and the arithmetic of `MODE=instructions benches/http.sh`. Python 3 standard library.

  callgrind.py measure --pid PID --port PORT --dir DIR [--expect session|untouched|any]
                       [--cookie 'name=value; ...'] [--n1 200] [--n2 2200] [--warmup 50]

PID is a benchmark server running under `valgrind --tool=callgrind --collect-systime=yes`
that writes its profiles to DIR/callgrind.out. Without --cookie, the session cookie is the one
`GET /start` sets (all its Set-Cookie lines, for a chunked session). On one keep-alive
connection it sends WARMUP, then N1, then N2 identical `GET /` requests with that `Cookie`
header (the header wrk sends), each only once the answer to the previous one has arrived and
the server is asleep again in `epoll_wait`, so that every request takes the same path through
the event loop. After each phase it dumps (and zeroes) callgrind's counters with
`callgrind_control -d`; the per-request costs are (phase N2 - phase N1) / (N2 - N1), which
cancels what each phase costs once (the dump, the wake-up). It prints one line:

  instructions/request  allocations/request  syscalls/request  clock-reads/request

Instructions are callgrind's Ir; allocations are calls into malloc, calloc, realloc and the
memalign family (what a counting `GlobalAlloc` would see: alloc, alloc_zeroed, realloc);
syscalls are callgrind's sysCount less the clock reads (clock_gettime, gettimeofday, time),
which valgrind turns into syscalls but which natively read the vDSO: what `strace -c` counts
on the server running natively.

  callgrind.py top N1-PROFILE N2-PROFILE N1 N2 [COUNT] [MATCH]

The COUNT (20) functions with the highest inclusive instructions per request between the two
phase profiles that `measure` leaves (DIR/n1.out and DIR/n2.out), (N2 - N1) / (n2 - n1), among
the functions whose name contains MATCH (default: all), with their own instructions and the
calls into them per request: what `callgrind_annotate --inclusive=yes` shows for each
profile, subtracted.

  callgrind.py codec [--n1 200] [--n2 2200] [--dir DIR] [--bin BINARY]

Instructions per seal and per open of the public `Codec` against the in-process floor of
benches/benches/seal_open.rs, both algorithms, in one run: builds that bench (`--profile
bench`, unless --bin gives it), runs it as `seal_open --instructions N1 N2` under callgrind
(with GLIBC_TUNABLES as benches/http.sh sets them), which dumps one profile per phase, and
prints per call (inclusive Ir of the operation's function in the phase of N2 calls minus the
phase of N1 calls) / (N2 - N1), the allocations per call the same way, and ours/floor. The
profiles stay in DIR (${CARGO_TARGET_DIR:-target}/callgrind/codec) as ALG-OP-IMPL-n1.out and
-n2.out, for `top`. NICE (10) is the niceness it runs at: the counts do not depend on load.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

EPOLL_WAITS = {"232", "281", "441"}  # x86_64 epoll_wait, epoll_pwait, epoll_pwait2
ALLOCATORS = {
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "__libc_malloc",
    "__libc_calloc",
    "__libc_realloc",
    "__libc_memalign",
    "__posix_memalign",
}
# Natively these read the vDSO; under valgrind, which hides it, each is a syscall.
CLOCKS = {"clock_gettime", "__clock_gettime", "gettimeofday", "__gettimeofday", "time"}


def base_name(name):
    """A function's name without its symbol version (`clock_gettime@@GLIBC_2.17`)."""
    return name.split("@", 1)[0] if name else name


def fail(message):
    sys.exit(f"callgrind.py: {message}")


# ---- the server's state ----------------------------------------------------------------------


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def asleep(pid):
    """Whether every thread of PID is blocked in a syscall and its main thread in epoll_wait."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
        for tid in tids:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                call = f.read().split()
            if not call or call[0] in ("running", "-1"):
                return False
            if tid == str(pid) and call[0] not in EPOLL_WAITS:
                return False
    except (FileNotFoundError, ProcessLookupError):
        fail(f"server {pid} exited")
    return True


def wait_asleep(pid, timeout=60.0):
    deadline = time.monotonic() + timeout
    # Twice in a row, a little apart: a thread between two syscalls can look blocked once.
    while not (asleep(pid) and (time.sleep(0.0005) or asleep(pid))):
        if time.monotonic() > deadline:
            fail(f"server {pid} did not go back to sleep in {timeout:.0f} s")
        time.sleep(0.0002)


def dump(pid, directory, label):
    """Dumps and zeroes the counters; returns the path of the new profile."""
    before = set(os.listdir(directory))
    run = subprocess.run(
        ["callgrind_control", "-d", label, str(pid)], capture_output=True, text=True
    )
    if run.returncode != 0 or "OK" not in run.stdout:
        fail(f"callgrind_control -d failed: {run.stdout.strip()} {run.stderr.strip()}")
    new = sorted(set(os.listdir(directory)) - before)
    new = [n for n in new if n.startswith("callgrind.out")]
    if len(new) != 1:
        fail(f"expected one new profile in {directory} after the dump, found {new}")
    path = os.path.join(directory, new[0])
    os.replace(path, os.path.join(directory, f"{label}.out"))
    return os.path.join(directory, f"{label}.out")


# ---- HTTP/1.1 --------------------------------------------------------------------------------


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, raw):
        """Sends RAW and returns (status, headers as (lower-case name, value) pairs, body)."""
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        lengths = [v for n, v in headers if n == "content-length"]
        if len(lengths) != 1:
            fail(f"a response without one Content-Length: {lines}")
        length = int(lengths[0])
        while len(self.buf) < length:
            self._read()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def _read(self):
        data = self.sock.recv(65536)
        if not data:
            fail("the server closed the connection")
        self.buf += data

    def close(self):
        self.sock.close()


def get(port, path, cookie=None):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + (
        f"Cookie: {cookie}\r\n" if cookie else ""
    ) + "\r\n"


def set_cookies(headers):
    """The `name=value` of each Set-Cookie line."""
    return [v.split(";", 1)[0] for n, v in headers if n == "set-cookie"]


def wait_listening(pid, port, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        if not alive(pid):
            fail(f"server {pid} exited before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                fail(f"server {pid} did not listen on port {port} in {timeout:.0f} s")
            time.sleep(0.1)


# ---- profiles --------------------------------------------------------------------------------


def read_profile(path):
    """One callgrind profile: (totals by event, allocation calls, clock calls, per-function
    figures).

    The figures are {name: [inclusive Ir, self Ir, calls into it]}, summed over every entry
    of that name (inlined code is listed under several files); a function's calls to itself
    are not added to its inclusive cost.
    """
    names = {}  # "(id)" -> function name; fn= and cfn= share the table

    def name_of(spec):
        spec = spec.strip()
        m = re.match(r"(\(\d+\))(?:\s+(.*))?$", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    events, totals, positions = [], None, 1
    functions = {}
    caller = callee = None
    in_call = False
    allocations = clocks = 0
    with open(path) as f:
        for line in f:
            first = line[:1]
            if first.isdigit() or first in "+-*":
                if caller is None:
                    continue
                fields = line.split()
                ir = int(fields[positions]) if len(fields) > positions else 0
                entry = functions.setdefault(caller, [0, 0, 0])
                if in_call:
                    in_call = False
                    if callee != caller:
                        entry[0] += ir
                else:
                    entry[0] += ir
                    entry[1] += ir
            elif line.startswith("fn="):
                caller = name_of(line[3:])
            elif line.startswith("cfn="):
                callee = name_of(line[4:])
            elif line.startswith("calls="):
                count = int(line[6:].split()[0])
                in_call = True
                functions.setdefault(callee, [0, 0, 0])[2] += count
                into, source = base_name(callee), base_name(caller)
                if into in ALLOCATORS and source not in ALLOCATORS:
                    allocations += count
                if into in CLOCKS and source not in CLOCKS:
                    clocks += count
            elif line.startswith("positions:"):
                positions = len(line.split()) - 1
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:") or (line.startswith("summary:") and totals is None):
                totals = [int(x) for x in line.split()[1:]]
    if totals is None or events[:1] != ["Ir"]:
        fail(f"no Ir totals in {path}")
    totals = dict(zip(events, totals + [0] * (len(events) - len(totals))))
    return totals, allocations, clocks, functions


def measure(args):
    wait_listening(args.pid, args.port)
    cookie = args.cookie
    if not cookie:
        conn = Connection(args.port)
        status, headers, _ = conn.request(get(args.port, "/start").encode())
        conn.close()
        cookie = "; ".join(set_cookies(headers))
        if status != 200 or not cookie:
            fail(f"GET /start answered {status} with no Set-Cookie")
    raw = get(args.port, "/", cookie).encode()

    conn = Connection(args.port)
    with_set_cookie = {}
    for phase, count in (("warmup", args.warmup), ("n1", args.n1), ("n2", args.n2)):
        seen = 0
        for _ in range(count):
            status, headers, _ = conn.request(raw)
            if status != 200:
                fail(f"GET / answered {status}")
            seen += bool(set_cookies(headers))
            wait_asleep(args.pid)
        with_set_cookie[phase] = seen
        dump(args.pid, args.dir, phase)
    conn.close()

    measured = args.n1 + args.n2
    seen = with_set_cookie["n1"] + with_set_cookie["n2"]
    if args.expect == "session" and seen != measured:
        fail(f"only {seen} of {measured} responses re-sealed the session")
    if args.expect == "untouched" and seen != 0:
        fail(f"{seen} of {measured} responses sent a Set-Cookie")

    (t1, a1, c1, _), (t2, a2, c2, _) = (
        read_profile(os.path.join(args.dir, f"{p}.out")) for p in ("n1", "n2")
    )
    n = args.n2 - args.n1
    syscalls = (t2.get("sysCount", 0) - t1.get("sysCount", 0)) / n
    clocks = (c2 - c1) / n
    instructions = (t2["Ir"] - t1["Ir"]) / n
    print(f"{instructions:.1f} {(a2 - a1) / n:.2f} {syscalls - clocks:.2f} {clocks:.2f}")


def top(args):
    f1 = read_profile(args.profile1)[3]
    f2 = read_profile(args.profile2)[3]
    n = args.n2 - args.n1
    rows = []
    for name, (incl, own, calls) in f2.items():
        if args.match in name:
            before = f1.get(name, [0, 0, 0])
            per_request = [(now - then) / n for now, then in zip((incl, own, calls), before)]
            rows.append((*per_request, name))
    rows.sort(reverse=True)
    print(f"{'inclusive':>10} {'self':>8} {'calls':>6}  per request, (n2 - n1) / {n}")
    for incl, own, calls, name in rows[: args.count]:
        print(f"{incl:10.0f} {own:8.0f} {calls:6.2f}  {name}")


# ---- the codec against its floor -------------------------------------------------------------

TUNABLES = (
    "glibc.cpu.x86_rep_stosb_threshold=0x1000000000:glibc.cpu.x86_rep_movsb_threshold=0x1000000000"
)
CODEC_TARGET = 1.40  # the issue's bound on ours/floor for seal+open, in instructions
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_seal_open():
    run = subprocess.run(
        ["cargo", "build", "--profile", "bench", "-p", "sealed-session-bench", "--bench",
         "seal_open", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    if run.returncode != 0:
        fail("cargo build of the seal_open bench failed")
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message.get("target", {}).get("name") == "seal_open" and message.get("executable"):
            return message["executable"]
    fail("no seal_open executable from cargo")


def figures_of(functions, name):
    """A profile's figures for the function `name` of any module (summed over its entries)."""
    figures = [v for k, v in functions.items() if k.split("::")[-1] == name]
    return [sum(column) for column in zip(*figures)] or [0, 0, 0]


def codec(args):
    binary = args.bin or build_seal_open()
    directory = args.dir or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "callgrind", "codec"
    )
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".out") or name.startswith("callgrind.out"):
            os.remove(os.path.join(directory, name))
    nice = os.environ.get("NICE", "10")
    command = [] if nice == "0" else ["nice", "-n", nice]
    command += [
        "valgrind", "--tool=callgrind", "--dump-before=*callgrind_dump*",
        f"--callgrind-out-file={directory}/callgrind.out",
        binary, "--instructions", str(args.n1), str(args.n2),
    ]
    with open(os.path.join(directory, "valgrind.log"), "w") as log:
        run = subprocess.run(command, env=dict(os.environ, GLIBC_TUNABLES=TUNABLES),
                             stdout=subprocess.PIPE, stderr=log, text=True)
    if run.returncode != 0:
        fail(f"the bench failed under callgrind (see {directory}/valgrind.log)")
    # The i-th label printed names the i-th dump.
    for i, label in enumerate(run.stdout.split(), 1):
        os.replace(os.path.join(directory, f"callgrind.out.{i}"),
                   os.path.join(directory, f"{label}.out"))

    n = args.n2 - args.n1
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout
    print(f"callgrind ({version.strip()}), per call = (phase of {args.n2} calls - phase of "
          f"{args.n1}) / {n}; profiles in {directory}")
    print(f"{'instructions per call':<30} {'ours':>8} {'floor':>8} {'ratio':>6}  allocs ours floor")
    for algorithm in ("aes-256-gcm", "xchacha20-poly1305"):
        total = {"ours": 0.0, "floor": 0.0}
        for op in ("seal", "open"):
            row = {}
            for kind in ("ours", "floor"):
                label = os.path.join(directory, f"{algorithm}-{op}-{kind}")
                (_, a1, _, f1), (_, a2, _, f2) = (
                    read_profile(f"{label}-{p}.out") for p in ("n1", "n2")
                )
                function = f"{op}_{kind}"
                (i1, _, c1), (i2, _, c2) = (figures_of(f, function) for f in (f1, f2))
                if c2 - c1 != n:
                    fail(f"{label}: {c2 - c1} calls of {function} between the phases, not {n}")
                row[kind] = ((i2 - i1) / n, (a2 - a1) / n)
                total[kind] += row[kind][0]
            ours, floor = row["ours"], row["floor"]
            print(f"{algorithm + ' ' + op:<30} {ours[0]:8.1f} {floor[0]:8.1f} "
                  f"{ours[0] / floor[0]:6.3f}  {ours[1]:11.2f} {floor[1]:5.2f}")
        ratio = total["ours"] / total["floor"]
        verdict = "ok" if ratio <= CODEC_TARGET else "MISS"
        print(f"{algorithm + ' seal+open':<30} {total['ours']:8.1f} {total['floor']:8.1f} "
              f"{ratio:6.3f}  target {CODEC_TARGET:.2f} {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--pid", type=int, required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--dir", required=True)
    m.add_argument("--expect", choices=("session", "untouched", "any"), default="any")
    m.add_argument("--cookie")
    m.add_argument("--n1", type=int, default=200)
    m.add_argument("--n2", type=int, default=2200)
    m.add_argument("--warmup", type=int, default=50)
    t = sub.add_parser("top")
    t.add_argument("profile1")
    t.add_argument("profile2")
    t.add_argument("n1", type=int)
    t.add_argument("n2", type=int)
    t.add_argument("count", type=int, nargs="?", default=20)
    t.add_argument("match", nargs="?", default="")
    c = sub.add_parser("codec")
    c.add_argument("--n1", type=int, default=200)
    c.add_argument("--n2", type=int, default=2200)
    c.add_argument("--dir")
    c.add_argument("--bin")
    args = parser.parse_args()
    if args.command in ("measure", "codec") and args.n2 <= args.n1:
        fail("N2 must be larger than N1")
    if args.command == "codec":
        codec(args)
    elif args.command == "measure":
        measure(args)
    else:
        top(args)


if __name__ == "__main__":
    main()
