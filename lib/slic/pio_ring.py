# Ring signal and cadence from an RP2040 PIO state machine (boards/rp2_ag1171, program
# ring.pio there): F/R alternates and RM follows the cadence with no CPU at any edge.
# The PIO counts everything in ring half periods: the board clocks the state machine
# at HALF_CYCLES * 2 * ring_hz, and a DMA channel loops over the cadence words (one
# per step, on and off in turn: the step's length in half periods, minus one), so the
# CPU only starts and stops the ring. Every cadence of the country plans is a whole
# number of half periods (docs/boards.md); others are rounded to the nearest one.
#
# The pure parts (words, clock, timing) run on the host too: tests/test_pio_ring.py
# runs the program in a PIO emulator with exactly these words and clock.
import time

from slic.ag1171 import AG1171

HALF_CYCLES = 260      # SM cycles per half period: 16 x 16 in the count loop, + 4
BURST_EXTRA = 1        # cycles a burst (RM high) lasts beyond its half periods
PAUSE_EXTRA = 3        # cycles a pause (RM low) lasts beyond its half periods
STEPS = 8              # cadence words the DMA loops over (a power of two: ring wrap)
_FOREVER = 0xFFFFFFFF  # a burst of 2**32 half periods: the continuous ring


def sm_freq(ring_hz):
    """The state machine clock for ring_hz, in Hz."""
    return HALF_CYCLES * 2 * ring_hz


def real_freq(sys_hz, freq):
    """The clock the SM really runs at for a requested freq: MicroPython's rp2 port
    sets the divider to floor(sys_hz * 256 / freq) in 1/256 steps."""
    div = sys_hz * 256 // freq
    if not 256 <= div < 65536 * 256:
        raise ValueError("SM clock %d Hz out of reach from %d Hz" % (freq, sys_hz))
    return sys_hz * 256 / div


def cadence_words(ring_hz, cadence_ms):
    """The STEPS words of a cadence (ms on, off, ...; None rings continuously)."""
    if not cadence_ms:
        steps = [_FOREVER, 0]
    else:
        if STEPS % len(cadence_ms) or len(cadence_ms) % 2:
            raise ValueError("cadence of %d steps: the PIO ring takes 2, 4 or 8" % len(cadence_ms))
        steps = []
        for ms in cadence_ms:
            halves = (ms * 2 * ring_hz + 500) // 1000
            if halves < 1:
                raise ValueError("cadence step %d ms shorter than half a ring period" % ms)
            steps.append(halves - 1)
    return steps * (STEPS // len(steps))


def step_cycles(words):
    """SM cycles of each step the words make (on, off, ...)."""
    return [(w + 1) * HALF_CYCLES + (PAUSE_EXTRA if i & 1 else BURST_EXTRA)
            for i, w in enumerate(words)]


class NoTimer:
    """The driver's ring timer, unused: the PIO times the cadence."""

    def init(self, *args, **kw):
        pass

    def deinit(self):
        pass


class PioRing:
    """A ring source for slic.ag1171 (see TimerRing there) whose waveform AND cadence
    run in the PIO. machine: the board's state machine + DMA (run(freq, words, rest);
    halt(rest): RM low, F/R at rest; release(): F/R's pin ready to be a GPIO again);
    fr: the F/R Pin, a plain output again after release()."""
    per_tick = False

    def __init__(self, fr, machine):
        self.fr = fr
        self.machine = machine
        self.cadence = None       # set by PioAG1171.ring_start before prepare()
        self.words = cadence_words(25, None)
        self.freq = sm_freq(25)
        self._rest = 1

    def prepare(self, ring_hz, rest):
        self.words = cadence_words(ring_hz, self.cadence)
        self.freq = sm_freq(ring_hz)
        self._rest = rest

    def start(self):
        self.machine.run(self.freq, self.words, self._rest)

    def stop(self):
        self.machine.halt(self._rest)

    def release(self, level):
        self.machine.halt(level)
        self.machine.release()
        self.fr.init(self.fr.OUT, value=level)   # F/R a plain GPIO output again


class PioAG1171(AG1171):
    """The AG1171 driver with a PioRing: the cadence is the PIO's, so the driver's
    timer never runs and in_burst()/bursts are worked out from the time since the
    ring started and the cadence's exact step lengths."""

    def __init__(self, rm, fr, shk, ring, ticks_ms=None):
        self._ring_t0 = 0
        self._step_ms = []        # each step's length, ms (the PIO's, not the plan's)
        self._period_ms = 0.0
        self._pio = ring
        super().__init__(rm, fr, shk, NoTimer(), hard_timer=True, ring=ring, ticks_ms=ticks_ms)

    def ring_start(self, ring_hz, cadence_ms=None):
        if cadence_ms and len(cadence_ms) % 2 == 0 and len(cadence_ms) <= 8:
            cadence_words(ring_hz, cadence_ms)      # what the PIO cannot loop: ValueError now
        self._pio.cadence = cadence_ms
        super().ring_start(ring_hz, cadence_ms)      # checks, prepare(), start(): the PIO runs
        freq = self._pio.freq
        words = self._pio.words if cadence_ms else []
        self._step_ms = [c * 1000 / freq for c in step_cycles(words[:len(cadence_ms or ())])]
        self._period_ms = sum(self._step_ms)
        self._ring_t0 = self._ticks_ms()

    def _phase(self):
        """(bursts started, in a burst now) from the time since ring_start."""
        if not self.ringing:
            return self._bursts, False
        if not self._period_ms:
            return 1, True                           # continuous
        ms = time.ticks_diff(self._ticks_ms(), self._ring_t0)
        cycles = int(ms // self._period_ms)
        t = ms - cycles * self._period_ms
        per_cycle = len(self._step_ms) // 2
        n = cycles * per_cycle
        on = False
        for i, step in enumerate(self._step_ms):
            if t < step:
                on = i & 1 == 0
                n += i // 2 + 1
                break
            t -= step
        return n, on

    @property
    def bursts(self):
        return self._phase()[0]

    @bursts.setter
    def bursts(self, value):
        self._bursts = value      # the driver's own count: only kept for when not ringing

    def in_burst(self):
        return self._phase()[1]
