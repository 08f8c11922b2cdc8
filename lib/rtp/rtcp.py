# Minimal RTCP (RFC 3550 section 6): builds SR or RR + SDES CNAME (+ BYE) compounds and
# parses the peer's SR/RR/BYE into the session's statistics. Runs every few seconds,
# so it may allocate.
import struct

_SR = 200
_RR = 201
_SDES = 202
_BYE = 203


def _report_block(s, now_ms):
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
    ext = ((s._cycles << 16) | s._max_seq) & 0xFFFFFFFF
    dlsr = 0
    if s._sr_mid:
        dlsr = (time_diff(now_ms, s._sr_ms) * 65536) // 1000
    return (bytes(s._rx_ssrc) +
            struct.pack(">BBHIIII", min(frac, 255), lost >> 16, lost & 0xFFFF, ext,
                        s._jitter_q4 >> 4, s._sr_mid, dlsr))


def time_diff(a, b):
    import time
    return time.ticks_diff(a, b)


def build(s, now_ms, bye=False):
    """The compound packet for session s: SR when we sent since the last report."""
    blocks = b""
    rc = 0
    if s._have_ssrc and s._seq_init:
        blocks = _report_block(s, now_ms)
        rc = 1
    if s._rtcp_sent_since or (bye and s.sent):
        sec, frac = s.ntp(now_ms)
        body = struct.pack(">4sIIHHII", s.ssrc, sec, frac, s._th, s._tl,
                           s.sent & 0xFFFFFFFF, s.sent_octets & 0xFFFFFFFF) + blocks
        pt = _SR
    else:
        body = s.ssrc + blocks
        pt = _RR
    out = struct.pack(">BBH", 0x80 | rc, pt, len(body) // 4) + body
    cname = s.cname.encode()
    item = bytes([1, len(cname)]) + cname + b"\x00"  # CNAME, then the end of the list
    item += b"\x00" * (-(4 + len(item)) % 4)
    sdes = s.ssrc + item
    out += struct.pack(">BBH", 0x81, _SDES, len(sdes) // 4) + sdes
    if bye:
        out += struct.pack(">BBH", 0x81, _BYE, 1) + s.ssrc
    return out


def parse(s, buf, n, now_ms):
    """File the peer's RTCP (one or more compound packets back to back) into s."""
    o = 0
    while o + 4 <= n:
        if buf[o] >> 6 != 2:
            return
        count = buf[o] & 0x1F
        pt = buf[o + 1]
        ln = (((buf[o + 2] << 8) | buf[o + 3]) + 1) * 4
        if o + ln > n:
            return
        if pt == _SR and ln >= 28:
            s._sr_mid = ((buf[o + 10] << 24) | (buf[o + 11] << 16) | (buf[o + 12] << 8) |
                         buf[o + 13])
            s._sr_ms = now_ms
            _blocks(s, buf, o + 28, count, o + ln, now_ms)
            s.rtcp_received += 1
        elif pt == _RR and ln >= 8:
            _blocks(s, buf, o + 8, count, o + ln, now_ms)
            s.rtcp_received += 1
        elif pt == _BYE:
            s.remote_bye = True
        o += ln


def _blocks(s, buf, p, count, end, now_ms):
    while count and p + 24 <= end:
        if bytes(buf[p:p + 4]) == s.ssrc:
            frac, l_hi, l_lo, ext, jit, lsr, dlsr = struct.unpack_from(">BBHIIII", buf, p + 4)
            lost = (l_hi << 16) | l_lo
            if lost & 0x800000:
                lost -= 0x1000000
            s.remote_report = {
                "remote_fraction_lost": frac / 256, "remote_lost": lost,
                "remote_jitter_ms": jit / 8, "remote_highest_seq": ext,
            }
            if lsr:
                sec, fr = s.ntp(now_ms)
                a = ((sec & 0xFFFF) << 16) | (fr >> 16)
                rtt = (a - lsr - dlsr) & 0xFFFFFFFF
                if rtt < 0x80000000:
                    s.rtt_ms = rtt * 1000 // 65536
        p += 24
        count -= 1
