# The SIP receive path (sip.wire.receive), over real loopback sockets: datagrams come
# whole and one at a time, each with its own source, short and long ones; an oversize
# one is cut and the next is intact; and a short one is received in a heap fragmented
# into pieces smaller than what recvfrom(RECV_BYTES) would ask for, where a long one
# that has no room is dropped without stopping the queue; a short one needs only the
# short peek, a longer one the length its headers announce (a wrong or a missing one
# still reads it whole); the user agent counts such a drop and handles the next one.
import socket

from check import eq
from heap_pieces import InPieces, no_piece

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
                (b, pb, b"")]
        for i, size in enumerate(PEEK_BYTES):     # each peek's edge, both sides of it
            sent += [((a, b)[i % 2], (pa, pb)[i % 2], b"P" * size),
                     ((b, a)[i % 2], (pb, pa)[i % 2], b"Q" * (size - 1))]
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


def _in_pieces(piece, run):
    """run(rx, to, a): a receiving socket, its address and a sender, in a heap
    fragmented into holes of about `piece` bytes (made before: what run sends)."""
    rx, to = _pair()
    a, _ = _sender()
    try:
        with InPieces(piece):
            run(rx, to, a)
    finally:
        rx.close()
        a.close()


def test_works_where_the_heap_has_no_buffer_sized_piece():
    long_one, short_one = b"L" * 5000, b"R" * 1400    # made while the heap is whole

    def run(rx, to, a):
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
        assert no_piece(BUF), "the heap was not fragmented, the test proved nothing"
    _in_pieces(4096, run)       # half the heap free, in 4 KB holes


def test_a_short_one_needs_only_the_short_peek():
    short_one = b"S" * (PEEK_BYTES[0] - 1)   # a REGISTER's 200, a 100 Trying

    def run(rx, to, a):
        assert no_piece(PEEK_BYTES[1]), "the heap was not fragmented: proves nothing"
        a.sendto(short_one, to)
        data, _ = receive(rx, BUF)
        eq(data, short_one, "received where no longer peek fits")
    _in_pieces(PEEK_BYTES[0] + 256, run)     # holes between the two peeks' sizes


def _sip(body_len, announce=None, name=b"Content-Length", pad=700):
    """A SIP response of about pad + body_len bytes whose headers announce a body of
    `announce` bytes (default: the body's own length); with the default pad the
    headers end within the short peek, as a 200 OK's before its SDP."""
    head = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
            b"X-Pad: " + b"p" * pad + b"\r\n" + name + b": %d\r\n\r\n"
            % (body_len if announce is None else announce))
    return head + b"v" * body_len


def test_a_longer_one_asks_for_its_announced_length_and_no_more():
    full, compact = _sip(800), _sip(780, name=b"l")      # ~1.6 KB each

    def run(rx, to, a):
        assert no_piece(PEEK_BYTES[1]), "the heap was not fragmented: proves nothing"
        for msg in (full, compact):
            assert PEEK_BYTES[0] < len(msg) < 1800
            a.sendto(msg, to)
            data, _ = receive(rx, BUF)
            eq(data, msg, "a %d-byte message in a heap without a 2 KB piece" % len(msg))
    _in_pieces(1800, run)       # holes hold the message, not the longer peek


def test_a_wrong_or_missing_length_still_reads_the_datagram_whole():
    rx, to = _pair()
    a, _ = _sender()
    try:
        sent = [_sip(800, announce=10), _sip(800, announce=900), _sip(800, announce=-5),
                _sip(800, name=b"Content-length"), _sip(3000, pad=100), _sip(50, pad=3000),
                _sip(800, announce=7000)]
        for msg in sent:
            a.sendto(msg, to)
        for msg in sent:
            data, _ = receive(rx, BUF)
            eq(data, msg, "%d bytes" % len(msg))
    finally:
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
