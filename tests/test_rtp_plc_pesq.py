"""The concealment measured the way the issue scores audio: speech from espeak-ng,
G.711 round trip, 5 % of 20 ms frames lost; PESQ (P.862 narrowband) of our PLC
(run on MicroPython) against zero insertion and against spandsp's PLC (the C
reference, through ctypes) on the same loss patterns."""
import ctypes
import ctypes.util
import random
import shutil
import subprocess
import warnings
import wave

import numpy as np
import pytest

from conftest import run_micropython

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (3.11: still shipped; G.711 as ITU)

pesq = pytest.importorskip("pesq").pesq

TEXT = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
        "background. It is easy to tell the depth of a well. These days a chicken leg "
        "is a rare dish. Rice is often served in round bowls.")

RUNNER = r"""
import sys
from array import array
from rtp.plc import Concealer
pcm = open(sys.argv[1], "rb").read()
lost = open(sys.argv[2], "rb").read()
c = Concealer(160)
out = open(sys.argv[3], "wb")
fr = array("h", bytes(320))
for k in range(len(lost)):
    if lost[k]:
        c.conceal(fr)
    else:
        src = array("h", pcm[k * 320:(k + 1) * 320])
        for i in range(160):
            fr[i] = src[i]
        c.good(fr)
    out.write(fr)
out.close()
print("DELAY", c.delay)
"""


def spandsp_plc(pcm, lost):
    path = ctypes.util.find_library("spandsp")
    if not path:
        pytest.skip("libspandsp not installed")
    lib = ctypes.CDLL(path)
    lib.plc_init.restype = ctypes.c_void_p
    lib.plc_init.argtypes = [ctypes.c_void_p]
    lib.plc_rx.argtypes = lib.plc_fillin.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                     ctypes.c_int]
    lib.plc_free.argtypes = [ctypes.c_void_p]
    s = lib.plc_init(None)
    out = []
    for k, gone in enumerate(lost):
        fr = np.zeros(160, np.int16) if gone else pcm[k * 160:(k + 1) * 160].copy()
        (lib.plc_fillin if gone else lib.plc_rx)(s, fr.ctypes.data, 160)
        out.append(fr)
    lib.plc_free(s)
    return np.concatenate(out)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        pytest.skip("espeak-ng/sox not installed")
    d = tmp_path_factory.mktemp("plc")
    subprocess.run(["espeak-ng", "-w", str(d / "s.wav"), TEXT], check=True,
                   capture_output=True)
    subprocess.run(["sox", str(d / "s.wav"), "-r", "8000", "-c", "1", "-b", "16",
                    str(d / "s8.wav")], check=True, capture_output=True)
    with wave.open(str(d / "s8.wav")) as w:
        ref = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    ref = ref[:len(ref) // 160 * 160]
    dec = np.frombuffer(audioop.ulaw2lin(audioop.lin2ulaw(ref.tobytes(), 2), 2), "<i2")
    (d / "dec.raw").write_bytes(dec.tobytes())
    (d / "run.py").write_text(RUNNER)
    return d, ref.astype(float), dec


def score(ref, y):
    n = min(len(ref), len(y))
    return pesq(8000, ref[:n], y[:n].astype(float), "nb")


@pytest.mark.parametrize("seed", [1, 2])
def test_plc_beats_zero_insertion_and_matches_spandsp(speech, seed):
    d, ref, dec = speech
    rng = random.Random(seed)
    lost = bytes(1 if rng.random() < 0.05 else 0 for _ in range(len(dec) // 160))
    assert 0.03 <= sum(lost) / len(lost) <= 0.07
    (d / "lost.bin").write_bytes(lost)
    r = run_micropython([str(d / "run.py"), str(d / "dec.raw"), str(d / "lost.bin"),
                         str(d / "ours.raw")], timeout=120)
    assert r.returncode == 0, r.stderr
    delay = int(r.stdout.split("DELAY")[1])
    ours = np.frombuffer((d / "ours.raw").read_bytes(), "<i2")[delay:]
    zeros = dec.copy()
    for k, gone in enumerate(lost):
        if gone:
            zeros[k * 160:(k + 1) * 160] = 0
    ceiling = score(ref, dec)
    s_ours = score(ref, ours)
    s_zero = score(ref, zeros)
    s_spandsp = score(ref, spandsp_plc(dec, lost))
    print("seed %d: ceiling %.3f  ours %.3f  zero-fill %.3f  spandsp %.3f" % (
        seed, ceiling, s_ours, s_zero, s_spandsp))
    assert ceiling > 3.5
    assert s_ours > s_zero + 0.15, (s_ours, s_zero)
    assert s_ours > s_spandsp - 0.3, (s_ours, s_spandsp)
