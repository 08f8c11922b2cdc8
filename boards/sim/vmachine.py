# Virtual Pin, Timer and I2S for the sim board, with the interfaces of machine.*.
# Timers run from the asyncio loop (the unix port's _thread has no GIL), catching
# up missed periods so that every callback sees the time it was due at: a 25 ms
# F/R timer therefore makes exactly 20 Hz whatever the host's scheduling jitter.
import asyncio
import time

import uctypes

_MAX_CATCH_UP_US = 2_000_000  # behind by more than this: skip ahead, don't replay
_MAX_SLEEP_MS = 5             # the timer task wakes at least this often

# How a chip runs machine.Timer callbacks (sim.timing). "ideal": at the instant due.
# A soft callback (ESP32 always; RP2 without hard=True) is queued by the timer
# interrupt with mp_sched_schedule and runs when the VM next checks: late by up to
# late_us, and held back for the whole of a garbage collection (gc_us, about every
# gc_every_us). The queue holds `depth` callbacks (MICROPY_SCHEDULER_DEPTH: 8 on the
# ESP32 port, 4 by default elsewhere); an interrupt that finds it full loses its
# callback. A hard callback (RP2 hard=True) runs in the interrupt: hard_late_us.
TIMING = {
    "ideal": None,
    "esp32": {"late_us": 5000, "gc_every_us": 2_000_000, "gc_us": (10_000, 30_000),
              "depth": 8, "hard_late_us": None},
    "rp2": {"late_us": 5000, "gc_every_us": 2_000_000, "gc_us": (10_000, 30_000),
            "depth": 4, "hard_late_us": 50},
}


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


def ticks_ms():
    """time.ticks_ms() as the sim's timers see it: inside a callback, the instant the
    callback was due (what a chip's clock reads in an interrupt that is on time)."""
    return time.ticks_add(0, clock.now_us() // 1000)


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
        self._level = 0 if value is None else int(bool(value))   # on the pad
        self._out = self._level   # the GPIO output register
        self.peripheral = None    # a peripheral that drives the pad instead (vesp32.RMT)
        self.listener = None   # fn(pin, level, t_us) for outputs
        self.source = None     # fn(t_us) -> level for inputs

    def value(self, v=None):
        if v is None:
            if self.source is not None:
                return self.source(clock.now_us())
            return self._level
        self._out = 1 if v else 0
        if self.peripheral is None:   # as on a chip: a peripheral's pin ignores the GPIO
            self.drive(self._out)
        return None

    def drive(self, v):
        """The pad goes to level v now (from the GPIO or a peripheral)."""
        if v != self._level:
            self._level = v
            if self.listener is not None:
                self.listener(self, v, clock.now_us())

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:     # the value first, then the mode (as the ESP32 port does)
            self._out = 1 if value else 0
        if mode != -1:
            self.mode = mode
            self.peripheral = None    # a mode takes the pad back to the GPIO (IDF gpio_set_direction)
        if self.peripheral is None and self.mode == Pin.OUT:
            self.drive(self._out)


class _Rand:
    """A small seeded generator (the same chip timing for the same seed)."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 1) & 0x7FFFFFFF

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n if n > 0 else 0


class _Engine:
    """Runs the virtual timers, and the edges of the sim's waveform peripherals
    (vesp32.RMT), from one asyncio task."""

    def __init__(self):
        self.timers = []
        self.wake = asyncio.Event()   # set when the first timer starts
        self.task = None
        self.model = None             # TIMING[...]; None: ideal
        self.rand = None
        self.queue = []               # soft callbacks scheduled: [run_at_us, timer]
        self.last_run_us = 0          # the scheduler runs its queue in order
        self.gc_at_us = 0             # the next garbage collection starts here...
        self.gc_end_us = 0            # ...and the one under way ends here
        self.stats = {"scheduled": 0, "lost": 0, "late_max_us": 0, "gc_pauses": 0}

    def set_timing(self, name, seed=1):
        self.model = TIMING[name]
        self.rand = _Rand(seed)
        if self.model:
            self.gc_at_us = clock.real_us() + self._gc_gap()

    def _gc_gap(self):
        every = self.model["gc_every_us"]
        return every // 2 + self.rand.below(every)

    def _interrupt(self, t, due):
        """Timer t's interrupt at `due`: run it now (ideal, hard) or schedule it."""
        m = self.model
        if m is None or not t.soft:
            late = 0 if m is None or m["hard_late_us"] is None else self.rand.below(m["hard_late_us"])
            t._run(due + late)
            return
        if due >= self.gc_at_us:            # a collection starts: everything waits
            self.gc_end_us = self.gc_at_us + m["gc_us"][0] + self.rand.below(
                m["gc_us"][1] - m["gc_us"][0])
            self.gc_at_us = self.gc_end_us + self._gc_gap()
            self.stats["gc_pauses"] += 1
        waiting = sum(1 for q in self.queue if q[0] > due)
        if waiting >= m["depth"]:
            self.stats["lost"] += 1         # mp_sched_schedule: queue full
            return
        at = max(due + self.rand.below(m["late_us"]), self.last_run_us, self.gc_end_us
                 if due < self.gc_end_us else 0)
        self.last_run_us = at
        self.queue.append([at, t])
        self.stats["scheduled"] += 1
        self.stats["late_max_us"] = max(self.stats["late_max_us"], at - due)

    def _run_queue(self, now):
        ran = False
        while self.queue and self.queue[0][0] <= now:
            at, t = self.queue.pop(0)
            t._run(at)
            ran = True
        return ran

    def step(self, now):
        """One pass at host time now: the soft callbacks due, one period of each timer
        (or edge of each peripheral) due, the callbacks those queued. True if any ran."""
        fired = self._run_queue(now)
        for t in list(self.timers):
            if t.due_us <= now:
                t._fire_once(now)
                fired = True
        return self._run_queue(now) or fired

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
            if self.step(now):
                # One period per timer per pass, then yield: after a host stall the
                # catch-up interleaves with the tasks the callbacks woke (the media
                # pipeline), as a real chip's interrupts would with its main loop.
                await asyncio.sleep_ms(0)
                continue
            due = min(t.due_us for t in self.timers)
            if self.queue:
                due = min(due, self.queue[0][0])
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
        self.soft = True        # machine.Timer's callbacks are scheduled (see TIMING)
        self.callback = None
        self.period_us = 0
        self.due_us = 0
        self.mode = Timer.PERIODIC
        if kw:
            self.init(**kw)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None, hard=False):
        if hard:
            self.soft = False
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
        """This timer's interrupt, at the instant it was due."""
        if now - self.due_us > _MAX_CATCH_UP_US:
            self.due_us = now
        if self.callback is None:
            return
        due = self.due_us
        if self.mode == Timer.ONE_SHOT:
            engine.remove(self)
        else:
            self.due_us += self.period_us
        engine._interrupt(self, due)

    def _run(self, at_us):
        """The callback, seeing sim time at_us (when it runs, on a chip)."""
        cb = self.callback
        if cb is None:
            return
        clock.virtual = at_us
        try:
            cb(self)
        finally:
            clock.virtual = None
        if self.mode == Timer.ONE_SHOT:
            self.callback = None


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
