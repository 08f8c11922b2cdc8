"""`ata dtmf FILE.wav`: run the firmware's DTMF detector (dsp.dtmf, on MicroPython) over
an 8 kHz mono 16-bit PCM WAV and print `<start_ms> <end_ms> <digit>` per digit.

The WAV header is checked here in CPython (clear errors); MicroPython then streams the
samples from the file in 20 ms frames, as the firmware would, never loading it whole.
detect_raw() is the same machinery for many raw sample ranges in one MicroPython run
(the tests and the bench use it).
"""
import argparse
import os
import pathlib
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
MICROPYPATH = ":".join([".frozen", str(ROOT / "firmware"), str(ROOT / "boards" / "sim"),
                        str(ROOT / "lib")])

# MicroPython side: argv = frame, then (path, byte offset, samples) triples. For each
# range: a fresh detector, frames of `frame` samples read straight into one array.
_DRIVER = r"""
import sys
from array import array
from dsp.dtmf import DtmfDetector
frame = int(sys.argv[1])
buf = array('h', bytes(2 * frame))
out = []
det = DtmfDetector(on_digit=lambda d, a, b: print(a, b, d))
args = sys.argv[2:]
for j in range(0, len(args), 3):
    print('=', j // 3)
    det.reset()
    left = int(args[j + 2])
    with open(args[j], 'rb') as f:
        f.seek(int(args[j + 1]))
        while left > 0:
            k = frame if left > frame else left
            got = f.readinto(buf if k == frame else memoryview(buf)[:k]) // 2
            if got <= 0:
                break
            det.process(buf, got)
            left -= got
    det.flush()
"""


class WavError(Exception):
    pass


def wav_data(path):
    """Check an 8 kHz mono 16-bit PCM WAV; return (byte offset, samples) of its data."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise WavError("cannot open: %s" % (e.strerror or e))
    with f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError("not a WAV file (no RIFF/WAVE header)")
        size = os.fstat(f.fileno()).st_size
        fmt = None
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                raise WavError("no data chunk" if fmt else "no fmt chunk")
            cid, clen = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                body = f.read(clen)
                if len(body) < 16:
                    raise WavError("fmt chunk too short")
                tag, chans, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == 0xFFFE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]   # extensible: sub-format
                fmt = (tag, chans, rate, bits)
                if clen & 1:
                    f.read(1)
            elif cid == b"data":
                if fmt is None:
                    raise WavError("data chunk before fmt chunk")
                tag, chans, rate, bits = fmt
                if tag != 1:
                    raise WavError("not linear PCM (format tag %d); convert with "
                                   "`sox IN -e signed -b 16 -c 1 -r 8000 OUT.wav`" % tag)
                if chans != 1:
                    raise WavError("%d channels, need mono" % chans)
                if bits != 16:
                    raise WavError("%d-bit samples, need 16-bit" % bits)
                if rate != 8000:
                    raise WavError("sample rate %d Hz, need 8000 Hz" % rate)
                off = f.tell()
                n = min(clen, size - off) // 2
                return off, n
            else:
                f.seek(clen + (clen & 1), 1)


def detect_raw(items, frame=160, timeout=600):
    """Run dsp.dtmf over each (path, byte offset, samples) range of 16-bit little-endian
    samples; return a list (one per range) of [(start_ms, end_ms, digit)]."""
    argv = [str(MICROPYTHON), "-c", _DRIVER, str(frame)]
    for path, off, n in items:
        argv += [str(path), str(off), str(n)]
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    r = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("micropython failed (%d): %s" % (r.returncode, r.stderr or r.stdout))
    res = []
    for line in r.stdout.splitlines():
        if line.startswith("= "):
            res.append([])
        elif line.strip():
            a, b, d = line.split()
            res[-1].append((int(a), int(b), d))
    if len(res) != len(items):
        raise RuntimeError("micropython output incomplete: %r" % r.stdout[-500:])
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata dtmf",
                                 description="Detect DTMF digits in an 8 kHz mono 16-bit "
                                             "WAV with the firmware's detector; prints "
                                             "'<start_ms> <end_ms> <digit>' per digit.")
    ap.add_argument("wav", help="8 kHz mono 16-bit linear PCM WAV file")
    ap.add_argument("--frame", type=int, default=160,
                    help="samples per frame fed to the detector (default 160 = 20 ms)")
    a = ap.parse_args(argv)
    if a.frame < 1:
        print("ata dtmf: --frame must be at least 1", file=sys.stderr)
        return 2
    try:
        off, n = wav_data(a.wav)
    except WavError as e:
        print("ata dtmf: %s: %s" % (a.wav, e), file=sys.stderr)
        return 2
    try:
        (digits,) = detect_raw([(os.path.abspath(a.wav), off, n)], frame=a.frame)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print("ata dtmf: %s" % e, file=sys.stderr)
        return 1
    for s, e, d in digits:
        print(s, e, d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
