# Hook detector: pulses with bounce at several speeds and break ratios, flash, hang-up.
import hook
from check import eq

S = hook.HOOK_SAMPLE_MS


def feed(det, level, ms, bounce_ms=0):
    """Hold `level` for ms, the first bounce_ms chattering (1 ms toggles)."""
    n = ms // S
    b = bounce_ms // S
    for i in range(n):
        if i < b:
            det.sample(level if i % 2 == 0 else 1 - level)
        else:
            det.sample(level)


def events(det):
    out = []
    while det.pending():
        out.append(det.pop())
    return out


def off_hook_det():
    det = hook.HookDetector()
    feed(det, 1, 300)
    eq(events(det), [(hook.EV_OFF_HOOK, 0)], "off-hook")
    return det


def dial(det, digit, pps, brk, bounce_ms):
    period = 1000 / pps
    b = int(period * brk)
    m = int(period - b)
    pulses = 10 if digit == 0 else digit
    for _ in range(pulses):
        feed(det, 0, b, bounce_ms)
        feed(det, 1, m, bounce_ms)
    feed(det, 1, 600)


def test_every_digit_at_every_speed_and_ratio_with_bounce():
    for pps in (8, 10, 12):
        for brk in (0.6, 0.67):
            for bounce in (0, 6):
                det = off_hook_det()
                for digit in range(10):
                    dial(det, digit, pps, brk, bounce)
                    got = [e for e in events(det) if e[0] != hook.EV_PULSE]
                    eq(got, [(hook.EV_DIGIT, 10 if digit == 0 else digit)],
                       "digit %d at %d pps break %.2f bounce %d" % (digit, pps, brk, bounce))


def test_flash_window():
    for ms in (110, 300, 880):
        det = off_hook_det()
        feed(det, 0, ms, 6)
        feed(det, 1, 300, 6)
        eq(events(det), [(hook.EV_FLASH, 0)], "flash %d ms" % ms)


def test_hang_up_after_hangup_time():
    det = off_hook_det()
    feed(det, 0, 1200, 6)
    eq(events(det), [(hook.EV_HANG_UP, 0)], "hang-up")
    feed(det, 1, 300, 6)
    eq(events(det), [(hook.EV_OFF_HOOK, 0)], "off-hook again")


def test_glitch_is_ignored():
    det = off_hook_det()
    feed(det, 0, 6)
    feed(det, 1, 300)
    eq(events(det), [], "6 ms dropout")


def test_on_hook_bounce_alone_is_not_off_hook():
    det = hook.HookDetector()
    for _ in range(50):
        feed(det, 1, 4)
        feed(det, 0, 4)
    eq(events(det), [], "chatter shorter than debounce")


# -- EdgeDetector: the same rules fed a pin interrupt's edges ----------------------------
from time import ticks_add, ticks_diff

import micropython


class Wave:
    """SHK as a list of (t_ms, level) changes; levels between them hold."""

    def __init__(self, level=0):
        self.changes = []
        self.t = 0
        self.level = level

    def hold(self, level, ms, bounce_ms=0):
        """Go to `level` now and hold it ms, the first bounce_ms chattering (1 ms toggles)."""
        for i in range(min(bounce_ms, ms)):
            self._to(level if i % 2 == 0 else 1 - level, self.t + i)
        self._to(level, self.t + min(bounce_ms, ms))
        self.t += ms
        return self

    def _to(self, level, t):
        if level != self.level:
            self.level = level
            self.changes.append((t, level))



def sampled_events(wave, start=0):
    """HookDetector on the same wave, sampled every S ms from t = 0."""
    det = hook.HookDetector()
    det.reset(start)
    out = []
    level = start
    i = 0
    ch = wave.changes
    for t in range(0, wave.t, S):
        while i < len(ch) and ch[i][0] <= t:
            level = ch[i][1]
            i += 1
        det.sample(level)
        out.extend(events(det))
    return out


def edge_events(wave, start=0, base=0, batch_ms=0, locked=False):
    """Feed the edges as the line task sees them: it wakes at each edge (batch_ms 0) or
    every batch_ms (a busy task: the edges wait in the ring), and at each deadline
    poll() returns. `base`: the ticks_ms the wave starts at (wrap-around)."""
    det = hook.EdgeDetector()
    det.reset(start, base)
    out = []
    nxt = None
    woke = 0

    def poll(now):
        if locked:
            micropython.heap_lock()
        try:
            d = det.poll(now)
        finally:
            if locked:
                micropython.heap_unlock()
        out.extend(events(det))
        return d

    for t, level in wave.changes:
        while nxt is not None and ticks_diff(nxt, ticks_add(base, t)) < 0:
            nxt = poll(nxt)
        if batch_ms and t - woke >= batch_ms:
            woke = t - t % batch_ms
            nxt = poll(ticks_add(base, woke))
        if locked:
            micropython.heap_lock()
        det.edge(level, ticks_add(base, t))
        if locked:
            micropython.heap_unlock()
        if not batch_ms:
            nxt = poll(ticks_add(base, t))
    end = ticks_add(base, wave.t)
    nxt = poll(ticks_add(base, woke)) if batch_ms else nxt
    while nxt is not None and ticks_diff(nxt, end) <= 0:
        nxt = poll(nxt)
    poll(end)
    eq(det.edge_overruns, 0, "edge ring overruns")
    return out


def dial_wave(wave, digit, pps, brk, bounce_ms):
    period = 1000 / pps
    b = int(period * brk)
    m = int(period - b)
    for _ in range(10 if digit == 0 else digit):
        wave.hold(0, b, bounce_ms)
        wave.hold(1, m, bounce_ms)
    wave.hold(1, 600)


def test_edges_every_digit_at_every_speed_and_ratio_with_bounce():
    for pps in (8, 10, 12):
        for brk in (0.6, 0.67):
            for bounce in (0, 6):
                w = Wave().hold(1, 300)
                for digit in range(10):
                    dial_wave(w, digit, pps, brk, bounce)
                got = edge_events(w)
                what = "%d pps break %.2f bounce %d" % (pps, brk, bounce)
                eq([e for e in got if e[0] != hook.EV_PULSE],
                   [(hook.EV_OFF_HOOK, 0)] + [(hook.EV_DIGIT, d or 10) for d in range(10)], what)
                eq(got, sampled_events(w), "edges vs samples, " + what)


def test_edges_flash_window_hang_up_and_off_hook_again():
    for ms in (110, 300, 880):
        w = Wave().hold(1, 300).hold(0, ms, 6).hold(1, 300, 6)
        got = edge_events(w)
        eq(got, [(hook.EV_OFF_HOOK, 0), (hook.EV_FLASH, 0)], "flash %d ms" % ms)
        eq(got, sampled_events(w), "flash %d ms, edges vs samples" % ms)
    w = Wave().hold(1, 300).hold(0, 1200, 6).hold(1, 300, 6)
    got = edge_events(w)
    eq(got, [(hook.EV_OFF_HOOK, 0), (hook.EV_HANG_UP, 0), (hook.EV_OFF_HOOK, 0)], "hang-up")
    eq(got, sampled_events(w), "hang-up, edges vs samples")


def test_a_late_make_stamp_does_not_turn_a_pulse_into_a_flash():
    """The ESP32's pin handlers are scheduled: one held by a garbage collection reads
    SHK (settled by then) and the time when it runs. A slow dial's 83 ms break whose
    make is stamped 30 ms late reads as 113 ms, past flash_min_ms (100), and the make
    after it 30 ms short. Inside a digit, or with the next break within the digit gap,
    that is still a pulse; alone it stays a flash."""
    for late_pulse in range(4):         # the first, second, third and last pulse of a 4
        w = Wave().hold(1, 300)
        for i in range(4):
            late = 30 if i == late_pulse else 0
            w.hold(0, 83 + late, 5)
            w.hold(1, (42 if i < 3 else 600) - late, 0 if late else 5)
        got = edge_events(w)
        what = "pulse %d of a 4 stamped late" % (late_pulse + 1)
        eq([e for e in got if e[0] != hook.EV_PULSE],
           [(hook.EV_OFF_HOOK, 0), (hook.EV_DIGIT, 4)], what)
        eq(got, sampled_events(w), "edges vs samples, " + what)
    # a lone break the same length is a flash, told once the digit gap has passed
    w = Wave().hold(1, 300).hold(0, 113, 5).hold(1, 149)
    eq(edge_events(w), [(hook.EV_OFF_HOOK, 0)], "113 ms break: in doubt for the digit gap")
    w.hold(1, 2)
    eq(edge_events(w), [(hook.EV_OFF_HOOK, 0), (hook.EV_FLASH, 0)], "113 ms break alone")
    eq(sampled_events(w), edge_events(w), "113 ms break alone, edges vs samples")
    # past the window of doubt a break is a flash even in a digit: the digit first
    w = Wave().hold(1, 300).hold(0, 83, 5).hold(1, 42, 5).hold(0, 160, 5).hold(1, 300, 5)
    eq(edge_events(w), [(hook.EV_OFF_HOOK, 0), (hook.EV_PULSE, 1), (hook.EV_DIGIT, 1),
                        (hook.EV_FLASH, 0)], "a pulse, then a 160 ms break")


def test_edges_glitch_shorter_than_debounce_is_ignored():
    for ms in (1, 6, 9):
        w = Wave().hold(1, 300).hold(0, ms).hold(1, 300)
        eq(edge_events(w), [(hook.EV_OFF_HOOK, 0)], "%d ms dropout" % ms)
    w = Wave()
    for _ in range(50):
        w.hold(1, 4).hold(0, 4)
    eq(edge_events(w), [], "chatter shorter than debounce")
    # just long enough: a 10 ms break is a change, shorter than a pulse: no event,
    # and the line stays off-hook
    w = Wave().hold(1, 300).hold(0, 12).hold(1, 300)
    eq(edge_events(w), [(hook.EV_OFF_HOOK, 0)], "12 ms break")


def test_edges_batched_by_a_busy_task_and_across_the_ticks_wrap():
    """The events depend on the edges' timestamps, not on when the task takes them."""
    w = Wave().hold(1, 300)
    for digit in (3, 0, 7):
        dial_wave(w, digit, 10, 0.6, 5)
    w.hold(0, 300, 5).hold(1, 300, 5).hold(0, 1000, 5)
    want = edge_events(w)
    eq([e for e in want if e[0] != hook.EV_PULSE],
       [(hook.EV_OFF_HOOK, 0), (hook.EV_DIGIT, 3), (hook.EV_DIGIT, 10), (hook.EV_DIGIT, 7),
        (hook.EV_FLASH, 0), (hook.EV_HANG_UP, 0)], "the sequence")
    for batch in (7, 20):
        eq(edge_events(w, batch_ms=batch), want, "task waking every %d ms" % batch)
    wrap = ticks_add(0, -2500)          # the wave crosses ticks_ms's wrap
    eq(edge_events(w, base=wrap), want, "across the wrap")


def test_edges_deadlines():
    det = hook.EdgeDetector()
    det.reset(0)
    eq(det.poll(0), None, "on-hook, nothing pending")
    det.edge(1, 100)
    eq(det.poll(100), 110, "settling: due at the edge + debounce")
    eq(det.poll(109), 110, "not yet")
    eq(det.pending(), False, "no event before the debounce time")
    eq(det.poll(110), None, "off-hook, nothing pending")
    eq(events(det), [(hook.EV_OFF_HOOK, 0)], "off-hook at the deadline")
    det.edge(0, 500)
    det.edge(1, 560)
    eq(det.poll(561), 570, "the make settling")
    eq(det.poll(570), 710, "a pulse: the digit gap runs from the make")
    eq(det.poll(709), 710, "not yet")
    eq(det.poll(710), None, "digit taken")
    eq(events(det), [(hook.EV_PULSE, 1), (hook.EV_DIGIT, 1)], "one pulse")
    det.edge(0, 1000)
    eq(det.poll(1010), 1900, "on-hook: the hang-up time from the break")
    eq(det.poll(1900), None, "hung up")
    eq(events(det), [(hook.EV_HANG_UP, 0)], "hang-up")


def test_edges_same_level_twice_and_late_timestamps():
    """A soft interrupt that ran late reads the level after the next edge too: the
    repeat is no change; a stamp older than the last edge taken counts from it."""
    det = hook.EdgeDetector()
    det.reset(0)
    det.edge(1, 100)
    det.edge(1, 103)
    det.poll(200)
    eq(events(det), [(hook.EV_OFF_HOOK, 0)], "one off-hook")
    det.edge(0, 300)
    det.poll(305)
    det.level(1, 290)               # the task's own read, stamped behind
    det.poll(400)
    eq(events(det), [], "a 0 ms break: nothing")
    eq(det.off_hook, True, "still off-hook")


def test_edges_and_poll_allocate_nothing():
    w = Wave().hold(1, 300)
    for digit in (1, 9):
        dial_wave(w, digit, 10, 0.6, 5)
    w.hold(0, 300, 5).hold(1, 300, 5).hold(0, 1000, 5)
    got = edge_events(w, locked=True)
    eq(got, edge_events(w), "the same under heap_lock")
