"""Caller-ID receiver for the virtual phone and the tests: spandsp's adsi_rx (an
independent decoder, libspandsp from Debian) through ctypes, and message parsing."""
import ctypes
import ctypes.util

import numpy as np

# spandsp/adsi.h standards
BELL202 = 1      # ADSI_STANDARD_CLASS: Bell 202 FSK (GR-30)
V23 = 2          # ADSI_STANDARD_CLIP: ETSI V.23 FSK
DTMF = 5         # ADSI_STANDARD_CLIP_DTMF: ETSI DTMF caller ID

P_DATETIME, P_NUMBER, P_NUMBER_ABSENT, P_NAME, P_NAME_ABSENT = 0x01, 0x02, 0x04, 0x07, 0x08
MDMF_MWI = 0x82      # message-waiting message (GR-30, ETSI EN 300 659-3)
P_VISUAL = 0x0B      # its Visual Indicator parameter: 0xFF on, 0x00 off

_PUT_MSG = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int)
_lib = None


def _spandsp():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("spandsp")
        if not name:
            raise OSError("libspandsp not found: install libspandsp-dev (tools/setup.sh)")
        lib = ctypes.CDLL(name)
        lib.adsi_rx_init.restype = ctypes.c_void_p
        lib.adsi_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_int, _PUT_MSG, ctypes.c_void_p]
        lib.adsi_rx.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_int]
        lib.adsi_rx_free.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def decode(samples, standard):
    """Messages spandsp's adsi_rx finds in 8 kHz samples (checksum checked and dropped)."""
    lib = _spandsp()
    msgs = []

    def put(_user, msg, n):
        if n > 0:
            msgs.append(bytes(msg[:n]))

    cb = _PUT_MSG(put)
    st = lib.adsi_rx_init(None, standard, cb, None)
    if not st:
        raise OSError("adsi_rx_init failed")
    x = np.asarray(samples, dtype="<i2")
    try:
        for i in range(0, len(x), 160):
            chunk = np.ascontiguousarray(x[i:i + 160])
            lib.adsi_rx(st, chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(chunk))
        tail = np.zeros(1600, dtype="<i2")      # let the receiver finish the last byte
        lib.adsi_rx(st, tail.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(tail))
    finally:
        lib.adsi_rx_free(st)
    return msgs


def fields(msg):
    """{param: bytes} of a message as adsi_rx gives it (type, length, body; no checksum).
    SDMF gives the keys 'sdmf_datetime' and 'sdmf_number'."""
    body = msg[2:2 + msg[1]]
    if msg[0] == 0x04:
        return {"sdmf_datetime": body[:8], "sdmf_number": body[8:]}
    out = {}
    i = 0
    while i + 1 < len(body):
        out[body[i]] = body[i + 2:i + 2 + body[i + 1]]
        i += 2 + body[i + 1]
    return out


def display(msg):
    """What a caller-ID display shows: (number, name) as text, 'P'/'O' for absent."""
    f = fields(msg)
    if "sdmf_number" in f:
        return f["sdmf_number"].decode(), None
    number = f.get(P_NUMBER, f.get(P_NUMBER_ABSENT, b"")).decode()
    name = f.get(P_NAME, f.get(P_NAME_ABSENT, b"")).decode() or None
    return number, name


def vmwi(msg):
    """The visual message-waiting indicator of a message: True (0xFF, on), False
    (0x00, off), or None when the message is no MWI message or has no such parameter.
    Any other indicator value is an error (ValueError), not a guess."""
    if msg[0] != MDMF_MWI:
        return None
    v = fields(msg).get(P_VISUAL)
    if v is None:
        return None
    if v not in (b"\xff", b"\x00"):
        raise ValueError("Visual Indicator %r: 0xFF or 0x00" % (v,))
    return v == b"\xff"
