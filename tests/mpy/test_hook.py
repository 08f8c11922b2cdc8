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
