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
