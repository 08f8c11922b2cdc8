# Packet-loss concealment after ITU-T G.711 Appendix I, on linear PCM (array('h')).
# Lost frames are rebuilt by repeating the last pitch period(s) of the history; the
# output of good frames is delayed by 3.75 ms so the start of a loss can be cross-faded.
from array import array

from rtp import _fast

_BLOCK = 80  # samples per 10 ms: the unit of the attenuation schedule
_PITCH_MIN = 40  # samples: 200 Hz
_PITCH_MAX = 120  # samples: 66.7 Hz
_HISTORY = 390  # samples: 3.25 pitch periods of the lowest pitch
_RING = 480  # samples held for the history: a whole number of 20 ms frames (and so of
#              blocks): a frame or a block is written without a wrap; the history is
#              its last _HISTORY samples
_FRAME = 160  # frame size of the memmove path in good() (a 20 ms frame)
_DELAY = 30  # samples (3.75 ms): output delay = longest 1/4-period overlap
_CORRLEN = 160  # samples correlated in the pitch search
_NDEC = 2  # decimation of the coarse pitch search
_OLA_INCR = 32  # samples (4 ms): longer cross-fade back into speech per erased block
_MAX_BLOCKS = 6  # erased 10 ms blocks after which the output is silence (60 ms)


class Concealer:
    """good(pcm) for every received frame, conceal(pcm) for every lost one; both
    work in place on frame_samples of int16 and never allocate."""

    def __init__(self, frame_samples=160):
        if frame_samples % _BLOCK:
            raise ValueError("frame_samples must be a multiple of 80")
        self.frame_samples = frame_samples
        self.delay = _DELAY
        # A ring: each block is written once where the oldest one was, instead of
        # shifting the whole history down by a block (2 x 310 sample moves a frame).
        self._hist = array("h", bytes(2 * _RING))
        self._pb = array("h", bytes(2 * _HISTORY))  # history snapshot at loss start
        self._lastq = array("h", bytes(2 * _DELAY))
        self._tmp = array("h", bytes(2 * _BLOCK))
        self._views(frame_samples)
        self.reset()

    def _views(self, n):
        # good() of a 20 ms frame given as a memoryview moves its samples with slice
        # assignments between memoryviews (a memmove; viper copies cost ~40 x86
        # instructions a sample). A slice on the right would allocate a view per
        # frame, so every view the frame needs is made here: where the frame is
        # written (the ring holds 3 frames), and the delayed output's one or two
        # pieces for each of those positions.
        self._wv = None
        if n != _FRAME:
            return
        h = memoryview(self._hist)
        self._wv = tuple(h[k * n:(k + 1) * n] for k in range(_RING // n))
        rv = []
        for k in range(_RING // n):
            w = (k + 1) * n % _RING             # the ring index after the write
            start = (w - _HISTORY + (_HISTORY - n - _DELAY)) % _RING
            if start + n <= _RING:
                rv.append((h[start:start + n], None, 0))
            else:
                first = _RING - start
                rv.append((h[start:], h[:n - first], first))
        self._rv = tuple(rv)

    def reset(self):
        _fast.zero16(self._hist, 0, _RING)
        self._w = 0  # ring index of the next block (just after the newest sample)
        self._erased = 0  # erased 10 ms blocks in the current loss
        self._pitch = _PITCH_MAX
        self._poverlap = _PITCH_MAX >> 2
        self._blen = 0
        self._poff = 0
        self.concealed_ms = 0

    def good(self, pcm):
        """A received frame: cross-fade from the concealment if one is running, store
        it in the history, and replace it (in place) by the delayed output. A
        memoryview of a 20 ms frame takes the memmove path (same result).
        (Five locals: a function whose locals and stack take over 11 words gets its
        frame from the heap at every call.)"""
        if self._wv is not None and not self._erased and type(pcm) is memoryview and (
                len(pcm) == _FRAME):
            k = self._w // _FRAME
            self._wv[k][:] = pcm
            self._w = 0 if self._w + _FRAME == _RING else self._w + _FRAME
            r = self._rv[k]
            if r[1] is None:
                pcm[:] = r[0]
            else:
                pcm[:r[2]] = r[0]
                pcm[r[2]:] = r[1]
            return
        off = 0
        while off < self.frame_samples:
            if self._erased:
                self._end_loss(pcm, off)
            self._save(pcm, off)
            off += _BLOCK

    def conceal(self, pcm):
        """A lost frame: fill pcm with the concealment (delayed like good())."""
        off = 0
        n = self.frame_samples
        while off < n:
            self._erase_block(pcm, off)
            self._save(pcm, off)
            off += _BLOCK
        self.concealed_ms += n >> 3

    def _save(self, pcm, off):
        # The block goes into the history, and pcm gets the block _DELAY samples
        # older (it overlaps the new block: write first, then read).
        w = self._w
        _fast.copy16(self._hist, w, pcm, off, _BLOCK)
        w += _BLOCK
        if w == _RING:
            w = 0
        self._w = w
        self._ring_read(pcm, off, _HISTORY - _BLOCK - _DELAY, _BLOCK)

    def _ring_at(self, i):
        # Ring index of history sample i (0 the oldest, _HISTORY - 1 the newest).
        p = self._w - _HISTORY + i
        return p + _RING if p < 0 else p

    def _ring_read(self, dst, doff, i, n):
        """dst[doff:doff+n] = history[i:i+n]."""
        p = self._ring_at(i)
        first = _RING - p
        if first >= n:
            _fast.copy16(dst, doff, self._hist, p, n)
        else:
            _fast.copy16(dst, doff, self._hist, p, first)
            _fast.copy16(dst, doff + first, self._hist, 0, n - first)

    def _ring_write(self, i, src, soff, n):
        """history[i:i+n] = src[soff:soff+n]."""
        p = self._ring_at(i)
        first = _RING - p
        if first >= n:
            _fast.copy16(self._hist, p, src, soff, n)
        else:
            _fast.copy16(self._hist, p, src, soff, first)
            _fast.copy16(self._hist, 0, src, soff + first, n - first)

    def _start(self):
        return _HISTORY - self._blen

    def _erase_block(self, out, off):
        k = self._erased
        pb = self._pb
        if k == 0:
            self._ring_read(pb, 0, 0, _HISTORY)
            m = _fast.max_abs16(pb, _HISTORY)
            sh = 0
            while (m >> sh) > 2047:  # keep samples within 12 bits: products fit 32 bits
                sh += 1
            p = _fast.find_pitch(pb, _HISTORY, sh, _PITCH_MIN, _PITCH_MAX, _CORRLEN, _NDEC)
            self._pitch = p
            q = p >> 2
            self._poverlap = q
            _fast.copy16(self._lastq, 0, pb, _HISTORY - q, q)
            self._poff = 0
            self._blen = p
            st = _HISTORY - p
            # Blend the last quarter period into the one before the repeated period so
            # the repetition joins the real signal without a step.
            _fast.ola(pb, _HISTORY - q, self._lastq, 0, pb, st - q, q)
            self._ring_write(_HISTORY - q, pb, _HISTORY - q, q)
            self._poff = _fast.periodic(out, off, pb, st, p, 0, _BLOCK)
        elif k <= 2:
            # Use one more pitch period for each of the 2nd and 3rd blocks: repeating a
            # single period for long sounds buzzy.
            q = self._poverlap
            p = self._pitch
            save = self._poff
            tmp = self._tmp
            self._poff = _fast.periodic(tmp, 0, pb, self._start(), self._blen, save, q)
            poff = save
            while poff > p:
                poff -= p
            self._blen += p
            st = self._start()
            _fast.ola(pb, _HISTORY - q, self._lastq, 0, pb, st - q, q)
            self._poff = _fast.periodic(out, off, pb, st, self._blen, poff, _BLOCK)
            _fast.ola(out, off, tmp, 0, out, off, q)
            _fast.fade(out, off, k, _BLOCK)
        elif k < _MAX_BLOCKS:
            self._poff = _fast.periodic(out, off, pb, self._start(), self._blen, self._poff,
                                        _BLOCK)
            _fast.fade(out, off, k, _BLOCK)
        else:
            _fast.zero16(out, off, _BLOCK)
        self._erased = k + 1

    def _end_loss(self, pcm, off):
        # Cross-fade from the (attenuated) continuation into the real signal; longer
        # losses get longer fades.
        k = self._erased
        n = self._poverlap + (k - 1) * _OLA_INCR
        if n > _BLOCK:
            n = _BLOCK
        tmp = self._tmp
        self._poff = _fast.periodic(tmp, 0, self._pb, self._start(), self._blen, self._poff, n)
        g = 5 - (k - 1)
        if g < 0:
            g = 0
        _fast.ola_end(pcm, off, tmp, n, g)
        self._erased = 0
