"""Heap census: where the firmware's GC heap goes, import by import and object by object.

    PYTHONPATH=tools .venv/bin/python -m ata.heap_census [--out FILE]

Boots the sim's pieces from the ROMFS image (`ata build --romfs`, mounted by
tools/ata/simboot.py as in `ata bench --only heap`) in main.py's order, with no PBX,
through tools/ata/heap_census_mp.py, and prints for each import (indented under the
module that first imported it) and each object made at boot, then the objects of a
call's RTP: its own live heap (gc.mem_alloc() after a collection, before and after,
less what it imported first), the part of that which is qstr pool growth (names
interned; the pool grows by doubling, so one import pays for the next ones' names),
and the figure with what it imported. x64 unix port; see docs/bench-heap.md.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from . import paths

_Q = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def command(img, workdir, *extra, micropython=None):
    """(argv, env) of the census under simboot from the ROMFS image `img` (None: the
    code frozen into `micropython`, a unix build as docs/bench-heap.md makes one), with
    the test config written into workdir (its cwd); extra: its options (--holders)."""
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from simfix import base_config
    cfg = pathlib.Path(workdir) / "config.json"
    cfg.write_text(json.dumps(base_config()))
    env = paths.micropython_env()
    env["MICROPYPATH"] = ".frozen"
    if img is None:      # a frozen board keeps board.json on its filesystem (ata.sim)
        shutil.copy(paths.ROOT / "boards" / "sim" / "board.json", pathlib.Path(workdir) / "board.json")
        code = ["--frozen"]
    else:
        code = ["--romfs", str(img)]
    return [str(micropython or paths.MICROPYTHON), str(paths.ROOT / "tools" / "ata" / "simboot.py"),
            *code, str(paths.ROOT / "tools" / "ata" / "heap_census_mp.py"),
            str(paths.ROOT / "firmware" / "main.py"), "--config", str(cfg), *extra], env


def census(img):
    with tempfile.TemporaryDirectory(prefix="ata-census-") as d:
        argv, env = command(img, d)
        r = subprocess.run(argv, cwd=d, env=env, capture_output=True, text=True, timeout=120)
    if r.returncode or "census: total" not in r.stdout:
        raise RuntimeError("census failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
    return r.stdout


def table(out):
    q = {}             # row id -> [(qstrs, pool bytes) before, after]
    last = None
    rows, tail, pool = [], [], None
    for line in out.splitlines():
        if line.startswith("census-q "):
            last = line.split()[1]
        elif line.startswith("qstr pool:"):
            m = _Q.search(line)
            n, total = int(m.group(2)), int(m.group(4)) - int(m.group(3))
            pool = m.groups()
            if last is not None:
                q.setdefault(last, []).append((n, total))
                last = None
        elif line.startswith("census: total"):
            tail.append(line[len("census: "):])
        elif line.startswith("census: "):
            rid, depth, label, own, total = line.split()[1:]
            rows.append((rid, int(depth), label.replace("~", " "), int(own), int(total)))
    # qstr pool growth: inclusive per row, then own (less the direct children's)
    incl = {}
    for rid, depth, label, own, total in rows:
        s = q.get(rid)
        incl[rid] = (s[1][0] - s[0][0], s[1][1] - s[0][1]) if s and len(s) == 2 else (0, 0)
    lines = ["%-46s %8s %8s %7s %9s" % ("what (ROMFS, x64)", "own B", "qstr B", "qstrs", "with deps")]
    lines.append("-" * len(lines[0]))
    for i, (rid, depth, label, own, total) in enumerate(rows):
        qn, qb = incl[rid]
        for rid2, depth2, *_ in rows[i + 1:]:
            if depth2 <= depth:
                break
            if depth2 == depth + 1:
                qn -= incl[rid2][0]
                qb -= incl[rid2][1]
        lines.append("%-46s %8d %8d %7d %9d" % ("  " * depth + label, own, qb, qn, total))
    lines += tail
    if pool:
        lines.append("qstr pool at the end: %s pools, %s names, %s bytes of names, %s bytes in all"
                     % pool)
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.heap_census", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="also write the table here")
    a = ap.parse_args(argv)
    from .heap_bench import image
    text = table(census(image()))
    if a.out:
        pathlib.Path(a.out).write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
