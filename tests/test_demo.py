"""`ata demo` (what `make demo` runs) completes every step and leaves its outputs."""
import subprocess

from conftest import ROOT


def test_demo_passes_and_leaves_pcap_and_recordings():
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "ata"), "demo"], capture_output=True,
                       text=True, cwd=ROOT, timeout=180)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "DEMO PASSED" in r.stdout and "FAIL" not in r.stdout
    out = ROOT / "build" / "demo"
    assert (out / "demo.pcap").stat().st_size > 10_000
    assert list((out / "recordings").glob("*-dec.wav"))
    assert (out / "phone-heard.wav").exists()
