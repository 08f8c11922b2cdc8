# G.711 µ-law and A-law in plain Python: the readable reference for dsp.g711.
# Same results as CPython 3.11's audioop (lin2ulaw/ulaw2lin/lin2alaw/alaw2lin), i.e.
# the classic Sun g711.c algorithm: µ-law on the top 14 bits, A-law on the top 13.

_ULAW_BIAS = 33        # 0x84 >> 2: the µ-law bias in 14-bit units
_ULAW_CLIP = 8159      # largest 14-bit magnitude before the bias is added


def ulaw_encode1(x):
    """One signed 16-bit sample -> one µ-law code (0..255)."""
    v = x >> 2
    if v < 0:
        v = -v
        mask = 0x7F
    else:
        mask = 0xFF
    if v > _ULAW_CLIP:
        v = _ULAW_CLIP
    v += _ULAW_BIAS
    seg = 0
    while seg < 8 and v > (0x40 << seg) - 1:
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


def ulaw_decode1(code):
    """One µ-law code -> one signed 16-bit sample."""
    u = ~code & 0xFF
    t = ((u & 0xF) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def alaw_encode1(x):
    """One signed 16-bit sample -> one A-law code (0..255)."""
    v = x >> 3
    if v >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        v = -v - 1
    seg = 0
    while seg < 8 and v > (0x20 << seg) - 1:
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    a = seg << 4
    if seg < 2:
        a |= (v >> 1) & 0xF
    else:
        a |= (v >> seg) & 0xF
    return a ^ mask


def alaw_decode1(code):
    """One A-law code -> one signed 16-bit sample."""
    a = code ^ 0x55
    t = a & 0xF
    seg = (a & 0x70) >> 4
    if seg:
        t = (t + t + 1 + 32) << (seg + 2)
    else:
        t = (t + t + 1) << 3
    return t if a & 0x80 else -t


def ulaw_encode(pcm, out, n):
    for i in range(n):
        out[i] = ulaw_encode1(pcm[i])


def ulaw_decode(data, pcm, n):
    for i in range(n):
        pcm[i] = ulaw_decode1(data[i])


def alaw_encode(pcm, out, n):
    for i in range(n):
        out[i] = alaw_encode1(pcm[i])


def alaw_decode(data, pcm, n):
    for i in range(n):
        pcm[i] = alaw_decode1(data[i])
