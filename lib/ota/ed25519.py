# Ed25519 signature verification (RFC 8032 section 5.1.7) in MicroPython, from the
# RFC's math: edwards25519 points in extended coordinates (X:Y:Z:T), field elements
# as Python big ints reduced mod p. Verification only: the device holds a public key,
# never a private one, so nothing here has to be constant-time.
from micropython import const

from ota.sha512 import sha512

_P = const(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFED)   # 2^255 - 19
_L = const(0x1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED)   # group order
_D = const(37095705934669439343138083508754565189542113879843219016388785533085940283555)
_D2 = const(2 * 37095705934669439343138083508754565189542113879843219016388785533085940283555)
_SQRT_M1 = const(19681161376707505956807079304988542015446066515923890162744021073123829784752)
# The base point B (RFC 8032 5.1): y = 4/5, x the even root.
_BX = const(15112221349535400772501151409588531511454012693041857206046113283949847762202)
_BY = const(46316835694926478169428394003475163141307993866256225615783033603165251855960)

_SCALAR_BITS = const(253)   # MicroPython ints have no bit_length()

PUBLIC_KEY_BYTES = const(32)
SIGNATURE_BYTES = const(64)


def _pow(b, e):
    """b^e mod p by square-and-multiply (three-argument pow() is a build option)."""
    p = _P
    r = 1
    b %= p
    while e:
        if e & 1:
            r = r * b % p
        b = b * b % p
        e >>= 1
    return r


def _add(P, Q):
    """P + Q on edwards25519 (RFC 8032 5.1.4, "add-2008-hwcd-3"); complete, so it
    also doubles and handles the identity."""
    p = _P
    x1, y1, z1, t1 = P
    x2, y2, z2, t2 = Q
    a = (y1 - x1) * (y2 - x2) % p
    b = (y1 + x1) * (y2 + x2) % p
    c = t1 * _D2 * t2 % p
    d = 2 * z1 * z2 % p
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def _double(P):
    """2P (RFC 8032 5.1.4, "dbl-2008-hwcd"): cheaper than _add(P, P)."""
    p = _P
    x1, y1, z1, _ = P
    a = x1 * x1 % p
    b = y1 * y1 % p
    c = 2 * z1 * z1 % p
    h = a + b
    s = (x1 + y1) % p
    e = h - s * s
    g = a - b
    f = c + g
    return (e * f % p, g * h % p, f * g % p, e * h % p)


def _neg(P):
    x, y, z, t = P
    return ((-x) % _P, y, z, (-t) % _P)


def _decode(s):
    """A point from its 32-byte encoding (RFC 8032 5.1.3), or None when the encoding
    is not canonical (y >= p) or names no point on the curve."""
    p = _P
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= p:
        return None
    u = (y * y - 1) % p
    v = (_D * y * y + 1) % p
    v3 = v * v * v % p
    x = u * v3 * _pow(u * v3 * v3 * v, (p - 5) // 8) % p
    vx2 = v * x * x % p
    if vx2 != u:
        if vx2 != (-u) % p:
            return None
        x = x * _SQRT_M1 % p
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = p - x
    return (x, y, 1, x * y % p)


_B = (_BX, _BY, 1, _BX * _BY % _P)
_IDENTITY = (0, 1, 1, 0)


def _double_mul(a, P, b, Q):
    """[a]P + [b]Q with one shared chain of doublings (Straus' trick)."""
    table = (None, P, Q, _add(P, Q))
    R = _IDENTITY
    for i in range(_SCALAR_BITS - 1, -1, -1):     # a, b < L < 2^253
        R = _double(R)
        sel = ((a >> i) & 1) | (((b >> i) & 1) << 1)
        if sel:
            R = _add(R, table[sel])
    return R


def verify(public_key, message, signature):
    """True when signature (64 bytes) is a valid Ed25519 signature of message
    (bytes) under public_key (32 bytes). Malformed keys and signatures are False,
    never an exception. Checks the cofactored equation [8][S]B = [8]R + [8][k]A
    (RFC 8032 5.1.7) and rejects S >= L and non-canonical point encodings."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    A = _decode(public_key)
    if A is None:
        return False
    r_bytes = bytes(signature[:32])
    R = _decode(r_bytes)
    if R is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = sha512(r_bytes)
    h.update(public_key)
    h.update(message)
    k = int.from_bytes(h.digest(), "little") % _L
    # [S]B - [k]A - R must be a point of small order: multiply by 8, expect identity
    Q = _add(_double_mul(s, _B, k, _neg(A)), _neg(R))
    Q = _double(_double(_double(Q)))
    x, y, z, _ = Q
    return x % _P == 0 and (y - z) % _P == 0
