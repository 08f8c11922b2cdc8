# The media frame's Python functions keep their frames on the C stack. A bytecode
# function whose locals, stack and try blocks take over 11 words gets its frame from
# the heap at every call (py/objfun.c without a Python stack, as on the ESP32) and
# frees it on return: heap_lock cannot see that (the VM quietly falls back to the C
# stack), but every such call searches the heap for room. Here probes are put at the
# bottom of the frame's call chains (module globals the functions call, and sockets
# whose reads they call); each probe reads gc.mem_alloc(), which counts the heap
# frames of every function on the stack above it. With the collector off and nothing
# else allocating (test_media_heap), it must read what it read before the frame.
import gc
import time
from array import array

from media import FRAME_SAMPLES
from rtp import jitter, session
from rtp import plc as plc_mod
from check import eq
from test_media_heap import mic_tone, self_call

_NPROBES = 8
_grown = array("i", [0] * _NPROBES)   # the most a probe saw the heap above the frame's base
_hits = array("i", [0] * _NPROBES)
_base = array("i", [0])


def _seen(k):
    d = gc.mem_alloc() - _base[0]
    if d > _grown[k]:
        _grown[k] = d
    _hits[k] += 1


class ProbeSock:
    """A socket whose reads probe first (the frame's socket reads are its deepest calls
    into receive() and rtcp_tick())."""

    def __init__(self, sock, k):
        self.sock = sock
        self.k = k

    def readinto(self, buf, n=-1):
        _seen(self.k)
        return self.sock.readinto(buf) if n < 0 else self.sock.readinto(buf, n)

    def send(self, buf):
        return self.sock.send(buf)


# The probes stand in for functions the frame calls at the bottom of its chains and
# call them in turn. They are module functions of few locals (no closure, no *args:
# either would put the probe's own frame or its arguments on the heap).
_real = {}


def _p_process(pcm, n):
    _seen(0)
    _real["process"](pcm, n)


def _p_header(tx, b1, seq, th, tl):
    _seen(1)
    _real["header"](tx, b1, seq, th, tl)


def _p_copy8(dst, doff, src, soff, n):
    _seen(2)
    _real["copy8"](dst, doff, src, soff, n)


def _p_blocks(flags, nb, first, blocks):
    _seen(3)
    return _real["blocks"](flags, nb, first, blocks)


def _p_type(x):
    _seen(6)
    return type(x)


def _frames(m, mic, count):
    for _ in range(count):
        m._tx_count = 0          # no codec here to take the earpiece frames
        _base[0] = gc.mem_alloc()
        m.frame(mic)


def test_a_probe_sees_a_heap_frame():
    """The method can fail: a function with a big frame above a probe is seen."""
    def big(a, b, c, d, e, f, g, h, i, j, k):
        x = a + b + c + d + e + f + g + h + i + j + k
        _seen(_NPROBES - 1)
        return x
    gc.collect()
    gc.disable()
    try:
        _base[0] = gc.mem_alloc()
        big(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    finally:
        gc.enable()
    eq(_grown[_NPROBES - 1] > 0, True, "a 12-word frame on the heap (%d bytes)"
       % _grown[_NPROBES - 1])


def test_call_frame_functions_keep_their_frames_on_the_c_stack():
    m, rtp = self_call()
    mic = mic_tone()
    _frames(m, mic, 30)                      # learned sizes, RTCP aimed, jitter running
    names = ("Media.frame (DTMF detector)", "send (RTP header)", "pull (its copy out)",
             "pull (its block flags)", "receive/_accepted", "rtcp_tick/_rtcp_in",
             "Concealer.good")
    saved = (m.dtmf.process, session._rtp_header, jitter._copy8, jitter._frame_blocks,
             rtp.sock, rtp._rtcp)
    _real["process"] = m.dtmf.process
    _real["header"] = session._rtp_header
    _real["copy8"] = jitter._copy8
    _real["blocks"] = jitter._frame_blocks
    m.dtmf.process = _p_process
    session._rtp_header = _p_header
    jitter._copy8 = _p_copy8
    jitter._frame_blocks = _p_blocks
    rtp.sock = ProbeSock(rtp.sock, 4)
    rtp._rtcp = ProbeSock(rtp._rtcp, 5)
    plc_mod.type = _p_type                   # Concealer.good's first call: type(pcm)
    for k in range(_NPROBES):
        _grown[k] = 0
        _hits[k] = 0
    gc.collect()
    gc.disable()
    try:
        for k in range(100):
            if k % 20 == 0:
                # a report now (and so the RTCP socket's read next frame): due 1 ms ago
                rtp._rtcp_due = time.ticks_add(time.ticks_ms(), -1)
            _frames(m, mic, 1)
    finally:
        gc.enable()
        (m.dtmf.process, session._rtp_header, jitter._copy8, jitter._frame_blocks,
         rtp.sock, rtp._rtcp) = saved
        del plc_mod.type
        rtp.close()
    for k, name in enumerate(names):
        eq(_hits[k] > 0, True, "probe under %s reached" % name)
        eq(_grown[k], 0, "heap above the frame's base at the probe under %s" % name)
