# Virtual Pin, Timer and I2S for the sim board, with the interfaces of machine.*.
# Timers run from the asyncio loop (the unix port's _thread has no GIL), catching
# up missed periods so that every callback sees the time it was due at: a 25 ms
# F/R timer therefore makes exactly 20 Hz whatever the host's scheduling jitter.
import asyncio
import time

import uctypes

_MAX_CATCH_UP_US = 2_000_000  # behind by more than this: skip ahead, don't replay

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
    link); input pins read a level function supplied by the wiring. An input pin's
    irq() runs its handler at each change of that level: the wiring tells the pin the
    time of its next scheduled change (source_next) and each change as its schedule
    is consumed (sourced); the engine fires the interrupt at the change's time, the
    handler run at once (hard) or scheduled like a soft timer callback (TIMING)."""
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
        self.source_next = None   # fn() -> t_us of the source's next change, or None
        self._irq = None
        self._changes = []     # [(t_us, level)] consumed from the source, not yet fired
        self._seen = []        # the last changes fired: the level at a past instant

    def irq(self, handler=None, trigger=IRQ_RISING | IRQ_FALLING, *, priority=1, wake=None,
            hard=False):
        """machine.Pin.irq on an input: handler(pin) at each edge of `trigger`."""
        if handler is None:
            self._irq = None
            engine.remove_pin(self)
            return None
        self._irq = None              # value() below: the source's level now
        self._changes = []
        self._seen = [(clock.now_us(), self.value())]
        self._irq = _PinIRQ(self, handler, trigger, hard)
        engine.add_pin(self)
        return self._irq

    def sourced(self, t_us, level):
        """The wiring: the source went to `level` at t_us (in time order)."""
        if self._irq is not None:
            self._changes.append((t_us, level))

    def source_moved(self):
        """The wiring: the source's future changed (new schedule): wake the engine."""
        if self._irq is not None:
            engine.poke(0)

    def value(self, v=None):
        if v is None:
            if self.source is not None:
                now = clock.now_us()
                level = self.source(now)
                if self._irq is not None and clock.virtual is not None:
                    # a callback reads the level at its own instant, not that of a
                    # change already taken from the source after it
                    level = self._seen[0][1]
                    for t, lv in self._seen + self._changes:
                        if t > now:
                            break
                        level = lv
                return level
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


class _PinIRQ:
    """A pin's interrupt, run like a timer's (engine._interrupt): hard at once, soft
    through the scheduler queue (late, held by collections, lost when it is full)."""

    def __init__(self, pin, handler, trigger, hard):
        self.pin = pin
        self.handler = handler
        self.trigger = trigger
        self.soft = not hard

    def _run(self, at_us):
        clock.virtual = at_us
        try:
            self.handler(self.pin)
        finally:
            clock.virtual = None


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
        self.pins = []                # input pins with an irq handler
        self.wake = asyncio.Event()   # set when the first timer starts, or a pin's source moves
        self.task = None
        self.sleep_until = None       # host us the task sleeps until (None: not in its timed sleep)
        self.model = None             # TIMING[...]; None: ideal
        self.rand = None
        # Soft callbacks scheduled, in run order: when each runs, and its timer (two
        # lists, not a [run_at_us, timer] pair per callback: the engine allocates
        # nothing per period, as a chip's scheduler queue does not)
        self.queue_at = []
        self.queue_t = []
        self._due = []                # step's copy of the timers (kept: not a new list a pass)
        self.last_run_us = 0          # the scheduler runs its queue in order
        self.gc_at_us = 0             # the next garbage collection starts here...
        self.gc_end_us = 0            # ...and the one under way ends here
        self.stats = {"scheduled": 0, "lost": 0, "late_max_us": 0, "gc_pauses": 0}

    def reset(self, timing, seed=1):
        """No timers, pins, queued callbacks or counts, under a timing model: a test
        that drives the engine by hand starts each case from here."""
        self.timers[:] = []
        self.pins[:] = []
        self.queue_at[:] = []
        self.queue_t[:] = []
        self.last_run_us = 0
        self.gc_end_us = 0
        for k in self.stats:
            self.stats[k] = 0
        self.set_timing(timing, seed)

    def set_timing(self, name, seed=1):
        self.model = TIMING[name]
        self.rand = _Rand(seed)
        if self.model:
            self.gc_at_us = clock.real_us() + self._gc_gap()

    def _gc_gap(self):
        every = self.model["gc_every_us"]
        return every // 2 + self.rand.below(every)

    def _interrupt(self, t, due):
        """Timer t's interrupt at `due`: run it now (ideal, hard) or schedule it.
        (The work is in small functions: MicroPython puts a call's frame on the heap
        when it needs over 11 words, and this runs every period.)"""
        m = self.model
        if m is None:
            t._run(due)
        elif t.soft:
            self._schedule(t, due, m)
        else:
            self._run_hard(t, due, m["hard_late_us"])

    def _run_hard(self, t, due, late_us):
        t._run(due if late_us is None else due + self.rand.below(late_us))

    def _waiting(self, due):
        """Callbacks queued to run after `due` (still in the scheduler's queue then)."""
        n = 0
        for at in self.queue_at:
            if at > due:
                n += 1
        return n

    def _schedule(self, t, due, m):
        """A soft callback: queued to run late, held by collections, lost if full."""
        if due >= self.gc_at_us:            # a collection starts: everything waits
            self.gc_end_us = self.gc_at_us + m["gc_us"][0] + self.rand.below(
                m["gc_us"][1] - m["gc_us"][0])
            self.gc_at_us = self.gc_end_us + self._gc_gap()
            self.stats["gc_pauses"] += 1
        if self._waiting(due) >= m["depth"]:
            self.stats["lost"] += 1         # mp_sched_schedule: queue full
            return
        at = max(due + self.rand.below(m["late_us"]), self.last_run_us, self.gc_end_us
                 if due < self.gc_end_us else 0)
        self.last_run_us = at
        self.queue_at.append(at)
        self.queue_t.append(t)
        self.stats["scheduled"] += 1
        self.stats["late_max_us"] = max(self.stats["late_max_us"], at - due)

    def _run_queue(self, now):
        ran = False
        q_at = self.queue_at
        while q_at and q_at[0] <= now:
            self.queue_t.pop(0)._run(q_at.pop(0))
            ran = True
        return ran

    def step(self, now):
        """One pass at host time now: the soft callbacks due, one period of each timer
        (or edge of each peripheral) due, the callbacks those queued. True if any ran."""
        fired = self._run_queue(now)
        if self._fire_timers(now):
            fired = True
        if self._fire_pins(now):
            fired = True
        return self._run_queue(now) or fired

    def _fire_pins(self, now):
        # by index (an iterator's 4 stack slots would put the frame on the heap), the
        # length read each time: a handler may take its pin's irq off
        fired = False
        i = 0
        while i < len(self.pins):
            if self._pin_edges(self.pins[i], now):
                fired = True
            i += 1
        return fired

    def _fire_timers(self, now):
        # Over a copy (a callback may start or stop timers) kept from pass to pass and
        # filled item by item: a slice assignment makes a slice object each time.
        fired = False
        for i in range(self._copy_timers()):
            if self._fire_copied(i, now):
                fired = True
        return fired

    def _fire_copied(self, i, now):
        due = self._due
        t = due[i]
        due[i] = None
        if t.due_us > now:
            return False
        t._fire_once(now)
        return True

    def _copy_timers(self):
        timers = self.timers
        due = self._due
        while len(due) < len(timers):
            due.append(None)
        for i in range(len(timers)):
            due[i] = timers[i]
        return len(timers)

    def _pin_edges(self, pin, now):
        """Fire pin's interrupts for its source's changes up to now, in time order, each
        at its own instant: consumed one scheduled change at a time, so a hard handler
        reads the level at its change."""
        fired = False
        while self._pin_changed(pin, now):
            if self._pin_edge(pin):
                fired = True
        return fired

    def _pin_changed(self, pin, now):
        """A change of pin's source is due by now (taken from the source if need be).
        Every pass asks this of every pin: a small frame, not on the heap."""
        if pin._changes:
            return True
        nxt = pin.source_next()
        if nxt is None or nxt > now:
            return False
        pin.source(nxt)                   # consumes it: sourced() appends it
        return bool(pin._changes)

    def _pin_edge(self, pin):
        """The pin's next change: its interrupt if it is an edge its trigger wants."""
        t, level = pin._changes.pop(0)
        seen = pin._seen
        if level == seen[-1][1]:
            return False
        seen.append((t, level))
        if len(seen) > 16:
            seen.pop(0)
        irq = pin._irq
        if irq is not None and irq.trigger & (Pin.IRQ_RISING if level else Pin.IRQ_FALLING):
            self._interrupt(irq, t)
            return True
        return False

    def _next_due(self):
        # in parts: each small enough that its call's frame is not put on the heap
        due = self._timers_next()
        q_at = self.queue_at
        if q_at and (due is None or q_at[0] < due):
            due = q_at[0]
        return self._pins_next(due)

    def _timers_next(self):
        due = None
        for t in self.timers:
            if due is None or t.due_us < due:
                due = t.due_us
        return due

    def _pins_next(self, due):
        for p in self.pins:
            nxt = 0 if p._changes else p.source_next()
            if nxt is not None and (due is None or nxt < due):
                due = nxt
        return due

    def poke(self, due_us):
        """Something new is due at host time due_us (0: now): a timer started, a pin's
        source moved. The task, asleep until its next deadline, is brought forward when
        that is later (as asyncio's Task.cancel brings a sleeping task forward)."""
        self.wake.set()
        until = self.sleep_until
        if until is not None and due_us < until:
            self.sleep_until = None
            q = asyncio.core._task_queue
            q.remove(self.task)
            q.push(self.task)

    def add_pin(self, pin):
        if pin not in self.pins:
            self.pins.append(pin)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.poke(0)

    def remove_pin(self, pin):
        if pin in self.pins:
            self.pins.remove(pin)

    def add(self, t):
        if t not in self.timers:
            self.timers.append(t)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        self.poke(t.due_us)

    def remove(self, t):
        if t in self.timers:
            self.timers.remove(t)

    async def _run(self):
        while True:
            now = clock.real_us()
            fired = self.step(now)
            due = self._next_due()
            if fired:
                now = clock.real_us()
                if due is not None and due <= now:
                    # One period per timer per pass, then yield: after a host stall
                    # the catch-up interleaves with the tasks the callbacks woke (the
                    # media pipeline), as a real chip's interrupts would with its main
                    # loop. On time, straight to the timed sleep: a pass more would
                    # be a task switch more every period (and asyncio allocates a
                    # frame for each).
                    await asyncio.sleep_ms(0)
                    continue
            if due is None:               # no timer, no pin change scheduled
                self.wake.clear()
                await self.wake.wait()
                continue
            # Sleep until the next timer is due, rounded up to whole ms: rounding
            # down spun the loop with sleep_ms(0) before every 2 ms hook tick (a
            # quarter of a host core while idle). A callback still sees the exact
            # time it was due at (Clock.virtual), however late the host wakes it.
            # No cap: a timer started or a pin source moved meanwhile wakes the task
            # at once (poke), so it sleeps through a whole 20 ms frame when idle.
            ms = max(1, (due - now + 999) // 1000)
            self.sleep_until = now + ms * 1000
            await asyncio.sleep_ms(ms)
            self.sleep_until = None


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

    codec = None   # set by the board: the object that clocks frames (of the I2S made
                   # next: a board with two ports sets each port's before its I2S)

    def __init__(self, id, sck=None, ws=None, sd=None, mode=RX, bits=16, format=MONO,
                 rate=8000, ibuf=2048):
        if bits != 16 or format != I2S.MONO or rate != 8000:
            raise ValueError("sim I2S supports 16-bit mono 8 kHz only")
        self.id = id
        self.mode = mode
        self.handler = None
        self.pending = None
        self.offset = 0
        self._views = {}          # id(buf) -> (buf, a bytearray over its bytes)
        self.codec = I2S.codec
        self.codec.attach(self)

    def irq(self, handler):
        self.handler = handler

    def _queue(self, buf):
        if self.handler is None:
            raise OSError("sim I2S supports non-blocking mode only (set irq first)")
        if self.pending is not None:
            raise OSError("I2S buffer already queued")
        # Work on the buffer's bytes whatever its item type (array('h') or bytearray):
        # a view of them, made once per buffer (the firmware queues the same few
        # buffers every frame; len(bytes(buf)) copied each one to learn its size).
        views = self._views
        entry = views.get(id(buf))
        if entry is None or entry[0] is not buf:
            if len(views) >= 16:
                views.clear()
            entry = views[id(buf)] = (buf, uctypes.bytearray_at(uctypes.addressof(buf),
                                                                len(bytes(buf))))
        self.pending = entry[1]
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
        elif self.offset == 0 and n == len(buf):
            frame_out_or_in[:] = buf      # one frame, the whole buffer: no copy of a slice
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
        self.codec.detach(self)


class Flag:
    """ThreadSafeFlag's interface for callbacks that run inside the asyncio loop, as
    the sim's do: ThreadSafeFlag on the unix port wakes its waiter only at the next
    I/O poll, which can be far later. (A board with real interrupts uses ThreadSafeFlag.)
    One waiter, as ThreadSafeFlag has; its wait() is one generator, as ThreadSafeFlag's
    is on a chip (an Event's wait inside a wait of its own was two, each a search of
    the heap for room at every media frame)."""

    def __init__(self):
        self.state = False
        self.waiter = None

    def set(self):
        self.state = True
        t = self.waiter
        if t is not None:
            self.waiter = None
            asyncio.core._task_queue.push(t)     # clears the task's data

    def clear(self):
        self.state = False

    def remove(self, task):
        """Task.cancel() on the waiter: it leaves (asyncio calls its data's remove)."""
        if self.waiter is task:
            self.waiter = None

    async def wait(self):
        if not self.state:
            if self.waiter is not None:
                raise RuntimeError("Flag: a second waiter")
            self.waiter = asyncio.core.cur_task
            self.waiter.data = self              # so that cancel() can take it out
            yield
        self.state = False


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
