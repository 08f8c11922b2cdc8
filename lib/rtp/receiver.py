# RTP receive path, as functions of an RtpSession `s`: reading the socket without
# allocation, the source check (only the SDP's address, or with symmetric RTP a new
# source that proved itself), packet validation, RFC 3550 sequence and jitter
# statistics, and filing audio into the jitter buffer.
#
# The per-packet functions are in the viper emitter: their byte reads (ptr8) and
# integer arithmetic are machine instructions (the native emitter calls the runtime
# for every subscript and operator: ~7 k x86 instructions a frame more), and their
# frames are on the C stack, where a bytecode function with over 11 words of locals
# and stack gets its frame from the heap at every call (MicroPython without a Python
# stack, as the ESP32 port). Attribute reads cost the same lookups in viper as in
# bytecode, or more (bytecode has a fast path for instance attributes), so
# functions that mostly read attributes (receive, drain) stay bytecode. Code size:
# this module's xtensawin .mpy is 9.3 KB (frozen: in flash; from a .mpy file, its
# machine code is copied to exec RAM). A viper int is 32 bits on the ESP32: every
# sum below is bounded.
import socket
import time

import micropython
from micropython import const

from rtp import _fast, events

_RX_BUF = const(2048)  # bytes: receive buffer (several datagrams may be read at once)
_MAX_READS = const(16)  # socket reads per receive() call
_MAX_STRANGERS = const(64)  # strangers' datagrams dropped per call (the rest next call)
_SWEEP_MAX = const(4096)  # more than a socket's receive buffer can hold
_LEARN = const(3)  # unpadded audio packets of one size before switching to readinto()
_MAX_DROPOUT = const(3000)  # RFC 3550 A.1: sequence jump still taken as in order
_MAX_MISORDER = const(100)  # RFC 3550 A.1: sequence this far back is reordering
_SILENT_MS = const(500)  # symmetric RTP: the accepted source this quiet (or this long
#                         after set_remote without a packet) may be replaced
MAX_PACKET = const(1500)  # longest datagram taken from the peer (an Ethernet MTU)
LATCH_PACKETS = const(5)  # symmetric RTP: packets in a row, one SSRC, one new source
SEEN = const(128)  # sequence numbers remembered for duplicate detection
RX_BUF = _RX_BUF
_PEEK = getattr(socket, "MSG_PEEK", 0)  # exported by the unix, ESP32 and lwIP sockets
_PEEK_BYTES = const(512)  # while learning: a datagram shorter than this (a 60 ms G.711
#                          packet is 492 bytes) is measured by a peek of this size


def addr_parts(a):
    """(ip, port) of a socket address as this port returns it (tuple or sockaddr)."""
    if isinstance(a, tuple):
        return a[0], a[1]
    return "%d.%d.%d.%d" % (a[4], a[5], a[6], a[7]), (a[2] << 8) | a[3]


def ready(p):
    """Something (or an error) is waiting on a socket of poll object p."""
    for _ in p.ipoll(0):
        return True
    return False


def receive(s, now_ms=None):
    """Drain the sockets: the accepted source's packets into the jitter buffer, the
    strangers' counted and dropped. Returns the accepted packets read."""
    if s.sock is None:
        return 0
    if now_ms is None:
        now_ms = time.ticks_ms()
    s._now = now_ms
    got = 0
    if s._connected:
        got = _accepted(s)
        if got:
            s._ok_ms = now_ms
            s._ok_have = True
        catch = s._catch
        poll = s._catch_poll
    else:
        catch = s.sock  # no address signalled yet: every packet is a stranger's
        poll = s._poll
    if catch is not None:
        if s.symmetric and (not s._ok_have or
                            time.ticks_diff(now_ms, s._ok_ms) > _SILENT_MS):
            got += _candidates(s, catch)
        elif ready(poll):
            k = drain(s, catch)
            if k:
                s.strangers += k
    if s._erx_state == 1:  # an RFC 4733 event is running: has its end gone missing?
        events.event_timeout(s, now_ms)
    return got


def drain(s, sock):
    """Drop what is queued on sock (strangers only reach it); returns how many.
    A 1-byte readinto() takes exactly one datagram (the kernel discards its rest):
    no allocation, and no source address needed: the kernel already sorted them.
    (The count is kept on s: with a third local and the try this function's frame
    would be over 11 words and come from the heap at every call; see _accepted.)"""
    s._drained = 0
    if sock is not None:
        try:
            while s._drained < _MAX_STRANGERS and sock.readinto(s._one) is not None:
                s._drained += 1
        except OSError:
            pass
    return s._drained


@micropython.viper
def _accepted(s) -> int:
    # The RTP socket is connected to the accepted source: the kernel gives it only
    # that source's datagrams. readinto() of a multiple of the learned size reads
    # what is queued, datagram after datagram, until the request is full or the
    # queue is empty (MicroPython's stream read loops until EAGAIN): a read that
    # came back short emptied the queue, and another would find nothing.
    got = 0
    reads = 0
    while reads < _MAX_READS:
        reads += 1
        if s._learned:
            req = int(s._rx_req)
            try:
                r = s.sock.readinto(s._rx, req)
            except OSError:  # e.g. ICMP port unreachable on a connected socket
                s.rx_errors = int(s.rx_errors) + 1
                break
            if not r:  # None: nothing queued (0: an empty datagram)
                break
            n = int(r)
            got += int(_split(s, n))
            if n < req:
                break
        else:
            n = int(_recv(s))
            if n < 0:
                break
            got += n
    return got


def _read_one(s, sock):
    """The next queued datagram on sock (s.sock or the catch-all) into s._rx: (its
    length, its source as recvfrom gives it); OSError when none is queued. Its length
    and source come from a peek of _PEEK_BYTES, then readinto(s._rx, n) takes it off
    the queue (this one only: the stream read stops once n bytes came). So a read asks
    the heap for a few hundred bytes, not for RX_BUF in one piece, which a call in a
    heap in pieces could not get (docs/bench-heap.md). An empty or a longer datagram
    is read whole (recvfrom allocates); one longer than MAX_PACKET is not copied.
    When the heap has not even the peek's bytes in one piece, the datagram is dropped
    unread and counted in rx_errors: (-1, None). A lost packet is what the jitter
    buffer and the concealer are for; a MemoryError would end the call."""
    try:
        if _PEEK:
            data, src = sock.recvfrom(_PEEK_BYTES, _PEEK)
            n = len(data)
            if 0 < n < _PEEK_BYTES:
                sock.readinto(s._rx, n)
                return n, src
        data, src = sock.recvfrom(_RX_BUF)
    except MemoryError:
        # a 1-byte read into a kept buffer takes the whole datagram off the queue
        # without allocating; None: nothing was queued after all
        if sock.readinto(s._one, 1) is None:
            raise OSError(11)   # EAGAIN, as recvfrom says it
        s.rx_errors += 1
        return -1, None
    n = len(data)
    if n <= MAX_PACKET:
        s._rx[:n] = data  # a whole object on the right: a memmove, no allocation
    return n, src


def _recv(s):
    """While the sizes are being learned: one datagram, filed; 1, 0 when it was
    dropped for want of heap, or -1 when none is queued or on an error (counted)."""
    if not ready(s._poll):
        return -1
    try:
        n = _read_one(s, s.sock)[0]
    except OSError:
        s.rx_errors += 1
        return -1
    if n < 0:
        return 0    # dropped for want of heap (counted): the next one may fit
    if n > MAX_PACKET:  # (cut at RX_BUF if longer still)
        s.oversize += 1
    else:
        packet(s, 0, n)
    return 1


def _candidates(s, sock):
    # Symmetric RTP while the accepted source is silent: look at who sends. A new
    # source is followed once it sent latch_packets packets (audio or RFC 4733) in a
    # row, one SSRC,
    # consecutive sequence numbers, with no other source's RTP in between. Reading
    # the source address allocates (recvfrom): this runs only while the accepted
    # source is silent (call set-up, a NAT that rewrote the peer's address).
    got = 0
    data = s._rx
    for _ in range(_MAX_READS):
        try:
            n, a = _read_one(s, sock)
        except OSError:
            break
        if n < 0:
            continue
        pt = data[1] & 0x7F
        if (n < 12 or n > MAX_PACKET or (data[0] & 0xC0) != 0x80
                or (pt != s.pt and pt != s.dtmf_pt)):
            s.strangers += 1
            continue
        seq = (data[2] << 8) | data[3]
        c = s._cand_ssrc
        if (s._cand is not None and a == s._cand and c[0] == data[8] and c[1] == data[9]
                and c[2] == data[10] and c[3] == data[11]
                and seq == (s._cand_seq + 1) & 0xFFFF):
            s._cand_n += 1
        else:
            s._cand = a
            _fast.copy8(c, 0, data, 8, 4)
            s._cand_n = 1
        s._cand_seq = seq
        if s._cand_n < s.latch_packets:
            s.strangers += 1
            continue
        kept = data[:n]  # _follow sweeps the queue through s._rx: this packet aside
        if not s._follow(a, True):
            s.strangers += 1
            continue
        s._rx[:n] = kept
        packet(s, 0, n)
        s._ok_ms = s._now
        s._ok_have = True
        got += 1
        break
    return got


def sweep(s, a):
    """After connecting to a: what the socket queued before came from anyone; keep
    only a's packets (set-up, not in the frame: recvfrom allocates)."""
    want = addr_parts(a)
    for _ in range(_SWEEP_MAX):  # all of it: anything left would pass as a's
        try:
            n, src = _read_one(s, s.sock)
        except OSError:
            break
        if n < 0:
            continue    # dropped unread for want of heap (counted)
        if addr_parts(src) != want:
            s.strangers += 1
        elif n > MAX_PACKET:
            s.oversize += 1
        else:
            packet(s, 0, n)


@micropython.viper
def _split(s, n: int) -> int:
    # readinto() concatenates the queued datagrams: cut them apart by their header
    # lengths and the learned payload sizes (audio: the peer's constant size, events:
    # 4 bytes, RTCP: its length field).
    b = ptr8(s._rx)
    pt_audio = int(s.pt)
    pt_event = int(s.dtmf_pt)
    audio_len = int(s._learn_len)
    o = 0
    count = 0
    while o < n:
        r = n - o
        b0 = b[o]
        if r < 8 or (b0 & 0xC0) != 0x80:
            return int(_unsplittable(s, count, n))
        b1 = b[o + 1]
        if 192 <= b1 <= 223:  # RTCP on the RTP port (RFC 5761 demultiplexing)
            ln = (((b[o + 2] << 8) | b[o + 3]) + 1) * 4
            if ln > r:
                return int(_unsplittable(s, count, n))
            _rtcp_in(s, o, ln)
            count += 1
            o += ln
            continue
        if r < 12 or b0 & 0x20:  # padded: its length is not in its header
            return int(_unsplittable(s, count, n))
        hl = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            if r < hl + 4:
                return int(_unsplittable(s, count, n))
            hl += 4 + 4 * ((b[o + hl + 2] << 8) | b[o + hl + 3])
        pt = b1 & 0x7F
        if pt == pt_audio:
            ln = hl + audio_len
        elif pt == pt_event:
            ln = hl + 4
        else:
            return int(_unsplittable(s, count, n))
        if ln > r:
            return int(_unsplittable(s, count, n))
        packet(s, o, ln)
        count += 1
        o += ln
    return count


def _unsplittable(s, count, n):
    # Unexpected size or padding: drop the rest and learn the sizes again. A read
    # that filled the whole request and does not split was cut: a datagram longer
    # than the space left (oversize; a burst of whole datagrams splits cleanly).
    if n == s._rx_req:
        s.oversize += 1
    else:
        s.discarded += 1
    s._learned = False
    s._learn_n = 0
    return count + 1


@micropython.viper
def packet(s, o: int, n: int) -> bool:
    """Validate and file one packet at s._rx[o:o+n]; True when it is ours."""
    rx = s._rx
    b = ptr8(rx)
    b0 = b[o]
    if n < 8 or (b0 & 0xC0) != 0x80:
        s.discarded = int(s.discarded) + 1
        return False
    b1 = b[o + 1]
    if 192 <= b1 <= 223:  # RTCP on the RTP port (RFC 5761 demultiplexing)
        _rtcp_in(s, o, n)
        return False
    if n < 12:
        s.discarded = int(s.discarded) + 1
        return False
    hl = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if n < hl + 4:
            s.discarded = int(s.discarded) + 1
            return False
        hl += 4 + 4 * ((b[o + hl + 2] << 8) | b[o + hl + 3])
    plen = n - hl
    if b0 & 0x20 and plen > 0:
        plen -= b[o + n - 1]
    if plen < 0:
        s.discarded = int(s.discarded) + 1
        return False
    pt = b1 & 0x7F
    pt_event = int(s.dtmf_pt)
    if pt != int(s.pt) and pt != pt_event:
        s.discarded = int(s.discarded) + 1
        return False
    ss = ptr8(s._rx_ssrc)
    have = bool(s._have_ssrc)
    if not have or ss[0] != b[o + 8] or ss[1] != b[o + 9] or (
            ss[2] != b[o + 10]) or ss[3] != b[o + 11]:
        if have:
            jb = s.jb
            jb.resyncs = int(jb.resyncs) + 1
        s._reset_rx()
        s._have_ssrc = True
        ss[0] = b[o + 8]
        ss[1] = b[o + 9]
        ss[2] = b[o + 10]
        ss[3] = b[o + 11]
    st = int(_update_seq(s, (b[o + 2] << 8) | b[o + 3]))
    if st < 0:
        return True
    if pt == pt_event:
        events.event_in(s, o + hl, plen, o + 4)
        return True
    if not s._learned and not b0 & 0x20:
        # Unpadded: its payload length is known from its header alone. CSRCs and
        # header extensions are fine: _split reads their length per packet.
        if plen == int(s._learn_len) and n == int(s._learn_n_bytes):
            k = int(s._learn_n) + 1
            s._learn_n = k
            if k >= _LEARN:
                s._learned = True
                s._rx_req = ((_RX_BUF - 64) // n) * n  # whole datagrams: no truncation
        else:
            s._learn_len = plen
            s._learn_n_bytes = n
            s._learn_n = 1
    _jitter(s, rx, o + 4)
    if plen:
        s.jb.put(rx, o + 4, o + hl, plen, b1 & 0x80, st)
    return True


def _rtcp_in(s, o, n):
    from rtp import rtcp
    rtcp.parse(s, memoryview(s._rx)[o:o + n], n, s._now)


@micropython.viper
def _update_seq(s, seq: int) -> int:
    # RFC 3550 A.1. Returns 1 for a new highest sequence number, 0 for an older
    # one, -1 for a duplicate or a packet to discard.
    seen = ptr32(s._seen)
    if not s._seq_init:
        s._seq_init = True
        s._base_seq = seq
        s._max_seq = seq
        s._cycles = 0
        s._bad_seq = -1
        seen[seq % SEEN] = seq
        s._stream_rcv = 1
        s.received = int(s.received) + 1
        return 1
    slot = seq % SEEN
    if int(seen[slot]) == seq:
        s.duplicates = int(s.duplicates) + 1
        return -1
    top = int(s._max_seq)
    ud = (seq - top) & 0xFFFF
    res = 0
    if ud < _MAX_DROPOUT:
        if seq < top:
            s._cycles = int(s._cycles) + 1
        s._max_seq = seq
        res = 1
    elif ud <= 0x10000 - _MAX_MISORDER:
        if seq == int(s._bad_seq):
            # Two in a row after a big jump: the peer restarted its sequence.
            s._seq_init = False
            i = 0
            while i < SEEN:
                seen[i] = -1
                i += 1
            return int(_update_seq(s, seq))
        s._bad_seq = (seq + 1) & 0xFFFF
        s.discarded = int(s.discarded) + 1
        return -1
    seen[slot] = seq
    s._stream_rcv = int(s._stream_rcv) + 1
    s.received = int(s.received) + 1
    return res


_ticks_diff = time.ticks_diff
_JITTER_MAX = const(0x1000000)  # timestamp units (35 min): bounds the 32-bit sums


@micropython.viper
def _jitter(s, rx, tsi: int):
    # RFC 3550 A.8 interarrival jitter, with the arrival time of this receive().
    b = ptr8(rx)
    th = (b[tsi] << 8) | b[tsi + 1]
    tl = (b[tsi + 2] << 8) | b[tsi + 3]
    now = s._now
    if s._jit_have:
        dh = (th - int(s._jit_h)) & 0xFFFF
        if dh == 0 or dh == 0xFFFF or dh == 1:
            if dh == 0xFFFF:
                dh = -1
            sd = dh * 0x10000 + tl - int(s._jit_l)
            ms = int(_ticks_diff(now, s._jit_ms))
            # a viper int is 32 bits on the ESP32: a gap of hours (a call on hold)
            # counts as _JITTER_MAX, not as an overflowed product
            if ms > _JITTER_MAX // 8:
                ms = _JITTER_MAX // 8
            elif ms < -_JITTER_MAX // 8:
                ms = -_JITTER_MAX // 8
            d = ms * 8 - sd
            if d < 0:
                d = -d
            if d > _JITTER_MAX:
                d = _JITTER_MAX
            q4 = int(s._jitter_q4)
            s._jitter_q4 = q4 + d - ((q4 + 8) >> 4)
    s._jit_have = True
    s._jit_ms = now
    s._jit_h = th
    s._jit_l = tl


def expected(s):
    if not s._seq_init:
        return 0
    return s._cycles * 0x10000 + s._max_seq - s._base_seq + 1
