# dsp.callerid / dsp.fsk on MicroPython: message bytes, checksum, names folded to ASCII,
# streaming in any frame size, no allocation per frame. Decoding by independent
# decoders (spandsp adsi_rx, minimodem) is tests/test_callerid_decode.py.
from array import array

import micropython

from check import eq, raises
from dsp import callerid as c
from dsp.fsk import frame_bits


def test_sdmf_bytes():
    m = c.sdmf('5551234', (3, 4, 5, 6))
    eq(m[:2], b'\x04\x0f', "type and length")
    eq(m[2:-1], b'030405065551234', "body")
    eq(sum(m) & 0xFF, 0, "checksum")
    eq(c.sdmf(None, (3, 4, 5, 6), private=True)[2:-1], b'03040506P', "private")
    eq(c.sdmf(None, (3, 4, 5, 6))[2:-1], b'03040506O', "unavailable")


def test_mdmf_bytes():
    m = c.mdmf('0123', 'Bob', (12, 31, 23, 59))
    eq(m, bytes([0x80, 21, 1, 8]) + b'12312359' + bytes([2, 4]) + b'0123'
       + bytes([7, 3]) + b'Bob' + bytes([c.checksum(m[:-1])]), "bytes")
    eq(sum(m) & 0xFF, 0, "checksum")
    t, params = c.parse(c.mdmf(None, None, False, 'P', 'O'))
    eq((t, params), (0x80, [(4, b'P'), (8, b'O')]), "absent")
    eq(c.parse(c.mdmf('1', with_name=False, when=False))[1], [(2, b'1')], "number only")


def test_checksum_and_parse_reject_corruption():
    m = bytearray(c.mdmf('5551234', 'X', (1, 1, 0, 0)))
    m[5] ^= 1
    raises(ValueError, c.parse, bytes(m))


def test_names_folded_to_printable_ascii():
    eq(c.to_ascii('Zoë Ångström', 15), 'Zoe Angstrom', "accents")
    eq(c.to_ascii('Straße Æble Œuvre', 40), 'Strasse AEble OEuvre', "ligatures")
    eq(c.to_ascii('Łódź Øre', 15), 'Lodz Ore', "extended-A")
    eq(c.to_ascii('日本 Tel\x07\n', 15), ' Tel', "other scripts and controls dropped")
    eq(c.to_ascii('A' * 20, 15), 'A' * 15, "cut to the limit")
    eq(c.parse(c.mdmf('1', 'Renée Müller-Lüdenscheidt'))[1][2], (7, b'Renee Muller-Lu'),
       "name param")


def test_frame_bits_8n1():
    bits, n = frame_bits(b'\x31', seizure=4, marks=3, trailing=2)
    got = [(bits[i >> 3] >> (i & 7)) & 1 for i in range(n)]
    # 0101, 111, start 0, 0x31 LSB first 1000 1100, stop 1, 11
    eq(got, [0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1], "bits")


def test_dtmf_keys():
    eq(c.dtmf_freqs('1'), (697, 1209), "1")
    eq(c.dtmf_freqs('#'), (941, 1477), "#")
    eq(c.dtmf_freqs('D'), (941, 1633), "D")
    raises(ValueError, c.dtmf_freqs, 'x')


def _stream(send, chunks):
    tx = c.CallerIdTx()
    send(tx)
    out = array('h')
    buf = array('h', bytes(2 * 200))
    k = 0
    while tx.active:
        n = chunks[k % len(chunks)]
        tx.fill(buf, n)
        out.extend(buf[:n])
        k += 1
    return out


def test_same_samples_for_any_frame_size():
    msg = c.mdmf('5551234', 'Ann', (1, 2, 3, 4))
    for send in (lambda tx: tx.send_fsk(msg, c.V23),
                 lambda tx: tx.send_call_waiting(msg),
                 lambda tx: tx.send_dtmf('A12C')):
        a = _stream(send, [160])
        b = _stream(send, [1, 7, 199, 13, 160])
        n = min(len(a), len(b))
        eq(a[:n] == b[:n], True, "same stream")
        eq(max(abs(v) for v in a[n:]) if len(a) > n else 0, 0, "tail is silence")
        eq(max(abs(v) for v in b[n:]) if len(b) > n else 0, 0, "tail is silence")


def test_no_allocation_per_frame():
    msg = c.mdmf('5551234', 'Ann', (1, 2, 3, 4))
    tx = c.CallerIdTx()
    buf = array('h', bytes(320))
    for send in (lambda: tx.send_fsk(msg), lambda: tx.send_call_waiting(msg, c.V23),
                 lambda: tx.send_dtmf('A5551234C')):
        send()
        micropython.heap_lock()
        try:
            frames = 0
            while tx.active:
                tx.fill(buf, 160)
                frames += 1
            tx.fill(buf, 160)       # idle: silence
        finally:
            micropython.heap_unlock()
        eq(frames > 10, True, "sent something")
