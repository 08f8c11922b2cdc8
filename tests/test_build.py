"""The firmware builds for every chip, and real boards' code type-checks against the
official MicroPython stubs of their port."""
import subprocess

from conftest import ROOT


def test_build_and_check_every_board():
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "ata"), "build", "--check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    for arch in ("xtensawin", "armv6m", "x64"):
        assert "build: %-9s" % arch in r.stdout
    assert "check: board esp32_ag1171" in r.stdout and " 0 errors" in r.stdout
    tree = ROOT / "build" / "boards" / "esp32_ag1171"
    for need in ("main.py", "board.mpy", "board.json", "line.mpy", "lib/slic/ag1171.mpy"):
        assert (tree / need).exists(), need
    # An .mpy built for the ESP32 carries the xtensawin arch in its header (byte 2, high bits).
    header = (tree / "board.mpy").read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == 6
