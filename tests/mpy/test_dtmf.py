# MicroPython-side tests of dsp.dtmf: digits, frame sizes, agreement with dtmf_ref,
# no allocation per frame.
import math
import micropython
from array import array

from check import eq
from dsp import dtmf, dtmf_ref

_ROWS = (697, 770, 852, 941)
_COLS = (1209, 1336, 1477, 1633)
_A = 22750 * 0.3162   # -10 dBm0 peak (0 dBm0 sine peak ~ 22750, see docs/dsp.md)


def _signal(digits, on_ms=60, off_ms=60):
    out = array('h')
    ph = 0.4
    for _ in range(off_ms * 8):
        out.append(0)
    for d in digits:
        i = dtmf.DIGITS.index(d)
        fl = _ROWS[i // 4]
        fh = _COLS[i % 4]
        for n in range(on_ms * 8):
            t = n / 8000
            out.append(int(_A * (math.sin(2 * math.pi * fl * t + ph)
                                 + math.sin(2 * math.pi * fh * t))))
        for _ in range(off_ms * 8):
            out.append(0)
        ph += 1.0
    return out


def _run(mod, pcm, frame):
    got = []
    starts = []
    det = mod.DtmfDetector(on_digit=lambda d, a, b: got.append((d, a, b)),
                           on_start=lambda d, a: starts.append((d, a)))
    buf = array('h', bytes(2 * frame))
    i = 0
    while i < len(pcm):
        n = min(frame, len(pcm) - i)
        for k in range(n):
            buf[k] = pcm[i + k]
        det.process(buf, n)
        i += n
    det.flush()
    return got, starts


def test_all_digits():
    pcm = _signal(dtmf.DIGITS)
    got, starts = _run(dtmf, pcm, 160)
    eq("".join(g[0] for g in got), dtmf.DIGITS, "digits")
    eq([s for s in starts], [(g[0], g[1]) for g in got], "starts")
    for k, (d, a, b) in enumerate(got):
        t0 = 60 + 120 * k
        if abs(a - t0) > 20 or abs(b - (t0 + 60)) > 20:
            raise AssertionError("digit %s at %d..%d, sent %d..%d" % (d, a, b, t0, t0 + 60))


def test_frame_sizes_and_reference_agree():
    pcm = _signal("159#", 45, 45)
    want, _ = _run(dtmf_ref, pcm, 160)
    eq("".join(g[0] for g in want), "159#", "reference digits")
    for frame in (1, 37, 102, 160, 1000, len(pcm)):
        got, _ = _run(dtmf, pcm, frame)
        eq(got, want, "frame %d" % frame)


def test_digit_held_to_end_of_input():
    pcm = _signal("7", 80, 10)
    pcm = pcm[:80 + 80 * 8]   # cut inside the tone
    got, _ = _run(dtmf, pcm, 160)
    eq([g[0] for g in got], ["7"], "flushed digit")


def test_silence_and_full_scale_noise_give_nothing():
    pcm = array('h', bytes(2 * 8000))
    seed = 12345
    for i in range(4000, 8000):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        pcm[i] = ((seed >> 8) & 0xFFFF) - 32768
    got, _ = _run(dtmf, pcm, 160)
    eq(got, [], "digits in silence/noise")


def test_no_allocation_per_frame():
    # Digits, pauses and silence go through the full analysis, the held-digit test
    # and the gate; without callbacks nothing at all may allocate.
    pcm = _signal("5D", 60, 40)
    det = dtmf.DtmfDetector()
    frames = [array('h', pcm[i:i + 160]) for i in range(0, len(pcm) - 159, 160)]
    micropython.heap_lock()
    try:
        for f in frames:
            det.process(f, 160)
        det.flush()
    finally:
        micropython.heap_unlock()


def test_no_allocation_with_callbacks_and_events():
    # Events are dispatched to callbacks that do not allocate: still no allocation.
    pcm = _signal("0", 60, 80)
    hits = array('i', [0, 0])

    def on_digit(d, a, b):
        hits[0] += 1

    def on_start(d, a):
        hits[1] += 1

    det = dtmf.DtmfDetector(on_digit=on_digit, on_start=on_start)
    frames = [array('h', pcm[i:i + 160]) for i in range(0, len(pcm) - 159, 160)]
    micropython.heap_lock()
    try:
        for f in frames:
            det.process(f, 160)
    finally:
        micropython.heap_unlock()
    eq(list(hits), [1, 1], "digit ended and started once")


def test_tables_match_reference():
    t = dtmf._TAB
    k = 0
    for name in ("COEF", "SINQ", "COSA", "SINA", "COST", "DGAIN", "KCORR", "LEAK", "HCOEF",
                 "HSIN"):
        ref = getattr(dtmf_ref, name)
        eq([v - 8192 for v in t[k:k + len(ref)]], list(ref), name)
        k += len(ref)
    eq(k, len(t), "table length")
