# RFC 4733 telephone events, as functions of an RtpSession `s`: the sender (start with
# marker, cumulative durations on one timestamp, end packet three times, long-event
# segments) and the receiver (one report per event, de-duplicated on SSRC+timestamp).
import time

from micropython import const

_EVENT_TIMEOUT_MS = const(300)  # receiver ends an event without an end packet
EVENT_VOLUME = const(10)  # RFC 4733 volume field: -10 dBm0
_END_PACKETS = const(3)  # RFC 4733: the final packet is sent three times
EVENT_CHARS = "0123456789*#ABCD!"  # RFC 4733 event codes 0-16 ("!" = flash)


def event_start(s, event):
    """Start sending RFC 4733 event (0-16 or one of EVENT_CHARS) from the next tick."""
    if isinstance(event, str):
        event = EVENT_CHARS.index(event)
    if not 0 <= event <= 255:
        raise ValueError("event")
    if s._ev_state == 0:
        s._ev_code = event
        s._ev_state = 1
        s._ev_first = True
    else:
        if s._ev_state == 1:
            event_end(s)
        s._ev_next = event


def event_end(s):
    if s._ev_state == 1:
        s._ev_state = 2
        s._ev_left = _END_PACKETS


def send_event(s):
    f = s.frame
    marker = 0
    if s._ev_first:
        s._ev_first = False
        s._ev_h = s._th
        s._ev_l = s._tl
        s._ev_dur = f
        marker = 0x80
        s.events_tx += 1
    elif s._ev_state == 1 or s._ev_left == _END_PACKETS:
        d = s._ev_dur + f
        if d > 0xFFFF:
            if s._ev_state == 1:
                # RFC 4733 2.5.1.3: a long event continues in a new segment.
                s._ev_h = s._th
                s._ev_l = s._tl
                d = f
            else:
                d = 0xFFFF
        s._ev_dur = d
    end = s._ev_state == 2
    s._header(s.dtmf_pt | marker, s._ev_h, s._ev_l)
    tx = s._tx
    tx[12] = s._ev_code
    tx[13] = (0x80 if end else 0) | (s.event_volume & 0x3F)
    tx[14] = s._ev_dur >> 8
    tx[15] = s._ev_dur & 0xFF
    ok = s._out(s._tx_event)
    if end:
        s._ev_left -= 1
        if s._ev_left == 0:
            s._ev_state = 0
            if s._ev_next >= 0:
                s._ev_code = s._ev_next
                s._ev_next = -1
                s._ev_state = 1
                s._ev_first = True
    return ok


def event_in(s, p, plen, tsi):
    # RFC 4733 receiver: one event per timestamp (and SSRC: a new SSRC resets all).
    if plen < 4:
        s.discarded += 1
        return
    b = s._rx
    code = b[p]
    end = b[p + 1] & 0x80
    th = (b[tsi] << 8) | b[tsi + 1]
    tl = (b[tsi + 2] << 8) | b[tsi + 3]
    # The span of the event plays as silence, and so do the ticks the sender spends
    # repeating the end packet (audio arriving there still wins).
    span = (b[p + 2] << 8) | b[p + 3]
    if end:
        span += _END_PACKETS * s.frame
    s.jb.put_event(b, tsi, span)
    if th == s._erx_h and tl == s._erx_l:
        s._erx_ms = s._now
        if s._erx_state == 1 and end:
            s._erx_state = 2
            report(s, code, True)
        return
    if s._erx_state:
        dh = (th - s._erx_h) & 0xFFFF
        if dh >= 0x8000 or (dh == 0 and tl < s._erx_l):
            return  # older than the current event: a late retransmission
    if s._erx_state == 1:
        report(s, s._erx_code, True)  # its end packets were all lost
    s._erx_h = th
    s._erx_l = tl
    s._erx_code = code
    s._erx_ms = s._now
    s._erx_state = 2 if end else 1
    s.events_rx += 1
    report(s, code, False)
    if end:
        report(s, code, True)


def report(s, code, ended):
    cb = s.on_event
    if cb is not None:
        cb(code, ended)


def event_timeout(s, now_ms):
    if s._erx_state == 1 and time.ticks_diff(now_ms, s._erx_ms) > _EVENT_TIMEOUT_MS:
        s._erx_state = 2
        report(s, s._erx_code, True)
