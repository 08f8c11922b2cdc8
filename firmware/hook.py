# Hook-switch detector: debounces SHK and tells off-hook, dial pulses, hook flash and
# hang-up apart. HookDetector is fed one sample per HOOK_SAMPLE_MS from a timer;
# sample() only does integer work and queues events, so it can run in an IRQ.
# EdgeDetector is fed the edges of a pin interrupt with their times instead, and
# decides in the line task, which sleeps until the next edge or deadline.
from array import array

from time import ticks_add, ticks_diff

HOOK_SAMPLE_MS = 2

# Events, queued as (code << 8) | value.
EV_OFF_HOOK = 1    # the phone went off-hook (or answered: ring trip)
EV_HANG_UP = 2     # on-hook for longer than hangup_ms
EV_DIGIT = 3       # a pulse-dialled digit; value = number of pulses (1..10+)
EV_FLASH = 4       # on-hook for flash_min_ms..flash_max_ms, then off-hook again
EV_PULSE = 5       # a single dial pulse counted (value = pulses so far): quiets dial tone

_QUEUE_LEN = 32

# A break this much longer than flash_min_ms is still a pulse when the line is in the
# middle of a digit, or when the next break follows within the digit gap: a stamp
# can be late by a garbage collection (the ESP32's pin handlers are scheduled, ~10-35
# ms), which stretches a slow dial's 83 ms break past a 100 ms flash_min_ms, and
# nobody flashes within 150 ms of a pulse. A lone break in this window stays a flash
# (decided once the digit gap has passed with nothing after it).
FLASH_DOUBT_MS = 50


class HookDetector:
    def __init__(self, debounce_ms=10, pulse_break_min_ms=20, flash_min_ms=100,
                 flash_max_ms=900, hangup_ms=900, digit_gap_ms=150,
                 sample_ms=HOOK_SAMPLE_MS):
        s = sample_ms
        self._debounce = max(1, debounce_ms // s)
        self._pulse_min = pulse_break_min_ms // s
        self._flash_min = flash_min_ms // s
        self._flash_max = flash_max_ms // s
        self._doubt_max = min(flash_min_ms + FLASH_DOUBT_MS, flash_max_ms) // s
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
        self._doubt = False       # a break just past flash_min: a flash, or a late pulse

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
                self._doubt = False
                self._push(EV_HANG_UP, 0)
        elif (self._pulses or self._doubt) and self._since >= self._digit_gap:
            self._gap()

    def _edge(self, level, held):
        """A debounced change to `level` after `held` samples in the old level."""
        if level == 0 or not self.off_hook:
            if level == 1:
                self.off_hook = True
                self._push(EV_OFF_HOOK, 0)
            return
        # Off-hook again after a break of `held` samples while the line was up.
        if held < self._pulse_min:
            return                    # a glitch
        if held < self._flash_min or (held < self._doubt_max and (self._pulses or self._doubt)):
            if self._doubt:           # the break in doubt began this digit
                self._doubt = False
                self._pulse()
            self._pulse()
        elif held < self._doubt_max:
            self._doubt = True        # the next break, or the digit gap, tells
        elif held <= self._flash_max:
            if self._doubt:
                self._doubt = False
                self._push(EV_FLASH, 0)
            if self._pulses:
                self._push(EV_DIGIT, self._pulses)
                self._pulses = 0
            self._push(EV_FLASH, 0)
        # Between flash and hang-up: ignored.

    def _pulse(self):
        self._pulses += 1
        self._push(EV_PULSE, self._pulses)

    def _gap(self):
        """Off-hook for the digit gap after a break: the digit is complete, or the
        break in doubt was a flash."""
        if self._doubt:
            self._doubt = False
            self._push(EV_FLASH, 0)
        else:
            self._push(EV_DIGIT, self._pulses)
            self._pulses = 0

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


# Edges queued between the interrupt and the line task (a bouncing contact makes ~5
# per change; the task drains them at every wake).
_EDGES = 32


class EdgeDetector(HookDetector):
    """The same detector fed edges instead of samples: edge(level, t_ms) from a pin
    interrupt (integer work, no allocation: a ring of timestamps and levels), the
    debouncing and the time-outs done by poll(now_ms) in the line task, which returns
    the next instant anything falls due, so the task sleeps until then or the next
    edge. Debouncing by time: a change stands once the new level has held debounce_ms
    (decided by the next edge or by that deadline); the old level lasted until the
    change began. Same events, same rules in ms as HookDetector's in samples."""

    def __init__(self, debounce_ms=10, pulse_break_min_ms=20, flash_min_ms=100,
                 flash_max_ms=900, hangup_ms=900, digit_gap_ms=150):
        self._et = array("i", [0] * _EDGES)   # edge times (ticks_ms: 30 bits, small ints)
        self._el = bytearray(_EDGES)          # the level read at each
        self._ehead = 0
        self._etail = 0
        self.edge_overruns = 0
        # thresholds in ms: HookDetector's arithmetic with 1 ms "samples"
        super().__init__(debounce_ms, pulse_break_min_ms, flash_min_ms, flash_max_ms,
                         hangup_ms, digit_gap_ms, sample_ms=1)

    def reset(self, level, now=0):
        """SHK reads `level` at ticks_ms now."""
        super().reset(level)
        self.raw = level          # the level of the last edge taken
        self._raw_t = now         # ...and when it came
        self._since_t = now       # when the stable level began
        self._etail = self._ehead   # edges queued before: the level read now is the truth

    # -- producer (pin interrupt) -----------------------------------------------------
    def edge(self, level, t):
        """SHK read `level` at ticks_ms t (an interrupt: no allocation)."""
        h = self._ehead
        nxt = (h + 1) % _EDGES
        if nxt == self._etail:
            self.edge_overruns += 1   # the next edge carries its level: resynchronises
            return
        self._et[h] = t
        self._el[h] = level
        self._ehead = nxt

    def sample(self, level):
        raise NotImplementedError("EdgeDetector takes edges")

    # -- consumer (task) ---------------------------------------------------------------
    def poll(self, now):
        """Take the queued edges and the time-outs up to ticks_ms now; returns the
        ticks_ms of the next deadline (debounce settling, hang-up, digit gap) or None."""
        while self._etail != self._ehead:
            i = self._etail
            self.level(self._el[i], self._et[i])
            self._etail = (i + 1) % _EDGES
        self._advance(now)
        if self.raw != self.stable:
            return ticks_add(self._raw_t, self._debounce)
        if self.stable == 0:
            return ticks_add(self._since_t, self._hangup) if self.off_hook else None
        if self._pulses or self._doubt:
            return ticks_add(self._since_t, self._digit_gap)
        return None

    def level(self, level, t):
        """SHK is at `level` from ticks_ms t on (task side: also for a level the task
        read itself when an interrupt was lost)."""
        if level == self.raw:
            return                    # no change (a soft interrupt that ran late reads the same)
        if ticks_diff(t, self._raw_t) < 0:
            t = self._raw_t           # stamped before the last edge taken: not earlier than it
        self._advance(t)
        self.raw = level
        self._raw_t = t

    def _advance(self, t):
        """Decide what stands at ticks_ms t: a change that has held debounce_ms, then
        the stable level's time-outs."""
        if self.raw != self.stable:
            if ticks_diff(t, self._raw_t) < self._debounce:
                return                # settling: the old level's time-outs were taken when it left
            held = ticks_diff(self._raw_t, self._since_t)
            self.stable = self.raw
            self._since_t = self._raw_t
            self._edge(self.raw, held)
        held = ticks_diff(t, self._since_t)
        if self.stable == 0:
            if self.off_hook and held >= self._hangup:
                self.off_hook = False
                self._pulses = 0
                self._doubt = False
                self._push(EV_HANG_UP, 0)
        elif (self._pulses or self._doubt) and held >= self._digit_gap:
            self._gap()
