# RTP session for one call leg: non-blocking UDP sockets on a random even port (RTCP
# on port+1), set-up, the source check (media only from the address the SDP named),
# the sender (SSRC/sequence/timestamp rules), RTCP glue and statistics. The receive
# path is rtp.receiver, RFC 4733 is rtp.events. The media pipeline calls receive(),
# pull() and send() once per audio frame; none of them allocates once the peer's
# packet size is known (see docs/rtp.md, "Receiving without allocation").
import socket
import time
from array import array

from micropython import const

from rtp.jitter import JitterBuffer, AUDIO, LOST, EMPTY  # noqa: F401 (re-exported)
from rtp import _fast, events, receiver, rtcp
from rtp.receiver import RX_BUF, SEEN, addr_parts  # noqa: F401
from rtp.events import EVENT_CHARS, EVENT_VOLUME  # noqa: F401

import select

_RTCP_INTERVAL_MS = const(5000)  # RFC 3550 minimum interval
_RTCP_RX = const(512)  # RTCP receive buffer: an SR+SDES+BYE compound is < 200 bytes
_PORT_TRIES = const(24)  # random even ports tried before open() gives up
PORT_MIN = const(10000)  # default range of local RTP ports (RTCP on port+1)
PORT_MAX = const(20000)
LATCH_PACKETS = receiver.LATCH_PACKETS
_rtcp_parse = rtcp.parse
_rtp_header = _fast.rtp_header


def _addr(ip, port):
    return socket.getaddrinfo(ip, port)[0][-1]


def _random(n):
    try:
        import os
        return os.urandom(n)
    except (ImportError, AttributeError):
        import random
        return bytes(random.getrandbits(8) for _ in range(n))


def _udp(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(_addr(ip, port))
        s.setblocking(False)
    except OSError:
        s.close()
        raise
    return s


class RtpSession:
    """local_port 0 (the default): open() takes a random even port from port_range
    (RTCP on port+1), another one when a bind fails. Media is accepted only from the
    address set_remote() named (the SDP's); symmetric=True also follows a new source
    once the named one is silent and the new one sent latch_packets packets in a row
    of one SSRC (NAT). Everything else is counted (`strangers`) and dropped.

    A closed session can be made new for the next call with renew(): the buffers and
    the attribute table it has are kept, so that call allocates none of them (a call
    in a heap whose free part is in pieces finds no room for a ring of 3.9 KB or a
    table of 1 KB; docs/bench-heap.md)."""

    def __init__(self, local_ip, local_port=0, pt=0, dtmf_pt=101, ptime_ms=20,
                 jitter_min_ms=20, jitter_max_ms=200, symmetric=False,
                 latch_packets=LATCH_PACKETS, port_range=(PORT_MIN, PORT_MAX)):
        if ptime_ms % 10 or ptime_ms <= 0:
            raise ValueError("ptime_ms must be a multiple of 10")
        self.local_ip = local_ip
        self.frame = ptime_ms * 8  # samples (= G.711 bytes) per frame
        self.jb = JitterBuffer(self.frame, jitter_min_ms, jitter_max_ms)
        # pull() is the buffer's own, bound once here: the frame calls it directly.
        self.pull = self.jb.pull
        self.cname = "ata@" + local_ip
        self._tx = bytearray(12 + max(self.frame, 4))
        self._tx_audio = memoryview(self._tx)[:12 + self.frame]
        self._tx_event = memoryview(self._tx)[:16]
        self._rx = bytearray(RX_BUF)
        self._seen = array("i", bytes(4 * SEEN))
        self._rx_ssrc = bytearray(4)
        self._one = bytearray(1)  # strangers are read one byte each: one datagram per read
        self._cand_ssrc = bytearray(4)
        self._rtcp_rx = bytearray(_RTCP_RX)
        self._rr = array("i", bytes(16))  # the peer's last report block about our stream:
        #                                  fraction lost/256, lost, jitter, highest seq
        self._ntp_tmp = array("i", bytes(16))
        self.sock = None
        self._catch = None  # same port, unconnected: gets every other source's packets
        self._rtcp = None
        self._rtcp_catch = None
        # What open() and the call set, named now: the attribute table holds them all
        # from the start, so neither roomy() at boot nor a renewed session's call grows it.
        self.ssrc = None
        self._seq = self._th = self._tl = 0
        self._poll = self._catch_poll = self._rtcp_poll = None
        self._learn_len = self._learn_n_bytes = self._rx_req = 0
        self._t0_ms = 0
        self._dest = self._rtcp_dest = None
        self._rtcp_sdes = self._rtcp_tx = self._rtcp_views = None
        self._ntp0_hi = self._ntp0_lo = 0
        self.renew(local_port, pt, dtmf_pt, symmetric, latch_packets, port_range)

    def renew(self, local_port=0, pt=0, dtmf_pt=101, symmetric=False,
              latch_packets=LATCH_PACKETS, port_range=(PORT_MIN, PORT_MAX)):
        """This closed session made new for another call, with these settings (as the
        constructor's): every count, the source, the stream and RTCP state start over;
        open() then takes a new port, SSRC, sequence and timestamp. Returns it."""
        if self.sock is not None:
            raise ValueError("renew: the session is open")
        if latch_packets < 1:
            raise ValueError("latch_packets must be at least 1")
        self.local_port = local_port
        self.port_range = port_range
        self.symmetric = symmetric
        self.latch_packets = latch_packets
        self.set_payload_type(pt)
        self.dtmf_pt = dtmf_pt
        self.on_event = None  # callback(event, ended) for received RFC 4733 events
        self.event_volume = EVENT_VOLUME
        self._drained = 0  # receiver.drain's count
        self._rtcp_n = 0  # _rtcp_in's last read
        self._rtcp_connected = False
        self._remote = None
        self._remote_ip = None
        self._remote_port = 0
        self._remote_rtcp = 0
        self._connected = False
        self._latched = False
        self._latched_ip = None
        self._latched_port = 0
        self.jb.clear_counts()
        self._reset()
        return self

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
        self.strangers = 0  # RTP datagrams from sources nobody signalled: dropped
        self.rtcp_strangers = 0  # the same on the RTCP port
        self.oversize = 0  # datagrams from the peer longer than MAX_PACKET: dropped
        self.relatches = 0  # symmetric RTP: times a new source was followed
        self._now = 0  # ticks of the current receive()
        self._ok_ms = 0  # when the accepted source last delivered
        self._ok_have = False
        self._cand = None  # symmetric RTP: the new source being counted
        self._cand_n = 0
        self._cand_seq = 0
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
        for i in range(4):
            self._rr[i] = 0
        self._rr_valid = False
        self.remote_bye = False
        self._sr_mid_hi = 0  # middle 32 bits of the peer's last SR NTP time, in halves
        self._sr_mid_lo = 0
        self._sr_ms = 0
        self._rtcp_to = None  # the peer's RTCP address, resolved once per remote
        self._rtcp_to_ip = None
        self._rtcp_to_port = 0
        self._rtcp_rand = 0x5A5A
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
        for i in range(SEEN):
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
        if self.local_port:
            self._bind_fixed()
        else:
            self._bind_random()
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        # The sockets that are mostly idle (the catch-all on our port, RTCP and its
        # catch-all) are read only when a poll says so: one ipoll() a frame instead
        # of a function call and a read each (~3 k x86 instructions per socket).
        self._catch_poll = select.poll()
        self._rtcp_poll = select.poll()
        if self._rtcp is not None:
            self._rtcp_poll.register(self._rtcp, select.POLLIN)
        for p in (self._poll, self._catch_poll, self._rtcp_poll):
            receiver.ready(p)  # ipoll() allocates its result tuple on the first call only
        self._connected = False
        self._latched = False
        self._learned = False
        self._learn_n = 0
        self._learn_len = 0  # payload bytes of the peer's audio packets
        self._learn_n_bytes = 0  # and their whole datagram
        self._t0_ms = time.ticks_ms()
        unix_s = int(time.time())
        try:
            if time.gmtime(0)[0] == 2000:  # the ESP32 port's epoch
                unix_s += rtcp.UNIX_2000
        except AttributeError:
            pass
        rtcp.buffers(self, unix_s)
        if self._remote is not None:
            self._follow(self._remote, False)

    def _bind_fixed(self):
        self.sock = _udp(self.local_ip, self.local_port)
        try:
            self._rtcp = _udp(self.local_ip, self.local_port + 1)
        except OSError:
            self._rtcp = None  # RTCP is optional: the call works without it

    def _bind_random(self):
        # An even port picked at random (RFC 3550: RTP even, RTCP the next one): a
        # stranger cannot aim at a known port, and a busy one is simply skipped.
        lo, hi = self.port_range
        lo += lo & 1
        slots = (hi - 1 - lo) // 2 + 1
        if slots < 1:
            raise ValueError("port_range holds no even port with its RTCP port")
        for _ in range(_PORT_TRIES):
            r = _random(3)
            port = lo + 2 * (((r[0] << 16) | (r[1] << 8) | r[2]) % slots)
            try:
                s = _udp(self.local_ip, port)
            except OSError:
                continue
            try:
                c = _udp(self.local_ip, port + 1)
            except OSError:
                s.close()
                continue
            self.sock = s
            self._rtcp = c
            self.local_port = port
            return
        raise OSError("no free RTP port pair in %d..%d" % self.port_range)

    def _catcher(self, port):
        # A second socket on our port, never connected: the kernel hands it whatever
        # the connected one does not take (other sources), so strangers are counted
        # and their datagrams never queue up in front of the peer's.
        try:
            return _udp(self.local_ip, port)
        except OSError:
            return None  # not counted then; the connected socket still filters them

    def _follow(self, a, relatch):
        """Accept media only from address a from now on (the SDP's, or with symmetric
        RTP a new source that proved itself): connect the RTP socket to it, RTCP to
        its RTCP port, and drop what was queued from anyone else. Allocates."""
        ip, port = addr_parts(a)
        if self._catch is None:  # first: from the connect on, others need a socket
            self._catch = self._catcher(self.local_port)
            if self._catch is not None:
                self._catch_poll.register(self._catch, select.POLLIN)
        try:
            self.sock.connect(a)
        except OSError:
            return False
        self._connected = True
        self._dest = a
        self._latched = relatch
        self._latched_ip, self._latched_port = ip, port
        if relatch:
            self.relatches += 1
            rport = port + 1
        else:
            rport = self._remote_rtcp or port + 1
        self._learned = False
        self._learn_n = 0
        self._cand = None
        self._cand_n = 0
        # A fresh address gets the silence time to start sending before symmetric
        # RTP looks at anyone else (a stranger must not win the race to the answer).
        self._ok_ms = time.ticks_ms()
        self._ok_have = True
        self.aim_rtcp(ip, rport)
        receiver.sweep(self, a)
        return True

    def close(self):
        if self._rtcp is not None:
            if self.sent or self.received:
                try:
                    self._rtcp_send(rtcp.build(self, time.ticks_ms(), bye=True))
                except OSError:
                    pass
            self._rtcp.close()
            self._rtcp = None
        for name in ("_rtcp_catch", "_catch", "sock"):
            s = getattr(self, name)
            if s is not None:
                s.close()
                setattr(self, name, None)
        self._connected = False
        self._rtcp_connected = False

    def set_remote(self, ip, port, rtcp_port=0):
        """Where media goes and the only source it is accepted from (the SDP's c=/m=;
        rtcp_port from a=rtcp, else port+1). The same address again (a re-INVITE)
        keeps a symmetric-RTP latch; a new one returns to the SDP address."""
        if (ip == self._remote_ip and port == self._remote_port and self._remote is not None
                and (rtcp_port or port + 1) == (self._remote_rtcp or port + 1)):
            return
        self._remote_ip = ip
        self._remote_port = port
        self._remote_rtcp = rtcp_port
        self._remote = _addr(ip, port)
        if self.sock is not None:
            self._follow(self._remote, False)

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

    # No properties on this class: one makes MicroPython look every attribute store
    # up in the class first (~1 k x86 instructions each; the frame stores a dozen).
    def remote(self):
        if self._connected:
            return self._latched_ip, self._latched_port
        if self._remote is None:
            return None
        return self._remote_ip, self._remote_port

    # ---- sending ----------------------------------------------------------------
    def _header(self, b1, th, tl):
        _fast.rtp_header(self._tx, b1, self._seq, th, tl)

    def _out(self, view):
        # (Two locals: over 11 words of locals, stack and the try's, a call takes its
        # frame from the heap; see firmware/media.py frame.)
        if self.sock is None or not self._connected:
            return False  # closed, or no address signalled yet
        try:
            if self._catch is not None:
                # Out of the unconnected socket on the same port: a connected one would
                # fail every other send while the peer's port answers ICMP unreachable.
                self._catch.sendto(view, self._dest)
            else:
                self.sock.send(view)
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
                ok = events.send_event(self)
            elif payload is None:
                self._silent = True
            else:
                n = len(payload)
                if n > self.frame:
                    raise ValueError("payload of %d bytes: a frame is %d" % (n, self.frame))
                _rtp_header(self._tx, self.pt | (0x80 if self._silent else 0), self._seq,
                            self._th, self._tl)
                self._tx[12:12 + n] = payload  # a whole object on the right: a memmove
                ok = self._out(self._tx_audio if n == self.frame else
                               memoryview(self._tx)[:12 + n])
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
        events.event_start(self, event)

    def event_end(self):
        """End the event: the end packet goes out on the next three ticks."""
        events.event_end(self)

    # ---- receiving --------------------------------------------------------------
    # receive(now_ms=None): drain the socket into the jitter buffer; returns the
    # packets read. rtp.receiver's function is the method itself: a call a frame less.
    receive = receiver.receive

    def pull(self, out):
        """One frame for the audio tick: AUDIO (out filled), LOST (conceal) or EMPTY.
        (__init__ replaces it on each session by the jitter buffer's bound pull.)"""
        return self.jb.pull(out)

    def expected(self):
        """RFC 3550 expected packet count of the current stream."""
        return receiver.expected(self)

    def guard(self):
        """The source-check counters (for the media status; allocates)."""
        return {"local_port": self.local_port, "strangers": self.strangers,
                "rtcp_strangers": self.rtcp_strangers, "oversize": self.oversize,
                "relatches": self.relatches, "remote": self.remote()}

    # ---- RTCP and statistics -----------------------------------------------------
    def rtcp_tick(self, now_ms=None):
        # (Split in three so that the per-frame part keeps its frame on the C stack:
        # see _out.)
        if self._rtcp is None:
            return
        if now_ms is None:
            now_ms = time.ticks_ms()
        if receiver.ready(self._rtcp_poll):
            if self._rtcp_connected:
                k = self._rtcp_in(now_ms)
            else:
                k = receiver.drain(self, self._rtcp)
            if k:
                self.rtcp_strangers += k
        if self._rtcp_due is None:
            self._rtcp_due = time.ticks_add(now_ms, _RTCP_INTERVAL_MS // 2)
        elif time.ticks_diff(now_ms, self._rtcp_due) >= 0:
            self._rtcp_report(now_ms)

    def _rtcp_in(self, now_ms):
        """The peer's reports from the connected RTCP socket, then the strangers' on
        the other one dropped (returns how many)."""
        try:
            # (the length kept on self, not in a local: see receiver.drain)
            while True:
                self._rtcp_n = self._rtcp.readinto(self._rtcp_rx)
                if not self._rtcp_n:
                    break
                _rtcp_parse(self, self._rtcp_rx, self._rtcp_n, now_ms)
        except OSError:
            pass
        return receiver.drain(self, self._rtcp_catch)

    def _rtcp_report(self, now_ms):
        # RFC 3550 6.3.1: randomise to 0.5-1.5 of the interval (a small LCG: a call to
        # os.urandom here would allocate its result in the frame)
        self._rtcp_rand = (self._rtcp_rand * 1103 + 12345) & 0xFFFF
        self._rtcp_due = time.ticks_add(now_ms, _RTCP_INTERVAL_MS // 2 +
                                        (_RTCP_INTERVAL_MS * (self._rtcp_rand >> 8)) // 255)
        if not self._rtcp_connected or not (self.sent or self.received):
            return
        try:
            self._rtcp_send(rtcp.build(self, now_ms))
        except OSError:
            self.send_errors += 1

    def _rtcp_send(self, n):
        """Send the first n bytes of the RTCP buffer build() filled, to the peer's
        RTCP address (connected by aim_rtcp: nothing to resolve in the frame)."""
        if self._rtcp is None or not self._rtcp_connected:
            return
        if self._rtcp_catch is not None:
            self._rtcp_catch.sendto(self._rtcp_views[n], self._rtcp_dest)
        else:
            self._rtcp.send(self._rtcp_views[n])
        self.rtcp_sent += 1
        self._rtcp_sent_since = False

    def aim_rtcp(self, ip, port):
        """RTCP goes to, and is accepted only from, ip:port (the SDP's RTCP address,
        or RTP port + 1 of a followed source); outside the frame: this allocates."""
        if self._rtcp is None:
            return
        a = _addr(ip, port)
        if self._rtcp_catch is None:
            self._rtcp_catch = self._catcher(self.local_port + 1)
            if self._rtcp_catch is not None:
                self._rtcp_poll.register(self._rtcp_catch, select.POLLIN)
        try:
            self._rtcp.connect(a)
        except OSError:
            return
        self._rtcp_dest = a
        self._rtcp_connected = True
        # What queued before the connect came from anyone: only ip:port's is parsed.
        for _ in range(256):
            try:
                data, src = self._rtcp.recvfrom(len(self._rtcp_rx))
            except OSError:
                break
            if addr_parts(src) != (ip, port):
                self.rtcp_strangers += 1
                continue
            n = len(data)
            self._rtcp_rx[:n] = data
            rtcp.parse(self, self._rtcp_rx, n, time.ticks_ms())

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
            "rtt_ms": self.rtt_ms, "remote": self.remote(), "latched": self._latched,
            "local_port": self.local_port, "strangers": self.strangers,
            "rtcp_strangers": self.rtcp_strangers, "oversize": self.oversize,
            "relatches": self.relatches,
        }
        if self._rr_valid:
            rr = self._rr
            d["remote_fraction_lost"] = rr[0] / 256
            d["remote_lost"] = rr[1]
            d["remote_jitter_ms"] = rr[2] / 8
            d["remote_highest_seq"] = rr[3]
        return d
