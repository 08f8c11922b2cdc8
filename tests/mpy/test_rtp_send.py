# RTP sender: header fields, SSRC/sequence/timestamp rules, marker, RFC 4733 event
# sequence; checked on the wire with a plain UDP socket.
import random
import socket
import time

from check import eq
from rtp import RtpSession

F = 160


def _addr(port):
    return socket.getaddrinfo("127.0.0.1", port)[0][-1]


def free_port(pair=True):
    """A free even UDP port (and port+1) on loopback, found by binding."""
    for _ in range(50):
        p = 20000 + 2 * random.getrandbits(14)
        socks = []
        try:
            for q in (p, p + 1) if pair else (p,):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(_addr(q))
            return p
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise OSError("no free port")


class Sink:
    """A UDP socket that collects what the session sends."""

    def __init__(self):
        self.port = free_port(pair=False)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(_addr(self.port))
        self.s.setblocking(False)

    def packets(self, wait_ms=20):
        time.sleep_ms(wait_ms)
        out = []
        while True:
            try:
                out.append(self.s.recv(2048))
            except OSError:
                return out

    def close(self):
        self.s.close()


def session(sink, **kw):
    s = RtpSession("127.0.0.1", free_port(), **kw)
    s.open()
    s.set_remote("127.0.0.1", sink.port)
    return s


def hdr(p):
    return {
        "v": p[0] >> 6, "p": (p[0] >> 5) & 1, "x": (p[0] >> 4) & 1, "cc": p[0] & 15,
        "m": p[1] >> 7, "pt": p[1] & 0x7F, "seq": (p[2] << 8) | p[3],
        "ts": (p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7], "ssrc": bytes(p[8:12]),
    }


def frame(v):
    return bytes([v]) * F


def test_header_fields_and_counters():
    k = Sink()
    s = session(k, pt=8)
    for i in range(5):
        s.send(frame(i))
    ps = k.packets()
    eq(len(ps), 5, "packets")
    h = [hdr(p) for p in ps]
    for i, x in enumerate(h):
        eq((x["v"], x["p"], x["x"], x["cc"], x["pt"]), (2, 0, 0, 0, 8), "fixed fields")
        eq(len(ps[i]), 12 + F, "length")
        eq(ps[i][12:], frame(i), "payload")
        eq(x["ssrc"], h[0]["ssrc"], "one SSRC")
        eq(x["seq"], (h[0]["seq"] + i) & 0xFFFF, "seq +1")
        eq(x["ts"], (h[0]["ts"] + i * F) & 0xFFFFFFFF, "ts +160")
    eq([x["m"] for x in h], [1, 0, 0, 0, 0], "marker on the first packet only")
    eq(s.stats()["sent"], 5, "sent")
    eq(s.stats()["sent_octets"], 5 * F, "octets")
    s.close()
    k.close()


def test_initial_values_are_random():
    k = Sink()
    seen = set()
    for _ in range(3):
        s = session(k)
        s.send(frame(0))
        h = hdr(k.packets()[0])
        seen.add((h["seq"], h["ts"], h["ssrc"]))
        s.close()
    eq(len(seen), 3, "seq/ts/SSRC differ between sessions")
    k.close()


def test_silence_advances_timestamp_and_sets_marker():
    k = Sink()
    s = session(k)
    s.send(frame(1))
    s.send(None)
    s.send(None)
    s.send(frame(2))
    s.send(frame(3))
    h = [hdr(p) for p in k.packets()]
    eq(len(h), 3, "nothing sent in silence")
    eq([x["m"] for x in h], [1, 1, 0], "marker after silence")
    eq((h[1]["ts"] - h[0]["ts"]) & 0xFFFFFFFF, 3 * F, "timestamp kept running")
    eq((h[1]["seq"] - h[0]["seq"]) & 0xFFFF, 1, "sequence did not")
    s.close()
    k.close()


def test_sequence_and_timestamp_wrap():
    k = Sink()
    s = session(k)
    s._seq = 0xFFFE
    s._th, s._tl = 0xFFFF, 0x10000 - F
    for i in range(4):
        s.send(frame(i))
    h = [hdr(p) for p in k.packets()]
    eq([x["seq"] for x in h], [0xFFFE, 0xFFFF, 0, 1], "seq wraps")
    eq([x["ts"] for x in h], [0xFFFFFFFF - F + 1, 0, F, 2 * F], "ts wraps")
    s.close()
    k.close()


def test_rfc4733_event_sequence():
    k = Sink()
    s = session(k, dtmf_pt=101)
    s.send(frame(0))
    s.event_start(5)
    for _ in range(4):
        s.send(frame(9))  # audio is replaced by the event while it lasts
    s.event_end()
    for _ in range(5):
        s.send(frame(7))
    ps = k.packets()
    h = [hdr(p) for p in ps]
    eq(len(ps), 1 + 4 + 3 + 2, "audio, 4 updates, 3 ends, audio")
    ev = ps[1:8]
    eh = h[1:8]
    for i, p in enumerate(ev):
        eq(len(p), 16, "event packet length")
        eq(eh[i]["pt"], 101, "event PT")
        eq(p[12], 5, "event code")
        eq(p[13] & 0x3F, 10, "volume")
        eq(eh[i]["ts"], (h[0]["ts"] + F) & 0xFFFFFFFF, "one timestamp for the event")
    eq([x["m"] for x in eh], [1, 0, 0, 0, 0, 0, 0], "marker on the start packet")
    eq([p[13] >> 7 for p in ev], [0, 0, 0, 0, 1, 1, 1], "E bit on the last three")
    eq([(p[14] << 8) | p[15] for p in ev], [160, 320, 480, 640, 800, 800, 800],
       "durations cumulative, end repeated")
    seqs = [x["seq"] for x in h]
    eq(seqs, [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))], "seq continuous")
    # Audio resumes with the timestamp it would have had: 1 + 4 + 3 ticks later.
    eq(h[8]["pt"], 0, "audio again")
    eq((h[8]["ts"] - h[0]["ts"]) & 0xFFFFFFFF, 8 * F, "timestamp continues")
    eq(ps[8][12:], frame(7), "audio payload")
    eq(s.stats()["events_tx"], 1, "events counted")
    s.close()
    k.close()


def test_event_codes_and_back_to_back_events():
    k = Sink()
    s = session(k)
    s.event_start("#")
    s.send(None)
    s.event_start("D")  # ends '#' (three end packets), then starts 'D'
    for _ in range(6):
        s.send(None)
    s.event_end()
    for _ in range(4):
        s.send(None)
    ps = k.packets()
    codes = [(p[12], p[13] >> 7, hdr(p)["m"]) for p in ps if hdr(p)["pt"] == 101]
    eq(codes[:4], [(11, 0, 1), (11, 1, 0), (11, 1, 0), (11, 1, 0)], "'#' start and end")
    eq(codes[4], (15, 0, 1), "'D' starts with the marker")
    eq(codes[-3:], [(15, 1, 0)] * 3, "'D' ends")
    eq(hdr(ps[4])["ts"] != hdr(ps[0])["ts"], True, "new event, new timestamp")
    s.close()
    k.close()


def test_event_started_and_ended_between_ticks():
    k = Sink()
    s = session(k)
    s.event_start(1)
    s.event_end()
    for _ in range(4):
        s.send(None)
    ps = k.packets()
    eq(len(ps), 3, "three packets")
    eq([(hdr(p)["m"], p[13] >> 7, (p[14] << 8) | p[15]) for p in ps],
       [(1, 1, F), (0, 1, F), (0, 1, F)], "start doubles as end")
    s.close()
    k.close()


# Where replies go and whose packets are taken (SDP address, symmetric RTP):
# tests/mpy/test_rtp_source.py.
