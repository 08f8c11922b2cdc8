# Hook switch from an RP2040 PIO state machine (boards/rp2_ag1171, program hook.pio
# there): the PIO samples SHK every 0.5 ms, debounces it and pushes each edge that
# stands with its time (a 30-bit count of 0.5 ms ticks) into its RX FIFO. PioHook turns
# those edges back into the 2 ms level samples firmware/hook.py's HookDetector takes:
# it is the port's hook timer (init(period, callback, hard) / deinit()) and its level()
# is the SLIC's shk(). Each sample is replayed at the PIO time it stands for, LAG_US
# behind real time, so a late timer callback (a flash write holds interrupts off)
# replays the samples it missed with the levels the PIO timed: pulse and flash
# lengths come from the PIO's clock, never from when the CPU looked.
#
# Runs in a hard timer interrupt: integer work on small ints (30-bit values), no
# allocation. The pure parts run on the host: tests/test_pio_hook.py feeds this class
# the words the emulated program pushed.
import time
from array import array

TICK_US = 500              # the PIO's sample period
MASK = 0x3FFFFFFF          # its 30-bit clock (a MicroPython small int)
START = MASK               # the clock at start: the board loads X = ~0
LAG_US = 1000              # replay this far behind real time: pushed edges are in
_EDGES = 8                 # edges held between FIFO and replay


def debounce_count(debounce_ms):
    """What the board loads into OSR/Y: the program confirms a level after count + 2
    consecutive samples."""
    samples = debounce_ms * 1000 // TICK_US
    if samples < 3:
        raise ValueError("hook debounce %d ms: at least 1.5 ms" % debounce_ms)
    return samples - 2


class PioHook:
    def __init__(self, machine, timer):
        """machine: the board's hook state machine (start(), pending(), get());
        timer: a machine.Timer for the replay."""
        self.machine = machine
        self.timer = timer
        self._edges = array("i", [0] * _EDGES)
        self._head = 0
        self._tail = 0
        self.overruns = 0
        self._cb = None
        self._level = 0
        self._n = 0                # edges seen: odd = off-hook (edges alternate, rising first)
        self._sample = START       # PIO time of the next sample
        self._step = 4             # its period in PIO ticks
        self._next_us = time.ticks_us()   # real time of the next sample
        self._period_us = 2000

    # -- the hook timer the line controller drives ----------------------------------
    def init(self, period=2, callback=None, hard=True):
        self.timer.deinit()
        self._cb = callback
        self._period_us = period * 1000
        self._step = self._period_us // TICK_US
        self._head = self._tail = 0
        self._level = 0
        self._n = 0
        self._sample = START
        self.machine.start()
        self._next_us = time.ticks_us()
        self.timer.init(period=period, callback=self._run, hard=hard)

    def deinit(self):
        self.timer.deinit()

    def level(self):
        """SHK as of the last replayed sample: 1 off-hook."""
        return self._level

    # -- the timer callback ------------------------------------------------------------
    def _run(self, _t):
        self.drain()
        self.replay(time.ticks_us())

    def drain(self):
        m = self.machine
        while m.pending():
            nxt = (self._head + 1) % _EDGES
            if nxt == self._tail:
                self.overruns += 1         # the replay stopped: keep the oldest edges
                return
            self._edges[self._head] = m.get() & MASK
            self._head = nxt

    def replay(self, now_us):
        while time.ticks_diff(now_us, self._next_us) >= LAG_US:
            s = self._sample
            while self._tail != self._head:
                e = self._edges[self._tail]
                if (e - s) & MASK >= (MASK >> 1):     # counts down: an edge after this sample
                    break
                self._tail = (self._tail + 1) % _EDGES
                self._n += 1
                self._level = self._n & 1
            if self._cb is not None:
                self._cb(self)
            self._sample = (s - self._step) & MASK
            self._next_us = time.ticks_add(self._next_us, self._period_us)
