"""The sim holds its code the way a board does: the ROMFS image of `ata build --romfs`
mounted with vfs.VfsRom at /rom (tools/ata/simboot.py), bytecode run in place. It
boots under a heap limit of the image (the unix port has no flash: the image sits in
its heap) plus a budget, registers at Kamailio and completes a call with baresip.

Budgets, live heap on x64 without the image (docs/bench-heap.md, `ata bench --only heap`):
- CALL_BUDGET: what passes today, one 32 KB step above the least that did. Measured
  live heap: ~201 KB after boot, ~222 KB in a call (aeb0dda). The free rest is in
  pieces: before `sip.wire.receive` the SIP receive task read each datagram with
  `recvfrom(8193)`, which wants one contiguous 8 KB block, and died of MemoryError
  with a budget of 288 KB (320 passed). `sip.wire.receive` peeks with 2 KB first:
  288 KB passes (three runs of three), 256 KB does not (the INVITE is dropped for
  want of 2 KB in one piece, logged, and the call never starts).
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


def call_from_romfs(pbx, tmp_path, image, budget):
    kam, far = pbx
    cfg = base_config(kam.port)
    size = image.stat().st_size
    sim = SimProcess(cfg, run_dir=tmp_path / "sim", romfs=image, heapsize=size + budget,
                     heap_trace_ms=heap_bench.TRACE_MS)
    try:
        sim.start()
        assert "simboot: romfs" in sim.log_text()
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        try:
            figures = heap_bench.call_and_measure(sim, phone, far)
        finally:
            phone.close()
    finally:
        rc = sim.stop()
    log = sim.log_text()
    assert "MemoryError" not in log and "Traceback" not in log, log[-3000:]
    assert rc == 0, log[-3000:]
    print("heap limit %d = image %d + %d; live heap (x64): after boot %d, in a call %d"
          % (size + budget, size, budget, figures["boot"], figures["call"]))
    return figures


def test_sim_boots_from_romfs_and_completes_a_call_under_the_heap_limit(pbx, tmp_path, image):
    figures = call_from_romfs(pbx, tmp_path, image, CALL_BUDGET)
    assert figures["call"] <= CALL_BUDGET


@pytest.mark.xfail(strict=True, reason="issue 9 bar: <= 128 KB live heap in a call on x64 "
                   "from ROMFS, not met (the measured figure: ata bench --only heap, "
                   "docs/bench-heap.md)")
def test_sim_from_romfs_completes_a_call_within_the_bar(pbx, tmp_path, image):
    figures = call_from_romfs(pbx, tmp_path, image, BAR)
    assert figures["call"] <= BAR
