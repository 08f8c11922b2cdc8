# The media pipeline's 20 ms frame never allocates: tones, DTMF listening, caller ID,
# and a call with G.711 + RTP send/receive + jitter buffer + concealment, far-end
# RFC 4733 keys played to the phone and RTCP reports sent and parsed, under heap_lock.
import time

import micropython
import socket
from array import array

import country
from media import Media, FRAME_SAMPLES
from vmachine import Flag
from rtp import RtpSession
from rtp.plc import Concealer
from check import eq



class Port:
    i2s_rx = None
    i2s_tx = None

    @staticmethod
    def new_flag():
        return Flag()


def free_even_port():
    for p in range(42000, 43000, 2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", p)[0][-1])
            return p
        except OSError:
            pass
        finally:
            s.close()
    raise OSError("no free port")


def self_call(plc=None, dtmf=True):
    """A Media in a call whose RTP session talks to itself (send and receive both
    run; the earpiece gets our own audio): (media, session)."""
    port = free_even_port()
    rtp = RtpSession("127.0.0.1", port)
    rtp.open()
    rtp.set_remote("127.0.0.1", port)
    m = Media(Port())
    m.listen_dtmf(dtmf)
    m.start_call(rtp, 0, plc or Concealer(FRAME_SAMPLES))
    return m, rtp


def frames(m, mic, count):
    for _ in range(count):
        m._tx_count = 0          # no codec here to take the earpiece frames
        m.frame(mic)


def frames_locked(m, mic, count):
    """count frames with the heap locked: any allocation raises MemoryError."""
    micropython.heap_lock()
    try:
        frames(m, mic, count)
    finally:
        micropython.heap_unlock()


def mic_tone():
    mic = array("h", bytes(2 * FRAME_SAMPLES))
    for i in range(FRAME_SAMPLES):
        mic[i] = (i % 16 - 8) * 1000
    return mic


def test_tone_and_dtmf_listening_frames_do_not_allocate():
    m = Media(Port())
    m.play_tone(country.plan("UK")["congestion"])
    m.listen_dtmf(True)
    mic = mic_tone()
    frames(m, mic, 10)
    frames_locked(m, mic, 200)
    eq(m.counts["frames"], 210, "frames")


def test_call_frames_do_not_allocate():
    m, rtp = self_call()
    mic = mic_tone()
    frames(m, mic, 30)
    rtcp_before = (rtp.rtcp_sent, rtp.rtcp_received)
    heard_key = [False]
    micropython.heap_lock()
    try:
        for k in range(150):
            if k == 40:
                rtp.event_start(5)       # the far end presses 5: the phone hears it
            elif k == 50:
                heard_key[0] = m.tone.active
                rtp.event_end()
            if k % 30 == 0:
                # an RTCP report falls due in this frame (the media frame reads the
                # real clock; moving the due time makes the report branch run now)
                rtp._rtcp_due = time.ticks_add(time.ticks_ms(), -1)
            frames(m, mic, 1)
    finally:
        micropython.heap_unlock()
    st = rtp.stats()
    rtp.close()
    if st["received"] < 100:
        raise AssertionError("the call path did not run: %r" % (st,))
    eq(heard_key[0], True, "far-end key played as a tone")
    eq(st["events_rx"], 1, "far-end key received")
    if rtp.rtcp_sent - rtcp_before[0] < 4 or rtp.rtcp_received - rtcp_before[1] < 4:
        raise AssertionError("RTCP reports in the locked frames: %r" % (st,))


def test_call_frames_with_loss_do_not_allocate():
    # Frames the far end never sent (here: our own stream on hold for a few frames)
    # play as LOST and the concealer fills them: that branch under the lock too.
    plc = Concealer(FRAME_SAMPLES)
    m, rtp = self_call(plc, dtmf=False)
    mic = mic_tone()
    frames(m, mic, 30)
    micropython.heap_lock()
    try:
        for k in range(120):
            m.sending = k % 20 < 17      # 3 frames in 20 not sent: lost at the far end
            frames(m, mic, 1)
    finally:
        micropython.heap_unlock()
    st = rtp.stats()
    rtp.close()
    if plc.concealed_ms < 100 or st["concealed"] < 5:
        raise AssertionError("no concealment ran: %d ms, %r" % (plc.concealed_ms, st))
    if st["received"] < 80:
        raise AssertionError("the call path did not run: %r" % (st,))


def test_caller_id_frames_do_not_allocate():
    m = Media(Port())
    m.caller_id(lambda tx: tx.send_fsk(b"\x80\x10\x01\x0812010930\x02\x0a5551234567"))
    mic = mic_tone()
    frames(m, mic, 2)
    eq(m.caller_id_active(), True, "sending")
    frames_locked(m, mic, 40)      # ~0.6 s of Bell 202: the whole message, then silence
    eq(m.caller_id_active(), False, "sent to its end under the lock")


def test_call_frames_with_gains_that_saturate_do_not_allocate():
    # line.rx_gain_db, then line.tx_gain_db, at +12 dB on a loud microphone: each
    # multiply runs (and clips) in locked frames, and muted frames (a digit sent as
    # SIP INFO) too. The session talks to itself: the earpiece gets our own audio.
    m, rtp = self_call()
    mic = array("h", bytes(2 * FRAME_SAMPLES))
    for i in range(FRAME_SAMPLES):
        mic[i] = (i % 16 - 8) * 3000           # -24000..21000: x3.98 clips
    frames(m, mic, 30)
    heard = []
    for rx, tx in ((12, 0), (0, 12)):
        m.set_gains(rx, tx)
        micropython.heap_lock()
        try:
            for k in range(60):
                m.mute_tx = 40 <= k < 44
                frames(m, mic, 1)
        finally:
            micropython.heap_unlock()
        h = m.tx_bufs[(m._tx_head - 1) % len(m.tx_bufs)]
        heard.append((min(h), max(h)))
    st = rtp.stats()
    rtp.close()
    if st["received"] < 100:
        raise AssertionError("the call path did not run: %r" % (st,))
    eq(heard[0], (-32768, 32767), "rx gain +12 dB on ~24000 peaks: clipped, both signs")
    g = m.mic_gained
    eq((min(g), max(g)), (-32768, 32767), "tx gain saturates, both signs")
    for i in range(FRAME_SAMPLES):
        if (mic[i] > 0) != (g[i] > 0) or (mic[i] < 0) != (g[i] < 0):
            raise AssertionError("sample %d wrapped: %d -> %d" % (i, mic[i], g[i]))
    eq(g[9], 11943, "3000 x 16306 / 4096 (+12 dB in Q12), rounded")


class _I2S:
    """The codec's side: queued buffers are only counted (no DMA here)."""

    def __init__(self):
        self.queued = 0

    def readinto(self, _buf):
        self.queued += 1

    def write(self, _buf):
        self.queued += 1


class CodecPort:
    def __init__(self):
        self.i2s_rx = _I2S()
        self.i2s_tx = _I2S()

    @staticmethod
    def new_flag():
        return Flag()


def codec_frames(m, count):
    """count codec frames: the earpiece callback, then the microphone's (as the sim's
    codec clock calls them), and the media task's frame when the flag was set."""
    ran = 0
    for _ in range(count):
        m._tx_done(None)
        m._rx_done(None)
        ready = m._rx_ready
        if ready >= 0:
            m._rx_ready = -1
            m.frame(m.rx_bufs[ready])
            ran += 1
    return ran


def test_quiet_line_skips_the_frame_and_does_not_allocate():
    # On-hook with nothing to play: the codec callback does not wake the media task,
    # the earpiece gets the silence buffer, no underrun is counted; a tone (or
    # listening for DTMF, caller ID, a call) brings the frames back, and back to quiet.
    port = CodecPort()
    m = Media(port)
    m.play_tone(country.plan("UK")["congestion"])
    eq(codec_frames(m, 5), 5, "a tone plays: every frame runs")
    m.play_tone(None)
    micropython.heap_lock()
    try:
        quiet_ran = codec_frames(m, 100)          # the ring drains, then quiet
        m.listen_dtmf(True)
        listening_ran = codec_frames(m, 20)
        m.listen_dtmf(False)
        requiet_ran = codec_frames(m, 20)
    finally:
        micropython.heap_unlock()
    eq(quiet_ran, 0, "quiet frames processed")
    eq(listening_ran, 20, "frames while listening for DTMF")
    eq(requiet_ran, 0, "quiet again")
    eq(m.quiet_frames, 120, "quiet frames counted")
    eq(m.counts["underruns"], 0, "a quiet line's silence is not an underrun")
    eq(m.status()["frames"], 145, "status counts every codec frame")
    eq(port.i2s_rx.queued, 145, "the codec was given a buffer each frame")
    eq(port.i2s_tx.queued, 145, "the earpiece was given a buffer each frame")
    m.caller_id(lambda tx: tx.send_cas())
    eq(codec_frames(m, 3), 3, "caller ID: frames run")
