"""The sim holds its code the way a board does: the ROMFS image of `ata build --romfs`
mounted with vfs.VfsRom at /rom (tools/ata/simboot.py), bytecode run in place. It
boots under a heap limit of the image (the unix port has no flash: the image sits in
its heap) plus a budget, registers at Kamailio and completes a call with baresip.

Budgets, live heap on x64 without the image (docs/bench-heap.md, `ata bench --only heap`):
- CALL_BUDGET: what passes today. Measured live heap: ~216 KB after boot, ~237 KB in
  a call at 07a440c (~201 / ~223 KB at 996a9a3), yet with a budget of 240 or 288 KB
  the SIP receive task fails once calls run: MemoryError allocating 8193 bytes
  (lib/sip/ua.py `sock.recvfrom(RECV_BYTES)` needs one contiguous 8 KB block per datagram) while
  ~110 KB are free in fragments. 512 KB passes. A preallocated receive buffer in
  lib/sip would remove that need; then this budget comes down.
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

CALL_BUDGET = 512 * 1024
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
