"""`ata bench` (`make bench`): cost of the DSP modules against spandsp, and DTMF talk-off.

One run, one table, also written to build/bench.txt:
- instructions per 20 ms frame, counted by valgrind's callgrind as the difference of
  two run lengths (start-up cancels), for the viper code (MicroPython unix port), the
  plain-Python reference (same port) and spandsp's C (bench/spandsp_ref.c, built here
  with gcc against libspandsp-dev), all on the same input; the ratio viper/C;
- heap bytes allocated per frame in steady state (gc.mem_alloc with gc disabled);
- DTMF talk-off: false digits from dsp.dtmf and from spandsp's dtmf_rx over >= 30
  minutes of espeak-ng speech (several voices and languages, made in a temp dir,
  resampled to 8 kHz by sox) plus synthetic music.
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BUILD = ROOT / "build"
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
MICROPYPATH = ":".join([".frozen", str(ROOT / "lib")])
FRAME = 160
RATE = 8000
A0 = 32768 / 10 ** (3.17 / 20)      # peak of a 0 dBm0 sine (docs/dsp.md)

# espeak-ng voices for the talk-off corpus: languages x voice variants, several speeds
VOICES = ["en-us", "en-gb+m3", "de+f2", "fr-fr+m1", "es+f4", "it+m4", "nl+f1",
          "pt-br+m2", "pl+f3", "sv+m5", "ru+m7", "fi+f2", "cs+m6", "hu+f4", "tr+m2"]
TEXTS = ["GPL-3", "Apache-2.0", "GFDL-1.3", "Artistic", "MPL-2.0", "LGPL-3", "GPL-2"]
ROWS = (697, 770, 852, 941)
COLS = (1209, 1336, 1477, 1633)
DIGITS = "123A456B789C*0#D"


# ---------------------------------------------------------------- signals

LICENSES = pathlib.Path("/usr/share/common-licenses")


def _texts():
    """The talk-off corpus's text: licences Debian's base-files package installs (an
    essential package, so present wherever `make setup` ran). Missing files are an
    error, never a silent stand-in text."""
    missing = [n for n in TEXTS if not (LICENSES / n).is_file()]
    if missing:
        raise RuntimeError(
            "speech corpus text missing: %s (from Debian's base-files package; "
            "restore it with `sudo apt-get install --reinstall base-files`)"
            % ", ".join(str(LICENSES / n) for n in missing))
    words = []
    for name in TEXTS:
        words += (LICENSES / name).read_text(errors="replace").split()
    return words


def make_speech(outdir, seconds, level_dbm0=-18.0, chunk=220):
    """Synthesize >= seconds of speech with espeak-ng in several voices and languages
    (the next voice of VOICES for each utterance of `chunk` words), resampled to 8 kHz
    16-bit mono by sox, each utterance scaled to level_dbm0 RMS.
    Returns a list of int16 arrays."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    words = _texts()
    # chunk: words per utterance (220: about 80 s of speech)
    jobs = []
    total_est = 0.0
    k = 0
    while total_est < seconds * 1.15:
        v = VOICES[k % len(VOICES)]
        w = words[(k * chunk) % max(1, len(words) - chunk):][:chunk]
        speed = 140 + (k * 17) % 60
        pitch = 30 + (k * 13) % 45
        jobs.append((k, v, " ".join(w), speed, pitch))
        total_est += len(w) / speed * 60 * 0.85
        k += 1

    def run(job):
        k, v, text, speed, pitch = job
        wav = outdir / ("u%03d.wav" % k)
        raw = outdir / ("u%03d.raw" % k)
        subprocess.run(["espeak-ng", "-v", v, "-s", str(speed), "-p", str(pitch),
                        "-w", str(wav), text], check=True, capture_output=True)
        subprocess.run(["sox", str(wav), "-t", "raw", "-r", "8000", "-e", "signed",
                        "-b", "16", "-c", "1", str(raw)], check=True, capture_output=True)
        x = np.fromfile(raw, dtype="<i2").astype(np.float64)
        wav.unlink()
        raw.unlink()
        return x

    out = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        for x in ex.map(run, jobs):
            rms = np.sqrt(np.mean(x * x)) or 1.0
            x = x * (A0 / np.sqrt(2) * 10 ** (level_dbm0 / 20) / rms)
            out.append(np.clip(np.round(x), -32768, 32767).astype(np.int16))
    return out


def make_music(seconds, seed=7):
    """Music-like signal: chords and melodies of harmonic notes with envelopes and
    vibrato on an equal-tempered scale (some intervals land near DTMF pairs)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n)
    t0 = 0
    while t0 < n:
        dur = int(rng.uniform(0.12, 0.9) * RATE)
        nnotes = rng.integers(1, 4)
        for _ in range(nnotes):
            midi = rng.integers(55, 96)
            f = 440 * 2 ** ((midi - 69) / 12)
            m = min(dur, n - t0)
            t = np.arange(m) / RATE
            vib = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 7) * t) * rng.integers(0, 2)
            env = np.minimum(1, t / 0.01) * np.exp(-t * rng.uniform(0.5, 6))
            nh = rng.integers(1, 7)
            s = sum((0.6 ** h) * np.sin(2 * np.pi * f * (h + 1) * vib * t + rng.uniform(0, 6))
                    for h in range(nh))
            x[t0:t0 + m] += env * s
        t0 += dur
    x *= A0 * 10 ** (-12 / 20) / (np.sqrt(np.mean(x * x)) * np.sqrt(2) or 1)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _dtmf(d, ms, dbm0, rng):
    i = DIGITS.index(d)
    t = np.arange(int(ms * 8)) / RATE
    a = A0 * 10 ** (dbm0 / 20)
    return a * (np.sin(2 * np.pi * ROWS[i // 4] * t + rng.uniform(0, 6))
                + np.sin(2 * np.pi * COLS[i % 4] * t + rng.uniform(0, 6)))


def make_mixed(speech, seconds=15, seed=3):
    """The bench's mixed signal: one third digits (70 ms on / 70 ms off, -10 dBm0),
    one third speech, one third quiet line noise (-65 dBm0), in 1 s pieces."""
    rng = np.random.default_rng(seed)
    sp = np.concatenate(speech)
    parts = []
    sp_off = RATE * 5
    for k in range(seconds):
        kind = k % 3
        if kind == 0:
            p = []
            while sum(len(q) for q in p) < RATE - 1120:
                p.append(_dtmf(DIGITS[rng.integers(0, 16)], 70, -10, rng))
                p.append(np.zeros(560))
            x = np.concatenate(p)
            x = np.concatenate([x, np.zeros(RATE - len(x))])
        elif kind == 1:
            x = sp[sp_off:sp_off + RATE].astype(np.float64)
            sp_off += RATE
        else:
            x = np.zeros(RATE)
        x = x + rng.standard_normal(RATE) * A0 / np.sqrt(2) * 10 ** (-65 / 20)
        parts.append(x)
    return np.clip(np.round(np.concatenate(parts)), -32768, 32767).astype(np.int16)


def make_speech_only(speech, seconds=20, seed=4):
    """Continuous speech: the utterances back to back (several voices, their own short
    pauses kept), `seconds` long from 1 s into the first, plus the quiet line noise
    (-65 dBm0) of the mixed signal."""
    rng = np.random.default_rng(seed)
    sp = np.concatenate(speech)[RATE:RATE * (seconds + 1)].astype(np.float64)
    if len(sp) < RATE * seconds:
        raise RuntimeError("speech row: %.1f s of speech, need %d" % (len(sp) / RATE, seconds))
    x = sp + rng.standard_normal(len(sp)) * A0 / np.sqrt(2) * 10 ** (-65 / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def make_noisy_digits(seconds=20, snr_db=15.0, seed=5):
    """Digits in white noise: random digits 70 ms on / 70 ms off at -10 dBm0 per tone,
    white noise throughout at snr_db below the digit's power (two tones of -10 dBm0:
    -7 dBm0), as in the Q.24 test's noise case. Returns (samples, digits sent)."""
    rng = np.random.default_rng(seed)
    p = []
    sent = []
    n = 0
    while n < RATE * seconds - 1120:
        d = DIGITS[rng.integers(0, 16)]
        sent.append(d)
        p += [_dtmf(d, 70, -10, rng), np.zeros(560)]
        n += 1120
    x = np.concatenate(p + [np.zeros(RATE * seconds - n)])
    noise_dbm0 = -10 + 10 * np.log10(2) - snr_db
    x = x + rng.standard_normal(len(x)) * A0 / np.sqrt(2) * 10 ** (noise_dbm0 / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), "".join(sent)


# ---------------------------------------------------------------- runners

def build_spandsp_ref(out=None):
    """Compile bench/spandsp_ref.c (once; again when the source changes)."""
    out = pathlib.Path(out) if out else BUILD / "bench" / "spandsp_ref"
    out.parent.mkdir(parents=True, exist_ok=True)
    src = ROOT / "bench" / "spandsp_ref.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out), str(src), "-lspandsp", "-lm"],
                       check=True)
    return out


def spandsp_digits(exe, raw_path):
    n = os.path.getsize(raw_path) // (2 * FRAME)
    r = subprocess.run([str(exe), "dtmf", str(raw_path), str(n)], check=True,
                       capture_output=True, text=True)
    return [tuple(line.split()) for line in r.stdout.splitlines() if line.strip()]


def _callgrind(cmd, env=None):
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
                       + [str(c) for c in cmd], capture_output=True, text=True, env=env)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr) or re.search(r"refs:\s*([\d,]+)",
                                                                     r.stderr)
    if r.returncode != 0 or not m:
        raise RuntimeError("callgrind failed for %s: %s" % (cmd, r.stderr[-800:]))
    return int(m.group(1).replace(",", ""))


def _per_frame(make_cmd, frames, env=None):
    a = _callgrind(make_cmd(1), env)
    b = _callgrind(make_cmd(2), env)
    return (b - a) / frames


def _mpy_env():
    return dict(os.environ, MICROPYPATH=MICROPYPATH)


def mpy_cost(mode, raw, frames):
    drv = ROOT / "bench" / "mpy_bench.py"
    return _per_frame(lambda reps: [MICROPYTHON, "-X", "heapsize=8M", drv, mode, raw, reps],
                      frames, _mpy_env())


def mpy_alloc(mode, raw):
    r = subprocess.run([str(MICROPYTHON), "-X", "heapsize=8M",
                        str(ROOT / "bench" / "mpy_bench.py"), mode, str(raw), "1", "alloc"],
                       capture_output=True, text=True, env=_mpy_env(), check=True)
    return float(r.stdout.split()[-1])


def c_cost(exe, mode, raw, frames):
    args = (lambda reps: [exe, mode, frames * reps]) if mode == "tone" else \
        (lambda reps: [exe, mode, raw, frames * reps])
    return _per_frame(args, frames)


def dtmf_cost(exe, raw, frames, ex):
    """Instructions per frame of the DTMF detector alone, on both sides the same way:
    (detector run) - (same loop, no detector), each a callgrind difference of two run
    lengths. Returns futures (viper, spandsp)."""
    mv = ex.submit(mpy_cost, "dtmf", raw, frames)
    m0 = ex.submit(mpy_cost, "none", raw, frames)
    cv = ex.submit(c_cost, exe, "dtmf", raw, frames)
    c0 = ex.submit(c_cost, exe, "none", raw, frames)
    return mv, m0, cv, c0


def _have(mod):
    return (ROOT / "lib" / "dsp" / (mod + ".py")).exists()


# ---------------------------------------------------------------- the bench

def talkoff(exe, workdir, minutes, music_minutes=5):
    """False digits over speech + music: returns (ours, spandsp, speech s, music s)."""
    from ata.dtmf_cmd import detect_raw
    speech = make_speech(pathlib.Path(workdir) / "speech", minutes * 60)
    speech_s = sum(len(x) for x in speech) / RATE
    sig = np.concatenate(speech + [make_music(music_minutes * 60)])
    raw = pathlib.Path(workdir) / "talkoff.raw"
    sig.astype("<i2").tofile(raw)
    ours = detect_raw([(raw, 0, len(sig))], timeout=3600)[0]
    theirs = spandsp_digits(exe, raw)
    return ours, theirs, speech_s, music_minutes * 60


BAR = 2.0      # DTMF: viper instructions per frame at most 2x spandsp's, on every row


def dtmf_inputs(work):
    """The three DTMF rows' inputs, written to raw files in work: (name, description,
    path, frames, digits sent or None)."""
    mixed = make_mixed(make_speech(work / "mix", 40))
    speech = make_speech_only(make_speech(work / "speech", 25, chunk=25), 20)
    noisy, sent = make_noisy_digits(20, 15.0)
    out = []
    for name, desc, x, d in (
            ("mixed", "15 s: 1/3 digits, 1/3 speech, 1/3 quiet line", mixed, None),
            ("speech", "20 s of continuous espeak-ng speech, 4 voices, -18 dBm0", speech,
             ""),
            ("noisy digits", "20 s: digits 70/70 ms, -10 dBm0/tone, white noise 15 dB SNR",
             noisy, sent)):
        raw = work / (name.replace(" ", "_") + ".raw")
        x.astype("<i2").tofile(raw)
        out.append((name, desc, raw, len(x) // FRAME, d))
    return out


def run(minutes=30, out=None, log=print, dtmf_only=False):
    """The DSP table (and, unless dtmf_only, the G.711/tone rows and the talk-off
    count). Returns (text, every DTMF row within BAR)."""
    from ata.dtmf_cmd import detect_raw
    t_start = time.time()
    exe = build_spandsp_ref()
    work = pathlib.Path(tempfile.mkdtemp(prefix="ata-bench-"))
    try:
        log("bench: synthesizing speech (espeak-ng) ...")
        inputs = dtmf_inputs(work)
        _, _, raw, frames, _ = inputs[0]          # the mixed signal: every function's input
        items = []
        if not dtmf_only:
            items = [("DTMF detector", "dtmf", "dtmf_ref", "dtmf")]
            if _have("g711"):
                items += [("G.711 u-law encode", "ulaw_enc", "ulaw_enc_ref", "ulaw_enc"),
                          ("G.711 u-law decode", "ulaw_dec", "ulaw_dec_ref", "ulaw_dec"),
                          ("G.711 A-law encode", "alaw_enc", "alaw_enc_ref", "alaw_enc"),
                          ("G.711 A-law decode", "alaw_dec", "alaw_dec_ref", "alaw_dec")]
            if _have("tone"):
                items += [("tone generator (dual)", "tone", "tone_ref", "tone")]
        log("bench: callgrind runs over the DTMF rows and %d frames of the mixed signal ..."
            % frames)
        dtmf_rows = []
        rows = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            djobs = [(name, desc, n, sent, dtmf_cost(exe, path, n, ex),
                      ex.submit(lambda p=path: detect_raw([(p, 0, os.path.getsize(p) // 2)])[0]),
                      ex.submit(spandsp_digits, exe, path))
                     for name, desc, path, n, sent in inputs]
            jobs = []
            if items:
                base = ex.submit(mpy_cost, "none", raw, frames)
                cbase = ex.submit(c_cost, exe, "none", raw, frames)
                for name, vm, rm, cm in items:
                    jobs.append((name,
                                 ex.submit(mpy_cost, vm, raw, frames),
                                 ex.submit(mpy_cost, rm, raw, frames),
                                 ex.submit(c_cost, exe, cm, raw, frames),
                                 ex.submit(mpy_alloc, vm, raw),
                                 ex.submit(mpy_alloc, rm, raw)))
            for name, desc, n, sent, (mv, m0, cv, c0), ours, theirs in djobs:
                dtmf_rows.append((name, desc, n, sent, mv.result() - m0.result(),
                                  cv.result() - c0.result(), ours.result(), theirs.result()))
            if items:
                b = base.result()
                cb = cbase.result()
                for name, v, r, c, av, ar in jobs:
                    rows.append((name, v.result() - b, r.result() - b, c.result() - cb,
                                 av.result(), ar.result()))
        if not dtmf_only:
            log("bench: talk-off over %g minutes of speech + music ..." % minutes)
            t_ours, t_theirs, speech_s, music_s = talkoff(exe, work, minutes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = []
    lines.append("ata bench: instructions per 20 ms frame (160 samples), callgrind, x86-64;")
    lines.append("each side: (run with the function) - (same frame loop without it), "
                 "see docs/bench.md")
    lines.append("")
    lines.append("DTMF detector, dsp.dtmf (viper) beside spandsp dtmf_rx on the same input "
                 "(bar: <= %.1fx on every row)" % BAR)
    hdr = "%-14s %7s %12s %12s %8s %6s   %s" % (
        "input", "frames", "dsp.dtmf", "spandsp C", "ratio", "bar", "digits: dsp.dtmf / spandsp")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    ok = True
    for name, desc, n, sent, v, c, ours, theirs in dtmf_rows:
        r = v / c if c else float("inf")
        ok = ok and r <= BAR
        if sent is None:
            dig = "%d / %d" % (len(ours), len(theirs))
        elif sent == "":
            dig = "%d / %d (false)" % (len(ours), len(theirs))
        else:
            got = "".join(d for _, _, d in ours)
            dig = "%d / %d of %d sent%s" % (len(ours), len(theirs), len(sent),
                                            "" if got == sent else " (dsp.dtmf: not the "
                                                                   "digits sent)")
        lines.append("%-14s %7d %12.0f %12.0f %8.2f %6s   %s" % (
            name, n, v, c, r, "PASS" if r <= BAR else "FAIL", dig))
    for name, desc, *_ in dtmf_rows:
        lines.append("  %-12s %s" % (name + ":", desc))
    if rows:
        lines.append("")
        lines.append("every function on the mixed signal (%d frames)" % frames)
        hdr = "%-24s %12s %14s %12s %9s %12s %12s" % (
            "function", "viper", "Python ref", "spandsp C", "viper/C", "heap B/fr",
            "ref heap B")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for name, v, r, c, av, ar in rows:
            lines.append("%-24s %12.0f %14.0f %12.0f %9.2f %12.1f %12.1f" % (
                name, v, r, c, v / c if c else float("nan"), av, ar))
        enc = {n: (v, c) for n, v, _, c, _, _ in rows}
        if "G.711 u-law encode" in enc:
            for law in ("u-law", "A-law"):
                v = enc["G.711 %s encode" % law][0] + enc["G.711 %s decode" % law][0]
                c = enc["G.711 %s encode" % law][1] + enc["G.711 %s decode" % law][1]
                lines.append("%-24s %12.0f %14s %12.0f %9.2f" % (
                    "G.711 %s enc+dec" % law, v, "", c, v / c))
        lines.append("")
        lines.append("DTMF talk-off: %.1f minutes of espeak-ng speech (%d voices, %d languages) "
                     "and %.0f minutes of synthetic music" % (
                         speech_s / 60, len(VOICES), len({v.split("+")[0].split("-")[0]
                                                          for v in VOICES}), music_s / 60))
        lines.append("  false digits, dsp.dtmf:        %d  %s" % (
            len(t_ours), " ".join(d for _, _, d in t_ours)[:200]))
        lines.append("  false digits, spandsp dtmf_rx: %d  %s" % (
            len(t_theirs), " ".join(t[2] for t in t_theirs)[:200]))
    lines.append("")
    lines.append("DTMF rows: %s" % ("PASS" if ok else "FAIL"))
    lines.append("(bench took %.0f s)" % (time.time() - t_start))
    text = "\n".join(lines) + "\n"
    out = pathlib.Path(out) if out else BUILD / "bench.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text, ok


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ata bench", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30,
                    help="minutes of speech for the talk-off count (default 30)")
    ap.add_argument("--out", default=None, help="table file (default build/bench.txt)")
    ap.add_argument("--only", choices=("dsp", "dtmf", "audio", "heap", "ota", "sip", "cost"),
                    default=None,
                    help="only the DSP table, only its three DTMF cost rows (no talk-off), "
                         "only the call-audio figures (PESQ, pacing), only the heap figures, "
                         "only the OTA verification cost, only the instructions to parse "
                         "SIP messages, or only the whole firmware's cost per frame")
    a = ap.parse_args(argv)
    rc = 0
    if a.only not in ("audio", "heap", "ota", "sip", "cost"):
        text, ok = run(minutes=a.minutes, out=a.out, dtmf_only=a.only == "dtmf",
                       log=lambda m: print(m, file=sys.stderr, flush=True))
        print(text, end="", flush=True)
        if not ok:
            rc = 1
    if a.only in (None, "audio"):
        from ata import pesq_bench     # PESQ through the ATA's RTP path, RTP pacing
        rc = pesq_bench.main([]) or rc
    if a.only in (None, "heap"):
        from ata import heap_bench     # GC heap from ROMFS vs .mpy files, in a call
        rc = heap_bench.main([]) or rc
    if a.only in (None, "ota"):
        from ata import ota_bench      # Ed25519 verify and SHA-512 cost (lib/ota)
        rc = ota_bench.main([]) or rc
    if a.only in (None, "sip"):
        from ata import sip_bench      # instructions to parse a SIP response, an INVITE
        rc = sip_bench.main([]) or rc
    if a.only in (None, "cost"):
        from ata import cost_bench     # the whole sim firmware per frame, idle and in a call
        rc = cost_bench.main([]) or rc
    return rc


if __name__ == "__main__":
    sys.exit(main())
