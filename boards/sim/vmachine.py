# Virtual Pin, Timer and I2S for the sim board, with the interfaces of machine.*.
# Timers run from the asyncio loop (the unix port's _thread has no GIL), catching
# up missed periods so that every callback sees the time it was due at: a 25 ms
# F/R timer therefore makes exactly 20 Hz whatever the host's scheduling jitter.
import asyncio
import time

import uctypes

_MAX_CATCH_UP_US = 2_000_000  # behind by more than this: skip ahead, don't replay
_MAX_SLEEP_MS = 5             # the timer task wakes at least this often


class Clock:
    """Sim time in microseconds since boot; inside a timer callback it is the
    instant the callback was due, so pin events carry exact timestamps."""

    def __init__(self):
        self._t0 = time.ticks_us()
        self.virtual = None

    def real_us(self):
        return time.ticks_diff(time.ticks_us(), self._t0)

    def now_us(self):
        v = self.virtual
        return self.real_us() if v is None else v


clock = Clock()


class Pin:
    """A virtual GPIO. Output pins report level changes to a listener (the phone
    link); input pins read a level function supplied by the wiring."""
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, name, mode=IN, pull=None, value=None):
        self.name = name
        self.mode = mode
        self._level = 0 if value is None else int(bool(value))
        self.listener = None   # fn(pin, level, t_us) for outputs
        self.source = None     # fn(t_us) -> level for inputs

    def value(self, v=None):
        if v is None:
            if self.source is not None:
                return self.source(clock.now_us())
            return self._level
        v = 1 if v else 0
        if v != self._level:
            self._level = v
            if self.listener is not None:
                self.listener(self, v, clock.now_us())
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        if value is not None:
            self.value(value)


class _Engine:
    """Runs the virtual timers from one asyncio task."""

    def __init__(self):
        self.timers = []
        self.wake = asyncio.Event()   # set when the first timer starts
        self.task = None

    def add(self, t):
        if t not in self.timers:
            self.timers.append(t)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.wake.set()

    def remove(self, t):
        if t in self.timers:
            self.timers.remove(t)

    async def _run(self):
        while True:
            if not self.timers:
                self.wake.clear()
                await self.wake.wait()
                continue
            now = clock.real_us()
            fired = False
            for t in list(self.timers):
                if t.due_us <= now:
                    t._fire_once(now)
                    fired = True
            if fired:
                # One period per timer per pass, then yield: after a host stall the
                # catch-up interleaves with the tasks the callbacks woke (the media
                # pipeline), as a real chip's interrupts would with its main loop.
                await asyncio.sleep_ms(0)
                continue
            due = min(t.due_us for t in self.timers)
            # Sleep until the next timer is due, rounded up to whole ms: rounding
            # down spun the loop with sleep_ms(0) before every 2 ms hook tick (a
            # quarter of a host core while idle). A callback still sees the exact
            # time it was due at (Clock.virtual), however late the host wakes it.
            # Short sleeps: a timer started meanwhile is never noticed late by more.
            await asyncio.sleep_ms(min(_MAX_SLEEP_MS, max(1, (due - now + 999) // 1000)))


engine = _Engine()


class Timer:
    """machine.Timer with periodic and one-shot modes (period in ms or freq in Hz)."""
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id
        self.callback = None
        self.period_us = 0
        self.due_us = 0
        self.mode = Timer.PERIODIC
        if kw:
            self.init(**kw)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None, hard=False):
        if freq > 0:
            self.period_us = int(1_000_000 / freq)
        elif period > 0:
            self.period_us = int(period * 1000)
        else:
            raise ValueError("Timer needs period or freq")
        self.mode = mode
        self.callback = callback
        self.due_us = clock.now_us() + self.period_us
        engine.add(self)

    def deinit(self):
        engine.remove(self)
        self.callback = None

    def _fire_once(self, now):
        if now - self.due_us > _MAX_CATCH_UP_US:
            self.due_us = now
        if self.callback is None:
            return
        clock.virtual = self.due_us
        try:
            self.callback(self)
        finally:
            clock.virtual = None
        if self.mode == Timer.ONE_SHOT:
            engine.remove(self)
            self.callback = None
        else:
            self.due_us += self.period_us


class I2S:
    """machine.I2S in non-blocking mode (irq set): readinto()/write() return at
    once and the handler runs when the buffer has been filled or played. The
    sample clock is the board's codec, which moves 160 samples every 20 ms."""
    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1

    codec = None   # set by the board: the object that clocks frames

    def __init__(self, id, sck=None, ws=None, sd=None, mode=RX, bits=16, format=MONO,
                 rate=8000, ibuf=2048):
        if bits != 16 or format != I2S.MONO or rate != 8000:
            raise ValueError("sim I2S supports 16-bit mono 8 kHz only")
        self.id = id
        self.mode = mode
        self.handler = None
        self.pending = None
        self.offset = 0
        I2S.codec.attach(self)

    def irq(self, handler):
        self.handler = handler

    def _queue(self, buf):
        if self.handler is None:
            raise OSError("sim I2S supports non-blocking mode only (set irq first)")
        if self.pending is not None:
            raise OSError("I2S buffer already queued")
        # Work on the buffer's bytes whatever its item type (array('h') or bytearray).
        self.pending = uctypes.bytearray_at(uctypes.addressof(buf), len(bytes(buf)))
        self.offset = 0
        return len(buf)

    def readinto(self, buf):
        return self._queue(buf)

    def write(self, buf):
        return self._queue(buf)

    def _move(self, frame_out_or_in):
        """Exchange one codec frame with the queued buffer; completes it when full."""
        buf = self.pending
        if buf is None:
            return False
        n = len(frame_out_or_in)
        if self.mode == I2S.RX:
            buf[self.offset:self.offset + n] = frame_out_or_in
        else:
            frame_out_or_in[:] = buf[self.offset:self.offset + n]
        self.offset += n
        if self.offset >= len(buf):
            self.pending = None
            self.handler(self)
        return True

    def deinit(self):
        self.handler = None
        self.pending = None
        I2S.codec.detach(self)


class Flag:
    """ThreadSafeFlag's interface for callbacks that run inside the asyncio loop, as
    the sim's do: ThreadSafeFlag on the unix port wakes its waiter only at the next
    I/O poll, which can be far later. (A board with real interrupts uses ThreadSafeFlag.)"""

    def __init__(self):
        self._ev = asyncio.Event()

    def set(self):
        self._ev.set()

    def clear(self):
        self._ev.clear()

    async def wait(self):
        await self._ev.wait()
        self._ev.clear()


class WDT:
    """machine.WDT's interface. A watchdog sits outside the CPU, so the sim's lives in
    the runner (tools/ata/sim.py): feed() records the time in the file `wdt` of the
    run folder; a runner that sees no feed for `timeout` ms kills the firmware and
    starts it again, as the chip's watchdog resets the board."""
    PATH = "wdt"

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feed()

    def feed(self):
        with open(self.PATH, "w") as f:
            f.write("%d\n" % self.timeout)
