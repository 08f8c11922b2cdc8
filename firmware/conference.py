# Three-way conference mixed on the ATA (issue 11, item 3): the phone and two far ends
# (RTP legs A and B), each hearing the other two. media.Media keeps leg A as its call
# (media.rtp, plc, encode/decode) and hands the frame to Conference.frame() while a
# conference runs; this module holds leg B and the mixer. Buffers are made once (the
# first conference) and kept for later ones; a frame allocates nothing.
#
# Per 20 ms frame: both legs' packets are read, each leg's frame is pulled from its
# jitter buffer and decoded with its own law (lost ones concealed by its own
# concealer, silence when it has nothing), then mix3() makes, sample by sample,
#     earpiece = A + B   (times the line's rx gain)
#     to leg A = P + B   (P: the phone's microphone after the tx gain)
#     to leg B = P + A
# each saturated to int16. The rx gain is the phone's earpiece level: the far ends
# hear each other as they sent it (the rx gain is applied to the sum for the earpiece,
# not in the decode table as in a two-party call).
from array import array

import micropython
from rtp import AUDIO, LOST
from dsp.tone import _zero as zero_fill
# media imports this module only once it is itself loaded: no import cycle
from media import FRAME_SAMPLES as _N, RTCP_FRAMES, _TX_RING, _UNITY, apply_gain


@micropython.viper
def mix3(p: ptr16, w: ptr16, ear: ptr16, q: int):
    """One conference frame of 160 samples. w holds four frames: [A | B | to A | to B];
    p is the phone's frame, ear the earpiece's. ear = (A + B) * q / 4096 (Q12, rounded),
    to A = P + B, to B = P + A; every result saturated to int16 (no wrap)."""
    end = uint(p) + 320
    while uint(p) < end:
        x = int(p[0])
        x = (x ^ 0x8000) - 0x8000   # ptr16 loads are unsigned: sign-extend
        a = int(w[0])
        a = (a ^ 0x8000) - 0x8000
        b = int(w[160])
        b = (b ^ 0x8000) - 0x8000
        y = ((a + b) * q + 2048) >> 12   # |a + b| * q < 2^31 up to +12 dB
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        ear[0] = y
        y = x + b
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        w[320] = y
        y = x + a
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        w[480] = y
        p = ptr16(uint(p) + 2)
        w = ptr16(uint(w) + 2)
        ear = ptr16(uint(ear) + 2)


def _pull(rtp, plc, decode, payload, out, n):
    """Leg's frame into out (a memoryview of 160 samples: the concealer's memmove
    path): decoded, concealed when lost, silence when the leg has nothing."""
    kind = rtp.pull(payload)
    if kind == AUDIO:
        decode(payload, out, n)
        if plc is not None:
            plc.good(out)
    elif kind == LOST and plc is not None:
        plc.conceal(out)
    else:
        zero_fill(out, 0, n)
        if plc is not None:
            plc.good(out)   # keeps the concealer's delay line in step


class Conference:
    """Leg B and the mixer's buffers. start() takes a leg, stop() drops it; the
    buffers stay for the next conference."""

    def __init__(self):
        self.work = array("h", bytes(2 * 4 * _N))    # [A | B | to A | to B], for mix3
        v = memoryview(self.work)
        self.a = v[:_N]
        self.b = v[_N:2 * _N]
        self.to_a = v[2 * _N:3 * _N]
        self.to_b = v[3 * _N:]
        self.spare = array("h", bytes(2 * _N))   # the earpiece's mix when a tone plays
        self.rtp = None
        self.plc = None
        self.encode = None
        self.decode = None

    def start(self, rtp, encode, decode, plc):
        zero_fill(self.work, 0, 4 * _N)
        self.encode = encode
        self.decode = decode
        self.plc = plc
        self.rtp = rtp

    def stop(self):
        rtp = self.rtp
        self.rtp = None
        self.plc = None
        return rtp

    def frame(self, m, mic, rtp):
        """One 20 ms frame of media.Media m in a conference; rtp is leg A (m.rtp)."""
        n = _N
        rtp2 = self.rtp
        rtp.receive()
        rtp2.receive()
        payload = m.payload_in
        _pull(rtp, m.plc, m.decode, payload, self.a, n)
        _pull(rtp2, self.plc, self.decode, payload, self.b, n)
        sending = m.sending
        if not sending or m.mute_tx:
            mic = m.silence
        elif m.tx_q != _UNITY:
            apply_gain(mic, m.mic_gained, n, m.tx_q)
            mic = m.mic_gained
        # The earpiece: the mix, unless the codec is behind (the frame is dropped) or
        # caller ID or a tone has it (they keep priority, as in a two-party call).
        head = m._tx_head
        room = m._tx_count < _TX_RING
        out = m.tx_bufs[head]
        cid = m.cid
        if cid is not None and cid.active:
            own = 1
        elif m.tone.active:
            own = 2
        else:
            own = 0
        mix3(mic, self.work, out if room and not own else self.spare, m.rx_q)
        if sending:
            payload = m.payload_out
            m.encode(self.to_a, payload, n)
            rtp.send(payload)
            self.encode(self.to_b, payload, n)
            rtp2.send(payload)
        else:
            rtp.send(None)      # on hold: nothing sent, the RTP clocks run on
            rtp2.send(None)
        m.rtcp_wait -= 1
        if m.rtcp_wait <= 0:
            m.rtcp_wait = RTCP_FRAMES
            rtp.rtcp_tick()
            rtp2.rtcp_tick()
        if not room:
            return
        if own == 1:
            cid.fill(out, n)
        elif own == 2:
            m.tone.fill(out, n)
        m._tx_head = (head + 1) % _TX_RING
        m._tx_count += 1
