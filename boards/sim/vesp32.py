# The sim's model of the ESP32's esp32.RMT transmitter (MicroPython 1.29, ESP-IDF 5
# driver): the board's RMT ring drives the virtual F/R pin through it. The channel
# is hardware: its edges come at exact sim times, never through the soft-callback
# lateness and GC pauses of sim.timing (boards/sim/vmachine.py), because on the chip
# no CPU is involved once a loop runs. What the chip does and a driver must live with
# is modelled, not smoothed over:
# - a new channel takes the pin and drives it low until its first transmission; then
#   the pin rests at idle_level whenever nothing is sent, also after active(False);
# - while the channel has the pin, Pin.value() does not reach it, until Pin.init(mode)
#   gives the pin back to the GPIO; a deleted channel does not drive it any more;
# - write_pulses() on a channel that is still looping blocks forever on the chip:
#   here it raises, so a driver that would hang a board fails the tests instead.
# Only what the ring uses is modelled: mode 1 of write_pulses (durations, start level).
from vmachine import clock, engine

_SOURCE_HZ = 80_000_000   # APB clock, the RMT's default source


class RMT:
    PULSE_MAX = 32767

    def __init__(self, id=-1, *, pin, resolution_hz=None, clock_div=None, idle_level=False,
                 tx_carrier=None, num_symbols=48):
        if resolution_hz is not None and clock_div is not None:
            raise ValueError("resolution_hz and clock_div are mutually exclusive")
        if clock_div is not None:
            if not 1 <= clock_div <= 255:
                raise ValueError("clock_div must be between 1 and 255")
            resolution_hz = _SOURCE_HZ // clock_div
        self.resolution_hz = resolution_hz or 10_000_000
        self.pin = pin
        self.idle_level = 1 if idle_level else 0
        self._loop = 0
        self._pulses = ()
        self._level0 = 0
        self._running = False
        self._t0 = 0           # sim us when the transmission started
        self._ticks = 0        # channel ticks from _t0 to the next edge
        self._k = 0            # index of the pulse that next edge ends
        self.due_us = 0        # the next edge (the engine's interface)
        pin.peripheral = self
        pin.drive(0)           # IDF: idle output forced low until the first transmission

    @classmethod
    def source_freq(cls):
        return _SOURCE_HZ

    def _alive(self):
        if self.pin is None:
            raise OSError("already deinitialized")

    def loop_count(self, n):
        self._alive()
        if n < -1:
            raise ValueError("arg must be -1, 0 or positive")
        if n == 0 and self._running and self._loop:
            self._halt(clock.now_us())
        self._loop = n

    def loop(self, enable):
        self.loop_count(-1 if enable else 0)

    def write_pulses(self, duration, data=True):
        self._alive()
        if self._running:
            if self._loop:
                raise RuntimeError("sim RMT: write_pulses on a looping channel blocks forever")
            self._advance(1 << 62)     # the chip waits for the sequence to end
        if isinstance(data, (tuple, list)) or not isinstance(duration, (tuple, list)):
            raise NotImplementedError("sim RMT: only write_pulses(durations, level)")
        if not duration:
            raise ValueError("No pulses")
        for d in duration:
            if not 1 <= d <= RMT.PULSE_MAX:
                raise ValueError("pulse duration %r out of 1..%d" % (d, RMT.PULSE_MAX))
        self._pulses = duration
        self._level0 = 1 if data else 0
        self._t0 = clock.now_us()
        self._k = 0
        self._ticks = duration[0]
        self._running = True
        self.pin.drive(self._level0)
        self._schedule()
        engine.add(self)

    def _schedule(self):
        self.due_us = self._t0 + self._ticks * 1_000_000 // self.resolution_hz

    def _edge(self):
        """The pulse _k ends at due_us: the next one's level, or rest after the last."""
        n = len(self._pulses)
        self._k += 1
        if self._k == n:
            if self._loop == 0:
                self._halt(self.due_us)
                return
            self._k = 0
        level = self._level0 ^ (self._k & 1)     # mode 1: toggles per pulse, anew per loop
        saved = clock.virtual
        clock.virtual = self.due_us
        try:
            self.pin.drive(level)
        finally:
            clock.virtual = saved
        self._ticks += self._pulses[self._k]
        self._schedule()

    def _advance(self, until_us):
        while self._running and self.due_us <= until_us:
            self._edge()

    def _halt(self, at_us):
        self._running = False
        engine.remove(self)
        saved = clock.virtual
        clock.virtual = at_us
        try:
            self.pin.drive(self.idle_level)
        finally:
            clock.virtual = saved

    def _fire_once(self, now):
        self._edge()

    def active(self, value=None):
        self._alive()
        if value is None:
            return self._running
        if value:
            raise ValueError("activate by calling write_pulses()")
        if self._running:
            now = clock.now_us()
            self._advance(now)         # the edges the hardware made before this call
            if self._running:
                self._halt(now)
        return False

    def wait_done(self, *, timeout=0):
        self._alive()
        if self._running and not self._loop:
            self._advance(clock.now_us())
        return not self._running

    def deinit(self):
        if self.pin is None:
            return
        if self._running:
            self.active(False)
        self.pin.peripheral = _Released   # the pad holds; the GPIO gets it back by init(mode)
        self.pin = None
        self._pulses = ()


class _Released:
    """Marks a pin whose RMT channel was deleted: nothing drives it until Pin.init(mode)."""
