"""The sim holds its code the way a board does: the ROMFS image of `ata build --romfs`
mounted with vfs.VfsRom at /rom (tools/ata/simboot.py), bytecode run in place. It
boots under a heap limit of the image (the unix port has no flash: the image sits in
its heap) plus a budget, registers at Kamailio and completes a call with baresip.

Budgets, live heap on x64 without the image (docs/bench-heap.md, `ata bench --only heap`):
- CALL_BUDGET: the call runs without the heap trace (its collections every 100 ms
  keep the heap tidier than a board's), in 320 KB. Live heap: ~204 KB after boot,
  ~219 KB in a call (a5392ac); the free rest comes in pieces, so a call needs more.
  The least budget that passed in the bench's bisections (single runs, untraced):
  304 KB before main.py's early collections, 264 to 280 KB with them, 248 KB (and 3
  of 3 runs) since a call allocates no large block. 320 KB leaves 40 KB over the
  worst of those.
- BAR (issue 9): 128 KB in a call. Not met: the strict xfail turns into a failure
  the day it is, so the marker comes off then.
"""
import subprocess

import pytest

from conftest import ROOT, VENV_BIN
from simfix import base_config
from ata import heap_bench
from ata.phone import VirtualPhone
from ata.sim import SimProcess

CALL_BUDGET = heap_bench.BUDGET_TOP     # 320 KB
BAR = heap_bench.BAR


@pytest.fixture(scope="module")
def image():
    r = subprocess.run([str(VENV_BIN / "ata"), "build", "--board", "sim", "--romfs"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return ROOT / "build" / "boards" / "sim.romfs"


def call_from_romfs(pbx, tmp_path, image, budget, traced=True):
    """Boot from the image under image + budget, call, hang up: the heap figures
    (none untraced). Fails if the call does not complete or the log shows an error."""
    kam, far = pbx
    cfg = base_config(kam.port)
    size = image.stat().st_size
    sim = SimProcess(cfg, run_dir=tmp_path / "sim", romfs=image, heapsize=size + budget,
                     heap_trace_ms=heap_bench.TRACE_MS if traced else 0)
    try:
        sim.start()
        assert "simboot: romfs" in sim.log_text()
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        try:
            figures = heap_bench.call_and_measure(sim, phone, far, traced=traced)
        finally:
            phone.close()
    finally:
        rc = sim.stop()
    why = heap_bench.sim_failure(rc, sim.log_text())
    assert why is None, why
    if traced:
        print("heap limit %d = image %d + %d; live heap (x64): after boot %d, in a call %d"
              % (size + budget, size, budget, figures["boot"], figures["call"]))
    return figures


def test_sim_boots_from_romfs_and_completes_a_call_under_the_heap_limit(pbx, tmp_path, image):
    call_from_romfs(pbx, tmp_path, image, CALL_BUDGET, traced=False)


@pytest.mark.xfail(strict=True, reason="issue 9 bar: <= 128 KB live heap in a call on x64 "
                   "from ROMFS, not met (the measured figure: ata bench --only heap, "
                   "docs/bench-heap.md)")
def test_sim_from_romfs_completes_a_call_within_the_bar(pbx, tmp_path, image):
    figures = call_from_romfs(pbx, tmp_path, image, BAR)
    assert figures["call"] <= BAR
