# G.711 µ-law and A-law encode/decode in the viper emitter, bit-exact with audioop.
# Signatures: ulaw_encode(pcm, out, n) / alaw_encode(pcm, out, n) read n samples of an
# array('h') and write n codes into a bytearray; ulaw_decode(data, pcm, n) /
# alaw_decode(data, pcm, n) do the reverse. No allocation: callers own the buffers.
# dsp.g711_ref is the readable algorithm; tests check both against CPython's audioop.
import micropython
from array import array

# Encoders: the costly part of G.711 is finding the segment (position of the top bit).
# One small table per law, looked up by the sign and the top bits of the (biased)
# magnitude y, gives in one 16-bit entry: low byte = the code's segment bits already
# XORed with the sign mask (and with 0x10, see below), high byte = the shift that
# leaves the 4 mantissa bits of y. Within a segment `y >> shift` always lies in 16..31
# (bit 4 set, none above), so XORing it into the low byte both inserts the mantissa and
# cancels the 0x10; the store keeps the low byte. Encoding a sample is then: sign test,
# one add, shift, table load, shift, shift, xor, store. Tables: 2 x 256 x 2 bytes each.
#   µ-law: y = x + 132 (x >= 0) or 0x10087 - x (x < 0, x read unsigned), i.e. the
#          14-bit magnitude plus the bias 33, times 4; index y >> 8
#   A-law: y = x (x >= 0) or 0xFFFF - x (x < 0), the 13-bit magnitude times 8; index y >> 7
_BIG_SHIFT = 24        # shift that makes (y >> shift) zero: the clipped top entries


def _ulaw_table():
    t = array('H', bytes(1024))
    for neg in (0, 1):
        mask = 0x7F if neg else 0xFF
        for idx in range(256):      # idx = y >> 8 = biased 14-bit magnitude >> 6
            if idx >= 128:          # magnitude beyond the clip: the largest code
                t[neg * 256 + idx] = (_BIG_SHIFT << 8) | (0x7F ^ mask)
                continue
            seg = 0                 # segment = bit length of idx
            while idx >> seg:
                seg += 1
            t[neg * 256 + idx] = ((seg + 3) << 8) | ((seg << 4) ^ mask ^ 0x10)
    return t


def _alaw_table():
    t = array('H', bytes(1024))
    for neg in (0, 1):
        mask = 0x55 if neg else 0xD5
        for idx in range(256):      # idx = y >> 7 = 13-bit magnitude >> 4
            seg = 0                 # segment = bit length of idx, less one
            while idx >> (seg + 1):
                seg += 1
            # segment 0 uses shift 1 like segment 1, but its v >> 1 has no bit 4
            t[neg * 256 + idx] = ((max(seg, 1) + 3) << 8) | ((seg << 4) ^ mask ^
                                                            (0x10 if seg else 0))
    return t


def _ulaw_dec_table():
    t = array('h', bytes(512))
    for code in range(256):
        u = ~code & 0xFF
        v = (((u & 0xF) << 3) + 0x84) << ((u & 0x70) >> 4)
        t[code] = (0x84 - v) if u & 0x80 else (v - 0x84)
    return t


def _alaw_dec_table():
    t = array('h', bytes(512))
    for code in range(256):
        a = code ^ 0x55
        seg = (a & 0x70) >> 4
        m = a & 0xF
        v = ((m + m + 33) << (seg + 2)) if seg else ((m + m + 1) << 3)
        t[code] = v if a & 0x80 else -v
    return t


_UENC = _ulaw_table()
_AENC = _alaw_table()
_UDEC = _ulaw_dec_table()
_ADEC = _alaw_dec_table()


# The buffers arrive as viper pointer arguments — the first arguments are the only
# locals viper keeps in registers — and the loops advance those pointers. Two samples
# move per 32-bit load (and four codes per 32-bit load when decoding) when the buffers
# are 4-byte aligned; the tail and unaligned buffers (memoryview slices) go one sample
# at a time, as Xtensa and Cortex-M0 fault on unaligned 32-bit access. Little-endian
# targets only (x86-64, Xtensa, ARM, RISC-V as MicroPython builds them).


@micropython.viper
def ulaw_encode(pcm: ptr16, out: ptr8, n: int):
    tbl = ptr16(_UENC)
    neg = ptr16(uint(tbl) + 512)
    end = uint(out) + uint(n)
    if (uint(pcm) & 3) == uint(0):
        pend = uint(out) + uint(n & ~1)
        while uint(out) < pend:
            x2 = ptr32(pcm)[0]
            x = x2 & 0xFFFF         # unsigned: 0x8000.. are the negative samples
            if x & 0x8000:
                y = 0x10087 - x
                t = neg[y >> 8]
            else:
                y = x + 132
                t = tbl[y >> 8]
            out[0] = t ^ (y >> (t >> 8))
            x = (x2 >> 16) & 0xFFFF
            if x & 0x8000:
                y = 0x10087 - x
                t = neg[y >> 8]
            else:
                y = x + 132
                t = tbl[y >> 8]
            out[1] = t ^ (y >> (t >> 8))
            pcm = ptr16(uint(pcm) + 4)
            out = ptr8(uint(out) + 2)
    while uint(out) < end:
        x = pcm[0]
        if x & 0x8000:
            y = 0x10087 - x
            t = neg[y >> 8]
        else:
            y = x + 132
            t = tbl[y >> 8]
        out[0] = t ^ (y >> (t >> 8))
        pcm = ptr16(uint(pcm) + 2)
        out = ptr8(uint(out) + 1)


@micropython.viper
def alaw_encode(pcm: ptr16, out: ptr8, n: int):
    tbl = ptr16(_AENC)
    neg = ptr16(uint(tbl) + 512)
    end = uint(out) + uint(n)
    if (uint(pcm) & 3) == uint(0):
        pend = uint(out) + uint(n & ~1)
        while uint(out) < pend:
            x2 = ptr32(pcm)[0]
            y = x2 & 0xFFFF
            if y & 0x8000:
                y = y ^ 0xFFFF       # magnitude of a negative sample, less one
                t = neg[y >> 7]
            else:
                t = tbl[y >> 7]
            out[0] = t ^ (y >> (t >> 8))
            y = (x2 >> 16) & 0xFFFF
            if y & 0x8000:
                y = y ^ 0xFFFF
                t = neg[y >> 7]
            else:
                t = tbl[y >> 7]
            out[1] = t ^ (y >> (t >> 8))
            pcm = ptr16(uint(pcm) + 4)
            out = ptr8(uint(out) + 2)
    while uint(out) < end:
        y = pcm[0]
        if y & 0x8000:
            y = y ^ 0xFFFF
            t = neg[y >> 7]
        else:
            t = tbl[y >> 7]
        out[0] = t ^ (y >> (t >> 8))
        pcm = ptr16(uint(pcm) + 2)
        out = ptr8(uint(out) + 1)


@micropython.viper
def ulaw_decode(data: ptr8, pcm: ptr16, n: int):
    tbl = ptr16(_UDEC)
    end = uint(data) + uint(n)
    if ((uint(data) | uint(pcm)) & 3) == uint(0):
        pend = uint(data) + uint(n & ~3)
        while uint(data) < pend:
            c = ptr32(data)[0]      # four codes -> two 32-bit stores of two samples
            ptr32(pcm)[0] = tbl[c & 0xFF] | (tbl[(c >> 8) & 0xFF] << 16)
            ptr32(pcm)[1] = tbl[(c >> 16) & 0xFF] | (tbl[(c >> 24) & 0xFF] << 16)
            data = ptr8(uint(data) + 4)
            pcm = ptr16(uint(pcm) + 8)
    while uint(data) < end:
        pcm[0] = tbl[data[0]]
        data = ptr8(uint(data) + 1)
        pcm = ptr16(uint(pcm) + 2)


@micropython.viper
def alaw_decode(data: ptr8, pcm: ptr16, n: int):
    tbl = ptr16(_ADEC)
    end = uint(data) + uint(n)
    if ((uint(data) | uint(pcm)) & 3) == uint(0):
        pend = uint(data) + uint(n & ~3)
        while uint(data) < pend:
            c = ptr32(data)[0]
            ptr32(pcm)[0] = tbl[c & 0xFF] | (tbl[(c >> 8) & 0xFF] << 16)
            ptr32(pcm)[1] = tbl[(c >> 16) & 0xFF] | (tbl[(c >> 24) & 0xFF] << 16)
            data = ptr8(uint(data) + 4)
            pcm = ptr16(uint(pcm) + 8)
    while uint(data) < end:
        pcm[0] = tbl[data[0]]
        data = ptr8(uint(data) + 1)
        pcm = ptr16(uint(pcm) + 2)
