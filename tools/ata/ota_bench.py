"""`ata bench --only ota`: what checking an OTA bundle costs, in instructions.

Counted by valgrind's callgrind on the MicroPython unix port (x86-64), as the
difference of two run lengths of bench/ota_bench.py (start-up and imports cancel):
one Ed25519 verification (lib/ota/ed25519.py, RFC 8032 TEST 2), SHA-512 per KB
(lib/ota/sha512.py, only ever run over the manifest) and, for scale, the port's C
hashlib.sha256 per KB (what the payload is hashed with). And the smallest GC heap
(`-X heapsize`, 1 KB steps) in which the unix port imports lib/ota (.mpy) and in
which it checks and stages a 200 KB bundle. Also written to
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


def min_heap_kb(payload_bytes=200_000):
    """Smallest -X heapsize (KB, bisection 1..256) in which the unix port imports
    ota.bundle from .mpy, in which it also checks and stages a payload_bytes bundle,
    and in which it pulls that bundle over HTTP (ota.fetch, from an ota_serve server
    in this process) and then checks and stages it: (import, stage, pull)."""
    import subprocess
    import tempfile
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from . import ota
    key = Ed25519PrivateKey.generate()
    payload = os.urandom(payload_bytes)
    v = subprocess.run([paths.MICROPYTHON, "-c", "import sys; v = sys.implementation._mpy; "
                        "print('%d.%d' % (v & 255, (v >> 8) & 3))"],
                       capture_output=True, text=True, check=True).stdout.strip()
    m = ota.make_manifest("sim", "x64", v, "1.0.0", payload, "tar", ota.raw_public(key))
    with tempfile.TemporaryDirectory() as tmp:
        # lib/ota as .mpy (x64), as a device loads it: compiling the sources would
        # itself need more heap than the check
        os.makedirs(os.path.join(tmp, "lib", "ota"))
        for src in sorted((paths.ROOT / "lib" / "ota").glob("*.py")):
            if src.name != "manifest.py":
                subprocess.run([paths.MPY_CROSS, "-march=x64", "-o",
                                os.path.join(tmp, "lib", "ota", src.stem + ".mpy"), str(src)],
                               check=True)
        drv = os.path.join(tmp, "ota_bench.mpy")
        subprocess.run([paths.MPY_CROSS, "-march=x64", "-o", drv, str(DRIVER)], check=True)
        env = dict(os.environ, MICROPYPATH=os.path.join(tmp, "lib") + ":" + tmp)
        # asyncio is a frozen module of the port (as on the ESP32)
        env_frozen = dict(env, MICROPYPATH=".frozen:" + env["MICROPYPATH"])
        bundle = os.path.join(tmp, "b.ota")
        with open(bundle, "wb") as f:
            f.write(ota.sign_bundle(m, payload, key))

        from . import ota_serve
        import threading
        srv = ota_serve.Server(tmp, "127.0.0.1", 0, quiet=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/b.ota" % srv.server_address[1]

        def ok(kb, what):
            if what == "pull":
                for p in ("pulled.ota", "pulled.json", "pulled"):
                    if os.path.exists(os.path.join(tmp, p)):
                        os.remove(os.path.join(tmp, p))
                code = ("import sys; sys.argv[:] = ['', 'pull', %r, %r, %r]; import ota_bench"
                        % (url, ota.raw_public(key).hex(), os.path.join(tmp, "pulled")))
                want = "STAGED %d" % payload_bytes
            elif what == "stage":
                code = ("import sys; sys.argv[:] = ['', 'stage', %r, %r, %r]; import ota_bench"
                        % (bundle, ota.raw_public(key).hex(), os.path.join(tmp, "staged")))
                want = "STAGED %d" % payload_bytes
            else:
                code = "from ota import bundle; print('IMPORTED')"
                want = "IMPORTED"
            r = subprocess.run([paths.MICROPYTHON, "-X", "heapsize=%dk" % kb, "-c", code],
                               capture_output=True, text=True,
                               env=env_frozen if what == "pull" else env)
            return r.returncode == 0 and want in r.stdout

        def smallest(what):
            lo, hi = 1, 256
            if not ok(hi, what):
                raise RuntimeError("%s fails even in a %d KB heap" % (what, hi))
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ok(mid, what):
                    hi = mid
                else:
                    lo = mid
            return hi

        try:
            return smallest("import"), smallest("stage"), smallest("pull")
        finally:
            srv.shutdown()
            srv.server_close()


def run():
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        jobs = [(label, unit, hi - lo, ex.submit(_count, mode, lo), ex.submit(_count, mode, hi))
                for label, mode, lo, hi, unit in ROWS]
        rows = [(label, unit, (b.result() - a.result()) / n) for label, unit, n, a, b in jobs]
    heap = min_heap_kb()
    lines = ["ata bench ota: instructions (callgrind, MicroPython unix port, x86-64), "
             "difference of two run lengths", ""]
    for label, unit, v in rows:
        lines.append("%-38s %14.0f  %s" % (label, v, unit))
    lines.append("")
    lines.append("smallest GC heap (-X heapsize, lib/ota as x64 .mpy, start-up included):")
    lines.append("%-38s %14d  KB" % ("  import ota.bundle", heap[0]))
    lines.append("%-38s %14d  KB" % ("  + check and stage a 200 KB bundle", heap[1]))
    lines.append("%-38s %14d  KB" % ("  + pull it over HTTP first (fetch)", heap[2]))
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
