# Hook-switch detector: debounces SHK samples and tells off-hook, dial pulses,
# hook flash and hang-up apart. Fed one sample per HOOK_SAMPLE_MS from a timer;
# sample() only does integer work and queues events, so it can run in an IRQ.
from array import array

HOOK_SAMPLE_MS = 2

# Events, queued as (code << 8) | value.
EV_OFF_HOOK = 1    # the phone went off-hook (or answered: ring trip)
EV_HANG_UP = 2     # on-hook for longer than hangup_ms
EV_DIGIT = 3       # a pulse-dialled digit; value = number of pulses (1..10+)
EV_FLASH = 4       # on-hook for flash_min_ms..flash_max_ms, then off-hook again
EV_PULSE = 5       # a single dial pulse counted (value = pulses so far): quiets dial tone

_QUEUE_LEN = 32


class HookDetector:
    def __init__(self, debounce_ms=10, pulse_break_min_ms=20, flash_min_ms=100,
                 flash_max_ms=900, hangup_ms=900, digit_gap_ms=150,
                 sample_ms=HOOK_SAMPLE_MS):
        s = sample_ms
        self._debounce = max(1, debounce_ms // s)
        self._pulse_min = pulse_break_min_ms // s
        self._flash_min = flash_min_ms // s
        self._flash_max = flash_max_ms // s
        self._hangup = hangup_ms // s
        self._digit_gap = digit_gap_ms // s
        self._q = array("i", [0] * _QUEUE_LEN)
        self._head = 0
        self._tail = 0
        self.overruns = 0
        self.reset(0)

    def reset(self, level):
        self.stable = level       # debounced SHK level, 1 = off-hook
        self.off_hook = level == 1  # the line's state: off-hook until a hang-up
        self._run = 0             # samples the raw level has differed from stable
        self._since = 0           # samples spent in the stable level
        self._pulses = 0          # pulses of the digit being dialled

    # -- producer (timer) ---------------------------------------------------------
    def sample(self, level):
        if level != self.stable:
            self._run += 1
            if self._run >= self._debounce:
                # The old level lasted until this run of new samples began.
                self._edge(level, self._since - self._run + 1)
                self.stable = level
                self._since = self._run   # the new level began when the run began
                self._run = 0
            else:
                self._since += 1
            return
        self._run = 0
        self._since += 1
        if level == 0:
            if self.off_hook and self._since >= self._hangup:
                self.off_hook = False
                self._pulses = 0
                self._push(EV_HANG_UP, 0)
        elif self._pulses and self._since >= self._digit_gap:
            self._push(EV_DIGIT, self._pulses)
            self._pulses = 0

    def _edge(self, level, held):
        """A debounced change to `level` after `held` samples in the old level."""
        if level == 0 or not self.off_hook:
            if level == 1:
                self.off_hook = True
                self._push(EV_OFF_HOOK, 0)
            return
        # Off-hook again after a break of `held` samples while the line was up.
        if self._pulse_min <= held < self._flash_min:
            self._pulses += 1
            self._push(EV_PULSE, self._pulses)
        elif self._flash_min <= held <= self._flash_max:
            if self._pulses:
                self._push(EV_DIGIT, self._pulses)
                self._pulses = 0
            self._push(EV_FLASH, 0)
        # Shorter than a pulse: a glitch. Between flash and hang-up: ignored.

    def _push(self, code, value):
        nxt = (self._head + 1) % _QUEUE_LEN
        if nxt == self._tail:
            self.overruns += 1
            return
        self._q[self._head] = (code << 8) | value
        self._head = nxt

    # -- consumer (task) ------------------------------------------------------------
    def pending(self):
        return self._head != self._tail

    def pop(self):
        """Next event as (code, value), or None."""
        if self._head == self._tail:
            return None
        e = self._q[self._tail]
        self._tail = (self._tail + 1) % _QUEUE_LEN
        return e >> 8, e & 0xFF
