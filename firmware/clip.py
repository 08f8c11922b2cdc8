# Caller-ID presentation (CLIP) on an on-hook line, timed around the ringing.
# "after_ring" (Bell 202 in the US, ETSI V.23 during ringing in DE/AU): FSK starts
# AFTER_RING_MS after the first ring ends and is over before the second one.
# "sin227" (UK, BT SIN 227): before the first ring: line reversal, a dual-tone alert,
# FSK, then polarity back and the ringing starts.
# "dtmf" (ETSI EN 300 659-1 DTMF caller ID, NL/SE/DK...): before the first ring: line
# reversal, then A<number>C as DTMF keys (B10C private, B00C unavailable), then
# polarity back and the ringing starts.
#
# Visual message waiting (VMWI) to the on-hook phone, with no ringing: line reversal,
# then (ETSI modes, EN 300 659-1 data not associated with ringing) the dual-tone alert,
# then the FSK (channel seizure and marks) with an MDMF message of type 0x82 whose
# Visual Indicator parameter 0x0B is 0xFF (on) or 0x00 (off), then polarity back. Bell
# 202 (GR-30 on-hook data without ringing) has no alert: the reversal, the seizure
# and the marks wake the phone's receiver. DTMF caller ID lines have no VMWI message.
import time

AFTER_RING_MS = 500         # GR-30: data starts >= 500 ms after the first ring ends
REVERSAL_TO_ALERT_MS = 150  # SIN 227: alert >= 100 ms after the line reversal
ALERT_TO_FSK_MS = 60        # SIN 227: FSK 45-500 ms after the alert ends
FSK_TO_RING_MS = 250        # SIN 227 / EN 300 659: first ring >= 200 ms after the data
SIN227_SEIZURE_BITS = 96    # SIN 227 channel seizure: 96-315 bits
SIN227_MARK_BITS = 55       # SIN 227 marks before the message
REVERSAL_TO_DTMF_MS = 250   # EN 300 659-1: DTMF data >= 200 ms after the line reversal
DTMF_KEY_MS = 70            # each key 70 ms on, 70 ms off (Telia; ETSI: >= 50 ms)

IDLE, WAIT_RING_END, WAIT_GAP, SENDING = 0, 1, 2, 3
PRE_REVERSED, PRE_ALERT, PRE_GAP, PRE_FSK, PRE_DONE = 4, 5, 6, 7, 8
MODES = ("bell202", "v23", "sin227", "dtmf")
BEFORE_RING = ("sin227", "dtmf")


def dtmf_message(number, private=False):
    """The DTMF caller-ID string: A<digits>C, or B10C (withheld) / B00C (unavailable:
    no digits to show). The absence codes are those spandsp's adsi.h documents for
    the A...C variant (BE, DK, FI, NL, SE ...)."""
    digits = "".join(c for c in (number or "") if "0" <= c <= "9")
    if private:
        return "B10C"
    return "A%sC" % digits if digits else "B00C"


def _cid():
    """dsp.callerid (with dsp.fsk ~5 KB of heap on x64), imported when a message is
    first made or sent: an idle line and an outgoing call do without it."""
    from dsp import callerid
    return callerid


MWI = 0x82                  # EN 300 659-3 / GR-30 message type: message waiting
P_VISUAL = 0x0B             # Visual Indicator: 0xFF on, 0x00 off


def vmwi_message(on):
    """The MDMF message-waiting message carrying only the visual indicator."""
    m = bytearray((MWI, 3, P_VISUAL, 1, 0xFF if on else 0x00))
    m.append(_cid().checksum(m))
    return bytes(m)


def message(number, name, private=False):
    """The MDMF message for a caller; date/time only when the clock has been set.
    A withheld caller shows 'P' (private), an unknown one 'O' (unavailable)."""
    when = None if time.localtime()[0] >= 2024 else False
    reason = "P" if private else "O"
    return _cid().mdmf(number=None if private else (number or None),
                       name=None if private else (name or None), when=when,
                       number_reason=reason, name_reason=reason)


class Clip:
    def __init__(self, slic, media, mode, log=print):
        self.slic = slic
        self.media = media
        self.mode = mode
        self.log = log
        self.phase = IDLE
        self.msg = None
        self.t = 0
        self.first_bursts = 1    # ring bursts of the first cycle: data after the last
        self.vmwi = False        # this presentation is a message-waiting one (no ring)

    @property
    def before_ring(self):
        return self.mode in BEFORE_RING

    @property
    def busy(self):
        return self.phase != IDLE

    def start(self, number, name, now, private=False, first_bursts=1):
        """Begin a presentation for this ringing; returns False when there is none.
        first_bursts: the bursts of the cadence's first cycle (a distinctive ring has
        2 or 3): FSK after the ringing goes waits for the silence after the last."""
        self.vmwi = False
        self.first_bursts = first_bursts
        if not self.mode:
            self.phase = IDLE
            return False
        if self.mode == "dtmf":
            self.msg = dtmf_message(number, private)
        else:
            self.msg = message(number, name, private)
        self.t = now
        if self.before_ring:
            self.slic.forward(False)            # line reversal announces the data
            self.phase = PRE_REVERSED
        else:
            self.phase = WAIT_RING_END
        return True

    def start_vmwi(self, on, now):
        """Send the visual message-waiting indicator (on or off) to the on-hook phone;
        False when the line's caller-ID mode has no such message (off, DTMF)."""
        if self.mode not in ("bell202", "v23", "sin227"):
            return False
        self.vmwi = True
        self.msg = vmwi_message(on)
        self.t = now
        self.slic.forward(False)
        self.phase = PRE_REVERSED
        self.log("line: message waiting indicator %s" % ("on" if on else "off"))
        return True

    def stop(self):
        """Answered or cancelled: no more data, polarity back to forward."""
        if self.phase != IDLE:
            self.media.caller_id_stop()
            self.slic.forward(True)
            self.phase = IDLE

    def poll(self, now):
        """Advance; returns True once when a pre-ring presentation is done (ring now)."""
        p = self.phase
        since = time.ticks_diff(now, self.t)
        if p == WAIT_RING_END:
            if self.slic.bursts >= self.first_bursts and not self.slic.in_burst():
                self.phase, self.t = WAIT_GAP, now
        elif p == WAIT_GAP and since >= AFTER_RING_MS:
            modem = _cid().BELL202 if self.mode == "bell202" else _cid().V23
            self.media.caller_id(lambda tx: tx.send_fsk(self.msg, modem))
            self.log("line: caller ID sent (%s)" % self.mode)
            self.phase = SENDING
        elif p == SENDING and not self.media.caller_id_active():
            self.phase = IDLE
        elif p == PRE_REVERSED and self.mode == "dtmf":
            if since >= REVERSAL_TO_DTMF_MS:
                self.media.caller_id(lambda tx: tx.send_dtmf(self.msg, DTMF_KEY_MS,
                                                             DTMF_KEY_MS))
                self.log("line: caller ID sent (dtmf)")
                self.phase = PRE_FSK          # the data is going: then as after FSK
        elif p == PRE_REVERSED and self.vmwi and self.mode == "bell202":
            if since >= REVERSAL_TO_ALERT_MS:     # GR-30: no alert tone, FSK at once
                self.media.caller_id(lambda tx: tx.send_fsk(self.msg, _cid().BELL202))
                self.phase = PRE_FSK
        elif p == PRE_REVERSED and since >= REVERSAL_TO_ALERT_MS:
            self.media.caller_id(lambda tx: tx.send_cas())
            self.phase, self.t = PRE_ALERT, now
        elif p == PRE_ALERT and not self.media.caller_id_active():
            self.phase, self.t = PRE_GAP, now
        elif p == PRE_GAP and since >= ALERT_TO_FSK_MS:
            self.media.caller_id(lambda tx: tx.send_fsk(
                self.msg, _cid().V23, SIN227_SEIZURE_BITS, SIN227_MARK_BITS))
            if not self.vmwi:
                self.log("line: caller ID sent (sin227)")
            self.phase = PRE_FSK
        elif p == PRE_FSK and not self.media.caller_id_active():
            self.phase, self.t = PRE_DONE, now
        elif p == PRE_DONE and since >= FSK_TO_RING_MS:
            self.slic.forward(True)
            self.phase = IDLE
            return True           # ring now (caller ID) / indicator sent (VMWI)
        return False
