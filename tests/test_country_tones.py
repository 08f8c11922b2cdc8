"""Every call-progress tone of every country plan, as the phone would hear it: the
firmware's media pipeline (firmware/media.py, 20 ms frames) plays each tone of
country.plan(code) on MicroPython, and numpy checks the samples against the plan:
the off parts of the cadence exactly silent, every burst starting and ending on the
sample the cadence says; the bursts, joined, a phase-continuous tone whose strongest
frequencies are the plan's within 1 Hz, each component at the plan's level within
0.3 dB, nothing else above -40 dB. One MicroPython run makes all of them (a few
seconds); the sim end-to-end tests (test_sim_line, test_sim_call, test_sim_callerid)
take a representative subset through the virtual phone."""
import importlib.util
import math

import numpy as np
import pytest

from conftest import ROOT, run_micropython

RATE = 8000
FRAME = 160
PEAK_0DBM0 = 32768 * 10 ** (-3.17 / 20)


def _country_module():
    """firmware/country.py is plain data and parsing: CPython reads the same plans."""
    spec = importlib.util.spec_from_file_location("fw_country", ROOT / "firmware" / "country.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


country = _country_module()
TONE_NAMES = country.TONES + country.OPTIONAL_TONES

# MicroPython: argv = out dir, then code:tone:frames ...; plays each tone through
# Media.play_tone and Media.frame, writing the earpiece frames to DIR/code_tone.raw
_GEN = r"""
import sys
from array import array
import country
from media import Media, FRAME_SAMPLES
from vmachine import Flag

class Port:
    i2s_rx = None
    i2s_tx = None
    @staticmethod
    def new_flag():
        return Flag()

mic = array("h", bytes(2 * FRAME_SAMPLES))
for job in sys.argv[2:]:
    code, name, count = job.split(":")
    m = Media(Port(), log=lambda s: None)
    m.play_tone(country.plan(code)[name])
    with open("%s/%s_%s.raw" % (sys.argv[1], code, name), "wb") as f:
        for _ in range(int(count)):
            m._tx_count = 0          # no codec here to take the earpiece frames
            head = m._tx_head
            m.frame(mic)
            f.write(bytes(m.tx_bufs[head]))
print("done")
"""


def _frames_for(cadence):
    """Two whole cadence cycles and a bit (steady tones: one second)."""
    samples = 2 * sum(cadence) * 8 + 800 if cadence else RATE
    return -(-samples // FRAME)


@pytest.fixture(scope="module")
def heard(tmp_path_factory):
    out = tmp_path_factory.mktemp("country_tones")
    script = out / "gen.py"
    script.write_text(_GEN)
    jobs = []
    for code in country.CODES:
        plan = country.plan(code)
        for name in TONE_NAMES:
            if name in plan:
                jobs.append("%s:%s:%d" % (code, name, _frames_for(plan[name][3])))
    r = run_micropython([str(script), str(out)] + jobs, timeout=300)
    assert r.returncode == 0 and "done" in r.stdout, r.stdout + r.stderr

    def read(code, name):
        return np.fromfile(out / ("%s_%s.raw" % (code, name)), dtype="<i2").astype(np.float64)
    return read


def _segments(cadence, total):
    """(start, end, on) sample ranges of a repeating cadence over total samples."""
    segs = []
    t = 0
    while t < total:
        for i, ms in enumerate(cadence):
            end = min(t + ms * 8, total)
            if t < total:
                segs.append((t, end, i % 2 == 0))
            t += ms * 8
    return segs


def _peaks(x, count):
    """The `count` strongest frequencies (Hz) of x: Hann window, parabolic interpolation."""
    n = len(x)
    spec = np.abs(np.fft.rfft(x * np.hanning(n)))
    s = spec.copy()
    found = []
    for _ in range(count):
        k = int(np.argmax(s))
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-9)
        found.append((k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / n)
        guard = int(6 * n / RATE) + 3          # 6 Hz each side of a found peak
        s[max(0, k - guard):k + guard + 1] = 0
    return sorted(found)


def _fit(x, freqs):
    """Least-squares sinusoids at freqs: (levels dBm0, residual dB relative to x)."""
    t = np.arange(len(x)) / RATE
    cols = []
    for f in freqs:
        cols += [np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)]
    m = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(m, x, rcond=None)
    levels = [20 * math.log10(math.hypot(coef[2 * i], coef[2 * i + 1]) / PEAK_0DBM0)
              for i in range(len(freqs))]
    rest = x - m @ coef
    return levels, 10 * math.log10(np.sum(rest ** 2) / np.sum(x ** 2))


@pytest.mark.parametrize("code", country.CODES)
def test_every_tone_of_the_plan_by_spectrum_and_cadence(heard, code):
    plan = country.plan(code)
    checked = []
    for name in TONE_NAMES:
        if name not in plan:
            continue
        f1, f2, level, cadence = plan[name]
        x = heard(code, name)
        what = "%s %s" % (code, name)
        if cadence:
            on_parts = []
            for a, b, on in _segments(cadence, len(x)):
                if on:
                    on_parts.append(x[a:b])
                    # a burst starts and ends on its sample: no two silent samples there
                    if b - a >= 4:
                        assert np.any(x[a:a + 2]) and np.any(x[b - 2:b]), (what, a, b)
                else:
                    assert not np.any(x[a:b]), (what, "sound in the off part", a, b)
            x = np.concatenate(on_parts)
        else:
            assert np.all(np.abs(x[8:]).reshape(-1, 8).max(axis=1) > 0), (what, "gap in a steady tone")
        want = [f for f in (f1, f2) if f]
        got = _peaks(x, len(want))
        assert all(abs(g - w) <= 1.0 for g, w in zip(got, want)), (what, got, want)
        levels, residual = _fit(x, want)
        assert all(abs(lv - level) <= 0.3 for lv in levels), (what, levels, level)
        assert residual < -40, (what, "other sound", residual)
        checked.append(name)
    print("%s: %s" % (code, ", ".join(checked)))
    assert set(country.TONES) <= set(checked)
