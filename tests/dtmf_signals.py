"""Test signals for the DTMF detector (CPython, numpy): digits, noise, dial tone, G.711.

Level convention (G.711, as in docs/dsp.md): a sine at 0 dBm0 has peak amplitude
A0 = 32768 / 10**(3.17/20) ~= 22750 in 16-bit linear PCM, because the µ-law
full-scale sine is +3.17 dBm0. A tone of L dBm0 has peak A0 * 10**(L/20).
"""
import warnings

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # CPython 3.11's G.711 (ITU), an independent codec for the round trips

RATE = 8000
A0 = 32768 / 10 ** (3.17 / 20)
ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
DIGITS = "123A456B789C*0#D"


def amp(dbm0):
    return A0 * 10 ** (dbm0 / 20)


def freqs(digit):
    i = DIGITS.index(digit)
    return ROWS[i // 4], COLS[i % 4]


def tone(f, ms, dbm0, phase=0.0):
    n = int(round(ms * RATE / 1000))
    t = np.arange(n) / RATE
    return amp(dbm0) * np.sin(2 * np.pi * f * t + phase)


def dtmf(digit, ms, dbm0=-10.0, twist=0.0, dev=0.0, dev_hz=0.0, rng=None):
    """One digit: each tone at dbm0, the high tone twist dB above the low one
    (negative: low group louder); frequencies scaled by (1+dev) and offset by dev_hz."""
    fl, fh = freqs(digit)
    ph = rng.uniform(0, 2 * np.pi, 2) if rng is not None else (0.3, 1.1)
    lo = hi = dbm0
    if twist > 0:
        lo, hi = dbm0 - twist, dbm0   # weaker tone drops, stronger stays at dbm0
    elif twist < 0:
        lo, hi = dbm0, dbm0 + twist
    sign = 1 if dev >= 0 else -1
    return (tone(fl * (1 + dev) + sign * dev_hz, ms, lo, ph[0])
            + tone(fh * (1 + dev) + sign * dev_hz, ms, hi, ph[1]))


def silence(ms):
    return np.zeros(int(round(ms * RATE / 1000)))


def sequence(digits, on_ms, off_ms, lead_ms=50, **kw):
    """Digits with pauses; returns (signal, [(start_ms, end_ms, digit)])."""
    parts = [silence(lead_ms)]
    t = lead_ms
    truth = []
    for d in digits:
        parts.append(dtmf(d, on_ms, **kw))
        truth.append((t, t + on_ms, d))
        t += on_ms
        parts.append(silence(off_ms))
        t += off_ms
    parts.append(silence(60))
    return np.concatenate(parts), truth


def white_noise(n, dbm0, rng):
    """Gaussian white noise of power dbm0 (relative to the 0 dBm0 sine power A0^2/2)."""
    return rng.standard_normal(n) * amp(dbm0) / np.sqrt(2)


def dial_tone(n, dbm0):
    """US dial tone 350+440 Hz, each component at dbm0."""
    t = np.arange(n) / RATE
    return amp(dbm0) * (np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t + 0.7))


def to_pcm(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def g711_round_trip(pcm, law):
    """µ-law ('ulaw') or A-law ('alaw') encode then decode, by audioop."""
    b = pcm.astype("<i2").tobytes()
    if law == "ulaw":
        out = audioop.ulaw2lin(audioop.lin2ulaw(b, 2), 2)
    elif law == "alaw":
        out = audioop.alaw2lin(audioop.lin2alaw(b, 2), 2)
    else:
        return pcm
    return np.frombuffer(out, dtype="<i2").astype(np.int16)
