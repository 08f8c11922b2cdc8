"""`ata bench --only sip`: x86-64 instructions to parse (and handle) typical SIP messages.

Three messages as a registrar and a far-end phone send them (bench/sip_mpy.py): a
REGISTER 200 OK, a 401 with a digest challenge, an INVITE with SDP. Each is parsed by
sip.message.parse on the MicroPython unix port under valgrind's callgrind, LOOPS x REPS
times, with the firmware's modules imported first (interning costs more with more
names interned). A figure is (run with REPS=3) - (run with REPS=1), divided by the
parses in between, minus the same for the empty loop: start-up, imports and the
harness cancel. "handle" is what the UserAgent and the registration do after parse
(bench/sip_mpy.py, _handler): (parse and handle) - (parse). The ESP32 estimate uses ~2 ESP32 cycles per x86-64 instruction of
MicroPython code at 240 MHz (docs/bench.md says where the factor comes from).
"""
import argparse
import concurrent.futures
import os
import sys

from . import paths
from .bench import _callgrind

DRIVER = paths.ROOT / "bench" / "sip_mpy.py"
LOOPS = 20                    # parses per REP, as in bench/sip_mpy.py
REPS = (1, 3)
ESP32_CYCLES_PER_INSN = 2.0   # estimate from MicroPython's perf suite scores (docs/bench.md)
ESP32_HZ = 240e6
BAR = 1_000_000               # instructions per response parse (issue 10)
GOAL = 300_000
ROWS = (("REGISTER 200 OK", "reg200", True), ("401 + WWW-Authenticate", "401", True),
        ("INVITE with SDP", "invite", False))


def _count(mode, reps):
    return _callgrind([paths.MICROPYTHON, DRIVER, mode, reps], paths.micropython_env())


def _per_op(mode, ex):
    a = ex.submit(_count, mode, REPS[0])
    b = ex.submit(_count, mode, REPS[1])
    return lambda: (b.result() - a.result()) / ((REPS[1] - REPS[0]) * LOOPS)


def _ms(n):
    return n * ESP32_CYCLES_PER_INSN / ESP32_HZ * 1000


def run():
    """Returns (table text, every response row within BAR)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        base = _per_op("none", ex)
        jobs = [(name, resp, _per_op("parse-" + key, ex),
                 _per_op("handle-" + key, ex) if resp else None) for name, key, resp in ROWS]
        b = base()
        rows = []
        for name, resp, parse, handle in jobs:
            p = parse() - b
            rows.append((name, resp, p, handle() - b - p if handle else None))
    lines = ["ata bench --only sip: x86-64 instructions per message, callgrind on the unix port,",
             "difference of two run lengths; parse = sip.message.parse, handle = what the UA and",
             "the registration do after parse; ESP32 at 240 MHz estimated at %.0f cycles per "
             "instruction" % ESP32_CYCLES_PER_INSN, ""]
    hdr = "%-24s %10s %10s %11s %14s   %s" % (
        "message", "parse", "handle", "parse (ms)", "+handle (ms)",
        "parse: bar <= %d k, goal <= %d k" % (BAR // 1000, GOAL // 1000))
    lines += [hdr, "-" * len(hdr)]
    ok = True
    for name, resp, p, h in rows:
        if resp:
            ok = ok and p <= BAR
            verdict = ("PASS" if p <= BAR else "FAIL") + (" (goal met)" if p <= GOAL else "")
        else:
            verdict = "(request: no bar; handling not isolated)"
        lines.append("%-24s %10.0f %10s %11.2f %14s   %s" % (
            name, p, "%.0f" % h if h is not None else "-", _ms(p),
            "%.2f" % _ms(p + h) if h is not None else "-", verdict))
    return "\n".join(lines) + "\n", ok


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata bench --only sip", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="table file (default build/bench-sip.txt)")
    a = ap.parse_args(argv)
    text, ok = run()
    out = a.out or str(paths.BUILD / "bench-sip.txt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(text, end="", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
