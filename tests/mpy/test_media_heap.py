# The media pipeline's 20 ms frame never allocates: tones, DTMF listening, and a call
# with G.711 + RTP send/receive + jitter buffer + concealment, under heap_lock.
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
    m.play_tone(country.PLANS["UK"]["congestion"])
    m.listen_dtmf(True)
    mic = mic_tone()
    frames(m, mic, 10)
    frames_locked(m, mic, 200)
    eq(m.counts["frames"], 210, "frames")


def test_call_frames_do_not_allocate():
    port = free_even_port()
    rtp = RtpSession("127.0.0.1", port)
    rtp.open()
    rtp.set_remote("127.0.0.1", port)        # talks to itself: send and receive both run
    m = Media(Port())
    m.listen_dtmf(True)
    m.start_call(rtp, 0, Concealer(FRAME_SAMPLES))
    mic = mic_tone()
    frames(m, mic, 30)
    frames_locked(m, mic, 150)
    st = rtp.stats
    rtp.close()
    if st["received"] < 100:
        raise AssertionError("the call path did not run: %r" % (st,))
