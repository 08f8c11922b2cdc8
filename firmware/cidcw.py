# Call-waiting alert to an off-hook phone: the country's call-waiting tone over the
# call, then off-hook caller ID (CIDCW: Telcordia GR-30 "Type II", ETSI EN 300 659-2):
#   1. the first cycle of the plan's "waiting" tone bursts (US 440 Hz 300 ms, [E180] /
#      GR-506), the far end's audio replaced by the tone while it sounds;
#   2. the CPE Alerting Signal (CAS, 2130 + 2750 Hz, 80 ms; dsp.callerid.send_cas),
#      the far end muted from here to the end of the data;
#   3. up to ACK_WAIT_MS for the phone's acknowledgement, a DTMF key: GR-30 names
#      'D' (ADSI phones) and 'A' (non-ADSI); both are taken whatever the plan, so a
#      phone of either kind works on any line;
#   4. after an ACK only: ACK_TO_FSK_MS, then the FSK MDMF message (80 marks, no
#      channel seizure) in the plan's modem (Bell 202, else V.23). No ACK: no data
#      (a phone without CIDCW would otherwise hear the modem);
#   5. the waiting tone goes on with the plan's cadence until stop().
# Made only when a second call arrives (imported on demand): no heap at idle.
import time

from dsp import callerid
from dsp.tone import preset

SAS_TO_CAS_MS = 20      # GR-30: the CAS follows the call-waiting tone (here at once)
ACK_WAIT_MS = 160       # GR-30 / EN 300 659-2: the phone answers the CAS within this
# ... as heard at the phone. Here the CAS's end is when its last frame is made, up to
# 4 frames before the codec plays it (media._TX_RING), the ACK's start reaches us a
# frame later, and the DTMF detector reports a key 40 ms into it: the window we
# listen for is that much longer
PIPELINE_MS = 100 + 40
ACK_LISTEN_MS = ACK_WAIT_MS + PIPELINE_MS
ACK_TO_FSK_MS = 100     # GR-30: data 50-500 ms after the ACK ends (ACK 55-65 ms long;
                        # our detector reports its start)
ACK_KEYS = "AD"

TONE, GAP, CAS, ACK_WAIT, ACK_GAP, FSK, CADENCE, DONE = range(8)


class WaitAlert:
    def __init__(self, media, spec, mode, msg, log=print):
        """spec: the plan's (f1, f2, level, cadence) waiting tone; mode: the line's
        caller-ID mode (bell202, v23, sin227; anything else: tone only); msg: the MDMF
        bytes to send after an ACK (None: tone only)."""
        self.media = media
        self.log = log
        f1, f2, level, cadence = spec
        self.on = preset(f1, f2, level)              # steady: the bursts are timed here
        self.mute = preset(0, 0, -99.0)              # silence that hides the far end
        self.cadence = cadence or (300, 9700)
        self.period = sum(self.cadence)
        self.modem = callerid.BELL202 if mode == "bell202" else callerid.V23
        self.msg = msg if mode in ("bell202", "v23", "sin227") else None
        self.phase = DONE
        self.t = 0               # start of the current phase / cadence segment
        self.t0 = 0              # start of the alert
        self.seg = 0             # cadence segment (even: tone on)
        self.acked = False

    @property
    def active(self):
        return self.phase != DONE

    def start(self, now):
        self.t0 = self.t = now
        self.seg = 0
        self.acked = False
        self.phase = TONE
        self.media.tone.start(self.on)

    def stop(self):
        if self.phase != DONE:
            self.phase = DONE
            self.media.caller_id_stop()
            self.media.tone.stop()

    def ack(self, key, now):
        """A DTMF key from the phone: True when it is the CAS acknowledgement (then it
        is not the far end's business)."""
        if self.phase == ACK_WAIT and key in ACK_KEYS:
            self.acked = True
            self.phase, self.t = ACK_GAP, now
            self.log("call: CAS acknowledged (%s)" % key)
            return True
        # the same key's end, or an ACK just too late: not for the far end either
        return key in ACK_KEYS and (self.phase in (ACK_GAP, FSK) or (
            self.phase == CADENCE and time.ticks_diff(now, self.t) < PIPELINE_MS))

    def poll(self, now):
        """Advance; returns False once the alert has stopped."""
        p = self.phase
        media = self.media
        since = time.ticks_diff(now, self.t)
        cad = self.cadence
        if p == TONE:
            # the first cycle's bursts, up to the long silence at its end
            if since >= cad[self.seg]:
                self.seg += 1
                self.t = time.ticks_add(self.t, cad[self.seg - 1])
                if self.seg >= len(cad) - 1:
                    if self.msg is None:
                        media.tone.stop()
                        self.phase = CADENCE
                    else:
                        media.tone.start(self.mute)
                        self.phase = GAP
                elif self.seg % 2:
                    media.tone.stop()
                else:
                    media.tone.start(self.on)
        elif p == GAP and since >= SAS_TO_CAS_MS:
            media.caller_id(_send_cas)
            self.phase, self.t = CAS, now
        elif p == CAS and not media.caller_id_active():
            self.phase, self.t = ACK_WAIT, now
        elif p == ACK_WAIT and since >= ACK_LISTEN_MS:
            self.log("call: no CAS acknowledgement: no caller ID")
            media.tone.stop()
            self.phase, self.t = CADENCE, now
        elif p == ACK_GAP and since >= ACK_TO_FSK_MS:
            msg, modem = self.msg, self.modem
            media.caller_id(lambda tx: tx.send_fsk(msg, modem, 0, callerid.MARK_BITS_CW))
            self.log("call: waiting caller ID sent")
            self.phase = FSK
        elif p == FSK and not media.caller_id_active():
            media.tone.stop()
            self.phase, self.t = CADENCE, now
        elif p == CADENCE:
            # the next cycles: burst k of cycle n starts at t0 + n * period + offset
            since = time.ticks_diff(now, self.t0)
            pos = since % self.period
            acc = 0
            seg = 0
            while seg < len(cad) and pos >= acc + cad[seg]:
                acc += cad[seg]
                seg += 1
            on = since >= self.period and seg % 2 == 0
            if on != media.tone.active:
                if on:
                    media.tone.start(self.on)
                else:
                    media.tone.stop()
        return self.phase != DONE


def _send_cas(tx):
    tx.send_cas()
