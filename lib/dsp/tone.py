# Tone generator: single and dual tones with on/off cadences, phase-continuous, in viper.
#
#   g = ToneGen()
#   g.set(350, 440, -13)                    # US dial tone, -13 dBm0 per component
#   g.set(400, 450, -19, (400, 200, 400, 2000))   # UK ringback, repeating
#   g.fill(pcm, n)                           # writes n samples of an array('h')
#   g.stop(); g.active
#   p = preset(941, 1477, -8, (50, 50), repeat=False); g.start(p)   # start() never allocates
#
# Level: dBm0 per frequency component, with the G.711 convention that a full-scale sine
# (peak = 16-bit full scale, 32768) is +3.17 dBm0; so 0 dBm0 is a sine of peak
# 32768 * 10^(-3.17/20) = 22748. The µ-law digital milliwatt decodes to -0.04 dBm0 on
# this scale, the A-law one to +0.03. A dual tone at high levels is clipped to 16 bits.
#
# Fixed point: 24-bit phase accumulators (frequency step 8000/2^24 Hz) index a 512-entry
# sine table (top 9 bits; spurs near -54 dBc). Cadence is counted in samples, so any
# frame length gives the same sample stream as one long fill. fill() never allocates.
import math
from array import array

import micropython
from micropython import const

RATE = const(8000)                  # samples per second
FULL_SCALE_DBM0 = 3.17              # level of a full-scale sine, dBm0 (G.711 µ-law)
_PHASE_BITS = const(24)             # phase accumulator width
_PHASE_MASK = const(0xFFFFFF)
_TABLE_SHIFT = const(15)            # phase >> 15 = 9-bit table index
_TABLE_LEN = const(512)
_OFFSET = const(32768)              # the table is offset binary (ptr16 loads unsigned)

# sin in Q15 plus 32768, so viper reads it unsigned on every architecture
_SINE = array('H', [int(round(32767 * math.sin(2 * math.pi * i / _TABLE_LEN))) + _OFFSET
                    for i in range(_TABLE_LEN)])

# state array layout (array('i')): both phases, steps, amplitudes and the DC to remove
_P1 = const(0)
_I1 = const(1)
_P2 = const(2)
_I2 = const(3)
_A1 = const(4)
_A2 = const(5)
_DC = const(6)


DTMF_ROWS = (697, 770, 852, 941)        # Hz, low group
DTMF_COLS = (1209, 1336, 1477, 1633)    # Hz, high group
DTMF_KEYS = '123A456B789C*0#D'          # row-major


def dtmf_freqs(key):
    """(low Hz, high Hz) of a DTMF key 0-9 * # A-D."""
    i = DTMF_KEYS.index(key.upper())
    return DTMF_ROWS[i >> 2], DTMF_COLS[i & 3]


def dbm0_to_peak(level_dbm0):
    """Peak amplitude (16-bit units) of a sine at level_dbm0."""
    return 32768.0 * math.pow(10.0, (level_dbm0 - FULL_SCALE_DBM0) / 20.0)


def hz_to_step(hz):
    """Phase-accumulator step per sample for a frequency in Hz."""
    return int(round(hz * (1 << _PHASE_BITS) / RATE)) & _PHASE_MASK


# The loops advance the output pointer, an argument: viper keeps only the first
# arguments in registers. _gen is for a1 + a2 <= 32767, which cannot overflow 16 bits;
# _gen_clip saturates, for dual tones near full scale.
@micropython.viper
def _gen(pcm: ptr16, st: ptr32, off: int, n: int):
    # writes n samples at pcm[off:]: (T[p1]*a1 + T[p2]*a2 - DC) >> 15
    tbl = ptr16(_SINE)
    pcm = ptr16(uint(pcm) + uint(off) * 2)
    end = uint(pcm) + uint(n) * 2
    p1 = st[0]
    i1 = st[1]
    p2 = st[2]
    i2 = st[3]
    a1 = st[4]
    a2 = st[5]
    dc = st[6]
    while uint(pcm) < end:
        pcm[0] = (tbl[p1 >> 15] * a1 + tbl[p2 >> 15] * a2 - dc) >> 15
        p1 = (p1 + i1) & 0xFFFFFF
        p2 = (p2 + i2) & 0xFFFFFF
        pcm = ptr16(uint(pcm) + 2)
    st[0] = p1
    st[2] = p2


@micropython.viper
def _gen_clip(pcm: ptr16, st: ptr32, off: int, n: int):
    tbl = ptr16(_SINE)
    pcm = ptr16(uint(pcm) + uint(off) * 2)
    end = uint(pcm) + uint(n) * 2
    p1 = st[0]
    i1 = st[1]
    p2 = st[2]
    i2 = st[3]
    a1 = st[4]
    a2 = st[5]
    dc = st[6]
    while uint(pcm) < end:
        v = (tbl[p1 >> 15] * a1 + tbl[p2 >> 15] * a2 - dc) >> 15
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        pcm[0] = v
        p1 = (p1 + i1) & 0xFFFFFF
        p2 = (p2 + i2) & 0xFFFFFF
        pcm = ptr16(uint(pcm) + 2)
    st[0] = p1
    st[2] = p2


@micropython.viper
def _zero(pcm, off: int, n: int):
    d = ptr16(pcm)
    for k in range(off, off + n):
        d[k] = 0


def preset(f1_hz, f2_hz=0, level_dbm0=-13.0, cadence=None, level2_dbm0=None,
           repeat=True):
    """Everything ToneGen.start() needs, computed ahead (this allocates; start() does
    not). Arguments as for ToneGen.set()."""
    a1 = int(round(dbm0_to_peak(level_dbm0)))
    a2 = 0
    if f2_hz:
        a2 = int(round(dbm0_to_peak(level_dbm0 if level2_dbm0 is None else level2_dbm0)))
    if a1 > 32767 or a2 > 32767:
        raise ValueError("level above full scale")
    cad = None
    if cadence:
        if len(cadence) % 2 or sum(cadence) <= 0 or min(cadence) < 0:
            raise ValueError("cadence must be on/off pairs of ms")
        cad = array('i', [ms * RATE // 1000 for ms in cadence])
    steps = (hz_to_step(f1_hz), hz_to_step(f2_hz) if f2_hz else 0, a1, a2)
    return (steps, cad, repeat, _gen if a1 + a2 <= 32767 else _gen_clip)


def pair_steps(pairs, level_dbm0):
    """The steps and amplitudes of steady two-frequency tones at one level, four ints
    per tone in one array('i'), for ToneGen.start_pair(): 16 DTMF keys take 256 bytes
    here where 16 presets take ~2 KB of tuples on x64."""
    a = int(round(dbm0_to_peak(level_dbm0)))
    if 2 * a > 32767:
        raise ValueError("two tones at %s dBm0 exceed full scale" % level_dbm0)
    steps = []
    for f1, f2 in pairs:
        steps.extend((hz_to_step(f1), hz_to_step(f2), a, a))
    return array('i', steps)


class ToneGen:
    """One tone source (e.g. per line): set() a tone, fill() frames, stop()."""

    def __init__(self):
        self._st = array('i', [0] * 7)
        self._cad = None        # array('i') of segment lengths in samples, on/off/on/...
        self._seg = 0           # current cadence segment (even = on)
        self._left = 0          # samples left in it
        self._repeat = True
        # a plain attribute, not a property: a property on the class makes every
        # attribute store of the frame look in the class first (MicroPython)
        self.active = False
        self._gen = _gen        # or _gen_clip when the sum can exceed 16 bits

    def set(self, f1_hz, f2_hz=0, level_dbm0=-13.0, cadence=None, level2_dbm0=None,
            repeat=True):
        """Start a tone: f1 (+ f2 unless 0) at level_dbm0 each (f2 at level2_dbm0 if
        given). cadence: on/off durations in ms, (on, off, on, off, ...); None = steady.
        repeat=False plays the cadence once, then the generator stops by itself."""
        self.start(preset(f1_hz, f2_hz, level_dbm0, cadence, level2_dbm0, repeat))

    def start(self, p):
        """Start a tone from preset(...) without allocating. The phases restart at 0,
        so every tone starts the same way (from a zero crossing)."""
        steps, cad, self._repeat, self._gen = p
        self._load(steps, 0)
        self._cad = cad
        if cad is not None:
            self._seg = 0
            self._left = cad[0]
        self.active = True

    def start_pair(self, table, i):
        """Start steady tone i of a pair_steps() table, without allocating."""
        self._load(table, 4 * i)
        self._repeat = True
        self._gen = _gen            # pair_steps() refuses levels that could clip
        self._cad = None
        self.active = True

    def _load(self, steps, k):
        st = self._st
        st[_P1] = 0
        st[_P2] = 0
        st[_I1] = steps[k]
        st[_I2] = steps[k + 1]
        st[_A1] = steps[k + 2]
        st[_A2] = steps[k + 3]
        st[_DC] = _OFFSET * (steps[k + 2] + steps[k + 3])

    def stop(self):
        self.active = False

    def fill(self, pcm, n, off=0):
        """Write the next n samples into pcm[off:off + n] (array('h')); silence when
        stopped. Returns how many samples came before a once-only cadence ended (n while
        the tone runs, 0 when stopped) so callers can chain sounds within a frame."""
        if not self.active:
            _zero(pcm, off, n)
            return 0
        cad = self._cad
        if cad is None:
            self._gen(pcm, self._st, off, n)
            return n
        pos = 0
        while pos < n:
            k = self._left
            if k > n - pos:
                k = n - pos
            if self._seg & 1:
                _zero(pcm, off + pos, k)
            else:
                self._gen(pcm, self._st, off + pos, k)
            pos += k
            self._left -= k
            while self._left == 0:
                self._seg += 1
                if self._seg == len(cad):
                    if not self._repeat:
                        self.active = False
                        _zero(pcm, off + pos, n - pos)
                        return pos
                    self._seg = 0
                self._left = cad[self._seg]
        return n
