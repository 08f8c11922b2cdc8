"""Bench helpers for RTP captures (no tshark needed): read the UDP datagrams of a
pcap and measure the send-interval regularity of one RTP stream.

    python -m ata.rtpbench capture.pcap --port 40000 [--nominal 20 --tol 2]

prints how many packet intervals fall within nominal +- tol ms (the issue's pacing
figure is 99 % within 20 +- 2 ms). What is measured is the capture time on the
loopback, i.e. when the sender's datagrams left; the figure is the bench's owner's to
take on the sim, where the audio clock paces sending.
"""
import argparse
import json
import struct


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


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ata.rtpbench", description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, required=True, help="destination UDP port of the stream")
    ap.add_argument("--pt", type=int, default=None, help="audio payload type only")
    ap.add_argument("--nominal", type=float, default=20.0)
    ap.add_argument("--tol", type=float, default=2.0)
    args = ap.parse_args(argv)
    rep = interval_report(send_intervals(args.pcap, args.port, args.pt), args.nominal, args.tol)
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
