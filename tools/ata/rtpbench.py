"""Bench helpers for lib/rtp.

    python -m ata.rtpbench intervals capture.pcap --port 40000 [--nominal 20 --tol 2]

reads the UDP datagrams of a pcap (no tshark needed) and prints how many intervals
of one RTP stream fall within nominal +- tol ms (the issue's pacing figure is 99 %
within 20 +- 2 ms). What is measured is the capture time on the loopback, i.e. when
the sender's datagrams left; the figure is the bench owner's to take on the sim,
where the audio clock paces sending.

    python -m ata.rtpbench pesq [--loss 5 --delay 30 --jitter 10 --wav speech.wav]

sends speech (espeak-ng unless --wav) as G.711 u-law from one MicroPython RtpSession
through the impairment relay to another, which plays it out through its jitter
buffer and the PLC in real time; prints PESQ (P.862 NB) of that against the codec's
own ceiling, with the receiver's statistics. Only lib/rtp is measured (no SIP, no
sim, no far-end phone).
"""
import argparse
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import warnings


def read_pcap_udp(path):
    """[(time s, src port, dst port, payload)] for the IPv4 UDP datagrams of a classic
    pcap (Ethernet, Linux cooked or raw-IP link types, either byte order)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a classic pcap (pcapng? write with tcpdump -w)")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(e + "I", data[20:24])[0]
    ip_at = {1: 14, 113: 16, 101: 0, 228: 0, 0: 4}.get(link)
    if ip_at is None:
        raise ValueError("link type %d not supported" % link)
    out = []
    o = 24
    while o + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[o:o + 16])
        frame = data[o + 16:o + 16 + incl]
        o += 16 + incl
        ip = frame[ip_at:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 15) * 4:]
        sport, dport, length = struct.unpack("!HHH", udp[:6])
        t = sec + frac / (1e9 if nano else 1e6)
        out.append((t, sport, dport, udp[8:length]))
    return out


def send_intervals(path, port, pt=None):
    """Intervals (ms) between consecutive RTP packets sent to UDP `port` (audio of
    payload type `pt` only, when given; RFC 4733 and others are skipped)."""
    times = []
    for t, _, dport, p in read_pcap_udp(path):
        if dport != port or len(p) < 12 or p[0] >> 6 != 2:
            continue
        if pt is not None and p[1] & 0x7F != pt:
            continue
        times.append(t)
    return [(b - a) * 1000.0 for a, b in zip(times, times[1:])]


def interval_report(intervals, nominal_ms=20.0, tol_ms=2.0):
    """Count, share within nominal +- tol, and percentiles of the intervals (ms)."""
    if not intervals:
        return {"count": 0}
    s = sorted(intervals)

    def pct(q):
        return s[min(len(s) - 1, int(q / 100.0 * len(s)))]

    within = sum(1 for x in intervals if abs(x - nominal_ms) <= tol_ms)
    return {"count": len(intervals), "within": within,
            "within_pct": 100.0 * within / len(intervals), "nominal_ms": nominal_ms,
            "tol_ms": tol_ms, "min_ms": s[0], "p1_ms": pct(1), "median_ms": pct(50),
            "p99_ms": pct(99), "max_ms": s[-1], "mean_ms": sum(s) / len(s)}


ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEECH = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
          "background. It is easy to tell the depth of a well. These days a chicken leg "
          "is a rare dish. Rice is often served in round bowls.")

LEG = r"""
import sys, time, json
from array import array
from rtp import RtpSession, AUDIO, LOST
from rtp.plc import Concealer
from dsp.g711 import ulaw_decode
pa, pb, relay = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
src, dst = sys.argv[4], sys.argv[5]
jmin, jmax, realtime = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
codes = open(src, "rb").read()
a = RtpSession("127.0.0.1", pa)
b = RtpSession("127.0.0.1", pb, jitter_min_ms=jmin, jitter_max_ms=jmax,
               symmetric=True, latch_packets=1)  # no SDP: follows the relay at once
a.open(); b.open()
a.set_remote("127.0.0.1", relay)
plc = Concealer(160)
fr = bytearray(160); out = bytearray(160); pcm = array("h", bytes(320))
f = open(dst, "wb")
n = len(codes) // 160
kinds = [0, 0, 0]
t = time.ticks_ms()
for k in range(n + 25):
    if k < n:
        for i in range(160):
            fr[i] = codes[k * 160 + i]
        a.send(fr)
    else:
        a.send(None)
    b.receive()
    kind = b.pull(out)
    kinds[kind] += 1
    if kind == AUDIO:
        ulaw_decode(out, pcm, 160)
        plc.good(pcm)
    elif kind == LOST:
        plc.conceal(pcm)
    else:
        for i in range(160):
            pcm[i] = 0
        plc.good(pcm)
    f.write(pcm)
    if not realtime:
        continue
    t = time.ticks_add(t, 20)
    while time.ticks_diff(t, time.ticks_ms()) > 0:
        time.sleep_ms(1)
        b.receive()
f.close()
st = b.stats()
st["remote"] = None
st["frames"] = {"audio": kinds[AUDIO], "lost": kinds[LOST], "empty": kinds[0]}
print(json.dumps(st))
"""


def speech_8k(path, text=SPEECH):
    """Write espeak-ng speech as 8 kHz mono 16-bit WAV."""
    tmp = str(path) + ".tmp.wav"
    subprocess.run(["espeak-ng", "-w", tmp, text], check=True, capture_output=True)
    subprocess.run(["sox", tmp, "-r", "8000", "-c", "1", "-b", "16", str(path)], check=True,
                   capture_output=True)
    os.unlink(tmp)


def _align(ref, y):
    """y shifted so it lines up with ref (delay by cross-correlation), same length."""
    import numpy as np
    n = len(ref)
    c = np.correlate(y[:n + 8000], ref[:min(n, 16000)], "valid")
    d = int(np.argmax(c))
    y = y[d:d + n]
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y))])
    return y, d


def pesq_leg(wav=None, loss=0.0, delay_ms=0.0, jitter_ms=0.0, reorder=0.0, seed=1,
             jitter_min_ms=20, jitter_max_ms=200, workdir=None, text=SPEECH, direct=False):
    """Speech through MicroPython sender -> relay -> MicroPython receiver + PLC, in
    real time. direct: sender straight to receiver over loopback, as fast as it goes
    (one packet per tick, no relay, no clock: independent of the machine's load).
    Returns a dict: ceiling and leg PESQ, delay, receiver and relay statistics."""
    import wave

    import numpy as np
    from pesq import pesq

    from ata import peers
    from ata.impair import Relay
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    work = pathlib.Path(workdir or tempfile.mkdtemp(prefix="rtpbench-"))
    work.mkdir(parents=True, exist_ok=True)
    if wav is None:
        wav = work / "speech.wav"
        speech_8k(wav, text)
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        ref = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    ref = ref[:len(ref) // 160 * 160]
    codes = audioop.lin2ulaw(ref.tobytes(), 2)
    ceiling_sig = np.frombuffer(audioop.ulaw2lin(codes, 2), "<i2").astype(float)
    (work / "codes.ulaw").write_bytes(codes)
    (work / "leg.py").write_text(LEG)
    pa = peers.free_udp_range(2)[0]
    pb = peers.free_udp_range(2)[0]
    env = dict(os.environ, MICROPYPATH=":".join(
        [str(ROOT / "lib"), str(ROOT / "firmware")]))
    def run(to_port, realtime):
        return subprocess.run([str(ROOT / ".venv" / "bin" / "micropython"), str(work / "leg.py"),
                               str(pa), str(pb), str(to_port), str(work / "codes.ulaw"),
                               str(work / "out.raw"), str(jitter_min_ms), str(jitter_max_ms),
                               str(int(realtime))],
                              capture_output=True, text=True, env=env, timeout=600)
    if direct:
        r = run(pb, False)
        relay_stats = None
    else:
        with Relay(("127.0.0.1", pb), loss=loss, delay_ms=delay_ms, jitter_ms=jitter_ms,
                   reorder=reorder, seed=seed) as relay:
            r = run(relay.a_port, True)
            relay_stats = relay.stats["a_to_b"]
    if r.returncode:
        raise RuntimeError(r.stderr)
    st = json.loads(r.stdout.strip().splitlines()[-1])
    out = np.frombuffer((work / "out.raw").read_bytes(), "<i2").astype(float)
    y, d = _align(ref.astype(float), out)
    refl = ref.astype(float)
    return {"ceiling": round(pesq(8000, refl, ceiling_sig, "nb"), 3),
            "leg": round(pesq(8000, refl, y, "nb"), 3),
            "delay_ms": d / 8.0, "receiver": st, "relay": relay_stats,
            "impairment": {"loss": loss, "delay_ms": delay_ms, "jitter_ms": jitter_ms,
                           "reorder": reorder, "seed": seed}}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.rtpbench", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    iv = sub.add_parser("intervals", help="send-interval regularity from a pcap")
    iv.add_argument("pcap")
    iv.add_argument("--port", type=int, required=True, help="destination UDP port of the stream")
    iv.add_argument("--pt", type=int, default=None, help="audio payload type only")
    iv.add_argument("--nominal", type=float, default=20.0)
    iv.add_argument("--tol", type=float, default=2.0)
    pq = sub.add_parser("pesq", help="PESQ of lib/rtp's path through the impairment relay")
    pq.add_argument("--wav", default=None, help="8 kHz mono 16-bit speech (default: espeak-ng)")
    pq.add_argument("--loss", type=float, default=0.0)
    pq.add_argument("--delay", type=float, default=0.0)
    pq.add_argument("--jitter", type=float, default=0.0)
    pq.add_argument("--reorder", type=float, default=0.0)
    pq.add_argument("--seed", type=int, default=1)
    pq.add_argument("--jitter-min", type=int, default=20)
    pq.add_argument("--jitter-max", type=int, default=200)
    args = ap.parse_args(argv)
    if args.cmd == "intervals":
        rep = interval_report(send_intervals(args.pcap, args.port, args.pt), args.nominal,
                              args.tol)
    else:
        if args.wav is None and not (shutil.which("espeak-ng") and shutil.which("sox")):
            ap.error("espeak-ng and sox are needed without --wav")
        rep = pesq_leg(args.wav, args.loss, args.delay, args.jitter, args.reorder, args.seed,
                       args.jitter_min, args.jitter_max)
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
