# Driver for the Silvertel AG1171 (and KS0835F) SLIC: ringing, hook state, polarity.
# Ringing is RM high while F/R alternates at the ring frequency. Who alternates F/R is
# the board's ring source: TimerRing (below; any board) toggles it from this driver's
# timer at twice the ring frequency; a hardware source (slic.rmt_ring on the ESP32)
# runs the waveform in a peripheral, and the timer then only times the cadence (on/off
# bursts). With TimerRing the cadence is counted in the timer's ticks (every tick is
# needed for F/R anyway); with a hardware source it is read from the clock at each
# tick, so a tick the chip lost (the ESP32's scheduler queue was full) delays one edge
# by a tick instead of shifting the whole cadence. The callback never allocates (safe
# as a hard interrupt on a board).
import time
from array import array

_RING_DUTY_MAX = 34      # % of the cadence RM may be high (datasheet: <= 33 %, rounding)
_MAX_CADENCE_STEPS = 8
_CADENCE_TICK_MS = 25    # a hardware source's cadence ticks at most this far apart


class TimerRing:
    """F/R toggled by the CPU at every tick of the driver's timer (twice the ring
    frequency). Exact wherever the timer callback is (a hard IRQ on the RP2040); a
    soft callback (the ESP32's) is late by scheduling and GC, and each late toggle
    distorts the ring: boards with a waveform peripheral use that instead.

    A ring source: per_tick (the driver calls tick() in bursts), prepare(ring_hz,
    rest) when a ring starts (task context), start()/stop() at each burst's edges
    (in the timer callback: allocation-free; stop() puts F/R at rest at once), and
    release(level) when the ring is over (F/R a plain output at level again)."""
    per_tick = True

    def __init__(self, fr):
        self.fr = fr
        self._rest = 1
        self._now = 1

    def prepare(self, ring_hz, rest):
        self._rest = self._now = rest

    def start(self):
        self._now = self._rest        # the first tick of the burst leaves the rest level

    def tick(self):
        self._now ^= 1                # tracked, not read back: output pins may read 0
        self.fr(self._now)

    def stop(self):
        self._now = self._rest
        self.fr(self._rest)

    def release(self, level):
        self.fr(level)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class AG1171:
    def __init__(self, rm, fr, shk, ring_timer, hard_timer=False, ring=None, ticks_ms=None):
        """hard_timer: run the ring timer's callback in the interrupt (RP2040); the
        ESP32's timers only have scheduled (soft) callbacks. ring: the ring source
        (see TimerRing); None toggles F/R from ring_timer. ticks_ms: the clock the
        cadence of a hardware source is read from (time.ticks_ms; the sim's own)."""
        self.rm = rm
        self.hard = hard_timer
        self.fr = fr
        self.shk = shk
        self.timer = ring_timer
        self.ring = TimerRing(fr) if ring is None else ring
        self._steps = array("I", [0] * _MAX_CADENCE_STEPS)  # in ticks, or ms (hardware)
        self._ticks_ms = time.ticks_ms if ticks_ms is None else ticks_ms
        self._t0 = self._ticks_ms()   # hardware source: when the ring started...
        self._edge = 0                # ...and when its current step ends, ms after that
        self._nsteps = 0
        self._step = 0
        self._left = 0
        self._fr_level = 1
        self._rm_now = 0
        self.ringing = False      # a ring (cadence) is in progress, burst or pause
        self.bursts = 0           # ring bursts started since ring_start
        self.rm(0)
        self.fr(1)

    def off_hook(self):
        return self.shk() == 1

    def forward(self, on=True):
        """Line polarity: forward (F/R high) or reversed (for line-reversal CLIP).
        During a ring it takes effect when the ring stops."""
        self._fr_level = 1 if on else 0
        if not self.ringing:
            self.fr(self._fr_level)

    def ring_start(self, ring_hz, cadence_ms=None):
        """Ring at ring_hz with cadence_ms = (on, off, on, off, ...) in ms, repeating;
        None rings continuously (used for a single burst the caller times)."""
        if not 10 <= ring_hz <= 60:
            raise ValueError("ring frequency %r Hz out of 10..60" % (ring_hz,))
        self.ring_stop()
        ring = self.ring
        if cadence_ms:
            if len(cadence_ms) % 2 or len(cadence_ms) > _MAX_CADENCE_STEPS:
                raise ValueError("cadence needs on/off pairs, at most %d steps" % _MAX_CADENCE_STEPS)
            on = sum(cadence_ms[i] for i in range(0, len(cadence_ms), 2))
            if on * 100 > _RING_DUTY_MAX * sum(cadence_ms):
                raise ValueError("ring cadence duty over 33 % would overheat the SLIC")
            # A per-tick source ticks at twice the ring frequency; a hardware one only
            # at the cadence's edges: a grid of the steps' greatest common divisor.
            grid = 0
            for ms in cadence_ms:
                grid = _gcd(grid, ms)
            for i, ms in enumerate(cadence_ms):
                self._steps[i] = max(1, ms * 2 * ring_hz // 1000) if ring.per_tick else ms
            self._nsteps = len(cadence_ms)
            # ticks on the edges' grid, often enough that a lost one costs little
            tick = _CADENCE_TICK_MS
            while grid % tick:
                tick -= 1
            grid = tick
        else:
            grid = 0
            self._nsteps = 0
        ring.prepare(ring_hz, self._fr_level)
        self._step = 0
        self._left = self._steps[0] if self._nsteps else 0
        if self._nsteps and not ring.per_tick:
            self._t0 = self._ticks_ms()
            self._edge = self._steps[0]
        self.ringing = True
        self.bursts = 1
        ring.start()              # F/R first, RM then: so it is on both edges
        self._rm_now = 1
        self.rm(1)
        if ring.per_tick:
            self.timer.init(freq=2 * ring_hz, callback=self._tick, hard=self.hard)
        elif grid:
            self.timer.init(period=grid, callback=self._tick, hard=self.hard)

    def ring_stop(self):
        """Stop ringing at once (ring trip or cancel): F/R forward, RM released."""
        self.timer.deinit()
        was = self.ringing
        self.ringing = False
        if was:
            self.ring.stop()
        self._rm_now = 0
        self.rm(0)
        self.ring.release(self._fr_level)
        return was

    def in_burst(self):
        return self.ringing and self._rm_now == 1

    def _tick(self, _t):
        if not self.ringing:
            return
        if self._step & 1 == 0 and self.ring.per_tick:
            self.ring.tick()
        if self._nsteps == 0:
            return
        if self.ring.per_tick:
            self._left -= 1
            if self._left > 0:
                return
            self._step += 1
            if self._step >= self._nsteps:
                self._step = 0
            self._left = self._steps[self._step]
        else:
            ms = time.ticks_diff(self._ticks_ms(), self._t0)
            if ms < self._edge:
                return
            was = self._step & 1
            while ms >= self._edge:     # late by whole steps: skip them
                self._step += 1
                if self._step >= self._nsteps:
                    self._step = 0
                self._edge += self._steps[self._step]
            if (self._step & 1) == was:
                return                  # skipped to a step of the same kind: no edge
        if self._step & 1:
            self.ring.stop()            # pause: F/R at rest, then RM low
            self._rm_now = 0
            self.rm(0)
        else:
            self.ring.start()
            self._rm_now = 1
            self.rm(1)
            self.bursts += 1
