# The sim board's virtual hardware allocates nothing per 20 ms period: the timer
# engine's pass, the codec's tick with both I2S directions, the phone link taking in
# the phone's audio frame and sending the earpiece's, a pending hook schedule checked
# at every pass. A chip's timers, I2S DMA and GPIO allocate nothing; what the sim
# allocates counts towards main.py's collection threshold and lands in the cost
# bench's figures as collections the firmware would not make on a board
# (docs/bench-cost.md). Counted with micropython.mem_total(), which also sees the
# frames MicroPython puts on the heap for functions that need over 11 words (freed on
# return, so heap_lock and gc.mem_alloc() miss them, but each one counts towards the
# threshold).
import micropython
import struct

import vmachine
from vmachine import I2S, Pin, Timer, engine
from codec import SimCodec
from phonelink import PhoneLink, MSG_AUDIO, MSG_HOOK, FRAME_BYTES
from check import eq
from phonerig import listening, plug

_PERIOD_US = 20_000


def _connected_link():
    """A PhoneLink with a phone on a real loopback TCP connection: (link, phone socket)."""
    srv, addr = listening()
    link = PhoneLink("127.0.0.1", 0, log=lambda m: None)
    try:
        return link, plug(link, srv, addr)
    finally:
        srv.close()


class _Board:
    """The sim board's wiring for one port, the drivers' side stubbed as the media
    pipeline's quiet path runs it: each I2S handler queues its buffer again."""

    def __init__(self, timing):
        engine.reset(timing)
        self.link, self.phone = _connected_link()
        I2S.codec = SimCodec(self.link)
        self.rx = I2S(0, mode=I2S.RX)
        self.tx = I2S(1, mode=I2S.TX)
        self.mic = bytearray(FRAME_BYTES)
        self.ear = bytearray(FRAME_BYTES)
        self.rx.irq(self._rx_done)
        self.tx.irq(self._tx_done)
        self.rx.readinto(self.mic)
        self.tx.write(self.ear)
        self.shk = Pin("shk", Pin.IN)
        self.shk.source = self.link.hook_level
        self.shk.source_next = self.link.hook_next
        self.link.hook_pin = self.shk
        self.edges = 0
        self.shk.irq(self._hook_edge)
        self.ticks = 0
        self.tick = Timer(-1, period=10, callback=self._ticked)   # a soft timer (the hook's)
        self.from_phone = bytearray(4096)
        self.frame_msg = struct.pack(">BH", MSG_AUDIO, FRAME_BYTES) + bytes(
            (i * 7) & 0xFF for i in range(FRAME_BYTES))
        self.phone.setblocking(False)

    def _rx_done(self, i2s):
        i2s.readinto(self.mic)

    def _tx_done(self, i2s):
        i2s.write(self.ear)

    def _hook_edge(self, _pin):
        self.edges += 1

    def _ticked(self, _t):
        self.ticks += 1

    def hook_schedule(self, offset_us, level):
        body = struct.pack(">IB", offset_us, level)
        self.phone.write(struct.pack(">BH", MSG_HOOK, len(body)) + body)

    def period(self, now):
        """One 20 ms period: the phone's frame arrives, the engine runs the period's
        passes (as its task would), the phone takes what the sim sent."""
        self.phone.write(self.frame_msg)
        t = now - _PERIOD_US
        while t < now:
            t += _PERIOD_US // 4
            engine.step(t)
        _drain(self.phone, self.from_phone)

    def close(self):
        self.tick.deinit()
        self.shk.irq(None)
        self.phone.close()
        self.link._drop()
        engine.reset("ideal")


def _drain(sock, buf):
    # apart from period(): with its try block period's frame would need over 11 words
    # and be put on the heap, counted here as if the sim's
    try:
        sock.readinto(buf)
    except OSError:
        pass


def _periods(board, start, n):
    for i in range(n):
        board.period(start + (i + 1) * _PERIOD_US)
    return start + n * _PERIOD_US


def _check_no_allocation(timing):
    board = _Board(timing)
    try:
        now = vmachine.clock.real_us()
        board.hook_schedule(60_000_000, 1)      # pending all along: checked every pass
        now = _periods(board, now, 20)          # the mic ring and queues grow to size
        frames_in, ticks = board.link.frames_in, board.ticks
        before = micropython.mem_total()
        now = _periods(board, now, 100)
        allocated = micropython.mem_total() - before
        # it ran: the phone's frames were taken in and reached the rx buffer, the soft
        # timer fired, the hook schedule stayed pending (no edge)
        eq(board.link.frames_in - frames_in, 100, "phone frames taken in")
        eq(bytes(board.mic[:4]), bytes(board.frame_msg[3:7]), "mic audio from the phone")
        eq(board.ticks - ticks >= 150, True, "soft timer periods (%d)" % (board.ticks - ticks))
        eq(board.edges, 0, "hook edges")
        eq(allocated, 0, "bytes allocated in 100 periods under %s timing" % timing)
    finally:
        board.close()


def test_a_period_allocates_nothing_ideal_timing():
    _check_no_allocation("ideal")


def test_a_period_allocates_nothing_esp32_timing():
    _check_no_allocation("esp32")


def test_the_hook_schedule_still_reaches_the_pin():
    # the same wiring takes a hook schedule from the socket at a tick and fires its edge
    board = _Board("ideal")
    try:
        now = vmachine.clock.real_us()
        board.hook_schedule(0, 1)
        now = _periods(board, now, 3)
        eq(board.edges, 1, "off-hook edge")
        eq(board.link.hook_level(now), 1, "SHK level")
    finally:
        board.close()
