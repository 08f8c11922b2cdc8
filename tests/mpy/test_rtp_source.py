# The RTP source check: media and RTCP are taken only from the address the SDP named
# (symmetric RTP, when allowed, follows a new source only after LATCH_PACKETS packets
# in a row of one SSRC while the named source is silent); every stranger's datagram
# is counted and dropped; oversize datagrams are dropped; the local port is a random
# even one from a range. Also the peer's own SSRC, sequence and timestamp jumps.
import socket
import time

from check import eq, raises
from rtp import RtpSession, AUDIO, LATCH_PACKETS
from rtp import rtcp
from test_rtp_recv import pair, Raw, raw_to, settle
from test_rtp_send import Sink, free_port, _addr

F = 160


def close(*xs):
    for x in xs:
        x.close()


def played(s, pulls, out=None):
    """First payload byte of each AUDIO frame over `pulls` pulls (None otherwise)."""
    out = out or bytearray(F)
    got = []
    for _ in range(pulls):
        got.append(out[0] if s.pull(out) == AUDIO else None)
    return got


def test_stranger_never_takes_the_stream():
    # The hijack: a stranger's packets, right PT and even the peer's own SSRC, sent
    # before the peer's first packet and between its packets, from another port.
    a, b = pair(jitter_min_ms=40)
    stranger = Raw(b.local_port)
    out = bytearray(F)
    got = []
    for k in range(3):
        stranger.send(500 + k, 9000 + k * F, fill=0xEE, ssrc=a.ssrc)
    settle(b, 5)
    fr = bytearray(F)
    for k in range(30):
        for i in range(F):
            fr[i] = 1 + k % 100
        a.send(fr)
        stranger.send(k, k * F, fill=0xEE, ssrc=a.ssrc)
        stranger.send(7000 + k, 70000 + k * F, fill=0xEE, ssrc=b"EVIL")
        settle(b, 3)
        if b.pull(out) == AUDIO:
            got.append(out[0])
    eq(0xEE in got, False, "stranger's audio never played")
    eq(len(got) > 20, True, "the peer's audio played")
    st = b.stats()
    eq(st["strangers"], 63, "every stranger's datagram counted")
    eq(st["received"], 30, "all the peer's packets")
    eq(st["remote"], ("127.0.0.1", a.local_port), "still the SDP address")
    eq(st["latched"], False, "no latch")
    close(stranger, a, b)


def test_replies_go_only_to_the_sdp_address():
    k = Sink()
    stranger = Raw(0)
    s = RtpSession("127.0.0.1")
    s.open()
    s.set_remote("127.0.0.1", k.port)
    stranger.to = _addr(s.local_port)
    for q in range(LATCH_PACKETS + 2):
        stranger.send(q, q * F)
    time.sleep_ms(10)
    eq(s.receive(), 0, "stranger's packets not delivered")
    eq(s.strangers, LATCH_PACKETS + 2, "counted")
    s.send(bytes(F))
    eq(len(k.packets()), 1, "to the SDP address")
    stranger.s.setblocking(False)
    try:
        stranger.s.recv(2048)
        got = 1
    except OSError:
        got = 0
    eq(got, 0, "nothing to the stranger")
    close(s, k, stranger)


def test_packets_before_the_answer_are_strangers():
    # Outgoing call: our port is in the offer, the answer has not come yet.
    s = RtpSession("127.0.0.1")
    s.open()
    r = Raw(s.local_port)
    for q in range(4):
        r.send(q, q * F)
    settle(s)
    eq(s.stats()["received"], 0, "nothing accepted without an address")
    eq(s.strangers, 4, "counted")
    s.set_remote("127.0.0.1", r.port)
    for q in range(4, 8):
        r.send(q, q * F)
    settle(s)
    eq(s.stats()["received"], 4, "the named source is heard")
    close(s, r)


def test_queued_stranger_packets_are_swept_when_the_answer_arrives():
    # Packets that queued up before set_remote() are sorted by source then.
    s = RtpSession("127.0.0.1")
    s.open()
    r = Raw(s.local_port)
    evil = Raw(s.local_port)
    r.send(1, F, fill=1)
    evil.send(1, F, fill=0xEE, ssrc=b"EVIL")
    time.sleep_ms(5)
    s.set_remote("127.0.0.1", r.port)
    eq(s.stats()["received"], 1, "the peer's early packet kept")
    eq(s.strangers, 1, "the stranger's dropped")
    close(s, r, evil)


def later(s, ms=3):
    """receive() one second in the future: past the symmetric-RTP silence time that
    set_remote() grants the SDP address."""
    time.sleep_ms(ms)
    return s.receive(time.ticks_add(time.ticks_ms(), 1000))


def test_symmetric_follows_a_new_source_after_consecutive_packets():
    # NAT: the SDP names an address that never sends; the peer's packets come from
    # another one. Followed after LATCH_PACKETS packets in a row, then replied to.
    k = Sink()
    s = RtpSession("127.0.0.1", symmetric=True)
    s.open()
    s.set_remote("127.0.0.1", k.port)
    peer = Raw(s.local_port)
    for q in range(LATCH_PACKETS - 1):
        peer.send(100 + q, q * F)
        later(s)
    eq(s.stats()["latched"], False, "not yet")
    eq(s.strangers, LATCH_PACKETS - 1, "counted while proving itself")
    peer.send(100 + LATCH_PACKETS - 1, (LATCH_PACKETS - 1) * F)
    later(s)
    st = s.stats()
    eq(st["latched"], True, "followed")
    eq(st["relatches"], 1, "once")
    eq(st["remote"], ("127.0.0.1", peer.port), "remote is the source")
    eq(st["received"], 1, "the packet that completed the run is audio")
    s.send(bytes(F))
    time.sleep_ms(5)
    peer.s.setblocking(False)
    eq(len(peer.s.recv(2048)), 12 + F, "replies to the source")
    eq(len(k.packets(5)), 0, "not to the SDP address")
    # The same SDP again (re-INVITE) keeps the latch; a new one returns to the SDP.
    s.set_remote("127.0.0.1", k.port)
    eq(s.stats()["latched"], True, "same SDP: still following")
    k2 = Sink()
    s.set_remote("127.0.0.1", k2.port)
    eq(s.stats()["latched"], False, "new SDP address")
    s.send(bytes(F))
    eq(len(k2.packets()), 1, "to the new SDP address")
    close(s, k, k2, peer)


def test_symmetric_needs_one_ssrc_consecutive_sequence_one_source():
    k = Sink()
    s = RtpSession("127.0.0.1", symmetric=True)
    s.open()
    s.set_remote("127.0.0.1", k.port)
    x = Raw(s.local_port)
    y = Raw(s.local_port)
    for q in range(4 * LATCH_PACKETS):
        x.send(q, q * F, ssrc=b"AAAA" if q % 2 else b"BBBB")  # SSRC flips
        later(s, 2)
    for q in range(4 * LATCH_PACKETS):
        x.send(2 * q, q * F, ssrc=b"CCCC")  # sequence numbers skip
        later(s, 2)
    for q in range(4 * LATCH_PACKETS):
        (x if q % 2 else y).send(q, q * F, ssrc=b"DDDD")  # two sources take turns
        later(s, 2)
    for q in range(4 * LATCH_PACKETS):
        x.send(q, q * F, pt=96, ssrc=b"EEEE")  # a payload type not negotiated
        later(s, 2)
    eq(s.stats()["latched"], False, "never followed")
    eq(s.stats()["received"], 0, "nothing accepted")
    eq(s.strangers, 16 * LATCH_PACKETS, "all counted")
    close(s, k, x, y)


def test_symmetric_never_replaces_a_source_that_is_sending():
    a, b = pair(symmetric=True)
    stranger = Raw(b.local_port)
    fr = bytes(F)
    for q in range(6 * LATCH_PACKETS):
        a.send(fr)
        stranger.send(q, q * F, ssrc=b"EVIL")
        later(b)
    eq(b.stats()["latched"], False, "the SDP source keeps the stream")
    eq(b.stats()["remote"], ("127.0.0.1", a.local_port), "remote")
    eq(b.stats()["received"], 6 * LATCH_PACKETS, "all of the peer's packets")
    eq(b.strangers, 6 * LATCH_PACKETS, "stranger's counted")
    close(a, b, stranger)


def test_symmetric_stranger_cannot_win_the_race_to_the_answer():
    # Right after set_remote() the SDP address has not sent yet: a stranger's clean
    # stream is not followed within the silence time granted to it.
    a, b = pair(symmetric=True)
    stranger = Raw(b.local_port)
    for q in range(3 * LATCH_PACKETS):
        stranger.send(q, q * F, ssrc=b"EVIL")
        settle(b, 3)
    eq(b.stats()["latched"], False, "not followed")
    a.send(bytes(F))
    settle(b)
    eq(b.stats()["received"], 1, "the SDP source is heard")
    close(a, b, stranger)


def test_rtcp_only_from_the_sdp_rtcp_address():
    a, b = pair()
    fr = bytes(F)
    for _ in range(3):
        a.send(fr)
        b.send(fr)
        settle(a, 2)
        settle(b, 2)
    sr = bytes(a._rtcp_tx[:rtcp.build(a, time.ticks_ms())])
    stranger = Raw(b.local_port + 1)
    stranger.s.sendto(sr, stranger.to)  # a report that looks like A's
    stranger.s.sendto(b"\x81\xcb\x00\x01" + a.ssrc, stranger.to)  # a BYE "from A"
    stranger.s.sendto(bytes(3000), stranger.to)  # garbage
    time.sleep_ms(10)
    b.rtcp_tick()
    eq(b.stats()["rtcp_received"], 0, "stranger's report not parsed")
    eq(b.remote_bye, False, "stranger's BYE ignored")
    eq(b.stats()["rtcp_strangers"], 3, "counted")
    a._rtcp.send(sr)  # from A's RTCP port: the one its SDP implies
    a._rtcp.send(b"\x80\xc8\xff\xff" + bytes(40))  # A's own garbage: parsed, harmless
    time.sleep_ms(10)
    b.rtcp_tick()
    eq(b.stats()["rtcp_received"], 1, "the peer's report parsed")
    close(a, b, stranger)


def test_a_rtcp_port_from_sdp():
    k = Sink()
    s = RtpSession("127.0.0.1")
    s.open()
    s.set_remote("127.0.0.1", free_port(), rtcp_port=k.port)  # a=rtcp:<k.port>
    s.send(bytes(F))
    s.close()  # sends an RTCP BYE compound
    eq(len(k.packets()), 1, "RTCP to the a=rtcp port")
    k.close()


def test_oversize_datagrams_from_the_peer_are_dropped():
    a, b = pair()
    r = raw_to(b)
    r.send(1, F)
    r.send(2, 2 * F, n=1600)  # larger than an Ethernet MTU
    r.send(3, 3 * F, n=8000)  # larger than the receive buffer
    r.send(4, 4 * F)
    settle(b)
    st = b.stats()
    eq(st["oversize"], 2, "counted")
    eq(st["received"], 2, "the others taken")
    for q in range(5, 12):  # learned: several datagrams per read
        r.send(q, q * F, fill=q)
        settle(b, 2)
    eq(b._learned, True, "learned")
    r.send(12, 12 * F, n=8000)
    for q in range(13, 16):
        r.send(q, q * F, fill=q)
    settle(b)
    eq(b.stats()["oversize"], 3, "also counted when several datagrams are read at once")
    eq(b.stats()["received"] >= 13, True, "the stream goes on after an oversize datagram")
    close(a, b, r)


def test_random_even_port_from_the_range_and_retry():
    lo = free_port()
    ports = set()
    for _ in range(6):
        s = RtpSession("127.0.0.1", port_range=(lo, lo + 200))
        s.open()
        eq(s.local_port % 2, 0, "even")
        eq(lo <= s.local_port < lo + 200, True, "in the range")
        ports.add(s.local_port)
        s.close()
    eq(len(ports) > 1, True, "random per session")
    # The range holds two pairs; one is taken: the other is used every time.
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(_addr(lo + 1))  # the first pair's RTCP port
    for _ in range(8):
        s = RtpSession("127.0.0.1", port_range=(lo, lo + 3))
        s.open()
        eq(s.local_port, lo + 2, "the free pair")
        s.close()
    busy2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy2.bind(_addr(lo + 2))
    s = RtpSession("127.0.0.1", port_range=(lo, lo + 3))
    raises(OSError, s.open)
    close(busy, busy2)


def test_peer_ssrc_sequence_and_timestamp_jumps():
    # The accepted source restarts its stream in every way a broken or restarted
    # peer can: the receiver follows, the jitter buffer is never stuck.
    a, b = pair(jitter_min_ms=20)
    r = raw_to(b)
    out = bytearray(F)

    for q in range(12):
        r.send(10 + q, 1000 + q * F, fill=1)
        settle(b, 2)
        b.pull(out)
    # Each jump: within 25 packets (half a second) the new stream plays.
    for step, (seq0, ts0, fill, ssrc) in enumerate((
            (40000, 1000 + 12 * F, 2, b"SSRC"),        # sequence jump
            (40025, 8000 * 3600, 3, b"SSRC"),          # timestamp jump forward (1 h)
            (40050, 500, 4, b"SSRC"),                  # timestamp jump back
            (7, 0xFFFFFF00, 5, b"SSRC"),               # both, timestamp near its wrap
            (300, 123456, 6, b"NEW1"),                 # new SSRC
    )):
        got = []
        for q in range(25):
            r.send((seq0 + q) & 0xFFFF, (ts0 + q * F) & 0xFFFFFFFF, fill=fill, ssrc=ssrc)
            settle(b, 2)
            got.append(out[0] if b.pull(out) == AUDIO else None)
        eq(got[-5:], [fill] * 5, "step %d plays the new stream" % step)
    eq(b.stats()["received"] >= 12 + 5 * 24, True, "kept receiving %r" % b.stats())
    close(a, b, r)


def test_rtcp_port_from_the_audio_stream_of_an_sdp():
    from callctl import rtcp_port
    sdp = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
           "m=video 5000 RTP/AVP 96\r\na=rtcp:5001\r\n"
           "m=audio 4000 RTP/AVP 0\r\na=rtcp:4711 IN IP4 10.0.0.1\r\n"
           "m=audio 6000 RTP/AVP 0\r\na=rtcp:6001\r\n")
    eq(rtcp_port(sdp), 4711, "the first audio stream's a=rtcp")
    eq(rtcp_port(sdp.replace("a=rtcp:4711", "a=rtcp:x")), 0, "bad: RTP port + 1 then")
    eq(rtcp_port(sdp.replace("a=rtcp:4711", "a=rtcp:70000")), 0, "out of range")
    eq(rtcp_port("v=0\r\nm=audio 4000 RTP/AVP 0\r\n"), 0, "none")
    eq(rtcp_port(None), 0, "no SDP")
