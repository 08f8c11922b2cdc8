"""The firmware builds for every chip, and real boards' code type-checks against the
official MicroPython stubs of their port."""
import subprocess

from conftest import ROOT

# MicroPython's native arch numbers, as .mpy headers carry them (byte 2, bits 2..7)
ARCH_CODE = {"x64": 2, "armv6m": 4, "xtensawin": 10}


def _device_sources():
    for top in ("lib", "firmware"):
        for src in sorted((ROOT / top).rglob("*.py")):
            if not src.name.endswith("_ref.py") and src.name != "manifest.py":
                yield src.relative_to(ROOT)


def test_build_and_check_every_board():
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "ata"), "build", "--check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for board, stubs in (("esp32_ag1171", "esp32"), ("rp2_ag1171", "rp2")):
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("check: board %s " % board)]
        assert line and "with %s stubs: 0 errors" % stubs in line[0], out
    # every device module compiled for every chip; native code carries its chip's arch
    sources = list(_device_sources())
    assert len(sources) > 30
    for arch, code in ARCH_CODE.items():
        tree = ROOT / "build" / "mpy" / arch
        missing = [str(s) for s in sources if not (tree / s.with_suffix(".mpy")).exists()]
        assert not missing, (arch, missing, out)
        header = (tree / "lib" / "dsp" / "dtmf.mpy").read_bytes()[:4]   # has viper code
        assert header[:2] == b"M\x06" and header[2] >> 2 == code, (arch, header)
    # the ESP32 board's deployable tree, built for its chip
    tree = ROOT / "build" / "boards" / "esp32_ag1171"
    for need in ("main.py", "board.mpy", "board.json", "line.mpy", "lib/slic/ag1171.mpy"):
        assert (tree / need).exists(), need
    assert (tree / "lib" / "dsp" / "dtmf.mpy").read_bytes()[2] >> 2 == ARCH_CODE["xtensawin"]
    assert not list(tree.rglob("*_ref.mpy"))
    # the RP2040 board's tree: its PIO programs and the PIO drivers, for the Cortex-M0+
    tree = ROOT / "build" / "boards" / "rp2_ag1171"
    for need in ("main.py", "board.mpy", "pio_programs.mpy", "board.json", "line.mpy",
                 "lib/slic/pio_ring.mpy", "lib/slic/pio_hook.mpy"):
        assert (tree / need).exists(), need
    assert (tree / "lib" / "dsp" / "dtmf.mpy").read_bytes()[2] >> 2 == ARCH_CODE["armv6m"]
