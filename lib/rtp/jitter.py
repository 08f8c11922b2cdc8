# Adaptive jitter buffer for one RTP audio stream: a ring of G.711 samples indexed by
# RTP timestamp, filled by put() and drained one frame per audio tick by pull().
# All timestamp arithmetic uses 16-bit halves so nothing becomes a big int on a
# 32-bit port (ESP32 small ints are 31 bits; RTP timestamps are 32).
# put(), _write(), offset() and _advance() run per packet or frame in the viper
# emitter (see rtp/receiver.py); pull() stays bytecode: it mostly reads attributes.
import micropython
from micropython import const

from rtp import _fast

# bound once: the per-frame code calls them without a lookup in the _fast module
_copy8 = _fast.copy8
_mark_blocks = _fast.mark_blocks
_frame_blocks = _fast.frame_blocks

AUDIO = const(1)  # pull(): a frame of received audio
LOST = const(2)  # pull(): a frame is missing; the caller conceals it
EMPTY = const(0)  # pull(): nothing to play (not started, silence, RFC 4733 event)

# put() results
OK = const(0)
LATE = const(1)  # arrived after its playout time: counted and dropped
RESYNC = const(2)  # accepted after a timestamp jump: the buffer restarted
DROPPED = const(3)  # outside the ring (after a resync it is accepted again)

_BLOCK = const(80)  # samples per ring block (10 ms): granularity of presence flags
_F_NONE = const(0)
_F_AUDIO = const(1)
_F_EVENT = const(2)  # covered by an RFC 4733 event: played as silence, not concealed
_FAR = const(0x3FFFFFFF)  # offset sentinel: timestamp more than ~2 s away
_WINDOW = const(100)  # pulls (2 s) per adaptation window
_INITIAL_MS = const(40)  # playout delay before the jitter is known
_DRY_LOST_MS = const(60)  # after the newest audio has played: LOST this long, then EMPTY
_QUIET_SEG = const(1)  # G.711 segment at or below which a frame is quiet (~-39 dBFS)
_BIG = const(0x3FFFFFFF)
_LATE_RUN = const(10)  # in-order packets in a row later than max depth: a jump back


class JitterBuffer:
    def __init__(self, frame_samples=160, min_ms=20, max_ms=200):
        f = frame_samples
        self.frame = f
        self.min_depth = max(min_ms * 8, f)
        self.max_depth = max(max_ms * 8, self.min_depth)
        nblocks = (self.max_depth + 4 * f + 8000 // 5) // _BLOCK + 1  # + 200 ms headroom
        self.nblocks = nblocks
        self.size = nblocks * _BLOCK
        self.ring = bytearray(self.size)
        self.flags = bytearray(nblocks)
        self.alaw = 0
        self.quiet_check = True
        self.clear_counts()
        self.reset()

    def clear_counts(self):
        """The counts start over (a new call; reset() keeps them: a new stream)."""
        self.late = 0
        self.concealed = 0
        self.resyncs = 0
        self.holds = 0
        self.drops = 0

    def reset(self):
        _fast.fill8(self.flags, 0, _F_NONE, self.nblocks)
        self.state = 0  # 0 idle, 1 pre-roll (EMPTY until the first packet plays), 2 playing
        self.ph = 0  # timestamp of the next frame to play, high and low 16 bits
        self.pl = 0
        self.rp = 0  # ring index of that timestamp
        self.ahead = 0  # end of the newest buffered audio, samples past the play point
        self.dry = 0  # samples played since the newest audio ran out
        self._reset_windows()
        self.drop_pending = 0  # frames to drop to shrink the buffer (quiet ones only)
        self.late_run = 0  # in-order packets in a row too late to ever play

    def _reset_windows(self):
        self.wn = 0  # pulls in the current window
        self.wmin = _BIG  # smallest / largest slack (ts - play point at arrival)
        self.wmax = -_BIG
        self.pmin = _BIG  # the same over the previous two windows
        self.pmax = -_BIG

    # ---- timestamps -------------------------------------------------------------
    @micropython.viper
    def offset(self, buf, i: int) -> int:
        """Signed offset in samples of the timestamp in buf[i:i+4] from the play
        point, or _FAR when it is more than 255*65536 samples away."""
        b = ptr8(buf)
        dl = ((b[i + 2] << 8) | b[i + 3]) - int(self.pl)
        dh = ((b[i] << 8) | b[i + 1]) - int(self.ph)
        if dl < 0:
            dl += 0x10000
            dh -= 1
        dh &= 0xFFFF
        if dh >= 0x8000:
            dh -= 0x10000
        if dh > 255 or dh < -256:
            return _FAR
        return dh * 0x10000 + dl

    def _anchor(self, b, i, slack):
        # Set the play point to (timestamp in b[i:i+4]) - slack.
        lo = ((b[i + 2] << 8) | b[i + 3]) - slack
        hi = (b[i] << 8) | b[i + 1]
        while lo < 0:
            lo += 0x10000
            hi -= 1
        self.ph = hi & 0xFFFF
        self.pl = lo
        self.rp = 0
        self.ahead = 0
        self.dry = 0

    @micropython.viper
    def _advance(self, n: int):
        # Viper: per frame; its arithmetic and the flag loop inline make it cheaper
        # than the bytecode was, attribute reads included (see rtp/receiver.py).
        lo = int(self.pl) + n
        if lo >= 0x10000:
            lo -= 0x10000
            self.ph = (int(self.ph) + 1) & 0xFFFF
        self.pl = lo
        # Clear the flags of the blocks just played: the ring reuses them.
        r = int(self.rp)
        nb = int(self.nblocks)
        fl = ptr8(self.flags)
        b = r // _BLOCK
        k = n // _BLOCK
        while k > 0:
            fl[b] = _F_NONE
            b += 1
            if b == nb:
                b = 0
            k -= 1
        r += n - n % _BLOCK
        size = int(self.size)
        if r >= size:
            r -= size
        self.rp = r
        ahead = int(self.ahead) - n
        if ahead < 0:
            self.dry = int(self.dry) - ahead
            ahead = 0
        self.ahead = ahead

    def _target(self):
        # Desired depth: peak-to-peak slack of the last windows plus one frame.
        lo = min(self.wmin, self.pmin)
        hi = max(self.wmax, self.pmax)
        if lo == _BIG:
            return self.min_depth
        d = hi - lo + self.frame
        if d < self.min_depth:
            d = self.min_depth
        elif d > self.max_depth:
            d = self.max_depth
        return d

    def depth(self):
        """Current playout depth in samples: slack of the earliest packets + a frame."""
        hi = max(self.wmax, self.pmax)
        if hi == -_BIG:
            return self.ahead
        return hi + self.frame

    def _shift_stats(self, n):
        if self.wmin != _BIG:
            self.wmin += n
            self.wmax += n
        if self.pmin != _BIG:
            self.pmin += n
            self.pmax += n

    # ---- input ------------------------------------------------------------------
    @micropython.viper
    def put(self, b, tsi: int, pi: int, n: int, marker: int, in_order: int) -> int:
        """Store n payload bytes b[pi:pi+n] with the timestamp at b[tsi:tsi+4]."""
        res = OK
        if int(self.state) == 0:
            self._start(b, tsi, self.initial_slack())
            res = RESYNC
        off = int(self.offset(b, tsi))
        if marker and int(self.ahead) == 0 and int(self.state) == 2 and off != _FAR:
            # New talkspurt and nothing queued: move the play point freely (silent).
            # The slack statistics move with it.
            self._anchor(b, tsi, int(self._target()) - int(self.frame))
            self.state = 1
            new = int(self.offset(b, tsi))
            self._shift_stats(new - off)
            off = new
        late_run = int(self.late_run)
        if in_order:
            # Late beyond what the buffer may grow to, packet after packet: the peer's
            # timestamps moved back (a stall's burst is over in a few packets).
            if off != _FAR and off < -int(self.max_depth):
                late_run += 1
            else:
                late_run = 0
            self.late_run = late_run
        if off == _FAR or off + n > int(self.size) - int(self.frame) or (in_order and (
                off < -8000 or late_run >= _LATE_RUN)):
            # Timestamp jump (either way) or a stream restart: begin again; the jitter
            # seen so far still holds, re-centred on this packet as the earliest one.
            self._start(b, tsi, int(self._target()) - int(self.frame))
            self.resyncs = int(self.resyncs) + 1
            self.late_run = 0
            off = int(self.offset(b, tsi))
            hi = int(max(self.wmax, self.pmax))
            if hi != -_BIG:
                self._shift_stats(off - hi)
            res = RESYNC
        if off < int(self.wmin):
            self.wmin = off
        if off > int(self.wmax):
            self.wmax = off
        if off < 0:
            # (Partly) after its playout time: counted; what is still ahead is kept.
            self.late = int(self.late) + 1
            if off + n <= 0:
                return LATE
            res = LATE
        self._write(b, pi, off, n)
        return res

    def initial_slack(self):
        d = _INITIAL_MS * 8
        if d < self.min_depth:
            d = self.min_depth
        if d > self.max_depth:
            d = self.max_depth
        return d - self.frame

    def _start(self, b, tsi, slack):
        _fast.fill8(self.flags, 0, _F_NONE, self.nblocks)
        if slack < 0:
            slack = 0
        self._anchor(b, tsi, slack)
        self.state = 1
        self.drop_pending = 0

    @micropython.viper
    def _write(self, b, pi: int, off: int, n: int):
        # Skip the part that is already past the play point.
        if off < 0:
            pi -= off
            n += off
            off = 0
        size = int(self.size)
        pos = int(self.rp) + off
        if pos >= size:
            pos -= size
        first = size - pos
        if first >= n:
            _copy8(self.ring, pos, b, pi, n)
        else:
            _copy8(self.ring, pos, b, pi, first)
            _copy8(self.ring, 0, b, pi + first, n - first)
        _mark_blocks(self.flags, self.nblocks, pos, n, _F_AUDIO, _BLOCK)
        if off + n > int(self.ahead):
            self.ahead = off + n
            self.dry = 0

    def put_event(self, b, tsi, duration):
        """An RFC 4733 packet: the span it covers plays as silence instead of loss."""
        if self.state == 0:
            return
        off = self.offset(b, tsi)
        if off == _FAR or off + duration > self.size - self.frame:
            return
        n = duration
        if off < 0:
            n += off
            off = 0
        if n <= 0:
            return
        pos = self.rp + off
        if pos >= self.size:
            pos -= self.size
        _fast.mark_blocks(self.flags, self.nblocks, pos, n, _F_EVENT, _BLOCK)
        if off + n > self.ahead:
            self.ahead = off + n
            self.dry = 0

    # ---- output -----------------------------------------------------------------
    def _frame_flags(self):
        # 1: all blocks audio, 2: some audio, 3: event/silence, 0: nothing.
        return _fast.frame_blocks(self.flags, self.nblocks, self.rp // _BLOCK,
                                  self.frame // _BLOCK)

    def _copy_out(self, out):
        first = self.size - self.rp
        if first >= self.frame:
            _copy8(out, 0, self.ring, self.rp, self.frame)
        else:
            _copy8(out, 0, self.ring, self.rp, first)
            _copy8(out, first, self.ring, 0, self.frame - first)

    def _window(self):
        # The end of an adaptation window (pull counts its pulls: a call a frame less).
        # Shrink when every packet of the last two windows came a frame or more early:
        # by that many frames, down to the minimum depth.
        lo = min(self.wmin, self.pmin)
        if lo != _BIG and lo >= self.frame:
            k = min(lo, self.depth() - self.min_depth) // self.frame
            if k > 0:
                self.drop_pending = k
        self.pmin = self.wmin
        self.pmax = self.wmax
        self.wmin = _BIG
        self.wmax = -_BIG
        self.wn = 0

    def pull(self, out):
        if self.state == 0:
            return EMPTY
        self.wn += 1
        if self.wn >= _WINDOW:
            self._window()
        f = self.frame
        kind = _frame_blocks(self.flags, self.nblocks, self.rp // _BLOCK, f // _BLOCK)
        if kind == 1 or kind == 2:
            # Shrinking drops a frame: only a quiet one (a dropped speech frame costs
            # more than the extra 20 ms), or in silence below.
            if self.drop_pending and self.ahead >= 2 * f and (
                    not self.quiet_check or self._quiet(self.rp) and self._quiet(
                        self.rp + f if self.rp + f < self.size else 0)):
                self._advance(f)
                self._shift_stats(-f)
                self.drop_pending -= 1
                self.drops += 1
                kind = self._frame_flags()
        if kind == 1 or kind == 2:
            if self.size - self.rp >= f:
                _copy8(out, 0, self.ring, self.rp, f)
            else:
                self._copy_out(out)
            if kind == 2:
                self._fill_missing(out)
            self._advance(f)
            self.state = 2
            return AUDIO
        if kind == 3 or self.state == 1:
            self._advance(f)
            return EMPTY
        # Missing. Wait a frame for it (grow) if packets were late recently.
        if min(self.wmin, self.pmin) < 0 and self.depth() + f <= self.max_depth and (
                self.dry < _DRY_LOST_MS * 8):
            self._shift_stats(f)
            self.holds += 1
            self.concealed += 1
            return LOST
        if self.drop_pending and self.ahead == 0:
            self._advance(f)  # silence: shrinking costs nothing
            self._shift_stats(-f)
            self.drop_pending -= 1
            self.drops += 1
        self._advance(f)
        if self.ahead == 0 and self.dry > _DRY_LOST_MS * 8:
            return EMPTY
        self.concealed += 1
        return LOST

    def _quiet(self, pos):
        # Inside a pause: even a weak consonant, dropped, costs ~0.5 PESQ (measured).
        return _fast.g711_loud(self.ring, pos, self.frame, self.alaw) <= _QUIET_SEG

    def _fill_missing(self, out):
        # A frame only partly received (odd packet sizes): repeat the last sample.
        fl = self.flags
        nb = self.nblocks
        b = self.rp // _BLOCK
        k = 0
        last = 0xFF if not self.alaw else 0xD5
        while k < self.frame // _BLOCK:
            if fl[(b + k) % nb] != _F_AUDIO:
                _fast.fill8(out, k * _BLOCK, last, _BLOCK)
            else:
                last = out[k * _BLOCK + _BLOCK - 1]
            k += 1
