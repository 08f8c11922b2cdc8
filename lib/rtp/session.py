# RTP session for one call leg: a non-blocking UDP socket (RTCP on port+1), the sender
# (SSRC/sequence/timestamp rules, RFC 4733 events) and the receiver (validation,
# symmetric-RTP latch, RFC 3550 statistics, jitter buffer, RFC 4733 de-duplication).
# The media pipeline calls receive(), pull() and send() once per audio frame; none of
# them allocates once the peer's packet size is known (see docs/rtp.md, "Receive").
import socket
import time
from array import array

from micropython import const

from rtp import _fast
from rtp.jitter import JitterBuffer, AUDIO, LOST, EMPTY  # noqa: F401 (re-exported)

import select

_RX_BUF = const(2048)  # bytes: receive buffer (several datagrams may be read at once)
_MAX_READS = const(16)  # socket reads per receive() call
_LEARN = const(3)  # plain audio packets of one size before switching to readinto()
_MAX_DROPOUT = const(3000)  # RFC 3550 A.1: sequence jump still taken as in order
_MAX_MISORDER = const(100)  # RFC 3550 A.1: sequence this far back is reordering
_SEEN = const(128)  # sequence numbers remembered for duplicate detection
_EVENT_TIMEOUT_MS = const(300)  # receiver ends an event without an end packet
_EVENT_VOLUME = const(10)  # RFC 4733 volume field: -10 dBm0
_END_PACKETS = const(3)  # RFC 4733: the final packet is sent three times
_RTCP_INTERVAL_MS = const(5000)  # RFC 3550 minimum interval
EVENT_CHARS = "0123456789*#ABCD!"  # RFC 4733 event codes 0-16 ("!" = flash)


def _addr(ip, port):
    return socket.getaddrinfo(ip, port)[0][-1]


def addr_parts(a):
    """(ip, port) of a socket address as this port returns it (tuple or sockaddr)."""
    if isinstance(a, tuple):
        return a[0], a[1]
    return "%d.%d.%d.%d" % (a[4], a[5], a[6], a[7]), (a[2] << 8) | a[3]


def _random(n):
    try:
        import os
        return os.urandom(n)
    except (ImportError, AttributeError):
        import random
        return bytes(random.getrandbits(8) for _ in range(n))


class RtpSession:
    def __init__(self, local_ip, local_port, pt=0, dtmf_pt=101, ptime_ms=20,
                 jitter_min_ms=20, jitter_max_ms=200, latch=True):
        if ptime_ms % 10 or ptime_ms <= 0:
            raise ValueError("ptime_ms must be a multiple of 10")
        self.local_ip = local_ip
        self.local_port = local_port
        self.frame = ptime_ms * 8  # samples (= G.711 bytes) per frame
        self.latch = latch
        self.jb = JitterBuffer(self.frame, jitter_min_ms, jitter_max_ms)
        self.set_payload_type(pt)
        self.dtmf_pt = dtmf_pt
        self.on_event = None  # callback(event, ended) for received RFC 4733 events
        self.event_volume = _EVENT_VOLUME
        self.cname = "ata@" + local_ip
        self._tx = bytearray(12 + max(self.frame, 4))
        self._tx_audio = memoryview(self._tx)[:12 + self.frame]
        self._tx_event = memoryview(self._tx)[:16]
        self._rx = bytearray(_RX_BUF)
        self._seen = array("i", [-1] * _SEEN)
        self._rx_ssrc = bytearray(4)
        self.sock = None
        self._rtcp = None
        self._remote = None
        self._remote_ip = None
        self._remote_port = 0
        self._reset()

    # ---- set-up -----------------------------------------------------------------
    def _reset(self):
        self.sent = 0
        self.sent_octets = 0
        self.send_errors = 0
        self.rx_errors = 0
        self.received = 0
        self.duplicates = 0
        self.discarded = 0
        self.events_tx = 0
        self.events_rx = 0
        self._jitter_q4 = 0  # RFC 3550 interarrival jitter * 16, in timestamp units
        self._reset_rx()
        self._silent = True  # next audio packet carries the marker bit
        self._ev_state = 0  # 0 none, 1 running, 2 sending the end packets
        self._ev_next = -1
        self._ev_first = False
        self._ev_code = 0
        self._ev_h = self._ev_l = 0
        self._ev_dur = 0
        self._ev_left = 0
        self.rtcp_sent = 0
        self.rtcp_received = 0
        self.remote_report = None  # last RTCP report block about our stream (dict)
        self.remote_bye = False
        self._sr_mid = 0  # middle 32 bits of the peer's last SR NTP time
        self._sr_ms = 0
        self._rtcp_due = None
        self._rtcp_sent_since = False
        self.rtt_ms = None

    def _reset_rx(self):
        self._have_ssrc = False
        self._seq_init = False
        self._max_seq = 0
        self._cycles = 0
        self._base_seq = 0
        self._bad_seq = -1
        self._exp_prior = 0
        self._rcv_prior = 0
        self._stream_rcv = 0
        for i in range(_SEEN):
            self._seen[i] = -1
        self._jit_have = False
        self._jit_ms = 0
        self._jit_h = self._jit_l = 0
        self._erx_state = 0  # 0 none, 1 running, 2 ended
        self._erx_code = 0
        self._erx_h = self._erx_l = -1
        self._erx_ms = 0
        self.jb.reset()

    def open(self):
        if self.sock is not None:
            return
        r = _random(10)
        self._seq = (r[0] << 8) | r[1]
        self._th = (r[2] << 8) | r[3]  # timestamp, 16-bit halves (no big ints)
        self._tl = (r[4] << 8) | r[5]
        self.ssrc = bytes(r[6:10])
        self._tx[8:12] = self.ssrc
        self._open_rtp()
        try:
            self._rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._rtcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._rtcp.bind(_addr(self.local_ip, self.local_port + 1))
            self._rtcp.setblocking(False)
            self._rtcp_rx = bytearray(1500)
        except OSError:
            self._rtcp = None  # RTCP is optional: the call works without it
        self._t0_s = int(time.time())
        self._t0_ms = time.ticks_ms()

    def _open_rtp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(_addr(self.local_ip, self.local_port))
        s.setblocking(False)
        self.sock = s
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self._readable()  # ipoll() allocates its result tuple on the first call only
        self._connected = False
        self._latched = False
        self._learned = False
        self._learn_n = 0
        self._learn_len = 0
        if self._remote is not None and not self.latch:
            self._connect(self._remote)

    def _reopen(self):
        if self.sock is not None:
            self.sock.close()
            self._open_rtp()

    def close(self):
        if self._rtcp is not None:
            if self.sent or self.received:
                try:
                    from rtp import rtcp
                    self._rtcp_send(rtcp.build(self, time.ticks_ms(), bye=True))
                except OSError:
                    pass
            self._rtcp.close()
            self._rtcp = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def set_remote(self, ip, port):
        """Where to send (from SDP). With latch on, replies follow the peer's first
        packet instead; a new address re-arms the latch."""
        if ip == self._remote_ip and port == self._remote_port and self._remote is not None:
            return
        self._remote_ip = ip
        self._remote_port = port
        self._remote = _addr(ip, port)
        if self.sock is not None and (self._connected or not self.latch):
            self._reopen()

    def relatch(self):
        """Accept a new source again (e.g. after the peer's media moved)."""
        if self._latched:
            self._reopen()

    def _connect(self, a):
        s = self.sock
        if s is not None:
            s.connect(a)
            self._connected = True

    def set_payload_type(self, pt):
        if getattr(self, "pt", None) == pt:
            return
        self.pt = pt
        self.jb.alaw = 1 if pt == 8 else 0
        self.jb.quiet_check = pt == 0 or pt == 8
        self._learned = False
        self._learn_n = 0

    def set_dtmf_pt(self, pt):
        self.dtmf_pt = pt

    @property
    def remote(self):
        if self._latched:
            return self._latched_ip, self._latched_port
        if self._remote is None:
            return None
        return self._remote_ip, self._remote_port

    # ---- sending ----------------------------------------------------------------
    def _header(self, b1, th, tl):
        tx = self._tx
        tx[0] = 0x80
        tx[1] = b1
        tx[2] = self._seq >> 8
        tx[3] = self._seq & 0xFF
        tx[4] = th >> 8
        tx[5] = th & 0xFF
        tx[6] = tl >> 8
        tx[7] = tl & 0xFF

    def _out(self, view):
        s = self.sock
        try:
            if s is None:
                return False
            if self._connected:
                s.send(view)
            elif self._remote is not None:
                s.sendto(view, self._remote)
            else:
                return False
        except OSError:
            self.send_errors += 1
            return False
        self._seq = (self._seq + 1) & 0xFFFF
        self.sent += 1
        self._rtcp_sent_since = True
        return True

    def send(self, payload):
        """One audio tick: send payload (one frame of G.711), or the RFC 4733 packet
        when an event is active; None means silence (nothing sent, the next audio
        packet gets the marker bit). The timestamp advances one frame either way."""
        ok = False
        if self.sock is not None:
            if self._ev_state:
                ok = self._send_event()
            elif payload is None:
                self._silent = True
            else:
                n = len(payload)
                self._header(self.pt | (0x80 if self._silent else 0), self._th, self._tl)
                _fast.copy8(self._tx, 12, payload, 0, n)
                view = self._tx_audio if n == self.frame else memoryview(self._tx)[:12 + n]
                ok = self._out(view)
                if ok:
                    self._silent = False
                    self.sent_octets += n
        lo = self._tl + self.frame
        if lo >= 0x10000:
            lo -= 0x10000
            self._th = (self._th + 1) & 0xFFFF
        self._tl = lo
        return ok

    def event_start(self, event):
        """Start sending RFC 4733 event (0-16 or one of EVENT_CHARS) from the next tick."""
        if isinstance(event, str):
            event = EVENT_CHARS.index(event)
        if not 0 <= event <= 255:
            raise ValueError("event")
        if self._ev_state == 0:
            self._ev_code = event
            self._ev_state = 1
            self._ev_first = True
        else:
            if self._ev_state == 1:
                self.event_end()
            self._ev_next = event

    def event_end(self):
        if self._ev_state == 1:
            self._ev_state = 2
            self._ev_left = _END_PACKETS

    @property
    def event_active(self):
        return self._ev_state != 0

    def _send_event(self):
        f = self.frame
        marker = 0
        if self._ev_first:
            self._ev_first = False
            self._ev_h = self._th
            self._ev_l = self._tl
            self._ev_dur = f
            marker = 0x80
            self.events_tx += 1
        elif self._ev_state == 1 or self._ev_left == _END_PACKETS:
            d = self._ev_dur + f
            if d > 0xFFFF:
                if self._ev_state == 1:
                    # RFC 4733 2.5.1.3: a long event continues in a new segment.
                    self._ev_h = self._th
                    self._ev_l = self._tl
                    d = f
                else:
                    d = 0xFFFF
            self._ev_dur = d
        end = self._ev_state == 2
        self._header(self.dtmf_pt | marker, self._ev_h, self._ev_l)
        tx = self._tx
        tx[12] = self._ev_code
        tx[13] = (0x80 if end else 0) | (self.event_volume & 0x3F)
        tx[14] = self._ev_dur >> 8
        tx[15] = self._ev_dur & 0xFF
        ok = self._out(self._tx_event)
        if end:
            self._ev_left -= 1
            if self._ev_left == 0:
                self._ev_state = 0
                if self._ev_next >= 0:
                    self._ev_code = self._ev_next
                    self._ev_next = -1
                    self._ev_state = 1
                    self._ev_first = True
        return ok

    # ---- receiving --------------------------------------------------------------
    def _readable(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def receive(self, now_ms=None):
        """Drain the socket into the jitter buffer; returns the packets read."""
        if self.sock is None:
            return 0
        if now_ms is None:
            now_ms = time.ticks_ms()
        self._now = now_ms
        got = 0
        reads = 0
        while reads < _MAX_READS:
            reads += 1
            if self._learned:
                try:
                    n = self.sock.readinto(self._rx, self._rx_req)
                except OSError:  # e.g. ICMP port unreachable on a connected socket
                    self.rx_errors += 1
                    break
                if not n:
                    break
                got += self._split(n)
            else:
                if not self._readable():
                    break
                try:
                    if self._connected:
                        data = self.sock.recv(_RX_BUF)
                        a = None
                    else:
                        data, a = self.sock.recvfrom(_RX_BUF)
                except OSError:
                    self.rx_errors += 1
                    break
                n = len(data)
                _fast.copy8(self._rx, 0, data, 0, n)
                got += 1
                if self._packet(0, n) and a is not None and self.latch and not self._latched:
                    self._latch(a)
        if self._erx_state == 1 and time.ticks_diff(now_ms, self._erx_ms) > _EVENT_TIMEOUT_MS:
            self._erx_state = 2
            self._report(self._erx_code, True)
        return got

    def _latch(self, a):
        # Symmetric RTP: send to where the peer's packets come from, and let the kernel
        # drop everyone else's (connect), which also lets receive() use readinto().
        self._latched_ip, self._latched_port = addr_parts(a)
        try:
            self._connect(a)
        except OSError:
            return
        self._latched = True

    def _split(self, n):
        # readinto() concatenates the queued datagrams: cut them apart by the
        # learned sizes (audio: the peer's constant packet size, events: 16 bytes).
        b = self._rx
        o = 0
        count = 0
        while o < n:
            r = n - o
            if r < 12 or (b[o] & 0xE0) != 0x80:
                return self._unsplittable(count)
            hl = 12 + 4 * (b[o] & 0x0F)
            if b[o] & 0x10:
                if r < hl + 4:
                    return self._unsplittable(count)
                hl += 4 + 4 * ((b[o + hl + 2] << 8) | b[o + hl + 3])
            if 192 <= b[o + 1] <= 223:  # RTCP on the RTP port (RFC 5761 demultiplexing)
                ln = (((b[o + 2] << 8) | b[o + 3]) + 1) * 4
                if ln > r:
                    return self._unsplittable(count)
                self._rtcp_in(o, ln)
                count += 1
                o += ln
                continue
            pt = b[o + 1] & 0x7F
            if pt == self.pt:
                ln = hl + self._learn_len
            elif pt == self.dtmf_pt:
                ln = hl + 4
            else:
                return self._unsplittable(count)
            if ln > r:
                return self._unsplittable(count)
            self._packet(o, ln)
            count += 1
            o += ln
        return count

    def _unsplittable(self, count):
        # Unexpected size or padding: drop the rest and learn the sizes again.
        self.discarded += 1
        self._learned = False
        self._learn_n = 0
        return count + 1

    def _packet(self, o, n):
        """Validate and file one packet at self._rx[o:o+n]; True when it is ours."""
        b = self._rx
        if n < 12 or (b[o] & 0xC0) != 0x80:
            self.discarded += 1
            return False
        if 192 <= b[o + 1] <= 223:  # RTCP on the RTP port (RFC 5761 demultiplexing)
            self._rtcp_in(o, n)
            return False
        plain = (b[o] & 0x3F) == 0  # no padding, extension or CSRCs
        hl = 12 + 4 * (b[o] & 0x0F)
        if b[o] & 0x10:
            if n < hl + 4:
                self.discarded += 1
                return False
            hl += 4 + 4 * ((b[o + hl + 2] << 8) | b[o + hl + 3])
        plen = n - hl
        if b[o] & 0x20 and plen > 0:
            plen -= b[o + n - 1]
        if plen < 0:
            self.discarded += 1
            return False
        pt = b[o + 1] & 0x7F
        if pt != self.pt and pt != self.dtmf_pt:
            self.discarded += 1
            return False
        ss = self._rx_ssrc
        if not self._have_ssrc or ss[0] != b[o + 8] or ss[1] != b[o + 9] or (
                ss[2] != b[o + 10]) or ss[3] != b[o + 11]:
            if self._have_ssrc:
                self.jb.resyncs += 1
            self._reset_rx()
            self._have_ssrc = True
            _fast.copy8(ss, 0, b, o + 8, 4)
        seq = (b[o + 2] << 8) | b[o + 3]
        st = self._update_seq(seq)
        if st < 0:
            return True
        if pt == self.dtmf_pt:
            self._event_in(o + hl, plen, o + 4)
            return True
        if not self._learned and plain:
            if plen == self._learn_len:
                self._learn_n += 1
                if self._learn_n >= _LEARN and self._connected:
                    self._learned = True
                    k = (_RX_BUF - 64) // (12 + plen)
                    self._rx_req = k * (12 + plen)
            else:
                self._learn_len = plen
                self._learn_n = 1
        self._jitter(o + 4)
        if plen:
            self.jb.put(b, o + 4, o + hl, plen, b[o + 1] & 0x80, st)
        return True

    def _rtcp_in(self, o, n):
        from rtp import rtcp
        rtcp.parse(self, memoryview(self._rx)[o:o + n], n, self._now)

    def _update_seq(self, seq):
        # RFC 3550 A.1. Returns 1 for a new highest sequence number, 0 for an older
        # one, -1 for a duplicate or a packet to discard.
        if not self._seq_init:
            self._seq_init = True
            self._base_seq = seq
            self._max_seq = seq
            self._cycles = 0
            self._bad_seq = -1
            self._seen[seq % _SEEN] = seq
            self._stream_rcv = 1
            self.received += 1
            return 1
        if self._seen[seq % _SEEN] == seq:
            self.duplicates += 1
            return -1
        ud = (seq - self._max_seq) & 0xFFFF
        res = 0
        if ud < _MAX_DROPOUT:
            if seq < self._max_seq:
                self._cycles += 1
            self._max_seq = seq
            res = 1
        elif ud <= 0x10000 - _MAX_MISORDER:
            if seq == self._bad_seq:
                # Two in a row after a big jump: the peer restarted its sequence.
                self._seq_init = False
                for i in range(_SEEN):
                    self._seen[i] = -1
                return self._update_seq(seq)
            self._bad_seq = (seq + 1) & 0xFFFF
            self.discarded += 1
            return -1
        self._seen[seq % _SEEN] = seq
        self._stream_rcv += 1
        self.received += 1
        return res

    def _jitter(self, tsi):
        # RFC 3550 A.8 interarrival jitter, with the arrival time of this receive().
        b = self._rx
        th = (b[tsi] << 8) | b[tsi + 1]
        tl = (b[tsi + 2] << 8) | b[tsi + 3]
        if self._jit_have:
            dh = (th - self._jit_h) & 0xFFFF
            if dh == 0 or dh == 0xFFFF or dh == 1:
                if dh == 0xFFFF:
                    dh = -1
                sd = dh * 0x10000 + tl - self._jit_l
                d = time.ticks_diff(self._now, self._jit_ms) * 8 - sd
                if d < 0:
                    d = -d
                self._jitter_q4 += d - ((self._jitter_q4 + 8) >> 4)
        self._jit_have = True
        self._jit_ms = self._now
        self._jit_h = th
        self._jit_l = tl

    def _event_in(self, p, plen, tsi):
        # RFC 4733 receiver: one event per timestamp (and SSRC: a new SSRC resets all).
        if plen < 4:
            self.discarded += 1
            return
        b = self._rx
        code = b[p]
        end = b[p + 1] & 0x80
        th = (b[tsi] << 8) | b[tsi + 1]
        tl = (b[tsi + 2] << 8) | b[tsi + 3]
        # The span of the event plays as silence, and so do the ticks the sender spends
        # repeating the end packet (audio arriving there still wins).
        self.jb.put_event(b, tsi, ((b[p + 2] << 8) | b[p + 3]) +
                          (_END_PACKETS * self.frame if end else 0))
        if th == self._erx_h and tl == self._erx_l:
            self._erx_ms = self._now
            if self._erx_state == 1 and end:
                self._erx_state = 2
                self._report(code, True)
            return
        if self._erx_state:
            dh = (th - self._erx_h) & 0xFFFF
            if dh >= 0x8000 or (dh == 0 and tl < self._erx_l):
                return  # older than the current event: a late retransmission
        if self._erx_state == 1:
            self._report(self._erx_code, True)  # its end packets were all lost
        self._erx_h = th
        self._erx_l = tl
        self._erx_code = code
        self._erx_ms = self._now
        self._erx_state = 2 if end else 1
        self.events_rx += 1
        self._report(code, False)
        if end:
            self._report(code, True)

    def _report(self, code, ended):
        cb = self.on_event
        if cb is not None:
            cb(code, ended)

    def pull(self, out):
        """One frame for the audio tick: AUDIO (out filled), LOST (conceal) or EMPTY."""
        return self.jb.pull(out)

    # ---- RTCP and statistics -----------------------------------------------------
    def rtcp_tick(self, now_ms=None):
        if self._rtcp is None:
            return
        if now_ms is None:
            now_ms = time.ticks_ms()
        while True:
            try:
                n = self._rtcp.readinto(self._rtcp_rx)
            except OSError:
                break
            if not n:
                break
            from rtp import rtcp
            rtcp.parse(self, self._rtcp_rx, n, now_ms)
        if self._rtcp_due is None:
            self._rtcp_due = time.ticks_add(now_ms, _RTCP_INTERVAL_MS // 2)
            return
        if time.ticks_diff(now_ms, self._rtcp_due) < 0:
            return
        r = _random(1)[0]  # RFC 3550 6.3.1: randomise to 0.5-1.5 of the interval
        self._rtcp_due = time.ticks_add(now_ms, _RTCP_INTERVAL_MS // 2 +
                                        (_RTCP_INTERVAL_MS * r) // 255)
        if self.remote is None or not (self.sent or self.received):
            return
        from rtp import rtcp
        try:
            self._rtcp_send(rtcp.build(self, now_ms))
        except OSError:
            self.send_errors += 1

    def _rtcp_send(self, data):
        r = self.remote
        if r is None or self._rtcp is None:
            return
        self._rtcp.sendto(data, _addr(r[0], r[1] + 1))
        self.rtcp_sent += 1
        self._rtcp_sent_since = False

    def ntp(self, now_ms):
        """(seconds, fraction) NTP time at now_ms (for SR and round-trip time)."""
        ms = time.ticks_diff(now_ms, self._t0_ms)
        sec = self._t0_s + ms // 1000 + 2208988800
        try:
            if time.gmtime(0)[0] == 2000:  # the ESP32 port's epoch
                sec += 946684800
        except AttributeError:
            pass
        return sec & 0xFFFFFFFF, ((ms % 1000) << 32) // 1000

    def expected(self):
        if not self._seq_init:
            return 0
        return self._cycles * 0x10000 + self._max_seq - self._base_seq + 1

    @property
    def stats(self):
        exp = self.expected()
        lost = exp - self._stream_rcv if self._seq_init else 0
        jb = self.jb
        d = {
            "sent": self.sent, "sent_octets": self.sent_octets, "received": self.received,
            "lost": lost if lost > 0 else 0, "late": jb.late,
            "duplicates": self.duplicates, "discarded": self.discarded,
            "concealed": jb.concealed, "jitter_ms": (self._jitter_q4 >> 4) / 8,
            "buffer_ms": jb.depth() / 8 if jb.state else 0,
            "target_ms": jb._target() / 8, "resyncs": jb.resyncs,
            "grown": jb.holds, "shrunk": jb.drops,
            "events_tx": self.events_tx, "events_rx": self.events_rx,
            "send_errors": self.send_errors, "rx_errors": self.rx_errors,
            "rtcp_sent": self.rtcp_sent, "rtcp_received": self.rtcp_received,
            "rtt_ms": self.rtt_ms, "remote": self.remote, "latched": self._latched,
        }
        if self.remote_report:
            d.update(self.remote_report)
        return d
