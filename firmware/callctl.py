# Call control: joins the line controller to the SIP user agent and the media
# pipeline. Line events (number dialled, answer, hang-up) become SIP actions;
# SIP call states become tones, ringing and media on the line.
from rtp import RtpSession
from rtp.roomy import roomy
from flashcall import FlashFeatures
from rtp.plc import Concealer
from sip import UserAgent, sdp
from time import ticks_ms as _ticks
from waiting import CallWaiting

_BUSY_CODES = (486, 600)   # Busy Here, Busy Everywhere


def failure_tone(state, code):
    """The tone a phone user knows for how the call ended: the far end hung up or
    was busy: busy; the network is overloaded or failing (5xx: 503 Service
    Unavailable, 500, 502, 504): congestion; any other refusal (404 Not Found,
    484 Address Incomplete, 480 Temporarily Unavailable and 408 Request Timeout
    after the far end's own time-out, 603 Decline ...): reorder."""
    if state == "ended" or code in _BUSY_CODES:
        return "busy"
    if isinstance(code, int) and 500 <= code < 600:
        return "congestion"
    return "reorder"


def rtcp_port(text):
    """The audio stream's a=rtcp port (RFC 3605) in SDP text, or 0 (then RTP port + 1)."""
    audio = False
    for raw in (text or "").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            if audio:
                break
            audio = line.startswith("m=audio")
        elif audio and line.startswith("a=rtcp:"):
            port = line[7:].split(" ")[0]
            if port.isdigit() and 0 < int(port) < 65536:
                return int(port)
    return 0


_WITHHELD = ("anonymous", "private", "restricted", "withheld")   # user or display name
_UNKNOWN = ("unavailable", "unknown", "out-of-area")   # no number the network could give


def caller(call):
    """(number, name, private) for caller ID; the UA takes them from P-Asserted-Identity
    or From. A caller who withheld the identity (anonymous, or Privacy: id/user/header,
    RFC 3323/3325) is private: the phone shows 'P'. A caller the network has no number
    for (unavailable, unknown) has number None: the phone shows 'O', not the word."""
    number = call.caller_number or None
    name = (call.caller_name or "").strip() or None
    low_n = (number or "").lower()
    low_name = (name or "").lower()
    private = low_n in _WITHHELD or low_name in _WITHHELD
    inv = call.invite
    privacy = inv.get("privacy") if inv is not None else None
    if privacy:
        for token in privacy.replace(",", ";").split(";"):
            if token.strip().lower() in ("id", "user", "header"):
                private = True
    if low_n in _UNKNOWN or low_n in _WITHHELD:
        number = None
    if low_name in _UNKNOWN or low_name in _WITHHELD:
        name = None
    return number, name, private


class CallControl(CallWaiting, FlashFeatures):
    def __init__(self, cfg, local_ip, log=print):
        self.cfg = cfg
        self.ip = local_ip
        self.log = log
        self.line = None
        self.media = None
        self.call = None
        self.rtp = None
        self.plc = Concealer(160)
        # The line's RTP session, made now while the heap is in one piece and renewed
        # for each call: a call then allocates no ring, buffer or attribute table (a
        # second call at once makes a session of its own). A closed session is never
        # used again by whoever held it: it may be the next call's.
        self.rtp_spare = RtpSession(local_ip)
        roomy(self.rtp_spare)      # as media.start_call would make them, now
        roomy(self.rtp_spare.jb)
        roomy(self.plc)
        self.session_id = 1
        self.codecs = tuple(cfg["rtp"]["codecs"].split(","))
        s = cfg["sip"]
        self.ua = UserAgent({
            "server": s["server"], "port": s["port"], "user": s["user"],
            "auth_id": s["auth_id"], "password": s["password"], "domain": s["domain"],
            "local_ip": local_ip, "sip_port": s["sip_port"], "expires": s["expires"],
            "accept_from": s["accept_from"], "user_agent": s["user_agent"],
            "ring_timeout_s": s.get("ring_timeout_s", 180),
        }, on_incoming=self._incoming, log=log)
        self.no_answer_s = s.get("no_answer_s", 120)
        self.ua.on_notify = self._notify
        self.mwi_cfg = cfg.get("mwi") or {}
        self.mwi = None           # (waiting, voice counts or None) from the last NOTIFY
        if self.mwi_cfg.get("subscribe"):
            self.ua.subscribe("message-summary", "application/simple-message-summary",
                              self.mwi_cfg.get("expires", 3600))
        self.ring_map = cfg.get("line", {}).get("ring_map", "")
        self.country = cfg.get("line", {}).get("country", "US")
        self.counts = {"outgoing": 0, "incoming": 0, "rejected_busy": 0, "waiting": 0,
                       "swaps": 0, "holds": 0, "conferences": 0, "transfers": 0}
        # Call waiting: `call`/`rtp`/`pt` are the call the phone talks to (or that rings
        # it); `other` is a second call: waiting (not answered: other_rtp None) or on
        # hold (other_rtp its RTP session, other_pt its payload type). Only one.
        self.call_waiting = cfg.get("line", {}).get("call_waiting", True)
        self.dtmf_method = cfg.get("line", {}).get("dtmf_method", "rfc4733")
        self.pt = 0
        self.other = None
        self.other_rtp = None
        self.other_pt = 0
        self.alert = None         # cidcw.WaitAlert while a waiting call is announced
        self.ring_back = False    # the phone rings for the held call: off-hook resumes it
        self._init_flash(cfg.get("line", {}))   # hold, consultation, conference, transfer

    def attach(self, line, media):
        self.line = line
        self.media = media
        line.stutter_on = self.mwi_cfg.get("stutter", True)
        line.vmwi_on = self.mwi_cfg.get("visual", True)
        lc = self.cfg.get("line", {})
        media.set_gains(lc.get("rx_gain_db", 0), lc.get("tx_gain_db", 0))

    # -- message waiting ------------------------------------------------------------
    def _notify(self, msg):
        """A NOTIFY from the PBX (unsolicited or of our subscription): message-summary
        sets the line's message-waiting state; (status, reason) for the answer. A body
        that cannot be read is refused with 400 and why, and changes nothing."""
        import mwi
        event = msg.get("event")
        if not event:
            return 400, "Missing Event header"
        if not mwi.event_ok(event):
            return 489, None
        body = msg.body
        if not body or not body.strip():
            return 200, None      # no state in it (e.g. a pending subscription's first)
        ct = (msg.get("content-type") or mwi.CONTENT_TYPE).split(";")[0].strip().lower()
        if ct != mwi.CONTENT_TYPE:
            return 415, None
        try:
            waiting, voice = mwi.parse(body)
        except ValueError as e:
            self.log("call: bad message-summary: %s" % (e,))
            return 400, "Bad message-summary: %s" % (str(e)[:60],)
        self.mwi = (waiting, voice)
        self.log("call: messages waiting %s%s" % ("yes" if waiting else "no",
                                                  " voice %d/%d (%d/%d)" % voice if voice
                                                  else ""))
        if self.line is not None:
            self.line.message_waiting(waiting)
        return 200, None

    async def start(self):
        await self.ua.start()

    async def stop(self):
        self._drop_transfer()
        self._flash_reset()         # out of a conference first: both calls end below
        if self.other is not None:
            self._drop_other()      # nobody to ring back: both calls end
        self.hangup()
        await self.ua.stop()

    # -- line events ------------------------------------------------------------
    def line_event(self, kind, value):
        if kind == "number":
            self._place(value)
        elif kind == "answer":
            self._answer()
        elif kind == "hang_up":
            self._hung_up()
        elif kind == "no_answer":
            self._no_answer()
        elif kind == "flash":
            self._flash()
        elif self.alert is not None and kind in ("dtmf_down", "dtmf_up") and \
                self.alert.ack(value, _ticks()):
            pass                  # the phone's answer to the CAS: not for the far end
        elif kind in ("dtmf_down", "dtmf_up") and self.rtp is not None:
            self._dtmf(value, kind == "dtmf_down")

    def _dtmf(self, key, down):
        """A key the phone pressed in a call, sent by line.dtmf_method: rfc4733
        telephone-events (they replace the audio packets while the key is down);
        inband: nothing here, the key stays in the audio; info: SIP INFO
        application/dtmf-relay at the key's start, the audio muted until its end."""
        method = self.dtmf_method
        if method == "inband":
            if down:
                self.log("call: DTMF %s -> in-band" % key)
        elif method == "info":
            if down:
                call = self.call
                sent = call is not None and call.info_dtmf(key)
                self.log("call: DTMF %s -> SIP INFO%s" % (key, "" if sent else " not sent"))
            self.media.mute_tx = down
        elif down:
            self.log("call: DTMF %s -> RFC 4733" % key)
            self.rtp.event_start(key)
        else:
            self.rtp.event_end()

    def _place(self, number):
        if self.call is not None:
            return
        if not number:
            self.line.failed("congestion")
            return
        self.counts["outgoing"] += 1
        if not self._open_rtp():
            self.line.failed("congestion")
            return
        offer = self._sdp()
        self.log("call: INVITE %s" % number)
        call = self.ua.invite(number, offer)
        call.on_state = self._state
        call.on_offer = self._reoffer
        self.call = call
        if call.state == "ended":     # refused before it was sent (SIP tables full)
            self._state(call, "failed", call.status_code or 503)

    def _no_answer(self):
        """Our own time-out on an outgoing call that rings on: CANCEL, reorder (as a
        408/480 from the network would give)."""
        call = self.call
        if call is None or call.incoming:
            return
        self.log("call: no answer in %d s, cancelled" % self.no_answer_s)
        if self.consult:                  # a consultation: the held call stays
            self.call = None
            call.hangup()
            self._close_rtp()
        else:
            self.hangup()
        self.line.failed("reorder")

    def _incoming(self, call):
        remote = sdp.parse(call.remote_sdp) if call.remote_sdp else None
        usable = remote is not None and sdp.answer(remote, self.ip, 0, self.codecs) is not None
        if self.call is not None or self.line.state != "idle":
            if usable and self._can_wait():
                self._waiting(call)
                return
            self.counts["rejected_busy"] += 1
            call.reject(486)
            return
        if not usable:
            call.reject(488)
            return
        self.counts["incoming"] += 1
        self.call = call
        call.on_state = self._state
        call.on_offer = self._reoffer
        number, name, private = caller(call)
        cadence = None
        info = call.invite.get("alert-info") if call.invite is not None else None
        if info:
            import alert
            cadence = alert.cadence(info, self.country, self.line.plan,
                                    alert.parse_map(self.ring_map))
        self.line.ring(number, name, private, cadence)
        call.ringing()
        self.log("call: incoming from %s %r, ringing" % (number, name))

    def _answer(self):
        call = self.call
        if call is None:
            return
        if self.ring_back:
            # rung back for the call on hold: off-hook takes it off hold
            self.ring_back = False
            call.resume()
            self._media_to(sdp.parse(call.remote_sdp), self.pt, call.remote_sdp)
            self.line.connected()
            return
        if not self._open_rtp():
            self.call = None
            call.reject(500)
            self.line.failed("congestion")
            return
        text, pt, dtmf_pt = sdp.answer(sdp.parse(call.remote_sdp), self.ip,
                                       self.rtp.local_port, self.codecs)
        self.pt = pt
        call.answer(text)
        self._media_to(sdp.parse(call.remote_sdp), pt, call.remote_sdp)
        self.line.connected()

    def hangup(self):
        self._flash_reset()          # a conference or consultation ends with the calls
        call = self.call
        self.call = None
        self.ring_back = False
        if call is not None and call.state not in ("ended", "failed"):
            call.hangup()
        self._close_rtp()
        other = self.other
        if other is None or self.line is None or self.line.state != "idle":
            if other is not None:          # stop(): no phone to ring, both calls end
                self._drop_other()
            return
        # the phone hung up with a second call still there: it rings for it (GR-571 /
        # the HT802 behaviour); a held call is resumed at off-hook, a waiting one
        # answered then
        self._stop_alert()
        self.other = None
        self.call = other
        if self.other_rtp is not None:
            self.rtp, self.pt = self.other_rtp, self.other_pt
            self.other_rtp = None
            self.ring_back = True
            self.log("call: hung up with a call on hold: ringing back")
            self.line.ring()
        else:
            number, name, private = caller(other)
            self.log("call: hung up with a call waiting: ringing for it")
            self.line.ring(number, name, private)

    # -- SIP call states --------------------------------------------------------------
    def _state(self, call, state, detail):
        if self.conf and state in ("failed", "ended") and call is not None and \
                (call is self.call or call is self.other):
            self._conf_call_ended(call, state, detail)
            return
        if call is self.other and call is not None:
            self._other_state(call, state, detail)
            return
        if call is not self.call:
            return
        if state == "confirmed" and detail != 200 and self.line.state == "call":
            # our hold/resume re-INVITE answered, or the far end's own re-INVITE:
            # media follows the SDP, the line stays as it is (a waiting tone plays on)
            self.log("call: %s %s" % (state, detail))
            if call.remote_sdp and self.rtp is not None:
                self._media_to(sdp.parse(call.remote_sdp), self.pt, call.remote_sdp)
            return
        self.log("call: %s %s" % (state, detail if detail is not None else ""))
        if call.incoming and state in ("ringing", "early"):
            return                        # our own 180: the phone is the one ringing
        if state == "ringing":
            self.line.play("ringback")
            self.line.await_answer(self.no_answer_s * 1000)
        elif state == "early" and call.remote_sdp:
            self._media_from_answer(call.remote_sdp)
            self.line.play(None)
            self.line.await_answer(self.no_answer_s * 1000)
        elif state == "confirmed":
            if call.remote_sdp and self.media.rtp is None:
                self._media_from_answer(call.remote_sdp)
            self.line.connected()
        elif state in ("failed", "ended"):
            self.call = None
            self.ring_back = False
            self._close_rtp()
            if state == "ended" and self.line.state == "ringing":
                self.line.stop_ring()     # caller gave up before we answered
            else:
                # a second call stays: waiting, it rings the phone at hang-up; held,
                # a flash takes it back (or hang-up rings back). The alert stops: the
                # busy tone is the line's now
                self._stop_alert()
                self.line.failed(failure_tone(state, detail))

    def _other_state(self, call, state, detail):
        """The second call (waiting or on hold) changed state."""
        self.log("call: other call %s %s" % (state, detail if detail is not None else ""))
        if state in ("failed", "ended"):
            # the waiting caller gave up (CANCEL) or the held party hung up: freed,
            # the call in progress goes on
            self.other = None
            self.consult = False          # a consultation goes on as a call of its own
            self._stop_alert()
            if self.other_rtp is not None:
                self.other_rtp.close()
                self.other_rtp = None

    def _reoffer(self, call, remote_text):
        remote = sdp.parse(remote_text)
        second = call is self.other and call is not None
        rtp = self.other_rtp if second else self.rtp
        if rtp is None:
            return None
        got = sdp.answer(remote, self.ip, rtp.local_port, self.codecs)
        if got is None:
            return None
        if second:
            self.other_pt = got[1]
            rtp.set_remote(remote.ip, remote.port, rtcp_port(remote_text))
            if self.conf:
                return got[0]             # in the conference: not held
            return sdp.with_direction(got[0], "sendonly")   # we still hold it
        self.pt = got[1]
        self._media_to(remote, got[1], remote_text)
        return got[0]

    # -- media ------------------------------------------------------------------------
    def _sdp(self):
        self.session_id += 1
        return sdp.offer(self.ip, self.rtp.local_port, self.session_id, self.codecs,
                         self.cfg["rtp"]["dtmf_pt"])

    def _open_rtp(self):
        if self.rtp is None:
            rtp = self._new_rtp()
            if rtp is None:
                return False
            self.rtp = rtp
        return True

    def _new_rtp(self):
        r = self.cfg["rtp"]
        # a second call needs a port of its own: a fixed rtp.port is the first call's
        port = r["port"] if self.rtp is None and self.other_rtp is None else 0
        spare = self.rtp_spare
        if spare.sock is None:     # closed: no call has it
            rtp = spare.renew(port, dtmf_pt=r["dtmf_pt"], symmetric=r["symmetric"],
                              port_range=(r["port_min"], r["port_max"]))
        else:
            rtp = RtpSession(self.ip, port, dtmf_pt=r["dtmf_pt"], symmetric=r["symmetric"],
                             port_range=(r["port_min"], r["port_max"]))
        try:
            rtp.open()           # rtp.port, or (0) a random even port from the range
        except OSError as e:
            rtp.close()          # (the spare's next call takes it again)
            self.log("call: no RTP port (%s)" % (e,))
            return None
        self.log("call: RTP on port %d" % rtp.local_port)
        return rtp

    def _media_from_answer(self, text):
        remote = sdp.parse(text)
        pt = remote.payloads[0] if remote.payloads else 0
        self.pt = pt
        self._media_to(remote, pt, text)

    def _media_to(self, remote, pt, text=None):
        rtp = self.rtp
        if rtp is None:
            return
        rtp.set_remote(remote.ip, remote.port, rtcp_port(text))
        rtp.set_payload_type(pt)
        if remote.dtmf_pt:
            rtp.set_dtmf_pt(remote.dtmf_pt)
        if self.media.rtp is not rtp:
            self.plc.reset()          # a new stream: no history from the last call
        self.media.start_call(rtp, pt, self.plc)
        self.media.sending = remote.direction in ("sendrecv", "recvonly")

    def _close_rtp(self):
        if self.media is not None:
            self.media.stop_call()
        if self.rtp is not None:
            self.rtp.close()
            self.rtp = None

    def status(self):
        c = self.call
        o = self.other
        return {"call": None if c is None else c.state,
                "other": None if o is None else ("conference" if self.conf else
                                                 "held" if self.other_rtp else "waiting"),
                "transfer": self.xfer is not None,
                "rtp": None if self.rtp is None else self.rtp.stats(),
                "mwi": self.mwi, "counts": self.counts}
