"""Smoke test of `ata bench --only cost`'s machinery without valgrind (the bench itself
takes minutes): the boot shim's frame windows and profiler on a tiny stand-in for the
firmware, the host's parsing of its report and of callgrind's dump files, and the
per-frame arithmetic."""
import os
import subprocess

from ata import cost_bench
from conftest import MICROPYTHON, MICROPYPATH, ROOT

TINY_MAIN = """
import asyncio
from array import array
import costhook
from media import Media

class Flag:
    def set(self):
        pass

class I2S:
    def readinto(self, buf):
        pass

class Port:
    i2s_rx = I2S()
    i2s_tx = None
    def new_flag(self):
        return Flag()

async def frames(m, mic, n):
    for _ in range(n):
        m._rx_done(None)         # the codec's frame clock: the shim counts frames here
        m._tx_count = 0
        m.frame(mic)
        await asyncio.sleep_ms(0)

m = Media(Port())
mic = array("h", bytes(320))
print(costhook.arm("smoke", 3))
asyncio.run(frames(m, mic, 6))
"""


def test_shim_reports_a_window_of_whole_frames_with_the_profiler(tmp_path):
    main = tmp_path / "main.py"
    main.write_text(TINY_MAIN)
    r = subprocess.run([MICROPYTHON, str(ROOT / "tools" / "ata" / "cost_boot.py"), "--profile",
                        str(main)], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MICROPYPATH=MICROPYPATH))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("costhook: done")]
    assert len(lines) == 1, r.stdout
    rep = cost_bench.parse_done(lines[0])
    assert rep["phase"] == "smoke" and rep["frames"] == 3
    assert "media" in rep["parts"], rep          # Media.frame was timed
    assert rep["steps"] >= 3, rep                # and the task's steps
    assert rep["longest_task"] == "other tasks", rep   # a task with no supervisor name
    assert rep["wall_us"] >= rep["blocked_us"] >= 0
    assert rep["part_steps"] == {"other tasks": rep["steps"]}, rep   # steps by part


HOOK_HEAP = """
import micropython
import costhook

def frames(n):
    t0 = micropython.mem_total()
    for _ in range(n):
        costhook.frame()
    return micropython.mem_total() - t0

idle = frames(50)
print(costhook.arm("heap", 40))
costhook.frame()                 # the window starts
inside = frames(30)
print("hook bytes", idle, inside)
"""


def test_the_shims_frame_hook_allocates_nothing(tmp_path):
    """The shim's per-frame hook runs in the window it measures: an allocation there
    (a frame of over 11 words goes on the heap) would be counted as the firmware's,
    and after a collection every such allocation searches the heap."""
    main = tmp_path / "main.py"
    main.write_text(HOOK_HEAP)
    r = subprocess.run([MICROPYTHON, str(ROOT / "tools" / "ata" / "cost_boot.py"), str(main)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MICROPYPATH=MICROPYPATH))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hook bytes 0 0" in r.stdout, r.stdout


def test_dumps_in_order_and_the_difference_of_two_windows(tmp_path):
    for n, total in ((2, 900), (1, 300), (10, 5)):
        (tmp_path / ("cg.4242.%d" % n)).write_text(
            "version: 1\ncreator: callgrind\nevents: Ir\n%s: %d\n" % (
                "summary" if n == 1 else "totals", total))
    (tmp_path / "cg.4242").write_text("totals: 123456\n")   # the exit dump: not a window
    assert cost_bench.dumps(tmp_path) == [300, 900, 5]
    rows = [({"frames": 50}, 1_000_000), ({"frames": 150}, 2_600_000)]
    assert cost_bench.per_frame(rows) == (16_000.0, 2_600_000 / 150)


def test_a_dump_without_totals_is_an_error(tmp_path):
    (tmp_path / "cg.1.1").write_text("events: Ir\n")
    try:
        cost_bench.dumps(tmp_path)
    except RuntimeError as e:
        assert "no totals" in str(e)
    else:
        raise AssertionError("a dump without totals was read")


def test_esp32_load():
    # 100 k instructions x 2 cycles in a 20 ms frame at 240 MHz: 200 k of 4.8 M cycles
    assert abs(cost_bench.esp32_load(100_000, 240) - 200_000 / 4_800_000) < 1e-12


def test_the_sim_runs_under_callgrind_with_the_shim(tmp_path):
    # The bench's sim must start through wrapper(): its micropython is the script that
    # runs valgrind with the shim (a sim made first and pointed there after ran the
    # plain binary: no callgrind, no costhook, the bench waited for ever).
    cg = tmp_path / "callgrind"
    cg.mkdir()
    sim = cost_bench.sim_under_callgrind({"sip": {}}, tmp_path, cg, profile=True)
    script = open(sim.micropython).read()
    assert "valgrind --tool=callgrind" in script, script
    assert str(cost_bench.SHIM) + " --profile" in script, script
    assert os.access(sim.micropython, os.X_OK)
