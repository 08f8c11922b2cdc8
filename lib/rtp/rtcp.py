# Minimal RTCP (RFC 3550 section 6): builds SR or RR + SDES CNAME (+ BYE) compounds into
# the session's own buffer and files the peer's SR/RR/BYE into its statistics.
# Runs inside the 20 ms media frame, so neither direction allocates: packets are
# written byte by byte into a buffer made once (open()), and 32-bit quantities are
# kept as 16-bit halves, because on a 32-bit chip an int above 2**30 is a heap object.
import time

from micropython import const

_SR = const(200)
_RR = const(201)
_SDES = const(202)
_BYE = const(203)
_SR_LEN = const(28)      # header + sender SSRC + NTP(8) + RTP ts + packets + octets
_RR_LEN = const(8)       # header + sender SSRC
_BLOCK_LEN = const(24)   # one reception report block
_BYE_LEN = const(8)
# Seconds from 1900 (NTP) to 1970 (Unix epoch) and 1970 to 2000 (ESP32 port epoch).
NTP_UNIX = 2208988800
UNIX_2000 = 946684800


def buffers(s, unix_s):
    """Make what build() needs, once (allocates): the SDES chunk, the TX buffer and
    the NTP seconds at the session's start (unix_s, from 1970) as 16-bit halves."""
    cname = s.cname.encode()[:255]
    item = bytes([1, len(cname)]) + cname + b"\x00"     # CNAME, then end of list
    item += b"\x00" * (-(4 + len(item)) % 4)
    sdes = bytearray(4) + s.ssrc + item
    sdes[0] = 0x81
    sdes[1] = _SDES
    sdes[3] = (len(sdes) - 4) // 4
    s._rtcp_sdes = bytes(sdes)
    s._rtcp_tx = bytearray(_SR_LEN + _BLOCK_LEN + len(sdes) + _BYE_LEN)
    # sendto needs a buffer of the packet's own length; a memoryview slice made in
    # the frame would allocate, so one view per length build() can produce.
    mv = memoryview(s._rtcp_tx)
    s._rtcp_views = {}
    for head in (_SR_LEN, _RR_LEN):
        for block in (0, _BLOCK_LEN):
            for bye in (0, _BYE_LEN):
                n = head + block + len(sdes) + bye
                s._rtcp_views[n] = mv[:n]
    t0 = (unix_s + NTP_UNIX) & 0xFFFFFFFF
    s._ntp0_hi = t0 >> 16
    s._ntp0_lo = t0 & 0xFFFF


def _put16(b, o, v):
    b[o] = (v >> 8) & 0xFF
    b[o + 1] = v & 0xFF


def _put32(b, o, hi, lo):
    _put16(b, o, hi)
    _put16(b, o + 2, lo)


def _get16(b, o):
    return (b[o] << 8) | b[o + 1]


def ntp_halves(s, now_ms, out):
    """NTP time at now_ms into out[0..3]: seconds hi, lo, fraction hi, lo (16 bits each)."""
    ms = time.ticks_diff(now_ms, s._t0_ms)
    sec_lo = s._ntp0_lo + ms // 1000
    out[0] = (s._ntp0_hi + (sec_lo >> 16)) & 0xFFFF
    out[1] = sec_lo & 0xFFFF
    r = (ms % 1000) << 16                     # fraction = ms/1000 * 2**32, in halves
    out[2] = r // 1000
    out[3] = ((r % 1000) << 16) // 1000


def _report_block(s, b, o, now_ms):
    # One reception report about the peer's stream (RFC 3550 6.4.1).
    exp = s.expected()
    lost = exp - s._stream_rcv
    exp_int = exp - s._exp_prior
    rcv_int = s._stream_rcv - s._rcv_prior
    s._exp_prior = exp
    s._rcv_prior = s._stream_rcv
    lost_int = exp_int - rcv_int
    frac = (lost_int << 8) // exp_int if exp_int > 0 and lost_int > 0 else 0
    lost = max(-0x800000, min(0x7FFFFF, lost)) & 0xFFFFFF
    b[o:o + 4] = s._rx_ssrc
    b[o + 4] = frac if frac < 256 else 255
    b[o + 5] = lost >> 16
    _put16(b, o + 6, lost & 0xFFFF)
    _put32(b, o + 8, s._cycles & 0xFFFF, s._max_seq)      # extended highest sequence
    jit = s._jitter_q4 >> 4
    _put32(b, o + 12, (jit >> 16) & 0xFFFF, jit & 0xFFFF)
    _put32(b, o + 16, s._sr_mid_hi, s._sr_mid_lo)          # LSR
    hi = lo = 0
    if s._sr_mid_hi | s._sr_mid_lo:
        d = time.ticks_diff(now_ms, s._sr_ms)              # ms since that SR
        if 0 <= d < 65536000:                              # DLSR in 1/65536 s
            hi = d // 1000
            lo = ((d % 1000) << 16) // 1000
    _put32(b, o + 20, hi, lo)


def build(s, now_ms, bye=False):
    """Writes the compound packet for session s into s._rtcp_tx; returns its length.
    SR when we sent since the last report, RR otherwise."""
    b = s._rtcp_tx
    sr = s._rtcp_sent_since or (bye and s.sent)
    o = _SR_LEN if sr else _RR_LEN
    rc = 0
    if s._have_ssrc and s._seq_init:
        _report_block(s, b, o, now_ms)
        o += _BLOCK_LEN
        rc = 1
    b[0] = 0x80 | rc
    b[1] = _SR if sr else _RR
    _put16(b, 2, o // 4 - 1)
    b[4:8] = s.ssrc
    if sr:
        t = s._ntp_tmp
        ntp_halves(s, now_ms, t)
        _put32(b, 8, t[0], t[1])
        _put32(b, 12, t[2], t[3])
        _put32(b, 16, s._th, s._tl)
        _put32(b, 20, (s.sent >> 16) & 0xFFFF, s.sent & 0xFFFF)
        _put32(b, 24, (s.sent_octets >> 16) & 0xFFFF, s.sent_octets & 0xFFFF)
    sdes = s._rtcp_sdes
    b[o:o + len(sdes)] = sdes
    o += len(sdes)
    if bye:
        b[o] = 0x81
        b[o + 1] = _BYE
        _put16(b, o + 2, 1)
        b[o + 4:o + 8] = s.ssrc
        o += _BYE_LEN
    return o


def parse(s, buf, n, now_ms):
    """File the peer's RTCP (one or more compound packets back to back) into s."""
    o = 0
    while o + 4 <= n:
        if buf[o] >> 6 != 2:
            return
        count = buf[o] & 0x1F
        pt = buf[o + 1]
        ln = (_get16(buf, o + 2) + 1) * 4
        if o + ln > n:
            return
        if pt == _SR and ln >= _SR_LEN:
            s._sr_mid_hi = _get16(buf, o + 10)   # middle 32 bits of its NTP time
            s._sr_mid_lo = _get16(buf, o + 12)
            s._sr_ms = now_ms
            _blocks(s, buf, o + _SR_LEN, count, o + ln, now_ms)
            s.rtcp_received += 1
        elif pt == _RR and ln >= _RR_LEN:
            _blocks(s, buf, o + _RR_LEN, count, o + ln, now_ms)
            s.rtcp_received += 1
        elif pt == _BYE:
            s.remote_bye = True
        o += ln


def _ours(s, buf, p):
    ssrc = s.ssrc
    return (buf[p] == ssrc[0] and buf[p + 1] == ssrc[1] and buf[p + 2] == ssrc[2]
            and buf[p + 3] == ssrc[3])


def _blocks(s, buf, p, count, end, now_ms):
    # Report blocks about our stream: kept as integers in s._rr (no floats, no dict);
    # stats turns them into a readable dict when asked.
    rr = s._rr
    while count and p + _BLOCK_LEN <= end:
        if _ours(s, buf, p):
            rr[0] = buf[p + 4]                                   # fraction lost, /256
            lost = (buf[p + 5] << 16) | _get16(buf, p + 6)
            rr[1] = lost - 0x1000000 if lost & 0x800000 else lost
            rr[2] = (_get16(buf, p + 12) << 16) | _get16(buf, p + 14)  # jitter, samples
            rr[3] = _get16(buf, p + 10)                          # highest seq (low 16)
            s._rr_valid = True
            _round_trip(s, buf, p, now_ms)
        p += _BLOCK_LEN
        count -= 1


def _round_trip(s, buf, p, now_ms):
    # RFC 3550 6.4.1: rtt = now - LSR - DLSR, all in 1/65536 s (middle 32 NTP bits).
    # Only the low 16 bits of seconds matter, so work in ms over a 65536 s wheel
    # with small ints.
    lsr_s = _get16(buf, p + 16)
    lsr_f = _get16(buf, p + 18)
    if not (lsr_s | lsr_f):
        return
    dlsr_s = _get16(buf, p + 20)
    dlsr_f = _get16(buf, p + 22)
    t = s._ntp_tmp
    ntp_halves(s, now_ms, t)
    now = t[1] * 1000 + (t[2] * 1000 >> 16)
    then = lsr_s * 1000 + (lsr_f * 1000 >> 16)
    held = dlsr_s * 1000 + (dlsr_f * 1000 >> 16)
    rtt = (now - then - held) % 65536000
    if rtt < 60000:               # anything longer is a bogus report, not a path
        s.rtt_ms = rtt
