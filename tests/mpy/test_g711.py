# dsp.g711 (viper) against dsp.g711_ref, buffer handling, and no allocation per frame.
# Bit-exactness over all inputs against audioop is tests/test_g711_exact.py (CPython).
from array import array

import micropython

from check import eq
from dsp import g711, g711_ref

_N = 160    # one 20 ms frame


def _signal():
    # a loud swept mix that visits every segment and both signs
    a = array('h', bytes(2 * _N))
    x = 12345
    for i in range(_N):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        a[i] = ((x >> 8) & 0xFFFF) - 32768 if i & 1 else (i * 409) % 65536 - 32768
    return a


def test_encode_matches_reference():
    pcm = _signal()
    for enc, ref in ((g711.ulaw_encode, g711_ref.ulaw_encode),
                     (g711.alaw_encode, g711_ref.alaw_encode)):
        got = bytearray(_N)
        want = bytearray(_N)
        enc(pcm, got, _N)
        ref(pcm, want, _N)
        eq(got, want, "encode")


def test_decode_matches_reference():
    codes = bytearray(range(256))
    for dec, ref in ((g711.ulaw_decode, g711_ref.ulaw_decode),
                     (g711.alaw_decode, g711_ref.alaw_decode)):
        got = array('h', bytes(512))
        want = array('h', bytes(512))
        dec(codes, got, 256)
        ref(codes, want, 256)
        eq(list(got), list(want), "decode")


def test_writes_exactly_n():
    # n smaller than the buffers: nothing past n is touched, odd n included
    pcm = _signal()
    for n in (0, 1, 2, 3, 5, 159):
        out = bytearray(b'\xAA' * _N)
        g711.ulaw_encode(pcm, out, n)
        eq(out[n:], bytearray(b'\xAA' * (_N - n)), "encode tail n=%d" % n)
        lin = array('h', [7] * _N)
        g711.alaw_decode(out, lin, n)
        eq(list(lin[n:]), [7] * (_N - n), "decode tail n=%d" % n)


def test_idle_codes():
    silence = array('h', bytes(2 * _N))
    u = bytearray(_N)
    a = bytearray(_N)
    g711.ulaw_encode(silence, u, _N)
    g711.alaw_encode(silence, a, _N)
    eq(u[0], 0xFF, "ulaw idle")
    eq(a[0], 0xD5, "alaw idle")


def test_no_allocation_per_frame():
    pcm = _signal()
    codes = bytearray(_N)
    lin = array('h', bytes(2 * _N))
    micropython.heap_lock()
    try:
        for _ in range(10):
            g711.ulaw_encode(pcm, codes, _N)
            g711.ulaw_decode(codes, lin, _N)
            g711.alaw_encode(pcm, codes, _N)
            g711.alaw_decode(codes, lin, _N)
    finally:
        micropython.heap_unlock()
