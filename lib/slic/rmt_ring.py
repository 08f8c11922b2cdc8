# Ring signal from the ESP32's RMT peripheral: F/R alternated by hardware from a looped
# two-pulse waveform (one ring period), so neither a late soft timer callback nor a
# garbage collection can stretch a half period. The driver's timer only starts and
# stops the loop at the cadence's edges: a late callback moves a burst edge by a few
# ms, never the ring frequency. A ring source for slic.ag1171 (see TimerRing there).
#
# MicroPython 1.29's esp32.RMT (ESP-IDF 5 driver), as used here:
# - a new channel drives its pin low until its first transmission; from then on the
#   pin rests at idle_level whenever the channel does not transmit, including after
#   active(False) cut a loop short: so idle_level is the line polarity (F/R rest).
# - active(False) stops a loop at once (rmt_disable); write_pulses() on a looping
#   channel would block forever, so every burst starts from a stopped channel.
# - the channel keeps the pin until Pin.init(mode) gives it back to the GPIO (line
#   reversal needs F/R as a plain output), and a deleted channel never takes it
#   again: so the board's factory makes a channel per ring and release() deletes it.
# - the loop is one ring period (<= 100 ms): IDF before 5.5.2 could panic on the
#   ESP32 when a channel was stopped in a sequence longer than ~300 ms.

_PULSE_MAX = 32767       # RMT.PULSE_MAX: longest pulse, in channel ticks


class RmtRing:
    per_tick = False      # the waveform runs by itself between start() and stop()

    def __init__(self, fr, new_rmt, resolution_hz):
        """fr: the F/R Pin; new_rmt(idle_level): an esp32.RMT on that pin resting at
        idle_level (the board makes it: drivers never create hardware objects);
        resolution_hz: the channel's tick rate."""
        self.fr = fr
        self.new_rmt = new_rmt
        self.resolution_hz = resolution_hz
        self._rmt = None
        self._pulses = (1, 1)
        self._first = 0

    def prepare(self, ring_hz, rest):
        half = (self.resolution_hz + ring_hz) // (2 * ring_hz)   # ticks, rounded
        if not 1 <= half <= _PULSE_MAX:
            raise ValueError("ring %r Hz: half period %d ticks out of the RMT's range" % (ring_hz, half))
        self.release(rest)
        self._pulses = (half, half)
        self._first = rest                # half a period at rest first, as TimerRing
        rmt = self.new_rmt(rest)          # the pin is low from here to the first burst
        rmt.loop_count(-1)                # until active(False)
        self._rmt = rmt

    # start/stop run in the timer callback. The tuple and level are ready: nothing is
    # allocated (the channel's symbol buffer was sized by the first burst, in
    # ring_start's task context). A late callback after release() finds no channel.
    def start(self):
        rmt = self._rmt
        if rmt is not None:
            rmt.write_pulses(self._pulses, self._first)

    def stop(self):
        rmt = self._rmt
        if rmt is not None:
            rmt.active(False)             # at once; the pin falls back to idle_level

    def release(self, level):
        rmt = self._rmt
        if rmt is not None:
            self._rmt = None
            rmt.deinit()
            self.fr.init(self.fr.OUT, value=level)   # F/R a plain GPIO output again
