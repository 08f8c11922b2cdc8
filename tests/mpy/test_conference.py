# Three-way conference mixed in the media pipeline (firmware/conference.py): the phone
# and two far ends each hear the other two. The far ends are real RtpSessions on
# loopback: far A sends a 600 Hz tone in PCMU, far B 900 Hz in PCMA, the phone's
# microphone plays 1000 Hz; a Goertzel filter tells what each one hears.
import math
import time

import micropython
from array import array

from dsp import g711
from media import Media, FRAME_SAMPLES
from vmachine import Flag
from rtp import RtpSession, AUDIO
from rtp.plc import Concealer
from check import eq

N = FRAME_SAMPLES
AMP = 8000               # each tone's peak: two of them sum to 16000, no clipping


class Port:
    i2s_rx = None
    i2s_tx = None

    @staticmethod
    def new_flag():
        return Flag()


def pcm_frame(f_hz=0, amp=AMP, dc=None):
    """One 20 ms frame of a tone (600, 900 and 1000 Hz are whole cycles in 160
    samples: the same frame repeated is a continuous tone) or of a constant."""
    x = array("h", bytes(2 * N))
    for i in range(N):
        x[i] = dc if dc is not None else int(amp * math.sin(2 * math.pi * f_hz * i / 8000))
    return x


def encoded(pcm, pt):
    out = bytearray(N)
    (g711.ulaw_encode if pt == 0 else g711.alaw_encode)(pcm, out, N)
    return out


def level(x, f_hz):
    """Amplitude of x at f_hz (Goertzel; f_hz a multiple of 50 Hz: a whole bin)."""
    c = 2 * math.cos(2 * math.pi * f_hz / 8000)
    s1 = s2 = 0.0
    for v in x:
        s0 = v + c * s1 - s2
        s2 = s1
        s1 = s0
    p = s1 * s1 + s2 * s2 - c * s1 * s2
    return 2 * math.sqrt(p if p > 0 else 0) / len(x)


class Far:
    """A far end: an RtpSession of its own, sending one frame each tick and decoding
    what it receives from the ATA's leg."""

    def __init__(self, pt):
        self.pt = pt
        self.near = RtpSession("127.0.0.1", pt=pt)     # the ATA's leg
        self.near.open()
        self.far = RtpSession("127.0.0.1", pt=pt)
        self.far.open()
        self.near.set_remote("127.0.0.1", self.far.local_port)
        self.far.set_remote("127.0.0.1", self.near.local_port)
        self.payload = bytearray(N)
        self.rx = bytearray(N)
        self.heard = array("h", bytes(2 * N))
        self.got = False
        self.decode = g711.ulaw_decode if pt == 0 else g711.alaw_decode

    def say(self, pcm):
        self.payload[:] = encoded(pcm, self.pt)

    def send(self):
        self.far.send(self.payload)

    def listen(self):
        self.far.receive()
        self.got = self.far.pull(self.rx) == AUDIO
        if self.got:
            self.decode(self.rx, self.heard, N)

    def close(self):
        self.near.close()
        self.far.close()


def setup():
    a = Far(0)
    b = Far(8)
    a.say(pcm_frame(600))
    b.say(pcm_frame(900))
    m = Media(Port())
    m.listen_dtmf(True)
    m.start_call(a.near, 0, Concealer(N))
    return m, a, b


def tick(m, mic, a, b):
    a.send()
    b.send()
    m._tx_count = 0          # no codec here to take the earpiece frames
    m.frame(mic)
    a.listen()
    b.listen()
    return m.tx_bufs[(m._tx_head - 1) % len(m.tx_bufs)]


def levels(m, mic, a, b, frames=10):
    """Per listener, the smallest level of each tone over `frames` ticks."""
    out = {}
    for _ in range(frames):
        ear = tick(m, mic, a, b)
        if not (a.got and b.got):
            raise AssertionError("a far end got no audio")
        for who, x in (("ear", ear), ("A", a.heard), ("B", b.heard)):
            for f in (600, 900, 1000):
                v = level(x, f)
                k = (who, f)
                out[k] = min(out.get(k, 1e9), v) if f in _WANT[who] else max(out.get(k, 0), v)
    return out


_WANT = {"ear": (600, 900), "A": (1000, 900), "B": (1000, 600)}


def check_hears(lv, who, want, not_want):
    for f in want:
        if lv[(who, f)] < 0.8 * AMP:
            raise AssertionError("%s hears %d Hz at only %d (of %d): %r" % (who, f, lv[(who, f)], AMP, lv))
    for f in not_want:
        if lv[(who, f)] > 0.02 * AMP:
            raise AssertionError("%s hears %d Hz at %d: %r" % (who, f, lv[(who, f)], lv))


def test_each_hears_the_other_two():
    m, a, b = setup()
    mic = pcm_frame(1000)
    try:
        for _ in range(20):
            tick(m, mic, a, b)          # two-party with A first
        eq(m.in_conference, False, "not yet")
        m.start_conference(b.near, 8, Concealer(N))
        eq(m.in_conference, True, "in conference")
        eq(m.status()["in_conference"], True, "status shows it")
        for _ in range(20):
            tick(m, mic, a, b)
        lv = levels(m, mic, a, b)
        check_hears(lv, "ear", (600, 900), (1000,))
        check_hears(lv, "A", (1000, 900), (600,))
        check_hears(lv, "B", (1000, 600), (900,))
    finally:
        a.close()
        b.close()


def test_stop_conference_returns_to_two_party():
    m, a, b = setup()
    mic = pcm_frame(1000)
    try:
        m.start_conference(b.near, 8, Concealer(N))
        for _ in range(30):
            tick(m, mic, a, b)
        eq(m.stop_conference() is b.near, True, "stop_conference returns leg B")
        eq((m.in_conference, m.conf_rtp), (False, None), "conference over")
        eq(m.status()["in_conference"], False, "status")
        eq(m.stop_conference(), None, "a second stop: no conference")
        for _ in range(20):
            tick(m, mic, a, b)
        sent_b = b.near.sent
        ear_lv = {}
        a_lv = {}
        for _ in range(10):
            ear = tick(m, mic, a, b)
            for f in (600, 900, 1000):
                ear_lv[f] = max(ear_lv.get(f, 0), level(ear, f)) if f != 600 else min(
                    ear_lv.get(f, 1e9), level(ear, f))
                a_lv[f] = max(a_lv.get(f, 0), level(a.heard, f)) if f != 1000 else min(
                    a_lv.get(f, 1e9), level(a.heard, f))
        eq(b.near.sent, sent_b, "nothing more sent to leg B")
        if ear_lv[600] < 0.8 * AMP or ear_lv[900] > 0.02 * AMP or ear_lv[1000] > 0.02 * AMP:
            raise AssertionError("earpiece after the conference: %r" % (ear_lv,))
        if a_lv[1000] < 0.8 * AMP or a_lv[900] > 0.02 * AMP or a_lv[600] > 0.02 * AMP:
            raise AssertionError("leg A after the conference: %r" % (a_lv,))
        # again: the buffers of the first conference are kept
        conf = m.conf
        m.start_conference(b.near, 8, Concealer(N))
        eq(m.conf is conf, True, "mixer kept for the next conference")
        for _ in range(20):
            tick(m, mic, a, b)
        check_hears(levels(m, mic, a, b, 5), "B", (1000, 600), (900,))
        # stop_call ends the conference too; leg B's session is left for the caller
        eq(m.stop_call() is a.near, True, "stop_call returns leg A")
        eq((m.in_conference, m.conf_rtp is b.near), (False, True), "leg B for the caller")
        eq(m.conf.rtp, None, "leg B out of the mixer")
    finally:
        a.close()
        b.close()


def test_sums_saturate_without_wrapping():
    # Loud constants: far A +30000, far B +30000, the phone +30000; every sum of two
    # is ~60000 and must clip to 32767 (a wrap would make it negative); then the same
    # negative, clipping to -32768.
    m, a, b = setup()
    try:
        m.start_conference(b.near, 8, Concealer(N))
        for sign in (1, -1):
            v = 30000 * sign
            a.say(pcm_frame(dc=v))
            b.say(pcm_frame(dc=v))
            mic = pcm_frame(dc=v)
            for _ in range(20):
                tick(m, mic, a, b)
            for _ in range(5):
                ear = tick(m, mic, a, b)
                eq((min(ear), max(ear)), (32767, 32767) if sign > 0 else (-32768, -32768),
                   "earpiece A + B clipped")
                for far in (a, b):
                    lo, hi = min(far.heard), max(far.heard)
                    # G.711's largest codes: u-law 32124, A-law 32256
                    if (sign > 0 and lo < 32000) or (sign < 0 and hi > -32000):
                        raise AssertionError("far end %d hears %d..%d: not clipped to full scale"
                                             % (far.pt, lo, hi))
    finally:
        a.close()
        b.close()


def test_conference_frames_do_not_allocate():
    m, a, b = setup()
    mic = pcm_frame(1000)
    try:
        m.start_conference(b.near, 8, Concealer(N))
        m.set_gains(6, 6)            # both multiplies run (tables made here, not locked)
        for _ in range(30):
            tick(m, mic, a, b)
        rtcp = [(s.rtcp_sent, s.rtcp_received) for s in (a.near, b.near)]
        rx = (a.near.received, b.near.received, a.far.received, b.far.received)
        played = [False]
        micropython.heap_lock()
        try:
            for k in range(150):
                if k % 30 == 0:
                    # an RTCP report falls due on both legs in this frame
                    a.near._rtcp_due = time.ticks_add(time.ticks_ms(), -1)
                    b.near._rtcp_due = time.ticks_add(time.ticks_ms(), -1)
                if k == 40:
                    b.far.event_start(5)     # far B presses 5: the phone hears it
                elif k == 50:
                    played[0] = m.tone.active
                    b.far.event_end()
                m.mute_tx = 60 <= k < 64
                m.sending = not (80 <= k < 86)   # on hold for a few frames
                tick(m, mic, a, b)
        finally:
            micropython.heap_unlock()
        eq(played[0], True, "leg B's key played to the phone")
        got = (a.near.received - rx[0], b.near.received - rx[1], a.far.received - rx[2],
               b.far.received - rx[3])
        if min(got) < 120:
            raise AssertionError("the conference path did not run: %r" % (got,))
        for s, (sent, received) in zip((a.near, b.near), rtcp):
            if s.rtcp_sent - sent < 4:
                raise AssertionError("RTCP reports in the locked frames: %r" % (s.stats(),))
    finally:
        a.close()
        b.close()
