# MicroPython bench driver for `ata bench --only cost`: the firmware's media path of
# one call (firmware/media.py Media.frame with an RtpSession, G.711 u-law, the PLC and
# the DTMF detector)
# over LOOPS x REPS frames. A plain UDP socket plays the far end: each frame it sends
# one 20 ms u-law packet to the session, except every 10th (lost: the jitter buffer
# reports it and the PLC conceals), and the codec's earpiece callback takes one frame.
# callgrind counts two REPS values; tools/ata/cost_bench.py divides the difference by
# the frames in between and subtracts mode "none" (the same loop without Media.frame).
# Mode "conf" is a three-way conference (Media.start_conference): a second far end
# sends A-law on a second session, lost every 10th too (at another phase); its
# baseline is "confnone", the same loop with both far ends but without Media.frame.
#   micropython bench/media_mpy.py MODE REPS       MODE: media | none | conf | confnone
import socket
import sys
from array import array

from media import Media
from rtp import RtpSession
from rtp.plc import Concealer

LOOPS = 250
FRAME = 160


class _I2S:
    def irq(self, _cb):
        pass

    def readinto(self, _buf):
        pass

    def write(self, _buf):
        pass


class _Flag:
    def set(self):
        pass


class _Port:
    i2s_rx = _I2S()
    i2s_tx = _I2S()

    def new_flag(self):
        return _Flag()


def main():
    mode = sys.argv[1]
    reps = int(sys.argv[2])
    if mode not in ("media", "none", "conf", "confnone"):
        raise SystemExit("mode: media, none, conf or confnone")
    conf = mode in ("conf", "confnone")
    media = Media(_Port(), log=lambda *_: None)
    rtp = RtpSession("127.0.0.1", pt=0)
    rtp.open()
    peer = RtpSession("127.0.0.1")         # only for its socket pair on a free port
    peer.open()
    far = peer.sock
    rtp.set_remote("127.0.0.1", peer.local_port)
    to = socket.getaddrinfo("127.0.0.1", rtp.local_port)[0][-1]
    media.start_call(rtp, 0, Concealer(FRAME))
    media.listen_dtmf(True)                # off-hook in a call: the detector runs
    if conf:
        rtp2 = RtpSession("127.0.0.1", pt=8)
        rtp2.open()
        peer2 = RtpSession("127.0.0.1")
        peer2.open()
        far2 = peer2.sock
        rtp2.set_remote("127.0.0.1", peer2.local_port)
        to2 = socket.getaddrinfo("127.0.0.1", rtp2.local_port)[0][-1]
        media.start_conference(rtp2, 8, Concealer(FRAME))
        pkt2 = bytearray(12 + FRAME)
        pkt2[0] = 0x80
        pkt2[1] = 8
        pkt2[8:12] = b"\x9a\xbc\xde\xf0"
        for i in range(FRAME):             # A-law, another tone (1 kHz)
            pkt2[12 + i] = (0xB5, 0xA5, 0xD5, 0x25, 0x35, 0x25, 0x55, 0xA5)[i % 8]
    mic = array("h", bytes(2 * FRAME))
    for i in range(FRAME):                 # a 500 Hz tone into the microphone
        mic[i] = (4000, 2800, 0, -2800, -4000, -2800, 0, 2800)[i % 8]
    pkt = bytearray(12 + FRAME)
    pkt[0] = 0x80
    pkt[8:12] = b"\x12\x34\x56\x78"
    for i in range(FRAME):
        pkt[12 + i] = (0x9F, 0xAF, 0xFF, 0x2F, 0x1F, 0x2F, 0xFF, 0xAF)[i % 8]
    frame = media.frame
    tx_done = media._tx_done
    k = 0
    for _ in range(reps):
        for _ in range(LOOPS):
            seq = k & 0xFFFF
            ts = (k * FRAME) & 0xFFFFFFFF
            pkt[2] = seq >> 8
            pkt[3] = seq & 0xFF
            pkt[4] = ts >> 24
            pkt[5] = (ts >> 16) & 0xFF
            pkt[6] = (ts >> 8) & 0xFF
            pkt[7] = ts & 0xFF
            if k % 10 != 9:
                far.sendto(pkt, to)
            if conf:
                pkt2[2:8] = pkt[2:8]
                if k % 10 != 4:
                    far2.sendto(pkt2, to2)
            k += 1
            if mode == "media" or mode == "conf":
                frame(mic)
                tx_done(None)
    print("frames", k, "media", media.counts, "rtp", rtp.received, rtp.jb.concealed,
          "conf", media.in_conference, rtp2.received if conf else None,
          rtp2.jb.concealed if conf else None)
    # What the session sent to `far` is never read: the kernel drops it once the
    # socket's buffer is full (reading it would add harness cost to one mode only).


main()
