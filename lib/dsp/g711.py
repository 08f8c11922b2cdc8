# G.711 µ-law and A-law encode/decode in the viper emitter, bit-exact with audioop.
# Signatures: ulaw_encode(pcm, out, n) / alaw_encode(pcm, out, n) read n samples of an
# array('h') and write n codes into a bytearray; ulaw_decode(data, pcm, n) /
# alaw_decode(data, pcm, n) do the reverse. No allocation: callers own the buffers.
# dsp.g711_ref is the readable algorithm; tests check both against CPython's audioop.
import micropython
from array import array

# Encoders: the costly part of G.711 is finding the segment (position of the top bit).
# One small table per law, looked up by the biased magnitude's top bits and the sign,
# gives in one 16-bit entry: low byte = the code's segment bits already XORed with the
# sign mask (and with 0x10, see below), high byte = the shift that leaves the 4 mantissa
# bits. Within a segment `mag >> shift` always lies in 16..31 (bit 4 set, none above),
# so XORing it into the low byte both inserts the mantissa and cancels the 0x10 —
# encode is then: load, add, shift, load, shift, xor, store. Table: 2 x 256 x 2 bytes.
_ULAW_BIAS = 33        # µ-law bias in 14-bit units (0x84 >> 2)
_BIG_SHIFT = 24        # shift that makes (mag >> shift) zero: the clipped top entry


def _ulaw_table():
    t = array('H', bytes(1024))
    for neg in (0, 1):
        mask = 0x7F if neg else 0xFF
        for idx in range(256):      # idx = biased 14-bit magnitude >> 6
            if idx >= 128:          # magnitude beyond the clip: the largest code
                t[neg * 256 + idx] = (_BIG_SHIFT << 8) | (0x7F ^ mask)
                continue
            seg = 0                 # segment = bit length of idx
            while idx >> seg:
                seg += 1
            t[neg * 256 + idx] = ((seg + 1) << 8) | ((seg << 4) ^ mask ^ 0x10)
    return t


def _alaw_table():
    t = array('H', bytes(1024))
    for neg in (0, 1):
        mask = 0x55 if neg else 0xD5
        for idx in range(256):      # idx = 13-bit magnitude >> 4
            seg = 0                 # segment = bit length of idx, less one
            while idx >> (seg + 1):
                seg += 1
            # segment 0 uses shift 1 like segment 1, but its v >> 1 has no bit 4
            t[neg * 256 + idx] = (max(seg, 1) << 8) | ((seg << 4) ^ mask ^ (0x10 if seg else 0))
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


# The loops walk raw addresses (viper keeps only the first locals — here the arguments —
# in registers, so fewer index computations is what saves instructions) and move two
# samples per 32-bit load/store where the buffers allow it: both 4-byte aligned. The
# tail (and any unaligned buffer) goes one sample at a time. Little-endian targets only
# (x86-64, Xtensa, ARM, RISC-V as MicroPython builds them).


@micropython.viper
def ulaw_encode(pcm, out, n: int):
    tbl = ptr16(_UENC)
    s = uint(ptr16(pcm))
    d = uint(ptr8(out))
    end = d + uint(n)
    if (s & 3) == uint(0):
        pend = d + uint(n & ~1)
        while d < pend:
            x2 = ptr32(s)[0]
            x = x2 & 0xFFFF      # unsigned: 0x8000.. are the negative samples
            if x & 0x8000:
                # -(x >> 2) of the signed sample plus the bias: (~x + 4 + 132) >> 2
                b = ((x ^ 0xFFFF) + 136) >> 2
                t = tbl[(b >> 6) + 256]
            else:
                b = (x + 132) >> 2
                t = tbl[b >> 6]
            ptr8(d)[0] = t ^ (b >> (t >> 8))
            x = (x2 >> 16) & 0xFFFF
            if x & 0x8000:
                b = ((x ^ 0xFFFF) + 136) >> 2
                t = tbl[(b >> 6) + 256]
            else:
                b = (x + 132) >> 2
                t = tbl[b >> 6]
            ptr8(d)[1] = t ^ (b >> (t >> 8))
            s += 4
            d += 2
    while d < end:
        x = ptr16(s)[0]
        if x & 0x8000:
            b = ((x ^ 0xFFFF) + 136) >> 2
            t = tbl[(b >> 6) + 256]
        else:
            b = (x + 132) >> 2
            t = tbl[b >> 6]
        ptr8(d)[0] = t ^ (b >> (t >> 8))
        s += 2
        d += 1


@micropython.viper
def alaw_encode(pcm, out, n: int):
    tbl = ptr16(_AENC)
    s = uint(ptr16(pcm))
    d = uint(ptr8(out))
    end = d + uint(n)
    if (s & 3) == uint(0):
        pend = d + uint(n & ~1)
        while d < pend:
            x2 = ptr32(s)[0]
            x = x2 & 0xFFFF
            if x & 0x8000:
                v = (x ^ 0xFFFF) >> 3    # -(x >> 3) - 1 of the signed sample
                t = tbl[(v >> 4) + 256]
            else:
                v = x >> 3
                t = tbl[v >> 4]
            ptr8(d)[0] = t ^ (v >> (t >> 8))
            x = (x2 >> 16) & 0xFFFF
            if x & 0x8000:
                v = (x ^ 0xFFFF) >> 3
                t = tbl[(v >> 4) + 256]
            else:
                v = x >> 3
                t = tbl[v >> 4]
            ptr8(d)[1] = t ^ (v >> (t >> 8))
            s += 4
            d += 2
    while d < end:
        x = ptr16(s)[0]
        if x & 0x8000:
            v = (x ^ 0xFFFF) >> 3
            t = tbl[(v >> 4) + 256]
        else:
            v = x >> 3
            t = tbl[v >> 4]
        ptr8(d)[0] = t ^ (v >> (t >> 8))
        s += 2
        d += 1


@micropython.viper
def ulaw_decode(data, pcm, n: int):
    tbl = ptr16(_UDEC)
    s = uint(ptr8(data))
    d = uint(ptr16(pcm))
    end = s + uint(n)
    if ((s | d) & 3) == uint(0):
        pend = s + uint(n & ~3)
        while s < pend:
            c = ptr32(s)[0]      # four codes -> two 32-bit stores of two samples
            ptr32(d)[0] = tbl[c & 0xFF] | (tbl[(c >> 8) & 0xFF] << 16)
            ptr32(d)[1] = tbl[(c >> 16) & 0xFF] | (tbl[(c >> 24) & 0xFF] << 16)
            s += 4
            d += 8
    while s < end:
        ptr16(d)[0] = tbl[ptr8(s)[0]]
        s += 1
        d += 2


@micropython.viper
def alaw_decode(data, pcm, n: int):
    tbl = ptr16(_ADEC)
    s = uint(ptr8(data))
    d = uint(ptr16(pcm))
    end = s + uint(n)
    if ((s | d) & 3) == uint(0):
        pend = s + uint(n & ~3)
        while s < pend:
            c = ptr32(s)[0]
            ptr32(d)[0] = tbl[c & 0xFF] | (tbl[(c >> 8) & 0xFF] << 16)
            ptr32(d)[1] = tbl[(c >> 16) & 0xFF] | (tbl[(c >> 24) & 0xFF] << 16)
            s += 4
            d += 8
    while s < end:
        ptr16(d)[0] = tbl[ptr8(s)[0]]
        s += 1
        d += 2
