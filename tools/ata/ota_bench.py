"""`ata bench --only ota`: what checking an OTA bundle costs, in instructions.

Counted by valgrind's callgrind on the MicroPython unix port (x86-64), as the
difference of two run lengths of bench/ota_bench.py (start-up and imports cancel):
one Ed25519 verification (lib/ota/ed25519.py, RFC 8032 TEST 2), SHA-512 per KB
(lib/ota/sha512.py, only ever run over the manifest) and, for scale, the port's C
hashlib.sha256 per KB (what the payload is hashed with). Also written to
build/bench-ota.txt. docs/ota.md discusses what the figures mean for an ESP32.
"""
import argparse
import concurrent.futures
import os
import sys
import time

from . import paths
from .bench import _callgrind

DRIVER = paths.ROOT / "bench" / "ota_bench.py"
ROWS = (  # (label, mode, small reps, large reps, unit per rep)
    ("Ed25519 verify (lib/ota/ed25519.py)", "verify", 1, 3, "per verification"),
    ("SHA-512 (lib/ota/sha512.py)", "sha512", 4, 12, "per KB"),
    ("SHA-256 (port's C hashlib)", "sha256", 4, 12, "per KB"),
)


def _count(mode, reps):
    env = dict(os.environ, MICROPYPATH=str(paths.ROOT / "lib"))
    return _callgrind([paths.MICROPYTHON, DRIVER, mode, reps], env)


def run():
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        jobs = [(label, unit, hi - lo, ex.submit(_count, mode, lo), ex.submit(_count, mode, hi))
                for label, mode, lo, hi, unit in ROWS]
        rows = [(label, unit, (b.result() - a.result()) / n) for label, unit, n, a, b in jobs]
    lines = ["ata bench ota: instructions (callgrind, MicroPython unix port, x86-64), "
             "difference of two run lengths", ""]
    for label, unit, v in rows:
        lines.append("%-38s %14.0f  %s" % (label, v, unit))
    lines.append("")
    lines.append("(bench took %.0f s)" % (time.time() - t0))
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata bench --only ota", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(paths.BUILD / "bench-ota.txt"))
    a = ap.parse_args(argv)
    text = run()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text, end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
