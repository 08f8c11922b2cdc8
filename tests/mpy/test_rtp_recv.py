# RTP receiver over real loopback sockets: validation, duplicates, loss statistics,
# RFC 4733 de-duplication, SSRC change, datagram splitting, RTCP exchange.
import socket
import time

from check import eq, near
from rtp import RtpSession, AUDIO, LOST, EMPTY
from test_rtp_send import free_port, _addr

F = 160


def pair(**kw):
    a = RtpSession("127.0.0.1", free_port(), **kw)
    b = RtpSession("127.0.0.1", free_port(), **kw)
    a.open()
    b.open()
    a.set_remote("127.0.0.1", b.local_port)
    b.set_remote("127.0.0.1", a.local_port)
    return a, b


class Raw:
    """Hand-made packets from a plain socket."""

    def __init__(self, to_port):
        self.port = free_port(pair=False)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(_addr(self.port))
        self.to = _addr(to_port)

    def send(self, seq, ts, fill=0, pt=0, marker=0, ssrc=b"SSRC", n=F, first=0x80, body=None):
        p = bytearray(12)
        p[0] = first
        p[1] = pt | (0x80 if marker else 0)
        p[2], p[3] = (seq >> 8) & 0xFF, seq & 0xFF
        ts &= 0xFFFFFFFF
        p[4], p[5], p[6], p[7] = ts >> 24, (ts >> 16) & 0xFF, (ts >> 8) & 0xFF, ts & 0xFF
        p[8:12] = ssrc
        p += body if body is not None else bytes([fill]) * n
        self.s.sendto(p, self.to)

    def event(self, seq, ts, code, dur, end=False, ssrc=b"SSRC"):
        self.send(seq, ts, pt=101, ssrc=ssrc,
                  body=bytes([code, (0x80 if end else 0) | 10, dur >> 8, dur & 0xFF]))

    def close(self):
        self.s.close()


def raw_to(s):
    """A Raw source that s's SDP names (its packets are accepted)."""
    r = Raw(s.local_port)
    s.set_remote("127.0.0.1", r.port)
    return r


def settle(s, ms=10):
    time.sleep_ms(ms)
    return s.receive()


def test_invalid_packets_are_discarded():
    a, b = pair()
    r = raw_to(b)
    r.send(1, 0, first=0x40)  # version 1
    r.s.sendto(b"\x80\x00\x00\x02", r.to)  # shorter than a header
    r.send(3, 0, pt=96)  # a payload type we did not negotiate
    r.send(4, 0, first=0xA0, body=bytes(F - 1) + b"\xff")  # padding longer than payload
    settle(b)
    eq(b.stats()["discarded"], 4, "discarded")
    eq(b.stats()["received"], 0, "none received")
    r.send(5, 0)
    settle(b)
    eq(b.stats()["received"], 1, "valid packet received")
    r.close()
    a.close()
    b.close()


def test_duplicates_counted_and_played_once():
    a, b = pair(jitter_min_ms=40)
    r = raw_to(b)
    out = bytearray(F)
    got = []
    for k in range(10):
        r.send(100 + k, 1000 + k * F, fill=k)
        if k in (3, 4):
            r.send(100 + k, 1000 + k * F, fill=k)  # the network duplicated it
        settle(b, 2)
        if b.pull(out) == AUDIO:
            got.append(out[0])
    eq(b.stats()["duplicates"], 2, "duplicates")
    eq(b.stats()["received"], 10, "unique packets")
    eq(got, list(range(len(got))), "each frame once, in order")
    r.close()
    a.close()
    b.close()


def test_loss_statistics_rfc3550():
    a, b = pair()
    r = raw_to(b)
    for k in range(20):
        if k not in (5, 6, 12):
            r.send(0xFFF8 + k & 0xFFFF, k * F)  # also wraps the sequence number
    settle(b)
    st = b.stats()
    eq(st["received"], 17, "received")
    eq(st["lost"], 3, "lost = expected - received")
    eq(b.expected(), 20, "expected across the wrap")
    r.close()
    a.close()
    b.close()


def test_events_deduplicated_on_timestamp():
    a, b = pair()
    got = []
    b.on_event = lambda e, ended: got.append((e, ended))
    r = raw_to(b)
    seq = 10
    for ts, code in ((8000, 1), (8000 + 5 * F, 1), (8000 + 10 * F, 11)):
        for i in range(1, 4):
            r.event(seq, ts, code, i * F)
            seq += 1
        for _ in range(3):
            r.event(seq, ts, code, 3 * F, end=True)
            seq += 1
        settle(b, 2)
    r.event(seq, 8000, 1, 3 * F, end=True)  # very late copy of the first event's end
    settle(b)
    eq(got, [(1, False), (1, True), (1, False), (1, True), (11, False), (11, True)],
       "each event once, start and end")
    eq(b.stats()["events_rx"], 3, "events counted")
    r.close()
    a.close()
    b.close()


def test_event_with_lost_start_and_lost_end():
    a, b = pair()
    got = []
    b.on_event = lambda e, ended: got.append((e, ended))
    r = raw_to(b)
    r.event(1, 16000, 7, 4 * F, end=True)  # only an end packet made it
    settle(b)
    eq(got, [(7, False), (7, True)], "reported as start and end")
    r.event(2, 17000, 9, F)  # no end packet ever arrives
    settle(b)
    eq(got[-1], (9, False), "started")
    now = time.ticks_ms()
    b.receive(time.ticks_add(now, 100))
    eq(len(got), 3, "still running after 100 ms")
    b.receive(time.ticks_add(now, 1000))
    eq(got[-1], (9, True), "ended by the timeout")
    r.close()
    a.close()
    b.close()


def test_session_to_session_events():
    a, b = pair()
    got = []
    b.on_event = lambda e, ended: got.append((e, ended))
    fr = bytes(F)
    for t in range(12):
        if t == 2:
            a.event_start(4)
        if t == 6:
            a.event_end()
        a.send(fr)
        settle(b, 2)
    eq(got, [(4, False), (4, True)], "one event")
    a.close()
    b.close()


def test_new_ssrc_resyncs():
    a, b = pair()
    r = raw_to(b)
    out = bytearray(F)
    kinds = []
    for k in range(30):
        if k < 15:
            r.send(k, 1000 + k * F, fill=1)
        else:  # the far end restarted its stream: new SSRC, sequence and timestamp
            r.send(5000 + k, 900000 + k * F, fill=2, ssrc=b"NEW!")
        settle(b, 2)
        kinds.append((b.pull(out), out[0]))
    eq(b.stats()["resyncs"], 1, "one resync")
    eq(kinds[-5:], [(AUDIO, 2)] * 5, "the new stream plays")
    eq(b.stats()["received"], 30, "all packets counted")
    r.close()
    a.close()
    b.close()


def test_bursts_are_split_into_datagrams():
    # After the first packets receive() reads several queued datagrams at once and
    # cuts them apart; a burst with events mixed in must come out whole.
    a, b = pair(jitter_max_ms=400)
    r = raw_to(b)
    for k in range(4):
        r.send(k, k * F, fill=k)
        settle(b, 2)
    eq(b._learned, True, "sizes learned")
    seq = 4
    for k in range(4, 14):
        r.send(seq, k * F, fill=k)
        seq += 1
        if k == 8:
            r.event(seq, 9 * F, 3, F)
            seq += 1
    time.sleep_ms(20)
    b.receive()
    eq(b.stats()["received"], 15, "all datagrams")
    eq(b.stats()["discarded"], 0, "none garbled")
    eq(b.stats()["events_rx"], 1, "event found")
    r.close()
    a.close()
    b.close()


def test_header_extensions_are_skipped_and_learned():
    # Some peers put a header extension (e.g. an audio level) on every packet.
    a, b = pair()
    r = raw_to(b)
    ext = b"\xbe\xde\x00\x01\x10\x2a\x00\x00"  # one-byte header, 1 word
    out = bytearray(F)
    for k in range(4):
        r.send(k, k * F, first=0x90, body=ext + bytes([k]) * F)
        settle(b, 2)
    eq(b._learned, True, "learned with the extension")
    for k in range(4, 12):  # a burst: several datagrams per read
        r.send(k, k * F, first=0x90, body=ext + bytes([k]) * F)
    r.event(12, 12 * F, 2, F)
    time.sleep_ms(20)
    b.receive()
    eq(b.stats()["received"], 13, "all datagrams")
    eq(b.stats()["discarded"], 0, "none garbled")
    got = []
    for _ in range(14):
        if b.pull(out) == AUDIO:
            got.append(out[0])
            eq(out[F - 1], out[0], "payload after the extension")
    eq(got[-6:], list(range(6, 12)), "payloads in order")
    r.close()
    a.close()
    b.close()


def test_unexpected_size_is_relearned():
    a, b = pair()
    r = raw_to(b)
    for k in range(4):
        r.send(k, k * F)
        settle(b, 2)
    r.send(4, 4 * F, n=240)  # the peer switched to 30 ms packets
    r.send(5, 4 * F + 240, n=240)
    settle(b)
    for k in range(6, 12):
        r.send(k, 4 * F + (k - 4) * 240, n=240)
        settle(b, 2)
    eq(b._learned, True, "learned again")
    eq(b._learn_len, 240, "new size")
    eq(b.stats()["received"] >= 11, True, "kept receiving")
    r.close()
    a.close()
    b.close()


def test_rtcp_reports_exchanged():
    a, b = pair()
    fr = bytes(F)
    for _ in range(20):
        a.send(fr)
        b.send(fr)
        time.sleep_ms(2)
        a.receive()
        b.receive()
    now = time.ticks_ms()
    for s in (a, b):
        s.rtcp_tick(now)  # schedules the first report
    t = time.ticks_add(now, 8000)
    a.rtcp_tick(t)  # A sends an SR
    time.sleep_ms(10)
    b.rtcp_tick(t)  # B reads it and sends its SR with a report block about A
    time.sleep_ms(10)
    a.rtcp_tick(time.ticks_add(t, 10))
    eq(a.stats()["rtcp_sent"], 1, "A sent")
    eq(b.stats()["rtcp_received"], 1, "B parsed A's SR")
    eq(a.stats()["rtcp_received"], 1, "A parsed B's report")
    st = a.stats()
    eq(st["remote_lost"], 0, "peer saw no loss")
    eq(st["remote_highest_seq"] & 0xFFFF, (a._seq - 1) & 0xFFFF, "peer's highest seq")
    near(st["rtt_ms"], 10, 15, "round trip from LSR/DLSR")
    a.close()
    b.close()


def test_rtcp_on_the_rtp_port_is_not_rtp():
    # RFC 5761 demultiplexing: a peer that muxes RTCP must not disturb the stream.
    a, b = pair()
    fr = bytes(F)
    for _ in range(5):
        a.send(fr)
        settle(b, 2)
    eq(b._learned, True, "learned")
    from rtp import rtcp
    sr = bytes(a._rtcp_tx[:rtcp.build(a, time.ticks_ms())])
    a.sock.sendto(sr, a._remote)  # from A's RTP socket to B's RTP port
    a.send(fr)
    a.sock.sendto(sr, a._remote)
    settle(b)
    st = b.stats()
    eq(st["rtcp_received"], 2, "parsed as RTCP")
    eq(st["discarded"], 0, "not discarded")
    eq(b._learned, True, "still learned")
    eq(st["received"], 6, "RTP unaffected")
    a.close()
    b.close()


def test_rtcp_bye_seen():
    a, b = pair()
    fr = bytes(F)
    for _ in range(3):
        a.send(fr)
        b.send(fr)
        settle(a, 2)
        settle(b, 2)
    a.close()  # sends an RTCP BYE to B's RTP port + 1
    time.sleep_ms(10)
    b.rtcp_tick()
    eq(b.remote_bye, True, "BYE parsed")
    eq(b.stats()["rtcp_received"], 1, "its SR counted as one report")
    b.close()


def test_stats_keys():
    a, b = pair()
    for k in ("sent", "received", "lost", "late", "duplicates", "discarded", "concealed",
              "jitter_ms", "buffer_ms", "target_ms"):
        eq(k in a.stats(), True, k)
    a.close()
    b.close()
