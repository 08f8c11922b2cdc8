# A closed RtpSession renewed for the next call (firmware/callctl.py keeps one per
# line): only a closed one can be; the next call hears and counts nothing of the last
# and gets a new SSRC and sequence; a renewed session starts where the heap has no
# room for a new one (its ring, buffers and attribute table are kept); and a call's
# first packets are read where the heap has no piece for a receive buffer.
import time

from check import eq
from heap_pieces import InPieces, no_piece
from rtp import RtpSession, AUDIO, EMPTY
from rtp.roomy import roomy
from rtp.session import RX_BUF
from test_rtp_recv import Raw, raw_to, F
from test_rtp_send import free_port


def test_only_a_closed_session_is_renewed_and_it_keeps_its_buffers():
    s = RtpSession("127.0.0.1", free_port())
    ring, rx = s.jb.ring, s._rx
    s.open()
    try:
        s.renew(free_port())
        raise AssertionError("an open session was renewed")
    except ValueError:
        pass
    s.close()
    assert s.renew(free_port(), pt=8, dtmf_pt=96, symmetric=True) is s
    eq((s.pt, s.dtmf_pt, s.symmetric), (8, 96, True), "the new call's settings")
    assert s.jb.ring is ring and s._rx is rx, "its buffers kept"
    s.open()
    s.close()


def test_the_next_call_hears_and_counts_nothing_of_the_last():
    s = RtpSession("127.0.0.1", free_port())
    s.open()
    r = raw_to(s)
    out = bytearray(F)
    try:
        for k in range(6):                     # audio of 0x55 left in the ring, unplayed
            r.send(500 + k, 8000 + k * F, fill=0x55)
        r.send(1, 1, ssrc=b"XXXX")             # and a packet of another stream
        time.sleep_ms(20)
        s.receive()
        s.send(bytes(F))
        st = s.stats()
        assert st["received"] >= 6 and st["sent"] == 1, st
        ssrc, seq = s.ssrc, s._seq
    finally:
        s.close()
        r.close()
    s.renew(free_port())
    for k, v in s.stats().items():
        if isinstance(v, int) and k not in ("local_port", "remote_port", "jitter_ms"):
            eq(v, 0, "%s after renew" % k)
    s.open()
    assert s.ssrc != ssrc or s._seq != seq, "a new SSRC and sequence"
    r = raw_to(s)
    try:
        for _ in range(5):
            eq(s.pull(out), EMPTY, "nothing plays before the new call's first packet")
        for k in range(6):                     # the same numbers and source as before
            r.send(500 + k, 8000 + k * F, fill=0x22)
        time.sleep_ms(20)
        s.receive()
        st = s.stats()
        eq((st["received"], st["duplicates"]), (6, 0), "none taken for the last call's")
        heard = []
        for _ in range(12):
            if s.pull(out) == AUDIO:
                heard.append(out[0])
                assert out == bytes([out[0]]) * F
        assert heard and set(heard) == {0x22}, heard
    finally:
        s.close()
        r.close()


def test_a_renewed_session_starts_where_the_heap_has_no_room_for_a_new_one():
    s = RtpSession("127.0.0.1", free_port())
    roomy(s)                    # as callctl makes its spare: the table grown at boot
    roomy(s.jb)
    with InPieces(512):         # holes of 512 bytes: no ring, buffer or table fits
        s.renew(free_port())
        s.open()
        r = Raw(s.local_port)
        s.set_remote("127.0.0.1", r.port)
        r.send(1, 160, fill=0x44)
        time.sleep_ms(10)
        s.receive()
        eq(s.stats()["received"], 1, "a packet in the renewed session")
        s.close()
        r.close()
        # the heap really is in pieces: a new session fails
        try:
            RtpSession("127.0.0.1", free_port())
            raise AssertionError("a new session was made: the heap was not fragmented, "
                                 "the test proved nothing")
        except MemoryError:
            pass


def test_a_calls_first_packets_come_where_the_heap_has_no_piece_for_a_receive_buffer():
    s = RtpSession("127.0.0.1", free_port())
    s.open()
    r = Raw(s.local_port)
    out = bytearray(F)
    try:
        with InPieces(1024):    # holes of 1 KB: no RX_BUF-sized read fits
            assert no_piece(RX_BUF), "the heap was not fragmented: the test proves nothing"
            r.send(700, 16000, fill=0x33)       # queued before the SDP names its source
            time.sleep_ms(10)
            s.set_remote("127.0.0.1", r.port)   # connects and sweeps the queue
            for k in range(1, 5):   # the next packets: their size is being learned
                r.send(700 + k, 16000 + k * F, fill=0x33)
            time.sleep_ms(20)
            s.receive()
            st = s.stats()
            eq((st["received"], st["rx_errors"]), (5, 0), "received in a heap in pieces")
            heard = [out[0] for _ in range(10) if s.pull(out) == AUDIO]
            assert heard and set(heard) == {0x33}, heard
    finally:
        s.close()
        r.close()
