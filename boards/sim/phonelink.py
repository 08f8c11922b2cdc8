# The sim board's wire to the virtual phone: a TCP socket on loopback carrying pin
# changes, hook-switch schedules and audio frames (protocol: docs/phone-protocol.md).
import asyncio
import struct

from vmachine import clock

MSG_PIN = 0x50        # 'P' sim -> phone: pin letter, level, t_us
MSG_AUDIO = 0x41      # 'A' both ways: 20 ms of 8 kHz s16le (sim -> phone prefixed by t_us)
MSG_HOOK = 0x48       # 'H' phone -> sim: hook-switch schedule
MSG_HOOK_ACK = 0x4B   # 'K' sim -> phone: the sim time the schedule starts at
FRAME_BYTES = 320     # 160 samples of 16-bit audio
_MIC_FIFO_FRAMES = 6  # phone audio queued ahead of the codec clock, at most
_SILENCE = bytes(FRAME_BYTES)


class PhoneLink:
    def __init__(self, host, port, log=print):
        self.host = host
        self.port = port
        self.log = log
        self.writer = None
        self.server = None
        self._hook_level = 0          # on-hook while no phone is plugged in
        self._hook_schedule = []      # [(t_us, level)] in time order
        self.hook_pin = None          # the SHK pin told each change (vmachine Pin.irq)
        # The phone's audio, at most _MIC_FIFO_FRAMES ahead: frames read into kept
        # buffers (a ring), so the link allocates no frame every 20 ms. A chip's I2S
        # DMA allocates nothing; allocations here would trigger collections (main.py's
        # threshold) that a board never makes, in the sim's figures (docs/bench-cost.md).
        self._mic_ring = [bytearray(FRAME_BYTES)]    # grows to the depth the queue reaches
        self._mic_first = 0           # ring index of the oldest queued frame
        self._mic_n = 0               # frames queued
        self._head = bytearray(3)     # a message's kind and length, read from the phone
        self._sock = None             # the phone's socket (None: no phone)
        self._rx_buf = self._head     # what pump() is filling: a header or a message's body
        self._rx_got = 0              # bytes of it read so far (a body's kind stays in _head)
        self.out_pins = []
        self.frames_in = 0
        self.frames_out = 0
        self._pending = asyncio.Event()   # set when a write left bytes in the stream's buffer
        self._audio_msg = bytearray(3 + 8 + FRAME_BYTES)     # 'A', length, t_us, a frame
        struct.pack_into(">BH", self._audio_msg, 0, MSG_AUDIO, 8 + FRAME_BYTES)

    async def start(self):
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        asyncio.create_task(self._flush())

    # -- wiring used by the board --------------------------------------------
    def watch(self, pin, letter):
        """Report an output pin's changes to the phone as `letter`."""
        pin.letter = letter
        pin.listener = self._pin_changed
        self.out_pins.append(pin)

    def hook_level(self, t_us):
        """Level of the SHK line at sim time t_us (1 = off-hook)."""
        sched = self._hook_schedule
        while sched and sched[0][0] <= t_us:
            t, self._hook_level = sched.pop(0)
            if self.hook_pin is not None:
                self.hook_pin.sourced(t, self._hook_level)
        return self._hook_level

    def hook_next(self):
        """Sim time of the next scheduled SHK change, or None."""
        sched = self._hook_schedule
        return sched[0][0] if sched else None

    def take_mic_frame(self):
        """The oldest queued frame of the phone's audio (valid until the next frame is
        read: the codec copies it at once), or silence."""
        if not self._mic_n:
            return _SILENCE
        frame = self._mic_ring[self._mic_first]
        self._mic_first = (self._mic_first + 1) % len(self._mic_ring)
        self._mic_n -= 1
        return frame

    def send_audio(self, t_us, frame):
        # One message buffer, made once (the stream copies what the socket does not
        # take at once): no packing and joining of a new message every 20 ms.
        msg = self._audio_msg
        struct.pack_into(">Q", msg, 3, t_us)
        msg[11:] = frame
        self._write(msg)
        self.frames_out += 1

    # -- protocol ----------------------------------------------------------------
    def _pin_changed(self, pin, level, t_us):
        self._send(MSG_PIN, struct.pack(">BBQ", ord(pin.letter), level, t_us))

    def _send(self, kind, payload):
        self._write(struct.pack(">BH", kind, len(payload)) + payload)

    def _write(self, msg):
        w = self.writer
        if w is None:
            return
        if not _wrote(w, msg):
            self._drop()
        elif w.out_buf:           # the socket took part of it: _flush drains the rest
            self._pending.set()

    async def _flush(self):
        # Woken only when a write left bytes behind (not every 5 ms: the sim's idle
        # host CPU and the cost bench's count of the sim's own machinery).
        while True:
            await self._pending.wait()
            self._pending.clear()
            w = self.writer
            if w is not None and w.out_buf:
                try:
                    await w.drain()
                except OSError:
                    self._drop()

    def _drop(self):
        if self.writer is not None:
            self.log("phone: disconnected")
        self.writer = None
        s, self._sock = self._sock, None
        if s is not None:
            s.close()
        # An unplugged phone is an on-hook phone.
        self._hook_schedule = [(clock.real_us(), 0)]
        self._mic_n = 0
        if self.hook_pin is not None:
            self.hook_pin.source_moved()

    async def _serve(self, reader, writer):
        if self.writer is not None:
            self.pump()           # the last phone may have gone: its end is read here
        if self.writer is not None:
            self.log("phone: second connection refused")
            writer.s.close()
            return
        self.writer = writer
        self._sock = writer.s     # read without blocking by pump(), at each codec tick
        self._rx_buf = self._head
        self._rx_got = 0
        self.log("phone: connected")
        now = clock.real_us()
        for pin in self.out_pins:
            self._pin_changed(pin, pin.value(), now)

    def pump(self):
        """Take in what the phone has sent, without blocking: called by the codec at
        each 20 ms tick, before it takes a frame of the phone's audio (the phone sends
        one in reply to each frame it gets, so it is here by the next tick). No task
        waits on the socket: an asyncio stream read makes a coroutine, an I/O queue
        entry and a poll registration for every message, ~0.7 KB a frame that a chip's
        I2S DMA does not allocate (docs/bench-cost.md). A hook schedule is taken up to
        a tick late; the phone learns when it starts from the ack. (Small functions:
        MicroPython puts a call's frame on the heap when it needs over 11 words.)"""
        while self._sock is not None and self._read_part():
            pass

    def _read_part(self):
        """One read into what is being filled; False when nothing more has come."""
        buf = self._rx_buf
        got = self._rx_got
        # a partial read (rare on loopback) goes on into the rest of the buffer
        n = _read(self._sock, memoryview(buf)[got:] if got else buf)
        if n is None:
            return False
        if n <= 0:
            self._closed(n)
            return False
        got += n
        if got < len(buf):
            self._rx_got = got
        else:
            self._rx_got = 0
            self._received(buf)
        return True

    def _closed(self, n):
        self.log("phone: link closed (%s)" % ("end of stream" if n == 0 else "socket error"))
        self._drop()

    def _received(self, buf):
        """A header or a body read whole: queue or handle it, and say what comes next."""
        head = self._head
        if buf is head:
            kind, n = head[0], (head[1] << 8) | head[2]
            if kind == MSG_AUDIO and n == FRAME_BYTES:
                self._rx_buf = self._mic_slot()
            elif n:
                self._rx_buf = bytearray(n)
            else:
                self._message(kind, b"")
            return
        self._rx_buf = head
        if head[0] == MSG_AUDIO and len(buf) == FRAME_BYTES:
            self._mic_n += 1          # queued once whole
            self.frames_in += 1
        else:
            self._message(head[0], bytes(buf))

    def _message(self, kind, body):
        try:
            self._handle(kind, body)
        except ValueError as e:       # the codec's tick runs this: it must not raise
            self.log("phone: bad message kind=%d (%r)" % (kind, e))

    def _mic_slot(self):
        """The ring's buffer after the queued frames, for the next one from the phone;
        the oldest queued frame is dropped when _MIC_FIFO_FRAMES are. The ring grows by
        a buffer (put after the queued frames) only when every buffer holds one: a
        phone link on loopback runs one or two frames deep, so it holds two or three
        buffers, not seven (the sim's heap counts in docs/bench-heap.md's figures)."""
        ring = self._mic_ring
        if self._mic_n >= _MIC_FIFO_FRAMES:
            self._mic_first = (self._mic_first + 1) % len(ring)
            self._mic_n -= 1
        if self._mic_n >= len(ring):
            ring.insert(self._mic_first, bytearray(FRAME_BYTES))
            self._mic_first += 1
        return ring[(self._mic_first + self._mic_n) % len(ring)]

    def _handle(self, kind, body):
        if kind == MSG_HOOK and len(body) % 5 == 0:
            now = clock.real_us()
            sched = self._hook_schedule
            base = max(now, sched[-1][0]) if sched else now
            for i in range(0, len(body), 5):
                off, level = struct.unpack(">IB", body[i:i + 5])
                sched.append((base + off, 1 if level else 0))
            self._send(MSG_HOOK_ACK, struct.pack(">Q", base))
            if self.hook_pin is not None:
                self.hook_pin.source_moved()
        else:
            self.log("phone: bad message kind=%d len=%d" % (kind, len(body)))


def _wrote(stream, msg):
    """stream.write(msg); False if the socket failed (the phone went away)."""
    try:
        stream.write(msg)
    except OSError:
        return False
    return True


def _read(sock, buf):
    """sock.readinto(buf) without blocking: the bytes read, None if nothing has come, 0
    at the stream's end, -1 if the socket failed (`except OSError as e` would put this
    frame on the heap)."""
    try:
        return sock.readinto(buf)
    except OSError:
        return -1
