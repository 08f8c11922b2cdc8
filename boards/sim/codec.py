# The sim board's audio codec: one 20 ms frame clock for both I2S directions,
# connected to the virtual phone's microphone and earpiece through the phone link.
from vmachine import Timer, clock

FRAME_MS = 20
FRAME_BYTES = 320
_SILENCE = bytes(FRAME_BYTES)


class SimCodec:
    def __init__(self, link):
        self.link = link
        self.rx = None
        self.tx = None
        self._out = bytearray(FRAME_BYTES)
        self._timer = None
        self.underruns = 0

    def attach(self, i2s):
        if i2s.mode == 0:
            self.rx = i2s
        else:
            self.tx = i2s
        if self._timer is None:
            self._timer = Timer(-1, period=FRAME_MS, callback=self._tick)
            self._timer.soft = False   # the frame clock is I2S DMA: hardware-timed

    def detach(self, i2s):
        if self.rx is i2s:
            self.rx = None
        if self.tx is i2s:
            self.tx = None

    def _tick(self, _t):
        t_us = clock.now_us()
        if self.tx is not None:
            out = self._out
            if not self.tx._move(out):
                out[:] = _SILENCE   # nothing queued: the line is silent (a copy, no new object)
                self.underruns += 1
            self.link.send_audio(t_us, out)
        if self.rx is not None:
            self.link.pump()      # the phone's reply to the last frame is in by now
            self.rx._move(self.link.take_mic_frame())
