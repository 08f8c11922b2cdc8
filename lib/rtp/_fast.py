# Viper inner loops shared by the RTP package: byte/sample copies, G.711 quiet test,
# and the PLC's pitch search and overlap-add. No allocation; 32-bit safe arithmetic
# (the ESP32's viper ints are 32-bit: every product below is bounded in a comment).
import micropython


@micropython.viper
def copy8(dst, doff: int, src, soff: int, n: int):
    # Forward copy. Word by word when both ends and the length are 4-aligned (a 20 ms
    # frame between blocks and a header's end: ~3x fewer instructions); the Xtensa
    # faults on an unaligned 32-bit access, so the addresses themselves are checked.
    da = int(ptr8(dst)) + doff
    sa = int(ptr8(src)) + soff
    if ((da | sa | n) & 3) == 0:
        dw = ptr32(da)
        sw = ptr32(sa)
        w = n >> 2
        i = 0
        while i < w:
            dw[i] = sw[i]
            i += 1
        return
    d = ptr8(da)
    s = ptr8(sa)
    i = 0
    while i < n:
        d[i] = s[i]
        i += 1


@micropython.viper
def rtp_header(tx, b1: int, seq: int, th: int, tl: int):
    # The first 8 bytes of an RTP header (version 2, no padding/extension/CSRC): the
    # marker and payload type byte, the sequence number, the timestamp's halves.
    t = ptr8(tx)
    t[0] = 0x80
    t[1] = b1
    t[2] = seq >> 8
    t[3] = seq
    t[4] = th >> 8
    t[5] = th
    t[6] = tl >> 8
    t[7] = tl


@micropython.viper
def fill8(dst, doff: int, value: int, n: int):
    d = ptr8(dst)
    i = 0
    while i < n:
        d[doff + i] = value
        i += 1


@micropython.viper
def copy16(dst, doff: int, src, soff: int, n: int):
    # Forward copy: safe for overlapping moves towards lower indices (history shift),
    # word by word too (a word is read before it or the one below it is written).
    # Pairs of samples as words when both ends are 4-aligned (see copy8; its word loop
    # is written again here: a call from one viper function to another costs ~400
    # x86 instructions, more than the loop).
    da = int(ptr8(dst)) + 2 * doff
    sa = int(ptr8(src)) + 2 * soff
    if ((da | sa) & 3) == 0:
        dw = ptr32(da)
        sw = ptr32(sa)
        w = n >> 1
        i = 0
        while i < w:
            dw[i] = sw[i]
            i += 1
        if n & 1:
            d1 = ptr16(da)
            s1 = ptr16(sa)
            d1[n - 1] = s1[n - 1]
        return
    d = ptr16(da)
    s = ptr16(sa)
    i = 0
    while i < n:
        d[i] = s[i]
        i += 1


@micropython.viper
def mark_blocks(flags, nb: int, pos: int, n: int, flag: int, block: int):
    # The jitter buffer's presence flags of the blocks that samples pos..pos+n-1 touch
    # (ring of nb blocks): audio overrides anything, an event only marks empty blocks.
    fl = ptr8(flags)
    blk = pos // block
    last = (pos + n - 1) // block
    while blk <= last:
        i = blk % nb
        if flag == 1 or fl[i] == 0:
            fl[i] = flag
        blk += 1


@micropython.viper
def frame_blocks(flags, nb: int, first: int, blocks: int) -> int:
    # What the frame of `blocks` blocks from block `first` holds: 1 all audio, 2 some
    # audio, 3 events/silence only, 0 nothing (flags 1 audio, 2 event).
    fl = ptr8(flags)
    audio = 0
    event = 0
    k = 0
    while k < blocks:
        f = fl[(first + k) % nb]
        if f == 1:
            audio += 1
        elif f == 2:
            event += 1
        k += 1
    if audio:
        return 1 if audio == blocks else 2
    return 3 if event else 0


@micropython.viper
def zero16(dst, doff: int, n: int):
    d = ptr16(dst)
    i = 0
    while i < n:
        d[doff + i] = 0
        i += 1


@micropython.viper
def g711_loud(buf, off: int, n: int, alaw: int) -> int:
    # Largest G.711 segment (0-7) in the frame: a cheap loudness measure on the codes,
    # used to drop a frame where it is least audible when the jitter buffer shrinks.
    b = ptr8(buf)
    x = 0x55 if alaw else 0xFF
    best = 0
    i = 0
    while i < n:
        seg = ((b[off + i] ^ x) & 0x70) >> 4
        if seg > best:
            best = seg
        i += 1
    return best


@micropython.viper
def max_abs16(buf, n: int) -> int:
    b = ptr16(buf)
    m = 0
    i = 0
    while i < n:
        v = b[i]
        if v & 0x8000:
            v = 0x10000 - v
        if v > m:
            m = v
        i += 1
    return m


@micropython.viper
def find_pitch(buf, end: int, sh: int, pmin: int, pmax: int, corrlen: int, ndec: int) -> int:
    """Pitch period (samples) of the signal ending at buf[end] by normalised cross-
    correlation of the last corrlen samples with earlier ones (G.711 Appendix I:
    coarse search on every ndec-th sample, then a full-rate search around the best).
    Returns pmax - j of the best j. Samples are taken >> sh with |x >> sh| <= 2^11:
    a product is <= 2^22 and a sum of corrlen (<= 160) of them stays below 2^30."""
    # One viper call for the whole search: the window energy at each lag is kept
    # running (one sample leaves, one enters) instead of summed again, and nothing
    # is a call (a viper-to-viper call costs ~400 x86 instructions).
    p = ptr16(buf)
    diff = pmax - pmin
    lstart = end - corrlen
    base = end - corrlen - pmax
    # Two passes of the same search: lags 0..diff every ndec-th (each window every
    # ndec-th sample), then lags around the best at full rate. In both the lag step is
    # the sample step, so the next lag's window is this one less its first sample
    # plus one more at its end.
    step = ndec
    j = 0
    last = diff
    bestj = 0
    while True:
        m = (corrlen + step - 1) // step       # samples in a window
        e = 0
        i = 0
        while i < corrlen:
            a = p[base + j + i]
            if a & 0x8000:
                a -= 0x10000
            a >>= sh
            e += a * a
            i += step
        best = -0x3FFFFFFF
        while j <= last:
            c = 0
            i = 0
            while i < corrlen:
                a = p[lstart + i]
                if a & 0x8000:
                    a -= 0x10000
                b = p[base + j + i]
                if b & 0x8000:
                    b -= 0x10000
                c += (a >> sh) * (b >> sh)
                i += step
            r = e
            if r < 1:
                r = 1
            # integer square root of the energy (Newton from above)
            x = r
            y = (x + 1) >> 1
            while y < x:
                x = y
                y = (x + r // x) >> 1
            score = c // x
            if score >= best:
                best = score
                bestj = j
            a = p[base + j]                    # leaves the window
            if a & 0x8000:
                a -= 0x10000
            a >>= sh
            e -= a * a
            a = p[base + j + m * step]         # enters it
            if a & 0x8000:
                a -= 0x10000
            a >>= sh
            e += a * a
            j += step
        if step == 1:
            break
        j = bestj - (ndec - 1)
        if j < 0:
            j = 0
        last = bestj + (ndec - 1)
        if last > diff:
            last = diff
        step = 1
    return pmax - bestj


@micropython.viper
def ola(dst, doff: int, lft, loff: int, rgt, roff: int, cnt: int):
    # Cross-fade: lft fades out, rgt fades in over cnt samples (G.711 App. I overlapadd).
    # |sample| * cnt <= 2^15 * 80 fits easily.
    d = ptr16(dst)
    lp = ptr16(lft)
    rp = ptr16(rgt)
    i = 0
    while i < cnt:
        a = lp[loff + i]
        if a & 0x8000:
            a -= 0x10000
        c = rp[roff + i]
        if c & 0x8000:
            c -= 0x10000
        t = (a * (cnt - 1 - i) + c * (i + 1)) // cnt
        d[doff + i] = t
        i += 1


@micropython.viper
def ola_end(s, soff: int, f, cnt: int, gnum: int):
    # Fade the synthetic signal f (already attenuated to gnum/5) out and the real
    # signal s in over cnt samples (G.711 App. I overlapaddatend). Products <= 2^24.
    sp = ptr16(s)
    fp = ptr16(f)
    den = 5 * cnt
    i = 0
    while i < cnt:
        a = fp[i]
        if a & 0x8000:
            a -= 0x10000
        c = sp[soff + i]
        if c & 0x8000:
            c -= 0x10000
        t = (a * gnum * (cnt - 1 - i) + c * 5 * (i + 1)) // den
        if t > 32767:
            t = 32767
        elif t < -32768:
            t = -32768
        sp[soff + i] = t
        i += 1


@micropython.viper
def periodic(out, ooff: int, pb, start: int, blen: int, poff: int, n: int) -> int:
    # Copy n samples of the periodic continuation pb[start : start+blen] beginning at
    # phase poff; returns the new phase (G.711 App. I getfespeech).
    o = ptr16(out)
    p = ptr16(pb)
    i = 0
    while i < n:
        o[ooff + i] = p[start + poff]
        poff += 1
        if poff >= blen:
            poff = 0
        i += 1
    return poff


@micropython.viper
def fade(out, off: int, k: int, n: int):
    # Linear attenuation: gain (400 - 80*(k-1) - i)/400 at sample i of the k-th erased
    # 10 ms block, i.e. 20 % per 10 ms starting after the first 10 ms.
    o = ptr16(out)
    g0 = 400 - 80 * (k - 1)
    i = 0
    while i < n:
        a = o[off + i]
        if a & 0x8000:
            a -= 0x10000
        g = g0 - i
        if g < 0:
            g = 0
        o[off + i] = (a * g) // 400
        i += 1
