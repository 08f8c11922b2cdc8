# Proof that the per-frame paths do not allocate: send, receive, pull, conceal/good
# and the RTCP tick (sending SR/RR reports and parsing the peer's) run with the heap
# locked (MemoryError on any allocation).
import time
from array import array

import micropython
from check import eq
from rtp import AUDIO
from rtp.plc import Concealer
from test_rtp_recv import pair, Raw, raw_to
from test_rtp_send import _addr

F = 160


def test_send_receive_pull_without_allocation():
    a, b = pair()
    b.on_event = lambda e, ended: None
    fr = bytearray(F)
    out = bytearray(F)
    kinds = bytearray(200)
    for _ in range(6):  # warm-up: latch and learn the packet size (these allocate)
        a.send(fr)
        b.send(fr)
        time.sleep_ms(1)
        a.receive()
        b.receive()
        a.pull(out)
        b.pull(out)
    now = time.ticks_ms()
    a.rtcp_tick(now)
    b.rtcp_tick(now)
    before = (a.rtcp_sent, b.rtcp_sent, a.rtcp_received, b.rtcp_received)
    micropython.heap_lock()
    try:
        for t in range(200):
            if t == 50:
                a.event_start(7)
            elif t == 60:
                a.event_end()
            elif t == 100:
                a.send(None)  # silence tick
            a.send(fr)
            b.send(fr)
            if t % 10 == 0:  # bursts: several datagrams per read, events among them
                a.send(fr)
            b.receive()
            a.receive()
            kinds[t] = b.pull(out)
            a.pull(out)
            # 100 ms of RTCP clock per loop: 20 s in all, several reports each way
            # (the first due after 2.5 s, then every 2.5-7.5 s)
            t_ms = time.ticks_add(now, 100 * t)
            a.rtcp_tick(t_ms)
            b.rtcp_tick(t_ms)
    finally:
        micropython.heap_unlock()
    sent_a, sent_b = a.rtcp_sent - before[0], b.rtcp_sent - before[1]
    if sent_a < 2 or sent_b < 2:
        raise AssertionError("RTCP reports sent under the lock: %d, %d" % (sent_a, sent_b))
    if a.rtcp_received - before[2] < 1 or b.rtcp_received - before[3] < 1:
        raise AssertionError("no RTCP report parsed under the lock")
    eq(a.stats()["remote_lost"], 0, "A's stream as B reported it")
    eq(sum(1 for k in kinds if k == AUDIO) > 150, True, "audio flowed")
    eq(b.stats()["events_rx"], 1, "event received")
    eq(b.stats()["discarded"], 0, "all datagrams parsed")
    a.close()
    b.close()


def test_idle_receive_without_allocation():
    a, b = pair()  # nothing sent: the unlatched path polls
    out = bytearray(F)
    micropython.heap_lock()
    try:
        for _ in range(20):
            a.receive()
            a.pull(out)
            a.send(None)
    finally:
        micropython.heap_unlock()
    a.close()
    b.close()


def test_plc_without_allocation():
    c = Concealer(F)
    fr = array("h", range(-F * 40, F * 40, 80))
    c.good(fr)
    micropython.heap_lock()
    try:
        for k in range(20):
            if k % 4 == 3:
                c.good(fr)
            else:
                c.conceal(fr)
    finally:
        micropython.heap_unlock()


def test_plc_history_ring_delays_good_frames_exactly():
    # Good frames come out delayed by c.delay samples, across every position of the
    # history ring (its size is not a whole number of frames, so both the one-piece
    # and the wrapped read run), under the lock.
    c = Concealer(F)
    n = 40
    frames = [array("h", [(k * F + i) % 30000 - 15000 for i in range(F)]) for k in range(n)]
    micropython.heap_lock()
    try:
        for fr in frames:
            c.good(fr)
    finally:
        micropython.heap_unlock()
    d = c.delay
    for k in range(1, n):
        want = [(k * F + i - d) % 30000 - 15000 for i in range(F)]
        eq(list(frames[k]), want, "frame %d delayed by %d samples" % (k, d))


def test_plc_loss_starts_at_every_ring_position_without_allocation():
    # A loss starts at each of the ring's write positions (0, 80, ..., 320 samples:
    # the history is copied out in one piece or two), under the lock; what is
    # concealed repeats the received signal's period, so it is not silence.
    c = Concealer(F)
    tone = array("h", [(i % 50) * 400 - 10000 for i in range(F)])
    buf = array("h", bytes(2 * F))
    loud = [0] * 5
    micropython.heap_lock()
    try:
        for start in range(5):
            for _ in range(3 + start):
                for i in range(F):
                    buf[i] = tone[i]
                c.good(buf)
            c.conceal(buf)
            peak = 0
            for i in range(F):
                if buf[i] > peak:
                    peak = buf[i]
            loud[start] = peak
    finally:
        micropython.heap_unlock()
    eq(all(p > 5000 for p in loud), True, "each loss concealed with the signal: %r" % loud)


def test_plc_memoryview_frames_take_memmoves_same_output_without_allocation():
    # A frame given as a memoryview (as the media pipeline gives it) is stored and
    # delayed with memmoves: the same output as the per-block path of an array, at
    # every ring position, around losses, under the lock.
    ref = Concealer(F)
    c = Concealer(F)
    a = array("h", bytes(2 * F))
    b = array("h", bytes(2 * F))
    v = memoryview(b)
    differ = [0]
    micropython.heap_lock()
    try:
        for k in range(60):
            for i in range(F):
                a[i] = b[i] = ((k * F + i) * 37) % 20000 - 10000
            if k % 9 == 4 or k % 9 == 5:
                ref.conceal(a)
                c.conceal(v)
            else:
                ref.good(a)
                c.good(v)
            for i in range(F):
                if a[i] != b[i]:
                    differ[0] += 1
    finally:
        micropython.heap_unlock()
    eq(differ[0], 0, "samples that differ from the array path")


def test_send_refuses_a_payload_longer_than_a_frame():
    a, b = pair()
    try:
        a.send(bytearray(F + 1))
    except ValueError:
        pass
    else:
        raise AssertionError("a payload longer than a frame was sent")
    finally:
        a.close()
        b.close()


def test_raw_stream_with_loss_and_reorder_without_allocation():
    a, b = pair(jitter_min_ms=40)
    r = raw_to(b)
    out = bytearray(F)
    for k in range(4):
        r.send(k, k * F)
        time.sleep_ms(1)
        b.receive()
    order = []
    for k in range(4, 84):
        if k % 7 == 0:
            continue  # lost
        order.append(k)
    for i in range(0, len(order) - 1, 5):
        order[i], order[i + 1] = order[i + 1], order[i]
    pkts = []
    for k in order:  # built before the heap is locked
        p = bytearray(12 + F)
        p[0] = 0x80
        p[2], p[3] = k >> 8, k & 0xFF
        ts = k * F
        p[5], p[6], p[7] = (ts >> 16) & 0xFF, (ts >> 8) & 0xFF, ts & 0xFF
        p[8:12] = b"SSRC"
        pkts.append(p)
    micropython.heap_lock()
    try:
        for p in pkts:
            r.s.sendto(p, r.to)
            b.receive()
            b.pull(out)
    finally:
        micropython.heap_unlock()
    eq(b.stats()["received"], 4 + len(order), "received")
    eq(b.stats()["lost"], 11, "lost")
    r.close()
    a.close()
    b.close()


def _stranger_spray_locked(**kw):
    # Strangers spray RTP (right PT, even the peer's SSRC), oversize datagrams and RTCP
    # garbage while a call runs: dropping and counting them allocates nothing.
    a, b = pair(**kw)
    fr = bytearray(F)
    out = bytearray(F)
    for _ in range(6):  # warm-up: learn the packet size (allocates)
        a.send(fr)
        time.sleep_ms(1)
        b.receive()
        b.pull(out)
    now = time.ticks_ms()
    b.rtcp_tick(now)
    evil = Raw(b.local_port)
    rtp_to = evil.to
    rtcp_to = _addr(b.local_port + 1)
    p = bytearray(12 + F)
    p[0] = 0x80
    p[8:12] = a.ssrc
    big = bytearray(8192)
    big[0] = 0x80
    junk = bytearray(100)
    kinds = bytearray(200)
    micropython.heap_lock()
    try:
        for t in range(200):
            p[3] = t & 0xFF
            evil.s.sendto(p, rtp_to)
            evil.s.sendto(big, rtp_to)
            evil.s.sendto(junk, rtcp_to)
            a.send(fr)
            b.receive()
            kinds[t] = b.pull(out)
            b.rtcp_tick(now)
    finally:
        micropython.heap_unlock()
    st = b.stats()
    eq(st["strangers"], 400, "every stranger's RTP datagram counted")
    eq(st["rtcp_strangers"], 200, "and RTCP")
    eq(st["latched"], False, "never followed")
    eq(sum(1 for k in kinds if k == AUDIO) > 150, True, "the peer's audio played")
    close_all(evil, a, b)


def close_all(*xs):
    for x in xs:
        x.close()


def test_stranger_drop_without_allocation():
    _stranger_spray_locked()


def test_stranger_drop_without_allocation_symmetric_mode():
    # Symmetric RTP allowed, but the SDP source is sending: no candidate look-ups.
    _stranger_spray_locked(symmetric=True)


def test_no_room_to_read_drops_the_datagram_not_the_call():
    # While the packet sizes are learned, and in the sweep at set-up, a datagram is
    # peeked at (recvfrom allocates 512 bytes). In a heap with no such piece the
    # datagram is dropped unread and counted, the queue moves on, and no MemoryError
    # reaches the call; with heap again the next one is read.
    from heap_pieces import InPieces, no_piece
    from rtp import receiver
    a, b = pair()
    fr = bytearray(F)
    with InPieces(256):
        assert no_piece(512), "the heap has a 512-byte piece"
        a.send(fr)
        a.send(fr)
        time.sleep_ms(10)
        got = b.receive()
        dropped = b.rx_errors
        for _ in range(3):
            a.send(fr)
        time.sleep_ms(10)
        receiver.sweep(b, b._dest)
        swept = b.rx_errors
        time.sleep_ms(10)
        left = b.receive()
    eq(got, 0, "nothing read without heap")
    eq(dropped, 2, "both queued datagrams dropped and counted")
    eq(swept, 5, "the sweep drops what it cannot read")
    eq(left, 0, "and leaves nothing queued")
    a.send(fr)
    time.sleep_ms(10)
    eq(b.receive(), 1, "the next datagram read once there is heap")
    close_all(a, b)
