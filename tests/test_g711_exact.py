"""G.711 in viper (dsp.g711) and its plain-Python reference (dsp.g711_ref), run on
MicroPython, compared bit for bit with CPython 3.11's audioop over all 65,536 16-bit
inputs and all 256 codes, through aligned, unaligned and odd-length buffers."""
import array
import os
import warnings

import pytest

from conftest import run_micropython

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (deprecated in 3.11, still the independent reference)

# MicroPython side: encode every sample and decode every code, with the buffers given
# (a) whole and aligned, (b) as memoryviews one element in (unaligned for 32-bit access)
# and in odd-length pieces so the two-sample and one-sample paths both run.
_MPY = r"""
import sys
from array import array
from dsp import g711, g711_ref
mod = g711_ref if sys.argv[1] == 'ref' else g711
step = int(sys.argv[2])
pcm = array('h', range(-32768, 32768))
out = bytearray()
for enc in (mod.ulaw_encode, mod.alaw_encode):
    codes = bytearray(65536 + 1)
    pv = memoryview(pcm)
    cv = memoryview(codes)
    if step == 0:
        enc(pcm, codes, 65536)
        out += codes[:65536]
    else:
        i = 0
        off = 1                    # write one byte in: codes unaligned
        while i < 65536:
            k = min(step, 65536 - i)
            enc(pv[i:i + k], cv[off + i:off + i + k], k)
            i += k
            step = step % 9 + 1     # pieces of 1..9 samples, odd and even
        out += codes[1:]
for dec in (mod.ulaw_decode, mod.alaw_decode):
    lin = array('h', bytes(2 * 257))
    src = bytearray(b'\0') + bytearray(range(256))
    if step == 0:
        dec(src[1:], lin, 256)
        out += bytes(lin)[:512]
    else:
        dec(memoryview(src)[1:], memoryview(lin)[1:], 256)   # both unaligned
        out += bytes(lin)[2:]
sys.stdout.buffer.write(out)
"""




def _expected():
    lin = array.array("h", range(-32768, 32768)).tobytes()
    codes = bytes(range(256))
    return (audioop.lin2ulaw(lin, 2) + audioop.lin2alaw(lin, 2)
            + audioop.ulaw2lin(codes, 2) + audioop.alaw2lin(codes, 2))


@pytest.mark.parametrize("which,step", [("viper", 0), ("viper", 1), ("ref", 0)])
def test_bit_exact_with_audioop(tmp_path, which, step):
    got = _run_binary(tmp_path, which, step)
    want = _expected()
    assert len(got) == len(want)
    names = ["lin2ulaw", "lin2alaw", "ulaw2lin", "alaw2lin"]
    bounds = [0, 65536, 131072, 131584, 132096]
    for k, name in enumerate(names):
        a, b = bounds[k], bounds[k + 1]
        if got[a:b] != want[a:b]:
            bad = [i for i in range(a, b) if got[i] != want[i]]
            pytest.fail("%s %s: %d bytes differ, first at offset %d"
                        % (which, name, len(bad), bad[0] - a))


def _run_binary(tmp_path, which, step):
    import subprocess
    from conftest import MICROPYTHON, MICROPYPATH, ROOT
    script = tmp_path / "g711_all.py"
    script.write_text(_MPY)
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    r = subprocess.run([MICROPYTHON, str(script), which, str(step)], env=env, cwd=ROOT,
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout
