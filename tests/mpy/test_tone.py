# dsp.tone.ToneGen on MicroPython: state handling and no allocation per frame.
# Frequencies, levels, cadences and phase continuity are measured by
# tests/test_tone_spectrum.py (numpy in CPython).
from array import array

import micropython

from check import eq, raises
from dsp.tone import ToneGen, dbm0_to_peak, hz_to_step, pair_steps


def _peak(buf, n):
    m = 0
    for i in range(n):
        if abs(buf[i]) > m:
            m = abs(buf[i])
    return m


def test_idle_generator_writes_silence():
    g = ToneGen()
    eq(g.active, False, "new generator")
    buf = array('h', [123] * 160)
    g.fill(buf, 160)
    eq(_peak(buf, 160), 0, "silence")


def test_set_stop_active():
    g = ToneGen()
    buf = array('h', bytes(320))
    g.set(350, 440, -13)
    eq(g.active, True, "after set")
    g.fill(buf, 160)
    if _peak(buf, 160) < 1000:
        raise AssertionError("no tone")
    g.stop()
    eq(g.active, False, "after stop")
    g.fill(buf, 160)
    eq(_peak(buf, 160), 0, "silence after stop")


def test_fill_writes_only_n():
    g = ToneGen()
    g.set(1000, 0, -10)
    buf = array('h', [7] * 160)
    g.fill(buf, 37)
    eq(list(buf[37:]), [7] * 123, "untouched tail")


def test_single_cadence_stops_itself():
    g = ToneGen()
    g.set(400, 0, -10, (10, 10), repeat=False)     # 80 on, 80 off
    buf = array('h', bytes(400))
    g.fill(buf, 159)
    eq(g.active, True, "one sample before the end")
    g.fill(buf, 1)
    eq(g.active, False, "after the cadence")


def test_peak_amplitude_of_0dbm0():
    # +3.17 dBm0 is full scale: 0 dBm0 is 32768 * 10^(-3.17/20)
    eq(int(round(dbm0_to_peak(0))), 22748, "0 dBm0 peak")
    eq(int(round(dbm0_to_peak(3.17))), 32768, "full scale")
    eq(hz_to_step(8000 // 2), 1 << 23, "Nyquist is half a turn")


def _extremes_and_largest_step(buf, n):
    lo = hi = buf[0]
    step = 0
    for i in range(1, n):
        v = buf[i]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
        d = abs(v - buf[i - 1])
        step = d if d > step else step
    return lo, hi, step


# Two 0 dBm0 components peak at 2 x 22748, above 16 bits. The largest sample-to-sample
# change of that sum (697 + 1209 Hz at 8 kHz) is about 33,700; a sample that wrapped
# round instead of saturating jumps by ~65,000.
_MAX_STEP_WITHOUT_WRAP = 40000


def test_dual_tone_above_full_scale_saturates_without_wrapping():
    from dsp import tone
    g = ToneGen()
    g.set(697, 1209, 0)
    eq(g._gen is tone._gen_clip, True, "the saturating generator is chosen")
    buf = array('h', bytes(16000))
    g.fill(buf, 8000)
    lo, hi, step = _extremes_and_largest_step(buf, 8000)
    eq((lo, hi), (-32768, 32767), "peaks held at the 16-bit limits")
    if step > _MAX_STEP_WITHOUT_WRAP:
        raise AssertionError("a sample wrapped round: step %d" % step)


def test_unsaturated_generator_would_wrap_at_that_level():
    # Proves the check above can fail: the plain loop over the same state wraps.
    from dsp import tone
    g = ToneGen()
    g.set(697, 1209, 0)
    g._gen = tone._gen
    buf = array('h', bytes(16000))
    g.fill(buf, 8000)
    step = _extremes_and_largest_step(buf, 8000)[2]
    if step <= _MAX_STEP_WITHOUT_WRAP:
        raise AssertionError("expected a wrap-round step, largest was %d" % step)


def test_bad_arguments():
    g = ToneGen()
    raises(ValueError, g.set, 400, 0, 4.0)               # above full scale
    raises(ValueError, g.set, 400, 0, -10, (100,))       # not pairs
    raises(ValueError, g.set, 400, 0, -10, (0, 0))       # empty cadence


def test_pair_table_plays_what_set_plays_without_allocating():
    pairs = [(697, 1209), (941, 1477), (852, 1633), (770, 1336)]
    table = pair_steps(pairs, -10)
    eq(len(table), 16, "four ints a tone")
    a, b = ToneGen(), ToneGen()
    want, got = array('h', bytes(320)), array('h', bytes(320))
    for i in (3, 0, 2, 1):                   # out of order: each start reads its own row
        a.set(pairs[i][0], pairs[i][1], -10)
        a.fill(want, 160)
        b.fill(got, 37)                       # whatever b played before
        micropython.heap_lock()
        try:
            b.start_pair(table, i)
            b.fill(got, 160)
        finally:
            micropython.heap_unlock()
        eq(list(got), list(want), "tone %d" % i)
        eq(b.active, True, "active")
    raises(ValueError, pair_steps, pairs, 0.0)   # two tones at 0 dBm0 would clip


def test_no_allocation_per_frame():
    g = ToneGen()
    buf = array('h', bytes(320))
    for cadence in (None, (400, 200, 400, 2000), (50, 50)):
        g.set(400, 450, -19, cadence)
        micropython.heap_lock()
        try:
            for n in (160, 1, 7, 159, 160, 80):
                g.fill(buf, n)
            g.stop()
            g.fill(buf, 160)
        finally:
            micropython.heap_unlock()


def test_reference_gives_the_same_samples():
    from dsp import tone_ref
    cases = ((350, 440, -13, None, None), (400, 0, -19, (400, 200, 400, 2000), None),
             (697, 1209, 0, (50, 50), None), (1000, 0, 3.0, None, None),
             (770, 1336, -10, (40, 40), -6))
    for f1, f2, lev, cad, lev2 in cases:
        for rep in (True, False):
            a = ToneGen()
            b = tone_ref.ToneGen()
            a.set(f1, f2, lev, cad, lev2, rep)
            b.set(f1, f2, lev, cad, lev2, rep)
            x = array('h', bytes(2 * 333))
            y = array('h', bytes(2 * 333))
            for n in (160, 7, 333, 1, 160, 160, 160, 160, 160, 160, 160, 160):
                ra = a.fill(x, n)
                rb = b.fill(y, n)
                eq(ra, rb, "returned")
                eq(list(x[:n]), list(y[:n]), "samples %r" % ((f1, f2, lev, cad, rep),))
                eq(a.active, b.active, "active")
