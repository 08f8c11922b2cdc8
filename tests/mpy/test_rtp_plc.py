# Packet-loss concealment (G.711 Appendix I style) properties on synthetic voiced
# signals: delay, continuity, pitch, fade-out schedule, recovery.
import math
from array import array

from check import eq, near
from rtp.plc import Concealer

F = 160


def voiced(f0, n, start=0, amp=8000):
    # A fundamental and two harmonics: a crude vowel.
    out = array("h", bytes(2 * n))
    for i in range(n):
        t = (start + i) / 8000
        out[i] = int(amp * (math.sin(2 * math.pi * f0 * t) + 0.5 * math.sin(4 * math.pi * f0 * t)
                            + 0.25 * math.sin(6 * math.pi * f0 * t + 1)) / 1.75)
    return out


def run(c, f0, good_before, lost, good_after):
    """Feed frames; returns (output samples, input samples)."""
    n = 0
    out = []
    inp = []
    fr = array("h", bytes(2 * F))
    for k in range(good_before + lost + good_after):
        src = voiced(f0, F, n)
        inp.extend(src)
        n += F
        if good_before <= k < good_before + lost:
            c.conceal(fr)
        else:
            for i in range(F):
                fr[i] = src[i]
            c.good(fr)
        out.extend(fr)
    return out, inp


def max_step(x, a, b):
    return max(abs(x[i] - x[i - 1]) for i in range(a, b))


def peak(x, a, b):
    return max(abs(v) for v in x[a:b])


def test_good_frames_are_delayed_by_3_75_ms():
    c = Concealer(F)
    out, inp = run(c, 150, 5, 0, 0)
    eq(c.delay, 30, "delay in samples")
    eq(out[30:], inp[:len(inp) - 30], "output = input delayed by 30 samples")


def test_pitch_found():
    for f0, period in ((100, 80), (160, 50), (200, 40)):
        c = Concealer(F)
        run(c, f0, 4, 1, 0)
        near(c._pitch, period, 1, "pitch of %d Hz" % f0)


def _isqrt(v):
    # floor(sqrt(v)), from the float root and corrected to be exact
    r = int(math.sqrt(v))
    while r * r > v:
        r -= 1
    while (r + 1) * (r + 1) <= v:
        r += 1
    return r


def _pitch_by_sums(b, end, sh, pmin, pmax, corrlen, ndec):
    # G.711 Appendix I's search written out: every lag's energy and correlation
    # summed from scratch (the viper search keeps the coarse energy running).
    base = end - corrlen - pmax

    def x(i):
        return b[i] >> sh

    def score(j, step):
        e = sum(x(base + j + i) * x(base + j + i) for i in range(0, corrlen, step))
        c = sum(x(end - corrlen + i) * x(base + j + i) for i in range(0, corrlen, step))
        return c // _isqrt(max(e, 1))

    diff = pmax - pmin
    bestj = max(range(0, diff + 1, ndec), key=lambda j: (score(j, ndec), j))
    fine = range(max(0, bestj - ndec + 1), min(diff, bestj + ndec - 1) + 1)
    return pmax - max(fine, key=lambda j: (score(j, 1), j))


def test_pitch_search_matches_the_sums_written_out():
    from rtp import _fast
    seed = 12345
    for t in range(24):
        b = array("h", bytes(2 * 390))
        f0 = 60 + 13 * t
        for i in range(390):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            noise = (seed >> 16) % 1001 - 500
            b[i] = int(2000 * math.sin(2 * math.pi * f0 * i / 8000)) + noise * (t % 3)
        got = _fast.find_pitch(b, 390, 0, 40, 120, 160, 2)
        eq(got, _pitch_by_sums(b, 390, 0, 40, 120, 160, 2), "pitch lag, signal %d" % t)


def test_concealment_is_continuous_and_follows_the_waveform():
    c = Concealer(F)
    out, inp = run(c, 125, 6, 1, 3)
    lo = 6 * F + 30  # the first concealed sample in the (delayed) output
    smax = max_step(inp, 1, len(inp))
    if max_step(out, lo - 40, lo + F + 120) > 1.3 * smax:
        raise AssertionError("discontinuity: %d vs signal %d" % (
            max_step(out, lo - 40, lo + F + 120), smax))
    # The first 10 ms of a stationary vowel is rebuilt closely (same period and phase).
    ref = inp[lo - 30:lo - 30 + 80]
    got = out[lo:lo + 80]
    num = sum(a * b for a, b in zip(ref, got))
    den = math.sqrt(sum(a * a for a in ref) * sum(b * b for b in got))
    if num / den < 0.9:
        raise AssertionError("correlation with the lost signal %.2f" % (num / den))


def test_fade_schedule_and_silence_after_60_ms():
    c = Concealer(F)
    out, inp = run(c, 125, 6, 5, 0)  # 100 ms lost
    lo = 6 * F + 30
    p0 = peak(inp, 0, 6 * F)
    # Per 10 ms block of the loss: full level for the first 10 ms, then -20 % per 10 ms.
    limits = [1.0, 1.0, 0.8, 0.6, 0.4, 0.2]
    for k, lim in enumerate(limits):
        p = peak(out, lo + 80 * k, lo + 80 * (k + 1))
        if p > lim * p0 * 1.05 + 1:
            raise AssertionError("block %d peak %d over %.1f x %d" % (k, p, lim, p0))
    if peak(out, lo, lo + 80) < 0.7 * p0:
        raise AssertionError("first 10 ms attenuated")
    eq(peak(out, lo + 480, lo + 800 - 30), 0, "silence after 60 ms")
    eq(c.concealed_ms, 100, "concealed time")


def test_recovery_is_smooth_and_then_exact():
    c = Concealer(F)
    out, inp = run(c, 125, 6, 2, 4)  # 40 ms loss, then speech again
    back = 8 * F + 30  # first output sample from the first good frame after the loss
    smax = max_step(inp, 1, len(inp))
    if max_step(out, back - 40, back + 120) > 1.3 * smax:
        raise AssertionError("step at recovery %d vs %d" % (max_step(out, back - 40, back + 120),
                                                           smax))
    # After the cross-fade (1/4 period + 32 samples per extra block) it is the input.
    eq(out[back + 120:], inp[back + 90:len(inp) - 30], "exact after the cross-fade")


def test_long_loss_then_recovery_fades_in():
    c = Concealer(F)
    out, inp = run(c, 125, 6, 10, 2)  # 200 ms: concealment long silent
    back = 16 * F + 30
    eq(peak(out, back - 100, back), 0, "silent before recovery")
    if peak(out, back, back + 10) > peak(inp, back - 30, back - 20) * 0.5 + 1:
        raise AssertionError("no fade-in")
    eq(out[back + 80:], inp[back + 50:len(inp) - 30], "exact afterwards")


def test_frame_size_must_be_whole_10ms():
    try:
        Concealer(100)
    except ValueError:
        return
    raise AssertionError("accepted 100 samples")
