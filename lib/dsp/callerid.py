# Caller ID: SDMF/MDMF messages, FSK sending (Bell 202, V.23), call-waiting (CAS + FSK)
# and ETSI DTMF caller ID, as one sample source for the line's audio.
#
#   msg = mdmf(number='5551234', name='Zoë Ångström', when=(12, 24, 9, 30))
#   tx = CallerIdTx()
#   tx.send_fsk(msg, BELL202)          # on-hook: seizure 300 bits + 180 marks + msg
#   tx.send_call_waiting(msg)          # off-hook: CAS alert, gap, 80 marks + msg
#   tx.send_dtmf('A5551234C')          # ETSI DTMF caller ID, 50 ms on / 50 ms off
#   while tx.active: tx.fill(pcm, 160) # the frames; silence once done
#
# send_*() prepare everything (they allocate); fill() never does. Message bytes follow
# Telcordia GR-30 / ETSI EN 300 659-3: type, length, parameters, checksum (two's
# complement of the byte sum, so all bytes including it sum to 0 mod 256).
from array import array

from dsp import tone
from dsp.tone import dtmf_freqs  # noqa: F401  (part of this module's API too)
from dsp.fsk import BELL202, V23, DEFAULT_LEVEL_DBM0, FskTx, frame_bits  # noqa: F401

SDMF = 0x04
MDMF = 0x80
P_DATETIME = 0x01           # 'MMDDHHMM'
P_NUMBER = 0x02
P_NUMBER_ABSENT = 0x04      # 'O' unavailable, 'P' private
P_NAME = 0x07
P_NAME_ABSENT = 0x08        # 'O' unavailable, 'P' private
MAX_NAME = 15               # characters, GR-30
MAX_NUMBER = 15             # characters (SDMF practice is 10 digits)

SEIZURE_BITS = 300          # on-hook only
MARK_BITS = 180             # on-hook
MARK_BITS_CW = 80           # call waiting (off-hook)
CAS_HZ = (2130, 2750)       # call-waiting alert (CPE alerting signal)
CAS_MS = 80
CAS_LEVEL_DBM0 = -15.0      # per component
CW_GAP_MS = 160             # CAS end to FSK start when nobody waits for the CPE's ACK
DTMF_ON_MS = 50
DTMF_OFF_MS = 50
DTMF_LEVEL_DBM0 = -8.0      # low group; the high group is sent 2 dB louder
DTMF_TWIST_DB = 2.0


# Latin letters U+00C0..U+017F without their accents, one character each; '?' = see
# _SPECIAL (ligatures, letters with no plain base) — anything else non-ASCII is dropped.
_FOLD = ('AAAAAA?CEEEEIIII?NOOOOO??UUUUY??aaaaaa?ceeeeiiii?nooooo??uuuuy?y'
         'AaAaAaCcCcCcCcDd??EeEeEeEeEeGgGgGgGgHh??IiIiIiIiI???JjKk?LlLlLlLl'
         '??NnNnNnn??OoOoOo??RrRrRrSsSsSsSsTtTt??UuUuUuUuUuUuWwYyYZzZzZzs')
_SPECIAL = {0xC6: 'AE', 0xD0: 'D', 0xD8: 'O', 0xDE: 'TH', 0xDF: 'ss', 0xE6: 'ae',
            0xF0: 'd', 0xF8: 'o', 0xFE: 'th', 0x110: 'D', 0x111: 'd', 0x126: 'H',
            0x127: 'h', 0x131: 'i', 0x132: 'IJ', 0x133: 'ij', 0x138: 'k', 0x141: 'L',
            0x142: 'l', 0x14A: 'N', 0x14B: 'n', 0x152: 'OE', 0x153: 'oe', 0x166: 'T',
            0x167: 't'}


def to_ascii(text, limit):
    """Printable ASCII for a display: accented Latin letters lose their accents (Å -> A,
    ß -> ss), everything else outside 0x20..0x7E is dropped; at most `limit` chars."""
    out = []
    for ch in text:
        c = ord(ch)
        if 0x20 <= c <= 0x7E:
            out.append(ch)
        elif 0xC0 <= c <= 0x17F:
            f = _FOLD[c - 0xC0]
            out.append(_SPECIAL.get(c, '') if f == '?' else f)
    return ''.join(out)[:limit]


def checksum(data):
    """Two's complement of the byte sum."""
    return (-sum(data)) & 0xFF


def _message(mtype, body):
    if len(body) > 255:
        raise ValueError("message too long")
    m = bytearray([mtype, len(body)]) + body
    m.append(checksum(m))
    return bytes(m)


def _datetime(when):
    if when is None:
        import time
        t = time.localtime()
        when = (t[1], t[2], t[3], t[4])
    month, day, hour, minute = when
    return ('%02d%02d%02d%02d' % (month, day, hour, minute)).encode()


def sdmf(number=None, when=None, private=False):
    """Single Data Message Format: date/time (now when None) then the number, or 'P'
    (private) / 'O' (unavailable) when number is None."""
    if number is None:
        num = b'P' if private else b'O'
    else:
        num = to_ascii(number, MAX_NUMBER).encode()
    return _message(SDMF, _datetime(when) + num)


def _param(ptype, value):
    return bytes([ptype, len(value)]) + value


def mdmf(number=None, name=None, when=None, number_reason='O', name_reason='O',
         with_name=True):
    """Multiple Data Message Format, parameters in GR-30 order: date/time (`when` =
    (month, day, hour, minute); None = now; False = leave it out), then the number or
    'number absent' with number_reason ('O' unavailable, 'P' private), then the name or
    'name absent' with name_reason (with_name=False leaves both out)."""
    body = b''
    if when is not False:
        body += _param(P_DATETIME, _datetime(when))
    if number is None:
        body += _param(P_NUMBER_ABSENT, number_reason.encode())
    else:
        body += _param(P_NUMBER, to_ascii(number, MAX_NUMBER).encode())
    if with_name:
        if name is None:
            body += _param(P_NAME_ABSENT, name_reason.encode())
        else:
            body += _param(P_NAME, to_ascii(name, MAX_NAME).encode())
    return _message(MDMF, body)


def parse(msg):
    """(type, [(param, bytes)...]) of a message, checksum verified (ValueError if not);
    SDMF gives [(P_DATETIME, ..), (P_NUMBER or P_NUMBER_ABSENT, ..)]."""
    if len(msg) < 3 or len(msg) != msg[1] + 3 or sum(msg) & 0xFF:
        raise ValueError("bad length or checksum")
    body = msg[2:-1]
    if msg[0] == SDMF:
        num = body[8:]
        return SDMF, [(P_DATETIME, body[:8]),
                      (P_NUMBER_ABSENT if num in (b'O', b'P') else P_NUMBER, num)]
    params = []
    i = 0
    while i < len(body):
        if i + 2 > len(body) or i + 2 + body[i + 1] > len(body):
            raise ValueError("bad parameter length")
        params.append((body[i], body[i + 2:i + 2 + body[i + 1]]))
        i += 2 + body[i + 1]
    return msg[0], params


# sequencer step kinds
_GAP = 0
_TONE = 1
_FSK = 2


class CallerIdTx:
    """Caller-ID sound source for one line: send_*() then fill() frames until done."""

    def __init__(self, level_dbm0=DEFAULT_LEVEL_DBM0):
        self.level_dbm0 = level_dbm0
        self._tone = tone.ToneGen()
        self._fsk = FskTx(BELL202, level_dbm0)
        self._steps = ()
        self._i = 0
        self._left = 0
        # something left to send (an attribute kept by _run/fill/stop, not a property:
        # see tone.ToneGen)
        self.active = False

    def stop(self):
        self._steps = ()
        self._i = 0
        self.active = False
        self._tone.stop()

    def send_fsk(self, msg, modem=BELL202, seizure=SEIZURE_BITS, marks=MARK_BITS,
                 lead_ms=0):
        """On-hook caller ID: `lead_ms` of silence, channel seizure, marks, message."""
        self._fsk.configure(modem, self.level_dbm0)
        bits, nbits = frame_bits(msg, seizure, marks)
        self._run([(_GAP, lead_ms * 8), (_FSK, bits, nbits)])

    def send_call_waiting(self, msg, modem=BELL202, gap_ms=CW_GAP_MS):
        """Off-hook (call-waiting) caller ID: CAS 2130+2750 Hz for CAS_MS, `gap_ms` of
        silence (where the phone acknowledges with a DTMF A or D), then 80 marks and the
        message, no channel seizure. Use send_cas() and send_fsk(..., seizure=0,
        marks=MARK_BITS_CW) separately to wait for the acknowledgement."""
        self._fsk.configure(modem, self.level_dbm0)
        bits, nbits = frame_bits(msg, 0, MARK_BITS_CW)
        self._run([self._cas_step(), (_GAP, gap_ms * 8), (_FSK, bits, nbits)])

    def send_cas(self):
        """The call-waiting alert alone."""
        self._run([self._cas_step()])

    def _cas_step(self):
        return (_TONE, tone.preset(CAS_HZ[0], CAS_HZ[1], CAS_LEVEL_DBM0, (CAS_MS, 0),
                                   repeat=False))

    def send_dtmf(self, digits, on_ms=DTMF_ON_MS, off_ms=DTMF_OFF_MS,
                  level_dbm0=DTMF_LEVEL_DBM0, twist_db=DTMF_TWIST_DB):
        """ETSI DTMF caller ID: send the string as given, e.g. 'A' + number + 'C'
        (or the 'D...C' forms), each key on_ms of tone then off_ms of silence."""
        presets = {}
        steps = []
        for key in digits:
            if key not in presets:
                lo, hi = dtmf_freqs(key)
                presets[key] = tone.preset(lo, hi, level_dbm0, (on_ms, off_ms),
                                           level_dbm0 + twist_db, repeat=False)
            steps.append((_TONE, presets[key]))
        self._run(steps)

    def _run(self, steps):
        self._steps = steps
        self._i = 0
        self.active = len(steps) > 0
        self._enter()

    def _enter(self):
        # start the current step; no allocation
        if self._i >= len(self._steps):
            return
        step = self._steps[self._i]
        kind = step[0]
        if kind == _GAP:
            self._left = step[1]
        elif kind == _TONE:
            self._tone.start(step[1])
        else:
            self._fsk.start(step[1], step[2])

    def fill(self, pcm, n):
        """Write the next n samples into pcm (array('h')); silence when nothing is left."""
        pos = 0
        steps = self._steps
        while pos < n and self._i < len(steps):
            kind = steps[self._i][0]
            want = n - pos
            if kind == _GAP:
                got = self._left if self._left < want else want
                tone._zero(pcm, pos, got)
                self._left -= got
                done = self._left == 0
            elif kind == _TONE:
                got = self._tone.fill(pcm, want, pos)
                done = not self._tone.active
            else:
                got = self._fsk.fill(pcm, want, pos)
                done = not self._fsk.active
            pos += got
            if done:
                self._i += 1
                self.active = self._i < len(steps)
                self._enter()
        if pos < n:
            tone._zero(pcm, pos, n - pos)


def samples(tx, chunk=160):
    """All samples tx has still to send, as one array('h') (tests and tools; allocates)."""
    out = array('h')
    buf = array('h', bytes(2 * chunk))
    while tx.active:
        tx.fill(buf, chunk)
        out.extend(buf)
    return out
