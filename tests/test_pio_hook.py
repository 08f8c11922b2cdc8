"""The rp2_ag1171 hook program in a PIO emulator, fed a bouncing SHK line: off-hook,
pulse dialling at 8, 10 and 12 pps with 60 % and 67 % break, a hook flash and a
hang-up, 5 ms of contact bounce on every edge. Checked: the edges the program pushes
(one per real edge, timed by its own 0.5 ms clock within the bounce + debounce
window), and what the firmware makes of them: the words go through the board's
adapter (lib/slic/pio_hook.py) into firmware/hook.py's HookDetector, whose events must
be off-hook, the dialled digits (n pulses = n, 10 = 0: telephony.md), the flash and
the hang-up. The adapter's timer is also run late (callbacks held off up to 40 ms,
as a flash write would) and must give the same events. A debounce too short for the
bounce is caught by the same checks."""
import random
import sys
import types

import pio_emu
from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware"))


def _import_hook():
    """firmware/hook.py on CPython: it takes MicroPython's ticks arithmetic from `time`
    (30-bit wrapping ms), given here for the import only."""
    period = 1 << 30
    mp_time = types.ModuleType("time")
    mp_time.ticks_add = lambda a, b: (a + b) % period
    mp_time.ticks_diff = lambda a, b: (a - b + period // 2) % period - period // 2
    real = sys.modules["time"]
    sys.modules["time"] = mp_time
    try:
        import hook
    finally:
        sys.modules["time"] = real
    return hook


hook = _import_hook()
from slic import pio_hook  # noqa: E402

DEBOUNCE_MS = 10          # the line's default debounce (firmware/config.py)
BOUNCE_S = 0.005
GRID = [(8, 60, 1), (8, 67, 0), (10, 60, 4), (10, 67, 7), (12, 60, 0), (12, 67, 9)]
INTERDIGIT_S = 0.7
FLASH_S = 0.3


def _script():
    """[(time s, level)] of the clean line, and the digits dialled."""
    t, events = 0.1, []
    events.append((t, 1))                 # off-hook
    t += 0.5
    for pps, brk, digit in GRID:
        period = 1 / pps
        for _ in range(digit or 10):
            events.append((t, 0))
            t += period * brk / 100
            events.append((t, 1))
            t += period * (100 - brk) / 100
        t += INTERDIGIT_S
    events.append((t, 0))                 # hook flash
    t += FLASH_S
    events.append((t, 1))
    t += 0.5
    events.append((t, 0))                 # hang up
    return events, t + 1.2


class Line:
    """SHK with 5 ms of chatter after every edge (random 0.1..1.2 ms runs, seeded)."""

    def __init__(self, events, duration, seed=1):
        rng = random.Random(seed)
        self.duration = duration
        self.changes = []
        level = 0
        for t, new in events:
            s, cur = t, new
            while s < t + BOUNCE_S:
                self.changes.append((s, cur))
                s += rng.uniform(0.0001, 0.0012)
                cur ^= 1
            self.changes.append((t + BOUNCE_S, new))
            level = new
        self.changes.sort()
        self._i = 0
        self._level = 0
        self.final = level

    def __call__(self, t):
        while self._i < len(self.changes) and self.changes[self._i][0] <= t:
            self._level = self.changes[self._i][1]
            self._i += 1
        return self._level


def _tick_time(word):
    """The time a pushed word carries: ticks of 0.5 ms since the program started."""
    return ((pio_hook.START - word) & pio_hook.MASK) * pio_hook.TICK_US / 1e6


def _edge_violations(events, pushed, debounce_ms):
    bad = []
    if len(pushed) != len(events):
        bad.append("%d edges pushed for %d" % (len(pushed), len(events)))
    for (t, _level), (_at, word) in zip(events, pushed):
        got = _tick_time(word)
        lo = t + debounce_ms / 1000 - 0.001
        hi = t + BOUNCE_S + debounce_ms / 1000 + 0.001
        if not lo <= got <= hi:
            bad.append("edge at %.4f s reported at %.4f s" % (t, got))
    return bad


class _Machine:
    """The hook SM as PioHook sees it: the RX FIFO as of the CPU's time."""

    def __init__(self, pushed):
        self.pushed = list(pushed)
        self.now = 0.0

    def start(self):
        pass

    def pending(self):
        return bool(self.pushed) and self.pushed[0][0] <= self.now

    def get(self):
        return self.pushed.pop(0)[1]


class _Timer:
    def init(self, **kw):
        pass

    def deinit(self):
        pass


def _events(pushed, duration, late=None):
    """Run the adapter's timer every 2 ms of CPU time (late(k) s later for callback k)
    and the firmware's HookDetector on its samples; returns the events in order."""
    clock = {"us": 0}
    pio_hook.time = types.SimpleNamespace(ticks_diff=lambda a, b: a - b,
                                          ticks_add=lambda a, b: a + b,
                                          ticks_us=lambda: clock["us"])
    machine = _Machine(pushed)
    adapter = pio_hook.PioHook(machine, _Timer())
    det = hook.HookDetector(debounce_ms=DEBOUNCE_MS)
    adapter.init(period=hook.HOOK_SAMPLE_MS, callback=lambda _t: det.sample(adapter.level()))
    out = []
    k = 0
    while k * 0.002 < duration:
        t = k * 0.002 + (late(k) if late else 0)
        machine.now = t
        clock["us"] = int(t * 1e6)
        adapter._run(None)
        while det.pending():
            out.append(det.pop())
        k += 1
    assert adapter.overruns == 0
    return out


def _digits(events):
    return "".join("?1234567890"[v] for c, v in events if c == hook.EV_DIGIT)


_RUN = {}


def _pushed(debounce_ms=DEBOUNCE_MS):
    if debounce_ms not in _RUN:
        events, duration = _script()
        line = Line(events, duration)
        samples = int(debounce_ms * 1000) // pio_hook.TICK_US
        _RUN[debounce_ms] = (events, duration,
                             pio_emu.hook_words(line, samples))
    return _RUN[debounce_ms]


def test_hook_program_pushes_one_edge_per_bouncing_edge(capsys):
    events, duration, pushed = _pushed()
    assert pio_hook.debounce_count(DEBOUNCE_MS) == DEBOUNCE_MS * 2 - 2
    assert _edge_violations(events, pushed, DEBOUNCE_MS) == []
    delays = [(_tick_time(w) - t) * 1e3 for (t, _), (_, w) in zip(events, pushed)]
    with capsys.disabled():
        print("\npio hook: %d edges (5 ms bounce on each) -> %d pushed; report delay after "
              "the edge %.2f..%.2f ms (debounce %d ms + bounce)"
              % (len(events), len(pushed), min(delays), max(delays), DEBOUNCE_MS))


def test_firmware_decodes_the_pushed_edges(capsys):
    events, duration, pushed = _pushed()
    out = _events(pushed, duration)
    want_digits = "".join(str(d) for _, _, d in GRID)
    assert _digits(out) == want_digits
    codes = [c for c, _ in out if c != hook.EV_PULSE]
    assert codes == [hook.EV_OFF_HOOK] + [hook.EV_DIGIT] * len(GRID) + [hook.EV_FLASH, hook.EV_HANG_UP]
    assert sum(1 for c, _ in out if c == hook.EV_PULSE) == sum(d or 10 for _, _, d in GRID)
    with capsys.disabled():
        for pps, brk, d in GRID:
            print("pio hook: %2d pps %d %% break: digit %d decoded" % (pps, brk, d))
        print("pio hook: off-hook, flash (%d ms), hang-up decoded; digits %s"
              % (FLASH_S * 1000, _digits(out)))


def test_late_timer_callbacks_replay_the_same_events():
    events, duration, pushed = _pushed()
    rng = random.Random(7)
    delays = [rng.choice((0, 0, 0, 0.003, 0.015, 0.04)) for _ in range(int(duration / 0.002) + 2)]
    on_time = _events(pushed, duration)
    late = _events(pushed, duration, late=lambda k: delays[k])
    assert late == on_time


def test_a_debounce_shorter_than_the_bounce_is_caught():
    """With a 1.5 ms debounce the chatter gets through as extra edges: the edge check
    fails. (firmware/hook.py's own 10 ms debounce then still decodes the digits: the
    check on the program's edges is what catches it.)"""
    events, duration, pushed = _pushed(1.5)
    assert any("edges pushed" in b for b in _edge_violations(events, pushed, 1.5))
    assert len(pushed) > len(events)
