"""Audio signals for the virtual phone and the tests: levels, tones, DTMF, analysis.

Level convention (G.711): a full-scale sine (peak 32767) is +3.17 dBm0, so a
0 dBm0 sine has a peak of 32767 / 10**(3.17/20), about 22,700.
"""
import wave

import numpy as np

RATE = 8000
FULL_SCALE_DBM0 = 3.17
DTMF_ROWS = (697, 770, 852, 941)
DTMF_COLS = (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")


def amplitude(level_dbm0):
    """Peak amplitude of a sine at level_dbm0."""
    return 32767 * 10 ** ((level_dbm0 - FULL_SCALE_DBM0) / 20)


def dbm0(samples):
    """Level of a signal in dBm0 (RMS relative to the 0 dBm0 sine)."""
    x = np.asarray(samples, dtype=np.float64)
    rms = np.sqrt(np.mean(x * x)) if len(x) else 0.0
    ref = amplitude(0) / np.sqrt(2)
    return -120.0 if rms <= 0 else 20 * np.log10(rms / ref)


def dtmf_freqs(key):
    for r, row in enumerate(DTMF_KEYS):
        c = row.find(key.upper())
        if c >= 0:
            return DTMF_ROWS[r], DTMF_COLS[c]
    raise ValueError("not a DTMF key: %r" % key)


class ToneSource:
    """Phase-continuous sum of sines, produced frame by frame."""

    def __init__(self, freqs, level_dbm0=-10.0):
        self.freqs = tuple(freqs)
        self.amp = amplitude(level_dbm0)
        self.n = 0

    def read(self, count):
        t = (self.n + np.arange(count)) / RATE
        self.n += count
        x = sum(np.sin(2 * np.pi * f * t) for f in self.freqs) * self.amp
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)


class SequenceSource:
    """Plays a list of (samples) blocks once, then silence."""

    def __init__(self, blocks):
        self.data = np.concatenate(blocks).astype(np.int16) if blocks else np.zeros(0, np.int16)
        self.pos = 0

    @property
    def done(self):
        return self.pos >= len(self.data)

    def read(self, count):
        out = np.zeros(count, np.int16)
        chunk = self.data[self.pos:self.pos + count]
        out[:len(chunk)] = chunk
        self.pos += count
        return out


def dtmf_blocks(digits, on_ms=80, off_ms=80, level_dbm0=-10.0, twist_db=0.0):
    """Samples of a DTMF digit string: each digit on_ms of tone, off_ms silence."""
    blocks = [np.zeros(int(RATE * off_ms / 1000), np.int16)]
    n_on = int(RATE * on_ms / 1000)
    t = np.arange(n_on) / RATE
    for d in digits:
        lo, hi = dtmf_freqs(d)
        a_lo = amplitude(level_dbm0)
        a_hi = amplitude(level_dbm0 + twist_db)
        x = a_lo * np.sin(2 * np.pi * lo * t) + a_hi * np.sin(2 * np.pi * hi * t)
        blocks.append(np.clip(np.round(x), -32768, 32767).astype(np.int16))
        blocks.append(np.zeros(int(RATE * off_ms / 1000), np.int16))
    return blocks


class WavSource:
    """An 8 kHz mono 16-bit WAV, optionally looped."""

    def __init__(self, path, loop=True):
        self.data = read_wav(path)
        self.loop = loop
        self.pos = 0

    def read(self, count):
        out = np.zeros(count, np.int16)
        got = 0
        while got < count and len(self.data):
            chunk = self.data[self.pos:self.pos + count - got]
            out[got:got + len(chunk)] = chunk
            got += len(chunk)
            self.pos += len(chunk)
            if self.pos >= len(self.data):
                if not self.loop:
                    break
                self.pos = 0
        return out


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError("%s: need 8 kHz mono 16-bit WAV, got %d Hz %d ch %d-bit" % (
                path, w.getframerate(), w.getnchannels(), 8 * w.getsampwidth()))
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def spectrum_peaks(samples, count=2, min_separation_hz=30.0):
    """The `count` strongest frequencies (Hz) of a signal, by windowed FFT with
    parabolic interpolation; also returns their levels in dB relative to the top."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 64:
        return []
    win = np.hanning(len(x))
    spec = np.abs(np.fft.rfft(x * win))
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    peaks = []
    s = spec.copy()
    for _ in range(count):
        i = int(np.argmax(s))
        if s[i] <= 0:
            break
        f = freqs[i]
        if 0 < i < len(spec) - 1:
            a, b, c = np.log(spec[i - 1] + 1e-12), np.log(spec[i] + 1e-12), np.log(spec[i + 1] + 1e-12)
            den = a - 2 * b + c
            if den != 0:
                f = freqs[i] + 0.5 * (a - c) / den * (freqs[1] - freqs[0])
        peaks.append((f, 20 * np.log10(spec[i] + 1e-12)))
        lo = np.searchsorted(freqs, f - min_separation_hz)
        hi = np.searchsorted(freqs, f + min_separation_hz)
        s[lo:hi] = 0
    top = peaks[0][1] if peaks else 0
    return [(f, lvl - top) for f, lvl in peaks]


def tone_power(samples, freq):
    """Fraction of the signal's energy within ±25 Hz of freq."""
    x = np.asarray(samples, dtype=np.float64)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    band = (freqs > freq - 25) & (freqs < freq + 25)
    total = spec.sum()
    return float(spec[band].sum() / total) if total > 0 else 0.0


def cadence_runs(samples, block_ms=10, on_dbm0=-40.0):
    """On/off runs of a cadenced tone: [(on, ms), ...] from 10 ms blocks whose level
    is above on_dbm0 (on) or not (off). The first and last runs are cut off by the
    recording's edges and dropped, so every run returned is whole."""
    n = RATE * block_ms // 1000
    x = np.asarray(samples)[:len(samples) // n * n].reshape(-1, n)
    runs = []
    for block in x:
        on = dbm0(block) > on_dbm0
        if runs and runs[-1][0] == on:
            runs[-1][1] += block_ms
        else:
            runs.append([on, block_ms])
    return [tuple(r) for r in runs[1:-1]]
