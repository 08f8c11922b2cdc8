# Driver for the Silvertel AG1171 (and KS0835F) SLIC: ringing, hook state, polarity.
# Ringing is made by toggling F/R at twice the ring frequency while RM is high; the
# cadence is counted in the same timer's ticks, so on/off periods are exact and the
# timer callback never allocates (safe as a hard interrupt on a board).
from array import array

_RING_DUTY_MAX = 34      # % of the cadence RM may be high (datasheet: <= 33 %, rounding)
_MAX_CADENCE_STEPS = 8


class AG1171:
    def __init__(self, rm, fr, shk, ring_timer, hard_timer=False):
        """hard_timer: run the ring timer's callback in the interrupt (RP2040); the
        ESP32's timers only have scheduled (soft) callbacks."""
        self.rm = rm
        self.hard = hard_timer
        self.fr = fr
        self.shk = shk
        self.timer = ring_timer
        self._steps = array("I", [0] * _MAX_CADENCE_STEPS)  # cadence in timer ticks
        self._nsteps = 0
        self._step = 0
        self._left = 0
        self._fr_level = 1
        self._fr_now = 1
        self._rm_now = 0
        self.ringing = False      # a ring (cadence) is in progress, burst or pause
        self.bursts = 0           # ring bursts started since ring_start
        self.rm(0)
        self.fr(1)

    def off_hook(self):
        return self.shk() == 1

    def forward(self, on=True):
        """Line polarity: forward (F/R high) or reversed (for line-reversal CLIP)."""
        self._fr_level = 1 if on else 0
        if not self.ringing:
            self.fr(self._fr_level)

    def ring_start(self, ring_hz, cadence_ms=None):
        """Ring at ring_hz with cadence_ms = (on, off, on, off, ...) in ms, repeating;
        None rings continuously (used for a single burst the caller times)."""
        if not 10 <= ring_hz <= 60:
            raise ValueError("ring frequency %r Hz out of 10..60" % (ring_hz,))
        self.ring_stop()
        tick_hz = 2 * ring_hz
        if cadence_ms:
            if len(cadence_ms) % 2 or len(cadence_ms) > _MAX_CADENCE_STEPS:
                raise ValueError("cadence needs on/off pairs, at most %d steps" % _MAX_CADENCE_STEPS)
            on = sum(cadence_ms[i] for i in range(0, len(cadence_ms), 2))
            if on * 100 > _RING_DUTY_MAX * sum(cadence_ms):
                raise ValueError("ring cadence duty over 33 % would overheat the SLIC")
            for i, ms in enumerate(cadence_ms):
                self._steps[i] = max(1, ms * tick_hz // 1000)
            self._nsteps = len(cadence_ms)
        else:
            self._nsteps = 0
        self._step = 0
        self._left = self._steps[0] if self._nsteps else 0
        self.ringing = True
        self.bursts = 1
        self._fr_now = self._fr_level
        self._rm_now = 1
        self.rm(1)
        self.timer.init(freq=tick_hz, callback=self._tick, hard=self.hard)

    def ring_stop(self):
        """Stop ringing at once (ring trip or cancel): F/R forward, RM released."""
        self.timer.deinit()
        was = self.ringing
        self.ringing = False
        self._fr_now = self._fr_level
        self.fr(self._fr_now)
        self._rm_now = 0
        self.rm(0)
        return was

    def in_burst(self):
        return self.ringing and self._rm_now == 1

    def _tick(self, _t):
        if not self.ringing:
            return
        if self._nsteps == 0 or self._step & 1 == 0:
            self._fr_now ^= 1     # tracked, not read back: output pins may read 0
            self.fr(self._fr_now)
        if self._nsteps == 0:
            return
        self._left -= 1
        if self._left > 0:
            return
        self._step += 1
        if self._step >= self._nsteps:
            self._step = 0
        self._left = self._steps[self._step]
        if self._step & 1:
            self._fr_now = self._fr_level   # pause: F/R at rest, then RM low
            self.fr(self._fr_now)
            self._rm_now = 0
            self.rm(0)
        else:
            self._rm_now = 1
            self.rm(1)
            self.bursts += 1
