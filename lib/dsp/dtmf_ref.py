# DTMF detector, plain-Python reference: the same integer algorithm as dsp.dtmf (viper).
# Runs on CPython and MicroPython. Every intermediate value is bounded to fit a signed
# 32-bit int (viper ints on the ESP32 are 32-bit), so both give identical digit lists.
# The algorithm and its constants are described in docs/dtmf.md.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

DIGITS = "123A456B789C*0#D"   # index = row * 4 + col

BLOCK = const(102)     # samples per analysis block (12.75 ms)
HALF = const(51)       # the phase test compares the two halves of a block
# Tone tables (Q12): c = 2cos(w), s = sin(w), then cos/sin of the phase advance of the
# nominal tone over one half block (51 w), then cos of the largest phase error accepted
# over a half block: a deviation of 2.2 % + 1.5 Hz, just above the 1.5 % + 2 Hz that must
# operate (Q.24; the margin covers noise) and well below the 3.5 % that must not. Kept
# tight on purpose: notes of the equal-tempered scale lie 1.7-2.9 % from several DTMF
# tones, and music is where talk-off comes from; 852 Hz gets 2 % + 1.5 Hz because G#5
# (830.6 Hz) lies 2.5 % below it (its leakage from the column tones is small enough).
FREQS = (697, 770, 852, 941, 1209, 1336, 1477, 1633)


def tables():
    """Recompute every table below from its definition (the tests compare)."""
    import cmath
    import math
    w = [2 * math.pi * f / 8000 for f in FREQS]
    t = {"COEF": [round(8192 * math.cos(x)) for x in w],
         "SINQ": [round(4096 * math.sin(x)) for x in w],
         "COSA": [round(4096 * math.cos(HALF * x)) for x in w],
         "SINA": [round(4096 * math.sin(HALF * x)) for x in w],
         "COST": [round(4096 * math.cos(2 * math.pi * ((0.02 if f == 852 else 0.022) * f
                                                      + 1.5) * HALF / 8000))
                  for f in FREQS],
         "DGAIN": [round(256 * (2 - 2 * math.cos(x))) for x in w],
         "KCORR": []}
    for u in range(128):
        phi = math.acos(1 - (u + 0.5) / 64)
        t["KCORR"].append(min(4095, round(256 * phi * phi / math.sin(phi) ** 2)))
    leak = []
    for a in range(8):
        for bb in range(4):
            b = bb + 4 if a < 4 else bb
            d = w[b] - w[a]
            c1 = sum(cmath.exp(1j * d * n) for n in range(HALF))
            cf = sum(cmath.exp(1j * d * n) for n in range(BLOCK))
            k1 = cmath.exp(1j * (50 * w[a] - 101 * w[b])) * c1 / BLOCK
            k2 = cmath.exp(1j * (101 * w[a] - 101 * w[b])) * cf / BLOCK
            leak += [round(k1.real * 32768), round(k1.imag * 32768),
                     round(k2.real * 32768), round(k2.imag * 32768)]
    t["LEAK"] = leak
    hw = [2 * math.pi * 3 * f / 8000 for f in FREQS[:4]] + \
         [2 * math.pi * 2 * f / 8000 for f in FREQS[4:]] + \
         [2 * math.pi * f / 2 / 8000 for f in FREQS[:4]]
    t["HCOEF"] = [round(8192 * math.cos(x)) for x in hw]
    t["HSIN"] = [round(4096 * math.sin(x)) for x in hw]
    return {k: tuple(v) for k, v in t.items()}


# Precomputed by tables() (kept literal so the viper module needs no math at import).
COEF = (6995, 6739, 6425, 6055, 4768, 4081, 3271, 2329)
SINQ = (2132, 2329, 2541, 2759, 3331, 3552, 3755, 3927)
COSA = (-3839, 3441, -3722, 4096, -1084, -4073, -3537, -3464)
SINA = (1427, -2222, 1709, -29, -3950, -437, 2066, 2187)
COST = (3200, 3029, 3018, 2580, 1764, 1340, 850, 293)

DGAIN = (75, 91, 110, 134, 214, 257, 308, 366)   # (2 - 2cos(w)) * 256
# phi^2 / sin(phi)^2 in Q8 for cos(phi) = 1 - (u + 0.5) / 64, u = 0..127
KCORR = (257, 260, 263, 266, 268, 271, 274, 277, 281, 284, 287, 290, 293, 297, 300,
         304, 307, 311, 315, 319, 323, 327, 331, 335, 339, 344, 348, 353, 357, 362,
         367, 372, 377, 382, 387, 393, 399, 404, 410, 416, 422, 429, 435, 442, 449,
         456, 463, 471, 478, 486, 494, 503, 511, 520, 529, 539, 548, 558, 569, 579,
         590, 602, 613, 625, 638, 651, 664, 678, 693, 708, 724, 740, 757, 774, 792,
         812, 831, 852, 874, 896, 920, 945, 971, 998, 1026, 1056, 1088, 1121, 1157,
         1194, 1233, 1275, 1319, 1366, 1416, 1469, 1526, 1587, 1653, 1723, 1799, 1881,
         1970, 2067, 2173, 2289, 2416, 2557, 2713, 2887, 3082, 3302, 3553, 3840, 4095,
         4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095)

# Leakage of the other group's tone into a tone's DFTs (Q15, complex), subtracted
# before the phase test: over a half block a tone 268 Hz away still leaks -17 dB,
# which would turn the measured phase by up to 0.15 rad. For tone a and the other
# group's tone b (index 0..3 in its group), at 16a + 4b: K1 (re, im) for the first
# half and K2 for the whole block, y_a -= y_b * K, y_b the other tone's whole-block DFT.
LEAK = (418, 1110, 181, -1592, -295, 26, 564, -121, 56, 73, -163, -84, 47, 80, -154,
        -100, 973, -529, -237, -1770, 306, 1339, 822, -405, -827, 830, 51, 12, -755,
        603, 9, 3, 776, 1571, -51, -2268, -444, 83, 818, -296, 44, 48, -122, -44, 42,
        57, -127, -60, 2329, -675, 1057, -2759, 18, 2076, 236, 10, -1250, 803, -570,
        -512, -1032, 509, -427, -465, -657, -988, 181, 1592, -1078, 254, -237, 1770,
        -705, -1604, -51, 2268, -1282, 2059, 1057, 2759, -280, -98, 564, 121, -876,
        1059, 822, 405, -394, -220, 818, 296, 189, 2067, 236, -10, 92, -3, -163, 84,
        -366, 1113, 51, -12, 64, 9, -122, 44, 665, 1328, -570, 512, 92, -11, -154, 100,
        -229, 939, 9, -3, 70, 4, -127, 60, 594, 986, -427, 465)

# Harmonics checked (a tone from speech or music carries them, DTMF does not): the
# 3rd of the row tones (2091..2823 Hz, far from every DTMF tone; the 2nd would fall
# among the column tones), the 2nd of the column tones (2418..3266 Hz), then half the
# row frequency (348..470 Hz): a "row tone" that is the 2nd harmonic of a louder note.
HCOEF = (-585, -1975, -3465, -4934, -2641, -4126, -5580, -6868,   # 2cos, Q12
         7887, 7820, 7738, 7639)
HSIN = (4086, 3975, 3712, 3270, 3877, 3539, 2999, 2233,           # sin, Q12
        1107, 1220, 1345, 1479)

# Decision constants (units: x>>5 samples, powers of (DFT>>4), see docs/dtmf.md).
GATE3 = const(800)       # sum of (x>>5)^2 over every 3rd sample; below: no digit (about
#                          -43 dBm0 per tone). Not every 4th: at 2 kHz a column tone
#                          aliases onto its row tone (770 + 1229 Hz) and they can cancel.
MIN_P = const(480)       # per-tone power, about -40 dBm0
TWIST_REV = const(28)    # high group at most 5.5 dB above low: Phigh*8 <= Plow*28
TWIST_NORM = const(71)   # low group at most 9.5 dB above high: Plow*8 <= Phigh*71
LTWIST_REV = const(50)   # the loose test allows 8 dB and 12 dB (held digits are measured
LTWIST_NORM = const(127)  # without the leakage correction)
OTHERS = const(50)       # other tones of a group 8 dB below the best: Pother*50 <= Pbest*8
FRAC = const(163)        # strict: the two tones hold >= 80 % of the differenced energy
R1_LO = const(10)        # pre-check: differenced energy / energy >= 10/32
R1_HI = const(42)        # ... and <= 42/32
FRAC_LOOSE = const(102)  # loose test (partly covered blocks, held digits): >= 50 % of E
HARM = const(32)         # harmonic (over half blocks) * HARM must stay below the tone:
#                          2H/P < -12 dB (clipped or companded DTMF stays below -14 dB)
SUB = const(4)           # half the row frequency: 2H/P < -3 dB (dial tone at 350 Hz
#                          lies there, 10 dB below the digit in the Q.24 test)
END_MISSES = const(3)    # blocks without the digit that end it (a 10 ms gap spoils <= 2)


def _goertzel(buf, k, n0, n1, s1, s2):
    c = COEF[k]
    for i in range(n0, n1):
        s1, s2 = ((c * s1) >> 12) - s2 + (buf[i] >> 5), s1
    return s1, s2


def _cplx(k, s1, s2):
    # DFT value (times a phase factor) from the Goertzel state, scaled down by 16.
    r = (s1 - ((COEF[k] * s2) >> 13)) >> 4
    i = (SINQ[k] * s2) >> 16
    return r, i


def _isqrt(n):
    # floor(sqrt(n)) for 0 <= n < 2^31, Newton's method
    if n <= 0:
        return 0
    x = n
    y = (x + 1) >> 1
    while y < x:
        x = y
        y = (x + n // x) >> 1
    return x


def _phase(k, j, half, full):
    """Half-block phase test for tone k, the other group's tone being j. The DFT over
    the second half must follow the first half's with the phase advance of the nominal
    frequency, within acos(COST[k]) (a tone 3.5 % off turns by 0.98 rad at 697 Hz to
    2.3 rad at 1633 Hz more). Returns 0 when it fails, else the factor (Q8, >= 256)
    that undoes the loss of the whole-block power caused by the measured frequency
    offset: phi^2 / sin(phi)^2, phi the measured turn over a half block."""
    r1, i1 = _cplx(k, *half[k])
    r2, i2 = _cplx(k, *full[k])
    rb, ib = _cplx(j, *full[j])
    q = 16 * k + 4 * (j & 3)
    r1 -= (rb * LEAK[q] - ib * LEAK[q + 1]) >> 15
    i1 -= (rb * LEAK[q + 1] + ib * LEAK[q]) >> 15
    r2 -= (rb * LEAK[q + 2] - ib * LEAK[q + 3]) >> 15
    i2 -= (rb * LEAK[q + 3] + ib * LEAK[q + 2]) >> 15
    a = r2 * r1 + i2 * i1          # y2 * conj(y1) = a + jb
    b = i2 * r1 - r2 * i1
    p1 = r1 * r1 + i1 * i1         # first half's power
    pf = r2 * r2 + i2 * i2         # whole block's power
    m = max(abs(a), abs(b), p1, pf)
    while m >= 32768:              # normalise so the products below fit 32 bits
        m >>= 1
        a >>= 1
        b >>= 1
        p1 >>= 1
        pf >>= 1
    w = (a * COSA[k] + b * SINA[k]) >> 12   # Re(X1 conj X): nominal turn removed
    v = (b * COSA[k] - a * SINA[k]) >> 12   # Im(X2 conj X1)
    p2 = pf + p1 - 2 * w                    # second half's power
    re = w - p1                             # Re(X2 conj X1)
    # |angle(X2 conj X1)| <= limit  <=>  re >= cos(limit) * |X1| |X2| (2|X1||X2| <=
    # p1 + p2, so this is also a test that the halves carry similar power)
    if 2 * re * 4096 < COST[k] * (p1 + p2):
        return 0
    re >>= 2
    v >>= 2
    z = _isqrt(re * re + v * v)
    if z == 0:
        return 0
    u = (4096 - (re * 4096) // z) >> 6     # (1 - cos(angle)) * 64
    if u > 127:
        u = 127
    return KCORR[u]


def analyse(buf, track):
    """Classify one block of BLOCK samples.
    Returns d (0..15) when digit d passes every test ("strict"), 16 + d when only the
    loose tests pass (levels, twist, the two tones hold FRAC_LOOSE of the energy: a
    block partly covered by the tone), -1 otherwise.
    track >= 0: only digit track's two tones are computed and the loose tests applied;
    returns track or -1."""
    g = 0
    for i in range(0, BLOCK, 3):
        v = buf[i] >> 5
        g += v * v
    if g < GATE3:
        return -1
    e = 0
    for i in range(BLOCK):
        v = buf[i] >> 5
        e += v * v
    e = e >> 6
    if track >= 0:
        row = track >> 2
        col = 4 + (track & 3)
        pr = _power(row, *_goertzel(buf, row, 0, BLOCK, 0, 0))
        pc = _power(col, *_goertzel(buf, col, 0, BLOCK, 0, 0))
        if _levels_ok(pr, pc, LTWIST_REV, LTWIST_NORM) and (pr + pc) * 16 >= e * FRAC_LOOSE:
            return track
        return -1
    # Pre-check: the energy of the first difference relative to the energy (the mean
    # of 2 - 2cos(w) over the spectrum) lies in [0.34, 1.24] for every accepted tone
    # pair and twist; voiced speech lies below, fricatives and noise above.
    ed = 0
    u = buf[0] >> 5
    for i in range(1, BLOCK):
        v = buf[i] >> 5
        ed += (v - u) * (v - u)
        u = v
    ed = ed >> 6
    if ed * 32 < e * R1_LO or ed * 32 > e * R1_HI:
        return -1
    half = []
    full = []
    p = []
    for k in range(8):
        h1, h2 = _goertzel(buf, k, 0, HALF, 0, 0)
        f1, f2 = _goertzel(buf, k, HALF, BLOCK, h1, h2)
        half.append((h1, h2))
        full.append((f1, f2))
        p.append(_power(k, f1, f2))
    row = 0
    for k in (1, 2, 3):
        if p[k] > p[row]:
            row = k
    # Early exit (the viper code skips the column filters): the loose test below needs
    # prow >= (threshold) / 4.5 after the leakage correction, which can raise prow by
    # at most 1 / 0.71; so below a seventh nothing can pass. Rejects 2/3 of speech.
    if p[row] * 7 * 16 < e * FRAC_LOOSE:
        return -1
    col = 4
    for k in (5, 6, 7):
        if p[k] > p[col]:
            col = k
    # Remove from every tone's power what the best tone of the other group leaks into
    # it (a strong 941 Hz leaks -21 dB into 1209 Hz: with 8 dB twist that is enough to
    # upset the twist and "others" tests).
    y = [_cplx(k, *full[k]) for k in range(8)]
    for k in range(8):
        j = col if k < 4 else row
        q = 16 * k + 4 * (j & 3)
        r = y[k][0] - ((y[j][0] * LEAK[q + 2] - y[j][1] * LEAK[q + 3]) >> 15)
        i = y[k][1] - ((y[j][0] * LEAK[q + 3] + y[j][1] * LEAK[q + 2]) >> 15)
        p[k] = r * r + i * i
    pr = p[row]
    pc = p[col]
    d = row * 4 + col - 4
    if not _levels_ok(pr, pc, LTWIST_REV, LTWIST_NORM) or (pr + pc) * 16 < e * FRAC_LOOSE:
        return -1
    if not _levels_ok(pr, pc, TWIST_REV, TWIST_NORM):
        return 16 + d
    for k in range(8):
        if k != row and k != col:
            best = pr if k < 4 else pc
            if (p[k] >> 3) * OTHERS > best:
                return 16 + d
    kr = _phase(row, col, half, full)
    if kr == 0:
        return 16 + d
    kc = _phase(col, row, half, full)
    if kc == 0:
        return 16 + d
    # The two tones, corrected for their frequency offset, must hold FRAC of the
    # energy of the first difference (which stresses the harmonics a tone from speech
    # or music carries above it, and weakens dial tone below): each tone's power is
    # weighted by the difference's gain at its frequency, DGAIN = 2 - 2cos(w) in Q8.
    pr = (pr >> 8) * kr + (((pr & 255) * kr) >> 8)
    pc = (pc >> 8) * kc + (((pc & 255) * kc) >> 8)
    if (pr >> 8) * DGAIN[row] + (pc >> 8) * DGAIN[col] < (ed * FRAC) >> 4:
        return 16 + d
    if _harmonic(buf, row) * HARM > p[row] or _harmonic(buf, col) * HARM > p[col]:
        return 16 + d
    if _harmonic(buf, 8 + row) * SUB > p[row]:
        return 16 + d
    return d


def _harmonic(buf, k):
    """Power at tone k's checked harmonic (k = 8..11: half row tone k - 8): the sum
    over the two half blocks (wide
    bins, so a tone off by 2 % still puts its harmonic in), in the units of _power."""
    c = HCOEF[k]
    h = 0
    for n0 in (0, HALF):
        s1 = s2 = 0
        for i in range(n0, n0 + HALF):
            s1, s2 = ((c * s1) >> 12) - s2 + (buf[i] >> 5), s1
        r = (s1 - ((c * s2) >> 13)) >> 4
        i = (HSIN[k] * s2) >> 16
        h += r * r + i * i
    return h


def _power(k, s1, s2):
    r, i = _cplx(k, s1, s2)
    return r * r + i * i


def _levels_ok(pr, pc, rev, norm):
    if pr < MIN_P or pc < MIN_P:
        return False
    if (pc >> 3) * 8 > (pr >> 3) * rev:
        return False
    return (pr >> 3) * 8 <= (pc >> 3) * norm


class DtmfDetector:
    """Streaming detector over 8 kHz 16-bit samples; same interface as dsp.dtmf.
    A digit starts after two strict blocks next to a loose one (before or after), so
    a tone needs about 29 ms to be accepted (40 ms always is, 23 ms never); it ends
    after END_MISSES blocks in a row fail the loose test."""

    def __init__(self, on_digit=None, on_start=None):
        self.on_digit = on_digit
        self.on_start = on_start
        self._buf = [0] * BLOCK
        self.reset()

    def reset(self):
        self._pos = 0
        self._blk = 0       # index of the block being filled
        self._s1 = -1       # strict result of the previous block
        self._l1 = -1       # loose result of the previous block
        self._l2 = -1       # loose result of the block before that
        self._pend = -1     # two strict blocks seen, waiting for a loose one after them
        self._cur = -1      # digit being held
        self._miss = 0
        self._t0 = 0        # block index where the digit started
        self._tmiss = 0     # block index of the first miss

    def process(self, pcm, n):
        buf = self._buf
        pos = self._pos
        for i in range(n):
            buf[pos] = pcm[i]
            pos += 1
            if pos == BLOCK:
                pos = 0
                t = self._cur if self._cur >= 0 else self._pend
                self._block(analyse(buf, t))
        self._pos = pos

    def _block(self, r):
        blk = self._blk
        self._blk = blk + 1
        cur = self._cur
        if cur >= 0:
            if r == cur:
                self._miss = 0
                return
            if self._miss == 0:
                self._tmiss = blk
            self._miss += 1
            if self._miss >= END_MISSES:
                self._cur = -1
                self._end(cur, self._t0, self._tmiss)
            return
        if self._pend >= 0:
            if r == self._pend:
                self._begin(self._pend)
            self._pend = -1
            return
        s = r if r < 16 else -1
        l = r - 16 if r >= 16 else r
        if s >= 0 and s == self._s1:
            if self._l2 == s:
                self._t0 = blk - 2
                self._begin(s)
            else:
                self._t0 = blk - 1
                self._pend = s
                self._s1 = self._l1 = self._l2 = -1
            return
        self._l2 = self._l1
        self._l1 = l
        self._s1 = s

    def _begin(self, d):
        self._cur = d
        self._miss = 0
        self._s1 = self._l1 = self._l2 = -1
        if self.on_start:
            self.on_start(DIGITS[d], self._t0 * BLOCK // 8)

    def _end(self, d, b0, b1):
        self._s1 = self._l1 = self._l2 = -1
        if self.on_digit:
            self.on_digit(DIGITS[d], b0 * BLOCK // 8, b1 * BLOCK // 8)

    def flush(self):
        """End a digit still held (end of input): reported as ending now."""
        if self._cur >= 0:
            d = self._cur
            self._cur = -1
            end = self._tmiss if self._miss else self._blk
            self._end(d, self._t0, end)
