"""The concealment measured the way the issue scores audio: speech from espeak-ng,
G.711 round trip, 5 % of 20 ms frames lost; PESQ (P.862 narrowband) of our PLC
(run on MicroPython) against zero insertion and against spandsp's PLC (the C
reference, through ctypes) on the same loss patterns.

One pattern is not a figure: per pattern, ours minus spandsp measured from -0.25
to +0.14 over these ten patterns, so the bounds are on the mean over the patterns
(everything here is deterministic: fixed seeds, no timing; `-s` prints the scores)."""
import ctypes
import ctypes.util
import random
import subprocess
import warnings
import wave

import numpy as np
import pytest

from conftest import require_tool, run_micropython

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (3.11: still shipped; G.711 as ITU)

HINT = "run `make setup` (tools/setup.sh installs espeak-ng, sox and libspandsp-dev; " \
       "requirements.txt pins pesq)"
try:
    from pesq import pesq
except ImportError:           # a missing tool fails the tests, never skips them
    pesq = None

PATTERNS = range(1, 11)       # seeds of the loss patterns
LOSS = 0.05

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
        require_tool("libspandsp", HINT)
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
    require_tool("espeak-ng", HINT)
    require_tool("sox", HINT)
    if pesq is None:
        require_tool("pesq (PyPI)", HINT)
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


def lost_frames(seed, frames):
    """Exactly LOSS of the frames lost, at places drawn from the seed."""
    lost = bytearray(frames)
    for k in random.Random(seed).sample(range(frames), round(LOSS * frames)):
        lost[k] = 1
    return bytes(lost)


@pytest.fixture(scope="module")
def scores(speech):
    """{seed: (ceiling, ours, zero insertion, spandsp)} over the loss patterns."""
    d, ref, dec = speech
    out = {}
    for seed in PATTERNS:
        lost = lost_frames(seed, len(dec) // 160)
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
        out[seed] = (score(ref, dec), score(ref, ours), score(ref, zeros),
                     score(ref, spandsp_plc(dec, lost)))
        print("pattern %d: ceiling %.3f  ours %.3f  zero-fill %.3f  spandsp %.3f" % (
            (seed,) + out[seed]))
    return out


def mean_gap(scores, i, j):
    return float(np.mean([s[i] - s[j] for s in scores.values()]))


def test_plc_beats_zero_insertion_on_average(scores):
    assert all(s[0] > 3.5 for s in scores.values()), scores
    # measured +0.31 on average (+0.02..+0.68 per pattern); a concealer that does
    # nothing useful is near 0
    assert mean_gap(scores, 1, 2) > 0.2, scores


def test_plc_within_0_1_of_spandsp_on_average(scores):
    # measured -0.05 on average (standard error of the ten-pattern mean about 0.04);
    # a concealer 0.1 worse than the reference on average is a regression
    assert mean_gap(scores, 1, 3) >= -0.1, scores
