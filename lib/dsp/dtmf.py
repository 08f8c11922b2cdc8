# DTMF detector (ITU-T Q.24) in the viper emitter: Goertzel blocks with a phase test.
# Streaming over 8 kHz 16-bit array('h') frames of any length; no allocation per frame.
# dsp.dtmf_ref is the same algorithm in plain Python (identical digit lists); the
# algorithm, its constants and the measured cost are in docs/dtmf.md.
import micropython
from micropython import const
from array import array

DIGITS = "123A456B789C*0#D"   # index = row * 4 + col

_BLOCK = const(102)      # samples per analysis block (12.75 ms)
_HALF = const(51)
# Decision constants, identical to dsp.dtmf_ref (see there and docs/dtmf.md for units).
_GATE3 = const(800)      # energy of every 3rd sample, below: no digit (about -43 dBm0/tone)
_MIN_P = const(480)      # per-tone power, about -40 dBm0
_TWIST_REV = const(28)   # high group at most 5.5 dB above low
_TWIST_NORM = const(71)  # low group at most 9.5 dB above high
_LTWIST_REV = const(50)  # loose test: 8 dB ...
_LTWIST_NORM = const(127)  # ... and 12 dB
_OTHERS = const(50)      # other tones of a group 8 dB below the best
_FRAC = const(163)       # strict: >= 80 % of the differenced energy
_FRAC_LOOSE = const(102)  # loose (partly covered blocks, held digits): >= 50 % of E
_R1_LO = const(10)       # pre-check: differenced energy / energy in [10/32, 42/32]
_R1_HI = const(42)
_HARM = const(32)        # harmonic * HARM below the tone (2H/P < -12 dB)
_SUB = const(4)          # half the row frequency * SUB below the row tone (-3 dB)
_END_MISSES = const(3)   # blocks without the digit that end it

# State words (array 'i', all values >= 0; digit codes stored as digit + 1, 0 = none).
_POS = const(0)     # samples in the block buffer
_BLK = const(1)     # index of the block being filled
_S1 = const(2)      # strict result of the previous block
_L1 = const(3)      # loose result of the previous block
_L2 = const(4)      # loose result of the block before
_PEND = const(5)    # two strict blocks seen, waiting for a loose one after them
_CUR = const(6)     # digit being held
_MISS = const(7)
_T0 = const(8)      # block index where the held digit started
_TMISS = const(9)   # block index of its first miss
_NSTATE = const(10)
# Scratch words (array 'i' DtmfDetector._gs) past _block's Goertzel states, powers and
# DFTs (0..55): the digit _block tracks, and whether the last block passed the gate.
_G_TRACK = const(56)
_G_LIVE = const(57)
_G_TAB = const(58)      # from here: a copy of _TAB (a module global costs ~400 to reach)
_NTAB = const(328)      # len(_TAB)
# DtmfDetector._w, array 'i': the state words (0.._NSTATE-1), _block's words from _W_GS,
# then the block buffer (102 samples, int16) at _W_BUF
_W_GS = const(_NSTATE)
_W_BUF = const(_NSTATE + _G_TAB + _NTAB)
_DSTR = tuple(DIGITS)   # one-character strings made once: callbacks get them, no allocation

# Tables, the same as dtmf_ref's (a test compares), at these offsets; stored + 8192 so
# that ptr16 (unsigned) loads read them on every architecture. The values are a list
# display, not a tuple: a tuple of constants becomes a constant object that the
# module's constant table keeps in the heap for good (2.6 KB on x64); a list display
# is bytecode, which stays in the image, and the list is garbage after the import.
_T_COEF = const(0)      # 2cos(w), Q12
_T_SIN = const(8)       # sin(w), Q12
_T_COSA = const(16)     # cos(51w), Q12
_T_SINA = const(24)     # sin(51w), Q12
_T_COST = const(32)     # cos of the phase limit, Q12
_T_DGAIN = const(40)    # 2 - 2cos(w), Q8
_KC = const(48)         # KCORR: phi^2 / sin(phi)^2, Q8
_T_LEAK = const(176)    # LEAK: other tone's leakage, Q15 complex
_T_HCOEF = const(304)   # HCOEF: 2cos at the checked harmonic, Q12
_T_HSIN = const(316)    # HSIN: sin at the checked harmonic, Q12
_TAB = array('H', [v + 8192 for v in [
    # COEF
    6995, 6739, 6425, 6055, 4768, 4081, 3271, 2329,
    # SINQ
    2132, 2329, 2541, 2759, 3331, 3552, 3755, 3927,
    # COSA
    -3839, 3441, -3722, 4096, -1084, -4073, -3537, -3464,
    # SINA
    1427, -2222, 1709, -29, -3950, -437, 2066, 2187,
    # COST
    3200, 3029, 3018, 2580, 1764, 1340, 850, 293,
    # DGAIN
    75, 91, 110, 134, 214, 257, 308, 366,
    # KCORR
    257, 260, 263, 266, 268, 271, 274, 277, 281, 284, 287, 290, 293, 297, 300, 304,
    307, 311, 315, 319, 323, 327, 331, 335, 339, 344, 348, 353, 357, 362, 367, 372,
    377, 382, 387, 393, 399, 404, 410, 416, 422, 429, 435, 442, 449, 456, 463, 471,
    478, 486, 494, 503, 511, 520, 529, 539, 548, 558, 569, 579, 590, 602, 613, 625,
    638, 651, 664, 678, 693, 708, 724, 740, 757, 774, 792, 812, 831, 852, 874, 896,
    920, 945, 971, 998, 1026, 1056, 1088, 1121, 1157, 1194, 1233, 1275, 1319, 1366,
    1416, 1469, 1526, 1587, 1653, 1723, 1799, 1881, 1970, 2067, 2173, 2289, 2416, 2557,
    2713, 2887, 3082, 3302, 3553, 3840, 4095, 4095, 4095, 4095, 4095, 4095, 4095, 4095,
    4095, 4095, 4095, 4095, 4095, 4095,
    # LEAK
    418, 1110, 181, -1592, -295, 26, 564, -121, 56, 73, -163, -84, 47, 80, -154, -100,
    973, -529, -237, -1770, 306, 1339, 822, -405, -827, 830, 51, 12, -755, 603, 9, 3,
    776, 1571, -51, -2268, -444, 83, 818, -296, 44, 48, -122, -44, 42, 57, -127, -60,
    2329, -675, 1057, -2759, 18, 2076, 236, 10, -1250, 803, -570, -512, -1032, 509,
    -427, -465, -657, -988, 181, 1592, -1078, 254, -237, 1770, -705, -1604, -51, 2268,
    -1282, 2059, 1057, 2759, -280, -98, 564, 121, -876, 1059, 822, 405, -394, -220,
    818, 296, 189, 2067, 236, -10, 92, -3, -163, 84, -366, 1113, 51, -12, 64, 9, -122,
    44, 665, 1328, -570, 512, 92, -11, -154, 100, -229, 939, 9, -3, 70, 4, -127, 60,
    594, 986, -427, 465,
    # HCOEF
    -585, -1975, -3465, -4934, -2641, -4126, -5580, -6868, 7887, 7820, 7738, 7639,
    # HSIN
    4086, 3975, 3712, 3270, 3877, 3539, 2999, 2233, 1107, 1220, 1345, 1479,
    ]])
assert len(_TAB) == _NTAB


@micropython.viper
def _block(p: uint, e: int) -> int:
    # One block: the samples at address p (102 of them, int16); on entry e is the
    # address of the detector's words (array 'i' DtmfDetector._gs: Goertzel states
    # gs[0..31] (see below), powers gs[32..39], whole-block DFTs gs[40..55], all
    # + 2^29; gs[_G_TRACK]: the digit held or pending + 1, or 0; gs[_G_LIVE]: 1 when
    # the previous block passed the gate; from gs[_G_TAB]: a copy of _TAB).
    # Returns what dtmf_ref.analyse returns: d, 16 + d or -1.
    # Cost notes (x86-64 callgrind counts every instruction): viper keeps the first
    # three locals in registers, so the parameters are the sample pointer and e (once
    # the address is taken, the energy sum of the loops), and x (the current sample,
    # read most often) is the first local; the loops advance p itself and step it
    # back. Everything is inline: a viper-to-viper call costs ~400 instructions, and
    # so does reaching a module global's buffer (hence the table copy).
    x = 0
    gs = ptr32(e)
    tab = ptr32(e + _G_TAB * 4)
    t = int(gs[_G_TRACK]) - 1
    end = p + uint(_BLOCK * 2)
    e = 0
    if int(gs[_G_LIVE]) == 0:
        # the previous block was quiet: the gate alone first (every 3rd sample)
        while p < end:
            x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
            e += x * x
            p += 6
        p -= uint(_BLOCK * 2)
        if e < _GATE3:
            return -1
    # From here the gate's energy is summed again inside the block's first loop
    # (sample 0 of each turn of 3), so a block after a live one needs no gate pass.
    gs[_G_LIVE] = 1
    gate = 0
    e = 0
    if t >= 0:
        # a digit is held (or pending): the loose test of its two tones only
        cr = int(tab[t >> 2]) - 8192
        cc = int(tab[4 + (t & 3)]) - 8192
        a0 = 0
        a1 = 0
        a2 = 0
        b0 = 0
        b1 = 0
        b2 = 0
        while p < end:              # six samples a turn; gate: samples 0 and 3
            x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
            gate += x * x
            a0 = ((cr * a1) >> 12) - a2 + x
            b0 = ((cc * b1) >> 12) - b2 + x
            x = ((int(ptr16(p)[1]) ^ 0x8000) - 0x8000) >> 5
            e += x * x
            a2 = ((cr * a0) >> 12) - a1 + x
            b2 = ((cc * b0) >> 12) - b1 + x
            x = ((int(ptr16(p)[2]) ^ 0x8000) - 0x8000) >> 5
            e += x * x
            a1 = ((cr * a2) >> 12) - a0 + x
            b1 = ((cc * b2) >> 12) - b0 + x
            x = ((int(ptr16(p)[3]) ^ 0x8000) - 0x8000) >> 5
            gate += x * x
            a0 = ((cr * a1) >> 12) - a2 + x
            b0 = ((cc * b1) >> 12) - b2 + x
            x = ((int(ptr16(p)[4]) ^ 0x8000) - 0x8000) >> 5
            e += x * x
            a2 = ((cr * a0) >> 12) - a1 + x
            b2 = ((cc * b0) >> 12) - b1 + x
            x = ((int(ptr16(p)[5]) ^ 0x8000) - 0x8000) >> 5
            e += x * x
            a1 = ((cr * a2) >> 12) - a0 + x
            b1 = ((cc * b2) >> 12) - b0 + x
            p += 12
        e += gate
        if gate < _GATE3:
            gs[_G_LIVE] = 0
            return -1
        x = (a1 - ((cr * a2) >> 13)) >> 4
        v = ((int(tab[_T_SIN + (t >> 2)]) - 8192) * a2) >> 16
        pr = x * x + v * v
        x = (b1 - ((cc * b2) >> 13)) >> 4
        v = ((int(tab[_T_SIN + 4 + (t & 3)]) - 8192) * b2) >> 16
        pc = x * x + v * v
        if (pr >= _MIN_P and pc >= _MIN_P and (pc >> 3) * 8 <= (pr >> 3) * _LTWIST_REV
                and (pr >> 3) * 8 <= (pc >> 3) * _LTWIST_NORM
                and (pr + pc) * 16 >= (e >> 6) * _FRAC_LOOSE):
            return t
        return -1
    # energy e and lag-1 correlation ed of the samples (u: the previous sample, 0
    # before the first); the first difference's energy follows from the identity
    # sum (x[i] - x[i-1])^2 = 2e - x[0]^2 - x[101]^2 - 2 * sum x[i] x[i-1]
    ed = 0
    u = 0
    while p < end:                  # six samples a turn; gate: samples 0 and 3
        x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
        gate += x * x
        ed += x * u
        u = ((int(ptr16(p)[1]) ^ 0x8000) - 0x8000) >> 5
        e += u * u
        ed += u * x
        x = ((int(ptr16(p)[2]) ^ 0x8000) - 0x8000) >> 5
        e += x * x
        ed += x * u
        u = ((int(ptr16(p)[3]) ^ 0x8000) - 0x8000) >> 5
        gate += u * u
        ed += u * x
        x = ((int(ptr16(p)[4]) ^ 0x8000) - 0x8000) >> 5
        e += x * x
        ed += x * u
        u = ((int(ptr16(p)[5]) ^ 0x8000) - 0x8000) >> 5
        e += u * u
        ed += u * x
        p += 12
    e += gate
    p -= uint(_BLOCK * 2)
    if gate < _GATE3:
        gs[_G_LIVE] = 0
        return -1
    x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
    ed = 2 * e - x * x - u * u - 2 * ed
    e >>= 6
    ed >>= 6
    if ed * 32 < e * _R1_LO or ed * 32 > e * _R1_HI:
        return -1
    # Goertzel filters, four at a time (rows, then columns), three samples per turn
    # (51 = 17 * 3) with the states rotating through three variables; the states after
    # each half go to gs[2k], gs[2k+1] and gs[16+2k], gs[17+2k] (+ 2^29). The
    # coefficients 2cos(w) (Q12, the table's COEF) are literals here: an immediate
    # operand costs fewer instructions than a variable.
    a0 = 0
    a1 = 0
    a2 = 0
    b0 = 0
    b1 = 0
    b2 = 0
    c0 = 0
    c1 = 0
    c2 = 0
    d0 = 0
    d1 = 0
    d2 = 0
    k = 0
    while k < 32:
        end = p + uint(_HALF * 2)
        while p < end:
            x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
            a0 = ((a1 * 6995) >> 12) - a2 + x
            b0 = ((b1 * 6739) >> 12) - b2 + x
            c0 = ((c1 * 6425) >> 12) - c2 + x
            d0 = ((d1 * 6055) >> 12) - d2 + x
            x = ((int(ptr16(p)[1]) ^ 0x8000) - 0x8000) >> 5
            a2 = ((a0 * 6995) >> 12) - a1 + x
            b2 = ((b0 * 6739) >> 12) - b1 + x
            c2 = ((c0 * 6425) >> 12) - c1 + x
            d2 = ((d0 * 6055) >> 12) - d1 + x
            x = ((int(ptr16(p)[2]) ^ 0x8000) - 0x8000) >> 5
            a1 = ((a2 * 6995) >> 12) - a0 + x
            b1 = ((b2 * 6739) >> 12) - b0 + x
            c1 = ((c2 * 6425) >> 12) - c0 + x
            d1 = ((d2 * 6055) >> 12) - d0 + x
            p += 6
        gs[k] = a1 + 0x20000000
        gs[k + 1] = a2 + 0x20000000
        gs[k + 2] = b1 + 0x20000000
        gs[k + 3] = b2 + 0x20000000
        gs[k + 4] = c1 + 0x20000000
        gs[k + 5] = c2 + 0x20000000
        gs[k + 6] = d1 + 0x20000000
        gs[k + 7] = d2 + 0x20000000
        k += 16
    p -= uint(_BLOCK * 2)
    # whole-block powers and DFTs of the rows
    k = 0
    while k < 4:
        s1 = int(gs[16 + 2 * k]) - 0x20000000
        s2 = int(gs[17 + 2 * k]) - 0x20000000
        r = (s1 - (((int(tab[k]) - 8192) * s2) >> 13)) >> 4
        i = ((int(tab[_T_SIN + k]) - 8192) * s2) >> 16
        gs[32 + k] = r * r + i * i
        gs[40 + 2 * k] = r + 0x20000000
        gs[41 + 2 * k] = i + 0x20000000
        k += 1
    # early exit (see dtmf_ref.analyse): no column filters for a weak row
    row = 0
    k = 1
    while k < 4:
        if int(gs[32 + k]) > int(gs[32 + row]):
            row = k
        k += 1
    if int(gs[32 + row]) * 7 * 16 < e * _FRAC_LOOSE:
        return -1
    a0 = 0
    a1 = 0
    a2 = 0
    b0 = 0
    b1 = 0
    b2 = 0
    c0 = 0
    c1 = 0
    c2 = 0
    d0 = 0
    d1 = 0
    d2 = 0
    k = 8
    while k < 32:
        end = p + uint(_HALF * 2)
        while p < end:
            x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
            a0 = ((a1 * 4768) >> 12) - a2 + x
            b0 = ((b1 * 4081) >> 12) - b2 + x
            c0 = ((c1 * 3271) >> 12) - c2 + x
            d0 = ((d1 * 2329) >> 12) - d2 + x
            x = ((int(ptr16(p)[1]) ^ 0x8000) - 0x8000) >> 5
            a2 = ((a0 * 4768) >> 12) - a1 + x
            b2 = ((b0 * 4081) >> 12) - b1 + x
            c2 = ((c0 * 3271) >> 12) - c1 + x
            d2 = ((d0 * 2329) >> 12) - d1 + x
            x = ((int(ptr16(p)[2]) ^ 0x8000) - 0x8000) >> 5
            a1 = ((a2 * 4768) >> 12) - a0 + x
            b1 = ((b2 * 4081) >> 12) - b0 + x
            c1 = ((c2 * 3271) >> 12) - c0 + x
            d1 = ((d2 * 2329) >> 12) - d0 + x
            p += 6
        gs[k] = a1 + 0x20000000
        gs[k + 1] = a2 + 0x20000000
        gs[k + 2] = b1 + 0x20000000
        gs[k + 3] = b2 + 0x20000000
        gs[k + 4] = c1 + 0x20000000
        gs[k + 5] = c2 + 0x20000000
        gs[k + 6] = d1 + 0x20000000
        gs[k + 7] = d2 + 0x20000000
        k += 16
    p -= uint(_BLOCK * 2)
    # whole-block powers and DFTs of the columns
    k = 4
    while k < 8:
        s1 = int(gs[16 + 2 * k]) - 0x20000000
        s2 = int(gs[17 + 2 * k]) - 0x20000000
        r = (s1 - (((int(tab[k]) - 8192) * s2) >> 13)) >> 4
        i = ((int(tab[_T_SIN + k]) - 8192) * s2) >> 16
        gs[32 + k] = r * r + i * i
        gs[40 + 2 * k] = r + 0x20000000
        gs[41 + 2 * k] = i + 0x20000000
        k += 1
    col = 4
    k = 5
    while k < 8:
        if int(gs[32 + k]) > int(gs[32 + col]):
            col = k
        k += 1
    # remove what the best tone of the other group leaks into each tone (dtmf_ref)
    k = 0
    while k < 8:
        j = col
        if k >= 4:
            j = row
        q = _T_LEAK + 16 * k + 4 * (j & 3) + 2
        c = int(tab[q]) - 8192
        sn = int(tab[q + 1]) - 8192
        rb = int(gs[40 + 2 * j]) - 0x20000000
        ib = int(gs[41 + 2 * j]) - 0x20000000
        r = int(gs[40 + 2 * k]) - 0x20000000 - ((rb * c - ib * sn) >> 15)
        i = int(gs[41 + 2 * k]) - 0x20000000 - ((rb * sn + ib * c) >> 15)
        gs[32 + k] = r * r + i * i
        k += 1
    pr = int(gs[32 + row])
    pc = int(gs[32 + col])
    d = row * 4 + col - 4
    if pr < _MIN_P or pc < _MIN_P:
        return -1
    if (pc >> 3) * 8 > (pr >> 3) * _LTWIST_REV or (pr >> 3) * 8 > (pc >> 3) * _LTWIST_NORM:
        return -1
    if (pr + pc) * 16 < e * _FRAC_LOOSE:
        return -1
    if (pc >> 3) * 8 > (pr >> 3) * _TWIST_REV or (pr >> 3) * 8 > (pc >> 3) * _TWIST_NORM:
        return 16 + d
    k = 0
    while k < 8:
        if k != row and k != col:
            best = pc
            if k < 4:
                best = pr
            if (int(gs[32 + k]) >> 3) * _OTHERS > best:
                return 16 + d
        k += 1
    # half-block phase test of each tone, k, the other group's tone being j (see
    # dtmf_ref._phase): fails, or gives the Q8 factor undoing the measured frequency
    # offset's loss (kr, kc). gs[2k], gs[2k+1]: the tone's Goertzel state after the
    # first half, gs[16+2k], gs[17+2k] after the whole block
    kr = 0
    kc = 0
    k = row
    j = col
    while True:
        c = int(tab[k]) - 8192
        sn = int(tab[_T_SIN + k]) - 8192
        s1 = int(gs[2 * k]) - 0x20000000
        s2 = int(gs[2 * k + 1]) - 0x20000000
        r1 = (s1 - ((c * s2) >> 13)) >> 4
        i1 = (sn * s2) >> 16
        s1 = int(gs[16 + 2 * k]) - 0x20000000
        s2 = int(gs[17 + 2 * k]) - 0x20000000
        r2 = (s1 - ((c * s2) >> 13)) >> 4
        i2 = (sn * s2) >> 16
        rb = int(gs[40 + 2 * j]) - 0x20000000     # the other tone's whole-block DFT
        ib = int(gs[41 + 2 * j]) - 0x20000000
        q = _T_LEAK + 16 * k + 4 * (j & 3)
        c = int(tab[q]) - 8192
        sn = int(tab[q + 1]) - 8192
        r1 -= (rb * c - ib * sn) >> 15
        i1 -= (rb * sn + ib * c) >> 15
        c = int(tab[q + 2]) - 8192
        sn = int(tab[q + 3]) - 8192
        r2 -= (rb * c - ib * sn) >> 15
        i2 -= (rb * sn + ib * c) >> 15
        a = r2 * r1 + i2 * i1
        b = i2 * r1 - r2 * i1
        p1 = r1 * r1 + i1 * i1
        pf = r2 * r2 + i2 * i2
        m = pf
        if p1 > m:
            m = p1
        if a > m:
            m = a
        if -a > m:
            m = -a
        if b > m:
            m = b
        if -b > m:
            m = -b
        while m >= 32768:
            m >>= 1
            a >>= 1
            b >>= 1
            p1 >>= 1
            pf >>= 1
        c = int(tab[_T_COSA + k]) - 8192
        sn = int(tab[_T_SINA + k]) - 8192
        w = (a * c + b * sn) >> 12
        v = (b * c - a * sn) >> 12
        p2 = pf + p1 - 2 * w
        r = w - p1
        if 2 * r * 4096 < (int(tab[_T_COST + k]) - 8192) * (p1 + p2):
            return 16 + d
        r >>= 2
        v >>= 2
        n = r * r + v * v
        if n <= 0:
            return 16 + d
        z = n                      # integer square root, Newton's method
        y = (z + 1) >> 1
        while y < z:
            z = y
            y = (z + n // z) >> 1
        u = (4096 - (r * 4096) // z) >> 6
        if u > 127:
            u = 127
        if k == row:
            kr = int(tab[_KC + u]) - 8192
            k = col
            j = row
        else:
            kc = int(tab[_KC + u]) - 8192
            break
    pr = (pr >> 8) * kr + (((pr & 255) * kr) >> 8)
    pc = (pc >> 8) * kc + (((pc & 255) * kc) >> 8)
    pr = (pr >> 8) * (int(tab[_T_DGAIN + row]) - 8192)
    pc = (pc >> 8) * (int(tab[_T_DGAIN + col]) - 8192)
    if pr + pc < (ed * _FRAC) >> 4:
        return 16 + d
    # harmonics (dtmf_ref._harmonic), three filters in one pass: a the 3rd of the row
    # tone, b the 2nd of the column tone, c half the row tone; each power is the sum
    # over the two half blocks
    ca = int(tab[_T_HCOEF + row]) - 8192
    cb = int(tab[_T_HCOEF + col]) - 8192
    cc = int(tab[_T_HCOEF + 8 + row]) - 8192
    pr = 0
    pc = 0
    v = 0
    o = 0
    while o < 2:
        end = p + uint(_HALF * 2)
        a1 = 0
        a2 = 0
        b1 = 0
        b2 = 0
        c1 = 0
        c2 = 0
        while p < end:
            x = ((int(ptr16(p)[0]) ^ 0x8000) - 0x8000) >> 5
            a0 = ((ca * a1) >> 12) - a2 + x
            b0 = ((cb * b1) >> 12) - b2 + x
            c0 = ((cc * c1) >> 12) - c2 + x
            x = ((int(ptr16(p)[1]) ^ 0x8000) - 0x8000) >> 5
            a2 = ((ca * a0) >> 12) - a1 + x
            b2 = ((cb * b0) >> 12) - b1 + x
            c2 = ((cc * c0) >> 12) - c1 + x
            x = ((int(ptr16(p)[2]) ^ 0x8000) - 0x8000) >> 5
            a1 = ((ca * a2) >> 12) - a0 + x
            b1 = ((cb * b2) >> 12) - b0 + x
            c1 = ((cc * c2) >> 12) - c0 + x
            p += 6
        r = (a1 - ((ca * a2) >> 13)) >> 4
        i = ((int(tab[_T_HSIN + row]) - 8192) * a2) >> 16
        pr += r * r + i * i
        r = (b1 - ((cb * b2) >> 13)) >> 4
        i = ((int(tab[_T_HSIN + col]) - 8192) * b2) >> 16
        pc += r * r + i * i
        r = (c1 - ((cc * c2) >> 13)) >> 4
        i = ((int(tab[_T_HSIN + 8 + row]) - 8192) * c2) >> 16
        v += r * r + i * i
        o += 1
    if pr * _HARM > int(gs[32 + row]) or pc * _HARM > int(gs[32 + col]):
        return 16 + d
    if v * _SUB > int(gs[32 + row]):
        return 16 + d
    return d


@micropython.viper
def _process(self, pcmo, n: int):
    # DtmfDetector.process: blocks lying inside pcmo are analysed in place, the others
    # are assembled in the block buffer (32-bit copies when aligned); _block analyses
    # each, then the state machine runs here. Buffer addresses are taken once per call
    # (each ptr16(object) asks the object for its buffer; the detector keeps all its
    # words in one array, one attribute lookup). A bytecode method (frame > 11 words)
    # would put its frame on the heap. Events go straight to the callbacks.
    w = uint(ptr32(self._w))
    st = ptr32(w)
    ba = w + uint(_W_BUF * 4)
    pa = uint(ptr16(pcmo))
    ga = w + uint(_W_GS * 4)
    g = ptr32(ga)
    analyse = _block              # one global lookup per call, not per block
    pos = int(st[_POS])
    i = 0
    while i < n:
        if pos == 0 and n - i >= _BLOCK:
            src = pa + uint(i * 2)        # a whole block in the frame: no copy
            i += _BLOCK
        else:
            k = n - i
            if k > _BLOCK - pos:
                k = _BLOCK - pos
            q = ba + uint(pos * 2)
            p = pa + uint(i * 2)
            end = p + uint(k * 2)
            if ((pos | i | k) & 1) == 0:
                end4 = p + uint((k & 0xFFFC) * 2)
                while p < end4:
                    ptr32(q)[0] = ptr32(p)[0]
                    ptr32(q)[1] = ptr32(p)[1]
                    p += 8
                    q += 8
            while p < end:
                ptr16(q)[0] = ptr16(p)[0]
                p += 2
                q += 2
            i += k
            pos += k
            if pos < _BLOCK:
                break
            pos = 0
            src = ba
        # -- one block at address src: the digit held or pending tells _block what to do
        t = int(st[_CUR])
        if t == 0:
            t = int(st[_PEND])
        g[_G_TRACK] = t
        r = int(analyse(src, int(ga)))
        # -- the digit state machine (see dtmf_ref.DtmfDetector._block) --
        blk = int(st[_BLK])
        st[_BLK] = blk + 1
        cur = int(st[_CUR]) - 1
        ev = -1
        if cur >= 0:
            if r == cur:
                st[_MISS] = 0
            else:
                miss = int(st[_MISS])
                if miss == 0:
                    st[_TMISS] = blk
                miss += 1
                st[_MISS] = miss
                if miss >= _END_MISSES:
                    st[_CUR] = 0
                    ev = 16 + cur
        else:
            pend = int(st[_PEND]) - 1
            if pend >= 0:
                st[_PEND] = 0
                if r == pend:
                    ev = pend
            else:
                s = -1
                if r < 16:
                    s = r
                l = r
                if r >= 16:
                    l = r - 16
                if s >= 0 and s == int(st[_S1]) - 1:
                    if int(st[_L2]) - 1 == s:
                        st[_T0] = blk - 2
                        ev = s
                    else:
                        st[_T0] = blk - 1
                        st[_PEND] = s + 1
                        st[_S1] = 0
                        st[_L1] = 0
                        st[_L2] = 0
                else:
                    st[_L2] = st[_L1]
                    st[_L1] = l + 1
                    st[_S1] = s + 1
        if ev >= 0:
            st[_S1] = 0
            st[_L1] = 0
            st[_L2] = 0
            t0 = int(st[_T0]) * _BLOCK // 8
            if ev < 16:
                st[_CUR] = ev + 1
                st[_MISS] = 0
                cb = self.on_start
                if cb:
                    cb(_DSTR[ev], t0)
            else:
                cb = self.on_digit
                if cb:
                    cb(_DSTR[ev - 16], t0, int(st[_TMISS]) * _BLOCK // 8)
    st[_POS] = pos


class DtmfDetector:
    """Streaming DTMF detector.
    on_start(digit, start_ms): a digit went down (about 25-40 ms after it began).
    on_digit(digit, start_ms, end_ms): a digit ended. Times are ms since the first
    sample (block resolution, 12.75 ms). Feed any number of samples with process()."""

    def __init__(self, on_digit=None, on_start=None):
        self.on_digit = on_digit
        self.on_start = on_start
        # every word of the detector (see _W_GS): state, _block's words with the
        # table copy, the buffer of a block straddling frames
        self._w = w = array('i', bytes(4 * (_W_BUF + _BLOCK // 2)))
        for k in range(_NTAB):
            w[_W_GS + _G_TAB + k] = _TAB[k]

    def reset(self):
        w = self._w
        for k in range(_NSTATE):
            w[k] = 0
        w[_W_GS + _G_LIVE] = 0

    # process(pcm, n): feed n samples of pcm (array('h') or a memoryview of one);
    # callbacks run from inside it (they must not call process). Viper, so that no
    # frame goes on the heap.
    process = _process

    def flush(self):
        """End a digit still held (end of input): reported as ending now."""
        st = self._w
        if st[_CUR]:
            d = st[_CUR] - 1
            end = st[_TMISS] if st[_MISS] else st[_BLK]
            st[_CUR] = 0
            st[_S1] = st[_L1] = st[_L2] = 0
            if self.on_digit:
                self.on_digit(_DSTR[d], st[_T0] * _BLOCK // 8, end * _BLOCK // 8)
