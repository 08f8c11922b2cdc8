# The SIP receive path (sip.wire.receive), over real loopback sockets: datagrams come
# whole and one at a time, each with its own source, short and long ones; an oversize
# one is cut and the next is intact; and a short one is received in a heap fragmented
# into pieces smaller than what recvfrom(RECV_BYTES) would ask for, where a long one
# that has no room is dropped without stopping the queue; the user agent counts such a
# drop and handles the next datagram.
import gc
import socket

from check import eq

from sip.wire import PEEK_BYTES, peer_of, receive
from test_rtp_send import _addr, free_port

BUF = 8193


def _bound():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = free_port(pair=False)
    s.bind(_addr(port))
    return s, port


def _pair():
    rx, port = _bound()
    rx.setblocking(False)
    return rx, _addr(port)


_sender = _bound


def test_datagrams_come_whole_with_their_own_source():
    rx, to = _pair()
    a, pa = _sender()
    b, pb = _sender()
    try:
        sent = [(a, pa, b"x"), (b, pb, bytes(range(256)) * 6), (a, pa, b"S" * 8192),
                (b, pb, b""), (a, pa, b"P" * PEEK_BYTES), (b, pb, b"Q" * (PEEK_BYTES - 1))]
        for s, _, d in sent:
            s.sendto(d, to)
        for _, port, d in sent:
            data, src = receive(rx, BUF)
            eq(data, d, "datagram of %d bytes" % len(d))
            eq(type(data), bytes, "a bytes copy, not the buffer")
            eq(peer_of(src), ("127.0.0.1", port), "its own sender")
        try:
            receive(rx, BUF)
            raise AssertionError("one datagram more than was sent")
        except OSError:
            pass
    finally:
        for s in (rx, a, b):
            s.close()


def test_oversize_cut_to_the_buffer_and_the_next_intact():
    rx, to = _pair()
    a, pa = _sender()
    try:
        a.sendto(b"o" * 9000, to)
        a.sendto(b"INVITE", to)
        data, _ = receive(rx, BUF)
        eq(len(data), BUF, "cut to the buffer, seen as oversize")
        data, src = receive(rx, BUF)
        eq(data, b"INVITE", "the next datagram whole")
        eq(peer_of(src)[1], pa, "its source")
    finally:
        rx.close()
        a.close()


def test_works_where_the_heap_has_no_buffer_sized_piece():
    rx, to = _pair()
    a, _ = _sender()
    held = [None] * 20000
    long_one, short_one = b"L" * 5000, b"R" * 1400    # made while the heap is whole
    try:
        # fill the heap with 4 KB pieces, then free every other one: half the heap is
        # free, in 4 KB holes
        gc.collect()
        n = 0
        try:
            while n < len(held):
                held[n] = bytearray(4096)
                n += 1
        except MemoryError:
            pass
        for i in range(0, n, 2):
            held[i] = None
        gc.collect()
        assert n > 100, "heap not filled (%d pieces)" % n
        a.sendto(long_one, to)
        a.sendto(short_one, to)
        a.sendto(short_one, to)
        try:
            receive(rx, BUF)
            raise AssertionError("a 5000-byte datagram read into a heap of 4 KB holes")
        except MemoryError:
            pass                      # no room: dropped, and the queue goes on
        data, _ = receive(rx, BUF)
        eq(data, short_one, "received in a fragmented heap")
        # the heap really is in pieces: what recvfrom(BUF) needs is not there
        try:
            rx.recvfrom(BUF)
            raise AssertionError("recvfrom(%d) found a whole piece: the heap was not "
                                 "fragmented, the test proved nothing" % BUF)
        except MemoryError:
            pass
    finally:
        held = None
        gc.collect()
        rx.close()
        a.close()


def test_the_user_agent_counts_a_datagram_it_had_no_room_for_and_goes_on():
    import asyncio
    import sip.ua as U
    from sip import UserAgent
    a, pa = _sender()
    port = free_port(pair=False)
    ua = UserAgent({"server": "127.0.0.1", "port": pa, "user": "1001", "local_ip": "127.0.0.1",
                    "sip_port": port, "register": False, "keepalive": "none"})
    real, calls = U.receive, [0]

    def no_room_once(sock, most):
        calls[0] += 1
        if calls[0] == 1:            # what receive does when the heap has no room
            sock.recv(1)
            raise MemoryError
        return real(sock, most)

    async def run():
        await ua.start()
        try:
            for _ in range(2):
                a.sendto(b"\r\n\r\n", _addr(port))     # keep-alives from the registrar
            for _ in range(50):
                await asyncio.sleep_ms(10)
                if ua.counters["keepalive_rx"]:
                    break
        finally:
            await ua.stop()

    U.receive = no_room_once
    try:
        asyncio.run(run())
    finally:
        U.receive = real
        a.close()
    eq(ua.counters["dropped"], 1, "the datagram without room")
    eq(ua.counters["keepalive_rx"], 1, "the next one, handled")
