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
    # the picture a person opens: a real PNG of the size the demo draws, and the demo
    # says what it drew (its own check fails the demo under 2 ring bursts or 10 SIP)
    png = (out / "timeline.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", png[:16]
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1600, 900)
    assert "caller ID between the first and second ring" in r.stdout
    assert "caller ID on call waiting (CIDCW, decoded by spandsp): 1003" in r.stdout
    assert "phone hears 1003 resumed" in r.stdout
    assert "timeline picture timeline.png" in r.stdout
