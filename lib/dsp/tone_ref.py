# Tone generator in plain Python: the readable reference for dsp.tone (same samples).
# Same API as dsp.tone.ToneGen; the bench times it against the viper version.
from dsp.tone import preset

_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        from dsp.tone import _SINE
        _TABLE = [v - 32768 for v in _SINE]     # signed Q15 sine, 512 entries
    return _TABLE


class ToneGen:
    def __init__(self):
        self._on = False
        self._cad = None

    def set(self, f1_hz, f2_hz=0, level_dbm0=-13.0, cadence=None, level2_dbm0=None,
            repeat=True):
        self.start(preset(f1_hz, f2_hz, level_dbm0, cadence, level2_dbm0, repeat))

    def start(self, p):
        steps, self._cad, self._repeat, _ = p
        self._i1, self._i2, self._a1, self._a2 = steps
        self._p1 = self._p2 = 0
        self._seg = 0
        self._left = self._cad[0] if self._cad is not None else 0
        self._on = True

    def stop(self):
        self._on = False

    @property
    def active(self):
        return self._on

    def _tone(self, pcm, off, n):
        t = _table()
        p1, p2 = self._p1, self._p2
        for k in range(off, off + n):
            # phase 24 bits, table index = top 9 bits; amplitude in Q15
            v = (t[p1 >> 15] * self._a1 + t[p2 >> 15] * self._a2) >> 15
            pcm[k] = 32767 if v > 32767 else (-32768 if v < -32768 else v)
            p1 = (p1 + self._i1) & 0xFFFFFF
            p2 = (p2 + self._i2) & 0xFFFFFF
        self._p1, self._p2 = p1, p2

    def fill(self, pcm, n, off=0):
        if not self._on:
            for k in range(off, off + n):
                pcm[k] = 0
            return 0
        if self._cad is None:
            self._tone(pcm, off, n)
            return n
        pos = 0
        while pos < n:
            k = min(self._left, n - pos)
            if self._seg & 1:
                for j in range(off + pos, off + pos + k):
                    pcm[j] = 0
            else:
                self._tone(pcm, off + pos, k)
            pos += k
            self._left -= k
            while self._left == 0:
                self._seg += 1
                if self._seg == len(self._cad):
                    if not self._repeat:
                        self._on = False
                        for j in range(off + pos, off + n):
                            pcm[j] = 0
                        return pos
                    self._seg = 0
                self._left = self._cad[self._seg]
        return n
