# SIP on raw bytes, the viper primitives under sip.scan: one pass over a datagram's
# head, a header line, digits and a CSeq number read in place, bytes compared without a
# slice, ';' parameters found in one pass. Kept apart from sip/scan.py (the grammar that
# uses them) so each file stays small; sip.scan re-exports what the parser calls.
import micropython
from micropython import const

# scan() flags
CTRL = const(1)        # a control character (not CR, LF, HT) in the head
BARE_CR = const(2)     # a CR not followed by LF inside the head
BARE_LF = const(4)     # an LF without its CR (the lenient line ending)
NON_ASCII = const(8)   # a byte >= 0x80 anywhere (then strict UTF-8 is checked)

_TOKEN = const(1)      # char-class bits in _CLASS
_HOST = const(2)


def _classes():
    t = bytearray(256)
    for c in range(48, 58):
        t[c] = _TOKEN | _HOST
    for c in range(65, 91):
        t[c] = _TOKEN | _HOST
        t[c + 32] = _TOKEN | _HOST
    for ch in b"-.!%*_+`'~":
        t[ch] |= _TOKEN
    for ch in b"-._":
        t[ch] |= _HOST
    return bytes(t)


_CLASS = _classes()


@micropython.viper
def scan(buf, n: int) -> int:
    """One pass over buf[:n] instead of a str per character: the end of the head (the
    first CRLFCRLF or, leniently, LFLF) and what the head holds. Returns
    end * 16 + flags, or -1 when the head has no end."""
    p = ptr8(buf)
    flags = 0
    end = -1
    i = 0
    while i < n:
        b = p[i]
        if b < 32:
            if b == 10:
                if i + 1 < n and p[i + 1] == 10:
                    end = i
                    break
                if i == 0 or p[i - 1] != 13:
                    flags |= BARE_LF
            elif b == 13:
                if i + 1 < n and p[i + 1] == 10:
                    if i + 3 < n and p[i + 2] == 13 and p[i + 3] == 10:
                        end = i
                        break
                elif not (i + 4 < n and p[i + 1] == 13 and p[i + 2] == 10 and p[i + 3] == 13
                          and p[i + 4] == 10):
                    # not followed by LF, and not the head's last byte (which ends its
                    # last line, as before "\n\n" above)
                    flags |= BARE_CR
            elif b != 9:
                flags |= CTRL
        elif b > 127:
            flags |= NON_ASCII
        i += 1
    if end < 0:
        return -1
    while i < n:
        if p[i] > 127:
            flags |= NON_ASCII
            break
        i += 1
    return (end << 4) | flags


@micropython.viper
def _all_in(buf, mask: int) -> int:
    p = ptr8(buf)
    t = ptr8(_CLASS)
    n = int(len(buf))
    i = 0
    while i < n:
        if t[p[i]] & mask == 0:
            return 0
        i += 1
    return 1


@micropython.viper
def digits(buf, i: int, j: int) -> int:
    """The number buf[i:j] spells in 1 to 5 decimal digits, else -1."""
    p = ptr8(buf)
    if j <= i or j - i > 5:
        return -1
    n = 0
    while i < j:
        c = p[i] - 48
        if c < 0 or c > 9:
            return -1
        n = n * 10 + c
        i += 1
    return n


@micropython.viper
def _cseq_num(buf, i: int, j: int) -> int:
    """buf[i:j] as a CSeq number: -1 unless 1 to 10 decimal digits, -2 when >= 2**31
    (checked before it overflows a 32-bit int)."""
    p = ptr8(buf)
    if j <= i or j - i > 10:
        return -1
    n = 0
    big = 0
    while i < j:
        d = p[i] - 48
        if d < 0 or d > 9:
            return -1
        if n > 214748364 or (n == 214748364 and d > 7):
            big = 1
        else:
            n = n * 10 + d
        i += 1
    return -2 if big else n


@micropython.viper
def line(buf, i: int, n: int) -> int:
    """The header line at buf[i:] in one pass (the head holds CR only before LF, and n
    is its end): its end (the CR, or n) e and its first ':' c (e when none), as
    e << 15 | c."""
    p = ptr8(buf)
    while i < n and p[i] != 58 and p[i] != 13:      # the name: up to ':'
        i += 1
    c = i
    while i < n and p[i] != 13:                       # the value: one test per byte
        i += 1
    if c < n and p[c] == 13:
        c = i                                         # no ':' before the CR
    return (i << 15) | c


@micropython.viper
def same(buf, i: int, j: int, s) -> int:
    """1 when buf[i:j] holds the bytes of s (bytes, or an ASCII str), without a slice."""
    p = ptr8(buf)
    q = ptr8(s)
    if j - i != int(len(s)):
        return 0
    k = 0
    while i < j:
        if p[i] != q[k]:
            return 0
        i += 1
        k += 1
    return 1


@micropython.viper
def _param_span(buf, i: int, end: int, want) -> int:
    """The ';' parameters of buf[i:end] (no quotes in it) in one pass: every name must
    be a token; returns the span (in buf) of the last value named `want` (lower-case
    bytes; names compare case-insensitively) as start << 16 | end, -2 when it has no
    value, -1 when absent, -3 for a name that is not a token. Whitespace is space and
    tab: the head holds no other."""
    p = ptr8(buf)
    t = ptr8(_CLASS)
    w = ptr8(want)
    wn = int(len(want))
    found = -1
    while i <= end:
        j = i
        while j < end and p[j] != 59:          # ';'
            j += 1
        e = i
        while e < j and p[e] != 61:            # '='
            e += 1
        ks = i
        ke = e
        while ks < ke and (p[ks] == 32 or p[ks] == 9):
            ks += 1
        while ke > ks and (p[ke - 1] == 32 or p[ke - 1] == 9):
            ke -= 1
        if ks == ke:
            if e < j:
                return -3                      # "=value": no name
        else:
            same = 1 if ke - ks == wn else 0
            k = ks
            while k < ke:
                c = p[k]
                if t[c] & 1 == 0:
                    return -3
                if same:
                    if c >= 65 and c <= 90:
                        c += 32
                    if c != w[k - ks]:
                        same = 0
                k += 1
            if same:
                if e < j:
                    vs = e + 1
                    ve = j
                    while vs < ve and (p[vs] == 32 or p[vs] == 9):
                        vs += 1
                    while ve > vs and (p[ve - 1] == 32 or p[ve - 1] == 9):
                        ve -= 1
                    found = (vs << 16) | ve
                else:
                    found = -2
        i = j + 1
    return found
