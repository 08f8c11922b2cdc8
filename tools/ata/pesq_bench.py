"""`ata bench` audio figures: PESQ (ITU-T P.862 narrowband) of speech through the ATA's
RTP path, beside baresip-to-baresip on the same path, clean and with network
impairment, and the ATA's RTP send pacing on the sim.

Speech: a few Harvard sentences spoken by espeak-ng at run time, resampled by sox to
8 kHz mono 16-bit (nothing committed as audio). Rows, all in one run:

  (a) ceiling   the same speech through G.711 mu-law encode + decode offline
  (b) ATA clean the virtual phone <-> sim ATA <-> Kamailio <-> baresip, no impairment
  (c) baresip<->baresip clean, through the same Kamailio
  (d) ATA impaired, and (e) baresip<->baresip impaired: loss and delay+jitter on the
      RTP path, each direction with its own seeded pattern, the same seeds for both

Every row is RUNS runs (seeds SEED, SEED+1, ...), one call per run and direction;
the table gives mean, spread and range over the runs. Both ends record what a
clocked player plays: the ATA's earpiece (the sim's 20 ms codec clock) and
baresip's playout through an aubridge device pulled every 20 ms (peers.Baresip
clocked_record), with baresip's plc filter and default buffers (BARESIP_SETUP).

The impairment sits in the media path by a Kamailio config made for the bench: it
rewrites the m=audio ports of the SDP bodies it relays, so each side sends its RTP to
an ata.impair relay that forwards to the other side's real port.

    .venv/bin/python -m ata.pesq_bench [--runs N] [--reps N] [--quick] [--no-impair]

Prints the table and writes build/bench-pesq.txt (and .json). Exit status 1 when a
figure misses its target (clean ATA mean within 0.05 of the ceiling, impaired ATA
mean not below baresip's, 99 % of send intervals within 20 +- 2 ms).
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy import signal as sps

from . import paths, peers, signals
from .impair import Relay
from .phone import VirtualPhone
from .rtpbench import interval_report, send_intervals
from .sim import SimProcess

RATE = 8000
SENTENCES = (                       # Harvard sentences (IEEE 1969), list 1
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
)
ESPEAK_VOICE = "en-us"
ESPEAK_WPM = 150
SPEECH_GAIN_DB = -6.0               # espeak peaks near -3.5 dBFS: keep headroom in the path
PAD_S = 0.6                         # silence around each occurrence of the speech
SCORE_PAD_S = 0.3                   # silence kept around the speech in scored segments
WARMUP_S = 1.0                      # call audio skipped before the first scored occurrence
MIN_CORR = 0.2                      # normalised correlation below this: the speech is not there
LOSS_PCT = 5.0
DELAY_MS = 30.0
JITTER_MS = 10.0                    # uniform +-, so 20..40 ms one way
SEED = 862                          # first relay seed; run i uses SEED + i, for both systems
RUNS = 5                            # runs per configuration: one run is not a figure
IMPAIR = {"loss": LOSS_PCT, "delay_ms": DELAY_MS, "jitter_ms": JITTER_MS}
DIRECTIONS = ("to_far", "to_phone")
DIRECTION_NAMES = (("to_far", "phone->far"), ("to_phone", "far->phone"))
ROW_NAMES = (("ata/clean", "(b) ATA path, clean"), ("b2b/clean", "(c) baresip<->baresip, clean"),
             ("ata/impaired", "(d) ATA path, impaired"),
             ("b2b/impaired", "(e) baresip<->baresip, impaired"))
# baresip as its users run it: the defaults of its config template (jitter buffer
# 5-10 frames, receive buffer 20-160 ms, written out so the report is exact), and
# Debian's plc module (spandsp's G.711 Appendix I style concealment) loaded.
BARESIP_JBUF_FRAMES = (5, 10)
BARESIP_AUBUF_MS = (20, 160)
BARESIP_SETUP = ("g711 PCMU 20 ms, plc.so (spandsp plc), jitter_buffer_delay %d-%d frames, "
                 "audio_buffer %d-%d ms (baresip's defaults); recorded: its playout pulled "
                 "every 20 ms by an aubridge device (clocked player), via sndfile"
                 % (BARESIP_JBUF_FRAMES + BARESIP_AUBUF_MS))
ATA_SETUP = ("sim firmware defaults: PCMU 20 ms, adaptive jitter buffer 20-200 ms, "
             "rtp.plc concealer; recorded: the virtual phone's earpiece on the sim's 20 ms clock")
CLEAN_MARGIN = 0.05                 # (b) must be within this of (a)
PACING_NOMINAL_MS = 20.0
PACING_TOL_MS = 2.0
PACING_TARGET_PCT = 99.0
CALL_ATTEMPTS = 2                   # set-up failures (port races with other jobs) retried once
RT_PRIORITY = 10                    # SCHED_FIFO priority of the media-path processes (--rt)


# -- real-time priority for the media path ------------------------------------------------
def set_realtime(pid, on=True):
    """SCHED_FIFO (on) or back to SCHED_OTHER for every thread of process pid (0: us).
    The ATA on a board owns its CPU and its codec clock; the sim on a shared host
    does not, and other jobs' load shows up as frame slips between its 20 ms clock,
    the media task and the virtual phone, which would be scored as the RTP path's.
    So every process on the media path runs at SCHED_FIFO during calls: the sim,
    this process (virtual phone, impairment relay) and baresip (its quiet variant:
    the stock one busy-loops and would starve the host), alike in the ATA and the
    baresip<->baresip runs. Returns False when not permitted."""
    pid = pid or os.getpid()
    pol, prm = ((os.SCHED_FIFO, os.sched_param(RT_PRIORITY)) if on
                else (os.SCHED_OTHER, os.sched_param(0)))
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            os.sched_setscheduler(int(tid), pol, prm)
    except (OSError, ValueError):
        return False
    return True


# -- speech and the offline codec --------------------------------------------------------
def make_speech(workdir, sentences=SENTENCES):
    """espeak-ng -> sox (8 kHz mono 16-bit, no dither: the same samples every run);
    returns the int16 samples."""
    workdir.mkdir(parents=True, exist_ok=True)
    raw, wav = workdir / "espeak.wav", workdir / "speech-8k.wav"
    subprocess.run(["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(ESPEAK_WPM), "-w", str(raw),
                    " ".join(sentences)], check=True, capture_output=True)
    subprocess.run(["sox", "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16",
                    "-e", "signed-integer", str(wav), "gain", str(SPEECH_GAIN_DB)],
                   check=True, capture_output=True)
    x = signals.read_wav(wav)
    nz = np.flatnonzero(np.abs(x.astype(np.int32)) > 32)   # trim espeak's own silence
    return x[nz[0]:nz[-1] + 1].copy()


def ulaw_encode(x):
    """G.711 mu-law encode (int16 -> codes) on the 14-bit sample, as the Sun/CCITT
    reference code does (the firmware's encoder is bit-exact with it)."""
    v = np.asarray(x, dtype=np.int32) >> 2
    neg = v < 0
    m = np.minimum(np.where(neg, -v, v) + 33, 8191)
    seg = np.floor(np.log2(m)).astype(np.int32) - 5
    code = (seg << 4) | ((m >> (seg + 1)) & 0x0F)
    return code ^ np.where(neg, 0x7F, 0xFF)


def ulaw_decode(code):
    c = ~np.asarray(code, dtype=np.int32) & 0xFF
    exp = (c >> 4) & 7
    mag = (((c & 0x0F) << 3) + 0x84 << exp) - 0x84
    return np.where(c & 0x80, -mag, mag).astype(np.int16)


def pesq_nb(ref, deg):
    from pesq import pesq
    return float(pesq(RATE, np.asarray(ref, np.float32), np.asarray(deg, np.float32), "nb"))


def padded(speech, pad_s):
    z = np.zeros(int(pad_s * RATE), np.int16)
    return np.concatenate([z, speech, z])


# -- alignment and scoring ----------------------------------------------------------------
def find_occurrences(ref, rec, period, skip, count):
    """Start indices in rec of up to `count` occurrences of ref (repeating every
    `period` samples), each found by cross-correlation in a window that holds a
    full one; the search starts `skip` samples in."""
    ref = np.asarray(ref, np.float64)
    rec = np.asarray(rec, np.float64)
    eref = np.sqrt(np.sum(ref * ref))
    starts, pos = [], skip
    while len(starts) < count and pos + len(ref) <= len(rec):
        win = rec[pos:pos + period + len(ref)]
        if len(win) < len(ref):
            break
        c = sps.correlate(win, ref, mode="valid", method="fft")
        k = int(np.argmax(c))
        seg = win[k:k + len(ref)]
        norm = c[k] / (eref * np.sqrt(np.sum(seg * seg)) + 1e-9)
        if norm >= MIN_CORR:
            starts.append((pos + k, float(norm)))
            pos += k + len(ref)
        else:
            pos += period
    return starts


def slips(speech, rec, start, block=2000, search=1600, min_peak=1000):
    """Timing slips inside one aligned occurrence: the local delay of each block of
    speech (found by cross-correlation within +-search samples) relative to `start`;
    returns how many times it changes (frames dropped or inserted on the way)."""
    lags = []
    for b in range(0, len(speech) - block, block):
        seg = speech[b:b + block].astype(np.float64)
        if np.abs(seg).max() < min_peak:
            continue
        lo = max(0, start + b - search)
        win = np.asarray(rec[lo:start + b + block + search], np.float64)
        if len(win) < block:
            break
        k = int(np.argmax(sps.correlate(win, seg, mode="valid", method="fft")))
        lags.append(lo + k - (start + b))
    return sum(1 for a, b in zip(lags, lags[1:]) if abs(a - b) > 8)


def score_recording(speech, rec, period, count, skip_s=WARMUP_S):
    """[(start s, correlation, PESQ, slips)] for the occurrences of speech in rec."""
    pad = int(SCORE_PAD_S * RATE)
    ref = padded(speech, SCORE_PAD_S)
    out = []
    for start, corr in find_occurrences(speech, rec, period, int(skip_s * RATE), count):
        if start - pad < 0 or start + len(speech) + pad > len(rec):
            continue
        deg = rec[start - pad:start + len(speech) + pad]
        out.append((start / RATE, corr, pesq_nb(ref, deg), slips(speech, rec, start)))
    return out


def mean_score(rows):
    return float(np.mean([r[2] for r in rows])) if rows else float("nan")


# -- Kamailio that moves the media through relays -----------------------------------------
class SdpRelayKamailio(peers.Kamailio):
    """peers.Kamailio that moves the media through a relay: in SDP bodies it relays,
    the caller's `m=audio` port (any: the ATA picks a random one per call) becomes
    caller_to, in requests from caller_user; the callee's known port callee_port
    becomes callee_to, in requests and replies. (A re-INVITE from the callee,
    answered by the caller, would not be rewritten: none is sent in these calls.)"""

    def __init__(self, workdir, caller_user, caller_to, callee_port, callee_to, **kw):
        super().__init__(workdir, **kw)
        self.caller_user, self.caller_to = caller_user, caller_to
        self.callee_port, self.callee_to = callee_port, callee_to

    def config_text(self):
        text = super().config_text()
        callee = '        subst_body("/m=audio %d RTP/m=audio %d RTP/");\n' % (
            self.callee_port, self.callee_to)
        caller = ('        if ($fU == "%s") subst_body("/m=audio [0-9]+ RTP/m=audio %d RTP/");\n'
                  % (self.caller_user, self.caller_to))
        relay = ("route[RELAY] {\n"
                 "    if (has_body(\"application/sdp\")) {\n%s%s    }\n"
                 "    t_on_reply(\"SDP\");\n"
                 "    if (!t_relay()) sl_reply_error();\n"
                 "    exit;\n}\n\n"
                 "onreply_route[SDP] {\n"
                 "    if (has_body(\"application/sdp\")) {\n%s    }\n}\n") % (caller, callee, callee)
        new, n = re.subn(r"route\[RELAY\] \{.*?\n\}\n", lambda m: relay, text, flags=re.S)
        if n != 1:
            raise RuntimeError("kamailio example: route[RELAY] not found")
        return new


# -- one call: the sim ATA (1001) -> Kamailio -> baresip (1002) ----------------------------
def _relay(far_port, impair):
    """Relay between the far end (side A) and the near end (side B). The near end's
    address is learned from its first datagram (the ATA's port is random per call),
    for the ATA and baresip 1001 alike."""
    return Relay(b_addr=None, a_addr=("127.0.0.1", far_port),
                 loss=impair["loss"], delay_ms=impair["delay_ms"],
                 jitter_ms=impair["jitter_ms"], seed=impair["seed"]).start()


def _kamailio(workdir, relay, far_port):
    if relay is None:
        return peers.Kamailio(workdir).start()
    # the far end is told to send to relay side A, the near end (caller 1001) to side B
    return SdpRelayKamailio(workdir, "1001", relay.a_port, far_port, relay.b_port).start()


def _wav_repeated(path, unit, seconds):
    reps = int(np.ceil(seconds * RATE / len(unit)))
    signals.write_wav(path, np.tile(unit, reps))
    return path


def _console_json(sim, command, pattern):
    """Type a console command and parse the JSON the firmware prints for it."""
    n = len(sim.log_text())
    sim.send(command)
    try:
        return json.loads(sim.wait_log(pattern, 5, start=n).group(1))
    except (TimeoutError, ValueError):
        return None


def _far_baresip(work, kam_port, rtp_lo, user, password, wav, receiver):
    """A baresip as its users run it (see BARESIP_SETUP). receiver: its clocked
    playout is recorded (and echoed back); otherwise it plays `wav`."""
    return peers.Baresip(work / ("baresip-" + user), user, password, kam_port, audio_wav=wav,
                         record_dir=work / ("rec-" + user), rtp_range=(rtp_lo, rtp_lo + 1),
                         codecs="PCMU", plc=True, clocked_record=receiver,
                         jitter_buffer=BARESIP_JBUF_FRAMES, audio_buffer=BARESIP_AUBUF_MS).start()


def _playout(bs):
    """What baresip's clocked player played: sndfile's recording of the bridged source."""
    rec = bs.recordings("enc")
    return signals.read_wav(rec[-1]) if rec else np.zeros(0, np.int16)


def ata_call(work, unit, call_s, direction, impair=None, capture=False, rt=False, log=print):
    """One call from the virtual phone to baresip 1002, scoring one direction.
    to_far: the phone plays `unit` in a loop, baresip's clocked playout is the recording
    (its echo comes back to the phone). to_phone: both play `unit`, the phone's earpiece
    (clocked by the sim) is the recording. Returns {"heard", "relay", "pacing", ...}."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    far_lo = peers.free_udp_range(2)[0]
    relay = _relay(far_lo, impair) if impair else None
    kam = far = sim = phone = cap = None
    res = {"relay": None, "pacing": None, "rt": False}
    try:
        kam = _kamailio(work / "kamailio", relay, far_lo)
        wav = _wav_repeated(work / "speech.wav", unit, call_s + 20)
        far = _far_baresip(work, kam.port, far_lo, "1002", "secret2", wav, direction == "to_far")
        cfg = {
            "sip": {"server": "127.0.0.1", "port": kam.port, "user": "1001",
                    "password": "secret1", "sip_port": peers.free_udp_port(), "expires": 120},
            "rtp": {"codecs": "PCMU"},     # the firmware's own (random) RTP port
            "line": {"country": "US", "interdigit_ms": 1000},
            "sim": {"phone_port": peers.free_tcp_port()},
        }
        if capture:
            pcap = work / "ata-rtp.pcap"
            cap = subprocess.Popen(["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode",
                                    "-w", str(pcap), "udp and dst port %d" % far_lo],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        sim = SimProcess(cfg, run_dir=work / "sim").start()
        sim.wait_log("sip: registered", 15)
        if rt:
            res["rt"] = set_realtime(0) and set_realtime(sim.proc.pid) and \
                set_realtime(far.proc.pid)
        phone = VirtualPhone("127.0.0.1", cfg["sim"]["phone_port"]).connect()
        if rt:
            set_realtime(0)             # the phone's reader thread too
        phone.off_hook()
        phone.sleep_sim(300)
        phone.dial_dtmf("1002", on_ms=70, off_ms=70, level_dbm0=-8)
        far.wait_event("CALL_ESTABLISHED", 15)
        sim.wait_log("call: confirmed", 5)
        t_call = phone.sim_now_us
        phone.play(signals.WavSource(wav, loop=True))
        log("  call up (%s); %.0f s" % (direction, call_s))
        phone.sleep_sim(call_s * 1000)
        if direction == "to_phone":
            res["heard"] = phone.recording(t_call)
        calls = _console_json(sim, "calls", r"(\{.*\"call\": .*\})\n") or {}
        res["rtp"] = calls.get("rtp")
        res["media"] = _console_json(sim, "status", r"media: (\{.*\})\n")
        phone.silence()
        phone.on_hook()
        far.wait_event("CALL_CLOSED", 10)
        res["dtmf"] = len(re.findall(r"call: DTMF", sim.log_text()))
    finally:
        set_realtime(0, False)
        for p in (phone, sim, far, kam):
            if p is not None:
                p.close() if p is phone else p.stop()
        if relay is not None:
            relay.stop()
            res["relay"] = relay.stats
        if cap is not None:
            time.sleep(0.3)
            cap.terminate()
            cap.wait(5)
    if direction == "to_far":
        res["heard"] = _playout(far)
    if capture:
        res["pacing"] = interval_report(send_intervals(work / "ata-rtp.pcap", far_lo, pt=0),
                                        PACING_NOMINAL_MS, PACING_TOL_MS)
    return res


def b2b_call(work, unit, call_s, direction, impair=None, rt=False, log=print):
    """baresip 1001 (in the ATA's place, relay side B) calls baresip 1002 through the
    same Kamailio and relay settings. The receiver of `direction` (1002 for to_far,
    1001 for to_phone) records its clocked playout and echoes it; the other plays `unit`."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    near_lo = peers.free_udp_range(2)[0]
    far_lo = peers.free_udp_range(2)[0]
    relay = _relay(far_lo, impair) if impair else None
    kam = far = near = None
    res = {"rt": False}
    try:
        kam = _kamailio(work / "kamailio", relay, far_lo)
        wav = _wav_repeated(work / "speech.wav", unit, call_s + 20)
        far = _far_baresip(work, kam.port, far_lo, "1002", "secret2", wav, direction == "to_far")
        near = _far_baresip(work, kam.port, near_lo, "1001", "secret1", wav,
                            direction == "to_phone")
        if rt:
            res["rt"] = set_realtime(0) and set_realtime(near.proc.pid) and \
                set_realtime(far.proc.pid)
        near.dial("sip:1002@127.0.0.1:%d" % kam.port)
        far.wait_event("CALL_ESTABLISHED", 15)
        log("  call up (%s); %.0f s" % (direction, call_s))
        time.sleep(call_s + 0.5)
        near.hangup()
        far.wait_event("CALL_CLOSED", 10)
    finally:
        set_realtime(0, False)
        for p in (near, far, kam):
            if p is not None:
                p.stop()
        if relay is not None:
            relay.stop()
    res["relay"] = relay.stats if relay else None
    res["heard"] = _playout(far if direction == "to_far" else near)
    return res


# -- the bench --------------------------------------------------------------------------------
def summary(scores):
    """mean, sample stdev, min, max of per-run scores (nan when a run has none)."""
    s = np.asarray(scores, float)
    if len(s) == 0 or np.isnan(s).any():
        return {"n": len(s), "mean": float("nan"), "sd": float("nan"),
                "min": float("nan"), "max": float("nan")}
    return {"n": len(s), "mean": float(s.mean()), "sd": float(s.std(ddof=1)) if len(s) > 1 else 0.0,
            "min": float(s.min()), "max": float(s.max())}


def _call_retried(call, work, unit, call_s, d, imp, rt, log, kw, attempts=CALL_ATTEMPTS):
    """One call; set-up failures (a port taken by another job between pick and bind)
    get another attempt with fresh ports, noted in the run. A call that still fails
    is a failed run (nan), not the end of the bench."""
    errors = []
    for _ in range(attempts):
        try:
            r = call(work, unit, call_s, d, imp, rt=rt, log=log, **kw)
            break
        except (RuntimeError, TimeoutError, OSError) as e:
            lines = str(e).splitlines() or [repr(e)]
            why = [ln for ln in lines if "ERROR" in ln or "rror:" in ln]  # the peer's reason
            errors.append((lines[0][:80] + " ... " + why[0][-160:] if why else lines[0])[:250])
            log("  call failed: %s" % errors[-1])
    else:
        r = {"heard": np.zeros(0, np.int16)}
    r["error"] = "; ".join(errors) or None
    return r


def measure(out, sentences=SENTENCES, reps=1, runs=RUNS, impaired=True, b2b=True, pacing=True,
            rt=True, log=print):
    """Every configuration (clean; impaired) x run (seed SEED+i, the same seed set for
    both systems) x system (ATA; baresip<->baresip, interleaved so host load drifts
    over both alike) x direction: one call each, `reps` occurrences scored per call.
    Returns the figures: fig["runs"][system/config][direction] = list of run dicts."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="speech-", dir=str(out)))
    speech = make_speech(tmp / "speech", sentences)
    unit = padded(speech, PAD_S)
    call_s = WARMUP_S + (reps + 1) * len(unit) / RATE
    ref = padded(speech, SCORE_PAD_S)
    seeds = [SEED + i for i in range(runs)]
    fig = {"speech_s": len(speech) / RATE, "reps": reps, "seeds": seeds, "runs": {},
           "ceiling": pesq_nb(ref, ulaw_decode(ulaw_encode(ref))),
           "baresip": baresip_version()}
    configs = [("clean", None)] + ([("impaired", IMPAIR)] if impaired else [])
    systems = [("ata", ata_call)] + ([("b2b", b2b_call)] if b2b else [])
    for config, imp in configs:
        for i, seed in enumerate(seeds):
            for system, call in systems:
                for d in DIRECTIONS:
                    key = "%s/%s" % (system, config)
                    log("%s run %d (seed %d) %s ..." % (key, i + 1, seed, d))
                    # short: Kamailio's control socket path in it must fit 104 bytes
                    work = out / ("%s-%s%d-%s" % (system, config, i + 1, d[3:]))
                    kw = {}
                    if system == "ata":
                        kw["capture"] = pacing and config == "clean" and i == 0 and d == "to_far"
                    r = _call_retried(call, work, unit, call_s, d,
                                      dict(imp, seed=seed) if imp else None, rt, log, kw)
                    rows = score_recording(speech, r["heard"], len(unit), reps)
                    signals.write_wav(work / "heard.wav", r["heard"])
                    run = {k: r.get(k) for k in ("relay", "dtmf", "rtp", "media", "rt", "error")}
                    # an occurrence not found counts as a failure, not as a smaller sample
                    run.update(seed=seed, rows=rows,
                               score=mean_score(rows) if len(rows) == reps else float("nan"))
                    fig["runs"].setdefault(key, {}).setdefault(d, []).append(run)
                    if r.get("pacing"):
                        fig["pacing"] = r["pacing"]
    shutil.rmtree(tmp, ignore_errors=True)
    return fig


def stats(fig, key, d):
    return summary([r["score"] for r in fig["runs"].get(key, {}).get(d, [])])


def welch_t(fig, d):
    """Welch's t of ATA minus baresip, impaired, direction d (nan without spread)."""
    a = [r["score"] for r in fig["runs"]["ata/impaired"][d]]
    b = [r["score"] for r in fig["runs"]["b2b/impaired"][d]]
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    return float((np.mean(a) - np.mean(b)) / np.sqrt(va + vb)) if va + vb > 0 else float("nan")


def verdicts(fig):
    """[(ok, text)] for each target the figures can be held to."""
    out = []
    c = fig["ceiling"]
    for d, what in DIRECTION_NAMES:
        s = stats(fig, "ata/clean", d)
        out.append((s["mean"] == s["mean"] and c - s["mean"] <= CLEAN_MARGIN,
                    "clean %s: ATA mean %.3f within %.2f of the ceiling %.3f"
                    % (what, s["mean"], CLEAN_MARGIN, c)))
        if "ata/impaired" in fig["runs"] and "b2b/impaired" in fig["runs"]:
            a, b = stats(fig, "ata/impaired", d), stats(fig, "b2b/impaired", d)
            out.append((a["mean"] == a["mean"] and b["mean"] == b["mean"]
                        and a["mean"] >= b["mean"],
                        "impaired %s: ATA mean %.3f not below baresip's %.3f (n=%d each, "
                        "Welch t %.2f)" % (what, a["mean"], b["mean"], a["n"], welch_t(fig, d))))
    p = fig.get("pacing")
    if p:
        ok = p.get("count", 0) > 0 and p["within_pct"] >= PACING_TARGET_PCT
        out.append((ok, "RTP send pacing: %.2f %% of %d intervals within %g +- %g ms (target %g %%)"
                    % (p.get("within_pct", 0), p.get("count", 0), PACING_NOMINAL_MS,
                       PACING_TOL_MS, PACING_TARGET_PCT)))
    return out


def _fmt(s):
    if s["mean"] != s["mean"]:
        return "n/a"
    return "%.3f ± %.3f (%.3f..%.3f)" % (s["mean"], s["sd"], s["min"], s["max"])


def report(fig):
    runs = len(fig["seeds"])
    lines = ["PESQ P.862 narrowband (pesq 0.0.4), espeak-ng speech %.1f s; %d run(s) per row "
             "(seeds %s, the same for both systems), one call per run and direction, %d "
             "occurrence(s) scored per call" % (fig["speech_s"], runs,
                                                ",".join(map(str, fig["seeds"])), fig["reps"]),
             "impaired: %.0f %% loss, %.0f +- %.0f ms delay (uniform), both directions, each "
             "direction its own seeded pattern" % (LOSS_PCT, DELAY_MS, JITTER_MS),
             "ATA side: " + ATA_SETUP,
             "baresip side (%s): %s" % (fig.get("baresip") or "baresip", BARESIP_SETUP),
             "cells: mean ± sample stdev (min..max) over the runs", "",
             "%-34s %-30s %-30s" % ("", "phone->far", "far->phone"),
             "%-34s %-30s %-30s" % ("(a) ceiling: G.711 mu-law offline", "%.3f" % fig["ceiling"],
                                    "%.3f" % fig["ceiling"])]
    for key, name in ROW_NAMES:
        if key in fig["runs"]:
            lines.append("%-34s %-30s %-30s" % (name, _fmt(stats(fig, key, "to_far")),
                                                _fmt(stats(fig, key, "to_phone"))))
    lines.append("")
    for key, name in ROW_NAMES:
        for d, what in DIRECTION_NAMES:
            for r in fig["runs"].get(key, {}).get(d, []):
                occ = ", ".join("%.3f (corr %.2f, %d slips)" % (sc, c, n)
                                for _, c, sc, n in r["rows"]) or "none found"
                extra = ""
                if r.get("relay"):
                    st = r["relay"]
                    extra += "; relay far->near %d/%d dropped, near->far %d/%d" % (
                        st["a_to_b"]["dropped"], st["a_to_b"]["received"],
                        st["b_to_a"]["dropped"], st["b_to_a"]["received"])
                rtp = r.get("rtp")
                if rtp and d == "to_phone":
                    extra += "; ATA rx lost %s late %s concealed %s grown %s shrunk %s" % tuple(
                        rtp.get(k) for k in ("lost", "late", "concealed", "grown", "shrunk"))
                if r.get("dtmf"):
                    extra += "; talk-off: %d DTMF digit(s) detected" % r["dtmf"]
                if r.get("error"):
                    extra += "; failed attempt(s): %s" % r["error"]
                lines.append("  %s %s seed %d: %s%s%s" % (name.split(",")[0], what, r["seed"], occ,
                                                         extra, "" if r.get("rt") else " (not RT)"))
    p = fig.get("pacing")
    if p and p.get("count"):
        lines += ["", "RTP send pacing (sim, clean call, pcap of the ATA's packets): %d intervals, "
                  "%.2f %% within %g +- %g ms; min %.2f, p1 %.2f, median %.2f, p99 %.2f, max %.2f ms"
                  % (p["count"], p["within_pct"], PACING_NOMINAL_MS, PACING_TOL_MS, p["min_ms"],
                     p["p1_ms"], p["median_ms"], p["p99_ms"], p["max_ms"])]
    lines.append("")
    for ok, text in verdicts(fig):
        lines.append(("ok    " if ok else "FAIL  ") + text)
    return "\n".join(lines)


def baresip_version():
    try:
        r = subprocess.run(["baresip", "-h"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"baresip (v[\d.]+)", r.stdout + r.stderr)
    return "baresip " + m.group(1) if m else None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.pesq_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=RUNS, help="runs (seeds) per configuration")
    ap.add_argument("--reps", type=int, default=1, help="occurrences scored per call")
    ap.add_argument("--quick", action="store_true", help="one sentence, one run, clean ATA only")
    ap.add_argument("--no-impair", action="store_true", help="skip the impaired runs")
    ap.add_argument("--no-rt", action="store_true",
                    help="leave the media path at normal priority (host load then shows)")
    ap.add_argument("--out", default=str(paths.BUILD / "bench-pesq"),
                    help="work folder (recordings of each run are kept there)")
    args = ap.parse_args(argv)
    q = args.quick
    fig = measure(pathlib.Path(args.out), SENTENCES[:1] if q else SENTENCES,
                  reps=args.reps, runs=1 if q else args.runs,
                  impaired=not (q or args.no_impair), b2b=not q, rt=not args.no_rt)
    text = report(fig)
    print("\n" + text)
    paths.BUILD.mkdir(parents=True, exist_ok=True)
    (paths.BUILD / "bench-pesq.txt").write_text(text + "\n")
    (paths.BUILD / "bench-pesq.json").write_text(json.dumps(fig, indent=1, default=str) + "\n")
    return 0 if all(ok for ok, _ in verdicts(fig)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
