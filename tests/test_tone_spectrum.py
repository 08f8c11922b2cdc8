"""dsp.tone.ToneGen run on MicroPython, its samples analysed in CPython with numpy:
frequency within 1 Hz, level within 0.3 dB of the dBm0 asked (G.711: full-scale sine =
+3.17 dBm0), cadences exact to the sample, phase continuous across odd frame sizes."""
import math
import subprocess
import os

import numpy as np
import pytest

from conftest import MICROPYTHON, MICROPYPATH, ROOT

RATE = 8000
PEAK_0DBM0 = 32768 * 10 ** (-3.17 / 20)

# MicroPython side: argv = f1 f2 level level2 cadence(ms,comma or -) repeat total frames
# (comma-separated frame sizes, cycled); writes the samples as raw int16 to stdout.
_GEN = r"""
import sys
from array import array
from dsp.tone import ToneGen
a = sys.argv
f1 = float(a[1]); f2 = float(a[2]); lev = float(a[3])
lev2 = None if a[4] == '-' else float(a[4])
cad = None if a[5] == '-' else tuple(int(x) for x in a[5].split(','))
rep = a[6] == '1'
total = int(a[7])
sizes = [int(x) for x in a[8].split(',')]
g = ToneGen()
g.set(f1, f2, lev, cad, level2_dbm0=lev2, repeat=rep)
buf = array('h', bytes(2 * max(sizes)))
out = sys.stdout.buffer
done = 0
k = 0
while done < total:
    n = min(sizes[k % len(sizes)], total - done)
    g.fill(buf, n)
    out.write(bytes(buf)[:2 * n])
    done += n
    k += 1
"""


def generate(tmp_path, f1, f2=0, level=-10.0, level2=None, cadence=None, repeat=True,
             total=RATE, sizes=(160,)):
    script = tmp_path / "gen_tone.py"
    script.write_text(_GEN)
    args = [MICROPYTHON, str(script), str(f1), str(f2), str(level),
            "-" if level2 is None else str(level2),
            "-" if not cadence else ",".join(str(c) for c in cadence),
            "1" if repeat else "0", str(total), ",".join(str(s) for s in sizes)]
    r = subprocess.run(args, env=dict(os.environ, MICROPYPATH=MICROPYPATH), cwd=ROOT,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    x = np.frombuffer(r.stdout, dtype="<i2").astype(np.float64)
    assert len(x) == total
    return x


def peak_freqs(x, count):
    """The `count` strongest spectral peaks (Hz), interpolated, from a Hann-windowed FFT."""
    n = len(x)
    spec = np.abs(np.fft.rfft(x * np.hanning(n)))
    found = []
    s = spec.copy()
    for _ in range(count):
        k = int(np.argmax(s))
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-9)
        delta = 0.5 * (a - c) / (a - 2 * b + c)      # parabolic interpolation on log |X|
        found.append((k + delta) * RATE / n)
        s[max(0, k - 8):k + 9] = 0
    return sorted(found)


def component_dbm0(x, f):
    """Level (dBm0) of the component at f Hz: least-squares fit of a sinusoid."""
    t = np.arange(len(x)) / RATE
    m = np.column_stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)])
    coef, *_ = np.linalg.lstsq(m, x, rcond=None)
    amp = math.hypot(*coef)
    return 20 * math.log10(amp / PEAK_0DBM0)


@pytest.mark.parametrize("f1,f2", [(1000, 0), (350, 440), (697, 1209), (941, 1633),
                                   (425, 0), (2130, 2750), (413.5, 438.25)])
def test_frequencies_within_1hz(tmp_path, f1, f2):
    x = generate(tmp_path, f1, f2, level=-13, total=4 * RATE)
    want = sorted(f for f in (f1, f2) if f)
    got = peak_freqs(x, len(want))
    for g, w in zip(got, want):
        assert abs(g - w) < 1.0, (got, want)
    # and nothing else of note: the strongest spur is at least 45 dB down
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    mask = np.ones_like(spec, dtype=bool)
    for w in want:
        k = int(round(w * len(x) / RATE))
        mask[max(0, k - 12):k + 13] = False
    assert 20 * np.log10(spec[mask].max() / spec.max()) < -45


@pytest.mark.parametrize("level", [0.0, -3.0, -13.0, -19.0, -24.0, -40.0])
def test_single_tone_level(tmp_path, level):
    x = generate(tmp_path, 1004, 0, level=level, total=RATE)
    rms_dbm0 = 20 * math.log10(np.sqrt(np.mean(x ** 2)) * math.sqrt(2) / PEAK_0DBM0)
    assert abs(rms_dbm0 - level) < 0.3, rms_dbm0
    assert abs(component_dbm0(x, 1004) - level) < 0.3


def test_dual_tone_levels_and_twist(tmp_path):
    x = generate(tmp_path, 770, 1336, level=-10, level2=-6, total=RATE)
    assert abs(component_dbm0(x, 770) - (-10)) < 0.3
    assert abs(component_dbm0(x, 1336) - (-6)) < 0.3


def test_digital_milliwatt_is_0dbm0():
    # the convention itself: the µ-law digital milliwatt, decoded, is 0 dBm0 +- 0.3 dB
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    d = np.frombuffer(audioop.ulaw2lin(bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B,
                                              0x9E]), 2), dtype="<i2").astype(float)
    assert abs(20 * math.log10(np.sqrt(np.mean(d ** 2)) * math.sqrt(2) / PEAK_0DBM0)) < 0.3


def _zero_runs(x, min_len=2):
    """(start, end) of runs of exact zeros at least min_len long."""
    z = np.concatenate([[False], x == 0, [False]])
    edges = np.flatnonzero(np.diff(z.astype(int)))
    runs = list(zip(edges[0::2], edges[1::2]))
    return [(int(a), int(b)) for a, b in runs if b - a >= min_len]


@pytest.mark.parametrize("cadence,sizes", [
    ((400, 200, 400, 2000), (160,)),            # UK ringback
    ((500, 500), (157, 3, 1, 80)),              # US busy, odd frames
    ((250, 250), (1,)),                         # congestion, one sample at a time
])
def test_cadence_exact(tmp_path, cadence, sizes):
    period = sum(cadence) * 8
    total = 2 * period + 800
    x = generate(tmp_path, 400, 450, level=-19, cadence=cadence, total=total, sizes=sizes)
    want = []
    t = 0
    for cycle in range(3):
        for i, ms in enumerate(cadence):
            if i % 2:
                want.append((t, min(t + ms * 8, total)))
            t += ms * 8
    want = [(a, b) for a, b in want if a < total]
    assert _zero_runs(x) == want


def test_cadence_once_then_silent(tmp_path):
    # 441 Hz: not a whole number of cycles per burst, so no burst starts on an exact 0
    x = generate(tmp_path, 441, 0, level=-10, cadence=(100, 50, 100, 50), repeat=False,
                 total=4000, sizes=(333,))
    assert _zero_runs(x) == [(800, 1200), (2000, 4000)]


@pytest.mark.parametrize("f1,f2", [(1000, 0), (350, 440), (1477, 852)])
def test_phase_continuous_across_odd_frames(tmp_path, f1, f2):
    whole = generate(tmp_path, f1, f2, level=-3, total=6000, sizes=(6000,))
    pieces = generate(tmp_path, f1, f2, level=-3, total=6000, sizes=(1, 7, 13, 159, 161, 2))
    assert np.array_equal(whole, pieces)
    # no clicks: no step larger than the steepest slope of the (sum of) sines allows
    amp = PEAK_0DBM0 * 10 ** (-3 / 20)
    bound = sum(2 * amp * math.sin(math.pi * f / RATE) for f in (f1, f2) if f)
    assert np.max(np.abs(np.diff(pieces))) <= bound * 1.02 + 2
