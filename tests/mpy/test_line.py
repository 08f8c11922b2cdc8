# Line controller stepped with a fake clock, on the real AG1171 driver over the sim's
# virtual pins: dial tone, pulse digits to a number, ring and ring trip, time-outs.
import config
import country
import hook
import line
from slic.ag1171 import AG1171
from slic.port import Port
from vmachine import Pin, Timer
from check import eq

CFG = config.parse('{"sip": {"server": "h", "user": "1001"}, "line": {"interdigit_ms": 2000,'
                   ' "first_digit_ms": 5000}}')


class Tones:
    """Stands in for the media pipeline: remembers the tone asked for."""
    def __init__(self):
        self.spec = None
        self.on_dtmf = None
        self.listening = False

    def play_tone(self, spec):
        self.spec = spec

    def listen_dtmf(self, on):
        self.listening = on


class Rig:
    def __init__(self, code="US", lcfg=None):
        self.level = 0
        self.shk = Pin("SHK", Pin.IN)
        self.shk.source = lambda t: self.level
        self.rm = Pin("RM", Pin.OUT, value=0)
        self.fr = Pin("FR", Pin.OUT, value=1)
        self.slic = AG1171(self.rm, self.fr, self.shk, Timer(0))
        self.tones = Tones()
        self.events = []
        self.line = line.Line(Port(self.slic, Timer(1), None, None, None), country.plan(code), lcfg or CFG["line"], self.tones,
                              lambda k, v: self.events.append((k, v)), log=lambda m: None)
        self.now = 0
        self.line.clock = lambda: self.now   # requests read the fake clock too

    def run(self, ms, level=None):
        """Hold SHK at level for ms: sample every 2 ms, poll every 4 ms."""
        if level is not None:
            self.level = level
        for _ in range(ms // hook.HOOK_SAMPLE_MS):
            self.line._sample(None)
            self.now += hook.HOOK_SAMPLE_MS
            if self.now % 4 == 0:
                self.line.poll(self.now)

    def pulses(self, n):
        for _ in range(n):
            self.run(60, 0)
            self.run(40, 1)


def test_off_hook_gives_dial_tone_and_pulses_become_a_number():
    r = Rig()
    r.run(100, 1)
    eq(r.line.state, line.DIALTONE, "state")
    eq(r.tones.spec, country.plan("US")["dial"], "dial tone")
    r.pulses(2)
    eq(r.tones.spec, None, "dial tone stops at the first pulse")
    r.run(700, 1)
    r.pulses(10)
    r.run(700, 1)
    eq(r.line.digits, "20", "digits so far")
    r.run(2100, 1)
    eq(r.events[-1], ("number", "20"), "number after the inter-digit time")
    eq(r.line.state, line.CALL, "handed to call control")


def test_ring_and_ring_trip():
    r = Rig("DE")
    r.line.ring()
    eq(r.slic.ringing, True, "ringing")
    eq(r.rm(), 1, "RM high in the burst")
    r.run(30, 1)
    eq(r.slic.ringing, False, "ring trip stops the ring")
    eq(r.rm(), 0, "RM released")
    eq(r.fr(), 1, "F/R forward")
    eq(r.events, [("answer", None)], "answer event")


def test_nothing_dialled_gives_reorder_then_silence():
    r = Rig()
    r.run(100, 1)
    r.run(5100, 1)
    eq(r.line.state, line.REORDER, "reorder")
    eq(r.tones.spec, country.plan("US")["congestion"], "reorder tone")
    r.run(30100, 1)
    eq(r.line.state, line.HOWLER, "receiver off hook")
    eq(r.tones.spec, country.plan("US")["howler"], "howler tone")
    r.run(60000, 1)
    eq(r.line.state, line.LOCKOUT, "lock-out")
    eq(r.tones.spec, None, "silence")
    r.run(1000, 0)
    eq(r.line.state, line.IDLE, "hang-up")
    eq(r.events[-1], ("hang_up", None), "hang-up event")


def test_hash_sends_at_once():
    r = Rig()
    r.run(100, 1)
    r.line.dtmf_digit("1")
    r.line.dtmf_digit("2")
    r.line.dtmf_digit("#")
    eq(r.events[-1], ("number", "12"), "number sent by #")


# -- The edge path: SHK's Pin.irq on the sim's engine, each chip's timing model ---------
from vmachine import clock, engine, ticks_ms

_NOW = [0]


class HookSchedule:
    """The phone's hook switch as the sim's phone link gives it: a schedule of (t_us,
    level) consumed as time passes, each change told to the pin."""

    def __init__(self, pin):
        self.pin = pin
        self.items = []
        self.level = 0
        pin.source = self.at
        pin.source_next = lambda: self.items[0][0] if self.items else None

    def at(self, t_us):
        while self.items and self.items[0][0] <= t_us:
            t, self.level = self.items.pop(0)
            self.pin.sourced(t, self.level)
        return self.level

    def edge(self, t_ms, level, bounce_ms=5):
        """As tools/ata/phone.py: the edge, then 1 ms chatter for bounce_ms."""
        self.items.append((t_ms * 1000, level))
        for i in range(1, bounce_ms):
            self.items.append(((t_ms + i) * 1000, level if i % 2 == 0 else 1 - level))
        self.items.append(((t_ms + bounce_ms) * 1000, level))


class EdgeRig:
    """A Line on Port.hook_pin: the engine on a fake host clock fires SHK's interrupt;
    the task is played as the event loop runs it: poll() after an edge came in, and
    when wait_ms() runs out."""

    def __init__(self, timing, seed=1):
        real_us = clock.real_us
        clock.real_us = lambda: _NOW[0]
        self._restore = lambda: setattr(clock, "real_us", real_us)
        _NOW[0] = 0
        engine.reset(timing, seed)
        self.shk = Pin("SHK", Pin.IN)
        self.hook = HookSchedule(self.shk)
        self.slic = AG1171(Pin("RM", Pin.OUT, value=0), Pin("FR", Pin.OUT, value=1),
                           self.shk, Timer(0), hard_timer=timing == "rp2", ticks_ms=ticks_ms)
        self.events = []
        port = Port(self.slic, None, None, None, None, hook_pin=self.shk,
                    hard_pin_irq=timing == "rp2", ticks_ms=ticks_ms)
        self.line = line.Line(port, country.plan("US"), CFG["line"], Tones(),
                              lambda k, v: self.events.append((k, v)), log=lambda m: None)
        self.line.clock = ticks_ms
        self.line.start()

    def run_until(self, t_ms):
        det = self.line.det
        wake = 0
        while _NOW[0] < t_ms * 1000:
            _NOW[0] += 250
            seen = det._ehead
            while engine.step(_NOW[0]):
                pass
            now = ticks_ms()
            if det._ehead != seen or now >= wake:
                self.line.poll(now)
                wake = now + self.line.wait_ms(now)

    def close(self):
        self.shk.irq(None)
        self._restore()


def test_edges_from_pin_irq_under_each_chips_timing():
    for timing in ("ideal", "esp32", "rp2"):
        r = EdgeRig(timing)
        try:
            r.hook.edge(100, 1)
            t = 600
            for d in "1905":        # 10 pps, 60 % break, 5 ms chatter after every edge
                for _ in range(10 if d == "0" else int(d)):
                    r.hook.edge(t, 0)
                    r.hook.edge(t + 60, 1)
                    t += 100
                t += 500
            r.hook.edge(t, 0)       # a 300 ms flash
            r.hook.edge(t + 300, 1)
            r.hook.edge(t + 800, 0)  # and on-hook for good
            r.run_until(t + 2000)
            got = [e for e in r.events if e[0] in ("off_hook", "digit", "flash", "hang_up")]
            eq(got, [("off_hook", None)] + [("digit", d) for d in "1905"] +
               [("flash", None), ("hang_up", None)], timing + ": events")
            eq(engine.timers, [], timing + ": no sampling timer")
            st = engine.stats
            if timing == "esp32":   # soft: scheduled like a timer callback, so late
                eq(st["scheduled"] > 0 and st["late_max_us"] > 0, True, "esp32: %r" % st)
            else:                   # at once: ideal, rp2's hard interrupts
                eq(st["scheduled"], 0, timing + ": %r" % st)
        finally:
            r.close()


def test_a_lost_pin_interrupt_is_made_good_at_the_next_wake():
    """An interrupt lost (on the ESP32: the scheduler queue full): the last change of
    the off-hook's chatter never runs its handler. The detector saw on-hook last; the
    line reads SHK when it next wakes (its idle time-out at the latest) and takes the
    level it finds. Handlers at once here (ideal): a late soft one would read the
    level after the lost change itself."""
    r = EdgeRig("ideal")
    orig = engine._interrupt

    def lossy(irq, due):
        if due == 104_000:          # the chatter's last change, to off-hook
            engine.stats["lost"] += 1
            return
        orig(irq, due)
    engine._interrupt = lossy
    try:
        r.hook.edge(100, 1)
        r.run_until(1000)
        eq(r.events, [], "the lost edge: nothing yet")
        r.run_until(100 + 1000 + 10 + 10)   # the idle wake (1 s), debounce, a poll's lateness
        eq(r.events, [("off_hook", None)], "off-hook after the next wake")
        eq(r.line.state, line.DIALTONE, "dial tone")
    finally:
        engine._interrupt = orig
        r.close()
