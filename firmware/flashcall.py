# What a hook flash does in a call that has no call waiting: hold and a recall dial
# tone; a consultation call to a second number; back to the first call, a three-way
# conference mixed locally, or a transfer at hang-up: blind (the second number not
# answered yet: REFER to it) or attended (it answered: REFER with Replaces naming our
# call with it, RFC 3891). What an HT802 or SPA112 owner knows from the hook switch:
#   in a call        flash: the call on hold, recall dial tone, dial a number
#   dialling         flash: back to the held call;  hang up: it rings back
#   second ringing   flash: that call cancelled, back; hang up: blind transfer
#   second talking   flash: three-way conference;   hang up: attended transfer
#   conference       flash: the second party dropped; hang up: both calls end
# A mixin of callctl.CallControl: `call`/`rtp`/`pt` are the call the phone talks to,
# `other`/`other_rtp`/`other_pt` the held first call (as for call waiting), with
# `consult` set while it is held for a consultation and `conf` while both are mixed.
import asyncio

from rtp.plc import Concealer
from sip import sdp
from sip.refer import replaces

_TRANSFER_WAIT_MS = 60000   # no final report from the transferee by then: we leave


class FlashFeatures:
    def _init_flash(self, lcfg):
        self.transfer = lcfg.get("transfer", True)      # hang-up with a held call: REFER
        self.three_way = lcfg.get("three_way", True)    # flash with both: conference
        self.consult = False       # other: held by a flash, call: the second number's
        self.conf = False          # both calls mixed (media's conference)
        self.plc2 = None           # the conference's second leg's concealer, made once
        self.xfer = None           # [held call, its rtp, consultation call, its rtp, held pt]

    def _flash_reset(self):
        """Every call of the phone's is ending (hang-up, the supervisor's safe state):
        the conference's second leg leaves the media (its session is other_rtp,
        closed with the held call)."""
        if self.conf:
            self.media.stop_conference()
            self.conf = False
        self.consult = False

    # -- hook flash ----------------------------------------------------------------
    def _flash(self):
        if self.conf:
            self._drop_second()
        elif self.consult:
            if self.call is not None and self.call.state == "confirmed" and self.three_way:
                self._conference()
            else:
                self._back_to_held()
        elif self.other is not None:
            self._swap()                   # call waiting (waiting.py)
        else:
            self._hold_and_dial()

    def _hold_and_dial(self):
        call = self.call
        if call is None or call.state != "confirmed" or self.line.state != "call" or \
                self.ring_back or not call.hold():
            self.log("call: flash ignored")
            return
        self.media.stop_call()
        self.other, self.other_rtp, self.other_pt = call, self.rtp, self.pt
        self.call, self.rtp = None, None
        self.consult = True
        self.counts["holds"] += 1
        self.log("call: flash: %s on hold, recall dial tone" % _who(call))
        self.line.recall()

    def _back_to_held(self):
        """Dialling, or the second number not answered (or refused): it is given up
        and the held call resumes."""
        held = self.other
        if not held.resume():
            self.log("call: flash ignored (re-INVITE pending)")
            return
        second = self.call
        self.call = None
        if second is not None and second.state not in ("ended", "failed"):
            second.hangup()
        self._close_rtp()
        self.consult = False
        self.call, self.rtp, self.pt = held, self.other_rtp, self.other_pt
        self.other, self.other_rtp = None, None
        self.log("call: flash: back to %s" % _who(held))
        self._media_to(sdp.parse(held.remote_sdp), self.pt, held.remote_sdp)
        self.line.connected()

    def _conference(self):
        held = self.other
        if not held.resume():
            self.log("call: flash ignored (re-INVITE pending)")
            return
        if self.plc2 is None:
            self.plc2 = Concealer(160)
        self.plc2.reset()
        self.other_rtp.set_payload_type(self.other_pt)
        self.media.start_conference(self.other_rtp, self.other_pt, self.plc2)
        self.consult = False
        self.conf = True
        self.counts["conferences"] += 1
        self.log("call: flash: three-way conference with %s and %s" % (
            _who(held), _who(self.call)))

    def _drop_second(self):
        """Flash in a conference: the party added last leaves, the first stays."""
        second = self.call
        self.log("call: flash: %s dropped from the conference" % _who(second))
        self._second_left()
        if second.state not in ("ended", "failed"):
            second.hangup()

    def _second_left(self):
        """The conference's second call is over: the first call goes on alone."""
        self.media.stop_conference()       # its leg B is the first call's other_rtp
        self.conf = False
        self._close_rtp()
        first, first_rtp = self.other, self.other_rtp
        self.call, self.rtp, self.pt = first, first_rtp, self.other_pt
        self.other, self.other_rtp = None, None
        self._media_to(sdp.parse(first.remote_sdp), self.pt, first.remote_sdp)
        self.line.connected()

    def _first_left(self):
        """The conference's first call is over: the second goes on alone."""
        self.media.stop_conference()
        self.conf = False
        rtp = self.other_rtp
        self.other, self.other_rtp = None, None
        if rtp is not None:
            rtp.close()

    def _conf_call_ended(self, call, state, detail):
        """A party of the conference hung up (or failed): the other stays."""
        self.log("call: %s left the conference (%s %s)" % (_who(call), state, detail))
        if call is self.call:
            self._second_left()
        else:
            self._first_left()

    # -- hang-up -------------------------------------------------------------------
    def _hung_up(self):
        if self.conf:
            self.log("call: conference ended")
            self.media.stop_conference()
            self.conf = False
            if self.other_rtp is not None:
                self.other_rtp.close()
            first = self.other
            self.other, self.other_rtp = None, None
            if first.state not in ("ended", "failed"):
                first.hangup()
        elif self.consult and self.call is not None and self.transfer:
            self._transfer()
            return
        self.consult = False
        self.hangup()          # a held call left alone rings back (callctl)

    def _transfer(self):
        first, first_rtp = self.other, self.other_rtp
        second, second_rtp = self.call, self.rtp
        self.consult = False
        self.media.stop_call()
        self.call, self.rtp, self.other, self.other_rtp = None, None, None, None
        attended = second.state == "confirmed"
        rep = None
        if attended:
            d = second.dialog
            rep = replaces(d.call_id, d.remote_tag, d.local_tag)
        target = second.remote_uri
        self.xfer = [first, first_rtp, second if attended else None,
                     second_rtp if attended else None, self.other_pt]
        first.on_state = second.on_state = self._xfer_state
        if not attended:
            # blind: the second number stops ringing here, the transferee calls it
            second.hangup()
            second_rtp.close()
        self.counts["transfers"] += 1
        self.log("call: %s transfer of %s to %s" % ("attended" if attended else "blind",
                                                    _who(first), target))
        if not first.refer(target, rep, self._xfer_report):
            self._xfer_report(first, 500, True)
            return
        asyncio.create_task(self._xfer_deadline(self.xfer))

    async def _xfer_deadline(self, xfer):
        await asyncio.sleep_ms(_TRANSFER_WAIT_MS)
        if self.xfer is xfer:
            self.log("call: no final transfer report in %d s: leaving it" % (
                _TRANSFER_WAIT_MS // 1000))
            self._xfer_end()

    def _xfer_report(self, call, code, final):
        """How the transferee's call to the target goes (sip.refer's on_refer)."""
        xfer = self.xfer
        if xfer is None or call is not xfer[0]:
            return
        self.log("call: transfer %d%s" % (code, " (final)" if final else ""))
        if not final:
            return
        if 200 <= code < 300:
            self.log("call: transferred")
            self._xfer_end()
            return
        # failed: the consultation (if any) ends, the phone rings for the held call
        self.xfer = None
        if xfer[2] is not None and xfer[2].state not in ("ended", "failed"):
            xfer[2].hangup()
        if xfer[3] is not None:
            xfer[3].close()
        first, first_rtp = xfer[0], xfer[1]
        first.on_state = self._state
        if first.state == "ended" or self.call is not None or self.line.state != "idle":
            first.hangup()
            first_rtp.close()
            return
        self.call, self.rtp, self.pt = first, first_rtp, xfer[4]
        self.ring_back = True
        self.log("call: transfer failed: ringing back")
        self.line.ring()

    def _xfer_end(self):
        """The transfer is done (or we stop waiting for it): both our calls end."""
        xfer = self.xfer
        self.xfer = None
        for call, rtp in ((xfer[0], xfer[1]), (xfer[2], xfer[3])):
            if call is not None and call.state not in ("ended", "failed"):
                call.hangup()
            if rtp is not None:
                rtp.close()

    def _xfer_state(self, call, state, detail):
        """A call of a transfer under way ended from the far side (the transferee's
        BYE once it has its new call; the target's BYE after Replaces)."""
        xfer = self.xfer
        if xfer is None or state not in ("ended", "failed"):
            return
        self.log("call: transfer: %s %s %s" % (_who(call), state, detail))
        if call is xfer[0]:
            self._xfer_end()         # the transferee has gone: nothing left to wait for
        elif call is xfer[2]:
            xfer[2] = None
            if xfer[3] is not None:
                xfer[3].close()
                xfer[3] = None

    def _drop_transfer(self):
        if self.xfer is not None:
            self._xfer_end()


def _who(call):
    if call is None:
        return "nobody"
    return (call.caller_number or call.remote_uri) if call.incoming else call.remote_uri
