# Jitter buffer unit tests: packets are built here and fed tick by tick (no sockets).
import random

from check import eq, near
from rtp.jitter import JitterBuffer, AUDIO, LOST, EMPTY, LATE

F = 160


def pkt(seq, ts, fill, n=F, marker=0, pt=0):
    b = bytearray(12 + n)
    b[0] = 0x80
    b[1] = pt | (0x80 if marker else 0)
    b[2] = (seq >> 8) & 0xFF
    b[3] = seq & 0xFF
    ts &= 0xFFFFFFFF
    b[4] = ts >> 24
    b[5] = (ts >> 16) & 0xFF
    b[6] = (ts >> 8) & 0xFF
    b[7] = ts & 0xFF
    for i in range(n):
        b[12 + i] = fill
    return b


def run(jb, arrivals, ticks, marker_at=()):
    """arrivals: {tick: [(seq, ts, fill), ...]}; returns [(kind, first byte)] per tick."""
    out = bytearray(F)
    res = []
    for t in range(ticks):
        for seq, ts, fill in arrivals.get(t, ()):
            p = pkt(seq, ts, fill, marker=seq in marker_at)
            jb.put(p, 4, 12, len(p) - 12, p[1] & 0x80, 1)
        k = jb.pull(out)
        res.append((k, out[0] if k == AUDIO else None))
    return res


def stream(n, delays, seq0=0, ts0=1000, skip=()):
    arr = {}
    for k in range(n):
        if k in skip:
            continue
        arr.setdefault(k + delays(k), []).append(((seq0 + k) & 0xFFFF, ts0 + k * F, k & 0xFF))
    return arr


def audio_fills(res):
    return [f for k, f in res if k == AUDIO]


def test_in_order_plays_every_frame_in_order():
    jb = JitterBuffer(F, 20, 200)
    res = run(jb, stream(50, lambda k: 0), 55)
    eq(res[0][0], EMPTY, "pre-roll")
    eq(audio_fills(res), list(range(50)), "all frames, in order")
    # The stream then stops: 60 ms of LOST (the caller's PLC fades out), then EMPTY.
    eq([k for k, _ in res[51:]], [LOST, LOST, LOST, EMPTY], "after the end")
    eq(jb.concealed, 3, "only the tail concealed")


def test_reorder_within_depth_is_undone():
    jb = JitterBuffer(F, 40, 200)
    # Swap every pair: odd frames arrive one tick early, even ones one tick late.
    res = run(jb, stream(60, lambda k: 1 if k % 2 == 0 else 0), 70)
    eq(audio_fills(res), list(range(60)), "order restored")
    eq(jb.late, 0, "none late")


def test_loss_gives_exactly_one_lost_frame_in_its_slot():
    jb = JitterBuffer(F, 20, 200)
    res = run(jb, stream(30, lambda k: 0, skip=(10,)), 35)
    kinds = [k for k, _ in res[:31]]
    fills = [f for k, f in res[1:31]]
    eq(kinds.count(LOST), 1, "one lost")
    eq(fills[:12], list(range(10)) + [None, 11], "the gap is where frame 10 was")


def test_sequence_and_timestamp_wrap():
    jb = JitterBuffer(F, 20, 200)
    arr = stream(60, lambda k: 0, seq0=0xFFF0, ts0=0xFFFFFFFF - 20 * F + 7)
    res = run(jb, arr, 65)
    eq(audio_fills(res), list(range(60)), "continuous across both wraps")
    eq(jb.resyncs, 0, "no resync at the wrap")


def test_late_packet_is_dropped_and_buffer_grows():
    jb = JitterBuffer(F, 20, 200)
    # Frame 20 arrives 5 ticks late: too late to play.
    res = run(jb, stream(60, lambda k: 5 if k == 20 else 0), 70)
    eq(jb.late, 1, "late counted")
    fills = audio_fills(res)
    eq(20 in fills, False, "late frame not played")
    if not jb.depth() >= 3 * F:
        raise AssertionError("depth did not grow: %d" % jb.depth())
    eq(jb.holds > 0, True, "grew by holding")


def test_adapts_to_jitter_then_shrinks_back():
    random.seed(7)
    jb = JitterBuffer(F, 20, 200)
    delays = [random.getrandbits(2) for _ in range(400)]  # 0-3 ticks (0-60 ms)
    arr = stream(1000, lambda k: delays[k] if k < 400 else 0)
    out = bytearray(F)
    late_at_200 = None
    depth_at_400 = None
    for t in range(900):
        for seq, ts, fill in arr.get(t, ()):
            p = pkt(seq, ts, fill)
            jb.put(p, 4, 12, F, 0, 1)
        jb.pull(out)
        if t == 200:
            late_at_200 = jb.late
        if t == 399:
            depth_at_400 = jb.depth()
    # Adapted within the first seconds: no lateness afterwards while the jitter lasts.
    eq(jb.late, late_at_200, "no late packets once adapted")
    if not 3 * F <= depth_at_400 <= 5 * F:
        raise AssertionError("depth with 60 ms spread: %d" % depth_at_400)
    # Jitter gone: within 10 s the buffer comes back down to the minimum (while the
    # stream still flows), dropping quiet frames.
    if not jb.depth() <= F:
        raise AssertionError("did not shrink: %d" % jb.depth())
    eq(jb.drops >= 2, True, "frames dropped to shrink")


def test_jitter_max_caps_the_depth():
    jb = JitterBuffer(F, 20, 60)
    res = run(jb, stream(100, lambda k: 10 if k % 10 == 0 else 0), 120)
    if jb.depth() > 60 * 8:
        raise AssertionError("depth over max: %d" % jb.depth())
    eq(jb.late >= 5, True, "very late packets stay late")


def test_timestamp_jump_resyncs():
    jb = JitterBuffer(F, 20, 200)
    arr = stream(20, lambda k: 0)
    for k in range(20, 40):  # same sequence run, timestamps jump by 10 s
        arr[k] = [(k, 1000 + 80000 + k * F, k)]
    res = run(jb, arr, 45)
    eq(jb.resyncs, 1, "one resync")
    fills = audio_fills(res)
    eq(fills[:19], list(range(19)), "before (the resync flushes what was queued)")
    eq(fills[-18:], list(range(22, 40)), "after: plays again")


def test_backward_jump_resyncs():
    jb = JitterBuffer(F, 20, 200)
    arr = stream(20, lambda k: 0)
    for k in range(20, 40):
        arr[k] = [(k, 1000 + k * F - 80000, k)]
    res = run(jb, arr, 45)
    eq(jb.resyncs, 1, "one resync")
    eq(audio_fills(res)[-18:], list(range(22, 40)), "plays again")


def test_silence_then_marker_talkspurt():
    jb = JitterBuffer(F, 20, 200)
    arr = stream(20, lambda k: 0)
    # 1 s of silence (DTX): nothing sent; the next talkspurt starts with the marker.
    for k in range(70, 90):
        arr[k] = [(k - 50, 1000 + k * F, k)]
    res = run(jb, arr, 95, marker_at=(20,))
    kinds = [k for k, _ in res]
    gap = kinds[22:70]
    eq(gap.count(LOST) <= 4, True, "the loss is concealed only briefly")
    eq(gap[-10:], [EMPTY] * 10, "silence is EMPTY")
    eq(audio_fills(res)[-20:][:18], list(range(70, 88)), "talkspurt plays")


def test_event_span_is_silence_not_loss():
    jb = JitterBuffer(F, 20, 200)
    arr = stream(40, lambda k: 0, skip=range(10, 16))
    out = bytearray(F)
    kinds = []
    for t in range(45):
        for seq, ts, fill in arr.get(t, ()):
            p = pkt(seq, ts, fill)
            jb.put(p, 4, 12, F, 0, 1)
        if 10 <= t < 16:  # RFC 4733 packets (timestamp of tick 10, growing duration)
            p = pkt(t, 1000 + 10 * F, 0, n=4, pt=101)
            jb.put_event(p, 4, (t - 9) * F)
        kinds.append(jb.pull(out))
    eq(LOST in kinds[:41], False, "no loss reported")
    eq(kinds[11:17], [EMPTY] * 6, "event ticks are EMPTY")


def test_thirty_ms_packets_into_twenty_ms_frames():
    jb = JitterBuffer(F, 40, 200)
    out = bytearray(F)
    got = bytearray()
    tick = 0
    sent = 0
    for t in range(60):  # 30 ms packets: one at ticks where 30 ms of audio is due
        while sent * 240 <= t * F:
            p = pkt(sent, 5000 + sent * 240, sent & 0xFF, n=240)
            jb.put(p, 4, 12, 240, 0, 1)
            sent += 1
        k = jb.pull(out)
        if k == AUDIO:
            got.extend(out)
        tick += 1
    eq(jb.concealed, 0, "no loss")
    want = bytearray()
    for s in range(len(got) // 240 + 1):
        want.extend(bytes([s & 0xFF]) * 240)
    eq(bytes(got), bytes(want[:len(got)]), "samples in order")
    near(len(got), 55 * F, 4 * F, "played")


def test_shrink_drops_only_quiet_frames():
    jb = JitterBuffer(F, 20, 200)
    out = bytearray(F)
    # Packets arrive 3 ticks before they are needed (a slack of 2 frames after the
    # 40 ms start): the buffer wants to shrink, but the first 8 s are loud speech.
    got = []
    for t in range(700):
        k = t
        fill = 0x10 if k < 400 else 0xFF  # u-law 0x10: loud; 0xFF: silence
        p = pkt(k, 1000 + k * F, fill)
        jb.put(p, 4, 12, F, 0, 1)
        if t >= 3 and jb.pull(out) == AUDIO:
            got.append(out[0])
        if t == 399:
            eq(jb.drops, 0, "no loud frame dropped")
            eq(got.count(0x10), len(got), "all loud frames played")
    eq(jb.drops >= 1, True, "shrank in the quiet part")
    eq(got[:len(got)].count(0x10) >= 396, True, "loud frames kept")
