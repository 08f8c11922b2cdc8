# One call (INVITE dialog): outgoing and incoming, early media, CANCEL, BYE, re-INVITE hold.
import asyncio

from sip import digest
from sip import headers as H
from sip import sdp as S
from sip.dialog import Dialog
from sip.message import Message

_MAX_AUTH = 2        # challenges answered per INVITE


class Call:
    """See docs/sip.md. state: incoming, calling, ringing, early, confirmed, ended."""

    def __init__(self, ua, incoming):
        self.ua = ua
        self.incoming = incoming
        self.state = "incoming" if incoming else "calling"
        self.remote_sdp = None
        self.local_sdp = None
        self.on_state = None
        self.on_offer = None
        self.on_info = None        # fn(call, content_type, body): INFO (e.g. dtmf-relay)
        self.caller_name = ""      # incoming: display name (P-Asserted-Identity, else From)
        self.caller_number = None  # incoming: user part (P-Asserted-Identity, else From)
        self.dialog = None
        self.call_id = None
        self.local_tag = ua.new_tag()
        self.remote_uri = None     # the other party (From of an incoming, To of an outgoing)
        self.remote_display = ""
        self.end_reason = None
        self.status_code = 0
        self.held = False
        self.invite = None         # our INVITE (outgoing) or theirs (incoming)
        self.client_tx = None
        self.server_tx = None
        self.addr = None           # where the initial INVITE went / came from
        self._auth_tries = 0
        self._cancel_wanted = False
        self._provisional = False
        self._ack = None           # (bytes, addr) of our last 2xx ACK, for re-ACKs
        self._reinvite = None      # our pending re-INVITE client transaction
        self._reinvite_req = None
        self._reinvite_stx = None  # their re-INVITE answered with 2xx, waiting for ACK
        self._sdp_ver = 1

    # ---- creation
    @staticmethod
    def outgoing(ua, target, sdp_text):
        c = Call(ua, False)
        c.call_id = ua.new_call_id()
        c.remote_uri = ua.target_uri(target)
        c.local_sdp = sdp_text
        u = H.parse_uri(c.remote_uri)
        if ua.proxy or ua.accept_from != "any" or not target.startswith("sip"):
            c.addr = ua.outbound_addr()
        else:
            c.addr = (u.host, u.port or 5060)
        ua.counters["calls_out"] += 1
        ua.add_call(c)
        c._send_invite(None, 1)
        return c

    @staticmethod
    def incoming(ua, req, addr, stx):
        c = Call(ua, True)
        c.call_id = req.call_id
        c.invite = req
        c.addr = addr
        c.server_tx = stx
        c.remote_display, c.remote_uri, _ = H.parse_addr(req.get("from"))  # parser checked it
        # caller ID: a PBX's asserted identity wins over From (RFC 3325, Remote-Party-ID)
        for name in ("p-asserted-identity", "remote-party-id"):
            v = req.get(name)
            if v:
                try:
                    d, u, _ = H.parse_addr(H.split_commas(v)[0])
                    c.caller_name, c.caller_number = d, H.parse_uri(u).user
                    break
                except (ValueError, IndexError):
                    continue
        else:
            c.caller_name = c.remote_display
            try:
                c.caller_number = H.parse_uri(c.remote_uri).user
            except ValueError:
                c.caller_number = None
        if req.body:
            try:
                offer = S.parse(req.body)
            except ValueError as e:
                c._final(400, "Bad SDP: " + str(e)[:40])
                return None
            if S.answer(offer, "0.0.0.0", 1) is None:
                c._final(488)
                return None
            c.remote_sdp = req.body
        ua.counters["calls_in"] += 1
        c._respond(100)
        live = [x for x in ua.calls.values() if x.state != "ended"]
        if ua.busy or len(live) >= ua.max_calls:
            c._final(486)
            return None
        if ua.on_incoming is None:
            c._final(480)
            return None
        c.dialog = Dialog.as_uas(req, c.local_tag)
        ua.add_call(c)
        stx.on_no_ack = c._no_ack
        stx.on_ack = c._acked
        try:
            ua.on_incoming(c)
        except Exception as e:  # the app's bug must not leave the caller hanging
            ua.log("sip: on_incoming raised %r" % e)
            if c.state == "incoming":
                c._final(500)
        return c

    # ---- helpers
    def _set(self, state, detail=None):
        if self.state == "ended" and state != "ended":
            return
        self.state = "ended" if state == "failed" else state
        if state in ("ended", "failed"):
            self.end_reason = detail
            self.ua.remove_call(self)
        cb = self.on_state
        if cb:
            try:
                cb(self, state, detail)
            except Exception as e:  # app errors are logged, SIP state stays consistent
                self.ua.log("sip: on_state raised %r" % e)

    def _with_version(self, text):
        if text is None:
            return None
        if text != self.local_sdp:
            self._sdp_ver += 1
        self.local_sdp = text
        return S.set_version(text, self._sdp_ver)

    def _respond(self, status, body=None, reason=None):
        ua = self.ua
        r = ua.make_response(self.invite, self.addr, status, reason, self.local_tag)
        if status > 100:
            r.add("contact", ua.contact())
        if status >= 200 and status < 300:
            r.add("allow", ua.ALLOW)
        if body:
            r.add("content-type", "application/sdp")
            r.body = body
        self.server_tx.respond(r)

    def _final(self, status, reason=None):
        self._respond(status, reason=reason)
        if self.state != "ended":
            self._set("ended", "rejected")

    def _send_in_dialog(self, method, body=None, on_response=None):
        req = self.dialog.request(method)
        self.ua.add_via(req)
        req.add("user-agent", self.ua.user_agent)
        if method == "INVITE":
            req.add("contact", self.ua.contact())
            req.add("allow", self.ua.ALLOW)
        if body:
            req.add("content-type", "application/sdp")
            req.body = body
        return req, self.ua.send_request(req, self.dialog.next_hop(), on_response,
                                         self._in_dialog_timeout if method == "INVITE" else None)

    # ---- outgoing INVITE
    def _send_invite(self, auth, cseq):
        ua = self.ua
        req = ua.new_request("INVITE", self.remote_uri,
                             "<%s>;tag=%s" % (ua.aor(), self.local_tag),
                             "<%s>" % self.remote_uri, self.call_id, cseq)
        req.add("contact", ua.contact())
        req.add("allow", ua.ALLOW)
        if auth:
            req.add(auth[0], auth[1])
        req.add("content-type", "application/sdp")
        req.body = S.set_version(self.local_sdp, self._sdp_ver) if self.local_sdp else ""
        self.invite = req
        self._provisional = False
        self.client_tx = ua.send_request(req, self.addr, self._on_invite_response,
                                         self._on_invite_timeout)

    def _on_invite_timeout(self, tx):
        if tx is self.client_tx and self.state != "ended":
            self._set("failed", 408)

    def _on_invite_response(self, tx, msg):
        st = msg.status
        if tx is not self.client_tx:
            if 200 <= st < 300:
                self.stray_2xx(msg)
            return
        if st < 200:
            if st == 100:
                return
            self._provisional = True
            if self._cancel_wanted:
                self._send_cancel()
                return
            if msg.to_tag and self.dialog is None:
                self.dialog = Dialog.as_uac(self.invite, msg)
            if msg.body:
                self.remote_sdp = msg.body
            self._set("early" if (st == 183 or msg.body) else "ringing", st)
            return
        if st < 300:
            self._on_invite_2xx(msg)
            return
        if st in (401, 407) and self._auth_tries < _MAX_AUTH and not self._cancel_wanted:
            h = "www-authenticate" if st == 401 else "proxy-authenticate"
            try:
                ch = digest.parse_challenge(msg.get(h) or "")
                if self._auth_tries and not ch["stale"]:
                    raise ValueError("credentials refused")
                value = self.ua.auth.authorization(ch, "INVITE", self.remote_uri)
            except ValueError as e:
                self.ua.log("sip: INVITE auth: %s" % e)
                self._set("failed", st)
                return
            self._auth_tries += 1
            self._send_invite(("authorization" if st == 401 else "proxy-authorization", value),
                              self.invite.cseq_num + 1)
            return
        self.status_code = st
        if st == 487 and self._cancel_wanted:
            self._set("ended", "cancel")
        else:
            self._set("failed", st)

    def _on_invite_2xx(self, msg):
        if self.state == "confirmed" and self.dialog and msg.to_tag == self.dialog.remote_tag:
            self._reack()
            return
        if self.state == "ended" and self._ack is not None:
            self._reack()
            return
        d = Dialog.as_uac(self.invite, msg)
        first = self.state != "confirmed" and self.state != "ended"
        if not first:
            # a second 2xx from another fork: accept it and end that leg at once
            d2 = self.dialog
            self.dialog = d
            self._ack_2xx(msg)
            self._send_in_dialog("BYE")
            self.dialog = d2
            return
        self.dialog = d
        self._ack_2xx(msg)
        if msg.body:
            self.remote_sdp = msg.body
        if self._cancel_wanted:
            # CANCEL crossed the 2xx: the call was answered after all; end it with BYE
            self._send_in_dialog("BYE")
            self._set("ended", "cancel")
            return
        self._set("confirmed", 200)

    def _ack_2xx(self, msg, req=None):
        req = req or self.invite
        ack = self.dialog.request("ACK", cseq=req.cseq_num)
        self.ua.add_via(ack)
        if req.get("proxy-authorization"):
            ack.add("proxy-authorization", req.get("proxy-authorization"))
        addr = self.dialog.next_hop()
        data = ack.encode()
        self._ack = (data, addr)
        self.ua._send(data, addr)

    def _reack(self):
        if self._ack:
            self.ua._send(self._ack[0], self._ack[1])

    def stray_2xx(self, msg):
        """2xx retransmission after the INVITE transaction is gone: ACK it again."""
        if self._ack is not None:
            self._reack()

    def _send_cancel(self):
        inv = self.invite
        req = Message("CANCEL", inv.uri)
        req.add("via", inv.get("via"))
        req.add("max-forwards", "70")
        req.add("from", inv.get("from"))
        req.add("to", inv.get("to"))
        req.add("call-id", inv.call_id)
        req.add("cseq", "%d CANCEL" % inv.cseq_num)
        for r in inv.get_all("route"):
            req.add("route", r)
        req.add("user-agent", self.ua.user_agent)
        req.branch = inv.branch
        req.call_id = inv.call_id
        req.cseq_num = inv.cseq_num
        req.cseq_method = "CANCEL"
        self.ua.send_request(req, self.addr)

    # ---- incoming INVITE, app side
    def ringing(self):
        if self.incoming and self.state == "incoming":
            self._respond(180)
            self._set("ringing", 180)

    def answer(self, sdp_text):
        if not self.incoming or self.state not in ("incoming", "ringing", "early"):
            return False
        self._respond(200, self._with_version(sdp_text))
        self._set("confirmed", 200)
        return True

    def reject(self, code=486):
        if self.incoming and self.state in ("incoming", "ringing", "early"):
            self.status_code = code
            self._final(code)

    def _acked(self, stx, ack):
        if ack is not None and ack.body:
            self.remote_sdp = ack.body   # our offer was in the 2xx: the answer is in the ACK

    def _no_ack(self, stx):
        if self.state == "confirmed":
            self.ua.log("sip: no ACK for our 2xx, ending the call")
            self._send_in_dialog("BYE")
            self._set("ended", "no-ack")

    def cancelled(self):
        """The caller sent CANCEL before we answered."""
        if self.state in ("incoming", "ringing", "early"):
            self._respond(487)
            self._set("ended", "cancel")

    # ---- both directions
    def hangup(self):
        st = self.state
        if st == "ended":
            return
        if self.incoming and st in ("incoming", "ringing", "early"):
            self.reject(603 if st == "incoming" else 486)
            return
        if not self.incoming and st in ("calling", "ringing", "early"):
            self._cancel_wanted = True
            if self._provisional:
                self._send_cancel()
            # without a provisional yet, CANCEL is sent when one arrives (RFC 3261 9.1)
            return
        if self.dialog is not None:
            self._send_in_dialog("BYE")
        self._set("ended", "local")

    def hold(self):
        return self._reoffer("sendonly", True)

    def resume(self):
        return self._reoffer("sendrecv", False)

    def _reoffer(self, direction, held):
        if self.state != "confirmed" or self._reinvite is not None or not self.local_sdp:
            return False
        self.held = held
        body = self._with_version(S.with_direction(self.local_sdp, direction))
        self._auth_tries = 0
        self._reinvite_req, self._reinvite = self._send_in_dialog("INVITE", body,
                                                                  self._on_reinvite_response)
        return True

    def _on_reinvite_response(self, tx, msg):
        st = msg.status
        if st < 200:
            return
        req = self._reinvite_req
        if st < 300:
            self._ack_2xx(msg, req)
            self.dialog.update_target(msg)
            if msg.body:
                self.remote_sdp = msg.body
            self._reinvite = None
            self._set("confirmed", "hold" if self.held else "resume")
            return
        if st in (401, 407) and self._auth_tries < _MAX_AUTH:
            h = "www-authenticate" if st == 401 else "proxy-authenticate"
            try:
                ch = digest.parse_challenge(msg.get(h) or "")
                value = self.ua.auth.authorization(ch, "INVITE", req.uri)
            except ValueError:
                value = None
            if value:
                self._auth_tries += 1
                self._reinvite_req, self._reinvite = self._send_in_dialog(
                    "INVITE", req.body, self._on_reinvite_response)
                self._reinvite_req.add("authorization" if st == 401 else "proxy-authorization",
                                       value)
                return
        self._reinvite = None
        if st == 491:
            asyncio.create_task(self._retry_reoffer())
            return
        if st in (408, 481):
            self._send_in_dialog("BYE")
            self._set("ended", st)
            return
        self.held = not self.held
        self._set("confirmed", "reinvite-failed %d" % st)

    async def _retry_reoffer(self):
        await asyncio.sleep_ms(2500)   # RFC 3261 14.1: 2.1-4 s for the dialog owner
        self._reoffer("sendonly" if self.held else "sendrecv", self.held)

    def _in_dialog_timeout(self, tx):
        if tx is self._reinvite and self.state == "confirmed":
            self._reinvite = None
            self._send_in_dialog("BYE")
            self._set("ended", "timeout")

    # ---- in-dialog requests from the peer
    def on_request(self, msg, addr, stx):
        ua = self.ua
        d = self.dialog
        m = msg.method
        if d.remote_seq is not None and msg.cseq_num <= d.remote_seq and m != "ACK":
            ua.reply(msg, addr, 500, "CSeq out of order", stx)
            return
        d.remote_seq = msg.cseq_num
        if m == "BYE":
            ua.reply(msg, addr, 200, stx=stx)
            self._set("ended", "bye")
        elif m == "INVITE":
            self._on_reinvite(msg, addr, stx)
        elif m in ("INFO", "OPTIONS", "NOTIFY"):
            ua.reply(msg, addr, 200, stx=stx)
            if m == "INFO" and self.on_info is not None:
                try:
                    self.on_info(self, msg.get("content-type") or "", msg.body)
                except Exception as e:  # app errors never break the dialog
                    ua.log("sip: on_info raised %r" % e)
        else:
            ua.reply(msg, addr, 405, stx=stx, extra=[("allow", ua.ALLOW)])

    def _on_reinvite(self, msg, addr, stx):
        ua = self.ua
        if self._reinvite is not None:
            ua.reply(msg, addr, 491, stx=stx)
            return
        if self.state != "confirmed":
            ua.reply(msg, addr, 500, "Not yet", stx=stx)
            return
        local = None
        if msg.body:
            try:
                offer = S.parse(msg.body)
            except ValueError:
                ua.reply(msg, addr, 488, stx=stx)
                return
            if self.on_offer is not None:
                try:
                    local = self.on_offer(self, msg.body)
                except Exception as e:  # an app error answers 500, the call goes on
                    ua.log("sip: on_offer raised %r" % e)
                    ua.reply(msg, addr, 500, stx=stx)
                    return
            else:
                local = self._default_answer(offer)
            if local is None:
                ua.reply(msg, addr, 488, stx=stx)
                return
            self.remote_sdp = msg.body
        else:
            local = self.local_sdp   # offer-less re-INVITE: our offer goes in the 200
        self.dialog.update_target(msg)
        r = ua.make_response(msg, addr, 200, None, self.local_tag)
        r.add("contact", ua.contact())
        r.add("allow", ua.ALLOW)
        r.add("content-type", "application/sdp")
        r.body = self._with_version(local)
        stx.on_ack = self._acked
        stx.on_no_ack = self._no_ack
        stx.respond(r)
        self._set("confirmed", "remote-offer")

    def _default_answer(self, offer):
        """Without on_offer: keep our media, mirror the peer's direction."""
        if self.local_sdp is None:
            return None
        d = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}.get(
            offer.direction, "sendrecv")
        return S.with_direction(self.local_sdp, d)

    def on_ack(self, msg):
        """ACK for a 2xx of ours (its own transaction): stop retransmitting the 2xx."""
        for stx in (self.server_tx, self._reinvite_stx):
            if stx is not None:
                stx.ack_received(msg)
        for stx in list(self.ua.tx.server.values()):
            if stx.invite and stx.req.call_id == self.call_id and stx.req.cseq_num == msg.cseq_num:
                stx.ack_received(msg)
