# The RP2040 board's PIO drivers on MicroPython, with the state machines faked: the
# AG1171 with its ring AND cadence in the PIO (slic.pio_ring) hands the PIO the right
# clock and cadence words, works out bursts and in_burst() from the clock, stops and
# gives F/R back; the hook adapter (slic.pio_hook) replays the PIO's timed edges as
# 2 ms samples, late callbacks included, without allocating (it runs in a hard IRQ).
import micropython

from slic import pio_hook, pio_ring
from check import eq, raises

_MS = [0]
_US = [0]


class FakePin:
    OUT = 1

    def __init__(self, level=0):
        self.level = level
        self.inits = []

    def __call__(self, v=None):
        if v is None:
            return self.level
        self.level = v

    def init(self, mode, value=0):
        self.inits.append((mode, value))
        self.level = value


class RingMachine:
    def __init__(self):
        self.calls = []

    def run(self, hz, words, rest):
        self.calls.append(("run", hz, list(words), rest))

    def halt(self, rest):
        self.calls.append(("halt", rest))

    def release(self):
        self.calls.append(("release",))


def _ring():
    m = RingMachine()
    fr = FakePin(1)
    slic = pio_ring.PioAG1171(FakePin(), fr, FakePin(), pio_ring.PioRing(fr, m),
                              ticks_ms=lambda: _MS[0])
    return slic, m, fr


def test_ring_start_hands_the_pio_its_clock_and_cadence():
    slic, m, _ = _ring()
    _MS[0] = 1000
    slic.ring_start(25, (400, 200, 400, 2000))
    run = [c for c in m.calls if c[0] == "run"]
    eq(run, [("run", 13000, [19, 9, 19, 99] * 2, 1)], "PIO run")
    eq(slic.ringing, True, "ringing")
    # steps: on 400.08, off 200.23, on 400.08, off 2000.23 ms (whole half periods + a few cycles)
    for at, bursts, on in ((1000, 1, True), (1399, 1, True), (1500, 1, False), (1700, 2, True),
                           (2200, 2, False), (4050, 3, True), (4500, 3, False), (4700, 4, True)):
        _MS[0] = at
        eq((slic.bursts, slic.in_burst()), (bursts, on), "at %d ms" % at)


def test_ring_stop_halts_and_gives_fr_back():
    slic, m, fr = _ring()
    slic.ring_start(20, (2000, 4000))
    m.calls[:] = []
    eq(slic.ring_stop(), True, "was ringing")
    eq(m.calls[-2:], [("halt", 1), ("release",)], "halt, release")
    eq(fr.inits[-1], (FakePin.OUT, 1), "F/R a plain output, forward")
    eq(slic.in_burst(), False, "in_burst after stop")


def test_reversed_line_rings_from_reversed_rest():
    slic, m, _ = _ring()
    slic.forward(False)
    slic.ring_start(25, (1000, 4000))
    eq([c[3] for c in m.calls if c[0] == "run"], [0], "rest level")


def test_continuous_ring_and_refused_cadences():
    slic, m, _ = _ring()
    slic.ring_start(25)
    eq(m.calls[-1], ("run", 13000, [0xFFFFFFFF, 0] * 4, 1), "continuous")
    eq(slic.in_burst(), True, "continuous in burst")
    m.calls[:] = []
    raises(ValueError, slic.ring_start, 25, (400, 200, 400, 200, 400, 2000))   # 6 steps
    raises(ValueError, slic.ring_start, 25, (2000, 1000))                     # duty > 33 %
    eq([c for c in m.calls if c[0] == "run"], [], "nothing started")


class HookMachine:
    def __init__(self):
        self.fifo = []
        self.starts = 0

    def start(self):
        self.starts += 1

    def pending(self):
        return len(self.fifo)

    def get(self):
        return self.fifo.pop(0)


class FakeTimer:
    def init(self, period=0, callback=None, hard=False):
        self.period = period

    def deinit(self):
        pass


class FakeTime:
    def ticks_us(self):
        return _US[0]

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, b):
        return a + b


def test_hook_adapter_replays_timed_edges_without_allocating():
    pio_hook.time = FakeTime()
    _US[0] = 0
    m = HookMachine()
    h = pio_hook.PioHook(m, FakeTimer())
    samples = []
    # each sample is stored in a preallocated list slot: the callback allocates nothing
    buf = [0] * 400
    n = [0]

    def cb(_t):
        buf[n[0]] = h.level()
        n[0] += 1

    h.init(period=2, callback=cb, hard=True)
    eq(m.starts, 1, "machine started")
    # off-hook pushed at PIO tick 100 (50 ms), on-hook at tick 300 (150 ms): X counts down
    m.fifo.append((pio_hook.START - 100) & pio_hook.MASK)
    m.fifo.append((pio_hook.START - 300) & pio_hook.MASK)
    for t_ms in (2, 4, 6, 200, 202, 400):         # a long gap: callbacks late by ~200 ms
        _US[0] = t_ms * 1000 + 1000
        micropython.heap_lock()
        try:
            h._run(None)
        finally:
            micropython.heap_unlock()
    samples = buf[:n[0]]
    eq(len(samples), 201, "a sample for each 2 ms, replayed")
    eq(samples.index(1), 25, "off-hook from the sample at 50 ms")
    eq(samples.index(0, 25), 75, "on-hook from the sample at 150 ms")
    eq(h.overruns, 0, "overruns")
