# The AG1171 driver's ring sources on the sim's virtual pins, stepped on a fake clock
# under the esp32 timing model (soft callbacks late 0-5 ms, GC pauses): the RMT ring
# (slic.rmt_ring on the vesp32.RMT model) keeps every half period exact, the
# soft-timer ring does not; ring trip stops the RMT at once and gives F/R back to the
# GPIO; burst edges run allocation-free.
import micropython

import vesp32
from slic.ag1171 import AG1171
from slic.rmt_ring import RmtRing
from vmachine import Pin, Timer, clock, engine, ticks_ms
from check import eq, near, raises

_NOW = [0]
clock.real_us = lambda: _NOW[0]   # the engine runs on this fake host clock
UK = (400, 200, 400, 2000)


def _reset(timing, seed=1):
    _NOW[0] = 0
    engine.reset(timing, seed)


def _run_until(us, step=250):
    while _NOW[0] < us:
        _NOW[0] += step
        while engine.step(_NOW[0]):
            pass


class Rig:
    def __init__(self, timing, source):
        _reset(timing)
        self.log = []
        self.rm = Pin("RM", Pin.OUT, value=0)
        self.fr = Pin("FR", Pin.OUT, value=1)
        self.rm.listener = self.fr.listener = lambda p, v, t: self.log.append((t, p.name, v))
        ring = None
        if source == "rmt":
            ring = RmtRing(self.fr, lambda lvl: vesp32.RMT(0, pin=self.fr, clock_div=200,
                                                            idle_level=bool(lvl)), 400_000)
        self.slic = AG1171(self.rm, self.fr, Pin("SHK"), Timer(0), ring=ring, ticks_ms=ticks_ms)

    def bursts(self):
        """[(rm_rise_us, rm_fall_us, [F/R edge times while RM high])]"""
        out = []
        for t, name, v in self.log:
            if name == "RM" and v:
                out.append([t, None, []])
            elif name == "RM" and out:
                out[-1][1] = t
            elif name == "FR" and out and out[-1][1] is None:
                out[-1][2].append(t)
        return out


def _halves(bursts):
    """F/R half periods inside bursts; the edge a burst's end makes (F/R back to rest
    with RM's fall, mid-period when the cadence callback is late) ends none."""
    out = []
    for b in bursts:
        t = [x for x in b[2] if x < b[1]]
        out.extend(t[i + 1] - t[i] for i in range(len(t) - 1))
    return out


def _ring_uk(timing, source, ms=6500):
    r = Rig(timing, source)
    r.slic.ring_start(25, UK)
    _run_until(ms * 1000)
    r.slic.ring_stop()
    bursts = [b for b in r.bursts() if b[1] is not None]
    halves = _halves(bursts)
    print("%s ring under %s: half periods %.2f..%.2f ms, %d bursts, %d GC pauses" % (
        source, timing, min(halves) / 1000, max(halves) / 1000, len(bursts),
        engine.stats["gc_pauses"]))
    return r, bursts, halves


def test_rmt_ring_is_exact_under_the_esp32_model():
    r, bursts, halves = _ring_uk("esp32", "rmt")
    assert engine.stats["gc_pauses"] >= 2, engine.stats      # GC did happen meanwhile
    assert len(bursts) >= 5, bursts
    eq(max(abs(h - 20_000) for h in halves), 0, "RMT half period deviation (us)")
    for i, b in enumerate(bursts[:-1]):
        want_on, want_off = UK[2 * (i % 2)], UK[2 * (i % 2) + 1]
        near((b[1] - b[0]) / 1000, want_on, 0.1 * want_on, "on %d" % i)
        near((bursts[i + 1][0] - b[1]) / 1000, want_off, 0.1 * want_off, "off %d" % i)
        eq(len(b[2]) >= 19, True, "toggles in burst %d: %d" % (i, len(b[2])))
    eq(r.fr(), 1, "F/R forward after the ring")


def test_soft_timer_ring_is_distorted_under_the_esp32_model():
    _r, bursts, halves = _ring_uk("esp32", "timer")
    assert len(bursts) >= 5, bursts
    worst = max(abs(h - 20_000) for h in halves)
    assert worst > 1000, worst      # late callbacks: half periods off by ms, not us


def test_both_sources_exact_with_ideal_timers():
    for source in ("timer", "rmt"):
        _r, bursts, halves = _ring_uk("ideal", source, 3500)
        eq(max(abs(h - 20_000) for h in halves), 0, source + " half period deviation (us)")


def test_a_lost_cadence_tick_delays_one_edge_not_the_cadence():
    # The ESP32 loses a soft timer callback when its scheduler queue is full (a GC
    # pause under the 2 ms hook sampler). Here the tick due at the first burst's end
    # is lost: that edge comes one cadence tick (25 ms) late, and every later edge
    # is where the plan puts it (counting ticks shifted all of them by a step).
    r = Rig("ideal", "rmt")
    r.slic.ring_start(25, UK)
    timer = r.slic.timer
    orig = engine._interrupt
    lost = []

    def lossy(t, due):
        if t is timer and not lost and due >= 400_000:
            lost.append(due)          # mp_sched_schedule: queue full, callback dropped
            return
        orig(t, due)

    engine._interrupt = lossy
    try:
        _run_until(6_500_000)
    finally:
        engine._interrupt = orig
        r.slic.ring_stop()
    eq(lost, [400_000], "the tick lost")
    starts_ends = [(b[0], b[1]) for b in r.bursts()]
    eq(starts_ends[0], (0, 425_000), "first burst: ends one tick late")
    eq(starts_ends[1:4], [(600_000, 1_000_000), (3_000_000, 3_400_000),
                          (3_600_000, 4_000_000)], "later bursts on the plan")


def test_rmt_ring_trip_stops_at_once_and_frees_fr():
    r = Rig("esp32", "rmt")
    r.slic.ring_start(20, (2000, 4000))
    _run_until(1_000_123)
    eq(r.rm(), 1, "RM high mid-burst")
    clock.virtual = _NOW[0]
    try:
        eq(r.slic.ring_stop(), True, "was ringing")
    finally:
        clock.virtual = None
    eq(r.log[-1][0], _NOW[0], "last pin change at the ring trip itself")
    eq((r.rm(), r.fr()), (0, 1), "RM released, F/R forward")
    eq(r.fr.peripheral, None, "F/R a GPIO again")
    r.slic.forward(False)                     # line reversal reaches the pad
    eq(r.fr(), 0, "reversed")
    n = len(r.log)
    _run_until(8_000_000)
    eq(len(r.log), n, "nothing moves after the ring stopped")
    eq(engine.timers, [], "no timer or channel left running")


def test_rmt_model_is_no_kinder_than_the_chip():
    _reset("ideal")
    fr = Pin("FR", Pin.OUT, value=1)
    rmt = vesp32.RMT(0, pin=fr, clock_div=200, idle_level=True)
    eq(fr(), 0, "a new channel drives its pin low until it first sends")
    fr(1)
    eq(fr(), 0, "the GPIO does not reach a channel's pin")
    rmt.loop_count(-1)
    rmt.write_pulses((10, 10), 0)
    raises(RuntimeError, rmt.write_pulses, (10, 10), 0)    # would block forever
    rmt.active(False)
    eq(fr(), 1, "stopped: idle level")
    rmt.deinit()
    fr(0)
    eq(fr(), 1, "a deleted channel's pin stays put until Pin.init(mode)")
    fr.init(Pin.OUT, value=0)
    eq(fr(), 0, "Pin.init takes it back")
    raises(OSError, rmt.write_pulses, (10, 10), 0)


class _FakeRmt:
    """Counts calls into preallocated slots: the callbacks' own allocations only."""
    def __init__(self):
        self.calls = [0, 0]

    def loop_count(self, n):
        pass

    def write_pulses(self, d, level):
        self.calls[0] += 1

    def active(self, v):
        self.calls[1] += 1

    def deinit(self):
        pass


def test_burst_edges_allocate_nothing():
    for source in ("timer", "rmt"):
        _reset("ideal")
        fr = Pin("FR", Pin.OUT, value=1)
        fake = _FakeRmt()
        ring = RmtRing(fr, lambda lvl: fake, 400_000) if source == "rmt" else None
        slic = AG1171(Pin("RM", Pin.OUT), fr, Pin("SHK"), Timer(0), ring=ring, ticks_ms=ticks_ms)
        slic.ring_start(25, UK)
        micropython.heap_lock()
        try:
            for _ in range(200):      # whole cadence cycles, edges included
                _NOW[0] += 25_000     # the RMT path reads its cadence from the clock
                slic._tick(None)
        finally:
            micropython.heap_unlock()
        slic.ring_stop()
        if source == "rmt":
            assert fake.calls[0] >= 3 and fake.calls[1] >= 3, fake.calls
