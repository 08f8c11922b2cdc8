# Call waiting (GR-571 / ETSI EN 300 659 style): a second call while the phone talks
# gets 180, the country's call-waiting tone and caller ID on call waiting (CAS, the
# phone's ACK, then FSK: firmware/cidcw.py); hook flash answers it and holds the first
# call (re-INVITE a=sendonly), each flash after that swaps them. A mixin of
# callctl.CallControl: `other`/`other_rtp`/`other_pt` hold the second call (waiting:
# other_rtp None; held: its RTP session and payload type), `alert` its announcement.
from sip import sdp
from time import ticks_ms as _ticks


class CallWaiting:
    def _can_wait(self):
        """A second call may wait: switched on, one call talking, no other call yet."""
        c = self.call
        return (self.call_waiting and self.other is None and c is not None and
                c.state == "confirmed" and self.line.state == "call" and not self.ring_back)

    def _waiting(self, call):
        """Answer 180 and announce the call to the phone: tone, then CIDCW."""
        self.counts["waiting"] += 1
        self.other = call
        self.other_rtp = None
        call.on_state = self._state
        call.on_offer = self._reoffer
        call.ringing()
        from callctl import caller        # loaded already: this module is its mixin
        number, name, private = caller(call)
        self.log("call: waiting call from %s %r" % (number, name))
        import clip
        import cidcw
        line = self.line
        msg = None
        if line.clip.mode in ("bell202", "v23", "sin227"):
            msg = clip.message(number, name, private)
        self.alert = cidcw.WaitAlert(self.media, line.plan["waiting"], line.clip.mode, msg,
                                     self.log)
        self.alert.start(_ticks())
        import asyncio
        asyncio.create_task(self._run_alert(self.alert))

    async def _run_alert(self, alert):
        import asyncio
        while alert is self.alert and alert.poll(_ticks()):
            await asyncio.sleep_ms(5)

    def _stop_alert(self):
        if self.alert is not None:
            self.alert.stop()
            self.alert = None

    def _drop_other(self):
        other, rtp = self.other, self.other_rtp
        self.other = None
        self.other_rtp = None
        self._stop_alert()
        if other.state not in ("ended", "failed"):
            other.hangup()
        if rtp is not None:
            rtp.close()

    def _swap(self):
        """Hook flash with a second call that called us: swap to it (a waiting one is
        answered, the talking one put on hold with a re-INVITE a=sendonly, RFC 3264 /
        RFC 6337). Flash with one call: hold, consultation, conference, transfer
        (flashcall)."""
        other = self.other
        active = self.call
        if other.state not in ("ringing", "confirmed", "early", "incoming"):
            return
        new_rtp = self.other_rtp
        if new_rtp is not None and not other.resume():
            # its hold is still being negotiated (a second flash too soon): stay
            self.log("call: flash ignored (re-INVITE pending)")
            return
        if new_rtp is None:
            # the waiting call: its own RTP session now (the second call's heap cost)
            new_rtp = self._new_rtp()
            if new_rtp is None:
                self.log("call: no RTP for the waiting call")
                return
            text, pt, _ = sdp.answer(sdp.parse(other.remote_sdp), self.ip, new_rtp.local_port,
                                     self.codecs)
            self._stop_alert()
            other.answer(text)
            self.other_pt = pt
        self.counts["swaps"] += 1
        if self.media is not None:
            self.media.stop_call()
        if active is not None and active.state == "confirmed":
            active.hold()
        elif active is not None:
            active.hangup()
        old_rtp, old_pt = self.rtp, self.pt
        self.call, self.rtp, self.pt = other, new_rtp, self.other_pt
        if active is not None and active.state != "ended":
            self.other, self.other_rtp, self.other_pt = active, old_rtp, old_pt
        else:
            self.other, self.other_rtp = None, None
            if old_rtp is not None:
                old_rtp.close()
        self.log("call: flash: talking to %s, %s" % (
            other.caller_number if other.incoming else other.remote_uri,
            "the other on hold" if self.other is not None else "no other call"))
        self._media_to(sdp.parse(other.remote_sdp), self.pt, other.remote_sdp)
        self.line.connected()
