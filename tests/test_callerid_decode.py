"""Caller ID from dsp.callerid (run on MicroPython) decoded by INDEPENDENT decoders:
spandsp's adsi_rx (libspandsp through ctypes) and Debian's minimodem, for Bell 202 and
V.23, SDMF and MDMF, a non-ASCII name, private/unavailable, call waiting (CAS + FSK)
and ETSI DTMF caller ID. Frequencies and timings are also measured from the samples."""
import os
import shutil
import subprocess
import wave

import numpy as np
import pytest

from ata import callerid_rx
from conftest import MICROPYTHON, MICROPYPATH, ROOT

RATE = 8000

# MicroPython side: argv = kind modem message-expression [lead ms]; raw int16 to stdout
_GEN = r"""
import sys
from dsp import callerid as c
kind, modem = sys.argv[1], sys.argv[2]
md = c.BELL202 if modem == 'bell' else c.V23
tx = c.CallerIdTx()
if kind == 'fsk':
    tx.send_fsk(eval(sys.argv[3]), md, lead_ms=100)
elif kind == 'cw':
    tx.send_call_waiting(eval(sys.argv[3]), md)
else:
    tx.send_dtmf(sys.argv[3])
sys.stdout.buffer.write(bytes(c.samples(tx, 97)))
"""


def generate(tmp_path, kind, modem, spec):
    script = tmp_path / "gen_cid.py"
    script.write_text(_GEN)
    r = subprocess.run([MICROPYTHON, str(script), kind, modem, spec],
                       env=dict(os.environ, MICROPYPATH=MICROPYPATH), cwd=ROOT,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    x = np.frombuffer(r.stdout, dtype="<i2")
    # a little silence after, so decoders see the carrier drop
    return np.concatenate([x, np.zeros(1600, dtype="<i2")])


# --- spandsp adsi_rx through ctypes (the phone's decoder in tools/ata) ---------------
ADSI_STANDARD_CLASS = callerid_rx.BELL202
ADSI_STANDARD_CLIP = callerid_rx.V23
ADSI_STANDARD_CLIP_DTMF = callerid_rx.DTMF
spandsp_decode = callerid_rx.decode


# --- minimodem ------------------------------------------------------------------------
def _wav(tmp_path, x):
    path = tmp_path / "cid.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.astype("<i2").tobytes())
    return path


def minimodem(tmp_path, x, *mode):
    exe = shutil.which("minimodem")
    if not exe:
        pytest.fail("minimodem not installed (tools/setup.sh)")
    r = subprocess.run([exe, "--rx", "-q", "-f", str(_wav(tmp_path, x))] + list(mode),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def find_message(raw):
    """The caller-ID message inside a demodulated byte stream: type 0x04/0x80, length,
    body, checksum summing to 0 (the seizure shows up as 'UUU...' before it)."""
    for i, b in enumerate(raw):
        if b in (0x04, 0x80) and i + 1 < len(raw):
            m = raw[i:i + raw[i + 1] + 3]
            if len(m) == raw[i + 1] + 3 and sum(m) & 0xFF == 0:
                return m
    raise AssertionError("no message with a valid checksum in %r" % raw)


fields = callerid_rx.fields


NAME_IN = "Zoë Ångström-Ødegård"       # 20 characters, non-ASCII, cut to 15
NAME_OUT = b"Zoe Angstrom-Od"
MDMF = "c.mdmf('5551234', %r, (12, 24, 9, 30))" % NAME_IN
SDMF = "c.sdmf('2125551234', (1, 2, 3, 4))"
MODEMS = {"bell": ((1200, 2200), ADSI_STANDARD_CLASS, ["1200"]),
          "v23": ((1300, 2100), ADSI_STANDARD_CLIP, ["-M", "1300", "-S", "2100", "1200"])}


def _check_mdmf(f):
    assert f[0x01] == b"12240930"
    assert f[0x02] == b"5551234"
    assert f[0x07] == NAME_OUT


def _check_sdmf(f):
    assert f["sdmf_datetime"] == b"01020304"
    assert f["sdmf_number"] == b"2125551234"


@pytest.mark.parametrize("modem", ["bell", "v23"])
@pytest.mark.parametrize("fmt", ["mdmf", "sdmf"])
def test_fsk_decoded_by_spandsp_and_minimodem(tmp_path, modem, fmt):
    x = generate(tmp_path, "fsk", modem, MDMF if fmt == "mdmf" else SDMF)
    check = _check_mdmf if fmt == "mdmf" else _check_sdmf
    (_, standard, mm_mode) = MODEMS[modem]
    msgs = spandsp_decode(x, standard)
    assert len(msgs) == 1, msgs
    check(fields(msgs[0]))
    m = find_message(minimodem(tmp_path, x, *mm_mode))
    check(fields(m))


@pytest.mark.parametrize("fmt", ["mdmf", "sdmf"])
def test_bell202_minimodem_callerid_mode(tmp_path, fmt):
    # minimodem's own caller-ID parser (Bell 202 only), a third opinion on the framing
    x = generate(tmp_path, "fsk", "bell", MDMF if fmt == "mdmf" else SDMF)
    out = minimodem(tmp_path, x, "callerid").decode()
    if fmt == "mdmf":
        assert "Time:  12/24 09:30" in out and "Phone: 5551234" in out, out
        assert "Name:  " + NAME_OUT.decode() in out, out
    else:
        assert "Time:  01/02 03:04" in out and "Phone: 212-555-1234" in out, out   # minimodem formats NANP numbers


@pytest.mark.parametrize("modem", ["bell", "v23"])
def test_private_and_unavailable(tmp_path, modem):
    spec = "c.mdmf(None, None, (6, 7, 8, 9), number_reason='P', name_reason='O')"
    x = generate(tmp_path, "fsk", modem, spec)
    msgs = spandsp_decode(x, MODEMS[modem][1])
    f = fields(msgs[0])
    assert f == {0x01: b"06070809", 0x04: b"P", 0x08: b"O"}
    x = generate(tmp_path, "fsk", modem, "c.sdmf(None, (6, 7, 8, 9), private=True)")
    f = fields(spandsp_decode(x, MODEMS[modem][1])[0])
    assert f["sdmf_number"] == b"P"


def _peak_hz(x):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    return np.argmax(spec) * RATE / (8 * len(x))


@pytest.mark.parametrize("modem", ["bell", "v23"])
def test_fsk_timing_and_frequencies(tmp_path, modem):
    (mark, space), _, _ = MODEMS[modem]
    x = generate(tmp_path, "fsk", modem, MDMF).astype(float)
    lead = 800                                   # lead_ms=100
    assert not x[:lead].any() and x[lead + 1:lead + 10].all()
    nmsg = 3 + 2 + 8 + 2 + 7 + 2 + 15            # type, len, params, checksum
    nbits = 300 + 180 + 10 * nmsg + 10
    end = lead + -(-nbits * RATE // 1200)        # bit edges on exact samples
    nz = np.flatnonzero(x)
    assert nz[-1] in (end - 1, end - 2)          # last sample (a sine may end near 0)
    # the 180 mark bits: one tone at the mark frequency
    marks = x[lead + 300 * 20 // 3 + 40:lead + 480 * 20 // 3 - 40]
    assert abs(_peak_hz(marks) - mark) < 3
    # the seizure: 300 bits 0101..., then 180 marks: per bit (its exact samples), which
    # of the two tones correlates better
    bits = []
    for i in range(480):
        seg = x[lead + -(-i * 20 // 3):lead + -(-(i + 1) * 20 // 3)]
        t = np.arange(len(seg)) / RATE
        e = [abs(np.sum(seg * np.exp(-2j * np.pi * f * t))) for f in (space, mark)]
        bits.append(int(e[1] > e[0]))
    assert bits == [i & 1 for i in range(300)] + [1] * 180
    # level -13.5 dBm0 (full-scale sine = +3.17 dBm0): RMS of the marks
    level = 20 * np.log10(np.sqrt(np.mean(marks ** 2)) * np.sqrt(2) / 32768) + 3.17
    assert abs(level - (-13.5)) < 0.3
    # phase continuous: no step bigger than the space tone's steepest slope
    amp = 32768 * 10 ** ((-13.5 - 3.17) / 20)
    fsk = x[lead:end]
    assert np.abs(np.diff(fsk)).max() <= 2 * amp * np.sin(np.pi * space / RATE) * 1.02 + 2


@pytest.mark.parametrize("modem", ["bell", "v23"])
def test_call_waiting(tmp_path, modem):
    (mark, _), standard, mm_mode = MODEMS[modem]
    x = generate(tmp_path, "cw", modem, MDMF)
    # CAS: 80 ms = 640 samples of 2130 + 2750 Hz, then the 160 ms gap
    cas = x[:640].astype(float)
    assert x[600:640].any() and not x[640:640 + 1280].any()
    spec = np.abs(np.fft.rfft(cas * np.hanning(640), 8000))     # 1 Hz bins
    peak = int(np.argmax(spec))
    assert abs(peak - 2130) < 10 or abs(peak - 2750) < 10
    for f in (2130, 2750):
        assert spec[f - 20:f + 21].max() > 0.5 * spec.max()
    # no seizure: the FSK starts straight with the 80 mark bits
    start = 640 + 1280
    marks = x[start + 20:start + 80 * 20 // 3 - 20].astype(float)
    assert abs(_peak_hz(marks) - mark) < 3
    msgs = spandsp_decode(x, standard)
    assert len(msgs) == 1
    _check_mdmf(fields(msgs[0]))
    _check_mdmf(fields(find_message(minimodem(tmp_path, x, *mm_mode))))


@pytest.mark.parametrize("digits", ["A5551234C", "D1C", "A0123456789C"])
def test_dtmf_caller_id(tmp_path, digits):
    x = generate(tmp_path, "dtmf", "bell", digits)
    msgs = spandsp_decode(x, ADSI_STANDARD_CLIP_DTMF)
    assert msgs == [digits.encode()]
    # each key 50 ms (400 samples) on, 50 ms off; every burst starts from a zero
    # crossing (sample value 0), so the silences measure 401 samples but the last
    z = np.concatenate([[False], x == 0, [False]])
    edges = np.flatnonzero(np.diff(z.astype(int)))
    runs = [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2]) if b - a >= 2]
    n = len(digits)
    want = [(800 * i + 400, 800 * i + 801) for i in range(n - 1)] + [(800 * n - 400, len(x))]
    assert runs == want
