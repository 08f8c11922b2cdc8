# Caller-ID presentation (CLIP) on an on-hook line, timed around the ringing.
# "after_ring" (Bell 202 in the US, ETSI V.23 during ringing in DE/AU): FSK starts
# AFTER_RING_MS after the first ring ends and is over before the second one.
# "sin227" (UK, BT SIN 227): before the first ring: line reversal, a dual-tone alert,
# FSK, then polarity back and the ringing starts.
# "dtmf" (ETSI EN 300 659-1 DTMF caller ID, NL/SE/DK...): before the first ring: line
# reversal, then A<number>C as DTMF keys (B10C private, B00C unavailable), then
# polarity back and the ringing starts.
import time

from dsp import callerid

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


def message(number, name, private=False):
    """The MDMF message for a caller; date/time only when the clock has been set.
    A withheld caller shows 'P' (private), an unknown one 'O' (unavailable)."""
    when = None if time.localtime()[0] >= 2024 else False
    reason = "P" if private else "O"
    return callerid.mdmf(number=None if private else (number or None),
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

    @property
    def before_ring(self):
        return self.mode in BEFORE_RING

    def start(self, number, name, now, private=False):
        """Begin a presentation for this ringing; returns False when there is none."""
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
            if self.slic.bursts >= 1 and not self.slic.in_burst():
                self.phase, self.t = WAIT_GAP, now
        elif p == WAIT_GAP and since >= AFTER_RING_MS:
            modem = callerid.BELL202 if self.mode == "bell202" else callerid.V23
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
        elif p == PRE_REVERSED and since >= REVERSAL_TO_ALERT_MS:
            self.media.caller_id(lambda tx: tx.send_cas())
            self.phase, self.t = PRE_ALERT, now
        elif p == PRE_ALERT and not self.media.caller_id_active():
            self.phase, self.t = PRE_GAP, now
        elif p == PRE_GAP and since >= ALERT_TO_FSK_MS:
            self.media.caller_id(lambda tx: tx.send_fsk(
                self.msg, callerid.V23, SIN227_SEIZURE_BITS, SIN227_MARK_BITS))
            self.log("line: caller ID sent (sin227)")
            self.phase = PRE_FSK
        elif p == PRE_FSK and not self.media.caller_id_active():
            self.phase, self.t = PRE_DONE, now
        elif p == PRE_DONE and since >= FSK_TO_RING_MS:
            self.slic.forward(True)
            self.phase = IDLE
            return True
        return False
