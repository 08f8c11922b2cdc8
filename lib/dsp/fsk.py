# Phase-continuous FSK modulator (Bell 202, V.23) streaming a prepared bit buffer.
#
#   bits, nbits = frame_bits(msg, seizure=300, marks=180)   # allocates, once per message
#   f = FskTx(BELL202, level_dbm0=-13.5)
#   f.start(bits, nbits)
#   f.fill(pcm, n, off=0) -> samples of signal written (less than n once the bits run out)
#
# One phase accumulator runs through every bit; only its step changes between mark and
# space, so the signal never jumps. The bit clock is a fractional counter in samples
# (8000 / 1200 = 6 2/3 samples a bit), so bit edges fall on the exact sample and the
# bit rate is exact over any length. fill() never allocates.
import micropython
from array import array
from micropython import const

from dsp.tone import _SINE, dbm0_to_peak, hz_to_step

# (mark Hz, space Hz, bit/s)
BELL202 = (1200, 2200, 1200)       # Telcordia GR-30
V23 = (1300, 2100, 1200)           # ITU-T V.23 as used by ETSI EN 300 659
DEFAULT_LEVEL_DBM0 = -13.5         # GR-30 sends -13.5 dBm; line gain 0 dB assumed
_RATE = const(8000)                # samples per second

# state array('i') layout
_PH = const(0)      # phase, 24 bits
_CLK = const(1)     # bit clock: += baud per sample, a bit ends when it reaches RATE
_BIT = const(2)     # index of the current bit
_NB = const(3)      # number of bits
_IM = const(4)      # phase step for mark (1)
_IS = const(5)      # phase step for space (0)
_AMP = const(6)     # peak amplitude
_BAUD = const(7)


def frame_bits(msg, seizure=300, marks=180, trailing=10):
    """Pack what goes on the line into (bytearray, nbits), bit i = byte i>>3, bit i&7:
    `seizure` bits 0101..., `marks` mark bits, msg bytes as 8N1 (start 0, data LSB
    first, stop 1), then `trailing` mark bits so receivers see the last stop bit out."""
    nbits = seizure + marks + 10 * len(msg) + trailing
    buf = bytearray((nbits + 7) >> 3)
    i = 0

    def put(bit, i):
        if bit:
            buf[i >> 3] |= 1 << (i & 7)
        return i + 1

    for k in range(seizure):
        i = put(k & 1, i)
    for _ in range(marks):
        i = put(1, i)
    for byte in msg:
        i = put(0, i)
        for k in range(8):
            i = put((byte >> k) & 1, i)
        i = put(1, i)
    for _ in range(trailing):
        i = put(1, i)
    return buf, nbits


@micropython.viper
def _fsk(st, bits, pcm, off: int, n: int) -> int:
    s = ptr32(st)
    b = ptr8(bits)
    tbl = ptr16(_SINE)
    d = ptr16(pcm)
    ph = s[0]
    clk = s[1]
    bit = s[2]
    nb = s[3]
    im = s[4]
    isp = s[5]
    amp = s[6]
    baud = s[7]
    dc = amp << 15                  # the table is offset binary: remove 32768 * amp
    k = off
    end = off + n
    while k < end and bit < nb:
        if (b[bit >> 3] >> (bit & 7)) & 1:
            inc = im
        else:
            inc = isp
        d[k] = (tbl[ph >> 15] * amp - dc) >> 15
        ph = (ph + inc) & 0xFFFFFF
        clk += baud
        if clk >= _RATE:
            clk -= _RATE
            bit += 1
        k += 1
    s[0] = ph
    s[1] = clk
    s[2] = bit
    return k - off


class FskTx:
    """FSK modulator for one line. modem: BELL202 or V23 (mark, space, baud)."""

    def __init__(self, modem=BELL202, level_dbm0=DEFAULT_LEVEL_DBM0):
        self._st = array('i', [0] * 8)
        self._bits = None
        self.configure(modem, level_dbm0)

    def configure(self, modem, level_dbm0=DEFAULT_LEVEL_DBM0):
        mark, space, baud = modem
        st = self._st
        st[_IM] = hz_to_step(mark)
        st[_IS] = hz_to_step(space)
        st[_BAUD] = baud
        st[_AMP] = int(round(dbm0_to_peak(level_dbm0)))

    def start(self, bits, nbits):
        """Send nbits of the packed buffer from frame_bits(); no allocation."""
        st = self._st
        st[_PH] = 0
        st[_CLK] = 0
        st[_BIT] = 0
        st[_NB] = nbits
        self._bits = bits

    @property
    def active(self):
        return self._bits is not None and self._st[_BIT] < self._st[_NB]

    def fill(self, pcm, n, off=0):
        """Write up to n samples at pcm[off:]; returns how many (fewer at the end)."""
        if self._bits is None:
            return 0
        return _fsk(self._st, self._bits, pcm, off, n)
